"""Typed lines -> the criteria tree: sections, items by indentation and numbering, lead-ins."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from trial2fhir.model import CriteriaSection, CriteriaSide, Criterion
from trial2fhir.readers.criteria.headings import combination_of, heading_of, is_caption, is_title
from trial2fhir.readers.criteria.lines import LABEL_FORM, Line, clean_item, dangling, split_lines

_LIST_TAIL = re.compile(r"[,;]\s*\w+$")
WRAP_MAX = 100  # hard-wrapped registry text is cut well before this column
MAX_NEST = 32
"""Items nest at most this deep while the text is read (by indentation or by lead-ins), far below
Python's recursion limit: a 1000-step staircase of indentation nests no deeper (its deeper items are
siblings at the last level, and the tree keeps MAX_DEPTH levels anyway), so no text is lost."""


@dataclass
class _Enumeration:
    """Items taken one by one: whether they read as a finished list of one kind, "a;" "b;" "c."."""

    kind: str | None = None
    semicolons: int = 0
    broken: bool = False  # no such list (or one that has ended): nothing more joins it
    ended: bool = False

    def take(self, node: _Node) -> bool:
        """Add an item; True when it ends the list (it ends in "." after items ending in ";")."""
        if self.broken:
            return False
        if self.kind is None:
            self.kind = node.kind
        if node.kind == self.kind and node.text.endswith(";"):
            self.semicolons += 1
            return False
        self.broken = True
        self.ended = bool(self.semicolons) and node.kind == self.kind and node.text.endswith(".") \
            and not node.text.endswith("...")
        return self.ended


@dataclass
class _Node:
    text: str
    indent: float
    kind: str = ""
    number: int | None = None
    marked: bool = True
    double: bool = False
    inner_kind: str = ""
    content: float = 0
    children: list[_Node] = field(default_factory=list)
    listed: _Enumeration = field(default_factory=_Enumeration)  # an unmarked label's items
    seen: int = 0  # how many of them ``listed`` has taken

    def ended(self) -> bool:
        """Whether this label's items so far make a finished "a;" "b;" "c." list (read when the next
        item comes, so a wrapped item's continuation is in its text; each item is taken once)."""
        while self.seen < len(self.children) and not self.listed.ended:
            self.listed.take(self.children[self.seen])
            self.seen += 1
        return self.listed.ended


@dataclass
class _Section:
    side: CriteriaSide
    heading: str | None
    explicit: bool  # the heading itself names a side (or no side at all: "Eligibility criteria")
    items: list[_Node] = field(default_factory=list)


class _Builder:
    def __init__(self) -> None:
        self.sections: list[_Section] = []
        self.stack: list[_Node] = []
        self.last: _Node | None = None  # the item a lazy continuation line would belong to

    # --- sections ----------------------------------------------------------------------------

    def heading(self, text: str, side: CriteriaSide | None) -> None:
        current = self.sections[-1] if self.sections else None
        if current is not None and not current.items:
            if side is None or not current.explicit or current.side in (side, "unspecified"):
                # consecutive headings ("For the SLE cohort:" / "Inclusion Criteria:") are one
                current.heading = f"{current.heading}\n{text}" if current.heading else text
                if side is not None:
                    current.side, current.explicit = side, True
                return
            self.sections.pop()  # a heading with nothing under it: the verbatim text keeps it
            current = self.sections[-1] if self.sections else None
        inherited: CriteriaSide = current.side if current is not None else "unspecified"
        self.sections.append(_Section(side or inherited, text, side is not None))
        self.stack = []
        self.last = None

    def section(self) -> _Section:
        if not self.sections:
            self.sections.append(_Section("unspecified", None, False))
        return self.sections[-1]

    # --- items -------------------------------------------------------------------------------

    def add(self, node: _Node) -> None:
        stack = self.stack
        if node.marked:
            for depth, open_ in enumerate(stack):
                # a label's list of "a;" "b;" "c." has ended: the next item of its kind is not the label's
                if not open_.marked and open_.children and open_.children[0].kind == node.kind \
                        and open_.ended():
                    del stack[depth:]
                    break
        if node.marked and node.kind in ("num", "alpha") and node.number and node.number > 1:
            # numbering continues an open item: that item's sibling, whatever the indentation
            for depth in range(len(stack) - 1, -1, -1):
                open_ = stack[depth]
                if open_.kind == node.kind and open_.number == node.number - 1 and open_.marked:
                    del stack[depth:]
                    break
        while stack and not self._contains(stack[-1], node):
            stack.pop()
        del stack[MAX_NEST - 1 :]  # no deeper than MAX_NEST: a sibling at the last level
        parent = stack[-1] if stack else None
        if parent is not None and parent.double and parent.inner_kind == node.kind == "bullet":
            stack.pop()  # "* • a" then "  * b": the outer "*" was an artefact; b is a's sibling
            parent = stack[-1] if stack else None
        (parent.children if parent is not None else self.section().items).append(node)
        stack.append(node)
        self.last = node

    @staticmethod
    def _contains(parent: _Node, node: _Node) -> bool:
        if not parent.marked:
            return node.marked and node.indent >= parent.indent  # an unmarked label's list
        return node.indent > parent.indent

    def close_labels(self, line: Line, caption: bool) -> None:
        """An unmarked paragraph ends the lists at or right of its indentation, unless it is a line
        right under an unmarked label's lines (as pages show them): then it stays under that label."""
        keep = not line.blank_before and not caption
        while self.stack and self.stack[-1].indent >= line.indent:
            top = self.stack[-1]
            if keep and not top.marked and (not is_title(top.text) or LABEL_FORM.match(line.text)):
                return
            self.stack.pop()


