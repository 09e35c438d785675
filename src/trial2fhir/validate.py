"""validate: check written files against their target's published schema.

Each file's target is recognised from its first bytes (``Target.sniff``; ``--as`` forces one), its
bytes are read back with ``Target.parse`` and judged with ``Target.validate``: the same two calls
the round trip makes, so a target added to the registry is validated here with no new code. NDJSON
(``.ndjson``/``.jsonl``) is checked line by line, each problem naming its line number.
"""

from __future__ import annotations

import stat
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from trial2fhir import pipeline
from trial2fhir.errors import Problem, RecordError, clean
from trial2fhir.pipeline import ProgressHook
from trial2fhir.sources import DEFAULT_MAX_FILE_MB, InputFile, expand
from trial2fhir.targets import TARGETS, Target

HEAD_BYTES = 64 * 1024
NDJSON_SUFFIXES = frozenset({".ndjson", ".jsonl"})


def detect(head: bytes) -> Target[Any] | None:
    """The first registered target whose output these bytes look like."""
    return next((t for t in TARGETS.values() if t.sniff(head)), None)


def _lines(data: bytes) -> Iterator[tuple[int, bytes]]:
    for number, line in enumerate(data.split(b"\n"), 1):
        if line.strip():
            yield number, line


def validate_file(path: Path, target: str | None = None, limit: int = DEFAULT_MAX_FILE_MB * 2**20) -> list[Problem]:
    """Every problem in one file (``file: place: message``); [] when valid. Never raises for bad content."""
    name = str(path)
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        return [Problem(name, "", f"cannot read: {exc.strerror or exc}")]
    if not stat.S_ISREG(mode):
        kind = "a folder" if stat.S_ISDIR(mode) else "a FIFO" if stat.S_ISFIFO(mode) else "not a regular file"
        return [Problem(name, "", f"{kind}: only regular files are validated")]
    if (size := path.stat().st_size) > limit:
        return [Problem(name, "", f"file is {size / 2**20:.1f} MiB, over the {limit / 2**20:.0f} MiB limit "
                        "(raise it with --max-file-mb)")]
    try:
        data = path.read_bytes()
    except OSError as exc:
        return [Problem(name, "", f"cannot read: {exc.strerror or exc}")]
    return validate_bytes(data, name, target)


def validate_bytes(data: bytes, name: str, target: str | None = None) -> list[Problem]:
    chosen = TARGETS[target] if target is not None else detect(data[:HEAD_BYTES])
    if chosen is None:
        first = data.lstrip()[:60].decode("utf-8", "replace")
        return [Problem(name, "", f"not a file any target writes ({', '.join(TARGETS)}): {clean(first)!r}")]
    if name.lower().endswith(tuple(NDJSON_SUFFIXES)):
        return [p for number, line in _lines(data) for p in _check(chosen, line, name, f"line {number}")]
    return _check(chosen, data, name, "")


def _check(target: Target[Any], data: bytes, file: str, where: str) -> list[Problem]:
    try:
        target.ready()  # checked up front, except a schema-folder XSD not configured (cli.validate)
    except FileNotFoundError as exc:
        return [Problem(file, where, f"{target.name}: {clean(str(exc))}")]
    try:
        doc = target.parse(data, file)
    except RecordError as exc:
        p = exc.problem
        place = p.place
        if where:  # one NDJSON line parsed alone: its "line 1" is the file's line N
            place = where + (place[len("line 1"):] if place.startswith("line 1,") else "")
        return [Problem(file, place, p.message)]
    prefix = f"{where}: " if where else ""
    return [Problem(file, prefix + p.place, p.message) for p in target.validate(doc)]


@dataclass
class FileReport:
    file: str
    problems: list[Problem] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"file": clean(self.file), "ok": not self.problems, "problems": [p.to_dict() for p in self.problems]}


@dataclass
class ValidateReport:
    files: list[FileReport] = field(default_factory=list)
    skipped_files: list[str] = field(default_factory=list)
    interrupted: bool = False

    @property
    def problems(self) -> list[Problem]:
        return [p for f in self.files for p in f.problems]

    def to_dict(self) -> dict[str, Any]:
        bad = [f for f in self.files if f.problems]
        return {"files": [f.to_dict() for f in self.files],
                "summary": {"files": len(self.files), "valid": len(self.files) - len(bad), "invalid": len(bad),
                            "problems": len(self.problems), "skipped_files": [clean(f) for f in self.skipped_files],
                            "complete": not self.interrupted}}


def _judge(item: InputFile, target: str | None, limit: int, walked: bool) -> FileReport | None:
    """One input's report; None for a walked file that no target wrote (a report.json beside the outputs)."""
    if item.path is not None:
        if walked and target is None:
            try:
                with item.path.open("rb") as fh:
                    if detect(fh.read(HEAD_BYTES)) is None:
                        return None
            except OSError:
                pass  # validate_file names the reason
        return FileReport(item.name, validate_file(item.path, target, limit))
    assert item.stream is not None
    data = item.stream.read(limit + 1)
    if len(data) > limit:
        over = f"over the {limit / 2**20:.0f} MiB limit, stopped reading"
        return FileReport(item.name, [Problem(item.name, "", over)])
    return FileReport(item.name, validate_bytes(data, item.name, target))


def validate_inputs(inputs: Sequence[str], target: str | None = None, *, jobs: int = 1,
                    max_file_mb: int = DEFAULT_MAX_FILE_MB, progress: ProgressHook | None = None) -> ValidateReport:
    """Every file of ``inputs`` (files, folders walked, ``-``) judged; in worker processes with ``jobs`` > 1."""
    found = expand(inputs)
    named = set(inputs)
    report = ValidateReport(skipped_files=found.skipped)
    report.files += [FileReport(e.problem.file, [e.problem]) for e in found.missing]
    limit = max_file_mb * 2**20
    work = [(f, f.name not in named) for f in found.files]
    try:
        if jobs > 1 and len(work) >= 4 * jobs and all(f.path is not None for f, _ in work):
            with ProcessPoolExecutor(jobs, initializer=pipeline.quiet_worker) as pool:
                results = pool.map(partial(_judge_job, target=target, limit=limit), work, chunksize=4)
                for done, ((item, _walked), rep) in enumerate(zip(work, results, strict=True), 1):
                    _add(report, rep, item)
                    if progress is not None:
                        progress(done, len(work), item.name)
        else:
            for done, (item, walked) in enumerate(work, 1):
                _add(report, _judge(item, target, limit, walked), item)
                if progress is not None:
                    progress(done, len(work), item.name)
    except KeyboardInterrupt:
        report.interrupted = True
    return report


def _judge_job(job: tuple[InputFile, bool], target: str | None, limit: int) -> FileReport | None:
    return _judge(job[0], target, limit, job[1])


def _add(report: ValidateReport, rep: FileReport | None, item: InputFile) -> None:
    if rep is None:
        report.skipped_files.append(item.name)
    else:
        report.files.append(rep)
