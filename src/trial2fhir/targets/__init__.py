"""Output targets: a name on the command line, a file suffix, and a renderer from Trial to bytes.

``TARGETS`` is the registry ``convert --to`` chooses from; a new standard is one more entry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from trial2fhir.model import Trial
from trial2fhir.targets import fhir_r5, trial_json
from trial2fhir.targets.xml import XmlTarget
from trial2fhir.validation.xml import XsdSource, odmlib_schema

# XML targets: the mapping folder of the same name, and where the published XSD is.
ODM_2_0 = XmlTarget("odm-2.0", XsdSource("CDISC ODM 2.0 (odmlib)", lambda: odmlib_schema("odm", "2.0", "ODM.xsd")))
XML_TARGETS = {t.name: t for t in (ODM_2_0,)}


@dataclass(frozen=True)
class Target:
    name: str
    suffix: str
    description: str
    render: Callable[[Trial], bytes]
    validate: Callable[[bytes], list[str]] | None = None
    """Problems of a written file against the target's published schema (one line each)."""
    ndjson: Callable[[bytes], dict[str, list[bytes]]] | None = None
    """The file split into NDJSON lines per resource type, for ``--format ndjson``."""
    ready: Callable[[], object] | None = None
    """Raises FileNotFoundError, saying what to install, when the published schema is missing."""


TARGETS: dict[str, Target] = {
    t.name: t
    for t in (
        Target("trial-json", "trial.json", "the canonical Trial model as JSON", trial_json.render),
        Target("fhir-r5", "fhir-r5.json", "FHIR R5 transaction Bundle (ResearchStudy, PlanDefinition, ...)",
               fhir_r5.render, fhir_r5.validate, fhir_r5.ndjson_lines, fhir_r5.ready),
        Target("odm-2.0", "odm-2.0.xml", "CDISC ODM 2.0 Protocol (study summary, arms, criteria ...)",
               ODM_2_0.render, ODM_2_0.validate, None, ODM_2_0.ready),
    )
}

__all__ = ["TARGETS", "XML_TARGETS", "Target"]
