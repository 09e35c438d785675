"""Registry page, plain-language summary layout -> Trial (``layouts/summary.yaml``).

The layout is data but its header: the lay title, the official title, ``PHASE · Sponsor ·
NCT…`` (checked against the Quick facts table, which it repeats) and a one-sentence lay summary.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from trial2fhir.model import Trial
from trial2fhir.readers.base import ReadResult
from trial2fhir.readers.pages import segmenters
from trial2fhir.readers.pages.kit import Draft, Line, read_page, solid
from trial2fhir.readers.pages.layout import SectionRule, load
from trial2fhir.readers.pages.shapes import SHAPES, nct_in, sponsor

_SEPARATOR = " · "
_FACTS_LINE = re.compile(r"·\s*NCT\d{8}\s*$")


def header(draft: Draft, block: list[Line], _rule: SectionRule) -> None:
    """Lay title, official title, ``PHASE · Sponsor · NCT`` line, lay summary."""
    rest = solid(block)
    at = next((i for i, line in enumerate(rest) if _FACTS_LINE.search(line.text)), None)
    if at is None:
        at = next((i for i, line in enumerate(rest) if _SEPARATOR in line.text), None)
    titles = rest[:at] if at is not None else rest[:1]
    after = rest[at + 1:] if at is not None else rest[1:]
    if titles:
        # The page's lay title: registries define the brief title as the short title for the lay
        # public, and the page has no other; the official title comes second.
        draft.put("identification.brief_title", titles[0].text.strip(), titles[0])
    if len(titles) > 1:
        draft.put("identification.official_title", titles[1].text.strip(), titles[1])
    draft.lose(titles[2:])
    if at is not None:
        _facts(draft, rest[at])
    if after:
        draft.put("brief_summary", "\n".join(line.text.strip() for line in after), after[0])


def _facts(draft: Draft, line: Line) -> None:
    """``EARLY_PHASE1 · Zhejiang University · NCT06711146``; unplaced if it contradicts the table."""
    placed = True
    for part in (p.strip() for p in line.text.split(_SEPARATOR.strip())):
        if not part:
            continue
        nct = nct_in(part) if re.fullmatch(r"NCT\d+", part, re.IGNORECASE) else None
        phases = SHAPES["phases"](part)
        if nct:
            placed &= _agrees(draft, "identification.nct_id", nct, line)
        elif phases:
            placed &= _agrees(draft, "design.phases", phases, line)
        elif (lead := draft.get("sponsors.lead_sponsor")) is None:
            draft.put("sponsors.lead_sponsor", sponsor(part), line)
        else:
            placed &= lead["name"] == part
    if not placed:
        draft.lost(line)


def _agrees(draft: Draft, path: str, value: object, line: Line) -> bool:
    if draft.get(path) is None:
        draft.put(path, value, line)
        return True
    return bool(draft.get(path) == value)


segmenters.register({"summary_header": header})
LAYOUT = load("summary")


def sniff(head: bytes) -> bool:
    text = head.decode("utf-8", errors="replace")
    if re.search(r"^\s*Quick facts\s*$", text, re.MULTILINE | re.IGNORECASE) is None:
        return False
    return bool(re.search(r"^\|\s*Trial ID\s*\|", text, re.MULTILINE | re.IGNORECASE)
                or re.search(r"·\s*NCT\d{8}\s*$", text, re.MULTILINE))


def read(data: bytes, file: str) -> Iterator[ReadResult]:
    return read_page(data, file, LAYOUT)


def parse(text: str, file: str) -> tuple[Trial, list[str]]:
    """The page's Trial and the content lines no rule could place; RecordError when unusable."""
    return segmenters.parse(text, file, LAYOUT)
