"""convert: inputs -> Trials -> each target's file in OUTDIR, with a per-record report.

One bad record yields an error entry and the run goes on; the caller decides the exit code. A
record is written only when every one of its targets built and validated: an invalid output never
lands under its final name, nor does the trial-json of a failed record (``keep_invalid`` keeps
them elsewhere for debugging). A fault of the output side stops the run (``ConvertReport.fatal``);
Ctrl-C stops it too (``interrupted``); either way the report says what was done.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import IO, Any

from trial2fhir import pipeline
from trial2fhir.errors import Problem, RecordError, clean
from trial2fhir.model import Trial, is_nct_id
from trial2fhir.output import OutputError, Writer, check_outdir
from trial2fhir.pipeline import BATCH, ProgressHook
from trial2fhir.sources import DEFAULT_MAX_FILE_MB, Inputs, expand
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
    kept: dict[str, str] = field(default_factory=dict)
    """Invalid outputs written to --keep-invalid DIR (never to OUTDIR)."""

    def to_dict(self) -> dict[str, Any]:
        out = {
            "source": clean(self.source),
            "nct_id": self.nct_id,
            "ok": self.ok,
            "format": self.format,
            "errors": [e.to_dict() for e in self.errors],
            "warnings": [w.to_dict() for w in self.warnings],
            "outputs": {k: clean(v) for k, v in self.outputs.items()},
        }
        if self.kept:
            out["kept_invalid"] = {k: clean(v) for k, v in self.kept.items()}
        return out


@dataclass
class ConvertReport:
    records: list[RecordReport] = field(default_factory=list)
    skipped_files: list[str] = field(default_factory=list)
    notes: list[Problem] = field(default_factory=list)
    """Warnings about the inputs themselves (a symlink loop not walked again)."""
    fatal: str | None = None
    """Why the run stopped early on the output side (a full disk, ...); records after it were not read."""
    interrupted: bool = False

    @property
    def failed(self) -> list[RecordReport]:
        return [r for r in self.records if not r.ok]

    @property
    def ok(self) -> bool:
        return not self.failed and self.fatal is None and not self.interrupted

    def to_dict(self) -> dict[str, Any]:
        return {
            "records": [r.to_dict() for r in self.records],
            "summary": {
                "records": len(self.records),
                "converted": len(self.records) - len(self.failed),
                "failed": len(self.failed),
                "skipped_files": [clean(f) for f in self.skipped_files],
                "notes": [n.to_dict() for n in self.notes],
                "complete": self.fatal is None and not self.interrupted,
                "stopped_by": "interrupt" if self.interrupted else self.fatal,
            },
        }


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
            split = t.ndjson(doc) if ndjson and isinstance(t, SplitsToNdjson) and not issues else None
            data = None if split is not None else t.serialise(doc)
            problems = [f"{name} invalid: {i.place}: {i.message}" for i in issues]
            out.append(Rendered(name, data, problems, split))
        except Exception as exc:  # a target or mapping bug must cost one record, not the batch
            out.append(Rendered(name, None, [f"{name}: {exc}" if _says_where(exc) else
                                             f"{name}: {type(exc).__name__}: {exc}"]))
    return out


def _says_where(exc: Exception) -> bool:
    from trial2fhir.mapping.engine import MappingRunError

    return isinstance(exc, MappingRunError)


def convert(
    inputs: Sequence[str] | Inputs,
    outdir: Path,
    *,
    targets: Sequence[str] = ("trial-json",),
    input_format: str | None = None,
    max_file_mb: int = DEFAULT_MAX_FILE_MB,
    validate: bool = True,
    ndjson: bool = False,
    jobs: int = 1,
    progress: ProgressHook | None = None,
    keep_invalid: Path | None = None,
) -> ConvertReport:
    """Convert every record of ``inputs``; with ``ndjson`` a target that supports it is written as
    one ``<ResourceType>.ndjson`` file per type (FHIR Bulk Data layout) instead of one file per trial.

    With ``jobs`` > 1, rendering and validation run in that many processes once a batch is large
    enough to pay for them; records are still reported and written in input order. Raises
    UsageError/OutputError before any record when OUTDIR (or ``keep_invalid``) cannot take files.
    """
    unknown = [t for t in targets if t not in TARGETS]
    if unknown:
        raise ValueError(f"unknown target(s) {', '.join(unknown)}; choose from {', '.join(TARGETS)}")
    for name in targets:  # a missing schema stops the run once, before any record
        if validate:
            TARGETS[name].ready()
    check_outdir(outdir)
    if keep_invalid is not None:
        check_outdir(keep_invalid, "--keep-invalid")
    found = inputs if isinstance(inputs, Inputs) else expand(inputs)
    report = ConvertReport(skipped_files=found.skipped, notes=found.notes)
    store = _Store(Writer(outdir), Writer(keep_invalid) if keep_invalid is not None else None,
                   _NdjsonSink(Writer(outdir)) if ndjson else None)
    work = partial(render, targets=tuple(targets), validate=validate, ndjson=ndjson)
    items = pipeline.run(found, work, input_format=input_format, max_file_mb=max_file_mb, jobs=jobs,
                         progress=progress)
    try:
        for item in items:
            if isinstance(item, RecordError):
                report.records.append(_failed(item))
            else:
                report.records.append(store.record(item.trial, item.result))
        if store.sink is not None:
            store.sink.commit()
    except OutputError as exc:
        report.fatal = str(exc)
    except KeyboardInterrupt:
        report.interrupted = True
    finally:
        items.close()  # stops the worker pool
        store.close()
    return report


def _failed(err: RecordError) -> RecordReport:
    p = err.problem
    label = f"{p.file}#{p.place.lstrip('#')}" if p.place.startswith("#/") else p.file
    return RecordReport(label, None, False, errors=[p])


class _NdjsonSink:
    """Appends resources to ``<ResourceType>.ndjson`` temporary files, renamed into place only when
    the run completes: an interrupted run leaves no half-written NDJSON under a final name."""

    def __init__(self, writer: Writer) -> None:
        self.writer = writer
        self.files: dict[str, tuple[IO[bytes], str]] = {}

    def add(self, lines: dict[str, list[bytes]]) -> list[str]:
        for rtype, rows in lines.items():
            if rtype not in self.files:
                fd, tmp = self.writer.temp(f"{rtype}.ndjson")
                self.files[rtype] = (os.fdopen(fd, "wb"), tmp)
            try:
                self.files[rtype][0].write(b"".join(row + b"\n" for row in rows))
            except OSError as exc:
                raise OutputError("write", self.writer.folder / f"{rtype}.ndjson", exc) from None
        return [str(self.writer.folder / f"{t}.ndjson") for t in lines]

    def commit(self) -> None:
        for rtype, (fh, tmp) in sorted(self.files.items()):
            try:
                fh.close()
            except OSError as exc:
                raise OutputError("write", self.writer.folder / f"{rtype}.ndjson", exc) from None
            self.writer.commit(tmp, f"{rtype}.ndjson")
        self.files.clear()

    def close(self) -> None:
        for fh, _tmp in self.files.values():
            with contextlib.suppress(OSError):  # the run failed already; its temporary file goes next
                fh.close()
        self.writer.close()


@dataclass
class _Store:
    writer: Writer
    keep: Writer | None
    sink: _NdjsonSink | None
    written: dict[str, str] = field(default_factory=dict)
    """NCT ID -> source that wrote it, to refuse silent overwrites."""

    def record(self, trial: Trial, rendered: list[Rendered]) -> RecordReport:
        """Write one trial's outputs (all or none; refusing bad or repeated NCT IDs) and report it."""
        label = source_label(trial)
        rec = RecordReport(label, trial.nct_id, True, format=trial.source.format)
        here = (trial.source.file, trial.source.locator)
        if trial.source.unplaced:
            unplaced = "; ".join(trial.source.unplaced)
            rec.warnings.append(Problem(*here, f"{len(trial.source.unplaced)} line(s) of the page fit no field; "
                                        f"kept in source.unplaced of the trial-json: {unplaced}"))
        if not is_nct_id(trial.nct_id):  # the model already enforces this; never trust a path to it
            rec.ok = False
            rec.errors.append(Problem(*here, f"bad NCT ID {trial.nct_id!r}"))
            return rec
        if trial.nct_id in self.written:
            rec.ok = False
            rec.errors.append(Problem(*here, f"{trial.nct_id} was already converted from "
                                      f"{self.written[trial.nct_id]}; not overwritten"))
            return rec
        for out in rendered:
            rec.errors.extend(Problem(*here, message) for message in out.problems)
        if rec.errors:
            rec.ok = False
            if self.keep is not None:
                for out in rendered:
                    if out.data is not None:
                        name = f"{trial.nct_id}.{TARGETS[out.target].suffix}"
                        rec.kept[out.target] = str(self.keep.write(name, out.data))
            return rec
        self.written[trial.nct_id] = label
        for out in rendered:
            if self.sink is not None and out.ndjson is not None:
                rec.outputs[out.target] = ", ".join(self.sink.add(out.ndjson))
            elif out.data is not None:
                rec.outputs[out.target] = str(self.writer.write(f"{trial.nct_id}.{TARGETS[out.target].suffix}",
                                                                out.data))
        return rec

    def close(self) -> None:
        if self.sink is not None:
            self.sink.close()
        self.writer.close()
        if self.keep is not None:
            self.keep.close()


__all__ = ["BATCH", "ConvertReport", "ProgressHook", "RecordReport", "Rendered", "convert", "render", "source_label"]
