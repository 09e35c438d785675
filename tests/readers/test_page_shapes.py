"""Value shapes the page layouts name: page wording -> Trial values, None when unrecognised."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from trial2fhir.model import Age
from trial2fhir.readers.pages import summary
from trial2fhir.readers.pages.shapes import SHAPES, VOCAB


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
def test_date(text: str, expected: str | None) -> None:
    assert SHAPES["date"](text) == ({"date": expected, "type": None} if expected else None)


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
def test_phases(text: str, expected: list[str] | None) -> None:
    assert SHAPES["phases"](text) == expected


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
def test_ages(text: str, expected: tuple[Age | None, Age | None] | None) -> None:
    found = SHAPES["ages"](text)
    if expected is None:
        assert found is None
    else:
        low, high = (found.get(k) for k in ("minimum_age", "maximum_age"))
        assert (low and Age.model_validate(low), high and Age.model_validate(high)) == expected


def test_enrollment_and_sponsor() -> None:
    assert SHAPES["enrollment"]("36 (estimated)") == {"count": 36, "type": "ESTIMATED"}
    assert SHAPES["enrollment"]("120 (Actual)") == {"count": 120, "type": "ACTUAL"}
    assert SHAPES["enrollment"]("12 participants") == {"count": 12, "type": None}
    assert SHAPES["enrollment"]("about a dozen") is None
    assert SHAPES["enrollment"]("12 (maybe)") is None
    assert SHAPES["sponsor"]("Zhejiang University (other)") == {"name": "Zhejiang University", "agency_class": "OTHER"}
    assert SHAPES["sponsor"]("Acme Bio (industry)") == {"name": "Acme Bio", "agency_class": "INDUSTRY"}
    assert SHAPES["sponsor"]("Sun Yat-sen University (SYSU)") == {
        "name": "Sun Yat-sen University (SYSU)",
        "agency_class": None,
    }


SPEC_ENUM = {  # shapes.VOCAB name -> the API v2 enum (ctg-oas-v2.yaml) it must equal
    "status": "Status", "site_status": "RecruitmentStatus", "study_type": "StudyType", "phase": "Phase",
    "sex": "Sex", "agency_class": "AgencyClass", "allocation": "DesignAllocation",
    "intervention_model": "InterventionalAssignment", "primary_purpose": "PrimaryPurpose",
    "observational_model": "ObservationalModel", "time_perspective": "DesignTimePerspective",
    "masking": "DesignMasking", "who_masked": "WhoMasked", "responsible_party_type": "ResponsiblePartyType",
    "arm_type": "ArmGroupType", "intervention_type": "InterventionType",
}


def _spec_enums(shared_dir: Path) -> dict[str, set[str]]:
    spec = yaml.safe_load((shared_dir / "schemas/ctgov-api-v2/2.0.5/ctg-oas-v2.yaml").read_text())
    return {k: set(v["enum"]) for k, v in spec["components"]["schemas"].items() if "enum" in v}


def test_vocabularies_are_the_api_v2_enums(shared_dir: Path) -> None:
    enums = _spec_enums(shared_dir)
    assert set(VOCAB) == set(SPEC_ENUM)
    for name, enum in SPEC_ENUM.items():
        assert set(VOCAB[name]) == enums[enum], (name, set(VOCAB[name]) ^ enums[enum])


def test_summary_contact_roles_are_api_v2_roles(shared_dir: Path) -> None:
    enums = _spec_enums(shared_dir)
    roles = set(summary.LAYOUT.sections["contacts"].roles.values())
    assert roles <= enums["ContactRole"], roles - enums["ContactRole"]
