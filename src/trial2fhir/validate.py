"""validate: check written files against their target's published schema.

Each file's target is recognised from its first bytes (``Target.sniff``; ``--as`` forces one), its
bytes are read back with ``Target.parse`` and judged with ``Target.validate``: the same two calls
the round trip makes, so a target added to the registry is validated here with no new code. NDJSON
(``.ndjson``/``.jsonl``) is checked line by line, each problem naming its line number.
"""

from __future__ import annotations

import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from trial2fhir.errors import Problem, RecordError, clean
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


def validate_file(path: Path, target: str | None = None) -> list[Problem]:
    """Every problem in one file (``file: place: message``); [] when valid. Never raises for bad content."""
    name = str(path)
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        return [Problem(name, "", f"cannot read: {exc.strerror or exc}")]
    if not stat.S_ISREG(mode):
        kind = "a folder" if stat.S_ISDIR(mode) else "a FIFO" if stat.S_ISFIFO(mode) else "not a regular file"
        return [Problem(name, "", f"{kind}: only regular files are validated")]
    try:
        data = path.read_bytes()
    except OSError as exc:
        return [Problem(name, "", f"cannot read: {exc.strerror or exc}")]
    chosen = TARGETS[target] if target is not None else detect(data[:HEAD_BYTES])
    if chosen is None:
        first = data.lstrip()[:60].decode("utf-8", "replace")
        return [Problem(name, "", f"not a file any target writes ({', '.join(TARGETS)}): {clean(first)!r}")]
    if path.suffix.lower() in NDJSON_SUFFIXES:
        return [p for number, line in _lines(data) for p in _check(chosen, line, name, f"line {number}")]
    return _check(chosen, data, name, "")


def _check(target: Target[Any], data: bytes, file: str, where: str) -> list[Problem]:
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
