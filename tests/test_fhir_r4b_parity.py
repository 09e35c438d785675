"""FHIR R4B says what R5 says (issue #8, section 3), read from the written Bundles of the samples
and the dev records: criteria sections, enrollment, affiliations, MeSH, countries, results, codes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.conftest import shared_params
from tests.test_fhir_r4b import (
    SAMPLE_FILES,
    TARGET,
    assert_round_trips,
    by_url,
    codings,
    records,
    resources,
    sample_trial,
    written,
)
from trial2fhir.model import CriteriaSection, Trial
from trial2fhir.roundtrip import roundtrip_one
from trial2fhir.targets import TARGETS

ELEMENT = "https://trial2fhir.org/fhir/CodeSystem/ctgov-data-element"
ALL = [*SAMPLE_FILES, *shared_params("*.json"), *shared_params("*.xml")]


def all_trials(path: Path) -> list[Trial]:
    return [sample_trial(path)] if path.suffix == ".txt" else records(path)


def ids(p: Any) -> str:
    return p.stem if isinstance(p, Path) else str(p)


def written_in(target: str, trial: Trial) -> dict[str, Any]:
    """A trial's Bundle in one release, as written (its bytes read back)."""
    t = TARGETS[target]
    doc: dict[str, Any] = orjson.loads(t.serialise(t.build(trial)))
    return doc


def study_of(doc: dict[str, Any]) -> dict[str, Any]:
    study: dict[str, Any] = resources(doc, "ResearchStudy")[0]
    return study


# --- 1. criteria sections: R4B's exclude, no placeholder system --------------------------------


@pytest.mark.parametrize("path", ALL, ids=ids)
def test_criteria_sections_say_their_side_with_exclude_and_no_placeholder_system(path: Path) -> None:
    for trial in all_trials(path):
        doc = written(trial)
        assert "urn:trial2fhir:" not in str([c["system"] for c in codings(doc)])
        (group,) = resources(doc, "Group")
        sections = [c for c in group.get("characteristic", []) if "valueReference" in c and c["id"] != "std-ages"]
        assert len(sections) == len(trial.eligibility.criteria_sections)
        for n, (ch, sec) in enumerate(zip(sections, trial.eligibility.criteria_sections, strict=True), 1):
            assert ch["exclude"] is (sec.side == "exclusion")
            assert ch["id"] == f"{sec.side}-{n}"  # R5's linkId for the section
            assert ch["code"]["coding"] == [{"system": ELEMENT, "code": "eligibilityCriteria",
                                             "display": "Eligibility criteria"}]
            assert ch["code"].get("text") == sec.heading


def test_a_section_with_no_side_reads_back_as_such() -> None:
    """exclude false is both inclusion and "the text names no side": the id tells them apart."""
    trial = sample_trial(SAMPLE_FILES[0])
    first, *rest = trial.eligibility.criteria_sections
    unsided = CriteriaSection(side="unspecified", heading=None, items=first.items)
    trial = trial.model_copy(update={"eligibility": trial.eligibility.model_copy(
        update={"criteria_sections": [unsided, *rest]})})
    (group,) = resources(written(trial), "Group")
    assert group["characteristic"][0]["id"] == "unspecified-1"
    assert group["characteristic"][0]["exclude"] is False
    assert_round_trips(roundtrip_one(TARGET, trial))


# --- 2. enrollment: actual vs target, not a classifier -----------------------------------------

XV = "http://hl7.org/fhir/5.0/StructureDefinition/extension-"


