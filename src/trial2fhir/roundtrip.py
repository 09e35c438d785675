"""Round trip: Trial -> target file -> validate -> parse back -> mappings in reverse -> compare.

A difference is fine only when it falls under a loss the mapping declares; anything else is an
undeclared loss and fails the trial.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from trial2fhir.convert import source_label
from trial2fhir.errors import RecordError
from trial2fhir.mapping.load import Loss
from trial2fhir.model import Trial
from trial2fhir.sources import expand, read_input
from trial2fhir.targets import TARGETS, fhir_r4b, fhir_r5
from trial2fhir.validation.fhir import validate_bundle


@dataclass
class Diff:
    path: str
    original: Any
    roundtripped: Any
    declared: bool

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "original": self.original, "roundtripped": self.roundtripped,
                "declared": self.declared}


@dataclass
class TargetResult:
    file: str | None
    valid: bool
    errors: list[str] = field(default_factory=list)
    diffs: list[Diff] = field(default_factory=list)
    declared_losses: list[str] = field(default_factory=list)

    @property
    def roundtrip_ok(self) -> bool:
        return not [d for d in self.diffs if not d.declared]

    @property
    def ok(self) -> bool:
        return self.valid and self.roundtrip_ok

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "valid": self.valid,
            "errors": self.errors,
            "roundtrip": {
                "ok": self.roundtrip_ok,
                "diffs": [d.to_dict() for d in self.diffs if not d.declared],
                "declared_losses": [d.to_dict() for d in self.diffs if d.declared],
            },
        }


def _blank(v: Any) -> bool:
    """No data: None, "", [] and {}, and an object or list of nothing but such (an empty Reference)."""
    if isinstance(v, dict):
        return all(_blank(x) for x in v.values())
    if isinstance(v, list):
        return all(_blank(x) for x in v)
    return v is None or v == ""


def compare(original: Any, back: Any, path: str = "") -> list[tuple[str, Any, Any]]:
    """Paths where two JSON values differ (missing, None, "" and [] count as the same: no data)."""
    if _blank(original) and _blank(back):
        return []
    if isinstance(original, dict) and isinstance(back, dict):
        out = []
        for key in dict.fromkeys([*original, *back]):
            out += compare(original.get(key), back.get(key), f"{path}.{key}" if path else key)
        return out
    if isinstance(original, list) and isinstance(back, list):
        original = [x for x in original if not _blank(x)]
        back = [x for x in back if not _blank(x)]
    if isinstance(original, list) and isinstance(back, list) and len(original) == len(back):
        return [d for i, (a, b) in enumerate(zip(original, back, strict=True)) for d in compare(a, b, f"{path}[{i}]")]
    return [] if original == back else [(path, original, back)]


def strip(data: Any, pattern: list[str], path: str = "") -> list[tuple[str, Any]]:
    """Remove the values at a loss pattern (``arms[].type`` split on dots) in place; return them."""
    head, rest = pattern[0], pattern[1:]
    name, is_list = (head[:-2], True) if head.endswith("[]") else (head, False)
    if not isinstance(data, dict) or name not in data:
        return []
    here = f"{path}.{name}" if path else name
    if not rest:
        value = data.pop(name)
        return [] if _blank(value) else [(here, value)]
    if is_list and isinstance(data[name], list):
        return [hit for i, item in enumerate(data[name]) for hit in strip(item, rest, f"{here}[{i}]")]
    return strip(data[name], rest, here)


def is_declared(path: str, losses: list[Loss]) -> bool:
    general = re.sub(r"\[\d+\]", "[]", path)
    return any(general == loss.path or general.startswith((loss.path + ".", loss.path + "[")) for loss in losses)


def roundtrip_fhir_r5(trial: Trial, written: bytes | None = None, file: str | None = None) -> TargetResult:
    return _roundtrip_fhir(fhir_r5, "R5", trial, written, file)


def roundtrip_fhir_r4b(trial: Trial, written: bytes | None = None, file: str | None = None) -> TargetResult:
    return _roundtrip_fhir(fhir_r4b, "R4B", trial, written, file)


def _roundtrip_fhir(
    target: Any, release: str, trial: Trial, written: bytes | None, file: str | None
) -> TargetResult:
    """One FHIR release's round trip; ``target`` is its module (render, to_trial_data, mapping_set)."""
    data = written if written is not None else target.render(trial)
    doc = orjson.loads(data)
    # Validation parses every resource through its fhir.resources R5 model (as a FHIR consumer
    # reads it) besides HL7's schema. That parse gives back exactly what was written
    # (tests/test_roundtrip.py checks dump(parse(x)) == x on every output), so the reverse reads
    # the parsed JSON without paying for a second dump.
    issues = validate_bundle(doc, release)
    result = TargetResult(file, valid=not issues, errors=[str(i) for i in issues])
    back = target.to_trial_data(doc)
    original = trial.model_dump(mode="json", exclude={"source"})
    try:
        rebuilt = Trial.model_validate({**back, "source": trial.source.model_dump()})
        back_dump = rebuilt.model_dump(mode="json", exclude={"source"})
    except ValueError as exc:  # the reverse produced data the model rejects: report, don't crash
        result.errors.append(f"reverse mapping gave an invalid Trial: {exc}")
        back_dump = back
    losses = target.mapping_set().losses
    # Declared losses come out of both sides first, so an item that held only a lost field
    # (a contact with just a role) does not show up as a lost item.
    declared: list[Diff] = []
    for loss in losses:
        parts = loss.path.split(".")
        gone = dict(strip(back_dump, parts))
        declared += [Diff(p, v, gone.get(p), True) for p, v in strip(original, parts) if gone.get(p) != v]
    result.diffs = declared + [Diff(p, a, b, is_declared(p, losses)) for p, a, b in compare(original, back_dump)]
    result.declared_losses = sorted({loss.path for loss in losses})
    return result


@dataclass
class RoundtripRecord:
    source: str
    nct_id: str | None
    targets: dict[str, TargetResult] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors and all(t.ok for t in self.targets.values())

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "nct_id": self.nct_id, "ok": self.ok, "errors": self.errors,
                "targets": {k: v.to_dict() for k, v in self.targets.items()}}


ROUNDTRIPS = {"fhir-r5": roundtrip_fhir_r5, "fhir-r4b": roundtrip_fhir_r4b}
ROUNDTRIP_LOSSES = {"fhir-r5": lambda: fhir_r5.mapping_set().losses,
                    "fhir-r4b": lambda: fhir_r4b.mapping_set().losses}


def run(inputs: list[str], targets: list[str], outdir: Path | None = None) -> list[RoundtripRecord]:
    """Round-trip every record of ``inputs`` through each target; written files go to ``outdir``."""
    for name in targets:  # a missing published schema stops the run once, up front
        ready = TARGETS[name].ready
        if ready is not None:
            ready()
    records: list[RoundtripRecord] = []
    for item in expand(inputs).files:
        for result in read_input(item):
            if isinstance(result, RecordError):
                records.append(RoundtripRecord(result.problem.file, None, errors=[str(result.problem)]))
                continue
            rec = RoundtripRecord(source_label(result), result.nct_id)
            for name in targets:
                data = TARGETS[name].render(result)
                file = None
                if outdir is not None:
                    outdir.mkdir(parents=True, exist_ok=True)
                    path = outdir / f"{result.nct_id}.{TARGETS[name].suffix}"
                    path.write_bytes(data)
                    file = str(path)
                rec.targets[name] = ROUNDTRIPS[name](result, data, file)
            records.append(rec)
    return records
