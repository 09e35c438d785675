"""Registry page, compact CT.gov-style layout -> Trial (``layouts/compact.yaml``).

A title line, ``NCT ID: ...``, ``Last Updated: ...``, then sections, each a heading line with a
fixed one-sentence blurb. Unlabelled pages print values alone on their lines, recognised by their
shape (API v2 enum words, ``N participants``, ISO dates, ``18 Years``, ``Role: X`` ...); labelled
pages put a label (``Recruitment Status``) on the line before the value or before it on its line
(``Group Type EXPERIMENTAL``). The segmenters below are the ones only this layout needs.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from trial2fhir.model import Trial
from trial2fhir.readers.base import ReadResult
from trial2fhir.readers.pages import segmenters
from trial2fhir.readers.pages.kit import Draft, Line, read_page, solid
from trial2fhir.readers.pages.layout import SectionRule, load
from trial2fhir.readers.pages.shapes import SHAPES, VOCAB

ABSENT = frozenset({"-", "", "N/A", "NA"})
"""Values the page prints for 'not given' (``Identifier Type: -``)."""
_IDENT = re.compile(r"Identifier (Type|Source|Link):\s*(.*)")
_TIME_FRAME = re.compile(r"Time\s*Frame:?\s*(.*)", re.IGNORECASE)


def identifiers(draft: Draft, lines: list[Line], _rule: SectionRule) -> None:
    """``value`` / ``Identifier Type: X`` / ``Identifier Source: org_study_id|nct_alias|...``."""
    entries: list[tuple[Line, dict[str, str]]] = []
    for line in solid(lines):
        m = _IDENT.fullmatch(line.text.strip())
        if m and entries and m.group(1).lower() not in entries[-1][1]:
            entries[-1][1][m.group(1).lower()] = m.group(2).strip()
        elif m:
            draft.lost(line)
        else:
            entries.append((line, {"id": line.text.strip()}))
    for line, e in entries:
        kind = None if e.get("type", "-") in ABSENT else e["type"]
        link = None if e.get("link", "-") in ABSENT else e["link"]
        source = e.get("source", "")
        if source == "org_study_id" and draft.get("identification.org_study_id") is None:
            for key, value in (("org_study_id", e["id"]), ("org_study_id_type", kind), ("org_study_id_link", link)):
                draft.put(f"identification.{key}", value, line)
        elif source == "nct_alias":
            draft.add("identification.nct_id_aliases", e["id"], line)
        else:
            domain = None if source in ABSENT or source == "secondary_id" else source
            draft.add("identification.secondary_ids", {"id": e["id"], "type": kind, "domain": domain,
                                                       "link": link}, line)


def outcomes(draft: Draft, lines: list[Line], rule: SectionRule) -> None:
    """``measure`` / description lines / ``Time Frame: ...`` (closing the outcome)."""
    to = str(rule.to)
    measure: Line | None = None
    desc: list[str] = []
    for line in solid(lines):
        tf = _TIME_FRAME.fullmatch(line.text.strip())
        if tf and measure is None:
            draft.lost(line)
        elif tf and measure is not None:
            draft.add(to, {"measure": measure.text, "description": "\n".join(desc) or None,
                                "time_frame": tf.group(1).strip() or None}, measure)
            measure, desc = None, []
        elif measure is None:
            measure = line
        else:
            desc.append(line.text)
    if measure is not None:
        draft.add(to, {"measure": measure.text, "description": "\n".join(desc) or None}, measure)


def _sponsor_entries(draft: Draft, lines: list[Line]) -> list[tuple[Line, dict[str, Any], str | None]]:
    """``name``, [``CLASS`` right after it], [``Sponsor Role lead|collaborator``] per sponsor."""
    entries: list[tuple[Line, dict[str, Any], str | None]] = []
    bare = False  # the last entry is a name alone so far: a class line may follow
    for line in solid(lines):
        if line.label == "sponsor_role" and entries and entries[-1][2] is None:
            entries[-1] = (*entries[-1][:2], line.text.lower())
        elif line.label == "sponsor_role":
            draft.lost(line)
        elif bare and line.text in VOCAB["agency_class"]:
            entries[-1][1]["agency_class"] = line.text
        else:
            entries.append((line, {"name": line.text}, None))
            bare = True
            continue
        bare = False
    return entries


def sponsors(draft: Draft, lines: list[Line], _rule: SectionRule) -> None:
    """The sponsor with role ``lead`` (or, without roles, the first) leads; the others collaborate."""
    entries = _sponsor_entries(draft, lines)
    roles = [role for _, _, role in entries]
    lead = roles.index("lead") if "lead" in roles else roles.index(None) if None in roles else None
    for i, (line, sponsor, _) in enumerate(entries):
        if i == lead and draft.get("sponsors.lead_sponsor") is None:
            draft.put("sponsors.lead_sponsor", sponsor, line)
        else:
            draft.add("sponsors.collaborators", sponsor, line)


def collaborators(draft: Draft, lines: list[Line], _rule: SectionRule) -> None:
    for line, sponsor, _ in _sponsor_entries(draft, lines):
        draft.add("sponsors.collaborators", sponsor, line)


def responsible_party(draft: Draft, lines: list[Line], _rule: SectionRule) -> None:
    for line in solid(lines):
        if line.text in VOCAB["responsible_party_type"] and line.label in (None, "responsible_party_type"):
            draft.data.setdefault("sponsors", {})["responsible_party"] = {"type": line.text}
        else:
            draft.lost(line)


def eligibility(draft: Draft, lines: list[Line], rule: SectionRule) -> None:
    """The criteria, then ages, sex and healthy volunteers at the end (by label or by shape)."""
    rows = solid(lines)
    tags = {f.to for f in rule.fields}
    cut = len(rows)
    while cut > 0 and (rows[cut - 1].label in tags or (rows[cut - 1].label is None and any(
            SHAPES[f.shape](rows[cut - 1].text) is not None for f in rule.fields))):
        cut -= 1
    segmenters.by_shape(draft, rows[cut:], rule.fields)
    # The page's criteria lines are the text, verbatim; the tree comes from the one criteria parser.
    segmenters.put_criteria(draft, "\n".join(line.text for line in rows[:cut]), rows[0] if rows else Line(0, ""))


segmenters.register({
    "compact_identifiers": identifiers,
    "compact_outcomes": outcomes,
    "compact_sponsors": sponsors,
    "compact_collaborators": collaborators,
    "compact_responsible_party": responsible_party,
    "compact_eligibility": eligibility,
})
LAYOUT = load("compact")
SECTIONS = LAYOUT.headings


def sniff(head: bytes) -> bool:
    lines = [line.strip() for line in head.decode("utf-8", errors="replace").splitlines()]
    if not any(line.startswith("NCT ID: NCT") for line in lines):
        return False
    return len({line for line in lines if line in SECTIONS}) >= 2


def read(data: bytes, file: str) -> Iterator[ReadResult]:
    """Yield the page's Trial (lines it could not place go to ``source.unplaced``) or one RecordError."""
    return read_page(data, file, LAYOUT)


def parse(text: str, file: str) -> tuple[Trial, list[str]]:
    return segmenters.parse(text, file, LAYOUT)
