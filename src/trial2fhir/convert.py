"""convert: inputs -> Trials -> each target's file in OUTDIR, with a per-record report.

One bad record yields an error entry and the run goes on; the caller decides the exit code.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from trial2fhir import pipeline
from trial2fhir.errors import Problem, RecordError
from trial2fhir.model import Trial, is_nct_id
from trial2fhir.pipeline import BATCH, ProgressHook
from trial2fhir.sources import DEFAULT_MAX_FILE_MB, expand
from trial2fhir.targets import TARGETS, SplitsToNdjson


@dataclass
class RecordReport:
    source: str
    nct_id: str | None
    ok: bool
    format: str | None = None
    errors: list[Problem] = field(default_factory=list)
    outputs: dict[str, str] = field(default_factory=dict)
    warnings: list[Problem] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "nct_id": self.nct_id,
            "ok": self.ok,
            "format": self.format,
            "errors": [e.to_dict() for e in self.errors],
            "warnings": [w.to_dict() for w in self.warnings],
            "outputs": self.outputs,
        }


@dataclass
class ConvertReport:
    records: list[RecordReport] = field(default_factory=list)
    skipped_files: list[str] = field(default_factory=list)

    @property
    def failed(self) -> list[RecordReport]:
        return [r for r in self.records if not r.ok]

    @property
    def ok(self) -> bool:
        return not self.failed

    def to_dict(self) -> dict[str, Any]:
        return {
            "records": [r.to_dict() for r in self.records],
            "summary": {
                "records": len(self.records),
                "converted": len(self.records) - len(self.failed),
                "failed": len(self.failed),
                "skipped_files": self.skipped_files,
            },
        }


def _write(outdir: Path, name: str, data: bytes) -> Path:
    target = (outdir / name).resolve()
    if target.parent != outdir.resolve():  # belt and braces: names come from validated NCT IDs
        raise RecordError(name, "", "output name escapes OUTDIR")
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, target)  # atomic: a reader of OUTDIR never sees half a file
    return target


def source_label(trial: Trial) -> str:
    s = trial.source
    return f"{s.file}#{s.locator.lstrip('#')}" if s.locator else s.file


@dataclass
class Rendered:
    """One target's output for one trial (made in a worker), or the problems that stopped it."""

    target: str
    data: bytes | None
    problems: list[str] = field(default_factory=list)
    ndjson: dict[str, list[bytes]] | None = None


def render(trial: Trial, targets: Sequence[str], validate: bool, ndjson: bool = False) -> list[Rendered]:
    """Build, validate and serialise every target of one trial (one document each, never re-parsed);
    pure, so it runs in any process."""
    out = []
    for name in targets:
        t = TARGETS[name]
        try:
            doc = t.build(trial)
            issues = t.validate(doc) if validate else []
            split = t.ndjson(doc) if ndjson and isinstance(t, SplitsToNdjson) else None
            data = None if split is not None else t.serialise(doc)
            problems = [f"{name} invalid: {i.place}: {i.message}" for i in issues]
            out.append(Rendered(name, data, problems, split))
        except Exception as exc:  # a target bug must cost one record, not the batch
            out.append(Rendered(name, None, [f"{name}: {type(exc).__name__}: {exc}"]))
    return out


