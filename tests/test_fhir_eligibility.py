"""The eligibility EvidenceVariable as written, read for meaning: it mirrors the criteria tree."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import shared_params
from trial2fhir.model import Criterion, Trial
from trial2fhir.readers.criteria import parse_criteria
from trial2fhir.sources import InputFile, read_input
from trial2fhir.targets import fhir_r5

TEXT = (
    "Inclusion Criteria:\n\n* Age 18 or over\n* Prior therapy:\n\n  * No chemotherapy\n  * No radiotherapy\n\n"
    "Exclusion Criteria:\n\n* Has received any of the following:\n\n  * Vaccines\n  * Steroids\n* Pregnancy\n\n"
    "Biological Mother Inclusion/Exclusion:\n\n* Must be the biological mother"
)


def _trial(**eligibility: Any) -> Trial:
    return Trial.model_validate({
        "source": {"format": "ctgov-api-v2-json", "file": "test.json"},
        "identification": {"nct_id": "NCT01234567", "brief_title": "A trial"},
        "eligibility": {"criteria": TEXT, "criteria_sections": parse_criteria(TEXT), **eligibility},
    })


def _eligibility(doc: dict[str, Any]) -> dict[str, Any]:
    return next(e["resource"] for e in doc["entry"] if e["resource"]["resourceType"] == "EvidenceVariable"
                and e["resource"]["id"].endswith("-eligibility"))


def _sections(ev: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for c in ev["characteristic"] if "definitionByCombination" in c and "." not in c.get("linkId", ".")]


def test_sections_items_and_sides_as_written() -> None:
    ev = _eligibility(fhir_r5.bundle(_trial()))
    inc, exc, both = _sections(ev)
    assert [s["description"] for s in (inc, exc, both)] == [
        "Inclusion Criteria:", "Exclusion Criteria:", "Biological Mother Inclusion/Exclusion:"]
    for section in (inc, exc, both):
        assert section["definitionByCombination"]["code"] == "all-of"
        assert "exclude" not in section  # the side is on each criterion
    age, prior = inc["definitionByCombination"]["characteristic"]
    assert (age["description"], age["exclude"]) == ("Age 18 or over", False)
    assert prior["definitionByCombination"]["code"] == "all-of"
    assert [c["description"] for c in prior["definitionByCombination"]["characteristic"]] == [
        "No chemotherapy", "No radiotherapy"]
    received, pregnancy = exc["definitionByCombination"]["characteristic"]
    assert (received["exclude"], pregnancy["exclude"]) == (True, True)
    assert received["definitionByCombination"]["code"] == "any-of"
    (mother,) = both["definitionByCombination"]["characteristic"]
    assert "exclude" not in mother  # the text names no side: none is asserted
    # no heading is a criterion
    descriptions = json.dumps([s["definitionByCombination"] for s in (inc, exc, both)])
    assert "Criteria:" not in descriptions


def test_healthy_volunteers_reads_accepts() -> None:
    for accepts, words in ((True, "Accepts healthy volunteers"), (False, "Does not accept healthy volunteers")):
        ev = _eligibility(fhir_r5.bundle(_trial(healthy_volunteers=accepts)))
        (hv,) = [c for c in ev["characteristic"] if c.get("linkId") == "healthy-volunteers"]
        assert hv["description"] == words
        assert hv["definitionByTypeAndValue"]["type"]["text"] == "Accepts healthy volunteers"
        assert hv["definitionByTypeAndValue"]["valueBoolean"] is accepts
        assert "exclude" not in hv


def test_no_empty_label() -> None:
    ev = _eligibility(fhir_r5.bundle(_trial()))
    assert all(label.get("value") for label in ev.get("label", []))


def _depth(items: list[Criterion]) -> int:
    return max((1 + _depth(c.items) for c in items), default=0)


@pytest.mark.parametrize("path", shared_params("*.*[lnm]"))
def test_dev_records_tree_round_trips(path: Path) -> None:
    """Every dev record's tree comes back from its Bundle unchanged (sections, nesting, sides)."""
    (trial,) = list(read_input(InputFile(str(path), data=path.read_bytes())))
    assert isinstance(trial, Trial)
    back = fhir_r5.to_trial_data(fhir_r5.bundle(trial))
    rebuilt = Trial.model_validate({**back, "source": trial.source.model_dump()})
    assert rebuilt.eligibility.criteria_sections == trial.eligibility.criteria_sections
    assert _depth([c for s in trial.eligibility.criteria_sections for c in s.items]) <= 4


NOTED = ("Inclusion Criteria:\n\n1. Adults.\n2. Moderate HS.\n\nFurther criteria apply.\n\n"
         "Exclusion Criteria:\n\n* Pregnancy")


def test_a_section_note_is_a_footnote_not_a_criterion_in_both_releases() -> None:
    from trial2fhir.targets import fhir_r4b

    trial = _trial(criteria=NOTED, criteria_sections=parse_criteria(NOTED))
    inc, exc = _sections(_eligibility(fhir_r5.bundle(trial)))
    assert inc["note"] == [{"text": "Further criteria apply."}]
    assert "note" not in exc
    criteria = [c["description"] for c in inc["definitionByCombination"]["characteristic"]]
    assert criteria == ["Adults.", "Moderate HS."]
    r4b = [e["resource"] for e in fhir_r4b.bundle(trial)["entry"]
           if e["resource"]["resourceType"] == "EvidenceVariable" and "-criteria-" in e["resource"]["id"]]
    assert [(ev.get("note"), [c["description"] for c in ev["characteristic"]]) for ev in r4b] == [
        ([{"text": "Further criteria apply."}], ["Adults.", "Moderate HS."]), (None, ["Pregnancy"])]
