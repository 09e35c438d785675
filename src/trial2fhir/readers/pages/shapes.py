"""Value shapes: what a page value looks like -> the Trial value, by name (layouts refer to them).

A shape returns None for text it does not recognise, so the line stays unplaced (never a guess).
Two kinds: ``words`` shapes read page wording (``Active, not recruiting``, ``Phase 1/2``,
``Sep 30, 2027``); ``code`` shapes accept only the API v2 spelling itself (``RECRUITING``), which
the compact layout prints bare on a line and which is how it recognises a field by its shape.
A shape returning :class:`Fields` fills several fields under the rule's path (ages: minimum and
maximum). A value of the right shape that is impossible (``2023-02-29``) raises ValueError:
the caller refuses the record naming the line.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import BaseModel

from trial2fhir.model import normalise_nct_id
from trial2fhir.readers import values

Shape = Callable[[str], Any]


class Fields(dict[str, Any]):
    """Several fields below the rule's path: ``{"minimum_age": ..., "maximum_age": ...}``."""


# --- API v2 vocabularies (ctg-oas-v2.yaml 2.0.5) ----------------------------------------------

VOCAB: dict[str, frozenset[str]] = {
    name: frozenset(words.split())
    for name, words in {
        "status": "ACTIVE_NOT_RECRUITING COMPLETED ENROLLING_BY_INVITATION NOT_YET_RECRUITING "
                  "RECRUITING SUSPENDED TERMINATED WITHDRAWN AVAILABLE NO_LONGER_AVAILABLE "
                  "TEMPORARILY_NOT_AVAILABLE APPROVED_FOR_MARKETING WITHHELD UNKNOWN",
        "site_status": "ACTIVE_NOT_RECRUITING COMPLETED ENROLLING_BY_INVITATION NOT_YET_RECRUITING "
                       "RECRUITING SUSPENDED TERMINATED WITHDRAWN AVAILABLE",
        "study_type": "EXPANDED_ACCESS INTERVENTIONAL OBSERVATIONAL",
        "phase": "NA EARLY_PHASE1 PHASE1 PHASE2 PHASE3 PHASE4",
        "sex": "FEMALE MALE ALL",
        "allocation": "RANDOMIZED NON_RANDOMIZED NA",
        "intervention_model": "SINGLE_GROUP PARALLEL CROSSOVER FACTORIAL SEQUENTIAL",
        "primary_purpose": "TREATMENT PREVENTION DIAGNOSTIC ECT SUPPORTIVE_CARE SCREENING "
                           "HEALTH_SERVICES_RESEARCH BASIC_SCIENCE DEVICE_FEASIBILITY OTHER",
        "observational_model": "COHORT CASE_CONTROL CASE_ONLY CASE_CROSSOVER ECOLOGIC_OR_COMMUNITY "
                               "FAMILY_BASED DEFINED_POPULATION NATURAL_HISTORY OTHER",
        "time_perspective": "RETROSPECTIVE PROSPECTIVE CROSS_SECTIONAL OTHER",
        "masking": "NONE SINGLE DOUBLE TRIPLE QUADRUPLE",
        "who_masked": "PARTICIPANT CARE_PROVIDER INVESTIGATOR OUTCOMES_ASSESSOR",
        "responsible_party_type": "SPONSOR PRINCIPAL_INVESTIGATOR SPONSOR_INVESTIGATOR",
        "arm_type": "EXPERIMENTAL ACTIVE_COMPARATOR PLACEBO_COMPARATOR SHAM_COMPARATOR "
                    "NO_INTERVENTION OTHER",
        "intervention_type": "BEHAVIORAL BIOLOGICAL COMBINATION_PRODUCT DEVICE DIAGNOSTIC_TEST "
                             "DIETARY_SUPPLEMENT DRUG GENETIC PROCEDURE RADIATION OTHER",
    }.items()
} | {"agency_class": values.AGENCY_CLASSES}
ALIASES: dict[str, dict[str, str]] = {
    "status": {"UNKNOWN_STATUS": "UNKNOWN", "ACTIVE": "ACTIVE_NOT_RECRUITING"},
    "sex": {"BOTH": "ALL", "ALL_SEXES": "ALL", "ALL_GENDERS": "ALL"},
}
ALIASES["site_status"] = ALIASES["status"]


