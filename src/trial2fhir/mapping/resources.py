"""A target's mapping set applied to a whole trial: resources out, a trial dict back.

Each mapping file writes one resource (or one per item of its ``each`` list) into a *slot* named
by its ``id`` template; ``ref`` points at slots. The resource's fullUrl comes from its business
identity (``mapping/identity.py``), so after writing, references are relinked from slots to
identities and resources with one identity are one entry (the same sponsor as lead and as
collaborator). In reverse, reading a reference tells which resource fills which slot.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from trial2fhir.mapping import paths
from trial2fhir.mapping.directives import Context, ref_url, render_template, when_holds
from trial2fhir.mapping.engine import MappingRunError, absorb, bind_refs, emit
from trial2fhir.mapping.identity import Identity, disambiguate, identify
from trial2fhir.mapping.load import Mapping, MappingSet
from trial2fhir.mapping.paths import ROOT, Holder
from trial2fhir.model import Trial


@dataclass(frozen=True)
class Written:
    mapping: Mapping
    id: str
    full_url: str
    resource: dict[str, Any]
    identity: Identity


def _scopes(m: Mapping, data: dict[str, Any], ctx: Context) -> list[dict[str, Any]]:
    root: dict[str, Any] = {ROOT: data}
    outers = [root]
    if m.within is not None:  # a list inside the items of another (each site's contacts)
        path, var = m.within
        outers = [{**root, var: item, f"#{var}": k} for k, item in enumerate(paths.get(root, path) or [], 1)]
    if m.each is None:
        scopes = outers
    else:
        scopes = [
            {**outer, m.var: item, f"#{m.var}": i}
            for outer in outers
            for i, item in enumerate(paths.get(outer, m.each) or [], 1)
        ]
    return [s for s in scopes if m.when is None or when_holds(m.when, s, ctx.sets)]


def forward(ms: MappingSet, trial: Trial) -> list[Written]:
    data = trial.model_dump(mode="json")
    ctx = Context(ms.codes, sets=ms.sets)
    planned: list[tuple[Mapping, dict[str, Any], str, Identity]] = []
    for m in ms.mappings:
        for scope in _scopes(m, data, ctx):
            rid = render_template(m.id, scope)
            if rid is None:
                raise ValueError(f"{m.file}: id template {m.id!r} has no value for this trial")
            try:
                planned.append((m, scope, rid, identify(m.identity, scope, rid)))
            except ValueError as exc:
                raise ValueError(f"{m.file}: {exc}") from None
    # Identities depend on the trial alone, so each ``ref`` can name its target's fullUrl as it is
    # written (ctx.links: slot -> identity), with no walk over the Bundle afterwards. Only when one
    # key has two different bodies (a site listed twice) does a slot's fullUrl change with what was
    # written: then the resources are written again naming slots, and relinked.
    ctx.links = {ref_url(f"{m.resource}/{rid}"): identity.full_url for m, _, rid, identity in planned}
    written = _write(planned, ctx)
    if written is None:
        ctx.links = {}
        written = _write(planned, ctx)
        assert written is not None
    out, slots = written
    return out if not slots else [Written(w.mapping, w.id, w.full_url, _relink(w.resource, slots), w.identity)
                                  for w in out]


def _write(planned: list[tuple[Mapping, dict[str, Any], str, Identity]],
           ctx: Context) -> tuple[list[Written], dict[str, str]] | None:
    """The resources, one entry per identity, and the slot -> fullUrl links still to make; None when
    ``ctx.links`` named a slot's fullUrl that a second body of its key moved."""
    out: list[Written] = []
    slots: dict[str, str] = {}  # slot fullUrl -> identity fullUrl
    bodies: dict[str, dict[str, Any]] = {}  # identity fullUrl -> body, to tell one key's resources apart
    for m, scope, rid, first in planned:
        try:
            body = emit(m.rules, scope, ctx) or {}
        except MappingRunError as exc:  # name the file, and the item of the mapping's own each
            exc.file = m.file
            if m.each is not None:
                exc.bind(m.var, m.each)
            raise
        identity, n = first, 1
        while identity.full_url in bodies and bodies[identity.full_url] != body:
            if ctx.links:
                return None
            n += 1  # one record, one key, different content (a site listed twice): keep both
            identity = disambiguate(first, n)
        if not ctx.links:
            slots[ref_url(f"{m.resource}/{rid}")] = identity.full_url
        if identity.full_url in bodies:
            continue  # the same resource again: one entry
        bodies[identity.full_url] = body
        head = {"resourceType": m.resource, "id": identity.uuid if identity.shared else rid}
        resource = _identified({**head, **body}, identity)
        out.append(Written(m, resource["id"], identity.full_url, resource, identity))
    return out, slots


