"""What a line is: a heading (and its side), a caption introducing a list, and how a lead-in combines."""

from __future__ import annotations

import re

from trial2fhir.model import CriteriaCombination, CriteriaSide
from trial2fhir.readers.criteria.lines import LABEL_FORM, Line, terminal

# Side words as registries spell them, typos included ("Inlcusion", "Exlusion Critera", "Citeria")
_INC_WORD = r"in(?:cl|lc)\w{0,4}ions?"
_EXC_WORD = r"e(?:xcl|xlc|xl|cxl)\w{0,4}ions?"
_CRIT_WORD = r"cr?i?t[ei]{1,2}r(?:ia|ion|a|ias|ions|ium)"
_INC = re.compile(rf"(?<!non-)(?<!non )\b{_INC_WORD}\b|\b(?:be|are|is)\s+included\b", re.IGNORECASE)
_EXC = re.compile(rf"\b(?:{_EXC_WORD}|excluded?)\b", re.IGNORECASE)
# "not eligible for inclusion", "may not be enrolled": an exclusion whatever other words it has
_NEGATED = re.compile(
    r"\b(?:not\s+(?:be\s+)?eligible|ineligib\w*|non-?inclusion|may\s+not\s+(?:be\s+)?(?:enrolled|included|"
    r"participate)|will\s+not\s+be\s+(?:enrolled|included))\b",
    re.IGNORECASE,
)
_ELIGIBILITY = re.compile(r"\beligibility\b", re.IGNORECASE)
_CRITERI = re.compile(rf"\b{_CRIT_WORD}\b", re.IGNORECASE)
_LEADING_SIDE = re.compile(rf"^(?:\w+\s+){{0,3}}(?:{_INC_WORD}|{_EXC_WORD})\s+{_CRIT_WORD}\b", re.IGNORECASE)
_STRONG = re.compile(rf"\b{_CRIT_WORD}\b|^(?:{_INC_WORD}|{_EXC_WORD})$", re.IGNORECASE)
# NCI's layout: DISEASE CHARACTERISTICS / PATIENT CHARACTERISTICS / PRIOR CONCURRENT THERAPY, any case
_NCI = re.compile(r"^(?:(?:disease|patient|tumou?r)\s+characteristics|prior\s*(?:/|and)?\s*concurrent\s+therapy)$",
                  re.IGNORECASE)
_HEAD_SPLIT = re.compile(r"^(.*?[:\uff1a])(?!\d)\s*(.*)$")  # not a time or ratio: "10:30", "1:80"
_TRAILER = re.compile(r"[\s:\uff1a*_\-\u2013\u2014=.]+$")
_NOT_LETTER = re.compile(r"[^A-Za-z]")
_HEADING_HINT = re.compile(
    r"incl|inlc|excl|exlc|exlu|crit|citer|eligib|characteristics|therapy|cohort|group|part|arm|stage|phase"
    r"|stratum|population|module|study|following|below|for|in\b|[A-Z]{2}",
    re.IGNORECASE,
)
_SIDE_WORD = re.compile(rf"\b(?:{_INC_WORD}|{_EXC_WORD}|non-?inclusion|eligibility|{_CRIT_WORD})\b", re.IGNORECASE)
_COHORT = re.compile(
    r"^(?:(?:for|in)\s+(?:the\s+|all\s+)?.{0,60}\b(?:cohorts?|groups?|arms?|parts?|patients|participants|"
    r"subjects|populations?|volunteers|phases?|stages?|studies|study)\b.{0,30}"
    r"|(?:cohort|group|part|arm|stage|phase|stratum|population|sub-?study|substudy|module)\s*[\w.-]{1,12}"
    r"(?:\s*[(\[].{0,50}[)\]])?(?:\s*[-\u2013,]?\s*[\w/+-]+){0,6})$",
    re.IGNORECASE,
)
_INTRO = re.compile(r"\b(?:following|below)\b", re.IGNORECASE)
_INTRO_TOPIC = re.compile(
    r"\b(?:criteri(?:a|on)|eligib\w*|included|excluded|inclusion|exclusion)\b",
    re.IGNORECASE,
)
_ANY = re.compile(
    r"\b(?:any|one|either|1)\s+(?:or\s+more\s+)?(?:of\s+)?(?:the\s+)?(?:following|below)\b|\beither\b"
    r"|\bat\s+least\s+(?:one|1)\b|\bone\s+of\b|\bany\s+of\b",
    re.IGNORECASE,
)
_EMPHASIS = re.compile(r"^[\s#>*_=]+|[\s*_=]+$")
_NUMBERED_HEAD = re.compile(r"^(?:\d{1,2}|[A-Z]|[IVX]{1,4})[.)]\s+")
_ANY_FOLLOWING = re.compile(r"\b(?:any|one|all|each)\s+(?:or\s+more\s+)?of\s+the\s+following\b", re.IGNORECASE)
_LEAD_PHRASE = re.compile(
    r"(?:[:\uff1a]|\bfollowing(?:\s+\S+){0,3}|\bas\s+follows|\b(?:is|are|includes?|defined\s+as|such\s+as))\s*$",
    re.IGNORECASE,
)


