"""Registry page, compact CT.gov-style layout -> Trial.

The page is a title line, ``NCT ID: ...``, ``Last Updated: ...``, then sections. Each section is a
fixed heading line followed by a fixed one-sentence blurb (``SECTIONS`` holds both as data). Two
variants exist:

* unlabelled: values stand alone on their lines; this reader recognises them by their *shape*
  (API v2 enum words, ``N participants``, ISO dates, ``18 Years``, ``Role: X`` ...), using the
  order of the page only to choose between fields that accept the same shape (two dates);
* labelled: blank lines between blocks and labels such as ``Recruitment Status`` (on the line
  before the value) or ``Group Type EXPERIMENTAL`` (label and value on one line), see ``LABELS``.

Both variants go through the same path: the page is cut into sections, label lines are folded
into the value they name, and one small function per section turns its lines into Trial fields.

Nothing is dropped silently: every line a section function cannot place is returned by
:func:`parse` as an *unplaced* line. :func:`read` still yields the Trial (output is preferred to
none) and keeps the unplaced lines in ``source.unplaced``; the tests assert there are none for the
sample pages.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Literal

from pydantic import ValidationError

from trial2fhir.errors import RecordError
from trial2fhir.model import (
    Age,
    Arm,
    Contact,
    Design,
    Eligibility,
    Enrollment,
    Identification,
    Intervention,
    Location,
    Official,
    Outcome,
    Outcomes,
    PartialDate,
    RelatedTrial,
    ResponsibleParty,
    SecondaryId,
    Source,
    Sponsor,
    Sponsors,
    Status,
    Trial,
)
from trial2fhir.readers.base import ReadResult, decode_text
from trial2fhir.readers.criteria import parse_criteria

# --- Vocabulary: ClinicalTrials.gov Data API v2 enums (ctg-oas-v2.yaml 2.0.5) ---------------------

STATUS = frozenset({
    "ACTIVE_NOT_RECRUITING", "COMPLETED", "ENROLLING_BY_INVITATION", "NOT_YET_RECRUITING",
    "RECRUITING", "SUSPENDED", "TERMINATED", "WITHDRAWN", "AVAILABLE", "NO_LONGER_AVAILABLE",
    "TEMPORARILY_NOT_AVAILABLE", "APPROVED_FOR_MARKETING", "WITHHELD", "UNKNOWN",
})  # fmt: skip
PHASE = frozenset({"NA", "EARLY_PHASE1", "PHASE1", "PHASE2", "PHASE3", "PHASE4"})
STUDY_TYPE = frozenset({"EXPANDED_ACCESS", "INTERVENTIONAL", "OBSERVATIONAL"})
ALLOCATION = frozenset({"RANDOMIZED", "NON_RANDOMIZED", "NA"})
INTERVENTION_MODEL = frozenset({"SINGLE_GROUP", "PARALLEL", "CROSSOVER", "FACTORIAL", "SEQUENTIAL"})
PRIMARY_PURPOSE = frozenset({
    "TREATMENT", "PREVENTION", "DIAGNOSTIC", "ECT", "SUPPORTIVE_CARE", "SCREENING",
    "HEALTH_SERVICES_RESEARCH", "BASIC_SCIENCE", "DEVICE_FEASIBILITY", "OTHER",
})  # fmt: skip
OBSERVATIONAL_MODEL = frozenset({
    "COHORT", "CASE_CONTROL", "CASE_ONLY", "CASE_CROSSOVER", "ECOLOGIC_OR_COMMUNITY",
    "FAMILY_BASED", "DEFINED_POPULATION", "NATURAL_HISTORY", "OTHER",
})  # fmt: skip
TIME_PERSPECTIVE = frozenset({"RETROSPECTIVE", "PROSPECTIVE", "CROSS_SECTIONAL", "OTHER"})
MASKING = frozenset({"NONE", "SINGLE", "DOUBLE", "TRIPLE", "QUADRUPLE"})
WHO_MASKED = frozenset({"PARTICIPANT", "CARE_PROVIDER", "INVESTIGATOR", "OUTCOMES_ASSESSOR"})
SEX = frozenset({"ALL", "FEMALE", "MALE"})
AGENCY_CLASS = frozenset({"NIH", "FED", "OTHER_GOV", "INDIV", "INDUSTRY", "NETWORK", "AMBIG", "OTHER",
                          "UNKNOWN"})
RESPONSIBLE_PARTY_TYPE = frozenset({"SPONSOR", "PRINCIPAL_INVESTIGATOR", "SPONSOR_INVESTIGATOR"})
ARM_TYPE = frozenset({"EXPERIMENTAL", "ACTIVE_COMPARATOR", "PLACEBO_COMPARATOR", "SHAM_COMPARATOR",
                      "NO_INTERVENTION", "OTHER"})
INTERVENTION_TYPE = frozenset({
    "BEHAVIORAL", "BIOLOGICAL", "COMBINATION_PRODUCT", "DEVICE", "DIAGNOSTIC_TEST",
    "DIETARY_SUPPLEMENT", "DRUG", "GENETIC", "PROCEDURE", "RADIATION", "OTHER",
})  # fmt: skip
AgeUnit = Literal["Years", "Months", "Weeks", "Days", "Hours", "Minutes"]
AGE_UNITS: dict[str, AgeUnit] = {"year": "Years", "month": "Months", "week": "Weeks", "day": "Days",
                                 "hour": "Hours", "minute": "Minutes"}
ABSENT = frozenset({"-", "", "N/A", "NA"})
"""Values the page prints for 'not given' (``Identifier Type: -``)."""

# --- Layout: section headings and their blurbs ---------------------------------------------------


@dataclass(frozen=True)
class SectionSpec:
    key: str
    blurb: str | None  # the fixed sentence under the heading; None when not known


SECTIONS: dict[str, SectionSpec] = {
    "Study Results": SectionSpec("results", "The study team has not published outcome measurements, "
                                 "participant flow, or safety data for this trial yet. Check back later "
                                 "for updates."),
    "Basic Information": SectionSpec("basic", "Get a concise snapshot of the trial, including recruitment "
                                     "status, study phase, enrollment targets, and key timeline milestones."),
    "Brief Summary": SectionSpec("brief_summary", "Review the sponsor-provided synopsis that highlights "
                                 "what the study is about and why it is being conducted."),
    "Related Clinical Trials": SectionSpec("related", "Explore similar clinical trials based on study "
                                           "characteristics and research focus."),
    "Detailed Description": SectionSpec("detailed_description", "Dive into the extended narrative that "
                                        "explains the scientific background, objectives, and procedures "
                                        "in greater depth."),
    "Conditions": SectionSpec("conditions", "See the medical conditions and disease areas that this "
                              "research is targeting or investigating."),
    "Keywords": SectionSpec("keywords", None),
    "Study Design": SectionSpec("design", "Understand how the trial is structured, including allocation "
                                "methods, masking strategies, primary purpose, and other design elements."),
    "Study Groups": SectionSpec("groups", "Review each arm or cohort in the study, along with the "
                                "interventions and objectives associated with them."),
    "Interventions": SectionSpec("interventions", "Learn about the drugs, procedures, or behavioral "
                                 "strategies being tested and how they are applied within this trial."),
    "Other Intervention Names": SectionSpec("other_names", "Discover alternative or legacy names that may "
                                            "be used to describe the listed interventions across "
                                            "different sources."),
    "Primary Outcomes": SectionSpec("primary_outcomes", None),
    "Secondary Outcomes": SectionSpec("secondary_outcomes", None),
    "Other Outcomes": SectionSpec("other_outcomes", None),
    "Eligibility Criteria": SectionSpec("eligibility", "Check the participation requirements, including "
                                        "inclusion and exclusion rules, age limits, and whether healthy "
                                        "volunteers are accepted."),
    "Sponsors": SectionSpec("sponsors", "Meet the organizations funding or collaborating on the study and "
                            "learn about their roles."),
    "Collaborators": SectionSpec("collaborators", None),
    "Responsible Party": SectionSpec("responsible_party", "Identify the individual or organization who "
                                     "holds primary responsibility for the study information submitted "
                                     "to regulators."),
    "Principal Investigators": SectionSpec("officials", "Learn about the lead researchers overseeing the "
                                           "trial and their institutional affiliations."),
    "Central Contacts": SectionSpec("central_contacts", "Reach out to these primary contacts for questions "
                                    "about participation or study logistics."),
    "Locations": SectionSpec("locations", "Explore where the study is taking place and check the "
                             "recruitment status at each participating site."),
    "Countries": SectionSpec("countries", "Review the countries where the study has at least one active "
                             "or historical site."),
    "Other Identifiers": SectionSpec("identifiers", "Review additional registry numbers or institutional "
                                     "identifiers associated with this trial."),
    "More Related Trials": SectionSpec("related", "Additional clinical trials that may be relevant based "
                                       "on similarity analysis."),
}
FREE_TEXT = frozenset({"brief_summary", "detailed_description", "eligibility", "results"})
"""Sections whose content is prose: inside them a heading counts only with its exact blurb."""

LABELS: dict[str, str] = {
    # label on its own line, value on the next line (labelled variant)
    "Recruitment Status": "overall_status",
    "Clinical Phase": "phases",
    "Total Enrollment": "enrollment",
    "Study Classification": "study_type",
    "Study Start Date": "start_date",
    "Primary Completion Date": "primary_completion_date",
    "Study Completion Date": "completion_date",
    "Allocation Method": "allocation",
    "Intervention Model": "intervention_model",
    "Observational Model": "observational_model",
    "Time Perspective": "time_perspective",
    "Primary Study Purpose": "primary_purpose",
    "Blinding Strategy": "masking",
    "Minimum Eligible Age": "minimum_age",
    "Maximum Eligible Age": "maximum_age",
    "Eligible Sex": "sex",
    "Accepts Healthy Volunteers": "healthy_volunteers",
}
INLINE_LABELS: dict[str, str] = {
    # label and value on one line: ``Group Type EXPERIMENTAL``
    "Group Type": "arm_type",
    "Intervention Type": "intervention_type",
    "Sponsor Role": "sponsor_role",
    "Responsibility Role": "responsible_party_type",
}

# --- Shapes ---------------------------------------------------------------------------------------

_DATE = re.compile(r"^\d{4}(?:-\d{2}(?:-\d{2})?)?$")
_ENROLLMENT = re.compile(r"^(\d[\d,]*)\s+participants?(?:\s*\((actual|estimated)\))?$", re.IGNORECASE)
_AGE = re.compile(r"^(\d+)\s+(year|month|week|day|hour|minute)s?$", re.IGNORECASE)
_NCT = re.compile(r"^(NCT\d{8})\b\s*(.*)$")
_ROLE = re.compile(r"^Role:\s*(\S.*)$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE = re.compile(r"^\+?[\d(][\d\s().\-/]{4,}\d(?:\s*(?:ext\.?|x|#)\s*(\d+))?$", re.IGNORECASE)
_PLACE = re.compile(r"^([^,]+),\s*([^,]*),\s*(?:([^,]*),\s*)?([^,]+)$")  # City, State, [Zip,] Country
_PHONE_EXT = re.compile(r"\s*(?:ext\.?|x|#)\s*\d+$", re.IGNORECASE)
_IDENT = re.compile(r"^Identifier (Type|Source|Link):\s*(.*)$")
_TIME_FRAME = re.compile(r"^Time\s*Frame:?\s*(.*)$", re.IGNORECASE)


def _phases(text: str) -> list[str] | None:
    parts = [p.strip() for p in text.split("/")]
    return parts if parts and all(p in PHASE for p in parts) else None


def _age(text: str) -> Age | None:
    m = _AGE.match(text)
    return Age(value=int(m.group(1)), unit=AGE_UNITS[m.group(2).lower()]) if m else None


def _yes_no(text: str) -> bool | None:
    return {"yes": True, "no": False}.get(text.strip().lower())


def _is_blurb_like(text: str) -> bool:
    """A one-sentence explanation such as the page prints under every heading."""
    return text.endswith(".") and len(text.split()) >= 6 and text[:1].isupper()


# --- Lines and the parse context ------------------------------------------------------------------


@dataclass
class Line:
    no: int  # 1-based line number on the page
    text: str
    label: str | None = None  # LABELS / INLINE_LABELS key when the page labelled this value


@dataclass
class Ctx:
    """What the section functions fill in; turned into a Trial at the end."""

    file: str
    study_type: str | None = None
    ident: dict[str, object] = field(default_factory=dict)
    status: Status = field(default_factory=Status)
    design: Design = field(default_factory=Design)
    eligibility: Eligibility = field(default_factory=Eligibility)
    sponsors: Sponsors = field(default_factory=Sponsors)
    brief_summary: str | None = None
    detailed_description: str | None = None
    conditions: list[str] = field(default_factory=list)
    keywords: list[str] = field(default_factory=list)
    arms: list[Arm] = field(default_factory=list)
    interventions: list[Intervention] = field(default_factory=list)
    intervention_blocks: dict[str, list[str]] = field(default_factory=dict)  # name -> description lines
    outcomes: Outcomes = field(default_factory=Outcomes)
    central_contacts: list[Contact] = field(default_factory=list)
    officials: list[Official] = field(default_factory=list)
    locations: list[Location] = field(default_factory=list)
    related: list[RelatedTrial] = field(default_factory=list)


Unplaced = list[Line]
SectionFn = Callable[[Ctx, list[Line]], Unplaced]


def _assign_by_shape(
    lines: Sequence[Line],
    fields: Sequence[tuple[str, Callable[[str], object | None]]],
    labelled_only: frozenset[str] | set[str] = frozenset(),
) -> tuple[dict[str, object], Unplaced]:
    """Give each line to a field: its label's field, else the first free field (in page order,
    after the last one filled) whose shape accepts it. ``labelled_only`` fields take labelled
    lines only."""
    values: dict[str, object] = {}
    unplaced: Unplaced = []
    order = [name for name, _ in fields]
    parsers = dict(fields)
    last = -1
    for line in lines:
        if line.label in parsers:
            value = parsers[line.label](line.text)
            if value is None or line.label in values:
                unplaced.append(line)
            else:
                values[line.label] = value
                last = order.index(line.label)
            continue
        for i, name in enumerate(order):
            if i <= last or name in values or name in labelled_only:
                continue
            value = parsers[name](line.text)
            if value is not None:
                values[name] = value
                last = i
                break
        else:
            unplaced.append(line)
    return values, unplaced


def _enum(vocab: frozenset[str]) -> Callable[[str], str | None]:
    return lambda text: text if text in vocab else None


def _date(text: str) -> PartialDate | None:
    return PartialDate(date=text) if _DATE.match(text) else None


def _enrollment(text: str) -> Enrollment | None:
    m = _ENROLLMENT.match(text)
    if not m:
        return None
    kind = m.group(2).upper() if m.group(2) else None
    return Enrollment.model_validate({"count": int(m.group(1).replace(",", "")), "type": kind})


# --- Section functions ----------------------------------------------------------------------------


def _basic(ctx: Ctx, lines: list[Line]) -> Unplaced:
    """Status, phase(s), ``N participants``, study type, then dates: unlabelled dates are the start
    and the completion date (the page gives no date type)."""
    values, unplaced = _assign_by_shape(_solid(lines), [
        ("overall_status", _enum(STATUS)),
        ("phases", _phases),
        ("enrollment", _enrollment),
        ("study_type", _enum(STUDY_TYPE)),
        ("start_date", _date),
        ("primary_completion_date", _date),
        ("completion_date", _date),
    ], labelled_only={"primary_completion_date"})
    for key in ("overall_status", "start_date", "primary_completion_date", "completion_date"):
        if key in values:
            setattr(ctx.status, key, values[key])
    if "phases" in values:
        ctx.design.phases = values["phases"]  # type: ignore[assignment]
    if "enrollment" in values:
        ctx.design.enrollment = values["enrollment"]  # type: ignore[assignment]
    if "study_type" in values:
        ctx.design.study_type = ctx.study_type = values["study_type"]  # type: ignore[assignment]
    return unplaced


def _masking(text: str) -> tuple[str, list[str]] | None:
    """``DOUBLE`` or ``DOUBLE (PARTICIPANT, INVESTIGATOR)``."""
    m = re.fullmatch(r"([A-Z]+)\s*(?:\((.*)\))?", text)
    if not m or m.group(1) not in MASKING:
        return None
    who = [w.strip() for w in (m.group(2) or "").split(",") if w.strip()]
    return (m.group(1), who) if all(w in WHO_MASKED for w in who) else None


def _design(ctx: Ctx, lines: list[Line]) -> Unplaced:
    if ctx.study_type == "OBSERVATIONAL":
        fields: list[tuple[str, Callable[[str], object | None]]] = [
            ("observational_model", _enum(OBSERVATIONAL_MODEL)),
            ("time_perspective", _enum(TIME_PERSPECTIVE)),
        ]
    else:
        fields = [
            ("allocation", _enum(ALLOCATION)),
            ("intervention_model", _enum(INTERVENTION_MODEL)),
            ("primary_purpose", _enum(PRIMARY_PURPOSE)),
            ("masking", _masking),
        ]
    values, unplaced = _assign_by_shape(_solid(lines), fields)
    for key, value in values.items():
        if key == "masking":
            ctx.design.masking, ctx.design.who_masked = value  # type: ignore[misc]
        else:
            setattr(ctx.design, key, value)
    return unplaced


def _text(attr: str) -> SectionFn:
    def section(ctx: Ctx, lines: list[Line]) -> Unplaced:
        text = "\n".join(line.text for line in lines).strip("\n")
        text = re.sub(r"\n{3,}", "\n\n", text)
        setattr(ctx, attr, text or None)
        return []

    return section


def _skip(_ctx: Ctx, _lines: list[Line]) -> Unplaced:
    """Content that is not a Trial field (study results notice, the country list)."""
    return []


def _list(attr: str) -> SectionFn:
    def section(ctx: Ctx, lines: list[Line]) -> Unplaced:
        target: list[str] = getattr(ctx, attr)
        target.extend(line.text for line in _solid(lines) if line.text not in target)
        return []

    return section


def _related(ctx: Ctx, lines: list[Line]) -> Unplaced:
    """``title`` then ``NCT... [STATUS] [PHASE]`` (status and phase possibly on their own lines)."""
    unplaced: Unplaced = []
    title: list[Line] = []
    current: RelatedTrial | None = None
    for line in _solid(lines):
        m = _NCT.match(line.text)
        if m:
            rest = m.group(2).split()
            if not all(w in STATUS or _phases(w) for w in rest):
                unplaced.append(line)
                continue
            current = next((r for r in ctx.related if r.nct_id == m.group(1)), None)
            if current is None:
                name = " ".join(t.text for t in title) or None
                current = RelatedTrial(nct_id=m.group(1), title=name)
                ctx.related.append(current)
            for word in rest:
                _related_fact(current, word)
            title = []
        elif not title and current is not None and (line.text in STATUS or _phases(line.text)):
            _related_fact(current, line.text)  # status / phase of the trial above
        else:
            title.append(line)
    return unplaced + title


def _related_fact(trial: RelatedTrial, word: str) -> None:
    """A status or phase word of a related trial; the first one seen for the trial wins."""
    phases = _phases(word)
    if phases and not trial.phases:
        trial.phases = phases
    elif word in STATUS and trial.status is None:
        trial.status = word


def _intervention_blocks(lines: list[Line], groups: list[Line]) -> list[list[Line]]:
    """Cut the Interventions section into ``name, description...`` blocks.

    Labelled pages close each block with ``Intervention Type X``. Unlabelled pages give no marker,
    so a line starts a block when it is the first, or looks like a name (short, no closing
    punctuation, no list marker) and is not a description's first line: a line that follows a
    name wherever it appears in Study Groups belongs to that name.
    """
    solid = _solid(lines)
    if any(line.label == "intervention_type" for line in solid):
        blocks: list[list[Line]] = [[]]
        for line in solid:
            blocks[-1].append(line)
            if line.label == "intervention_type":
                blocks.append([])
        return [b for b in blocks if b]
    group_texts = [g.text for g in _solid(groups)]
    followers: dict[str, set[str]] = {}
    for prev, cur in pairwise(group_texts):
        followers.setdefault(cur, set()).add(prev)
    blocks = []
    for i, line in enumerate(solid):
        starts = not blocks
        if not starts and _name_like(line.text) and line.text in followers:
            prev_is_name = blocks[-1][0] is solid[i - 1]
            starts = not (prev_is_name and followers[line.text] == {solid[i - 1].text})
        if starts:
            blocks.append([line])
        else:
            blocks[-1].append(line)
    return blocks


def _name_like(text: str) -> bool:
    return (
        len(text) <= 120
        and len(text.split()) <= 15
        and not text.rstrip().endswith((".", ":", ";", ","))
        and not re.match(r"^\s*(?:[*\u2022-]|\d+\\?[.)])\s", text)
        and not text[:1].islower()
    )


def _interventions(ctx: Ctx, lines: list[Line], groups: list[Line]) -> Unplaced:
    for block in _intervention_blocks(lines, groups):
        name, rest = block[0], block[1:]
        kind = None
        desc: list[str] = []
        for line in rest:
            if line.label == "intervention_type" and line.text in INTERVENTION_TYPE:
                kind = line.text
            else:
                desc.append(line.text)
        ctx.intervention_blocks[name.text] = desc
        ctx.interventions.append(
            Intervention(name=name.text, type=kind, description="\n".join(desc) or None)
        )
    return []


def _groups(ctx: Ctx, lines: list[Line]) -> Unplaced:
    """Arms: label, description lines, [type], then the arm's interventions (name, [type],
    the intervention's description repeated). A line that is none of those starts the next arm."""
    solid = _solid(lines)
    by_name = {iv.name: iv for iv in ctx.interventions}
    unplaced: Unplaced = []

    def intervention_at(i: int) -> int:
        """Number of lines the intervention starting at ``i`` spans, 0 when none starts there."""
        if i >= len(solid) or solid[i].text not in by_name:
            return 0
        j = i + 1
        if j < len(solid) and solid[j].label == "intervention_type":
            j += 1
        desc = ctx.intervention_blocks.get(solid[i].text, [])
        if desc and [line.text for line in solid[j:j + len(desc)]] != desc:
            return 0
        return j + len(desc) - i

    i = 0
    while i < len(solid):
        label = solid[i]
        i += 1
        desc: list[str] = []
        kind: str | None = None
        while i < len(solid) and not intervention_at(i):
            line = solid[i]
            if line.label == "arm_type" or (line.label is None and line.text in ARM_TYPE):
                if line.text in ARM_TYPE and kind is None:
                    kind = line.text
                else:
                    unplaced.append(line)
                i += 1
                break  # the type closes the arm's header
            desc.append(line.text)
            i += 1
        names: list[str] = []
        while (span := intervention_at(i)):
            names.append(solid[i].text)
            i += span
        ctx.arms.append(Arm(label=label.text, type=kind, description="\n".join(desc) or None,
                            intervention_names=names))
        for name in names:
            if label.text not in by_name[name].arm_labels:
                by_name[name].arm_labels.append(label.text)
    return unplaced


