"""Classic XML field coverage: every element the real records (and public.xsd) carry reaches the
Trial or is listed as known-uncovered with its reason, so nothing is dropped unnoticed."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any, Literal

import pytest
from lxml import etree

from tests.readers.test_ctgov_json import trial_values
from trial2fhir.model import Age, Trial
from trial2fhir.readers.ctgov_xml import read
from trial2fhir.readers.values import parse_date

Check = Literal["same", "date", "age", "count", "atleast"]
"""How a classic leaf is compared with the Trial: ``same`` text (stripped), ``date`` as parsed,
``age`` as an Age, ``count`` as many values (codes, text blocks, flags: translated, not copied;
leaves sharing a Trial path are counted together), ``atleast`` as many or more (``Phase 1/Phase 2``
gives two phases; site contacts carry a role of their own)."""

_SAME = {
    "acronym": "identification.acronym",
    "arm_group/arm_group_label": "arms[].label",
    "arm_group/description": "arms[].description",
    "brief_title": "identification.brief_title",
    "condition": "conditions[]",
    "condition_browse/mesh_term": "derived.condition_meshes[].term",
    "id_info/nct_id": "identification.nct_id",
    "id_info/nct_alias": "identification.nct_id_aliases[]",
    "id_info/org_study_id": "identification.org_study_id",
    "id_info/secondary_id": "identification.secondary_ids[].id",
    "intervention/arm_group_label": "interventions[].arm_labels[]",
    "intervention/description": "interventions[].description",
    "intervention/intervention_name": "interventions[].name",
    "intervention/other_name": "interventions[].other_names[]",
    "intervention_browse/mesh_term": "derived.intervention_meshes[].term",
    "keyword": "keywords[]",
    "link/description": "see_also_links[].label",
    "link/url": "see_also_links[].url",
    "location/facility/address/city": "locations[].city",
    "location/facility/address/country": "locations[].country",
    "location/facility/address/state": "locations[].state",
    "location/facility/address/zip": "locations[].zip",
    "location/facility/name": "locations[].facility",
    "location_countries/country": "derived.location_countries[]",
    "removed_countries/country": "derived.removed_countries[]",
    "official_title": "identification.official_title",
    "overall_official/affiliation": "overall_officials[].affiliation",
    "patient_data/ipd_access_criteria": "ipd_sharing.access_criteria",
    "patient_data/ipd_description": "ipd_sharing.description",
    "patient_data/ipd_time_frame": "ipd_sharing.time_frame",
    "patient_data/ipd_url": "ipd_sharing.url",
    "provided_document_section/provided_document/document_type": "documents.large_docs[].label",
    "provided_document_section/provided_document/document_url": "documents.large_docs[].url",
    "responsible_party/investigator_affiliation": "sponsors.responsible_party.investigator_affiliation",
    "responsible_party/investigator_full_name": "sponsors.responsible_party.investigator_full_name",
    "responsible_party/investigator_title": "sponsors.responsible_party.investigator_title",
    "responsible_party/name_title": "sponsors.responsible_party.old_name_title",
    "responsible_party/organization": "sponsors.responsible_party.old_organization",
    "eligibility/gender_description": "eligibility.gender_description",
    "source": "identification.organization_name",
    "sponsors/collaborator/agency": "sponsors.collaborators[].name",
    "sponsors/lead_sponsor/agency": "sponsors.lead_sponsor.name",
    "study_design_info/intervention_model_description": "design.intervention_model_description",
    "study_design_info/masking_description": "design.masking_description",
    "study_docs/study_doc/doc_id": "available_ipds[].id",
    "study_docs/study_doc/doc_type": "available_ipds[].type",
    "study_docs/study_doc/doc_url": "available_ipds[].url",
    "study_docs/study_doc/doc_comment": "available_ipds[].comment",
    "target_duration": "design.target_duration",
    "why_stopped": "status.why_stopped",
    "enrollment": "design.enrollment.count",
    **{
        f"{kind}_outcome/{leaf}": f"outcomes.{kind}[].{field}"
        for kind in ("primary", "secondary", "other")
        for leaf, field in (("measure", "measure"), ("description", "description"), ("time_frame", "time_frame"))
    },
}
_DATES = {
    "completion_date": "status.completion_date",
    "primary_completion_date": "status.primary_completion_date",
    "start_date": "status.start_date",
    "verification_date": "status.status_verified_date",
    "study_first_submitted": "status.first_submitted",
    "study_first_submitted_qc": "status.first_submitted_qc",
    "study_first_posted": "status.first_posted",
    "last_update_submitted": "status.last_update_submitted",
    "last_update_posted": "status.last_update_posted",
    "results_first_submitted": "status.results_first_submitted",
    "results_first_submitted_qc": "status.results_first_submitted_qc",
    "results_first_posted": "status.results_first_posted",
    "disposition_first_submitted": "status.disposition_first_submitted",
    "disposition_first_submitted_qc": "status.disposition_first_submitted_qc",
    "disposition_first_posted": "status.disposition_first_posted",
    "provided_document_section/provided_document/document_date": "documents.large_docs[].date",
}
_COUNT = {
    "arm_group/arm_group_type": "arms[].type",
    "biospec_retention": "design.bio_spec.retention",
    "biospec_descr/textblock": "design.bio_spec.description",
    "brief_summary/textblock": "brief_summary",
    "detailed_description/textblock": "detailed_description",
    "eligibility/criteria/textblock": "eligibility.criteria",
    "eligibility/gender": "eligibility.sex",
    "eligibility/gender_based": "eligibility.gender_based",
    "eligibility/healthy_volunteers": "eligibility.healthy_volunteers",
    "eligibility/sampling_method": "eligibility.sampling_method",
    "eligibility/study_pop/textblock": "eligibility.study_population",
    "enrollment/@type": "design.enrollment.type",
    "has_expanded_access": "status.expanded_access.has_expanded_access",
    "intervention/intervention_type": "interventions[].type",
    "location/status": "locations[].status",
    "overall_official/last_name": "overall_officials[].name",
    "overall_official/role": "overall_officials[].role",
    "overall_status": "status.overall_status",
    "last_known_status": "status.last_known_status",
    "patient_data/ipd_info_type": "ipd_sharing.info_types[]",
    "patient_data/sharing_ipd": "ipd_sharing.sharing",
    "provided_document_section/provided_document/document_has_protocol": "documents.large_docs[].has_protocol",
    "provided_document_section/provided_document/document_has_icf": "documents.large_docs[].has_icf",
    "provided_document_section/provided_document/document_has_sap": "documents.large_docs[].has_sap",
    "responsible_party/responsible_party_type": "sponsors.responsible_party.type",
    "sponsors/collaborator/agency_class": "sponsors.collaborators[].agency_class",
    "sponsors/lead_sponsor/agency_class": "sponsors.lead_sponsor.agency_class",
    "study_type": "design.study_type",
    **{f"study_design_info/{k}": f"design.{k}" for k in ("allocation", "intervention_model", "primary_purpose")},
    **{f"study_design_info/{k}": f"design.{k}" for k in ("observational_model", "time_perspective", "masking")},
    **{f"oversight_info/{k}": f"oversight.{k}" for k in ("has_dmc", "is_fda_regulated_drug")},
    **{f"oversight_info/{k}": f"oversight.{k}" for k in ("is_fda_regulated_device", "is_unapproved_device")},
    **{f"oversight_info/{k}": f"oversight.{k}" for k in ("is_ppsd", "is_us_export")},
    # references and results references both become references[]
    "reference/citation": "references[].citation",
    "results_reference/citation": "references[].citation",
    "reference/PMID": "references[].pmid",
    "results_reference/PMID": "references[].pmid",
    # overall contact and its backup are both central contacts
    **{f"{who}/{leaf}": f"central_contacts[].{field}" for who in ("overall_contact", "overall_contact_backup")
       for leaf, field in (("last_name", "name"), ("phone", "phone"), ("phone_ext", "phone_ext"), ("email", "email"))},
    # a site's contact, its backup and its investigators are all its contacts
    **{f"location/{who}/{leaf}": f"locations[].contacts[].{field}" for who in ("contact", "contact_backup")
       for leaf, field in (("phone", "phone"), ("phone_ext", "phone_ext"), ("email", "email"))},
    **{f"location/{who}/last_name": "locations[].contacts[].name"
       for who in ("contact", "contact_backup", "investigator")},
}  # fmt: skip
_TYPED = ("start_date", "primary_completion_date", "completion_date", "study_first_posted", "results_first_posted")
_DATE_TYPES = {f"{p}/@type": f"{_DATES[p]}.type" for p in (*_TYPED, "disposition_first_posted", "last_update_posted")}
"""The dates public.xsd gives a type attribute (variable_date_struct)."""
_ATLEAST = {
    "phase": "design.phases[]",
    "location/investigator/role": "locations[].contacts[].role",
    **{
        f"expanded_access_info/expanded_access_type_{k}": "design.expanded_access_types[]"
        for k in ("individual", "intermediate", "treatment")
    },
}

COVERED: dict[str, tuple[str, Check]] = {
    **{f"/clinical_study/{k}": (v, "same") for k, v in _SAME.items()},
    **{f"/clinical_study/{k}": (f"{v}.date", "date") for k, v in _DATES.items()},
    **{f"/clinical_study/{k}": (v, "count") for k, v in _COUNT.items()},
    **{f"/clinical_study/{k}": (v, "count") for k, v in _DATE_TYPES.items()},
    **{f"/clinical_study/{k}": (v, "atleast") for k, v in _ATLEAST.items()},
    "/clinical_study/eligibility/minimum_age": ("eligibility.minimum_age", "age"),
    "/clinical_study/eligibility/maximum_age": ("eligibility.maximum_age", "age"),
}

KNOWN_UNCOVERED: dict[str, str] = {
    **{
        f"/clinical_study/required_header/{leaf}": "download metadata (date, link text, URL), not trial data"
        for leaf in ("download_date", "link_text", "url")
    },
    "/clinical_study/number_of_arms": "the count of <arm_group>s: the Trial holds the arms themselves",
    "/clinical_study/number_of_groups": "the count of <arm_group>s: the Trial holds the groups themselves",
    "/clinical_study/last_update_submitted_qc": "API v2 has no such date (only lastUpdateSubmitDate)",
}
"""Classic leaves the records carry that the Trial has no field for, each with its reason."""

KNOWN_UNCOVERED_UNDER: dict[str, str] = {
    "/clinical_study/clinical_results/": "the results section is outside the Trial model for now (issue #6)",
    "/clinical_study/pending_results/": "results submissions under QC review: part of results",
}


def leaves(root: etree._Element) -> dict[str, list[str]]:
    """Text of every leaf element and attribute of the record by its path (no indices)."""
    out: dict[str, list[str]] = {}
    tree = root.getroottree()
    for el in root.iter():
        if not isinstance(el.tag, str):
            continue
        path = re.sub(r"\[\d+\]", "", tree.getpath(el))
        for name, value in el.attrib.items():
            out.setdefault(f"{path}/@{name!s}", []).append(str(value))
        text = el.text if isinstance(el.text, str) else ""
        if len(el) == 0 and text.strip():
            out.setdefault(path, []).append(text.strip())
    return out


def _expected(check: Check, values: list[str]) -> list[Any]:
    if check == "same":
        return values
    if check == "date":
        return [parse_date(v).date for v in values if v.casefold() != "unknown"]
    return [v for v in values if v.upper() != "N/A"]  # age


def _actual(check: Check, trial: Trial, path: str) -> list[Any]:
    got = trial_values(trial, path)
    return [str(v) if isinstance(v, Age | int) and check != "age" else v for v in got]


def check_coverage(root: etree._Element, trial: Trial) -> set[str]:
    """Assert every covered leaf reached the Trial; return the uncovered leaf paths."""
    found = leaves(root)
    counted: Counter[str] = Counter()
    bounds: Counter[str] = Counter()
    for path, values in found.items():
        if path not in COVERED:
            continue
        field, check = COVERED[path]
        if check == "count":
            counted[field] += len(values)
        elif check == "atleast":
            bounds[field] += sum(1 for v in values if v.casefold() != "no")
        elif check == "age":
            got = [str(a) for a in trial_values(trial, field)]
            want = [re.sub(r"^(\d+) (\w+?)s?$", r"\1 \2s", v) for v in _expected(check, values)]
            assert got == want, f"{trial.nct_id}: {path} -> {field}"
        else:
            assert _actual(check, trial, field) == _expected(check, values), f"{trial.nct_id}: {path} -> {field}"
    for field, n in counted.items():
        assert len(trial_values(trial, field)) == n, f"{trial.nct_id}: {field} should hold {n} values"
    for field, n in bounds.items():
        assert len(trial_values(trial, field)) >= n, f"{trial.nct_id}: {field} should hold {n} values or more"
    return set(found) - set(COVERED)


def is_known_uncovered(path: str) -> bool:
    return path in KNOWN_UNCOVERED or any(path.startswith(p) for p in KNOWN_UNCOVERED_UNDER)


def parse(data: bytes) -> etree._Element:
    return etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True))


def only_trial(data: bytes, file: str) -> Trial:
    (trial,) = list(read(data, file))
    assert isinstance(trial, Trial), trial
    return trial


SYNTHETIC = b"""<?xml version="1.0" encoding="UTF-8"?>
<clinical_study>
  <id_info><nct_id>NCT01234567</nct_id><nct_alias>NCT07654321</nct_alias></id_info>
  <brief_title>T</brief_title>
  <sponsors><lead_sponsor><agency>A</agency><agency_class>NIH</agency_class></lead_sponsor></sponsors>
  <source>S</source>
  <oversight_info><is_unapproved_device>No</is_unapproved_device><is_ppsd>Yes</is_ppsd></oversight_info>
  <overall_status>Completed</overall_status>
  <last_known_status>Recruiting</last_known_status>
  <study_type>Expanded Access</study_type>
  <expanded_access_info><expanded_access_type_individual>Yes</expanded_access_type_individual>
    <expanded_access_type_treatment>No</expanded_access_type_treatment></expanded_access_info>
  <study_design_info><intervention_model_description>Two cohorts</intervention_model_description>
  </study_design_info>
  <other_outcome><measure>M</measure><time_frame>1 year</time_frame><description>D</description></other_outcome>
  <eligibility><gender>Female</gender><gender_based>Yes</gender_based>
    <gender_description>Self-identified women</gender_description></eligibility>
  <overall_contact><last_name>C</last_name><phone>1</phone><phone_ext>22</phone_ext><email>c@x</email></overall_contact>
  <overall_contact_backup><last_name>B</last_name><phone_ext>44</phone_ext></overall_contact_backup>
  <location><facility><name>F</name></facility>
    <contact><last_name>L</last_name><phone>2</phone><phone_ext>33</phone_ext></contact>
    <contact_backup><last_name>K</last_name><phone_ext>55</phone_ext></contact_backup></location>
  <removed_countries><country>Canada</country><country>Mexico</country></removed_countries>
  <results_first_submitted_qc>May 2, 2020</results_first_submitted_qc>
  <disposition_first_submitted>June 1, 2019</disposition_first_submitted>
  <disposition_first_submitted_qc>June 3, 2019</disposition_first_submitted_qc>
  <disposition_first_posted type="Actual">June 5, 2019</disposition_first_posted>
  <responsible_party><name_title>Dr Old</name_title><organization>Old Org</organization></responsible_party>
  <study_docs><study_doc><doc_id>P-1</doc_id><doc_type>Study Protocol</doc_type>
    <doc_comment>On request</doc_comment></study_doc></study_docs>
  <provided_document_section><provided_document>
    <document_type>Study Protocol and Statistical Analysis Plan</document_type>
    <document_has_protocol>Yes</document_has_protocol><document_has_icf>No</document_has_icf>
    <document_has_sap>Yes</document_has_sap><document_date>March 4, 2020</document_date>
    <document_url>https://ClinicalTrials.gov/ProvidedDocs/67/NCT01234567/Prot_SAP_000.pdf</document_url>
  </provided_document></provided_document_section>
