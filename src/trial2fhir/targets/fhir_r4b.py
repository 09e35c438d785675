"""FHIR R4B: the mapping set ``mappings/fhir-r4b/`` packed as a transaction Bundle, as for R5.

Everything R4B-specific is mapping data (``mappings/fhir-r4b/``); this module only names that
folder. The Bundle rules (entries, requests, identity, deterministic fullUrls) are the R5 target's,
and ``targets.fhir.FhirBundleTarget`` validates and reads it back as R4B.
"""

from __future__ import annotations

from typing import Any

from trial2fhir.mapping.load import MappingSet, load_target
from trial2fhir.model import Trial
from trial2fhir.targets import fhir_r5

TARGET = "fhir-r4b"
# The Bundle says which FHIR version it is (R4B and R5 JSON look alike), so `validate` can tell.
VERSION_TAG = {"system": "http://hl7.org/fhir/FHIR-version", "code": "4.3.0"}


def mapping_set() -> MappingSet:
    return load_target(TARGET)


def bundle(trial: Trial) -> dict[str, Any]:
    doc = fhir_r5.bundle(trial, mapping_set())
    return {"resourceType": doc.pop("resourceType"), "id": doc.pop("id"), "meta": {"tag": [VERSION_TAG]}, **doc}
