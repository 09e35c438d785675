"""Load trials into a FHIR server: each trial (or ``batch`` trials) one transaction, retried safely.

The Bundles are conditional updates/creates on business identifiers, so a retried or repeated
transaction is idempotent: the server reports each entry created, updated or unchanged, and the
trial's summary follows from its entries. Transient faults (timeouts, refused connections, 429,
5xx) are retried with exponential backoff and jitter, bounded in count and in time; a 4xx is
final and reported with the server's OperationOutcome. The bearer token is held only in the
request headers and redacted from every message, so it never reaches output or reports.
"""

from __future__ import annotations

import email.utils
import http.client
import json
import random
import re
import ssl
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from trial2fhir import pipeline
from trial2fhir.convert import render, source_label
from trial2fhir.errors import RecordError, clean
from trial2fhir.output import UsageError
from trial2fhir.pipeline import ProgressHook
from trial2fhir.sources import DEFAULT_MAX_FILE_MB, expand
from trial2fhir.targets import TARGETS

LOAD_TARGETS = ("fhir-r5", "fhir-r4b")
STATES = ("created", "updated", "unchanged", "failed")
NO_CHANGE = "SUCCESSFUL_UPDATE_NO_CHANGE"  # HAPI's code for a no-op update; our test engine's too


@dataclass
class Connection:
    """Where and how to send: the token lives here only, never in a message."""

    server: str
    token: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    timeout_s: float = 30.0
    retries: int = 4
    retry_budget_s: float = 60.0
    backoff_s: float = 0.5
    # One keep-alive connection per thread and one SSL context for the whole run: a new TCP (and TLS)
    # connection and a CA bundle loaded per transaction cost more than a small transaction itself.
    _local: threading.local = field(default_factory=threading.local, init=False, repr=False, compare=False)
    _context: ssl.SSLContext | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        parts = urllib.parse.urlsplit(self.server)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise UsageError(f"--server {clean(self.server)!r} is not an http(s) URL")
        if parts.username or parts.password:
            raise UsageError("--server must not hold credentials: use --token-env or --token-file")
        self.server = self.server.rstrip("/")

    def redact(self, text: str) -> str:
        return text.replace(self.token, "***") if self.token else text

    def http(self) -> tuple[http.client.HTTPConnection, str]:
        """This thread's connection to the server (opened lazily) and the request target to POST to."""
        parts = urllib.parse.urlsplit(self.server)
        target = (parts.path or "") + "/"
        live: http.client.HTTPConnection | None = getattr(self._local, "conn", None)
        if live is not None:
            return live, getattr(self._local, "target", target)
        host, port = parts.hostname or "", parts.port
        # The environment's proxy, as urllib honoured it (HTTP(S)_PROXY, NO_PROXY).
        proxy = urllib.request.getproxies().get(parts.scheme)
        via = urllib.parse.urlsplit(proxy) if proxy and not urllib.request.proxy_bypass(parts.netloc) else None
        conn: http.client.HTTPConnection
        if parts.scheme == "https":
            if self._context is None:
                self._context = ssl.create_default_context()  # https is always verified
            if via is not None:
                conn = http.client.HTTPSConnection(via.hostname or "", via.port or 80, timeout=self.timeout_s,
                                                   context=self._context)
                conn.set_tunnel(host, port or 443)
            else:
                conn = http.client.HTTPSConnection(host, port, timeout=self.timeout_s, context=self._context)
        elif via is not None:
            conn = http.client.HTTPConnection(via.hostname or "", via.port or 80, timeout=self.timeout_s)
            target = f"{parts.scheme}://{parts.netloc}{target}"  # a plain-HTTP proxy takes the absolute URL
        else:
            conn = http.client.HTTPConnection(host, port, timeout=self.timeout_s)
        self._local.conn, self._local.target = conn, target
        return conn, target

    def close(self) -> None:
        """Drop this thread's connection (after a fault, or when done); the next request opens a new one."""
        live: http.client.HTTPConnection | None = getattr(self._local, "conn", None)
        self._local.conn = None
        if live is not None:
            live.close()


