"""Errors that name the file, the place in it and the reason: the one shape every layer reports."""

from __future__ import annotations

import re
from dataclasses import dataclass

# C0 and C1 controls (ESC and CSI start terminal escapes), DEL, and the bidi controls that reorder
# what a terminal shows (U+200E/F, U+202A-E, U+2066-9): never echoed raw from a file name or page.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def clean(text: str) -> str:
    """``text`` safe to print on one terminal line: every control character shown as its escape."""
    return _UNSAFE.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


@dataclass(frozen=True)
class Problem:
    """One problem with one record: ``file: place: message`` on one line."""

    file: str
    place: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}: {self.place}" if self.place else self.file
        return clean(f"{where}: {self.message}")

    def to_dict(self) -> dict[str, str]:
        # Cleaned too: a report is read with cat and jq -r as often as by a program.
        return {"file": clean(self.file), "place": clean(self.place), "message": clean(self.message)}


class RecordError(Exception):
    """Raised (or yielded) for a record that cannot be read; never stops the other records."""

    def __init__(self, file: str, place: str, message: str) -> None:
        self.problem = Problem(file, place, " ".join(message.split()))
        super().__init__(str(self.problem))


class TargetNotReady(FileNotFoundError):
    """A target's published schema (or other prerequisite) is missing; the message says how to fix it.

    A FileNotFoundError, so the schema lookups that already raise one (``SchemaNotInstalledError``)
    are handled alike: the command stops once, up front, with exit 2.
    """
