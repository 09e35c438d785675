"""What a reader is: a content sniffer and a function from bytes (or a byte stream) to Trials or RecordErrors."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from trial2fhir.errors import RecordError
from trial2fhir.model import Trial

ReadResult = Trial | RecordError
"""One record's outcome: readers yield errors instead of raising, so one bad record never
stops the others in the same file."""

Stream = Callable[[Iterator[bytes], str, int], Iterator[ReadResult]]
"""(UTF-8 chunks, file name, largest record in bytes) -> records, read as the chunks come."""

# Byte-order marks, longest first (UTF-32 LE starts with the UTF-16 LE mark).
BOMS: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xef\xbb\xbf", "utf-8"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
)


@dataclass(frozen=True)
class Reader:
    """One input format. ``sniff`` sees the first bytes of the file (at most 64 KiB, as UTF-8).

    ``stream``, when given, reads a file of any size in memory bounded by one record (the pipeline
    uses it instead of ``read``). ``decodes_itself``: the reader is given the original bytes in
    whatever encoding they are (XML reads its BOM and encoding declaration); the others get UTF-8.
    """

    name: str
    description: str
    sniff: Callable[[bytes], bool]
    read: Callable[[bytes, str], Iterator[ReadResult]]
    stream: Stream | None = None
    decodes_itself: bool = False


def bom_encoding(data: bytes) -> tuple[str, int] | None:
    """(codec, BOM length) when ``data`` starts with a byte-order mark."""
    for bom, codec in BOMS:
        if data.startswith(bom):
            return codec, len(bom)
    return None


def decode_text(data: bytes, file: str) -> str:
    """Decode a text page: UTF-8, or UTF-16/UTF-32 with a BOM; raise RecordError naming the first bad byte."""
    codec, skip = bom_encoding(data) or ("utf-8", 0)
    try:
        return data[skip:].decode(codec)
    except UnicodeDecodeError as exc:
        name = codec.upper().replace("-LE", " LE").replace("-BE", " BE")
        raise RecordError(file, "", f"invalid {name} at byte {skip + exc.start}") from None
