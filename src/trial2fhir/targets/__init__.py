"""Output targets: one object per standard that builds a document, validates that same document,
serialises it once, and reads written bytes back for the round trip.

The protocol (``Target``; ``Doc`` is the target's in-memory document: a dict for FHIR and
trial-json, an lxml element tree for XML)::

    name: str                          # the --to value, e.g. "fhir-r5"
    suffix: str                        # file name after "<NCT_ID>.", e.g. "fhir-r5.json"
    description: str                   # one line for --help and the README
    ready() -> None                    # raises TargetNotReady (a FileNotFoundError) saying what to
                                       # install or point an env var at; called once, up front (exit 2)
    build(trial) -> Doc                # the mappings applied; raises on a mapping error of this trial
    validate(doc) -> list[Problem]     # the SAME doc against the published schema; Problem.file is ""
                                       # (the pipeline stamps the record's file), place is inside the doc
    serialise(doc) -> bytes            # deterministic bytes, written as is
    parse(data, file) -> Doc           # written bytes read back (round trip, `validate` command);
                                       # raises RecordError naming file and place
    reverse(doc) -> dict[str, Any]     # Trial data (without ``source``) rebuilt by the mappings in reverse
    losses() -> list[Loss]             # what the target cannot hold, declared in its mapping files
    sniff(head: bytes) -> bool         # is this file (first 64 KiB) this target's output? (`validate`)

A target that can also write the FHIR Bulk Data layout (``--format ndjson``) implements
``SplitsToNdjson.ndjson(doc)``. No target re-parses its own bytes to validate them: the pipeline
calls ``build``, ``validate`` and ``serialise`` on one document. ``TARGETS`` is the registry the
commands choose from; a new target is one more entry here (plus its mapping files and schema location).
"""

from __future__ import annotations

from typing import Any, Protocol, TypeVar, runtime_checkable

from trial2fhir.errors import Problem, TargetNotReady
from trial2fhir.mapping.load import Loss
from trial2fhir.model import Trial
from trial2fhir.targets import fhir_r4b, fhir_r5
from trial2fhir.targets.ctgov_prs import CTGOV_PRS
from trial2fhir.targets.fhir import FhirBundleTarget
from trial2fhir.targets.trial_json import TrialJsonTarget
from trial2fhir.targets.xml import XmlTarget
from trial2fhir.validation.xml import XsdSource, in_schema_dir, odmlib_schema

Doc = TypeVar("Doc")


class Target(Protocol[Doc]):
    # Read-only, so a frozen dataclass or plain class attributes both satisfy the protocol.
    @property
    def name(self) -> str: ...
    @property
    def suffix(self) -> str: ...
    @property
    def description(self) -> str: ...

    def ready(self) -> None: ...
    def build(self, trial: Trial) -> Doc: ...
    def validate(self, doc: Doc) -> list[Problem]: ...
    def serialise(self, doc: Doc) -> bytes: ...
    def parse(self, data: bytes, file: str) -> Doc: ...
    def reverse(self, doc: Doc) -> dict[str, Any]: ...
    def losses(self) -> list[Loss]: ...
    def sniff(self, head: bytes) -> bool: ...


@runtime_checkable
class SplitsToNdjson(Protocol):
    """A target whose document splits into NDJSON lines per resource type (``--format ndjson``)."""

    def ndjson(self, doc: Any) -> dict[str, list[bytes]]: ...


def _registry(*targets: Target[Any]) -> dict[str, Target[Any]]:
    return {t.name: t for t in targets}


# XML targets: the mapping folder of the same name, and where the published XSD is.
ODM_2_0 = XmlTarget("odm-2.0", "CDISC ODM 2.0 Protocol (study parameters, arms, endpoints, criteria ...)",
                    XsdSource("CDISC ODM 2.0 (odmlib)", lambda: odmlib_schema("odm", "2.0", "ODM.xsd")))
# SDM 1.0 was written against ODM 1.3.1 and imports ODM1-3-1.xsd: that import (same namespace)
# is redirected to odmlib's ODM 1.3.2, no file edited.
ODM_1_3_2_SDM = XmlTarget(
    "odm-1.3.2-sdm", "CDISC ODM 1.3.2 + SDM-XML 1.0 (sdm:Summary parameters, criteria, structure)",
    XsdSource("CDISC SDM-XML 1.0 over ODM 1.3.2", lambda: in_schema_dir("cdisc-sdm", "1.0", "sdm1-0-0.xsd"),
              lambda: {"ODM1-3-1.xsd": odmlib_schema("odm", "1.3.2", "ODM1-3-2.xsd")}),
)

TARGETS: dict[str, Target[Any]] = _registry(
    TrialJsonTarget(),
    FhirBundleTarget("fhir-r5", "fhir-r5.json", "FHIR R5 transaction Bundle (ResearchStudy, PlanDefinition, ...)",
                     release="R5", bundle=fhir_r5.bundle, mapping_set=fhir_r5.mapping_set),
    FhirBundleTarget("fhir-r4b", "fhir-r4b.json", "FHIR R4B transaction Bundle (ResearchStudy, Group, ...)",
                     release="R4B", bundle=fhir_r4b.bundle, mapping_set=fhir_r4b.mapping_set,
                     version_tag=b'"4.3.0"'),
    ODM_2_0,
    ODM_1_3_2_SDM,
    CTGOV_PRS,
)

__all__ = ["CTGOV_PRS", "ODM_1_3_2_SDM", "ODM_2_0", "TARGETS", "Doc", "SplitsToNdjson", "Target", "TargetNotReady"]
