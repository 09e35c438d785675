"""Helpers the listing and summary page readers share: value parsers and a Trial draft.

Pages write coded values in words ("Recruiting", "Phase 1/2", "36 (estimated)", "Sep 30, 2027");
the parsers here normalise them to the API v2 spelling the Trial model uses, and return None for
anything they cannot read, so the caller can report the line as unplaced instead of guessing.
:class:`Draft` collects fields with the page line each came from, keeps the first value of a
field (a later, different value is reported as unplaced) and builds the Trial or a RecordError.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from pydantic import ValidationError

from trial2fhir.errors import RecordError
from trial2fhir.model import Age, SourceFormat, Trial, normalise_nct_id
from trial2fhir.readers.base import ReadResult, decode_text

# --- API v2 vocabularies (ctg-oas-v2.yaml 2.0.5) and the page wordings that map onto them ------

STATUS = frozenset({
    "ACTIVE_NOT_RECRUITING", "COMPLETED", "ENROLLING_BY_INVITATION", "NOT_YET_RECRUITING",
    "RECRUITING", "SUSPENDED", "TERMINATED", "WITHDRAWN", "AVAILABLE", "NO_LONGER_AVAILABLE",
    "TEMPORARILY_NOT_AVAILABLE", "APPROVED_FOR_MARKETING", "WITHHELD", "UNKNOWN",
})
STATUS_ALIASES = {"UNKNOWN_STATUS": "UNKNOWN", "ACTIVE": "ACTIVE_NOT_RECRUITING"}
RECRUITMENT_STATUS = frozenset({
    "ACTIVE_NOT_RECRUITING", "COMPLETED", "ENROLLING_BY_INVITATION", "NOT_YET_RECRUITING",
    "RECRUITING", "SUSPENDED", "TERMINATED", "WITHDRAWN", "AVAILABLE",
})
STUDY_TYPE = frozenset({"EXPANDED_ACCESS", "INTERVENTIONAL", "OBSERVATIONAL"})
PHASE = frozenset({"NA", "EARLY_PHASE1", "PHASE1", "PHASE2", "PHASE3", "PHASE4"})
PHASE_ALIASES = {
    "N_A": "NA", "NOT_APPLICABLE": "NA", "EARLY_PHASE_I": "EARLY_PHASE1", "PHASE0": "EARLY_PHASE1",
    "PHASE_I": "PHASE1", "PHASE_II": "PHASE2", "PHASE_III": "PHASE3", "PHASE_IV": "PHASE4",
}
SEX = frozenset({"FEMALE", "MALE", "ALL"})
SEX_ALIASES = {"BOTH": "ALL", "ALL_SEXES": "ALL", "ALL_GENDERS": "ALL"}
AGENCY_CLASS = frozenset({
    "NIH", "FED", "OTHER_GOV", "INDIV", "INDUSTRY", "NETWORK", "AMBIG", "OTHER", "UNKNOWN",
})
AGENCY_ALIASES = {"U_S_FED": "FED", "US_FED": "FED", "INDIVIDUAL": "INDIV", "OTHER_GOVERNMENT": "OTHER_GOV"}
ENROLLMENT_TYPE = {"estimated": "ESTIMATED", "anticipated": "ESTIMATED", "actual": "ACTUAL"}
AGE_UNIT = {
    "y": "Years", "yr": "Years", "yrs": "Years", "year": "Years", "years": "Years",
    "month": "Months", "months": "Months", "week": "Weeks", "weeks": "Weeks",
    "day": "Days", "days": "Days", "hour": "Hours", "hours": "Hours",
    "minute": "Minutes", "minutes": "Minutes",
}
DEFAULT_AGE_UNIT = "Years"
"""Unit of an age bound the page writes as a bare number (``18-65``, ``18+``)."""

DATE_FORMATS = (
    ("%Y-%m-%d", "%Y-%m-%d"), ("%b %d, %Y", "%Y-%m-%d"), ("%B %d, %Y", "%Y-%m-%d"),
    ("%d %b %Y", "%Y-%m-%d"), ("%d %B %Y", "%Y-%m-%d"), ("%Y-%m", "%Y-%m"),
    ("%b %Y", "%Y-%m"), ("%B %Y", "%Y-%m"), ("%Y", "%Y"),
)

NCT_IN_TEXT = re.compile(r"\bNCT\d{8}\b")


def code(text: str, vocab: frozenset[str], aliases: Mapping[str, str] | None = None) -> str | None:
    """Page wording -> API v2 enum: ``Active, not recruiting`` -> ``ACTIVE_NOT_RECRUITING``."""
    key = re.sub(r"[^A-Z0-9]+", "_", text.upper()).strip("_")
    key = re.sub(r"PHASE_(\d)", r"PHASE\1", key)
    key = (aliases or {}).get(key, key)
    return key if key in vocab else None


def parse_phases(text: str) -> list[str] | None:
    """``PHASE1/PHASE2``, ``Phase 1/2``, ``Phase I/II``, ``N/A`` -> API v2 phases; None if unread."""
    whole = code(text, PHASE, PHASE_ALIASES)
    if whole:
        return [whole]
    phases: list[str] = []
    for part in re.split(r"\s*(?:/|,|&|\||\band\b)\s*", text.strip()):
        bare = re.fullmatch(r"\d|I{1,3}|IV", part)
        found = code(f"PHASE {part}" if bare else part, PHASE, PHASE_ALIASES)
        if found is None:
            return None
        if found not in phases:
            phases.append(found)
    return phases or None


def parse_date(text: str) -> str | None:
    """``Sep 30, 2027`` / ``30 May 2025`` / ``2025-05`` -> ISO ``YYYY[-MM[-DD]]``; None if unread."""
    clean = re.sub(r"\bSept\b", "Sep", " ".join(text.replace(".", " ").split()))
    clean = re.sub(r"\s+,", ",", clean)
    for pattern, out in DATE_FORMATS:
        try:
            return datetime.strptime(clean, pattern).strftime(out)
        except ValueError:
            continue
    return None


def parse_enrollment(text: str) -> dict[str, Any] | None:
    """``36 (estimated)`` -> count 36 type ESTIMATED; ``12`` -> count 12, type unknown."""
    m = re.fullmatch(
        r"\s*(\d[\d,]*)\s*(?:participants?|subjects?|patients?|people)?\s*(?:\(\s*(\w+)\s*\))?\s*",
        text, re.IGNORECASE,
    )
    if not m:
        return None
    kind = m.group(2)
    if kind is not None and kind.lower() not in ENROLLMENT_TYPE:
        return None
    return {"count": int(m.group(1).replace(",", "")),
            "type": ENROLLMENT_TYPE[kind.lower()] if kind else None}


def parse_sponsor(text: str) -> dict[str, Any] | None:
    """``Zhejiang University (other)`` -> name + agency class; a parenthesis that is not an
    agency class (``Sun Yat-sen University (SYSU)``) stays part of the name."""
    text = " ".join(text.split())
    m = re.fullmatch(r"(.+?)\s*\(([^()]+)\)", text)
    if m:
        agency = code(m.group(2), AGENCY_CLASS, AGENCY_ALIASES)
        if agency:
            return {"name": m.group(1), "agency_class": agency}
    return {"name": text, "agency_class": None} if text else None


_AGE = r"(\d+)\s*([A-Za-z]+)?\.?"
_AGE_RANGE = re.compile(rf"{_AGE}\s*(?:-|–|—|to)\s*{_AGE}", re.IGNORECASE)
_AGE_MIN = re.compile(
    rf"(?:≥\s*|>=\s*|at least\s+)?{_AGE}\s*(?:\+|and (?:up|older|over|above)|or (?:older|more|above))",
    re.IGNORECASE,
)
_AGE_MIN_PREFIX = re.compile(rf"(?:≥\s*|>=\s*|at least\s+){_AGE}", re.IGNORECASE)
_AGE_MAX = re.compile(rf"(?:up to|≤|<=)\s*{_AGE}", re.IGNORECASE)
_AGE_MAX_SUFFIX = re.compile(rf"{_AGE}\s*(?:and (?:under|younger|below)|or (?:younger|less))", re.IGNORECASE)


def _age(value: str, unit: str | None, other_unit: str | None = None) -> Age | None:
    name = (unit or other_unit or "").lower()
    resolved = AGE_UNIT.get(name) if name else DEFAULT_AGE_UNIT
    if resolved is None:
        return None
    return Age.model_validate({"value": int(value), "unit": resolved})


def parse_age_range(text: str) -> tuple[Age | None, Age | None] | None:
    """``18years - 65years``, ``12 Years - 65 Years``, ``18 Years and up``, ``up to 65 Years``,
    ``18-65`` -> (minimum, maximum); None when the text is no age range this knows."""
    text = re.sub(r"^\s*ages?\s*:?\s*", "", text.strip(), flags=re.IGNORECASE).strip()
    text = re.sub(r"^(\d+)\s*\+\s*([A-Za-z]+)$", r"\1 \2+", text)  # 18+ years -> 18 years+
    if m := _AGE_RANGE.fullmatch(text):
        low, high = _age(m[1], m[2], m[4]), _age(m[3], m[4], m[2])
        return (low, high) if low and high else None
    if m := _AGE_MIN.fullmatch(text) or _AGE_MIN_PREFIX.fullmatch(text):
        low = _age(m[1], m[2])
        return (low, None) if low else None
    if m := _AGE_MAX.fullmatch(text) or _AGE_MAX_SUFFIX.fullmatch(text):
        high = _age(m[1], m[2])
        return (None, high) if high else None
    return None


def nct_in(text: str) -> str | None:
    """The NCT ID a value holds: ``NCT06711146 on ClinicalTrials.gov`` or ``nct6711146``."""
    m = NCT_IN_TEXT.search(text)
    return m.group(0) if m else normalise_nct_id(text)


def split_list(text: str, separators: str = ",;") -> list[str]:
    """A page's inline list (``a, b, c``) -> items, stripped, exact duplicates dropped."""
    items: list[str] = []
    for raw in re.split(f"[{re.escape(separators)}]", text):
        item = " ".join(raw.split())
        if item and item not in items:
            items.append(item)
    return items