@pytest.mark.parametrize("path", ALL, ids=ids)
def test_an_actual_enrollment_is_actual_number_and_an_estimated_one_the_target(path: Path) -> None:
    for trial in all_trials(path):
        doc = written(trial)
        study = study_of(doc)
        recruitment = [e for e in study.get("extension", []) if e["url"] == XV + "ResearchStudy.recruitment"]
        numbers = {s["url"]: s["valueUnsignedInt"] for r in recruitment for s in r["extension"]
                   if s["url"] in ("targetNumber", "actualNumber")}
        enrolled = trial.design.enrollment
        if enrolled is None or enrolled.count is None:
            assert numbers == {}
        elif enrolled.type == "ACTUAL":
            assert numbers == {"actualNumber": enrolled.count}
        else:
            assert numbers == {"targetNumber": enrolled.count}
        assert not [c for c in codings(doc) if c["system"].endswith("/EnrollmentType")]


# --- 3. codes: canonical CodeSystems we own, never an API documentation URL ---------------------


@pytest.mark.parametrize("path", ALL, ids=ids)
def test_no_coding_uses_an_api_documentation_url_and_element_codes_carry_their_display(path: Path) -> None:
    for trial in all_trials(path):
        doc = written(trial)
        systems = {c["system"] for c in codings(doc)}
        assert not [s for s in systems if "#" in s or "data-api" in s], systems
        named = [c for c in codings(doc) if c["system"] == ELEMENT]
        assert all(c.get("display") for c in named), [c for c in named if not c.get("display")]
        if trial.status.results_first_posted:
            states = [c["code"] for c in named]
            assert "resultsFirstPostDateStruct" in states


# --- 4. what the complete Trial holds: MeSH, countries, results --------------------------------

MESH = "https://www.nlm.nih.gov/mesh"


def mesh_codes(concepts: list[dict[str, Any]]) -> list[tuple[str | None, str]]:
    """(code, term) of each MeSH concept: the term is its text, and the coding's display only with a
    code (cod-1: classic XML gives terms without their MeSH id, whose coding is the system alone)."""
    out = []
    for cc in concepts:
        for c in cc.get("coding", []):
            if c["system"] == MESH:
                assert c.get("display") == (cc["text"] if "code" in c else None)
                out.append((c.get("code"), cc["text"]))
    return out


@pytest.mark.parametrize("path", ALL, ids=ids)
def test_mesh_terms_countries_and_results_reach_the_study(path: Path) -> None:
    for trial in all_trials(path):
        study = study_of(written(trial))
        derived = trial.derived
        conditions = [(m.id, m.term) for m in derived.condition_meshes] if derived else []
        interventions = [(m.id, m.term) for m in derived.intervention_meshes] if derived else []
        assert mesh_codes(study.get("condition", [])) == conditions
        assert mesh_codes(study.get("focus", [])) == interventions
        for cc in study.get("condition", []) + study.get("focus", []):
            if any(c["system"] == MESH for c in cc.get("coding", [])):
                assert len(cc["coding"]) == 1  # a MeSH term is its own concept, not a translation
        countries = derived.location_countries if derived else []
        assert [c["text"] for c in study.get("location", [])] == countries
        for cc in study.get("location", []):
            assert all(c["system"] == "urn:iso:std:iso:3166" and len(c["code"]) == 2 for c in cc.get("coding", []))
        results = [a for a in study.get("relatedArtifact", []) if a.get("label") == "Results"]
        assert len(results) == (1 if trial.has_results else 0)
        no_results = [c for cc in study.get("category", []) for c in cc.get("coding", [])
                      if c.get("code") == "no-results-posted"]
        assert len(no_results) == (1 if trial.has_results is False else 0)


def test_the_dev_records_exercise_mesh_countries_and_results(shared_dir: Path) -> None:
    seen = {"mesh": 0, "countries": 0, "results": 0}
    for path in sorted((shared_dir / "ctgov-dev").glob("NCT*.*")):
        for trial in records(path):
            study = study_of(written(trial))
            seen["mesh"] += bool(mesh_codes(study.get("condition", [])))
            seen["countries"] += bool(study.get("location"))
            seen["results"] += any(a.get("label") == "Results" for a in study.get("relatedArtifact", []))
    assert all(seen.values()), seen


# --- 5. people: affiliations are shared Organizations, the PI a PractitionerRole ----------------


