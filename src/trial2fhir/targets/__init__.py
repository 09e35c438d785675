"""Output targets: a name on the command line, a file suffix, and a renderer from Trial to bytes.

``TARGETS`` is the registry ``convert --to`` chooses from; a new standard is one more entry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from trial2fhir.model import Trial
from trial2fhir.targets import fhir_r4b, fhir_r5, trial_json


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
        Target("fhir-r4b", "fhir-r4b.json", "FHIR R4B transaction Bundle (ResearchStudy, Group, PlanDefinition, ...)",
               fhir_r4b.render, fhir_r4b.validate, fhir_r4b.ndjson_lines, fhir_r4b.ready),
    )
}

__all__ = ["TARGETS", "Target"]