def _other_names(ctx: Ctx, lines: list[Line]) -> Unplaced:
    """One intervention: every name is its. Several: names follow the intervention they belong to
    (a line equal to an intervention name); names before any such line stay unplaced."""
    solid = _solid(lines)
    if len(ctx.interventions) == 1:
        ctx.interventions[0].other_names.extend(line.text for line in solid)
        return []
    by_name = {iv.name: iv for iv in ctx.interventions}
    current: Intervention | None = None
    unplaced: Unplaced = []
    for line in solid:
        if line.text in by_name:
            current = by_name[line.text]
        elif current is not None:
            current.other_names.append(line.text)
        else:
            unplaced.append(line)
    return unplaced


def _eligibility(ctx: Ctx, lines: list[Line]) -> Unplaced:
    solid = _solid(lines)
    tail_fields: list[tuple[str, Callable[[str], object | None]]] = [
        ("minimum_age", _age),
        ("maximum_age", _age),
        ("sex", _enum(SEX)),
        ("healthy_volunteers", _yes_no),
    ]
    parsers = dict(tail_fields)
    cut = len(solid)
    while cut > 0:
        line = solid[cut - 1]
        if line.label in parsers or (line.label is None and any(p(line.text) is not None
                                                                for p in parsers.values())):
            cut -= 1
        else:
            break
    values, unplaced = _assign_by_shape(solid[cut:], tail_fields)
    for key, value in values.items():
        setattr(ctx.eligibility, key, value)
    # The page's criteria lines are the text, verbatim; the tree comes from the one criteria parser.
    ctx.eligibility.criteria = "\n".join(line.text for line in solid[:cut]) or None
    ctx.eligibility.criteria_sections = parse_criteria(ctx.eligibility.criteria)
    return unplaced


