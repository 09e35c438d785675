"""The test FHIR engine itself: the gaps of Medplum's stock router are closed."""

from __future__ import annotations

import copy
import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import GOLDEN
from tests.integration.engine import Engine

pytestmark = pytest.mark.integration

GOLDEN_R5 = sorted((GOLDEN / "fhir-r5").glob("*.json"))


def post(engine: Engine, bundle: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    req = urllib.request.Request(
        engine.url + "/", data=json.dumps(bundle).encode(), method="POST",
        headers={"Content-Type": "application/fhir+json"},
    )
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def golden(path: Path) -> dict[str, Any]:
    return dict(json.loads(path.read_text(encoding="utf-8")))


def test_transaction_of_many_conditional_entries_commits(engine_r5: Engine) -> None:
    bundle = max((golden(p) for p in GOLDEN_R5), key=lambda b: len(b["entry"]))
    assert len(bundle["entry"]) > 8  # past the stock router's strict-isolation limit
    status, resp = post(engine_r5, bundle)
    assert status == 200, resp
    assert all(e["response"]["status"].startswith("201") for e in resp["entry"])


def test_noop_update_keeps_the_version(engine_r5: Engine) -> None:
    bundle = golden(GOLDEN_R5[0])
    _, first = post(engine_r5, bundle)
    _, second = post(engine_r5, bundle)
    assert [e["response"]["etag"] for e in first["entry"]] == [e["response"]["etag"] for e in second["entry"]]
    assert all("outcome" in e["response"] for e in second["entry"])


def test_failed_transaction_leaves_nothing(engine_r5: Engine) -> None:
    bundle = golden(GOLDEN_R5[0])
    broken = copy.deepcopy(bundle)
    broken["entry"][-1]["resource"]["status"] = "bogus"
    status, resp = post(engine_r5, broken)
    assert status == 400
    text = resp["issue"][0]["details"]["text"]
    assert f"Bundle.entry[{len(bundle['entry']) - 1}]" in text
    assert "bogus" in text
    for entry in bundle["entry"]:
        assert engine_r5.get(f"/{entry['resource']['resourceType']}")["total"] == 0


def test_failed_update_restores_what_was_stored(engine_r5: Engine) -> None:
    bundle = golden(GOLDEN_R5[0])
    status, _ = post(engine_r5, bundle)
    assert status == 200
    stored = {t: engine_r5.get(f"/{t}") for t in {e["resource"]["resourceType"] for e in bundle["entry"]}}
    changed = copy.deepcopy(bundle)
    study = changed["entry"][0]["resource"]
    assert study["resourceType"] == "ResearchStudy"
    study["title"] = "A new title, then a broken entry"
    study["identifier"].append({"system": "http://example.org/other", "value": "X-1"})
    changed["entry"][-1]["resource"]["status"] = "bogus"
    status, _ = post(engine_r5, changed)
    assert status == 400
    # Every resource as it was (content and version), and the search index without the new identifier.
    assert {t: engine_r5.get(f"/{t}") for t in stored} == stored
    assert engine_r5.search("ResearchStudy", "identifier=http://example.org/other|X-1") == []
    ident = bundle["entry"][0]["resource"]["identifier"][0]
    found = engine_r5.search("ResearchStudy", f"identifier={ident['system']}|{ident['value']}")
    assert [r["title"] for r in found] == [bundle["entry"][0]["resource"]["title"]]


def test_unresolved_reference_rejects_the_transaction(engine_r5: Engine) -> None:
    bundle = golden(GOLDEN_R5[0])
    bundle["entry"] = bundle["entry"][:1]  # the study alone: its references point nowhere
    status, resp = post(engine_r5, bundle)
    assert status == 400
    assert "does not resolve" in resp["issue"][0]["details"]["text"]
    assert engine_r5.get("/ResearchStudy")["total"] == 0
