"""Hostile input to the API v2 JSON and classic XML readers (issue #7 section 1): each case is
answered with a RecordError whose message says what happened and whose place says where, and a
bad record never takes another one down."""

from __future__ import annotations

import codecs
from pathlib import Path
from typing import Any

import orjson
import pytest

from trial2fhir.errors import RecordError
from trial2fhir.model import Trial
from trial2fhir.readers import ctgov_json, ctgov_xml


def study(**modules: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "identificationModule": {"nctId": "NCT01234567", "briefTitle": "T"},
        "statusModule": {"overallStatus": "COMPLETED", "startDateStruct": {"date": "2020-01", "type": "ACTUAL"}},
        "designModule": {"studyType": "INTERVENTIONAL", "enrollmentInfo": {"count": 40, "type": "ACTUAL"}},
        "oversightModule": {"oversightHasDmc": True},
    }
    for name, fields in modules.items():
        base.setdefault(name, {}).update(fields)
    return {"protocolSection": base}


def json_results(*studies: dict[str, Any]) -> list[Trial | RecordError]:
    return list(ctgov_json.read(orjson.dumps(list(studies)), "h.json"))


def json_error(s: dict[str, Any]) -> RecordError:
    good, bad, good_again = json_results(study(), s, study())
    assert isinstance(good, Trial), "a bad record took another down"
    assert isinstance(good_again, Trial), "a bad record took another down"
    assert isinstance(bad, RecordError), bad
    return bad


def test_a_good_study_reads() -> None:
    (trial,) = json_results(study())
    assert isinstance(trial, Trial)


@pytest.mark.parametrize(
    ("date", "reason"),
    [
        ("2025-13-45", "there is no month 13"),
        ("2023-02-29", "February 2023 has 28 days"),
        ("2020-04-31", "April 2020 has 30 days"),
    ],
)
def test_impossible_json_dates_are_refused_with_their_place(date: str, reason: str) -> None:
    err = json_error(study(statusModule={"startDateStruct": {"date": date, "type": "ACTUAL"}}))
    assert err.problem.place == "#/1/protocolSection/statusModule/startDateStruct/date"
    assert err.problem.message == f"impossible date {date!r}: {reason}"
    err = json_error(study(statusModule={"studyFirstSubmitDate": date}))
    assert err.problem.place == "#/1/protocolSection/statusModule/studyFirstSubmitDate"
    assert repr(date) in err.problem.message


@pytest.mark.parametrize(
    "nct_id",
    [
        "NCT\u0660\u0661\u0662\u0663\u0664\u0665\u0666\u0667",  # Arabic-Indic digits
        "NCT０１２３４５６７",  # full-width digits
        "NCT01234567\n",  # a line end is not part of an NCT ID ... (stripped: accepted below)
        "NCT0123456",
        "nct01234567",
    ],
)
def test_nct_ids_are_ascii(nct_id: str) -> None:
    s = study(identificationModule={"nctId": nct_id})
    if nct_id.strip() == "NCT01234567":
        (trial,) = json_results(s)
        assert isinstance(trial, Trial)
        return
    err = json_error(s)
    assert err.problem.place == "#/1/protocolSection/identificationModule/nctId"
    assert err.problem.message == f"nctId {nct_id!r} is not an NCT ID (NCT + 8 digits)"


def test_model_refuses_non_ascii_nct_ids_too() -> None:
    from pydantic import ValidationError

    from trial2fhir.model import Identification, is_nct_id, normalise_nct_id

    for bad in ("NCT\u0660\u0661\u0662\u0663\u0664\u0665\u0666\u0667", "NCT０１２３４５６７"):
        with pytest.raises(ValidationError):
            Identification(nct_id=bad)
        assert not is_nct_id(bad)
        assert normalise_nct_id(bad) is None


