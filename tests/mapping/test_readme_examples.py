"""Every directive example in mappings/README.md runs: forward gives its output, reverse its trial."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from trial2fhir.mapping.codes import load_code_maps
from trial2fhir.mapping.directives import Context
from trial2fhir.mapping.engine import absorb, emit
from trial2fhir.mapping.fragments import Fragment, Library, expand
from trial2fhir.mapping.load import MAPPINGS, _Checker, fhir_class
from trial2fhir.mapping.paths import ROOT
from trial2fhir.model import Trial

README = MAPPINGS / "README.md"
BLOCK = re.compile(r"```yaml example( one-way)?\n(.*?)```", re.DOTALL)
EXAMPLES = [(bool(m.group(1)), yaml.safe_load(m.group(2))) for m in BLOCK.finditer(README.read_text())]
CODES = load_code_maps(MAPPINGS / "codes")
# Elements in the examples belong to these resources; the checker verifies them on the real model.
RESOURCE_OF = {"action": "PlanDefinition"}


def _library(example: dict[str, Any]) -> Library:
    fragments = {
        name: Fragment(name, "README.md", tuple(f.get("params", [])), f["body"])
        for name, f in example.get("fragments", {}).items()
    }
    return Library(example.get("define", {}), fragments)


def _resource(rules: dict[str, Any]) -> str:
    return next((RESOURCE_OF[k] for k in rules if k in RESOURCE_OF), "ResearchStudy")


def test_readme_has_an_example_per_directive() -> None:
    text = README.read_text()
    for directive in ("from", "const", "each", "lookup", "join", "cast", "when", "template", "ref", "where", "default"):
        assert f"### `{directive}`" in text
    assert any("fragments" in e for _, e in EXAMPLES), "the fragments section has a runnable example"
    assert len(EXAMPLES) >= 10


@pytest.mark.parametrize(("one_way", "example"), EXAMPLES, ids=[str(i) for i in range(len(EXAMPLES))])
def test_readme_example(one_way: bool, example: dict[str, Any]) -> None:
    trial = Trial.model_validate({"source": {"format": "trial-json", "file": "x"}, **example["trial"]})
    lib = _library(example)
    rules = expand(example["rules"], lib, lib.defines, "README.md")  # what loading a mapping does
    model = fhir_class(_resource(rules))
    assert model is not None
    _Checker("README.md", CODES).node("rules", rules, model, {})  # the example passes the load check
    data = trial.model_dump(mode="json")
    out = emit(rules, {ROOT: data}, Context(CODES))
    if "ref" in str(rules):
        # a urn:uuid is a hash: check its shape, not the README's illustrative value
        assert re.fullmatch(r"urn:uuid:[0-9a-f-]{36}", out["protocol"][0]["reference"])
    else:
        assert out == example["output"]
    if one_way:
        return
    back: dict[str, Any] = {}
    absorb(rules, out, {ROOT: back}, Context(CODES))
    back.setdefault("identification", {}).setdefault("nct_id", trial.nct_id)  # not every example maps it
    rebuilt = Trial.model_validate({"source": data["source"], **back})
    assert rebuilt == trial
