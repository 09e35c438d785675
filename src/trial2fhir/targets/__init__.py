"""Output targets: a name on the command line, a file suffix, and a renderer from Trial to bytes.

``TARGETS`` is the registry ``convert --to`` chooses from; a new standard is one more entry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from trial2fhir.model import Trial
from trial2fhir.targets import trial_json


@dataclass(frozen=True)
class Target:
    name: str
    suffix: str
    description: str
    render: Callable[[Trial], bytes]


TARGETS: dict[str, Target] = {
    t.name: t
    for t in (
        Target("trial-json", "trial.json", "the canonical Trial model as JSON", trial_json.render),
    )
}

__all__ = ["TARGETS", "Target"]
