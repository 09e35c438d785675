"""Eligibility criteria text -> a tree of sections, criteria and sub-criteria, as the author wrote it.

Every reader keeps the registered text verbatim in ``eligibility.criteria`` and calls
:func:`parse_criteria` for the tree, so API v2 Markdown, classic-XML text blocks and page layouts
give the same tree. The parser works on lines:

* a *heading* opens a section: a side heading ("Key Inclusion Criteria:", "EXCLUSION CRITERIA --",
  "Transplant Exclusion:"), a neutral one ("Eligibility criteria", NCI's "DISEASE
  CHARACTERISTICS:"), a cohort or part ("For the SLE cohort:", "Group 2"), or an introduction
  ("Patients must meet all of the following criteria:"). A heading with no side of its own keeps
  the side of the section it sits in; text before any heading has no side ("unspecified").
* an *item* is a list entry (bullet, 1. 1) (a) i. ...) or an unmarked paragraph; lines that continue
  it (hard wraps, an indented "Note: ..." paragraph) are joined to it. Nesting follows indentation,
  corrected by numbering ("* 1." then "  2." are siblings; a list that restarts at 1 under an item
  ending in ":" belongs to that item).
* a *lead-in* is an item with sub-items: "Prior therapy:", "... as defined by:", "any of the
  following:", an unmarked label such as NCI's "Hepatic:" followed by a list.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from trial2fhir.model import CriteriaSection, CriteriaSide, Criterion

_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!<>^|~])")
# A list marker: a bullet, or an enumerator 1. 1) (1) a. (b) iv) followed by space (a bullet
# character such as "•" needs none).
_MARKER = re.compile(
    r"^(?P<m>[\u2022\u00b7\u25aa\u25cf\u25e6\u2023\u2043]|[*+\-\u2013](?=\s|$)"
    r"|\(?(?P<num>\d{1,3})[.)](?=\s|$)|\(?(?P<alpha>[a-zA-Z])[.)](?=\s)|\((?P<roman>[ivxIVX]{1,5})\)(?=\s)"
    r"|(?P<roman2>[ivx]{1,5})[.)](?=\s))\s*"
)
_TERMINAL = re.compile(r"[.;!?]\s*\W{0,2}$")
# Words a criterion cannot end on: an item ending so was cut in two by a stray marker or line end.
_DANGLING = re.compile(
    r"\b(?:of|the|a|an|to|with|without|for|by|than|from|and|or|in|at|on|as|that|which|who|whose|"
    r"including|such|per|into|between)$",
    re.IGNORECASE,
)
_INC = re.compile(r"(?<!non-)(?<!non )\b(?:inclusions?|include[sd]?|inclusive criteria)\b", re.IGNORECASE)
_EXC = re.compile(
    r"\b(?:exclusions?|exclude[sd]?|non-?inclusion|ineligib\w*|not\s+(?:be\s+)?eligible|"
    r"may\s+not\s+(?:be\s+)?(?:enrolled|included|participate))\b",
    re.IGNORECASE,
)
_SIDE_WORD = re.compile(r"\b(?:inclusions?|exclusions?|non-?inclusion|eligibility|criteri(?:a|on))\b", re.IGNORECASE)
_COHORT = re.compile(
    r"^(?:(?:for|in)\s+(?:the\s+|all\s+)?.{0,60}\b(?:cohorts?|groups?|arms?|parts?|patients|participants|"
    r"subjects|populations?|volunteers|phases?|stages?|studies|study)\b.{0,30}"
    r"|(?:cohort|group|part|arm|stage|phase|stratum|population|sub-?study|substudy|module)\s*[\w.-]{1,12}"
    r"(?:\s*[(\[].{0,50}[)\]])?(?:\s+\w+){0,5})$",
    re.IGNORECASE,
)
_INTRO = re.compile(r"\b(?:following|below)\b", re.IGNORECASE)
_INTRO_TOPIC = re.compile(
    r"\b(?:criteri(?:a|on)|eligib\w*|enrol\w*|particip\w*|included|excluded|inclusion|exclusion)\b",
    re.IGNORECASE,
)
_ANY = re.compile(
    r"\b(?:any|one|either|1)\s+(?:or\s+more\s+)?(?:of\s+)?(?:the\s+)?(?:following|below)\b|\beither\b"
    r"|\bat\s+least\s+(?:one|1)\b|\bone\s+of\b|\bany\s+of\b",
    re.IGNORECASE,
)
_EMPHASIS = re.compile(r"^[\s#>*_=]+|[\s*_=]+$")
_NUMBERED_HEAD = re.compile(r"^(?:\d{1,2}|[A-Z]|[IVX]{1,4})[.)]\s+")
_LABEL_FORM = re.compile(r"^[^:]{1,80}:\s+\S")
_ANY_FOLLOWING = re.compile(r"\b(?:any|one|all|each)\s+(?:or\s+more\s+)?of\s+the\s+following\b", re.IGNORECASE)
_LEAD_PHRASE = re.compile(
    r"(?:[:\uff1a]|\bfollowing(?:\s+\S+){0,3}|\bas\s+follows|\b(?:is|are|includes?|defined\s+as|such\s+as))\s*$",
    re.IGNORECASE,
)


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
class _Line:
    indent: int
    text: str  # unescaped, without the list markers
    marked: bool
    kind: str = ""  # "bullet", "num", "alpha", "roman" for a marked line
    number: int | None = None
    double: bool = False  # two markers ("* 1.", "* •"): the outer one is an artefact
    inner_kind: str = ""
    blank_before: bool = False
    content: int = 0  # column where the text starts (continuations are indented to it)


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


@dataclass
class _Section:
    side: CriteriaSide
    heading: str | None
    explicit: bool  # the heading itself names a side (or no side at all: "Eligibility criteria")
    items: list[_Node] = field(default_factory=list)


def _marker(text: str) -> tuple[str, int | None, int] | None:
    m = _MARKER.match(text)
    if not m:
        return None
    if m.group("num"):
        return "num", int(m.group("num")), m.end()
    if m.group("alpha"):
        return "alpha", ord(m.group("alpha").lower()) - 96, m.end()
    if m.group("roman") or m.group("roman2"):
        return "roman", None, m.end()
    return "bullet", None, m.end()


def _lines(text: str) -> list[_Line]:
    out: list[_Line] = []
    blank = False
    for physical in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        raw = unescape(physical.expandtabs(4)).replace("\u00a0", " ")
        stripped = raw.strip()
        if not stripped:
            blank = True
            continue
        indent = len(raw) - len(raw.lstrip())
        line = _Line(indent=indent, text=stripped, marked=False, blank_before=blank, content=indent)
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
        line.text = re.sub(r"^[-\u2013•]+(?=[A-Za-z])|\s+[-\u2013]$", "", line.text).strip()
        blank = False
        if re.search(r"\w", line.text):
            out.append(line)
    return out


def _side(text: str) -> CriteriaSide | None:
    """The side a heading names: None when it names none (a cohort: keep the enclosing side)."""
    inc, exc = bool(_INC.search(text)), bool(_EXC.search(text))
    if inc != exc:
        return "inclusion" if inc else "exclusion"
    if inc or re.search(r"\beligibility\b", text, re.IGNORECASE):
        return "unspecified"  # "Inclusion/Exclusion", "Eligibility criteria": explicitly no side
    return None


def _split_heading(text: str) -> tuple[str, str]:
    """(heading, rest) of a line such as ``Exclusion Criteria: Patients with``."""
    m = re.match(r"^(.*?[:\uff1a])(?!\d)\s*(.*)$", text)  # not a time or ratio: "10:30", "1:80"
    if m:
        return m.group(1), m.group(2)
    return text, ""


def _heading(line: _Line) -> tuple[str, str, CriteriaSide | None] | None:
    """(heading text, rest of the line, side) when the line is a heading, else None."""
    text = _EMPHASIS.sub("", line.text)
    head, rest = _split_heading(text)
    rest = _EMPHASIS.sub("", rest)
    bare = re.sub(r"[\s:\uff1a*_\-\u2013\u2014=.]+$", "", _NUMBERED_HEAD.sub("", head)).strip()
    words = bare.split()
    if not words or (head == text and _TERMINAL.search(text) and not text.endswith(":")):
        return None
    side = _side(bare)
    # "* Inclusion Criteria:", "1. Exclusion criteria" are headings; "* The exclusion criteria:
    # bilateral ..." is an item
    strong = side is not None and bool(re.search(r"criteri|^(?:inclusions?|exclusions?)$", bare, re.I))
    if line.marked and (rest or line.double or not strong):
        return None
    if len(words) <= 10 and _SIDE_WORD.search(bare) and (
        re.search(r"criteri", bare, re.I) or len(words) <= 5
    ):
        return head.strip(), rest, side
    if rest:
        return None
    if len(words) <= 8 and _COHORT.match(bare):
        return head.strip(), "", None
    letters = re.sub(r"[^A-Za-z]", "", bare)
    if 2 <= len(words) <= 6 and len(letters) >= 6 and letters.isupper():
        return head.strip(), "", None  # NCI's DISEASE CHARACTERISTICS, PATIENT CHARACTERISTICS ...
    if len(words) <= 30 and _INTRO.search(bare) and _INTRO_TOPIC.search(bare) and not _TERMINAL.search(text):
        return text.strip(), "", side if side != "unspecified" else None  # an introduction
    return None


def _is_caption(line: _Line, following: _Line | None) -> bool:
    """An unmarked label that introduces the lines after it ("Hepatic:", "Medical conditions:")."""
    if line.marked or following is None:
        return False
    text = line.text
    if following.marked:
        if text.endswith((":", "\uff1a")):
            return True
        return len(text.split()) <= 8 and not _TERMINAL.search(text) and not text.endswith(",")
    if following.blank_before:
        return False
    # unmarked lines (as pages show them): a lead-in phrase, or a short title over "Label: value" lines
    if _LEAD_PHRASE.search(text) or (_ANY_FOLLOWING.search(text) and not _TERMINAL.search(text)):
        return True
    return _is_title(text) and bool(_LABEL_FORM.match(following.text))


def _is_title(text: str) -> bool:
    return len(text.split()) <= 6 and not _TERMINAL.search(text) and not _LABEL_FORM.match(text)


def _combination(text: str) -> str:
    return "any-of" if _ANY.search(text) else "all-of"


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
        if node.marked and node.kind in ("num", "alpha") and node.number and node.number > 1:
            # numbering continues an open item: that item's sibling, whatever the indentation
            for depth in range(len(stack) - 1, -1, -1):
                open_ = stack[depth]
                if open_.kind == node.kind and open_.number == node.number - 1 and open_.marked:
                    del stack[depth:]
                    break
        while stack and not self._contains(stack[-1], node):
            stack.pop()
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

    def close_labels(self, line: _Line, caption: bool) -> None:
        """An unmarked paragraph ends the lists at or right of its indentation, unless it is a line
        right under an unmarked label's lines (as pages show them): then it stays under that label."""
        keep = not line.blank_before and not caption
        while self.stack and self.stack[-1].indent >= line.indent:
            top = self.stack[-1]
            if keep and not top.marked and (not _is_title(top.text) or _LABEL_FORM.match(line.text)):
                return
            self.stack.pop()


