"""FHIR R4B output end to end: golden Bundles, what the written Bundles say, round trips, commands.

The tests read the Bundles the target writes (not the mapping files): R4B's own status codes,
the enrollment Group and its criteria, cross-version extensions that name real R5 elements,
every resource reached from the ResearchStudy.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from typer.testing import CliRunner

from tests.conftest import SAMPLES, assert_golden, shared_params
from tests.strategies import trials
from trial2fhir.cli import app
from trial2fhir.mapping.codes import load_code_maps
from trial2fhir.mapping.load import MappingError, fhir_class, load_mapping, target_child
from trial2fhir.model import Trial
from trial2fhir.roundtrip import TargetResult, roundtrip_one
from trial2fhir.sources import InputFile, read_input
from trial2fhir.targets import TARGETS
from trial2fhir.validation.fhir import locate_schema

try:
    locate_schema("R4B")
except FileNotFoundError as exc:  # pragma: no cover - depends on the machine
    pytest.skip(f"HL7 FHIR R4B schema not installed: {exc}", allow_module_level=True)

runner = CliRunner()
TARGET = TARGETS["fhir-r4b"]
SAMPLE_FILES = sorted(SAMPLES.glob("*.txt"))
XV = "http://hl7.org/fhir/5.0/StructureDefinition/extension-"
CTGOV_API = "https://clinicaltrials.gov/data-api/api#/components/schemas/"
CTGOV_STATUS = "https://trial2fhir.org/fhir/CodeSystem/ctgov-status"


def sample_trial(path: Path) -> Trial:
    (trial,) = list(read_input(InputFile(f"samples/{path.name}", data=path.read_bytes())))
    assert isinstance(trial, Trial)
    return trial


def records(path: Path) -> list[Trial]:
    return [t for t in read_input(InputFile(str(path), data=path.read_bytes())) if isinstance(t, Trial)]


def written(trial: Trial) -> dict[str, Any]:
    """The Bundle as the target writes it: serialised bytes read back."""
    doc: dict[str, Any] = orjson.loads(TARGET.serialise(TARGET.build(trial)))
    return doc


def resources(doc: dict[str, Any], rtype: str | None = None) -> list[dict[str, Any]]:
    return [e["resource"] for e in doc["entry"] if rtype is None or e["resource"]["resourceType"] == rtype]


def by_url(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["fullUrl"]: e["resource"] for e in doc["entry"]}


def references(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [v for k, v in node.items() if k == "reference" and isinstance(v, str)] + [
            r for v in node.values() for r in references(v)
        ]
    if isinstance(node, list):
        return [r for v in node for r in references(v)]
    return []


def extensions(node: Any, url_prefix: str = "") -> list[dict[str, Any]]:
    """Every extension (at any depth) whose url starts with the prefix."""
    out: list[dict[str, Any]] = []
    if isinstance(node, dict):
        for ext in node.get("extension", []):
            if ext.get("url", "").startswith(url_prefix):
                out.append(ext)
        for value in node.values():
            out += extensions(value, url_prefix)
    elif isinstance(node, list):
        for value in node:
            out += extensions(value, url_prefix)
    return out


def sub(ext: dict[str, Any], name: str) -> list[dict[str, Any]]:
    return [e for e in ext.get("extension", []) if e["url"] == name]


def assert_round_trips(result: TargetResult) -> None:
    assert result.valid, result.errors
    assert result.roundtrip_ok, [d.to_dict() for d in result.diffs if not d.declared]


# --- goldens and determinism ------------------------------------------------------------------


@pytest.mark.parametrize("path", SAMPLE_FILES, ids=[p.stem for p in SAMPLE_FILES])
def test_golden_bundle(path: Path, update_goldens: bool) -> None:
    data = TARGET.serialise(TARGET.build(sample_trial(path)))
    assert_golden(f"fhir-r4b/{path.stem}.fhir-r4b.json", data, update_goldens)


def test_output_is_deterministic() -> None:
    trial = sample_trial(SAMPLE_FILES[0])
    assert TARGET.serialise(TARGET.build(trial)) == TARGET.serialise(TARGET.build(trial.model_copy(deep=True)))


# --- what the written Bundles say -----------------------------------------------------------------


@pytest.mark.parametrize("path", SAMPLE_FILES, ids=[p.stem for p in SAMPLE_FILES])
def test_bundle_holds_together_and_says_it_is_r4b(path: Path) -> None:
    doc = written(sample_trial(path))
    assert doc["type"] == "transaction"
    assert {"system": "http://hl7.org/fhir/FHIR-version", "code": "4.3.0"} in doc["meta"]["tag"]
    urls = [e["fullUrl"] for e in doc["entry"]]
    assert len(urls) == len(set(urls))
    for e in doc["entry"]:
        for ref in references(e["resource"]):
            assert ref in urls, f"{e['resource']['id']} refers to {ref}, not in the bundle"


@pytest.mark.parametrize("path", SAMPLE_FILES, ids=[p.stem for p in SAMPLE_FILES])
def test_every_resource_is_reached_from_the_study(path: Path) -> None:
    """No unreferenced resources: each is reachable by references from the ResearchStudy."""
    doc = written(sample_trial(path))
    urls = by_url(doc)
    study = doc["entry"][0]["fullUrl"]
    assert urls[study]["resourceType"] == "ResearchStudy"
    seen, todo = {study}, [study]
    while todo:
        for ref in references(urls[todo.pop()]):
            if ref not in seen:
                seen.add(ref)
                todo.append(ref)
    unreached = [f"{r['resourceType']}/{r['id']}" for u, r in urls.items() if u not in seen]
    assert not unreached


@pytest.mark.parametrize("path", [*SAMPLE_FILES, *shared_params("*.json")],
                         ids=lambda p: p.stem if isinstance(p, Path) else str(p))
def test_status_is_r4b_research_study_status_of_the_ctgov_status(path: Path) -> None:
    expected = {"NOT_YET_RECRUITING": "approved", "RECRUITING": "active", "ENROLLING_BY_INVITATION": "active",
                "ACTIVE_NOT_RECRUITING": "closed-to-accrual", "SUSPENDED": "temporarily-closed-to-accrual",
                "TERMINATED": "administratively-completed", "COMPLETED": "completed", "WITHDRAWN": "withdrawn",
                "APPROVED_FOR_MARKETING": "closed-to-accrual-and-intervention"}
    for trial in records(path):
        study = resources(written(trial), "ResearchStudy")[0]
        states = [c for ext in extensions(study, XV + "ResearchStudy.progressStatus") for s in sub(ext, "state")
                  for c in s["valueCodeableConcept"]["coding"] if c["system"] == CTGOV_STATUS]
        ctgov = trial.status.overall_status
        assert [c["code"] for c in states[:1]] == ([ctgov] if ctgov else [])
        if ctgov in expected:
            assert study["status"] == expected[ctgov]
        assert study["status"] != "approved" or ctgov == "NOT_YET_RECRUITING"


@pytest.mark.parametrize("path", SAMPLE_FILES, ids=[p.stem for p in SAMPLE_FILES])
def test_enrollment_group_carries_count_and_criteria(path: Path) -> None:
    trial = sample_trial(path)
    doc = written(trial)
    urls = by_url(doc)
    study = resources(doc, "ResearchStudy")[0]
    (enrollment,) = study["enrollment"]
    group = urls[enrollment["reference"]]
    assert group["resourceType"] == "Group"
    assert group["type"] == "person"
    assert group["actual"] is False
    enrolled = trial.design.enrollment
    assert group.get("quantity") == (enrolled.count if enrolled else None)
    for ch in group.get("characteristic", []):
        assert {"code", "exclude"} <= set(ch)
        assert any(k.startswith("value") for k in ch)
    sections = [ch for ch in group.get("characteristic", []) if "valueReference" in ch]
    assert len(sections) == len(trial.eligibility.criteria_sections)
    for n, (ch, section) in enumerate(zip(sections, trial.eligibility.criteria_sections, strict=True), 1):
        ev = urls[ch["valueReference"]["reference"]]
        assert ev["resourceType"] == "EvidenceVariable"
        assert ch["id"] == f"{section.side}-{n}"
        assert ch["exclude"] is (section.side == "exclusion")
        assert ev["characteristicCombination"] == ("union" if section.side == "exclusion" else "intersection")
        assert [c["description"] for c in ev.get("characteristic", [])] == [i.text for i in section.items]
        for c, item in zip(ev.get("characteristic", []), section.items, strict=True):
            assert c["definitionCodeableConcept"]["text"] == item.text  # R4B requires a definition
            nested = extensions(c, XV + "EvidenceVariable.characteristic.definitionByCombination")
            assert bool(nested) == bool(item.items)
            if item.items:
                top = next(e for e in c["extension"] if e["url"].endswith("definitionByCombination"))
                assert sub(top, "code")[0]["valueCode"] == item.combination
                assert [sub(s, "description")[0]["valueMarkdown"] for s in sub(top, "characteristic")] == [
                    i.text for i in item.items
                ]


def test_the_samples_have_nested_criteria() -> None:
    """The criteria test above must see lead-ins with sub-items, or it proves little."""
    assert any(i.items for p in SAMPLE_FILES for s in sample_trial(p).eligibility.criteria_sections for i in s.items)


@pytest.mark.parametrize("path", SAMPLE_FILES, ids=[p.stem for p in SAMPLE_FILES])
def test_cross_version_extensions_name_r5_elements(path: Path) -> None:
    """Every 5.0 extension url is an R5 element path, and its sub-extensions are that element's children."""
    found = extensions(written(sample_trial(path)), XV)
    assert found
    for ext in found:
        rtype, *elements = ext["url"].removeprefix(XV).split(".")
        model = fhir_class(rtype)
        assert model is not None, ext["url"]
        for element in elements:
            model, _ = target_child(model, element)  # KeyError: not an R5 element
        for child in ext.get("extension", []):
            assert model is not None, ext["url"]
            assert child["url"] in model.model_fields, (ext["url"], child["url"])


