"""A target's mapping set applied to a whole trial: resources out, a trial dict back.

Each mapping file writes one resource (or one per item of its ``each`` list); its id and fullUrl
are derived from the trial, so the reverse finds each resource again by recomputing them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from trial2fhir.mapping import paths
from trial2fhir.mapping.directives import Context, ref_url, render_template, truthy
from trial2fhir.mapping.engine import MappingRunError, absorb, emit
from trial2fhir.mapping.load import Mapping, MappingSet
from trial2fhir.mapping.paths import ROOT, Holder
from trial2fhir.model import Trial


@dataclass(frozen=True)
class Written:
    mapping: Mapping
    id: str
    full_url: str
    resource: dict[str, Any]


def _scopes(m: Mapping, data: dict[str, Any]) -> list[dict[str, Any]]:
    root: dict[str, Any] = {ROOT: data}
    if m.each is None:
        scopes = [root]
    else:
        scopes = [{**root, m.var: item, f"#{m.var}": i} for i, item in enumerate(paths.get(root, m.each) or [], 1)]
    return [s for s in scopes if m.when is None or truthy(paths.get(s, m.when))]


def forward(ms: MappingSet, trial: Trial) -> list[Written]:
    data = trial.model_dump(mode="json")
    ctx = Context(ms.codes)
    out: list[Written] = []
    for m in ms.mappings:
        for scope in _scopes(m, data):
            rid = render_template(m.id, scope)
            if rid is None:
                raise ValueError(f"{m.file}: id template {m.id!r} has no value for this trial")
            try:
                body = emit(m.rules, scope, ctx) or {}
            except MappingRunError as exc:  # name the file, and the item of the mapping's own each
                exc.file = m.file
                if m.each is not None:
                    exc.bind(m.var, m.each)
                raise
            resource = {"resourceType": m.resource, "id": rid, **body}
            out.append(Written(m, rid, ref_url(f"{m.resource}/{rid}"), resource))
    return out


def reverse(ms: MappingSet, resources: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Rebuild trial data from resources keyed by fullUrl: the same mapping files, read backwards."""
    data: dict[str, Any] = {}
    ctx = Context(ms.codes)
    by_type: dict[str, list[dict[str, Any]]] = {}
    for r in resources.values():
        by_type.setdefault(r["resourceType"], []).append(r)
    for m in ms.mappings:
        root: dict[str, Any] = {ROOT: data}
        if m.each is None:
            rid = render_template(m.id, root)
            found = resources.get(ref_url(f"{m.resource}/{rid}")) if rid else None
            if found is None and rid is None and len(by_type.get(m.resource, [])) == 1:
                found = by_type[m.resource][0]  # the anchor resource, whose id the others derive from
            if found is not None:
                absorb(m.rules, found, root, ctx)
            continue
        i = 1
        while True:
            # Several mappings may write resources per item of one list (Practitioner and
            # PractitionerRole per official): the later ones complete the items the first made.
            existing = paths.get(root, m.each) or []
            holder = Holder()
            if i <= len(existing):
                holder.value = existing[i - 1]
            scope = {**root, m.var: holder, f"#{m.var}": i}
            rid = render_template(m.id, scope)
            found = resources.get(ref_url(f"{m.resource}/{rid}")) if rid else None
            if found is None:
                break
            absorb(m.rules, found, scope, ctx)
            if i > len(existing):
                paths.append(root, m.each, holder.value if holder.value is not None else {})
            i += 1
    return data
