"""Benchmark (not a test): read + convert N trials (build, validate, serialise per target), and
with ``--stage roundtrip`` also read the written bytes back and compare (the default: what
``trial2fhir roundtrip`` does).

Prints trials/s end to end, and the same run's baseline: orjson load + dump of the same input
records (the floor any JSON pipeline pays), so figures from different machines compare as ratios.
``--shares`` adds, from one process, the share of time per phase and target.

    .venv/bin/python benchmarks/bench_pipeline.py [--n 400] [--jobs 2] [--stage convert]
        [--to fhir-r5 --to fhir-r4b] [--shares] [INPUT ...]

INPUT defaults to ../shared/ctgov-dev (API v2 JSON and classic XML) and samples/.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import orjson

from trial2fhir.errors import RecordError
from trial2fhir.model import Trial
from trial2fhir.roundtrip import roundtrip_one
from trial2fhir.sources import expand, read_input
from trial2fhir.targets import TARGETS

REPO = Path(__file__).resolve().parent.parent


def load_inputs(paths: list[str]) -> list[tuple[str, bytes]]:
    return [(f.name, f.path.read_bytes()) for f in expand(paths).files if f.path is not None]


# Set in each worker by the pool's initializer (and in the parent for the warm-up).
SETTINGS: dict[str, object] = {"targets": ["fhir-r5"], "stage": "roundtrip"}


def configure(targets: list[str], stage: str, warm: list[tuple[int, str, bytes]]) -> None:
    SETTINGS.update(targets=targets, stage=stage)
    pipeline(warm)


def trials_of(chunk: list[tuple[int, str, bytes]]) -> tuple[list[Trial], int]:
    from trial2fhir.sources import InputFile

    out: list[Trial] = []
    failed = 0
    for index, name, data in chunk:
        for result in read_input(InputFile(name, data=data)):
            if isinstance(result, RecordError):
                failed += 1
                continue
            assert isinstance(result, Trial)
            # Every cycled record becomes a new trial (its own NCT ID), as in a real registry:
            # nothing per trial may be served from a cache filled by an earlier cycle.
            result.identification.nct_id = f"NCT{90_000_000 + index:08d}"
            out.append(result)
    return out, failed


def pipeline(chunk: list[tuple[int, str, bytes]]) -> tuple[int, int]:
    """Trials processed and trials that failed (invalid or undeclared loss), for one worker's chunk."""
    trials, failed = trials_of(chunk)
    targets = [TARGETS[t] for t in SETTINGS["targets"]]  # type: ignore[attr-defined]
    for trial in trials:
        ok = True
        for target in targets:
            if SETTINGS["stage"] == "roundtrip":
                ok = roundtrip_one(target, trial).ok and ok
            else:
                doc = target.build(trial)
                ok = not target.validate(doc) and ok
                target.serialise(doc)
        failed += not ok
    return len(trials), failed


def shares(files: list[tuple[str, bytes]], targets: list[str]) -> None:
    """Seconds per phase and target over every input once, in this process."""
    work = [(-1000 - i, *f) for i, f in enumerate(files)]
    t0 = time.perf_counter()
    trials, _ = trials_of(work)
    spent = {"read": time.perf_counter() - t0}
    for name in targets:
        target = TARGETS[name]
        for trial in trials:
            t0 = time.perf_counter()
            doc = target.build(trial)
            t1 = time.perf_counter()
            target.validate(doc)
            t2 = time.perf_counter()
            target.serialise(doc)
            t3 = time.perf_counter()
            for phase, dt in (("build", t1 - t0), ("validate", t2 - t1), ("serialise", t3 - t2)):
                spent[f"{name} {phase}"] = spent.get(f"{name} {phase}", 0.0) + dt
    total = sum(spent.values())
    print(f"time per phase ({len(trials)} trials, 1 process, {1000 * total / len(trials):.1f} ms/trial):")
    for phase, dt in spent.items():
        print(f"  {phase:<22} {1000 * dt / len(trials):7.2f} ms/trial  {100 * dt / total:5.1f}%")


def baseline(chunk: list[tuple[int, str, bytes]]) -> int:
    n = 0
    for _, name, data in chunk:
        if name.endswith(".json"):
            orjson.dumps(orjson.loads(data))
            n += 1
    return n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("inputs", nargs="*", default=[str(REPO.parent / "shared" / "ctgov-dev"), str(REPO / "samples")])
    ap.add_argument("--n", type=int, default=400, help="trials to process (inputs are cycled)")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--to", action="append", choices=sorted(TARGETS), help="target, repeatable (default fhir-r5)")
    ap.add_argument("--stage", choices=["convert", "roundtrip"], default="roundtrip")
    ap.add_argument("--shares", action="store_true", help="also print the time per phase and target")
    args = ap.parse_args()
    targets = args.to or ["fhir-r5"]
    files = load_inputs(args.inputs)
    if not files:
        sys.exit(f"no inputs found in {args.inputs}")
    work = [(i, *files[i % len(files)]) for i in range(args.n)]
    warm = [(-1 - i, *f) for i, f in enumerate(files)]
    chunks = [work[i :: args.jobs] for i in range(args.jobs)]
    configure(targets, args.stage, warm)  # warm up: compile schema validators, load mappings, import models

    with ProcessPoolExecutor(args.jobs, initializer=configure, initargs=(targets, args.stage, warm)) as pool:
        list(pool.map(pipeline, [[w] for w in warm[: args.jobs]]))  # warm every worker
        rates, failures = [], 0
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            results = list(pool.map(pipeline, chunks))
            dt = time.perf_counter() - t0
            trials = sum(r[0] for r in results)
            failures = sum(r[1] for r in results)
            rates.append(trials / dt)
    base = []
    json_files = [w for w in work if w[1].endswith(".json")] or work
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        n = baseline(json_files)
        base.append(n / (time.perf_counter() - t0))
    rate, base_rate = statistics.median(rates), statistics.median(base)
    print(f"inputs: {len(files)} files cycled to {args.n} trials, {args.jobs} worker(s), median of {args.repeat}")
    what = "build + validate + serialise" + (" + round trip" if args.stage == "roundtrip" else "")
    print(f"pipeline (read + {' + '.join(targets)}: {what}): {rate:8.1f} trials/s  ({failures} failed)")
    print(f"baseline (orjson load + dump, 1 process):          {base_rate:8.1f} records/s")
    print(f"ratio pipeline/baseline: {rate / base_rate:.4f}  (baseline is {base_rate / rate:.0f}x faster)")
    if args.shares:
        shares(files, targets)


if __name__ == "__main__":
    main()