def test_sponsor_and_sites_use_r4b_elements() -> None:
    trial = next(t for t in map(sample_trial, SAMPLE_FILES) if t.locations and t.sponsors.lead_sponsor)
    doc = written(trial)
    urls = by_url(doc)
    study = resources(doc, "ResearchStudy")[0]
    assert trial.sponsors.lead_sponsor is not None
    assert urls[study["sponsor"]["reference"]]["name"] == trial.sponsors.lead_sponsor.name
    assert [urls[s["reference"]].get("name") for s in study["site"]] == [loc.facility for loc in trial.locations]
    assert [a["name"] for a in study.get("arm", [])] == [a.label for a in trial.arms]


# --- round trips ----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", SAMPLE_FILES, ids=[p.stem for p in SAMPLE_FILES])
def test_samples_round_trip(path: Path) -> None:
    assert_round_trips(roundtrip_one(TARGET, sample_trial(path)))


@pytest.mark.parametrize("path", shared_params("*"), ids=lambda p: p.name if isinstance(p, Path) else str(p))
def test_dev_records_round_trip(path: Path) -> None:
    if path.suffix not in {".json", ".xml"}:
        pytest.skip("not a record")
    for trial in records(path):
        assert_round_trips(roundtrip_one(TARGET, trial))


@pytest.mark.parametrize("path", SAMPLE_FILES, ids=[p.stem for p in SAMPLE_FILES])
def test_fhir_resources_r4b_parse_gives_back_what_was_written(path: Path) -> None:
    """Why the round trip may reverse the written JSON: the R4B models read it back unchanged."""
    from fhir.resources.R4B import get_fhir_model_class

    for r in resources(written(sample_trial(path))):
        model = get_fhir_model_class(r["resourceType"]).model_validate(r)
        assert orjson.loads(model.model_dump_json()) == r


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(trials)
def test_any_trial_round_trips_through_fhir_r4b(trial: Trial) -> None:
    assert_round_trips(roundtrip_one(TARGET, trial))


