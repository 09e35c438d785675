"""The closed set of mapping directives: one small forward and one small reverse function each.

A directive is a YAML object with exactly one *value* key (``from``, ``const``, ``template``,
``ref``, ``each``, ``rules``) and any of the *modifiers* (``as``, ``lookup``, ``join``, ``contains``,
``cast``, ``when``, ``where``, ``invert``, ``default``). The engine only walks nodes and dispatches here.
"""

from __future__ import annotations

import hashlib
import html
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from trial2fhir.mapping import paths
from trial2fhir.mapping.codes import CodeMap, NameSet, load_name_sets
from trial2fhir.mapping.paths import Holder, Scope
from trial2fhir.packaged import data_path

VALUE_KEYS = ("from", "const", "template", "ref", "each", "rules")
MODIFIERS = ("as", "lookup", "pick", "join", "contains", "cast", "when", "where", "invert", "default", "escape",
             "distinct")
DIRECTIVE_KEYS = frozenset(VALUE_KEYS + MODIFIERS)
VALUE_KEYS_BY_PRIORITY = ("each", "from", "const", "template", "ref", "rules")  # each goes with rules
# Deterministic urn:uuid fullUrls: the same trial always gives the same bundle, byte for byte.
NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:trial2fhir")
_NAMESPACE_BYTES = NAMESPACE.bytes
_PLACEHOLDER = re.compile(r"\{([#?]?[A-Za-z_][\w.]*)\}")  # {path}, {#var} (index), {?path} (may be empty)
# ``where: "X in LIST"``: X's value is an item of LIST; ``where: "X = Y"``: the same text, any case.
_WHERE = re.compile(r"^\s*([A-Za-z_][\w.]*)\s+(in|=)\s+([A-Za-z_][\w.]*)\s*$")
# ``when: "PATH = VALUE"`` (optionally ``or none``): an equality, which the element's presence
# proves, so the reverse restores VALUE at PATH. A bare ``when: PATH`` tests for a value.
WHEN_EQUALS = re.compile(r"^\s*([A-Za-z_][\w.]*)\s*=\s*([^\s=]+)(\s+or\s+none)?\s*$")
WHEN_NOT = re.compile(r"^\s*not\s+([A-Za-z_][\w.]*)\s*$")  # ``when: "not PATH"``: PATH has no value
# ``when: "PATH matches SET"`` / ``"PATH not matches SET"``: the value is (not) in the name set
# ``mappings/codes/SET.yaml`` (a ValueSet of regex patterns: an official's name that is a company).
WHEN_MATCHES = re.compile(r"^\s*([A-Za-z_][\w.]*)\s+(not\s+)?matches\s+([a-z0-9][a-z0-9-]*)\s*$")


def _default_sets() -> dict[str, NameSet]:
    return load_name_sets(data_path("mappings") / "codes")


@dataclass
class Context:
    codes: dict[str, CodeMap] = field(default_factory=dict)
    # slot fullUrl -> the fullUrl written (forward) or read in a reference (reverse)
    links: dict[str, str] = field(default_factory=dict)
    sets: dict[str, NameSet] = field(default_factory=_default_sets)  # for ``when: "PATH matches SET"``


Emit = Callable[[Any, Scope, Context], Any]
Absorb = Callable[[Any, Any, Scope, Context], None]


class Many(list[Any]):
    """Items an ``each`` produced: spliced into the surrounding array, not nested in it."""


def is_directive(node: Any) -> bool:
    return isinstance(node, dict) and not DIRECTIVE_KEYS.isdisjoint(node)


def value_key(node: dict[str, Any]) -> str:
    for key in VALUE_KEYS_BY_PRIORITY:
        if key in node:
            return key
    raise KeyError("no value directive")


def truthy(value: Any) -> bool:
    return value not in (None, "", [], {})


@lru_cache(maxsize=1024)
def parse_when(expr: str) -> tuple[str, str | None, bool]:
    """(path, value it must equal or None for a presence test, whether no value holds).

    ``PATH``: has a value; ``not PATH``: has none; ``PATH = V`` / ``PATH = V or none``: equals V;
    ``PATH [not] matches SET``: a test only (see ``parse_matches``), so nothing to restore.
    """
    s = parse_matches(expr)
    if s is not None:
        return s[0], None, False
    m = WHEN_EQUALS.match(expr)
    if m:
        return m.group(1), m.group(2), bool(m.group(3))
    n = WHEN_NOT.match(expr)
    return (n.group(1), None, True) if n else (expr, None, False)


@lru_cache(maxsize=256)
def parse_matches(expr: str) -> tuple[str, str, bool] | None:
    """(path, set name, negated) of ``PATH [not] matches SET``; None for the other forms."""
    m = WHEN_MATCHES.match(expr)
    return (m.group(1), m.group(3), bool(m.group(2))) if m else None


