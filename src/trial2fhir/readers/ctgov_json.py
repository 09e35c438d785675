"""ClinicalTrials.gov Data API v2 JSON -> Trial.

Accepted containers: one study object, an API page (``{"studies": [...]}``), a JSON array of
studies (the site's ``ctg-studies.json`` download) and NDJSON (one study per line). Each
``protocolSection`` module has one small function that returns the Trial fields it feeds; a
:class:`_Node` carries the JSON pointer along so every error names its place.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import orjson
from pydantic import ValidationError

from trial2fhir.errors import RecordError
from trial2fhir.model import NCT_ID_PATTERN, Age, Source, Trial
from trial2fhir.readers.base import ReadResult
from trial2fhir.readers.criteria import parse_criteria

FORMAT = "ctgov-api-v2-json"
_NCT_RE = re.compile(NCT_ID_PATTERN)
_AGE_RE = re.compile(r"^\s*(\d+)\s*(year|month|week|day|hour|minute)s?\s*$", re.IGNORECASE)
_NO_AGE = {"", "N/A", "NA", "NONE", "NO LIMIT"}

Fields = dict[str, Any]


def sniff(head: bytes) -> bool:
    start = head.lstrip(b"\xef\xbb\xbf").lstrip()
    return start[:1] in (b"{", b"[")


# --- shared helpers (also used by the classic XML reader) ------------------------------------


def parse_age(text: str | None) -> Age | None:
    """``18 Years`` / ``1 Year`` -> Age(18, "Years"); None for absent or ``N/A``; ValueError else."""
    if text is None or text.strip().upper() in _NO_AGE:
        return None
    m = _AGE_RE.match(text)
    if not m:
        raise ValueError(f"unreadable age {text!r}")
    unit = m.group(2).capitalize() + "s"
    return Age.model_validate({"value": int(m.group(1)), "unit": unit})


def escape_pointer(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


class _Node:
    """A JSON value with its JSON pointer; accessors check types and raise RecordError."""

    def __init__(self, value: Any, pointer: str, file: str) -> None:
        self.value = value
        self.pointer = pointer
        self.file = file

    def error(self, message: str, key: str | None = None) -> RecordError:
        place = self.pointer if key is None else f"{self.pointer}/{escape_pointer(key)}"
        return RecordError(self.file, place, message)

    def child(self, key: str) -> _Node:
        return _Node(self.value.get(key), f"{self.pointer}/{escape_pointer(key)}", self.file)

    def obj(self, key: str) -> _Node:
        """The object at ``key``; an empty one when absent."""
        node = self.child(key)
        if node.value is None:
            node.value = {}
        elif not isinstance(node.value, dict):
            raise node.error("expected a JSON object")
        return node

    def items(self, key: str) -> list[_Node]:
        """The elements of the array at ``key``; none when absent."""
        node = self.child(key)
        if node.value is None:
            return []
        if not isinstance(node.value, list):
            raise node.error("expected a JSON array")
        return [_Node(v, f"{node.pointer}/{i}", self.file) for i, v in enumerate(node.value)]

    def objs(self, key: str) -> list[_Node]:
        nodes = self.items(key)
        for n in nodes:
            if not isinstance(n.value, dict):
                raise n.error("expected a JSON object")
        return nodes

    def text(self, key: str) -> str | None:
        """The string at ``key``, leading/trailing white space stripped; None when absent/empty."""
        v = self.value.get(key)
        if v is None:
            return None
        if isinstance(v, bool) or not isinstance(v, str | int | float):
            raise self.error(f"expected a string, got {type(v).__name__}", key)
        s = str(v).strip()
        return s or None

    def strs(self, key: str) -> list[str]:
        out: list[str] = []
        for n in self.items(key):
            if not isinstance(n.value, str):
                raise n.error(f"expected a string, got {type(n.value).__name__}")
            if n.value.strip():
                out.append(n.value.strip())
        return out

    def raw(self, key: str) -> Any:
        """The value at ``key`` as is, for pydantic to check (booleans, numbers)."""
        return self.value.get(key)

    def date(self, key: str) -> Fields | None:
        """A DateStruct/PartialDateStruct (``{"date", "type"}``) or a bare date string."""
        v = self.value.get(key)
        if v is None:
            return None
        if isinstance(v, str):
            return {"date": v.strip()}
        node = self.obj(key)
        date = node.text("date")
        return None if date is None else {"date": date, "type": node.text("type")}

    def age(self, key: str) -> Age | None:
        try:
            return parse_age(self.text(key))
        except ValueError as exc:
            raise self.error(str(exc), key) from None


# --- one function per protocolSection module -------------------------------------------------


def _identification(m: _Node) -> Fields:
    org_id = m.obj("orgStudyIdInfo")
    org = m.obj("organization")
    nct_id = m.raw("nctId")
    if not isinstance(nct_id, str) or not _NCT_RE.match(nct_id.strip()):
        what = (
            "no NCT ID: nctId is missing" if nct_id is None else f"nctId {nct_id!r} is not an NCT ID (NCT + 8 digits)"
        )
        raise m.error(what, "nctId")
    return {
        "identification": {
            "nct_id": nct_id.strip(),
            "nct_id_aliases": m.strs("nctIdAliases"),
            "org_study_id": org_id.text("id"),
            "org_study_id_type": org_id.text("type"),
            "org_study_id_link": org_id.text("link"),
            "secondary_ids": [
                {
                    "id": s.text("id"),
                    "type": s.text("type"),
                    "domain": s.text("domain"),
                    "link": s.text("link"),
                }
                for s in m.objs("secondaryIdInfos")
            ],
            "brief_title": m.text("briefTitle"),
            "official_title": m.text("officialTitle"),
            "acronym": m.text("acronym"),
            "organization_name": org.text("fullName"),
            "organization_class": org.text("class"),
        }
    }


def _status(m: _Node) -> Fields:
    return {
        "status": {
            "overall_status": m.text("overallStatus"),
            "last_known_status": m.text("lastKnownStatus"),
            "why_stopped": m.text("whyStopped"),
            "status_verified_date": m.date("statusVerifiedDate"),
            "start_date": m.date("startDateStruct"),
            "primary_completion_date": m.date("primaryCompletionDateStruct"),
            "completion_date": m.date("completionDateStruct"),
            "first_submitted": m.date("studyFirstSubmitDate"),
            "first_posted": m.date("studyFirstPostDateStruct"),
            "last_update_submitted": m.date("lastUpdateSubmitDate"),
            "last_update_posted": m.date("lastUpdatePostDateStruct"),
        }
    }


def _sponsor(n: _Node) -> Fields | None:
    return None if not n.value else {"name": n.text("name"), "agency_class": n.text("class")}


def _sponsors(m: _Node) -> Fields:
    rp = m.obj("responsibleParty")
    party = {
        "type": rp.text("type"),
        "investigator_full_name": rp.text("investigatorFullName"),
        "investigator_title": rp.text("investigatorTitle"),
        "investigator_affiliation": rp.text("investigatorAffiliation"),
        "old_name_title": rp.text("oldNameTitle"),
        "old_organization": rp.text("oldOrganization"),
    }
    return {
        "sponsors": {
            "lead_sponsor": _sponsor(m.obj("leadSponsor")),
            "collaborators": [_sponsor(c) for c in m.objs("collaborators")],
            "responsible_party": party if rp.value else None,
        }
    }


def _oversight(m: _Node) -> Fields:
    return {
        "oversight": {
            "has_dmc": m.raw("oversightHasDmc"),
            "is_fda_regulated_drug": m.raw("isFdaRegulatedDrug"),
            "is_fda_regulated_device": m.raw("isFdaRegulatedDevice"),
            "is_unapproved_device": m.raw("isUnapprovedDevice"),
            "is_ppsd": m.raw("isPpsd"),
            "is_us_export": m.raw("isUsExport"),
            "fdaaa801_violation": m.raw("fdaaa801Violation"),
        }
    }


def _description(m: _Node) -> Fields:
    return {"brief_summary": m.text("briefSummary"), "detailed_description": m.text("detailedDescription")}


def _conditions(m: _Node) -> Fields:
    return {"conditions": m.strs("conditions"), "keywords": m.strs("keywords")}


def _design(m: _Node) -> Fields:
    info = m.obj("designInfo")
    masking = info.obj("maskingInfo")
    enrollment = m.obj("enrollmentInfo")
    return {
        "design": {
            "study_type": m.text("studyType"),
            "phases": m.strs("phases"),
            "allocation": info.text("allocation"),
            "intervention_model": info.text("interventionModel"),
            "intervention_model_description": info.text("interventionModelDescription"),
            "primary_purpose": info.text("primaryPurpose"),
            "observational_model": info.text("observationalModel"),
            "time_perspective": info.text("timePerspective"),
            "masking": masking.text("masking"),
            "masking_description": masking.text("maskingDescription"),
            "who_masked": masking.strs("whoMasked"),
            "enrollment": (
                {"count": enrollment.raw("count"), "type": enrollment.text("type")} if enrollment.value else None
            ),
            "patient_registry": m.raw("patientRegistry"),
            "target_duration": m.text("targetDuration"),
        }
    }


def _arms_interventions(m: _Node) -> Fields:
    return {
        "arms": [
            {
                "label": a.text("label"),
                "type": a.text("type"),
                "description": a.text("description"),
                "intervention_names": a.strs("interventionNames"),
            }
            for a in m.objs("armGroups")
        ],
        "interventions": [
            {
                "name": i.text("name"),
                "type": i.text("type"),
                "description": i.text("description"),
                "other_names": i.strs("otherNames"),
                "arm_labels": i.strs("armGroupLabels"),
            }
            for i in m.objs("interventions")
        ],
    }


def _outcomes(m: _Node) -> Fields:
    def outcomes(key: str) -> list[Fields]:
        return [
            {
                "measure": o.text("measure"),
                "description": o.text("description"),
                "time_frame": o.text("timeFrame"),
            }
            for o in m.objs(key)
        ]

    return {
        "outcomes": {
            "primary": outcomes("primaryOutcomes"),
            "secondary": outcomes("secondaryOutcomes"),
            "other": outcomes("otherOutcomes"),
        }
    }


def _eligibility(m: _Node) -> Fields:
    criteria = m.text("eligibilityCriteria")
    return {
        "eligibility": {
            "criteria": criteria,
            "criteria_sections": parse_criteria(criteria),
            "sex": m.text("sex"),
            "gender_based": m.raw("genderBased"),
            "gender_description": m.text("genderDescription"),
            "minimum_age": m.age("minimumAge"),
            "maximum_age": m.age("maximumAge"),
            "healthy_volunteers": m.raw("healthyVolunteers"),
            "std_ages": m.strs("stdAges"),
            "study_population": m.text("studyPopulation"),
            "sampling_method": m.text("samplingMethod"),
        }
    }


def _contact(c: _Node) -> Fields:
    return {
        "name": c.text("name"),
        "role": c.text("role"),
        "phone": c.text("phone"),
        "phone_ext": c.text("phoneExt"),
        "email": c.text("email"),
    }


def _location(loc: _Node) -> Fields:
    geo = loc.obj("geoPoint")
    return {
        "facility": loc.text("facility"),
        "status": loc.text("status"),
        "city": loc.text("city"),
        "state": loc.text("state"),
        "zip": loc.text("zip"),
        "country": loc.text("country"),
        "geo_point": {"lat": geo.raw("lat"), "lon": geo.raw("lon")} if geo.value else None,
        "contacts": [_contact(c) for c in loc.objs("contacts")],
    }


def _contacts_locations(m: _Node) -> Fields:
    return {
        "central_contacts": [_contact(c) for c in m.objs("centralContacts")],
        "overall_officials": [
            {"name": o.text("name"), "affiliation": o.text("affiliation"), "role": o.text("role")}
            for o in m.objs("overallOfficials")
        ],
        "locations": [_location(loc) for loc in m.objs("locations")],
    }


def _references(m: _Node) -> Fields:
    return {
        "references": [
            {"pmid": r.text("pmid"), "type": r.text("type"), "citation": r.text("citation")}
            for r in m.objs("references")
        ],
        "see_also_links": [{"label": s.text("label"), "url": s.text("url")} for s in m.objs("seeAlsoLinks")],
    }


MODULES: dict[str, Callable[[_Node], Fields]] = {
    "identificationModule": _identification,
    "statusModule": _status,
    "sponsorCollaboratorsModule": _sponsors,
    "oversightModule": _oversight,
    "descriptionModule": _description,
    "conditionsModule": _conditions,
    "designModule": _design,
    "armsInterventionsModule": _arms_interventions,
    "outcomesModule": _outcomes,
    "eligibilityModule": _eligibility,
    "contactsLocationsModule": _contacts_locations,
    "referencesModule": _references,
}
"""protocolSection module -> the function that maps it (modules not listed have no Trial field)."""

# Trial field (first element of a pydantic error location) -> where it comes from in protocolSection.
_ORIGIN: dict[str, str] = {
    "identification": "identificationModule",
    "status": "statusModule",
    "sponsors": "sponsorCollaboratorsModule",
    "oversight": "oversightModule",
    "brief_summary": "descriptionModule/briefSummary",
    "detailed_description": "descriptionModule/detailedDescription",
    "conditions": "conditionsModule/conditions",
    "keywords": "conditionsModule/keywords",
    "design": "designModule",
    "arms": "armsInterventionsModule/armGroups",
    "interventions": "armsInterventionsModule/interventions",
    "outcomes": "outcomesModule",
    "eligibility": "eligibilityModule",
    "central_contacts": "contactsLocationsModule/centralContacts",
    "overall_officials": "contactsLocationsModule/overallOfficials",
    "locations": "contactsLocationsModule/locations",
    "references": "referencesModule/references",
    "see_also_links": "referencesModule/seeAlsoLinks",
}


def _error_place(loc: tuple[int | str, ...], section: str) -> str:
    """Best-effort JSON pointer of the source field behind a pydantic error location."""
    if not loc or str(loc[0]) not in _ORIGIN:
        return section
    place = f"{section}/{_ORIGIN[str(loc[0])]}"
    if len(loc) > 1 and isinstance(loc[1], int):
        place += f"/{loc[1]}"
    return place


def study_to_trial(study: Mapping[str, Any], source: Source, pointer: str = "#") -> Trial:
    """Map one API v2 study object to a Trial; raise RecordError naming the place of a problem."""
    root = _Node(study, pointer, source.file)
    if not isinstance(study, Mapping) or not isinstance(study.get("protocolSection"), dict):
        raise root.error("not a ClinicalTrials.gov study: no protocolSection")
    section = root.obj("protocolSection")
    fields: Fields = {"source": source}
    for name, mapper in MODULES.items():
        fields.update(mapper(section.obj(name)))
    try:
        return Trial.model_validate(fields)
    except ValidationError as exc:
        errors = exc.errors()
        detail = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors[:3])
        more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
        raise RecordError(source.file, _error_place(errors[0]["loc"], section.pointer), detail + more) from None


# --- containers ------------------------------------------------------------------------------


def _one(value: Any, file: str, pointer: str, locator: str) -> ReadResult:
    try:
        return study_to_trial(value, Source(format=FORMAT, file=file, locator=locator), pointer)
    except RecordError as exc:
        return exc
    except (TypeError, ValueError, AttributeError) as exc:  # malformed values deep inside a record
        return RecordError(file, pointer, f"unreadable study: {exc}")


def _json_error(exc: orjson.JSONDecodeError, file: str, line_offset: int = 0) -> RecordError:
    reason = exc.msg
    return RecordError(file, f"line {exc.lineno + line_offset}, column {exc.colno}", f"invalid JSON: {reason}")


def _read_ndjson(text: bytes, file: str) -> Iterator[ReadResult]:
    for number, line in enumerate(text.split(b"\n"), start=1):
        if not line.strip():
            continue
        try:
            value = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            yield _json_error(exc, file, number - 1)
            continue
        yield _one(value, file, f"line {number} #", f"line {number}")


def read(data: bytes, file: str) -> Iterator[ReadResult]:
    text = data.removeprefix(b"\xef\xbb\xbf")
    try:
        doc = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        first = text.lstrip().split(b"\n", 1)[0]
        try:
            first_is_object = isinstance(orjson.loads(first), dict)
        except orjson.JSONDecodeError:
            first_is_object = False
        if first_is_object:
            yield from _read_ndjson(text, file)
        else:
            yield _json_error(exc, file)
        return
    if isinstance(doc, list):
        for i, value in enumerate(doc):
            yield _one(value, file, f"#/{i}", f"#/{i}")
    elif isinstance(doc, dict) and "protocolSection" not in doc and isinstance(doc.get("studies"), list):
        for i, value in enumerate(doc["studies"]):
            yield _one(value, file, f"#/studies/{i}", f"#/studies/{i}")
    else:
        yield _one(doc, file, "#", "")
