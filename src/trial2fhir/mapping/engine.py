"""Walk a mapping's rules forward (Trial -> resource) and in reverse (resource -> Trial).

Nodes: a list is a target array, a plain dict is a target object (keys are the standard's element
names), a dict with directive keys is dispatched to ``directives.DIRECTIVES``. In reverse, array
items are given back to the rule whose constants they carry (``matches``), so one mapping drives
both directions.
"""

from __future__ import annotations

import re
from typing import Any

from trial2fhir.mapping import paths
from trial2fhir.mapping.directives import (
    DIRECTIVES,
    Context,
    Many,
    is_directive,
    parse_when,
    ref_url,
    render_template,
    truthy,
    value_key,
    when_holds,
)
from trial2fhir.mapping.paths import Scope

_LIST, _DIRECTIVE, _OBJECT = 0, 1, 2
_SHAPES: dict[int, tuple[Any, ...]] = {}


def _shape(node: Any) -> tuple[Any, ...]:
    """What a node is, worked out once per node: (node, kind, ...) - the walk runs per trial."""
    shape = _SHAPES.get(id(node))
    if shape is not None and shape[0] is node:
        return shape
    if isinstance(node, list):
        shape = (node, _LIST)
    elif is_directive(node):
        shape = (node, _DIRECTIVE, DIRECTIVES[value_key(node)], node.get("when"))
    else:
        items = [(key, child, has_data(child)) for key, child in node.items()]
        # A Coding-like object (constants beside data) whose data all come out empty is dropped:
        # a system without a code says nothing. Objects of constants only are kept.
        direct_const = any(is_directive(c) and value_key(c) == "const" for c in node.values())
        droppable = direct_const and any(data for _, _, data in items)
        shape = (node, _OBJECT, items, droppable)
    _SHAPES[id(node)] = shape
    return shape


class MappingRunError(ValueError):
    """An error while mapping one trial (an unknown code, say), naming the mapping file, the rule
    path and the Trial path, as jsonschema's ``descend()`` adds both paths: each level of the walk
    adds its step on the way out (zero cost until something fails)."""

    def __init__(self, message: str, source: str | None, scope: Scope) -> None:
        super().__init__(message)
        self.message = message
        self.file: str | None = None
        self.rule: list[str] = []
        self.trial_path = source
        self.indexes = {k[1:]: v for k, v in scope.items() if k.startswith("#") and isinstance(v, int)}

    def bind(self, var: str, each: str) -> None:
        """``c.code`` inside ``each: conditions, as: c`` becomes ``conditions[2].code``."""
        head, _, rest = (self.trial_path or "").partition(".")
        if head == var and var in self.indexes:
            self.trial_path = f"{each}[{self.indexes[var] - 1}]" + (f".{rest}" if rest else "")

    def __str__(self) -> str:
        rule = "rules" + "".join(step if step.startswith("[") else f".{step}" for step in self.rule)
        trial = f"Trial {self.trial_path}: " if self.trial_path else ""
        return f"{self.file or '(mapping)'}: {rule}: {trial}{self.message}"


def emit(node: Any, scope: Scope, ctx: Context) -> Any:
    shape = _SHAPES.get(id(node))  # _shape's lookup, inline: emit runs some thousands of times per trial
    if shape is None or shape[0] is not node:
        shape = _shape(node)
    kind = shape[1]
    if kind == _LIST:
        out: list[Any] = []
        for i, child in enumerate(node):
            try:
                value = emit(child, scope, ctx)
            except MappingRunError as exc:
                exc.rule.insert(0, f"[{i}]")
                raise
            if isinstance(value, Many):
                out.extend(value)
            elif value is not None:
                out.append(value)
        return out or None
    if kind == _DIRECTIVE:
        d, when = shape[2], shape[3]
        if when is not None and not when_holds(when, scope, ctx.sets):
            return None
        try:
            return d.forward(node, scope, ctx, emit) if d.nested else d.forward(node, scope, ctx)
        except MappingRunError as exc:
            if "each" in node:
                exc.bind(node.get("as", "item"), node["each"])
            raise
        except (ValueError, KeyError, TypeError) as exc:
            raise MappingRunError(str(exc), node.get("from") or node.get("each"), scope) from exc
    obj: dict[str, Any] = {}
    data_found = False
    for key, child, child_data in shape[2]:
        try:
            value = emit(child, scope, ctx)
        except MappingRunError as exc:
            exc.rule.insert(0, key)
            raise
        if isinstance(value, Many):
            value = list(value)
        if truthy(value):
            obj[key] = value
            data_found = data_found or child_data
    if shape[3] and not data_found:
        return None
    return obj or None


