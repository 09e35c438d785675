"""Compact registry page reader: goldens for the samples, synthetic pages for what they lack."""

from __future__ import annotations

import re

import pytest

from tests.conftest import SAMPLES, assert_golden
from tests.readers.criteria_util import top_items
from trial2fhir.errors import RecordError
from trial2fhir.model import Trial
from trial2fhir.readers.pages import compact
from trial2fhir.targets import trial_json

PAGES = ["000_2338396f704c9960", "002_351053130900a3cb", "004_96d7e8fc43b3fc8e"]
OTHER_LAYOUTS = ["001_ad5d10a3e830c998", "003_a56d0ce5535905ef"]


def _read_one(data: bytes, file: str) -> Trial:
    (result,) = list(compact.read(data, file))
    assert isinstance(result, Trial), result
    return result


def _replace_section(text: str, heading: str, body: list[str], before: str = "Eligibility Criteria") -> str:
    """The page with the content of ``heading`` (after its blurb) replaced by ``body``; a missing
    section is added before the section ``before``."""
    lines = text.split("\n")
    if heading not in lines:
        at = lines.index(before)
        lines[at:at] = [heading, compact.SECTIONS[heading].blurb or ""]
    start = lines.index(heading)
    k = start + 1
    while not lines[k].strip():
        k += 1
    assert lines[k] == compact.SECTIONS[heading].blurb
    end = k + 1
    while end < len(lines) and not (lines[end] in compact.SECTIONS and lines[end] != heading):
        end += 1
    labelled = "" in lines[start:k]  # the labelled variant separates blocks with blank lines
    new = [x for line in body for x in ([line, ""] if labelled else [line])]
    return "\n".join([*lines[: k + 1], *([""] if labelled else []), *new, *lines[end:]])


# --- samples --------------------------------------------------------------------------------------


@pytest.mark.parametrize("stem", PAGES)
def test_sniff_accepts_compact_pages(stem: str) -> None:
    assert compact.sniff((SAMPLES / f"{stem}.txt").read_bytes()[:65536])


@pytest.mark.parametrize("stem", OTHER_LAYOUTS)
def test_sniff_rejects_other_layouts(stem: str) -> None:
    assert not compact.sniff((SAMPLES / f"{stem}.txt").read_bytes()[:65536])


def test_sniff_rejects_plain_text() -> None:
    assert not compact.sniff(b"NCT ID: NCT01234567\nSome notes about a trial.\n")
    assert not compact.sniff(b"Basic Information\nEligibility Criteria\nStudy Design\n")


@pytest.mark.parametrize("stem", PAGES)
def test_every_line_of_the_samples_is_placed(stem: str) -> None:
    _, unplaced = compact.parse((SAMPLES / f"{stem}.txt").read_text(encoding="utf-8"), stem)
    assert unplaced == []


@pytest.mark.parametrize("stem", PAGES)
def test_golden(stem: str, update_goldens: bool) -> None:
    trial = _read_one((SAMPLES / f"{stem}.txt").read_bytes(), f"samples/{stem}.txt")
    assert_golden(f"trial-json/{stem}.trial.json", trial_json.render(trial), update_goldens)


