"""Scores the readers' criteria trees against the hand-labelled set in ``tests/criteria_labels/``.

Each record goes through its real read path (format detection, reader, ``parse_criteria``); the
tree is compared with the labels by item text (case, spacing and punctuation folded):

- recall: labelled items (criteria and lead-ins, at every depth) found in the tree;
- side accuracy: of those found, the share whose section has the labelled side;
- fragments: items of the tree that are no labelled criterion, lead-in or heading of the text;
- no labelled heading, and no labelled lead-in without its sub-items, is a criterion on its own.

Run ``pytest -s tests/readers/test_criteria_scores.py`` to see the scores and every miss.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import REPO, SHARED
from trial2fhir.model import CriteriaSection, Criterion
from trial2fhir.readers import READERS

LABELS = Path(__file__).resolve().parent.parent / "criteria_labels"


def norm(text: str) -> str:
    return re.sub(r"[\W_]+", "", text.casefold())


def read_sections(path: Path) -> list[CriteriaSection]:
    data = path.read_bytes()
    reader = next(r for r in READERS.values() if r.sniff(data[:65536]))
    results = list(reader.read(data, str(path)))
    trial = results[0]
    assert not isinstance(trial, Exception), trial
    return trial.eligibility.criteria_sections


def _walk_model(items: list[Criterion], side: str, out: list[tuple[str, str, bool]]) -> None:
    for c in items:
        out.append((side, norm(c.text), bool(c.items)))
        _walk_model(c.items, side, out)


def _walk_label(items: list[dict[str, Any]], side: str, out: list[tuple[str, str, bool]]) -> None:
    for c in items:
        out.append((side, norm(c["text"]), bool(c.get("items"))))
        _walk_label(c.get("items", []), side, out)


@dataclass
class Score:
    labelled: int = 0
    found: int = 0
    side_right: int = 0
    parsed: int = 0
    fragments: list[str] = field(default_factory=list)
    misses: list[str] = field(default_factory=list)
    alone: list[str] = field(default_factory=list)

    def add(self, name: str, label: dict[str, Any], sections: list[CriteriaSection]) -> None:
        want: list[tuple[str, str, bool]] = []
        headings: set[str] = set()
        for s in label["sections"]:
            _walk_label(s["items"], s["side"], want)
            for line in (s.get("heading") or "").splitlines():
                headings.add(norm(line))
            headings.add(norm(s.get("heading") or ""))
        got: list[tuple[str, str, bool]] = []
        for sec in sections:
            _walk_model(sec.items, sec.side, got)
        self.labelled += len(want)
        self.parsed += len(got)
        got_text = Counter(t for _, t, _ in got)
        got_sided = Counter((side, t) for side, t, _ in got)
        for side, text, _ in want:
            if got_text[text] > 0:
                got_text[text] -= 1
                self.found += 1
                if got_sided[(side, text)] > 0:
                    got_sided[(side, text)] -= 1
                    self.side_right += 1
            else:
                self.misses.append(f"{name}: {text[:80]}")
        known = Counter(t for _, t, _ in want)
        lead_ins = {t for _, t, has in want if has}
        for _, text, has_items in got:
            if known[text] > 0:
                known[text] -= 1
            elif text not in headings:
                self.fragments.append(f"{name}: {text[:80]}")
            if text in headings or (text in lead_ins and not has_items):
                self.alone.append(f"{name}: {text[:80]}")

    def report(self) -> str:
        return (
            f"criteria labelled {self.labelled}, found {self.found}: recall {self.recall:.1%}; "
            f"side accuracy {self.side:.1%}; fragments {len(self.fragments)}/{self.parsed} "
            f"({self.fragment_rate:.1%}); headings or lead-ins alone {len(self.alone)}"
        )

    @property
    def recall(self) -> float:
        return self.found / self.labelled

    @property
    def side(self) -> float:
        return self.side_right / self.found

    @property
    def fragment_rate(self) -> float:
        return len(self.fragments) / self.parsed


def _record(label: dict[str, Any]) -> Path:
    where, name = label["record"].split("/", 1)
    return (SHARED / "ctgov-dev" / name) if where == "ctgov-dev" else REPO / "samples" / name


def test_label_set_is_big_enough() -> None:
    labels = [yaml.safe_load(p.read_text(encoding="utf-8")) for p in sorted(LABELS.glob("*.yaml"))]
    kinds = Counter(label["record"].rsplit(".", 1)[-1] for label in labels if label["record"].startswith("ctgov"))
    assert kinds["json"] + kinds["xml"] >= 30, kinds
    assert kinds["json"], kinds
    assert kinds["xml"], kinds
    assert sum(label["record"].startswith("samples/") for label in labels) == len(list((REPO / "samples").iterdir()))


def test_readers_score_on_the_labelled_set(shared_dir: Path) -> None:
    score = Score()
    for path in sorted(LABELS.glob("*.yaml")):
        label = yaml.safe_load(path.read_text(encoding="utf-8"))
        score.add(path.stem, label, read_sections(_record(label)))
    print("\n" + score.report())
    for kind, lines in (("missed", score.misses), ("fragment", score.fragments), ("alone", score.alone)):
        for line in lines:
            print(f"  {kind}: {line}")
    assert score.recall >= 0.97, score.report()
    assert score.side >= 0.98, score.report()
    assert score.fragment_rate <= 0.02, score.report()
    assert not score.alone, score.alone


@pytest.mark.parametrize("name", ["missing", "heading", "lead-in"])
def test_the_scorer_can_fail(name: str) -> None:
    """The score counts what it claims: a lost item, a heading as an item, a bare lead-in."""
    label = {"sections": [{"side": "inclusion", "heading": "Inclusion Criteria:", "items": [
        {"text": "Age 18 or over"}, {"text": "Prior therapy:", "items": [{"text": "No chemotherapy"}]}]}]}
    items = {
        "missing": [Criterion(text="Prior therapy:", items=[Criterion(text="No chemotherapy")])],
        "heading": [Criterion(text="Inclusion Criteria:"), Criterion(text="Age 18 or over"),
                    Criterion(text="Prior therapy:", items=[Criterion(text="No chemotherapy")])],
        "lead-in": [Criterion(text="Age 18 or over"), Criterion(text="Prior therapy:"),
                    Criterion(text="No chemotherapy")],
    }[name]
    score = Score()
    score.add("x", label, [CriteriaSection(side="inclusion", heading="Inclusion Criteria:", items=items)])
    if name == "missing":
        assert score.recall < 1
        assert not score.alone
    else:
        assert score.alone
        assert score.recall == 1
