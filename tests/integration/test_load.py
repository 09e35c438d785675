"""`trial2fhir load` against the real test engine: every "What it must show" bullet of issue 10."""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.conftest import SAMPLES
from tests.integration.engine import Engine, free_port
from tests.integration.proxy import Faults, fault_proxy
from trial2fhir import pipeline
from trial2fhir.cli import app
from trial2fhir.load import Connection, LoadReport, load
from trial2fhir.model import Trial
from trial2fhir.sources import expand
from trial2fhir.targets import TARGETS

pytestmark = pytest.mark.integration
runner = CliRunner()
NCT = "https://clinicaltrials.gov"


def trials(path: Path) -> list[Trial]:
    return [d.trial for d in pipeline.run(expand([str(path)]), lambda t: t) if isinstance(d, pipeline.Done)]


def sample_trials() -> list[Trial]:
    return [t for p in sorted(SAMPLES.iterdir()) for t in trials(p)]


def bundle_of(trial: Trial, target: str = "fhir-r5") -> dict[str, Any]:
    t = TARGETS[target]
    return dict(json.loads(t.serialise(t.build(trial))))


def write(tmp_path: Path, name: str, bundle: dict[str, Any], target: str = "fhir-r5") -> Path:
    path = tmp_path / f"{name}.{target}.json"
    path.write_text(json.dumps(bundle), encoding="utf-8")
    return path


def as_conditional_updates(bundle: dict[str, Any]) -> dict[str, Any]:
    """The identity semantics decided for the Bundles (PUT Type?identifier=...), whatever the mapping emits."""
    out = copy.deepcopy(bundle)
    for e in out["entry"]:
        r = e["request"]
        if r["method"] == "POST" and r.get("ifNoneExist"):
            e["request"] = {"method": "PUT", "url": f"{r['url']}?{r['ifNoneExist']}"}
    return out


def run_load(engine_url: str, *inputs: Path | str, **kw: Any) -> LoadReport:
    conn = Connection(engine_url, retries=kw.pop("retries", 2), backoff_s=kw.pop("backoff_s", 0.05),
                      timeout_s=kw.pop("timeout_s", 30.0), retry_budget_s=kw.pop("retry_budget_s", 30.0))
    return load([str(i) for i in inputs], conn, **kw)


def study(engine: Engine, nct_id: str) -> list[dict[str, Any]]:
    return engine.search("ResearchStudy", f"identifier={NCT}|{nct_id}")


def refs(value: Any) -> list[str]:
    if isinstance(value, list):
        return [r for v in value for r in refs(v)]
    if isinstance(value, dict):
        own = [value["reference"]] if isinstance(value.get("reference"), str) else []
        return own + [r for k, v in value.items() if k != "reference" for r in refs(v)]
    return []


def assert_loaded_and_resolving(engine: Engine, nct_ids: list[str]) -> None:
    for nct_id in nct_ids:
        found = study(engine, nct_id)
        assert len(found) == 1, nct_id
        for ref in refs(found[0]):
            if not ref.startswith("#"):
                assert engine.get(f"/{ref}")["resourceType"] == ref.split("/")[0], ref


# --- all records load; a second load is unchanged; references resolve (R5 and R4B) -------------


@pytest.fixture(params=["fhir-r5", "fhir-r4b"])
def release(request: pytest.FixtureRequest) -> tuple[Engine, str]:
    """The engine of one FHIR release and the target that writes it."""
    target: str = request.param
    if target not in TARGETS:
        pytest.skip(f"no {target} target in this build")
    engine: Engine = request.getfixturevalue("engine_r4b" if target == "fhir-r4b" else "engine_r5")
    return engine, target