def test_roundtrip_reports_an_undeclared_loss() -> None:
    trial = sample_trial(SAMPLE_FILES[0])
    doc = TARGET.build(trial)
    group = next(r for r in resources(doc, "Group"))
    group["extension"] = [e for e in group["extension"] if not e["url"].endswith("Group.description")]
    result = roundtrip_one(TARGET, trial, orjson.dumps(doc))
    assert [d.path for d in result.diffs if not d.declared] == ["eligibility.criteria"]


# --- load checks and commands -----------------------------------------------------------------------


def test_r4b_elements_are_checked_against_the_r4b_models(tmp_path: Path) -> None:
    bad = tmp_path / "x.yaml"
    bad.write_text(
        "mapping: x\nversion: 1\nsource: Trial\ntarget: {standard: FHIR, release: R4B, resource: ResearchStudy}\n"
        'id: "{identification.nct_id}"\nrules:\n  descriptionSummary: {from: brief_summary}\n',
        encoding="utf-8",
    )
    with pytest.raises(MappingError, match=r"rules.descriptionSummary: ResearchStudy has no element"):
        load_mapping(bad, load_code_maps(Path("mappings/codes")))




def test_convert_validate_and_roundtrip_commands(tmp_path: Path) -> None:
    out = tmp_path / "o"
    result = runner.invoke(app, ["convert", str(SAMPLES), "--to", "fhir-r4b", "-o", str(out)])
    assert result.exit_code == 0, result.output
    files = sorted(out.glob("NCT*.fhir-r4b.json"))
    assert len(files) == len(SAMPLE_FILES)
    assert runner.invoke(app, ["validate", *map(str, files)]).exit_code == 0
    doc = orjson.loads(files[0].read_bytes())
    doc["entry"][0]["resource"]["status"] = "recruiting"  # an R5-only code: R4B's binding refuses it
    bad = tmp_path / "bad.json"
    bad.write_bytes(orjson.dumps(doc))
    result = runner.invoke(app, ["validate", str(bad)])
    assert result.exit_code == 1
    assert "'recruiting' is not in ValueSet research-study-status" in result.output
    report = tmp_path / "r.json"
    result = runner.invoke(app, ["roundtrip", str(SAMPLES), "--to", "fhir-r4b", "--report", str(report)])
    assert result.exit_code == 0, result.output
    assert result.output.count("ok NCT") == len(SAMPLE_FILES)
    assert json.loads(report.read_text())["records"][0]["targets"]["fhir-r4b"]["valid"] is True


