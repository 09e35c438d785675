"""Validate FHIR resources twice: HL7's JSON Schema (via jsonschema_rs) and the fhir.resources model.

The schema is HL7's ``openapi/fhir.schema.json`` from the npm package pinned in ``schemas/fhir``
(``npm ci --prefix schemas/fhir``), or the file named by ``TRIAL2FHIR_FHIR_SCHEMA``.
HL7's R5 schema has a typo in its decimal pattern (``{1,9}})?$``, a stray ``}``) that makes
jsonschema_rs refuse the whole schema; :func:`load_schema` corrects exactly that, in memory.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal

import jsonschema_rs
from pydantic import ValidationError

from trial2fhir.packaged import installed

Release = Literal["R5", "R4B"]
Source = Literal["schema", "model", "binding"]

SCHEMA_ENV = "TRIAL2FHIR_FHIR_SCHEMA"
INSTALL_COMMAND = "npm ci --prefix schemas/fhir"
NPM_PACKAGES: dict[str, str] = {"R5": "hl7.fhir.r5.core", "R4B": "hl7.fhir.r4b.core"}
# src/trial2fhir/validation/fhir.py -> the repository root holding schemas/fhir/
REPO_ROOT = Path(__file__).resolve().parents[3]

# HL7 R5 fhir.schema.json, decimal pattern: "^-?(0|[1-9][0-9]{0,17})(\\.[0-9]{1,17})?([eE][+-]?[0-9]{1,9}})?$"
# (25 occurrences). The stray "}" is not a valid regex for jsonschema_rs (ECMA 262 regex, unicode mode).
TYPO_BEFORE = "[0-9]{1,9}})?$"
TYPO_AFTER = "[0-9]{1,9})?$"

# HL7 R4B fhir.schema.json, string and markdown: "^[ \\r\\n\\t\\S]+$" (66 occurrences), the XML Schema
# regex of the spec, where \s is only space, tab, CR and LF, so the class is any character. In a JSON
# Schema (ECMA 262) \s is every Unicode space, and the same text refuses a no-break space, common in
# registry text. R5's schema writes the intent, "^[\\s\\S]+$"; R4B's is read the same way.
XSD_STRING_BEFORE = r'"^[ \\r\\n\\t\\S]+$"'
XSD_STRING_AFTER = r'"^[\\s\\S]+$"'

# Required binding not expressed by the JSON Schema nor the model (both accept any code string):
# ResearchStudy/PlanDefinition/EvidenceVariable.status -> ValueSet publication-status (R5 and R4B).
PUBLICATION_STATUS = frozenset({"draft", "active", "retired", "unknown"})
PUBLICATION_STATUS_TYPES = frozenset({"ResearchStudy", "PlanDefinition", "EvidenceVariable"})
# R4B ResearchStudy.status is bound (required) to research-study-status instead.
R4B_RESEARCH_STUDY_STATUS = frozenset({
    "active", "administratively-completed", "approved", "closed-to-accrual", "closed-to-accrual-and-intervention",
    "completed", "disapproved", "in-review", "temporarily-closed-to-accrual",
    "temporarily-closed-to-accrual-and-intervention", "withdrawn",
})
STATUS_BINDINGS: dict[str, dict[str, tuple[str, frozenset[str]]]] = {
    "R5": dict.fromkeys(PUBLICATION_STATUS_TYPES, ("publication-status", PUBLICATION_STATUS)),
    "R4B": {"PlanDefinition": ("publication-status", PUBLICATION_STATUS),
            "EvidenceVariable": ("publication-status", PUBLICATION_STATUS),
            "ResearchStudy": ("research-study-status", R4B_RESEARCH_STUDY_STATUS)},
}


class SchemaNotInstalledError(FileNotFoundError):
    """The FHIR JSON Schema is not where it should be."""


@dataclass(frozen=True)
class Issue:
    """One validation problem: ``ResearchStudy/abc: $.identifier[0].system: message [schema]``."""

    resource: str
    path: str
    message: str
    source: Source

    def __str__(self) -> str:
        return f"{self.resource}: {self.path}: {self.message} [{self.source}]"


def locate_schema(release: str = "R5") -> Path:
    """The schema file: ``$TRIAL2FHIR_FHIR_SCHEMA`` (R5; ``..._R4B`` for R4B), else the npm-installed one."""
    if release not in NPM_PACKAGES:
        raise ValueError(f"unsupported FHIR release {release!r}; expected one of {sorted(NPM_PACKAGES)}")
    env_names = [f"{SCHEMA_ENV}_{release}"] + ([SCHEMA_ENV] if release == "R5" else [])
    for name in env_names:
        value = os.environ.get(name)
        if value:
            path = Path(value).expanduser()
            if not path.is_file():
                raise SchemaNotInstalledError(f"{name}={value} does not name a file")
            return path
    relative = Path("schemas") / "fhir" / "node_modules" / NPM_PACKAGES[release] / "openapi" / "fhir.schema.json"
    # The checkout this code runs from; for an installed package, the checkout it is run in.
    candidates = [Path.cwd() / relative] if installed() else [REPO_ROOT / relative]
    for path in candidates:
        if path.is_file():
            return path
    raise SchemaNotInstalledError(
        f"FHIR {release} JSON Schema not found at {' or '.join(map(str, candidates))}. Run `{INSTALL_COMMAND}` "
        f"in a trial2fhir checkout (needs npm), or set {env_names[0]} to your own copy of fhir.schema.json."
    )


def correct_known_typos(text: str) -> tuple[str, int]:
    """Replace HL7's broken decimal pattern; return the corrected text and how many were replaced."""
    return text.replace(TYPO_BEFORE, TYPO_AFTER), text.count(TYPO_BEFORE)


