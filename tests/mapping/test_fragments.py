"""Fragments: expanded at load time into ordinary rules; every misuse fails naming file and rule."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from trial2fhir.mapping.fragments import Fragment, FragmentError, Library, expand
from trial2fhir.mapping.load import MAPPINGS, MappingError, load_target
from trial2fhir.mapping.resources import forward
from trial2fhir.model import Trial

FLAG = Fragment(
    "flag", "f.yaml", ("code", "path"),
    {"when": "${path}", "rules": {"coding": [{"system": {"const": "${base}/x"}, "code": {"const": "${code}"}}]}},
)
PAIR = Fragment("pair", "f.yaml", ("a",), [{"text": {"const": "${a}"}}, {"text": {"const": "${a}-2"}}])
LOOP = Fragment("loop", "f.yaml", (), {"fragment": "loop"})
LIB = Library({"base": "https://example.org"}, {"flag": FLAG, "pair": PAIR, "loop": LOOP})


def test_fragment_use_is_its_body_with_parameters_filled() -> None:
    out = expand({"classifier": [{"fragment": "flag", "with": {"code": "c1", "path": "oversight.has_dmc"}}]},
                 LIB, LIB.defines, "m.yaml")
    assert out == {"classifier": [{"when": "oversight.has_dmc", "rules": {
        "coding": [{"system": {"const": "https://example.org/x"}, "code": {"const": "c1"}}]}}]}


def test_a_list_fragment_is_spliced_into_the_list() -> None:
    out = expand([{"text": {"const": "0"}}, {"fragment": "pair", "with": {"a": "z"}}], LIB, {}, "m.yaml")
    assert out == [{"text": {"const": "0"}}, {"text": {"const": "z"}}, {"text": {"const": "z-2"}}]


def test_a_whole_string_parameter_keeps_the_value_itself() -> None:
    node = {"rules": {"fragment": "flag", "with": {"code": {"nested": 1}, "path": "p"}}}
    assert expand(node, LIB, {}, "m.yaml")["rules"]["rules"]["coding"][0]["code"] == {"const": {"nested": 1}}


def test_a_fragment_name_may_be_a_parameter() -> None:
    twice = Fragment("twice", "f.yaml", ("inner",), [{"fragment": "${inner}", "with": {"a": "x"}}])
    lib = Library({}, {**LIB.fragments, "twice": twice})
    assert expand([{"fragment": "twice", "with": {"inner": "pair"}}], lib, {}, "m.yaml") == [
        {"text": {"const": "x"}}, {"text": {"const": "x-2"}}]
    with pytest.raises(FragmentError, match="unknown fragment 'nope'"):
        expand([{"fragment": "twice", "with": {"inner": "nope"}}], lib, {}, "m.yaml")


def test_an_identifier_use_element_is_not_a_fragment() -> None:
    node = {"identifier": [{"use": {"const": "official"}}]}
    assert expand(node, LIB, {}, "m.yaml") == node


@pytest.mark.parametrize(
    ("node", "rule", "message"),
    [
        ({"a": {"fragment": "nope"}}, "a.fragment", "unknown fragment 'nope'"),
        ({"a": {"fragment": "flag", "with": {"code": "c"}}}, "a.with", "missing ['path']"),
        ({"a": {"fragment": "pair", "with": {"a": 1, "b": 2}}}, "a.with", "unknown ['b']"),
        ({"a": {"fragment": "pair", "with": {"a": 1}, "when": "x"}}, "a", "takes only 'with'"),
        ({"a": [{"b": {"const": "${nobody}"}}]}, "a[0].b.const", "${nobody} is neither defined nor a parameter"),
        ({"a": {"fragment": "loop"}}, "a", "a fragment uses itself"),
    ],
)
def test_misuse_names_the_rule(node: dict[str, Any], rule: str, message: str) -> None:
    with pytest.raises(FragmentError) as exc:
        expand(node, LIB, {}, "m.yaml")
    assert exc.value.file == "m.yaml"
    assert exc.value.rule == rule
    assert message in str(exc.value)


def _target(tmp_path: Path, index: dict[str, Any], files: dict[str, Any]) -> Path:
    (tmp_path / "codes").symlink_to(MAPPINGS / "codes")
    folder = tmp_path / "t"
    folder.mkdir()
    (folder / "index.yaml").write_text(yaml.safe_dump(index))
    for name, doc in files.items():
        (folder / name).write_text(yaml.safe_dump(doc))
    return folder


EV = {
    "mapping": "t-outcome-${kind}", "version": 1, "source": "Trial",
    "target": {"standard": "FHIR", "release": "R5", "resource": "EvidenceVariable"},
    "id": "{identification.nct_id}-${kind}-{#o}", "each": "outcomes.${kind}", "as": "o",
    "rules": {"title": {"from": "o.measure"}, "status": {"const": "${status}"}},
}
INDEX = {"target": {"standard": "FHIR", "release": "R5"}, "fragments": ["f.yaml"],
         "mappings": [{"file": "ev.yaml", "with": {"kind": "primary"}}, {"file": "ev.yaml", "with": {"kind": "other"}}]}


def test_one_file_loaded_per_value_set(tmp_path: Path) -> None:
    _target(tmp_path, INDEX, {"f.yaml": {"define": {"status": "active"}}, "ev.yaml": EV})
    ms = load_target("t", tmp_path)
    assert [m.name for m in ms.mappings] == ["t-outcome-primary", "t-outcome-other"]
    trial = Trial.model_validate({
        "source": {"format": "trial-json", "file": "x"}, "identification": {"nct_id": "NCT01234567"},
        "outcomes": {"primary": [{"measure": "Pain"}], "other": [{"measure": "Sleep"}]},
    })
    written = [(w.id, w.resource["title"], w.resource["status"]) for w in forward(ms, trial)]
    assert written == [("NCT01234567-primary-1", "Pain", "active"), ("NCT01234567-other-1", "Sleep", "active")]


def test_errors_name_the_instance(tmp_path: Path) -> None:
    _target(tmp_path, INDEX, {"f.yaml": {}, "ev.yaml": EV})
    expected = r"ev\.yaml \(with kind=primary\): rules\.status\.const: \$\{status\} is neither"
    with pytest.raises(MappingError, match=expected):
        load_target("t", tmp_path)


def test_a_fragment_file_is_checked_by_the_schema(tmp_path: Path) -> None:
    _target(tmp_path, INDEX, {"f.yaml": {"fragments": {"x": {"params": ["a"]}}}, "ev.yaml": EV})
    with pytest.raises(MappingError, match=r"f\.yaml: fragments\.x: 'body' is a required property"):
        load_target("t", tmp_path)


def test_a_name_defined_twice_names_both_files(tmp_path: Path) -> None:
    index = {**INDEX, "fragments": ["f.yaml", "g.yaml"]}
    files = {"f.yaml": {"define": {"status": "a"}}, "g.yaml": {"define": {"status": "b"}}, "ev.yaml": EV}
    _target(tmp_path, index, files)
    with pytest.raises(MappingError, match=r"g\.yaml: status: define status is already defined in .*f\.yaml"):
        load_target("t", tmp_path)


def test_the_r5_files_use_fragments() -> None:
    """The R5 set is written with fragments, and what they expand to is checked like any rule."""
    folder = MAPPINGS / "fhir-r5"
    text = (folder / "ResearchStudy.yaml").read_text()
    assert "{fragment:" in text
    assert "https://clinicaltrials.gov/data-api" not in text
    index = yaml.safe_load((folder / "index.yaml").read_text())
    instances = [e for e in index["mappings"] if isinstance(e, dict) and e["file"] == "EvidenceVariable-outcome.yaml"]
    assert len(instances) == 3
