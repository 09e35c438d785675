"""Per-resource FHIR JSON Schema validation time: python-jsonschema vs jsonschema_rs, definition vs root.

    .venv/bin/python benchmarks/bench_validation.py [--runs N] [--resource FILE]

python-jsonschema uses HL7's file as published (Draft 6); jsonschema_rs needs the decimal-pattern
typo corrected (trial2fhir.validation.fhir.load_schema). python-jsonschema against the root
(``oneOf`` over every resource type) runs once only: it takes seconds.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import jsonschema_rs

from trial2fhir.validation.fhir import FhirValidator, load_schema, locate_schema

DEFAULT_RESOURCE = (
    Path(__file__).resolve().parents[2]
    / "shared/schemas/fhir/R5/examples/ResearchStudy-example-ctgov-study-record.json"
)


def timed(label: str, fn: Callable[[], bool], runs: int) -> None:
    verdict = fn()  # warm-up (and the verdict)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    med, best = statistics.median(times) * 1e3, min(times) * 1e3
    print(f"{label:<42} valid={verdict!s:<5} runs={runs:<6} median {med:10.3f} ms   min {best:10.3f} ms")


def once(label: str, fn: Callable[[], Any]) -> Any:
    t0 = time.perf_counter()
    result = fn()
    print(f"{label:<50} {(time.perf_counter() - t0) * 1e3:10.1f} ms")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=200, help="runs per fast measurement (default 200)")
    parser.add_argument("--resource", type=Path, default=DEFAULT_RESOURCE, help="a FHIR R5 resource (JSON)")
    args = parser.parse_args()
    resource = json.loads(args.resource.read_text(encoding="utf-8"))
    rtype = resource["resourceType"]
    path = locate_schema("R5")
    print(f"schema {path}\nresource {args.resource.name} ({rtype}, {args.resource.stat().st_size} bytes)\n")

    raw = json.loads(path.read_text(encoding="utf-8"))
    corrected = once("load_schema (read+correct+parse)", lambda: load_schema(path))
    py_def = jsonschema.Draft6Validator({"$ref": f"#/definitions/{rtype}", "definitions": raw["definitions"]})
    py_root = jsonschema.Draft6Validator(raw)
    rs_root = once("jsonschema_rs compile root", lambda: jsonschema_rs.validator_for(corrected))
    validator = once("FhirValidator build (registry)", lambda: FhirValidator("R5", path))
    rs_def = once(f"jsonschema_rs compile #/definitions/{rtype}", lambda: validator.schema_validator(rtype))
    print()

    py_runs = max(1, args.runs // 20)
    timed("jsonschema      #/definitions (Draft 6)", lambda: py_def.is_valid(resource), py_runs)
    t0 = time.perf_counter()
    verdict = py_root.is_valid(resource)
    elapsed = (time.perf_counter() - t0) * 1e3
    print(f"{'jsonschema      root oneOf (1 run)':<42} valid={verdict!s:<5} runs=1      {elapsed:10.1f} ms")
    timed("jsonschema_rs   #/definitions", lambda: rs_def.is_valid(resource), args.runs)
    timed("jsonschema_rs   root oneOf", lambda: rs_root.is_valid(resource), args.runs)
    timed("jsonschema_rs   #/definitions iter_errors", lambda: not list(rs_def.iter_errors(resource)), args.runs)
    timed("FhirValidator.validate (schema+model)", lambda: not validator.validate(resource), args.runs)


if __name__ == "__main__":
    main()