def _indented_under(line: Line, b: _Builder) -> _Node | None:
    """The open item an unmarked line is indented to (classic-XML wraps, Markdown paragraphs)."""
    if line.marked:
        return None
    for node in reversed(b.stack):
        if node.marked and line.indent >= node.content and line.indent > node.indent:
            return node
    return None


def _lazy(line: Line, previous: Line | None, b: _Builder) -> _Node | None:
    """The item an unmarked line right below it continues because the line above was cut."""
    if line.marked or previous is None or line.blank_before or b.last is None:
        return None
    above = previous.text
    if previous.content + len(above) > WRAP_MAX:
        return None  # a line this long was not wrapped (a page's one line per item)
    cut = dangling(above) or above.endswith((",", "-", "/", "(")) or above.count("(") > above.count(")")
    return b.last if cut or line.text[:1].islower() else None


# The next number of the item's own list, run into its paragraph: "... 11. Serum ...", "...; and 6) birth"
_INLINE = r"(?:(?<=[\s.;,)])(?:{n})[.)]\s+(?=[A-Z(\[])|(?<=;)\s*(?:and\s+|or\s+)?(?:{n})[.)]\s+(?=\w))"


@lru_cache(maxsize=256)
def _inline(n: int) -> re.Pattern[str]:
    return re.compile(_INLINE.format(n=n))


def _split_all(nodes: list[_Node]) -> list[_Node]:
    out: list[_Node] = []
    for node in nodes:
        parts = _split_inline(node)
        parts[-1].children = _split_all(node.children)
        out.extend(parts)
    return out


def _run_ons(nodes: list[_Node]) -> list[_Node]:
    """Once the tree is nested: an item's next number run into its last sub-item is its sibling
    ("7. Organs:" over "1." to "6. SpO2 >= 92%; 8. Women ...": 8 follows 7, not 6)."""
    out: list[_Node] = []
    for node in nodes:
        node.children = _run_ons(node.children)
        out.append(node)
        run_on = _run_on(node)
        while run_on is not None:
            more = _split_inline(run_on)
            out.extend(more)
            run_on = _run_on(more[-1])
    return out


def _run_on(node: _Node) -> _Node | None:
    """The item numbered after ``node`` run into the text of its last sub-item, cut out of it."""
    if node.kind != "num" or node.number is None or not node.children or node.children[-1].children:
        return None
    last = node.children[-1]
    cut = _cut(last.text, node.number + 1)
    if cut is None:
        return None
    last.text = cut[0]
    return _Node(cut[1], node.indent, "num", node.number + 1, True, content=node.content)


def _cut(text: str, n: int) -> tuple[str, str] | None:
    """(before, after) the number ``n.`` run into a text, both non-empty; None if it is not there."""
    if str(n) not in text:
        return None
    m = _inline(n).search(text)
    if not m:
        return None
    head, tail = text[: m.start()].strip(), text[m.end() :].strip()
    return (head, tail) if head and tail else None


def _split_inline(node: _Node) -> list[_Node]:
    """``10. ALT ... 11. Serum creatinine ...``: consecutive numbers run together in one paragraph."""
    if node.kind != "num" or node.number is None:
        return [node]
    out = [node]
    n = node.number
    while (cut := _cut(out[-1].text, n + 1)) is not None:
        children, out[-1].children = out[-1].children, []
        out[-1].text = cut[0]
        n += 1
        out.append(_Node(cut[1], node.indent, "num", n, True, content=node.content, children=children))
    return out


