"""Round trip: Trial -> target file -> validate -> parse back -> mappings in reverse -> compare.

A difference is fine only when it falls under a loss the mapping declares; anything else is an
undeclared loss and fails the trial.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from trial2fhir import pipeline
from trial2fhir.convert import source_label
from trial2fhir.errors import RecordError
from trial2fhir.mapping.load import Loss
from trial2fhir.model import Trial
from trial2fhir.pipeline import ProgressHook
from trial2fhir.sources import DEFAULT_MAX_FILE_MB
from trial2fhir.targets import TARGETS, Target


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
    data: bytes | None = field(default=None, repr=False)
    """The serialised file, carried from the worker to the writer; dropped once written."""

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


def roundtrip_one(target: Target[Any], trial: Trial, written: bytes | None = None,
                  file: str | None = None) -> TargetResult:
    """One trial through one target: build, validate that document, serialise, read the bytes back,
    reverse the mappings and compare with the trial. ``written`` replaces the serialised bytes (tests)."""
    doc = target.build(trial)
    issues = target.validate(doc)
    result = TargetResult(file, valid=not issues, errors=[f"{i.place}: {i.message}" for i in issues])
    data = written if written is not None else target.serialise(doc)
    result.data = data
    try:
        back = target.reverse(target.parse(data, file or f"{trial.nct_id}.{target.suffix}"))
    except RecordError as exc:
        result.valid = False
        result.errors.append(f"written file does not read back: {exc.problem}")
        return result
    losses = target.losses()
    result.diffs = differences(trial, back, losses)
    result.declared_losses = sorted({loss.path for loss in losses})
    return result


def differences(trial: Trial, back: dict[str, Any], losses: list[Loss]) -> list[Diff]:
    """Where rebuilt Trial data differs from the trial, each marked declared (a loss) or not."""
    original = trial.model_dump(mode="json", exclude={"source"})
    try:
        rebuilt = Trial.model_validate({**back, "source": trial.source.model_dump()})
        back_dump = rebuilt.model_dump(mode="json", exclude={"source"})
    except ValueError as exc:  # the reverse produced data the model rejects: report, don't crash
        return [Diff("(trial)", None, f"reverse mapping gave an invalid Trial: {exc}", False)]
    # Declared losses come out of both sides first, so an item that held only a lost field
    # (a contact with just a role) does not show up as a lost item.
    declared: list[Diff] = []
    for loss in losses:
        parts = loss.path.split(".")
        gone = dict(strip(back_dump, parts))
        declared += [Diff(p, v, gone.get(p), True) for p, v in strip(original, parts) if gone.get(p) != v]
    return declared + [Diff(p, a, b, is_declared(p, losses)) for p, a, b in compare(original, back_dump)]


def roundtrip_fhir_r5(trial: Trial, written: bytes | None = None, file: str | None = None) -> TargetResult:
    """The fhir-r5 round trip of one trial (kept for the FHIR tests and benchmark)."""
    return roundtrip_one(TARGETS["fhir-r5"], trial, written, file)


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


def roundtrip_record(trial: Trial, targets: Sequence[str]) -> RoundtripRecord:
    """Every target's round trip of one trial; pure, so it runs in a worker process."""
    rec = RoundtripRecord(source_label(trial), trial.nct_id)
    for name in targets:
        try:
            rec.targets[name] = roundtrip_one(TARGETS[name], trial)
        except Exception as exc:  # a mapping or target bug costs this record only
            rec.errors.append(f"{trial.source.file}: {name}: {type(exc).__name__}: {exc}")
    return rec


def run(inputs: Sequence[str], targets: Sequence[str], outdir: Path | None = None, *,
        input_format: str | None = None, max_file_mb: int = DEFAULT_MAX_FILE_MB, jobs: int = 1,
        progress: ProgressHook | None = None) -> list[RoundtripRecord]:
    """Round-trip every record of ``inputs`` through each target; written files go to ``outdir``."""
    for name in targets:  # a missing published schema stops the run once, up front
        TARGETS[name].ready()
    records: list[RoundtripRecord] = []
    work = partial(roundtrip_record, targets=tuple(targets))
    for item in pipeline.run(inputs, work, input_format=input_format, max_file_mb=max_file_mb, jobs=jobs,
                             progress=progress):
        if isinstance(item, RecordError):
            records.append(RoundtripRecord(item.problem.file, None, errors=[str(item.problem)]))
            continue
        rec = item.result
        for name, t in rec.targets.items():
            if outdir is not None and t.data is not None:
                outdir.mkdir(parents=True, exist_ok=True)
                path = outdir / f"{item.trial.nct_id}.{TARGETS[name].suffix}"
                path.write_bytes(t.data)
                t.file = str(path)
            t.data = None  # written or not, the bytes are not kept for the whole run
        records.append(rec)
    return records
