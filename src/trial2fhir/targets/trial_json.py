"""trial-json: the Trial model dumped as stable, pretty JSON (the reference for every other target)."""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import ValidationError

from trial2fhir.errors import Problem, RecordError
from trial2fhir.mapping.load import Loss
from trial2fhir.model import Trial

TrialDoc = dict[str, Any]


def render(trial: Trial) -> bytes:
    # Field order is the model's order and no keys are dropped, so diffs of goldens read well.
    return orjson.dumps(trial.model_dump(mode="json"), option=orjson.OPT_INDENT_2) + b"\n"


class TrialJsonTarget:
    """The canonical model as a target: validated by the Trial model itself, it loses nothing."""

    name = "trial-json"
    suffix = "trial.json"
    description = "the canonical Trial model as JSON"

    def ready(self) -> None:
        """Nothing to install: the model is its own schema."""

    def build(self, trial: Trial) -> TrialDoc:
        return trial.model_dump(mode="json")

    def validate(self, doc: TrialDoc) -> list[Problem]:
        try:
            Trial.model_validate(doc)
        except ValidationError as exc:
            return [Problem("", "#/" + "/".join(str(p) for p in e["loc"]), e["msg"]) for e in exc.errors()]
        return []

    def serialise(self, doc: TrialDoc) -> bytes:
        return orjson.dumps(doc, option=orjson.OPT_INDENT_2) + b"\n"

    def parse(self, data: bytes, file: str) -> TrialDoc:
        try:
            doc = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise RecordError(file, f"line {exc.lineno}, column {exc.colno}", f"invalid JSON: {exc.msg}") from None
        if not isinstance(doc, dict):
            raise RecordError(file, "#", f"a trial-json record is a JSON object, not {type(doc).__name__}")
        return doc

    def reverse(self, doc: TrialDoc) -> dict[str, Any]:
        return {k: v for k, v in doc.items() if k != "source"}

    def losses(self) -> list[Loss]:
        return []

    def sniff(self, head: bytes) -> bool:
        from trial2fhir.readers.trial_json import sniff

        return sniff(head)
