"""The XML document convention: dict <-> lxml, XSD order, repetition, escaping, determinism."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from trial2fhir.targets import ODM_2_0
from trial2fhir.targets.xml import XmlValueError, XsdModel, build, read, serialise
from trial2fhir.validation.xml import odmlib_schema, parse_file, validate_tree

ODM = "http://www.cdisc.org/ns/odm/v2.0"
NS = {"": ODM, "xml": "http://www.w3.org/XML/1998/namespace"}


@pytest.fixture(scope="module")
def model() -> XsdModel:
    return ODM_2_0.model


def text(value: str) -> dict[str, Any]:
    return {"TranslatedText": [{"@xml:lang": "en", "@Type": "text/plain", "#text": value}]}


def doc(description: str = "A study", **study: Any) -> dict[str, Any]:
    """A small valid ODM 2.0 document whose keys are written in the reverse of the XSD order."""
    return {
        "Study": [{
            "MetaDataVersion": [{"@Name": "v1", "@OID": "MDV.1"}],
            "Description": text(description),
            "@ProtocolName": "P", "@StudyName": "S", "@OID": "ST.1", **study,
        }],
        "@CreationDateTime": "2024-05-01T00:00:00", "@FileOID": "F.1", "@FileType": "Snapshot",
    }


def valid(model: XsdModel, root: etree._Element) -> list[str]:
    return [str(i) for i in validate_tree(ODM_2_0.schema, root)]


def test_children_follow_the_xsd_order_not_the_dict_order(model: XsdModel) -> None:
    root = build(model, doc())
    study = root[0]
    assert [etree.QName(c).localname for c in study] == ["Description", "MetaDataVersion"]
    assert valid(model, root) == []


def test_model_knows_order_and_repetition(model: XsdModel) -> None:
    protocol = model.at("ODM/Study/MetaDataVersion/Protocol")
    names = [model.prefixed(k) for k in protocol.children]
    assert names.index("StudySummary") < names.index("StudyStructure") < names.index("InclusionExclusionCriteria")
    assert protocol.children[model.clark("Alias")].repeats
    assert not protocol.children[model.clark("StudySummary")].repeats
    assert model.at("ODM").children[model.clark("Study")].repeats


def test_read_gives_back_the_convention(model: XsdModel) -> None:
    content = doc()
    back = read(model, parse_file(serialise(build(model, content))))
    assert back == content  # lists where the XSD repeats (Study, TranslatedText), objects elsewhere


def test_namespaces_declared_once_on_the_root(model: XsdModel) -> None:
    data = serialise(build(model, doc()))
    assert data.count(b"xmlns=") == 1
    assert data.startswith(b"<?xml version='1.0' encoding='UTF-8'?>\n<ODM xmlns=\"" + ODM.encode())
    assert b"\n  <Study" in data  # pretty-printed


@pytest.mark.parametrize(
    "hostile",
    ["a < b & c > d", "]]> and <![CDATA[ x", "\u200fمرحبا\u200e left", "tab\there\r\nCRLF", "quote \" ' &amp;",
     "x" * 100_000, "emoji \U0001f600"],
    ids=["markup", "cdata-end", "rtl-marks", "whitespace", "quotes", "100KB", "astral"],
)
def test_hostile_text_gives_valid_xml_that_reads_back(model: XsdModel, hostile: str) -> None:
    content = doc(hostile, **{"@StudyName": hostile})
    data = serialise(build(model, content))
    root = parse_file(data)
    assert valid(model, root) == []
    assert read(model, root) == content


@pytest.mark.parametrize("bad", ["\x00", "\x01", "\x0b", "\x1f", "\ufffe", "\udc00"])
def test_characters_xml_forbids_are_a_clear_error_naming_the_place(model: XsdModel, bad: str) -> None:
    with pytest.raises(XmlValueError, match=r"ODM/Study\[1\]/Description/TranslatedText\[1\]: character U\+"):
        build(model, doc(f"before{bad}after"))
    with pytest.raises(XmlValueError, match=r"ODM/Study\[1\]/@StudyName: character U\+"):
        build(model, doc(**{"@StudyName": f"x{bad}"}))


def test_unknown_element_is_an_error(model: XsdModel) -> None:
    with pytest.raises(XmlValueError, match="has no element 'Nonsense'"):
        build(model, doc(Nonsense="x"))


def test_invalid_tree_issues_name_the_element(model: XsdModel) -> None:
    content = doc()
    del content["Study"][0]["@StudyName"]
    (issue,) = validate_tree(ODM_2_0.schema, build(model, content))
    assert issue.path == "/ODM/Study"
    assert "StudyName" in issue.message
    assert issue.line is None  # built in memory: the path names the place


def test_parsed_file_issues_carry_line_numbers(model: XsdModel) -> None:
    content = doc()
    content["Study"][0]["MetaDataVersion"][0]["@Name"] = ""
    root = parse_file(serialise(build(model, content)))
    (issue,) = validate_tree(ODM_2_0.schema, root)
    assert issue.line == 7
    assert str(issue).startswith("line 7: /ODM/Study/MetaDataVersion: ")


def test_odmlib_ships_the_schema() -> None:
    assert odmlib_schema("odm", "2.0", "ODM.xsd").name == "ODM.xsd"
    assert Path(odmlib_schema("odm", "1.3.2", "ODM1-3-2.xsd")).is_file()
