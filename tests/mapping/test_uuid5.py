"""The fast uuid5 behind every fullUrl and shared-resource id is the stdlib's uuid5, character for character."""

from __future__ import annotations

import uuid

from hypothesis import given
from hypothesis import strategies as st

from trial2fhir.mapping.directives import NAMESPACE, ref_url, uuid5_text


@given(st.text())
def test_uuid5_text_is_the_stdlib_uuid5(name: str) -> None:
    assert uuid5_text(name) == str(uuid.uuid5(NAMESPACE, name))


def test_ref_url_is_a_urn_uuid_of_version_5() -> None:
    url = ref_url("Organization/lead-sponsor")
    parsed = uuid.UUID(url.removeprefix("urn:uuid:"))
    assert url.startswith("urn:uuid:")
    assert parsed.version == 5
    assert parsed.variant == uuid.RFC_4122
