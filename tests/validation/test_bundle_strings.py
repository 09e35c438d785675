"""Bundle invariants on strings: no control character but tab, CR, LF; none over 1,048,576 characters."""

from __future__ import annotations

import pytest

from tests.conftest import SAMPLES
from trial2fhir.model import Trial
from trial2fhir.sources import InputFile, read_input
from trial2fhir.targets import TARGETS
from trial2fhir.validation.bundle import MAX_STRING, bundle_invariants

PAGE = sorted(SAMPLES.glob("*.txt"))[0]


def trial() -> Trial:
    (t,) = list(read_input(InputFile(str(PAGE), path=PAGE)))
    assert isinstance(t, Trial)
    return t.model_copy(deep=True)


@pytest.mark.parametrize("target", ["fhir-r5", "fhir-r4b"])
def test_a_control_character_is_named_where_it_lands_and_the_bundle_is_invalid(target: str) -> None:
    t = trial()
    t.identification.brief_title = "Aspirin\x00 for pain"
    problems = [str(p) for p in TARGETS[target].validate(TARGETS[target].build(t))]
    assert any(".title" in p and "control character U+0000 at character 8" in p for p in problems), problems


def test_tab_cr_lf_are_fine_and_a_string_over_the_limit_is_not() -> None:
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [
        {"fullUrl": "urn:uuid:1", "resource": {"resourceType": "Basic", "id": "a", "text": "one\ttwo\r\nthree"}}]}
    assert bundle_invariants(bundle) == []
    bundle["entry"][0]["resource"]["text"] = "x" * (MAX_STRING + 1)
    (problem,) = bundle_invariants(bundle)
    assert "$.entry[0].resource.text" in str(problem)
    assert "1,048,577 characters" in str(problem)
