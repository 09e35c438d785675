"""Registry page, plain-language summary layout -> Trial.

The layout: a lay title, the official title, ``PHASE · Sponsor · NCT…``, a one-sentence lay
summary; a ``Quick facts`` Markdown table; lay sections (``What this trial studies``, ``Who should
consider this trial``, ``Why it matters``); ``Eligibility criteria`` (Markdown lists, kept verbatim);
``Where this trial is running`` (``- Facility — City, State, Country (STATUS)``); ``Study contacts``;
``How to participate`` (site boilerplate); a last ``Conditions: a, b, c`` line.

Rules are data: the tables below map each label to the Trial field it feeds; one small function
per section. Lines no rule places (e.g. the "Good fit" / "Potential benefit" lay lines, which no
Trial field holds) are returned by :func:`parse` as unplaced.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

from trial2fhir.model import SourceFormat, Trial
from trial2fhir.readers.base import ReadResult
from trial2fhir.readers.criteria import parse_criteria
from trial2fhir.readers.pages.text import (
    RECRUITMENT_STATUS,
    SEX,
    SEX_ALIASES,
    STATUS,
    STATUS_ALIASES,
    STUDY_TYPE,
    Draft,
    Line,
    Setter,
    code,
    date_value,
    nct_in,
    page_lines,
    paragraphs,
    parse_enrollment,
    parse_phases,
    parse_sponsor,
    put_ages,
    put_nct,
    read_page,
    sections,
    setter,
    split_list,
)

FORMAT: SourceFormat = "page-summary"

HEADINGS = {
    "Quick facts": "facts",
    "What this trial studies": "studies",
    "Who should consider this trial": "lay",
    "Why it matters": "lay",
    "Eligibility criteria": "eligibility",
    "Where this trial is running": "locations",
    "Study contacts": "contacts",
    "How to participate": "boilerplate",
}
BOILERPLATE = frozenset({"Show full inclusion / exclusion criteria"})
"""UI lines ignored wherever they appear."""
_CONDITIONS = re.compile(r"\s*Conditions?\s*:\s*(.+)", re.IGNORECASE)
"""The page's last line; recognised in any section but the criteria."""
_HEADER_SEPARATOR = " · "
_FACTS_LINE = re.compile(r"·\s*NCT\d{8}\s*$")
"""The header line ``PHASE · Sponsor · NCT…``."""


def _study_type(draft: Draft, value: str, line: Line) -> bool:
    """``Interventional``; ``Observational [Patient Registry]`` also sets patient_registry."""
    registry = re.search(r"\[\s*patient registry\s*\]", value, re.IGNORECASE)
    found = code(re.sub(r"\[[^\]]*\]", "", value), STUDY_TYPE)
    if found is None:
        return False
    draft.put("design.study_type", found, line)
    if registry:
        draft.put("design.patient_registry", True, line)
    return True


def _interventions(value: str) -> list[dict[str, Any]] | None:
    # Name only: the page gives no intervention type.
    return [{"name": name} for name in split_list(value, ",")] or None


def _site_count(draft: Draft, value: str, line: Line) -> bool:
    """``1 site (Hangzhou, Zhejiang)``: a digest of the site list, checked against it later."""
    m = re.match(r"\s*(\d+)\s+sites?\b", value, re.IGNORECASE)
    if m is None:
        return False
    draft.put("_site_count", (int(m.group(1)), line), line)
    return True


FACTS: dict[str, Setter] = {
    "phase": setter("design.phases", parse_phases),
    "phases": setter("design.phases", parse_phases),
    "study type": _study_type,
    "enrollment": setter("design.enrollment", parse_enrollment),
    "ages": put_ages,
    "age": put_ages,
    "sex": setter("eligibility.sex", lambda v: code(v, SEX, SEX_ALIASES)),
    "gender": setter("eligibility.sex", lambda v: code(v, SEX, SEX_ALIASES)),
    "sponsor": setter("sponsors.lead_sponsor", parse_sponsor),
    "lead sponsor": setter("sponsors.lead_sponsor", parse_sponsor),
    "drugs / interventions": setter("interventions", _interventions),
    "interventions": setter("interventions", _interventions),
    "locations": _site_count,
    "trial id": put_nct,
    "status": setter("status.overall_status", lambda v: code(v, STATUS, STATUS_ALIASES)),
    "start date": setter("status.start_date", date_value),
    "completion date": setter("status.completion_date", date_value),
    "primary completion date": setter("status.primary_completion_date", date_value),
    "conditions": setter("conditions", lambda v: split_list(v, ",") or None),
}
"""Quick-facts row label (lower case) -> setter of its value."""

