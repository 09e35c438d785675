"""The two engine additions the PRS mapping needs: ``contains`` flags and fixed list positions.

Their README examples (mappings/README.md) name PRS elements, so they run here, forward and back.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from trial2fhir.mapping.codes import load_code_maps
from trial2fhir.mapping.directives import Context
from trial2fhir.mapping.engine import absorb, emit
from trial2fhir.mapping.load import MAPPINGS, MappingError, _Checker, source_type
from trial2fhir.mapping.paths import ROOT, get, put
from trial2fhir.model import Trial

CODES = load_code_maps(MAPPINGS / "codes")
README = (MAPPINGS / "README.md").read_text()


def _example(heading: str) -> dict[str, Any]:
    section = README[README.index(heading):]
    return yaml.safe_load(re.search(r"```yaml\n(.*?)```", section, re.DOTALL).group(1))  # type: ignore[union-attr]


@pytest.mark.parametrize("heading", ["### `contains`", "### A fixed position in a list"])
def test_readme_example_runs_both_ways(heading: str) -> None:
    example = _example(heading)
    trial = Trial.model_validate({"source": {"format": "trial-json", "file": "x"}, **example["trial"]})
    data = trial.model_dump(mode="json")
    out = emit(example["rules"], {ROOT: data}, Context(CODES))
    assert out == example["output"]
    back: dict[str, Any] = {"identification": {"nct_id": trial.nct_id}}
    absorb(example["rules"], out, {ROOT: back}, Context(CODES))
    assert Trial.model_validate({"source": data["source"], **back}) == trial


def test_contains_on_an_empty_list_writes_nothing() -> None:
    rules = {"masked_subject": {"from": "design.who_masked", "contains": "PARTICIPANT", "lookup": "prs-yes-no"}}
    assert emit(rules, {ROOT: {"design": {"who_masked": []}}}, Context(CODES)) is None


def test_contains_needs_a_list_path() -> None:
    check = _Checker("x.yaml", CODES)
    with pytest.raises(MappingError, match=r"'design\.masking' is not a list on Trial"):
        check.directive("rules.x", {"from": "design.masking", "contains": "NONE"}, None, {})


def test_a_fixed_position_is_a_trial_path_and_reads_past_the_end_as_nothing() -> None:
    assert source_type("central_contacts.1.email", {})[1] is False
    assert get({ROOT: {"central_contacts": [{"name": "A"}]}}, "central_contacts.1.name") is None


def test_putting_at_a_later_position_pads_the_list() -> None:
    data: dict[str, Any] = {}
    put({ROOT: data}, "central_contacts.1.name", "B")
    put({ROOT: data}, "central_contacts.0.name", "A")
    assert data == {"central_contacts": [{"name": "A"}, {"name": "B"}]}
