"""Start and stop the test FHIR engine (tools/fhir-engine) on 127.0.0.1, installing it if needed."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ENGINE = Path(__file__).resolve().parents[2] / "tools" / "fhir-engine"
START_TIMEOUT_S = 90.0  # the core packages take seconds to index on a loaded machine


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ensure_installed() -> None:
    """`npm ci` the engine once (its lock file pins Medplum and HL7's packages)."""
    if (ENGINE / "node_modules" / "@medplum" / "core").is_dir():
        return
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("npm is not on PATH: the test FHIR engine needs Node 20 and npm")
    subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=ENGINE, check=True, capture_output=True, timeout=600)


@dataclass
class Engine:
    url: str

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(self.url + path, timeout=30) as r:
            return json.loads(r.read())

    def reset(self) -> None:
        req = urllib.request.Request(self.url + "/", method="DELETE")
        with urllib.request.urlopen(req, timeout=30):
            pass

    def search(self, type_: str, query: str) -> list[dict[str, Any]]:
        bundle = self.get(f"/{type_}?{query}")
        return [e["resource"] for e in bundle.get("entry", [])]


@contextmanager
def running_engine(fhir_version: str = "R5") -> Iterator[Engine]:
    ensure_installed()
    port = free_port()
    proc = subprocess.Popen(
        ["node", str(ENGINE / "server.mjs"), "--port", str(port), "--fhir-version", fhir_version],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                out = proc.stdout.read().decode() if proc.stdout else ""
                raise RuntimeError(f"test FHIR engine exited: {out}")
            try:
                with urllib.request.urlopen(url + "/metadata", timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"test FHIR engine did not start within {START_TIMEOUT_S} s") from None
                time.sleep(0.3)
        yield Engine(url)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