def paragraphs(lines: list[Line]) -> str | None:
    """Lines of a free-text section -> text: line breaks kept, runs of blank lines -> one blank."""
    out: list[str] = []
    for line in lines:
        text = line.text.rstrip()
        if text.strip() or (out and out[-1]):
            out.append(text)
    while out and not out[-1]:
        out.pop()
    return "\n".join(out) or None


# --- the page and the draft Trial ------------------------------------------------------------


class Line(NamedTuple):
    no: int
    text: str

    @property
    def place(self) -> str:
        return f"line {self.no}"


def page_lines(text: str) -> list[Line]:
    return [Line(no, raw.rstrip()) for no, raw in enumerate(text.splitlines(), start=1)]


def sections(lines: list[Line], headings: Mapping[str, str]) -> list[tuple[str, list[Line]]]:
    """Cut the page at heading lines (matched case-insensitively, whole line):
    [(section key, lines)], the lines before the first heading under key ``""``."""
    keyed = {h.lower(): key for h, key in headings.items()}
    out: list[tuple[str, list[Line]]] = [("", [])]
    for line in lines:
        key = keyed.get(line.text.strip().lower())
        if key is not None:
            out.append((key, []))
        else:
            out[-1][1].append(line)
    return out


@dataclass
class Draft:
    """Trial fields as dotted paths, with the page line each came from."""

    file: str
    format: SourceFormat
    nct_place: str
    data: dict[str, Any] = field(default_factory=dict)
    origin: dict[str, str] = field(default_factory=dict)
    lost_lines: dict[int, str] = field(default_factory=dict)

    def _node(self, path: str) -> tuple[dict[str, Any], str]:
        *parents, last = path.split(".")
        node = self.data
        for key in parents:
            node = node.setdefault(key, {})
        return node, last

    def get(self, path: str) -> Any:
        node, last = self._node(path)
        return node.get(last)

    def put(self, path: str, value: Any, line: Line) -> None:
        """Set a field once; the same value again is fine, a different one is unplaced."""
        if value is None or value == []:
            return
        node, last = self._node(path)
        if last not in node:
            node[last] = value
            self.origin[path] = line.place
        elif node[last] != value:
            self.lost(line)

    def add(self, path: str, value: Any, line: Line) -> None:
        node, last = self._node(path)
        node.setdefault(last, []).append(value)
        self.origin.setdefault(path, line.place)

    def lost(self, line: Line) -> None:
        if line.text.strip():
            self.lost_lines[line.no] = line.text.strip()

    @property
    def unplaced(self) -> list[str]:
        """The page lines no rule placed, in page order."""
        return [self.lost_lines[no] for no in sorted(self.lost_lines)]

    def build(self) -> Trial:
        if not self.get("identification.nct_id"):
            raise RecordError(self.file, self.nct_place, "no NCT ID found")
        data = {"source": {"format": self.format, "file": self.file, "locator": ""}, **self.data}
        try:
            return Trial.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            path = ".".join(str(p) for p in first["loc"])
            place = next((self.origin[p] for p in sorted(self.origin, key=len, reverse=True)
                          if path == p or path.startswith(p + ".")), "")
            raise RecordError(self.file, place, f"{path}: {first['msg']}") from None


