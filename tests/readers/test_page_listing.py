"""Listing registry page reader: golden for the sample, synthetic variants for what it lacks."""

from __future__ import annotations

import pytest

from tests.conftest import SAMPLES, assert_golden
from tests.readers.criteria_util import all_items
from trial2fhir.errors import RecordError
from trial2fhir.model import Age, Trial
from trial2fhir.readers.criteria import parse_criteria
from trial2fhir.readers.pages import listing
from trial2fhir.readers.pages.text import (
    parse_age_range,
    parse_date,
    parse_enrollment,
    parse_phases,
    parse_sponsor,
)
from trial2fhir.targets import trial_json

STEM = "001_ad5d10a3e830c998"
PAGE = SAMPLES / f"{STEM}.txt"
TEXT = PAGE.read_text(encoding="utf-8")


def _parse(text: str) -> tuple[Trial, list[str]]:
    return listing.parse(text, "page.txt")


def _swap(text: str, old: str, new: str) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


# --- the sample -----------------------------------------------------------------------------------


def test_golden(update_goldens: bool) -> None:
    (result,) = list(listing.read(PAGE.read_bytes(), f"samples/{PAGE.name}"))
    assert isinstance(result, Trial), result
    assert_golden(f"trial-json/{STEM}.trial.json", trial_json.render(result), update_goldens)


def test_sample_places_every_line() -> None:
    _trial, unplaced = _parse(TEXT)
    assert unplaced == []


def test_sample_facts() -> None:
    trial, _ = _parse(TEXT)
    assert trial.nct_id == "NCT06983964"
    assert trial.source.format == "page-listing"
    assert trial.status.overall_status == "RECRUITING"
    assert trial.status.completion_date is not None
    assert trial.status.completion_date.date == "2027-09-30"
    assert trial.status.completion_date.type is None
    assert trial.status.last_update_posted is not None
    assert trial.status.last_update_posted.date == "2025-05-30"
    assert trial.design.enrollment is not None
    assert (trial.design.enrollment.count, trial.design.enrollment.type) == (12, None)
    assert trial.sponsors.lead_sponsor is not None
    assert trial.sponsors.lead_sponsor.name == "Beijing Boren Hospital"
    assert trial.sponsors.lead_sponsor.agency_class is None
    assert trial.conditions == ["Autoimmune Disease"]
    assert trial.eligibility.minimum_age == Age(value=18, unit="Years")
    assert trial.eligibility.maximum_age == Age(value=65, unit="Years")
    assert trial.identification.brief_title is not None
    assert trial.identification.brief_title.startswith("Draft-Version-001-Safety")
    assert trial.detailed_description == "Draft-Version-001-"
    assert trial.brief_summary is not None
    assert trial.brief_summary.startswith("Draft-Version-001-\n\nThis study is a single center")


def test_sample_criteria() -> None:
    trial, _ = _parse(TEXT)
    elig = trial.eligibility
    inclusion, exclusion = all_items(elig, "inclusion"), all_items(elig, "exclusion")
    assert len(inclusion) == 37  # 67 lines: 22 wrapped continuations, 8 headings and introductions
    assert len(exclusion) == 26
    # the introductions are part of their headings, never criteria
    headings = [s.heading or "" for s in elig.criteria_sections]
    assert headings[0].endswith("Participants must meet all of the following inclusion criteria in order to be "
                                "included in this study")
    assert headings[-1].startswith("Exclusion Criteria\nSubjects who meet any of the following criteria")
    # hard-wrapped items are joined back
    assert any(i.endswith("an increase of ≥ 10% in mRSS scores within the past 6 months") for i in inclusion)
    assert (
        "The overall extramuscular disease activity VAS score evaluated by the physician is ≥ 2 points "
        "(range 0-10 points); The Health Assessment Questionnaire Disability Index (HAQ-DI) score "
        "evaluated by physicians is ≥ 25 (range 0-3 points)"
    ) in inclusion
    # a line starting in lower case after a long unwrapped line is its own item
    assert any(i.startswith("hepatitis B surface antigen") for i in exclusion)
    assert exclusion[-1].startswith("Mental illness patients")
    # the criteria text has the page's headings and gives the same tree back
    assert elig.criteria is not None
    assert elig.criteria.startswith("Inclusion Criteria\n")  # the page's lines, wraps joined
    assert "\nExclusion Criteria\n" in elig.criteria
    assert parse_criteria(elig.criteria) == elig.criteria_sections
    # nothing from the site boilerplate after the list
    assert not any("Clear my responses" in item or "SITE_NAME" in item for item in exclusion)


# --- sniffing and errors --------------------------------------------------------------------------


