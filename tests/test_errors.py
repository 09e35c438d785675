"""The one ValidationError -> Problem helper every reader uses."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from trial2fhir.errors import Problem, RecordError, validation_problem
from trial2fhir.model import Trial


def _error(data: dict[str, object]) -> ValidationError:
    with pytest.raises(ValidationError) as exc:
        Trial.model_validate(data)
    return exc.value


SOURCE = {"format": "ctgov-api-v2-json", "file": "f.json"}


def test_message_names_model_path_reason_and_value() -> None:
    exc = _error({"source": SOURCE, "identification": {"nct_id": "NCT123"}})
    problem = validation_problem(exc, "f.json", "#/protocolSection")
    assert problem.file == "f.json"
    assert problem.place == "#/protocolSection"
    assert problem.message.startswith("identification.nct_id: String should match pattern")
    assert "(got 'NCT123')" in problem.message


def test_place_from_the_first_error_location() -> None:
    exc = _error({"source": SOURCE, "identification": {"nct_id": "NCT01234567"}, "arms": [{"label": ""}]})
    problem = validation_problem(exc, "f", lambda loc: "/".join(map(str, loc)))
    assert problem.place == "arms/0/label"


def test_many_errors_are_capped_and_counted() -> None:
    exc = _error({"source": SOURCE, "identification": {"nct_id": "x"}, "conditions": [1, 2, 3, 4]})
    problem = validation_problem(exc, "f", limit=2)
    assert problem.message.count(";") == 1
    assert problem.message.endswith("(and 3 more)")


def test_nested_inputs_are_not_dumped() -> None:
    exc = _error({"source": SOURCE, "identification": {"nct_id": "NCT01234567"}, "status": "nope", "design": []})
    problem = validation_problem(exc, "f")
    assert "(got 'nope')" in problem.message
    assert "(got [])" not in problem.message


def test_record_error_of_problem() -> None:
    err = RecordError.of(Problem("f", "p", "bad\n  value"))
    assert str(err) == "f: p: bad value"
