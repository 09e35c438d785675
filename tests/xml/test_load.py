"""XML mapping files are checked against the XSD at load time: names, nesting, repetition."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from trial2fhir.mapping.codes import load_code_maps
from trial2fhir.mapping.load import MAPPINGS, MappingError, load_mapping
from trial2fhir.targets import ODM_2_0

HEAD = 'mapping: t\nversion: 1\nsource: Trial\ntarget: {standard: CDISC ODM, release: "2.0", resource: %s}\n'


def check(tmp_path: Path, rules: str, resource: str = "ODM/Study") -> None:
    f = tmp_path / "m.yaml"
    f.write_text(HEAD % resource + "rules:\n" + rules, encoding="utf-8")
    load_mapping(f, load_code_maps(MAPPINGS / "codes"), target=ODM_2_0.model)


def test_a_good_xml_mapping_loads(tmp_path: Path) -> None:
    check(tmp_path, '  "@OID": {from: identification.nct_id}\n  Description:\n    TranslatedText:\n'
                    '      - "#text": {from: brief_summary}\n        "@xml:lang": {const: en}\n')


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ('  Nonsense: {from: brief_summary}\n', "rules.Nonsense: element Study has no element 'Nonsense'"),
        ('  "@Bogus": {from: brief_summary}\n', "rules.@Bogus: element Study has no element '@Bogus'"),
        ('  "#text": {from: brief_summary}\n', "rules.#text: element Study has no element '#text'"),
        ('  Description:\n    TranslatedText: {"#text": {from: brief_summary}}\n',
         "rules.Description.TranslatedText: this element repeats: write it as a list"),
        ('  Description:\n    - TranslatedText: [{"#text": {from: brief_summary}}]\n',
         "rules.Description: this element does not repeat"),
        ('  "@OID": {from: identification.no_such}\n', "source path 'identification.no_such' does not exist"),
        # a value the mapping schema refuses is named as such, not as an unknown FHIR resource
        ('  "@OID": {from: arms, cast: counts}\n', "rules.@OID.cast: unknown cast 'counts'"),
        ('  "@OID": {from: arms, cast: count}\n', "rules.@OID.cast: 'cast: count' gives a value the data cannot"),
    ],
    ids=["element", "attribute", "text", "list-needed", "list-refused", "source", "bad-cast", "count-one-way"],
)
def test_bad_xml_mappings_name_the_rule(tmp_path: Path, rules: str, message: str) -> None:
    with pytest.raises(MappingError, match=re.escape(message)):
        check(tmp_path, rules)


def test_unknown_element_path_is_refused(tmp_path: Path) -> None:
    with pytest.raises(MappingError, match=r"target\.resource: unknown 2\.0 resource 'ODM/Nowhere'"):
        check(tmp_path, '  "@OID": {from: identification.nct_id}\n', resource="ODM/Nowhere")


def test_document_variables_are_known(tmp_path: Path) -> None:
    check(tmp_path, '  "@CreationDateTime": {from: document.created, invert: false}\n', resource="ODM")
    with pytest.raises(MappingError, match=r"document\.nope"):
        check(tmp_path, '  "@CreationDateTime": {from: document.nope, invert: false}\n', resource="ODM")