def test_sniff() -> None:
    assert listing.sniff(PAGE.read_bytes()[:65536])
    assert listing.sniff("Some trial\n  • STATUS\n    Completed\n".encode())
    for other in sorted(SAMPLES.glob("*.txt")):
        if other != PAGE:
            assert not listing.sniff(other.read_bytes()[:65536]), other.name
    assert not listing.sniff(b'{"protocolSection": {}}')
    assert not listing.sniff(b"Meeting notes\nInclusion Criteria for the committee\n")


def test_page_without_nct_is_a_record_error() -> None:
    text = _swap(TEXT, "Clinical Study IdentifierNCT06983964", "Clinical Study IdentifierBBH-2025-01")
    (result,) = list(listing.read(text.encode(), "page.txt"))
    assert isinstance(result, RecordError)
    assert result.problem.message == "no NCT ID found"
    assert result.problem.place == 'section "Details"'


def test_non_utf8_is_a_record_error() -> None:
    (result,) = list(listing.read(b"Title\n  \xff STATUS\n", "page.txt"))
    assert isinstance(result, RecordError)


@pytest.mark.parametrize("keep", [0, 1, 5, 20, 40, 80, 200])
def test_truncated_pages_never_raise(keep: int) -> None:
    text = "\n".join(TEXT.splitlines()[:keep])
    results = list(listing.read(text.encode(), "page.txt"))
    assert len(results) == 1


# --- variants of the page -------------------------------------------------------------------------


def test_other_status_dates_and_enrollment() -> None:
    text = _swap(TEXT, "    Recruiting\n", "    Active, not recruiting\n")
    text = _swap(text, "    Sep 30, 2027\n", "    September 2027\n")
    text = _swap(text, "  • participants needed\n    12\n", "  • participants needed\n    1,200\n")
    text = _swap(text, "Updated on 30 May 2025", "Updated on 3 June 2025")
    text = _swap(text, "Last Modified on30 May 2025", "Last Modified on3 June 2025")
    trial, unplaced = _parse(text)
    assert unplaced == []
    assert trial.status.overall_status == "ACTIVE_NOT_RECRUITING"
    assert trial.status.completion_date is not None
    assert trial.status.completion_date.date == "2027-09"
    assert trial.design.enrollment is not None
    assert trial.design.enrollment.count == 1200
    assert trial.status.last_update_posted is not None
    assert trial.status.last_update_posted.date == "2025-06-03"


@pytest.mark.parametrize(
    ("age", "low", "high"),
    [
        ("12 Years - 65 Years", Age(value=12, unit="Years"), Age(value=65, unit="Years")),
        ("18years+", Age(value=18, unit="Years"), None),
        ("6 Months - 17 Years", Age(value=6, unit="Months"), Age(value=17, unit="Years")),
        ("up to 65 Years", None, Age(value=65, unit="Years")),
    ],
)
def test_age_variants(age: str, low: Age | None, high: Age | None) -> None:
    trial, unplaced = _parse(_swap(TEXT, "Age 18years - 65years", f"Age {age}"))
    assert unplaced == []
    assert (trial.eligibility.minimum_age, trial.eligibility.maximum_age) == (low, high)


def test_unreadable_values_are_unplaced_not_guessed() -> None:
    text = _swap(TEXT, "    Recruiting\n", "    Open soon\n")
    text = _swap(text, "Age 18years - 65years", "Age adults")
    text = _swap(text, "  • sponsor\n", "  • investigator\n    Dr. Li\n  • sponsor\n")
    trial, unplaced = _parse(text)
    assert trial.status.overall_status is None
    assert trial.eligibility.minimum_age is None
    assert unplaced == ["• STATUS", "Open soon", "• investigator", "Dr. Li", "Age adults"]


def test_conflicting_sponsor_is_unplaced() -> None:
    trial, unplaced = _parse(_swap(TEXT, "SponsorBeijing Boren Hospital", "SponsorBoren Hospital Group"))
    assert trial.sponsors.lead_sponsor is not None
    assert trial.sponsors.lead_sponsor.name == "Beijing Boren Hospital"
    assert unplaced == ["SponsorBoren Hospital Group"]


def test_wrapped_criterion_in_exclusion() -> None:
    old = "Pregnant or lactating women\n"
    new = (
        "Patients who have received any investigational cellular product or gene therapy in\n"
        "the past 12 months, or who plan to receive one during the study period\n"
        "Pregnant or lactating women\n"
    )
    trial, _ = _parse(_swap(TEXT, old, new))
    assert (
        "Patients who have received any investigational cellular product or gene therapy in the past "
        "12 months, or who plan to receive one during the study period"
    ) in all_items(trial.eligibility, "exclusion")
    assert "Pregnant or lactating women" in all_items(trial.eligibility, "exclusion")


