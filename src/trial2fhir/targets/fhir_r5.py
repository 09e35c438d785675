"""FHIR R5: the mapping set ``mappings/fhir-r5/`` applied to a trial, packed as a transaction Bundle.

Every entry is a conditional update (``PUT Type?identifier=system|value``) on the resource's
business identifier, and every fullUrl is the deterministic ``urn:uuid`` of that identity, so the
same trial always gives the same bytes, a shared sponsor or site is one resource on the server,
and loading an updated record updates in place (docs/fhir-identity.md).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import orjson

from trial2fhir.mapping.load import MappingSet, load_target
from trial2fhir.mapping.resources import forward, reverse
from trial2fhir.model import Trial

TARGET = "fhir-r5"


def mapping_set() -> MappingSet:
    return load_target(TARGET)


def bundle(trial: Trial, ms: MappingSet | None = None) -> dict[str, Any]:
    """The transaction Bundle of a trial; ``ms`` is another release's mapping set (R4B)."""
    entries = []
    for w in forward(ms or mapping_set(), trial):
        search = quote(f"{w.identity.system}|{w.identity.value}", safe=":/|-._~")
        entries.append({
            "fullUrl": w.full_url,
            "resource": w.resource,
            "request": {"method": "PUT", "url": f"{w.mapping.resource}?identifier={search}"},
        })
    return {"resourceType": "Bundle", "id": f"{trial.nct_id}-bundle", "type": "transaction", "entry": entries}


def render(trial: Trial) -> bytes:
    return orjson.dumps(bundle(trial), option=orjson.OPT_INDENT_2) + b"\n"


def parse_back(doc: dict[str, Any]) -> dict[str, Any]:
    """The Bundle with every resource parsed by its fhir.resources R5 model and dumped again."""
    from fhir.resources import get_fhir_model_class

    entries = []
    for e in doc.get("entry", []):
        r = e.get("resource")
        if isinstance(r, dict) and "resourceType" in r:
            try:
                model = get_fhir_model_class(r["resourceType"]).model_validate(r)
                r = orjson.loads(model.model_dump_json())
            except (KeyError, ValueError):
                pass  # invalid resources are reported by validation; reverse what was written
        entries.append({**e, "resource": r})
    return {**doc, "entry": entries}


def to_trial_data(doc: dict[str, Any]) -> dict[str, Any]:
    """Trial data (without ``source``) rebuilt from a Bundle by running the mappings in reverse."""
    resources = {e["fullUrl"]: e["resource"] for e in doc.get("entry", []) if "fullUrl" in e and "resource" in e}
    return reverse(mapping_set(), resources)
