"""Benchmark (not a test): peak memory and throughput of ``convert --to fhir-r5`` as the input grows.

For each size (default 2,000, 5,000 and 20,000 records) it writes one NDJSON file and the same
records as a ZIP (one NDJSON member), built from the API v2 JSON records of ../shared/ctgov-dev
with a distinct NCT ID each (so no cache can flatter a repeat), then runs the installed console
script with ``-j 1`` and ``-j 2`` and samples the RSS of the whole process tree (the command and
its workers) every 50 ms. Prints a table; targets: peak flat in input size, < 400 MB at -j 1,
< 700 MB at -j 2.

    .venv/bin/python benchmarks/bench_memory.py [--sizes 2000 5000 20000] [--jobs 1 2] [--shared ../shared]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import orjson

REPO = Path(__file__).resolve().parent.parent
EXE = Path(sys.executable).with_name("trial2fhir")


def studies(shared: Path) -> list[dict[str, object]]:
    found = [orjson.loads(p.read_bytes()) for p in sorted((shared / "ctgov-dev").glob("*.json"))]
    if not found:
        sys.exit(f"no API v2 JSON records in {shared / 'ctgov-dev'}")
    return found


def write_inputs(base: list[dict[str, object]], n: int, folder: Path) -> tuple[Path, Path]:
    """``n`` records as NDJSON and as a ZIP of that NDJSON; NCT IDs NCT90000001.. so each is distinct."""
    ndjson = folder / f"records-{n}.ndjson"
    with ndjson.open("wb") as fh:
        for i in range(n):
            study = orjson.loads(orjson.dumps(base[i % len(base)]))  # a deep copy
            study["protocolSection"]["identificationModule"]["nctId"] = f"NCT{90_000_001 + i:08d}"  # type: ignore[index]
            fh.write(orjson.dumps(study) + b"\n")
    archive = folder / f"records-{n}.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.write(ndjson, ndjson.name)
    return ndjson, archive


def tree_rss(pid: int) -> int:
    """Resident bytes of ``pid`` and all its descendants (from /proc; 0 once it is gone)."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/status", encoding="ascii") as fh:
                total += next(int(line.split()[1]) * 1024 for line in fh if line.startswith("VmRSS:"))
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children", encoding="ascii") as fh:
                    todo += [int(c) for c in fh.read().split()]
        except (OSError, StopIteration, ValueError):
            continue
    return total


def measure(source: Path, jobs: int, out: Path) -> tuple[float, int, int]:
    """(seconds, peak RSS of the tree in bytes, exit code) of one convert run."""
    cmd = [str(EXE), "convert", str(source), "--to", "fhir-r5", "-o", str(out), "-q", "-j", str(jobs),
           "--force-jobs"]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = 0
    while proc.poll() is None:
        peak = max(peak, tree_rss(proc.pid))
        time.sleep(0.05)
    seconds = time.perf_counter() - start
    stderr = proc.stderr.read().decode() if proc.stderr else ""
    if proc.returncode != 0:
        print(f"  exit {proc.returncode}: {stderr.strip()[:300]}", file=sys.stderr)
    return seconds, peak, proc.returncode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[2000, 5000, 20000])
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    args = parser.parse_args()
    base = studies(args.shared)
    print(f"{'records':>8} {'input':>7} {'-j':>3} {'MB in':>7} {'seconds':>8} {'trials/s':>9} {'peak MB':>8}  exit")
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp:
        folder = Path(tmp)
        for n in args.sizes:
            for source in write_inputs(base, n, folder):
                size = source.stat().st_size / 1e6
                for jobs in args.jobs:
                    out = folder / f"out-{n}-{source.suffix[1:]}-{jobs}"
                    seconds, peak, code = measure(source, jobs, out)
                    print(f"{n:>8} {source.suffix[1:]:>7} {jobs:>3} {size:>7.1f} {seconds:>8.1f} {n / seconds:>9.1f} "
                          f"{peak / 1e6:>8.0f}  {code}", flush=True)
                    subprocess.run(["rm", "-rf", str(out)], check=False)
            for source in folder.glob(f"records-{n}.*"):
                source.unlink()


if __name__ == "__main__":
    main()
