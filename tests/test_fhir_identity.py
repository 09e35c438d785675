"""Identity across trials and updates, read from the written Bundles (docs/fhir-identity.md).

Every entry is a conditional update on its business identifier; a shared thing (sponsor, site,
person) has one identity whatever trial it comes from, so two trials give identical entries, and
an updated record gives entries that update the first load's resources rather than duplicate them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest

from tests.conftest import SAMPLES, shared_files
from trial2fhir.mapping.identity import normalise
from trial2fhir.model import Trial
from trial2fhir.sources import InputFile, read_input
from trial2fhir.targets import fhir_r5
from trial2fhir.validation.bundle import bundle_invariants

SID = "https://trial2fhir.org/fhir/sid/"
SHARED = ("Organization", "Location", "Practitioner")


def load(path: Path) -> Trial:
    (trial,) = list(read_input(InputFile(path.name, data=path.read_bytes())))
    assert isinstance(trial, Trial)
    return trial


def dev(name: str) -> Trial:
    files = shared_files(name)
    if not files:
        pytest.skip(f"../shared/ctgov-dev/{name} is absent")
    return load(files[0])


def entries(trial: Trial, resource_type: str | None = None) -> list[dict[str, Any]]:
    return [e for e in fhir_r5.bundle(trial)["entry"]
            if resource_type is None or e["resource"]["resourceType"] == resource_type]


def named(trial: Trial, resource_type: str, name: str) -> dict[str, Any]:
    (entry,) = [e for e in entries(trial, resource_type) if e["resource"].get("name") == name]
    return entry


@pytest.mark.parametrize("path", sorted(SAMPLES.glob("*.txt")), ids=lambda p: p.stem)
def test_every_entry_is_a_conditional_update_on_its_identifier(path: Path) -> None:
    for e in entries(load(path)):
        resource, request = e["resource"], e["request"]
        assert request["method"] == "PUT"
        rtype, query = request["url"].split("?identifier=")
        assert rtype == resource["resourceType"]
        system, value = unquote(query).split("|", 1)
        assert {"system": system, "value": value} in [
            {"system": i.get("system"), "value": i.get("value")} for i in resource["identifier"]
        ]
        assert e["fullUrl"].startswith("urn:uuid:")
        if resource["resourceType"] in SHARED:
            assert system.startswith(SID), system
            assert e["fullUrl"] == f"urn:uuid:{resource['id']}", "a shared resource's id is its identity's uuid"


def test_the_research_study_keeps_the_nct_id() -> None:
    trial = load(sorted(SAMPLES.glob("*.txt"))[0])
    study = entries(trial)[0]
    assert study["request"]["url"] == f"ResearchStudy?identifier=https://clinicaltrials.gov|{trial.nct_id}"
    assert study["resource"]["id"] == trial.nct_id


def test_a_shared_sponsor_gives_identical_entries_in_two_trials() -> None:
    a, b = dev("NCT04653870*"), dev("NCT05261815*")
    url = f"Organization?identifier={SID}organization|riphah-international-university/other"
    (in_a,) = [e for e in entries(a, "Organization") if e["request"]["url"] == url]
    (in_b,) = [e for e in entries(b, "Organization") if e["request"]["url"] == url]
    assert in_a == in_b
    assert in_a["resource"]["name"] == "Riphah International University"


def test_a_shared_site_gives_identical_location_entries_in_two_trials() -> None:
    a, b = dev("NCT02513394*"), dev("NCT04042844*")
    clinic_a, clinic_b = named(a, "Location", "Cleveland Clinic"), named(b, "Location", "Cleveland Clinic")
    assert clinic_a == clinic_b
    # What belongs to each trial at the site is on its own site ResearchStudy, pointing at the one Location.
    for trial in (a, b):
        sites = [e["resource"] for e in entries(trial, "ResearchStudy")[1:]]
        assert any(s["site"][0]["reference"] == clinic_a["fullUrl"] for s in sites)
        assert all(s["partOf"][0]["reference"] == entries(trial)[0]["fullUrl"] for s in sites)


def test_the_same_organisation_as_lead_and_collaborator_is_one_entry() -> None:
    trial = dev("NCT04653870*")
    lead = trial.sponsors.lead_sponsor
    assert lead is not None
    changed = trial.model_copy(update={"sponsors": trial.sponsors.model_copy(update={"collaborators": [lead]})})
    urls = [e["fullUrl"] for e in entries(changed, "Organization")]
    study = entries(changed)[0]["resource"]
    roles = {"lead-sponsor", "collaborator"}
    parties = [p["party"]["reference"] for p in study["associatedParty"]
               if p["role"]["coding"][0]["code"] in roles]
    assert len(parties) == 2
    assert parties[0] == parties[1]
    assert urls.count(parties[0]) == 1


def test_an_updated_record_updates_rather_than_duplicates() -> None:
    trial = dev("NCT02513394*")
    assert len(trial.locations) > 2
    before = {e["request"]["url"]: e["fullUrl"] for e in entries(trial)}
    # The update: a new status and title, the first site dropped, a site added at the end.
    status = trial.status.model_copy(update={"overall_status": "COMPLETED"})
    updated = trial.model_copy(update={
        "status": status,
        "identification": trial.identification.model_copy(update={"brief_title": "Renamed"}),
        "locations": [*trial.locations[1:], trial.locations[0].model_copy(update={"facility": "A New Site"})],
    })
    after = {e["request"]["url"]: e["fullUrl"] for e in entries(updated)}
    study = entries(trial)[0]["request"]["url"]
    assert after[study] == before[study], "the ResearchStudy updates in place"
    locations = {u for u in before if u.startswith("Location?")}
    kept = {u for u in after if u.startswith("Location?")}
    assert len(locations - kept) == 1, "the dropped site is no longer in the Bundle (it stays on the server)"
    assert len(kept - locations) == 1, "the new site is the only new Location"
    for url in locations & kept:
        assert after[url] == before[url], "a site that stays keeps its request URL and fullUrl"
    for url in (u for u in before if u.startswith(("Organization?", "Practitioner?"))):
        assert after.get(url) == before[url]


def test_normalised_keys_ignore_case_accents_punctuation_and_spacing() -> None:
    assert normalise("Pfizer, Inc.") == normalise("PFIZER  INC") == "pfizer-inc"
    assert normalise("Hôpital Necker–Enfants Malades") == "hopital-necker-enfants-malades"
    assert normalise("北京协和医院") == "北京协和医院"


def test_a_site_listed_twice_with_different_content_is_kept_apart() -> None:
    trial = dev("NCT02513394*")
    site = trial.locations[0].model_copy(update={"zip": "00000"})
    twice = trial.model_copy(update={"locations": [trial.locations[0], site]})
    locations = entries(twice, "Location")
    assert len(locations) == 2
    values = [e["request"]["url"] for e in locations]
    assert values[1] == values[0] + "/~2"
    # Each site's own ResearchStudy points at its own Location, and every reference resolves.
    bundle = fhir_r5.bundle(twice)
    assert bundle_invariants(bundle) == []
    site_studies = [e["resource"] for e in bundle["entry"][1:] if e["resource"]["resourceType"] == "ResearchStudy"]
    pointed = [s["site"][0]["reference"] for s in site_studies[:2]]
    assert pointed == [e["fullUrl"] for e in locations]
    same = trial.model_copy(update={"locations": [trial.locations[0], trial.locations[0]]})
    assert len(entries(same, "Location")) == 1, "listed twice with the same content: one Location"


@pytest.mark.parametrize("path", sorted(SAMPLES.glob("*.txt")), ids=lambda p: p.stem)
def test_the_nct_number_identifies_the_study_alone(path: Path) -> None:
    # an identifier search for the NCT ID finds the trial's ResearchStudy, not its PlanDefinition too
    trial = load(path)
    carriers = [(e["resource"]["resourceType"], e["resource"]["id"]) for e in entries(trial)
                if any(i.get("system") == "https://clinicaltrials.gov" and i.get("value") == trial.nct_id
                       for i in e["resource"].get("identifier", []))]
    assert carriers == [("ResearchStudy", trial.nct_id)]
