"""The value parsers every reader shares: dates, ages, phases, enrollment, agency classes.

Registries write these values in words ("January 15, 2020", "18 Years", "Phase 1/Phase 2",
"120 (Estimated)", "U.S. Fed"); each parser returns the Trial model's form (ISO partial dates
with their precision, API v2 enum spelling) or raises ``ValueError`` with a message quoting the
value, so the reader can name the place. Digits are ASCII only: ``\\d`` would also accept
Arabic-Indic or full-width digits, which no registry writes and ``int()`` silently converts.
"""

from __future__ import annotations

import calendar
import re

from trial2fhir.model import Age, Enrollment, PartialDate

_MONTHS = {name.casefold(): i for i, name in enumerate(calendar.month_name) if name}
_MONTHS |= {name.casefold(): i for i, name in enumerate(calendar.month_abbr) if name}
_MONTHS["sept"] = 9

_ISO_DATE = re.compile(r"([0-9]{4})(?:-([0-9]{2})(?:-([0-9]{2}))?)?")
_MONTH_YEAR = re.compile(r"([A-Za-z]+)\s+([0-9]{4})")
_MONTH_DAY_YEAR = re.compile(r"([A-Za-z]+)\s+([0-9]{1,2})\s*,?\s*([0-9]{4})")
_DAY_MONTH_YEAR = re.compile(r"([0-9]{1,2})\s+([A-Za-z]+)\s*,?\s*([0-9]{4})")


def _checked(text: str, year: str, month: int | None, day: int | None) -> str:
    """ISO year[-month[-day]], refusing dates no calendar has."""
    y = int(year)
    if y < 1:
        raise ValueError(f"impossible date {text!r}: year {year}")
    if month is None:
        return year
    if not 1 <= month <= 12:
        raise ValueError(f"impossible date {text!r}: there is no month {month}")
    if day is None:
        return f"{year}-{month:02d}"
    last = calendar.monthrange(y, month)[1]
    if not 1 <= day <= last:
        raise ValueError(f"impossible date {text!r}: {calendar.month_name[month]} {year} has {last} days")
    return f"{year}-{month:02d}-{day:02d}"


def _month(text: str, name: str) -> int:
    month = _MONTHS.get(name.casefold())
    if month is None:
        raise ValueError(f"unreadable date {text!r}: {name!r} is not a month")
    return month


def parse_date(text: str) -> PartialDate:
    """``2020``, ``2020-01``, ``2020-01-15``, ``January 2020``, ``Jan 15, 2020``, ``15 January
    2020`` -> PartialDate keeping the precision given; ValueError for unreadable or impossible dates."""
    return PartialDate(date=iso_date(text))


def iso_date(text: str) -> str:
    """:func:`parse_date`'s ISO ``YYYY[-MM[-DD]]`` string alone (no model object: readers of
    thousands of dates build the PartialDate with the rest of the Trial)."""
    if m := _ISO_DATE.fullmatch(text):  # the common case first: API v2 writes ISO
        return _checked(text, m[1], int(m[2]) if m[2] else None, int(m[3]) if m[3] else None)
    clean = " ".join(text.replace(".", " ").split())
    if m := _ISO_DATE.fullmatch(clean):
        return _checked(text, m[1], int(m[2]) if m[2] else None, int(m[3]) if m[3] else None)
    if m := _MONTH_YEAR.fullmatch(clean):
        return _checked(text, m[2], _month(text, m[1]), None)
    if m := _MONTH_DAY_YEAR.fullmatch(clean):
        return _checked(text, m[3], _month(text, m[1]), int(m[2]))
    if m := _DAY_MONTH_YEAR.fullmatch(clean):
        return _checked(text, m[3], _month(text, m[2]), int(m[1]))
    raise ValueError(f"unreadable date {text!r}")


DATE_TYPE = {"actual": "ACTUAL", "anticipated": "ESTIMATED", "estimate": "ESTIMATED", "estimated": "ESTIMATED"}


