"""XSD loading: odmlib's ODM schemas, the schema folder, SDM's import redirected to ODM 1.3.2."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from trial2fhir.cli import app
from trial2fhir.targets import ODM_2_0
from trial2fhir.targets.xml import build, serialise
from trial2fhir.validation import xml as v

SDM_NS = "http://www.cdisc.org/ns/studydesign/v1.0"
runner = CliRunner()


def sdm_source(redirect_to: Path | None = None) -> v.XsdSource:
    return v.XsdSource(
        "SDM 1.0 over ODM 1.3.2",
        lambda: v.in_schema_dir("cdisc-sdm", "1.0", "sdm1-0-0.xsd"),
        lambda: {"ODM1-3-1.xsd": redirect_to or v.odmlib_schema("odm", "1.3.2", "ODM1-3-2.xsd")},
    )


def test_schema_dir_unset_says_which_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(v.SCHEMA_DIR_ENV, raising=False)
    with pytest.raises(v.SchemaNotInstalledError, match=re.escape(v.SCHEMA_DIR_ENV)):
        v.schema_dir()


def test_schema_dir_must_be_a_folder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(v.SCHEMA_DIR_ENV, str(tmp_path / "nope"))
    with pytest.raises(v.SchemaNotInstalledError, match="is not a folder"):
        v.schema_dir()
    monkeypatch.setenv(v.SCHEMA_DIR_ENV, str(tmp_path))
    with pytest.raises(v.SchemaNotInstalledError, match=r"sdm1-0-0\.xsd not found"):
        v.in_schema_dir("cdisc-sdm", "1.0", "sdm1-0-0.xsd")


def test_sdm_import_is_redirected_to_odm_1_3_2(schema_dir: Path) -> None:
    schema = v.load_xsd(sdm_source())
    # ODM 1.3.2 added ODMVersion "1.3.2" to the enumeration; ODM 1.3.1 (the file SDM names) has
    # no such value, so this document is valid only if the redirect took effect.
    from lxml import etree

    xml = (
        b'<ODM xmlns="http://www.cdisc.org/ns/odm/v1.3" ODMVersion="1.3.2" FileType="Snapshot" FileOID="F"'
        b' CreationDateTime="2024-01-01T00:00:00"><Study OID="S"><GlobalVariables><StudyName>s</StudyName>'
        b"<StudyDescription>d</StudyDescription><ProtocolName>p</ProtocolName></GlobalVariables>"
        b'<MetaDataVersion OID="M" Name="m"><Protocol><sdm:Summary xmlns:sdm="' + SDM_NS.encode() + b'">'
        b'<sdm:Parameter OID="P" Term="Trial Phase" ShortName="TPHASE"><sdm:Value>PHASE II TRIAL</sdm:Value>'
        b"</sdm:Parameter></sdm:Summary></Protocol></MetaDataVersion></Study></ODM>"
    )
    root = etree.fromstring(xml)
    assert v.validate_tree(schema, root) == []
    unredirected = v.load_xsd(v.XsdSource("SDM as published", sdm_source().locate))
    assert any("1.3.2" in i.message for i in v.validate_tree(unredirected, root))


def test_a_redirect_to_a_missing_file_fails_to_compile(schema_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(v.SchemaNotInstalledError, match=r"absent\.xsd, which does not exist"):
        v.load_xsd(sdm_source(tmp_path / "absent.xsd"))


def test_cli_validate_reports_xsd_errors_with_line_numbers(tmp_path: Path) -> None:
    from tests.xml.test_document import doc

    good, bad = tmp_path / "good.odm-2.0.xml", tmp_path / "bad.odm-2.0.xml"
    good.write_bytes(serialise(build(ODM_2_0.model, doc())))
    content = doc()
    content["Study"][0]["MetaDataVersion"][0]["@Name"] = ""
    bad.write_bytes(serialise(build(ODM_2_0.model, content)))
    result = runner.invoke(app, ["validate", str(good)])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["validate", str(good), str(bad)])
    assert result.exit_code == 1
    assert f"{bad}: line 7: /ODM/Study/MetaDataVersion: " in result.output
    assert str(good) + ":" not in result.output


def test_cli_validate_names_unknown_and_broken_xml(tmp_path: Path) -> None:
    other, broken = tmp_path / "other.xml", tmp_path / "broken.xml"
    other.write_bytes(b"<clinical_study/>")
    broken.write_bytes(b'<?xml version="1.0"?>\n<ODM xmlns="http://www.cdisc.org/ns/odm/v2.0">\n<Study></ODM>')
    result = runner.invoke(app, ["validate", str(other), str(broken)])
    assert result.exit_code == 1
    assert f"{other}: not a file any target writes" in result.output
    assert f"{broken}: line 3, column" in result.output
    assert "not well-formed" in result.output
