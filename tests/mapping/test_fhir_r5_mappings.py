"""FHIR R5 mappings: every trial (5 samples + the real records of ../shared) goes to resources and back.

Checks per trial: each resource validates (fhir.resources R5 model, plus HL7's JSON Schema when the
validator is available), the round trip gives the original trial back except for declared losses,
every ``urn:uuid:`` reference resolves inside the bundle, and resource ids are unique FHIR ids.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from fhir.resources import get_fhir_model_class

from tests.conftest import SAMPLES, shared_files
from trial2fhir.errors import RecordError
from trial2fhir.mapping import paths
from trial2fhir.mapping.load import MappingSet, load_target
from trial2fhir.mapping.paths import ROOT, Holder
from trial2fhir.mapping.resources import Written, forward, reverse
from trial2fhir.model import Trial
from trial2fhir.sources import InputFile, read_input

# Lists nested in a loop item (``each: arm.intervention_names`` inside ``each: arms``): the engine's
# ``paths.get`` does not look inside the Holder of the item being rebuilt, so ``paths.append`` starts
# a new list for every element and only the last survives. Until that is fixed in
# src/trial2fhir/mapping/paths.py, differences under these paths make a trial xfail, not pass.
NESTED_LISTS = ("arms[].intervention_names", "interventions[].arm_labels", "interventions[].other_names",
                "locations[].contacts")
FHIR_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
INDEX = re.compile(r"\[\d+\]")

INPUTS = sorted(SAMPLES.glob("*.txt")) + shared_files("NCT*")


def _trials(path: Path) -> list[Trial]:
    out = []
    for result in read_input(InputFile(str(path), path=path)):
        if isinstance(result, RecordError):
            pytest.fail(str(result))
        out.append(result)
    return out


@pytest.fixture(scope="module")
def mappings() -> MappingSet:
    load_target.cache_clear()
    return load_target("fhir-r5")


def _schema_validator() -> Any:
    try:
        from trial2fhir.validation.fhir import FhirValidator
    except ImportError:
        return None
    try:
        return FhirValidator.for_release("R5")
    except FileNotFoundError:
        return None


def diffs(a: Any, b: Any, path: str = "") -> Iterator[str]:
    """Paths (``arms[2].type``) where two JSON values differ; a longer/shorter list differs per index."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            yield from diffs(a.get(key), b.get(key), f"{path}.{key}" if path else key)
    elif isinstance(a, list) and isinstance(b, list):
        for i in range(max(len(a), len(b))):
            yield from diffs(a[i] if i < len(a) else None, b[i] if i < len(b) else None, f"{path}[{i}]")
    elif a != b:
        yield path


def declared(path: str, losses: set[str]) -> bool:
    generic = INDEX.sub("[]", path)
    return any(generic == loss or generic.startswith(loss + ".") or generic.startswith(loss + "[")
               for loss in losses)


def references(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "reference" and isinstance(value, str):
                yield value
            else:
                yield from references(value)
    elif isinstance(node, list):
        for item in node:
            yield from references(item)


def engine_restores_nested_lists() -> bool:
    holder = Holder()
    scope = {ROOT: {}, "item": holder}
    paths.append(scope, "item.names", "a")
    paths.append(scope, "item.names", "b")
    return bool(holder.value == {"names": ["a", "b"]})


def round_trip(ms: MappingSet, trial: Trial) -> tuple[list[Written], Trial]:
    written = forward(ms, trial)
    data = reverse(ms, {w.full_url: w.resource for w in written})
    return written, Trial.model_validate({**data, "source": trial.source.model_dump()})


def test_index_lists_every_mapping_file(mappings: MappingSet) -> None:
    folder = Path(mappings.mappings[0].file).parent
    files = {Path(m.file).name for m in mappings.mappings}
    index = yaml.safe_load((folder / "index.yaml").read_text())
    assert files == {p.name for p in folder.glob("*.yaml")} - {"index.yaml", *index.get("fragments", [])}
    assert mappings.mappings[0].resource == "ResearchStudy"


def test_losses_say_why(mappings: MappingSet) -> None:
    for loss in mappings.losses:
        assert len(loss.why) > 10, loss


@pytest.mark.parametrize("path", INPUTS, ids=lambda p: p.name)
def test_round_trip(path: Path, mappings: MappingSet) -> None:
    trials = _trials(path)
    assert trials
    validator = _schema_validator()
    losses = {loss.path for loss in mappings.losses}
    for trial in trials:
        written, back = round_trip(mappings, trial)

        ids = [f"{w.resource['resourceType']}/{w.id}" for w in written]
        assert len(ids) == len(set(ids)), "duplicate resource ids"
        assert all(FHIR_ID.match(w.id) for w in written), ids
        urls = {w.full_url for w in written}
        assert len(urls) == len(written)

        for w in written:
            rt = w.resource["resourceType"]
            get_fhir_model_class(rt).model_validate(w.resource)
            if validator is not None:
                issues = validator.validate(w.resource)
                assert not issues, "\n".join(map(str, issues))
            dangling = [r for r in references(w.resource) if r.startswith("urn:uuid:") and r not in urls]
            assert not dangling, f"{rt}/{w.id}: unresolved {dangling}"

        before = trial.model_dump(mode="json")
        after = back.model_dump(mode="json")
        lost = [p for p in diffs(before, after) if not declared(p, losses)]
        if lost and not engine_restores_nested_lists() and all(declared(p, set(NESTED_LISTS)) for p in lost):
            pytest.xfail(f"{trial.nct_id}: engine drops nested list items (paths.get vs Holder): {lost[:5]}")
        assert not lost, f"{trial.nct_id}: undeclared differences: {lost[:20]}"
