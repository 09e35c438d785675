"""Load mapping files and check them before any trial flows: structure, then both ends' paths.

Layer 1 is the mapping language's own JSON Schema (``schemas/mapping.schema.json``); layer 2
checks each directive's keys, that every source path exists on ``Trial`` and that every target
element exists in the target's model: the fhir.resources model for FHIR, or the model a target
passes in (``TargetModel``: an XSD's elements for the XML targets). Errors name the file, the
rule path and the value.
"""

from __future__ import annotations

import importlib
import re
import types
import typing
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Protocol

import jsonschema
import jsonschema.exceptions
import yaml
from pydantic import BaseModel

from trial2fhir import __version__
from trial2fhir.mapping.codes import CodeMap, NameSet, load_code_maps, load_name_sets
from trial2fhir.mapping.directives import (
    _WHERE,
    CASTS,
    DIRECTIVE_KEYS,
    FORWARD_ONLY_CASTS,
    VALUE_KEYS,
    is_directive,
    parse_matches,
    parse_when,
    template_fields,
)
from trial2fhir.mapping.fragments import FragmentError, Library, expand, load_library
from trial2fhir.mapping.identity import IdentitySpec, parse_spec
from trial2fhir.model import Trial
from trial2fhir.packaged import data_path

MAPPINGS = data_path("mappings")  # the installed package's copy, else the checkout's
MAPPING_SCHEMA = data_path("schemas", "mapping.schema.json")


class MappingError(ValueError):
    def __init__(self, file: str, rule: str, message: str) -> None:
        super().__init__(f"{file}: {rule or '(top)'}: {message}")
        self.file, self.rule = file, rule


@dataclass
class Loss:
    path: str
    why: str


@dataclass
class Mapping:
    name: str
    file: str
    resource: str
    rules: dict[str, Any]
    id: str
    each: str | None = None
    var: str = "item"
    when: str | None = None
    losses: list[Loss] = field(default_factory=list)
    identity: IdentitySpec | None = None
    within: tuple[str, str] | None = None  # (outer list path, its loop variable): each is inside its items


# --- source side: the Trial model --------------------------------------------------------------


def _unwrap(annotation: Any) -> tuple[Any, bool]:
    """(inner type, is_list) of an annotation such as ``list[Arm]`` or ``Age | None``."""
    is_list = False
    while True:
        origin = typing.get_origin(annotation)
        if origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            annotation = args[0]
        elif origin is list:
            is_list, annotation = True, typing.get_args(annotation)[0]
        elif origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        else:
            return annotation, is_list


@cache
def _hints(model: type[BaseModel]) -> dict[str, Any]:
    return typing.get_type_hints(model, include_extras=True)


def source_type(
    path: str, variables: dict[str, tuple[Any, bool]], cross_lists: bool = False
) -> tuple[Any, bool]:
    """The type at a Trial path (loop variables bound to their item types); KeyError if absent."""
    parts = path.split(".")
    if parts[0] in variables:
        current, is_list = variables[parts[0]]
        parts = parts[1:]
    else:
        current, is_list = Trial, False
    for part in parts:
        if is_list and part.isdigit():  # a fixed position in a list (``central_contacts.1``)
            is_list = False
            continue
        if is_list and part.endswith(":") and part[:-1].isdigit():  # the rest from a position: a list
            continue
        if (is_list and not cross_lists) or not (isinstance(current, type) and issubclass(current, BaseModel)):
            raise KeyError(part)
        if part not in current.model_fields:
            raise KeyError(part)
        # Resolved hints, not the field's annotation: a model used before its class is defined
        # (Status.expanded_access) keeps a ForwardRef there until pydantic rebuilds it.
        current, is_list = _unwrap(_hints(current)[part])
    return current, is_list


# --- target side: the fhir.resources model -------------------------------------------------------

_ABC = re.compile(r"abc\.(\w+)Type\b")


