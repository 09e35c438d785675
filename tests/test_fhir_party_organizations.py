"""FHIR issue #8: an official or contact whose name is an organisation or a role title is an
Organization, not a Practitioner, in R5 and R4B. The tests read the written Bundles, not the
mapping files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.test_fhir_r5 import references
from trial2fhir.model import Trial
from trial2fhir.roundtrip import roundtrip_fhir_r5, roundtrip_one
from trial2fhir.sources import InputFile, read_input
from trial2fhir.targets import TARGETS, fhir_r5
from trial2fhir.validation.fhir import locate_schema

R4B = TARGETS["fhir-r4b"]
XV_PARTY = "http://hl7.org/fhir/5.0/StructureDefinition/extension-ResearchStudy.associatedParty"


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


def _dev_record(shared_dir: Path) -> Trial:
    path = shared_dir / "ctgov-dev" / "NCT05921903.json"
    (trial,) = list(read_input(InputFile(path.name, data=path.read_bytes())))
    assert isinstance(trial, Trial)
    return trial


def test_dev_record_call_centers_are_organizations(shared_dir: Path) -> None:
    doc = fhir_r5.bundle(_dev_record(shared_dir))
    orgs = _names(_by_type(doc, "Organization"))
    assert {"US GSK Clinical Trials Call Center", "EU GSK Clinical Trials Call Center"} <= set(orgs)
    assert not any("Call Center" in n for n in _names(_by_type(doc, "Practitioner")))
    contacts = [p for p in _study(doc)["associatedParty"] if "Call Center" in p.get("name", "")]
    assert contacts
    assert all(p["party"]["type"] == "Organization" for p in contacts)


# --- R4B: the same parties, referenced from the associatedParty cross-version extension ----------


def _r4b_schema() -> bool:
    try:
        locate_schema("R4B")
    except FileNotFoundError:  # pragma: no cover - depends on the machine
        return False
    return True


r4b = pytest.mark.skipif(not _r4b_schema(), reason="HL7 FHIR R4B schema not installed")


def _r4b(trial: Trial) -> dict[str, Any]:
    """The R4B Bundle as written: serialised bytes read back."""
    doc: dict[str, Any] = orjson.loads(R4B.serialise(R4B.build(trial)))
    return doc


def _xv_parties(study: dict[str, Any]) -> list[dict[str, Any]]:
    """Each associatedParty extension as {sub-extension url: its value}."""
    out = []
    for ext in study.get("extension", []):
        if ext["url"] == XV_PARTY:
            out.append({e["url"]: next(v for k, v in e.items() if k.startswith("value")) for e in ext["extension"]})
    return out


def _r4b_site(doc: dict[str, Any]) -> dict[str, Any]:
    return next(r for r in _by_type(doc, "ResearchStudy").values() if "partOf" in r)


@r4b
def test_r4b_an_organisation_named_official_or_contact_is_an_organization_the_extension_points_at() -> None:
    doc = _r4b(MIXED)
    orgs, people = _by_type(doc, "Organization"), _by_type(doc, "Practitioner")
    assert "Pfizer CT.gov Call Center" in _names(orgs)
    assert "Pfizer CT.gov Call Center" not in _names(people)
    assert {"Jane Doe, MD", "John Roe", "Ann Lee", "Bob Smith, RN"} <= set(_names(people))
    parties = _xv_parties(_study(doc))
    call = [p for p in parties if p.get("name") == "Pfizer CT.gov Call Center"]
    assert len(call) == 2  # the official and the central contact
    assert {p["party"]["type"] for p in call} == {"Organization"}
    for party in call:
        assert orgs[party["party"]["reference"]]["name"] == "Pfizer CT.gov Call Center"
    for person in ("Jane Doe, MD", "John Roe", "Ann Lee"):
        (p,) = [p for p in parties if p.get("name") == person]
        assert p["party"]["type"] == "PractitionerRole"
        assert _by_type(doc, "PractitionerRole")[p["party"]["reference"]]["resourceType"] == "PractitionerRole"
    # the central contacts stay R4B contact details too (a forward view)
    assert [c["name"] for c in _study(doc)["contact"]] == ["Pfizer CT.gov Call Center", "Ann Lee"]


@r4b
def test_r4b_the_organizations_hold_role_telecom_and_affiliation() -> None:
    doc = _r4b(MIXED)
    orgs = _by_type(doc, "Organization")
    call = [o for o in orgs.values() if o["name"] == "Pfizer CT.gov Call Center"]
    assert len(call) == 2
    assert all(o["text"]["status"] == "generated" for o in call)  # R5's narrative, as every R4B resource
    official = next(o for o in call if "partOf" in o)
    assert orgs[official["partOf"]["reference"]]["name"] == "Pfizer"
    assert {c["code"] for c in official["contact"][0]["purpose"]["coding"]} == {"study-director", "STUDY_DIRECTOR"}
    contact = next(o for o in call if "telecom" in o["contact"][0])
    phone = next(t for t in contact["contact"][0]["telecom"] if t["system"] == "phone")
    assert phone["value"] == "1-800-718-1021"
    assert phone["extension"] == [{"url": "http://hl7.org/fhir/StructureDefinition/contactpoint-extension",
                                   "valueString": "12"}]
    email = next(t for t in contact["contact"][0]["telecom"] if t["system"] == "email")
    assert email["value"] == "ClinicalTrials.gov_Inquiries@pfizer.com"


@r4b
def test_r4b_site_contacts_that_are_organisations_are_referenced_from_the_site_study() -> None:
    doc = _r4b(MIXED)
    orgs = _by_type(doc, "Organization")
    parties = {p["name"]: p["party"] for p in _xv_parties(_r4b_site(doc))}
    assert parties["Study Coordinator"]["type"] == "Organization"
    assert parties["Pfizer"]["type"] == "Organization"
    assert parties["Bob Smith, RN"]["type"] == "PractitionerRole"
    assert orgs[parties["Study Coordinator"]["reference"]]["name"] == "Study Coordinator"
    assert orgs[parties["Pfizer"]["reference"]]["name"] == "Pfizer"


@r4b
def test_r4b_every_party_written_once_and_every_resource_referenced() -> None:
    doc = _r4b(MIXED)
    assert len(_by_type(doc, "PractitionerRole")) == 4  # Jane, John, Ann, Bob: none for the organisations
    assert len(_by_type(doc, "Practitioner")) == 4
    assert not R4B.validate(R4B.build(MIXED))
    referenced = set(references(doc))
    for entry in doc["entry"][1:]:
        assert entry["fullUrl"] in referenced, entry["resource"]["resourceType"]


@r4b
def test_r4b_mixed_parties_round_trip_in_their_order() -> None:
    result = roundtrip_one(R4B, MIXED)
    assert result.valid, result.errors
    assert result.roundtrip_ok, [d.to_dict() for d in result.diffs if not d.declared]


@r4b
def test_r4b_principal_investigator_is_a_person_never_an_organization() -> None:
    doc = _r4b(MIXED)
    pi = _study(doc)["principalInvestigator"]
    assert pi["type"] == "PractitionerRole"
    assert pi["display"] == "Jane Doe, MD"
    assert _by_type(doc, "PractitionerRole")[pi["reference"]]["practitioner"]["display"] == "Jane Doe, MD"
    # a first official named as an organisation is an Organization, which R4B's
    # principalInvestigator (Practitioner | PractitionerRole) cannot reference: none is written
    trial = MIXED.model_copy(update={"overall_officials": [
        MIXED.overall_officials[1].model_copy(update={"role": "PRINCIPAL_INVESTIGATOR"}),
        MIXED.overall_officials[0]]})
    doc = _r4b(trial)
    assert "principalInvestigator" not in _study(doc)
    (org,) = [p for p in _xv_parties(_study(doc)) if p.get("name") == "Pfizer CT.gov Call Center"
              and p["party"]["reference"] in _by_type(doc, "Organization")
              and "partOf" in _by_type(doc, "Organization")[p["party"]["reference"]]]
    assert org["party"]["type"] == "Organization"
    result = roundtrip_one(R4B, trial)
    assert result.valid, result.errors
    assert result.roundtrip_ok, [d.to_dict() for d in result.diffs if not d.declared]


@r4b
def test_r4b_dev_record_call_centers_are_organizations(shared_dir: Path) -> None:
    trial = _dev_record(shared_dir)
    doc = _r4b(trial)
    orgs = _names(_by_type(doc, "Organization"))
    assert {"US GSK Clinical Trials Call Center", "EU GSK Clinical Trials Call Center"} <= set(orgs)
    assert not any("Call Center" in n for n in _names(_by_type(doc, "Practitioner")))
    contacts = [p for p in _xv_parties(_study(doc)) if "Call Center" in p.get("name", "")]
    assert contacts
    assert all(p["party"]["type"] == "Organization" for p in contacts)
    referenced = set(references(doc))
    assert all(e["fullUrl"] in referenced for e in doc["entry"][1:])
    result = roundtrip_one(R4B, trial)
    assert result.valid, result.errors
    assert result.roundtrip_ok, [d.to_dict() for d in result.diffs if not d.declared]
