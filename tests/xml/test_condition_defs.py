"""Both ODM targets: every Criterion's ConditionOID resolves to a ConditionDef of its
MetaDataVersion (ODM's referential integrity, which the XSD does not check), described by the
criterion's own text; read from the written files of the samples and the dev records."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from tests.conftest import shared_params
from tests.xml.helpers import SAMPLE_FILES, read_trials
from trial2fhir.targets import ODM_1_3_2_SDM, ODM_2_0

ODM_NS = {"odm-2.0": "http://www.cdisc.org/ns/odm/v2.0", "odm-1.3.2-sdm": "http://www.cdisc.org/ns/odm/v1.3"}
INPUTS = [*SAMPLE_FILES, *shared_params("*.json"), *shared_params("*.xml")]


@pytest.mark.parametrize("target", [ODM_2_0, ODM_1_3_2_SDM], ids=lambda t: t.name)
@pytest.mark.parametrize("path", INPUTS, ids=lambda p: p.stem if isinstance(p, Path) else str(p))
def test_every_condition_oid_names_a_condition_def(path: Path, target: object, schema_dir: Path) -> None:
    ns = {"o": ODM_NS[target.name]}  # type: ignore[attr-defined]
    for trial in read_trials(path, path.name):
        root = etree.fromstring(target.serialise(target.build(trial)))  # type: ignore[attr-defined]
        for mdv in root.iterfind(".//o:MetaDataVersion", ns):
            defs = {d.get("OID"): d for d in mdv.iterfind("o:ConditionDef", ns)}
            criteria = mdv.xpath(".//*[local-name()='Criterion']")
            assert sorted(c.get("ConditionOID") for c in criteria) == sorted(defs)  # one each, none dangling
            for c in criteria:
                text = c.findtext("o:Description/o:TranslatedText", namespaces=ns)
                assert defs[c.get("ConditionOID")].findtext("o:Description/o:TranslatedText", namespaces=ns) == text


def test_the_samples_have_criteria() -> None:
    assert all(t.eligibility.criteria_sections for p in SAMPLE_FILES for t in read_trials(p, p.name))