CONTACT_ROLES = {
    "study coordinator": "CONTACT",
    "coordinator": "CONTACT",
    "contact": "CONTACT",
    "central contact": "CONTACT",
    "study contact": "CONTACT",
    "backup contact": "CONTACT",
    "principal investigator": "PRINCIPAL_INVESTIGATOR",
    "sub-investigator": "SUB_INVESTIGATOR",
    "study director": "STUDY_DIRECTOR",
    "study chair": "STUDY_CHAIR",
}
"""Contact line label -> API v2 ContactRole; a role line starts a new contact."""
CONTACT_FIELDS = {"email": "email", "e-mail": "email", "phone": "phone", "telephone": "phone",
                  "tel": "phone"}
"""Contact line label -> Contact field of the contact above."""


def sniff(head: bytes) -> bool:
    text = head.decode("utf-8", errors="replace")
    if re.search(r"^\s*Quick facts\s*$", text, re.MULTILINE | re.IGNORECASE) is None:
        return False
    return bool(re.search(r"^\|\s*Trial ID\s*\|", text, re.MULTILINE | re.IGNORECASE)
                or re.search(r"·\s*NCT\d{8}\s*$", text, re.MULTILINE))


def read(data: bytes, file: str) -> Iterator[ReadResult]:
    return read_page(data, file, parse)


def parse(text: str, file: str) -> tuple[Trial, list[str]]:
    """The page's Trial and the content lines no rule could place; RecordError when unusable."""
    lines = [line for line in page_lines(text) if line.text.strip() not in BOILERPLATE]
    draft = Draft(file, FORMAT, nct_place='section "Quick facts"')
    blocks = sections(lines, HEADINGS)
    # Quick facts first: the table is the page's structured record; the header repeats it.
    for key, block in sorted(blocks, key=lambda kb: kb[0] != "facts"):
        SECTIONS[key](draft, _conditions(draft, block) if key != "eligibility" else block)
    _check_site_count(draft)
    return draft.build(), draft.unplaced


def _conditions(draft: Draft, block: list[Line]) -> list[Line]:
    """Place ``Conditions: a, b, c`` lines; return the rest of the block."""
    rest = []
    for line in block:
        m = _CONDITIONS.fullmatch(line.text)
        if m:
            draft.put("conditions", split_list(m.group(1), ","), line)
        else:
            rest.append(line)
    return rest


# --- one function per section ----------------------------------------------------------------


def _header(draft: Draft, block: list[Line]) -> None:
    """Lay title, official title, ``PHASE · Sponsor · NCT`` line, lay summary."""
    rest = [line for line in block if line.text.strip()]
    at = next((i for i, line in enumerate(rest) if _FACTS_LINE.search(line.text)), None)
    if at is None:
        at = next((i for i, line in enumerate(rest) if _HEADER_SEPARATOR in line.text), None)
    titles = rest[:at] if at is not None else rest[:1]
    after = rest[at + 1:] if at is not None else rest[1:]
    if titles:
        # The page's lay title: registries define the brief title as the short title for the lay
        # public, and the page has no other; the official title comes second.
        draft.put("identification.brief_title", titles[0].text.strip(), titles[0])
    if len(titles) > 1:
        draft.put("identification.official_title", titles[1].text.strip(), titles[1])
    for line in titles[2:]:
        draft.lost(line)
    if at is not None:
        _header_facts(draft, rest[at])
    if after:
        draft.put("brief_summary", "\n".join(line.text.strip() for line in after), after[0])


def _header_facts(draft: Draft, line: Line) -> None:
    """``EARLY_PHASE1 · Zhejiang University · NCT06711146``; unplaced if it contradicts the table."""
    placed = True
    for part in (p.strip() for p in line.text.split(_HEADER_SEPARATOR.strip())):
        if not part:
            continue
        nct = nct_in(part) if re.fullmatch(r"NCT\d+", part, re.IGNORECASE) else None
        phases = parse_phases(part)
        if nct:
            placed &= _agrees(draft, "identification.nct_id", nct, line)
        elif phases:
            placed &= _agrees(draft, "design.phases", phases, line)
        else:
            sponsor = draft.get("sponsors.lead_sponsor")
            if sponsor is None:
                draft.put("sponsors.lead_sponsor", parse_sponsor(part), line)
            else:
                placed &= sponsor["name"] == part
    if not placed:
        draft.lost(line)


def _agrees(draft: Draft, path: str, value: object, line: Line) -> bool:
    if draft.get(path) is None:
        draft.put(path, value, line)
        return True
    return bool(draft.get(path) == value)


def _facts(draft: Draft, block: list[Line]) -> None:
    for line in block:
        text = line.text.strip()
        if not text or re.fullmatch(r"\|[\s:|-]*\|", text):
            continue
        row = re.fullmatch(r"\|\s*(.*?)\s*\|\s*(.*?)\s*\|", text)
        put = FACTS.get(" ".join(row.group(1).lower().split())) if row else None
        if row is None or put is None or not put(draft, row.group(2), line):
            draft.lost(line)


