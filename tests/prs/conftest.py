"""PRS tests read ProtocolRecordSchema.xsd from ../shared/schemas (TRIAL2FHIR_SCHEMA_DIR), where present."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import SHARED
from trial2fhir.validation.xml import SCHEMA_DIR_ENV

PRS_DIR = SHARED / "schemas" / "ctgov-prs" / "2018.05.08"


@pytest.fixture
def prs_schema(monkeypatch: pytest.MonkeyPatch) -> Path:
    """TRIAL2FHIR_SCHEMA_DIR set to ../shared/schemas; the test skips, saying why, where it is absent."""
    if not os.environ.get(SCHEMA_DIR_ENV):
        if not (PRS_DIR / "ProtocolRecordSchema.xsd").is_file():
            pytest.skip(f"{PRS_DIR} is absent: ProtocolRecordSchema.xsd lives there")
        monkeypatch.setenv(SCHEMA_DIR_ENV, str(SHARED / "schemas"))
    return Path(os.environ[SCHEMA_DIR_ENV])