def _indented_under(line: _Line, b: _Builder) -> _Node | None:
    """The open item an unmarked line is indented to (classic-XML wraps, Markdown paragraphs)."""
    if line.marked:
        return None
    for node in reversed(b.stack):
        if node.marked and line.indent >= node.content and line.indent > node.indent:
            return node
    return None


def _lazy(line: _Line, previous: _Line | None, b: _Builder) -> _Node | None:
    """The item an unmarked line right below it continues because the line above was cut."""
    if line.marked or previous is None or line.blank_before or b.last is None:
        return None
    above = previous.text
    cut = bool(_DANGLING.search(above)) or above.endswith((",", "-", "/", "(")) or above.count("(") > above.count(")")
    return b.last if cut or line.text[:1].islower() else None


# The next number of the item's own list, run into its paragraph: "... 11. Serum ...", "...; and 6) birth"
_INLINE = r"(?:(?<=[\s.;,)])(?:{n})[.)]\s+(?=[A-Z(\[])|(?<=;)\s*(?:and\s+|or\s+)?(?:{n})[.)]\s+(?=\w))"


def _split_all(nodes: list[_Node]) -> list[_Node]:
    out: list[_Node] = []
    for node in nodes:
        parts = _split_inline(node)
        parts[-1].children = _split_all(node.children)
        out.extend(parts)
    return out


