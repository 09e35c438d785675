"""FHIR R5: the mapping set ``mappings/fhir-r5/`` applied to a trial, packed as a transaction Bundle.

Every entry is a conditional create (``POST`` with ``ifNoneExist`` on the resource's business
identifier), and every fullUrl is a deterministic ``urn:uuid``, so the same trial always gives the
same bytes and loading a bundle twice creates nothing new.
"""

from __future__ import annotations

from typing import Any

import orjson

from trial2fhir.mapping.load import MappingSet, load_target
from trial2fhir.mapping.resources import forward, reverse
from trial2fhir.model import Trial

TARGET = "fhir-r5"
URI_SYSTEM = "urn:ietf:rfc:3986"  # FHIR's system for an identifier whose value is itself a URI


def mapping_set() -> MappingSet:
    return load_target(TARGET)


def _with_identifier(resource: dict[str, Any], full_url: str) -> tuple[dict[str, Any], str]:
    """The resource, given its fullUrl as identifier when the mapping set none, and its search key."""
    for ident in resource.get("identifier", []):
        if ident.get("system") and ident.get("value"):
            return resource, f"identifier={ident['system']}|{ident['value']}"
    ident = {"system": URI_SYSTEM, "value": full_url}
    head = {k: resource[k] for k in ("resourceType", "id")}
    rest = {k: v for k, v in resource.items() if k not in head}
    return {**head, "identifier": [ident], **rest}, f"identifier={URI_SYSTEM}|{full_url}"


def bundle(trial: Trial, ms: MappingSet | None = None) -> dict[str, Any]:
    """The transaction Bundle of a trial; ``ms`` is another release's mapping set (R4B)."""
    entries = []
    for w in forward(ms or mapping_set(), trial):
        resource, search = _with_identifier(w.resource, w.full_url)
        entries.append({
            "fullUrl": w.full_url,
            "resource": resource,
            "request": {"method": "POST", "url": w.mapping.resource, "ifNoneExist": search},
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
