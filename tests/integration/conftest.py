"""Fixtures: one test FHIR engine per FHIR version per session, emptied before each test."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from tests.integration.engine import Engine, running_engine


def _need_node() -> None:
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node/npm are absent: the test FHIR engine (tools/fhir-engine) needs Node 20")


@pytest.fixture(scope="session")
def engine_r5_session() -> Iterator[Engine]:
    _need_node()
    with running_engine("R5") as engine:
        yield engine


@pytest.fixture(scope="session")
def engine_r4b_session() -> Iterator[Engine]:
    _need_node()
    with running_engine("R4B") as engine:
        yield engine


@pytest.fixture
def engine_r5(engine_r5_session: Engine) -> Engine:
    engine_r5_session.reset()
    return engine_r5_session


@pytest.fixture
def engine_r4b(engine_r4b_session: Engine) -> Engine:
    engine_r4b_session.reset()
    return engine_r4b_session
