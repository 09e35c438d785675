"""`validate --deep`: the engine's validator offline, on every golden Bundle and on broken ones."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.conftest import GOLDEN, SAMPLES
from tests.integration.engine import ensure_installed
from trial2fhir.cli import app
from trial2fhir.validation.deep import ENGINE_ENV, deep_validate, fhir_version

pytestmark = pytest.mark.integration
runner = CliRunner()
GOLDEN_FHIR = sorted(GOLDEN.glob("fhir-r*/*.json"))


@pytest.fixture(scope="module", autouse=True)
def _engine() -> None:
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node/npm are absent: validate --deep needs Node 20")
    ensure_installed()


def broken(tmp_path: Path, name: str, change: Any) -> Path:
    bundle = json.loads(GOLDEN_FHIR[0].read_text(encoding="utf-8"))
    change(bundle["entry"][0]["resource"])
    path = tmp_path / f"{name}.fhir-r5.json"
    path.write_text(json.dumps(bundle), encoding="utf-8")
    return path


def test_every_golden_bundle_passes_deep_validation() -> None:
    assert GOLDEN_FHIR
    problems = deep_validate(GOLDEN_FHIR)
    assert set(problems) == {str(p) for p in GOLDEN_FHIR}
    assert {f: p for f, p in problems.items() if p} == {}


def test_r4b_goldens_when_present() -> None:
    r4b = sorted(GOLDEN.glob("fhir-r4b/*.json"))
    if not r4b:
        pytest.skip("no R4B goldens in this build (h-fhir-r4b not merged)")
    assert {f: p for f, p in deep_validate(r4b).items() if p} == {}


def test_a_renamed_r4b_bundle_is_judged_r4b_by_its_content(tmp_path: Path) -> None:
    r4b = sorted(GOLDEN.glob("fhir-r4b/*.json"))
    if not r4b:
        pytest.skip("no R4B goldens in this build")
    renamed = tmp_path / "bundle.json"  # nothing in the name says R4B: only the FHIR-version meta.tag does
    shutil.copyfile(r4b[0], renamed)
    assert fhir_version(renamed, None) == "R4B"
    assert fhir_version(renamed, "fhir-r5") == "R5"  # --as still overrides the content
    result = runner.invoke(app, ["validate", "--deep", str(renamed)])
    assert result.exit_code == 0, result.output
    assert "0 problem(s)" in result.output
    assert deep_validate([renamed]) == {str(renamed): []}


@pytest.mark.parametrize("target", ["fhir-r5", "fhir-r4b"])
def test_freshly_converted_samples_pass_deep_validation(tmp_path: Path, target: str) -> None:
    converted = runner.invoke(app, ["convert", str(SAMPLES), "--to", target, "-o", str(tmp_path)])
    assert converted.exit_code == 0, converted.output
    written = sorted(tmp_path.glob(f"*.{target}.json"))
    assert len(written) == len(list(SAMPLES.iterdir()))
    expected = "R4B" if target == "fhir-r4b" else "R5"
    assert {fhir_version(f, None) for f in written} == {expected}
    problems = deep_validate(written)
    assert set(problems) == {str(f) for f in written}
    assert {f: p for f, p in problems.items() if p} == {}


def test_a_bad_code_fails_with_resource_and_path(tmp_path: Path) -> None:
    path = broken(tmp_path, "bogus", lambda r: r.update(status="bogus"))
    result = runner.invoke(app, ["validate", "--deep", str(path)])
    assert result.exit_code == 1
    line = next(x for x in result.output.splitlines() if "deep:" in x and "ResearchStudy.status" in x)
    assert "'bogus' is not in the required value set" in line
    assert "Bundle.entry[0]" in line


def test_a_broken_invariant_fails_deep_but_not_plain_validation(tmp_path: Path) -> None:
    both = {"url": "http://example.org/x", "valueString": "a", "extension": [{"url": "y", "valueString": "b"}]}
    path = broken(tmp_path, "ext1", lambda r: r.setdefault("extension", []).append(both))
    plain = runner.invoke(app, ["validate", str(path)])
    assert plain.exit_code == 0, plain.output
    result = runner.invoke(app, ["validate", "--deep", str(path)])
    assert result.exit_code == 1
    assert "ext-1" in result.output
    assert "ResearchStudy.extension[" in result.output


def test_no_engine_is_a_usage_error_saying_what_to_run(tmp_path: Path) -> None:
    result = runner.invoke(app, ["validate", "--deep", str(GOLDEN_FHIR[0])], env={ENGINE_ENV: str(tmp_path)})
    assert result.exit_code == 2
    assert "npm ci --prefix" in result.output
