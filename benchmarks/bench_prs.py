"""Benchmark (not a test): the ctgov-prs target and the readiness check, trials per second.

Reads the inputs once, then for N trials (the records cycled, each given its own NCT ID):
build + validate + serialise the PRS upload (what convert does), the same plus the round trip
(parse the bytes back, reverse, compare), and the ctgov-prs readiness check. One process.

    TRIAL2FHIR_SCHEMA_DIR=../shared/schemas .venv/bin/python benchmarks/bench_prs.py [--n 400] [INPUT ...]

INPUT defaults to ../shared/ctgov-dev and samples/.
"""

from __future__ import annotations

import argparse
import itertools
import time
from pathlib import Path

from trial2fhir import readiness
from trial2fhir.model import Trial
from trial2fhir.roundtrip import roundtrip_one
from trial2fhir.sources import expand, read_input
from trial2fhir.targets.ctgov_prs import CTGOV_PRS

REPO = Path(__file__).resolve().parent.parent


def trials(paths: list[str], n: int) -> list[Trial]:
    base = [t for f in expand(paths).files for t in read_input(f) if isinstance(t, Trial)]
    out = []
    for i, t in enumerate(itertools.islice(itertools.cycle(base), n)):
        copy = t.model_copy(deep=True)
        copy.identification.nct_id = f"NCT{90_000_000 + i:08d}"
        out.append(copy)
    return out


def rate(label: str, n: int, seconds: float) -> None:
    print(f"{label:<44} {n / seconds:8.1f} trials/s  ({seconds * 1000 / n:.2f} ms/trial)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=400)
    parser.add_argument("inputs", nargs="*", default=[str(REPO.parent / "shared" / "ctgov-dev"), str(REPO / "samples")])
    args = parser.parse_args()
    batch = trials(args.inputs, args.n)
    CTGOV_PRS.ready()
    CTGOV_PRS.build(batch[0])  # schema, XSD model and mappings loaded once, outside the timing
    readiness.evaluate(batch[0], "ctgov-prs")

    start = time.perf_counter()
    invalid = 0
    for t in batch:
        doc = CTGOV_PRS.build(t)
        invalid += bool(CTGOV_PRS.validate(doc))
        CTGOV_PRS.serialise(doc)
    rate("ctgov-prs build + validate + serialise", len(batch), time.perf_counter() - start)

    start = time.perf_counter()
    failed = sum(not roundtrip_one(CTGOV_PRS, t).ok for t in batch)
    rate("ctgov-prs ... + parse back + reverse + compare", len(batch), time.perf_counter() - start)

    start = time.perf_counter()
    for t in batch:
        readiness.evaluate(t, "ctgov-prs")
    rate("readiness check (ctgov-prs checklist)", len(batch), time.perf_counter() - start)
    print(f"{len(batch)} trials, {invalid} invalid, {failed} failed the round trip")


if __name__ == "__main__":
    main()
