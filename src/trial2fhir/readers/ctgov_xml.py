"""ClinicalTrials.gov classic XML (``<clinical_study>``, public.xsd) -> Trial.

Parsing is defensive (:mod:`trial2fhir.readers.safe_xml`: no entities, no network, no huge
trees, an encoding that is what it says). One function per part of the record. Classic vocabulary
("Active, not recruiting", "Phase 1/Phase 2", "U.S. Fed" ...) is normalised to API v2 enum
spelling through the code maps ``mappings/codes/ctgov-classic-*.yaml`` and the shared value
parsers; a term missing from a map is upper-snake-cased, never dropped.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

from lxml import etree
from pydantic import ValidationError

from trial2fhir.errors import Loc, RecordError, validation_problem
from trial2fhir.model import NCT_ID_PATTERN, Source, Trial
from trial2fhir.readers.base import ReadResult
from trial2fhir.readers.criteria import parse_criteria
from trial2fhir.readers.safe_xml import parse_xml
from trial2fhir.readers.values import (
    agency_class,
    parse_age,
    parse_date_type,
    parse_enrollment,
    parse_phases,
)
from trial2fhir.readers.xml_element import HEALTHY_VOLUNTEERS, Element, Fields, code, upper_snake

FORMAT = "ctgov-classic-xml"
_NCT_RE = re.compile(NCT_ID_PATTERN)

_MASKING_RE = re.compile(r"^(?P<level>[^(]+?)\s*(?:\((?P<who>[^)]*)\))?$")


def sniff(head: bytes) -> bool:
    start = head.removeprefix(b"\xef\xbb\xbf").lstrip()
    return start[:1] == b"<"


def person_name(el: Element) -> str | None:
    """first/middle/last name and degrees as one display name (``Jane Q Doe, MD``)."""
    name = " ".join(t for t in (el.text("first_name"), el.text("middle_name"), el.text("last_name")) if t)
    degrees = el.text("degrees")
    if name and degrees:
        return f"{name}, {degrees}"
    return name or degrees


def _contact(el: Element, role: str | None = "CONTACT") -> Fields:
    return {"name": person_name(el), "role": role, **el.fields("phone", "phone_ext", "email")}


# --- one function per part of the record -----------------------------------------------------


def _identification(r: Element) -> Fields:
    if len(ids := r.all("id_info/nct_id")) > 1:
        raise ids[1].error(f"a second <nct_id> ({ids[1].text()!r} after {ids[0].text()!r}): one record has one NCT ID")
    nct_id = r.text("id_info/nct_id")
    if nct_id is None or not _NCT_RE.fullmatch(nct_id):
        what = (
            "no NCT ID: nct_id is missing" if nct_id is None else f"nct_id {nct_id!r} is not an NCT ID (NCT + 8 digits)"
        )
        raise r.error(what, "id_info/nct_id")
    return {
        "identification": {
            "nct_id": nct_id,
            "nct_id_aliases": r.texts("id_info/nct_alias"),
            "org_study_id": r.text("id_info/org_study_id"),
            "secondary_ids": [{"id": s} for s in r.texts("id_info/secondary_id")],
            **r.fields("brief_title", "official_title", "acronym"),
            "organization_name": r.text("source"),
        }
    }


_DATES = {
    "status_verified_date": "verification_date", "start_date": "start_date",
    "primary_completion_date": "primary_completion_date", "completion_date": "completion_date",
    "first_submitted": "study_first_submitted", "first_submitted_qc": "study_first_submitted_qc",
    "first_posted": "study_first_posted", "last_update_submitted": "last_update_submitted",
    "last_update_posted": "last_update_posted", "results_first_submitted_qc": "results_first_submitted_qc",
    "results_first_posted": "results_first_posted", "disposition_first_submitted_qc": "disposition_first_submitted_qc",
    "disposition_first_posted": "disposition_first_posted",
}  # fmt: skip
"""Trial status date -> its classic element."""


def _status(r: Element) -> Fields:
    has = r.flag("has_expanded_access")
    return {
        "status": {
            "overall_status": r.code("overall_status", "status"),
            "last_known_status": r.code("last_known_status", "status"),
            "why_stopped": r.text("why_stopped"),
            **{field: r.date(tag) for field, tag in _DATES.items()},
            # firstreceived_*: the names of these two dates before the 2017 schema
            "results_first_submitted": r.date("results_first_submitted") or r.date("firstreceived_results_date"),
            "disposition_first_submitted": (
                r.date("disposition_first_submitted") or r.date("firstreceived_results_disposition_date")
            ),
            "expanded_access": None if has is None else {"has_expanded_access": has},
        }
    }


def _sponsor(el: Element) -> Fields | None:
    if el.el is None:
        return None
    return {"name": el.text("agency"), "agency_class": el.parse(_agency_class, "agency_class")}


def _agency_class(value: str) -> str | None:
    try:
        return agency_class(value)
    except ValueError:  # classic policy: a term new to us is kept upper-snake-cased, not refused
        return upper_snake(value)


def _sponsors(r: Element) -> Fields:
    rp = r.find("responsible_party")
    party = {
        "type": rp.code("responsible_party_type", "responsible-party-type"),
        **rp.fields("investigator_full_name", "investigator_title", "investigator_affiliation"),
        "old_name_title": rp.text("name_title"),
        "old_organization": rp.text("organization"),
    }
    return {
        "sponsors": {
            "lead_sponsor": _sponsor(r.find("sponsors/lead_sponsor")),
            "collaborators": [_sponsor(c) for c in r.all("sponsors/collaborator")],
            "responsible_party": party if any(party.values()) else None,
        }
    }


def _oversight(r: Element) -> Fields:
    o = r.find("oversight_info")
    flags = ("has_dmc", "is_fda_regulated_drug", "is_fda_regulated_device", "is_unapproved_device", "is_ppsd")
    return {"oversight": {tag: o.flag(tag) for tag in (*flags, "is_us_export")}}


def _description(r: Element) -> Fields:
    return {
        "brief_summary": r.block("brief_summary"),
        "detailed_description": r.block("detailed_description"),
        "conditions": r.texts("condition"),
        "keywords": r.texts("keyword"),
    }


def _masking(d: Element) -> tuple[str | None, list[str]]:
    value = d.text("masking")
    m = _MASKING_RE.match(value) if value else None
    if value is None or m is None:
        return value and upper_snake(value), []
    level = code("masking", m.group("level"))
    who = m.group("who") or ""
    if level == "NONE" or not who:
        return level, []
    return level, [c for w in who.split(",") if (c := code("who-masked", w.strip()))]


def _design(r: Element) -> Fields:
    d = r.find("study_design_info")
    study_type = r.text("study_type")
    masking, who_masked = _masking(d)
    bio = {"retention": r.code("biospec_retention", "biospec-retention"), "description": r.block("biospec_descr")}
    def access(kind: str) -> bool | None:
        return r.flag(f"expanded_access_info/expanded_access_type_{kind}")

    parsed = r.parse(parse_enrollment, "enrollment")
    enrollment = None if parsed is None else parsed.model_dump()
    if enrollment is not None and enrollment["type"] is None:
        enrollment["type"] = r.parse_attr(parse_date_type, "enrollment", "type")
    return {
        "design": {
            "study_type": code("study-type", study_type),
            "phases": r.parse(parse_phases, "phase") or [],
            "allocation": d.code("allocation", "allocation"),
            "intervention_model": d.code("intervention_model", "intervention-model"),
            "primary_purpose": d.code("primary_purpose", "primary-purpose"),
            "observational_model": d.code("observational_model", "observational-model"),
            "time_perspective": d.code("time_perspective", "time-perspective"),
            "masking": masking,
            **d.fields("intervention_model_description", "masking_description"),
            "who_masked": who_masked,
            "enrollment": enrollment,
            "patient_registry": True if study_type and "Patient Registry" in study_type else None,
            "target_duration": r.text("target_duration"),
            "expanded_access_types": [k.upper() for k in ("individual", "intermediate", "treatment") if access(k)],
            "bio_spec": bio if any(bio.values()) else None,
        }
    }


def _arms_interventions(r: Element) -> Fields:
    interventions: list[Fields] = [
        {
            "name": i.text("intervention_name"),
            "type": i.code("intervention_type", "intervention-type"),
            "description": i.text("description"),
            "other_names": i.texts("other_name"),
            "arm_labels": i.texts("arm_group_label"),
        }
        for i in r.all("intervention")
    ]

    def names(label: str | None) -> list[str]:
        # API v2 lists an arm's interventions as "TYPE: Name"; classic XML links them the other way.
        return [
            f"{i['type']}: {i['name']}" if i["type"] else str(i["name"])
            for i in interventions
            if label in i["arm_labels"]
        ]

    arms = [
        {
            "label": (label := a.text("arm_group_label")),
            "type": a.code("arm_group_type", "arm-group-type"),
            "description": a.text("description"),
            "intervention_names": names(label),
        }
        for a in r.all("arm_group")
    ]
    return {"arms": arms, "interventions": interventions}


def _outcomes(r: Element) -> Fields:
    def outcomes(tag: str) -> list[Fields]:
        return [o.fields("measure", "description", "time_frame") for o in r.all(tag)]

    return {"outcomes": {kind: outcomes(f"{kind}_outcome") for kind in ("primary", "secondary", "other")}}


def _eligibility(r: Element) -> Fields:
    e = r.find("eligibility")
    criteria = e.block("criteria")
    return {
        "eligibility": {
            "criteria": criteria,
            "criteria_sections": parse_criteria(criteria),
            "sex": e.code("gender", "gender"),
            "gender_based": e.flag("gender_based"),
            "gender_description": e.text("gender_description"),
            "minimum_age": e.parse(parse_age, "minimum_age"),
            "maximum_age": e.parse(parse_age, "maximum_age"),
            "healthy_volunteers": e.flag("healthy_volunteers", HEALTHY_VOLUNTEERS),
            "study_population": e.block("study_pop"),
            "sampling_method": e.code("sampling_method", "sampling-method"),
        }
    }


def _location(loc: Element) -> Fields:
    address = loc.find("facility/address")
    contacts = [_contact(c) for c in loc.all("contact") + loc.all("contact_backup")]
    contacts += [_contact(i, i.code("role", "role")) for i in loc.all("investigator")]
    return {
        "facility": loc.text("facility/name"),
        "status": loc.code("status", "status"),
        **address.fields("city", "state", "zip", "country"),
        "contacts": contacts,
    }


def _contacts_locations(r: Element) -> Fields:
    return {
        "central_contacts": [_contact(c) for c in r.all("overall_contact") + r.all("overall_contact_backup")],
        "overall_officials": [
            {"name": person_name(o), "affiliation": o.text("affiliation"), "role": o.code("role", "role")}
            for o in r.all("overall_official")
        ],
        "locations": [_location(loc) for loc in r.all("location")],
    }


def _references(r: Element) -> Fields:
    def refs(tag: str, kind: str) -> list[Fields]:
        return [{"pmid": x.text("PMID"), "type": kind, "citation": x.text("citation")} for x in r.all(tag)]

    return {
        "references": refs("reference", "BACKGROUND") + refs("results_reference", "RESULT"),
        "see_also_links": [{"label": x.text("description"), "url": x.text("url")} for x in r.all("link")],
        "available_ipds": [
            {k: d.text(f"doc_{k}") for k in ("id", "type", "url", "comment")} for d in r.all("study_docs/study_doc")
        ],
    }


def _ipd_sharing(r: Element) -> Fields:
    p = r.find("patient_data")
    if p.el is None:
        return {}
    return {
        "ipd_sharing": {
            "sharing": p.code("sharing_ipd", "ipd-sharing"),
            "info_types": [code("ipd-info-type", t) for t in p.texts("ipd_info_type")],
            **{k: p.text(f"ipd_{k}") for k in ("description", "time_frame", "access_criteria", "url")},
        }
    }


def _documents(r: Element) -> Fields:
    docs = r.all("provided_document_section/provided_document")
    if not docs:
        return {}
    return {
        "documents": {
            "large_docs": [
                {
                    "label": d.text("document_type"),
                    **{f"has_{k}": d.flag(f"document_has_{k}") for k in ("protocol", "icf", "sap")},
                    "date": d.date("document_date"),
                    "url": d.text("document_url"),
                }
                for d in docs
            ]
        }
    }


def _derived(r: Element) -> Fields:
    return {
        "derived": {
            "condition_meshes": [{"term": t} for t in r.texts("condition_browse/mesh_term")],
            "intervention_meshes": [{"term": t} for t in r.texts("intervention_browse/mesh_term")],
            "location_countries": r.texts("location_countries/country"),
            "removed_countries": r.texts("removed_countries/country"),
        },
        # The public download carries <clinical_results> whenever results are posted.
        "has_results": r.find("clinical_results").el is not None,
    }


PARTS: tuple[Callable[[Element], Fields], ...] = (
    *(_identification, _status, _sponsors, _oversight, _description, _design, _arms_interventions, _outcomes),
    *(_eligibility, _contacts_locations, _references, _ipd_sharing, _documents, _derived),
)


_ORIGIN = {
    "identification": "id_info", "sponsors": "sponsors", "oversight": "oversight_info", "arms": "arm_group",
    "interventions": "intervention", "eligibility": "eligibility", "central_contacts": "overall_contact",
    "overall_officials": "overall_official", "locations": "location", "see_also_links": "link",
    "available_ipds": "study_docs/study_doc", "ipd_sharing": "patient_data",
    "documents": "provided_document_section/provided_document",
}  # fmt: skip
"""Trial field -> the classic element it comes from, to place a model error (best effort)."""


def _error_place(loc: Loc) -> str:
    field = str(loc[0]) if loc else ""
    tag = _ORIGIN.get(field)
    if tag is None:
        return "/clinical_study"
    rest = loc[2:] if field == "documents" else loc[1:]  # documents.large_docs[i]: i is the element's
    index = f"[{rest[0] + 1}]" if rest and isinstance(rest[0], int) else ""
    return f"/clinical_study/{tag}{index}"


def element_to_trial(root: etree._Element, source: Source) -> Trial:
    """Map a parsed ``<clinical_study>`` element to a Trial; raise RecordError on a bad record."""
    record = Element(root, source.file)
    fields: Fields = {"source": source}
    for part in PARTS:
        fields.update(part(record))
    try:
        return Trial.model_validate(fields)
    except ValidationError as exc:
        raise RecordError.of(validation_problem(exc, source.file, _error_place)) from None


def read(data: bytes, file: str) -> Iterator[ReadResult]:
    try:
        root = parse_xml(data, file, "clinical_study")
        yield element_to_trial(root, Source(format=FORMAT, file=file, locator=""))
    except RecordError as exc:
        yield exc
    except (ValueError, TypeError) as exc:  # e.g. lxml refusing odd input
        yield RecordError(file, "", f"unreadable XML record: {exc}")
