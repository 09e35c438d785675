"""``validate --deep``: the test FHIR engine's validator (tools/fhir-engine/deep.mjs) run offline.

Beyond the JSON Schema: FHIRPath invariants (Medplum's validator over HL7's core
StructureDefinitions) and codes against required ValueSets, per resource and path. Needs Node and
``npm ci --prefix tools/fhir-engine``; plain ``validate`` stays pure Python.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from trial2fhir.errors import Problem, TargetNotReady

ENGINE_ENV = "TRIAL2FHIR_FHIR_ENGINE"
_DEFAULT = Path(__file__).resolve().parents[3] / "tools" / "fhir-engine"
TIMEOUT_S = 600


def engine_dir() -> Path:
    d = Path(os.environ.get(ENGINE_ENV) or _DEFAULT)
    if shutil.which("node") is None:
        raise TargetNotReady("validate --deep needs Node (20 or later) on PATH")
    if not (d / "deep.mjs").is_file() or not (d / "node_modules" / "@medplum" / "core").is_dir():
        raise TargetNotReady(f"validate --deep needs the FHIR engine installed: npm ci --prefix {d} "
                             f"(or set {ENGINE_ENV} to its folder)")
    return d


def _sniffed(path: Path) -> str | None:
    """The release of the target whose output this file's first bytes look like (as plain ``validate``)."""
    from trial2fhir.validate import HEAD_BYTES, detect

    with path.open("rb") as fh:
        t = detect(fh.read(HEAD_BYTES))
    return getattr(t, "release", None) if t is not None and t.name.startswith("fhir") else None


def is_fhir_json(path: Path, target: str | None) -> bool:
    """A written FHIR JSON file (Bundle or resource), as ``validate`` would judge it."""
    if path.suffix != ".json" or not path.is_file():
        return False
    if target is not None:
        return target.startswith("fhir")
    return _sniffed(path) is not None


def fhir_version(path: Path, target: str | None) -> str:
    """The release ``target`` names, else the one the content shows (the R4B target tags its Bundles with
    the FHIR-version meta.tag; a file's name says nothing, since users rename files), else R5."""
    if target is not None:
        from trial2fhir.targets import TARGETS

        t = TARGETS.get(target)
        return str(getattr(t, "release", None) or "R5")
    try:
        return _sniffed(path) or "R5"
    except OSError:
        return "R5"  # unreadable: the engine run reports it against the file


def deep_validate(files: Sequence[Path], target: str | None = None) -> dict[str, list[Problem]]:
    """Problems per file (every file a key): one engine run per FHIR version."""
    out: dict[str, list[Problem]] = {str(f): [] for f in files}
    by_version: dict[str, list[Path]] = {}
    for f in files:
        by_version.setdefault(fhir_version(f, target), []).append(f)
    if not by_version:
        return out
    d = engine_dir()
    for version, group in by_version.items():
        proc = subprocess.run(
            ["node", str(d / "deep.mjs"), "--fhir-version", version, *map(str, group)],
            capture_output=True, text=True, timeout=TIMEOUT_S, check=False,
        )
        seen = set()
        for line in proc.stdout.splitlines():
            doc = json.loads(line)
            seen.add(doc["file"])
            out[doc["file"]] = [Problem(doc["file"], f"{p['resource']} {p['path']}".strip(), f"deep: {p['message']}")
                                for p in doc["problems"]]
        for f in group:
            if str(f) not in seen:
                out[str(f)] = [Problem(str(f), "", f"deep: the engine stopped: {proc.stderr.strip()[-300:]}")]
    return out
