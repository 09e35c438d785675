"""Issue 7 section 1: every hostile input answered with its message and exit code, one bad record
never taking another down (ZIP members, NDJSON lines, streamed arrays, duplicate keys, encodings,
folders, FIFOs and devices, terminal escapes)."""

from __future__ import annotations

import json
import os
import struct
import tracemalloc
import zipfile
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from tests.conftest import SAMPLES
from trial2fhir import sources
from trial2fhir.cli import app
from trial2fhir.errors import RecordError, clean
from trial2fhir.model import Trial
from trial2fhir.readers import ctgov_json, json_stream

runner = CliRunner()
PAGE = next(SAMPLES.glob("002_*.txt"))  # NCT05930314
PAGE_ID = "NCT05930314"


def study(n: int, title: str = "A study") -> dict[str, object]:
    return {"protocolSection": {"identificationModule": {"nctId": f"NCT{n:08d}", "briefTitle": title}}}


def line(n: int) -> bytes:
    return orjson.dumps(study(n))


def convert(tmp_path: Path, *inputs: str | Path, stdin: bytes | None = None,
            extra: tuple[str, ...] = ()) -> tuple[int, str, dict[str, object]]:
    report = tmp_path / "report.json"
    result = runner.invoke(app, ["convert", *map(str, inputs), "-o", str(tmp_path / "out"), "--report", str(report),
                                 *extra], input=stdin)
    doc = json.loads(report.read_text()) if report.exists() else {}
    return result.exit_code, result.output, doc


def errors(report: dict[str, object]) -> list[dict[str, str]]:
    return [e for r in report["records"] for e in r["errors"]]  # type: ignore[attr-defined, index]


def written(tmp_path: Path) -> set[str]:
    out = tmp_path / "out"
    return {p.name.split(".")[0] for p in out.iterdir()} if out.is_dir() else set()


# --- ZIP: a bad member fails alone ---------------------------------------------------------------


def _zip(path: Path, members: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)


def _patch_central(path: Path, member: str, offset: int, fmt: str, value: int) -> None:
    """Overwrite one field of ``member``'s central-directory entry (and its local header where it has one)."""
    data = bytearray(path.read_bytes())
    name = member.encode()
    central = data.find(b"PK\x01\x02" + b"", 0)
    while central >= 0:
        (name_len,) = struct.unpack_from("<H", data, central + 28)
        if data[central + 46:central + 46 + name_len] == name:
            struct.pack_into(fmt, data, central + offset, value)
            (local,) = struct.unpack_from("<I", data, central + 42)
            local_offset = {8: 6, 10: 8, 16: 14, 24: 22}.get(offset)
            if local_offset is not None:
                struct.pack_into(fmt, data, local + local_offset, value)
        central = data.find(b"PK\x01\x02", central + 4)
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(("field", "fmt", "value", "message"), [
    (8, "<H", 0x1, "encrypted ZIP member: not read"),
    (10, "<H", 93, "ZIP member compressed with zstandard, which is not supported"),
    (16, "<I", 0xDEADBEEF, "corrupt ZIP member: Bad CRC-32"),
    (24, "<I", 10, "corrupt ZIP member"),  # the header says 10 bytes: zipfile reads 10, then the CRC fails
])
def test_a_bad_zip_member_fails_alone(tmp_path: Path, field: int, fmt: str, value: int, message: str) -> None:
    archive = tmp_path / "bulk.zip"
    _zip(archive, {"a.ndjson": b"\n".join(line(i) for i in range(1, 4)), "bad.ndjson": line(7) + b"\n" + line(8),
                   "z.json": line(9)})
    _patch_central(archive, "bad.ndjson", field, fmt, value)
    code, out, report = convert(tmp_path, archive)
    assert code == 1
    (problem,) = errors(report)
    assert problem["file"] == f"{archive}!bad.ndjson"
    assert message in problem["message"]
    assert f"error: {archive}!bad.ndjson: {message}" in out
    assert written(tmp_path) == {"NCT00000001", "NCT00000002", "NCT00000003", "NCT00000009"}  # nothing of bad