def _adopt(nodes: list[_Node], depth: int = 1) -> list[_Node]:
    """Nest what a flat list (a page without indentation) nests by its wording and numbering: an item
    ending in ":" takes the siblings it introduces; ``1.`` takes a run of bullets that ``2.`` ends."""
    if depth >= MAX_NEST:
        return nodes  # deep enough: the rest stays as it is (siblings)
    out: list[_Node] = []
    i = 0
    while i < len(nodes):
        node = nodes[i]
        node.children = _adopt(node.children, depth + 1)
        out.append(node)
        i += 1
        if node.children:
            continue
        end = _bracketed(nodes, i, node)
        if end is None and node.text.endswith((":", "\uff1a")):
            end = _lead_end(nodes, i, node)
        if end is not None and end > i:
            node.children = _adopt(nodes[i:end], depth + 1)
            i = end
    return out


def _lead_end(nodes: list[_Node], i: int, lead: _Node) -> int:
    """Where the items a lead-in introduces end, in a flat list (``nodes[i]`` is its first item).

    Besides :func:`_stops`: a list whose items end in ";" ends at the one ending in "." ("a;", "b;",
    "c." then the lead-in's peer); and when the items are another kind than the lead-in ("* X:" over
    "1." "2."), a run of the lead-in's own kind after them is its sub-items' sub-items only while an
    item of theirs brackets it ("1." run "2.") or introduces it and its list is not closed; else that
    run is the lead-in's peers, as Markdown's nesting by marker kind reads it. Each item is looked
    at a bounded number of times (a 100 KB list stays linear)."""
    end = i
    own = nodes[i].kind if i < len(nodes) else ""
    listed = _Enumeration()  # the lead-in's items so far, as an "a;" "b;" "c." list
    anchor = i  # the last own-kind item taken
    closed = -1  # the own-kind item whose sub-list ended
    while end < len(nodes) and not _stops(lead, nodes[end], end > i):
        sib = nodes[end]
        if not (own and sib.marked and sib.kind and own not in (sib.kind, lead.kind)):
            if sib.kind == own:
                anchor = end
            end += 1
            if listed.take(sib):
                break
            continue
        listed.broken = True  # items of two kinds are no one list
        run = end
        while run < len(nodes) and nodes[run].marked and nodes[run].kind == sib.kind:
            run += 1
        head = nodes[anchor]
        if head.number is not None and run < len(nodes) and nodes[run].kind == own \
                and nodes[run].number == head.number + 1:
            end = run  # bracketed: the next own-kind number follows the run
            continue
        if anchor != closed and head.text.endswith((":", "\uff1a")):
            sub = _Enumeration()
            stop = next((k + 1 for k in range(end, run) if sub.take(nodes[k])), run)
            if stop < run:
                closed = anchor
            end = stop
            continue
        if sib.kind == lead.kind:
            break  # the lead-in's own kind again, under no item of its: the lead-in's peer
        end = run
    return end


def _bracketed(nodes: list[_Node], i: int, node: _Node) -> int | None:
    """The end of a run of other-kind items between ``n.`` and ``n+1.`` (they are n's sub-items)."""
    if node.number is None or node.kind not in ("num", "alpha"):
        return None
    end = i
    while end < len(nodes) and nodes[end].kind != node.kind and nodes[end].marked:
        end += 1
    if end > i and end < len(nodes) and nodes[end].number == node.number + 1:
        return end
    return None


def _stops(lead: _Node, sib: _Node, taken: bool) -> bool:
    """Whether a sibling after a lead-in is its peer rather than one of its items."""
    if lead.kind == sib.kind and lead.number is not None and sib.number == lead.number + 1:
        return True  # the numbering goes on
    peer_label = sib.text.endswith((":", "\uff1a")) or (lead.kind == "bullet" and bool(LABEL_FORM.match(sib.text)))
    if lead.kind == sib.kind and peer_label:
        return True  # a peer label ("Hepatic:" after "Renal:")
    return lead.kind == sib.kind != "bullet" and sib.number not in (None, 1) and not taken


def _joined(nodes: list[_Node]) -> list[_Node]:
    """Join an item that ends on a dangling word to the next ("inducers of" / "* CYP3A ...")."""
    out: list[_Node] = []
    for node in nodes:
        node.children = _joined(node.children)
        prev = out[-1] if out else None
        if (prev is not None and not prev.children and dangling(prev.text)
                and not _LIST_TAIL.search(prev.text) and node.text[:1].isupper()):
            prev.text = f"{prev.text} {node.text}"
            prev.children = node.children
            continue
        out.append(node)
    return out


