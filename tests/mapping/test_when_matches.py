"""``when: "PATH matches SET"``: a free-text value tested against a name set of regex patterns."""

from __future__ import annotations

from pathlib import Path

import pytest

from trial2fhir.mapping.codes import load_name_sets
from trial2fhir.mapping.directives import when_holds
from trial2fhir.mapping.load import MAPPINGS, MappingError, _Checker, fhir_class
from trial2fhir.mapping.paths import ROOT

SETS = load_name_sets(MAPPINGS / "codes")
SET = "party-organization-names"


def _holds(name: str, expr: str = f"o.name matches {SET}", lead: str = "Acme") -> bool:
    scope = {ROOT: {"sponsors": {"lead_sponsor": {"name": lead}}}, "o": {"name": name}}
    return when_holds(expr, scope, SETS)


@pytest.mark.parametrize("name", [
    "Pfizer CT.gov Call Center", "Novartis Pharmaceuticals", "Medical Director", "Clinical Trials Help Desk",
    "Sanofi Toll Free Number", "GSK Clinical Trials", "Study Director", "Merck Sharp & Dohme LLC",
    "AstraZeneca Clinical Study Information Center", "UCB Cares", "Clinical Trials Operations",
])
def test_organisation_and_role_names_match(name: str) -> None:
    assert _holds(name)
    assert not _holds(name, f"o.name not matches {SET}")


@pytest.mark.parametrize("name", ["Jane Doe, MD", "Jun Zhang, MD, PhD", "Ann Lee", "Gordon McMorland", ""])
def test_person_names_do_not_match(name: str) -> None:
    assert not _holds(name)


def test_the_lead_sponsors_name_matches_unless_it_names_a_credential() -> None:
    assert _holds("Boehringer  ingelheim", lead="Boehringer Ingelheim")  # spacing and case do not matter
    assert not _holds("Jun Zhang, MD, PhD", lead="Jun Zhang, MD, PhD")  # a sponsor-investigator is a person


def test_an_unknown_set_is_a_load_error() -> None:
    model = fhir_class("ResearchStudy")
    rules = {"title": {"from": "identification.brief_title", "when": "identification.brief_title matches no-such-set"}}
    with pytest.raises(MappingError, match="unknown name set 'no-such-set'"):
        _Checker("x.yaml", {}).node("rules", rules, model, {})


def test_the_name_set_is_a_valid_fhir_valueset() -> None:
    import yaml
    from fhir.resources.valueset import ValueSet

    doc = yaml.safe_load(Path(SETS[SET].file).read_text(encoding="utf-8"))
    ValueSet.model_validate(doc)
