"""ClinicalTrials.gov Data API v2 JSON -> Trial.

Accepted containers: one study object, an API page (``{"studies": [...]}``), a JSON array of
studies (the site's ``ctg-studies.json`` download) and NDJSON (one study per line). Each
``protocolSection`` module has one small function that returns the Trial fields it feeds; a
:class:`~trial2fhir.readers.json_node.Node` carries the JSON pointer along so every error names its place.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any
from urllib.parse import quote

import orjson
from pydantic import ValidationError

from trial2fhir.errors import Loc, RecordError, validation_problem
from trial2fhir.model import NCT_ID_PATTERN, Source, Trial
from trial2fhir.readers import json_stream
from trial2fhir.readers.base import ReadResult
from trial2fhir.readers.criteria import parse_criteria
from trial2fhir.readers.json_node import Fields, Node

FORMAT = "ctgov-api-v2-json"
_NCT_RE = re.compile(NCT_ID_PATTERN)



def sniff(head: bytes) -> bool:
    start = head.lstrip(b"\xef\xbb\xbf").lstrip()
    return start[:1] in (b"{", b"[")


# --- one function per protocolSection module -------------------------------------------------


def _identification(m: Node) -> Fields:
    org_id = m.obj("orgStudyIdInfo")
    org = m.obj("organization")
    nct_id = m.value.get("nctId")
    if not isinstance(nct_id, str) or not _NCT_RE.fullmatch(nct_id.strip()):
        what = (
            "no NCT ID: nctId is missing" if nct_id is None else f"nctId {nct_id!r} is not an NCT ID (NCT + 8 digits)"
        )
        raise m.error(what, "nctId")
    return {
        "identification": {
            "nct_id": nct_id.strip(),
            "nct_id_aliases": m.strs("nctIdAliases"),
            **{f"org_study_id{'' if k == 'id' else '_' + k}": org_id.text(k) for k in ("id", "type", "link")},
            "secondary_ids": [s.texts("id", "type", "domain", "link") for s in m.objs("secondaryIdInfos")],
            **m.texts("briefTitle", "officialTitle", "acronym"),
            "organization_name": org.text("fullName"),
            "organization_class": org.text("class"),
        }
    }


_STATUS_DATES = {
    "status_verified_date": "statusVerifiedDate", "start_date": "startDateStruct",
    "primary_completion_date": "primaryCompletionDateStruct", "completion_date": "completionDateStruct",
    "first_submitted": "studyFirstSubmitDate", "first_submitted_qc": "studyFirstSubmitQcDate",
    "first_posted": "studyFirstPostDateStruct", "last_update_submitted": "lastUpdateSubmitDate",
    "last_update_posted": "lastUpdatePostDateStruct", "results_first_submitted": "resultsFirstSubmitDate",
    "results_first_submitted_qc": "resultsFirstSubmitQcDate", "results_first_posted": "resultsFirstPostDateStruct",
    "disposition_first_submitted": "dispFirstSubmitDate", "disposition_first_submitted_qc": "dispFirstSubmitQcDate",
    "disposition_first_posted": "dispFirstPostDateStruct",
}  # fmt: skip
"""Trial status date -> its API v2 statusModule key (the names differ: ``Struct``, ``disp``)."""


def _status(m: Node) -> Fields:
    ea = m.obj("expandedAccessInfo")
    access = {"has_expanded_access": ea.flag("hasExpandedAccess"), "nct_id": ea.text("nctId")}
    return {
        "status": {
            **m.texts("overallStatus", "lastKnownStatus", "whyStopped"),
            **{field: m.date(key) for field, key in _STATUS_DATES.items()},
            **m.flags("delayedPosting", "resultsWaived"),
            "expanded_access": {**access, "status": ea.text("statusForNctId")} if ea.value else None,
        }
    }


def _sponsor(n: Node) -> Fields | None:
    return None if not n.value else {"name": n.text("name"), "agency_class": n.text("class")}


def _sponsors(m: Node) -> Fields:
    rp = m.obj("responsibleParty")
    party = rp.texts("type", "investigatorFullName", "investigatorTitle", "investigatorAffiliation")
    party |= {"old_name_title": rp.text("oldNameTitle"), "old_organization": rp.text("oldOrganization")}
    return {
        "sponsors": {
            "lead_sponsor": _sponsor(m.obj("leadSponsor")),
            "collaborators": [_sponsor(c) for c in m.objs("collaborators")],
            "responsible_party": party if rp.value else None,
        }
    }


def _oversight(m: Node) -> Fields:
    flags = m.flags("isFdaRegulatedDrug", "isFdaRegulatedDevice", "isUnapprovedDevice", "isPpsd", "isUsExport")
    return {"oversight": {"has_dmc": m.flag("oversightHasDmc"), **flags, **m.flags("fdaaa801Violation")}}


def _description(m: Node) -> Fields:
    return m.texts("briefSummary", "detailedDescription")


def _conditions(m: Node) -> Fields:
    return {"conditions": m.strs("conditions"), "keywords": m.strs("keywords")}


def _design(m: Node) -> Fields:
    info = m.obj("designInfo")
    masking = info.obj("maskingInfo")
    enrollment = m.obj("enrollmentInfo")
    types = m.obj("expandedAccessTypes")
    bio = m.obj("bioSpec")
    return {
        "design": {
            **m.texts("studyType", "targetDuration"),
            "phases": m.strs("phases"),
            **info.texts("allocation", "interventionModel", "interventionModelDescription", "primaryPurpose"),
            **info.texts("observationalModel", "timePerspective"),
            **masking.texts("masking", "maskingDescription"),
            "who_masked": masking.strs("whoMasked"),
            "enrollment": (
                {"count": enrollment.integer("count"), "type": enrollment.text("type")} if enrollment.value else None
            ),
            "patient_registry": m.flag("patientRegistry"),
            "expanded_access_types": [k.upper() for k in ("individual", "intermediate", "treatment") if types.flag(k)],
            "n_ptrs_to_this_exp_acc_nct_id": m.integer("nPtrsToThisExpAccNctId"),
            "bio_spec": bio.texts("retention", "description") if bio.value else None,
        }
    }


def _arms_interventions(m: Node) -> Fields:
    return {
        "arms": [
            {**a.texts("label", "type", "description"), "intervention_names": a.strs("interventionNames")}
            for a in m.objs("armGroups")
        ],
        "interventions": [
            {
                **i.texts("name", "type", "description"),
                "other_names": i.strs("otherNames"),
                "arm_labels": i.strs("armGroupLabels"),
            }
            for i in m.objs("interventions")
        ],
    }


def _outcomes(m: Node) -> Fields:
    def outcomes(key: str) -> list[Fields]:
        return [o.texts("measure", "description", "timeFrame") for o in m.objs(key)]

    return {"outcomes": {kind: outcomes(f"{kind}Outcomes") for kind in ("primary", "secondary", "other")}}


def _eligibility(m: Node) -> Fields:
    criteria = m.text("eligibilityCriteria")
    return {
        "eligibility": {
            "criteria": criteria,
            "criteria_sections": parse_criteria(criteria),
            "sex": m.text("sex"),
            "gender_based": m.flag("genderBased"),
            "gender_description": m.text("genderDescription"),
            "minimum_age": m.age("minimumAge"),
            "maximum_age": m.age("maximumAge"),
            "healthy_volunteers": m.flag("healthyVolunteers"),
            "std_ages": m.strs("stdAges"),
            "study_population": m.text("studyPopulation"),
            "sampling_method": m.text("samplingMethod"),
        }
    }


def _contact(c: Node) -> Fields:
    return c.texts("name", "role", "phone", "phoneExt", "email")


def _location(loc: Node) -> Fields:
    geo = loc.obj("geoPoint")
    return {
        **loc.texts("facility", "status", "city", "state", "zip", "country"),
        "geo_point": {"lat": geo.number("lat"), "lon": geo.number("lon")} if geo.value else None,
        "contacts": [_contact(c) for c in loc.objs("contacts")],
    }


def _contacts_locations(m: Node) -> Fields:
    return {
        "central_contacts": [_contact(c) for c in m.objs("centralContacts")],
        "overall_officials": [o.texts("name", "affiliation", "role") for o in m.objs("overallOfficials")],
        "locations": [_location(loc) for loc in m.objs("locations")],
    }


def _references(m: Node) -> Fields:
    return {
        "references": [
            {
                **r.texts("pmid", "type", "citation"),
                "retractions": [x.texts("pmid", "source") for x in r.objs("retractions")],
            }
            for r in m.objs("references")
        ],
        "see_also_links": [s.texts("label", "url") for s in m.objs("seeAlsoLinks")],
        "available_ipds": [a.texts("id", "type", "url", "comment") for a in m.objs("availIpds")],
    }


def _ipd_sharing(m: Node) -> Fields:
    if not m.value:
        return {}
    sharing = {"sharing": m.text("ipdSharing"), "info_types": m.strs("infoTypes")}
    return {"ipd_sharing": {**sharing, **m.texts("description", "timeFrame", "accessCriteria", "url")}}


# --- the sections beside protocolSection -----------------------------------------------------


# Where ClinicalTrials.gov serves a record's large documents: the last two digits of the NCT ID,
# the NCT ID, the file name (the address its study pages link; the classic XML's document_url
# gave the same file under /ProvidedDocs/). API v2 gives the file name only.
LARGE_DOC_URL = "https://cdn.clinicaltrials.gov/large-docs/{bucket}/{nct_id}/{filename}"
_NCT_ID = re.compile(NCT_ID_PATTERN)


def large_doc_url(nct_id: Any, filename: str | None) -> str | None:
    if not (isinstance(nct_id, str) and _NCT_ID.fullmatch(nct_id) and filename):
        return None
    # quoted whole: a file name, never a path
    return LARGE_DOC_URL.format(bucket=nct_id[-2:], nct_id=nct_id, filename=quote(filename, safe=""))


def _documents(section: Node, nct_id: Any) -> Fields:
    m = section.obj("largeDocumentModule")
    if not m.value:
        return {}
    docs = []
    for d in m.objs("largeDocs"):
        doc = {
            **d.texts("typeAbbrev", "label", "uploadDate", "filename"),
            **d.flags("hasProtocol", "hasSap", "hasIcf"),
            "date": d.date("date"),
            "size": d.integer("size"),
        }
        doc["url"] = large_doc_url(nct_id, doc.get("filename"))
        docs.append(doc)
    return {"documents": {"no_sap": m.flag("noSap"), "large_docs": docs}}


def _browse(m: Node, prefix: str) -> Fields:
    return {
        f"{prefix}_meshes": [t.texts("id", "term") for t in m.objs("meshes")],
        f"{prefix}_mesh_ancestors": [t.texts("id", "term") for t in m.objs("ancestors")],
        f"{prefix}_browse_leaves": [x.texts("id", "name", "asFound", "relevance") for x in m.objs("browseLeaves")],
        f"{prefix}_browse_branches": [x.texts("abbrev", "name") for x in m.objs("browseBranches")],
    }


def _derived(section: Node) -> Fields:
    misc = section.obj("miscInfoModule")
    return {
        "derived": {
            **_browse(section.obj("conditionBrowseModule"), "condition"),
            **_browse(section.obj("interventionBrowseModule"), "intervention"),
            "removed_countries": misc.strs("removedCountries"),
            "version_holder": misc.text("versionHolder"),
        }
    }


MODULES: dict[str, Callable[[Node], Fields]] = {
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
    "ipdSharingStatementModule": _ipd_sharing,
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
    "available_ipds": "referencesModule/availIpds",
    "ipd_sharing": "ipdSharingStatementModule",
}


def _error_place(loc: Loc, section: str) -> str:
    """Best-effort JSON pointer of the source field behind a pydantic error location."""
    if not loc or str(loc[0]) not in _ORIGIN:
        return section
    place = f"{section}/{_ORIGIN[str(loc[0])]}"
    if len(loc) > 1 and isinstance(loc[1], int):
        place += f"/{loc[1]}"
    return place


def study_to_trial(study: Mapping[str, Any], source: Source, pointer: str = "#") -> Trial:
    """Map one API v2 study object to a Trial; raise RecordError naming the place of a problem."""
    root = Node(study, pointer, source.file)
    if not isinstance(study, Mapping) or not isinstance(study.get("protocolSection"), dict):
        raise root.error("not a ClinicalTrials.gov study: no protocolSection")
    section = root.obj("protocolSection")
    fields: Fields = {"source": source}
    for name, mapper in MODULES.items():
        fields.update(mapper(section.obj(name)))
    fields.update(_documents(root.obj("documentSection"), fields.get("identification", {}).get("nct_id")))
    fields.update(_derived(root.obj("derivedSection")))
    fields["has_results"] = root.flag("hasResults")
    try:
        return Trial.model_validate(fields)
    except ValidationError as exc:
        raise RecordError.of(
            validation_problem(exc, source.file, lambda loc: _error_place(loc, section.pointer))
        ) from None


# --- containers (streamed: memory is one record deep whatever the file size) -------------------


def _one(value: Any, file: str, pointer: str, locator: str) -> ReadResult:
    try:
        return study_to_trial(value, Source(format=FORMAT, file=file, locator=locator), pointer)
    except RecordError as exc:
        return exc
    except (TypeError, ValueError, AttributeError) as exc:  # malformed values deep inside a record
        return RecordError(file, pointer, f"unreadable study: {exc}")


def _parse_error(exc: ValueError, raw: bytes, file: str, line: int, offset: int, pointer: str = "#",
                 starts_line: bool = True) -> RecordError:
    """The error of one record's bytes, placed in the file (line of the record + line inside it)."""
    if isinstance(exc, json_stream.DuplicateKey):  # its pointer is inside the record: put the record's in front
        return RecordError(file, pointer + exc.pointer.removeprefix("#"), str(exc))
    assert isinstance(exc, orjson.JSONDecodeError)
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as bad:  # orjson says "surrogates"; say what and where
        at = line + raw.count(b"\n", 0, bad.start)
        return RecordError(file, f"line {at}", f"invalid UTF-8 at byte {offset + bad.start}")
    place = f"line {line + exc.lineno - 1}"
    if exc.lineno > 1 or starts_line:  # an array item's first column is counted from the item, not the line
        place += f", column {exc.colno}"
    return RecordError(file, place, f"invalid JSON: {exc.msg}")


