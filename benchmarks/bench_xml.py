"""Benchmark (not a test): the XML targets together, each built, validated against its XSD and
serialised, for N trials (read once, cycled). Prints trials/s for all XML targets together and per
target. Target of issue 9: >= 150 trials/s for the three XML targets (ctgov-prs joins when merged).

    TRIAL2FHIR_SCHEMA_DIR=../shared/schemas .venv/bin/python benchmarks/bench_xml.py [--n 500] [INPUT ...]

INPUT defaults to ../shared/ctgov-dev and samples/. Schemas and mappings load before timing.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from trial2fhir.errors import RecordError
from trial2fhir.model import Trial
from trial2fhir.sources import expand, read_input
from trial2fhir.targets import TARGETS

REPO = Path(__file__).resolve().parent.parent
XML_TARGETS = [n for n in ("odm-2.0", "odm-1.3.2-sdm", "ctgov-prs") if n in TARGETS]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("inputs", nargs="*", default=[str(REPO.parent / "shared" / "ctgov-dev"), str(REPO / "samples")])
    parser.add_argument("--n", type=int, default=500)
    args = parser.parse_args()
    os.environ.setdefault("TRIAL2FHIR_SCHEMA_DIR", str(REPO.parent / "shared" / "schemas"))
    trials = [t for f in expand(args.inputs).files for t in read_input(f) if not isinstance(t, RecordError)]
    if not trials or not all(isinstance(t, Trial) for t in trials):
        raise SystemExit("no trials read from the inputs")
    targets = [TARGETS[n] for n in XML_TARGETS]
    for t in targets:  # schemas compiled, mappings loaded: not part of the figure
        t.ready()
        t.serialise(t.build(trials[0]))
    per: dict[str, float] = {t.name: 0.0 for t in targets}
    invalid = 0
    start = time.perf_counter()
    for i in range(args.n):
        trial = trials[i % len(trials)]
        for t in targets:
            t0 = time.perf_counter()
            doc = t.build(trial)
            invalid += bool(t.validate(doc))
            t.serialise(doc)
            per[t.name] += time.perf_counter() - t0
    total = time.perf_counter() - start
    print(f"{args.n} trials x {len(targets)} XML targets ({', '.join(XML_TARGETS)}): "
          f"{args.n / total:.0f} trials/s together ({invalid} invalid outputs)")
    for name, seconds in per.items():
        print(f"  {name}: {args.n / seconds:.0f} trials/s (build + validate + serialise)")


if __name__ == "__main__":
    main()