# The fhir.resources package of each FHIR release a mapping file may name in ``target.release``.
FHIR_PACKAGES = {"R5": "fhir.resources", "R4B": "fhir.resources.R4B"}


@cache
def fhir_class(name: str, module: str | None = None) -> type[BaseModel] | None:
    """The model class ``name`` of the release ``module`` belongs to (R5 when no module is given)."""
    package = module.rsplit(".", 1)[0] if module else FHIR_PACKAGES["R5"]
    for mod in filter(None, (module, f"{package}.{name.lower()}")):
        try:
            cls = getattr(importlib.import_module(mod), name, None)
        except ImportError:
            continue
        if isinstance(cls, type) and issubclass(cls, BaseModel):
            return cls
    return None


def target_child(model: type[BaseModel], element: str) -> tuple[type[BaseModel] | None, bool]:
    """(model of the element or None for a primitive, is_array); KeyError if no such element."""
    info = model.model_fields.get(element)
    if info is None or element.endswith("__ext") or element == "fhir_comments":
        raise KeyError(element)
    text = str(info.annotation)
    m = _ABC.search(text)
    return (fhir_class(m.group(1), model.__module__) if m else None), "List[" in text or "list[" in text


class TargetModel(Protocol):
    """The target standard's element model, as the load check walks it."""

    strict_arrays: bool  # a repeating element must be written as a list (XML), or need not be (FHIR)
    variables: dict[str, tuple[Any, bool]]  # scope names besides the Trial's: name -> (model, is_list)

    def resolve(self, target: dict[str, Any]) -> Any | None:
        """The model of the mapping's ``target.resource``; None if the standard has no such thing."""

    def child(self, node: Any, key: str) -> tuple[Any | None, bool]:
        """(model of the element or None for a value, repeats); KeyError if no such element."""

    def describe(self, node: Any) -> str: ...


class FhirModel:
    strict_arrays = False
    variables: dict[str, tuple[Any, bool]] = {}  # noqa: RUF012 - read only

    def resolve(self, target: dict[str, Any]) -> type[BaseModel] | None:
        package = FHIR_PACKAGES.get(str(target.get("release", "R5")), FHIR_PACKAGES["R5"])
        return fhir_class(str(target["resource"]), f"{package}.{str(target['resource']).lower()}")

    def child(self, node: type[BaseModel], key: str) -> tuple[type[BaseModel] | None, bool]:
        return target_child(node, key)

    def describe(self, node: type[BaseModel]) -> str:
        return node.__name__


FHIR = FhirModel()


# --- the checks -----------------------------------------------------------------------------------


