"""XML target tests: the schema folder (SDM, PRS XSDs) is ../shared/schemas, where present."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import SHARED
from trial2fhir.validation.xml import SCHEMA_DIR_ENV

SCHEMAS = SHARED / "schemas"


@pytest.fixture
def schema_dir(monkeypatch: pytest.MonkeyPatch) -> Path:
    """TRIAL2FHIR_SCHEMA_DIR set to ../shared/schemas (a test skips where it is absent)."""
    if not (SCHEMAS / "cdisc-sdm").is_dir():
        pytest.skip(f"{SCHEMAS} is absent: the SDM and PRS XSDs live there")
    if not os.environ.get(SCHEMA_DIR_ENV):
        monkeypatch.setenv(SCHEMA_DIR_ENV, str(SCHEMAS))
    return Path(os.environ[SCHEMA_DIR_ENV])
