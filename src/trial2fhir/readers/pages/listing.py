"""Registry page, recruiting-listing layout -> Trial.

The layout: a title line; bullet facts (``• STATUS`` then the value on the next line);
``Updated on <date>``; free-text ``Summary`` and ``Description``; a ``Details`` block whose labels
are glued to their values (``Clinical Study IdentifierNCT…``); ``Eligibility`` with
``Inclusion Criteria`` / ``Exclusion Criteria`` lists, one item per line except items the page
hard-wrapped over several lines; then site boilerplate (forms, sign-up) from the first end marker.

Rules are data: the tables below name each label and the Trial field it feeds; one small
function per section. Lines no rule places are returned by :func:`parse` as unplaced.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

from trial2fhir.model import SourceFormat, Trial
from trial2fhir.readers.base import ReadResult
from trial2fhir.readers.criteria import is_item_start, parse_criteria
from trial2fhir.readers.pages.text import (
    SEX,
    SEX_ALIASES,
    STATUS,
    STATUS_ALIASES,
    Draft,
    Line,
    Setter,
    code,
    date_value,
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
)

FORMAT: SourceFormat = "page-listing"

HEADINGS = {"Summary": "summary", "Description": "description", "Details": "details",
            "Eligibility": "eligibility"}
END_MARKERS = ("Clear my responses", "How to participate?", "Similar trials to consider",
               "Send a message", "Sign up as volunteer", "Add a private note")
"""The first of these lines starts the site's boilerplate: it and everything after is ignored."""
BOILERPLATE = frozenset({"Yes No Not Sure"})
"""Widget lines ignored wherever they appear (the eligibility self-check buttons)."""

# Wrapped criteria: a line continues the item above when the line above could have been cut by a
# hard wrap (at most WRAP_MAX long, and too full for the next word: len + 1 + word > FILL_MIN) and
# there is a sign of the cut (see _continues).
WRAP_MAX = 90
FILL_MIN = 72
CONNECTIVES = frozenset({
    "a", "an", "the", "of", "and", "or", "nor", "but", "to", "in", "on", "at", "by", "for", "with",
    "from", "as", "than", "that", "which", "is", "are", "was", "were", "be", "not", "including",
    "such", "per", "via", "vs", "≥", "≤", ">", "<", "=", "+", "-", "/", "&",
})


def _sponsor(draft: Draft, value: str, line: Line) -> bool:
    sponsor = parse_sponsor(value)
    if sponsor is None:
        return False
    old = draft.get("sponsors.lead_sponsor")
    if old is None or old["name"] != sponsor["name"]:
        draft.put("sponsors.lead_sponsor", sponsor, line)
    return True


def _conditions(value: str) -> list[str] | None:
    # One condition per line unless the page separates with ';' or '|': commas occur inside
    # condition names ("Lupus Nephritis, Class IV"), so they are not split.
    items = [" ".join(p.split()) for p in re.split(r"[;|]", value)]
    return [p for p in items if p] or None


BULLETS: dict[str, Setter] = {
    "status": setter("status.overall_status", lambda v: code(v, STATUS, STATUS_ALIASES)),
    "end date": setter("status.completion_date", date_value),
    "start date": setter("status.start_date", date_value),
    # A target figure; the page does not say anticipated or actual, so the type stays None.
    "participants needed": setter("design.enrollment", parse_enrollment),
    "sponsor": _sponsor,
    "phase": setter("design.phases", parse_phases),
}
"""``• LABEL`` bullet (label compared case-insensitively) -> setter of its value line."""

DETAILS: dict[str, Setter] = {
    "Clinical Study Identifier": put_nct,
    "Last Modified on": setter("status.last_update_posted", date_value),
    "Conditions": setter("conditions", _conditions),
    "Condition": setter("conditions", _conditions),
    "Age": put_ages,
    "Gender": setter("eligibility.sex", lambda v: code(v, SEX, SEX_ALIASES)),
    "Sex": setter("eligibility.sex", lambda v: code(v, SEX, SEX_ALIASES)),
    "Sponsor": _sponsor,
    "Phase": setter("design.phases", parse_phases),
}
"""Details label (glued to its value, so the longest matching label wins) -> setter."""

HEADER_LINES: dict[re.Pattern[str], Setter] = {
    re.compile(r"(?:Updated on|Last Modified on)\s*(.+)", re.IGNORECASE):
        setter("status.last_update_posted", date_value),
}
_BULLET = re.compile(r"\s*[•·▪●]\s*(.+)")


def sniff(head: bytes) -> bool:
    text = head.decode("utf-8", errors="replace")
    if "Clinical Study Identifier" in text and "Inclusion Criteria" in text:
        return True
    return re.search(r"^\s*•\s*STATUS\s*$", text, re.MULTILINE) is not None


def read(data: bytes, file: str) -> Iterator[ReadResult]:
    return read_page(data, file, parse)


def parse(text: str, file: str) -> tuple[Trial, list[str]]:
    """The page's Trial and the content lines no rule could place; RecordError when unusable."""
    lines = [line for line in _content(page_lines(text)) if line.text.strip() not in BOILERPLATE]
    draft = Draft(file, FORMAT, nct_place='section "Details"')
    for key, block in sections(lines, HEADINGS):
        SECTIONS[key](draft, block)
    return draft.build(), draft.unplaced


