"""Code maps: FHIR ConceptMap-shaped YAML files in ``mappings/codes/``, with an unmapped policy.

Policies (ConceptMap ``group.unmapped.mode``): ``use-source-code`` passes an unknown code through
(reversible), ``fixed`` writes ``group.unmapped.code`` (not reversible: declare a loss); with no
``unmapped`` an unknown code is an error naming the map and the value. A source code listed with
``noMap: true`` has no equivalent on purpose: the lookup yields nothing and the element is omitted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
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


def load_code_maps(folder: Path) -> dict[str, CodeMap]:
    return {p.stem: load_code_map(p) for p in sorted(folder.glob("*.yaml"))}
