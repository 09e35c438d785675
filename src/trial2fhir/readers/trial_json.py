"""trial-json (this tool's own dump of a Trial) -> Trial, so outputs can be read back and re-targeted."""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import ValidationError

from trial2fhir.errors import RecordError
from trial2fhir.model import Trial
from trial2fhir.readers.base import ReadResult


def sniff(head: bytes) -> bool:
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n")[:400]
    return start.startswith(b"{") and b'"source"' in start and b'"format"' in start


def read(data: bytes, file: str) -> Iterator[ReadResult]:
    try:
        yield Trial.model_validate_json(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        place = "#/" + "/".join(str(p) for p in first["loc"])
        yield RecordError(file, place, f"not a valid trial-json record: {first['msg']}")
