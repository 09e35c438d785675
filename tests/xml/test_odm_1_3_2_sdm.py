"""odm-1.3.2-sdm end to end: goldens, XSD validity (ODM 1.3.2 + SDM 1.0, import redirected) and
round trip of every sample and real record, the written XML read for meaning, hypothesis."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from lxml import etree

from tests.strategies import trials
from tests.xml.helpers import (
    SAMPLE_FILES,
    assert_round_trips,
    end_to_end_tests,
    sample_trial,
    written_enrollment,
)
from trial2fhir.model import Arm, Trial
from trial2fhir.targets import ODM_1_3_2_SDM as SDM

NS = {"o": "http://www.cdisc.org/ns/odm/v1.3", "sdm": "http://www.cdisc.org/ns/studydesign/v1.0"}
pytestmark = pytest.mark.usefixtures("schema_dir")


test_golden, test_sample_is_valid_and_round_trips, test_real_record_is_valid_and_round_trips = (
    end_to_end_tests(SDM, "odm-1.3.2-sdm"))


@pytest.mark.parametrize("path", SAMPLE_FILES, ids=[p.stem for p in SAMPLE_FILES])
def test_summary_and_criteria_read_for_meaning(path: Path) -> None:
    trial = sample_trial(path)
    root = SDM.parse(SDM.serialise(SDM.build(trial)), "x")

    def values(code: str) -> list[str]:
        return [str(v) for v in root.xpath(f"//sdm:Parameter[@ShortName='{code}']/sdm:Value/text()", namespaces=NS)]

    assert values("REGID")[0] == trial.nct_id
    assert values("INDIC") == trial.conditions
    assert values("TRT") == [i.name for i in trial.interventions]
    assert values("OUTMSPRI") == [o.measure for o in trial.outcomes.primary]
    sex = {"ALL": "BOTH", "FEMALE": "F", "MALE": "M"}.get(trial.eligibility.sex or "")
    assert values("SEXPOP") == ([sex] if sex else [])
    sections = trial.eligibility.criteria_sections
    for side, element in (("inclusion", "InclusionCriteria"), ("exclusion", "ExclusionCriteria")):
        texts = root.xpath(f"//sdm:{element}/sdm:Criterion/o:Description/o:TranslatedText/text()", namespaces=NS)
        assert texts == [c.text for s in sections if s.side == side for c in s.items]
    assert len(root.xpath("//sdm:Structure/sdm:Arm", namespaces=NS)) == len(trial.arms)
    assert isinstance(root, etree._Element)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                                                 HealthCheck.function_scoped_fixture])
@given(trials.filter(written_enrollment).filter(lambda t: bool(t.identification.brief_title)))
def test_any_trial_round_trips_through_odm_1_3_2_sdm(trial: Trial) -> None:
    # GlobalVariables/StudyDescription (required) is the brief title: a trial without one gives an
    # invalid file, reported as such (registries always give one).
    assert_round_trips(SDM, trial)


def test_control_type_once_per_kind_of_comparator_arm() -> None:
    trial = sample_trial(SAMPLE_FILES[0]).model_copy(deep=True)
    trial.arms = [Arm(label=label, type=kind) for label, kind in [
        ("A", "SHAM_COMPARATOR"), ("B", "EXPERIMENTAL"), ("C", "SHAM_COMPARATOR")]]
    root = SDM.parse(SDM.serialise(SDM.build(trial)), "x")
    values = root.xpath("//sdm:Parameter[@ShortName='TCNTRL']/sdm:Value/text()", namespaces=NS)
    assert values == ["SHAM"]
