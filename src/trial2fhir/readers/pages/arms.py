"""Named segmenters for arms with their interventions, other intervention names, related trials.

The compact layout prints interventions as ``name`` / description lines [/ ``Intervention Type
X``], and each arm as ``label`` / description / [type] / the arm's interventions, each repeated
with its description. Unlabelled pages give no marker where one intervention ends, so the arms
section (where every intervention name follows something known) tells names from descriptions.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from itertools import pairwise
from typing import TYPE_CHECKING, Any

from trial2fhir.readers.pages.kit import Draft, Line, solid
from trial2fhir.readers.pages.shapes import VOCAB, phases_code

if TYPE_CHECKING:
    from trial2fhir.readers.pages.layout import SectionRule

_NCT = re.compile(r"(NCT\d{8})\b\s*(.*)")


def _blocks(draft: Draft, rows: list[Line]) -> list[list[Line]]:
    """Cut the Interventions section into ``name, description...`` blocks.

    Labelled pages close each block with ``Intervention Type X``. Otherwise a line starts a block
    when it is the first, or looks like a name (short, no closing punctuation, no list marker)
    and is not a description's first line: a line that follows a name wherever it appears in
    the arms section belongs to that name."""
    if any(line.label == "intervention_type" for line in rows):
        blocks: list[list[Line]] = [[]]
        for line in rows:
            blocks[-1].append(line)
            if line.label == "intervention_type":
                blocks.append([])
        return [b for b in blocks if b]
    followers: dict[str, set[str]] = {}
    for prev, cur in pairwise(line.text for line in solid(draft.sections.get("groups", []))):
        followers.setdefault(cur, set()).add(prev)
    blocks = []
    for i, line in enumerate(rows):
        starts = not blocks
        if not starts and _name_like(line.text) and line.text in followers:
            prev_is_name = blocks[-1][0] is rows[i - 1]
            starts = not (prev_is_name and followers[line.text] == {rows[i - 1].text})
        if starts:
            blocks.append([line])
        else:
            blocks[-1].append(line)
    return blocks


def _name_like(text: str) -> bool:
    return (len(text) <= 120 and len(text.split()) <= 15 and not text.rstrip().endswith((".", ":", ";", ","))
            and not re.match(r"^\s*(?:[*\u2022-]|\d+\\?[.)])\s", text) and not text[:1].islower())


def interventions(draft: Draft, lines: list[Line], _rule: SectionRule) -> None:
    for block in _blocks(draft, solid(lines)):
        name, rest = block[0], block[1:]
        kind = None
        desc: list[str] = []
        for line in rest:
            if line.label == "intervention_type" and line.text in VOCAB["intervention_type"]:
                kind = line.text
            else:
                desc.append(line.text)
        draft.scratch.setdefault("intervention_lines", {})[name.text] = desc
        draft.add("interventions", {"name": name.text, "type": kind, "description": "\n".join(desc) or None},
                  name)


def arms(draft: Draft, lines: list[Line], _rule: SectionRule) -> None:
    """Arms: label, description lines, [type], then the arm's interventions (name, [type], the
    intervention's description repeated). A line that is none of those starts the next arm."""
    rows = solid(lines)
    by_name = {iv["name"]: iv for iv in draft.get("interventions") or []}
    described: dict[str, list[str]] = draft.scratch.get("intervention_lines", {})

    def intervention_at(i: int) -> int:
        """Number of lines the intervention starting at ``i`` spans, 0 when none starts there."""
        if i >= len(rows) or rows[i].text not in by_name:
            return 0
        j = i + 1
        if j < len(rows) and rows[j].label == "intervention_type":
            j += 1
        desc = described.get(rows[i].text, [])
        if desc and [line.text for line in rows[j:j + len(desc)]] != desc:
            return 0
        return j + len(desc) - i

    i = 0
    while i < len(rows):
        label = rows[i]
        i += 1
        desc: list[str] = []
        kind: str | None = None
        while i < len(rows) and not intervention_at(i):
            line = rows[i]
            i += 1
            if line.label == "arm_type" or (line.label is None and line.text in VOCAB["arm_type"]):
                if line.text in VOCAB["arm_type"] and kind is None:
                    kind = line.text
                else:
                    draft.lost(line)
                break  # the type closes the arm's header
            desc.append(line.text)
        names: list[str] = []
        while span := intervention_at(i):
            names.append(rows[i].text)
            i += span
        draft.add("arms", {"label": label.text, "type": kind, "description": "\n".join(desc) or None,
                           "intervention_names": names}, label)
        for name in names:
            labels = by_name[name].setdefault("arm_labels", [])
            if label.text not in labels:
                labels.append(label.text)


def other_names(draft: Draft, lines: list[Line], _rule: SectionRule) -> None:
    """One intervention: every name is its. Several: names follow the intervention they belong
    to (a line equal to an intervention name); names before any such line stay unplaced."""
    found = draft.get("interventions") or []
    by_name = {iv["name"]: iv for iv in found}
    current = found[0] if len(found) == 1 else None
    for line in solid(lines):
        if len(found) != 1 and line.text in by_name:
            current = by_name[line.text]
        elif current is not None:
            current.setdefault("other_names", []).append(line.text)
        else:
            draft.lost(line)


def _is_fact(word: str) -> bool:
    return word in VOCAB["status"] or phases_code(word) is not None


def related(draft: Draft, lines: list[Line], _rule: SectionRule) -> None:
    """``title`` then ``NCT... [STATUS] [PHASE]`` (status and phase possibly on their own lines)."""
    title: list[Line] = []
    current: dict[str, Any] | None = None
    for line in solid(lines):
        m = _NCT.fullmatch(line.text.strip())
        if m:
            rest = m.group(2).split()
            if not all(_is_fact(w) for w in rest):
                draft.lost(line)
                continue
            found = draft.get("related_trials") or []
            current = next((r for r in found if r["nct_id"] == m.group(1)), None)
            if current is None:
                current = {"nct_id": m.group(1), "title": " ".join(t.text for t in title) or None}
                draft.add("related_trials", current, line)
            for word in rest:
                _fact(current, word)
            title = []
        elif not title and current is not None and _is_fact(line.text):
            _fact(current, line.text)  # status / phase of the trial above
        else:
            title.append(line)
    draft.lose(title)


def _fact(trial: dict[str, Any], word: str) -> None:
    """A status or phase word of a related trial; the first one seen for the trial wins."""
    phases = phases_code(word)
    if phases and not trial.get("phases"):
        trial["phases"] = phases
    elif word in VOCAB["status"] and trial.get("status") is None:
        trial["status"] = word


SEGMENTERS: dict[str, Callable[[Draft, list[Line], SectionRule], None]] = {
    "interventions": interventions,
    "arms": arms,
    "other_names": other_names,
    "related": related,
}