@pytest.mark.parametrize("path", ALL, ids=ids)
def test_affiliations_are_organizations_and_the_first_pi_is_the_principal_investigator(path: Path) -> None:
    for trial in all_trials(path):
        doc = written(trial)
        urls, study = by_url(doc), study_of(doc)
        roles = resources(doc, "PractitionerRole")
        for official in trial.overall_officials:
            (role,) = [r for r in roles if r.get("practitioner", {}).get("display") == official.name
                       and r.get("organization", {}).get("display") == official.affiliation] or [None]
            if role is None:
                continue  # an official R4B writes otherwise (an organisation's name)
            if official.affiliation:
                org = urls[role["organization"]["reference"]]
                assert org["resourceType"] == "Organization"
                assert org["name"] == official.affiliation
                assert org["identifier"][0]["system"] == "https://trial2fhir.org/fhir/sid/organization"
        first = trial.overall_officials[0] if trial.overall_officials else None
        pi = study.get("principalInvestigator")
        if first is not None and first.role == "PRINCIPAL_INVESTIGATOR":
            assert pi is not None
            target = urls[pi["reference"]]
            assert target["resourceType"] == "PractitionerRole"
            assert target["practitioner"]["display"] == first.name
        else:
            assert pi is None


# --- 6. provenance: where the Bundle came from and what wrote it --------------------------------


@pytest.mark.parametrize("path", SAMPLE_FILES, ids=ids)
def test_the_study_says_where_it_came_from_and_what_wrote_it(path: Path) -> None:
    trial = sample_trial(path)
    study = study_of(written(trial))
    page = f"https://clinicaltrials.gov/study/{trial.nct_id}"
    assert study["meta"]["source"] == page
    (derived,) = [a for a in study["relatedArtifact"] if a["type"] == "derived-from"]
    assert derived["url"] == page
    assert derived["label"] == trial.source.format
    (tool,) = [a for a in study["relatedArtifact"]
               if {"url": XV + "RelatedArtifact.type", "valueCode": "transformed-with"} in a.get("extension", [])]
    assert tool["display"].startswith("trial2fhir ")


# --- 7. posting and access facts: R5's classifiers as R4B categories ----------------------------

CLASSIFIER = "https://trial2fhir.org/fhir/CodeSystem/ctgov-study-classifier"


@pytest.mark.parametrize(("field", "yes", "no"), [("delayed_posting", "delayed-posting", "no-delayed-posting"),
                                                  ("results_waived", "results-waived", "no-results-waived")])
@pytest.mark.parametrize("value", [True, False, None])
def test_fdaaa_posting_flags_are_categories(field: str, yes: str, no: str, value: bool | None) -> None:
    base = sample_trial(SAMPLE_FILES[0])
    trial = base.model_copy(update={"status": base.status.model_copy(update={field: value})})
    study = study_of(written(trial))
    codes = [c["code"] for cc in study.get("category", []) for c in cc["coding"] if c["system"] == CLASSIFIER]
    assert (yes in codes, no in codes) == (value is True, value is False)
    assert_round_trips(roundtrip_one(TARGET, trial))


@pytest.mark.parametrize("path", shared_params("*.json"), ids=ids)
def test_expanded_access_reaches_the_categories(path: Path) -> None:
    for trial in records(path):
        study = study_of(written(trial))
        codes = [c["code"] for cc in study.get("category", []) for c in cc["coding"]]
        access = trial.status.expanded_access
        has = access.has_expanded_access if access else None
        assert ("expanded-access" in codes, "no-expanded-access" in codes) == (has is True, has is False)
        kinds = [c["code"] for cc in study.get("category", []) for c in cc["coding"]
                 if c["system"].endswith("/ctgov-expanded-access-type")]
        assert kinds == list(trial.design.expanded_access_types)


# --- 8. both releases: no API documentation URL, no identifier system used as a CodeSystem -------


