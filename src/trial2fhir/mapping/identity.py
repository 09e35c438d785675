"""Business identity of a written resource: the mapping's ``identity`` data, rendered for one trial.

Two forms (see docs/fhir-identity.md):
- ``key: [[part, ...], ...]``: a SHARED resource (an Organization, a Location, a Practitioner). The
  first alternative whose parts all have a value wins; each part is normalised (case, accents,
  punctuation, spacing) and the parts are joined with ``/``. The resource id is the uuid of that
  identity, so the same sponsor gives the same entry in any trial.
- ``value: TEMPLATE``: a resource the trial owns, identified exactly (the NCT ID); it keeps the id
  its mapping's ``id`` template gives. Without ``identity``, a resource is trial-owned and its
  identifier is its id under ``TRIAL_RESOURCE``.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from trial2fhir.mapping.directives import render_template, uuid5_text
from trial2fhir.mapping.paths import Scope

TRIAL_RESOURCE = "https://trial2fhir.org/fhir/sid/trial-resource"
_NOT_WORD = re.compile(r"[^\w]+")


@dataclass(frozen=True)
class IdentitySpec:
    system: str
    keys: tuple[tuple[str, ...], ...] = ()  # shared: alternatives of parts
    value: str | None = None  # trial-owned: one exact template

    @property
    def shared(self) -> bool:
        return bool(self.keys)

    def templates(self) -> list[str]:
        return [p for alt in self.keys for p in alt] + ([self.value] if self.value else [])


@dataclass(frozen=True)
class Identity:
    system: str
    value: str
    shared: bool

    @property
    def uuid(self) -> str:
        return uuid5_text(f"{self.system}|{self.value}")

    @property
    def full_url(self) -> str:
        return f"urn:uuid:{self.uuid}"

    def identifier(self) -> dict[str, str]:
        return {"system": self.system, "value": self.value}


def parse_spec(doc: Any) -> IdentitySpec | None:
    if not doc:
        return None
    keys = tuple(tuple(str(p) for p in alt) for alt in doc.get("key", []))
    return IdentitySpec(str(doc["system"]), keys, doc.get("value"))


def normalise(text: str) -> str:
    """``"Pfizer, Inc."`` and ``"PFIZER INC"`` are one key: ``pfizer-inc``."""
    if text.isascii():  # most names: nothing to decompose
        plain = text.casefold()
    else:
        folded = unicodedata.normalize("NFKD", text.casefold())
        plain = "".join(c for c in folded if not unicodedata.combining(c))
    return _NOT_WORD.sub("-", plain).strip("-_")


def identify(spec: IdentitySpec | None, scope: Scope, rid: str) -> Identity:
    """The identity of the resource written in ``scope`` (``rid``: its id from the id template)."""
    if spec is None:
        return Identity(TRIAL_RESOURCE, rid, shared=False)
    if spec.value is not None:
        value = render_template(spec.value, scope)
        if value is None:
            raise ValueError(f"identity value {spec.value!r} has no value for this trial")
        return Identity(spec.system, value, shared=False)
    for alternative in spec.keys:
        parts = [render_template(p, scope) for p in alternative]
        normal = [normalise(p) for p in parts if p is not None]
        if len(normal) == len(parts) and all(normal):
            return Identity(spec.system, "/".join(normal), shared=True)
    raise ValueError(f"no identity key of {spec.system} has all its values for this trial")


def disambiguate(identity: Identity, n: int) -> Identity:
    """The n-th different resource of one record under one key (a site listed twice): key + ``/~n``."""
    return Identity(identity.system, f"{identity.value}/~{n}", identity.shared)
