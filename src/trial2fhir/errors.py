"""Errors that name the file, the place in it and the reason: the one shape every layer reports."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One problem with one record: ``file: place: message`` on one line."""

    file: str
    place: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}: {self.place}" if self.place else self.file
        return f"{where}: {self.message}"

    def to_dict(self) -> dict[str, str]:
        return {"file": self.file, "place": self.place, "message": self.message}


class RecordError(Exception):
    """Raised (or yielded) for a record that cannot be read; never stops the other records."""

    def __init__(self, file: str, place: str, message: str) -> None:
        self.problem = Problem(file, place, " ".join(message.split()))
        super().__init__(str(self.problem))
