"""No element that says nothing, in any written Bundle of either release: an element whose value is
its point (a label, an identifier, a CodeableConcept) is absent rather than written as a typed shell."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import SAMPLES, shared_files
from trial2fhir.model import Trial
from trial2fhir.sources import InputFile, read_input
from trial2fhir.targets import TARGETS
from trial2fhir.validation.fhir import locate_schema

try:
    locate_schema()
except FileNotFoundError as exc:  # pragma: no cover - depends on the machine
    pytest.skip(f"HL7 FHIR schema not installed: {exc}", allow_module_level=True)

RECORDS = sorted(SAMPLES.glob("*.txt")) + shared_files("*.json") + shared_files("*.xml")


def walk(node: Any, path: str = "$") -> Iterator[tuple[str, str, Any]]:
    """(path, key, value) for every member of every object below ``node``."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield path, key, value
            yield from walk(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from walk(value, f"{path}[{i}]")


def shells(resource: dict[str, Any]) -> list[str]:
    found = []
    for path, key, value in walk(resource):
        items = value if isinstance(value, list) else [value]
        if key == "label" and resource["resourceType"] == "ResearchStudy" and path == "$":
            found += [f"{path}.label: {item}" for item in items if not item.get("value")]
        if key == "identifier":
            found += [f"{path}.identifier: {item}" for item in items if not item.get("value")]
    return found


@pytest.mark.parametrize("target", ["fhir-r5", "fhir-r4b"])
@pytest.mark.parametrize("path", RECORDS, ids=[p.name for p in RECORDS])
def test_no_label_or_identifier_without_its_value(path: Path, target: str) -> None:
    for trial in read_input(InputFile(str(path), data=path.read_bytes())):
        assert isinstance(trial, Trial)
        doc = TARGETS[target].build(trial)
        problems = [f"{e['resource']['resourceType']}: {p}" for e in doc["entry"] for p in shells(e["resource"])]
        assert problems == []
