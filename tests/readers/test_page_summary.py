"""Summary registry page reader: golden for the sample, synthetic variants for what it lacks."""

from __future__ import annotations

import pytest

from tests.conftest import SAMPLES, assert_golden
from tests.readers.criteria_util import all_items
from trial2fhir.errors import RecordError
from trial2fhir.model import Age, Trial
from trial2fhir.readers.criteria import parse_criteria
from trial2fhir.readers.pages import summary
from trial2fhir.targets import trial_json

STEM = "003_a56d0ce5535905ef"
PAGE = SAMPLES / f"{STEM}.txt"
TEXT = PAGE.read_text(encoding="utf-8")

LAY_LINES = [
    "Good fit: Ideal candidates are adults over 18 with a diagnosis of systemic lupus erythematosus "
    "that has been active for at least two months despite standard treatment.",
    "Not a fit: Patients with mild lupus or those who have not been on stable standard SLE regimens "
    "may not benefit from this study.",
    "Potential benefit: If successful, this treatment could provide a novel therapeutic option for "
    "patients suffering from moderate to severe lupus.",
    "How similar studies have performed: While CAR-T cell therapy has shown promise in other "
    "conditions, this specific application for systemic lupus erythematosus is novel and has not "
    "been extensively tested.",
]
SITE = (
    "- The first affiliated hospital of medical college of zhejiang university — Hangzhou, Zhejiang, China (RECRUITING)"
)


def _parse(text: str) -> tuple[Trial, list[str]]:
    return summary.parse(text, "page.txt")


def _swap(text: str, old: str, new: str) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


# --- the sample -----------------------------------------------------------------------------------


def test_golden(update_goldens: bool) -> None:
    (result,) = list(summary.read(PAGE.read_bytes(), f"samples/{PAGE.name}"))
    assert isinstance(result, Trial), result
    assert_golden(f"trial-json/{STEM}.trial.json", trial_json.render(result), update_goldens)


def test_sample_unplaced_lines_are_the_lay_lines() -> None:
    _trial, unplaced = _parse(TEXT)
    assert unplaced == LAY_LINES


def test_sample_facts() -> None:
    trial, _ = _parse(TEXT)
    ident = trial.identification
    assert trial.nct_id == "NCT06711146"
    assert trial.source.format == "page-summary"
    assert ident.brief_title == "Using CAR-T cells to treat moderate to severe lupus"
    assert ident.official_title is not None
    assert ident.official_title.startswith("Safety and Efficacy of Metabolically Armed CD19 CAR-T")
    assert trial.brief_summary is not None
    assert trial.brief_summary.startswith("This study is testing if a new type of CAR-T")
    assert trial.detailed_description is not None
    assert trial.detailed_description.startswith("This study evaluates the safety and efficacy")
    assert trial.design.phases == ["EARLY_PHASE1"]
    assert trial.design.study_type == "INTERVENTIONAL"
    assert trial.design.enrollment is not None
    assert (trial.design.enrollment.count, trial.design.enrollment.type) == (36, "ESTIMATED")
    assert trial.eligibility.minimum_age == Age(value=18, unit="Years")
    assert trial.eligibility.maximum_age is None
    assert trial.eligibility.sex == "ALL"
    assert trial.sponsors.lead_sponsor is not None
    assert (trial.sponsors.lead_sponsor.name, trial.sponsors.lead_sponsor.agency_class) == (
        "Zhejiang University",
        "OTHER",
    )
    assert [i.name for i in trial.interventions] == ["CAR T", "chemotherapy", "Prednisone", "CAR-T"]
    assert all(i.type is None for i in trial.interventions)
    assert trial.conditions == ["Systemic Lupus Erythematosus", "Meta10-19", "CAR-T Cells Therapy"]
    (site,) = trial.locations
    assert site.facility == "The first affiliated hospital of medical college of zhejiang university"
    assert (site.city, site.state, site.country, site.status) == ("Hangzhou", "Zhejiang", "China", "RECRUITING")
    (contact,) = trial.central_contacts
    assert (contact.name, contact.role, contact.email, contact.phone) == (
        "Mingming Zhang",
        "CONTACT",
        "mingmingzhang@zju.edu.cn",
        "86-13656674208",
    )


