"""ClinicalTrials.gov Data API v2 JSON -> Trial. (stub: being written)"""

from __future__ import annotations

from collections.abc import Iterator

from trial2fhir.readers.base import ReadResult


def sniff(head: bytes) -> bool:
    raise NotImplementedError


def read(data: bytes, file: str) -> Iterator[ReadResult]:
    raise NotImplementedError
