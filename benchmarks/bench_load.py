"""Benchmark (not a test): load throughput into the test FHIR engine (tools/fhir-engine).

Converts the records once into Bundles, then times ``load`` of those Bundles into a fresh engine
(first load: all created) and again (all unchanged), for each ``--batch`` size. Prints trials/s.
Conversion is timed apart, so the figures are the loader's and the engine's.

    .venv/bin/python benchmarks/bench_load.py [--batch 1 --batch 10 --batch 50] [FOLDER]

FOLDER defaults to ../shared/ctgov-dev. Needs node and npm (the engine is installed if missing).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # the engine fixture lives in tests/integration

from tests.integration.engine import running_engine  # noqa: E402

from trial2fhir.convert import convert  # noqa: E402
from trial2fhir.load import Connection, load  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", type=Path, default=REPO.parent / "shared" / "ctgov-dev")
    parser.add_argument("--batch", type=int, action="append", help="trials per transaction (repeatable)")
    parser.add_argument("--to", default="fhir-r5")
    args = parser.parse_args()
    batches = args.batch or [1, 10, 50]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "bundles"
        start = time.perf_counter()
        report = convert([str(args.folder)], out, targets=[args.to])
        n = len(report.records) - len(report.failed)
        print(f"convert: {n} trial(s) in {time.perf_counter() - start:.2f} s (not part of the load figures)")
        with running_engine("R4B" if args.to == "fhir-r4b" else "R5") as engine:
            for batch in batches:
                for run in ("first (created)", "second (unchanged)"):
                    if run.startswith("first"):
                        engine.reset()
                    start = time.perf_counter()
                    result = load([str(out)], Connection(engine.url), target=args.to, batch=batch)
                    took = time.perf_counter() - start
                    summary = ", ".join(f"{v} {k}" for k, v in result.summary().items() if v)
                    print(f"batch {batch:>3} {run:<19}: {len(result.records)} trials in {took:.2f} s = "
                          f"{len(result.records) / took:.1f} trials/s ({summary})")


if __name__ == "__main__":
    main()