def test_sample_criteria_verbatim() -> None:
    trial, _ = _parse(TEXT)
    elig = trial.eligibility
    assert elig.criteria is not None
    start = TEXT.index("Inclusion Criteria:")
    end = TEXT.index("\nWhere this trial is running")
    assert elig.criteria == TEXT[start:end]
    assert elig.criteria_sections == parse_criteria(elig.criteria)
    assert len(all_items(elig, "inclusion")) == 30  # one item per list line
    assert len(all_items(elig, "exclusion")) == 7
    assert "Show full" not in elig.criteria


# --- sniffing and errors --------------------------------------------------------------------------


def test_sniff() -> None:
    assert summary.sniff(PAGE.read_bytes()[:65536])
    assert summary.sniff("A title\nPHASE2 · Acme · NCT01234567\nQuick facts\n| Phase | PHASE2 |\n".encode())
    for other in sorted(SAMPLES.glob("*.txt")):
        if other != PAGE:
            assert not summary.sniff(other.read_bytes()[:65536]), other.name
    assert not summary.sniff(b"Quick facts\nNothing to see here.\n")
    assert not summary.sniff(b'{"studies": []}')


def test_page_without_nct_is_a_record_error() -> None:
    text = _swap(TEXT, "EARLY_PHASE1 · Zhejiang University · NCT06711146", "EARLY_PHASE1 · Zhejiang University")
    text = _swap(text, "| Trial ID | NCT06711146 on ClinicalTrials.gov |\n", "")
    (result,) = list(summary.read(text.encode(), "page.txt"))
    assert isinstance(result, RecordError)
    assert result.problem.message == "no NCT ID found"
    assert result.problem.place == 'section "Quick facts"'


@pytest.mark.parametrize("keep", [0, 1, 3, 6, 12, 20, 60, 90])
def test_truncated_pages_never_raise(keep: int) -> None:
    text = "\n".join(TEXT.splitlines()[:keep])
    assert len(list(summary.read(text.encode(), "page.txt"))) == 1


# --- variants of the page -------------------------------------------------------------------------


def test_two_sites_in_two_cities() -> None:
    text = _swap(TEXT, "| 1 site (Hangzhou, Zhejiang) |", "| 2 sites (Hangzhou, Zhejiang; Ningbo, Zhejiang) |")
    text = _swap(
        text,
        SITE + "\n",
        SITE + "\nNingbo, Zhejiang\n- Ningbo First Hospital — Ningbo, Zhejiang, 315010, China (NOT_YET_RECRUITING)\n",
    )
    trial, unplaced = _parse(text)
    assert unplaced == LAY_LINES
    assert [(s.facility, s.city, s.state, s.zip, s.country, s.status) for s in trial.locations] == [
        (
            "The first affiliated hospital of medical college of zhejiang university",
            "Hangzhou",
            "Zhejiang",
            None,
            "China",
            "RECRUITING",
        ),
        ("Ningbo First Hospital", "Ningbo", "Zhejiang", "315010", "China", "NOT_YET_RECRUITING"),
    ]


def test_site_count_that_disagrees_with_the_list_is_unplaced() -> None:
    text = _swap(TEXT, "| 1 site (Hangzhou, Zhejiang) |", "| 14 sites (Hangzhou, Zhejiang and 13 more) |")
    _trial, unplaced = _parse(text)
    assert unplaced == ["| Locations | 14 sites (Hangzhou, Zhejiang and 13 more) |", *LAY_LINES]


