"""JSON read as a stream of records, in memory bounded by one record, with duplicate keys caught.

- ``array_items``: the items of a top-level JSON array, each as its own bytes (then parsed alone),
  found by a bracket scanner that skips whole strings (possessive regex: no backtracking).
- ``ndjson_lines``: one record per line; a bad line costs only itself.
- ``loads``: orjson, plus a duplicate-key check. orjson keeps the last of two equal keys silently;
  the check is a cheap exact test first (re-dumping loses bytes only when a key was dropped, or
  when an escape was written shorter, so equal quote counts prove there was no duplicate) and the
  slow, exact search (stdlib json with a pairs hook) only when that test fails.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson

# One structural bracket, after any run of non-bracket text and whole strings. Possessive
# quantifiers: an unterminated string at the buffer's end fails fast instead of backtracking.
_TOKEN = re.compile(rb'(?:[^"{}\[\]]++|"[^"\\]*+(?:\\.[^"\\]*+)*+")*+([{}\[\]])')
_WS = b" \t\r\n"


class StreamError(ValueError):
    """The stream itself is broken (not one record): where, and what."""

    def __init__(self, line: int, message: str, fatal: bool = False) -> None:
        super().__init__(message)
        self.line, self.message, self.fatal = line, message, fatal


class DuplicateKey(ValueError):
    def __init__(self, pointer: str, key: str) -> None:
        super().__init__(f"duplicate key {key!r}: JSON readers disagree on which value wins, so neither is taken")
        self.pointer = pointer


@dataclass
class Item:
    raw: bytes
    line: int  # the line the item starts on, 1-based
    index: int  # its position in the array, 0-based
    offset: int  # byte offset of its start in the stream


# --- parsing one record ------------------------------------------------------------------------


def _quotes(raw: bytes) -> int:
    return raw.count(b'"') - raw.count(b'\\"')


def loads(raw: bytes) -> Any:
    """``orjson.loads`` that raises DuplicateKey (with its JSON pointer) instead of dropping a value."""
    value = orjson.loads(raw)
    for pointer, key in duplicates(raw, value):
        raise DuplicateKey(pointer, key)
    return value


def duplicates(raw: bytes, value: Any) -> list[tuple[str, str]]:
    """(JSON pointer, key) of every repeated key in ``raw`` (already parsed as ``value``)."""
    if not isinstance(value, dict | list) or _quotes(orjson.dumps(value)) == _quotes(raw):
        return []
    return _find_duplicates(raw)


class _Pairs(dict[str, Any]):
    duplicate: str | None = None


def _hook(pairs: list[tuple[str, Any]]) -> _Pairs:
    out = _Pairs(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        out.duplicate = next(k for k, _ in pairs if k in seen or seen.add(k))  # type: ignore[func-returns-value]
    return out


def _escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def _find_duplicates(raw: bytes) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []

    def walk(node: Any, pointer: str) -> None:
        if isinstance(node, _Pairs):
            if node.duplicate is not None:
                found.append((f"{pointer}/{_escape(node.duplicate)}", node.duplicate))
            for key, value in node.items():
                walk(value, f"{pointer}/{_escape(key)}")
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, f"{pointer}/{i}")

    walk(json.loads(raw, object_pairs_hook=_hook), "#")
    return found


# --- streams -----------------------------------------------------------------------------------


def first_lines(head: bytes) -> list[bytes]:
    return [line for line in head.split(b"\n")[:3] if line.strip(_WS)]


def looks_like_ndjson(head: bytes) -> bool:
    """Several JSON values, one per line: the first or the second line is a whole object on its own
    (so a bad first line still marks the file as NDJSON), and more follows."""
    lines = first_lines(head.lstrip(b"\xef\xbb\xbf"))
    if len(lines) < 2:
        return False
    for line in lines[:2]:
        try:
            if isinstance(orjson.loads(line), dict):
                return True
        except orjson.JSONDecodeError:
            continue
    return False


def ndjson_lines(chunks: Iterator[bytes], limit: int) -> Iterator[Item | StreamError]:
    """Every non-blank line (``Item.index`` is its line number); a line over ``limit`` bytes is an
    error and skipped."""
    number, buf, skipping, offset = 1, b"", False, 0
    for chunk in chunks:
        buf += chunk
        at = 0
        while True:
            end = buf.find(b"\n", at)
            if end < 0:
                break
            line = buf[at:end]
            if skipping:
                skipping = False
            elif line.strip(_WS):
                yield Item(line, number, number, offset)
            offset += end + 1 - at
            at = end + 1
            number += 1
        buf = buf[at:]
        if len(buf) > limit and not skipping:
            yield StreamError(number, _over(limit, "line"))
            skipping = True
        if skipping:
            offset += len(buf)
            buf = b""
    if buf.strip(_WS) and not skipping:
        yield Item(buf, number, number, offset)


def _over(limit: int, what: str) -> str:
    return (f"one {what} is over the {limit / 2**20:.0f} MiB limit for one record "
            "(raise it with --max-file-mb)")


def array_items(chunks: Iterator[bytes], limit: int) -> Iterator[Item | StreamError]:
    """The items of the top-level array the stream holds, each as its own bytes, in order.

    Items that are not objects or arrays (numbers, strings) are given as their bytes too, so the
    caller reports them; an item over ``limit`` bytes is an error and skipped; a broken array ends
    with a fatal StreamError naming the line.
    """
    buf = bytearray()
    pos = 0  # scan position in buf
    line = 1  # line number at buf[0]
    depth = 0
    start: int | None = None  # where the current item starts in buf (None: between items, or skipped)
    gap_from = 0  # where the text between items starts (scalars live there)
    index = 0
    skipping = False
    opened = False
    source = iter(chunks)
    eof = False
    dropped = 0  # bytes dropped from the front of buf: absolute offsets for messages

    def line_at(offset: int) -> int:
        return line + buf.count(b"\n", 0, offset)

    def scalars(gap_end: int) -> Iterator[Item]:
        nonlocal index
        text = bytes(buf[gap_from:gap_end]).strip(_WS + b",")
        if not text:
            return
        for part in _split_scalars(text):
            yield Item(part, line_at(gap_from), index, dropped + gap_from)
            index += 1

    while True:
        m = _TOKEN.match(buf, pos)
        if m is None:
            if eof:
                break
            # Read at least as much again as is waiting unscanned: the rescan from ``pos`` then costs
            # O(file) in all, even for one huge string.
            wanted, added = max(1, len(buf) - pos), 0
            while added < wanted:
                try:
                    chunk = next(source)
                except StopIteration:
                    eof = True
                    break
                buf += chunk
                added += len(chunk)
            # Drop what no item needs any more, so memory stays one item (plus a read) deep.
            keep = start if start is not None else gap_from if depth == 1 else pos
            if skipping:
                keep = pos
            if keep > 0:
                line += buf.count(b"\n", 0, keep)
                dropped += keep
                del buf[:keep]
                pos -= keep
                gap_from = max(gap_from - keep, 0)
                if start is not None:
                    start -= keep
            if start is None and depth == 1 and len(buf) - gap_from > limit:
                yield StreamError(line_at(gap_from), f"no array item in {limit / 2**20:.0f} MiB: not a JSON array "
                                  "of records", fatal=True)
                return
            if start is not None and len(buf) - start > limit and not skipping:
                yield StreamError(line_at(start), _over(limit, "array item"))
                skipping, start = True, None
                index += 1
            continue
        bracket = buf[m.end() - 1]
        if not opened:
            if bracket != ord("[") or bytes(buf[:m.end() - 1]).strip(_WS + b"\xef\xbb\xbf"):
                yield StreamError(line_at(m.start()), "not a JSON array", fatal=True)
                return
            opened, depth, pos, gap_from = True, 1, m.end(), m.end()
            continue
        pos = m.end()
        if bracket in b"{[":
            if depth == 1:
                yield from scalars(pos - 1)
                if not skipping:
                    start = pos - 1
            depth += 1
            continue
        depth -= 1
        if depth == 1:
            if skipping:
                skipping = False
            elif start is not None and pos - start > limit:  # came whole in one read
                yield StreamError(line_at(start), _over(limit, "array item"))
                index += 1
            elif start is not None:
                yield Item(bytes(buf[start:pos]), line_at(start), index, dropped + start)
                index += 1
            start, gap_from = None, pos
        elif depth == 0:
            yield from scalars(pos - 1)
            rest = bytes(buf[pos:]).strip(_WS)
            for chunk in source:
                rest = rest or chunk.strip(_WS)
                if rest:
                    break
            if rest:
                yield StreamError(line_at(pos), "data after the end of the JSON array", fatal=True)
            return
        elif depth < 0:  # pragma: no cover - depth 0 returns above
            return
    where = line_at(start if start is not None else pos)
    yield StreamError(where, f"the file ends inside the JSON array (item {index}): truncated?", fatal=True)


def _split_scalars(text: bytes) -> list[bytes]:
    """Scalars between array items (``1, "x", true``): parsed as their own little array."""
    try:
        values = orjson.loads(b"[" + text + b"]")
    except orjson.JSONDecodeError:
        return [text]
    return [orjson.dumps(v) for v in values]