def _sponsor_entries(lines: list[Line]) -> tuple[list[tuple[Sponsor, str | None]], Unplaced]:
    """``name``, [``CLASS``], [``Sponsor Role lead|collaborator``] per sponsor."""
    entries: list[tuple[Sponsor, str | None]] = []
    unplaced: Unplaced = []
    pending: Line | None = None
    for line in _solid(lines):
        if line.label == "sponsor_role":
            if pending is not None:
                entries.append((Sponsor(name=pending.text), None))
                pending = None
            if entries and entries[-1][1] is None:
                entries[-1] = (entries[-1][0], line.text.lower())
            else:
                unplaced.append(line)
        elif pending is not None and line.text in AGENCY_CLASS:
            entries.append((Sponsor(name=pending.text, agency_class=line.text), None))
            pending = None
        else:
            if pending is not None:
                entries.append((Sponsor(name=pending.text), None))
            pending = line
    if pending is not None:
        entries.append((Sponsor(name=pending.text), None))
    return entries, unplaced


def _sponsors(ctx: Ctx, lines: list[Line]) -> Unplaced:
    """The sponsor with role ``lead`` (or, without roles, the first) is the lead; others collaborate."""
    entries, unplaced = _sponsor_entries(lines)
    lead = next((i for i, (_, role) in enumerate(entries) if role == "lead"), None)
    if lead is None and entries and ctx.sponsors.lead_sponsor is None:
        lead = next((i for i, (_, role) in enumerate(entries) if role is None), None)
    for i, (sponsor, _) in enumerate(entries):
        if i == lead and ctx.sponsors.lead_sponsor is None:
            ctx.sponsors.lead_sponsor = sponsor
        else:
            ctx.sponsors.collaborators.append(sponsor)
    return unplaced


