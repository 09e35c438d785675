"""ClinicalTrials.gov PRS protocol upload (``--to ctgov-prs``): the XML target, plus PRS's rule for
elements it requires that a trial lacks.

ProtocolRecordSchema.xsd requires some elements whenever their parent is there (eligibility's
gender and ages, id_info's org_study_id, a location's facility name ...). A trial without such a
value still gives a schema-valid upload: the element is written empty, or with the word PRS has for
"none" (``document.required_empty`` in ``mappings/ctgov-prs/index.yaml``: N/A for no age limit), and the
readiness report (``trial2fhir check --registry ctgov-prs``) lists it missing. Reading back, such
an element carries nothing. Everything else is the shared XML target (``targets/xml.py``).

The XSD is ``ctgov-prs/2018.05.08/ProtocolRecordSchema.xsd`` under ``TRIAL2FHIR_SCHEMA_DIR`` (with
its sibling ``RRSUploadSchema.xsd``); ``TRIAL2FHIR_PRS_XSD`` names another copy (a newer one from
ClinicalTrials.gov) directly.
"""

from __future__ import annotations

import os
import re
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml
from lxml import etree

from trial2fhir.mapping.directives import Context
from trial2fhir.mapping.engine import absorb
from trial2fhir.mapping.paths import ROOT
from trial2fhir.model import Trial
from trial2fhir.targets.xml import Child, Element, XmlTarget, read
from trial2fhir.validation.xml import SchemaNotInstalledError, XsdSource, in_schema_dir

PRS_XSD_ENV = "TRIAL2FHIR_PRS_XSD"
VERSION = "2018.05.08"


def prs_xsd() -> Path:
    """The PRS protocol schema: ``TRIAL2FHIR_PRS_XSD`` if set, else the one in the schema folder."""
    value = os.environ.get(PRS_XSD_ENV)
    if value:
        path = Path(value).expanduser()
        if not path.is_file():
            raise SchemaNotInstalledError(f"{PRS_XSD_ENV}={value} is not a file")
        return path
    return in_schema_dir("ctgov-prs", VERSION, "ProtocolRecordSchema.xsd")


class PrsTarget(XmlTarget):
    """The XML target with PRS's required-but-empty elements filled in, and read back as nothing."""

    @cached_property
    def required_empty(self) -> dict[str, str]:
        index = yaml.safe_load((self.folder / "index.yaml").read_text(encoding="utf-8"))
        return {str(k): str(v) for k, v in (index["document"].get("required_empty") or {}).items()}

    def document(self, trial: Trial) -> dict[str, Any]:
        content = super().document(trial)
        self._complete(self.model.root, content, self.spec.root)
        return content

    def _complete(self, info: Element, content: dict[str, Any], place: str) -> None:
        """Add, recursively, every element the XSD requires here and the trial gave no value."""
        for key, needed in self._required_of(info):
            if key not in content:
                content[key] = {} if needed.element.children else self.required_empty.get(f"{place}/{key}", "")
        for key, value in content.items():
            if key[0] in "@#":
                continue
            child = self._child(info, key)
            if child is None or not child.element.children:
                continue
            for item in value if isinstance(value, list) else [value]:
                if isinstance(item, dict):
                    self._complete(child.element, item, f"{place}/{key}")

    # Both per element type, worked out once: _complete runs for every element of every trial.
    def _required_of(self, info: Element) -> list[tuple[str, Child]]:
        found = self._required_cache.get(id(info))
        if found is None:
            found = self._required_cache[id(info)] = [
                (self.model.prefixed(clark), child) for clark, child in info.children.items() if child.required
            ]
        return found

    def _child(self, info: Element, key: str) -> Child | None:
        cache_key = (id(info), key)
        if cache_key not in self._child_cache:
            self._child_cache[cache_key] = info.children.get(self.model.clark(key))
        return self._child_cache[cache_key]

    @cached_property
    def _required_cache(self) -> dict[int, list[tuple[str, Child]]]:
        return {}

    @cached_property
    def _child_cache(self) -> dict[tuple[int, str], Child | None]:
        return {}

    def reverse(self, doc: etree._Element) -> dict[str, Any]:
        content = self._prune(read(self.model, doc), self.spec.root)
        out: dict[str, Any] = {}
        ctx = Context(self.mapping_set().codes)
        for m in self.mapping_set().mappings:
            place = self._place(content, m.resource, create=False)
            if place is not None:
                absorb(m.rules, place, {ROOT: out}, ctx)
        return out

    def _prune(self, value: Any, place: str) -> Any:
        """The parsed document without empty elements and PRS's words for none (``required_empty``)."""
        if isinstance(value, list):
            items = [self._prune(v, place) for v in value]
            return [v for v in items if v is not None] or None
        if isinstance(value, dict):
            kept = {}
            for key, v in value.items():
                here = place if key.startswith(("@", "#")) else f"{place}/{key}"
                pruned = self._prune(v, here)
                if pruned is not None:
                    kept[key] = pruned
            return kept or None
        text = value if isinstance(value, str) else str(value)
        return None if text.strip() == "" or self.required_empty.get(place) == text else value

    def sniff(self, head: bytes) -> bool:
        """A study_collection root in the PRS namespace (prefixed or default)."""
        m = re.search(rb"<(?![?!])(?:([A-Za-z_][\w.-]*):)?study_collection[\s>]", head)
        if m is None:
            return False
        prefix = m.group(1) or b""
        xmlns = b"xmlns" + (b":" + prefix if prefix else b"")
        declared = re.search(re.escape(xmlns) + rb"""\s*=\s*["']([^"']*)["']""", head)
        return bool(declared) and declared.group(1).decode() == self.spec.namespaces.get("prs")  # type: ignore[union-attr]


CTGOV_PRS = PrsTarget(
    "ctgov-prs", "ClinicalTrials.gov PRS protocol upload (study_collection/clinical_study)",
    XsdSource(f"ClinicalTrials.gov PRS ProtocolRecordSchema {VERSION}", prs_xsd),
)

__all__ = ["CTGOV_PRS", "PRS_XSD_ENV", "PrsTarget", "prs_xsd"]