def test_r4b_string_pattern_is_read_as_xml_schema_means_it() -> None:
    """HL7's R4B schema carries the spec's XML Schema regex; ECMA's wider \\s would refuse a no-break space."""
    from trial2fhir.validation.fhir import (
        XSD_STRING_AFTER,
        XSD_STRING_BEFORE,
        correct_xsd_string_pattern,
        validate_resource,
    )

    text = locate_schema("R4B").read_text(encoding="utf-8")
    corrected, count = correct_xsd_string_pattern(text)
    assert count == 66
    assert corrected == text.replace(XSD_STRING_BEFORE, XSD_STRING_AFTER)
    assert XSD_STRING_AFTER.strip("\"") in locate_schema("R5").read_text(encoding="utf-8")  # HL7 in R5
    assert validate_resource({"resourceType": "Organization", "id": "x", "name": "a\xa0b"}, "R4B") == []
    assert validate_resource({"resourceType": "Organization", "id": "x", "name": ""}, "R4B")


# --- identity (docs/fhir-identity.md): the R5 keys, reused from mapping data -----------------------


def dev(name: str) -> Trial:
    from tests.conftest import shared_files

    files = shared_files(name)
    if not files:
        pytest.skip(f"../shared/ctgov-dev/{name} is absent")
    (trial,) = records(files[0])
    return trial


