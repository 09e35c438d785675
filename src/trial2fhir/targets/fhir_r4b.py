"""FHIR R4B: the mapping set ``mappings/fhir-r4b/`` packed as a transaction Bundle, as for R5.

Everything R4B-specific is mapping data; this module only names the mapping folder and the
release its output is validated and read back as. The Bundle rules (conditional creates,
deterministic fullUrls, the NDJSON layout) are the R5 target's.
"""

from __future__ import annotations

from typing import Any

import orjson

from trial2fhir.mapping.load import MappingSet, load_target
from trial2fhir.mapping.resources import reverse
from trial2fhir.model import Trial
from trial2fhir.targets import fhir_r5

TARGET = "fhir-r4b"
RELEASE = "R4B"
ndjson_lines = fhir_r5.ndjson_lines


def mapping_set() -> MappingSet:
    return load_target(TARGET)


def bundle(trial: Trial) -> dict[str, Any]:
    return fhir_r5.bundle(trial, mapping_set())


def render(trial: Trial) -> bytes:
    return orjson.dumps(bundle(trial), option=orjson.OPT_INDENT_2) + b"\n"


def parse_back(doc: dict[str, Any]) -> dict[str, Any]:
    return fhir_r5.parse_back(doc, RELEASE)


def to_trial_data(doc: dict[str, Any]) -> dict[str, Any]:
    resources = {e["fullUrl"]: e["resource"] for e in doc.get("entry", []) if "fullUrl" in e and "resource" in e}
    return reverse(mapping_set(), resources)


def ready() -> object:
    from trial2fhir.validation.fhir import locate_schema

    return locate_schema(RELEASE)


def validate(data: bytes) -> list[str]:
    from trial2fhir.validation.fhir import validate_bundle

    return [str(issue) for issue in validate_bundle(orjson.loads(data), RELEASE)]