def test_phase_enrollment_ages_sponsor_variants() -> None:
    text = _swap(TEXT, "| Phase | EARLY_PHASE1 |", "| Phase | PHASE1/PHASE2 |")
    text = _swap(text, "EARLY_PHASE1 · Zhejiang University", "PHASE1/PHASE2 · Acme Bio")
    text = _swap(text, "| Enrollment | 36 (estimated) |", "| Enrollment | 120 (actual) |")
    text = _swap(text, "| Ages | 18 Years and up |", "| Ages | 12 Years - 65 Years |")
    text = _swap(text, "| Sponsor | Zhejiang University (other) |", "| Sponsor | Acme Bio (industry) |")
    text = _swap(text, "| Study type | Interventional |", "| Study type | Observational |")
    trial, unplaced = _parse(text)
    assert unplaced == LAY_LINES
    assert trial.design.phases == ["PHASE1", "PHASE2"]
    assert trial.design.study_type == "OBSERVATIONAL"
    assert trial.design.enrollment is not None
    assert (trial.design.enrollment.count, trial.design.enrollment.type) == (120, "ACTUAL")
    assert trial.eligibility.minimum_age == Age(value=12, unit="Years")
    assert trial.eligibility.maximum_age == Age(value=65, unit="Years")
    assert trial.sponsors.lead_sponsor is not None
    assert (trial.sponsors.lead_sponsor.name, trial.sponsors.lead_sponsor.agency_class) == ("Acme Bio", "INDUSTRY")


@pytest.mark.parametrize(
    ("ages", "low", "high"),
    [
        ("up to 65 Years", None, Age(value=65, unit="Years")),
        ("18-65", Age(value=18, unit="Years"), Age(value=65, unit="Years")),
        ("Ages 18 Years and up", Age(value=18, unit="Years"), None),
    ],
)
def test_age_variants(ages: str, low: Age | None, high: Age | None) -> None:
    trial, unplaced = _parse(_swap(TEXT, "| Ages | 18 Years and up |", f"| Ages | {ages} |"))
    assert unplaced == LAY_LINES
    assert (trial.eligibility.minimum_age, trial.eligibility.maximum_age) == (low, high)


def test_header_that_contradicts_the_table_is_unplaced() -> None:
    text = _swap(TEXT, "EARLY_PHASE1 · Zhejiang University", "PHASE2 · Zhejiang University")
    trial, unplaced = _parse(text)
    assert trial.design.phases == ["EARLY_PHASE1"]
    assert unplaced == ["PHASE2 · Zhejiang University · NCT06711146", *LAY_LINES]


def test_header_fills_what_the_table_lacks() -> None:
    text = _swap(TEXT, "| Phase | EARLY_PHASE1 |\n", "")
    text = _swap(text, "| Sponsor | Zhejiang University (other) |\n", "")
    text = _swap(text, "| Trial ID | NCT06711146 on ClinicalTrials.gov |\n", "")
    trial, unplaced = _parse(text)
    assert unplaced == LAY_LINES
    assert trial.nct_id == "NCT06711146"
    assert trial.design.phases == ["EARLY_PHASE1"]
    assert trial.sponsors.lead_sponsor is not None
    assert (trial.sponsors.lead_sponsor.name, trial.sponsors.lead_sponsor.agency_class) == ("Zhejiang University", None)


def test_several_contacts() -> None:
    old = "- Phone: 86-13656674208\n"
    new = old + (
        "- Principal investigator: Wei Li\n- Email: wei.li@example.org\n"
        "- Phone: 86-571-8723 ext. 12\n- Fax: 86-571-0000\n"
    )
    trial, unplaced = _parse(_swap(TEXT, old, new))
    assert unplaced == [*LAY_LINES, "- Fax: 86-571-0000"]
    assert [(c.name, c.role, c.email, c.phone, c.phone_ext) for c in trial.central_contacts] == [
        ("Mingming Zhang", "CONTACT", "mingmingzhang@zju.edu.cn", "86-13656674208", None),
        ("Wei Li", "PRINCIPAL_INVESTIGATOR", "wei.li@example.org", "86-571-8723", "12"),
    ]


def test_unknown_fact_row_and_site_status_are_unplaced() -> None:
    text = _swap(TEXT, "| Sex | All |", "| Sex | All |\n| Masking | None (open label) |")
    text = _swap(text, "China (RECRUITING)", "China (Site 01)")
    trial, unplaced = _parse(text)
    assert trial.locations == []
    assert unplaced == [  # in page order
        "| Masking | None (open label) |",
        "| Locations | 1 site (Hangzhou, Zhejiang) |",  # no longer matches the (empty) site list
        *LAY_LINES,
        "Hangzhou, Zhejiang",
        SITE.replace("(RECRUITING)", "(Site 01)"),
    ]