class _Checker:
    def __init__(
        self, file: str, codes: dict[str, CodeMap], target: TargetModel = FHIR, sets: dict[str, NameSet] | None = None
    ) -> None:
        self.file, self.codes, self.target = file, codes, target
        self.sets = sets if sets is not None else load_name_sets(MAPPINGS / "codes")

    def when(self, rule: str, expr: Any, variables: dict[str, tuple[Any, bool]]) -> None:
        """A ``when``'s path exists; a ``matches`` names a known name set, whose ``=`` paths exist."""
        self.source(rule, parse_when(str(expr))[0], variables)
        matching = parse_matches(str(expr))
        if matching is None:
            return
        name_set = self.sets.get(matching[1])
        if name_set is None:
            self.fail(rule, f"unknown name set {matching[1]!r} in {expr!r} (have: {', '.join(sorted(self.sets))})")
        for template in name_set.equal_to:
            for name in template_fields(template):
                self.source(f"{rule} ({name_set.file})", name, {})

    def fail(self, rule: str, message: str) -> typing.NoReturn:
        raise MappingError(self.file, rule, message)

    def source(self, rule: str, path: Any, variables: dict[str, tuple[Any, bool]]) -> tuple[Any, bool]:
        if not isinstance(path, str):
            self.fail(rule, f"a path must be a string, got {path!r}")
        try:
            return source_type(path, variables)
        except KeyError as exc:
            self.fail(rule, f"source path {path!r} does not exist on Trial (no {exc.args[0]!r})")

    def node(self, rule: str, node: Any, model: Any | None, variables: dict[str, Any]) -> None:
        if isinstance(node, list):
            for i, child in enumerate(node):
                self.node(f"{rule}[{i}]", child, model, variables)
        elif is_directive(node):
            self.directive(rule, node, model, variables)
        elif isinstance(node, dict):
            if model is None:
                self.fail(rule, "a primitive element cannot hold an object; use a directive (from/const/...)")
            for key, child in node.items():
                try:
                    child_model, repeats = self.target.child(model, key)
                except KeyError:
                    self.fail(f"{rule}.{key}", f"{self.target.describe(model)} has no element {key!r}")
                if self.target.strict_arrays:
                    self.arrays(f"{rule}.{key}", child, repeats)
                self.node(f"{rule}.{key}", child, child_model, variables)
        else:
            self.fail(rule, f"bare value {node!r}: write {{const: {node!r}}} for a literal or {{from: path}}")

    def arrays(self, rule: str, node: Any, repeats: bool) -> None:
        """A repeating element is a list (or an ``each``), so that it reads back as one."""
        many = isinstance(node, list) or (is_directive(node) and "each" in node)
        if repeats and not many:
            self.fail(rule, "this element repeats: write it as a list")
        if many and not repeats:
            self.fail(rule, "this element does not repeat: write one item, not a list")

    def directive(
        self, rule: str, node: dict[str, Any], model: Any | None, variables: dict[str, Any]
    ) -> None:
        unknown = [k for k in node if k not in DIRECTIVE_KEYS]
        if unknown:
            self.fail(rule, f"unknown directive {unknown[0]!r} (known: {', '.join(sorted(DIRECTIVE_KEYS))})")
        values = [k for k in VALUE_KEYS if k in node]
        if values not in (["each", "rules"], ["rules"]) and len(values) != 1:
            self.fail(rule, f"a directive takes exactly one of {', '.join(VALUE_KEYS)}; got {values or 'none'}")
        if "when" in node:
            self.when(f"{rule}.when", node["when"], variables)
        if "escape" in node and ("template" not in node or node.get("invert") is not False):
            self.fail(f"{rule}.escape", "'escape: xhtml' goes with 'template' in a view (invert: false)")
        if "pick" in node and (node["pick"] != "display" or "lookup" not in node):
            self.fail(f"{rule}.pick", "'pick: display' goes with 'lookup' (the code map's display for the code)")
        if "lookup" in node and node["lookup"] not in self.codes:
            self.fail(f"{rule}.lookup", f"unknown code map {node['lookup']!r} (have: {', '.join(sorted(self.codes))})")
        if "cast" in node and node["cast"] not in CASTS:
            self.fail(f"{rule}.cast", f"unknown cast {node['cast']!r}")
        if node.get("cast") in FORWARD_ONLY_CASTS and node.get("invert") is not False:
            self.fail(f"{rule}.cast", f"'cast: {node['cast']}' gives a value the data cannot be read back from: "
                      "add 'invert: false'")
        if ("as" in node or "where" in node or "distinct" in node) and "each" not in node:
            self.fail(rule, "'as', 'where' and 'distinct' go with 'each'")
        if "distinct" in node and (node["distinct"] is not True or node.get("invert") is not False):
            self.fail(f"{rule}.distinct", "'distinct: true' drops repeated items, which cannot be read back: "
                      "add 'invert: false'")
        if "default" in node and ("from" not in node or node.get("invert") is not False):
            self.fail(f"{rule}.default", "'default' goes with 'from' in a view of data held elsewhere: "
                      "add 'invert: false'")
        if "where" in node and node.get("invert") is not False:
            self.fail(f"{rule}.where", "a filtered 'each' is a view of data held elsewhere: add 'invert: false'")
        kind = values[0]
        if "contains" in node and kind != "from":
            self.fail(f"{rule}.contains", "'contains' goes with 'from' (a list of codes)")
        if isinstance(node.get("default"), str):
            for name in template_fields(node["default"]):
                self.source(f"{rule}.default", name, variables)
        if kind == "from":
            _, is_list = self.source(f"{rule}.from", node["from"], variables)
            if "contains" in node and not is_list:
                self.fail(f"{rule}.contains", f"{node['from']!r} is not a list on Trial")
        elif kind in ("template", "ref"):
            for name in template_fields(str(node[kind])):
                if name.startswith("#"):
                    if name[1:] not in variables:
                        self.fail(f"{rule}.{kind}", f"{{{name}}} names no loop variable")
                else:
                    self.source(f"{rule}.{kind}", name, variables)
        elif kind == "each":
            item_type, is_list = self.source(f"{rule}.each", node["each"], variables)
            if not is_list:
                self.fail(f"{rule}.each", f"{node['each']!r} is not a list on Trial")
            inner = {**variables, node.get("as", "item"): (item_type, False)}
            if "where" in node:
                m = _WHERE.match(str(node["where"]))
                if not m:
                    self.fail(f"{rule}.where", f"expected 'PATH in LIST_PATH' or 'PATH = PATH', got {node['where']!r}")
                self.source(f"{rule}.where", m.group(1), inner)
                self.source(f"{rule}.where", m.group(3), inner)
            self.node(f"{rule}.rules", node["rules"], model, inner)
        elif kind == "rules":
            self.node(f"{rule}.rules", node["rules"], model, variables)


