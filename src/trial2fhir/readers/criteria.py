"""Split an eligibility criteria text into inclusion and exclusion items.

Registries write criteria as Markdown-ish text: an ``Inclusion Criteria:`` heading, bullets or
numbers per item, sometimes nested lists. Each top-level or nested list item becomes one item;
lines that merely continue an item are joined to it. Numbering is dropped (list order keeps it).
"""

from __future__ import annotations

import re

# A section heading: optional bullet/emphasis, up to two qualifier words ("Key", "Subject" ...),
# "Inclusion/Exclusion Criteria", an optional short qualifier and an optional ": rest of line".
_HEADING = re.compile(
    r"^\s*(?:[*#>\-]+\s*)*[*_]{0,2}\s*"
    r"(?:(?:key|main|major|general|subject|subjects|patient|patients|participant|participants"
    r"|specific|additional|other|study|principal|primary|secondary|basic|common)\s+){0,2}"
    r"(?P<kind>inclusion|exclusion)s?\s+criteri(?:a|on)s?\b"
    r"(?P<qualifier>[^:\n.]{0,60}?)\s*[*_]{0,2}\s*(?::[*_]{0,2}\s*(?P<rest>.*))?$",
    re.IGNORECASE,
)
# A list marker: bullet, or an enumerator such as 1. 1) (1) a. i) followed by space.
_MARKER = re.compile(r"^\s*(?:[*\u2022\u00b7\u25aa\u25cf-]|\(?(?:\d{1,3}|[a-zA-Z]|[ivxIVX]{1,5})[.)])(?:\s+|$)")
_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!<>^|~])")


def unescape(text: str) -> str:
    """Undo Markdown backslash escapes, as in ``2\\.`` or ``\\>``."""
    return _ESCAPE.sub(r"\1", text)


def clean_item(line: str) -> str:
    """One criterion without its list marker and Markdown escapes, white space folded."""
    text = unescape(line).strip()
    text = _MARKER.sub("", text, count=1)
    return " ".join(text.split())


def is_item_start(line: str) -> bool:
    return bool(_MARKER.match(unescape(line)))


def split_criteria(text: str | None) -> tuple[list[str], list[str]]:
    """Return (inclusion, exclusion) items of a criteria text; text before any heading is inclusion."""
    inclusion: list[str] = []
    exclusion: list[str] = []
    if not text:
        return inclusion, exclusion
    current = inclusion
    open_item = False
    for raw in text.splitlines():
        if not raw.strip():
            open_item = False
            continue
        heading = _HEADING.match(unescape(raw))
        if heading:
            current = inclusion if heading.group("kind").lower() == "inclusion" else exclusion
            open_item = False
            if re.search(r"\w", heading.group("qualifier")):
                current.append(clean_item(raw))  # "Specific inclusion criteria for X:" keeps its context
            elif heading.group("rest") and clean_item(heading.group("rest")):
                current.append(clean_item(heading.group("rest")))  # "Inclusion criteria: item"
                open_item = True
            continue
        item = clean_item(raw)
        if not re.search(r"\w", item):  # a bare marker or punctuation line
            continue
        if open_item and current and not is_item_start(raw) and raw[:1].isspace():
            # An indented line without a marker continues the item above it.
            current[-1] = f"{current[-1]} {item}"
        else:
            current.append(item)
        open_item = True
    return inclusion, exclusion
