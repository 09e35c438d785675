"""trial-json is lossless: any Trial dumped and read back (through the reader registry) is equal."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings

from tests.strategies import trials
from trial2fhir.errors import RecordError
from trial2fhir.model import Trial
from trial2fhir.readers import trial_json as reader
from trial2fhir.targets import trial_json as target


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(trials)
def test_trial_json_round_trip(trial: Trial) -> None:
    data = target.render(trial)
    assert reader.sniff(data[:65536])
    (back,) = list(reader.read(data, "x.trial.json"))
    assert back == trial


def test_invalid_trial_json_names_the_field() -> None:
    (err,) = list(reader.read(b'{"source": {"format": "page-compact", "file": "f"}, "identification": '
                              b'{"nct_id": "../../etc/passwd"}}', "bad.trial.json"))
    assert isinstance(err, RecordError)
    assert err.problem.place == "#/identification/nct_id"
    assert "bad.trial.json" in str(err)