def _identified(resource: dict[str, Any], identity: Identity) -> dict[str, Any]:
    """The resource carrying its business identifier (added after the id unless already there)."""
    own = identity.identifier()
    existing = resource.get("identifier")
    if existing is None:
        head = {k: resource[k] for k in ("resourceType", "id")}
        return {**head, "identifier": [own], **{k: v for k, v in resource.items() if k not in head}}
    if not any(i.get("system") == own["system"] and i.get("value") == own["value"] for i in existing):
        resource["identifier"] = [*existing, own]
    return resource


def _relink(node: Any, links: dict[str, str]) -> Any:
    """Slot urn:uuids (from ``ref``, in a reference or a uri such as definitionUri) -> identity fullUrls."""
    if isinstance(node, dict):
        return {k: links.get(v, v) if isinstance(v, str) else _relink(v, links) for k, v in node.items()}
    if isinstance(node, list):
        return [_relink(v, links) for v in node]
    return node


def reverse(ms: MappingSet, resources: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Rebuild trial data from resources keyed by fullUrl: the same mapping files, read backwards."""
    data: dict[str, Any] = {}
    ctx = Context(ms.codes, sets=ms.sets)
    by_type: dict[str, list[dict[str, Any]]] = {}
    for r in resources.values():
        by_type.setdefault(r["resourceType"], []).append(r)
    for m in ms.mappings:
        root: dict[str, Any] = {ROOT: data}
        if m.each is None:
            rid = render_template(m.id, root)
            found = _find(resources, ctx.links, f"{m.resource}/{rid}") if rid else None
            if found is None and rid is None and by_type.get(m.resource):
                found = by_type[m.resource][0]  # the anchor (first) resource, whose id the others derive from
            if found is not None:
                absorb(m.rules, found, root, ctx)
                bind_refs(m.rules, found, root, ctx)
            continue
        # Mappings over the same list (Practitioner or Organization per official): an item one of
        # them did not write may be another's, and keeps its place.
        siblings = [s for s in ms.mappings if s is not m and s.each == m.each and s.within == m.within]
        if m.within is None:
            _reverse_items(m, resources, ctx, root, siblings)
            continue
        path, var = m.within
        for k, item in enumerate(paths.get(root, path) or [], 1):
            outer = Holder()
            outer.value = item  # the outer item, made by an earlier mapping, is completed in place
            _reverse_items(m, resources, ctx, {**root, var: outer, f"#{var}": k}, siblings)
    return data


def _written_by(ms: list[Mapping], resources: dict[str, dict[str, Any]], ctx: Context,
                outer: dict[str, Any], i: int) -> bool:
    """Whether one of these mappings wrote a resource for item ``i`` of their list."""
    for s in ms:
        rid = render_template(s.id, {**outer, s.var: Holder(), f"#{s.var}": i})
        if rid is not None and _find(resources, ctx.links, f"{s.resource}/{rid}") is not None:
            return True
    return False


def _reverse_items(m: Mapping, resources: dict[str, dict[str, Any]], ctx: Context, outer: dict[str, Any],
                   siblings: list[Mapping]) -> None:
    assert m.each is not None
    i = 1
    while True:
        # Several mappings may write resources per item of one list (Practitioner and
        # PractitionerRole per official): the later ones complete the items the first made.
        existing = paths.get(outer, m.each) or []
        holder = Holder()
        if i <= len(existing):
            holder.value = existing[i - 1]
        scope = {**outer, m.var: holder, f"#{m.var}": i}
        rid = render_template(m.id, scope)
        found = _find(resources, ctx.links, f"{m.resource}/{rid}") if rid else None
        if found is None:
            if not _written_by(siblings, resources, ctx, outer, i):
                return
            if i > len(existing):  # another mapping's item: its place is kept for that mapping to fill
                paths.append(outer, m.each, {})
            i += 1
            continue
        absorb(m.rules, found, scope, ctx)
        bind_refs(m.rules, found, scope, ctx)
        if i > len(existing):
            paths.append(outer, m.each, holder.value if holder.value is not None else {})
        i += 1


def _find(resources: dict[str, dict[str, Any]], links: dict[str, str], slot: str) -> dict[str, Any] | None:
    url = ref_url(slot)
    return resources.get(links.get(url, url))
