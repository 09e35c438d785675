"""Benchmark (not a test): the criteria parser alone, and reading API v2 JSON with and without it.

Prints texts/s for ``parse_criteria`` over the criteria texts of the input records, and records/s
for ``ctgov_json.read`` with the parser and with it stubbed out, so its share of reading is plain.

    .venv/bin/python benchmarks/bench_criteria.py [--rounds 20] [FOLDER]

FOLDER defaults to ../shared/ctgov-dev.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from unittest import mock

import orjson

from trial2fhir.readers import ctgov_json
from trial2fhir.readers.criteria import parse_criteria

REPO = Path(__file__).resolve().parent.parent


def _rate(count: int, run: object) -> float:
    start = time.perf_counter()
    for _ in range(count):
        run()  # type: ignore[operator]
    return count / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", default=str(REPO.parent / "shared" / "ctgov-dev"))
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    files = sorted(Path(args.folder).glob("*.json"))
    if not files:
        raise SystemExit(f"no API v2 JSON records in {args.folder}")
    records = [f.read_bytes() for f in files]
    texts = [
        orjson.loads(r)["protocolSection"].get("eligibilityModule", {}).get("eligibilityCriteria") or ""
        for r in records
    ]
    rounds = args.rounds
    per_text = _rate(rounds, lambda: [parse_criteria(t) for t in texts]) * len(texts)
    print(f"parse_criteria: {per_text:,.0f} texts/s ({len(texts)} texts x {rounds})")
    with_parser = _rate(rounds, lambda: [list(ctgov_json.read(r, "f")) for r in records]) * len(records)
    with mock.patch.object(ctgov_json, "parse_criteria", return_value=[]):
        without = _rate(rounds, lambda: [list(ctgov_json.read(r, "f")) for r in records]) * len(records)
    print(f"ctgov_json.read: {with_parser:,.0f} records/s with the parser, {without:,.0f} without")


if __name__ == "__main__":
    main()
