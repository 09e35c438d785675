"""Shared set-up of the XML target tests: reading samples and records, and the golden and
round-trip checks every XML target runs the same way."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import SAMPLES, assert_golden, shared_params
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


def end_to_end_tests(target: Target[Any], name: str) -> tuple[Callable[..., None], ...]:
    """The three checks every XML target runs (golden per sample; each sample and each ../shared
    record valid and round-tripping), made afresh for each test module so their marks stay apart."""

    @pytest.mark.parametrize("path", SAMPLE_FILES, ids=[p.stem for p in SAMPLE_FILES])
    def test_golden(path: Path, update_goldens: bool) -> None:
        assert_sample_golden(target, name, path, update_goldens)

    @pytest.mark.parametrize("path", SAMPLE_FILES, ids=[p.stem for p in SAMPLE_FILES])
    def test_sample_is_valid_and_round_trips(path: Path) -> None:
        assert_round_trips(target, sample_trial(path))

    @pytest.mark.parametrize("path", shared_params("*"), ids=lambda p: p.name if p else "none")
    def test_real_record_is_valid_and_round_trips(path: Path) -> None:
        assert_record_round_trips(target, path)

    return test_golden, test_sample_is_valid_and_round_trips, test_real_record_is_valid_and_round_trips