@cache
def _schema() -> dict[str, Any]:
    import json

    return typing.cast(dict[str, Any], json.loads(MAPPING_SCHEMA.read_text(encoding="utf-8")))


def _validate(file: str, doc: Any, definition: str | None = None) -> None:
    """Layer 1: the mapping language's JSON Schema (a whole mapping file, or one of its ``$defs``)."""
    schema = _schema() if definition is None else {"$defs": _schema()["$defs"], "$ref": f"#/$defs/{definition}"}
    error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(schema).iter_errors(doc))
    if error is not None:
        message = error.message if len(error.message) < 300 else error.message[:300] + "..."
        raise MappingError(file, ".".join(str(p) for p in error.absolute_path), message)


def _read_yaml(file: str, path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise MappingError(file, "", f"not YAML: {exc}") from None


def load_mapping(
    path: Path,
    codes: dict[str, CodeMap],
    library: Library | None = None,
    params: dict[str, Any] | None = None,
    target: TargetModel = FHIR,
) -> Mapping:
    """Load and check one mapping file; MappingError names the file, the rule and the value.

    Fragments (``use``, ``${name}``) are expanded first, with ``params`` when the index loads this
    file with ``with``; the expanded document is what both check layers and the engine see.
    """
    # Errors name the instance (a file loaded with ``with``); the Mapping keeps the file's own path.
    file = str(path) if not params else f"{path} (with {', '.join(f'{k}={v}' for k, v in params.items())})"
    doc = _read_yaml(file, path)
    library = library or Library()
    try:
        doc = expand(doc, library, {**library.defines, **(params or {})}, file)
    except FragmentError as exc:
        raise MappingError(file, exc.rule, exc.message) from None
    error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(_schema()).iter_errors(doc))
    if error is not None:
        # The schema's verdict comes first; where the rule-level check can name the rule more
        # precisely (oneOf messages are vague), its message is the one shown.
        try:
            _check_document(file, doc, codes, target)  # the file's own target: an XML one too
        except MappingError:
            raise
        except Exception:
            pass
        _validate(file, doc)
    check = _check_document(file, doc, codes, target)
    losses = [Loss(str(x["path"]), str(x["why"])) for x in doc.get("losses", [])]
    for i, loss in enumerate(losses):
        try:
            source_type(loss.path.replace("[]", ""), {}, cross_lists=True)
        except KeyError:
            check.fail(f"losses[{i}]", f"declared loss {loss.path!r} is not a Trial path")
    return Mapping(
        name=doc["mapping"], file=str(path), resource=doc["target"]["resource"], rules=doc["rules"],
        id=doc.get("id", ""),
        each=doc.get("each"), var=doc.get("as", "item"), when=doc.get("when"), losses=losses,
        identity=parse_spec(doc.get("identity")),
        within=(doc["within"]["each"], doc["within"]["as"]) if "within" in doc else None,
    )