def code(text: str, vocab: str) -> str | None:
    """Page wording -> API v2 enum: ``Active, not recruiting`` -> ``ACTIVE_NOT_RECRUITING``."""
    key = re.sub(r"[^A-Z0-9]+", "_", text.upper()).strip("_")
    key = ALIASES.get(vocab, {}).get(key, key)
    return key if key in VOCAB[vocab] else None


def exact(vocab: str) -> Shape:
    return lambda text: text if text in VOCAB[vocab] else None


def words(vocab: str) -> Shape:
    return lambda text: code(text, vocab)


# --- shapes -----------------------------------------------------------------------------------

NCT_IN_TEXT = re.compile(r"\bNCT\d{8}\b")
_ISO_DATE = re.compile(r"\d{4}(?:-\d{2}(?:-\d{2})?)?")
_MONTH = (r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|Sep(?:t|tember)?"
          r"|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)")
# Written dates: "Sep 30, 2027", "30 May 2025", "March 2026", ISO. Only text of this shape is a
# date; of the shape but not in the calendar (February 30) it is refused, not left unplaced.
_DATE_WORDS = re.compile(rf"(?:\d{{1,2}}\s+)?{_MONTH}\s+(?:\d{{1,2}},?\s+)?\d{{4}}|{_ISO_DATE.pattern}",
                         re.IGNORECASE)
_PARTICIPANTS = re.compile(r"(\d[\d,]*)\s+participants?(?:\s*\((actual|estimated)\))?", re.IGNORECASE)
_AGE = re.compile(r"\d+\s+[A-Za-z]+")
_MASKING = re.compile(r"([A-Z]+)\s*(?:\((.*)\))?")


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


def _date(pattern: re.Pattern[str]) -> Shape:
    """A date of the given shape -> PartialDate fields (the page says no actual/estimated);
    a date of the shape that is no calendar date raises ValueError naming it."""

    def shape(text: str) -> dict[str, Any] | None:
        text = " ".join(text.replace(".", " ").split()).replace(" ,", ",")
        if not pattern.fullmatch(text):
            return None
        return {"date": values.parse_date(text).date, "type": None}

    return shape


def lenient(parse: Callable[[str], Any], gate: re.Pattern[str] | None = None) -> Shape:
    """A shared value parser (``readers.values``) as a shape: text it cannot read (or that fails
    the ``gate`` shape) is None, not an error; a model comes back as its fields."""

    def shape(text: str) -> Any:
        if gate is not None and not gate.fullmatch(text):
            return None
        try:
            found = parse(text)
        except ValueError:
            return None
        return found.model_dump() if isinstance(found, BaseModel) else found or None

    return shape


def phases_code(text: str) -> list[str] | None:
    """``PHASE1/PHASE2`` exactly as API v2 spells each phase."""
    parts = [p.strip() for p in text.split("/")]
    return parts if all(p in VOCAB["phase"] for p in parts) else None


def enrollment_participants(text: str) -> dict[str, Any] | None:
    """``20 participants``, ``20 participants (Actual)``."""
    m = _PARTICIPANTS.fullmatch(text)
    if not m:
        return None
    count = values.whole_number(m.group(1).replace(",", ""), text)
    return {"count": count, "type": m.group(2).upper() if m.group(2) else None}


def sponsor(text: str) -> dict[str, Any] | None:
    """``Zhejiang University (other)`` -> name + agency class; a parenthesis that is not an
    agency class (``Sun Yat-sen University (SYSU)``) stays part of the name."""
    text = " ".join(text.split())
    m = re.fullmatch(r"(.+?)\s*\(([^()]+)\)", text)
    try:
        agency = values.agency_class(m.group(2)) if m else None
    except ValueError:
        agency = None
    if m and agency:
        return {"name": m.group(1), "agency_class": agency}
    return {"name": text, "agency_class": None} if text else None


