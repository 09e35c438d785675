"""Reusable mapping blocks, expanded when mapping files are loaded (never while a trial flows).

A target's ``index.yaml`` names fragment files; each may ``define`` named values (a URL prefix
written once) and ``fragments``: named, parameterised blocks. In a mapping, ``${name}`` in any
string (key or value) is replaced by a defined value or a fragment parameter (a string that is
only ``${name}`` takes the value itself, which may be a node), and ``{fragment: NAME, with: {...}}`` is
replaced by the fragment's body; a list body used as a list item is spliced in. An index entry
``{file: F, with: {...}}`` loads one file several times with different values. Expansion is plain
text substitution, so forward and reverse run on ordinary rules and the checks see them in full.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

PARAM = re.compile(r"\$\{([A-Za-z_][\w-]*)\}")
MAX_DEPTH = 20  # fragments may use fragments; deeper than this is a cycle


class FragmentError(ValueError):
    """A fragment problem at ``rule`` in ``file``; the loader turns it into a MappingError."""

    def __init__(self, file: str, rule: str, message: str) -> None:
        super().__init__(message)
        self.file, self.rule, self.message = file, rule, message


@dataclass(frozen=True)
class Fragment:
    name: str
    file: str
    params: tuple[str, ...]
    body: Any


@dataclass
class Library:
    """The defined values and fragments a target's mappings may use."""

    defines: dict[str, Any] = field(default_factory=dict)
    fragments: dict[str, Fragment] = field(default_factory=dict)


def load_library(files: list[Path]) -> Library:
    """Read fragment files in order; a name defined twice is an error naming both files."""
    lib = Library()
    seen: dict[str, str] = {}
    for path in files:
        file = str(path)
        try:
            doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise FragmentError(file, "", f"cannot read fragment file: {exc}") from None
        for name, value in (doc.get("define") or {}).items():
            _claim(seen, f"define {name}", file)
            lib.defines[name] = value
        for name, frag in (doc.get("fragments") or {}).items():
            _claim(seen, f"fragment {name}", file)
            lib.fragments[name] = Fragment(name, file, tuple(frag.get("params", [])), frag["body"])
    return lib


def _claim(seen: dict[str, str], what: str, file: str) -> None:
    if what in seen:
        raise FragmentError(file, what.split(" ", 1)[1], f"{what} is already defined in {seen[what]}")
    seen[what] = file


def expand(node: Any, lib: Library, values: dict[str, Any], file: str, rule: str = "", depth: int = 0) -> Any:
    """``node`` with every ``${name}`` filled from ``values`` and every ``fragment`` use replaced by its body."""
    if isinstance(node, str):
        return _substitute(node, values, file, rule)
    if isinstance(node, list):
        out: list[Any] = []
        for i, child in enumerate(node):
            value = expand(child, lib, values, file, f"{rule}[{i}]", depth)
            if _is_use(child) and isinstance(value, list):
                out.extend(value)  # a list fragment adds its items to the surrounding list
            else:
                out.append(value)
        return out
    if isinstance(node, dict):
        if _is_use(node):
            return _use(node, lib, values, file, rule, depth)
        return {
            _substitute(str(k), values, file, rule): expand(v, lib, values, file, _join(rule, str(k)), depth)
            for k, v in node.items()
        }
    return node


def _is_use(node: Any) -> bool:
    return isinstance(node, dict) and "fragment" in node


def _use(node: dict[str, Any], lib: Library, values: dict[str, Any], file: str, rule: str, depth: int) -> Any:
    extra = set(node) - {"fragment", "with"}
    if extra:
        raise FragmentError(file, rule, f"'fragment' takes only 'with', not {sorted(extra)}")
    name = node["fragment"]
    if isinstance(name, str):  # a fragment's name may be a parameter: a block that takes its inner shape
        name = _substitute(name, values, file, _join(rule, "fragment"))
    frag = lib.fragments.get(name) if isinstance(name, str) else None
    if frag is None:
        known = ", ".join(sorted(lib.fragments)) or "none"
        raise FragmentError(file, _join(rule, "fragment"), f"unknown fragment {name!r} (known: {known})")
    given = node.get("with") or {}
    if not isinstance(given, dict):
        raise FragmentError(file, _join(rule, "with"), f"'with' must map parameter names to values, got {given!r}")
    missing = [p for p in frag.params if p not in given]
    unknown = [p for p in given if p not in frag.params]
    if missing or unknown:
        parts = ([f"missing {missing}"] if missing else []) + ([f"unknown {unknown}"] if unknown else [])
        takes = f"fragment {name!r} takes {list(frag.params)}"
        raise FragmentError(file, _join(rule, "with"), f"{takes}: {', '.join(parts)}")
    if depth >= MAX_DEPTH:
        raise FragmentError(file, rule, f"fragment {name!r} nests deeper than {MAX_DEPTH}: a fragment uses itself")
    # Arguments are filled in the caller's scope; the body sees the defines and its parameters only.
    args = {k: expand(v, lib, values, file, _join(rule, f"with.{k}"), depth) for k, v in given.items()}
    return expand(frag.body, lib, {**lib.defines, **args}, file, rule, depth + 1)


def _substitute(text: str, values: dict[str, Any], file: str, rule: str) -> Any:
    whole = PARAM.fullmatch(text)
    if whole:
        return _value(whole.group(1), values, file, rule)
    return PARAM.sub(lambda m: str(_value(m.group(1), values, file, rule)), text)


def _value(name: str, values: dict[str, Any], file: str, rule: str) -> Any:
    if name not in values:
        known = ", ".join(sorted(values)) or "none"
        raise FragmentError(file, rule, f"${{{name}}} is neither defined nor a parameter here (known: {known})")
    return values[name]


def _join(rule: str, key: str) -> str:
    return f"{rule}.{key}" if rule else key
