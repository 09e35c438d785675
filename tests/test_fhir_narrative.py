"""Every resource carries a generated narrative that passes FHIR's XHTML rules (issue #8, section 1),
read from the written Bundles of the samples and the dev records, in R5 and in R4B.

FHIR's rules (R5 and R4B, Narrative.div): an XHTML ``div`` in the XHTML namespace, with some
content, only the basic HTML elements, no ``script``/``form``/``object``..., no event or ``style``
attributes beyond what the spec allows, no processing instructions or comments. Checked on the
parsed div, as a server's validator would.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from lxml import etree

from tests.conftest import shared_params
from tests.test_fhir_r4b import SAMPLE_FILES, records, sample_trial
from trial2fhir.model import Trial
from trial2fhir.targets import TARGETS

XHTML = "http://www.w3.org/1999/xhtml"
# The elements FHIR allows in a narrative (txt-1: "only basic html"), those we could ever write.
ALLOWED = {"div", "p", "b", "i", "em", "strong", "br", "span", "ul", "ol", "li", "table", "tr", "td", "th",
           "thead", "tbody", "a", "code", "small", "sub", "sup"}
ATTRIBUTES = {"xmlns", "class", "id", "lang", "title", "href", "name"}
ALL = [*SAMPLE_FILES, *shared_params("*.json"), *shared_params("*.xml")]


def trials_of(path: Path) -> list[Trial]:
    return [sample_trial(path)] if path.suffix == ".txt" else records(path)


def bundle(target: str, trial: Trial) -> dict[str, Any]:
    t = TARGETS[target]
    doc: dict[str, Any] = orjson.loads(t.serialise(t.build(trial)))
    return doc


def assert_fhir_xhtml(div: str, where: str) -> None:
    root = etree.fromstring(div.encode("utf-8"))  # well-formed, or this raises
    assert root.tag == f"{{{XHTML}}}div", where
    assert "".join(root.itertext()).strip(), f"{where}: an empty narrative"
    for el in root.iter():
        assert isinstance(el.tag, str), f"{where}: a comment or processing instruction"
        ns, _, local = el.tag.rpartition("}")
        assert ns == "{" + XHTML, f"{where}: <{local}> is not XHTML"
        assert local in ALLOWED, f"{where}: <{local}> is not allowed in a narrative"
        bad = [a for a in el.attrib if a not in ATTRIBUTES]
        assert not bad, f"{where}: attributes {bad}"


@pytest.mark.parametrize("target", ["fhir-r5", "fhir-r4b"])
@pytest.mark.parametrize("path", ALL, ids=lambda p: p.stem if isinstance(p, Path) else str(p))
def test_every_resource_has_a_generated_xhtml_narrative(path: Path, target: str) -> None:
    for trial in trials_of(path):
        for e in bundle(target, trial)["entry"]:
            r = e["resource"]
            where = f"{target} {trial.nct_id} {r['resourceType']}/{r.get('id')}"
            assert r.get("text", {}).get("status") == "generated", f"{where}: no generated narrative"
            assert_fhir_xhtml(r["text"]["div"], where)


def test_a_hostile_name_is_escaped_in_the_narrative() -> None:
    trial = max((sample_trial(p) for p in SAMPLE_FILES), key=lambda t: len(t.locations))
    site = trial.locations[0]
    trial.locations[0] = site.model_copy(update={"facility": "<script>alert(1)</script> & Co"})
    for target in ("fhir-r5", "fhir-r4b"):
        (loc,) = [e["resource"] for e in bundle(target, trial)["entry"]
                  if e["resource"]["resourceType"] == "Location"][:1]
        assert "&lt;script&gt;" in loc["text"]["div"]
        assert_fhir_xhtml(loc["text"]["div"], target)
