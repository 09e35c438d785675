"""Physical lines of a criteria text as typed lines: indentation, list markers, text; text predicates."""

from __future__ import annotations

import re
from dataclasses import dataclass

_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!<>^|~])")
# A list marker: a bullet, or an enumerator 1. 1) (1) 1.1 a. (b) iv) followed by space (a bullet
# character such as "•" needs none).
_MARKER = re.compile(
    r"^(?P<m>[\u2022\u00b7\u25aa\u25ab\u25a0\u25a1\u25cf\u25cb\u25e6\u2023\u2043\u25ba\u27a2\u2713\u2714\uf0b7\uf0a7\uf0d8]"
    r"|[*+\-\u2013\u2014o](?=\s)|[*+\-\u2013](?=$)"
    r"|(?P<dec>\d{1,2}(?:\.\d{1,2})+)\.?(?=\s)|\(?(?P<num>\d{1,3})[.)](?=\s|$)|\(?(?P<alpha>[a-zA-Z])[.)](?=\s)|\((?P<roman>[ivxIVX]{1,5})\)(?=\s)"
    r"|(?P<roman2>[ivx]{1,5}|[IVX]{2,5})[.)](?=\s))\s*"
)
# Words a criterion cannot end on: an item ending so was cut in two by a stray marker or line end.
_DANGLING_WORDS = frozenset({
    "of", "the", "a", "an", "to", "with", "without", "for", "by", "than", "from", "and", "or", "in", "at",
    "on", "as", "that", "which", "who", "whose", "including", "such", "per", "into", "between",
})
_TERMINAL_CHARS = frozenset(".;!?")


def dangling(text: str) -> bool:
    words = text.rsplit(None, 1)
    return bool(words) and words[-1].lower() in _DANGLING_WORDS


def terminal(text: str) -> bool:
    """Whether a text ends a sentence (".", ";", "!" or "?", maybe followed by a bracket or quote)."""
    tail = text.rstrip()[-3:]
    return any(c in _TERMINAL_CHARS for c in tail) and not tail[-1:].isalnum()


_STRAY_DASH = re.compile(r"^[-\u2013•]+(?=[A-Za-z])|\s+[-\u2013]$")
_WORD = re.compile(r"\w")
LABEL_FORM = re.compile(r"^[^:]{1,80}:\s+\S")


def unescape(text: str) -> str:
    """Undo Markdown backslash escapes, as in ``2\\.`` or ``\\>``."""
    return _ESCAPE.sub(r"\1", text)


def clean_item(line: str) -> str:
    """One criterion without its list marker and Markdown escapes, white space folded."""
    text = unescape(line).strip()
    m = _MARKER.match(text)
    if m:
        text = text[m.end() :]
    return " ".join(text.split())


def is_item_start(line: str) -> bool:
    return bool(_MARKER.match(unescape(line).strip()))


@dataclass
class Line:
    indent: int
    text: str  # unescaped, without the list markers
    marked: bool
    kind: str = ""  # "bullet", "num", "alpha", "roman" for a marked line
    number: int | None = None
    double: bool = False  # two markers ("* 1.", "* •"): the outer one is an artefact
    inner_kind: str = ""
    blank_before: bool = False
    content: int = 0  # column where the text starts (continuations are indented to it)


def _marker(text: str) -> tuple[str, int | None, int] | None:
    m = _MARKER.match(text)
    if not m:
        return None
    if m.group("num"):
        return "num", int(m.group("num")), m.end()
    if m.group("dec"):
        return "decimal", None, m.end()  # "1.1", "2.3.": nesting shows in the indentation, if anywhere
    if m.group("alpha"):
        return "alpha", ord(m.group("alpha").lower()) - 96, m.end()
    if m.group("roman") or m.group("roman2"):
        return "roman", None, m.end()
    return "bullet", None, m.end()


def split_lines(text: str) -> list[Line]:
    out: list[Line] = []
    blank = False
    for physical in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        raw = unescape(physical.expandtabs(4)) if "\\" in physical else physical.expandtabs(4)
        raw = raw.replace("\u00a0", " ")
        stripped = raw.strip()
        if not stripped:
            blank = True
            continue
        indent = len(raw) - len(raw.lstrip())
        line = Line(indent=indent, text=stripped, marked=False, blank_before=blank, content=indent)
        first = _marker(stripped)
        if first:
            line.marked, line.kind, line.number = True, first[0], first[1]
            rest = stripped[first[2] :]
            second = _marker(rest)
            if second and rest[second[2] :].strip():
                line.double, line.inner_kind, line.number = True, second[0], second[1]
                if second[0] != "bullet":
                    line.kind = second[0]
                rest = rest[second[2] :]
            line.text = rest.strip()
            line.content = indent + len(stripped) - len(rest.lstrip())
        if line.text[:1] in "-\u2013•" or line.text[-1:] in "-\u2013":
            line.text = _STRAY_DASH.sub("", line.text).strip()
        blank = False
        if _WORD.search(line.text):
            out.append(line)
    return out