def _collaborators(ctx: Ctx, lines: list[Line]) -> Unplaced:
    entries, unplaced = _sponsor_entries(lines)
    ctx.sponsors.collaborators.extend(sponsor for sponsor, _ in entries)
    return unplaced


def _responsible_party(ctx: Ctx, lines: list[Line]) -> Unplaced:
    unplaced: Unplaced = []
    for line in _solid(lines):
        if line.text in RESPONSIBLE_PARTY_TYPE and line.label in (None, "responsible_party_type"):
            ctx.sponsors.responsible_party = ResponsibleParty(type=line.text)
        else:
            unplaced.append(line)
    return unplaced


def _people(lines: list[Line]) -> tuple[list[tuple[Line, str, list[Line]]], Unplaced]:
    """``Name`` / ``Role: X`` / details... -> (name line, role, detail lines) per person."""
    solid = _solid(lines)
    roles = [i for i, line in enumerate(solid) if _ROLE.match(line.text)]
    people = []
    unplaced = solid[: roles[0] - 1] if roles and roles[0] > 0 else ([] if roles else solid)
    for k, r in enumerate(roles):
        if r == 0 or (k and roles[k - 1] == r - 1):
            unplaced.append(solid[r])
            continue
        end = roles[k + 1] - 1 if k + 1 < len(roles) else len(solid)
        m = _ROLE.match(solid[r].text)
        assert m
        people.append((solid[r - 1], m.group(1).strip(), solid[r + 1:end]))
    return people, unplaced


