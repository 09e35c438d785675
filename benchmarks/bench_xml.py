"""Benchmark (not a test): the XML targets together, each built, validated against its XSD and
serialised, for N trials (read once, cycled). Prints figures only: trials/s for the three XML
targets together, for all five targets together (adding fhir-r5 and fhir-r4b), per target, and
each target's share of the time. Targets of issue 9: >= 150 trials/s for the three XML targets,
>= 80 trials/s for all five, on 2 cores.

    TRIAL2FHIR_SCHEMA_DIR=../shared/schemas .venv/bin/python benchmarks/bench_xml.py [--n 500] [--jobs 2] [INPUT ...]

INPUT defaults to ../shared/ctgov-dev and samples/. Schemas and mappings load before timing (in
every worker with --jobs).
"""

from __future__ import annotations

import argparse
import os
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from trial2fhir.model import Trial
from trial2fhir.sources import expand, read_input
from trial2fhir.targets import TARGETS

REPO = Path(__file__).resolve().parent.parent
XML_TARGETS = [n for n in ("odm-2.0", "odm-1.3.2-sdm", "ctgov-prs") if n in TARGETS]
ALL_TARGETS = XML_TARGETS + [n for n in ("fhir-r5", "fhir-r4b") if n in TARGETS]

_trials: list[Trial] = []


def configure(inputs: list[str]) -> None:
    """Read the trials and warm every target (schemas compiled, mappings loaded): not timed."""
    os.environ.setdefault("TRIAL2FHIR_SCHEMA_DIR", str(REPO.parent / "shared" / "schemas"))
    _trials[:] = [t for f in expand(inputs).files for t in read_input(f) if isinstance(t, Trial)]
    if not _trials:
        raise SystemExit("no trials read from the inputs")
    for name in ALL_TARGETS:
        t = TARGETS[name]
        t.ready()
        t.serialise(t.build(_trials[0]))


def run(job: tuple[list[str], list[int]]) -> tuple[dict[str, float], int]:
    """Seconds per target (build + validate + serialise) over the given trial indices."""
    names, indices = job
    targets = [TARGETS[n] for n in names]
    per = dict.fromkeys(names, 0.0)
    invalid = 0
    for i in indices:
        trial = _trials[i % len(_trials)]
        for t in targets:
            t0 = time.perf_counter()
            doc: Any = t.build(trial)
            invalid += bool(t.validate(doc))
            t.serialise(doc)
            per[t.name] += time.perf_counter() - t0
    return per, invalid


def measure(
    pool: ProcessPoolExecutor | None, names: list[str], n: int, jobs: int
) -> tuple[float, dict[str, float], int]:
    chunks = [(names, list(range(j, n, jobs))) for j in range(jobs)]
    start = time.perf_counter()
    results = list(pool.map(run, chunks)) if pool is not None else [run(c) for c in chunks]
    wall = time.perf_counter() - start
    per = {name: sum(r[0][name] for r in results) for name in names}
    return n / wall, per, sum(r[1] for r in results)


def report(label: str, n: int, jobs: int, rate: float, per: dict[str, float], invalid: int) -> None:
    busy = sum(per.values())
    print(f"{label}: {n} trials, {jobs} worker(s): {rate:.0f} trials/s together ({invalid} invalid outputs)")
    for name, seconds in per.items():
        print(f"  {name:<14} {n / seconds:6.0f} trials/s alone  {1000 * seconds / n:6.2f} ms/trial"
              f"  {100 * seconds / busy:5.1f}% of the time")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("inputs", nargs="*", default=[str(REPO.parent / "shared" / "ctgov-dev"), str(REPO / "samples")])
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--jobs", type=int, default=1, help="worker processes (1: in this process)")
    args = parser.parse_args()
    configure(args.inputs)
    pool = None
    if args.jobs > 1:
        pool = ProcessPoolExecutor(args.jobs, initializer=configure, initargs=(args.inputs,))
        list(pool.map(run, [(ALL_TARGETS, [0])] * args.jobs))  # start and warm every worker
    try:
        for label, names in (("XML targets", XML_TARGETS), ("all five targets", ALL_TARGETS)):
            rate, per, invalid = measure(pool, names, args.n, args.jobs)
            report(f"{label} ({', '.join(names)})", args.n, args.jobs, rate, per, invalid)
    finally:
        if pool is not None:
            pool.shutdown()


if __name__ == "__main__":
    main()
