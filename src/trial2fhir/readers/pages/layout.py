"""Page layouts as data: ``layouts/<name>.yaml`` loaded and checked once.

A layout names its headings (with the blurb each is printed with), the labels it prints before
values, and per section the segmenter that reads it, with the fields it fills: each field a Trial
path and the shape its value has (``shapes.SHAPES``). Loading checks every name against the
segmenter and shape registries and every path against the Trial model, so a typo in a layout
fails at import, naming the file and the place, before any page is read.
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Callable
from functools import cache, cached_property
from importlib import resources
from typing import Any, Union

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError

from trial2fhir.model import SourceFormat, Trial
from trial2fhir.readers.pages.shapes import SHAPES


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Heading(_Spec):
    key: str
    blurb: str | None = None
    prose: bool = False
    """Free text: inside it a heading counts only with its exact blurb (without blurbs: only if
    not seen before); ``anywhere`` rules skip it."""
    bare: bool = False
    """Opens a section without a blurb when it is the page's first heading."""


class FieldRule(_Spec):
    to: str
    """Trial path the value goes to (the parent, for shapes that fill several fields)."""
    shape: str
    labelled: bool = False
    """Only a value the page labels for this path is taken (two fields of one shape)."""
    when: str | None = None
    """``path=VALUE`` or ``path!=VALUE``: the field exists only when the draft says so."""
    check: bool = False
    """The value is a count of the list at ``to``: placed only when the list agrees."""
    match: str | None = None
    """A regular expression whose group 1 is the value (header lines)."""

    @cached_property
    def pattern(self) -> re.Pattern[str] | None:
        """``match`` compiled once (the header and ``anywhere`` rules try it on many lines)."""
        return re.compile(self.match, re.IGNORECASE) if self.match else None

    def applies(self, get: typing.Callable[[str], Any]) -> bool:
        if self.when is None:
            return True
        path, negate, value = re.split(r"(!?=)", self.when, maxsplit=1)
        return bool(get(path.strip()) == value.strip()) != (negate == "!=")


class SectionRule(_Spec):
    read: str
    """The segmenter (``segmenters.SEGMENTERS``) that reads the section."""
    to: str | None = None
    fields: list[FieldRule] = Field(default_factory=list)
    labels: dict[str, FieldRule] = Field(default_factory=dict)
    roles: dict[str, str] = Field(default_factory=dict)
    """Role label -> API v2 role (contact lists)."""


class Layout(_Spec):
    layout: str
    format: SourceFormat
    nct_place: str
    """Where the NCT ID is expected: the place named when it is missing."""
    blurbs: bool = False
    """Headings are printed with a one-sentence blurb under them."""
    ignore_case: bool = False
    headings: dict[str, Heading]
    labels: dict[str, str] = Field(default_factory=dict)
    """Label line -> the tag of the value on the next line."""
    inline_labels: dict[str, str] = Field(default_factory=dict)
    """``Label VALUE`` on one line -> the tag of the value."""
    end_markers: frozenset[str] = frozenset()
    """The first of these lines starts the site's boilerplate: it and the rest are not the record."""
    boilerplate: frozenset[str] = frozenset()
    """Widget lines ignored wherever they appear."""
    anywhere: list[FieldRule] = Field(default_factory=list)
    """Lines recognised in any section but prose (``Conditions: a, b``)."""
    sections: dict[str, SectionRule]
    """Section key -> rule, in the order sections are read (``""``: the lines before any heading)."""

    _lookup: dict[str, str] = PrivateAttr(default_factory=dict)

    def model_post_init(self, _context: Any) -> None:
        self._lookup = {h.lower() if self.ignore_case else h: h for h in self.headings}

    def heading_finder(self) -> Callable[[str], str | None]:
        """``heading_name`` as a plain function, for the splitter's loop over every line (pydantic's
        access to private state costs more than the lookup itself)."""
        get = self._lookup.get
        return (lambda text: get(text.lower())) if self.ignore_case else get

    def heading_name(self, text: str) -> str | None:
        """The heading a line is (its name as the layout spells it), or None."""
        return self._lookup.get(text.lower() if self.ignore_case else text)


# --- checks -----------------------------------------------------------------------------------


def _models(annotation: Any) -> list[type[BaseModel]]:
    """The pydantic models an annotation holds (``list[Arm] | None`` -> [Arm])."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    origin = typing.get_origin(annotation)
    if origin in (list, Union, types.UnionType, typing.Annotated):
        return [m for arg in typing.get_args(annotation) for m in _models(arg)]
    return []


def has_path(path: str, model: type[BaseModel] = Trial) -> bool:
    head, _, rest = path.partition(".")
    info = model.model_fields.get(head)
    if info is None:
        return False
    return not rest or any(has_path(rest, m) for m in _models(info.annotation))


def _check(layout: Layout, segmenters: typing.Collection[str], needs_to: typing.Collection[str]) -> list[str]:
    problems = []
    keys = {h.key for h in layout.headings.values()} | {""}
    for key, rule in layout.sections.items():
        where = f"sections.{key or '(header)'}"
        if key not in keys:
            problems.append(f"{where}: no heading has key {key!r}")
        if rule.read not in segmenters:
            problems.append(f"{where}.read: unknown segmenter {rule.read!r}")
        if rule.to is None and rule.read in needs_to:
            problems.append(f"{where}.to: segmenter {rule.read!r} needs a Trial path")
        if rule.to is not None and not has_path(rule.to):
            problems.append(f"{where}.to: Trial has no field {rule.to!r}")
        named = [(f"{where}.fields[{i}]", f) for i, f in enumerate(rule.fields)]
        named += [(f"{where}.labels.{label}", f) for label, f in rule.labels.items()]
        named += [(f"anywhere[{i}]", f) for i, f in enumerate(layout.anywhere)] if not key else []
        for place, f in named:
            if f.shape not in SHAPES:
                problems.append(f"{place}.shape: unknown shape {f.shape!r}")
            if not has_path(f.to):
                problems.append(f"{place}.to: Trial has no field {f.to!r}")
            if f.when is not None and not (re.fullmatch(r"[\w.]+!?=\w+", f.when)
                                           and has_path(re.split("!?=", f.when)[0])):
                problems.append(f"{place}.when: expected 'path=VALUE' or 'path!=VALUE' on a Trial path, got {f.when!r}")
            try:
                re.compile(f.match or "")
            except re.error as exc:
                problems.append(f"{place}.match: not a regular expression: {exc}")
    problems += [f"headings: key {k!r} has no section rule" for k in keys - set(layout.sections)]
    return problems


def check(data: Any, source: str) -> Layout:
    """A layout from its YAML data, checked; ValueError naming ``source`` and the place."""
    from trial2fhir.readers.pages.segmenters import NEEDS_TO, SEGMENTERS  # they import the layout

    try:
        layout = Layout.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ValueError(f"{source}: {'.'.join(map(str, first['loc']))}: {first['msg']}") from None
    problems = _check(layout, SEGMENTERS, NEEDS_TO)
    if problems:
        more = f" (and {len(problems) - 1} more)" if problems[1:] else ""
        raise ValueError(f"{source}: {problems[0]}{more}")
    return layout


@cache
def load(name: str) -> Layout:
    """The layout ``layouts/<name>.yaml``, loaded and checked once."""
    file = resources.files("trial2fhir.readers.pages") / "layouts" / f"{name}.yaml"
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ValueError(f"{file}: not YAML: {exc}") from None
    return check(data, str(file))