Setter = Callable[[Draft, str, Line], bool]
"""Puts a label's value into the draft; False when the value is unreadable (line unplaced)."""


def setter(path: str, parse: Callable[[str], object]) -> Setter:
    """A setter that parses the value and puts it at ``path``."""

    def put(draft: Draft, value: str, line: Line) -> bool:
        parsed = parse(value)
        if parsed is None:
            return False
        draft.put(path, parsed, line)
        return True

    return put


def date_value(value: str) -> dict[str, str | None] | None:
    """A page date -> PartialDate fields; the type stays None: pages do not say actual/estimated."""
    iso = parse_date(value)
    return {"date": iso, "type": None} if iso else None


def put_ages(draft: Draft, value: str, line: Line) -> bool:
    ages = parse_age_range(value)
    if ages is None:
        return False
    low, high = ages
    draft.put("eligibility.minimum_age", low.model_dump() if low else None, line)
    draft.put("eligibility.maximum_age", high.model_dump() if high else None, line)
    return True


def put_nct(draft: Draft, value: str, line: Line) -> bool:
    nct = nct_in(value)
    if nct is None:
        return False
    draft.put("identification.nct_id", nct, line)
    return True


Parse = Callable[[str, str], tuple[Trial, list[str]]]


def read_page(data: bytes, file: str, parse: Parse) -> Iterator[ReadResult]:
    """The reader contract for a one-record page: one Trial or one RecordError, never a raise."""
    try:
        trial, unplaced = parse(decode_text(data, file), file)
    except RecordError as exc:
        yield exc
        return
    trial.source.unplaced = unplaced  # kept with the record and reported: never dropped silently
    yield trial
