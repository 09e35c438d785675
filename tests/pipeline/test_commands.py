"""Issue 7 section 3: one CLI. The commands share INPUT forms and options; roundtrip and validate
answer bad input like convert; a mapping error fails one record naming file, rule and Trial path."""

from __future__ import annotations

import json
import os
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from tests.conftest import SAMPLES
from trial2fhir import pipeline
from trial2fhir.cli import app
from trial2fhir.targets import fhir_r5
from trial2fhir.validation.fhir import locate_schema

try:
    locate_schema()
except FileNotFoundError as exc:  # pragma: no cover - depends on the machine
    pytest.skip(f"HL7 FHIR schema not installed: {exc}", allow_module_level=True)

runner = CliRunner()
PAGES = sorted(SAMPLES.glob("*.txt"))
COMMANDS = ("convert", "validate", "roundtrip")


def run(*args: str | Path, stdin: bytes | None = None) -> tuple[int, str]:
    result = runner.invoke(app, [str(a) for a in args], input=stdin)
    return result.exit_code, result.output


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_takes_the_same_options(command: str) -> None:
    code, out = run(command, "--help")
    assert code == 0
    for option in ("--from", "--quiet", "--report", "--jobs", "--force-jobs", "--max-file-mb"):
        assert option in out, f"{command} lacks {option}"


@pytest.mark.parametrize("command", ["convert", "roundtrip"])
def test_a_missing_input_exits_1_and_the_others_still_run(tmp_path: Path, command: str) -> None:
    code, out = run(command, tmp_path / "nope.json", PAGES[0], "-o", tmp_path / "out")
    assert code == 1
    assert f"error: {tmp_path / 'nope.json'}: no such file or folder" in out
    assert (tmp_path / "out" / f"NCT06886919.{'trial.json' if command == 'convert' else 'fhir-r5.json'}").exists()


def test_roundtrip_of_only_a_missing_input_exits_1(tmp_path: Path) -> None:
    code, out = run("roundtrip", tmp_path / "nope.json")
    assert code == 1
    assert "no such file or folder" in out


@pytest.mark.parametrize("command", ["convert", "roundtrip"])
def test_a_mapping_error_fails_that_record_only_naming_file_rule_and_trial_path(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str) -> None:
    codes = fhir_r5.mapping_set().codes["ctgov-arm-type"]
    monkeypatch.delitem(codes.forward, "EXPERIMENTAL")  # as if the code map had never heard of it
    args = ["--to", "fhir-r5", "-o", tmp_path / "out"] if command == "convert" else ["--to", "fhir-r5"]
    code, out = run(command, SAMPLES, *args, "--report", tmp_path / "r.json")
    assert code == 1
    (line,) = [t for t in out.splitlines() if "is not in code map" in t]
    assert "mappings/fhir-r5/ResearchStudy.yaml: rules.comparisonGroup" in line
    assert "Trial arms[0].type: code 'EXPERIMENTAL' is not in code map ctgov_arm_type" in line
    report = json.loads((tmp_path / "r.json").read_text())
    assert 0 < sum(not r["ok"] for r in report["records"]) < len(PAGES)  # the others went through


def test_roundtrip_shares_from_jobs_quiet_and_report(tmp_path: Path) -> None:
    code, out = run("roundtrip", SAMPLES, "--from", "page-compact", "-j", "1", "-q", "--report", tmp_path / "r.json")
    assert code == 1  # two samples are not compact pages: they fail to read, named
    assert "ok NCT" not in out  # quiet: only failures
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["summary"]["records"] == len(PAGES)
    assert report["summary"]["failed"] >= 1


def test_jobs_are_capped_at_the_cores_unless_forced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pipeline, "cpu_count", lambda: 2)
    assert pipeline.worker_count(0) == (2, None)
    assert pipeline.worker_count(8)[0] == 2
    assert pipeline.worker_count(8, force=True) == (8, None)
    code, out = run("convert", PAGES[0], "-o", tmp_path, "-j", "64")
    assert code == 0
    assert "note: --jobs 64 capped at the 2 core(s) this process may use (--force-jobs to override)" in out
    code, out = run("convert", PAGES[0], "-o", tmp_path / "b", "-j", "3", "--force-jobs")
    assert code == 0
    assert "note: --jobs" not in out


# --- validate ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bundle_bytes(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    out = tmp_path_factory.mktemp("b")
    assert runner.invoke(app, ["convert", str(PAGES[0]), "--to", "fhir-r5", "-o", str(out)]).exit_code == 0
    return next(out.glob("*.fhir-r5.json")).read_bytes()


def test_validate_checks_every_ndjson_line_naming_its_number(tmp_path: Path, bundle_bytes: bytes) -> None:
    resources = [e["resource"] for e in orjson.loads(bundle_bytes)["entry"]]
    resources[1] = {**resources[1], "status": "bogus"}
    lines = [orjson.dumps(r) for r in resources]
    lines.insert(3, b"{not json")
    f = tmp_path / "all.ndjson"
    f.write_bytes(b"\n".join(lines) + b"\n")
    code, out = run("validate", f)
    assert code == 1
    assert f"{f}: line 2: {resources[1]['resourceType']}/{resources[1]['id']}: $.status" in out
    assert f"{f}: line 4, column 2: invalid JSON" in out


def test_validate_refuses_a_fifo_instead_of_waiting(tmp_path: Path) -> None:
    fifo = tmp_path / "out.json"
    os.mkfifo(fifo)
    code, out = run("validate", fifo)
    assert code == 1
    assert f"{fifo}: a FIFO (named pipe), not a regular file: refused" in out


def test_validate_checks_bundle_invariants(tmp_path: Path, bundle_bytes: bytes) -> None:
    doc = orjson.loads(bundle_bytes)
    doc["entry"][1]["fullUrl"] = doc["entry"][0]["fullUrl"]
    del doc["entry"][2]["request"]
    f = tmp_path / "b.json"
    f.write_bytes(orjson.dumps(doc))
    code, out = run("validate", f)
    assert code == 1
    assert "$.entry[1].fullUrl: fullUrl" in out
    assert "repeats entry[0] [bundle]" in out
    assert "$.entry[2]: a transaction entry needs a request (bdl-3) [bundle]" in out
    assert "resolves to no entry [bundle]" in out  # the references to the entry whose fullUrl was overwritten


def test_validate_walks_folders_skips_what_no_target_wrote_and_reads_stdin(tmp_path: Path,
                                                                           bundle_bytes: bytes) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "NCT06886919.fhir-r5.json").write_bytes(bundle_bytes)
    (out / "report.json").write_text('{"records": []}')
    code, text = run("validate", out, "--report", tmp_path / "v.json")
    assert code == 0, text
    assert "1 file(s) checked, 0 problem(s)" in text
    assert json.loads((tmp_path / "v.json").read_text())["summary"]["skipped_files"] == [str(out / "report.json")]
    code, text = run("validate", "-", stdin=bundle_bytes)
    assert code == 0, text
    code, text = run("validate", "-", "--from", "trial-json", stdin=bundle_bytes)
    assert code == 1  # judged as the target named: a Bundle is no Trial


def test_validate_of_nothing_exits_1_saying_so(tmp_path: Path) -> None:
    code, out = run("validate", tmp_path)
    assert code == 1
    assert f"error: no file to validate in {tmp_path}" in out