def test_samples_load_then_a_second_load_is_unchanged(release: tuple[Engine, str]) -> None:
    engine, target = release
    first = run_load(engine.url, SAMPLES, target=target)
    assert [r.status for r in first.records] == ["created"] * len(first.records), [r.errors for r in first.records]
    assert len(first.records) == len(list(SAMPLES.iterdir()))
    second = run_load(engine.url, SAMPLES, target=target)
    assert {r.status for r in second.records} == {"unchanged"}
    assert all(set(r.entries) == {"unchanged"} for r in second.records)
    assert_loaded_and_resolving(engine, [r.nct_id for r in first.records])


@pytest.mark.shared
def test_dev_records_load_batched_then_unchanged(release: tuple[Engine, str], shared_dir: Path) -> None:
    engine, target = release
    first = run_load(engine.url, shared_dir / "ctgov-dev", batch=10, target=target)
    assert len(first.records) == 50
    assert not first.failed, [r.errors for r in first.failed][:3]
    second = run_load(engine.url, shared_dir / "ctgov-dev", batch=10, target=target)
    assert second.summary()["unchanged"] == 50
    assert_loaded_and_resolving(engine, [r.nct_id for r in first.records])


@pytest.mark.shared
def test_dev_records_load_one_by_one_then_unchanged(engine_r5: Engine, shared_dir: Path) -> None:
    # Two dev records describe one Duke site with different postal codes: trial by trial, the
    # second must not overwrite the first's site, or every second run flips it back and forth.
    first = run_load(engine_r5.url, shared_dir / "ctgov-dev", batch=1)
    assert not first.failed, [r.errors for r in first.failed][:3]
    second = run_load(engine_r5.url, shared_dir / "ctgov-dev", batch=1)
    moved = [(r.nct_id, r.entries) for r in second.records if r.status != "unchanged"]
    assert second.summary()["unchanged"] == 50, moved
    warned = [w for r in second.records for w in r.warnings]
    assert any("Location" in w and "postalCode" in w for w in warned), warned
    assert_loaded_and_resolving(engine_r5, [r.nct_id for r in first.records])


def _site_described_twice(tmp_path: Path) -> tuple[Path, Path, dict[str, Any]]:
    """Two trials that share a site (one identity) but give it different postal codes."""
    trial = _with_sites()
    twin = trial.model_copy(deep=True)
    twin.identification.nct_id = "NCT99999901"
    a, b = bundle_of(trial), bundle_of(twin)
    loc_b = next(e for e in b["entry"] if e["resource"]["resourceType"] == "Location")
    loc_b["resource"]["address"]["postalCode"] = "99999"
    return write(tmp_path, "a", a), write(tmp_path, "b", b), loc_b


@pytest.mark.parametrize("batch", [1, 2])
def test_a_site_two_trials_describe_differently_keeps_the_first_and_reloads_unchanged(
        engine_r5: Engine, tmp_path: Path, batch: int) -> None:
    a, b, loc_b = _site_described_twice(tmp_path)
    first = run_load(engine_r5.url, a, b, batch=batch)
    assert [r.status for r in first.records] == ["created", "created"], [r.errors for r in first.records]
    assert first.records[0].warnings == []
    assert len(first.records[1].warnings) == 1
    assert "postalCode" in first.records[1].warnings[0]
    query = loc_b["request"]["url"].split("?", 1)[1]
    (site,) = engine_r5.search("Location", query)
    assert site["address"].get("postalCode") != "99999"  # the first trial's description
    second = run_load(engine_r5.url, a, b, batch=batch)
    assert [r.status for r in second.records] == ["unchanged", "unchanged"]
    (again,) = engine_r5.search("Location", query)
    assert again["address"] == site["address"]