# A paragraph that says other criteria exist but states none: a note of its section, not a criterion
# ("Further criteria apply.", "Other protocol-defined inclusion/exclusion criteria may apply").
_NOTE = re.compile(
    r"^(?:further|other|additional|more)\s+(?:protocol[- ]?(?:defined|specific)\s+)?"
    r"(?:(?:inclusion|exclusion|inclusion\s*/\s*exclusion|inclusion\s+and\s+exclusion|eligibility)\s+)?"
    r"criteri(?:a|on)\s+(?:(?:may|might|will|could|can)\s+)?(?:also\s+)?apply"
    r"(?:\s+(?:as\s+)?(?:per|according\s+to|in)\s+(?:the\s+)?protocol)?[.!]?$",
    re.IGNORECASE,
)


def _note(text: str) -> str | None:
    """The text, white space folded, if it is a note; else None."""
    folded = " ".join(text.split())
    return folded if _NOTE.match(folded) else None


def _notes(nodes: list[_Node], out: list[str]) -> list[_Node]:
    """The nodes without the notes among them (at any depth, with no items of their own), which go to ``out``."""
    kept: list[_Node] = []
    for node in nodes:
        if not node.children and (note := _note(node.text)) is not None:
            out.append(note)
            continue
        node.children = _notes(node.children, out)
        kept.append(node)
    return kept


MAX_DEPTH = 4
"""Lead-ins nest at most this deep (the FHIR mappings spell the levels out); deeper items follow
their lead-in as siblings at the last level, so no text is lost."""


def _criteria(nodes: list[_Node], depth: int = 1) -> list[Criterion]:
    out: list[Criterion] = []
    for node in nodes:
        text = " ".join(node.text.split())
        # model_construct: the parser keeps Criterion's rules itself (a text with a word in it, a
        # combination exactly when there are items) and validating each of thousands costs time
        if depth >= MAX_DEPTH:
            out.append(Criterion.model_construct(text=text, combination=None, items=[]))
            out.extend(_criteria(node.children, depth))
            continue
        items = _criteria(node.children, depth + 1)
        combination = combination_of(text) if items else None
        out.append(Criterion.model_construct(text=text, combination=combination, items=items))
    return out


def parse_criteria(text: str | None) -> list[CriteriaSection]:
    """The criteria text as sections of criteria; the text itself stays verbatim beside the tree."""
    if not text or not text.strip():
        return []
    lines = split_lines(text)
    b = _Builder()
    previous: Line | None = None
    for i, line in enumerate(lines):
        target = _indented_under(line, b)
        head = heading_of(line) if target is None else None
        if head is not None and line.marked and len(head[0].split()) > 10 and b.sections and b.sections[-1].items:
            head = None  # "* ... meet the following criteria:" amid a list is a lead-in, not an introduction
        if head is not None and b.sections and _note(line.text) is not None:
            head = None  # "Other ... inclusion/exclusion criteria may apply": its section's note
        if target is None and head is None:
            target = _lazy(line, previous, b)
        if target is not None:
            target.text = f"{target.text} {line.text}"
        elif head is not None:
            heading, rest, side = head
            b.heading(heading, side)
            rest = clean_item(rest)  # "Inclusion Criteria: - Age over 18"
            if rest:
                lead_in = rest.endswith((":", "\uff1a")) or dangling(rest)
                b.add(_Node(rest, line.indent, marked=not lead_in, content=line.indent + 1))
                if not lead_in:
                    b.stack.pop()
        elif line.marked:
            b.add(_Node(line.text, line.indent, line.kind, line.number, True, line.double, line.inner_kind,
                        line.content))
        else:
            caption = is_caption(line, lines[i + 1] if i + 1 < len(lines) else None)
            b.close_labels(line, caption)
            b.add(_Node(line.text, line.indent, marked=not caption, content=line.indent))
            if not caption:
                b.stack.pop()  # a paragraph takes no sub-items by indentation
        previous = line
    sections: list[CriteriaSection] = []
    for section in b.sections:
        nodes = _joined(_run_ons(_adopt(_split_all(section.items))))
        notes: list[str] = []
        criteria = _notes(nodes, notes)
        if criteria:  # a section of notes alone keeps them as its items: a section has criteria
            nodes = criteria
        else:
            notes = []
        items = _criteria(nodes)
        if not items and section.heading:
            # upper-case lines taken for NCI headings, with nothing under them: they head nothing, so
            # they are what the author wrote as criteria ("Inclusion Criteria:" / "HIV POSITIVE")
            heads = section.heading.split("\n")
            loose = [h for h in heads if h.isupper() and "CRITERI" not in h]
            if loose:
                kept: str | None = "\n".join(h for h in heads if h not in loose) or None
                sections.append(CriteriaSection.model_construct(
                    side=section.side, heading=kept,
                    items=[Criterion.model_construct(text=h, items=[]) for h in loose]))
        elif items:
            sections.append(CriteriaSection.model_construct(side=section.side, heading=section.heading, items=items,
                                                            notes=notes))
    return sections
