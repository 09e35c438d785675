"""From command-line INPUTs to records: walk folders, open ZIPs, find each file's encoding and format.

Everything here turns a bad file into a RecordError for that file and moves on, so one bad input
never takes the others down. Files are read as streams: JSON arrays, NDJSON and ZIP members in
memory bounded by one record, other formats up to ``--max-file-mb`` (enforced while reading, so
stdin cannot fill memory either).
"""

from __future__ import annotations

import codecs
import io
import itertools
import os
import stat
import sys
import tempfile
import zipfile
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from trial2fhir.errors import Problem, RecordError
from trial2fhir.readers import READERS, ReadResult
from trial2fhir.readers.base import bom_encoding

HEAD_BYTES = 64 * 1024
READ_SIZE = 1 << 20
DEFAULT_MAX_FILE_MB = 100
# Extensions picked up when walking a folder; files named explicitly are always read.
INPUT_SUFFIXES = frozenset({".json", ".ndjson", ".jsonl", ".xml", ".txt", ".zip"})
ZIP_MAGIC = b"PK\x03\x04"
# Compression methods Python's zipfile reads (stored, deflate, bzip2, lzma).
ZIP_METHODS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflate", zipfile.ZIP_BZIP2: "bzip2",
               zipfile.ZIP_LZMA: "lzma"}
ZIP_METHOD_NAMES = {9: "deflate64", 12: "bzip2", 93: "zstandard", 95: "xz", 97: "WavPack", 98: "PPMd", 99: "AES"}


@dataclass
class InputFile:
    """One file to read: a path on disk, bytes already in memory, or a stream read once (stdin)."""

    name: str
    path: Path | None = None
    data: bytes | None = None
    stream: IO[bytes] | None = None


@dataclass
class Inputs:
    files: list[InputFile] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    missing: list[RecordError] = field(default_factory=list)
    """Inputs that could not be opened at all (missing, unreadable, not a regular file)."""
    notes: list[Problem] = field(default_factory=list)
    """Warnings about the walk itself (a symlink loop not followed again)."""


# --- folders -----------------------------------------------------------------------------------


def _kind(mode: int) -> str | None:
    """What a non-regular, non-folder file is, in words; None for a regular file or a folder."""
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return None
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _refused(name: str, kind: str) -> RecordError:
    return RecordError(name, "", f"{kind}, not a regular file: refused (to read a stream, pipe it to -)")


def expand(args: Sequence[str]) -> Inputs:
    """Files as given, folders walked (sorted, hidden entries skipped, symlinked folders followed
    once), ``-`` for stdin. FIFOs and devices are refused by name: reading one could block forever."""
    out = Inputs()
    for arg in args:
        if arg == "-":
            out.files.append(InputFile("-", stream=sys.stdin.buffer))
            continue
        try:
            mode = os.stat(arg).st_mode
        except FileNotFoundError:
            broken = os.path.islink(arg)
            out.missing.append(RecordError(arg, "", "broken symlink" if broken else "no such file or folder"))
            continue
        except OSError as exc:
            out.missing.append(RecordError(arg, "", f"cannot read: {exc.strerror or exc}"))
            continue
        if stat.S_ISDIR(mode):
            _walk(Path(arg), out, set())
        elif (kind := _kind(mode)) is not None:
            out.missing.append(_refused(arg, kind))
        else:
            out.files.append(InputFile(arg, path=Path(arg)))
    return out


def _walk(folder: Path, out: Inputs, seen: set[tuple[int, int]]) -> None:
    try:
        st = folder.stat()
        key = (st.st_dev, st.st_ino)
        if key in seen:
            out.notes.append(Problem(str(folder), "", "a symlink back to a folder already walked (a loop): "
                                     "not walked again"))
            return
        seen.add(key)
        with os.scandir(folder) as it:
            entries = sorted(it, key=lambda e: e.name)
    except OSError as exc:
        out.missing.append(RecordError(str(folder), "", f"cannot read folder: {exc.strerror or exc}"))
        return
    for entry in entries:
        if entry.name.startswith("."):
            continue
        path = Path(entry.path)
        try:
            mode = entry.stat(follow_symlinks=True).st_mode
        except OSError as exc:
            if path.suffix.lower() in INPUT_SUFFIXES:
                reason = "broken symlink" if entry.is_symlink() else f"cannot read: {exc.strerror or exc}"
                out.missing.append(RecordError(str(path), "", reason))
            else:
                out.skipped.append(str(path))
            continue
        if stat.S_ISDIR(mode):
            _walk(path, out, seen)
        elif path.suffix.lower() not in INPUT_SUFFIXES:
            out.skipped.append(str(path))
        elif (kind := _kind(mode)) is not None:
            out.missing.append(_refused(str(path), kind))
        else:
            out.files.append(InputFile(str(path), path=path))


