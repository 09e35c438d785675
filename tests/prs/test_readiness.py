"""Readiness: checklists load and are checked, conditions are three-valued, reports read right."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest
from typer.testing import CliRunner

from tests.conftest import SAMPLES, assert_golden
from trial2fhir import readiness
from trial2fhir.cli import app
from trial2fhir.model import Trial

SAMPLE_FILES = sorted(SAMPLES.glob("*.txt"))
REGISTRIES = ("ctgov-prs", "who-trds")


def trial(**data: Any) -> Trial:
    base: dict[str, Any] = {"source": {"format": "trial-json", "file": "t.json"},
                            "identification": {"nct_id": "NCT01234567"}}
    return Trial.model_validate({**base, **data})


def states(t: Trial, registry: str = "ctgov-prs") -> dict[str, str]:
    return {e.element: e.state for e in readiness.evaluate(t, registry).elements}


def test_registries_are_the_two_checklists() -> None:
    assert readiness.registries() == ["ctgov-prs", "who-trds"]
    assert len(readiness.checklist("who-trds").elements) >= 24  # 24 items; item 15 in two rows


@pytest.mark.parametrize("registry", REGISTRIES)
def test_every_element_cites_its_source(registry: str) -> None:
    cl = readiness.checklist(registry)
    assert cl.source["url"].startswith("https://")
    assert all(e.cite and e.level in readiness.LEVELS for e in cl.elements)


def test_a_bad_path_is_named_with_file_and_element(tmp_path: Path) -> None:
    bad = tmp_path / "x.yaml"
    bad.write_text("checklist: x\ntitle: X\nsource: {}\nelements:\n"
                   "  - {element: Foo, level: required, any: [design.nope], cite: c}\n")
    with pytest.raises(readiness.ChecklistError, match=r"x\.yaml: elements\[0\] \(Foo\): 'design\.nope' is not"):
        readiness.load_checklist(bad)


def test_an_unknown_condition_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "x.yaml"
    bad.write_text("checklist: x\ntitle: X\nsource: {}\nelements:\n"
                   "  - {element: Foo, level: required, when: nope, any: [conditions], cite: c}\n")
    with pytest.raises(readiness.ChecklistError, match="unknown condition 'nope'"):
        readiness.load_checklist(bad)


def test_interventional_elements_do_not_apply_to_an_observational_study() -> None:
    s = states(trial(design={"study_type": "OBSERVATIONAL"}))
    assert s["Allocation"] == "not-applicable"
    assert s["Observational Study Model"] == "missing"
    assert s["Sampling Method"] == "missing"


def test_an_unknown_study_type_leaves_its_elements_undetermined() -> None:
    s = states(trial())
    assert s["Study Type"] == "missing"
    assert s["Allocation"] == "undetermined"
    assert s["Observational Study Model"] == "undetermined"


def test_why_stopped_only_for_a_stopped_study() -> None:
    assert states(trial(status={"overall_status": "TERMINATED"}))["Why Study Stopped"] == "missing"
    assert states(trial(status={"overall_status": "TERMINATED", "why_stopped": "funding"}))["Why Study Stopped"] \
        == "present"
    assert states(trial(status={"overall_status": "COMPLETED"}))["Why Study Stopped"] == "not-applicable"


def test_official_title_is_required_from_2017_on() -> None:
    late = trial(status={"start_date": {"date": "2019-03"}})
    early = trial(status={"start_date": {"date": "2012-03-01"}})
    assert states(late)["Official Title"] == "missing"
    assert states(early)["Official Title"] == "not-applicable"


def test_every_arm_needs_its_type() -> None:
    t = trial(design={"study_type": "INTERVENTIONAL"}, arms=[{"label": "A", "type": "EXPERIMENTAL"}, {"label": "B"}])
    res = {e.element: e for e in readiness.evaluate(t, "ctgov-prs").elements}
    assert res["Arm Type"].state == "missing"
    assert res["Arm Type"].detail == "no value at arms[1].type"


def test_central_contact_only_while_recruiting_without_site_contacts() -> None:
    recruiting = {"overall_status": "RECRUITING"}
    assert states(trial(status=recruiting))["Central Contact Person"] == "missing"
    with_site = trial(status=recruiting, locations=[{"facility": "H", "contacts": [{"name": "Dr X"}]}])
    assert states(with_site)["Central Contact Person"] == "not-applicable"


def test_a_code_map_choice_is_reported() -> None:
    r = readiness.evaluate(trial(status={"overall_status": "UNKNOWN"}), "ctgov-prs")
    status = [c for c in r.choices if c.element == "Overall Recruitment Status"]
    assert [c.value for c in status] == ["status.overall_status = UNKNOWN"]
    assert "last known status" in status[0].note
    fine = readiness.evaluate(trial(status={"overall_status": "RECRUITING"}), "ctgov-prs").choices
    assert [c.element for c in fine] == ["Minimum Age", "Maximum Age"]  # only the absent ages


def test_absent_age_is_present_by_a_choice() -> None:
    r = readiness.evaluate(trial(eligibility={"minimum_age": {"value": 18, "unit": "Years"}}), "ctgov-prs")
    s = {e.element: e.state for e in r.elements}
    assert s["Maximum Age"] == "present"
    assert [c.element for c in r.choices] == ["Maximum Age"]


def test_not_held_lowers_the_score_but_does_not_fail() -> None:
    r = readiness.evaluate(trial(), "ctgov-prs")
    assert {e.element: e.state for e in r.elements}["Human Subjects Protection Review Board Status"] == "not-held"
    assert not r.ready  # plenty else is missing
    present = r.count("present")
    assert r.score == round(present / (present + r.count("missing") + r.count("not-held")), 3)


@pytest.mark.parametrize("registry", REGISTRIES)
@pytest.mark.parametrize("sample", SAMPLE_FILES, ids=lambda p: p.stem)
def test_sample_readiness_golden(
    sample: Path, registry: str, update_goldens: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(SAMPLES.parent)  # the report names the source as given: samples/...
    run = readiness.check([str(sample.relative_to(SAMPLES.parent))], registry)
    assert run.errors == []
    got = orjson.dumps(readiness.report(run.results, registry), option=orjson.OPT_INDENT_2) + b"\n"
    assert_golden(f"readiness/{sample.stem}.{registry}.json", got, update_goldens)


def _sample_states(stem: str, registry: str) -> dict[str, str]:
    path = next(SAMPLES.glob(f"{stem}_*.txt"))
    r = readiness.check([str(path)], registry).results[0]
    return {e.element: e.state for e in r.elements}


def test_samples_read_right_against_the_pages() -> None:
    """What the pages show: none lists an outcome measure; 000 and 002 list no condition; 000 has an
    empty Brief Summary; 003 says '18 Years and up' (no maximum); 004 names its responsible party."""
    for stem in ("000", "001", "002", "003", "004"):
        s = _sample_states(stem, "ctgov-prs")
        assert s["Primary Outcome Measure"] == "missing", stem
        assert _sample_states(stem, "who-trds")["19. Primary Outcome(s)"] == "missing", stem
    assert _sample_states("000", "ctgov-prs")["Primary Disease or Condition Being Studied"] == "missing"
    assert _sample_states("002", "ctgov-prs")["Primary Disease or Condition Being Studied"] == "missing"
    assert _sample_states("004", "ctgov-prs")["Primary Disease or Condition Being Studied"] == "present"
    assert _sample_states("000", "ctgov-prs")["Brief Summary"] == "missing"
    assert _sample_states("004", "ctgov-prs")["Brief Summary"] == "present"
    assert _sample_states("003", "ctgov-prs")["Maximum Age"] == "present"  # by the N/A choice
    assert _sample_states("004", "ctgov-prs")["Responsible Party, by Official Title"] == "present"
    assert _sample_states("001", "ctgov-prs")["Study Type"] == "missing"  # a listing page shows none


runner = CliRunner()


def test_check_command_exits_1_on_gaps_and_writes_the_report(tmp_path: Path) -> None:
    report = tmp_path / "r.json"
    result = runner.invoke(app, ["check", str(SAMPLES), "--registry", "who-trds", "--report", str(report)])
    assert result.exit_code == 1, result.output
    assert "0 of 5 trial(s) ready for who-trds" in result.output
    doc = json.loads(report.read_text())
    assert doc["summary"]["trials"] == 5
    assert all("19. Primary Outcome(s)" in r["missing"] for r in doc["records"])


def test_check_command_rejects_an_unknown_registry() -> None:
    result = runner.invoke(app, ["check", str(SAMPLES), "--registry", "euctr"])
    assert result.exit_code == 2
    assert "unknown registry euctr" in result.output


def test_check_command_exits_0_when_nothing_required_is_missing(tmp_path: Path) -> None:
    complete = trial(
        identification={"nct_id": "NCT01234567", "brief_title": "T", "official_title": "Official T"},
        status={"first_posted": {"date": "2020-01-02"}, "start_date": {"date": "2020-02"},
                "primary_completion_date": {"date": "2021-02"}, "overall_status": "COMPLETED"},
        sponsors={"lead_sponsor": {"name": "S"}},
        central_contacts=[{"name": "C", "email": "c@example.org"}], overall_officials=[{"name": "O"}],
        locations=[{"country": "France"}], conditions=["Lupus"], interventions=[{"name": "Drug X"}],
        eligibility={"criteria": "Adults", "sex": "ALL"}, design={"study_type": "OBSERVATIONAL",
                                                                    "enrollment": {"count": 10}},
        outcomes={"primary": [{"measure": "M", "time_frame": "1 year"}], "secondary": [{"measure": "S"}]},
        ipd_sharing={"sharing": "NO"}, has_results=True,
    )
    path = tmp_path / "t.trial.json"
    path.write_text(complete.model_dump_json())
    result = runner.invoke(app, ["check", str(path), "--registry", "who-trds"])
    assert result.exit_code == 0, result.output
    assert "1 of 1 trial(s) ready" in result.output


def test_an_investigator_responsible_party_needs_a_prs_user_name_the_record_cannot_give() -> None:
    pi = {"type": "PRINCIPAL_INVESTIGATOR", "investigator_full_name": "Jane Doe",
          "investigator_title": "Professor", "investigator_affiliation": "U"}
    got = states(trial(sponsors={"lead_sponsor": {"name": "U"}, "responsible_party": pi}))
    assert got["Investigator Information (name, official title, affiliation)"] == "present"
    assert got["Investigator PRS User Name"] == "not-held"
    got = states(trial(sponsors={"lead_sponsor": {"name": "U"}, "responsible_party": {"type": "SPONSOR"}}))
    assert got["Investigator PRS User Name"] == "not-applicable"