def _record(raw: bytes, file: str, line: int, offset: int, pointer: str, locator: str,
            starts_line: bool = True) -> ReadResult:
    try:
        value = json_stream.loads(raw)
    except ValueError as exc:
        return _parse_error(exc, raw, file, line, offset, pointer, starts_line)
    return _one(value, file, pointer, locator)


def _ndjson(chunks: Iterator[bytes], file: str, limit: int) -> Iterator[ReadResult]:
    for item in json_stream.ndjson_lines(chunks, limit):
        if isinstance(item, json_stream.StreamError):
            yield RecordError(file, f"line {item.line}", item.message)
            continue
        n = item.index
        yield _record(item.raw, file, n, item.offset, f"line {n} #", f"line {n}")


def _array(chunks: Iterator[bytes], file: str, limit: int) -> Iterator[ReadResult]:
    for item in json_stream.array_items(chunks, limit):
        if isinstance(item, json_stream.StreamError):
            yield RecordError(file, f"line {item.line}", item.message)
            continue
        yield _record(item.raw, file, item.line, item.offset, f"#/{item.index}", f"#/{item.index}", False)


def _document(data: bytes, file: str) -> Iterator[ReadResult]:
    """One study, or an API page ``{"studies": [...]}`` (at most 1,000 studies: read whole)."""
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        yield _parse_error(exc, data, file, 1, 0)
        return
    dups = json_stream.duplicates(data, doc)
    if isinstance(doc, dict) and "protocolSection" not in doc and isinstance(doc.get("studies"), list):
        for i, value in enumerate(doc["studies"]):
            pointer = f"#/studies/{i}"
            mine = [d for d in dups if d[0].startswith(pointer + "/")]
            yield (RecordError(file, mine[0][0], str(json_stream.DuplicateKey(*mine[0]))) if mine
                   else _one(value, file, pointer, pointer))
        return
    if dups:
        yield RecordError(file, dups[0][0], str(json_stream.DuplicateKey(*dups[0])))
        return
    yield _one(doc, file, "#", "")