@pytest.mark.parametrize("target", ["fhir-r5", "fhir-r4b"])
@pytest.mark.parametrize("path", ALL, ids=ids)
def test_codings_use_canonical_code_systems(path: Path, target: str) -> None:
    for trial in all_trials(path):
        doc = written_in(target, trial)
        systems = {c["system"] for c in codings(doc)}
        assert not [s for s in systems if "#" in s or "data-api" in s], systems
        assert "https://clinicaltrials.gov" not in systems  # the NCT ID's identifier system, not a CodeSystem


# --- 9. R5's classified relatedArtifacts: classifiers and resourceReference as R4B extensions -----


def r4b_classifiers(artifact: dict[str, Any]) -> list[dict[str, Any]]:
    return [e["valueCodeableConcept"] for e in artifact.get("extension", [])
            if e["url"] == XV_CLASSIFIER]


XV_CLASSIFIER = "http://hl7.org/fhir/5.0/StructureDefinition/extension-RelatedArtifact.classifier"


def as_r5(artifact: dict[str, Any]) -> dict[str, Any]:
    """An R4B relatedArtifact read as R5 would write it: the cross-version extensions back in place."""
    out = {k: v for k, v in artifact.items() if k != "extension"}
    rest = []
    for e in artifact.get("extension", []):
        if e["url"] == XV_CLASSIFIER:
            out.setdefault("classifier", []).append(e["valueCodeableConcept"])
        elif e["url"].endswith("RelatedArtifact.resourceReference"):
            out["resourceReference"] = e["valueReference"]
        elif e["url"].endswith("RelatedArtifact.type"):
            out["type"] = e["valueCode"]
        else:
            rest.append(e)
    if rest:
        out["extension"] = rest
    if "size" in out.get("document", {}):
        out["document"] = {**out["document"], "size": str(out["document"]["size"])}  # R5 integer64
    return out


@pytest.mark.parametrize("path", [*shared_params("*.json"), *shared_params("*.xml")], ids=ids)
def test_classified_related_artifacts_say_what_r5_says(path: Path) -> None:
    for trial in records(path):
        r5_study = study_of(written_in("fhir-r5", trial))
        expected = [a for a in r5_study.get("relatedArtifact", []) if "classifier" in a]
        got = [as_r5(a) for a in study_of(written(trial)).get("relatedArtifact", []) if r4b_classifiers(a)
               and not a.get("url")]  # related_trials have their own url (R4B's, R5 has none): section 4
        assert got == expected


def test_the_dev_records_have_every_kind_of_classified_artifact(shared_dir: Path) -> None:
    marks = set()
    for path in [*(shared_dir / "ctgov-dev").glob("*.json"), *(shared_dir / "ctgov-dev").glob("*.xml")]:
        for trial in records(path):
            for a in study_of(written(trial)).get("relatedArtifact", []):
                marks |= {c["code"] for cc in r4b_classifiers(a) for c in cc["coding"] if c["system"] == ELEMENT}
    assert {"ipdSharingStatementModule", "availIpds", "largeDocs", "expandedAccessInfo"} <= marks


