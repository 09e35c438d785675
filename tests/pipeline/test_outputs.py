"""Issue 7 section 2: writing never leaves a broken file (invalid outputs, temporary files, output
faults, two runs into one folder, Ctrl-C), each case with its message and exit code."""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import json
import os
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from typer.testing import CliRunner

from tests.conftest import SAMPLES
from trial2fhir import output
from trial2fhir.cli import app
from trial2fhir.model import Trial
from trial2fhir.targets import TARGETS
from trial2fhir.validation.fhir import locate_schema

runner = CliRunner()
EXE = Path(sys.executable).with_name("trial2fhir")
PAGES = sorted(SAMPLES.glob("*.txt"))
BAD_ID = "NCT05930314"  # sample 002


def _fhir_ready() -> bool:
    try:
        locate_schema()
    except FileNotFoundError:
        return False
    return True


needs_fhir = pytest.mark.skipif(not _fhir_ready(), reason="HL7 FHIR schema not installed (npm ci in schemas/fhir)")


def run(*args: str | Path) -> tuple[int, str]:
    result = runner.invoke(app, [str(a) for a in args])
    return result.exit_code, result.output


def ndjson(tmp_path: Path, n: int) -> Path:
    f = tmp_path / "many.ndjson"
    f.write_bytes(b"\n".join(orjson.dumps({"protocolSection": {"identificationModule": {
        "nctId": f"NCT{i:08d}", "briefTitle": f"Study {i}"}}}) for i in range(1, n + 1)))
    return f


def temporaries(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.name.endswith(".tmp")] if folder.exists() else []


@pytest.fixture
def one_invalid(monkeypatch: pytest.MonkeyPatch) -> None:
    """fhir-r5 builds an invalid Bundle (a status outside its value set) for one sample only."""
    target = TARGETS["fhir-r5"]
    real = target.bundle  # type: ignore[attr-defined]

    def bundle(trial: Trial) -> dict[str, Any]:
        doc = real(trial)
        if trial.nct_id == BAD_ID:
            doc["entry"][0]["resource"]["status"] = "bogus"
        return doc

    monkeypatch.setitem(TARGETS, "fhir-r5", dataclasses.replace(target, bundle=bundle))  # type: ignore[type-var]


@needs_fhir
@pytest.mark.usefixtures("one_invalid")
def test_an_invalid_output_never_lands_under_its_final_name(tmp_path: Path) -> None:
    out, kept = tmp_path / "out", tmp_path / "kept"
    code, text = run("convert", SAMPLES, "--to", "trial-json", "--to", "fhir-r5", "-o", out,
                     "--report", tmp_path / "r.json")
    assert code == 1
    assert f"error: samples/{PAGES[2].name}" in text.replace(str(SAMPLES), "samples")
    assert "fhir-r5 invalid: ResearchStudy/" in text
    names = {p.name for p in out.iterdir()}
    assert f"{BAD_ID}.fhir-r5.json" not in names
    assert f"{BAD_ID}.trial.json" not in names  # nor the trial-json of the failed record
    assert len(names) == 8  # the four good records, both targets
    assert not kept.exists()
    code, text = run("convert", SAMPLES, "--to", "trial-json", "--to", "fhir-r5", "-o", tmp_path / "o2",
                     "--keep-invalid", kept, "--report", tmp_path / "r2.json")
    assert code == 1
    assert {p.name for p in kept.iterdir()} == {f"{BAD_ID}.fhir-r5.json", f"{BAD_ID}.trial.json"}
    assert f"note: invalid fhir-r5 output kept as {kept}/{BAD_ID}.fhir-r5.json" in text
    rec = next(r for r in json.loads((tmp_path / "r2.json").read_text())["records"] if r["nct_id"] == BAD_ID)
    assert rec["outputs"] == {}
    assert rec["kept_invalid"]["fhir-r5"] == str(kept / f"{BAD_ID}.fhir-r5.json")