def _check_site_count(draft: Draft) -> None:
    counted = draft.data.pop("_site_count", None)
    draft.origin.pop("_site_count", None)
    if counted is not None and counted[0] != len(draft.get("locations") or []):
        draft.lost(counted[1])


def _studies(draft: Draft, block: list[Line]) -> None:
    # Lay description of the study, written by the page: the closest Trial field.
    draft.put("detailed_description", paragraphs(block), block[0] if block else Line(0, ""))


def _lay(draft: Draft, block: list[Line]) -> None:
    """``Good fit:`` / ``Not a fit:`` / ``Potential benefit:`` ...: no Trial field holds them."""
    for line in block:
        draft.lost(line)


def _eligibility(draft: Draft, block: list[Line]) -> None:
    text = paragraphs(block)
    if text is None:
        return
    first = next(line for line in block if line.text.strip())
    draft.put("eligibility.criteria", text, first)
    draft.put("eligibility.criteria_sections", [s.model_dump() for s in parse_criteria(text)], first)


_SITE = re.compile(r"-\s+(?:(?P<facility>.+?)\s+[—–]\s+)?(?P<place>[^()]+?)(?:\s*\((?P<status>[^()]+)\))?")


def _locations(draft: Draft, block: list[Line]) -> None:
    """``- Facility — City, State, Country (STATUS)`` lines; other lines are group headings
    (``Hangzhou, Zhejiang``), placed when a site below them is in that place."""
    headings: list[Line] = []
    for line in block:
        text = line.text.strip()
        if not text:
            continue
        if not text.startswith("-"):
            headings.append(line)
            continue
        site = _site(text)
        if site is None:
            draft.lost(line)
        else:
            draft.add("locations", site, line)
    places = {_place_names(site) for site in draft.get("locations") or []}
    for line in headings:
        if not any(line.text.strip() in names for names in places):
            draft.lost(line)


def _site(text: str) -> dict[str, Any] | None:
    m = _SITE.fullmatch(text)
    if m is None:
        return None
    status = m.group("status")
    recruitment = code(status, RECRUITMENT_STATUS, STATUS_ALIASES) if status else None
    if status and recruitment is None:
        return None
    parts = [p.strip() for p in m.group("place").split(",")]
    site: dict[str, Any] = {"facility": m.group("facility"), "status": recruitment,
                            "city": parts[0], "country": parts[-1]}
    if len(parts) == 3:
        site["zip" if re.search(r"\d", parts[1]) else "state"] = parts[1]
    elif len(parts) == 4:
        site["state"], site["zip"] = parts[1], parts[2]
    elif len(parts) != 2:
        return None
    return site


def _place_names(site: dict[str, Any]) -> tuple[str, ...]:
    """The ways a group heading may name a site's place."""
    city, state, country = site.get("city"), site.get("state"), site.get("country")
    names = [city, f"{city}, {country}", f"{city}, {state}", f"{city}, {state}, {country}"]
    return tuple(n for n in names if n and "None" not in n)


def _contacts(draft: Draft, block: list[Line]) -> None:
    """``- Study coordinator: Name`` starts a contact; ``- Email:`` / ``- Phone:`` fill it."""
    contact: dict[str, Any] | None = None
    for line in block:
        text = line.text.strip()
        if not text:
            continue
        m = re.fullmatch(r"-\s*([^:]+?)\s*:\s*(.+)", text)
        label = " ".join(m.group(1).lower().split()) if m else ""
        if m and label in CONTACT_ROLES:
            contact = {"name": m.group(2).strip(), "role": CONTACT_ROLES[label]}
            draft.add("central_contacts", contact, line)
        elif m and label in CONTACT_FIELDS:
            key = CONTACT_FIELDS[label]
            if contact is None or contact.get(key):
                contact = {}
                draft.add("central_contacts", contact, line)
            contact.update(_contact_value(key, m.group(2).strip()))
        else:
            draft.lost(line)


def _contact_value(key: str, value: str) -> dict[str, str]:
    if key == "phone":
        m = re.fullmatch(r"(.+?)\s*(?:ext\.?|extension|x)\s*(\d+)", value, re.IGNORECASE)
        if m:
            return {"phone": m.group(1), "phone_ext": m.group(2)}
    return {key: value}


def _boilerplate(draft: Draft, block: list[Line]) -> None:
    """``How to participate``: the site's advice, the same on every page."""


SECTIONS: dict[str, Callable[[Draft, list[Line]], None]] = {
    "": _header,
    "facts": _facts,
    "studies": _studies,
    "lay": _lay,
    "eligibility": _eligibility,
    "locations": _locations,
    "contacts": _contacts,
    "boilerplate": _boilerplate,
}