def _split_inline(node: _Node) -> list[_Node]:
    """``10. ALT ... 11. Serum creatinine ...``: consecutive numbers run together in one paragraph."""
    if node.kind != "num" or node.number is None:
        return [node]
    out = [node]
    n = node.number
    while True:
        m = re.search(_INLINE.format(n=n + 1), out[-1].text)
        if not m:
            return out
        head, tail = out[-1].text[: m.start()].strip(), out[-1].text[m.end() :].strip()
        if not head or not tail:
            return out
        children, out[-1].children = out[-1].children, []
        out[-1].text = head
        n += 1
        out.append(_Node(tail, node.indent, "num", n, True, content=node.content, children=children))


def _adopt(nodes: list[_Node]) -> list[_Node]:
    """Nest what a flat list (a page without indentation) nests by its wording and numbering: an item
    ending in ":" takes the siblings it introduces; ``1.`` takes a run of bullets that ``2.`` ends."""
    out: list[_Node] = []
    i = 0
    while i < len(nodes):
        node = nodes[i]
        node.children = _adopt(node.children)
        out.append(node)
        i += 1
        if node.children:
            continue
        end = _bracketed(nodes, i, node)
        if end is None and node.text.endswith((":", "\uff1a")):
            end = i
            while end < len(nodes) and not _stops(node, nodes[end], bool(end - i)):
                end += 1
        if end is not None and end > i:
            node.children = _adopt(nodes[i:end])
            i = end
    return out


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
    peer_label = sib.text.endswith((":", "\uff1a")) or (lead.kind == "bullet" and bool(_LABEL_FORM.match(sib.text)))
    if lead.kind == sib.kind and peer_label:
        return True  # a peer label ("Hepatic:" after "Renal:")
    return lead.kind == sib.kind != "bullet" and sib.number not in (None, 1) and not taken