def test_dry_run_shows_the_conditional_create_of_a_site_described_differently(tmp_path: Path) -> None:
    a, b, _ = _site_described_twice(tmp_path)
    result = runner.invoke(app, ["load", str(a), str(b), "--server", "http://127.0.0.1:9", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "POST Location (ifNoneExist identifier=" in result.output
    assert "warning: NCT99999901: Location" in result.output
    assert "postalCode" in result.output


def _twins(target: str = "fhir-r5") -> tuple[dict[str, Any], dict[str, Any]]:
    trial = sample_trials()[0]
    twin = trial.model_copy(deep=True)
    twin.identification.nct_id = "NCT99999901"
    return bundle_of(trial, target), bundle_of(twin, target)


def _orgs(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for e in bundle["entry"] if e["resource"]["resourceType"] == "Organization"]


def test_a_sponsor_shared_by_two_trials_is_one_organization(release: tuple[Engine, str], tmp_path: Path) -> None:
    engine, target = release
    a, b = _twins(target)
    orgs = {e["fullUrl"] for e in _orgs(a)}
    assert orgs
    if not orgs <= {e["fullUrl"] for e in b["entry"]}:
        pytest.skip(f"the {target} mapping gives each trial its own sponsor identity")
    report = run_load(engine.url, write(tmp_path, "a", a, target), write(tmp_path, "b", b, target), target=target)
    assert [r.status for r in report.records] == ["created", "created"]
    assert len(study(engine, "NCT99999901")) == 1
    assert engine.get("/Organization")["total"] == len(orgs)


def test_one_identity_sent_by_two_trials_is_one_resource_on_the_server(engine_r5: Engine, tmp_path: Path) -> None:
    # The loader's and the engine's side of a shared sponsor, whatever identities the mapping gives.
    a, b = (as_conditional_updates(x) for x in _twins())
    org_a, org_b = _orgs(a)[0], _orgs(b)[0]
    for e in b["entry"]:  # b's references and its Organization entry take a's identity
        text = json.dumps(e).replace(org_b["fullUrl"], org_a["fullUrl"])
        e.clear()
        e.update(json.loads(text))
    org_b = _orgs(b)[0]
    org_b["resource"] = copy.deepcopy(org_a["resource"])
    org_b["request"] = copy.deepcopy(org_a["request"])
    for batch in (1, 2):
        engine_r5.reset()
        report = run_load(engine_r5.url, write(tmp_path, "a", a), write(tmp_path, "b", b), batch=batch)
        assert [r.status for r in report.records] == ["created", "created"]
        assert engine_r5.get("/ResearchStudy")["total"] == 2
        assert engine_r5.get("/Organization")["total"] == len(_orgs(a))


# --- an updated record updates in place --------------------------------------------------------


def _with_sites() -> Trial:
    return max(sample_trials(), key=lambda t: len(t.locations))


def test_an_updated_record_updates_in_place(engine_r5: Engine, tmp_path: Path) -> None:
    trial = _with_sites()
    assert trial.locations
    run_load(engine_r5.url, write(tmp_path, "v1", as_conditional_updates(bundle_of(trial))))
    before = study(engine_r5, trial.identification.nct_id or "")[0]
    studies = engine_r5.get("/ResearchStudy")["total"]  # the trial's, plus any per-site studies
    changed = trial.model_copy(deep=True)
    changed.identification.brief_title = "A new title"
    changed.identification.official_title = "A new official title"
    changed.locations = changed.locations[:-1]
    report = run_load(engine_r5.url, write(tmp_path, "v2", as_conditional_updates(bundle_of(changed))))
    assert report.records[0].status == "updated"
    after = study(engine_r5, trial.identification.nct_id or "")
    assert len(after) == 1
    assert after[0]["id"] == before["id"]
    assert after[0]["meta"]["versionId"] == "2"
    assert after[0]["title"] != before["title"]
    assert "A new" in after[0]["title"]
    assert engine_r5.get("/ResearchStudy")["total"] == studies
    assert len(after[0].get("site", [])) == len(before.get("site", [])) - 1


def test_the_mappings_bundles_update_in_place(engine_r5: Engine, tmp_path: Path) -> None:
    trial = _with_sites()
    if bundle_of(trial)["entry"][0]["request"]["method"] != "PUT":
        pytest.skip("the fhir-r5 mapping still emits conditional creates: needs h-fhir-r5's conditional updates")
    run_load(engine_r5.url, write(tmp_path, "v1", bundle_of(trial)))
    studies = engine_r5.get("/ResearchStudy")["total"]
    changed = trial.model_copy(deep=True)
    changed.identification.brief_title = "A new title"
    changed.locations = changed.locations[:-1]
    report = run_load(engine_r5.url, write(tmp_path, "v2", bundle_of(changed)))
    assert report.records[0].status == "updated"
    assert engine_r5.get("/ResearchStudy")["total"] == studies
    assert len(study(engine_r5, trial.identification.nct_id or "")) == 1


# --- a broken Bundle is rejected whole ---------------------------------------------------------


@pytest.mark.parametrize("batch", ["1", "2"])
def test_a_broken_bundle_is_rejected_whole_and_the_others_load(engine_r5: Engine, tmp_path: Path,
                                                                batch: str) -> None:
    bad_trial, good_trial = sample_trials()[:2]
    broken = bundle_of(bad_trial)
    broken["entry"][0]["resource"]["status"] = "bogus"
    good = bundle_of(good_trial)
    report_file = tmp_path / "report.json"
    result = runner.invoke(app, ["load", str(write(tmp_path, "broken", broken)), str(write(tmp_path, "good", good)),
                                 "--server", engine_r5.url, "--batch", batch, "--report", str(report_file)])
    assert result.exit_code == 1
    assert "'bogus' is not in the required value set" in result.output
    assert "entry 0: ResearchStudy" in result.output
    doc = json.loads(report_file.read_text())
    assert [r["status"] for r in doc["records"]] == ["failed", "created"]
    assert study(engine_r5, bad_trial.identification.nct_id or "") == []
    for type_ in {e["resource"]["resourceType"] for e in broken["entry"]}:
        expected = sum(1 for e in good["entry"] if e["resource"]["resourceType"] == type_)
        assert engine_r5.get(f"/{type_}")["total"] == expected, type_


# --- faults ------------------------------------------------------------------------------------


def _one_bundle(tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    bundle = bundle_of(sample_trials()[0])
    return write(tmp_path, "one", bundle), bundle


def _assert_once(engine: Engine, bundle: dict[str, Any]) -> None:
    for type_ in {e["resource"]["resourceType"] for e in bundle["entry"]}:
        expected = sum(1 for e in bundle["entry"] if e["resource"]["resourceType"] == type_)
        assert engine.get(f"/{type_}")["total"] == expected, type_


def test_server_down_fails_clearly_with_bounded_retries(tmp_path: Path) -> None:
    path, _ = _one_bundle(tmp_path)
    started = time.monotonic()
    result = runner.invoke(app, ["load", str(path), "--server", f"http://127.0.0.1:{free_port()}",
                                 "--retries", "2", "--timeout", "1"])
    assert result.exit_code == 1
    assert "cannot connect" in result.output
    assert "gave up after 3 attempt(s)" in result.output
    assert time.monotonic() - started < 20


def test_slow_server_past_the_timeout_is_retried_without_duplicates(engine_r5: Engine, tmp_path: Path) -> None:
    path, bundle = _one_bundle(tmp_path)
    faults = Faults(engine_r5.url, ["slow"], delay_s=2.0)
    with fault_proxy(faults) as url:
        report = run_load(url, path, timeout_s=0.5, retries=3)
        time.sleep(2.5)  # the slow request reaches the server too
    assert report.records[0].status in ("created", "updated", "unchanged")
    assert len(faults.seen) == 2
    _assert_once(engine_r5, bundle)


def test_a_server_always_slow_gives_up_within_bounds(engine_r5: Engine, tmp_path: Path) -> None:
    path, _ = _one_bundle(tmp_path)
    faults = Faults(engine_r5.url, ["slow"] * 5, delay_s=1.0)
    with fault_proxy(faults) as url:
        started = time.monotonic()
        report = run_load(url, path, timeout_s=0.3, retries=1)
        elapsed = time.monotonic() - started
        time.sleep(1.5)  # let the abandoned requests land before the next test empties the engine
    assert report.records[0].status == "failed"
    assert "no answer within 0.3 s" in report.records[0].errors[0]
    assert len(faults.seen) == 2
    assert elapsed < 5


def test_429_honours_retry_after(engine_r5: Engine, tmp_path: Path) -> None:
    path, bundle = _one_bundle(tmp_path)
    faults = Faults(engine_r5.url, ["429"], retry_after="1")
    with fault_proxy(faults) as url:
        report = run_load(url, path)
    assert report.records[0].status == "created"
    assert faults.times[1] - faults.times[0] >= 1.0
    _assert_once(engine_r5, bundle)


def test_503_then_ok_loads_once(engine_r5: Engine, tmp_path: Path) -> None:
    path, bundle = _one_bundle(tmp_path)
    faults = Faults(engine_r5.url, ["503", "503"])
    with fault_proxy(faults) as url:
        result = runner.invoke(app, ["load", str(path), "--server", url, "--retries", "3"])
    assert result.exit_code == 0, result.output
    assert len(faults.seen) == 3
    _assert_once(engine_r5, bundle)


def test_503_for_ever_fails_after_bounded_retries(engine_r5: Engine, tmp_path: Path) -> None:
    path, _ = _one_bundle(tmp_path)
    faults = Faults(engine_r5.url, ["503"] * 10)
    with fault_proxy(faults) as url:
        result = runner.invoke(app, ["load", str(path), "--server", url, "--retries", "2"])
    assert result.exit_code == 1
    assert "HTTP 503" in result.output
    assert len(faults.seen) == 3
    assert engine_r5.get("/ResearchStudy")["total"] == 0


# --- the token ---------------------------------------------------------------------------------

TOKEN = "tok-SECRET-4242-do-not-print"


def test_the_token_is_sent_but_never_printed_or_reported(engine_r5: Engine, tmp_path: Path) -> None:
    path, _ = _one_bundle(tmp_path)
    broken = bundle_of(sample_trials()[1])
    broken["entry"][0]["resource"]["status"] = "bogus"
    bad = write(tmp_path, "bad", broken)
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    faults = Faults(engine_r5.url, ["503", "429"])
    outputs = []
    with fault_proxy(faults) as url:
        for opts in (["--token-env", "T2F_TEST_TOKEN"], ["--token-file", str(token_file)]):
            report = tmp_path / "r.json"
            result = runner.invoke(app, ["load", str(path), str(bad), "--server", url, "--report", str(report), *opts],
                                   env={"T2F_TEST_TOKEN": TOKEN})
            assert result.exit_code == 1
            outputs += [result.output, report.read_text()]
        down = runner.invoke(app, ["load", str(path), "--server", f"http://127.0.0.1:{free_port()}", "--retries", "0",
                                   "--token-env", "T2F_TEST_TOKEN"], env={"T2F_TEST_TOKEN": TOKEN})
        dry = runner.invoke(app, ["load", str(path), "--server", url, "--dry-run", "--token-env", "T2F_TEST_TOKEN"],
                            env={"T2F_TEST_TOKEN": TOKEN})
        outputs += [down.output, dry.output]
    assert all(h.get("Authorization") == f"Bearer {TOKEN}" for h in faults.seen)
    assert len(faults.seen) >= 4
    for text in outputs:
        assert TOKEN not in text
        assert "SECRET" not in text


def test_a_missing_token_variable_is_a_usage_error(tmp_path: Path) -> None:
    path, _ = _one_bundle(tmp_path)
    result = runner.invoke(app, ["load", str(path), "--server", "http://127.0.0.1:9", "--token-env", "T2F_ABSENT"],
                           env={})
    assert result.exit_code == 2
    assert "T2F_ABSENT" in result.output
