"""From command-line INPUTs to records: expand folders, open ZIPs, detect each file's format.

Everything here turns a bad file into a RecordError for that file and moves on, so one bad input
never takes the others down.
"""

from __future__ import annotations

import io
import sys
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from trial2fhir.errors import RecordError
from trial2fhir.readers import READERS, ReadResult

HEAD_BYTES = 64 * 1024
DEFAULT_MAX_FILE_MB = 100
# Extensions picked up when walking a folder; files named explicitly are always read.
INPUT_SUFFIXES = frozenset({".json", ".ndjson", ".jsonl", ".xml", ".txt", ".zip"})


@dataclass
class InputFile:
    """One file to read: a path on disk, or bytes already in memory (stdin, a ZIP member)."""

    name: str
    path: Path | None = None
    data: bytes | None = None


@dataclass
class Inputs:
    files: list[InputFile] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    missing: list[RecordError] = field(default_factory=list)


def expand(args: Sequence[str]) -> Inputs:
    """Files as given, folders walked (sorted, hidden entries skipped), ``-`` for stdin."""
    out = Inputs()
    for arg in args:
        if arg == "-":
            out.files.append(InputFile("-", data=sys.stdin.buffer.read()))
            continue
        p = Path(arg)
        if p.is_dir():
            for f in sorted(p.rglob("*")):
                if any(part.startswith(".") for part in f.relative_to(p).parts) or not f.is_file():
                    continue
                if f.suffix.lower() in INPUT_SUFFIXES:
                    out.files.append(InputFile(str(f), path=f))
                else:
                    out.skipped.append(str(f))
        elif p.is_file():
            out.files.append(InputFile(str(p), path=p))
        else:
            out.missing.append(RecordError(arg, "", "no such file or folder"))
    return out


def _detect(head: bytes, name: str) -> str:
    """Name of the reader for these first bytes; RecordError when no reader fits."""
    nul = head.find(b"\x00")
    if nul >= 0:
        raise RecordError(name, f"byte {nul}", "binary file (NUL byte), not a trial record")
    if not head.strip(b"\xef\xbb\xbf \t\r\n"):
        raise RecordError(name, "", "empty file")
    for reader in READERS.values():
        if reader.sniff(head):
            return reader.name
    first = head.lstrip(b"\xef\xbb\xbf \t\r\n").split(b"\n", 1)[0][:60].decode("utf-8", "replace")
    raise RecordError(
        name, "line 1", f"no known layout (not ClinicalTrials.gov JSON/XML nor a known registry page): {first!r}"
    )


def _read_bytes(data: bytes, name: str, fmt: str | None) -> Iterator[ReadResult]:
    try:
        if data[:4] == b"PK\x03\x04":
            raise RecordError(name, "", "ZIP inside a ZIP is not read")
        chosen = fmt or _detect(data[:HEAD_BYTES], name)
        yield from READERS[chosen].read(data, name)
    except RecordError as exc:
        yield exc


def _read_zip(path: Path | None, data: bytes | None, name: str, fmt: str | None, limit: int) -> Iterator[ReadResult]:
    try:
        with zipfile.ZipFile(path if path is not None else io.BytesIO(data or b"")) as zf:
            for info in zf.infolist():
                if info.is_dir() or Path(info.filename).name.startswith("."):
                    continue
                member = f"{name}!{info.filename}"
                if info.file_size > limit:
                    yield RecordError(member, "", _too_big(info.file_size, limit))
                    continue
                yield from _read_bytes(zf.read(info), member, fmt)
    except (zipfile.BadZipFile, OSError) as exc:
        yield RecordError(name, "", f"unreadable ZIP: {exc}")


def _too_big(size: int, limit: int) -> str:
    return (f"file is {size / 2**20:.1f} MiB, over the {limit / 2**20:.0f} MiB limit for one input "
            "(raise it with --max-file-mb, or split the file into NDJSON/ZIP parts)")


def read_input(item: InputFile, fmt: str | None = None, max_file_mb: int = DEFAULT_MAX_FILE_MB) -> Iterator[ReadResult]:
    """Every record of one input, as Trials or RecordErrors; never raises for bad content."""
    limit = max_file_mb * 2**20
    try:
        if item.data is None:
            assert item.path is not None
            with item.path.open("rb") as fh:
                head = fh.read(HEAD_BYTES)
            if head[:4] == b"PK\x03\x04":
                yield from _read_zip(item.path, None, item.name, fmt, limit)
                return
            size = item.path.stat().st_size
            if size > limit:
                # A cheap verdict first: a huge binary file is named as such, not as "too big".
                if fmt is None:
                    _detect(head, item.name)
                raise RecordError(item.name, "", _too_big(size, limit))
            data = item.path.read_bytes()
        else:
            data = item.data
            if data[:4] == b"PK\x03\x04":
                yield from _read_zip(None, data, item.name, fmt, limit)
                return
            if len(data) > limit:
                raise RecordError(item.name, "", _too_big(len(data), limit))
    except RecordError as exc:
        yield exc
        return
    except OSError as exc:
        yield RecordError(item.name, "", f"cannot read: {exc.strerror or exc}")
        return
    yield from _read_bytes(data, item.name, fmt)