def test_a_zip_member_claiming_a_huge_size_is_read_in_bounded_memory(tmp_path: Path) -> None:
    """The header says 4 GiB; the data (CRC intact) is small: read as it comes, never allocated by the header."""
    archive = tmp_path / "bulk.zip"
    _zip(archive, {"big.ndjson": b"\n".join(line(i) for i in range(1, 3001)), "z.json": line(9)})
    _patch_central(archive, "big.ndjson", 24, "<I", 0xFFFFFFF0)
    tracemalloc.start()
    try:
        # Count as they come: holding 3,001 Trials would measure the Trials, not the member read.
        trials = sum(isinstance(r, Trial) for r in sources.read_input(sources.InputFile(str(archive), path=archive)))
        _size, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert trials == 3001
    assert peak < 40 * 2**20, f"peak {peak / 2**20:.0f} MiB"


def test_zip_member_names_are_escaped(tmp_path: Path) -> None:
    archive = tmp_path / "bulk.zip"
    _zip(archive, {"evil\x1b[2J.json": b"{"})
    code, out, _report = convert(tmp_path, archive)
    assert code == 1
    assert "\x1b" not in out
    assert "evil\\x1b[2J.json" in out


# --- NDJSON and arrays: streamed, a bad line costs only itself ---------------------------------------


def test_ndjson_whose_first_line_is_bad_still_yields_the_others(tmp_path: Path) -> None:
    f = tmp_path / "s.ndjson"
    f.write_bytes(b'{"protocolSection": {"identificationModule": \n' + line(2) + b"\n" + line(3) + b"\n")
    code, out, report = convert(tmp_path, f)
    assert code == 1
    assert f"error: {f}: line 1, column" in out
    assert written(tmp_path) == {"NCT00000002", "NCT00000003"}
    assert [r["ok"] for r in report["records"]] == [False, True, True]  # type: ignore[index]


def test_ndjson_without_its_extension_is_recognised_even_with_a_bad_first_line(tmp_path: Path) -> None:
    f = tmp_path / "s.json"
    f.write_bytes(b"{oops\n" + line(2) + b"\n" + line(3) + b"\n")
    code, _out, _report = convert(tmp_path, f)
    assert code == 1
    assert written(tmp_path) == {"NCT00000002", "NCT00000003"}


def _counting(chunks: list[bytes], pulled: list[int]) -> Iterator[bytes]:
    for chunk in chunks:
        pulled[0] += 1
        yield chunk


@pytest.mark.parametrize("container", ["array", "ndjson"])
def test_json_records_are_streamed_not_read_whole(container: str) -> None:
    """The first record comes out after reading a little of the stream: memory is one record deep."""
    items = [line(i) for i in range(1, 201)]
    data = b"[\n" + b",\n".join(items) + b"\n]\n" if container == "array" else b"\n".join(items) + b"\n"
    chunks = [data[i:i + 512] for i in range(0, len(data), 512)]
    assert len(chunks) > 30
    pulled = [0]
    records = ctgov_json.stream(_counting(chunks, pulled), "s.json", 2**20)
    first = next(records)
    assert isinstance(first, Trial)
    assert first.nct_id == "NCT00000001"
    assert pulled[0] <= 3, f"read {pulled[0]} of {len(chunks)} chunks before the first record"
    rest = list(records)
    assert [t.nct_id for t in rest if isinstance(t, Trial)][-1] == "NCT00000200"
    assert len(rest) == 199


def test_array_items_carry_place_and_a_bad_item_costs_only_itself() -> None:
    data = b"[\n" + line(1) + b',\n{"protocolSection": 5},\n7,\n' + line(4) + b"\n]"
    results = list(ctgov_json.read(data, "a.json"))
    assert [type(r).__name__ for r in results] == ["Trial", "RecordError", "RecordError", "Trial"]
    assert isinstance(results[1], RecordError)
    assert results[1].problem.place == "#/1"
    assert isinstance(results[2], RecordError)
    assert results[2].problem.place == "#/2"