def test_sample_facts() -> None:
    """A few facts read off the pages by hand, so a golden regenerated in error still fails."""
    t = _read_one((SAMPLES / "000_2338396f704c9960.txt").read_bytes(), "000")
    assert t.nct_id == "NCT06886919"
    assert t.status.overall_status == "NOT_YET_RECRUITING"
    assert t.design.phases == ["EARLY_PHASE1"]
    assert t.design.enrollment is not None
    assert t.design.enrollment.count == 6
    assert t.status.start_date is not None
    assert t.status.start_date.date == "2025-03-31"
    assert t.status.completion_date is not None
    assert t.status.completion_date.date == "2026-05-30"
    assert t.status.last_update_posted is not None
    assert t.status.last_update_posted.date == "2025-03-24"
    assert t.brief_summary is None
    assert t.detailed_description is not None
    assert t.detailed_description.startswith("2. Three subjects")
    assert (t.design.allocation, t.design.intervention_model, t.design.primary_purpose,
            t.design.masking) == ("NA", "SEQUENTIAL", "TREATMENT", "NONE")
    assert t.identification.org_study_id == "ZMA03"
    assert t.identification.org_study_id_type is None
    assert [r.nct_id for r in t.related_trials][:2] == ["NCT06106906", "NCT06585514"]
    assert t.overall_officials[0].affiliation == "Beijing Gaobo Boren Hospital"
    assert top_items(t.eligibility, "exclusion")[-1].startswith("Active EB virus")
    assert str(t.eligibility.maximum_age) == "70 Years"

    t = _read_one((SAMPLES / "004_96d7e8fc43b3fc8e.txt").read_bytes(), "004")
    assert t.design.phases == ["PHASE1", "PHASE2"]
    assert t.arms[0].type == "EXPERIMENTAL"
    assert t.interventions[0].type == "BIOLOGICAL"
    assert t.interventions[0].arm_labels == ["Single arm"]
    assert t.sponsors.responsible_party is not None
    assert t.sponsors.responsible_party.type == "SPONSOR"
    assert t.central_contacts[0].phone == "6315386218"
    assert t.detailed_description is not None
    assert "\n\nSLE, with or without LN" in t.detailed_description
    assert [r.nct_id for r in t.related_trials] == ["NCT07219563", "NCT06189157"]


# --- synthetic pages ------------------------------------------------------------------------------


def _compact_page() -> str:
    text = (SAMPLES / "002_351053130900a3cb.txt").read_text(encoding="utf-8")
    text = _replace_section(text, "Conditions", ["Lupus Nephritis", "Systemic Lupus Erythematosus"])
    text = _replace_section(text, "Study Groups", [
        "Cohort A: low dose", "Low dose CAR-T after lymphodepletion.",
        "CAR-T cells", "Infusion of 1x10^6 cells/kg.",
        "Cyclophosphamide", "500 mg/m2 daily for 3 days.",
        "Placebo", "Matching placebo infusion.",
        "Placebo", "Saline",
    ])
    text = _replace_section(text, "Interventions", [
        "CAR-T cells", "Infusion of 1x10^6 cells/kg.",
        "Cyclophosphamide", "500 mg/m2 daily for 3 days.",
        "Placebo", "Saline",
    ])
    text = _replace_section(text, "Other Intervention Names", ["CAR-T cells", "CD19 CAR-T", "Cyclophosphamide",
                                                               "Cytoxan"])
    text = _replace_section(text, "Sponsors", ["Peking Union Medical College Hospital", "OTHER",
                                               "Acme Bio", "INDUSTRY"])
    text = _replace_section(text, "Responsible Party", ["PRINCIPAL_INVESTIGATOR"])
    text = _replace_section(text, "Central Contacts", ["Jane Doe, MD", "Role: CONTACT", "+86 10 1234 5678",
                                                       "jane.doe@example.org"])
    text = _replace_section(text, "Locations", [
        "Peking Union Medical College Hospital", "Beijing, Beijing, China", "RECRUITING",
        "Xiaofeng Zeng, MD", "+86 10 6915 5555", "zeng@example.cn",
        "Shanghai Renji Hospital", "Shanghai, , China",
    ])
    text = _replace_section(text, "Countries", ["China"])
    return _replace_section(text, "Other Identifiers", [
        "HY001009", "Identifier Type: -", "Identifier Source: org_study_id",
        "R01AI123456", "Identifier Type: NIH", "Identifier Source: secondary_id",
        "2023-000123-45", "Identifier Type: EUDRACT_NUMBER", "Identifier Source: EudraCT",
    ])