_BOUND = r"(\d+)\s*([A-Za-z]+)?\.?"
_AGE_FORMS = (  # (pattern, which bounds its two groups fill)
    (re.compile(rf"{_BOUND}\s*(?:-|–|—|to)\s*{_BOUND}", re.IGNORECASE), "range"),
    (re.compile(rf"(?:≥\s*|>=\s*|at least\s+)?{_BOUND}\s*(?:\+|and (?:up|older|over|above)"
                r"|or (?:older|more|above))", re.IGNORECASE), "min"),
    (re.compile(rf"(?:≥\s*|>=\s*|at least\s+){_BOUND}", re.IGNORECASE), "min"),
    (re.compile(rf"(?:up to|≤|<=)\s*{_BOUND}", re.IGNORECASE), "max"),
    (re.compile(rf"{_BOUND}\s*(?:and (?:under|younger|below)|or (?:younger|less))", re.IGNORECASE), "max"),
)


def _bound(value: str, unit: str | None) -> dict[str, Any] | None:
    """One age bound; a bare number is in years (``18-65``, ``18+``)."""
    found: dict[str, Any] | None = lenient(values.parse_age)(f"{value} {unit or 'Years'}")
    return found


def ages(text: str) -> Fields | None:
    """``18years - 65years``, ``18 Years and up``, ``up to 65 Years``, ``18-65`` -> both bounds."""
    text = re.sub(r"^\s*ages?\s*:?\s*", "", text.strip(), flags=re.IGNORECASE).strip()
    text = re.sub(r"^(\d+)\s*\+\s*([A-Za-z]+)$", r"\1 \2+", text)  # 18+ years -> 18 years+
    for pattern, kind in _AGE_FORMS:
        m = pattern.fullmatch(text)
        if m is None:
            continue
        if kind == "range":  # a unit written once applies to both bounds
            low, high = _bound(m[1], m[2] or m[4]), _bound(m[3], m[4] or m[2])
            return Fields(minimum_age=low, maximum_age=high) if low and high else None
        found = _bound(m[1], m[2])
        if found is None:
            return None
        return Fields(minimum_age=found) if kind == "min" else Fields(maximum_age=found)
    return None


def masking(text: str) -> Fields | None:
    """``DOUBLE`` or ``DOUBLE (PARTICIPANT, INVESTIGATOR)``."""
    m = _MASKING.fullmatch(text)
    if not m or m.group(1) not in VOCAB["masking"]:
        return None
    who = [w.strip() for w in (m.group(2) or "").split(",") if w.strip()]
    return Fields(masking=m.group(1), who_masked=who) if all(w in VOCAB["who_masked"] for w in who) else None


def study_type_words(text: str) -> Fields | None:
    """``Interventional``; ``Observational [Patient Registry]`` also sets patient_registry."""
    found = code(re.sub(r"\[[^\]]*\]", "", text), "study_type")
    if found is None:
        return None
    registry = re.search(r"\[\s*patient registry\s*\]", text, re.IGNORECASE)
    return Fields(study_type=found, patient_registry=True if registry else None)


def yes_no(text: str) -> bool | None:
    return {"yes": True, "no": False}.get(text.strip().lower())


SHAPES: Mapping[str, Shape] = {
    **{f"{vocab}_code": exact(vocab) for vocab in VOCAB},
    **{vocab: words(vocab) for vocab in VOCAB},
    "text": lambda text: " ".join(text.split()) or None,
    "nct": nct_in,
    "date": _date(_DATE_WORDS),
    "iso_date": _date(_ISO_DATE),
    "phases": lenient(values.parse_phases),
    "phases_code": phases_code,
    "enrollment": lenient(values.parse_enrollment),
    "participants": enrollment_participants,
    "sponsor": sponsor,
    "age": lenient(values.parse_age, gate=_AGE),  # "18 Years" as the compact layout prints a bound
    "ages": ages,
    "masking": masking,
    "study_type": study_type_words,
    "yes_no": yes_no,
    "list": lambda text: split_list(text, ",") or None,
    "names": lambda text: [{"name": n} for n in split_list(text, ",")] or None,  # interventions, untyped
    # Commas occur inside condition names ("Lupus Nephritis, Class IV"): split at ; and | only.
    "conditions": lambda text: split_list(text, ";|") or None,
    "site_count": lambda text: int(m.group(1)) if (m := re.match(r"\s*(\d+)\s+sites?\b", text, re.I)) else None,
}
