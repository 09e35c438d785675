"""Bundle invariants the JSON Schema cannot express (FHIR R5/R4B Bundle bdl-7, bdl-3 and reference resolution).

- every ``fullUrl`` is unique (bdl-7 allows repeats only across versions, which a transaction never has);
- every entry of a ``transaction``/``batch`` Bundle has a ``request`` (bdl-3);
- every ``urn:uuid:``/``urn:oid:`` reference names an entry's fullUrl, and every relative ``Type/id``
  reference an entry's resource, so a server resolves it inside the Bundle;
- no string holds a control character but tab, CR and LF (FHIR strings should not; the XML form of
  a resource cannot hold them at all, so a server refuses or mangles them), nor exceeds 1,048,576
  characters (FHIR strings shall not). Neither JSON Schema nor the models check these.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import orjson

from trial2fhir.errors import Problem

MAX_STRING = 1024 * 1024  # characters: R5/R4B datatypes, string
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")
# orjson writes a control character as \u00XX (\b and \f for two of them): one search over the bytes
# finds any (an escaped backslash before b or f too, harmlessly), and only then are the strings walked
_CONTROL_ESCAPED = re.compile(rb"\\u00(?:0[0-8bcef]|1[0-9a-f])|\\[bf]")

_NEEDS_REQUEST = frozenset({"transaction", "batch"})


def _strings(node: Any, path: str) -> Iterator[tuple[str, str]]:
    """(JSON path, string) of every string under a node, in document order (paths only for a node
    that failed a check: spelling one for each node costs more than the checks)."""
    if isinstance(node, str):
        yield path, node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from _strings(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _strings(value, f"{path}[{i}]")


def _references(node: Any, path: str) -> Iterator[tuple[str, str]]:
    """(JSON path, reference) of every ``reference`` under a node, in document order."""
    return ((p, v) for p, v in _strings(node, path) if p.endswith(".reference"))


def _reference_values(node: Any, out: list[str]) -> list[str]:
    """The references under a node, without their paths: spelling a path for each of a Bundle's
    nodes cost more than the check; paths are worked out only for a reference that fails."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "reference" and isinstance(value, str):
                out.append(value)
            elif isinstance(value, (dict, list)):
                _reference_values(value, out)
    elif isinstance(node, list):
        for value in node:
            if isinstance(value, (dict, list)):
                _reference_values(value, out)
    return out


def _unresolved(ref: str, seen: dict[str, int], local: set[str]) -> bool:
    if ref.startswith(("urn:uuid:", "urn:oid:")):
        return ref not in seen
    if ref.startswith("#") or "://" in ref or "?" in ref:
        return False  # contained, absolute or conditional (resolved by the server): not the Bundle's
    return "/".join(ref.split("/")[:2]) not in local


def _string_problems(bundle: dict[str, Any], label: str) -> list[Problem]:
    data = orjson.dumps(bundle)
    if len(data) <= MAX_STRING and not _CONTROL_ESCAPED.search(data):
        return []
    problems: list[Problem] = []
    for path, text in _strings(bundle, "$"):
        if len(text) > MAX_STRING:
            problems.append(Problem("", f"{label}: {path}", f"a string of {len(text):,} characters: FHIR strings "
                                    f"hold at most {MAX_STRING:,} [bundle]"))
        m = _CONTROL.search(text)
        if m:
            problems.append(Problem("", f"{label}: {path}", f"control character U+{ord(m.group()):04X} at "
                                    f"character {m.start() + 1}: FHIR strings hold none but tab, CR and LF [bundle]"))
    return problems


def bundle_invariants(bundle: dict[str, Any]) -> list[Problem]:
    """Problems with the Bundle's fullUrls, requests and internal references ([] when it holds together)."""
    entries = bundle.get("entry")
    if not isinstance(entries, list):
        return []
    label = f"Bundle/{bundle['id']}" if bundle.get("id") else "Bundle"
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    local: set[str] = set()
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            continue
        url = entry.get("fullUrl")
        if isinstance(url, str):
            if url in seen:
                problems.append(Problem("", f"{label}: $.entry[{i}].fullUrl",
                                        f"fullUrl {url} repeats entry[{seen[url]}] [bundle]"))
            seen.setdefault(url, i)
        resource = entry.get("resource")
        if isinstance(resource, dict) and resource.get("resourceType") and resource.get("id"):
            local.add(f"{resource['resourceType']}/{resource['id']}")
        if bundle.get("type") in _NEEDS_REQUEST and not isinstance(entry.get("request"), dict):
            problems.append(Problem("", f"{label}: $.entry[{i}]",
                                    f"a {bundle['type']} entry needs a request (bdl-3) [bundle]"))
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            continue
        resource = entry.get("resource")
        if not any(_unresolved(ref, seen, local) for ref in _reference_values(resource, [])):
            continue
        for path, ref in _references(resource, f"$.entry[{i}].resource"):
            if _unresolved(ref, seen, local):
                problems.append(Problem("", f"{label}: {path}", f"reference {ref} resolves to no entry [bundle]"))
    return problems + _string_problems(bundle, label)