def read_token(token_env: str | None, token_file: Path | None, environ: dict[str, str]) -> str | None:
    """The bearer token from an environment variable or a file (never from the command line)."""
    if token_env and token_file:
        raise UsageError("give --token-env or --token-file, not both")
    if token_env:
        value = environ.get(token_env, "").strip()
        if not value:
            raise UsageError(f"--token-env {token_env}: the environment variable is not set or empty")
        return value
    if token_file:
        try:
            value = token_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise UsageError(f"--token-file {clean(str(token_file))}: {exc.strerror}") from None
        if not value:
            raise UsageError(f"--token-file {clean(str(token_file))} is empty")
        return value
    return None


def parse_headers(values: Sequence[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for v in values:
        name, sep, value = v.partition(":")
        if not sep or not name.strip():
            raise UsageError(f"--header {clean(v)!r} is not 'Name: value'")
        if name.strip().lower() == "authorization":
            raise UsageError("--header Authorization is not allowed: the token comes from --token-env/--token-file")
        out[name.strip()] = value.strip()
    return out


# --- sending -----------------------------------------------------------------------------------


class SendError(Exception):
    """A transaction that failed for good; ``entry`` is the index the server's message names."""

    def __init__(self, message: str, entry: int | None = None) -> None:
        super().__init__(message)
        self.entry = entry


@dataclass
class _Retry(Exception):
    why: str
    after_s: float | None = None


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    if value.strip().isdigit():
        return float(value.strip())
    when = email.utils.parsedate_to_datetime(value)
    return max(0.0, when.timestamp() - time.time()) if when else None


def _outcome_message(body: bytes) -> tuple[str, int | None]:
    """The server's OperationOutcome as one line, and the entry index it names (if any)."""
    try:
        doc = json.loads(body)
    except ValueError:
        return clean(body[:300].decode("utf-8", "replace")), None
    if not isinstance(doc, dict) or doc.get("resourceType") != "OperationOutcome":
        return clean(json.dumps(doc)[:300]), None
    parts, entry = [], None
    for issue in doc.get("issue", []):
        text = (issue.get("details") or {}).get("text") or issue.get("diagnostics") or issue.get("code", "")
        where = ", ".join(issue.get("expression") or issue.get("location") or [])
        parts.append(f"{text}" + (f" [{where}]" if where and where not in text else ""))
        if entry is None:
            m = re.search(r"entry\[(\d+)\]", f"{text} {where}")
            entry = int(m.group(1)) if m else None
    return clean("; ".join(parts)), entry


def post_transaction(conn: Connection, bundle: dict[str, Any], sleep: Callable[[float], None] = time.sleep) -> Any:
    """POST one transaction; retried on transient faults within ``retries`` and ``retry_budget_s``."""
    data = json.dumps(bundle).encode()
    headers = {"Content-Type": "application/fhir+json", "Accept": "application/fhir+json", **conn.headers}
    if conn.token:
        headers["Authorization"] = f"Bearer {conn.token}"
    started = time.monotonic()
    attempt = 0
    while True:
        try:
            return _post_once(conn, data, headers)
        except _Retry as r:
            attempt += 1
            delay = r.after_s if r.after_s is not None else conn.backoff_s * 2 ** (attempt - 1)
            delay += random.uniform(0, conn.backoff_s)
            spent = time.monotonic() - started
            if attempt > conn.retries or spent + delay > conn.retry_budget_s:
                raise SendError(conn.redact(f"{r.why}; gave up after {attempt} attempt(s) in {spent:.1f} s")) from None
            sleep(delay)


class _ConnectFailed(Exception):
    def __init__(self, cause: OSError) -> None:
        super().__init__(str(cause))
        self.cause = cause


def _exchange(conn: Connection, data: bytes, headers: dict[str, str]) -> tuple[int, http.client.HTTPMessage, bytes]:
    """One request on the kept-alive connection. A connection the server closed while idle is reopened
    at once, once: not a fault to back off from (the transaction is idempotent anyway)."""
    for last in (False, True):
        http_conn, target = conn.http()
        reused = http_conn.sock is not None
        if not reused:
            try:
                http_conn.connect()
            except ssl.SSLError:
                conn.close()
                raise
            except OSError as exc:
                conn.close()
                raise exc if isinstance(exc, TimeoutError) else _ConnectFailed(exc) from None
        try:
            http_conn.request("POST", target, body=data, headers=headers)
            resp = http_conn.getresponse()
            body = resp.read()
        except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
            conn.close()
            if reused and not last:
                continue
            raise
        except BaseException:
            conn.close()  # a timeout or a half-read answer leaves the connection unusable
            raise
        if resp.will_close:
            conn.close()
        return resp.status, resp.msg, body
    raise AssertionError("unreachable: the second attempt returns or raises")


def _post_once(conn: Connection, data: bytes, headers: dict[str, str]) -> Any:
    try:
        status, answer_headers, body = _exchange(conn, data, headers)
    except TimeoutError:
        raise _Retry(f"no answer within {conn.timeout_s:g} s") from None
    except ssl.SSLError as exc:
        raise SendError(f"TLS: {exc}") from None
    except _ConnectFailed as exc:
        raise _Retry(f"cannot connect to {conn.server}: {exc.cause.strerror or exc.cause}") from None
    except (OSError, http.client.HTTPException) as exc:  # reset, or an answer cut short / malformed
        raise _Retry(f"connection to {conn.server} failed: {exc or type(exc).__name__}") from None
    if status >= 400:
        message, entry = _outcome_message(body)
        if status == 429 or status >= 500:
            raise _Retry(f"HTTP {status} from the server: {message}", _retry_after(answer_headers.get("Retry-After")))
        raise SendError(conn.redact(f"HTTP {status}: {message}"), entry)
    try:
        return json.loads(body)
    except ValueError:
        raise SendError("the server's answer is not JSON") from None


# --- trials and their outcomes -----------------------------------------------------------------


@dataclass
class TrialLoad:
    label: str
    nct_id: str
    status: str = "failed"
    entries: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    bundle: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"source": clean(self.label), "nct_id": self.nct_id, "status": self.status,
                "entries": self.entries, "errors": self.errors, "warnings": self.warnings}


@dataclass
class LoadReport:
    server: str
    target: str
    dry_run: bool = False
    records: list[TrialLoad] = field(default_factory=list)
    skipped_files: list[str] = field(default_factory=list)
    notes: list[Any] = field(default_factory=list)
    interrupted: bool = False
    fatal: str | None = None

    @property
    def failed(self) -> list[TrialLoad]:
        return [r for r in self.records if r.status == "failed"]

    @property
    def ok(self) -> bool:
        return not self.failed

    def summary(self) -> dict[str, int]:
        states = (*STATES, "dry-run") if self.dry_run else STATES
        return {s: sum(1 for r in self.records if r.status == s) for s in states}

    def to_dict(self) -> dict[str, Any]:
        return {"command": "load", "server": self.server, "target": self.target, "dry_run": self.dry_run,
                "summary": self.summary(), "records": [r.to_dict() for r in self.records],
                "skipped_files": self.skipped_files}


def entry_state(request: dict[str, Any], response: dict[str, Any]) -> str:
    status = str(response.get("status", ""))
    if status.startswith("201"):
        return "created"
    outcome = json.dumps(response.get("outcome") or {})
    if NO_CHANGE in outcome or (request.get("method") == "POST" and request.get("ifNoneExist")):
        return "unchanged"  # a no-op update, or a conditional create that matched
    return "updated"


def trial_state(states: list[str]) -> str:
    if states and states[0] == "created":  # the ResearchStudy comes first
        return "created"
    return "updated" if any(s in ("created", "updated") for s in states) else "unchanged"


def _bundle_of(data: bytes) -> dict[str, Any]:
    doc = json.loads(data)
    if not isinstance(doc, dict) or doc.get("resourceType") != "Bundle" or doc.get("type") != "transaction":
        raise ValueError("not a FHIR transaction Bundle")
    return doc


def _nct_of(bundle: dict[str, Any]) -> str:
    for e in bundle.get("entry", []):
        for ident in (e.get("resource") or {}).get("identifier", []):
            if str(ident.get("value", "")).startswith("NCT"):
                return str(ident["value"])
    return ""


def _is_bundle_file(path: Path) -> bool:
    if not path.is_file() or path.suffix.lower() != ".json":
        return False
    with path.open("rb") as f:
        head = f.read(4096)
    return re.search(rb'"resourceType"\s*:\s*"Bundle"', head) is not None


def _split_inputs(inputs: Sequence[str]) -> tuple[list[Path], list[str]]:
    """Bundles already written (given as files, or ``*.fhir-*.json`` in folders) vs records to convert."""
    bundles: list[Path] = []
    records: list[str] = []
    for item in inputs:
        p = Path(item)
        if item != "-" and p.is_dir():
            found = sorted(f for f in p.rglob("*.fhir-r*.json") if _is_bundle_file(f))
            bundles.extend(found)
            if not found:
                records.append(item)
        elif item != "-" and _is_bundle_file(p):
            bundles.append(p)
        else:
            records.append(item)
    return bundles, records


def _trials(inputs: Sequence[str], target: str, input_format: str | None, max_file_mb: int, jobs: int,
            progress: ProgressHook | None, report: LoadReport) -> Iterator[TrialLoad]:
    bundles, records = _split_inputs(inputs)
    for path in bundles:
        rec = TrialLoad(str(path), "")
        try:
            rec.bundle = _bundle_of(path.read_bytes())
            rec.nct_id = _nct_of(rec.bundle)
        except (OSError, ValueError) as exc:
            rec.errors.append(clean(f"{path}: {exc}"))
        yield rec
    if not records:
        return
    found = expand(records)
    report.skipped_files, report.notes = found.skipped, found.notes
    work = partial(render, targets=(target,), validate=True)
    items = pipeline.run(found, work, input_format=input_format, max_file_mb=max_file_mb, jobs=jobs,
                         progress=progress)
    try:
        for item in items:
            if isinstance(item, RecordError):
                p = item.problem
                yield TrialLoad(p.file, "", errors=[str(p)])
                continue
            rendered = item.result[0]
            rec = TrialLoad(source_label(item.trial), item.trial.nct_id or "")
            if rendered.problems or rendered.data is None:
                rec.errors.extend(rendered.problems or [f"{target}: nothing rendered"])
            else:
                rec.bundle = _bundle_of(rendered.data)
            yield rec
    finally:
        items.close()


@dataclass
class _Described:
    """The first description of a shared resource in this run: its content and who gave it."""

    content: str
    by: str
    resource: dict[str, Any]


def settle_shared(rec: TrialLoad, described: dict[str, _Described]) -> None:
    """Send a shared resource that an earlier trial of this run described otherwise as a conditional create.

    Two records can describe one site or sponsor differently (a postal code, coordinates, a phone).
    A conditional update from each would make the last one loaded win, and a second run would flip
    the resource back and forth, trial by trial: never "unchanged". So the first trial of the run
    that describes it writes it; a later, different description only creates it if it is still
    missing (``ifNoneExist``) and is named in a warning, never dropped silently. The same input
    thus loads the same server state at any ``--batch``, and a second run changes nothing.
    """
    assert rec.bundle is not None
    who = rec.nct_id or rec.label
    for e in rec.bundle.get("entry", []):
        key, resource, request = e.get("fullUrl"), e.get("resource"), e.get("request") or {}
        if not key or not isinstance(resource, dict):
            continue
        content = json.dumps(resource, sort_keys=True, separators=(",", ":"))
        first = described.setdefault(key, _Described(content, who, resource))
        url = str(request.get("url", ""))
        if first.content == content or first.by == who or request.get("method") != "PUT" or "?" not in url:
            continue
        kind, query = url.split("?", 1)
        e["request"] = {"method": "POST", "url": kind, "ifNoneExist": query}
        differ = _differing(first.resource, resource)
        rec.warnings.append(clean(
            f"{who}: {kind} {query.rsplit('|', 1)[-1]} is described differently by {first.by} "
            f"({', '.join(differ)}): the server keeps {first.by}'s description; this trial's is sent "
            "only as a conditional create"))


def _differing(a: dict[str, Any], b: dict[str, Any], prefix: str = "") -> list[str]:
    """The element paths (into objects, not lists) where two resources differ, for a warning."""
    out: list[str] = []
    for k in sorted(set(a) | set(b)):
        x, y = a.get(k), b.get(k)
        if x == y:
            continue
        if isinstance(x, dict) and isinstance(y, dict):
            out += _differing(x, y, f"{prefix}{k}.")
        else:
            out.append(prefix + k)
    return out


def _merge(batch: list[TrialLoad]) -> tuple[dict[str, Any], list[list[int]]]:
    """One transaction for several trials: shared resources (same fullUrl) sent once."""
    entries: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    index: list[list[int]] = []
    for rec in batch:
        assert rec.bundle is not None
        mine = []
        for e in rec.bundle.get("entry", []):
            key = e.get("fullUrl")
            if key and key in seen:
                mine.append(seen[key])
                continue
            if key:
                seen[key] = len(entries)
            mine.append(len(entries))
            entries.append(e)
        index.append(mine)
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}, index