</clinical_study>
"""


def test_coverage_of_classic_xml(shared_dir: Path) -> None:
    uncovered: set[str] = set()
    exercised: set[str] = set()
    for path in sorted((shared_dir / "ctgov-dev").glob("NCT*.xml")):
        data = path.read_bytes()
        root = parse(data)
        uncovered |= check_coverage(root, only_trial(data, str(path)))
        exercised |= set(leaves(root))
    new = sorted(p for p in uncovered if not is_known_uncovered(p))
    assert new == [], f"new uncovered: {new}"
    assert set(KNOWN_UNCOVERED) <= uncovered, f"no longer seen: {sorted(set(KNOWN_UNCOVERED) - uncovered)}"
    assert any(p.startswith("/clinical_study/clinical_results/") for p in uncovered)
    # The synthetic record fills in what the real records lack: together they exercise every row.
    assert check_coverage(parse(SYNTHETIC), only_trial(SYNTHETIC, "s.xml")) == set()
    exercised |= set(leaves(parse(SYNTHETIC)))
    assert sorted(set(COVERED) - exercised) == []


def test_every_covered_classic_element_is_in_public_xsd(shared_dir: Path) -> None:
    xsd = (shared_dir / "schemas/ctgov-public/2019.02.14/public.xsd").read_text()
    names = set(re.findall(r'<xs:(?:element|attribute) name="([^"]+)"', xsd))
    for path in COVERED:
        for step in path.removeprefix("/clinical_study/").split("/"):
            assert step.removeprefix("@") in names, (path, step)


def test_coverage_check_can_fail(shared_dir: Path) -> None:
    path = shared_dir / "ctgov-dev" / "NCT04349592.xml"
    data = path.read_bytes()
    trial = only_trial(data, str(path))
    broken = trial.model_copy(update={"keywords": [*trial.keywords, "extra"]})
    with pytest.raises(AssertionError, match="keyword"):
        check_coverage(parse(data), broken)
    fewer = trial.model_copy(update={"conditions": []})
    with pytest.raises(AssertionError, match="condition"):
        check_coverage(parse(data), fewer)