def test_synthetic_compact_page() -> None:
    trial, unplaced = compact.parse(_compact_page(), "synthetic.txt")
    assert unplaced == []
    assert trial.conditions == ["Lupus Nephritis", "Systemic Lupus Erythematosus"]
    assert [(a.label, a.description, a.intervention_names) for a in trial.arms] == [
        ("Cohort A: low dose", "Low dose CAR-T after lymphodepletion.", ["CAR-T cells", "Cyclophosphamide"]),
        ("Placebo", "Matching placebo infusion.", ["Placebo"]),
    ]
    assert [(i.name, i.description, i.arm_labels, i.other_names) for i in trial.interventions] == [
        ("CAR-T cells", "Infusion of 1x10^6 cells/kg.", ["Cohort A: low dose"], ["CD19 CAR-T"]),
        ("Cyclophosphamide", "500 mg/m2 daily for 3 days.", ["Cohort A: low dose"], ["Cytoxan"]),
        ("Placebo", "Saline", ["Placebo"], []),
    ]
    sponsors = trial.sponsors
    assert sponsors.lead_sponsor is not None
    assert (sponsors.lead_sponsor.name, sponsors.lead_sponsor.agency_class) == (
        "Peking Union Medical College Hospital", "OTHER")
    assert [(c.name, c.agency_class) for c in sponsors.collaborators] == [("Acme Bio", "INDUSTRY")]
    assert sponsors.responsible_party is not None
    assert sponsors.responsible_party.type == "PRINCIPAL_INVESTIGATOR"
    (contact,) = trial.central_contacts
    assert (contact.name, contact.role, contact.phone, contact.email) == (
        "Jane Doe, MD", "CONTACT", "+86 10 1234 5678", "jane.doe@example.org")
    first, second = trial.locations
    assert (first.facility, first.city, first.state, first.country, first.status) == (
        "Peking Union Medical College Hospital", "Beijing", "Beijing", "China", "RECRUITING")
    assert [(c.name, c.phone, c.email) for c in first.contacts] == [
        ("Xiaofeng Zeng, MD", "+86 10 6915 5555", "zeng@example.cn")]
    assert (second.facility, second.city, second.state, second.country, second.contacts) == (
        "Shanghai Renji Hospital", "Shanghai", None, "China", [])
    ident = trial.identification
    assert ident.org_study_id == "HY001009"
    assert [(s.id, s.type, s.domain) for s in ident.secondary_ids] == [
        ("R01AI123456", "NIH", None), ("2023-000123-45", "EUDRACT_NUMBER", "EudraCT")]


def test_synthetic_labelled_page() -> None:
    text = (SAMPLES / "004_96d7e8fc43b3fc8e.txt").read_text(encoding="utf-8")
    text = _replace_section(text, "Study Groups", [
        "Arm 1", "Dose level 1", "Group Type EXPERIMENTAL",
        "ICG318", "Intervention Type BIOLOGICAL", "CAR-T cells, dose level 1.",
        "Fludarabine", "Intervention Type DRUG", "30 mg/m2 for 3 days.",
        "Arm 2", "Group Type ACTIVE_COMPARATOR",
        "Fludarabine", "Intervention Type DRUG", "30 mg/m2 for 3 days.",
    ])
    text = _replace_section(text, "Interventions", [
        "ICG318", "CAR-T cells, dose level 1.", "Intervention Type BIOLOGICAL",
        "Fludarabine", "30 mg/m2 for 3 days.", "Intervention Type DRUG",
    ])
    text = _replace_section(text, "Sponsors", ["Big Pharma Inc", "INDUSTRY", "Sponsor Role collaborator",
                                               "iCell Gene Therapeutics", "INDUSTRY", "Sponsor Role lead",
                                               "National Cancer Institute (NCI)", "NIH",
                                               "Sponsor Role collaborator"])
    text = text.replace("Study Completion Date\n\n2028-12-31",
                        "Primary Completion Date\n\n2028-06-30\n\nStudy Completion Date\n\n2028-12-31")
    trial, unplaced = compact.parse(text, "labelled.txt")
    assert unplaced == []
    assert [(a.label, a.type, a.description, a.intervention_names) for a in trial.arms] == [
        ("Arm 1", "EXPERIMENTAL", "Dose level 1", ["ICG318", "Fludarabine"]),
        ("Arm 2", "ACTIVE_COMPARATOR", None, ["Fludarabine"]),
    ]
    assert [(i.name, i.type, i.description, i.arm_labels) for i in trial.interventions] == [
        ("ICG318", "BIOLOGICAL", "CAR-T cells, dose level 1.", ["Arm 1"]),
        ("Fludarabine", "DRUG", "30 mg/m2 for 3 days.", ["Arm 1", "Arm 2"]),
    ]
    assert trial.sponsors.lead_sponsor is not None
    assert trial.sponsors.lead_sponsor.name == "iCell Gene Therapeutics"
    assert [c.name for c in trial.sponsors.collaborators] == ["Big Pharma Inc",
                                                              "National Cancer Institute (NCI)"]
    assert trial.status.primary_completion_date is not None
    assert trial.status.primary_completion_date.date == "2028-06-30"
    assert trial.status.completion_date is not None
    assert trial.status.completion_date.date == "2028-12-31"