def _officials(ctx: Ctx, lines: list[Line]) -> Unplaced:
    people, unplaced = _people(lines)
    for name, role, rest in people:
        affiliation = "; ".join(line.text for line in rest) or None
        ctx.officials.append(Official(name=name.text, role=role, affiliation=affiliation))
    return unplaced


def _contact(name: str | None, role: str | None, rest: list[Line]) -> tuple[Contact, Unplaced]:
    contact = Contact(name=name, role=role)
    unplaced: Unplaced = []
    for line in rest:
        phone = _PHONE.match(line.text)
        if _EMAIL.match(line.text) and contact.email is None:
            contact.email = line.text
        elif phone and contact.phone is None:
            contact.phone = _PHONE_EXT.sub("", line.text) if phone.group(1) else line.text
            contact.phone_ext = phone.group(1)
        else:
            unplaced.append(line)
    return contact, unplaced


def _central_contacts(ctx: Ctx, lines: list[Line]) -> Unplaced:
    if not any(_ROLE.match(line.text) for line in lines):
        contacts, unplaced = _site_contacts(_solid(lines))
        ctx.central_contacts.extend(contacts)
        return unplaced
    people, unplaced = _people(lines)
    for name, role, rest in people:
        contact, left = _contact(name.text, role, rest)
        ctx.central_contacts.append(contact)
        unplaced += left
    return unplaced