@pytest.mark.parametrize(
    ("module", "field", "value", "message"),
    [
        ("designModule", "enrollmentInfo", {"count": True}, "expected an integer, got true"),
        ("designModule", "enrollmentInfo", {"count": "40"}, 'expected an integer, got "40"'),
        ("designModule", "enrollmentInfo", {"count": 4.5}, "expected an integer, got 4.5"),
        ("oversightModule", "oversightHasDmc", "yes", 'expected true or false, got "yes"'),
        ("oversightModule", "oversightHasDmc", 1, "expected true or false, got 1"),
        ("eligibilityModule", "healthyVolunteers", "true", 'expected true or false, got "true"'),
        ("designModule", "patientRegistry", "No", 'expected true or false, got "No"'),
    ],
)
def test_json_types_are_strict(module: str, field: str, value: Any, message: str) -> None:
    err = json_error(study(**{module: {field: value}}))
    place = f"#/1/protocolSection/{module}/{field}"
    if isinstance(value, dict):
        place += "/count"
    assert (err.problem.place, err.problem.message) == (place, message)


def test_hasresults_is_a_boolean() -> None:
    s = study()
    s["hasResults"] = "yes"
    err = json_error(s)
    assert (err.problem.place, err.problem.message) == ("#/1/hasResults", 'expected true or false, got "yes"')


def test_negative_count_named_by_the_model() -> None:
    err = json_error(study(designModule={"enrollmentInfo": {"count": -1}}))
    assert err.problem.place == "#/1/protocolSection/designModule"
    assert "design.enrollment.count: Input should be greater than or equal to 0 (got -1)" in err.problem.message


# --- classic XML -------------------------------------------------------------------------------

XML = """<?xml version="1.0" encoding="{encoding}"?>
<clinical_study{xmlns}>
  <id_info><nct_id>NCT01234567</nct_id>{more_ids}</id_info>
  <brief_title>{title}</brief_title>
  <sponsors><lead_sponsor><agency>A</agency><agency_class>NIH</agency_class></lead_sponsor></sponsors>
  <source>S</source>
  <overall_status>Completed</overall_status>
  <start_date>{start}</start_date>
  <study_type>Interventional</study_type>
</clinical_study>
"""


def xml(**kw: str) -> str:
    values = {"encoding": "UTF-8", "xmlns": "", "more_ids": "", "title": "Café study", "start": "March 2015"}
    return XML.format(**{**values, **kw})


def xml_error(data: bytes) -> RecordError:
    (result,) = list(ctgov_xml.read(data, "h.xml"))
    assert isinstance(result, RecordError), result
    return result


def xml_trial(data: bytes) -> Trial:
    (result,) = list(ctgov_xml.read(data, "h.xml"))
    assert isinstance(result, Trial), result
    return result


def test_a_good_record_reads() -> None:
    assert xml_trial(xml().encode()).identification.brief_title == "Café study"


@pytest.mark.parametrize(
    ("date", "reason"),
    [("February 30, 2020", "February 2020 has 29 days"), ("2025-13-45", "there is no month 13")],
)
def test_impossible_xml_dates_are_refused_with_their_place(date: str, reason: str) -> None:
    err = xml_error(xml(start=date).encode())
    assert err.problem.place == "/clinical_study/start_date"
    assert err.problem.message == f"impossible date {date!r}: {reason}"


def test_a_second_nct_id_is_reported() -> None:
    err = xml_error(xml(more_ids="<nct_id>NCT07654321</nct_id>").encode())
    assert err.problem.place == "/clinical_study/id_info/nct_id[2]"
    assert err.problem.message == "a second <nct_id> ('NCT07654321' after 'NCT01234567'): one record has one NCT ID"


def test_non_ascii_digits_in_xml_nct_id() -> None:
    data = xml().replace("NCT01234567", "NCT０１２３４５６７").encode()
    err = xml_error(data)
    assert err.problem.place == "/clinical_study/id_info/nct_id"
    assert "is not an NCT ID (NCT + 8 digits)" in err.problem.message


def test_a_text_node_over_the_size_limit_is_named_as_such() -> None:
    data = xml(title="x" * 10_000_001).encode()
    err = xml_error(data)
    assert err.problem.place.startswith("line 4, column ")
    assert err.problem.message == (
        "a text node is larger than the XML parser's size limit (10,000,000 bytes); "
        "huge trees are refused to bound memory"
    )