def parse_date_type(text: str) -> str:
    """``Actual`` -> ACTUAL; ``Anticipated``/``Estimated`` -> ESTIMATED (API v2 DateType)."""
    kind = DATE_TYPE.get(text.strip().casefold())
    if kind is None:
        raise ValueError(f"unknown date type {text!r} (expected Actual, Anticipated or Estimated)")
    return kind


_AGE_UNITS = {
    "year": "Years", "years": "Years", "y": "Years", "yr": "Years", "yrs": "Years",
    "month": "Months", "months": "Months", "mo": "Months", "mos": "Months",
    "week": "Weeks", "weeks": "Weeks", "wk": "Weeks", "wks": "Weeks",
    "day": "Days", "days": "Days",
    "hour": "Hours", "hours": "Hours", "hr": "Hours", "hrs": "Hours",
    "minute": "Minutes", "minutes": "Minutes", "min": "Minutes", "mins": "Minutes",
}  # fmt: skip
_AGE = re.compile(r"([0-9]+)\s*([A-Za-z]+)")
_NO_AGE = frozenset({"", "n/a", "na", "none", "no limit", "not applicable"})


MAX_DIGITS = 12  # no count or age has more; Python's int() refuses over 4300 with advice for developers


def whole_number(digits: str, text: str) -> int:
    """A count or an age from its digits; a run of digits longer than any count is an error naming
    the value (Python's own limit on int() of 4300 digits speaks of sys.set_int_max_str_digits)."""
    if len(digits) > MAX_DIGITS:
        shown = text if len(text) <= 40 else text[:40] + "..."
        raise ValueError(f"a number of {len(digits)} digits is no count or age: {shown!r}")
    return int(digits)


def parse_age(text: str | None) -> Age | None:
    """``18 Years``, ``1 Year``, ``6 months`` -> Age; None for absent, ``N/A`` or ``No limit``."""
    if text is None or text.strip().casefold() in _NO_AGE:
        return None
    m = _AGE.fullmatch(text.strip().rstrip("."))
    unit = _AGE_UNITS.get(m[2].casefold()) if m else None
    if m is None or unit is None:
        raise ValueError(f"unreadable age {text!r}")
    return Age.model_validate({"value": whole_number(m[1], text), "unit": unit})


_NO_PHASE = frozenset({"n/a", "na", "not applicable", "n_a"})
_ROMAN = {"0": 0, "1": 1, "2": 2, "3": 3, "4": 4, "i": 1, "ii": 2, "iii": 3, "iv": 4}
_PHASE_TOKEN = re.compile(
    r"""\s*(?:
        (?P<early>early[\s_-]*phase[\s_-]*(?:1|i)(?![a-z0-9]))
      | phase[\s_-]*(?P<phase>[0-4]|iv|iii|ii|i)(?![a-z0-9])
      | (?P<bare>[0-4]|iv|iii|ii|i)(?![a-z0-9])
      | (?P<sep>[/,&|+;]|and(?![a-z]))
    )\s*""",
    re.IGNORECASE | re.VERBOSE,
)


def _phase_code(number: int) -> str:
    return "EARLY_PHASE1" if number == 0 else f"PHASE{number}"


def parse_phases(text: str) -> list[str]:
    """``Phase 1/Phase 2``, ``Phase 2 Phase 3``, ``PHASE1, PHASE2``, ``Phase 1/2``, ``Early Phase 1``
    -> API v2 phases in order, each once; ``N/A`` -> [NA]; blank -> []; ValueError otherwise.
    ``Phase 0`` is API v2's EARLY_PHASE1 (the registry's own label for exploratory phase 0 trials)."""
    clean = text.strip()
    if not clean:
        return []
    if clean.casefold() in _NO_PHASE:
        return ["NA"]
    phases: list[str] = []
    pos, seen_phase = 0, False
    while pos < len(clean):
        m = _PHASE_TOKEN.match(clean, pos)
        if m is None or m.end() == pos:
            raise ValueError(f"unreadable phase {text!r}")
        pos = m.end()
        if m["sep"]:
            continue
        if m["bare"] and not seen_phase:  # "1/2" alone is no phase; "Phase 1/2" is
            raise ValueError(f"unreadable phase {text!r}")
        found = "EARLY_PHASE1" if m["early"] else _phase_code(_ROMAN[(m["phase"] or m["bare"]).casefold()])
        seen_phase = True
        if found not in phases:
            phases.append(found)
    if not phases:
        raise ValueError(f"unreadable phase {text!r}")
    return phases