def _locations(ctx: Ctx, lines: list[Line]) -> Unplaced:
    """``Facility`` / ``City, State, Country`` / [STATUS] / [contacts]; state may be empty."""
    solid = _solid(lines)
    places = [i for i, line in enumerate(solid) if _PLACE.match(line.text)]
    unplaced = solid[: places[0] - 1] if places and places[0] > 0 else ([] if places else solid)
    for k, p in enumerate(places):
        m = _PLACE.match(solid[p].text)
        assert m
        has_facility = p > 0 and (k == 0 or places[k - 1] < p - 1)
        end = places[k + 1] - 1 if k + 1 < len(places) else len(solid)
        if k + 1 < len(places) and places[k + 1] == p + 1:
            end = p + 1
        city, state, zip_code, country = (g.strip() if g else None for g in m.groups())
        location = Location(facility=solid[p - 1].text if has_facility else None, city=city or None,
                            state=state or None, zip=zip_code or None, country=country or None)
        rest = solid[p + 1:end]
        if rest and rest[0].text in STATUS:
            location.status = rest.pop(0).text
        location.contacts, left = _site_contacts(rest)
        unplaced += left
        ctx.locations.append(location)
    return unplaced


def _site_contacts(lines: list[Line]) -> tuple[list[Contact], Unplaced]:
    """Site contacts: ``Name`` / [``Role: X``] / phone / email, a new name starting a new contact."""
    contacts: list[Contact] = []
    unplaced: Unplaced = []
    block: list[Line] = []

    def flush() -> None:
        nonlocal block
        if block:
            role_match = _ROLE.match(block[1].text) if len(block) > 1 else None
            rest = block[2:] if role_match else block[1:]
            contact, left = _contact(block[0].text, role_match.group(1) if role_match else None, rest)
            contacts.append(contact)
            unplaced.extend(left)
        block = []

    for line in lines:
        if not (_ROLE.match(line.text) or _PHONE.match(line.text) or _EMAIL.match(line.text)):
            flush()
        block.append(line)
    flush()
    return contacts, unplaced