def r4b_entries(trial: Trial, rtype: str) -> list[dict[str, Any]]:
    return [e for e in written(trial)["entry"] if e["resource"]["resourceType"] == rtype]


@pytest.mark.parametrize("path", SAMPLE_FILES, ids=[p.stem for p in SAMPLE_FILES])
def test_every_entry_is_a_conditional_update_on_its_identifier(path: Path) -> None:
    from urllib.parse import unquote

    for e in written(sample_trial(path))["entry"]:
        resource, request = e["resource"], e["request"]
        assert request["method"] == "PUT"
        rtype, query = request["url"].split("?identifier=")
        assert rtype == resource["resourceType"]
        system, value = unquote(query).split("|", 1)
        assert {"system": system, "value": value} in [
            {"system": i.get("system"), "value": i.get("value")} for i in resource["identifier"]
        ]


def test_shared_resources_have_the_r5_identity() -> None:
    """A server holding both releases' loads, or moving from one to the other, finds the same things."""
    trial = dev("NCT02513394*")
    r5 = {e["request"]["url"]: e["fullUrl"] for e in TARGETS["fhir-r5"].build(trial)["entry"]  # type: ignore[index]
          if e["resource"]["resourceType"] in ("Organization", "Location", "Practitioner")}
    r4b = {e["request"]["url"]: e["fullUrl"] for t in ("Organization", "Location", "Practitioner")
           for e in r4b_entries(trial, t)}
    assert r4b
    # every shared R4B resource has its R5 identity; R5 also writes the officials' affiliations as
    # Organizations, which R4B does not yet (issue #8 follow-up)
    assert r4b.items() <= r5.items()


def test_a_shared_site_gives_identical_location_entries_in_two_trials() -> None:
    a, b = dev("NCT02513394*"), dev("NCT04042844*")
    (clinic_a,) = [e for e in r4b_entries(a, "Location") if e["resource"].get("name") == "Cleveland Clinic"]
    (clinic_b,) = [e for e in r4b_entries(b, "Location") if e["resource"].get("name") == "Cleveland Clinic"]
    assert clinic_a == clinic_b
    for trial in (a, b):
        study, *sites = [e["resource"] for e in r4b_entries(trial, "ResearchStudy")]
        assert any(s["site"][0]["reference"] == clinic_a["fullUrl"] for s in sites)
        assert clinic_a["fullUrl"] in [s["reference"] for s in study["site"]]


def test_an_updated_record_updates_rather_than_duplicates() -> None:
    trial = dev("NCT02513394*")
    before = {e["request"]["url"]: e["fullUrl"] for e in written(trial)["entry"]}
    updated = trial.model_copy(update={
        "status": trial.status.model_copy(update={"overall_status": "COMPLETED"}),
        "locations": trial.locations[1:],
    })
    after = {e["request"]["url"]: e["fullUrl"] for e in written(updated)["entry"]}
    study = f"ResearchStudy?identifier=https://clinicaltrials.gov|{trial.nct_id}"
    assert after[study] == before[study]
    assert resources(written(updated), "ResearchStudy")[0]["status"] == "completed"
    for url, full_url in after.items():
        if url.startswith(("Location?", "Organization?", "Practitioner?")):
            assert full_url == before[url]
    assert len([u for u in before if u.startswith("Location?")]) - 1 <= len(
        [u for u in after if u.startswith("Location?")])


# --- issue #8: R4B follows R5's meaning rules ----------------------------------------------------