def _peek(chunks: Iterator[bytes], size: int) -> tuple[bytes, Iterator[bytes]]:
    """The first bytes (enough to tell the container: three lines, or ``size``), BOM dropped, and
    the whole stream again."""
    head = b""
    for chunk in chunks:
        head += chunk
        if len(head) >= size or head.count(b"\n") >= 3:
            break
    head = head.removeprefix(b"\xef\xbb\xbf")
    return head, itertools.chain([head], chunks)


def stream(chunks: Iterator[bytes], file: str, limit: int) -> Iterator[ReadResult]:
    """Every study of a JSON stream (UTF-8 bytes in chunks): array and NDJSON item by item, one
    study or an API page whole; ``limit`` bounds one record (and a whole single document)."""
    head, chunks = _peek(chunks, 64 * 1024)
    start = head.lstrip()
    if start[:1] == b"[":
        yield from _array(chunks, file, limit)
    elif file.lower().endswith((".ndjson", ".jsonl")) or json_stream.looks_like_ndjson(start):
        yield from _ndjson(chunks, file, limit)
    else:
        data = b""
        for chunk in chunks:
            data += chunk
            if len(data) > limit:
                yield RecordError(file, "", f"one JSON document is over the {limit / 2**20:.0f} MiB limit "
                                  "(raise it with --max-file-mb, or write it as NDJSON)")
                return
        yield from _document(data, file)


def read(data: bytes, file: str) -> Iterator[ReadResult]:
    """Every study of JSON bytes already in memory (a caller that has them whole)."""
    yield from stream(iter([data]), file, max(len(data), 1))