def test_truncated_array_keeps_what_was_whole_and_names_the_line() -> None:
    data = b"[\n" + line(1) + b",\n" + line(2)[:30]
    results = list(ctgov_json.read(data, "cut.json"))
    assert isinstance(results[0], Trial)
    assert isinstance(results[1], RecordError)
    assert results[1].problem.place == "line 3"
    assert "ends inside the JSON array (item 1): truncated?" in results[1].problem.message


def test_an_array_item_over_the_limit_is_refused_and_the_next_read() -> None:
    big = orjson.dumps(study(2, "x" * 5000))
    data = b"[" + line(1) + b"," + big + b"," + line(3) + b"]"
    results = list(ctgov_json.stream(iter([data[i:i + 1000] for i in range(0, len(data), 1000)]), "a.json", 2000))
    assert [r.nct_id if isinstance(r, Trial) else r.problem.message for r in results] == [
        "NCT00000001", "one array item is over the 0 MiB limit for one record (raise it with --max-file-mb)",
        "NCT00000003"]


def test_a_huge_ndjson_file_is_not_refused_by_its_size(tmp_path: Path) -> None:
    """Streamed containers are bounded per record, so --max-file-mb does not cap the file."""
    f = tmp_path / "s.ndjson"
    f.write_bytes(b"\n".join(line(i) for i in range(1, 2001)))
    code, out, report = convert(tmp_path, f, extra=("--max-file-mb", "0"))
    assert code == 1  # every line is over a 0 MiB record limit...
    assert "one line is over the 0 MiB limit" in out
    code, out, report = convert(tmp_path, f, extra=("--max-file-mb", "1"))
    assert code == 0, out
    assert report["summary"]["converted"] == 2000  # type: ignore[index]


# --- duplicate keys ----------------------------------------------------------------------------


DUP = b'{"protocolSection": {"identificationModule": {"nctId": "NCT00000001", "nctId": "NCT00000002"}}}'


@pytest.mark.parametrize(("data", "place"), [
    (DUP, "#/protocolSection/identificationModule/nctId"),
    (b"[" + line(5) + b"," + DUP + b"]", "#/1/protocolSection/identificationModule/nctId"),
    (line(5) + b"\n" + DUP + b"\n", "line 2 #/protocolSection/identificationModule/nctId"),
    (b'{"studies": [' + line(5) + b"," + DUP + b"]}", "#/studies/1/protocolSection/identificationModule/nctId"),
])
def test_duplicate_keys_are_reported_with_their_place(tmp_path: Path, data: bytes, place: str) -> None:
    f = tmp_path / "d.json"
    f.write_bytes(data)
    code, out, report = convert(tmp_path, f)
    assert code == 1
    (problem,) = errors(report)
    assert problem["place"] == place
    assert "duplicate key 'nctId'" in problem["message"]
    assert "NCT00000001" not in written(tmp_path)
    assert "NCT00000002" not in written(tmp_path)
    assert f"error: {f}: {place}: duplicate key" in out


def test_duplicate_check_has_no_false_alarm_on_escapes() -> None:
    raw = b'{"a": "\\u0041\\/\\"\\\\", "b": ["\\u005c", "x\\\\"], "c": {"d": "\\ud83d\\ude00"}}'
    assert json_stream.loads(raw) == {"a": 'A/"\\', "b": ["\\", "x\\"], "c": {"d": "😀"}}
    with pytest.raises(json_stream.DuplicateKey) as info:
        json_stream.loads(b'{"a": {"x": 1, "y": 2, "x": 3}}')
    assert info.value.pointer == "#/a/x"


# --- stdin ---------------------------------------------------------------------------------------


def test_stdin_size_limit_is_enforced_while_reading(tmp_path: Path) -> None:
    page = PAGE.read_bytes()
    code, out, report = convert(tmp_path, "-", stdin=page + b"\n" * (2 * 2**20), extra=("--max-file-mb", "1"))
    assert code == 1
    (problem,) = errors(report)
    assert problem["file"] == "-"
    assert "over the 1 MiB limit for one input, stopped reading" in problem["message"]
    assert "error: -: over the 1 MiB limit" in out