def _identifiers(ctx: Ctx, lines: list[Line]) -> Unplaced:
    """``value`` / ``Identifier Type: X`` / ``Identifier Source: org_study_id|...``."""
    unplaced: Unplaced = []
    entries: list[dict[str, str]] = []
    for line in _solid(lines):
        m = _IDENT.match(line.text)
        if m and entries and m.group(1).lower() not in entries[-1]:
            entries[-1][m.group(1).lower()] = m.group(2).strip()
        elif m:
            unplaced.append(line)
        else:
            entries.append({"id": line.text})
    secondary: list[SecondaryId] = ctx.ident.setdefault("secondary_ids", [])  # type: ignore[assignment]
    for e in entries:
        kind = None if e.get("type", "-") in ABSENT else e["type"]
        link = None if e.get("link", "-") in ABSENT else e["link"]
        source = e.get("source", "")
        if source == "org_study_id" and "org_study_id" not in ctx.ident:
            ctx.ident.update(org_study_id=e["id"], org_study_id_type=kind, org_study_id_link=link)
        elif source == "nct_alias":
            ctx.ident.setdefault("nct_id_aliases", []).append(e["id"])  # type: ignore[attr-defined]
        else:
            domain = None if source in ABSENT or source == "secondary_id" else source
            secondary.append(SecondaryId(id=e["id"], type=kind, domain=domain, link=link))
    return unplaced


def _outcomes(kind: str) -> SectionFn:
    """``measure`` / description lines / ``Time Frame: ...`` (closing the outcome)."""

    def section(ctx: Ctx, lines: list[Line]) -> Unplaced:
        target: list[Outcome] = getattr(ctx.outcomes, kind)
        unplaced: Unplaced = []
        measure: str | None = None
        desc: list[str] = []
        for line in _solid(lines):
            tf = _TIME_FRAME.match(line.text)
            if tf and measure is None:
                unplaced.append(line)
            elif tf:
                target.append(Outcome(measure=measure, description="\n".join(desc) or None,
                                      time_frame=tf.group(1).strip() or None))
                measure, desc = None, []
            elif measure is None:
                measure = line.text
            else:
                desc.append(line.text)
        if measure is not None:
            target.append(Outcome(measure=measure, description="\n".join(desc) or None))
        return unplaced

    return section


SECTION_FUNCTIONS: dict[str, SectionFn] = {
    "results": _skip,
    "basic": _basic,
    "brief_summary": _text("brief_summary"),
    "detailed_description": _text("detailed_description"),
    "related": _related,
    "conditions": _list("conditions"),
    "keywords": _list("keywords"),
    "design": _design,
    # "interventions" needs Study Groups: called by parse() itself
    "groups": _groups,
    "other_names": _other_names,
    "primary_outcomes": _outcomes("primary"),
    "secondary_outcomes": _outcomes("secondary"),
    "other_outcomes": _outcomes("other"),
    "eligibility": _eligibility,
    "sponsors": _sponsors,
    "collaborators": _collaborators,
    "responsible_party": _responsible_party,
    "officials": _officials,
    "central_contacts": _central_contacts,
    "locations": _locations,
    "countries": _skip,
    "identifiers": _identifiers,
}
ORDER = ["results", "basic", "design", "interventions", "groups", "other_names"]
"""Sections whose functions need another's result run in this order; the rest follow."""

FIELD_SECTION = {
    "status": "Basic Information", "design": "Study Design",
    "arms": "Study Groups", "interventions": "Interventions", "eligibility": "Eligibility Criteria",
    "sponsors": "Sponsors", "central_contacts": "Central Contacts",
    "overall_officials": "Principal Investigators", "locations": "Locations",
    "related_trials": "Related Clinical Trials", "outcomes": "Primary Outcomes",
}  # fmt: skip


# --- Splitting the page ---------------------------------------------------------------------------


def _solid(lines: Sequence[Line]) -> list[Line]:
    return [line for line in lines if line.text.strip()]


def _fold_labels(lines: list[Line]) -> tuple[list[Line], Unplaced]:
    """Fold a label line into the value line after it; split ``Label VALUE`` lines."""
    out: list[Line] = []
    unplaced: Unplaced = []
    pending: Line | None = None
    for line in lines:
        text = line.text.strip()
        if not text:
            out.append(line)
            continue
        if pending is not None:
            out.append(Line(line.no, text, LABELS[pending.text]))
            pending = None
            continue
        if text in LABELS:
            pending = Line(line.no, text)
            continue
        for prefix, key in INLINE_LABELS.items():
            if text.startswith(prefix + " "):
                out.append(Line(line.no, text[len(prefix) + 1:].strip(), key))
                break
        else:
            out.append(Line(line.no, line.text.rstrip()))
    if pending is not None:
        unplaced.append(pending)
    return out, unplaced