_MEMO: dict[tuple[str, int], Any] = {}


def _memo(kind: str, node: Any, compute: Any) -> Any:
    """Per-node facts (constants, has_data) never change: mapping nodes are loaded once and kept."""
    key = (kind, id(node))
    if key not in _MEMO:
        _MEMO[key] = (node, compute(node))  # keep the node alive so its id is never reused
    return _MEMO[key][1]


def has_data(node: Any) -> bool:
    """Whether a node can carry trial data (anything but constants)."""
    return bool(_memo("data", node, _has_data)) if isinstance(node, (dict, list)) else False


def _has_data(node: Any) -> bool:
    if is_directive(node):
        return value_key(node) != "const"
    children = node if isinstance(node, list) else node.values() if isinstance(node, dict) else []
    return any(has_data(c) for c in children)


def absorb(node: Any, value: Any, scope: Scope, ctx: Context) -> None:
    if value is None:
        return
    if isinstance(node, list):
        for child, items in assign(node, value if isinstance(value, list) else [value]):
            absorb(child, items if _is_each(child) else items[0], scope, ctx)
        return
    shape = _shape(node)
    if shape[1] == _DIRECTIVE:
        if node.get("invert") is False:
            return
        d = shape[2]
        if d.nested:
            d.reverse(node, value, scope, ctx, absorb)
        else:
            d.reverse(node, value, scope, ctx)
        if shape[3] is not None:
            path, equals, _ = parse_when(shape[3])
            if equals is not None:  # the element is there, so the equality held
                paths.put(scope, path, equals)
        return
    if isinstance(value, dict):
        for key, child in node.items():
            if key in value:
                absorb(child, value[key], scope, ctx)


def bind_refs(node: Any, value: Any, scope: Scope, ctx: Context) -> None:
    """Reverse, beside ``absorb``: note which fullUrl each ``ref`` slot holds in a written resource.

    References carry identity fullUrls, not slot names; this is how the reverse finds the resource
    a slot was filled with. It reads ``invert: false`` views too (they still point at resources),
    but not a filtered ``each``, whose positions are not the list's.
    """
    if value is None:
        return
    if isinstance(node, list):
        for child, items in assign(node, value if isinstance(value, list) else [value]):
            bind_refs(child, items if _is_each(child) else items[0], scope, ctx)
        return
    if is_directive(node):
        kind = value_key(node)
        if kind == "ref" and isinstance(value, str):
            slot = render_template(node["ref"], scope)
            if slot is not None:
                ctx.links.setdefault(ref_url(slot), value)
        elif kind == "each" and "where" not in node:
            var = node.get("as", "item")
            for i, item in enumerate(value if isinstance(value, list) else [value], 1):
                bind_refs(node["rules"], item, {**scope, f"#{var}": i}, ctx)
        elif kind == "rules":
            bind_refs(node["rules"], value, scope, ctx)
        return
    if isinstance(node, dict) and isinstance(value, dict):
        for key, child in node.items():
            if key in value and has_refs(child):
                bind_refs(child, value[key], scope, ctx)


def has_refs(node: Any) -> bool:
    return bool(_memo("refs", node, _has_refs)) if isinstance(node, (dict, list)) else False


def _has_refs(node: Any) -> bool:
    if is_directive(node):
        return "ref" in node or any(has_refs(node[k]) for k in ("rules",) if k in node)
    children = node if isinstance(node, list) else node.values() if isinstance(node, dict) else []
    return any(has_refs(c) for c in children)


def _is_each(node: Any) -> bool:
    return is_directive(node) and "each" in node


def _inner(node: Any) -> Any:
    """The template an array item was made from: the rules of an each/rules wrapper, else the node."""
    while is_directive(node) and value_key(node) in {"each", "rules"}:
        node = node["rules"]
    return node