# --- encodings and formats ---------------------------------------------------------------------


def _encoding(head: bytes, name: str) -> str:
    """The codec of a text file from its first bytes; RecordError for binary or BOM-less UTF-16/32."""
    found = bom_encoding(head)
    if found is not None:
        return found[0]
    nul = head.find(b"\x00")
    if nul < 0:
        return "utf-8"
    sample = head[:4096]
    if len(sample) >= 8:
        share = [sample[i::4].count(0) / len(sample[i::4]) for i in range(4)]
        for codec, zero_at, text_at in (("UTF-32 LE", (1, 2, 3), 0), ("UTF-32 BE", (0, 1, 2), 3)):
            if all(share[i] > 0.9 for i in zero_at) and share[text_at] < 0.1:
                raise RecordError(name, "", f"{codec} text without a byte-order mark: save it as UTF-8 or with a BOM")
        even, odd = sample[0::2].count(0) / len(sample[0::2]), sample[1::2].count(0) / len(sample[1::2])
        if odd > 0.4 and even < 0.05:
            raise RecordError(name, "", "UTF-16 LE text without a byte-order mark: save it as UTF-8 or with a BOM")
        if even > 0.4 and odd < 0.05:
            raise RecordError(name, "", "UTF-16 BE text without a byte-order mark: save it as UTF-8 or with a BOM")
    raise RecordError(name, f"byte {nul}", "binary file (NUL byte), not a trial record")


def _detect(head: bytes, name: str) -> str:
    """Name of the reader for these first bytes (UTF-8); RecordError when no reader fits."""
    if not head.strip(b"\xef\xbb\xbf \t\r\n"):
        raise RecordError(name, "", "empty file")
    for reader in READERS.values():
        if reader.sniff(head):
            return reader.name
    first = head.lstrip(b"\xef\xbb\xbf \t\r\n").split(b"\n", 1)[0][:60].decode("utf-8", "replace")
    raise RecordError(
        name, "line 1", f"no known layout (not ClinicalTrials.gov JSON/XML nor a known registry page): {first!r}"
    )


def _chunks(head: bytes, fh: IO[bytes]) -> Iterator[bytes]:
    if head:
        yield head
    while chunk := fh.read(READ_SIZE):
        yield chunk


def _utf8(chunks: Iterator[bytes], codec: str, name: str) -> Iterator[bytes]:
    """Chunks in ``codec`` (BOM dropped) as UTF-8 chunks; RecordError naming the first bad byte."""
    decoder = codecs.getincrementaldecoder(codec)()
    offset = 0
    first = True
    for chunk in itertools.chain(chunks, [b""]):
        try:
            text = decoder.decode(chunk, final=not chunk)
        except UnicodeDecodeError as exc:
            label = codec.upper().replace("-LE", " LE").replace("-BE", " BE")
            raise RecordError(name, "", f"invalid {label} at byte {offset + exc.start}") from None
        offset += len(chunk)
        if first:
            text, first = text.removeprefix("\ufeff"), False
        if text:
            yield text.encode("utf-8")


def _too_big(size: int, limit: int) -> str:
    return (f"file is {size / 2**20:.1f} MiB, over the {limit / 2**20:.0f} MiB limit for one input "
            "(raise it with --max-file-mb, or split the file into NDJSON/ZIP parts)")


def _whole(chunks: Iterator[bytes], limit: int, name: str) -> bytes:
    """All the chunks, refusing (without reading on) once past ``limit``: stdin cannot fill memory."""
    parts: list[bytes] = []
    size = 0
    for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise RecordError(name, "", f"over the {limit / 2**20:.0f} MiB limit for one input, stopped reading "
                              "(raise it with --max-file-mb; JSON arrays and NDJSON are streamed instead)")
        parts.append(chunk)
    return b"".join(parts)


