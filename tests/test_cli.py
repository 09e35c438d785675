"""The convert command end to end: outputs, report, exit codes, and every kind of bad input."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.conftest import SAMPLES, shared_files
from trial2fhir.cli import app

runner = CliRunner()
SAMPLE_IDS = {"NCT06886919", "NCT06983964", "NCT05930314", "NCT06711146", "NCT07328581"}


def run(*args: str | Path, stdin: bytes | None = None) -> tuple[int, str]:
    result = runner.invoke(app, [str(a) for a in args], input=stdin)
    return result.exit_code, result.output


def convert(tmp_path: Path, *inputs: str | Path, extra: tuple[str, ...] = ()) -> tuple[int, str, dict]:
    report = tmp_path / "report.json"
    code, out = run("convert", *inputs, "-o", tmp_path / "out", "--report", report, *extra)
    return code, out, json.loads(report.read_text())


def test_version() -> None:
    code, out = run("--version")
    assert code == 0
    assert out.startswith("trial2fhir ")


def test_every_command_has_help() -> None:
    for command in ("convert",):
        code, out = run(command, "--help")
        assert code == 0, out
        assert "Usage" in out


def test_samples_convert_to_trial_json(tmp_path: Path) -> None:
    code, out, report = convert(tmp_path, SAMPLES)
    assert code == 0, out
    written = {p.name for p in (tmp_path / "out").iterdir()}
    assert written == {f"{n}.trial.json" for n in SAMPLE_IDS}
    assert {r["nct_id"] for r in report["records"]} == SAMPLE_IDS
    assert all(r["ok"] and r["errors"] == [] for r in report["records"])
    assert "converted 5 of 5 record(s)" in out


def test_unplaced_page_lines_are_a_warning_not_a_silent_loss(tmp_path: Path) -> None:
    code, out, report = convert(tmp_path, next(SAMPLES.glob("003_*")))
    assert code == 0
    assert "warning: samples/003_a56d0ce5535905ef.txt: 4 line(s) of the page fit no field" in out.replace(
        str(SAMPLES), "samples")
    (rec,) = report["records"]
    assert "Good fit:" in rec["warnings"][0]["message"]
    written = json.loads((tmp_path / "out" / f"{rec['nct_id']}.trial.json").read_text())
    assert written["source"]["unplaced"][0].startswith("line 19: Good fit:")  # the place, then the text


def test_output_is_byte_identical_across_runs(tmp_path: Path) -> None:
    convert(tmp_path / "a", SAMPLES)
    convert(tmp_path / "b", SAMPLES)
    for f in (tmp_path / "a" / "out").iterdir():
        assert f.read_bytes() == (tmp_path / "b" / "out" / f.name).read_bytes()


def test_stdin(tmp_path: Path) -> None:
    page = next(SAMPLES.glob("002_*.txt")).read_bytes()
    code, out = run("convert", "-", "-o", tmp_path, stdin=page)
    assert code == 0, out
    assert (tmp_path / "NCT05930314.trial.json").exists()


def test_unknown_target_is_a_usage_error(tmp_path: Path) -> None:
    code, out = run("convert", SAMPLES, "--to", "fhir-r2", "-o", tmp_path)
    assert code == 2
    assert "unknown target fhir-r2" in out


def test_unknown_input_format_is_a_usage_error(tmp_path: Path) -> None:
    code, out = run("convert", SAMPLES, "--from", "pdf", "-o", tmp_path)
    assert code == 2
    assert "unknown input format pdf" in out


def test_missing_file_fails_without_stopping_others(tmp_path: Path) -> None:
    code, out, report = convert(tmp_path, tmp_path / "nope.json", next(SAMPLES.glob("002_*")))
    assert code == 1
    assert "nope.json: no such file or folder" in out
    assert [r["ok"] for r in report["records"]] == [False, True]


# --- bad input: each gets one line naming file, place and reason; the good file is still written ---

BAD_INPUTS: dict[str, tuple[bytes, str, str]] = {
    # name: (content, expected place, expected reason)
    "empty.json": (b"", "", "empty file"),
    "blank.txt": (b"  \n\n", "", "empty file"),
    "truncated.json": (b'{"protocolSection": {"identificationModule": {"nctId": "NCT01', "line 1", "invalid JSON"),
    "not-a-study.json": (b'{"foo": 1}', "#", "not a ClinicalTrials.gov study"),
    "no-nct.json": (b'{"protocolSection": {"identificationModule": {"briefTitle": "x"}}}',
                    "nctId", "no NCT ID"),
    "binary.bin": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "byte 8", "binary file"),
    "layout.txt": (b"Minutes of the board meeting\nAttendees: A, B\n", "line 1", "no known layout"),
    "bomb.xml": (b'<?xml version="1.0"?>\n<!DOCTYPE lolz [\n <!ENTITY lol "lol">\n'
                 b' <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">\n'
                 b' <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">\n]>\n'
                 b"<clinical_study>&lol3;</clinical_study>", "", "entit"),
    "xxe.xml": (b'<?xml version="1.0"?>\n<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n'
                b"<clinical_study><brief_title>&x;</brief_title></clinical_study>", "", "entit"),
    "traversal.json": (b'{"protocolSection": {"identificationModule": {"nctId": "../../../tmp/evil"}}}',
                       "nctId", "../../../tmp/evil"),
}


@pytest.mark.parametrize("name", sorted(BAD_INPUTS))
def test_bad_input_gets_one_clear_line(tmp_path: Path, name: str) -> None:
    content, place, reason = BAD_INPUTS[name]
    bad = tmp_path / name
    bad.write_bytes(content)
    good = next(SAMPLES.glob("002_*"))
    code, out, report = convert(tmp_path, bad, good)
    assert code == 1
    error_lines = [line for line in out.splitlines() if line.startswith("error:")]
    assert len(error_lines) == 1, out
    assert str(bad) in error_lines[0]
    assert reason.lower() in error_lines[0].lower()
    (failed,) = [r for r in report["records"] if not r["ok"]]
    (problem,) = failed["errors"]
    assert problem["file"] == str(bad)
    assert place in problem["place"]
    assert reason.lower() in problem["message"].lower()
    assert (tmp_path / "out" / "NCT05930314.trial.json").exists()  # the good record survived
    assert not list(tmp_path.rglob("evil*"))


def test_huge_file_is_refused_by_size(tmp_path: Path) -> None:
    big = tmp_path / "big.xml"  # XML is read whole (JSON arrays and NDJSON are streamed)
    with big.open("wb") as fh:  # a head longer than what is sniffed, then sparse to 200 MB
        fh.write(b"<clinical_study>" + b" " * 70_000)
        fh.truncate(200 * 2**20)
    code, _out, report = convert(tmp_path, big)
    assert code == 1
    (problem,) = report["records"][0]["errors"]
    assert problem["file"] == str(big)
    assert "200.0 MiB, over the 100 MiB limit" in problem["message"]


def test_huge_binary_file_is_named_binary(tmp_path: Path) -> None:
    big = tmp_path / "disk.img"
    with big.open("wb") as fh:
        fh.truncate(200 * 2**20)
    code, _out, report = convert(tmp_path, big)
    assert code == 1
    assert "binary file" in report["records"][0]["errors"][0]["message"]


def test_max_file_mb_can_be_raised(tmp_path: Path) -> None:
    page = next(SAMPLES.glob("000_*"))
    code, _, report = convert(tmp_path, page, extra=("--max-file-mb", "0"))
    assert code == 1
    assert "over the 0 MiB limit" in report["records"][0]["errors"][0]["message"]


def test_duplicate_nct_id_is_not_overwritten(tmp_path: Path) -> None:
    page = next(SAMPLES.glob("002_*"))
    copy = tmp_path / "copy.txt"
    shutil.copy(page, copy)
    code, out, report = convert(tmp_path, page, copy)
    assert code == 1
    assert "NCT05930314 was already converted from" in out
    assert [r["ok"] for r in report["records"]] == [True, False]


def test_zip_of_inputs(tmp_path: Path) -> None:
    archive = tmp_path / "bulk.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for p in sorted(SAMPLES.glob("*.txt"))[:2]:
            zf.write(p, f"pages/{p.name}")
        zf.writestr("pages/junk.json", b"{")
    code, _, report = convert(tmp_path, archive)
    assert code == 1
    sources = [r["source"] for r in report["records"]]
    assert all(s.startswith(f"{archive}!pages/") for s in sources)
    assert [r["ok"] for r in report["records"]] == [True, True, False]


def test_folder_walk_skips_other_extensions_and_says_so(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(next(SAMPLES.glob("002_*")), folder / "a.txt")
    (folder / "NOTES.md").write_text("# notes")
    code, out, report = convert(tmp_path, folder)
    assert code == 0, out
    assert "skipped 1 file(s) with no input extension: NOTES.md" in out
    assert report["summary"]["skipped_files"] == [str(folder / "NOTES.md")]


@pytest.mark.skipif(not shared_files("*"), reason="../shared/ctgov-dev is absent")
def test_real_records_and_samples_convert(tmp_path: Path) -> None:
    code, out, report = convert(tmp_path, shared_files("*")[0].parent, SAMPLES)
    assert code == 0, out
    assert report["summary"]["converted"] == 55
    assert report["summary"]["failed"] == 0


def test_console_script_exit_code_and_stderr(tmp_path: Path) -> None:
    """The installed entry point, as a user runs it: errors on stderr, exit 1, no progress bar in a pipe."""
    bad = tmp_path / "empty.json"
    bad.write_bytes(b"")
    exe = Path(sys.executable).with_name("trial2fhir")
    proc = subprocess.run([str(exe), "convert", str(bad), "-o", str(tmp_path / "o")],
                          capture_output=True, text=True, env={**os.environ, "COLUMNS": "200"}, check=False)
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert f"error: {bad}: empty file" in proc.stderr


def test_python_dash_m_runs_the_same_cli() -> None:
    done = subprocess.run([sys.executable, "-m", "trial2fhir", "--version"], capture_output=True, text=True,
                          check=False, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("trial2fhir ")