def constants(node: Any) -> int:
    """How many constants pin this node down (conditional ones too): more constants, more specific."""
    return int(_memo("const", node, lambda n: _count(n, conditional=True))) if isinstance(node, (dict, list)) else 0


def required(node: Any) -> bool:
    """Whether the node has a constant its output always carries (one without ``when``)."""
    return bool(_memo("req", node, lambda n: _count(n, conditional=False))) if isinstance(node, (dict, list)) else False


def _count(node: Any, conditional: bool) -> int:
    node = _inner(node)
    if is_directive(node):
        if _label(node) is not None:  # a one-way template's literal text tells its items apart too
            return 1 if conditional or "when" not in node else 0
        return 1 if "const" in node and (conditional or "when" not in node) else 0
    if not conditional and isinstance(node, dict) and _shape(node)[3]:
        return 0  # constants beside data: the object is dropped when its data is empty
    children = node if isinstance(node, list) else node.values() if isinstance(node, dict) else []
    return sum(_count(c, conditional) for c in children)


def matches(node: Any, value: Any) -> bool:
    """True when the value agrees with every constant of the node it carries.

    A constant without ``when`` must be there; one with ``when`` must agree where it is there.
    In an array, every item must be explained by one of the node's rules.
    """
    node = _inner(node)
    if is_directive(node):
        label = _label(node)
        if label is not None:
            return (isinstance(value, str) and bool(label.fullmatch(value))) or ("when" in node and value is None)
        if "const" not in node:
            return True
        return value == node["const"] or ("when" in node and value is None)
    if isinstance(node, list):
        if isinstance(value, dict):  # an each's rules given as alternatives: one of them made it
            return any(matches(c, value) for c in node)
        items = value if isinstance(value, list) else []
        pinned, free = _memo("split", node, _split_list)
        if not all(any(matches(c, v) for v in items) for c in pinned if required(c)):
            return False
        return free or all(any(matches(c, v) for c in pinned) for v in items)
    if isinstance(node, dict):
        if not isinstance(value, dict):
            return False
        for key, child in _memo("pinned", node, _pinned_items):
            if key not in value:
                if required(child):
                    return False
                continue
            if not matches(child, value[key]):
                return False
        return True
    return True


_HOLE = re.compile(r"\{[^{}]*\}")


def _label(node: dict[str, Any]) -> re.Pattern[str] | None:
    """For a one-way ``template`` that starts with literal text (``IND.MESH.{#m}``): the pattern its
    values fit, which tells its items from those of a sibling rule on the way back."""
    template = node.get("template")
    if not isinstance(template, str) or node.get("invert") is not False or "from" in node:
        return None
    if len(_HOLE.split(template)[0].strip()) < 2:  # only a literal head ("IND.MESH.") is a label
        return None
    pattern: re.Pattern[str] = _memo(
        "label", template, lambda t: re.compile(".*?".join(re.escape(part) for part in _HOLE.split(t)), re.S))
    return pattern


def _split_list(node: list[Any]) -> tuple[list[Any], bool]:
    """The rules with constants, and whether some rule has none (it explains any item)."""
    return [c for c in node if constants(c)], any(not constants(c) for c in node)


def _pinned_items(node: dict[str, Any]) -> list[tuple[str, Any]]:
    return [(k, c) for k, c in node.items() if constants(c)]


def assign(nodes: list[Any], items: list[Any]) -> list[tuple[Any, list[Any]]]:
    """Give each output array item back to the rule that made it (most specific rule first)."""
    if len(nodes) == 1:  # one rule made the whole array: nothing to tell apart
        node = nodes[0]
        return [(node, items if _is_each(node) else items[:1])] if items else []
    order = sorted(range(len(nodes)), key=lambda i: -constants(nodes[i]))
    groups: dict[int, list[Any]] = {}
    for item in items:
        for i in order:
            taken = i in groups and not _is_each(nodes[i])
            if not taken and matches(nodes[i], item):
                groups.setdefault(i, []).append(item)
                break
    return [(nodes[i], groups[i]) for i in sorted(groups)]
