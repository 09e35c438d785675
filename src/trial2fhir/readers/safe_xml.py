"""Parse one untrusted XML record: no entity expansion, no network, no DTD loading, no huge trees,
and an encoding that is what the document says it is.

Every refusal is a RecordError naming the place and what happened in the user's terms: entity
declarations, a text node over lxml's size limit, a default namespace, an encoding declaration
that contradicts the bytes (read on, it would give mojibake, not an error), invalid UTF-8.
"""

from __future__ import annotations

import codecs
import re

from lxml import etree

from trial2fhir.errors import RecordError

_ENTITY_DECL = re.compile(rb"<!ENTITY", re.IGNORECASE)
_DOCTYPE = re.compile(rb"<!DOCTYPE", re.IGNORECASE)
_DECLARED = re.compile(r"""^\ufeff?\s*<\?xml[^>]*?\bencoding\s*=\s*["']([^"']*)["']""")
_ENTITIES = "XML declares entities (DTD entity expansion is refused)"
_BOMS = (  # UTF-32 first: its little-endian mark begins with UTF-16's
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_NO_BOM = (
    (b"<\x00\x00\x00", "utf-32-le"),
    (b"\x00\x00\x00<", "utf-32-be"),
    (b"<\x00", "utf-16-le"),
    (b"\x00<", "utf-16-be"),
)


def _family(name: str) -> str:
    """``utf_16_le`` -> ``utf-16``: the code unit width that matters when comparing with the bytes."""
    name = name.replace("_", "-")
    for wide in ("utf-32", "utf-16"):
        if name.startswith(wide):
            return wide
    return name


def _bytes_encoding(data: bytes) -> tuple[str, bool]:
    """The encoding the bytes themselves show (a byte order mark or the zero bytes of ``<``), and
    whether that is certain; 8-bit text (UTF-8 or a legacy code page) shows as ``utf-8``, uncertain."""
    for bom, name in _BOMS:
        if data.startswith(bom):
            return name, True
    for head, name in _NO_BOM:
        if data.startswith(head):
            return name, True
    return "utf-8", False


def _at(data: bytes, offset: int) -> str:
    line = data.count(b"\n", 0, offset) + 1
    return f"line {line}, byte {offset}"


def check_encoding(data: bytes, file: str) -> None:
    """Refuse an encoding declaration the bytes contradict, and UTF-8 that is not UTF-8."""
    actual, certain = _bytes_encoding(data)
    m = _DECLARED.match(data[:512].decode(actual, errors="replace"))
    label = m.group(1) if m else None
    try:
        declared = codecs.lookup(label).name if label else None
    except LookupError:
        raise RecordError(file, "line 1", f"XML declares an unknown encoding {label!r}") from None
    contradiction = f"XML declares encoding {label!r} but the bytes are"
    if certain:
        if declared and _family(declared) != _family(actual):
            raise RecordError(
                file,
                "line 1",
                f"{contradiction} {_family(actual).upper()} (by their byte order mark "
                "or zero bytes): the declaration contradicts the bytes",
            )
        return
    if declared and _family(declared) in ("utf-16", "utf-32"):
        raise RecordError(
            file,
            "line 1",
            f"{contradiction} 8-bit text (no byte order mark, no zero bytes): the declaration contradicts the bytes",
        )
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        if declared in (None, "utf-8"):
            raise RecordError(file, _at(data, exc.start), f"invalid UTF-8 at byte {exc.start}") from None
        return  # not UTF-8: the declared 8-bit encoding is believable
    if declared not in (None, "utf-8") and not data.isascii():
        first = next(i for i, b in enumerate(data) if b > 0x7F)
        raise RecordError(
            file,
            _at(data, first),
            f"{contradiction} UTF-8: read as declared, its non-ASCII "
            "characters would be garbled (mojibake); the declaration contradicts the bytes",
        )


def _syntax_error(exc: etree.XMLSyntaxError, file: str) -> RecordError:
    line, column = exc.position
    reason = re.sub(r",? line \d+, column \d+$", "", (exc.msg or "").strip())
    if "XML_PARSE_HUGE" in reason:  # libxml2's own words name a flag, not what happened
        what = "a text node" if "Text node" in reason else "a value"
        return RecordError(
            file,
            f"line {line}, column {column}",
            f"{what} is larger than the XML parser's size limit (10,000,000 bytes); "
            "huge trees are refused to bound memory",
        )
    return RecordError(file, f"line {line}, column {column}", f"malformed XML: {reason}")


def parse_xml(data: bytes, file: str, root: str) -> etree._Element:
    """The root element of one XML record named ``root``; RecordError for anything refused."""
    doctype = _DOCTYPE.search(data)
    if doctype and _ENTITY_DECL.search(data, doctype.end()):
        line = data.count(b"\n", 0, doctype.start()) + 1
        raise RecordError(file, f"line {line}", _ENTITIES)
    check_encoding(data, file)
    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
        dtd_validation=False,
        remove_comments=True,
    )
    try:
        element = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise _syntax_error(exc, file) from None
    dtd = element.getroottree().docinfo.internalDTD
    if dtd is not None and any(True for _ in dtd.iterentities()):  # type: ignore[union-attr]
        raise RecordError(file, "DOCTYPE", _ENTITIES)
    name = etree.QName(element)
    if name.namespace is not None and name.localname == root:
        raise RecordError(
            file,
            f"line {element.sourceline}",
            f'XML root <{root}> has a namespace (xmlns="{name.namespace}"): ClinicalTrials.gov records have '
            "none, so no field of the record would be found",
        )
    if name.localname != root:
        raise RecordError(
            file,
            f"line {element.sourceline}",
            f"XML root <{element.tag}> is not a ClinicalTrials.gov <{root}> record",
        )
    return element
