"""Bad mapping files fail when loaded, before any trial flows, naming file, rule and value."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from trial2fhir.mapping.codes import CodeError, load_code_map, load_code_maps
from trial2fhir.mapping.load import MAPPINGS, MappingError, load_mapping, load_target

CODES = load_code_maps(MAPPINGS / "codes")
GOOD = {
    "mapping": "test-researchstudy",
    "version": 1,
    "source": "Trial",
    "target": {"standard": "FHIR", "release": "R5", "resource": "ResearchStudy"},
    "id": "{identification.nct_id}",
    "rules": {"status": {"const": "active"}, "title": {"from": "identification.brief_title"}},
}


def write(tmp_path: Path, **changes: object) -> Path:
    doc = {**GOOD, **changes}
    path = tmp_path / "m.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def test_good_mapping_loads(tmp_path: Path) -> None:
    m = load_mapping(write(tmp_path), CODES)
    assert m.resource == "ResearchStudy"


@pytest.mark.parametrize(
    ("rules", "rule", "message"),
    [
        ({"title": {"from": "identification.brief_title", "frm": "x"}}, "rules.title", "unknown directive 'frm'"),
        ({"title": {"from": "identification.brief_tittle"}}, "rules.title.from", "'identification.brief_tittle'"),
        ({"titel": {"from": "identification.brief_title"}}, "rules.titel", "ResearchStudy has no element 'titel'"),
        ({"phase": {"coding": [{"code": {"from": "design.study_type", "lookup": "ctgov-phaze"}}]}},
         "rules.phase.coding[0].code.lookup", "unknown code map 'ctgov-phaze'"),
        ({"title": "Aspirin"}, "rules.title", "bare value"),
        ({"title": {"from": "identification.brief_title", "const": "x"}}, "rules.title", "exactly one of"),
        ({"condition": {"each": "identification.brief_title", "as": "c", "rules": {"text": {"from": "c"}}}},
         "rules.condition.each", "is not a list"),
        ({"condition": {"each": "conditions", "as": "c", "where": "c in keywords", "rules": {"text": {"from": "c"}}}},
         "rules.condition.where", "invert: false"),
        ({"condition": {"each": "conditions", "as": "c", "distinct": True, "rules": {"text": {"from": "c"}}}},
         "rules.condition.distinct", "invert: false"),
        ({"title": {"from": "identification.brief_title", "distinct": True, "invert": False}},
         "rules.title", "go with 'each'"),
        ({"title": {"from": "identification.acronym", "default": "{identification.nct_idd}", "invert": False}},
         "rules.title.default", "'identification.nct_idd'"),
        ({"condition": {"each": "conditions", "as": "c", "where": "c == keywords", "invert": False,
                        "rules": {"text": {"from": "c"}}}}, "rules.condition.where", "'PATH = PATH'"),
        ({"site": [{"reference": {"ref": "Location/{identification.nct_id}-{#nope}"}}]},
         "rules.site[0].reference.ref", "{#nope} names no loop variable"),
    ],
)
def test_bad_rule_fails_with_file_and_rule(tmp_path: Path, rules: dict, rule: str, message: str) -> None:
    path = write(tmp_path, rules=rules)
    with pytest.raises(MappingError) as exc:
        load_mapping(path, CODES)
    assert exc.value.file == str(path)
    assert exc.value.rule == rule
    assert message in str(exc.value)


def test_structure_is_checked_by_the_language_schema(tmp_path: Path) -> None:
    path = write(tmp_path, target={"standard": "FHIR", "release": "R2", "resource": "ResearchStudy"})
    with pytest.raises(MappingError, match=r"target.release: 'R2' is not one of"):
        load_mapping(path, CODES)


def test_unknown_resource(tmp_path: Path) -> None:
    path = write(tmp_path, target={"standard": "FHIR", "release": "R5", "resource": "ResearchStuddy"})
    with pytest.raises(MappingError, match="unknown R5 resource 'ResearchStuddy'"):
        load_mapping(path, CODES)


def test_declared_loss_must_be_a_trial_path(tmp_path: Path) -> None:
    path = write(tmp_path, losses=[{"path": "arms[].colour", "why": "no such thing"}])
    with pytest.raises(MappingError, match=r"losses\[0\]: declared loss 'arms\[\].colour'"):
        load_mapping(path, CODES)


def test_code_map_without_policy_rejects_unknown_code() -> None:
    phase = CODES["ctgov-phase"]
    assert phase.map("PHASE1+PHASE2") == "phase-1-phase-2"
    assert phase.unmap("phase-1-phase-2") == "PHASE1+PHASE2"
    with pytest.raises(CodeError, match="'PHASE9' is not in code map"):
        phase.map("PHASE9")


def test_code_map_no_map_and_policies(tmp_path: Path) -> None:
    assert CODES["ctgov-primary-purpose"].map("OTHER") is None  # noMap: no HL7 equivalent
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({"resourceType": "ConceptMap", "name": "c", "group": [
        {"element": [{"code": "A", "target": [{"code": "a"}]}], "unmapped": {"mode": "use-source-code"}}]}))
    cm = load_code_map(path)
    assert (cm.map("A"), cm.map("B"), cm.unmap("B")) == ("a", "B", "B")


def test_shipped_mappings_load() -> None:
    ms = load_target("fhir-r5")
    assert ms.mappings[0].resource == "ResearchStudy"
