"""Dotted paths into plain data (a dumped Trial), with loop variables bound by ``each ... as``.

A path's first segment may name a loop variable (``arm.label``) or is read from the trial root
(``identification.nct_id``). Lists are only crossed by ``each``, never inside a path.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

Scope = Mapping[str, Any]
ROOT = "$"


def split(path: str) -> list[str]:
    return path.split(".")


def get(scope: Scope, path: str) -> Any:
    parts = split(path)
    if parts[0] in scope and parts[0] != ROOT:
        value: Any = scope[parts[0]]
        if isinstance(value, Holder):  # the item a reverse ``each`` is rebuilding
            value = value.value
        parts = parts[1:]
    else:
        value = scope[ROOT]
    for part in parts:
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


class Holder:
    """The item a reverse ``each`` is rebuilding: a dict, or a bare value for lists of strings."""

    def __init__(self) -> None:
        self.value: Any = None

    def data(self) -> dict[str, Any]:
        if self.value is None:
            self.value = {}
        if not isinstance(self.value, dict):
            raise TypeError("item is a bare value, not an object")
        return self.value


def put(scope: Scope, path: str, value: Any) -> None:
    """Set a value at a path, creating objects on the way (the reverse of ``get``)."""
    parts = split(path)
    if parts[0] in scope and parts[0] != ROOT:
        holder = scope[parts[0]]
        assert isinstance(holder, Holder)
        if len(parts) == 1:
            holder.value = value
            return
        target: dict[str, Any] = holder.data()
        parts = parts[1:]
    else:
        target = scope[ROOT]
    for part in parts[:-1]:
        nxt = target.get(part)
        if not isinstance(nxt, dict):
            nxt = target[part] = {}
        target = nxt
    target[parts[-1]] = value


def append(scope: Scope, path: str, value: Any) -> None:
    current = get(scope, path) if _exists(scope, path) else None
    if not isinstance(current, list):
        current = []
        put(scope, path, current)
    current.append(value)


def _exists(scope: Scope, path: str) -> bool:
    try:
        return get(scope, path) is not None
    except (KeyError, TypeError):
        return False
