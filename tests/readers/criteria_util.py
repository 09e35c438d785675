"""Criteria of a Trial's tree, for assertions: the texts of one side, lead-ins and sub-items included."""

from __future__ import annotations

from trial2fhir.model import Criterion, Eligibility


def top_items(e: Eligibility, side: str) -> list[str]:
    """The texts of a side's top-level criteria, in order."""
    return [c.text for s in e.criteria_sections if s.side == side for c in s.items]


def all_items(e: Eligibility, side: str) -> list[str]:
    """Every criterion text of a side, depth first."""
    out: list[str] = []

    def walk(items: list[Criterion]) -> None:
        for c in items:
            out.append(c.text)
            walk(c.items)

    for s in e.criteria_sections:
        if s.side == side:
            walk(s.items)
    return out
