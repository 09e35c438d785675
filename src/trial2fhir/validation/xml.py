"""XSD validation of the XML targets: schemas located, compiled once, problems with their place.

The CDISC ODM schemas (1.3.2 and 2.0) come from the installed odmlib package; schemas that no
package ships (CDISC SDM-XML 1.0, ClinicalTrials.gov PRS) come from a schema folder named by
``TRIAL2FHIR_SCHEMA_DIR`` (laid out as ``../shared/schemas``: ``cdisc-sdm/1.0/sdm1-0-0.xsd`` ...).
A schema may redirect one of its imports to another file (SDM 1.0 imports ``ODM1-3-1.xsd``;
ODM 1.3.2 is the same namespace, and replaces it): an lxml resolver does that, no file is edited.
"""

from __future__ import annotations

import importlib.resources
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from lxml import etree

from trial2fhir.errors import TargetNotReady

SCHEMA_DIR_ENV = "TRIAL2FHIR_SCHEMA_DIR"


class SchemaNotInstalledError(TargetNotReady):
    """A published XSD is not where it should be; the message says how to provide it."""


def odmlib_schema(*parts: str) -> Path:
    """A file of the XSDs odmlib ships (``odmlib/schemas/odm/2.0/ODM.xsd`` ...)."""
    try:
        root = importlib.resources.files("odmlib")
    except ModuleNotFoundError:
        raise SchemaNotInstalledError("the odmlib package is not installed: pip install odmlib") from None
    path = Path(str(root.joinpath("schemas", *parts)))
    if not path.is_file():
        raise SchemaNotInstalledError(f"odmlib does not ship {'/'.join(parts)} (looked at {path})")
    return path


def schema_dir() -> Path:
    """The configured folder of published schemas that no package ships."""
    value = os.environ.get(SCHEMA_DIR_ENV)
    if not value:
        raise SchemaNotInstalledError(
            f"set {SCHEMA_DIR_ENV} to a folder of published schemas (e.g. the project's shared/schemas, "
            "holding cdisc-sdm/1.0/ and ctgov-prs/<version>/)"
        )
    path = Path(value).expanduser()
    if not path.is_dir():
        raise SchemaNotInstalledError(f"{SCHEMA_DIR_ENV}={value} is not a folder")
    return path


def in_schema_dir(*parts: str) -> Path:
    path = schema_dir().joinpath(*parts)
    if not path.is_file():
        raise SchemaNotInstalledError(f"{path} not found (under {SCHEMA_DIR_ENV}={os.environ.get(SCHEMA_DIR_ENV)})")
    return path


@dataclass(frozen=True)
class XsdSource:
    """Where one target's XSD is: its top file, and imports redirected by file name."""

    name: str
    locate: Callable[[], Path]
    redirects: Callable[[], dict[str, Path]] = field(default=dict)

    def paths(self) -> tuple[Path, dict[str, Path]]:
        return self.locate(), self.redirects()


class _Redirect(etree.Resolver):
    """Replaces a schemaLocation whose file name is listed (``ODM1-3-1.xsd`` -> ODM 1.3.2)."""

    def __init__(self, redirects: dict[str, Path]) -> None:
        super().__init__()
        self.redirects = redirects

    def resolve(self, system_url: str, public_id: str, context: object) -> object:  # type: ignore[override]  # noqa: ARG002
        name = system_url.replace("\\", "/").rsplit("/", 1)[-1]
        target = self.redirects.get(name)
        # lxml-stubs lack resolve_filename and the context argument lxml passes
        return None if target is None else self.resolve_filename(str(target), context)  # type: ignore[attr-defined]


def xsd_parser(redirects: dict[str, Path]) -> etree.XMLParser:
    """A parser for schema files: no network, no entities, imports redirected."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    parser.resolvers.add(_Redirect(redirects))
    return parser


@cache
def _compiled(top: Path, redirects: tuple[tuple[str, Path], ...]) -> etree.XMLSchema:
    doc = etree.parse(str(top), xsd_parser(dict(redirects)))
    return etree.XMLSchema(doc)


def load_xsd(source: XsdSource) -> etree.XMLSchema:
    """The compiled schema (once per process); SchemaNotInstalledError if it is not there."""
    top, redirects = source.paths()
    for name, path in redirects.items():  # libxml2 would skip a missing import with a warning only
        if not path.is_file():
            raise SchemaNotInstalledError(f"{source.name}: {name} is redirected to {path}, which does not exist")
    try:
        return _compiled(top, tuple(sorted(redirects.items())))
    except etree.XMLSchemaParseError as exc:
        raise SchemaNotInstalledError(f"{source.name}: {top} does not compile as XSD: {exc}") from None


@dataclass(frozen=True)
class XsdIssue:
    """One XSD problem: ``line 12: /odm:ODM/odm:Study[1]/...: message``."""

    line: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = [f"line {self.line}"] if self.line else []
        where += [self.path] if self.path else []
        return ": ".join([*where, self.message])


def validate_tree(schema: etree.XMLSchema, root: etree._Element) -> list[XsdIssue]:
    """Problems of an element tree against a compiled schema; [] when valid.

    Each issue names its element by a readable path (``/ODM/Study[1]/Description/...``); a parsed
    file adds the line, a tree built in memory has none.
    """
    if schema.validate(root):
        return []
    tree = root.getroottree()
    issues = []
    for e in schema.error_log:  # type: ignore[attr-defined]
        try:  # libxml2 names the element with the document's prefixes (prs:study_collection/...)
            found = tree.xpath(e.path, namespaces={k: v for k, v in root.nsmap.items() if k}) if e.path else []
        except etree.XPathEvalError:
            found = []
        where = element_path(found[0]) if isinstance(found, list) and found else e.path or ""
        issues.append(XsdIssue(e.line if root.sourceline else None, where, e.message))
    return issues


def element_path(el: Any) -> str:
    """``/ODM/Study[1]/MetaDataVersion[1]/Protocol``: local names, positions among same-named siblings."""
    steps = []
    while el is not None and isinstance(el.tag, str):
        parent = el.getparent()
        name = etree.QName(el).localname
        if parent is not None:
            same = [c for c in parent if c.tag == el.tag]
            name += f"[{same.index(el) + 1}]" if len(same) > 1 else ""
        steps.append(name)
        el = parent
    return "/" + "/".join(reversed(steps))


def parse_file(data: bytes) -> etree._Element:
    """Parse XML bytes safely (no entities, no network, no huge-tree surprises)."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, remove_blank_text=False)
    return etree.fromstring(data, parser)
