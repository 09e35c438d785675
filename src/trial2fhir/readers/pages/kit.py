"""The page kit every page layout shares: page lines, the cut into sections, the draft Trial.

A page reader is a layout (``layouts/<name>.yaml``: headings, blurbs, labels, fields by shape)
plus segmenters (``segmenters.py``) that turn a section's lines into Trial fields. This module
knows no layout: it cuts lines at the headings a :class:`~.layout.Layout` names, keeps the draft
with the page line each field came from, and reports what no rule placed.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

from pydantic import ValidationError

from trial2fhir.errors import Loc, RecordError, dotted, validation_problem
from trial2fhir.model import SourceFormat, Trial
from trial2fhir.readers.base import ReadResult, decode_text

if TYPE_CHECKING:
    from trial2fhir.readers.pages.layout import Heading, Layout


class Line(NamedTuple):
    """One page line; ``label`` is the layout label that named the value on it, if any."""

    no: int
    text: str
    label: str | None = None

    @property
    def place(self) -> str:
        return f"line {self.no}"


# str.splitlines() also breaks at these (form feed, file/group/record separators, NEL, U+2028/9): a
# stray one cut an arm label in two, and line numbers no longer matched the file's. A line ends at
# LF, CR or CRLF only; inside a line they are a space.
_OTHER_BREAKS = str.maketrans(dict.fromkeys("\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029", " "))


def page_lines(text: str) -> list[Line]:
    lines = text.replace("\r\n", "\n").replace("\r", "\n").translate(_OTHER_BREAKS).split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the newline that ends the last line starts none
    return [Line(no, raw.rstrip()) for no, raw in enumerate(lines, start=1)]


def solid(lines: Sequence[Line]) -> list[Line]:
    """The lines with text (blank lines only separate blocks)."""
    return [line for line in lines if line.text.strip()]


def paragraphs(lines: Sequence[Line]) -> str | None:
    """Lines of a free-text section -> text: line breaks kept, runs of blank lines -> one blank."""
    out: list[str] = []
    for line in lines:
        text = line.text.rstrip()
        if text.strip() or (out and out[-1]):
            out.append(text)
    while out and not out[-1]:
        out.pop()
    return "\n".join(out) or None


# --- cutting the page into sections -----------------------------------------------------------


@dataclass
class Section:
    key: str
    heading: str
    line: Line | None  # the heading line; None for the lines before the first heading
    lines: list[Line] = field(default_factory=list)


def _is_blurb_like(text: str) -> bool:
    """A one-sentence explanation such as compact pages print under every heading."""
    return text.endswith(".") and len(text.split()) >= 6 and text[:1].isupper()


def split_sections(lines: list[Line], layout: Layout, file: str) -> list[Section]:
    """Cut the page at the layout's heading lines: the header (key ``""``), then one Section per
    heading, blurbs removed. Where the layout has no blurbs a heading line opens a section unless
    it repeats one inside prose; else when its exact blurb follows, or (outside prose) any
    blurb-like sentence follows a heading not yet seen, or it is ``bare`` and first. A section
    opened twice, or a heading after the page's end marker, is a RecordError: two pages in one
    file must not become one merged record."""
    name_of = layout.heading_finder()  # hot loop: one lookup per line, nothing else per plain line
    ends, boilerplate, headings = layout.end_markers, layout.boilerplate, layout.headings
    out = [Section("", "", None)]
    current: Heading | None = None  # the spec of the section being filled
    seen: dict[str, Line] = {}
    i = 0
    while i < len(lines):
        line = lines[i]
        text = line.text.strip()
        name = name_of(text)
        if name is not None and _opens(lines, i, headings[name], current, out, layout, name in seen):
            if name in seen:
                raise RecordError(file, line.place, f'section "{name}" appears twice (first at '
                                  f"{seen[name].place}): one page per file")
            seen[name] = line
            out.append(Section(headings[name].key, name, line))
            current = headings[name]
            i += 1
            if layout.blurbs:  # the blurb, when it follows, is no content
                nxt = _next_solid(lines, i)
                if nxt is not None and (lines[nxt].text.strip() == current.blurb
                                        or (current.blurb is None and _is_blurb_like(lines[nxt].text.strip()))):
                    i = nxt + 1
            continue
        if text in ends:
            _check_tail(lines[i + 1:], layout, file)
            break
        if text not in boilerplate and (current is None or text != current.blurb):
            out[-1].lines.append(line)  # a blurb repeated inside its section is still the blurb
        i += 1
    return out


def _next_solid(lines: list[Line], i: int) -> int | None:
    return next((k for k in range(i, len(lines)) if lines[k].text.strip()), None)


def _opens(lines: list[Line], i: int, spec: Heading, current: Heading | None, out: list[Section],
           layout: Layout, seen: bool) -> bool:
    """Whether the heading line ``i`` opens a section (see :func:`split_sections`)."""
    in_prose = current is not None and current.prose
    if not layout.blurbs:
        # Without blurbs a heading is just a line: inside prose, one already seen is text
        # ("Summary" in a description), so only a repeat outside prose is a second section.
        return not (in_prose and seen)
    nxt = _next_solid(lines, i + 1)
    following = lines[nxt].text.strip() if nxt is not None else ""
    if spec.blurb is not None and following == spec.blurb:
        return True
    if (not in_prose and _is_blurb_like(following)
            and layout.heading_name(following) is None and spec.key not in {s.key for s in out}):
        return True
    return spec.bare and len(out) == 1


def _check_tail(tail: list[Line], layout: Layout, file: str) -> None:
    """The site boilerplate after the end marker is ignored, unless a second page starts there."""
    for line in tail:
        if layout.heading_name(line.text.strip()) is not None:
            raise RecordError(file, line.place, f'a second page starts here (heading "{line.text.strip()}") '
                              "after the end of the first: one page per file")


# --- the draft Trial --------------------------------------------------------------------------


@dataclass
class Draft:
    """Trial fields as dotted paths, with the page line each came from."""

    file: str
    format: SourceFormat
    nct_place: str
    data: dict[str, Any] = field(default_factory=dict)
    origin: dict[str, str] = field(default_factory=dict)
    lost_lines: dict[int, str] = field(default_factory=dict)
    sections: dict[str, list[Line]] = field(default_factory=dict)
    """Every section's lines by key: segmenters that need a neighbour (arms and interventions)."""
    scratch: dict[str, Any] = field(default_factory=dict)
    """Segmenters' working notes (an intervention's description lines, for the arms): never built."""
    checks: list[tuple[str, Any, Line]] = field(default_factory=list)
    """(list path, count the page states, its line): placed only if the list agrees."""

    def _node(self, path: str) -> tuple[dict[str, Any], str]:
        *parents, last = path.split(".")
        node = self.data
        for key in parents:
            node = node.setdefault(key, {})
        return node, last

    def get(self, path: str) -> Any:
        node, last = self._node(path)
        return node.get(last)

    def put(self, path: str, value: Any, line: Line) -> None:
        """Set a field once; the same value again is fine, a different one is unplaced, except a
        second NCT ID, which means two trials on one page."""
        if value is None or value == []:
            return
        node, last = self._node(path)
        if last not in node:
            node[last] = value
            self.origin[path] = line.place
        elif node[last] != value:
            if path == "identification.nct_id":
                raise RecordError(self.file, line.place, f"a second NCT ID {value} (the first, "
                                  f"{node[last]}, at {self.origin[path]}): one page per file")
            self.lost(line)

    def add(self, path: str, value: Any, line: Line) -> None:
        """Append to a list field (the item's line kept, so an error in it names its own line)."""
        node, last = self._node(path)
        items = node.setdefault(last, [])
        items.append(value)
        self.origin.setdefault(path, line.place)
        self.origin[f"{path}.{len(items) - 1}"] = line.place

    def extend(self, path: str, items: Sequence[Any], line: Line) -> None:
        """Append to a list field the items it does not hold yet."""
        node, last = self._node(path)
        held = node.setdefault(last, [])
        held.extend(item for item in dict.fromkeys(items) if item not in held)
        self.origin.setdefault(path, line.place)

    def lost(self, line: Line) -> None:
        if line.text.strip():
            self.lost_lines[line.no] = line.text.strip()

    def lose(self, lines: Sequence[Line]) -> None:
        for line in lines:
            self.lost(line)

    @property
    def unplaced(self) -> list[str]:
        """The page lines no rule placed, in page order, each with its line number."""
        return [f"line {no}: {self.lost_lines[no]}" for no in sorted(self.lost_lines)]

    def build(self) -> Trial:
        if not self.get("identification.nct_id"):
            raise RecordError(self.file, self.nct_place, "no NCT ID found")
        data = {"source": {"format": self.format, "file": self.file, "locator": ""}, **self.data}
        try:
            return Trial.model_validate(data)
        except ValidationError as exc:
            raise RecordError.of(validation_problem(exc, self.file, self._place)) from None

    def _place(self, loc: Loc) -> str:
        """The page line a model error is at: where the field (or its nearest parent) came from."""
        path = dotted(loc)
        return next((self.origin[p] for p in sorted(self.origin, key=len, reverse=True)
                     if path == p or path.startswith(p + ".")), "")


# --- the reader contract ----------------------------------------------------------------------


def read_page(data: bytes, file: str, layout: Layout) -> Iterator[ReadResult]:
    """One page -> one Trial (unplaced lines kept on it) or one RecordError, never a raise."""
    from trial2fhir.readers.pages.segmenters import parse  # the segmenters import this kit

    try:
        trial, unplaced = parse(decode_text(data, file), file, layout)
    except RecordError as exc:
        yield exc
        return
    trial.source.unplaced = unplaced  # kept with the record and reported: never dropped silently
    yield trial