def test_ipd_documents_and_expanded_access_read_back_from_r4b() -> None:
    from trial2fhir.model import (
        AvailableIpd,
        Documents,
        ExpandedAccessInfo,
        IpdSharing,
        LargeDocument,
        PartialDate,
        SeeAlsoLink,
    )

    base = sample_trial(SAMPLE_FILES[0])
    doc = LargeDocument(type_abbrev="Prot_SAP_ICF", has_protocol=True, has_sap=False, has_icf=None, label="All",
                        date=PartialDate(date="2020-12"), upload_date="2021-11-10T11:05",
                        filename="Prot_SAP_ICF_000.pdf", size=1234, url="https://example.org/Prot_SAP_ICF_000.pdf")
    trial = base.model_copy(update={
        "ipd_sharing": IpdSharing(sharing="UNDECIDED", description="Maybe", info_types=["STUDY_PROTOCOL", "CSR"],
                                  time_frame="After 2030", access_criteria="On request", url="https://example.org/ipd"),
        "available_ipds": [AvailableIpd(id="DS-1", type="Clinical Study Report", url="https://example.org/csr",
                                        comment="On request"), AvailableIpd(type="Analytic Code")],
        "see_also_links": [SeeAlsoLink(label="Clinical Study Report", url="https://example.org/csr")],
        "documents": Documents(no_sap=False, large_docs=[doc]),
        "status": base.status.model_copy(update={"expanded_access": ExpandedAccessInfo(
            has_expanded_access=True, nct_id="NCT00000001", status="AVAILABLE")})})
    study = study_of(written(trial))
    (written_doc,) = [a for a in study["relatedArtifact"] if a.get("label") == "All"]
    assert written_doc["document"]["size"] == 1234  # unsignedInt in R4B
    result = roundtrip_one(TARGET, trial)
    assert_round_trips(result)
    assert [d.path for d in result.diffs if not d.path.startswith("arms")] == ["documents.large_docs[0].upload_date"]


# --- 10. both releases: an observational study's biospecimen retention and its description -------

BIOSPEC = "https://trial2fhir.org/fhir/CodeSystem/ctgov-biospec-retention"


@pytest.mark.parametrize("target", ["fhir-r5", "fhir-r4b"])
@pytest.mark.parametrize("path", [*shared_params("*.json"), *shared_params("*.xml")], ids=ids)
def test_biospecimen_retention_is_a_design_code_and_its_description_an_extension(path: Path, target: str) -> None:
    for trial in records(path):
        study = study_of(written_in(target, trial))
        concepts = study.get("studyDesign" if target == "fhir-r5" else "category", [])
        codes = [c["code"] for cc in concepts for c in cc["coding"] if c["system"] == BIOSPEC]
        spec = trial.design.bio_spec
        assert codes == ([spec.retention] if spec and spec.retention else [])
        assert all(code in {"NONE_RETAINED", "SAMPLES_WITH_DNA", "SAMPLES_WITHOUT_DNA"} for code in codes)
        described = [e["valueString"] for e in study.get("extension", [])
                     if e["url"].endswith("/biospecimen-description")]
        assert described == ([spec.description] if spec and spec.description else [])


def test_some_dev_records_retain_biospecimens(shared_dir: Path) -> None:
    specs = [t.design.bio_spec for p in sorted((shared_dir / "ctgov-dev").glob("*.json")) for t in records(p)]
    assert sum(1 for s in specs if s and s.retention and s.description) >= 2


# --- 11. parties: R5's associatedParty, one concept per CodeableConcept, as R4B extensions --------


def party_as_r5(ext: dict[str, Any]) -> dict[str, Any]:
    """An R4B associatedParty cross-version extension read as the R5 element it stands for."""
    out: dict[str, Any] = {}
    for sub in ext["extension"]:
        name = sub["url"]
        value = next(v for k, v in sub.items() if k.startswith("value"))
        if name == "classifier":
            out.setdefault("classifier", []).append(value)
        else:
            out[name] = value
    return out


@pytest.mark.parametrize("path", [*shared_params("*.json"), *shared_params("*.xml")], ids=ids)
def test_parties_say_what_r5_says(path: Path) -> None:
    for trial in records(path):
        r5_doc = written_in("fhir-r5", trial)
        r4b_doc = written(trial)
        r5_urls, r4b_urls = by_url(r5_doc), by_url(r4b_doc)

        def kind(ref: dict[str, Any], urls: dict[str, dict[str, Any]]) -> str:
            target = urls[ref["reference"]]
            return f"{target['resourceType']}/{target['id']}"

        expected = []
        for element in study_of(r5_doc).get("associatedParty", []):
            expected.append({**element, "party": kind(element["party"], r5_urls)} if "party" in element else element)
        got = []
        for ext in study_of(r4b_doc).get("extension", []):
            if ext["url"] == XV + "ResearchStudy.associatedParty":
                party = party_as_r5(ext)
                if "party" in party:
                    party["party"] = kind(party["party"], r4b_urls)
                got.append(party)
        assert got == expected


