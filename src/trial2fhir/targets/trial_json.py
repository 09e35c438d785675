"""trial-json: the Trial model dumped as stable, pretty JSON (the reference for every other target)."""

from __future__ import annotations

import orjson

from trial2fhir.model import Trial


def render(trial: Trial) -> bytes:
    # Field order is the model's order and no keys are dropped, so diffs of goldens read well.
    return orjson.dumps(trial.model_dump(mode="json"), option=orjson.OPT_INDENT_2) + b"\n"