def _side(text: str) -> CriteriaSide | None:
    """The side a heading names: None when it names none (a cohort: keep the enclosing side)."""
    if _NEGATED.search(text):
        return "exclusion"
    inc, exc = bool(_INC.search(text)), bool(_EXC.search(text))
    if inc != exc:
        return "inclusion" if inc else "exclusion"
    if inc or _ELIGIBILITY.search(text):
        return "unspecified"  # "Inclusion/Exclusion", "Eligibility criteria": explicitly no side
    return None


def _split_heading(text: str) -> tuple[str, str]:
    """(heading, rest) of a line such as ``Exclusion Criteria: Patients with``."""
    m = _HEAD_SPLIT.match(text)
    if m:
        return m.group(1), m.group(2)
    return text, ""


def heading_of(line: Line) -> tuple[str, str, CriteriaSide | None] | None:
    """(heading text, rest of the line, side) when the line is a heading, else None."""
    if line.marked:
        lower = line.text.casefold()
        if "crit" not in lower and "cite" not in lower and not lower.lstrip("*_# ").startswith(("incl", "excl")):
            return None  # the fast way out for the common list item
    elif not _HEADING_HINT.search(line.text):
        return None
    text = _EMPHASIS.sub("", line.text)
    head, rest = _split_heading(text)
    rest = _EMPHASIS.sub("", rest)
    bare = _TRAILER.sub("", _NUMBERED_HEAD.sub("", head)).strip().lstrip("-\u2013\u2014 ")
    words = bare.split()
    if not words or (head == text and terminal(text) and not text.endswith(":")):
        return None
    side = _side(bare)
    # "* Inclusion Criteria:", "1. Exclusion criteria" are headings; "* The exclusion criteria:
    # bilateral ..." is an item
    strong = side is not None and bool(_STRONG.search(bare))
    if line.marked and (rest or line.double or not strong):
        return None
    if (len(words) <= 10 and _SIDE_WORD.search(bare) and (_CRITERI.search(bare) or len(words) <= 5)) or (
        len(words) <= 25 and _LEADING_SIDE.match(bare)  # "Exclusion Criteria for Part 2 (in addition to ...)"
    ):
        return head.strip(), rest, side
    if _NCI.match(bare):
        return head.strip(), rest, None  # also "PATIENT CHARACTERISTICS: Age: 18 and over ..."
    if rest:
        return None
    if len(words) <= 8 and _COHORT.match(bare):
        return head.strip(), "", None
    letters = _NOT_LETTER.sub("", bare)
    if 2 <= len(words) <= 6 and len(letters) >= 6 and letters.isupper():
        return head.strip(), "", None  # NCI's DISEASE CHARACTERISTICS, PATIENT CHARACTERISTICS ...
    if len(words) <= 30 and _INTRO.search(bare) and _INTRO_TOPIC.search(bare) and not terminal(text):
        return text.strip(), "", side if side != "unspecified" else None  # an introduction
    return None


def is_caption(line: Line, following: Line | None) -> bool:
    """An unmarked label that introduces the lines after it ("Hepatic:", "Medical conditions:")."""
    if line.marked or following is None:
        return False
    text = line.text
    if following.marked:
        if text.endswith((":", "\uff1a")):
            return True
        return len(text.split()) <= 8 and not terminal(text) and not text.endswith(",")
    if following.blank_before:
        return False
    # unmarked lines (as pages show them): a lead-in phrase, or a short title over "Label: value" lines
    if _LEAD_PHRASE.search(text) or (_ANY_FOLLOWING.search(text) and not terminal(text)):
        return True
    return is_title(text) and bool(LABEL_FORM.match(following.text))


def is_title(text: str) -> bool:
    return len(text.split()) <= 6 and not terminal(text) and not LABEL_FORM.match(text)


def combination_of(text: str) -> CriteriaCombination:
    return "any-of" if _ANY.search(text) else "all-of"
