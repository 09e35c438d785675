"""Readiness: which data elements a registry requires are missing from a trial, before submission.

A checklist is data (``mappings/readiness/<registry>.yaml``): elements with the Trial paths that
answer them, a level (required, conditional, optional), a condition on the trial (``when``) and the
source it was read from. This module only evaluates it: per element a state (present, missing,
not-applicable, undetermined when the condition depends on a missing value), the values that
reached the registry through a mapping choice, and a completeness score.
"""

from __future__ import annotations

import functools
import re
import types
import typing
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from trial2fhir.mapping.load import MAPPINGS
from trial2fhir.model import Trial

READINESS = MAPPINGS / "readiness"
LEVELS = ("required", "conditional", "optional")
_ELEMENT_KEYS = frozenset({
    "element", "section", "prs", "level", "when", "any", "all", "held", "reason", "codes", "join",
    "absent_means", "choice", "cite",
})


class ChecklistError(ValueError):
    """A checklist file that does not make sense: names the file, the place and the value."""


# --- paths: a dumped Trial read at `a.b`, `a[].b` (every item of the list) ---------------------------


def _values(data: Any, path: str) -> list[tuple[str, Any]]:
    """(place, value) for each value at the path; a `[]` segment fans out over the list's items."""
    found: list[tuple[str, Any]] = [("", data)]
    for part in path.split("."):
        fan = part.endswith("[]")
        name = part[:-2] if fan else part
        nxt: list[tuple[str, Any]] = []
        for place, value in found:
            here = f"{place}.{name}" if place else name
            child = value.get(name) if isinstance(value, dict) else None
            if fan:
                nxt += [(f"{here}[{i}]", item) for i, item in enumerate(child or [])]
            else:
                nxt.append((here, child))
        found = nxt
    return found


def _filled(value: Any) -> bool:
    return value not in (None, "", [], {})


def _gaps(data: dict[str, Any], path: str) -> list[str]:
    """Places at the path without a value; a fanned-out path over an empty list is one gap."""
    found = _values(data, path)
    if not found:
        return [path.split("[]", maxsplit=1)[0]]
    return [place for place, value in found if not _filled(value)]


# --- conditions: small boolean trees over the trial, three-valued (None: cannot tell) ---------------


def _condition(spec: Any, data: dict[str, Any], named: dict[str, Any]) -> tuple[bool | None, list[str]]:
    """(holds, paths it could not read): a missing value makes a comparison undetermined."""
    if isinstance(spec, str):
        return _condition(named[spec], data, named)
    if "all" in spec or "any" in spec:
        parts = [_condition(s, data, named) for s in spec.get("all", spec.get("any"))]
        unknown = [p for _, ps in parts for p in ps]
        results = [r for r, _ in parts]
        if "all" in spec:
            return (False, []) if False in results else (None, unknown) if None in results else (True, [])
        return (True, []) if True in results else (None, unknown) if None in results else (False, [])
    if "not" in spec:
        holds, unknown = _condition(spec["not"], data, named)
        return (None if holds is None else not holds), unknown
    path = spec["path"]
    values = [v for _, v in _values(data, path) if _filled(v)]
    if "present" in spec:
        return bool(values) == bool(spec["present"]), []
    if not values:
        return None, [path]
    if "in" in spec:
        return any(v in spec["in"] for v in values), []
    return all(str(v) >= str(spec["on_or_after"]) for v in values), []


# --- the checklist --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Element:
    element: str
    section: str
    level: str
    cite: str
    any: tuple[str, ...] = ()
    all: tuple[str, ...] = ()
    when: Any = None
    held: bool = True
    reason: str | None = None
    codes: str | None = None
    join: str | None = None
    absent_means: str | None = None
    choice: str | None = None
    prs: str | None = None


@dataclass(frozen=True)
class Checklist:
    name: str
    title: str
    source: dict[str, str]
    conditions: dict[str, Any]
    elements: tuple[Element, ...]
    file: str