def _send(conn: Connection, batch: list[TrialLoad], sleep: Callable[[float], None]) -> None:
    bundle, index = _merge(batch)
    try:
        resp = post_transaction(conn, bundle, sleep)
        answers = resp.get("entry", []) if isinstance(resp, dict) else []
        if len(answers) != len(bundle["entry"]):
            raise SendError(f"the server answered {len(answers)} entries for {len(bundle['entry'])} sent")
    except SendError as exc:
        if len(batch) > 1 and exc.entry is not None:
            for rec in batch:  # a transaction fails whole: retry each trial alone, so one bad trial costs only itself
                _send(conn, [rec], sleep)
            return
        message = str(exc)
        if exc.entry is not None and exc.entry < len(bundle["entry"]):
            e = bundle["entry"][exc.entry]
            message += f" (entry {exc.entry}: {e.get('resource', {}).get('resourceType', '?')} {e.get('fullUrl', '')})"
        for rec in batch:
            rec.status = "failed"
            rec.errors.append(conn.redact(clean(f"{rec.nct_id or rec.label}: transaction rejected: {message}")))
        return
    for rec, mine in zip(batch, index, strict=True):
        states = [entry_state(bundle["entry"][i].get("request", {}), answers[i].get("response", {})) for i in mine]
        rec.entries = {s: states.count(s) for s in STATES[:3] if states.count(s)}
        rec.status = trial_state(states)