def test_a_default_namespace_is_named_as_such() -> None:
    err = xml_error(xml(xmlns=' xmlns="http://example.org/ct"').encode())
    assert err.problem.place == "line 2"
    assert err.problem.message.startswith('XML root <clinical_study> has a namespace (xmlns="http://example.org/ct")')


def test_declared_latin1_but_bytes_utf8_is_an_error_not_mojibake() -> None:
    data = xml(encoding="ISO-8859-1").encode("utf-8")
    err = xml_error(data)
    assert err.problem.place == f"line 4, byte {data.index('é'.encode())}"
    assert err.problem.message.startswith("XML declares encoding 'ISO-8859-1' but the bytes are UTF-8")
    assert "mojibake" in err.problem.message


def test_declared_latin1_and_bytes_latin1_reads() -> None:
    assert xml_trial(xml(encoding="ISO-8859-1").encode("latin-1")).identification.brief_title == "Café study"


def test_declared_utf8_but_bytes_latin1_names_the_byte() -> None:
    data = xml().encode("latin-1")
    at = data.index("é".encode("latin-1"))
    err = xml_error(data)
    assert (err.problem.place, err.problem.message) == (f"line 4, byte {at}", f"invalid UTF-8 at byte {at}")


def test_declared_utf16_but_bytes_8bit() -> None:
    err = xml_error(xml(encoding="UTF-16").encode("utf-8"))
    assert err.problem.place == "line 1"
    assert err.problem.message.startswith("XML declares encoding 'UTF-16' but the bytes are 8-bit text")


def test_declared_utf8_but_bytes_utf16() -> None:
    err = xml_error(xml().encode("utf-16"))
    assert err.problem.place == "line 1"
    assert err.problem.message.startswith("XML declares encoding 'UTF-8' but the bytes are UTF-16")


@pytest.mark.parametrize(
    ("codec", "bom"),
    [("utf-16", b""), ("utf-16-le", codecs.BOM_UTF16_LE), ("utf-16-be", codecs.BOM_UTF16_BE), ("utf-32", b"")],
)
def test_utf16_and_utf32_are_read(codec: str, bom: bytes) -> None:
    data = bom + xml(encoding=codec[:6].upper()).encode(codec)
    assert xml_trial(data).identification.brief_title == "Café study"


def test_unknown_declared_encoding() -> None:
    err = xml_error(xml(encoding="KLINGON-8").encode())
    assert (err.problem.place, err.problem.message) == ("line 1", "XML declares an unknown encoding 'KLINGON-8'")


# --- through the CLI: exit code 1, the message with its place, the good records still written -------


def test_cli_exit_code_and_message(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from trial2fhir.cli import app

    bad_date = study(statusModule={"startDateStruct": {"date": "2023-02-29"}})
    (tmp_path / "a.json").write_bytes(orjson.dumps([study(), bad_date]))
    (tmp_path / "b.xml").write_bytes(xml(more_ids="<nct_id>NCT07654321</nct_id>").encode())
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["convert", str(tmp_path / "a.json"), str(tmp_path / "b.xml"), "-o", str(out)])
    assert result.exit_code == 1
    assert "#/1/protocolSection/statusModule/startDateStruct/date: impossible date '2023-02-29'" in result.output
    assert "/clinical_study/id_info/nct_id[2]: a second <nct_id>" in result.output
    assert [p.name for p in out.iterdir()] == ["NCT01234567.trial.json"]


def test_a_model_error_in_xml_is_placed_at_its_element() -> None:
    arm = "<arm_group><arm_group_type>Experimental</arm_group_type></arm_group>"  # no label
    data = xml().replace("<study_type>", f"{arm}\n  <study_type>")
    err = xml_error(data.encode())
    assert err.problem.place == "/clinical_study/arm_group[1]"
    assert err.problem.message.startswith("arms.0.label: Input should be a valid string (got None)")
