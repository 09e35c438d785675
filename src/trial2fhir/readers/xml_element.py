"""Reading a classic XML record: an element with accessors that name their place in errors,
text blocks, and the classic vocabulary (ConceptMaps ``mappings/codes/ctgov-classic-*.yaml``)."""

from __future__ import annotations

import re
import textwrap
from collections.abc import Callable, Mapping
from functools import cache
from typing import Any, TypeVar

from lxml import etree

from trial2fhir.errors import RecordError
from trial2fhir.mapping.codes import load_code_map
from trial2fhir.mapping.load import MAPPINGS
from trial2fhir.readers.values import parse_date, parse_date_type

# --- vocabulary: classic spelling -> API v2 enum ---------------------------------------------
# Coded terms are ConceptMaps in mappings/codes/ctgov-classic-<concept>.yaml; the yes/no flags stay
# here because they become booleans, not codes.

YES_NO = {"Yes": True, "No": False}
HEALTHY_VOLUNTEERS = {"Accepts Healthy Volunteers": True, "Yes": True, "No": False}

Fields = dict[str, Any]
T = TypeVar("T")


def upper_snake(value: str) -> str:
    """``Health Services Research`` -> ``HEALTH_SERVICES_RESEARCH``: the fallback for new terms."""
    return re.sub(r"[^A-Za-z0-9]+", "_", value).strip("_").upper()


@cache
def vocabulary(concept: str) -> dict[str, str | None]:
    """The classic term -> API v2 enum table of ``mappings/codes/ctgov-classic-<concept>.yaml``,
    keyed by case-folded term (records vary the case: "Single Group assignment")."""
    table = load_code_map(MAPPINGS / "codes" / f"ctgov-classic-{concept}.yaml").forward
    return {term.casefold(): target for term, target in table.items()}


def code(concept: str, value: str | None) -> str | None:
    """Look a classic term up (case-insensitively); unknown terms are upper-snake-cased."""
    if value is None:
        return None
    table = vocabulary(concept)
    folded = value.casefold()
    return table[folded] if folded in table else upper_snake(value)


# --- element access --------------------------------------------------------------------------


class Element:
    """An element of the record (or its absence) with accessors that name their place in errors."""

    def __init__(self, el: etree._Element | None, file: str) -> None:
        self.el = el
        self.file = file

    def place(self, path: str = "") -> str:
        if self.el is None:
            return "/clinical_study"
        base = self.el.getroottree().getpath(self.el)
        return f"{base}/{path}" if path else base

    def error(self, message: str, path: str = "") -> RecordError:
        return RecordError(self.file, self.place(path), message)

    def one(self, path: str) -> etree._Element | None:
        """The element at ``path``, which the record has at most once: a second one is an error (the
        first would win silently, and the other value would be lost)."""
        if self.el is None:
            return None
        found = self.el.iterfind(path)
        first, second = next(found, None), next(found, None)
        if second is not None:
            assert first is not None
            again = Element(second, self.file)
            raise again.error(f"<{second.tag}> appears twice (line {first.sourceline}, then line {second.sourceline}: "
                              f"{_short(again.text())} after {_short(Element(first, self.file).text())}); "
                              "a record has one")
        return first

    def find(self, path: str) -> Element:
        return Element(self.one(path), self.file)

    def all(self, path: str) -> list[Element]:
        return [] if self.el is None else [Element(e, self.file) for e in self.el.findall(path)]

    def text(self, path: str = "", *, strip: bool = True) -> str | None:
        """Text of the element at ``path``, stripped; None when absent or empty."""
        el = self.el if not path or self.el is None else self.one(path)
        if el is None:
            return None
        value = "".join(t for t in el.itertext() if isinstance(t, str))
        return (value.strip() if strip else value) or None

    def fields(self, *tags: str) -> Fields:
        """Several child texts at once, each under its tag (where the Trial field has the tag's name)."""
        return {tag: self.text(tag) for tag in tags}

    def texts(self, path: str) -> list[str]:
        return [t for e in self.all(path) if (t := e.text()) is not None]

    def block(self, path: str) -> str | None:
        """A ``<textblock>`` with its layout indentation removed and line ends normalised."""
        return normalise_block(self.text(f"{path}/textblock", strip=False))

    def code(self, path: str, concept: str) -> str | None:
        return code(concept, self.text(path))

    def flag(self, path: str, table: Mapping[str, bool] = YES_NO) -> bool | None:
        value = self.text(path)
        if value is None:
            return None
        if value not in table:
            raise self.error(f"unexpected value {value!r} (expected one of {', '.join(table)})", path)
        return table[value]

    def date(self, path: str) -> Fields | None:
        value = self.text(path)
        date = None if value is None or value.casefold() == "unknown" else self.parse(parse_date, path)
        return None if date is None else {"date": date.date, "type": self.parse_attr(parse_date_type, path, "type")}

    def parse(self, parser: Callable[[str], T], path: str) -> T | None:
        """The text at ``path`` through a value parser; a ValueError becomes an error naming its place."""
        value = self.text(path)
        if value is None:
            return None
        try:
            return parser(value)
        except ValueError as exc:
            raise self.error(str(exc), path) from None

    def parse_attr(self, parser: Callable[[str], T], path: str, attr: str) -> T | None:
        el = self.find(path).el
        value = None if el is None else el.get(attr)
        if value is None:
            return None
        try:
            return parser(value)
        except ValueError as exc:
            raise self.error(str(exc), f"{path}/@{attr}") from None


def _short(text: str | None, limit: int = 60) -> str:
    """A value as an error quotes it: repr, cut to its first characters."""
    return repr(text if text is None or len(text) <= limit else text[:limit] + "...")


def normalise_block(text: str | None) -> str | None:
    """Dedent a classic textblock (common leading spaces), strip line ends, keep paragraph breaks."""
    if text is None:
        return None
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    result = textwrap.dedent("\n".join(lines)).strip("\n")
    return result or None