def _joined(nodes: list[_Node]) -> list[_Node]:
    """Join an item that ends on a dangling word to the next ("inducers of" / "* CYP3A ...")."""
    out: list[_Node] = []
    for node in nodes:
        node.children = _joined(node.children)
        prev = out[-1] if out else None
        if (prev is not None and not prev.children and _DANGLING.search(prev.text)
                and not re.search(r"[,;]\s*\w+$", prev.text) and node.text[:1].isupper()):
            prev.text = f"{prev.text} {node.text}"
            prev.children = node.children
            continue
        out.append(node)
    return out


MAX_DEPTH = 4
"""Lead-ins nest at most this deep (the FHIR mappings spell the levels out); deeper items follow
their lead-in as siblings at the last level, so no text is lost."""


def _criteria(nodes: list[_Node], depth: int = 1) -> list[Criterion]:
    out: list[Criterion] = []
    for node in nodes:
        text = " ".join(node.text.split())
        if depth >= MAX_DEPTH:
            out.append(Criterion(text=text))
            out.extend(_criteria(node.children, depth))
            continue
        items = _criteria(node.children, depth + 1)
        out.append(Criterion(text=text, combination=_combination(text) if items else None, items=items))
    return out


def parse_criteria(text: str | None) -> list[CriteriaSection]:
    """The criteria text as sections of criteria; the text itself stays verbatim beside the tree."""
    if not text or not text.strip():
        return []
    lines = _lines(text)
    b = _Builder()
    previous: _Line | None = None
    for i, line in enumerate(lines):
        target = _indented_under(line, b)
        head = _heading(line) if target is None else None
        if target is None and head is None:
            target = _lazy(line, previous, b)
        if target is not None:
            target.text = f"{target.text} {line.text}"
        elif head is not None:
            heading, rest, side = head
            b.heading(heading, side)
            if rest:
                lead_in = rest.endswith((":", "\uff1a")) or bool(_DANGLING.search(rest))
                b.add(_Node(rest, line.indent, marked=not lead_in, content=line.indent + 1))
                if not lead_in:
                    b.stack.pop()
        elif line.marked:
            b.add(_Node(line.text, line.indent, line.kind, line.number, True, line.double, line.inner_kind,
                        line.content))
        else:
            caption = _is_caption(line, lines[i + 1] if i + 1 < len(lines) else None)
            b.close_labels(line, caption)
            b.add(_Node(line.text, line.indent, marked=not caption, content=line.indent))
            if not caption:
                b.stack.pop()  # a paragraph takes no sub-items by indentation
        previous = line
    sections: list[CriteriaSection] = []
    for section in b.sections:
        items = _criteria(_joined(_adopt(_split_all(section.items))))
        if items:
            sections.append(CriteriaSection(side=section.side, heading=section.heading, items=items))
    return sections
