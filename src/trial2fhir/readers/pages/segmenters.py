"""Segmenters: one small function per way a page section is read, registered in ``SEGMENTERS``
the way mapping directives are; layouts name them. The generic ones here read by the layout's
data (free text, lists, fields by shape, labels, tables, header lines); the named ones that must
stay code (people and contacts, sites, arms with their interventions, related trials) live in
``people.py`` and ``arms.py``, the layout-specific ones beside their layout.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from trial2fhir.errors import RecordError
from trial2fhir.model import Trial
from trial2fhir.readers.criteria import parse_criteria
from trial2fhir.readers.pages import arms, people
from trial2fhir.readers.pages.kit import Draft, Line, page_lines, paragraphs, solid, split_sections
from trial2fhir.readers.pages.layout import FieldRule, Layout, SectionRule
from trial2fhir.readers.pages.shapes import SHAPES, Fields

Segmenter = Callable[[Draft, list[Line], SectionRule], None]


def place(draft: Draft, rule: FieldRule, value: str, line: Line) -> bool:
    """Put ``value`` (read by the rule's shape) into the draft; False when the shape refuses it.
    An impossible value of the right shape (``2023-02-29``) refuses the record at the line."""
    try:
        parsed = SHAPES[rule.shape](value)
    except ValueError as exc:
        raise RecordError(draft.file, line.place, str(exc)) from None
    if parsed is None:
        return False
    if rule.check:
        draft.checks.append((rule.to, parsed, line))
    elif isinstance(parsed, Fields):
        for key, sub in parsed.items():
            draft.put(f"{rule.to}.{key}", sub, line)
    else:
        draft.put(rule.to, parsed, line)
    return True


def _first(lines: Sequence[Line]) -> Line:
    return next((line for line in lines if line.text.strip()), Line(0, ""))


def text(draft: Draft, lines: list[Line], rule: SectionRule) -> None:
    draft.put(str(rule.to), paragraphs(lines), _first(lines))


def listed(draft: Draft, lines: list[Line], rule: SectionRule) -> None:
    """One item per line, exact duplicates dropped."""
    draft.extend(str(rule.to), [line.text.strip() for line in solid(lines)], _first(lines))


def criteria(draft: Draft, lines: list[Line], rule: SectionRule) -> None:
    """The criteria text verbatim into ``<to>.criteria``; the tree from the one criteria parser."""
    put_criteria(draft, paragraphs(lines), _first(lines), rule.to or "eligibility")


def put_criteria(draft: Draft, body: str | None, line: Line, path: str = "eligibility") -> None:
    """The page's criteria text (as the page gives it) and its tree, which every reader builds
    with :func:`~trial2fhir.readers.criteria.parse_criteria`."""
    if body:
        draft.put(f"{path}.criteria", body, line)
        # The parser's models go in as they are: validated once, not dumped and validated again.
        draft.put(f"{path}.criteria_sections", parse_criteria(body), line)


def skip(_draft: Draft, _lines: list[Line], _rule: SectionRule) -> None:
    """Content that is no Trial field and the same on every page (results notice, site advice)."""


def lost(draft: Draft, lines: list[Line], _rule: SectionRule) -> None:
    """Content no Trial field holds (lay "Good fit:" lines): every line reported unplaced."""
    draft.lose(lines)


def by_shape(draft: Draft, lines: Sequence[Line], fields: Sequence[FieldRule]) -> None:
    """Give each line to a field: its label's field, else the first free field (in page order,
    after the last one filled) whose shape accepts it; ``labelled`` fields take labelled lines
    only. The page's order only chooses between fields of one shape (start before completion)."""
    fields = [f for f in fields if f.applies(draft.get)]
    by_label = {f.to: i for i, f in enumerate(fields)}
    filled: set[int] = set()
    last = -1
    for line in solid(lines):
        if line.label in by_label:
            i = by_label[line.label]
            if i in filled or not place(draft, fields[i], line.text.strip(), line):
                draft.lost(line)
            else:
                filled.add(i)
                last = i
            continue
        for i, f in enumerate(fields):
            if i > last and i not in filled and not f.labelled and place(draft, f, line.text.strip(), line):
                filled.add(i)
                last = i
                break
        else:
            draft.lost(line)


def shapes(draft: Draft, lines: list[Line], rule: SectionRule) -> None:
    by_shape(draft, lines, rule.fields)


def glued(draft: Draft, lines: list[Line], rule: SectionRule) -> None:
    """``LabelValue`` lines (the label glued to its value): the longest matching label wins."""
    labels = sorted(rule.labels, key=len, reverse=True)
    for line in solid(lines):
        body = line.text.strip()
        label = next((lb for lb in labels if body.startswith(lb)), None)
        if label is None or not place(draft, rule.labels[label], body[len(label):].strip(), line):
            draft.lost(line)