def test_page_without_boilerplate_end_marker() -> None:
    trial, unplaced = _parse(TEXT.split("Clear my responses")[0])
    assert unplaced == []
    assert all_items(trial.eligibility, "exclusion")[-1].startswith("Mental illness patients")


# --- the wrap rule and the shared value parsers ---------------------------------------------------


@pytest.mark.parametrize(
    ("lines", "items"),
    [
        # lower-case start after a full line
        (
            ["There is evidence of skin progression during screening, that is, an increase", "of ≥ 10% in mRSS scores"],
            1,
        ),
        # a short line is never cut by a wrap
        (["Pregnant women", "breastfeeding women"], 2),
        # a long unwrapped line (wider than any wrap) followed by a lower-case item
        (
            [
                "Individuals who have severe allergies to any components of the pre-treatment drug and "
                "the universal CD19 CAR-T used in this study",
                "hepatitis B surface antigen positive",
            ],
            2,
        ),
        # an open bracket carries over an upper-case word
        (
            [
                "The overall disease activity evaluated by the patient [based on Visual Analog",
                "Scale (VAS)] score is ≥ 2 points",
            ],
            1,
        ),
        # a full line ending a sentence, then an upper-case item
        (
            [
                "According to the 2016 EULAR/ACR SS classification criteria, the diagnosis is SS",
                "Positive for anti Ro/SSA antibodies during screening",
            ],
            2,
        ),
        # a connective at the end of a full line
        (["The overall extramuscular disease activity VAS score evaluated by the", "Physician Global Assessment"], 1),
        # a list marker always starts an item
        (["Subjects must have adequate organ function as defined by all of the following", "1. ANC ≥ 1.5 × 10^9/L"], 2),
        # a blank line ends an item
        (["Newly diagnosed ILD within the past 6 months; Previous ILD subjects had a 10%", "", "decrease in FVC"], 2),
    ],
)
def test_join_wrapped(lines: list[str], items: int) -> None:
    assert len(listing.join_wrapped(lines)) == items


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Sep 30, 2027", "2027-09-30"),
        ("30 May 2025", "2025-05-30"),
        ("Sept 1, 2026", "2026-09-01"),
        ("2025-03-24", "2025-03-24"),
        ("March 2026", "2026-03"),
        ("soon", None),
    ],
)
def test_parse_date(text: str, expected: str | None) -> None:
    assert parse_date(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("PHASE1/PHASE2", ["PHASE1", "PHASE2"]),
        ("Phase 1/2", ["PHASE1", "PHASE2"]),
        ("Phase II/III", ["PHASE2", "PHASE3"]),
        ("EARLY_PHASE1", ["EARLY_PHASE1"]),
        ("Early Phase 1", ["EARLY_PHASE1"]),
        ("NA", ["NA"]),
        ("N/A", ["NA"]),
        ("Not Applicable", ["NA"]),
        ("Pilot", None),
    ],
)
def test_parse_phases(text: str, expected: list[str] | None) -> None:
    assert parse_phases(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("18 Years and up", (Age(value=18, unit="Years"), None)),
        ("Ages 18 Years and older", (Age(value=18, unit="Years"), None)),
        ("18-65", (Age(value=18, unit="Years"), Age(value=65, unit="Years"))),
        ("18 to 75 Years", (Age(value=18, unit="Years"), Age(value=75, unit="Years"))),
        ("≥ 16 years", (Age(value=16, unit="Years"), None)),
        ("18+ years", (Age(value=18, unit="Years"), None)),
        ("18 years and above", (Age(value=18, unit="Years"), None)),
        ("65 Years and under", (None, Age(value=65, unit="Years"))),
        ("Adults", None),
        ("18 parsecs - 65 parsecs", None),
    ],
)
def test_parse_age_range(text: str, expected: tuple[Age | None, Age | None] | None) -> None:
    assert parse_age_range(text) == expected


def test_parse_enrollment_and_sponsor() -> None:
    assert parse_enrollment("36 (estimated)") == {"count": 36, "type": "ESTIMATED"}
    assert parse_enrollment("120 (Actual)") == {"count": 120, "type": "ACTUAL"}
    assert parse_enrollment("12 participants") == {"count": 12, "type": None}
    assert parse_enrollment("about a dozen") is None
    assert parse_enrollment("12 (maybe)") is None
    assert parse_sponsor("Zhejiang University (other)") == {"name": "Zhejiang University", "agency_class": "OTHER"}
    assert parse_sponsor("Acme Bio (industry)") == {"name": "Acme Bio", "agency_class": "INDUSTRY"}
    assert parse_sponsor("Sun Yat-sen University (SYSU)") == {
        "name": "Sun Yat-sen University (SYSU)",
        "agency_class": None,
    }
