"""FHIR validation: the npm-installed HL7 schema, its typo correction, HL7's examples and broken resources."""

from __future__ import annotations

import copy
import difflib
import hashlib
import json
from pathlib import Path
from typing import Any

import jsonschema
import jsonschema_rs
import pytest

from trial2fhir.validation import fhir
from trial2fhir.validation.fhir import (
    INSTALL_COMMAND,
    TYPO_AFTER,
    TYPO_BEFORE,
    FhirValidator,
    Issue,
    SchemaNotInstalledError,
    correct_known_typos,
    json_path,
    load_schema,
    locate_schema,
    validate_bundle,
)

# sha256 of hl7.fhir.r5.core@5.0.0 package/openapi/fhir.schema.json (same as ../shared/schemas/fhir/R5)
R5_SCHEMA_SHA256 = "e865a3f40d9949c72da906ee3d89ae4c7066be27fd8a258cae80705e08e4d1b7"
EXAMPLES = Path(__file__).resolve().parents[3] / "shared" / "schemas" / "fhir" / "R5" / "examples"
EXAMPLE_TYPES = ("ResearchStudy", "PlanDefinition", "EvidenceVariable")
EXAMPLE_FILES = sorted(p for t in EXAMPLE_TYPES for p in EXAMPLES.glob(f"{t}-*.json")) if EXAMPLES.is_dir() else []


def _schema_or_skip(release: str = "R5") -> Path:
    try:
        return locate_schema(release)
    except SchemaNotInstalledError as exc:
        pytest.skip(f"FHIR {release} schema not installed; run `{INSTALL_COMMAND}` ({exc})")


@pytest.fixture(scope="session")
def validator() -> FhirValidator:
    _schema_or_skip()
    return FhirValidator.for_release("R5")


@pytest.fixture(scope="session")
def examples_dir(shared_dir: Path) -> Path:
    if not EXAMPLES.is_dir():
        pytest.skip(f"{EXAMPLES} is absent")
    return EXAMPLES


def study(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "resourceType": "ResearchStudy",
        "id": "rs1",
        "status": "active",
        "title": "A trial",
        "identifier": [{"system": "https://clinicaltrials.gov", "value": "NCT00000001"}],
        "phase": {"coding": [{"system": "http://hl7.org/fhir/research-study-phase", "code": "phase-2"}]},
    }
    base.update(changes)
    return base


BROKEN: dict[str, dict[str, Any]] = {
    "status-bogus": study(status="bogus"),
    "unknown-element": study(foo="bar"),
    "phase-string": study(phase="Phase 2"),
    "system-not-string": study(identifier=[{"system": 5, "value": "NCT00000001"}]),
}


# --- schema file and typo correction ---------------------------------------------------------------


def test_npm_installed_schema_is_hl7_r5_core_5_0_0() -> None:
    path = _schema_or_skip()
    if path != fhir.REPO_ROOT / "schemas/fhir/node_modules/hl7.fhir.r5.core/openapi/fhir.schema.json":
        pytest.skip(f"schema overridden by environment: {path}")
    assert hashlib.sha256(path.read_bytes()).hexdigest() == R5_SCHEMA_SHA256


def test_correct_known_typos_changes_exactly_the_25_typos() -> None:
    path = _schema_or_skip()
    original = path.read_text(encoding="utf-8")
    corrected, count = correct_known_typos(original)
    assert count == 25
    assert TYPO_BEFORE not in corrected
    old_lines, new_lines = original.splitlines(), corrected.splitlines()
    assert len(old_lines) == len(new_lines)
    changed = [(a, b) for a, b in zip(old_lines, new_lines, strict=True) if a != b]
    assert len(changed) == 25  # one typo per line
    for old, new in changed:
        ops = [op for op in difflib.SequenceMatcher(None, old, new, autojunk=False).get_opcodes() if op[0] != "equal"]
        assert len(ops) == 1, (old, new)
        tag, i1, i2, j1, j2 = ops[0]
        # the only difference is one deleted "}" inside the typo
        assert (tag, old[i1:i2], new[j1:j2]) == ("delete", "}", "")
        assert TYPO_BEFORE in old
        assert new == old.replace(TYPO_BEFORE, TYPO_AFTER)


def test_load_schema_leaves_the_file_alone() -> None:
    path = _schema_or_skip()
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    schema = load_schema(path)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before
    assert TYPO_BEFORE not in json.dumps(schema)


def test_uncorrected_schema_is_refused_by_jsonschema_rs() -> None:
    """The reason for the correction; if HL7 or jsonschema_rs change, revisit TYPO_BEFORE/AFTER."""
    path = _schema_or_skip()
    with pytest.raises(jsonschema_rs.ValidationError):
        jsonschema_rs.validator_for(json.loads(path.read_text(encoding="utf-8")))


def test_r4b_schema_has_no_known_typos() -> None:
    path = _schema_or_skip("R4B")
    assert correct_known_typos(path.read_text(encoding="utf-8"))[1] == 0


def test_publication_status_matches_hl7_codesystem() -> None:
    schema = _schema_or_skip()
    cs_path = schema.parent.parent / "CodeSystem-publication-status.json"
    if not cs_path.is_file():
        pytest.skip(f"{cs_path} absent (schema overridden?)")
    codes = {c["code"] for c in json.loads(cs_path.read_text(encoding="utf-8"))["concept"]}
    assert codes == fhir.PUBLICATION_STATUS


# --- locating the schema -----------------------------------------------------------------------------