def with_gender_description(trial: Trial) -> Trial:
    eligibility = trial.eligibility.model_copy(
        update={"gender_based": True, "gender_description": "Self-identified women, any sex at birth"}
    )
    return trial.model_copy(update={"eligibility": eligibility})


def test_gender_description_is_carried_without_a_made_up_r5_element() -> None:
    """R5 has no Group.characteristic.description: the written Group carries the text as the
    gender-based characteristic's concept text, every 5.0 extension names an R5 element, and the
    description round-trips."""
    trial = with_gender_description(sample_trial(SAMPLE_FILES[0]))
    doc = written(trial)
    (group,) = resources(doc, "Group")
    (gender,) = [c for c in group["characteristic"] if c.get("id") == "gender-based"]
    assert gender["code"]["text"] == "Self-identified women, any sex at birth"
    assert gender["valueBoolean"] is True
    for ext in extensions(doc, XV):
        rtype, *elements = ext["url"].removeprefix(XV).split(".")
        model = fhir_class(rtype)
        assert model is not None, ext["url"]
        for element in elements:
            model, _ = target_child(model, element)  # KeyError: not an R5 element
    assert_round_trips(roundtrip_one(TARGET, trial))


def codings(node: Any) -> list[dict[str, Any]]:
    if isinstance(node, dict):
        found = [c for c in node.get("coding", []) if isinstance(c, dict)]
        return found + [c for v in node.values() for c in codings(v)]
    if isinstance(node, list):
        return [c for v in node for c in codings(v)]
    return []


def test_yes_no_facts_are_r5_classifier_codes_not_true_false_text() -> None:
    """As R5: a yes/no CT.gov fact is a code asserting it (our CodeSystem, or HL7's), never a
    CT.gov field name with "True"/"False" as text; nothing is written when CT.gov does not say."""
    trial = sample_trial(SAMPLE_FILES[0])
    oversight = trial.oversight.model_copy(update={"has_dmc": True, "is_us_export": False, "is_ppsd": None})
    trial = trial.model_copy(update={"oversight": oversight})
    (study,) = [r for r in resources(written(trial), "ResearchStudy") if r["id"] == trial.identification.nct_id]
    found = {(c["system"], c["code"]) for c in codings(study)}
    classifier = "https://trial2fhir.org/fhir/CodeSystem/ctgov-study-classifier"
    assert (classifier, "has-dmc") in found
    assert (classifier, "not-us-export") in found
    assert not {code for system, code in found if system == classifier} & {"ppsd", "not-ppsd"}
    assert not [c for c in codings(study) if c["code"] in {"oversightHasDmc", "isUsExport", "isPpsd"}]
    assert "False" not in json.dumps(study)
    assert '"True"' not in json.dumps(study)
    assert_round_trips(roundtrip_one(TARGET, trial))


@pytest.mark.parametrize("path", SAMPLE_FILES, ids=[p.stem for p in SAMPLE_FILES])
def test_ctgov_codes_are_in_our_shipped_codesystems_not_api_doc_urls(path: Path) -> None:
    """As R5: CT.gov values are coded in our CodeSystems (mappings/codesystems/), each written code
    one the shipped CodeSystem defines; the API documentation's '#' URLs name no CodeSystem."""
    import yaml

    from trial2fhir.mapping.load import MAPPINGS

    base = "https://trial2fhir.org/fhir/CodeSystem/"
    shipped: dict[str, set[str]] = {}
    for file in (MAPPINGS / "codesystems").glob("*.yaml"):
        cs = yaml.safe_load(file.read_text())
        shipped[cs["url"]] = {c["code"] for c in cs.get("concept", [])}
    found = codings(written(sample_trial(path)))
    ours = [c for c in found if c["system"].startswith(base)]
    assert ours
    for coding in ours:
        assert coding["code"] in shipped[coding["system"]], coding
    moved = {CTGOV_API + n for n in ("Sex", "Status", "Phase", "StudyType", "AgencyClass", "PrimaryPurpose")}
    assert not [c for c in found if c["system"] in moved]