# --- 12. design: R5's studyDesign concepts (SEVCO with the CT.gov value) in R4B's category --------


@pytest.mark.parametrize("path", ALL, ids=ids)
def test_every_study_design_concept_of_r5_is_an_r4b_category(path: Path) -> None:
    for trial in all_trials(path):
        design = study_of(written_in("fhir-r5", trial)).get("studyDesign", [])
        category = study_of(written(trial)).get("category", [])
        assert [cc for cc in design if cc not in category] == []
        sevco = [c for cc in category for c in cc["coding"] if c["system"] == "http://hl7.org/fhir/study-design"]
        assert all(c.get("display") for c in sevco), sevco


# --- 13. progress: R5's progressStatus entries, as R4B extensions, study and sites ---------------


@pytest.mark.parametrize("path", ALL, ids=ids)
def test_progress_states_say_what_r5_says(path: Path) -> None:
    for trial in all_trials(path):
        r5_studies = resources(written_in("fhir-r5", trial), "ResearchStudy")
        r4b_studies = resources(written(trial), "ResearchStudy")
        assert [s["id"] for s in r4b_studies] == [s["id"] for s in r5_studies]
        for r5_study, r4b_study in zip(r5_studies, r4b_studies, strict=True):
            expected = r5_study.get("progressStatus", [])
            got = [party_as_r5(e) for e in r4b_study.get("extension", [])
                   if e["url"] == XV + "ResearchStudy.progressStatus"]
            def key(p: dict[str, Any]) -> bytes:
                return orjson.dumps(p, option=orjson.OPT_SORT_KEYS)
            assert sorted(got, key=key) == sorted(expected, key=key)


# --- 14. both releases: every HL7 coding carries HL7's display --------------------------------

HL7_CODE_SYSTEMS = ("http://hl7.org/fhir/", "http://terminology.hl7.org/")


@pytest.mark.parametrize("target", ["fhir-r5", "fhir-r4b"])
@pytest.mark.parametrize("path", ALL, ids=ids)
def test_hl7_codings_carry_their_display(path: Path, target: str) -> None:
    for trial in all_trials(path):
        doc = written_in(target, trial)
        bare = [c for c in codings(doc) if c["system"].startswith(HL7_CODE_SYSTEMS) and not c.get("display")
                and c["system"] != "http://hl7.org/fhir/FHIR-version"]  # a Bundle tag, not a concept
        assert bare == []


# --- 15. focus: the intervention itself (R5 focus.concept), its type on its EvidenceVariable -----


@pytest.mark.parametrize("path", ALL, ids=ids)
def test_focus_concepts_are_r5_focus_concepts(path: Path) -> None:
    for trial in all_trials(path):
        expected = [f["concept"] for f in study_of(written_in("fhir-r5", trial)).get("focus", [])]
        got = [{k: v for k, v in f.items() if k != "extension"} for f in study_of(written(trial)).get("focus", [])]
        assert got == expected
        assert not [c for f in got for c in f.get("coding", []) if c["system"].endswith("research-study-focus-type")]


# --- 16. arms: each arm's intended exposures reference its interventions' EvidenceVariables -------