def convert(
    inputs: Sequence[str],
    outdir: Path,
    *,
    targets: Sequence[str] = ("trial-json",),
    input_format: str | None = None,
    max_file_mb: int = DEFAULT_MAX_FILE_MB,
    validate: bool = True,
    ndjson: bool = False,
    jobs: int = 1,
    progress: ProgressHook | None = None,
) -> ConvertReport:
    """Convert every record of ``inputs``; with ``ndjson`` a target that supports it is written as
    one ``<ResourceType>.ndjson`` file per type (FHIR Bulk Data layout) instead of one file per trial.

    With ``jobs`` > 1, rendering and validation run in that many processes once a batch is large
    enough to pay for them; records are still reported and written in input order.
    """
    unknown = [t for t in targets if t not in TARGETS]
    if unknown:
        raise ValueError(f"unknown target(s) {', '.join(unknown)}; choose from {', '.join(TARGETS)}")
    for name in targets:  # a missing schema stops the run once, before any record
        if validate:
            TARGETS[name].ready()
    outdir.mkdir(parents=True, exist_ok=True)
    sink = _NdjsonSink(outdir) if ndjson else None
    found = expand(inputs)
    report = ConvertReport(skipped_files=found.skipped)
    written: dict[str, str] = {}  # NCT ID -> source that wrote it, to refuse silent overwrites
    work = partial(render, targets=tuple(targets), validate=validate, ndjson=ndjson)
    try:
        for item in pipeline.run(found, work, input_format=input_format, max_file_mb=max_file_mb, jobs=jobs,
                                 progress=progress):
            if isinstance(item, RecordError):
                report.records.append(_failed(item))
            else:
                report.records.append(_store(item.trial, item.result, outdir, written, sink))
    finally:
        if sink is not None:
            sink.close()
    return report


def _failed(err: RecordError) -> RecordReport:
    p = err.problem
    label = f"{p.file}#{p.place.lstrip('#')}" if p.place.startswith("#/") else p.file
    return RecordReport(label, None, False, errors=[p])


class _NdjsonSink:
    """Appends resources to ``OUTDIR/<ResourceType>.ndjson``; files are started afresh per run."""

    def __init__(self, outdir: Path) -> None:
        self.outdir = outdir
        self.files: dict[str, Any] = {}

    def add(self, lines: dict[str, list[bytes]]) -> list[str]:
        for rtype, rows in lines.items():
            if rtype not in self.files:
                self.files[rtype] = (self.outdir / f"{rtype}.ndjson").open("wb")
            self.files[rtype].write(b"".join(row + b"\n" for row in rows))
        return [str(self.outdir / f"{t}.ndjson") for t in lines]

    def close(self) -> None:
        for fh in self.files.values():
            fh.close()


def _store(
    trial: Trial, rendered: list[Rendered], outdir: Path, written: dict[str, str], sink: _NdjsonSink | None
) -> RecordReport:
    """Write one trial's outputs (refusing bad or repeated NCT IDs) and report the record."""
    label = source_label(trial)
    rec = RecordReport(label, trial.nct_id, True, format=trial.source.format)
    here = (trial.source.file, trial.source.locator)
    if trial.source.unplaced:
        rec.warnings.append(Problem(*here, f"{len(trial.source.unplaced)} line(s) of the page fit no field; kept in "
                                           f"source.unplaced of the trial-json: {'; '.join(trial.source.unplaced)}"))
    if not is_nct_id(trial.nct_id):  # the model already enforces this; never trust a path to it
        rec.ok = False
        rec.errors.append(Problem(*here, f"bad NCT ID {trial.nct_id!r}"))
        return rec
    if trial.nct_id in written:
        rec.ok = False
        rec.errors.append(Problem(*here, f"{trial.nct_id} was already converted from {written[trial.nct_id]}; "
                                         "not overwritten"))
        return rec
    written[trial.nct_id] = label
    for out in rendered:
        t = TARGETS[out.target]
        if out.problems:
            rec.ok = False
            rec.errors.extend(Problem(*here, message) for message in out.problems)
        try:
            if sink is not None and out.ndjson is not None:
                rec.outputs[t.name] = ", ".join(sink.add(out.ndjson))
            elif out.data is not None:
                rec.outputs[t.name] = str(_write(outdir, f"{trial.nct_id}.{t.suffix}", out.data))
        except RecordError as exc:
            rec.ok = False
            rec.errors.append(exc.problem)
    return rec


__all__ = ["BATCH", "ConvertReport", "ProgressHook", "RecordReport", "Rendered", "convert", "render", "source_label"]
