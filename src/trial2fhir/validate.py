"""validate: check written files against their published schema: FHIR JSON (a Bundle, one resource,
or NDJSON) or an XML target's document (told by its root element and namespace)."""

from __future__ import annotations

from pathlib import Path

import orjson

from trial2fhir.validation.fhir import locate_schema, validate_bundle, validate_resource


def validate_file(path: Path) -> list[str]:
    """Every problem in one file, as ``file: resource: path: message`` lines; [] when valid."""
    name = str(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        return [f"{name}: cannot read: {exc.strerror or exc}"]
    if data.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<"):
        from trial2fhir.targets import XML_TARGETS
        from trial2fhir.targets.xml import validate_xml

        return validate_xml(name, data, list(XML_TARGETS.values()))
    locate_schema("R5")  # FileNotFoundError naming the install command, before any file is judged
    docs: list[tuple[str, object]] = []
    try:
        if path.suffix in {".ndjson", ".jsonl"}:
            docs = [(f"line {i}", orjson.loads(line)) for i, line in enumerate(data.splitlines(), 1) if line.strip()]
        else:
            docs = [("", orjson.loads(data))]
    except orjson.JSONDecodeError as exc:
        return [f"{name}: line {exc.lineno}, column {exc.colno}: invalid JSON: {exc.msg}"]
    problems = []
    for place, doc in docs:
        if isinstance(doc, dict) and doc.get("resourceType") == "Bundle":
            issues = validate_bundle(doc)
        else:
            issues = validate_resource(doc)
        prefix = f"{name}: {place}: " if place else f"{name}: "
        problems += [prefix + str(issue) for issue in issues]
    return problems