def test_env_var_overrides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    own = tmp_path / "fhir.schema.json"
    own.write_text("{}", encoding="utf-8")
    monkeypatch.setenv(fhir.SCHEMA_ENV, str(own))
    assert locate_schema("R5") == own
    monkeypatch.setenv(fhir.SCHEMA_ENV, str(tmp_path / "missing.json"))
    with pytest.raises(SchemaNotInstalledError, match="does not name a file"):
        locate_schema("R5")


def test_missing_install_names_the_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(fhir.SCHEMA_ENV, raising=False)
    monkeypatch.delenv(f"{fhir.SCHEMA_ENV}_R5", raising=False)
    monkeypatch.setattr(fhir, "REPO_ROOT", tmp_path)
    with pytest.raises(FileNotFoundError, match="npm ci --prefix schemas/fhir"):
        locate_schema("R5")


def test_json_path() -> None:
    assert json_path(["identifier", 0, "system"]) == "$.identifier[0].system"
    assert json_path([]) == "$"


# --- HL7 examples and broken resources ---------------------------------------------------------------


@pytest.mark.shared
@pytest.mark.parametrize(
    "path",
    EXAMPLE_FILES or [pytest.param(None, marks=pytest.mark.skip(reason=f"{EXAMPLES} is absent: HL7's R5 examples"))],
    ids=lambda p: p.stem if p else "no-examples",
)
def test_hl7_examples_validate(examples_dir: Path, validator: FhirValidator, path: Path) -> None:
    assert validator.validate(json.loads(path.read_text(encoding="utf-8"))) == []


def test_valid_study_has_no_issues(validator: FhirValidator) -> None:
    assert validator.validate(study()) == []


def test_bogus_status(validator: FhirValidator) -> None:
    issues = validator.validate(BROKEN["status-bogus"])
    # neither HL7's JSON Schema nor fhir.resources checks the code; the binding check does
    assert issues == [Issue("ResearchStudy/rs1", "$.status", issues[0].message, "binding")]
    assert "'bogus'" in issues[0].message


def test_unknown_element(validator: FhirValidator) -> None:
    issues = validator.validate(BROKEN["unknown-element"])
    assert {i.source for i in issues} == {"schema", "model"}
    assert all(i.resource == "ResearchStudy/rs1" for i in issues)
    assert any(i.source == "schema" and "'foo'" in i.message for i in issues)
    assert any(i.source == "model" and i.path == "$.foo" for i in issues)


def test_phase_as_string(validator: FhirValidator) -> None:
    issues = validator.validate(BROKEN["phase-string"])
    assert {(i.resource, i.path, i.source) for i in issues} == {
        ("ResearchStudy/rs1", "$.phase", "schema"),
        ("ResearchStudy/rs1", "$.phase", "model"),
    }


def test_nested_path(validator: FhirValidator) -> None:
    issues = validator.validate(BROKEN["system-not-string"])
    assert {(i.path, i.source) for i in issues} == {
        ("$.identifier[0].system", "schema"),
        ("$.identifier[0].system", "model"),
    }


@pytest.mark.parametrize("resource", [{"resourceType": "Trial", "id": "x"}, {"resourceType": "Identifier"}, {}])
def test_unknown_resource_type_is_one_issue(validator: FhirValidator, resource: dict[str, Any]) -> None:
    issues = validator.validate(resource)
    assert len(issues) == 1
    assert issues[0].path == "$.resourceType"


def test_bundle_names_the_broken_entry(validator: FhirValidator) -> None:
    bundle = {
        "resourceType": "Bundle",
        "id": "b1",
        "type": "collection",
        "entry": [
            {"fullUrl": "urn:uuid:1", "resource": study(id="good")},
            {"fullUrl": "urn:uuid:2", "resource": study(id="bad", phase="Phase 2")},
        ],
    }
    issues = validate_bundle(bundle)
    assert issues
    assert {i.resource for i in issues} == {"ResearchStudy/bad"}
    assert {i.path for i in issues} == {"$.phase"}


def test_bundle_envelope_is_checked(validator: FhirValidator) -> None:
    bundle = {
        "resourceType": "Bundle",
        "id": "b1",
        "type": "collection",
        "total": "many",
        "entry": [{"resource": study()}],
    }
    issues = validator.validate(bundle)
    assert issues
    assert {i.resource for i in issues} == {"Bundle/b1"}
    assert {i.path for i in issues} == {"$.total"}


# --- jsonschema_rs (corrected schema) agrees with python-jsonschema (HL7's file as published) -----------


@pytest.fixture(scope="session")
def py_validators() -> dict[str, jsonschema.Draft6Validator]:
    path = _schema_or_skip()
    raw = json.loads(path.read_text(encoding="utf-8"))  # uncorrected: python's re accepts the typo

    class Lazy(dict[str, jsonschema.Draft6Validator]):
        def __missing__(self, rtype: str) -> jsonschema.Draft6Validator:
            self[rtype] = jsonschema.Draft6Validator(
                {"$ref": f"#/definitions/{rtype}", "definitions": raw["definitions"]}
            )
            return self[rtype]

    return Lazy()


def _cases() -> list[Any]:
    cases: list[Any] = [pytest.param(lambda r=r: copy.deepcopy(r), id=name) for name, r in BROKEN.items()]
    cases += [
        pytest.param(lambda p=p: json.loads(p.read_text(encoding="utf-8")), id=p.stem, marks=pytest.mark.shared)
        for p in EXAMPLE_FILES
    ]
    return cases


@pytest.mark.parametrize("load", _cases())
def test_schema_verdicts_agree(
    validator: FhirValidator, py_validators: dict[str, jsonschema.Draft6Validator], load: Any
) -> None:
    resource = load()
    rtype = resource["resourceType"]
    rs_valid = validator.schema_validator(rtype).is_valid(resource)
    py_valid = py_validators[rtype].is_valid(resource)
    assert rs_valid == py_valid
