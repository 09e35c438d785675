"""A FHIR transaction Bundle as a Target: one class for every FHIR release.

A release's module (``fhir_r5``) supplies ``bundle(trial)`` and ``mapping_set()``; this class adds
what every FHIR target does alike: HL7's schema + the fhir.resources models judge the built Bundle
(the same dict, never re-parsed bytes), Bundle invariants are checked, bytes are pretty JSON, and
the NDJSON Bulk Data split. A new release is one ``FhirBundleTarget(...)`` registry entry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from trial2fhir.errors import Problem, RecordError
from trial2fhir.mapping.load import Loss, MappingSet
from trial2fhir.mapping.resources import reverse
from trial2fhir.model import Trial

FhirDoc = dict[str, Any]


@dataclass(frozen=True)
class FhirBundleTarget:
    name: str
    suffix: str
    description: str
    release: str
    bundle: Callable[[Trial], FhirDoc]
    mapping_set: Callable[[], MappingSet]
    version_tag: bytes | None = None
    """The FHIR-version code (JSON string) a Bundle of this release is tagged with in ``meta.tag``, for
    ``sniff``; None: untagged (R5, so a tagged file is another release's)."""

    def ready(self) -> None:
        from trial2fhir.validation.fhir import locate_schema

        locate_schema(self.release)  # SchemaNotInstalledError naming the npm command or the env var

    def build(self, trial: Trial) -> FhirDoc:
        return self.bundle(trial)

    def validate(self, doc: FhirDoc) -> list[Problem]:
        """HL7's schema and the fhir.resources models (per resource), then the Bundle's own invariants."""
        from trial2fhir.validation.bundle import bundle_invariants
        from trial2fhir.validation.fhir import validate_resource

        problems = [Problem("", f"{i.resource}: {i.path}", f"{i.message} [{i.source}]")
                    for i in validate_resource(doc, self.release)]
        if isinstance(doc, dict) and doc.get("resourceType") == "Bundle":
            problems += bundle_invariants(doc)
        return problems

    def serialise(self, doc: FhirDoc) -> bytes:
        return orjson.dumps(doc, option=orjson.OPT_INDENT_2) + b"\n"

    def parse(self, data: bytes, file: str) -> FhirDoc:
        try:
            doc = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise RecordError(file, f"line {exc.lineno}, column {exc.colno}", f"invalid JSON: {exc.msg}") from None
        if not isinstance(doc, dict):
            raise RecordError(file, "#", f"a FHIR resource must be a JSON object, not {type(doc).__name__}")
        return doc

    def reverse(self, doc: FhirDoc) -> dict[str, Any]:
        entries = doc.get("entry", [])
        resources = {e["fullUrl"]: e["resource"] for e in entries if "fullUrl" in e and "resource" in e}
        return reverse(self.mapping_set(), resources)

    def losses(self) -> list[Loss]:
        return self.mapping_set().losses

    def sniff(self, head: bytes) -> bool:
        start = head.lstrip(b"\xef\xbb\xbf \t\r\n")
        if not (start[:1] == b"{" and b'"resourceType"' in start):
            return False
        tagged = b'"http://hl7.org/fhir/FHIR-version"' in start
        return tagged and self.version_tag in start if self.version_tag else not tagged

    def ndjson(self, doc: FhirDoc) -> dict[str, list[bytes]]:
        """The Bulk Data layout: one NDJSON line per resource, grouped by type, references made relative."""
        ids = {e["fullUrl"]: f"{e['resource']['resourceType']}/{e['resource']['id']}" for e in doc["entry"]}
        out: dict[str, list[bytes]] = {}
        for e in doc["entry"]:
            resource = _relink(e["resource"], ids)
            out.setdefault(resource["resourceType"], []).append(orjson.dumps(resource))
        return out


def _relink(node: Any, ids: dict[str, str]) -> Any:
    if isinstance(node, dict):
        return {
            k: ids.get(v, v) if k == "reference" and isinstance(v, str) else _relink(v, ids) for k, v in node.items()
        }
    if isinstance(node, list):
        return [_relink(v, ids) for v in node]
    return node
