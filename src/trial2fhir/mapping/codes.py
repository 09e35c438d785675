"""Code maps: FHIR ConceptMap-shaped YAML files in ``mappings/codes/``, with an unmapped policy.

Policies (ConceptMap ``group.unmapped.mode``): ``use-source-code`` passes an unknown code through
(reversible), ``fixed`` writes ``group.unmapped.code`` (not reversible: declare a loss); with no
``unmapped`` an unknown code is an error naming the map and the value. A source code listed with
``noMap: true`` has no equivalent on purpose: the lookup yields nothing and the element is omitted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml


class CodeError(ValueError):
    pass


@dataclass
class CodeMap:
    name: str
    file: str
    forward: dict[str, str | None] = field(default_factory=dict)
    inverse: dict[str, str] = field(default_factory=dict)
    unmapped_mode: str | None = None
    unmapped_code: str | None = None
    displays: dict[str, str] = field(default_factory=dict)  # target code -> its display

    def display(self, code: str) -> str | None:
        """The display of the target code ``code`` maps to (HL7 codings carry their display)."""
        target = self.map(code)
        return None if target is None else self.displays.get(target)

    def map(self, code: str) -> str | None:
        """The target code; None for a source code declared ``noMap`` (no equivalent: omit it)."""
        if code in self.forward:
            return self.forward[code]
        if self.unmapped_mode == "use-source-code":
            return code
        if self.unmapped_mode == "fixed" and self.unmapped_code is not None:
            return self.unmapped_code
        raise CodeError(f"code {code!r} is not in code map {self.name} ({self.file}) and it has no unmapped policy")

    def unmap(self, code: str) -> str:
        if code in self.inverse:
            return self.inverse[code]
        if self.unmapped_mode == "use-source-code":
            return code
        raise CodeError(f"code {code!r} has no source code in code map {self.name} ({self.file})")


def load_code_map(path: Path) -> CodeMap:
    doc: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(doc, dict) or doc.get("resourceType") != "ConceptMap":
        raise CodeError(f"{path}: not a ConceptMap (resourceType: ConceptMap expected)")
    cm = CodeMap(name=str(doc.get("name") or path.stem), file=str(path))
    for group in doc.get("group", []):
        for element in group.get("element", []):
            source = str(element["code"])
            if element.get("noMap"):
                cm.forward[source] = None
                continue
            targets = [t for t in element.get("target", []) if t.get("relationship", "equivalent") != "not-related-to"]
            if len(targets) != 1:
                raise CodeError(f"{path}: code {source!r} must have exactly one target")
            target = str(targets[0]["code"])
            cm.forward[source] = target
            if targets[0].get("display"):
                cm.displays[target] = str(targets[0]["display"])
            # The first source for a target wins the inverse: later ones are broader/narrower synonyms.
            cm.inverse.setdefault(target, source)
        unmapped = group.get("unmapped")
        if unmapped:
            cm.unmapped_mode = unmapped.get("mode")
            cm.unmapped_code = unmapped.get("code")
            if unmapped.get("display") and cm.unmapped_code:
                cm.displays[str(cm.unmapped_code)] = str(unmapped["display"])
            if cm.unmapped_mode not in {"use-source-code", "fixed"}:
                raise CodeError(f"{path}: unmapped.mode must be use-source-code or fixed")
    return cm


def _kind(path: Path) -> str:
    doc: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    return str(doc.get("resourceType")) if isinstance(doc, dict) else ""


def load_code_maps(folder: Path) -> dict[str, CodeMap]:
    """The ConceptMaps of a codes folder (its ValueSets are name sets: ``load_name_sets``)."""
    return {p.stem: load_code_map(p) for p in sorted(folder.glob("*.yaml")) if _kind(p) != "ValueSet"}


@dataclass(frozen=True)
class NameSet:
    """Free-text values (a party's name) a FHIR ValueSet describes by ``regex`` filters on ``code``.

    A value is in the set when some ``include`` pattern is found in it (case-insensitive, not
    anchored: write ``^...$`` for a whole value) and no ``exclude`` pattern is. ``when: "PATH
    matches SET"`` tests it. A filter ``op: "="`` instead names a value equal to another Trial
    path's value, e.g. ``value: "{sponsors.lead_sponsor.name}"`` (a ``{path}`` template).
    """

    name: str
    file: str
    include: tuple[re.Pattern[str], ...]
    exclude: tuple[re.Pattern[str], ...]
    equal_to: tuple[str, ...] = ()  # templates of Trial paths an included value may equal

    def contains(self, value: str, equals: tuple[str, ...] = ()) -> bool:
        """Whether ``value`` is in the set; ``equals`` are the ``equal_to`` templates filled in."""
        if any(p.search(value) for p in self.exclude):
            return False
        folded = " ".join(value.split()).casefold()
        return any(p.search(value) for p in self.include) or any(
            folded == " ".join(e.split()).casefold() for e in equals)


def load_name_set(path: Path) -> NameSet:
    doc: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(doc, dict) or doc.get("resourceType") != "ValueSet":
        raise CodeError(f"{path}: not a ValueSet (resourceType: ValueSet expected)")
    compose = doc.get("compose") or {}
    patterns: dict[str, list[re.Pattern[str]]] = {"include": [], "exclude": []}
    equal_to: list[str] = []
    for part in ("include", "exclude"):
        for entry in compose.get(part, []):
            for f in entry.get("filter", []):
                if f.get("op") == "=" and part == "include":
                    equal_to.append(str(f["value"]))
                    continue
                if f.get("op") != "regex":
                    raise CodeError(f"{path}: {part} filter op must be regex (or = in include), got {f.get('op')!r}")
                try:
                    patterns[part].append(re.compile(str(f["value"]), re.IGNORECASE))
                except re.error as exc:
                    raise CodeError(f"{path}: bad pattern {f['value']!r}: {exc}") from None
    return NameSet(path.stem, str(path), tuple(patterns["include"]), tuple(patterns["exclude"]), tuple(equal_to))


@cache
def load_name_sets(folder: Path) -> dict[str, NameSet]:
    """The name sets (ValueSets) of a codes folder, by file name; loaded once per folder."""
    return {p.stem: load_name_set(p) for p in sorted(folder.glob("*.yaml")) if _kind(p) == "ValueSet"}