@pytest.mark.parametrize("target", ["fhir-r5", "fhir-r4b"])
@pytest.mark.parametrize("path", ALL, ids=ids)
def test_intended_exposures_reference_the_arms_interventions(path: Path, target: str) -> None:
    for trial in all_trials(path):
        doc = written_in(target, trial)
        urls = by_url(doc)
        study = study_of(doc)
        if target == "fhir-r5":
            groups = [list(g.get("intendedExposure", [])) for g in study.get("comparisonGroup", [])]
        else:
            exposure = XV + "ResearchStudy.comparisonGroup.intendedExposure"
            groups = [[e["valueReference"] for e in a.get("extension", []) if e["url"] == exposure]
                      for a in study.get("arm", [])]
        assert len(groups) == len(trial.arms)
        for arm, exposures in zip(trial.arms, groups, strict=True):
            targets = [urls[x["reference"]] for x in exposures]  # each resolves inside the Bundle
            assert all(t["resourceType"] == "EvidenceVariable" and x["type"] == "EvidenceVariable"
                       for t, x in zip(targets, exposures, strict=True))
            # the same links as the arm's own list of names ("Drug: X"), which the records agree with
            assert sorted(x["display"] for x in exposures) == sorted(
                n.split(": ", 1)[-1] for n in arm.intervention_names)


def test_the_records_link_arms_and_interventions() -> None:
    linked = [a for p in ALL for t in all_trials(p) for a in t.arms if a.intervention_names]
    assert len(linked) > 20


# --- 17. standard age groups: any of them, each its own concept -------------------------------


@pytest.mark.parametrize("path", ALL, ids=ids)
def test_standard_age_groups_are_alternatives_each_its_own_concept(path: Path) -> None:
    for trial in all_trials(path):
        ages = trial.eligibility.std_ages
        r5 = written_in("fhir-r5", trial)
        (eligibility,) = [r for r in resources(r5, "EvidenceVariable") if r["id"].endswith("-eligibility")]
        found = [c for c in eligibility.get("characteristic", []) if c.get("linkId") == "std-ages"]
        r4b = written_in("fhir-r4b", trial)
        (group,) = resources(r4b, "Group")
        in_group = [c for c in group.get("characteristic", []) if c["code"]["coding"][0]["code"] == "stdAges"]
        if not ages:
            assert not found
            assert not in_group
            continue
        (std,) = found
        assert std["definitionByCombination"]["code"] == "any-of"
        concepts = [c["definitionByTypeAndValue"]["valueCodeableConcept"]["coding"]
                    for c in std["definitionByCombination"]["characteristic"]]
        assert [[c["code"] for c in coding] for coding in concepts] == [[a] for a in ages]
        (ref,) = in_group  # one Group characteristic (they all hold at once), referencing the alternatives
        ev = by_url(r4b)[ref["valueReference"]["reference"]]
        assert ev["resourceType"] == "EvidenceVariable"
        assert ev["characteristicCombination"] == "union"
        assert [[c["code"] for c in ch["definitionCodeableConcept"]["coding"]] for ch in ev["characteristic"]] == [
            [a] for a in ages]


# --- 18. the responsible investigator's title is a classifier of its own ----------------------


@pytest.mark.parametrize("path", ALL, ids=ids)
def test_the_investigators_title_is_its_own_concept_not_the_markers_text(path: Path) -> None:
    for trial in all_trials(path):
        party = trial.sponsors.responsible_party
        title = party.investigator_title if party else None
        r5 = study_of(written_in("fhir-r5", trial))
        responsible = [p for p in r5.get("associatedParty", [])
                       if any(c.get("code") == "responsibleParty" for cc in p.get("classifier", [])
                              for c in cc.get("coding", []))]
        for p in responsible:
            marker = [cc for cc in p["classifier"] if cc.get("coding")]
            assert all("text" not in cc for cc in marker)  # one concept: the marker's coding only
            assert [cc["text"] for cc in p["classifier"] if not cc.get("coding")] == ([title] if title else [])
        r4b = study_of(written_in("fhir-r4b", trial))
        titles = [x["valueCodeableConcept"]["text"] for e in r4b.get("extension", []) for x in e.get("extension", [])
                  if x["url"] == "classifier" and "coding" not in x.get("valueCodeableConcept", {"coding": 0})]
        assert titles == ([title] if title and responsible else [])
