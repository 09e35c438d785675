"""ClinicalTrials.gov classic XML (``<clinical_study>``, public.xsd) -> Trial.

Parsing is defensive: no entity expansion, no network, no DTD loading, no huge trees, and any
document whose DOCTYPE declares entities is refused before lxml sees it. Classic vocabulary
("Active, not recruiting", "Phase 1/Phase 2", "U.S. Fed" ...) is normalised to API v2 enum
spelling through the code maps ``mappings/codes/ctgov-classic-*.yaml`` and the shared value
parsers; a term missing from a map is upper-snake-cased, never dropped.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Callable, Iterator, Mapping
from functools import cache
from typing import Any, TypeVar

from lxml import etree
from pydantic import ValidationError

from trial2fhir.errors import RecordError, validation_problem
from trial2fhir.mapping.codes import load_code_map
from trial2fhir.mapping.load import MAPPINGS
from trial2fhir.model import NCT_ID_PATTERN, Source, Trial
from trial2fhir.readers.base import ReadResult
from trial2fhir.readers.criteria import parse_criteria
from trial2fhir.readers.values import (
    agency_class,
    parse_age,
    parse_date,
    parse_date_type,
    parse_enrollment,
    parse_phases,
)

FORMAT = "ctgov-classic-xml"
_NCT_RE = re.compile(NCT_ID_PATTERN)

# --- vocabulary: classic spelling -> API v2 enum ---------------------------------------------
# Coded terms are ConceptMaps in mappings/codes/ctgov-classic-<concept>.yaml; the yes/no flags stay
# here because they become booleans, not codes.

YES_NO = {"Yes": True, "No": False}
HEALTHY_VOLUNTEERS = {"Accepts Healthy Volunteers": True, "Yes": True, "No": False}
_MASKING_RE = re.compile(r"^(?P<level>[^(]+?)\s*(?:\((?P<who>[^)]*)\))?$")
_ENTITY_DECL = re.compile(rb"<!ENTITY", re.IGNORECASE)
_DOCTYPE = re.compile(rb"<!DOCTYPE", re.IGNORECASE)

Fields = dict[str, Any]
T = TypeVar("T")


def upper_snake(value: str) -> str:
    """``Health Services Research`` -> ``HEALTH_SERVICES_RESEARCH``: the fallback for new terms."""
    return re.sub(r"[^A-Za-z0-9]+", "_", value).strip("_").upper()


@cache
def vocabulary(concept: str) -> dict[str, str | None]:
    """The classic term -> API v2 enum table of ``mappings/codes/ctgov-classic-<concept>.yaml``,
    keyed by case-folded term (records vary the case: "Single Group assignment")."""
    table = load_code_map(MAPPINGS / "codes" / f"ctgov-classic-{concept}.yaml").forward
    return {term.casefold(): target for term, target in table.items()}


def code(concept: str, value: str | None) -> str | None:
    """Look a classic term up (case-insensitively); unknown terms are upper-snake-cased."""
    if value is None:
        return None
    table = vocabulary(concept)
    folded = value.casefold()
    return table[folded] if folded in table else upper_snake(value)


def sniff(head: bytes) -> bool:
    start = head.removeprefix(b"\xef\xbb\xbf").lstrip()
    return start[:1] == b"<"


# --- element access --------------------------------------------------------------------------


class _El:
    """An element of the record with helpers that name their place in errors."""

    def __init__(self, el: etree._Element | None, file: str) -> None:
        self.el = el
        self.file = file

    def place(self, path: str = "") -> str:
        if self.el is None:
            return "/clinical_study"
        base = self.el.getroottree().getpath(self.el)
        return f"{base}/{path}" if path else base

    def error(self, message: str, path: str = "") -> RecordError:
        return RecordError(self.file, self.place(path), message)

    def find(self, path: str) -> _El:
        return _El(None if self.el is None else self.el.find(path), self.file)

    def all(self, path: str) -> list[_El]:
        return [] if self.el is None else [_El(e, self.file) for e in self.el.findall(path)]

    def text(self, path: str = "", *, strip: bool = True) -> str | None:
        """Text of the element at ``path``, stripped; None when absent or empty."""
        el = self.el if not path or self.el is None else self.el.find(path)
        if el is None:
            return None
        value = "".join(t for t in el.itertext() if isinstance(t, str))
        return (value.strip() if strip else value) or None

    def texts(self, path: str) -> list[str]:
        return [t for e in self.all(path) if (t := e.text()) is not None]

    def block(self, path: str) -> str | None:
        """A ``<textblock>`` with its layout indentation removed and line ends normalised."""
        return normalise_block(self.text(f"{path}/textblock", strip=False))

    def code(self, path: str, concept: str) -> str | None:
        return code(concept, self.text(path))

    def flag(self, path: str, table: Mapping[str, bool] = YES_NO) -> bool | None:
        value = self.text(path)
        if value is None:
            return None
        if value not in table:
            raise self.error(f"unexpected value {value!r} (expected one of {', '.join(table)})", path)
        return table[value]

    def date(self, path: str) -> Fields | None:
        value = self.text(path)
        date = None if value is None or value.casefold() == "unknown" else self.parse(parse_date, path)
        return None if date is None else {"date": date.date, "type": self.parse_attr(parse_date_type, path, "type")}

    def parse(self, parser: Callable[[str], T], path: str) -> T | None:
        """The text at ``path`` through a value parser; a ValueError becomes an error naming its place."""
        value = self.text(path)
        if value is None:
            return None
        try:
            return parser(value)
        except ValueError as exc:
            raise self.error(str(exc), path) from None

    def parse_attr(self, parser: Callable[[str], T], path: str, attr: str) -> T | None:
        el = self.find(path).el
        value = None if el is None else el.get(attr)
        if value is None:
            return None
        try:
            return parser(value)
        except ValueError as exc:
            raise self.error(str(exc), f"{path}/@{attr}") from None


def normalise_block(text: str | None) -> str | None:
    """Dedent a classic textblock (common leading spaces), strip line ends, keep paragraph breaks."""
    if text is None:
        return None
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    result = textwrap.dedent("\n".join(lines)).strip("\n")
    return result or None


def person_name(el: _El) -> str | None:
    """first/middle/last name and degrees as one display name (``Jane Q Doe, MD``)."""
    name = " ".join(t for t in (el.text("first_name"), el.text("middle_name"), el.text("last_name")) if t)
    degrees = el.text("degrees")
    if name and degrees:
        return f"{name}, {degrees}"
    return name or degrees


def _contact(el: _El, role: str | None = "CONTACT") -> Fields:
    return {
        "name": person_name(el),
        "role": role,
        "phone": el.text("phone"),
        "phone_ext": el.text("phone_ext"),
        "email": el.text("email"),
    }


# --- one function per part of the record -----------------------------------------------------


def _identification(r: _El) -> Fields:
    nct_id = r.text("id_info/nct_id")
    if nct_id is None or not _NCT_RE.match(nct_id):
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
            "brief_title": r.text("brief_title"),
            "official_title": r.text("official_title"),
            "acronym": r.text("acronym"),
            "organization_name": r.text("source"),
        }
    }


def _status(r: _El) -> Fields:
    return {
        "status": {
            "overall_status": r.code("overall_status", "status"),
            "last_known_status": r.code("last_known_status", "status"),
            "why_stopped": r.text("why_stopped"),
            "status_verified_date": r.date("verification_date"),
            "start_date": r.date("start_date"),
            "primary_completion_date": r.date("primary_completion_date"),
            "completion_date": r.date("completion_date"),
            "first_submitted": r.date("study_first_submitted"),
            "first_posted": r.date("study_first_posted"),
            "last_update_submitted": r.date("last_update_submitted"),
            "last_update_posted": r.date("last_update_posted"),
            "first_submitted_qc": r.date("study_first_submitted_qc"),
            # firstreceived_*: the names of these dates before the 2017 schema
            "results_first_submitted": r.date("results_first_submitted") or r.date("firstreceived_results_date"),
            "results_first_submitted_qc": r.date("results_first_submitted_qc"),
            "results_first_posted": r.date("results_first_posted"),
            "disposition_first_submitted": (
                r.date("disposition_first_submitted") or r.date("firstreceived_results_disposition_date")
            ),
            "disposition_first_submitted_qc": r.date("disposition_first_submitted_qc"),
            "disposition_first_posted": r.date("disposition_first_posted"),
            "expanded_access": (
                None if (has := r.flag("has_expanded_access")) is None else {"has_expanded_access": has}
            ),
        }
    }


def _sponsor(el: _El) -> Fields | None:
    if el.el is None:
        return None
    return {"name": el.text("agency"), "agency_class": el.parse(_agency_class, "agency_class")}


def _agency_class(value: str) -> str | None:
    try:
        return agency_class(value)
    except ValueError:  # classic policy: a term new to us is kept upper-snake-cased, not refused
        return upper_snake(value)


def _sponsors(r: _El) -> Fields:
    rp = r.find("responsible_party")
    party = {
        "type": rp.code("responsible_party_type", "responsible-party-type"),
        "investigator_full_name": rp.text("investigator_full_name"),
        "investigator_title": rp.text("investigator_title"),
        "investigator_affiliation": rp.text("investigator_affiliation"),
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


def _oversight(r: _El) -> Fields:
    o = r.find("oversight_info")
    return {
        "oversight": {
            "has_dmc": o.flag("has_dmc"),
            "is_fda_regulated_drug": o.flag("is_fda_regulated_drug"),
            "is_fda_regulated_device": o.flag("is_fda_regulated_device"),
            "is_unapproved_device": o.flag("is_unapproved_device"),
            "is_ppsd": o.flag("is_ppsd"),
            "is_us_export": o.flag("is_us_export"),
        }
    }


def _description(r: _El) -> Fields:
    return {
        "brief_summary": r.block("brief_summary"),
        "detailed_description": r.block("detailed_description"),
        "conditions": r.texts("condition"),
        "keywords": r.texts("keyword"),
    }


def _masking(d: _El) -> tuple[str | None, list[str]]:
    value = d.text("masking")
    m = _MASKING_RE.match(value) if value else None
    if value is None or m is None:
        return value and upper_snake(value), []
    level = code("masking", m.group("level"))
    who = m.group("who") or ""
    if level == "NONE" or not who:
        return level, []
    return level, [c for w in who.split(",") if (c := code("who-masked", w.strip()))]


def _design(r: _El) -> Fields:
    d = r.find("study_design_info")
    study_type = r.text("study_type")
    masking, who_masked = _masking(d)
    bio = {"retention": r.code("biospec_retention", "biospec-retention"), "description": r.block("biospec_descr")}
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
            "intervention_model_description": d.text("intervention_model_description"),
            "primary_purpose": d.code("primary_purpose", "primary-purpose"),
            "observational_model": d.code("observational_model", "observational-model"),
            "time_perspective": d.code("time_perspective", "time-perspective"),
            "masking": masking,
            "masking_description": d.text("masking_description"),
            "who_masked": who_masked,
            "enrollment": enrollment,
            "patient_registry": True if study_type and "Patient Registry" in study_type else None,
            "target_duration": r.text("target_duration"),
            "expanded_access_types": [
                kind.upper()
                for kind in ("individual", "intermediate", "treatment")
                if r.flag(f"expanded_access_info/expanded_access_type_{kind}")
            ],
            "bio_spec": bio if any(bio.values()) else None,
        }
    }


def _arms_interventions(r: _El) -> Fields:
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


def _outcomes(r: _El) -> Fields:
    def outcomes(tag: str) -> list[Fields]:
        return [
            {"measure": o.text("measure"), "description": o.text("description"), "time_frame": o.text("time_frame")}
            for o in r.all(tag)
        ]

    return {
        "outcomes": {
            "primary": outcomes("primary_outcome"),
            "secondary": outcomes("secondary_outcome"),
            "other": outcomes("other_outcome"),
        }
    }


def _eligibility(r: _El) -> Fields:
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


def _location(loc: _El) -> Fields:
    address = loc.find("facility/address")
    contacts = [_contact(c) for c in loc.all("contact") + loc.all("contact_backup")]
    contacts += [_contact(i, i.code("role", "role")) for i in loc.all("investigator")]
    return {
        "facility": loc.text("facility/name"),
        "status": loc.code("status", "status"),
        "city": address.text("city"),
        "state": address.text("state"),
        "zip": address.text("zip"),
        "country": address.text("country"),
        "contacts": contacts,
    }


def _contacts_locations(r: _El) -> Fields:
    return {
        "central_contacts": [_contact(c) for c in r.all("overall_contact") + r.all("overall_contact_backup")],
        "overall_officials": [
            {"name": person_name(o), "affiliation": o.text("affiliation"), "role": o.code("role", "role")}
            for o in r.all("overall_official")
        ],
        "locations": [_location(loc) for loc in r.all("location")],
    }


def _references(r: _El) -> Fields:
    def refs(tag: str, kind: str) -> list[Fields]:
        return [{"pmid": x.text("PMID"), "type": kind, "citation": x.text("citation")} for x in r.all(tag)]

    return {
        "references": refs("reference", "BACKGROUND") + refs("results_reference", "RESULT"),
        "see_also_links": [{"label": x.text("description"), "url": x.text("url")} for x in r.all("link")],
        "available_ipds": [
            {
                "id": d.text("doc_id"),
                "type": d.text("doc_type"),
                "url": d.text("doc_url"),
                "comment": d.text("doc_comment"),
            }
            for d in r.all("study_docs/study_doc")
        ],
    }


def _ipd_sharing(r: _El) -> Fields:
    p = r.find("patient_data")
    if p.el is None:
        return {}
    return {
        "ipd_sharing": {
            "sharing": p.code("sharing_ipd", "ipd-sharing"),
            "description": p.text("ipd_description"),
            "info_types": [code("ipd-info-type", t) for t in p.texts("ipd_info_type")],
            "time_frame": p.text("ipd_time_frame"),
            "access_criteria": p.text("ipd_access_criteria"),
            "url": p.text("ipd_url"),
        }
    }


def _documents(r: _El) -> Fields:
    docs = r.all("provided_document_section/provided_document")
    if not docs:
        return {}
    return {
        "documents": {
            "large_docs": [
                {
                    "label": d.text("document_type"),
                    "has_protocol": d.flag("document_has_protocol"),
                    "has_icf": d.flag("document_has_icf"),
                    "has_sap": d.flag("document_has_sap"),
                    "date": d.date("document_date"),
                    "url": d.text("document_url"),
                }
                for d in docs
            ]
        }
    }


def _derived(r: _El) -> Fields:
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


PARTS = (
    _identification,
    _status,
    _sponsors,
    _oversight,
    _description,
    _design,
    _arms_interventions,
    _outcomes,
    _eligibility,
    _contacts_locations,
    _references,
    _ipd_sharing,
    _documents,
    _derived,
)


def element_to_trial(root: etree._Element, source: Source) -> Trial:
    """Map a parsed ``<clinical_study>`` element to a Trial; raise RecordError on a bad record."""
    record = _El(root, source.file)
    fields: Fields = {"source": source}
    for part in PARTS:
        fields.update(part(record))
    try:
        return Trial.model_validate(fields)
    except ValidationError as exc:
        raise RecordError.of(validation_problem(exc, source.file, record.place())) from None


def _parse(data: bytes, file: str) -> etree._Element:
    doctype = _DOCTYPE.search(data)
    if doctype and _ENTITY_DECL.search(data, doctype.end()):
        line = data.count(b"\n", 0, doctype.start()) + 1
        raise RecordError(file, f"line {line}", "XML declares entities (DTD entity expansion is refused)")
    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
        dtd_validation=False,
        remove_comments=True,
    )
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        line, column = exc.position
        reason = re.sub(r", line \d+, column \d+$", "", exc.msg or "")
        raise RecordError(file, f"line {line}, column {column}", f"malformed XML: {reason}") from None
    dtd = root.getroottree().docinfo.internalDTD
    if dtd is not None and any(True for _ in dtd.iterentities()):  # type: ignore[union-attr]
        raise RecordError(file, "DOCTYPE", "XML declares entities (DTD entity expansion is refused)")
    if etree.QName(root).localname != "clinical_study":
        raise RecordError(
            file,
            f"line {root.sourceline}",
            f"XML root <{root.tag}> is not a ClinicalTrials.gov <clinical_study> record",
        )
    return root


def read(data: bytes, file: str) -> Iterator[ReadResult]:
    try:
        root = _parse(data, file)
        yield element_to_trial(root, Source(format=FORMAT, file=file, locator=""))
    except RecordError as exc:
        yield exc
    except (ValueError, TypeError) as exc:  # e.g. lxml refusing odd input
        yield RecordError(file, "", f"unreadable XML record: {exc}")