def _content(lines: list[Line]) -> list[Line]:
    """The page up to its first end marker (the rest is the site's boilerplate)."""
    for i, line in enumerate(lines):
        if line.text.strip() in END_MARKERS:
            return lines[:i]
    return lines


# --- one function per section ----------------------------------------------------------------


def _header(draft: Draft, block: list[Line]) -> None:
    """Title, ``• LABEL`` / value bullets and ``Updated on`` lines."""
    rest = [line for line in block if line.text.strip()]
    if not rest:
        return
    draft.put("identification.brief_title", rest[0].text.strip(), rest[0])
    i = 1
    while i < len(rest):
        line = rest[i]
        bullet = _BULLET.fullmatch(line.text)
        if bullet and i + 1 < len(rest) and not _BULLET.fullmatch(rest[i + 1].text):
            put = BULLETS.get(bullet.group(1).strip().lower())
            value = rest[i + 1]
            if put is None or not put(draft, value.text.strip(), value):
                draft.lost(line)
                draft.lost(value)
            i += 2
            continue
        if not _header_line(draft, line):
            draft.lost(line)
        i += 1


def _header_line(draft: Draft, line: Line) -> bool:
    for pattern, put in HEADER_LINES.items():
        m = pattern.fullmatch(line.text.strip())
        if m and put(draft, m.group(1).strip(), line):
            return True
    return False


def _summary(draft: Draft, block: list[Line]) -> None:
    draft.put("brief_summary", paragraphs(block), block[0] if block else Line(0, ""))


def _description(draft: Draft, block: list[Line]) -> None:
    draft.put("detailed_description", paragraphs(block), block[0] if block else Line(0, ""))


def _details(draft: Draft, block: list[Line]) -> None:
    labels = sorted(DETAILS, key=len, reverse=True)
    for line in block:
        text = line.text.strip()
        if not text:
            continue
        label = next((lb for lb in labels if text.startswith(lb)), None)
        if label is None or not DETAILS[label](draft, text[len(label):].strip(), line):
            draft.lost(line)


_CRITERIA_HEADING = re.compile(r"\s*(inclusion|exclusion)\s+criteria\s*:?\s*", re.IGNORECASE)


def _eligibility(draft: Draft, block: list[Line]) -> None:
    """The criteria lines, hard wraps joined, are the text; the tree comes from parse_criteria."""
    out: list[str] = []
    run: list[str] = []
    for line in [*block, Line(0, "")]:
        if _CRITERIA_HEADING.fullmatch(line.text) or line.no == 0:
            out.extend(join_wrapped(run))
            run = []
            if line.no:
                out.append(line.text.strip())
        else:
            run.append(line.text)
    text = "\n".join(out).strip()
    if not text:
        return
    first = block[0]
    draft.put("eligibility.criteria", text, first)
    draft.put("eligibility.criteria_sections", [s.model_dump() for s in parse_criteria(text)], first)


def join_wrapped(lines: list[str]) -> list[str]:
    """One item per line, except lines a hard wrap cut off from the item above (see _continues).
    A blank line always ends an item."""
    items: list[str] = []
    physical: list[str] = []  # the lines of the item being built
    for raw in lines:
        text = raw.strip()
        if not text:
            physical = []
            continue
        if physical and _continues(physical, text):
            items[-1] = f"{items[-1]} {text}"
            physical.append(text)
        else:
            items.append(text)
            physical = [text]
    return items


def _continues(physical: list[str], line: str) -> bool:
    """Whether ``line`` continues the item whose lines so far are ``physical``.

    The line above must look cut by a wrap: not longer than WRAP_MAX and too full to take the
    next word (len + 1 + word > FILL_MIN). Then any one sign of a cut suffices: the line starts
    in lower case, with a digit or a symbol; the line above leaves a bracket open or ends in a
    connective (``of``, ``the``, ``≥`` ...); or, inside an item already wrapped, a capitalised
    name runs on across the cut (``... The Health Assessment`` / ``Questionnaire Disability ...``).
    """
    above = physical[-1]
    fill = len(above) + 1 + len(line.split(maxsplit=1)[0])
    if len(above) > WRAP_MAX or fill <= FILL_MIN or is_item_start(line):
        return False
    if not line[0].isupper():
        return True
    if above.count("(") > above.count(")") or above.count("[") > above.count("]"):
        return True
    if above.split()[-1].lower() in CONNECTIVES or above.endswith(","):
        return True
    return len(physical) > 1 and _titled(above.split()[-1]) and _titled(line.split(maxsplit=1)[0])


def _titled(word: str) -> bool:
    """``Assessment`` yes; ``SS``, ``points)``, ``the`` no."""
    return word.isalpha() and word[0].isupper() and word[1:].islower()


SECTIONS: dict[str, Callable[[Draft, list[Line]], None]] = {
    "": _header,
    "summary": _summary,
    "description": _description,
    "details": _details,
    "eligibility": _eligibility,
}
