"""A tiny fault-injecting HTTP proxy on 127.0.0.1 in front of the test engine.

``script`` lists what to do with each request in turn (then ``forward`` for the rest):
``forward``, ``slow`` (wait ``delay_s`` then forward: the server still gets it), ``429``
(with Retry-After: ``retry_after``), ``503``. It records every request's headers.
"""

from __future__ import annotations

import contextlib
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Faults:
    upstream: str
    script: list[str] = field(default_factory=list)
    delay_s: float = 2.0
    retry_after: str = "1"
    seen: list[dict[str, str]] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next_action(self, headers: dict[str, str]) -> str:
        with self.lock:
            self.seen.append(headers)
            self.times.append(time.monotonic())
            return self.script.pop(0) if self.script else "forward"


def _handler(faults: Faults) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:  # quiet
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            action = faults.next_action(dict(self.headers.items()))
            if action == "429":
                throttled = b'{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"throttled"}]}'
                self._answer(429, throttled, {"Retry-After": faults.retry_after})
            elif action == "503":
                self._answer(503, b"unavailable", {})
            else:
                self._forward(body, slow=action == "slow")

        def _forward(self, body: bytes, slow: bool) -> None:
            if slow:
                time.sleep(faults.delay_s)
            req = urllib.request.Request(faults.upstream + self.path, data=body, method="POST",
                                         headers={"Content-Type": "application/fhir+json"})
            try:
                with urllib.request.urlopen(req, timeout=60) as r:
                    status, data = r.status, r.read()
            except urllib.error.HTTPError as e:
                status, data = e.code, e.read()
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self._answer(status, data, {})  # the client may have given up (a timeout): the server did the work

        def _answer(self, status: int, data: bytes, headers: dict[str, str]) -> None:
            self.send_response(status)
            for k, v in {"Content-Type": "application/fhir+json", **headers}.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler


@contextmanager
def fault_proxy(faults: Faults) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(faults))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
