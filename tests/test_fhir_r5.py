"""FHIR R5 output end to end: golden Bundles, invariants, CLI commands, hypothesis round trip."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from typer.testing import CliRunner

from tests.conftest import GOLDEN, SAMPLES, assert_golden
from tests.strategies import trials
from trial2fhir.cli import app
from trial2fhir.errors import RecordError
from trial2fhir.model import Trial
from trial2fhir.roundtrip import roundtrip_fhir_r5
from trial2fhir.sources import InputFile, read_input
from trial2fhir.targets import fhir_r5
from trial2fhir.validation.fhir import locate_schema

try:
    locate_schema()
except FileNotFoundError as exc:  # pragma: no cover - depends on the machine
    pytest.skip(f"HL7 FHIR schema not installed: {exc}", allow_module_level=True)

runner = CliRunner()
SAMPLE_FILES = sorted(SAMPLES.glob("*.txt"))


def sample_trial(path: Path) -> Trial:
    (trial,) = list(read_input(InputFile(f"samples/{path.name}", data=path.read_bytes())))
    assert isinstance(trial, Trial)
    return trial


def references(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [v for k, v in node.items() if k == "reference" and isinstance(v, str)] + [
            r for v in node.values() for r in references(v)
        ]
    if isinstance(node, list):
        return [r for v in node for r in references(v)]
    return []


@pytest.mark.parametrize("path", SAMPLE_FILES, ids=[p.stem for p in SAMPLE_FILES])
def test_golden_bundle(path: Path, update_goldens: bool) -> None:
    assert_golden(f"fhir-r5/{path.stem}.fhir-r5.json", fhir_r5.render(sample_trial(path)), update_goldens)


@pytest.mark.parametrize("path", SAMPLE_FILES, ids=[p.stem for p in SAMPLE_FILES])
def test_bundle_invariants(path: Path) -> None:
    trial = sample_trial(path)
    doc = fhir_r5.bundle(trial)
    assert doc["type"] == "transaction"
    urls = [e["fullUrl"] for e in doc["entry"]]
    assert len(urls) == len(set(urls)), "fullUrls are unique"
    ids = [f"{e['resource']['resourceType']}/{e['resource']['id']}" for e in doc["entry"]]
    assert len(ids) == len(set(ids)), "ids are unique"
    for e in doc["entry"]:
        assert e["resource"], "no empty resource"
        request = e["request"]
        assert request["method"] == "PUT"
        rtype, search = request["url"].split("?identifier=", 1)
        assert rtype == e["resource"]["resourceType"]
        system, value = unquote(search).split("|", 1)
        assert {"system": system, "value": value}.items() <= next(
            i for i in e["resource"]["identifier"] if i.get("system") == system and i.get("value") == value
        ).items()
        for ref in references(e["resource"]):
            if ref.startswith("urn:uuid:"):
                assert ref in urls, f"{ids[urls.index(e['fullUrl'])]} refers to {ref}, not in the bundle"
    study = doc["entry"][0]["resource"]
    assert study["resourceType"] == "ResearchStudy"
    assert {"system": "https://clinicaltrials.gov", "value": trial.nct_id, "use": "official"} in study["identifier"]


def test_output_is_deterministic() -> None:
    trial = sample_trial(SAMPLE_FILES[0])
    assert fhir_r5.render(trial) == fhir_r5.render(trial.model_copy(deep=True))


@pytest.mark.parametrize("path", SAMPLE_FILES, ids=[p.stem for p in SAMPLE_FILES])
def test_samples_round_trip(path: Path) -> None:
    result = roundtrip_fhir_r5(sample_trial(path))
    assert result.valid, result.errors
    assert result.roundtrip_ok, [d.to_dict() for d in result.diffs if not d.declared]


@pytest.mark.parametrize("path", SAMPLE_FILES, ids=[p.stem for p in SAMPLE_FILES])
def test_fhir_resources_parse_gives_back_what_was_written(path: Path) -> None:
    """Why the round trip may reverse the validated JSON instead of a second model dump."""
    doc = fhir_r5.bundle(sample_trial(path))
    assert fhir_r5.parse_back(doc) == doc


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(trials)
def test_any_trial_round_trips_through_fhir_r5(trial: Trial) -> None:
    result = roundtrip_fhir_r5(trial)
    assert result.valid, result.errors
    assert result.roundtrip_ok, [d.to_dict() for d in result.diffs if not d.declared]


# --- the commands -----------------------------------------------------------------------------


def test_convert_validates_and_writes_bundles(tmp_path: Path) -> None:
    result = runner.invoke(app, ["convert", str(SAMPLES), "--to", "fhir-r5", "-o", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert len(list(tmp_path.glob("NCT*.fhir-r5.json"))) == len(SAMPLE_FILES)


def test_no_validate_says_so(tmp_path: Path) -> None:
    result = runner.invoke(app, ["convert", str(SAMPLE_FILES[0]), "--to", "fhir-r5", "--no-validate",
                                 "-o", str(tmp_path)])
    assert result.exit_code == 0
    assert "without schema validation" in result.output


def test_ndjson_bulk_layout(tmp_path: Path) -> None:
    result = runner.invoke(app, ["convert", str(SAMPLES), "--to", "fhir-r5", "--format", "ndjson", "-o", str(tmp_path)])
    assert result.exit_code == 0, result.output
    studies = [orjson.loads(line) for line in (tmp_path / "ResearchStudy.ndjson").read_bytes().splitlines()]
    assert len([s for s in studies if "partOf" not in s]) == len(SAMPLE_FILES), "one trial-level study each"
    all_ids = set()
    for f in tmp_path.glob("*.ndjson"):
        for line in f.read_bytes().splitlines():
            r = orjson.loads(line)
            assert f.stem == r["resourceType"]
            all_ids.add(f"{r['resourceType']}/{r['id']}")
    for f in tmp_path.glob("*.ndjson"):
        for line in f.read_bytes().splitlines():
            for ref in references(orjson.loads(line)):
                assert ref in all_ids, f"{ref} is not relative to a written resource"


def test_validate_command(tmp_path: Path) -> None:
    good = tmp_path / "good.json"
    good.write_bytes(fhir_r5.render(sample_trial(SAMPLE_FILES[0])))
    assert runner.invoke(app, ["validate", str(good)]).exit_code == 0
    doc = orjson.loads(good.read_bytes())
    doc["entry"][0]["resource"]["status"] = "bogus"
    doc["entry"][0]["resource"]["phase"] = "phase-1"
    bad = tmp_path / "bad.json"
    bad.write_bytes(orjson.dumps(doc))
    result = runner.invoke(app, ["validate", str(bad)])
    assert result.exit_code == 1
    study = doc["entry"][0]["resource"]["id"]
    assert f"{bad}: ResearchStudy/{study}: $.status:" in result.output
    assert f"ResearchStudy/{study}: $.phase" in result.output


def test_roundtrip_command_report(tmp_path: Path) -> None:
    report = tmp_path / "r.json"
    result = runner.invoke(app, ["roundtrip", str(SAMPLES), "--to", "fhir-r5", "--report", str(report)])
    assert result.exit_code == 0, result.output
    assert result.output.count("ok NCT") == len(SAMPLE_FILES)
    assert "declared loss (fhir-r5): identification.org_study_id_link: Identifier has no link element" in result.output
    doc = json.loads(report.read_text())
    rec = doc["records"][0]
    assert set(rec) >= {"source", "nct_id", "targets"}
    t = rec["targets"]["fhir-r5"]
    assert set(t) == {"file", "valid", "errors", "roundtrip"}
    assert set(t["roundtrip"]) == {"ok", "diffs", "declared_losses"}


def test_roundtrip_reports_an_undeclared_loss(monkeypatch: pytest.MonkeyPatch) -> None:
    trial = sample_trial(SAMPLE_FILES[0])
    doc = fhir_r5.bundle(trial)
    doc["entry"][0]["resource"].pop("title")  # as if the mapping had dropped the brief title
    result = roundtrip_fhir_r5(trial, orjson.dumps(doc))
    assert not result.roundtrip_ok
    assert [d.path for d in result.diffs if not d.declared] == ["identification.brief_title"]


def test_invalid_record_does_not_stop_roundtrip(tmp_path: Path) -> None:
    bad = tmp_path / "x.json"
    bad.write_bytes(b"{")
    result = runner.invoke(app, ["roundtrip", str(bad), str(SAMPLE_FILES[0])])
    assert result.exit_code == 1
    assert "invalid JSON" in result.output
    assert "ok NCT" in result.output


def test_read_errors_are_not_trials() -> None:
    assert all(isinstance(r, RecordError) for r in read_input(InputFile("x.json", data=b"[1]")))


def test_parallel_convert_matches_serial(tmp_path: Path) -> None:
    """--jobs 2 on a batch big enough to start the pool: same files, same report, same order."""
    from tests.conftest import shared_files
    from trial2fhir.convert import BATCH, convert

    studies = [orjson.loads(p.read_bytes()) for p in shared_files("*.json")]
    if not studies:
        pytest.skip("../shared/ctgov-dev is absent")
    lines = []
    for i in range(BATCH + 40):
        study = json.loads(json.dumps(studies[i % len(studies)]))
        study["protocolSection"]["identificationModule"]["nctId"] = f"NCT9{i:07d}"
        lines.append(orjson.dumps(study))
    lines.insert(7, b'{"not": "a study"}')
    src = tmp_path / "bulk.ndjson"
    src.write_bytes(b"\n".join(lines) + b"\n")
    reports = {}
    for jobs in (1, 2):
        out = tmp_path / f"j{jobs}"
        reports[jobs] = convert([str(src)], out, targets=("trial-json", "fhir-r5"), jobs=jobs).to_dict()
    strip = lambda d: json.loads(json.dumps(d).replace("/j2/", "/j1/"))  # noqa: E731
    assert strip(reports[2]) == reports[1]
    assert reports[1]["summary"]["failed"] == 1
    for f in (tmp_path / "j1").iterdir():
        assert f.read_bytes() == (tmp_path / "j2" / f.name).read_bytes()


@pytest.mark.parametrize("command", ["convert", "roundtrip", "validate"])
def test_missing_schema_stops_once_and_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    monkeypatch.setenv("TRIAL2FHIR_FHIR_SCHEMA", str(tmp_path / "nowhere.json"))
    args = {"convert": ["convert", str(SAMPLES), "--to", "fhir-r5", "-o", str(tmp_path / "o")],
            "roundtrip": ["roundtrip", str(SAMPLES)],
            "validate": ["validate", str(next(GOLDEN.glob("fhir-r5/*.json")))]}[command]
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert result.output.count("error:") == 1
    assert "nowhere.json does not name a file" in result.output


# --- What the complete Trial holds reaches FHIR (issue #8): read from the written Bundle ----------

MESH = "https://www.nlm.nih.gov/mesh"


def written_study(tmp_path: Path, shared_dir: Path, name: str) -> dict[str, Any]:
    """Convert one dev record with the CLI and read the ResearchStudy back from the written file."""
    src = shared_dir / "ctgov-dev" / name
    result = runner.invoke(app, ["convert", str(src), "--to", "fhir-r5", "-o", str(tmp_path)])
    assert result.exit_code == 0, result.output
    (path,) = tmp_path.glob("*.fhir-r5.json")
    study: dict[str, Any] = json.loads(path.read_text())["entry"][0]["resource"]
    assert study["resourceType"] == "ResearchStudy"
    return study


def test_mesh_terms_are_their_own_concepts_on_condition_and_focus(tmp_path: Path, shared_dir: Path) -> None:
    study = written_study(tmp_path, shared_dir, "NCT02552212.json")
    mesh = [c for c in study["condition"] if any(x["system"] == MESH for x in c.get("coding", []))]
    axial = {"code": "D000089183", "display": "Axial Spondyloarthritis", "system": MESH}
    assert axial in [c["coding"][0] for c in mesh]
    # one concept per CodeableConcept: a MeSH one carries MeSH only, its term as text too; the free text stays text
    assert all(len(c["coding"]) == 1 and c["text"] == c["coding"][0]["display"] for c in mesh)
    assert {"text": "Nr-axSpA"} in study["condition"]
    focus_mesh = [f["concept"]["coding"][0] for f in study["focus"] if "coding" in f.get("concept", {})]
    assert focus_mesh == [{"system": MESH, "code": "D000068582", "display": "Certolizumab Pegol"}]
    assert all("reference" in f for f in study["focus"] if "coding" not in f["concept"])


def test_region_is_iso_3166_with_the_name_as_text(tmp_path: Path, shared_dir: Path) -> None:
    study = written_study(tmp_path, shared_dir, "NCT03494712.xml")
    assert study["region"] == [{"coding": [{"system": "urn:iso:std:iso:3166", "code": "BE", "display": "Belgium"}],
                                "text": "Belgium"}]


def test_unknown_country_keeps_its_text_without_a_coding() -> None:
    trial = sample_trial(SAMPLE_FILES[0])
    trial.derived.location_countries = ["Korea, Republic of", "Atlantis"]
    study = fhir_r5.bundle(trial)["entry"][0]["resource"]
    assert study["region"][0]["coding"][0]["code"] == "KR"
    assert study["region"][1] == {"text": "Atlantis"}
    assert roundtrip_fhir_r5(trial).ok


def test_posted_results_link_the_results_page_and_dates(tmp_path: Path, shared_dir: Path) -> None:
    study = written_study(tmp_path, shared_dir, "NCT02513394.json")
    (link,) = [a for a in study["relatedArtifact"] if a.get("label") == "Results"]
    assert link["type"] == "documentation"
    assert link["document"]["url"] == "https://clinicaltrials.gov/study/NCT02513394?tab=results"
    assert link["publicationDate"] == "2022-04-13"
    states = {s["state"]["coding"][0]["code"]: s for s in study["progressStatus"]}
    assert states["resultsFirstSubmitDate"]["period"] == {"start": "2022-02-01"}
    assert states["resultsFirstPostDateStruct"]["actual"] is True
    assert "no-results-posted" not in json.dumps(study["classifier"])


def test_no_results_is_a_classifier_not_a_link(tmp_path: Path, shared_dir: Path) -> None:
    study = written_study(tmp_path, shared_dir, "NCT00000105.xml")
    assert {"code": "no-results-posted", "display": "No results posted",
            "system": "https://trial2fhir.org/fhir/CodeSystem/ctgov-study-classifier"} in [
        c["coding"][0] for c in study["classifier"]]
    assert not [a for a in study["relatedArtifact"] if a.get("label") == "Results"]


CLASSIFIER = "https://trial2fhir.org/fhir/CodeSystem/ctgov-study-classifier"


def shipped_codes(system: str) -> set[str]:
    import yaml

    from trial2fhir.mapping.load import MAPPINGS

    doc = yaml.safe_load((MAPPINGS / "codesystems" / f"{system.rsplit('/', 1)[1]}.yaml").read_text())
    assert doc["url"] == system
    return {c["code"] for c in doc["concept"]}


def study_of(trial: Trial) -> dict[str, Any]:
    study: dict[str, Any] = fhir_r5.bundle(trial)["entry"][0]["resource"]
    return study


@pytest.mark.parametrize(("field", "yes", "no"), [("delayed_posting", "delayed-posting", "no-delayed-posting"),
                                                  ("results_waived", "results-waived", "no-results-waived")])
@pytest.mark.parametrize("value", [True, False, None])
def test_fdaaa_posting_flags_are_classifiers(field: str, yes: str, no: str, value: bool | None) -> None:
    base = sample_trial(SAMPLE_FILES[0])
    trial = base.model_copy(update={"status": base.status.model_copy(update={field: value})})
    codes = [c["code"] for cc in study_of(trial).get("classifier", []) for c in cc["coding"]
             if c["system"] == CLASSIFIER]
    assert (yes in codes, no in codes) == (value is True, value is False)
    assert {yes, no} <= shipped_codes(CLASSIFIER)
    result = roundtrip_fhir_r5(trial)
    assert result.roundtrip_ok, [d.to_dict() for d in result.diffs if not d.declared]
    assert not [d for d in result.diffs if d.path == f"status.{field}"]


CS = "https://trial2fhir.org/fhir/CodeSystem/"
EXT = "https://trial2fhir.org/fhir/StructureDefinition/"


def artifacts_marked(study: dict[str, Any], system: str, code: str) -> list[dict[str, Any]]:
    """The relatedArtifact entries with a classifier coding (system, code)."""
    return [a for a in study.get("relatedArtifact", [])
            if any(c["system"] == system and c["code"] == code for cc in a.get("classifier", []) for c in cc["coding"])]


def test_ipd_sharing_statement_is_a_classified_documentation_artifact(tmp_path: Path, shared_dir: Path) -> None:
    study = written_study(tmp_path, shared_dir, "NCT05819398.json")
    (ipd,) = artifacts_marked(study, CS + "ctgov-data-element", "ipdSharingStatementModule")
    assert ipd["type"] == "documentation"
    codings = [c for cc in ipd["classifier"] for c in cc["coding"]]
    assert {"system": CS + "ctgov-ipd-sharing", "code": "YES"} in codings
    for c in codings:
        assert c["code"] in shipped_codes(c["system"]), c
    record = json.loads((shared_dir / "ctgov-dev" / "NCT05819398.json").read_text())
    module = record["protocolSection"]["ipdSharingStatementModule"]
    assert [c["code"] for c in codings if c["system"] == CS + "ctgov-ipd-sharing-info-type"] == module["infoTypes"]
    assert ipd["display"] == module["description"]
    extensions = {e["url"]: e["valueString"] for e in ipd.get("extension", [])}
    assert extensions == {EXT + "ipd-sharing-time-frame": module["timeFrame"],
                          EXT + "ipd-sharing-access-criteria": module["accessCriteria"]}
    assert ipd.get("document", {}).get("url") == module.get("url")


def test_ipd_sharing_reads_back_whole() -> None:
    from trial2fhir.model import IpdSharing

    trial = sample_trial(SAMPLE_FILES[0]).model_copy(update={"ipd_sharing": IpdSharing(
        sharing="UNDECIDED", description="Maybe", info_types=["STUDY_PROTOCOL", "CSR"], time_frame="After 2030",
        access_criteria="On request", url="https://example.org/ipd")})
    (ipd,) = artifacts_marked(study_of(trial), CS + "ctgov-data-element", "ipdSharingStatementModule")
    assert ipd["document"] == {"url": "https://example.org/ipd"}
    result = roundtrip_fhir_r5(trial)
    assert result.roundtrip_ok, [d.to_dict() for d in result.diffs if not d.declared]
    assert not [d for d in result.diffs if d.path.startswith("ipd_sharing")]


def test_large_documents_are_classified_documentation_artifacts(tmp_path: Path, shared_dir: Path) -> None:
    study = written_study(tmp_path, shared_dir, "NCT02552212.json")
    docs = artifacts_marked(study, CS + "ctgov-data-element", "largeDocs")
    assert [d["label"] for d in docs] == ["Study Protocol", "Statistical Analysis Plan"]
    protocol, sap = docs
    assert protocol["type"] == "documentation"
    # API v2 names the file only; it is where ClinicalTrials.gov serves it (as its study page links it)
    assert protocol["document"] == {"contentType": "application/pdf", "title": "Prot_000.pdf", "size": "9785526",
                                    "creation": "2018-12-17",
                                    "url": "https://cdn.clinicaltrials.gov/large-docs/12/NCT02552212/Prot_000.pdf"}
    content = CS + "ctgov-large-doc-content"
    assert [c["code"] for cc in sap["classifier"] for c in cc["coding"] if c["system"] == content] == [
        "not-protocol", "sap", "not-icf"]
    sap_codings = [c for cc in sap["classifier"] for c in cc["coding"]]
    assert {"system": CS + "ctgov-large-doc-type", "code": "SAP"} in sap_codings
    for c in (c for d in docs for cc in d["classifier"] for c in cc["coding"]):
        assert c["code"] in shipped_codes(c["system"]), c


def test_large_documents_read_back_but_their_upload_date() -> None:
    from trial2fhir.model import Documents, LargeDocument, PartialDate

    doc = LargeDocument(type_abbrev="Prot_SAP_ICF", has_protocol=True, has_sap=True, has_icf=None, label="All",
                        date=PartialDate(date="2020-12"), upload_date="2021-11-10T11:05",
                        filename="Prot_SAP_ICF_000.pdf", size=0, url="https://ClinicalTrials.gov/ProvidedDocs/19/NCT06886919/Prot_SAP_ICF_000.pdf")
    trial = sample_trial(SAMPLE_FILES[0]).model_copy(update={"documents": Documents(no_sap=False, large_docs=[doc])})
    study = study_of(trial)
    (written,) = artifacts_marked(study, CS + "ctgov-data-element", "largeDocs")
    assert written["document"]["url"] == doc.url
    assert "sap-exists" in [c["code"] for cc in study["classifier"] for c in cc["coding"]]
    result = roundtrip_fhir_r5(trial)
    assert result.roundtrip_ok, [d.to_dict() for d in result.diffs if not d.declared]
    assert [d.path for d in result.diffs if not d.path.startswith("arms")] == ["documents.large_docs[0].upload_date"]


def test_available_ipds_are_documentation_apart_from_see_also_links(tmp_path: Path, shared_dir: Path) -> None:
    study = written_study(tmp_path, shared_dir, "NCT03494712.xml")
    shared = artifacts_marked(study, CS + "ctgov-data-element", "availIpds")
    assert [(a["type"], a["label"], a["document"]["url"]) for a in shared][:2] == [
        ("documentation", "Individual Participant Data Set", "https://clinicaltrials.servier.com/"),
        ("documentation", "Study Protocol", "https://clinicaltrials.servier.com/")]


def test_available_ipds_read_back_beside_a_see_also_link() -> None:
    from trial2fhir.model import AvailableIpd, SeeAlsoLink

    ipds = [AvailableIpd(id="DS-1", type="Clinical Study Report", url="https://example.org/csr", comment="On request"),
            AvailableIpd(type="Analytic Code")]
    trial = sample_trial(SAMPLE_FILES[0]).model_copy(update={
        "available_ipds": ipds, "see_also_links": [SeeAlsoLink(label="Clinical Study Report", url="https://example.org/csr")]})
    first, second = artifacts_marked(study_of(trial), CS + "ctgov-data-element", "availIpds")
    assert first["resourceReference"] == {"identifier": {"value": "DS-1"}}
    assert first["display"] == "On request"
    assert second == {"type": "documentation", "label": "Analytic Code", "classifier": first["classifier"]}
    result = roundtrip_fhir_r5(trial)
    assert result.roundtrip_ok, [d.to_dict() for d in result.diffs if not d.declared]
    assert not [d for d in result.diffs if d.path.startswith(("available_ipds", "see_also_links"))]


def test_expanded_access_is_classifiers_and_a_link_to_its_record(tmp_path: Path, shared_dir: Path) -> None:
    study = written_study(tmp_path, shared_dir, "NCT02552212.json")
    (record,) = artifacts_marked(study, CS + "ctgov-data-element", "expandedAccessInfo")
    assert record["type"] == "similar-to"
    assert "resource" not in record  # a registry page, not a FHIR canonical
    assert record["document"]["url"] == "https://clinicaltrials.gov/study/NCT03559686"
    # statusForNctId is the linked record's status: it classifies that record, not this study
    assert record["resourceReference"] == {"type": "ResearchStudy", "identifier": {
        "system": "https://clinicaltrials.gov", "value": "NCT03559686"}}
    record_codings = [c for cc in record["classifier"] for c in cc["coding"]]
    assert {"system": CS + "ctgov-expanded-access-status", "code": "AVAILABLE"} in record_codings
    codings = [c for cc in study["classifier"] for c in cc["coding"]]
    assert not [c for c in codings if c["system"] == CS + "ctgov-expanded-access-status"]
    assert "expanded-access" in [c["code"] for c in codings if c["system"] == CLASSIFIER]
    for c in codings + record_codings:
        if c["system"].startswith(CS):
            assert c["code"] in shipped_codes(c["system"]), c


def test_an_expanded_access_status_without_its_record_stays_on_the_study() -> None:
    from trial2fhir.model import ExpandedAccessInfo

    base = sample_trial(SAMPLE_FILES[0])
    trial = base.model_copy(update={"status": base.status.model_copy(update={
        "expanded_access": ExpandedAccessInfo(has_expanded_access=True, status="AVAILABLE")})})
    study = study_of(trial)
    assert {"system": CS + "ctgov-expanded-access-status", "code": "AVAILABLE"} in [
        c for cc in study["classifier"] for c in cc["coding"]]
    assert not artifacts_marked(study, CS + "ctgov-data-element", "expandedAccessInfo")
    result = roundtrip_fhir_r5(trial)
    assert not [d for d in result.diffs if d.path.startswith("status.expanded_access")]


def test_no_expanded_access_is_a_classifier_and_no_link(tmp_path: Path, shared_dir: Path) -> None:
    study = written_study(tmp_path, shared_dir, "NCT02513394.json")
    assert "no-expanded-access" in [c["code"] for cc in study["classifier"] for c in cc["coding"]]
    assert not artifacts_marked(study, CS + "ctgov-data-element", "expandedAccessInfo")


def test_expanded_access_types_are_study_design_concepts(tmp_path: Path, shared_dir: Path) -> None:
    study = written_study(tmp_path, shared_dir, "NCT01220531.xml")
    system = CS + "ctgov-expanded-access-type"
    assert [c["code"] for cc in study["studyDesign"] for c in cc["coding"] if c["system"] == system] == [
        "INTERMEDIATE", "TREATMENT"]
    assert {"INTERMEDIATE", "TREATMENT"} <= shipped_codes(system)


@pytest.mark.parametrize("path", SAMPLE_FILES, ids=[p.stem for p in SAMPLE_FILES])
def test_a_related_trial_is_its_page_and_the_study_by_nct_id_not_a_canonical(path: Path) -> None:
    trial = sample_trial(path)
    written = [a for a in study_of(trial).get("relatedArtifact", []) if a.get("display") in
               {r.title for r in trial.related_trials}]
    assert len(written) == len(trial.related_trials)
    for artifact, rel in zip(written, trial.related_trials, strict=True):
        assert "resource" not in artifact  # canonical(Resource): for FHIR knowledge artifacts
        assert artifact["document"] == {"url": f"https://clinicaltrials.gov/study/{rel.nct_id}"}
        assert artifact["resourceReference"] == {"type": "ResearchStudy", "identifier": {
            "system": "https://clinicaltrials.gov", "value": rel.nct_id}}