def _check_document(
    file: str,
    doc: Any,
    codes: dict[str, CodeMap] | None = None,
    target_model: TargetModel = FHIR,
) -> _Checker:
    target = doc["target"]
    model = target_model.resolve(target)
    if model is None:
        raise MappingError(file, "target.resource", f"unknown {target['release']} resource {target['resource']!r}")
    check = _Checker(file, codes if codes is not None else load_code_maps(MAPPINGS / "codes"), target_model)
    variables: dict[str, Any] = dict(target_model.variables)  # names the target binds (``document``)
    if "within" in doc:
        item_type, is_list = check.source("within.each", doc["within"]["each"], {})
        if not is_list:
            check.fail("within.each", f"{doc['within']['each']!r} is not a list on Trial")
        variables[doc["within"]["as"]] = (item_type, False)
    if "each" in doc:
        item_type, is_list = check.source("each", doc["each"], variables)
        if not is_list:
            check.fail("each", f"{doc['each']!r} is not a list on Trial")
        variables[doc.get("as", "item")] = (item_type, False)
    if "when" in doc:
        check.when("when", doc["when"], variables)
    if "id" in doc:
        check.directive("id", {"template": doc["id"]}, None, variables)
    identity = doc.get("identity") or {}
    for i, alternative in enumerate(identity.get("key", [])):
        for j, part in enumerate(alternative):
            check.directive(f"identity.key[{i}][{j}]", {"template": part}, None, variables)
    if "value" in identity:
        check.directive("identity.value", {"template": identity["value"]}, None, variables)
    check.node("rules", doc["rules"], model, variables)
    return check


@dataclass
class MappingSet:
    """All mappings of one target (in bundle order) with the code maps they use."""

    target: str
    mappings: list[Mapping]
    codes: dict[str, CodeMap]
    sets: dict[str, NameSet] = field(default_factory=dict)  # name sets for ``when: "PATH matches SET"``

    @property
    def losses(self) -> list[Loss]:
        return [loss for m in self.mappings for loss in m.losses]


def load_fragments(folder: Path, names: list[str]) -> Library:
    """The fragment files an index names (paths relative to its folder), each checked by the schema."""
    files = [folder / name for name in names]
    for path in files:
        if not path.is_file():
            raise MappingError(str(folder / "index.yaml"), "fragments", f"no fragment file {str(path)!r}")
        _validate(str(path), _read_yaml(str(path), path), "fragmentFile")
    try:
        return load_library(files)
    except FragmentError as exc:
        raise MappingError(exc.file, exc.rule, exc.message) from None


@cache
def load_target(target: str, root: Path = MAPPINGS, model: TargetModel = FHIR) -> MappingSet:
    """A target's mapping set, checked against its model (FHIR's, or the one a target passes in)."""
    codes = load_code_maps(root / "codes")
    folder = root / target
    index_file = folder / "index.yaml"
    index = _read_yaml(str(index_file), index_file)
    _validate(str(index_file), index, "index")
    library = load_fragments(folder, index.get("fragments", []))
    library.defines.setdefault("trial2fhir-version", __version__)  # provenance: what wrote the Bundle
    mappings = []
    for entry in index["mappings"]:
        name, params = (entry, None) if isinstance(entry, str) else (entry["file"], entry["with"])
        mappings.append(load_mapping(folder / name, codes, library, params, model))
    names = [m.name for m in mappings]
    for m in mappings:
        if names.count(m.name) > 1:
            raise MappingError(m.file, "mapping", f"mapping name {m.name!r} is used twice in {index_file}")
    return MappingSet(target, mappings, codes, load_name_sets(root / "codes"))
