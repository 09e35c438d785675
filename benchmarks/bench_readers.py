"""Benchmark (not a test): reader throughput on one core, per page layout and for API v2 JSON.

Prints pages/s for each page layout (target >= 1,000) and records/s for ClinicalTrials.gov API v2
JSON (target >= 1,500), reading from bytes in memory (no disk, no sniffing), best of --repeat runs, timed in process CPU
time (so other load on the machine does not count against the reader).

    .venv/bin/python benchmarks/bench_readers.py [--seconds 2] [--repeat 3]

Pages come from samples/ (one per layout variant); JSON records from ../shared/ctgov-dev/*.json.
Beside each figure, the floor: validating the same record's Trial from its dict (what building
any Trial costs), so figures from loaded or different machines compare as ratios; and the rate of
the criteria parser alone on the same records' criteria text (its share of the reader's time).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from trial2fhir.model import Trial
from trial2fhir.readers import READERS
from trial2fhir.readers.base import ReadResult
from trial2fhir.readers.criteria import parse_criteria

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "ctgov-dev"
PAGES = {
    "page-compact (unlabelled)": ("page-compact", "000_2338396f704c9960"),
    "page-compact (labelled)": ("page-compact", "004_96d7e8fc43b3fc8e"),
    "page-listing": ("page-listing", "001_ad5d10a3e830c998"),
    "page-summary": ("page-summary", "003_a56d0ce5535905ef"),
}


def rate(read: Callable[[bytes, str], Iterator[ReadResult]], inputs: list[bytes], seconds: float,
         repeat: int) -> float:
    """Best records/s over ``repeat`` runs of at least ``seconds`` each; every input must read."""
    best = 0.0
    for _ in range(repeat):
        done, start = 0, time.process_time()
        while (elapsed := time.process_time() - start) < seconds:
            for data in inputs:
                for result in read(data, "bench"):
                    assert isinstance(result, Trial), result
                    done += 1
        best = max(best, done / elapsed)
    return best


def floor(read: Callable[[bytes, str], Iterator[ReadResult]], inputs: list[bytes], seconds: float,
          repeat: int) -> float:
    """Records/s of Trial.model_validate alone on the dumps of the same records."""
    dumps = [r.model_dump() for data in inputs for r in read(data, "bench") if isinstance(r, Trial)]

    def validate(_data: bytes, _file: str) -> Iterator[ReadResult]:
        yield from (Trial.model_validate(d) for d in dumps)

    return rate(validate, [b""], seconds, repeat)


def criteria_only(read: Callable[[bytes, str], Iterator[ReadResult]], inputs: list[bytes], seconds: float,
                  repeat: int) -> float:
    """Records/s of parse_criteria alone on the same records' criteria text."""
    texts = [r.eligibility.criteria for data in inputs for r in read(data, "bench") if isinstance(r, Trial)]

    done = Trial.model_construct()  # yielded as the count: building a Trial is not the parser's time

    def parse(_data: bytes, _file: str) -> Iterator[ReadResult]:
        for text in texts:
            parse_criteria(text)
            yield done

    return rate(parse, [b""], seconds, repeat)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"{'reader':32} {'input':>10} {'per second':>12} {'floor':>8} {'criteria':>9}  target")
    for label, (reader, stem) in PAGES.items():
        data = (REPO / "samples" / f"{stem}.txt").read_bytes()
        per_s = rate(READERS[reader].read, [data], args.seconds, args.repeat)
        base = floor(READERS[reader].read, [data], args.seconds, args.repeat)
        crit = criteria_only(READERS[reader].read, [data], args.seconds, args.repeat)
        print(f"{label:32} {len(data) // 1024:>7} KiB {per_s:>12,.0f} {base:>8,.0f} {crit:>9,.0f}  >= 1,000 pages/s")
    records = sorted(SHARED.glob("*.json"))
    if not records:
        print(f"ctgov-api-v2-json: skipped, {SHARED} is absent")
        return
    inputs = [f.read_bytes() for f in records]
    per_s = rate(READERS["ctgov-api-v2-json"].read, inputs, args.seconds, args.repeat)
    base = floor(READERS["ctgov-api-v2-json"].read, inputs, args.seconds, args.repeat)
    crit = criteria_only(READERS["ctgov-api-v2-json"].read, inputs, args.seconds, args.repeat)
    size = sum(map(len, inputs)) // len(inputs) // 1024
    print(f"{'ctgov-api-v2-json':32} {size:>5} KiB/r {per_s:>12,.0f} {base:>8,.0f} {crit:>9,.0f}  >= 1,500 records/s "
          f"({len(inputs)} records)")


if __name__ == "__main__":
    main()
