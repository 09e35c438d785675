"""odm-2.0 end to end: goldens, XSD validity and round trip of every sample and real record,
the written XML read for meaning, and a hypothesis round trip over generated Trials."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from lxml import etree

from tests.conftest import shared_params
from tests.strategies import trials
from tests.xml.helpers import (
    SAMPLE_FILES,
    assert_round_trips,
    end_to_end_tests,
    read_trials,
    sample_trial,
    written_enrollment,
)
from trial2fhir.model import Arm, Enrollment, Trial
from trial2fhir.targets import ODM_2_0

NS = {"o": "http://www.cdisc.org/ns/odm/v2.0", "x": "http://www.w3.org/1999/xhtml"}


test_golden, test_sample_is_valid_and_round_trips, test_real_record_is_valid_and_round_trips = (
    end_to_end_tests(ODM_2_0, "odm-2.0"))


def written(trial: Trial) -> etree._Element:
    return ODM_2_0.parse(ODM_2_0.serialise(ODM_2_0.build(trial)), "x")


def parameter(root: etree._Element, code: str) -> str | None:
    values = root.xpath(f"//o:StudyParameter[@ShortName='{code}']/o:ParameterValue/@Value", namespaces=NS)
    return str(values[0]) if values else None


def test_study_parameters_carry_cdisc_values() -> None:
    trial = sample_trial(SAMPLE_FILES[0])
    root = written(trial)
    assert root.xpath("/o:ODM/o:Study/@OID", namespaces=NS) == [trial.nct_id]
    assert parameter(root, "REGID") == trial.nct_id
    phases = "+".join(trial.design.phases)
    expected_phase = {"PHASE1": "PHASE I TRIAL", "PHASE2": "PHASE II TRIAL", "PHASE1+PHASE2": "PHASE I/II TRIAL",
                      "EARLY_PHASE1": "PHASE 0 TRIAL", "NA": "NOT APPLICABLE"}.get(phases)
    assert parameter(root, "TPHASE") == expected_phase
    assert root.xpath("//o:TrialPhase/@Value", namespaces=NS) == ([expected_phase] if expected_phase else [])
    if trial.eligibility.minimum_age is not None and trial.eligibility.minimum_age.unit == "Years":
        assert parameter(root, "AGEMIN") == f"P{trial.eligibility.minimum_age.value}Y"
    sex = {"ALL": "BOTH", "FEMALE": "F", "MALE": "M"}.get(trial.eligibility.sex or "")
    assert parameter(root, "SEXPOP") == sex


@pytest.mark.parametrize("path", SAMPLE_FILES, ids=[p.stem for p in SAMPLE_FILES])
def test_structure_counts_match_the_trial(path: Path) -> None:
    trial = sample_trial(path)
    root = written(trial)
    assert len(root.xpath("//o:Arm", namespaces=NS)) == len(trial.arms)
    assert len(root.xpath("//o:StudyIntervention", namespaces=NS)) == (
        len(trial.interventions) + len(trial.derived.intervention_meshes))
    outcomes = trial.outcomes
    for level, items in (("Primary", outcomes.primary), ("Secondary", outcomes.secondary),
                         ("Exploratory", outcomes.other)):
        names = root.xpath(f"//o:StudyEndPoint[@Level='{level}']/@Name", namespaces=NS)
        assert names == [o.measure for o in items]
    sections = trial.eligibility.criteria_sections
    for side, element in (("inclusion", "InclusionCriteria"), ("exclusion", "ExclusionCriteria")):
        texts = root.xpath(f"//o:{element}/o:Criterion/o:Description/o:TranslatedText[@Type='text/plain']/text()",
                           namespaces=NS)
        assert texts == [c.text for s in sections if s.side == side for c in s.items]
    oids = root.xpath("//@OID")
    assert len(oids) == len(set(oids)), "OIDs are unique"


def test_lead_ins_keep_their_sub_items_text() -> None:
    lead = next(
        (t, c) for p in SAMPLE_FILES for t in [sample_trial(p)]
        for s in t.eligibility.criteria_sections if s.side == "inclusion" for c in s.items if c.items
    )
    trial, criterion = lead
    root = written(trial)
    html = root.xpath("//o:InclusionCriteria/o:Criterion[o:Description/o:TranslatedText[@Type='text/plain']"
                      f"[text()={etree.XPath('string($t)')(root, t=criterion.text)!r}]]"
                      "/o:Description/o:TranslatedText[@Type='text/html']", namespaces=NS)
    assert html, "a lead-in has an XHTML rendering"
    items = [str(x) for x in html[0].xpath("x:div/x:ol/x:li/text()", namespaces=NS)]
    assert items == [c.text for c in criterion.items]


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(trials.filter(written_enrollment))
def test_any_trial_round_trips_through_odm_2_0(trial: Trial) -> None:
    assert_round_trips(ODM_2_0, trial)


def test_a_section_note_is_rendered_apart_from_the_criteria() -> None:
    from trial2fhir.readers.criteria import parse_criteria

    text = "Inclusion Criteria:\n\n1. Adults.\n2. Moderate HS.\n\nFurther criteria apply."
    trial = sample_trial(SAMPLE_FILES[0]).model_copy(deep=True)
    trial.eligibility.criteria, trial.eligibility.criteria_sections = text, parse_criteria(text)
    root = written(trial)
    assert root.xpath("//o:InclusionCriteria/o:Criterion/o:Description/o:TranslatedText[@Type='text/plain']/text()",
                      namespaces=NS) == ["Adults.", "Moderate HS."]
    section = root.xpath("//o:StudyTargetPopulation//x:div[@class='inclusion']", namespaces=NS)[0]
    assert section.xpath("x:ul[@class='notes']/x:li/text()", namespaces=NS) == ["Further criteria apply."]
    assert section.xpath("x:ol/x:li/text()", namespaces=NS) == ["Adults.", "Moderate HS."]


@pytest.mark.parametrize(("kind", "term", "code", "c_code"), [
    ("ESTIMATED", "Planned Number of Subjects", "PLANSUB", "C49692"),
    ("ACTUAL", "Actual Number of Subjects", "ACTSUB", "C98703"),
    (None, "Number of Subjects", None, None),
])
def test_enrollment_is_the_trial_summary_parameter_its_type_names(
        kind: str | None, term: str, code: str | None, c_code: str | None) -> None:
    trial = sample_trial(SAMPLE_FILES[0]).model_copy(deep=True)
    trial.design.enrollment = Enrollment(count=40, type=kind)
    (param,) = written(trial).xpath("//o:StudyParameter[o:ParameterValue/@Value='40']", namespaces=NS)
    assert (param.get("Term"), param.get("ShortName")) == (term, code)
    assert param.xpath("o:Coding/@Code", namespaces=NS) == ([c_code] if c_code else [])


def test_control_type_once_per_kind_of_comparator_arm() -> None:
    trial = sample_trial(SAMPLE_FILES[0]).model_copy(deep=True)
    trial.arms = [Arm(label=label, type=kind) for label, kind in [
        ("A", "PLACEBO_COMPARATOR"), ("B", "EXPERIMENTAL"), ("C", "PLACEBO_COMPARATOR"), ("D", "ACTIVE_COMPARATOR"),
        ("E", "NO_INTERVENTION")]]
    params = written(trial).xpath("//o:StudyParameter[@ShortName='TCNTRL']", namespaces=NS)
    assert [p.xpath("o:ParameterValue/@Value", namespaces=NS) for p in params] == [["PLACEBO"], ["ACTIVE"]]
    assert [p.xpath("o:ParameterValue/o:Coding[1]/@Code", namespaces=NS) for p in params] == [["C49648"], ["C49649"]]
    assert {str(c) for p in params for c in p.xpath("o:Coding/@Code", namespaces=NS)} == {"C49647"}
    trial.arms = [Arm(label="A", type="EXPERIMENTAL")]
    assert not written(trial).xpath("//o:StudyParameter[@ShortName='TCNTRL']", namespaces=NS)


def test_protocol_name_is_the_sponsors_protocol_id_else_the_nct_id() -> None:
    trial = sample_trial(SAMPLE_FILES[0]).model_copy(deep=True)
    trial.identification.org_study_id = "ABC-001"
    assert written(trial).xpath("/o:ODM/o:Study/@ProtocolName", namespaces=NS) == ["ABC-001"]
    trial.identification.org_study_id = None
    assert written(trial).xpath("/o:ODM/o:Study/@ProtocolName", namespaces=NS) == [trial.nct_id]


@pytest.mark.parametrize("path", shared_params("*.json"))
def test_mesh_codes_the_condition_it_names_and_adds_no_indication_or_intervention(path: Path) -> None:
    for trial in read_trials(path, str(path)):
        root = written(trial)
        assert not root.xpath("//o:StudyIndication[starts-with(@OID, 'IND.MESH')]"
                              " | //o:StudyIntervention[starts-with(@OID, 'INT.MESH')]", namespaces=NS)
        indications = root.xpath("//o:StudyIndication", namespaces=NS)
        assert len(indications) == len(trial.conditions)
        meshes = {m.term.casefold(): m.id for m in trial.derived.condition_meshes if m.id}
        for condition, ind in zip(trial.conditions, indications, strict=True):
            codes = ind.xpath("o:Coding[@SystemName='MeSH']/@Code", namespaces=NS)
            assert codes == ([meshes[condition.casefold()]] if condition.casefold() in meshes else [])


@pytest.mark.parametrize(("study_type", "expected"), [("OBSERVATIONAL", ["NOT APPLICABLE"]), ("INTERVENTIONAL", [])])
def test_an_observational_study_without_phase_is_tphase_not_applicable(study_type: str, expected: list[str]) -> None:
    trial = sample_trial(SAMPLE_FILES[0]).model_copy(deep=True)
    trial.design.study_type, trial.design.phases = study_type, []
    param = "//o:StudyParameter[@ShortName='TPHASE']"
    root = written(trial)
    assert root.xpath(f"{param}/o:ParameterValue/@Value", namespaces=NS) == expected
    assert root.xpath(f"{param}/o:ParameterValue/o:Coding/@Code", namespaces=NS) == (["C48660"] if expected else [])


@pytest.mark.parametrize("path", shared_params("*.json"))
def test_number_of_arms_and_actual_start_are_trial_summary_parameters(path: Path) -> None:
    for trial in read_trials(path, str(path)):
        root = written(trial)
        narms = root.xpath("//o:StudyParameter[@ShortName='NARMS']/o:ParameterValue/@Value", namespaces=NS)
        interventional = trial.design.study_type == "INTERVENTIONAL" and trial.arms
        assert narms == ([str(len(trial.arms))] if interventional else [])
        start = trial.status.start_date
        sstdtc = root.xpath("//o:StudyParameter[@ShortName='SSTDTC']/o:ParameterValue/@Value", namespaces=NS)
        assert sstdtc == ([start.date] if start is not None and start.type == "ACTUAL" and start.date else [])


@pytest.mark.parametrize("path", shared_params("*.json"))
def test_every_arm_description_has_its_plain_text_the_description_else_the_label(path: Path) -> None:
    # ODM 2.0: "A TranslatedText element with Type="text/plain" must be present"
    for trial in read_trials(path, str(path)):
        arms = written(trial).xpath("//o:StudyStructure/o:Arm", namespaces=NS)
        assert len(arms) == len(trial.arms)
        for el, arm in zip(arms, trial.arms, strict=True):
            plain = el.xpath("o:Description/o:TranslatedText[@Type='text/plain']/text()", namespaces=NS)
            assert plain == [arm.description or arm.label]