def correct_xsd_string_pattern(text: str) -> tuple[str, int]:
    """R4B's string pattern in its XML Schema meaning (any character); the text and how many were replaced."""
    return text.replace(XSD_STRING_BEFORE, XSD_STRING_AFTER), text.count(XSD_STRING_BEFORE)


def load_schema(path: Path | str) -> dict[str, Any]:
    """Parse the schema file with the known typos corrected in memory (the file is never written)."""
    text, _ = correct_known_typos(Path(path).read_text(encoding="utf-8"))
    text, _ = correct_xsd_string_pattern(text)
    schema: dict[str, Any] = json.loads(text)
    return schema


def json_path(parts: Sequence[str | int]) -> str:
    """``["identifier", 0, "system"]`` -> ``$.identifier[0].system``."""
    return "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts)


def resource_label(resource: Any) -> str:
    if not isinstance(resource, dict):
        return f"<{type(resource).__name__}>"
    rtype = resource.get("resourceType", "<no resourceType>")
    rid = resource.get("id")
    return f"{rtype}/{rid}" if rid else str(rtype)


def _model_class_getter(release: str) -> Any:
    if release == "R4B":
        from fhir.resources.R4B import get_fhir_model_class as get_r4b

        return get_r4b
    from fhir.resources import get_fhir_model_class  # the default package is R5 (5.0.0)

    return get_fhir_model_class


class FhirValidator:
    """Schema + model validation for one FHIR release; get the shared one with :meth:`for_release`."""

    def __init__(self, release: str = "R5", schema_path: Path | str | None = None) -> None:
        self.release = release
        self.schema_path = Path(schema_path) if schema_path else locate_schema(release)
        self.schema = load_schema(self.schema_path)
        self.base_uri: str = self.schema.get("id") or self.schema.get("$id") or "urn:fhir:schema"
        self.resource_types = frozenset(self.schema["discriminator"]["mapping"])
        self._registry = jsonschema_rs.Registry([(self.base_uri, self.schema)])
        self._validators: dict[str, jsonschema_rs.Validator] = {}
        self._get_model_class = _model_class_getter(release)

    @staticmethod
    def for_release(release: str = "R5") -> FhirValidator:
        """The shared validator of a release, built once; each resource type compiles on first use (~0.1 s)."""
        return _shared_validator(release)

    def schema_validator(self, resource_type: str) -> jsonschema_rs.Validator:
        """Compiled validator for ``#/definitions/<resource_type>`` (compiled lazily, then reused)."""
        validator = self._validators.get(resource_type)
        if validator is None:
            ref = {"$schema": self.schema["$schema"], "$ref": f"{self.base_uri}#/definitions/{resource_type}"}
            validator = jsonschema_rs.validator_for(ref, registry=self._registry)
            self._validators[resource_type] = validator
        return validator

    def validate(self, resource: Any) -> list[Issue]:
        """All issues of one resource; a Bundle's entries are checked each as its own resource."""
        label = resource_label(resource)
        if not isinstance(resource, dict):
            return [Issue(label, "$", "a FHIR resource must be a JSON object", "schema")]
        rtype = resource.get("resourceType")
        if not isinstance(rtype, str) or rtype not in self.resource_types:
            message = f"unknown resourceType {rtype!r} (not a FHIR {self.release} resource)"
            return [Issue(label, "$.resourceType", message, "schema")]
        if rtype == "Bundle":
            return self._validate_bundle(resource, label)
        return self._validate_one(resource, rtype, label)

    def _validate_one(self, resource: dict[str, Any], rtype: str, label: str) -> list[Issue]:
        issues = [
            Issue(label, json_path(err.instance_path), err.message, "schema")
            for err in self.schema_validator(rtype).iter_errors(resource)
        ]
        issues.extend(self._model_issues(resource, rtype, label))
        status = resource.get("status")
        binding = STATUS_BINDINGS[self.release].get(rtype)
        if binding is not None and isinstance(status, str) and status not in binding[1]:
            message = f"{status!r} is not in ValueSet {binding[0]} {sorted(binding[1])}"
            issues.append(Issue(label, "$.status", message, "binding"))
        return issues

    def _model_issues(self, resource: dict[str, Any], rtype: str, label: str) -> Iterator[Issue]:
        try:
            self._get_model_class(rtype).model_validate(resource)
        except ValidationError as exc:
            for err in exc.errors(include_url=False):
                yield Issue(label, json_path(err["loc"]), f"{err['type']}: {err['msg']}", "model")

    def _validate_bundle(self, bundle: dict[str, Any], label: str) -> list[Issue]:
        # The envelope is checked without the entries' resources (entry.resource is optional), so that
        # a broken entry is reported once, under its own resource's name, not as a 158-way oneOf failure.
        entries = bundle.get("entry")
        resources: list[Any] = []
        envelope = bundle
        if isinstance(entries, list):
            stripped: list[Any] = []
            for entry in entries:
                if isinstance(entry, dict) and "resource" in entry:
                    resources.append(entry["resource"])
                    stripped.append({k: v for k, v in entry.items() if k != "resource"})
                else:
                    stripped.append(entry)
            envelope = {**bundle, "entry": stripped}
        issues = self._validate_one(envelope, "Bundle", label)
        for resource in resources:
            issues.extend(self.validate(resource))
        return issues


@cache
def _shared_validator(release: str) -> FhirValidator:
    return FhirValidator(release)


def validate_resource(resource: Any, release: str = "R5") -> list[Issue]:
    return FhirValidator.for_release(release).validate(resource)


def validate_bundle(bundle: dict[str, Any], release: str = "R5") -> list[Issue]:
    """Issues of a Bundle envelope and of each entry's resource (each named by its own type/id)."""
    return FhirValidator.for_release(release).validate(bundle)