def in_set(name_set: NameSet, value: Any, scope: Scope) -> bool:
    """Whether a Trial value is in a name set (its ``=`` filters filled from this trial)."""
    if not isinstance(value, str) or not value.strip():
        return False
    equals = tuple(t for t in (render_template(e, scope) for e in name_set.equal_to) if t)
    return name_set.contains(value, equals)


def when_holds(expr: str, scope: Scope, sets: dict[str, NameSet] | None = None) -> bool:
    matching = parse_matches(expr)
    if matching is not None:
        path, name, negated = matching
        found = in_set((sets if sets is not None else _default_sets())[name], paths.get(scope, path), scope)
        return found != negated
    path, equals, or_none = parse_when(expr)
    value = paths.get(scope, path)
    if equals is None:
        return not truthy(value) if or_none else truthy(value)
    return (or_none and value is None) or (value is not None and str(value) == equals)


@lru_cache(maxsize=65536)
def uuid5_text(name: str) -> str:
    """``str(uuid.uuid5(NAMESPACE, name))``, without building UUID objects (a sixth of a Bundle's
    build time went there). Cached: each id is turned into its fullUrl several times per trial."""
    digest = bytearray(hashlib.sha1(_NAMESPACE_BYTES + name.encode("utf-8")).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5 (RFC 4122 4.3)
    digest[8] = (digest[8] & 0x3F) | 0x80  # the RFC 4122 variant
    h = digest.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def ref_url(text: str) -> str:
    return f"urn:uuid:{uuid5_text(text)}"


# --- value transforms: join -> lookup -> cast forward, the inverse order back -----------------------


def _duration(text: Any) -> str:
    """``18 Years`` -> ``P18Y``, ``6 Hours`` -> ``PT6H``: an age limit as an ISO 8601 duration."""
    value, unit = str(text).split(" ", 1)
    designator = {"Years": "Y", "Months": "M", "Weeks": "W", "Days": "D", "Hours": "H", "Minutes": "M"}[unit]
    return f"PT{value}{designator}" if unit in ("Hours", "Minutes") else f"P{value}{designator}"


CASTS: dict[str, Callable[[Any], Any]] = {
    "boolean": lambda v: v == "true",
    "integer": int,
    "decimal": float,
    "string": str,
    "duration": _duration,  # forward only: use with invert: false beside a reversible rule
    "count": len,  # how many items a list has (PRS number_of_arms); forward only: invert: false
}
FORWARD_ONLY_CASTS = frozenset({"count"})


def _forward_transforms(node: dict[str, Any], value: Any, ctx: Context) -> Any:
    if "contains" in node:  # one flag per code of a list (PRS masked_subject: yes | no)
        value = node["contains"] in value
    if "join" in node:
        value = node["join"].join(value) if value else None
    if value is not None and "lookup" in node:
        codes = ctx.codes[node["lookup"]]
        value = codes.display(str(value)) if node.get("pick") == "display" else codes.map(str(value))
    if value is not None and "cast" in node:
        value = CASTS[node["cast"]](value)
    return value


def _reverse_transforms(node: dict[str, Any], value: Any, ctx: Context) -> Any:
    if "cast" in node and isinstance(value, bool):
        value = "true" if value else "false"
    if "lookup" in node:
        value = ctx.codes[node["lookup"]].unmap(str(value))
    if "join" in node:
        value = str(value).split(node["join"])
    return value


def template_fields(template: str) -> list[str]:
    return [f.removeprefix("?") for f in _PLACEHOLDER.findall(template)]


@lru_cache(maxsize=4096)
def _template_parts(template: str) -> tuple[tuple[str, str | None, bool], ...]:
    """A template split once into (literal, key or None, optional): rendering then needs no regex."""
    out: list[tuple[str, str | None, bool]] = []
    pieces = _PLACEHOLDER.split(template)
    for i in range(0, len(pieces), 2):
        key = pieces[i + 1] if i + 1 < len(pieces) else None
        optional = key is not None and key.startswith("?")
        out.append((pieces[i], key.removeprefix("?") if key is not None else None, optional))
    return tuple(out)


def render_template(template: str, scope: Scope, escape: bool = False) -> str | None:
    """Fill ``{path}`` and ``{#var}`` (1-based index of a loop variable); None if a value is missing.

    ``{?path}`` may be missing (it gives ""); ``escape`` escapes each value for XHTML (narratives).
    """
    text: list[str] = []
    for literal, key, optional in _template_parts(template):
        text.append(literal)
        if key is None:
            continue
        value = scope.get(key) if key.startswith("#") else paths.get(scope, key)
        if value in (None, ""):
            if not optional:
                return None
            continue
        # a list (a trial's phases) reads as its items, not as Python writes a list
        value_text = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
        text.append(html.escape(value_text, quote=False) if escape else value_text)
    return "".join(text)


def parse_template(template: str, text: str) -> dict[str, str] | None:
    pattern = "^" + "".join(
        f"(?P<g{i}>.+?)" if i % 2 else re.escape(part) for i, part in enumerate(_PLACEHOLDER.split(template))
    ) + "$"
    m = re.match(pattern, text, re.DOTALL)
    if not m:
        return None
    names = template_fields(template)
    return {name: m.group(f"g{2 * i + 1}") for i, name in enumerate(names)}


# --- the directives ---------------------------------------------------------------------------


def from_forward(node: dict[str, Any], scope: Scope, ctx: Context) -> Any:
    value = paths.get(scope, node["from"])
    if value in (None, "", []) and "default" in node:
        value = node["default"]  # a view only (invert: false): the default is not trial data
        if isinstance(value, str) and "{" in value:
            value = render_template(value, scope)  # another Trial value: "{identification.nct_id}"
    return None if value in (None, "", []) else _forward_transforms(node, value, ctx)


def from_reverse(node: dict[str, Any], value: Any, scope: Scope, ctx: Context) -> None:
    value = _reverse_transforms(node, value, ctx)
    if "contains" in node:  # a set flag puts its code back in the list; the flags come in list order
        if value in (True, "True", "true"):
            paths.append(scope, node["from"], node["contains"])
        return
    paths.put(scope, node["from"], value)


def const_forward(node: dict[str, Any], scope: Scope, ctx: Context) -> Any:  # noqa: ARG001
    return node["const"]


def const_reverse(node: dict[str, Any], value: Any, scope: Scope, ctx: Context) -> None:
    """A constant carries no trial data; it only tells array items apart (see ``matches``)."""


def template_forward(node: dict[str, Any], scope: Scope, ctx: Context) -> Any:
    text = render_template(node["template"], scope, escape=node.get("escape") == "xhtml")
    return None if text is None else _forward_transforms(node, text, ctx)


def template_reverse(node: dict[str, Any], value: Any, scope: Scope, ctx: Context) -> None:
    parsed = parse_template(node["template"], str(_reverse_transforms(node, value, ctx)))
    for name, text in (parsed or {}).items():
        if not name.startswith("#"):
            paths.put(scope, name, text)


def ref_forward(node: dict[str, Any], scope: Scope, ctx: Context) -> Any:
    text = render_template(node["ref"], scope)
    if text is None:
        return None
    url = ref_url(text)
    return ctx.links.get(url, url)  # forward: the fullUrl of the slot's resource, when known


def ref_reverse(node: dict[str, Any], value: Any, scope: Scope, ctx: Context) -> None:
    """A reference is derived from ids the target resource carries itself: nothing to restore."""


def _items(node: dict[str, Any], scope: Scope) -> list[Any]:
    items = paths.get(scope, node["each"]) or []
    return items if isinstance(items, list) else [items]


def each_forward(node: dict[str, Any], scope: Scope, ctx: Context, emit: Emit) -> Many:
    var = node.get("as", "item")
    out = Many()
    for i, item in enumerate(_items(node, scope), 1):
        inner = {**scope, var: item, f"#{var}": i}
        if "where" in node and not where_holds(node["where"], inner):
            continue
        value = emit(node["rules"], inner, ctx)
        values = value if isinstance(value, list) else [] if value is None else [value]
        if node.get("distinct"):  # a view that names each value once (two placebo arms: one PLACEBO)
            values = [v for v in values if v not in out]
        out.extend(values)  # rules that are a list of alternatives: what they give, unnested
    return out


def each_reverse(node: dict[str, Any], value: Any, scope: Scope, ctx: Context, absorb: Absorb) -> None:
    var = node.get("as", "item")
    for i, item in enumerate(value if isinstance(value, list) else [value], 1):
        holder = Holder()
        absorb(node["rules"], item, {**scope, var: holder, f"#{var}": i}, ctx)
        if holder.value is not None:
            paths.append(scope, node["each"], holder.value)


def where_holds(expr: str, scope: Scope) -> bool:
    m = _WHERE.match(expr)
    assert m, expr  # checked when the mapping is loaded
    value, other = paths.get(scope, m.group(1)), paths.get(scope, m.group(3))
    if m.group(2) == "=":
        return isinstance(value, str) and isinstance(other, str) and value.casefold() == other.casefold()
    return value in (other or [])


def rules_forward(node: dict[str, Any], scope: Scope, ctx: Context, emit: Emit) -> Any:
    return emit(node["rules"], scope, ctx)


def rules_reverse(node: dict[str, Any], value: Any, scope: Scope, ctx: Context, absorb: Absorb) -> None:
    absorb(node["rules"], value, scope, ctx)


@dataclass(frozen=True)
class Directive:
    forward: Callable[..., Any]
    reverse: Callable[..., None]
    nested: bool = False  # takes the engine's emit/absorb to walk its ``rules``


DIRECTIVES: dict[str, Directive] = {
    "from": Directive(from_forward, from_reverse),
    "const": Directive(const_forward, const_reverse),
    "template": Directive(template_forward, template_reverse),
    "ref": Directive(ref_forward, ref_reverse),
    "each": Directive(each_forward, each_reverse, nested=True),
    "rules": Directive(rules_forward, rules_reverse, nested=True),
}
