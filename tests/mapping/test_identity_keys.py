"""Identity keys, outer loops and defaults are checked when a mapping loads, like any rule."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from trial2fhir.mapping.codes import load_code_maps
from trial2fhir.mapping.identity import IdentitySpec, identify
from trial2fhir.mapping.load import MAPPINGS, MappingError, load_mapping
from trial2fhir.mapping.paths import ROOT

CODES = load_code_maps(MAPPINGS / "codes")
LOCATION = {
    "mapping": "t-location", "version": 1, "source": "Trial",
    "target": {"standard": "FHIR", "release": "R5", "resource": "Location"},
    "id": "{identification.nct_id}-site-{#site}", "each": "locations", "as": "site",
    "identity": {"system": "https://trial2fhir.org/fhir/sid/location",
                 "key": [["{site.facility}", "{site.city}"], ["{identification.nct_id}", "site-{#site}"]]},
    "rules": {"name": {"from": "site.facility"}},
}


def load(tmp_path: Path, **changes: Any) -> Any:
    path = tmp_path / "m.yaml"
    path.write_text(yaml.safe_dump({**LOCATION, **changes}))
    return load_mapping(path, CODES)


def test_identity_loads(tmp_path: Path) -> None:
    m = load(tmp_path)
    assert m.identity is not None
    assert m.identity.shared


@pytest.mark.parametrize(
    ("changes", "rule", "message"),
    [
        ({"identity": {"system": "https://x.org", "key": [["{site.facilty}"]]}},
         "identity.key[0][0].template", "'site.facilty' does not exist on Trial"),
        ({"identity": {"system": "https://x.org", "key": [["{#nope}"]]}}, "identity.key[0][0].template",
         "{#nope} names no loop variable"),
        ({"identity": {"system": "https://x.org"}}, "identity", "is not valid"),
        ({"within": {"each": "identification.nct_id", "as": "x"}, "each": "x.contacts"}, "within.each",
         "is not a list"),
        ({"rules": {"name": {"from": "site.facility", "default": "Unnamed"}}}, "rules.name.default", "invert: false"),
    ],
)
def test_bad_identity_within_default_fail_at_load(tmp_path: Path, changes: dict[str, Any], rule: str,
                                                  message: str) -> None:
    with pytest.raises(MappingError) as exc:
        load(tmp_path, **changes)
    assert exc.value.rule == rule
    assert message in str(exc.value)


def test_the_first_complete_alternative_wins() -> None:
    spec = IdentitySpec("https://x.org", keys=(("{site.facility}", "{site.city}"), ("{identification.nct_id}",)))
    data = {"identification": {"nct_id": "NCT01234567"}}
    full = identify(spec, {ROOT: data, "site": {"facility": "Mayo Clinic", "city": "Rochester"}}, "r")
    partial = identify(spec, {ROOT: data, "site": {"facility": "Mayo Clinic"}}, "r")
    assert (full.value, partial.value) == ("mayo-clinic/rochester", "nct01234567")
    assert full.shared
    assert full.full_url == f"urn:uuid:{full.uuid}"
