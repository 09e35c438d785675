"""Benchmark (not a test): read + convert to FHIR R5 + validate + round-trip N trials.

Prints trials/s end to end, and the same run's baseline: orjson load + dump of the same input
records (the floor any JSON pipeline pays), so figures from different machines compare as ratios.

    .venv/bin/python benchmarks/bench_pipeline.py [--n 400] [--jobs 2] [INPUT ...]

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
from trial2fhir.roundtrip import roundtrip_fhir_r5
from trial2fhir.sources import expand, read_input

REPO = Path(__file__).resolve().parent.parent


def load_inputs(paths: list[str]) -> list[tuple[str, bytes]]:
    return [(f.name, f.path.read_bytes()) for f in expand(paths).files if f.path is not None]


def pipeline(chunk: list[tuple[int, str, bytes]]) -> tuple[int, int]:
    """Trials processed and trials that failed (invalid or undeclared loss), for one worker's chunk."""
    from trial2fhir.sources import InputFile

    done = failed = 0
    for index, name, data in chunk:
        for result in read_input(InputFile(name, data=data)):
            if isinstance(result, RecordError):
                failed += 1
                continue
            assert isinstance(result, Trial)
            # Every cycled record becomes a new trial (its own NCT ID), as in a real registry:
            # nothing per trial may be served from a cache filled by an earlier cycle.
            result.identification.nct_id = f"NCT{90_000_000 + index:08d}"
            outcome = roundtrip_fhir_r5(result)
            done += 1
            failed += not outcome.ok
    return done, failed


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
    args = ap.parse_args()
    files = load_inputs(args.inputs)
    if not files:
        sys.exit(f"no inputs found in {args.inputs}")
    work = [(i, *files[i % len(files)]) for i in range(args.n)]
    warm = [(-1 - i, *f) for i, f in enumerate(files)]
    chunks = [work[i :: args.jobs] for i in range(args.jobs)]
    pipeline(warm)  # warm up: compile schema validators, load mappings, import models

    with ProcessPoolExecutor(args.jobs, initializer=pipeline, initargs=(warm,)) as pool:
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
    print(f"pipeline (read + fhir-r5 + validate + round trip): {rate:8.1f} trials/s  ({failures} failed)")
    print(f"baseline (orjson load + dump, 1 process):          {base_rate:8.1f} records/s")
    print(f"ratio pipeline/baseline: {rate / base_rate:.4f}  (baseline is {base_rate / rate:.0f}x faster)")


if __name__ == "__main__":
    main()