def test_unknown_line_is_reported_not_dropped() -> None:
    text = (SAMPLES / "002_351053130900a3cb.txt").read_text(encoding="utf-8")
    text = text.replace("\nINTERVENTIONAL\n", "\nINTERVENTIONAL\nSomething new\n")
    trial, unplaced = compact.parse(text, "x.txt")
    assert trial.design.study_type == "INTERVENTIONAL"
    assert len(unplaced) == 1
    assert re.fullmatch(r"line \d+: Something new", unplaced[0])
    assert len(list(compact.read(text.encode(), "x.txt"))) == 1  # still yields the Trial


def test_page_without_nct_id_is_a_record_error() -> None:
    text = (SAMPLES / "000_2338396f704c9960.txt").read_text(encoding="utf-8")
    text = "\n".join(line for line in text.split("\n") if not line.startswith("NCT ID:"))
    (err,) = list(compact.read(text.encode(), "no-id.txt"))
    assert isinstance(err, RecordError)
    assert err.problem.message == "no NCT ID found"


def test_bad_nct_id_names_its_line() -> None:
    data = (SAMPLES / "000_2338396f704c9960.txt").read_bytes().replace(b"NCT ID: NCT06886919",
                                                                        b"NCT ID: NCT0688")
    (err,) = list(compact.read(data, "bad.txt"))
    assert isinstance(err, RecordError)
    assert err.problem.place == "line 2"


def test_not_utf8_is_a_record_error() -> None:
    (err,) = list(compact.read(b"Title\nNCT ID: NCT01234567\n\xff\n", "latin.txt"))
    assert isinstance(err, RecordError)


def test_source() -> None:
    trial = _read_one((SAMPLES / "002_351053130900a3cb.txt").read_bytes(), "samples/002.txt")
    assert trial.source.model_dump() == {"format": "page-compact", "file": "samples/002.txt", "locator": "",
                                         "unplaced": []}


def test_unplaced_lines_are_kept_on_the_record() -> None:
    page = (SAMPLES / "002_351053130900a3cb.txt").read_bytes() + b"\nA stray line no rule knows"
    trial = _read_one(page, "samples/002.txt")
    last = len(page.splitlines())
    assert trial.source.unplaced == [f"line {last}: A stray line no rule knows"]



def test_prose_headings_observational_design_and_unknown_blurb() -> None:
    text = (SAMPLES / "002_351053130900a3cb.txt").read_text(encoding="utf-8")
    text = _replace_section(text, "Detailed Description", ["Background.", "Interventions",
                                                           "Patients receive one infusion."])
    text = text.replace("\nINTERVENTIONAL\n", "\nOBSERVATIONAL\n")
    text = _replace_section(text, "Study Design", ["COHORT", "PROSPECTIVE"])
    text = text.replace("Study Design\n", "Keywords\nFind the terms that describe this study best.\nCAR-T\nSLE\n"
                        "Study Design\n")
    trial, unplaced = compact.parse(text, "obs.txt")
    assert unplaced == []
    assert trial.detailed_description == "Background.\nInterventions\nPatients receive one infusion."
    assert (trial.design.observational_model, trial.design.time_perspective) == ("COHORT", "PROSPECTIVE")
    assert trial.design.allocation is None
    assert trial.keywords == ["CAR-T", "SLE"]
