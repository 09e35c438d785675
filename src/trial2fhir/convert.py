"""convert: inputs -> Trials -> each target's file in OUTDIR, with a per-record report.

One bad record yields an error entry and the run goes on; the caller decides the exit code.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trial2fhir.errors import Problem, RecordError
from trial2fhir.model import Trial, is_nct_id
from trial2fhir.sources import DEFAULT_MAX_FILE_MB, expand, read_input
from trial2fhir.targets import TARGETS

ProgressHook = Callable[[int, int, str], None]
"""Called as (files done, files in all, name of the file just done)."""


@dataclass
class RecordReport:
    source: str
    nct_id: str | None
    ok: bool
    format: str | None = None
    errors: list[Problem] = field(default_factory=list)
    outputs: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "nct_id": self.nct_id,
            "ok": self.ok,
            "format": self.format,
            "errors": [e.to_dict() for e in self.errors],
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


def convert(
    inputs: Sequence[str],
    outdir: Path,
    *,
    targets: Sequence[str] = ("trial-json",),
    input_format: str | None = None,
    max_file_mb: int = DEFAULT_MAX_FILE_MB,
    validate: bool = True,
    ndjson: bool = False,
    progress: ProgressHook | None = None,
) -> ConvertReport:
    """Convert every record of ``inputs``; with ``ndjson`` a target that supports it is written as
    one ``<ResourceType>.ndjson`` file per type (FHIR Bulk Data layout) instead of one file per trial."""
    unknown = [t for t in targets if t not in TARGETS]
    if unknown:
        raise ValueError(f"unknown target(s) {', '.join(unknown)}; choose from {', '.join(TARGETS)}")
    outdir.mkdir(parents=True, exist_ok=True)
    sink = _NdjsonSink(outdir) if ndjson else None
    found = expand(inputs)
    report = ConvertReport(skipped_files=found.skipped)
    for err in found.missing:
        report.records.append(RecordReport(err.problem.file, None, False, errors=[err.problem]))
    written: dict[str, str] = {}  # NCT ID -> source that wrote it, to refuse silent overwrites
    for done, item in enumerate(found.files, 1):
        for result in read_input(item, input_format, max_file_mb):
            if isinstance(result, RecordError):
                p = result.problem
                label = f"{p.file}#{p.place.lstrip('#')}" if p.place.startswith("#/") else p.file
                report.records.append(RecordReport(label, None, False, errors=[p]))
                continue
            report.records.append(_emit(result, outdir, targets, written, validate, sink))
        if progress is not None:
            progress(done, len(found.files), item.name)
    if sink is not None:
        sink.close()
    return report


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


def _emit(
    trial: Trial, outdir: Path, targets: Sequence[str], written: dict[str, str], validate: bool,
    sink: _NdjsonSink | None,
) -> RecordReport:
    label = source_label(trial)
    rec = RecordReport(label, trial.nct_id, True, format=trial.source.format)
    if not is_nct_id(trial.nct_id):  # the model already enforces this; never trust a path to it
        rec.ok = False
        rec.errors.append(Problem(trial.source.file, trial.source.locator, f"bad NCT ID {trial.nct_id!r}"))
        return rec
    if trial.nct_id in written:
        rec.ok = False
        rec.errors.append(Problem(trial.source.file, trial.source.locator,
                                  f"{trial.nct_id} was already converted from {written[trial.nct_id]}; "
                                  "not overwritten"))
        return rec
    written[trial.nct_id] = label
    for name in targets:
        t = TARGETS[name]
        try:
            data = t.render(trial)
            if validate and t.validate is not None:
                for issue in t.validate(data):
                    rec.ok = False
                    rec.errors.append(Problem(trial.source.file, trial.source.locator, f"{name} invalid: {issue}"))
            if sink is not None and t.ndjson is not None:
                rec.outputs[name] = ", ".join(sink.add(t.ndjson(data)))
                continue
            path = _write(outdir, f"{trial.nct_id}.{t.suffix}", data)
        except RecordError as exc:
            rec.ok = False
            rec.errors.append(exc.problem)
            continue
        except Exception as exc:  # a target bug must cost one record, not the batch
            rec.ok = False
            rec.errors.append(Problem(trial.source.file, trial.source.locator,
                                      f"{name}: {type(exc).__name__}: {exc}"))
            continue
        rec.outputs[name] = str(path)
    return rec
