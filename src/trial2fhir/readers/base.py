"""What a reader is: a content sniffer and a function from bytes to Trials or RecordErrors."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from trial2fhir.errors import RecordError
from trial2fhir.model import Trial

ReadResult = Trial | RecordError
"""One record's outcome: readers yield errors instead of raising, so one bad record never
stops the others in the same file."""


@dataclass(frozen=True)
class Reader:
    """One input format. ``sniff`` sees the first bytes of the file (at most 64 KiB)."""

    name: str
    description: str
    sniff: Callable[[bytes], bool]
    read: Callable[[bytes, str], Iterator[ReadResult]]


def decode_text(data: bytes, file: str) -> str:
    """Decode a text page as UTF-8 (BOM tolerated); raise RecordError naming the first bad byte."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RecordError(file, f"byte {exc.start}", "not UTF-8 text") from None
