"""Shared set-up of the XML target tests: reading samples and records, and the golden and
round-trip checks every XML target runs the same way."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import SAMPLES, assert_golden
from trial2fhir.errors import RecordError
from trial2fhir.model import Trial
from trial2fhir.roundtrip import roundtrip_one
from trial2fhir.sources import InputFile, read_input
from trial2fhir.targets import Target

SAMPLE_FILES = sorted(SAMPLES.glob("*.txt"))


def read_trials(path: Path, label: str) -> list[Trial]:
    out = []
    for r in read_input(InputFile(label, data=path.read_bytes())):
        assert not isinstance(r, RecordError), r
        out.append(r)
    return out


def sample_trial(path: Path) -> Trial:
    (trial,) = read_trials(path, f"samples/{path.name}")
    return trial


def assert_round_trips(target: Target[Any], trial: Trial) -> None:
    result = roundtrip_one(target, trial)
    assert result.valid, result.errors[:3]
    assert result.roundtrip_ok, [d.to_dict() for d in result.diffs if not d.declared][:3]


def assert_sample_golden(target: Target[Any], name: str, path: Path, update_goldens: bool) -> None:
    """The sample's XML equals the committed golden ``<name>/<stem>.<name>.xml``."""
    assert_golden(f"{name}/{path.stem}.{name}.xml", target.serialise(target.build(sample_trial(path))),
                  update_goldens)


def assert_record_round_trips(target: Target[Any], path: Path) -> None:
    """Every Trial of a ../shared record file is valid and round-trips (other files skip)."""
    if path.suffix not in {".json", ".xml"}:
        pytest.skip("not a record")
    for trial in read_trials(path, str(path)):
        assert_round_trips(target, trial)


def written_enrollment(t: Trial) -> bool:
    """An enrollment type without a count says nothing a Trial Summary can hold (no registry gives one)."""
    e = t.design.enrollment
    return e is None or e.count is not None or e.type is None