def _trial_field(model: type[BaseModel], name: str) -> Any:
    """The type of a model field, its annotation resolved (``BioSpec | None`` is a string before rebuild)."""
    if name not in model.model_fields:
        raise KeyError(name)
    hint = typing.get_type_hints(model, include_extras=True)[name]
    while typing.get_origin(hint) in (typing.Union, types.UnionType, list, typing.Annotated):
        hint = next(a for a in typing.get_args(hint) if a is not type(None))
    return hint


def _check_paths(file: str, place: str, paths: list[str]) -> None:
    for path in paths:
        current: Any = Trial
        for part in path.replace("[]", "").split("."):
            if not (isinstance(current, type) and issubclass(current, BaseModel)) or part not in current.model_fields:
                raise ChecklistError(f"{file}: {place}: {path!r} is not a Trial path (no {part!r})")
            current = _trial_field(current, part)


def _check_condition(file: str, place: str, spec: Any, named: dict[str, Any]) -> None:
    if isinstance(spec, str):
        if spec not in named:
            raise ChecklistError(f"{file}: {place}: unknown condition {spec!r} (have: {', '.join(named)})")
        return
    if not isinstance(spec, dict):
        raise ChecklistError(f"{file}: {place}: a condition is a name or an object, got {spec!r}")
    for key in ("all", "any"):
        for i, sub in enumerate(spec.get(key, [])):
            _check_condition(file, f"{place}.{key}[{i}]", sub, named)
    if "not" in spec:
        _check_condition(file, f"{place}.not", spec["not"], named)
    if "path" in spec:
        ops = [k for k in ("in", "present", "on_or_after") if k in spec]
        if len(ops) != 1:
            raise ChecklistError(f"{file}: {place}: a test takes one of in, present, on_or_after; got {ops}")
        _check_paths(file, place, [spec["path"]])
    elif not {"all", "any", "not"} & set(spec):
        raise ChecklistError(f"{file}: {place}: a condition needs path, all, any or not: {spec!r}")


def load_checklist(path: Path) -> Checklist:
    """Load and check one checklist: every path on Trial, every condition and code map known."""
    file = str(path)
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    named = doc.get("conditions") or {}
    for name, spec in named.items():
        _check_condition(file, f"conditions.{name}", spec, named)
    codes = {p.stem for p in (MAPPINGS / "codes").glob("*.yaml")}
    elements = []
    for i, raw in enumerate(doc["elements"]):
        place = f"elements[{i}] ({raw.get('element')})"
        unknown = set(raw) - _ELEMENT_KEYS
        if unknown:
            raise ChecklistError(f"{file}: {place}: unknown key(s) {', '.join(sorted(unknown))}")
        if raw.get("level") not in LEVELS:
            raise ChecklistError(f"{file}: {place}: level must be one of {', '.join(LEVELS)}, got {raw.get('level')!r}")
        held = raw.get("held", True)
        if held and bool(raw.get("any")) == bool(raw.get("all")):
            raise ChecklistError(f"{file}: {place}: give the Trial paths as either any or all")
        if not held and not raw.get("reason"):
            raise ChecklistError(f"{file}: {place}: an element the Trial does not hold needs its reason")
        _check_paths(file, place, [*raw.get("any", []), *raw.get("all", [])])
        if "when" in raw:
            _check_condition(file, f"{place}.when", raw["when"], named)
        if raw.get("codes") is not None and raw["codes"] not in codes:
            raise ChecklistError(f"{file}: {place}: unknown code map {raw['codes']!r}")
        elements.append(Element(
            element=raw["element"], section=raw.get("section", ""), level=raw["level"], cite=raw["cite"],
            any=tuple(raw.get("any", [])), all=tuple(raw.get("all", [])), when=raw.get("when"), held=held,
            reason=raw.get("reason"), codes=raw.get("codes"), join=raw.get("join"),
            absent_means=raw.get("absent_means"), choice=raw.get("choice"), prs=raw.get("prs"),
        ))
    return Checklist(doc["checklist"], doc["title"], doc["source"], named, tuple(elements), file)


@cache
def checklist(registry: str) -> Checklist:
    return load_checklist(READINESS / f"{registry}.yaml")


