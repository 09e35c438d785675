"""A JSON value with its JSON pointer: typed accessors that raise a RecordError naming the place.

JSON from outside is checked here, value by value, before pydantic sees it: pydantic's lax mode
would take ``"yes"`` for true and ``true`` for 1, and its error locations are the model's, not
the input's.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

import orjson

from trial2fhir.errors import RecordError
from trial2fhir.model import Age
from trial2fhir.readers.values import iso_date, parse_age

Fields = dict[str, Any]
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


@cache
def snake(key: str) -> str:
    """``phoneExt`` -> ``phone_ext``: Trial fields are API v2 keys in snake case."""
    return _CAMEL.sub("_", key).lower()


def escape_pointer(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def _shown(value: Any) -> str:
    return orjson.dumps(value).decode()[:80]


class Node:
    """A JSON value with its JSON pointer; accessors check types and raise RecordError. The pointer
    is built only when an error needs it (most nodes never fail, and building it cost a fifth of
    the reading time)."""

    __slots__ = ("_base", "_key", "_parent", "file", "value")

    def __init__(self, value: Any, pointer: str, file: str, parent: Node | None = None, key: str = "") -> None:
        self.value = value
        self.file = file
        self._base = pointer
        self._parent = parent
        self._key = key

    @property
    def pointer(self) -> str:
        if self._parent is None:
            return self._base
        return f"{self._parent.pointer}/{escape_pointer(self._key)}"

    def error(self, message: str, key: str | None = None) -> RecordError:
        place = self.pointer if key is None else f"{self.pointer}/{escape_pointer(key)}"
        return RecordError(self.file, place, message)

    def child(self, key: str) -> Node:
        return Node(self.value.get(key), "", self.file, self, key)

    def obj(self, key: str) -> Node:
        """The object at ``key``; an empty one when absent."""
        node = self.child(key)
        if node.value is None:
            node.value = {}
        elif not isinstance(node.value, dict):
            raise node.error("expected a JSON object")
        return node

    def items(self, key: str) -> list[Node]:
        """The elements of the array at ``key``; none when absent."""
        node = self.child(key)
        if node.value is None:
            return []
        if not isinstance(node.value, list):
            raise node.error("expected a JSON array")
        return [Node(v, "", self.file, node, str(i)) for i, v in enumerate(node.value)]

    def objs(self, key: str) -> list[Node]:
        """The objects of the array at ``key``; none when absent."""
        nodes = self.items(key)
        for n in nodes:
            if n.value.__class__ is not dict:
                raise n.error("expected a JSON object")
        return nodes

    def text(self, key: str) -> str | None:
        """The string at ``key``, leading/trailing white space stripped; None when absent/empty."""
        v = self.value.get(key)
        if v is None:
            return None
        if isinstance(v, str):
            return v.strip() or None
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise self.error(f"expected a string, got {type(v).__name__}", key)
        return str(v)

    def strs(self, key: str) -> list[str]:
        """The non-blank strings of the array at ``key``, stripped."""
        values = self.value.get(key)
        if values is None:
            return []
        if values.__class__ is not list or any(v.__class__ is not str for v in values):
            for n in self.items(key):
                if not isinstance(n.value, str):
                    raise n.error(f"expected a string, got {type(n.value).__name__}")
        return [t for v in values if (t := v.strip())]

    def flag(self, key: str) -> bool | None:
        """A JSON boolean; ``"yes"`` or ``1`` are refused (pydantic's lax mode would take them)."""
        v = self.value.get(key)
        if v is None or isinstance(v, bool):
            return v
        raise self.error(f"expected true or false, got {_shown(v)}", key)

    def integer(self, key: str) -> int | None:
        """A JSON integer; ``true`` or ``"12"`` are refused (pydantic's lax mode would take them)."""
        v = self.value.get(key)
        if v is None or (isinstance(v, int) and not isinstance(v, bool)):
            return v
        raise self.error(f"expected an integer, got {_shown(v)}", key)

    def number(self, key: str) -> float | None:
        v = self.value.get(key)
        if v is None or (isinstance(v, int | float) and not isinstance(v, bool)):
            return v
        raise self.error(f"expected a number, got {_shown(v)}", key)

    def date(self, key: str) -> Fields | None:
        """A DateStruct/PartialDateStruct (``{"date", "type"}``) or a bare date string."""
        v = self.value.get(key)
        if v is None:
            return None
        if isinstance(v, str):
            return {"date": self._date(self, key)}
        node = self.obj(key)
        date = node.text("date")
        return None if date is None else {"date": self._date(node, "date"), "type": node.text("type")}

    @staticmethod
    def _date(node: Node, key: str) -> str:
        try:
            return iso_date(str(node.value[key]))
        except ValueError as exc:
            raise node.error(str(exc), key) from None

    def age(self, key: str) -> Age | None:
        try:
            return parse_age(self.text(key))
        except ValueError as exc:
            raise self.error(str(exc), key) from None

    def texts(self, *keys: str) -> Fields:
        """Several strings at once, each under its key in snake case (the Trial's field name)."""
        get = self.value.get
        out: Fields = {}
        for k in keys:
            v = get(k)
            # the common cases inline: this runs a few hundred times per record
            out[snake(k)] = (v.strip() or None) if v.__class__ is str else None if v is None else self.text(k)
        return out

    def flags(self, *keys: str) -> Fields:
        """Several booleans at once, each under its key in snake case."""
        return {snake(k): self.flag(k) for k in keys}