_ROW = re.compile(r"\|\s*(.*?)\s*\|\s*(.*?)\s*\|")


def table(draft: Draft, lines: list[Line], rule: SectionRule) -> None:
    """A two-column Markdown table, ``| Label | value |``; labels compared in lower case."""
    for line in solid(lines):
        body = line.text.strip()
        if re.fullmatch(r"\|[\s:|-]*\|", body):
            continue
        row = _ROW.fullmatch(body)
        f = rule.labels.get(" ".join(row.group(1).lower().split())) if row else None
        if row is None or f is None or not place(draft, f, row.group(2), line):
            draft.lost(line)


_BULLET = re.compile(r"\s*[•·▪●]\s*(.+)")


def header(draft: Draft, lines: list[Line], rule: SectionRule) -> None:
    """The lines before the first heading: the title (``to``), lines a field's ``match``
    recognises, and ``• LABEL`` bullets whose value is on the next line (``labels``)."""
    rest = solid(lines)
    i = 0
    while i < len(rest):
        line = rest[i]
        bullet = _BULLET.fullmatch(line.text)
        if bullet and i + 1 < len(rest) and not _BULLET.fullmatch(rest[i + 1].text):
            f = rule.labels.get(bullet.group(1).strip().lower())
            value = rest[i + 1]
            if f is None or not place(draft, f, value.text.strip(), value):
                draft.lose([line, value])
            i += 2
            continue
        if not _matched(draft, line, rule.fields):
            if i == 0 and rule.to is not None:
                draft.put(rule.to, line.text.strip(), line)
            else:
                draft.lost(line)
        i += 1


def _matched(draft: Draft, line: Line, fields: Sequence[FieldRule]) -> bool:
    for f in fields:
        m = f.pattern.fullmatch(line.text.strip()) if f.pattern else None
        if m and place(draft, f, m.group(1).strip(), line):
            return True
    return False


NEEDS_TO = frozenset({"text", "list", "compact_outcomes"})
"""Segmenters with no default place: their layout rule must say ``to`` (checked at load)."""

SEGMENTERS: dict[str, Segmenter] = {
    "header": header,
    "text": text,
    "list": listed,
    "criteria": criteria,
    "skip": skip,
    "lost": lost,
    "shapes": shapes,
    "glued": glued,
    "table": table,
    **people.SEGMENTERS,
    **arms.SEGMENTERS,
}
"""Every segmenter a layout may name; layout modules add their own at import."""


# --- one page -> one Trial --------------------------------------------------------------------


def fold_labels(lines: list[Line], layout: Layout) -> tuple[list[Line], list[Line]]:
    """Fold a label line into the value line after it (the value then carries the label's tag);
    split ``Label VALUE`` lines. Returns the lines and any label left without a value."""
    labels, inline = layout.labels, layout.inline_labels
    if not labels and not inline:
        return lines, []
    prefix = re.compile("|".join(re.escape(p) for p in sorted(inline, key=len, reverse=True)) + r"(?= )")
    out: list[Line] = []
    pending: Line | None = None
    for line in lines:
        body = line.text.strip()
        if not body:
            out.append(line)
        elif pending is not None:
            out.append(Line(line.no, body, labels[pending.text.strip()]))
            pending = None
        elif body in labels:
            pending = line
        elif m := prefix.match(body):
            out.append(Line(line.no, body[m.end():].strip(), inline[m.group()]))
        else:
            out.append(line)
    return out, [pending] if pending is not None else []


def parse(page: str, file: str, layout: Layout) -> tuple[Trial, list[str]]:
    """The page's Trial and the lines no rule placed (``line N: text``); RecordError if unusable."""
    lines, orphans = fold_labels(page_lines(page), layout)
    draft = Draft(file, layout.format, layout.nct_place)
    draft.lose(orphans)
    for section in split_sections(lines, layout, file):
        draft.sections.setdefault(section.key, []).extend(section.lines)
    prose = {h.key for h in layout.headings.values() if h.prose}
    for key, rule in layout.sections.items():
        if key not in draft.sections:
            continue
        block = draft.sections[key]
        if layout.anywhere and key not in prose:
            block = [line for line in block if not _matched(draft, line, layout.anywhere)]
        SEGMENTERS[rule.read](draft, block, rule)
    for path, count, line in draft.checks:
        if count != len(draft.get(path) or []):
            draft.lost(line)
    return draft.build(), draft.unplaced


def register(found: dict[str, Segmenter]) -> None:
    """A layout module's own segmenters (its header, say), added before its layout is loaded."""
    clash = set(found) & set(SEGMENTERS)
    if clash:
        raise ValueError(f"segmenters registered twice: {sorted(clash)}")
    SEGMENTERS.update(found)