def registries() -> list[str]:
    return sorted(p.stem for p in READINESS.glob("*.yaml"))


# --- code maps: which translations were a choice ------------------------------------------------------


@cache
def _choices(name: str) -> dict[str, str]:
    """Source code -> why it is a choice, for the entries of a code map that are not equivalent."""
    doc = yaml.safe_load((MAPPINGS / "codes" / f"{name}.yaml").read_text(encoding="utf-8"))
    out: dict[str, str] = {}
    for group in doc.get("group", []):
        for element in group.get("element", []):
            code = str(element["code"])
            if element.get("noMap"):
                out[code] = f"no equivalent: not written. {element.get('comment', '')}".strip()
                continue
            target = element["target"][0]
            if target.get("relationship", "equivalent") != "equivalent":
                note = target.get("comment") or element.get("comment") or target["relationship"]
                out[code] = f"written as {target['code']!r} ({target['relationship']}): {note}"
    return out


# --- evaluation -----------------------------------------------------------------------------------


@dataclass
class ElementResult:
    element: str
    section: str
    level: str
    state: str  # present | missing | not-held | undetermined | not-applicable | absent (optional, not there)
    detail: str
    cite: str

    def to_dict(self) -> dict[str, str]:
        return {"element": self.element, "section": self.section, "level": self.level, "state": self.state,
                "detail": self.detail, "cite": self.cite}


@dataclass
class Choice:
    element: str
    value: str
    note: str

    def to_dict(self) -> dict[str, str]:
        return {"element": self.element, "value": self.value, "note": self.note}


@dataclass
class Readiness:
    source: str
    nct_id: str
    registry: str
    elements: list[ElementResult] = field(default_factory=list)
    choices: list[Choice] = field(default_factory=list)

    def count(self, state: str) -> int:
        return sum(1 for e in self.elements if e.state == state and e.level != "optional")

    @property
    def score(self) -> float:
        """Present share of the applicable required and conditional elements, not-held ones included
        (undetermined ones left out: their condition is itself a gap, listed on its own)."""
        present, gaps = self.count("present"), self.count("missing") + self.count("not-held")
        return round(present / (present + gaps), 3) if present + gaps else 1.0

    @property
    def ready(self) -> bool:
        """No applicable required element the record could carry is missing. Not-held elements
        (review board status: no public record has it) lower the score but cannot fail a record,
        or the check would fail every trial and say nothing."""
        return self.count("missing") == 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source, "nct_id": self.nct_id, "registry": self.registry, "ready": self.ready,
            "score": self.score,
            "counts": {s: self.count(s) for s in ("present", "missing", "not-held", "undetermined", "not-applicable")},
            "missing": [e.element for e in self.elements if e.state == "missing"],
            "not_held": [e.element for e in self.elements if e.state == "not-held"],
            "elements": [e.to_dict() for e in self.elements],
            "choices": [c.to_dict() for c in self.choices],
        }


def _describe(spec: Any) -> str:
    if isinstance(spec, str):
        return spec
    for key in ("all", "any"):
        if key in spec:
            return f" {'and' if key == 'all' else 'or'} ".join(_describe(s) for s in spec[key])
    if "not" in spec:
        return f"not ({_describe(spec['not'])})"
    return str(spec.get("path"))


def _code_choices(e: Element, data: dict[str, Any]) -> list[Choice]:
    if e.codes is None:
        return []
    notes = _choices(e.codes)
    out = []
    for path in e.any or e.all:
        for place, value in _values(data, path):
            if not _filled(value):
                continue
            code = e.join.join(value) if e.join and isinstance(value, list) else str(value)
            if code in notes:
                out.append(Choice(e.element, f"{place} = {code}", notes[code]))
    return out


