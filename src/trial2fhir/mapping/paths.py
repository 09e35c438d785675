"""Dotted paths into plain data (a dumped Trial), with loop variables bound by ``each ... as``.

A path's first segment may name a loop variable (``arm.label``) or is read from the trial root
(``identification.nct_id``). Lists are crossed by ``each``; inside a path only a fixed position
(``central_contacts.1.name``: the second item) or the rest from one (``contacts.2:``, a list, for
an ``each``) may be named, for a standard with a fixed number of slots (PRS: a site's contact and
its backup, then its investigators).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

Scope = Mapping[str, Any]
ROOT = "$"


@lru_cache(maxsize=8192)
def _split(path: str) -> tuple[str, ...]:
    return tuple(path.split("."))


def split(path: str) -> list[str]:
    """Cached: the same few hundred mapping paths are split per trial."""
    return list(_split(path))


@lru_cache(maxsize=8192)
def _plan(path: str) -> tuple[str, tuple[str, ...], tuple[str, ...], bool]:
    """(first segment, all segments, the rest, whether a segment is a list position): worked out
    once per path, as ``get`` runs some thousands of times per trial."""
    parts = _split(path)
    return parts[0], parts, parts[1:], any(p.isdigit() or is_rest(p) for p in parts)


def get(scope: Scope, path: str) -> Any:
    head, parts, rest, positional = _plan(path)
    if head != ROOT and head in scope:
        value: Any = scope[head]
        if isinstance(value, Holder):  # the item a reverse ``each`` is rebuilding
            value = value.value
        parts = rest
    else:
        value = scope[ROOT]
    if not positional:
        for part in parts:
            # a dumped Trial is plain dicts: test for one exactly before the (slower) Mapping ABC
            if type(value) is dict or (value is not None and isinstance(value, Mapping)):
                value = value.get(part)
            else:
                return None
        return value
    for part in parts:
        if isinstance(value, list) and part.isdigit():
            value = value[int(part)] if int(part) < len(value) else None
            continue
        if isinstance(value, list) and is_rest(part):
            value = value[int(part[:-1]):]
            continue
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
    here: Any = target
    for part, after in itertools.pairwise(parts):
        if isinstance(here, list):  # a fixed position (``central_contacts.1``): the list grows to it
            here.extend({} for _ in range(int(part) + 1 - len(here)))
            key: Any = int(part)
        else:
            key = part
        nxt = here[key] if isinstance(here, list) else here.get(key)
        if not isinstance(nxt, list if after.isdigit() else dict):
            nxt = [] if after.isdigit() else {}
            here[key] = nxt
        here = nxt
    if isinstance(here, list):
        here.extend({} for _ in range(int(parts[-1]) + 1 - len(here)))
        here[int(parts[-1])] = value
    else:
        here[parts[-1]] = value


def is_rest(part: str) -> bool:
    """``2:``: the items from the third on."""
    return part.endswith(":") and part[:-1].isdigit()


def append(scope: Scope, path: str, value: Any) -> None:
    head, _, last = path.rpartition(".")
    if is_rest(last):  # the rest from a position: the item goes after the fixed slots, padded to them
        current = get(scope, head) if _exists(scope, head) else None
        if not isinstance(current, list):
            current = []
            put(scope, head, current)
        current.extend({} for _ in range(int(last[:-1]) - len(current)))
        current.append(value)
        return
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