def _split(lines: list[Line]) -> tuple[list[Line], list[tuple[str, list[Line]]]]:
    """Header lines, then (heading, lines) per section, blurbs removed."""
    header: list[Line] = []
    sections: list[tuple[str, list[Line]]] = []
    seen: set[str] = set()
    i = 0
    while i < len(lines):
        line = lines[i]
        spec = SECTIONS.get(line.text.strip())
        if spec is not None:
            nxt = next((k for k in range(i + 1, len(lines)) if lines[k].text.strip()), None)
            following = lines[nxt].text.strip() if nxt is not None else ""
            exact = spec.blurb is not None and following == spec.blurb
            in_prose = bool(sections) and SECTIONS[sections[-1][0]].key in FREE_TEXT
            generic = (spec.key not in seen and not in_prose and _is_blurb_like(following)
                       and following not in SECTIONS)
            if exact or generic or (spec.key == "results" and not sections):
                sections.append((line.text.strip(), []))
                seen.add(spec.key)
                if (exact or generic) and nxt is not None:
                    i = nxt + 1
                else:
                    i += 1
                continue
        if sections:
            heading, body = sections[-1]
            blurb = SECTIONS[heading].blurb
            if heading == "Study Results" and blurb and line.text.strip() == blurb:
                i += 1  # the results notice may follow a status line ("Results pending")
                continue
            body.append(line)
        else:
            header.append(line)
        i += 1
    return header, sections


def parse(text: str, file: str) -> tuple[Trial, list[str]]:
    """Read one compact page; return the Trial and the lines it could not place (``line N: text``).

    Raises RecordError for a page that cannot make a Trial (no NCT ID, invalid values).
    """
    raw = [Line(no, t) for no, t in enumerate(text.splitlines(), start=1)]
    folded, unplaced = _fold_labels(raw)
    header, sections = _split(folded)
    ctx = Ctx(file)
    nct_line = _header(ctx, header, unplaced)
    if nct_line is None:
        raise RecordError(file, "line 1", "no NCT ID found")
    by_key: dict[str, list[Line]] = {}
    headings: dict[str, str] = {}
    for heading, body in sections:
        key = SECTIONS[heading].key
        by_key.setdefault(key, []).extend(body)
        headings.setdefault(key, heading)
    keys = [k for k in ORDER if k in by_key] + [k for k in by_key if k not in ORDER]
    for key in keys:
        try:
            if key == "interventions":
                unplaced += _interventions(ctx, by_key[key], by_key.get("groups", []))
            else:
                unplaced += SECTION_FUNCTIONS[key](ctx, by_key[key])
        except ValidationError as exc:
            raise RecordError(file, f'section "{headings[key]}"', _message(exc)) from None
    try:
        ident = Identification.model_validate(ctx.ident)
    except ValidationError as exc:
        bad_id = any(e["loc"][:1] == ("nct_id",) for e in exc.errors())
        place = f"line {nct_line.no}" if bad_id else 'section "Other Identifiers"'
        raise RecordError(file, place, _message(exc)) from None
    try:
        trial = _trial(ctx, ident)
    except ValidationError as exc:
        top = str(exc.errors()[0]["loc"][0]) if exc.errors()[0]["loc"] else ""
        place = f'section "{FIELD_SECTION[top]}"' if top in FIELD_SECTION else ""
        raise RecordError(file, place, _message(exc)) from None
    return trial, [f"line {line.no}: {line.text.strip()}" for line in sorted(unplaced, key=lambda x: x.no)]


def _header(ctx: Ctx, header: list[Line], unplaced: Unplaced) -> Line | None:
    nct_line = None
    title_done = False
    for line in _solid(header):
        text = line.text.strip()
        if text.startswith("NCT ID:") and nct_line is None:
            nct_line = line
            ctx.ident["nct_id"] = text.removeprefix("NCT ID:").strip()
        elif text.startswith("Last Updated:") and _date(text.removeprefix("Last Updated:").strip()):
            ctx.status.last_update_posted = _date(text.removeprefix("Last Updated:").strip())
        elif not title_done and nct_line is None:
            ctx.ident["brief_title"] = text
            title_done = True
        else:
            unplaced.append(line)
    return nct_line


def _trial(ctx: Ctx, ident: Identification) -> Trial:
    trial = Trial(
        source=Source(format="page-compact", file=ctx.file, locator=""),
        identification=ident,
        status=ctx.status,
        sponsors=ctx.sponsors,
        brief_summary=ctx.brief_summary,
        detailed_description=ctx.detailed_description,
        conditions=ctx.conditions,
        keywords=ctx.keywords,
        design=ctx.design,
        arms=ctx.arms,
        interventions=ctx.interventions,
        outcomes=ctx.outcomes,
        eligibility=ctx.eligibility,
        central_contacts=ctx.central_contacts,
        overall_officials=ctx.officials,
        locations=ctx.locations,
        related_trials=ctx.related,
    )
    # Section functions assign fields after construction: validate the whole record once more.
    return Trial.model_validate(trial.model_dump())


def _message(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"])
    return f"{where}: {first['msg']}" if where else first["msg"]


# --- Reader contract ------------------------------------------------------------------------------


def sniff(head: bytes) -> bool:
    text = head.decode("utf-8", errors="replace")
    lines = [line.strip() for line in text.splitlines()]
    if not any(line.startswith("NCT ID: NCT") for line in lines):
        return False
    return len({line for line in lines if line in SECTIONS}) >= 2


def read(data: bytes, file: str) -> Iterator[ReadResult]:
    """Yield the page's Trial (lines it could not place go to ``source.unplaced``) or one RecordError."""
    try:
        trial, unplaced = parse(decode_text(data, file), file)
    except RecordError as exc:
        yield exc
        return
    trial.source.unplaced = unplaced
    yield trial