def test_a_write_failure_is_one_line_removes_its_temporary_and_keeps_the_report(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = {"n": 0}
    real_replace = os.replace

    def replace(src: str, dst: str) -> None:
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        real_replace(src, dst)

    monkeypatch.setattr(output.os, "replace", replace)
    out = tmp_path / "out"
    code, text = run("convert", SAMPLES, "-o", out, "--report", tmp_path / "r.json")
    assert code == 1
    assert "Traceback" not in text
    (line,) = [t for t in text.splitlines() if t.startswith("error:")]
    assert line.startswith(f"error: cannot write {out}/")
    assert line.endswith("No space left on device; stopped after 2 record(s), the report says which")
    assert temporaries(out) == []
    assert len(list(out.iterdir())) == 2
    summary = json.loads((tmp_path / "r.json").read_text())["summary"]
    assert summary["complete"] is False
    assert "No space left on device" in summary["stopped_by"]


@contextlib.contextmanager
def tiny_disk(path: Path, size: str) -> Iterator[Path]:
    path.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                          capture_output=True, check=False)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here (needs root): {proc.stderr.decode().strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", str(path)], check=False)


def test_a_full_disk_is_one_line_and_leaves_no_broken_file(tmp_path: Path) -> None:
    with tiny_disk(tmp_path / "disk", "48k") as disk:
        out = disk / "out"
        proc = subprocess.run([str(EXE), "convert", str(SAMPLES), "-o", str(out), "--report", str(tmp_path / "r.json")],
                              capture_output=True, text=True, check=False)
        assert proc.returncode == 1
        assert "Traceback" not in proc.stderr
        assert "No space left on device; stopped after" in proc.stderr
        assert temporaries(out) == []
        for f in out.iterdir():  # what landed is whole
            json.loads(f.read_text())
        assert json.loads((tmp_path / "r.json").read_text())["summary"]["complete"] is False


def test_output_folder_that_is_a_file_is_a_usage_error(tmp_path: Path) -> None:
    f = tmp_path / "file"
    f.write_text("x")
    code, text = run("convert", PAGES[0], "-o", f)
    assert code == 2
    assert text.strip() == f"error: -o {f}: is a file, not a folder"


def test_report_that_is_a_folder_is_a_usage_error(tmp_path: Path) -> None:
    code, text = run("convert", PAGES[0], "-o", tmp_path / "out", "--report", tmp_path)
    assert code == 2
    assert text.startswith(f"error: --report {tmp_path}: is a folder")
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


def test_a_read_only_output_folder_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def mkstemp(**_kw: object) -> tuple[int, str]:  # root ignores chmod: refuse as a read-only mount does
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(output.tempfile, "mkstemp", mkstemp)
    out = tmp_path / "out"
    code, text = run("convert", PAGES[0], "-o", out)
    assert code == 1
    assert text.strip() == f"error: cannot write into {out}: Read-only file system"


def test_a_report_that_cannot_be_written_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = output.Writer.write

    def write(self: output.Writer, name: str, data: bytes) -> Path:
        if name == "r.json":
            raise output.OutputError("write", self.folder / name, OSError(errno.EIO, "Input/output error"))
        return real(self, name, data)

    monkeypatch.setattr(output.Writer, "write", write)
    code, text = run("convert", PAGES[0], "-o", tmp_path / "out", "--report", tmp_path / "r.json")
    assert code == 1
    assert f"error: report not written: cannot write {tmp_path}/r.json: Input/output error" in text
    assert (tmp_path / "out" / "NCT06886919.trial.json").exists()


def test_temporary_files_are_unique_per_process_and_in_the_output_folder(tmp_path: Path) -> None:
    a, b = output.Writer(tmp_path), output.Writer(tmp_path)
    (fa, ta), (fb, tb) = a.temp("x.json"), b.temp("x.json")
    os.close(fa)
    os.close(fb)
    assert ta != tb
    assert Path(ta).parent == Path(tb).parent == tmp_path
    a.close()
    b.close()
    assert temporaries(tmp_path) == []


def test_two_runs_into_one_folder_both_succeed(tmp_path: Path) -> None:
    src = ndjson(tmp_path, 300)
    out = tmp_path / "out"
    procs = [subprocess.Popen([str(EXE), "convert", str(src), "-o", str(out), "-q", "-j", "1"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)]
    results = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], results
    assert len(list(out.glob("NCT*.trial.json"))) == 300
    assert temporaries(out) == []
    for f in out.iterdir():
        json.loads(f.read_text())


def test_ctrl_c_stops_quietly_with_a_partial_report_and_exit_130(tmp_path: Path) -> None:
    src = ndjson(tmp_path, 20000)
    out, report = tmp_path / "out", tmp_path / "r.json"
    proc = subprocess.Popen([str(EXE), "convert", str(src), "-o", str(out), "--report", str(report), "-j", "2",
                             "--force-jobs"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (out.is_dir() and any(out.glob("NCT*.json"))):
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _stdout, stderr = proc.communicate(timeout=120)
    text = stderr.decode()
    assert proc.returncode == 130, text
    assert "Traceback" not in text
    assert "KeyboardInterrupt" not in text
    assert "interrupted:" in text
    summary = json.loads(report.read_text())["summary"]
    assert summary["complete"] is False
    assert summary["stopped_by"] == "interrupt"
    assert 0 < summary["records"] < 20000
    # A file renamed into place just as Ctrl-C lands can miss its report entry (a known race, in the
    # closing note): never more than the one record in flight per writer.
    assert summary["converted"] <= len(list(out.glob("NCT*.trial.json"))) <= summary["converted"] + 1
    assert temporaries(out) == []


def test_outputs_get_the_mode_of_any_new_file_not_mkstemps_private_one(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        writer = output.Writer(tmp_path)
        path = writer.write("x.json", b"{}")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == output.FILE_MODE
