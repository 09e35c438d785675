"""FHIR issue #8: an official or contact whose name is an organisation or a role title is an
Organization, not a Practitioner. The tests read the written Bundles, not the mapping files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.test_fhir_r5 import references
from trial2fhir.model import Trial
from trial2fhir.roundtrip import roundtrip_fhir_r5
from trial2fhir.sources import InputFile, read_input
from trial2fhir.targets import fhir_r5


def _trial(**data: Any) -> Trial:
    return Trial.model_validate({"source": {"format": "trial-json", "file": "x"},
                                 "identification": {"nct_id": "NCT01234567"}, **data})


def _by_type(doc: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {e["fullUrl"]: e["resource"] for e in doc["entry"] if e["resource"]["resourceType"] == kind}


def _study(doc: dict[str, Any]) -> dict[str, Any]:
    return doc["entry"][0]["resource"]  # the trial's ResearchStudy comes first


def _names(resources: dict[str, dict[str, Any]]) -> list[str]:
    return [r.get("name") if isinstance(r.get("name"), str) else r["name"][0]["text"] for r in resources.values()]


MIXED = _trial(
    sponsors={"lead_sponsor": {"name": "Pfizer", "agency_class": "INDUSTRY"}},
    overall_officials=[
        {"name": "Jane Doe, MD", "role": "PRINCIPAL_INVESTIGATOR", "affiliation": "Mercy Hospital"},
        {"name": "Pfizer CT.gov Call Center", "role": "STUDY_DIRECTOR", "affiliation": "Pfizer"},
        {"name": "John Roe", "role": "STUDY_CHAIR"},
    ],
    central_contacts=[{"name": "Pfizer CT.gov Call Center", "role": "CONTACT", "phone": "1-800-718-1021",
                       "phone_ext": "12", "email": "ClinicalTrials.gov_Inquiries@pfizer.com"},
                      {"name": "Ann Lee", "role": "CONTACT", "email": "ann@example.org"}],
    locations=[{"facility": "Mercy Hospital", "city": "Boston", "country": "United States",
                "contacts": [{"name": "Study Coordinator", "role": "CONTACT", "phone": "555-0100"},
                             {"name": "Pfizer", "role": "CONTACT"},  # the lead sponsor's own name
                             {"name": "Bob Smith, RN", "role": "CONTACT"}]}],
)


def test_an_organisation_named_official_is_an_organization_the_study_points_at() -> None:
    doc = fhir_r5.bundle(MIXED)
    orgs, people = _by_type(doc, "Organization"), _by_type(doc, "Practitioner")
    assert "Pfizer CT.gov Call Center" in _names(orgs)
    assert "Pfizer CT.gov Call Center" not in _names(people)
    assert {"Jane Doe, MD", "John Roe", "Ann Lee", "Bob Smith, RN"} <= set(_names(people))
    officials = [p for p in _study(doc)["associatedParty"] if p["name"] == "Pfizer CT.gov Call Center"]
    assert {p["party"]["type"] for p in officials} == {"Organization"}
    for party in officials:
        assert orgs[party["party"]["reference"]]["name"] == "Pfizer CT.gov Call Center"
    jane = next(p for p in _study(doc)["associatedParty"] if p["name"] == "Jane Doe, MD")
    assert jane["party"]["type"] == "PractitionerRole"


def test_the_organizations_hold_role_telecom_and_affiliation() -> None:
    doc = fhir_r5.bundle(MIXED)
    orgs = _by_type(doc, "Organization")
    call = [o for o in orgs.values() if o["name"] == "Pfizer CT.gov Call Center"]
    official = next(o for o in call if "partOf" in o)
    assert orgs[official["partOf"]["reference"]]["name"] == "Pfizer"
    contact = next(o for o in call if "telecom" in o["contact"][0])
    phone = next(t for t in contact["contact"][0]["telecom"] if t["system"] == "phone")
    assert phone["value"] == "1-800-718-1021"
    assert phone["extension"][0]["valueString"] == "12"


def test_site_contacts_that_are_organisations_are_referenced_from_the_site_study() -> None:
    doc = fhir_r5.bundle(MIXED)
    orgs = _by_type(doc, "Organization")
    site = next(r for r in _by_type(doc, "ResearchStudy").values() if "partOf" in r)
    parties = {p["name"]: p["party"] for p in site["associatedParty"]}
    assert parties["Study Coordinator"]["type"] == "Organization"
    assert parties["Pfizer"]["type"] == "Organization"
    assert parties["Bob Smith, RN"]["type"] == "PractitionerRole"
    assert orgs[parties["Study Coordinator"]["reference"]]["name"] == "Study Coordinator"


def test_every_party_written_once_and_every_resource_referenced() -> None:
    doc = fhir_r5.bundle(MIXED)
    roles = _by_type(doc, "PractitionerRole")
    assert len(roles) == 4  # Jane, John, Ann, Bob: none for the three organisations
    assert len(_by_type(doc, "Practitioner")) == 4
    referenced = set(references(doc))
    for entry in doc["entry"][1:]:
        assert entry["fullUrl"] in referenced, entry["resource"]["resourceType"]


def test_mixed_parties_round_trip_in_their_order() -> None:
    result = roundtrip_fhir_r5(MIXED)
    assert result.valid, result.errors
    assert result.roundtrip_ok, [d.to_dict() for d in result.diffs if not d.declared]


def test_dev_record_call_centers_are_organizations(shared_dir: Path) -> None:
    path = shared_dir / "ctgov-dev" / "NCT05921903.json"
    (trial,) = list(read_input(InputFile(path.name, data=path.read_bytes())))
    assert isinstance(trial, Trial)
    doc = fhir_r5.bundle(trial)
    orgs = _names(_by_type(doc, "Organization"))
    assert {"US GSK Clinical Trials Call Center", "EU GSK Clinical Trials Call Center"} <= set(orgs)
    assert not any("Call Center" in n for n in _names(_by_type(doc, "Practitioner")))
    contacts = [p for p in _study(doc)["associatedParty"] if "Call Center" in p.get("name", "")]
    assert contacts
    assert all(p["party"]["type"] == "Organization" for p in contacts)