def evaluate_element(e: Element, data: dict[str, Any], named: dict[str, Any]) -> tuple[ElementResult, list[Choice]]:
    def result(state: str, detail: str) -> ElementResult:
        return ElementResult(e.element, e.section, e.level, state, detail, e.cite)

    if e.when is not None:
        holds, unknown = _condition(e.when, data, named)
        if holds is False:
            return result("not-applicable", f"applies when {_describe(e.when)}"), []
        if holds is None:
            return result("undetermined", f"applies when {_describe(e.when)}; unknown: {', '.join(unknown)}"), []
    if not e.held:
        return result("not-held", f"no public record carries it: {e.reason}"), []
    if e.all:
        gaps = [g for p in e.all for g in _gaps(data, p)]
    else:
        per_path = [_gaps(data, p) for p in e.any]
        gaps = [] if any(not g for g in per_path) else list(dict.fromkeys(g for gs in per_path for g in gs))
    choices = _code_choices(e, data)
    if gaps and e.absent_means:
        return result("present", f"absent, written as {e.absent_means}"), [
            *choices, Choice(e.element, f"{', '.join(gaps)} absent", f"written as {e.absent_means}")]
    if gaps:
        state = "absent" if e.level == "optional" else "missing"
        return result(state, f"no value at {', '.join(gaps)}"), choices
    if e.choice:
        choices.append(Choice(e.element, ", ".join(e.any or e.all), e.choice))
    return result("present", _shown(data, e.all or [p for p in e.any if not _gaps(data, p)][:1])), choices


def _shown(data: dict[str, Any], paths: list[str] | tuple[str, ...]) -> str:
    """The values found, briefly: what a reader checks against the page."""
    parts = []
    for path in paths:
        values = [v for _, v in _values(data, path)]
        value = values[0] if len(values) == 1 else values
        many = isinstance(value, list) and value and isinstance(value[0], dict)
        text = f"{len(value)} item(s)" if many else str(value)
        parts.append(f"{path} = {text if len(text) <= 60 else text[:57] + '...'}")
    return "; ".join(parts)


def evaluate(trial: Trial, registry: str, source: str = "") -> Readiness:
    cl = checklist(registry)
    data = trial.model_dump(mode="json")
    out = Readiness(source or trial.source.file, trial.nct_id, registry)
    for e in cl.elements:
        res, choices = evaluate_element(e, data, cl.conditions)
        out.elements.append(res)
        out.choices += choices
    return out




def report(results: list[Readiness], registry: str) -> dict[str, Any]:
    """The JSON report: the checklist's source, one entry per trial, a summary."""
    cl = checklist(registry)
    return {
        "registry": registry,
        "checklist": {"title": cl.title, "source": cl.source, "file": re.sub(r"^.*?(mappings/)", r"\1", cl.file)},
        "records": [r.to_dict() for r in results],
        "summary": {
            "trials": len(results),
            "ready": sum(1 for r in results if r.ready),
            "mean_score": round(sum(r.score for r in results) / len(results), 3) if results else None,
        },
    }


@dataclass
class CheckRun:
    results: list[Readiness] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    """Records that could not be read: ``file: place: reason``, one each."""


def _labelled(trial: Trial, registry: str) -> Readiness:
    from trial2fhir.convert import source_label

    return evaluate(trial, registry, source_label(trial))


def check(
    inputs: list[str], registry: str, *, input_format: str | None = None, max_file_mb: int | None = None,
    jobs: int = 1, progress: Any = None,
) -> CheckRun:
    """Evaluate every readable record of ``inputs`` against one registry's checklist (the one read
    loop of ``pipeline``: read errors come back in their place and never stop the others)."""
    from trial2fhir import pipeline
    from trial2fhir.sources import DEFAULT_MAX_FILE_MB

    checklist(registry)  # a bad checklist stops the run before any record
    run = CheckRun()
    work = functools.partial(_labelled, registry=registry)
    for item in pipeline.run(inputs, work, input_format=input_format, max_file_mb=max_file_mb or DEFAULT_MAX_FILE_MB,
                             jobs=jobs, progress=progress):
        if isinstance(item, pipeline.Done):
            run.results.append(item.result)
        else:
            run.errors.append(str(item.problem))
    return run


__all__ = [
    "CheckRun", "Checklist", "ChecklistError", "Readiness", "check", "checklist", "evaluate", "registries", "report",
]