def _read_stream(fh: IO[bytes], name: str, fmt: str | None, limit: int, *, path: Path | None = None,
                 in_zip: bool = False) -> Iterator[ReadResult]:
    head = fh.read(HEAD_BYTES)
    if head[:4] == ZIP_MAGIC:
        if in_zip:
            raise RecordError(name, "", "ZIP inside a ZIP is not read")
        if path is not None:
            yield from _read_zip(path, name, fmt, limit)
        else:
            with tempfile.TemporaryFile() as spool:  # zipfile needs to seek: spool the stream, bounded
                for chunk in _chunks(head, fh):
                    spool.write(chunk)
                    if spool.tell() > limit:
                        raise RecordError(name, "", f"ZIP over the {limit / 2**20:.0f} MiB limit on a stream: "
                                          "stopped reading (give its path instead, or raise --max-file-mb)")
                spool.seek(0)
                yield from _read_zip(spool, name, fmt, limit)
        return
    codec = _encoding(head, name)
    utf8_head = head if codec == "utf-8" else b"".join(_utf8(iter([head]), codec, name))[:HEAD_BYTES]
    reader = READERS[fmt or _detect(utf8_head, name)]
    chunks = _chunks(head, fh)
    if reader.stream is not None:
        yield from reader.stream(chunks if codec == "utf-8" else _utf8(chunks, codec, name), name, limit)
        return
    if path is not None and (size := path.stat().st_size) > limit:
        raise RecordError(name, "", _too_big(size, limit))
    if reader.decodes_itself or codec == "utf-8":
        data = _whole(chunks, limit, name)
    else:
        data = _whole(_utf8(chunks, codec, name), limit, name)
    yield from reader.read(data, name)


# --- ZIP ---------------------------------------------------------------------------------------


def _member_problem(info: zipfile.ZipInfo) -> str | None:
    """Why a member cannot be read, found from its header before any byte of it is."""
    if info.flag_bits & 0x1:
        return "encrypted ZIP member: not read (password-protected archives are not supported)"
    if info.compress_type not in ZIP_METHODS:
        method = ZIP_METHOD_NAMES.get(info.compress_type, f"method {info.compress_type}")
        return (f"ZIP member compressed with {method}, which is not supported "
                f"(use one of {', '.join(ZIP_METHODS.values())})")
    return None


def _read_zip(source: Path | IO[bytes], name: str, fmt: str | None, limit: int) -> Iterator[ReadResult]:
    try:
        zf = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        yield RecordError(name, "", f"unreadable ZIP: {exc}")
        return
    with zf:
        for info in zf.infolist():
            if info.is_dir() or Path(info.filename).name.startswith("."):
                continue
            member = f"{name}!{info.filename}"
            problem = _member_problem(info)
            if problem is not None:
                yield RecordError(member, "", problem)
                continue
            try:
                # zipfile checks a member's CRC only at its end: check it first (in bounded memory), so
                # no record of a corrupt member is converted. A header that lies about the size ends
                # here too (zipfile reads at most the declared size, then the CRC fails).
                with zf.open(info) as fh:
                    while fh.read(READ_SIZE):
                        pass
                with zf.open(info) as fh:
                    yield from _read_stream(fh, member, fmt, limit, in_zip=True)
            except RecordError as exc:
                yield exc
            except zipfile.BadZipFile as exc:
                yield RecordError(member, "", f"corrupt ZIP member: {exc}")
            except (EOFError, zlib.error, OSError, NotImplementedError, RuntimeError) as exc:
                yield RecordError(member, "", f"corrupt ZIP member: {type(exc).__name__}: {exc}")


def read_input(item: InputFile, fmt: str | None = None, max_file_mb: int = DEFAULT_MAX_FILE_MB) -> Iterator[ReadResult]:
    """Every record of one input, as Trials or RecordErrors; never raises for bad content."""
    limit = max_file_mb * 2**20
    try:
        if item.stream is not None:
            yield from _read_stream(item.stream, item.name, fmt, limit)
        elif item.data is not None:
            yield from _read_stream(io.BytesIO(item.data), item.name, fmt, limit)
        else:
            assert item.path is not None
            with item.path.open("rb") as fh:
                yield from _read_stream(fh, item.name, fmt, limit, path=item.path)
    except RecordError as exc:
        yield exc
    except OSError as exc:
        yield RecordError(item.name, "", f"cannot read: {exc.strerror or exc}")
    except Exception as exc:  # a reader bug must cost this input, not the run (and says so)
        yield RecordError(item.name, "", f"cannot read: internal error {type(exc).__name__}: {exc} (please report it)")
