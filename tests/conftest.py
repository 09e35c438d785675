"""Shared fixtures: where ../shared is, and the one switch that rewrites golden files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "samples"
GOLDEN = Path(__file__).resolve().parent / "golden"
SHARED = REPO.parent / "shared"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-goldens",
        action="store_true",
        default=False,
        help="rewrite golden files from current output (read the diff before committing)",
    )


@pytest.fixture
def update_goldens(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-goldens"))


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not (SHARED / "ctgov-dev").is_dir():
        pytest.skip(f"{SHARED} is absent: the real records and published schemas live there")
    return SHARED


def assert_golden(relative: str, got: bytes, update: bool) -> None:
    """Compare output with ``tests/golden/<relative>``; rewrite it only under ``--update-goldens``."""
    golden = GOLDEN / relative
    if update:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_bytes(got)
    assert golden.is_file(), f"{golden} missing: run pytest --update-goldens and read the diff"
    assert got.decode() == golden.read_text(encoding="utf-8")


def shared_files(pattern: str) -> list[Path]:
    """Files of ../shared/ctgov-dev for parametrising; empty (tests skip) where it is absent."""
    d = SHARED / "ctgov-dev"
    return sorted(d.glob(pattern)) if d.is_dir() else []


def shared_params(pattern: str) -> list[Any]:
    """Files of ../shared/ctgov-dev to parametrise over; where absent, one skipped case saying so."""
    files = shared_files(pattern)
    if files:
        return files
    return [pytest.param(None, id="no-shared", marks=pytest.mark.skip(reason=f"{SHARED / 'ctgov-dev'} is absent"))]