_ENROLLMENT_TYPE = {"actual": "ACTUAL", "estimated": "ESTIMATED", "anticipated": "ESTIMATED", "estimate": "ESTIMATED"}
_COUNT = r"(?P<count>[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)"
_UNIT = r"(?:\s*(?:participants?|subjects?|patients?|people|persons?))?"
_KIND = r"(?P<kind>[A-Za-z]+)"
_ENROLLMENT = (
    re.compile(rf"{_COUNT}{_UNIT}(?:\s*\(\s*{_KIND}\s*\))?", re.IGNORECASE),
    re.compile(rf"{_COUNT}{_UNIT}\s+{_KIND}", re.IGNORECASE),
    re.compile(rf"{_KIND}\s*:?\s*{_COUNT}{_UNIT}", re.IGNORECASE),
)


def parse_enrollment(text: str) -> Enrollment | None:
    """``120 (Estimated)``, ``Actual: 40``, ``40 participants``, ``1,200`` -> Enrollment;
    None for a blank or ``N/A`` value; ValueError otherwise."""
    clean = " ".join(text.split())
    if clean.casefold() in {"", "n/a", "na"}:
        return None
    for pattern in _ENROLLMENT:
        m = pattern.fullmatch(clean)
        if m is None:
            continue
        kind = m["kind"]
        if kind is not None and kind.casefold() not in _ENROLLMENT_TYPE:
            continue
        count = whole_number(m["count"].replace(",", ""), text)
        return Enrollment.model_validate({"count": count, "type": _ENROLLMENT_TYPE[kind.casefold()] if kind else None})
    raise ValueError(f"unreadable enrollment {text!r}")


AGENCY_CLASSES = frozenset({"NIH", "FED", "OTHER_GOV", "INDIV", "INDUSTRY", "NETWORK", "AMBIG", "OTHER", "UNKNOWN"})
"""API v2 AgencyClass (ctg-oas-v2.yaml 2.0.5)."""
_AGENCY_ALIASES = {
    "U_S_FED": "FED", "US_FED": "FED", "FEDERAL": "FED", "U_S_FEDERAL": "FED",
    "INDIVIDUAL": "INDIV", "OTHER_GOVERNMENT": "OTHER_GOV", "OTHER_GOVT": "OTHER_GOV",
    "AMBIGUOUS": "AMBIG",
}  # fmt: skip


def agency_class(text: str) -> str | None:
    """``Industry`` -> INDUSTRY, ``NIH``, ``U.S. Fed`` -> FED, ``Other`` -> OTHER (API v2 AgencyClass);
    None for a blank value; ValueError for a word that is no agency class."""
    key = re.sub(r"[^A-Z0-9]+", "_", text.upper()).strip("_")
    if not key:
        return None
    key = _AGENCY_ALIASES.get(key, key)
    if key not in AGENCY_CLASSES:
        raise ValueError(f"unknown agency class {text!r} (expected one of {', '.join(sorted(AGENCY_CLASSES))})")
    return key


__all__ = [
    "AGENCY_CLASSES",
    "MAX_DIGITS",
    "agency_class",
    "iso_date",
    "parse_age",
    "parse_date",
    "parse_date_type",
    "parse_enrollment",
    "parse_phases",
    "whole_number",
]
