"""ClinicalTrials.gov classic XML (``<clinical_study>``, public.xsd) -> Trial.

Parsing is defensive: no entity expansion, no network, no DTD loading, no huge trees, and any
document whose DOCTYPE declares entities is refused before lxml sees it. Classic vocabulary
("Active, not recruiting", "Phase 1/Phase 2", "U.S. Fed" ...) is normalised to API v2 enum
spelling through the tables below; a value missing from a table is upper-snake-cased, never
dropped.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Iterator, Mapping
from typing import Any

from lxml import etree
from pydantic import ValidationError

from trial2fhir.errors import RecordError
from trial2fhir.model import NCT_ID_PATTERN, Source, Trial
from trial2fhir.readers.base import ReadResult
from trial2fhir.readers.criteria import parse_criteria
from trial2fhir.readers.ctgov_json import parse_age

FORMAT = "ctgov-classic-xml"
_NCT_RE = re.compile(NCT_ID_PATTERN)

# --- vocabulary: classic spelling -> API v2 enum ---------------------------------------------

STATUS = {
    "Not yet recruiting": "NOT_YET_RECRUITING",
    "Recruiting": "RECRUITING",
    "Enrolling by invitation": "ENROLLING_BY_INVITATION",
    "Active, not recruiting": "ACTIVE_NOT_RECRUITING",
    "Completed": "COMPLETED",
    "Suspended": "SUSPENDED",
    "Terminated": "TERMINATED",
    "Withdrawn": "WITHDRAWN",
    "Unknown status": "UNKNOWN",
    "Available": "AVAILABLE",
    "No longer available": "NO_LONGER_AVAILABLE",
    "Temporarily not available": "TEMPORARILY_NOT_AVAILABLE",
    "Approved for marketing": "APPROVED_FOR_MARKETING",
    "Withheld": "WITHHELD",
}
PHASE = {
    "N/A": "NA",
    "Early Phase 1": "EARLY_PHASE1",
    "Phase 0": "EARLY_PHASE1",
    "Phase 1": "PHASE1",
    "Phase 2": "PHASE2",
    "Phase 3": "PHASE3",
    "Phase 4": "PHASE4",
}
"""One phase; combined values such as ``Phase 1/Phase 2`` are split on ``/``."""
STUDY_TYPE: dict[str, str | None] = {
    "Interventional": "INTERVENTIONAL",
    "Observational": "OBSERVATIONAL",
    "Observational [Patient Registry]": "OBSERVATIONAL",
    "Expanded Access": "EXPANDED_ACCESS",
    "N/A": None,  # redacted device records only
}
ALLOCATION = {"Randomized": "RANDOMIZED", "Non-Randomized": "NON_RANDOMIZED", "N/A": "NA"}
INTERVENTION_MODEL = {
    "Single Group Assignment": "SINGLE_GROUP",
    "Parallel Assignment": "PARALLEL",
    "Crossover Assignment": "CROSSOVER",
    "Factorial Assignment": "FACTORIAL",
    "Sequential Assignment": "SEQUENTIAL",
}
PRIMARY_PURPOSE = {
    "Treatment": "TREATMENT",
    "Prevention": "PREVENTION",
    "Diagnostic": "DIAGNOSTIC",
    "Educational/Counseling/Training": "ECT",
    "Supportive Care": "SUPPORTIVE_CARE",
    "Screening": "SCREENING",
    "Health Services Research": "HEALTH_SERVICES_RESEARCH",
    "Basic Science": "BASIC_SCIENCE",
    "Device Feasibility": "DEVICE_FEASIBILITY",
    "Other": "OTHER",
}
OBSERVATIONAL_MODEL = {
    "Cohort": "COHORT",
    "Case-Control": "CASE_CONTROL",
    "Case-Only": "CASE_ONLY",
    "Case-Crossover": "CASE_CROSSOVER",
    "Ecologic or Community": "ECOLOGIC_OR_COMMUNITY",
    "Family-Based": "FAMILY_BASED",
    "Defined Population": "DEFINED_POPULATION",
    "Natural History": "NATURAL_HISTORY",
    "Other": "OTHER",
}
TIME_PERSPECTIVE = {
    "Retrospective": "RETROSPECTIVE",
    "Prospective": "PROSPECTIVE",
    "Cross-Sectional": "CROSS_SECTIONAL",
    "Other": "OTHER",
}
MASKING = {
    "None": "NONE",
    "Open Label": "NONE",
    "Single": "SINGLE",
    "Single Blind": "SINGLE",
    "Double": "DOUBLE",
    "Double Blind": "DOUBLE",
    "Triple": "TRIPLE",
    "Quadruple": "QUADRUPLE",
}
WHO_MASKED = {
    "Participant": "PARTICIPANT",
    "Subject": "PARTICIPANT",
    "Care Provider": "CARE_PROVIDER",
    "Caregiver": "CARE_PROVIDER",
    "Investigator": "INVESTIGATOR",
    "Outcomes Assessor": "OUTCOMES_ASSESSOR",
}
ARM_GROUP_TYPE = {
    "Experimental": "EXPERIMENTAL",
    "Active Comparator": "ACTIVE_COMPARATOR",
    "Placebo Comparator": "PLACEBO_COMPARATOR",
    "Sham Comparator": "SHAM_COMPARATOR",
    "No Intervention": "NO_INTERVENTION",
    "Other": "OTHER",
}
INTERVENTION_TYPE = {
    "Behavioral": "BEHAVIORAL",
    "Biological": "BIOLOGICAL",
    "Combination Product": "COMBINATION_PRODUCT",
    "Device": "DEVICE",
    "Diagnostic Test": "DIAGNOSTIC_TEST",
    "Dietary Supplement": "DIETARY_SUPPLEMENT",
    "Drug": "DRUG",
    "Genetic": "GENETIC",
    "Procedure": "PROCEDURE",
    "Radiation": "RADIATION",
    "Other": "OTHER",
}
AGENCY_CLASS = {"NIH": "NIH", "U.S. Fed": "FED", "Industry": "INDUSTRY", "Other": "OTHER"}
RESPONSIBLE_PARTY_TYPE = {
    "Sponsor": "SPONSOR",
    "Principal Investigator": "PRINCIPAL_INVESTIGATOR",
    "Sponsor-Investigator": "SPONSOR_INVESTIGATOR",
}
ROLE = {
    "Principal Investigator": "PRINCIPAL_INVESTIGATOR",
    "Sub-Investigator": "SUB_INVESTIGATOR",
    "Study Chair": "STUDY_CHAIR",
    "Study Director": "STUDY_DIRECTOR",
}
GENDER = {"All": "ALL", "Both": "ALL", "Female": "FEMALE", "Male": "MALE"}
SAMPLING_METHOD = {"Probability Sample": "PROBABILITY_SAMPLE", "Non-Probability Sample": "NON_PROBABILITY_SAMPLE"}
DATE_TYPE = {"Actual": "ACTUAL", "Anticipated": "ESTIMATED", "Estimate": "ESTIMATED", "Estimated": "ESTIMATED"}
YES_NO = {"Yes": True, "No": False}
HEALTHY_VOLUNTEERS = {"Accepts Healthy Volunteers": True, "Yes": True, "No": False}
MONTHS = {
    m: i
    for i, m in enumerate(
        [
            "January",
            "February",
            "March",
            "April",
            "May",
            "June",
            "July",
            "August",
            "September",
            "October",
            "November",
            "December",
        ],
        1,
    )
}

_DATE_RE = re.compile(r"^(?P<month>[A-Za-z]+)\s+(?:(?P<day>\d{1,2}),\s*)?(?P<year>\d{4})$")
_ISO_DATE_RE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")
_MASKING_RE = re.compile(r"^(?P<level>[^(]+?)\s*(?:\((?P<who>[^)]*)\))?$")
_ENTITY_DECL = re.compile(rb"<!ENTITY", re.IGNORECASE)
_DOCTYPE = re.compile(rb"<!DOCTYPE", re.IGNORECASE)

Fields = dict[str, Any]


def upper_snake(value: str) -> str:
    """``Health Services Research`` -> ``HEALTH_SERVICES_RESEARCH``: the fallback for new terms."""
    return re.sub(r"[^A-Za-z0-9]+", "_", value).strip("_").upper()


def code(table: Mapping[str, str | None], value: str | None) -> str | None:
    """Look a classic term up (case-insensitively); unknown terms are upper-snake-cased."""
    if value is None:
        return None
    if value in table:
        return table[value]
    folded = {k.casefold(): v for k, v in table.items()}
    return folded.get(value.casefold(), upper_snake(value))


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

    def code(self, path: str, table: Mapping[str, str | None]) -> str | None:
        return code(table, self.text(path))

    def flag(self, path: str, table: Mapping[str, bool] = YES_NO) -> bool | None:
        value = self.text(path)
        if value is None:
            return None
        if value not in table:
            raise self.error(f"unexpected value {value!r} (expected one of {', '.join(table)})", path)
        return table[value]

    def date(self, path: str) -> Fields | None:
        el = self.find(path)
        value = el.text()
        if value is None or value.casefold() == "unknown":
            return None
        iso = classic_date(value)
        if iso is None:
            raise self.error(f"unreadable date {value!r}", path)
        kind = None if el.el is None else el.el.get("type")
        return {"date": iso, "type": code(DATE_TYPE, kind) if kind else None}


def normalise_block(text: str | None) -> str | None:
    """Dedent a classic textblock (common leading spaces), strip line ends, keep paragraph breaks."""
    if text is None:
        return None
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    result = textwrap.dedent("\n".join(lines)).strip("\n")
    return result or None


def classic_date(value: str) -> str | None:
    """``March 2015`` -> ``2015-03``; ``March 5, 2015`` -> ``2015-03-05``; ISO forms pass through."""
    value = value.strip()
    if _ISO_DATE_RE.match(value):
        return value
    m = _DATE_RE.match(value)
    month = MONTHS.get(m.group("month").capitalize()) if m else None
    if m is None or month is None:
        return None
    day = m.group("day")
    return f"{m.group('year')}-{month:02d}" + (f"-{int(day):02d}" if day else "")


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
            "overall_status": r.code("overall_status", STATUS),
            "last_known_status": r.code("last_known_status", STATUS),
            "why_stopped": r.text("why_stopped"),
            "status_verified_date": r.date("verification_date"),
            "start_date": r.date("start_date"),
            "primary_completion_date": r.date("primary_completion_date"),
            "completion_date": r.date("completion_date"),
            "first_submitted": r.date("study_first_submitted"),
            "first_posted": r.date("study_first_posted"),
            "last_update_submitted": r.date("last_update_submitted"),
            "last_update_posted": r.date("last_update_posted"),
        }
    }


def _sponsor(el: _El) -> Fields | None:
    if el.el is None:
        return None
    return {"name": el.text("agency"), "agency_class": el.code("agency_class", AGENCY_CLASS)}


def _sponsors(r: _El) -> Fields:
    rp = r.find("responsible_party")
    party = {
        "type": rp.code("responsible_party_type", RESPONSIBLE_PARTY_TYPE),
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


def phases(value: str | None) -> list[str]:
    """``Phase 1/Phase 2`` -> [PHASE1, PHASE2]; ``N/A`` -> [NA] as API v2 writes it."""
    if not value:
        return []
    parts = [value] if value.casefold() in {k.casefold() for k in PHASE} else value.split("/")
    return [c for p in parts if (c := code(PHASE, p.strip()))]


def _masking(d: _El) -> tuple[str | None, list[str]]:
    value = d.text("masking")
    m = _MASKING_RE.match(value) if value else None
    if value is None or m is None:
        return value and upper_snake(value), []
    level = code(MASKING, m.group("level"))
    who = m.group("who") or ""
    if level == "NONE" or not who:
        return level, []
    return level, [c for w in who.split(",") if (c := code(WHO_MASKED, w.strip()))]


def _design(r: _El) -> Fields:
    d = r.find("study_design_info")
    study_type = r.text("study_type")
    phase = r.text("phase")
    masking, who_masked = _masking(d)
    enrollment = r.find("enrollment")
    count = enrollment.text()
    kind = None if enrollment.el is None else enrollment.el.get("type")
    return {
        "design": {
            "study_type": code(STUDY_TYPE, study_type),
            "phases": phases(phase),
            "allocation": d.code("allocation", ALLOCATION),
            "intervention_model": d.code("intervention_model", INTERVENTION_MODEL),
            "intervention_model_description": d.text("intervention_model_description"),
            "primary_purpose": d.code("primary_purpose", PRIMARY_PURPOSE),
            "observational_model": d.code("observational_model", OBSERVATIONAL_MODEL),
            "time_perspective": d.code("time_perspective", TIME_PERSPECTIVE),
            "masking": masking,
            "masking_description": d.text("masking_description"),
            "who_masked": who_masked,
            "enrollment": (
                {"count": count, "type": code(DATE_TYPE, kind) if kind else None} if count is not None else None
            ),
            "patient_registry": True if study_type and "Patient Registry" in study_type else None,
            "target_duration": r.text("target_duration"),
        }
    }


def _arms_interventions(r: _El) -> Fields:
    interventions: list[Fields] = [
        {
            "name": i.text("intervention_name"),
            "type": i.code("intervention_type", INTERVENTION_TYPE),
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
            "type": a.code("arm_group_type", ARM_GROUP_TYPE),
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


def _age(e: _El, path: str) -> Any:
    try:
        return parse_age(e.text(path))
    except ValueError as exc:
        raise e.error(str(exc), path) from None


def _eligibility(r: _El) -> Fields:
    e = r.find("eligibility")
    criteria = e.block("criteria")
    return {
        "eligibility": {
            "criteria": criteria,
            "criteria_sections": parse_criteria(criteria),
            "sex": e.code("gender", GENDER),
            "gender_based": e.flag("gender_based"),
            "gender_description": e.text("gender_description"),
            "minimum_age": _age(e, "minimum_age"),
            "maximum_age": _age(e, "maximum_age"),
            "healthy_volunteers": e.flag("healthy_volunteers", HEALTHY_VOLUNTEERS),
            "study_population": e.block("study_pop"),
            "sampling_method": e.code("sampling_method", SAMPLING_METHOD),
        }
    }


def _location(loc: _El) -> Fields:
    address = loc.find("facility/address")
    contacts = [_contact(c) for c in loc.all("contact") + loc.all("contact_backup")]
    contacts += [_contact(i, i.code("role", ROLE)) for i in loc.all("investigator")]
    return {
        "facility": loc.text("facility/name"),
        "status": loc.code("status", STATUS),
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
            {"name": person_name(o), "affiliation": o.text("affiliation"), "role": o.code("role", ROLE)}
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
        errors = exc.errors()
        detail = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors[:3])
        raise record.error(f"invalid record: {detail}") from None


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
