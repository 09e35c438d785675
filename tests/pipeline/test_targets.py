"""The Target protocol: every registered target builds, validates the same document, serialises,
reads its bytes back and reverses them; Bundle invariants; the one read loop."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.conftest import SAMPLES
from trial2fhir import pipeline
from trial2fhir.errors import Problem, RecordError
from trial2fhir.model import Trial
from trial2fhir.roundtrip import roundtrip_one
from trial2fhir.sources import InputFile, read_input
from trial2fhir.targets import TARGETS, SplitsToNdjson, Target
from trial2fhir.validation.bundle import bundle_invariants

SAMPLE = sorted(SAMPLES.glob("*.txt"))[0]


def _ready(target: Target[Any]) -> None:
    try:
        target.ready()
    except FileNotFoundError as exc:  # pragma: no cover - depends on the machine
        pytest.skip(f"{target.name} not ready here: {exc}")


@pytest.fixture(scope="module")
def trial() -> Trial:
    (t,) = list(read_input(InputFile(f"samples/{SAMPLE.name}", data=SAMPLE.read_bytes())))
    assert isinstance(t, Trial)
    return t


@pytest.mark.parametrize("name", list(TARGETS))
def test_every_target_keeps_the_protocol(name: str, trial: Trial) -> None:
    target = TARGETS[name]
    _ready(target)
    assert target.name == name
    assert target.suffix
    assert target.description
    doc = target.build(trial)
    assert target.validate(doc) == []
    data = target.serialise(doc)
    assert data == target.serialise(target.build(trial.model_copy(deep=True))), "bytes must be deterministic"
    assert target.sniff(data[:65536])
    back = target.reverse(target.parse(data, "x"))
    assert back["identification"]["nct_id"] == trial.nct_id
    result = roundtrip_one(target, trial)
    assert result.ok, (result.errors, [d.to_dict() for d in result.diffs if not d.declared])


@pytest.mark.parametrize("name", list(TARGETS))
def test_validate_judges_the_built_document_not_bytes(name: str, trial: Trial) -> None:
    """A document broken in memory is reported as a Problem with its place inside the document."""
    target = TARGETS[name]
    _ready(target)
    doc = target.build(trial)
    if isinstance(doc, dict) and doc.get("resourceType") == "Bundle":
        doc["entry"][0]["resource"]["status"] = "bogus"
    elif isinstance(doc, dict):
        doc["nct_id"] = "not an NCT ID"
    else:  # pragma: no cover - XML targets break their own way in their own tests
        pytest.skip("not a JSON document")
    problems = target.validate(doc)
    assert problems
    assert all(isinstance(p, Problem) and p.file == "" and p.place for p in problems)


@pytest.mark.parametrize("name", list(TARGETS))
def test_parse_names_file_and_place_of_bad_bytes(name: str) -> None:
    with pytest.raises(RecordError) as info:
        TARGETS[name].parse(b'{"a": ', "w.json")
    assert info.value.problem.file == "w.json"
    assert info.value.problem.place.startswith("line 1")


def test_fhir_splits_to_ndjson_without_reparsing(trial: Trial) -> None:
    target = TARGETS["fhir-r5"]
    assert isinstance(target, SplitsToNdjson)
    lines = target.ndjson(target.build(trial))
    assert "ResearchStudy" in lines
    assert all(orjson.loads(row)["resourceType"] == rtype for rtype, rows in lines.items() for row in rows)


# --- Bundle invariants ------------------------------------------------------------------------


def _bundle(*entries: dict[str, Any], kind: str = "transaction") -> dict[str, Any]:
    return {"resourceType": "Bundle", "id": "b", "type": kind, "entry": list(entries)}


def _entry(url: str, rtype: str, rid: str, **body: Any) -> dict[str, Any]:
    return {"fullUrl": url, "resource": {"resourceType": rtype, "id": rid, **body},
            "request": {"method": "POST", "url": rtype}}


def test_bundle_invariants_hold_for_a_good_bundle() -> None:
    a = _entry("urn:uuid:1", "Organization", "o")
    b = _entry("urn:uuid:2", "ResearchStudy", "s", sponsor={"reference": "urn:uuid:1"},
               site=[{"reference": "Organization/o"}, {"reference": "https://x.org/fhir/Location/1"}])
    assert bundle_invariants(_bundle(a, b)) == []


def test_repeated_full_url_is_reported() -> None:
    problems = bundle_invariants(_bundle(_entry("urn:uuid:1", "Organization", "o"),
                                         _entry("urn:uuid:1", "Organization", "p")))
    assert [(p.place, p.message) for p in problems] == [
        ("Bundle/b: $.entry[1].fullUrl", "fullUrl urn:uuid:1 repeats entry[0] [bundle]")]


def test_transaction_entry_without_request_is_reported() -> None:
    e = _entry("urn:uuid:1", "Organization", "o")
    del e["request"]
    (problem,) = bundle_invariants(_bundle(e))
    assert "needs a request (bdl-3)" in problem.message
    assert bundle_invariants(_bundle(e, kind="collection")) == []


def test_dangling_references_are_reported() -> None:
    e = _entry("urn:uuid:1", "ResearchStudy", "s", sponsor={"reference": "urn:uuid:9"},
               site=[{"reference": "Location/missing"}])
    problems = bundle_invariants(_bundle(e))
    assert [p.place for p in problems] == ["Bundle/b: $.entry[0].resource.sponsor.reference",
                                           "Bundle/b: $.entry[0].resource.site[0].reference"]
    assert "reference urn:uuid:9 resolves to no entry" in problems[0].message


# --- the one read loop ------------------------------------------------------------------------


def _nct(trial: Trial) -> str:
    return trial.nct_id


def test_read_loop_keeps_input_order_and_errors_in_place(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_bytes(b"{")
    items = list(pipeline.run([str(SAMPLE), str(bad), str(tmp_path / "missing.json"), str(SAMPLE)], _nct))
    kinds = [type(i).__name__ for i in items]
    assert kinds == ["RecordError", "Done", "RecordError", "Done"]  # missing inputs come first
    assert isinstance(items[1], pipeline.Done)
    assert items[1].result == items[1].trial.nct_id


def test_cpu_count_is_what_this_process_may_use(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pipeline.os, "sched_getaffinity", lambda _pid: {0, 3}, raising=False)
    assert pipeline.cpu_count() == 2