def test_stdin_ndjson_is_streamed(tmp_path: Path) -> None:
    code, out, _report = convert(tmp_path, "-", stdin=b"\n".join(line(i) for i in range(1, 4)))
    assert code == 0, out
    assert written(tmp_path) == {"NCT00000001", "NCT00000002", "NCT00000003"}


# --- encodings -----------------------------------------------------------------------------------


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be", "utf-8-sig"])
@pytest.mark.parametrize("kind", ["page", "json", "ndjson"])
def test_utf16_and_utf32_with_a_bom_are_read(tmp_path: Path, codec: str, kind: str) -> None:
    text = {"page": PAGE.read_text(encoding="utf-8"), "json": line(1).decode(),
            "ndjson": (line(1) + b"\n" + line(2)).decode()}[kind]
    bom = {"utf-16-le": "\ufeff", "utf-16-be": "\ufeff", "utf-32-le": "\ufeff", "utf-32-be": "\ufeff"}.get(codec, "")
    f = tmp_path / f"in.{'txt' if kind == 'page' else 'json'}"
    f.write_bytes((bom + text).encode(codec))
    code, out, _report = convert(tmp_path, f)
    assert code == 0, out
    expected = {"page": {PAGE_ID}, "json": {"NCT00000001"}, "ndjson": {"NCT00000001", "NCT00000002"}}[kind]
    assert written(tmp_path) == expected


def test_xml_in_utf16_with_a_bom_is_given_to_the_xml_reader_as_is(tmp_path: Path) -> None:
    xml = ('<?xml version="1.0" encoding="UTF-16"?>\n<clinical_study><id_info><nct_id>NCT00000001</nct_id>'
           "</id_info><brief_title>Ünïcode</brief_title></clinical_study>")
    f = tmp_path / "s.xml"
    f.write_bytes(xml.encode("utf-16"))
    code, out, _report = convert(tmp_path, f)
    assert code == 0, out
    trial = json.loads((tmp_path / "out" / "NCT00000001.trial.json").read_text())
    assert trial["identification"]["brief_title"] == "Ünïcode"


@pytest.mark.parametrize(("codec", "name"), [("utf-16-le", "UTF-16 LE"), ("utf-16-be", "UTF-16 BE"),
                                             ("utf-32-le", "UTF-32 LE")])
def test_utf16_without_a_bom_is_named_not_called_binary(tmp_path: Path, codec: str, name: str) -> None:
    f = tmp_path / "p.txt"
    f.write_bytes(PAGE.read_text(encoding="utf-8").encode(codec))
    code, out, report = convert(tmp_path, f)
    assert code == 1
    (problem,) = errors(report)
    assert problem["message"] == f"{name} text without a byte-order mark: save it as UTF-8 or with a BOM"
    assert "binary" not in out


@pytest.mark.parametrize(("name", "data"), [
    ("p.txt", PAGE.read_bytes()[:200] + b"\xff\xfe" + PAGE.read_bytes()[200:]),
    ("s.json", line(1)[:40] + b"\xc3\x28" + line(1)[40:]),
])
def test_invalid_utf8_is_named_with_its_byte_offset(tmp_path: Path, name: str, data: bytes) -> None:
    f = tmp_path / name
    f.write_bytes(data)
    bad = 200 if name == "p.txt" else 40
    code, out, report = convert(tmp_path, f)
    assert code == 1
    (problem,) = errors(report)
    assert f"invalid UTF-8 at byte {bad}" in problem["message"]
    assert "surrogates" not in out


# --- folders, FIFOs, devices -----------------------------------------------------------------------


def test_symlinked_subfolders_are_followed_once(tmp_path: Path) -> None:
    real = tmp_path / "real"
    (real / "deep").mkdir(parents=True)
    (real / "deep" / "a.json").write_bytes(line(1))
    top = tmp_path / "top"
    top.mkdir()
    (top / "link").symlink_to(real, target_is_directory=True)
    (real / "deep" / "loop").symlink_to(real, target_is_directory=True)  # a loop back up
    code, out, report = convert(tmp_path, top)
    assert code == 0, out
    assert written(tmp_path) == {"NCT00000001"}
    assert "a symlink back to a folder already walked (a loop): not walked again" in out
    assert report["summary"]["notes"]  # type: ignore[index]


