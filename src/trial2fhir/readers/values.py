"""STAND-IN for helper "model"'s value-parser module (branch h-model), written to its contract so
the page readers can be built before it lands; replaced by theirs at merge."""

from __future__ import annotations

import re
from datetime import date

from trial2fhir.model import Age, Enrollment, PartialDate

_MONTHS = {m: i for i, m in enumerate(
    ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], start=1)}
_UNITS = {"year": "Years", "month": "Months", "week": "Weeks", "day": "Days", "hour": "Hours",
          "minute": "Minutes", "y": "Years", "yr": "Years", "yrs": "Years"}


def _month(word: str) -> int:
    m = _MONTHS.get(word[:3].lower())
    if m is None or not (word.lower() == word[:3].lower() or "january february march april may june july "
                         "august september october november december".find(word.lower()) >= 0):
        raise ValueError(f"not a date: {word!r}")
    return m


def parse_date(text: str) -> PartialDate:
    t = " ".join(text.split())
    try:
        if m := re.fullmatch(r"(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?", t):
            y, mo, d = m.groups()
            if d:
                date(int(y), int(mo), int(d))
            elif mo and not 1 <= int(mo) <= 12:
                raise ValueError
            return PartialDate(date=t)
        if m := re.fullmatch(r"([A-Za-z]+)\s+(\d{4})", t):
            return PartialDate(date=f"{m[2]}-{_month(m[1]):02d}")
        if m := re.fullmatch(r"([A-Za-z]+)\s+(\d{1,2}),?\s+(\d{4})", t):
            return PartialDate(date=date(int(m[3]), _month(m[1]), int(m[2])).isoformat())
        if m := re.fullmatch(r"(\d{1,2})\s+([A-Za-z]+),?\s+(\d{4})", t):
            return PartialDate(date=date(int(m[3]), _month(m[2]), int(m[1])).isoformat())
    except ValueError:
        raise ValueError(f"impossible date {text!r}") from None
    raise ValueError(f"not a date: {text!r}")


def parse_age(text: str) -> Age | None:
    t = text.strip()
    if t.upper() in ("N/A", "NA", ""):
        return None
    m = re.fullmatch(r"(\d+)\s*([A-Za-z]+)", t)
    unit = _UNITS.get(m[2].lower().rstrip("s")) or _UNITS.get(m[2].lower()) if m else None
    if not m or unit is None:
        raise ValueError(f"not an age: {text!r}")
    return Age.model_validate({"value": int(m[1]), "unit": unit})


def parse_phases(text: str) -> list[str]:
    t = text.strip()
    if t.upper() in ("N/A", "NA", "NOT APPLICABLE", "NOT_APPLICABLE"):
        return ["NA"]
    out: list[str] = []
    for part in re.findall(r"(early[\s_]*phase[\s_]*1|phase[\s_]*[1-4])", t, re.IGNORECASE):
        key = re.sub(r"[\s_]", "", part.upper()).replace("EARLYPHASE", "EARLY_PHASE")
        if key not in out:
            out.append(key)
    rest = re.sub(r"(early[\s_]*phase[\s_]*1|phase[\s_]*[1-4])", "", t, flags=re.IGNORECASE)
    if not out or re.search(r"\w", rest):
        raise ValueError(f"not a phase: {text!r}")
    return out


def parse_enrollment(text: str) -> Enrollment | None:
    m = re.fullmatch(r"\s*(?:(actual|estimated|anticipated)\s*:\s*)?(\d[\d,]*)\s*(?:participants?|subjects?|"
                     r"patients?|people)?\s*(?:\(\s*(\w+)\s*\))?\s*", text, re.IGNORECASE)
    kinds = {"estimated": "ESTIMATED", "anticipated": "ESTIMATED", "actual": "ACTUAL"}
    kind = (m[1] or m[3] or "").lower() if m else ""
    if not m or (kind and kind not in kinds):
        raise ValueError(f"not an enrollment: {text!r}")
    return Enrollment.model_validate({"count": int(m[2].replace(",", "")), "type": kinds.get(kind)})


_CLASSES = {"NIH": "NIH", "FED": "FED", "U_S_FED": "FED", "US_FED": "FED", "OTHER_GOV": "OTHER_GOV",
            "INDIV": "INDIV", "INDIVIDUAL": "INDIV", "INDUSTRY": "INDUSTRY", "NETWORK": "NETWORK",
            "AMBIG": "AMBIG", "OTHER": "OTHER", "UNKNOWN": "UNKNOWN"}


def agency_class(text: str) -> str | None:
    return _CLASSES.get(re.sub(r"[^A-Z0-9]+", "_", text.upper()).strip("_"))
