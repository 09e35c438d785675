"""The package carries its mappings and schemas: a wheel built from this checkout, installed
(not editable) into a folder of its own, converts from another folder."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO, SAMPLES

SCHEMA = REPO / "schemas" / "fhir" / "node_modules" / "hl7.fhir.r5.core" / "openapi" / "fhir.schema.json"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel built from a copy of the checkout (no build/ left in it), installed with --target."""
    tmp = tmp_path_factory.mktemp("pkg")
    src = tmp / "src-copy"
    src.mkdir()
    for name in ("pyproject.toml", "setup.py", "README.md"):
        shutil.copy2(REPO / name, src / name)
    shutil.copytree(REPO / "src", src / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    shutil.copytree(REPO / "mappings", src / "mappings")
    (src / "schemas").mkdir()
    shutil.copy2(REPO / "schemas" / "mapping.schema.json", src / "schemas")
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    wheels = tmp / "wheels"
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(wheels), str(src)], check=True,
                   capture_output=True)
    (wheel,) = wheels.glob("trial2fhir-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
    assert "trial2fhir/_data/mappings/fhir-r5/index.yaml" in names
    assert "trial2fhir/_data/schemas/mapping.schema.json" in names
    assert "trial2fhir/py.typed" in names
    target = tmp / "site"
    subprocess.run([*pip, "install", "--no-deps", "--no-index", "--target", str(target), str(wheel)], check=True,
                   capture_output=True)
    return target


def _run(target: Path, cwd: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("TRIAL2FHIR_")}
    environ.update(env or {}, PYTHONPATH=str(target))
    return subprocess.run([str(target / "bin" / "trial2fhir"), *args], cwd=cwd, env=environ, capture_output=True,
                          text=True, check=False)


def test_the_installed_package_runs_from_its_own_files(installed: Path, tmp_path: Path) -> None:
    probe = subprocess.run([sys.executable, "-c", "import trial2fhir.packaged as p, trial2fhir.mapping.load as l; "
                            "print(p.PACKAGE); print(l.MAPPINGS); print(p.installed())"],
                           cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(installed)}, capture_output=True,
                           text=True, check=True)
    package, mappings, flag = probe.stdout.split()
    assert Path(package) == installed / "trial2fhir"
    assert Path(mappings) == installed / "trial2fhir" / "_data" / "mappings"
    assert flag == "True"


def test_installed_convert_from_another_folder(installed: Path, tmp_path: Path) -> None:
    page = next(SAMPLES.glob("002_*.txt"))
    proc = _run(installed, tmp_path, "convert", str(page), "-o", "out")
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "out" / "NCT05930314.trial.json").is_file()


@pytest.mark.skipif(not SCHEMA.is_file(), reason="HL7 FHIR schema not installed (npm ci --prefix schemas/fhir)")
def test_installed_fhir_convert_finds_the_schema_by_env_var_and_says_how_otherwise(installed: Path,
                                                                                    tmp_path: Path) -> None:
    page = next(SAMPLES.glob("002_*.txt"))
    proc = _run(installed, tmp_path, "convert", str(page), "--to", "fhir-r5", "-o", "out")
    assert proc.returncode == 2
    assert "FHIR R5 JSON Schema not found" in proc.stderr
    assert "TRIAL2FHIR_FHIR_SCHEMA_R5" in proc.stderr
    proc = _run(installed, tmp_path, "convert", str(page), "--to", "fhir-r5", "-o", "out",
                env={"TRIAL2FHIR_FHIR_SCHEMA": str(SCHEMA)})
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "out" / "NCT05930314.fhir-r5.json").is_file()