def test_unreadable_folder_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "in" / "locked").mkdir(parents=True)
    (tmp_path / "in" / "a.json").write_bytes(line(1))
    real_scandir = os.scandir

    def scandir(path: str | os.PathLike[str]) -> object:
        if Path(path).name == "locked":  # root ignores chmod: refuse the way the kernel would
            raise PermissionError(13, "Permission denied")
        return real_scandir(path)

    monkeypatch.setattr(sources.os, "scandir", scandir)
    code, out, _report = convert(tmp_path, tmp_path / "in")
    assert code == 1
    assert f"error: {tmp_path / 'in' / 'locked'}: cannot read folder: Permission denied" in out
    assert written(tmp_path) == {"NCT00000001"}


def test_fifo_is_refused_by_name_not_waited_on(tmp_path: Path) -> None:
    fifo = tmp_path / "in" / "pipe.json"
    fifo.parent.mkdir()
    os.mkfifo(fifo)
    (tmp_path / "in" / "a.json").write_bytes(line(1))
    for target in (fifo, fifo.parent):
        code, out, _report = convert(tmp_path, target)
        assert code == 1
        assert f"error: {fifo}: a FIFO (named pipe), not a regular file: refused" in out


def test_device_is_refused_by_name(tmp_path: Path) -> None:
    code, out, _report = convert(tmp_path, "/dev/null")
    assert code == 1
    assert "error: /dev/null: a character device, not a regular file: refused" in out


@pytest.mark.parametrize("what", ["empty folder", "only other files", "empty array"])
def test_inputs_that_yield_no_record_exit_1_saying_so(tmp_path: Path, what: str) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    if what == "only other files":
        (folder / "NOTES.md").write_text("notes")
    if what == "empty array":
        (folder / "none.json").write_bytes(b"[]")
    code, out, _report = convert(tmp_path, folder)
    assert code == 1
    assert f"error: no record found in {folder}" in out


# --- escaping ------------------------------------------------------------------------------------


def test_terminal_escapes_in_file_names_and_page_text_are_shown_escaped(tmp_path: Path) -> None:
    f = tmp_path / "bad\x1b]0;owned\x07\u202e.txt"
    f.write_bytes(b"\x1b[2J\x1b[31mMinutes of the meeting\x9b\nAttendees\n")
    code, out, report = convert(tmp_path, f)
    assert code == 1
    assert not any(c in out for c in "\x1b\x07\x9b\u202e")
    assert "bad\\x1b]0;owned\\x07\\u202e.txt" in out
    assert "\\x1b[2J" in out
    assert not any(c in json.dumps(report, ensure_ascii=False) for c in "\x1b\x07\x9b\u202e")


def test_clean_escapes_controls_and_bidi_but_keeps_text() -> None:
    assert clean("Ünïcode – ok ✓") == "Ünïcode – ok ✓"
    assert clean("a\nb\tc\x00\x7f\u200f") == "a\\nb\\tc\\x00\\x7f\\u200f"


def test_a_reader_bug_costs_its_input_alone_and_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import dataclasses

    def broken(data: bytes, name: str) -> Iterator[Trial]:
        raise RecursionError("maximum recursion depth exceeded")
        yield  # a generator, as the readers are

    other = next(p for p in SAMPLES.glob("*.txt") if p != PAGE)
    kinds = {name: sources._detect(path.read_bytes()[:65536], name) for name, path in (("a", PAGE), ("b", other))}
    readers = dict(sources.READERS)
    readers[kinds["a"]] = dataclasses.replace(readers[kinds["a"]], read=broken)
    if kinds["a"] == kinds["b"]:
        pytest.skip("the two samples share a layout")
    monkeypatch.setattr(sources, "READERS", readers)
    results = [r for path in (PAGE, other) for r in sources.read_input(sources.InputFile(str(path), path=path))]
    errors = [r for r in results if isinstance(r, RecordError)]
    assert len(errors) == 1
    assert "internal error RecursionError" in str(errors[0])
    assert len([r for r in results if isinstance(r, Trial)]) == 1