def dry_run_lines(rec: TrialLoad) -> list[str]:
    assert rec.bundle is not None
    lines = [f"{rec.nct_id or rec.label}: 1 transaction of {len(rec.bundle.get('entry', []))} entries"]
    for e in rec.bundle.get("entry", []):
        r = e.get("request", {})
        cond = f" (ifNoneExist {r['ifNoneExist']})" if r.get("ifNoneExist") else ""
        lines.append(clean(f"  {r.get('method', '?')} {r.get('url', '?')}{cond}"))
    return lines


def load(
    inputs: Sequence[str],
    conn: Connection,
    *,
    target: str = "fhir-r5",
    batch: int = 1,
    dry_run: bool = False,
    input_format: str | None = None,
    max_file_mb: int = DEFAULT_MAX_FILE_MB,
    jobs: int = 1,
    progress: ProgressHook | None = None,
    on_trial: Callable[[TrialLoad], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> LoadReport:
    """Convert (or read) every trial of ``inputs`` and load it; ``on_trial`` sees each one when done."""
    if target not in LOAD_TARGETS:
        raise UsageError(f"--to {target}: load sends FHIR; choose from {', '.join(LOAD_TARGETS)}")
    if target not in TARGETS:
        raise UsageError(f"--to {target}: that target is not in this build")
    if batch < 1:
        raise UsageError("--batch must be at least 1")
    report = LoadReport(conn.server, target, dry_run)
    pending: list[TrialLoad] = []
    described: dict[str, _Described] = {}

    def flush() -> None:
        if pending:
            _send(conn, pending, sleep)
            for rec in pending:
                if on_trial:
                    on_trial(rec)
            pending.clear()

    try:
        for rec in _trials(inputs, target, input_format, max_file_mb, jobs, progress, report):
            report.records.append(rec)
            if rec.bundle is not None:
                settle_shared(rec, described)
            if rec.bundle is None or dry_run:
                if rec.bundle is not None:
                    rec.status = "dry-run"  # nothing sent
                if on_trial:
                    on_trial(rec)
                continue
            pending.append(rec)
            if len(pending) >= batch:
                flush()
        flush()
    except KeyboardInterrupt:
        report.interrupted = True
    finally:
        conn.close()
    return report
