"""XML targets: a document the mappings describe, built with lxml in the XSD's element order.

The document convention (what a mapping's ``rules`` describe, and what a parsed file reads back as):

- a key is an element name, prefixed where its namespace is not the document's default
  (``Description``, ``sdm:Summary``); its value is the element's content;
- ``"@Name"`` is an attribute (``"@xml:lang"`` for a prefixed one), ``"#text"`` the text of an
  element that also has attributes; an element with text only is its text (``StudyName: "..."``);
- an element the XSD lets repeat is a list, even of one item; any other element is not;
- the order of elements comes from the XSD's content model, never from the YAML.

Each mapping file writes the content of one element, named by its path from the root in
``target.resource`` (``ODM/Study/MetaDataVersion/Protocol``); several files may fill one element.
The folder's ``index.yaml`` names the root, the namespaces (declared once, on the root) and the
Trial dates the document's creation time is taken from (the first with a value), so the same
trial always gives the same bytes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml
from lxml import etree
from pydantic import BaseModel

from trial2fhir.errors import Problem, RecordError
from trial2fhir.mapping import paths
from trial2fhir.mapping.directives import Context
from trial2fhir.mapping.engine import absorb, emit
from trial2fhir.mapping.load import MAPPINGS, Loss, MappingError, MappingSet, load_target, source_type
from trial2fhir.mapping.paths import ROOT
from trial2fhir.model import Trial
from trial2fhir.validation.xml import XsdIssue, XsdSource, load_xsd, parse_file, validate_tree

XML_NS = "http://www.w3.org/XML/1998/namespace"
TEXT = "#text"
# Characters XML 1.0 allows (section 2.2); anything else cannot be written, escaped or not.
_FORBIDDEN = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
EPOCH = "1970-01-01T00:00:00"  # creation time of a document whose trial carries no date at all


class XmlValueError(ValueError):
    """A value that XML 1.0 cannot hold, named by its place in the document."""


# --- the element model, read once from the XSD -----------------------------------------------------


@dataclass
class Element:
    """What the XSD allows inside one element type: child elements in order, attributes, text."""

    name: str
    children: dict[str, Child] = field(default_factory=dict)  # Clark name -> child
    attributes: frozenset[str] = frozenset()  # Clark names for namespaced ones (xml:lang)
    text: bool = False  # simple or mixed content
    # document key (``sdm:Summary``) -> (Clark tag, child): filled on first use by _fill, so building
    # a document is dictionary look-ups, not name resolution against the schema on every element
    slots: dict[str, tuple[str, Child]] = field(default_factory=dict, repr=False, compare=False)

    @property
    def leaf(self) -> bool:
        """Text and nothing else: the document writes it as its text."""
        return not self.children and not self.attributes


@dataclass
class Child:
    order: int
    repeats: bool
    element: Element
    required: bool = False  # the XSD wants it whenever its parent is written (minOccurs >= 1, no choice)


class XsdModel:
    """The element tree of a schema (via xmlschema, once), plus the document's namespace prefixes.

    It is also the load-time check of XML mapping files (``mapping.load.TargetModel``): every
    element and attribute a mapping names must exist at its place, and an element that repeats
    must be written as a list.
    """

    strict_arrays = True

    def __init__(self, top: Path, redirects: dict[str, Path], root: str, namespaces: dict[str, str]) -> None:
        import xmlschema  # import cost paid only by XML targets, once

        self.namespaces = namespaces  # prefix ("" for the default) -> URI
        self.variables: dict[str, tuple[Any, bool]] = {"document": (Document, False)}
        self._clark: dict[tuple[str, bool], str] = {}
        self._uri_prefix = {uri: prefix for prefix, uri in namespaces.items()}
        self._schema = xmlschema.XMLSchema(str(top), uri_mapper=_uri_mapper(redirects), build=True)
        self._types: dict[int, Element] = {}
        xsd_root = self._schema.maps.elements.get(self.clark(root))
        if xsd_root is None:
            raise ValueError(f"{top}: no global element {root!r}")
        self.root = self._element(xsd_root)
        self.root_name = root

    # names
    def clark(self, name: str, attribute: bool = False) -> str:
        """``sdm:Summary`` -> ``{uri}Summary``; unprefixed attributes have no namespace."""
        key = (name, attribute)
        known = self._clark.get(key)
        if known is None:  # names repeat on every element of every document: resolve each once
            known = self._clark[key] = self._resolve(name, attribute)
        return known

    def _resolve(self, name: str, attribute: bool) -> str:
        prefix, _, local = name.rpartition(":")
        if prefix == "xml":
            return f"{{{XML_NS}}}{local}"
        if not prefix and attribute:
            return local
        uri = self.namespaces.get(prefix)
        if uri is None:
            raise KeyError(f"unknown namespace prefix {prefix!r} in {name!r}")
        return f"{{{uri}}}{local}" if uri else local

    def prefixed(self, clark: str) -> str:
        if not clark.startswith("{"):
            return clark
        uri, local = clark[1:].split("}")
        if uri == XML_NS:
            return f"xml:{local}"
        prefix = self._uri_prefix.get(uri)
        if prefix is None:  # a namespace the document does not declare (xmldsig ...): keep it whole
            return clark
        return f"{prefix}:{local}" if prefix else local

    # the tree
    def _element(self, xsd_element: Any) -> Element:
        xsd_type = xsd_element.type
        cached = self._types.get(id(xsd_type))
        if cached is not None:
            return cached
        attrs = frozenset(k for k in getattr(xsd_type, "attributes", {}) if isinstance(k, str))
        simple = xsd_type.is_simple() or xsd_type.has_simple_content()
        el = Element(xsd_element.local_name, attributes=attrs, text=simple or bool(getattr(xsd_type, "mixed", False)))
        self._types[id(xsd_type)] = el  # before the children: types may nest themselves
        if not xsd_type.is_simple() and not xsd_type.has_simple_content():
            for order, (particle, repeats) in enumerate(_particles(xsd_type.content, False)):
                known = el.children.get(particle.name)
                if known is not None:  # the same element twice in a sequence (Association's KeySet)
                    known.repeats = True
                    continue
                el.children[particle.name] = Child(order, repeats, self._element(particle))
            for name in _required(xsd_type.content):
                el.children[name].required = True
        return el

    def at(self, path: str) -> Element:
        """The element at a slash path from the root (``ODM/Study/MetaDataVersion``)."""
        parts = path.split("/")
        if parts[0] != self.root_name:
            raise KeyError(parts[0])
        el = self.root
        for part in parts[1:]:
            el = el.children[self.clark(part)].element
        return el

    # mapping.load.TargetModel
    def resolve(self, target: dict[str, Any]) -> Element | None:
        try:
            return self.at(str(target["resource"]))
        except KeyError:
            return None

    def child(self, node: Element, key: str) -> tuple[Element | None, bool]:
        """(model of the child, None for a value; whether it repeats); KeyError if not allowed."""
        if key == TEXT:
            if not node.text:
                raise KeyError(key)
            return None, False
        if key.startswith("@"):
            if self.clark(key[1:], attribute=True) not in node.attributes:
                raise KeyError(key)
            return None, False
        child = node.children[self.clark(key)]
        return (None if child.element.leaf else child.element), child.repeats

    def describe(self, node: Element) -> str:
        return f"element {node.name}"


def _particles(group: Any, repeats: bool) -> Iterator[tuple[Any, bool]]:
    """The elements of a content model in document order, with whether each may repeat."""
    import xmlschema.validators as v

    repeats = repeats or group.max_occurs != 1
    for particle in group:
        if isinstance(particle, v.XsdGroup):
            yield from _particles(particle, repeats)
        elif isinstance(particle, v.XsdElement):
            yield particle, repeats or particle.max_occurs != 1


def _required(group: Any) -> Iterator[str]:
    """Names of the elements a content model always needs: minOccurs >= 1 all the way down, no choice."""
    import xmlschema.validators as v

    if group.min_occurs < 1 or group.model == "choice":
        return
    for particle in group:
        if isinstance(particle, v.XsdGroup):
            yield from _required(particle)
        elif isinstance(particle, v.XsdElement) and particle.min_occurs >= 1:
            yield particle.name


def _uri_mapper(redirects: dict[str, Path]) -> Any:
    def mapper(uri: str) -> str:
        target = redirects.get(uri.replace("\\", "/").rsplit("/", 1)[-1])
        return target.as_uri() if target is not None else uri

    return mapper


# --- document <-> lxml -----------------------------------------------------------------------------


# A place in the document being built, ``(parent place, name, position or 0)`` down from the root's
# name: spelled out (``ODM/Study[1]/...``) only for an error, as formatting it for each of a trial's
# few hundred elements cost a tenth of the XML build. Position 0: an element that does not repeat.
Place = str | tuple[Any, str, int]


def _spell(place: Place) -> str:
    steps: list[str] = []
    while isinstance(place, tuple):
        place, name, position = place
        steps.append(f"{name}[{position}]" if position else name)
    return "/".join([place, *reversed(steps)])


def _text(value: Any, place: Place) -> str:
    # booleans in XML Schema's lexical form; everything else as Python writes it
    text = ("true" if value else "false") if isinstance(value, bool) else str(value)
    bad = _FORBIDDEN.search(text)
    if bad:
        raise XmlValueError(
            f"{_spell(place)}: character U+{ord(bad.group()):04X} at offset {bad.start()} is not allowed in XML 1.0"
        )
    return text


def build(model: XsdModel, content: dict[str, Any]) -> etree._Element:
    """The lxml tree of a document (the root element's content), children in XSD order."""
    nsmap = {prefix or None: uri for prefix, uri in model.namespaces.items() if uri and prefix != "xml"}
    root = etree.Element(model.clark(model.root_name), nsmap=nsmap)  # type: ignore[arg-type]
    _fill(model, root, model.root, content, model.root_name)
    return root


def _fill(model: XsdModel, el: etree._Element, info: Element, content: Any, place: Place) -> None:
    if not isinstance(content, dict):
        el.text = _text(content, place)
        return
    kids: list[tuple[int, int, str, str, Child, Any]] = []
    slots = info.slots
    for key, value in content.items():
        slot = slots.get(key)
        if slot is None:
            if key.startswith("@"):
                el.set(model.clark(key[1:], attribute=True), _text(value, (place, key, 0)))
                continue
            if key == TEXT:
                el.text = _text(value, place)
                continue
            tag = model.clark(key)
            child = info.children.get(tag)
            if child is None:
                raise XmlValueError(f"{_spell(place)}: {info.name} has no element {key!r}")
            slot = slots[key] = (tag, child)
        tag, child = slot
        if isinstance(value, list):
            for i, item in enumerate(value):
                kids.append((child.order, i, key, tag, child, item))
        else:
            kids.append((child.order, 0, key, tag, child, value))
    if len(kids) > 1:
        kids.sort(key=lambda k: (k[0], k[1]))
    for _, i, key, tag, child, item in kids:
        sub = etree.SubElement(el, tag)
        here = (place, key, i + 1 if child.repeats else 0)
        if isinstance(item, dict):
            _fill(model, sub, child.element, item, here)
        else:  # a leaf's text, without a call per leaf
            sub.text = _text(item, here)


def read(model: XsdModel, root: etree._Element) -> dict[str, Any]:
    """A parsed document back in the convention (the root's content): lists where the XSD repeats."""
    out = _read(model, root, model.root)
    return out if isinstance(out, dict) else {}


def _read(model: XsdModel, el: etree._Element, info: Element | None) -> Any:
    kids = [c for c in el if isinstance(c.tag, str)]
    if info is None or (info.leaf and not kids):
        return el.text or ""
    out: dict[str, Any] = {f"@{model.prefixed(str(k))}": v for k, v in el.attrib.items()}
    if info.text and el.text:
        out[TEXT] = el.text
    for c in kids:
        tag = str(c.tag)
        child = info.children.get(tag)
        key = model.prefixed(tag)
        value = _read(model, c, child.element if child else None)
        if child is not None and child.repeats:
            out.setdefault(key, []).append(value)
        else:
            out[key] = value
    return out


def serialise(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


# --- a target: mapping set + schema -----------------------------------------------------------------


class Document(BaseModel):
    """Values of the document itself that mappings may use as ``document.<name>``."""

    created: str
    # The criteria sides as lists, for a ``where: "sec.side in document.inclusion"`` view
    inclusion: list[str] = ["inclusion"]
    exclusion: list[str] = ["exclusion"]


@dataclass(frozen=True)
class DocumentSpec:
    root: str
    namespaces: dict[str, str]
    created_from: list[str]


def _datetime(date: str) -> str:
    """A registry date (``2024``, ``2024-05``, ``2024-05-17``) as an xs:dateTime at its start."""
    parts = [*date.split("-"), "01", "01"][:3]
    return f"{'-'.join(parts)}T00:00:00"


class XmlTarget:
    """One XML target (the ``targets.Target`` protocol): its mappings (``mappings/<name>/``), its
    XSD, and the trip both ways. The document is the lxml root element: built, validated and
    serialised once; ``parse`` reads written bytes back for the round trip and ``validate``."""

    def __init__(self, name: str, description: str, xsd: XsdSource, root: Path = MAPPINGS) -> None:
        self.name, self.description, self.xsd = name, description, xsd
        self.suffix = f"{name}.xml"
        self.folder, self.mappings_root = root / name, root

    @cached_property
    def spec(self) -> DocumentSpec:
        index = yaml.safe_load((self.folder / "index.yaml").read_text(encoding="utf-8"))
        doc = index["document"]
        spec = DocumentSpec(str(doc["root"]), {str(k): str(v) for k, v in doc["namespaces"].items()},
                            [str(p) for p in doc.get("created_from", [])])
        for p in spec.created_from:
            try:
                source_type(p, {})
            except KeyError:
                raise MappingError(str(self.folder / "index.yaml"), "document.created_from",
                                   f"{p!r} is not a Trial path") from None
        return spec

    @cached_property
    def model(self) -> XsdModel:
        top, redirects = self.xsd.paths()
        return XsdModel(top, redirects, self.spec.root, self.spec.namespaces)

    @cached_property
    def schema(self) -> etree.XMLSchema:
        return load_xsd(self.xsd)

    def mapping_set(self) -> MappingSet:
        return load_target(self.name, self.mappings_root, self.model)

    # --- the Target protocol
    def ready(self) -> None:
        """Raises SchemaNotInstalledError (a TargetNotReady) when the XSD is not there."""
        self.schema  # noqa: B018 - compiling it is the check

    def build(self, trial: Trial) -> etree._Element:
        return build(self.model, self.document(trial))

    def validate(self, doc: etree._Element) -> list[Problem]:
        return [Problem("", _place(i), i.message) for i in validate_tree(self.schema, doc)]

    def serialise(self, doc: etree._Element) -> bytes:
        return serialise(doc)

    def parse(self, data: bytes, file: str) -> etree._Element:
        try:
            return parse_file(data)
        except etree.XMLSyntaxError as exc:
            line, col = exc.position
            raise RecordError(file, f"line {line}, column {col}", f"not well-formed XML: {exc.msg}") from None

    def reverse(self, doc: etree._Element) -> dict[str, Any]:
        """Trial data (without ``source``) rebuilt from a document: the mappings in reverse."""
        content = read(self.model, doc)
        out: dict[str, Any] = {}
        scope = {ROOT: out}
        ctx = Context(self.mapping_set().codes)
        for m in self.mapping_set().mappings:
            place = self._place(content, m.resource, create=False)
            if place is not None:
                absorb(m.rules, place, scope, ctx)
        return out

    def losses(self) -> list[Loss]:
        return self.mapping_set().losses

    def sniff(self, head: bytes) -> bool:
        """This target's document: its root element in its namespace (read from the first tag)."""
        m = _ROOT_TAG.search(head)
        if m is None or m.group(2).decode("utf-8", "replace") != self.spec.root:
            return False
        xmlns = b"xmlns" + (b":" + m.group(1)[:-1] if m.group(1) else b"")
        declared = re.search(re.escape(xmlns) + rb"""\s*=\s*["']([^"']*)["']""", m.group(3))
        return (declared.group(1).decode() if declared else "") == self.spec.namespaces.get("", "")

    # --- the document
    def document(self, trial: Trial) -> dict[str, Any]:
        """The document (the root's content) the mappings describe for this trial."""
        data = trial.model_dump(mode="json")
        created = next((v for p in self.spec.created_from if (v := paths.get({ROOT: data}, p))), None)
        document = Document(created=_datetime(created) if created else EPOCH).model_dump()
        scope = {ROOT: data, "document": document}
        ctx = Context(self.mapping_set().codes)
        content: dict[str, Any] = {}
        for m in self.mapping_set().mappings:
            if m.when is not None and not paths.get(scope, m.when):
                continue
            body = emit(m.rules, scope, ctx)
            if not body:  # an element with nothing in it is not written (the XSD may need content)
                continue
            place = self._place(content, m.resource, create=True)
            assert place is not None
            for key, value in body.items():
                if key in place:
                    raise MappingError(m.file, f"rules.{key}", f"{m.resource}/{key} is written by another mapping too")
                place[key] = value
        return content

    def _place(self, content: dict[str, Any], path: str, create: bool) -> dict[str, Any] | None:
        """The content of the element at ``path`` (first item where it repeats)."""
        info = self.model.root
        here: Any = content
        for part in path.split("/")[1:]:
            child = info.children[self.model.clark(part)]
            nxt = here.get(part)
            if nxt is None:
                if not create:
                    return None
                nxt = here[part] = [{}] if child.repeats else {}
            here = nxt[0] if isinstance(nxt, list) else nxt
            info = child.element
        return here if isinstance(here, dict) else None


# The first start tag after the prolog: (prefix:)(local name)(attributes)
_ROOT_TAG = re.compile(rb"<(?![?!])([A-Za-z_][\w.-]*:)?([A-Za-z_][\w.-]*)((?:\s[^>]*)?)>", re.DOTALL)


def _place(issue: XsdIssue) -> str:
    return ": ".join(([f"line {issue.line}"] if issue.line else []) + ([issue.path] if issue.path else []))


__all__ = ["XmlTarget", "XmlValueError", "XsdModel", "build", "read", "serialise"]
