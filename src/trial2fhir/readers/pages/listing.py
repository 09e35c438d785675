"""Registry page, recruiting-listing layout -> Trial (``layouts/listing.yaml``).

The layout is all data but the criteria: ``Inclusion Criteria`` / ``Exclusion Criteria`` lists
with one item per line, except items the page hard-wrapped over several lines.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from trial2fhir.model import Trial
from trial2fhir.readers.base import ReadResult
from trial2fhir.readers.criteria import is_item_start
from trial2fhir.readers.pages import segmenters
from trial2fhir.readers.pages.kit import Draft, Line, read_page
from trial2fhir.readers.pages.layout import SectionRule, load

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
_CRITERIA_HEADING = re.compile(r"\s*(inclusion|exclusion)\s+criteria\s*:?\s*", re.IGNORECASE)


def criteria(draft: Draft, block: list[Line], _rule: SectionRule) -> None:
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
    segmenters.put_criteria(draft, "\n".join(out).strip(), block[0] if block else Line(0, ""))


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


segmenters.register({"listing_criteria": criteria})
LAYOUT = load("listing")


def sniff(head: bytes) -> bool:
    text = head.decode("utf-8", errors="replace")
    if "Clinical Study Identifier" in text and "Inclusion Criteria" in text:
        return True
    return re.search(r"^\s*•\s*STATUS\s*$", text, re.MULTILINE) is not None


def read(data: bytes, file: str) -> Iterator[ReadResult]:
    return read_page(data, file, LAYOUT)


def parse(text: str, file: str) -> tuple[Trial, list[str]]:
    """The page's Trial and the content lines no rule could place; RecordError when unusable."""
    return segmenters.parse(text, file, LAYOUT)
