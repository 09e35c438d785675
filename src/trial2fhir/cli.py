"""The command line: each command is one library call plus printing and an exit code.

Every command that works per record takes the same INPUT forms (files, folders, ``-``) and the
same ``--from``, ``--quiet``, ``--report``, ``--jobs``/``--force-jobs`` and ``--max-file-mb``, with
the same progress bar. Exit codes: 0 all good, 1 a record (or a write) failed, 2 a usage problem
(a bad option, a missing schema), 130 interrupted (Ctrl-C; a partial report is still written).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, NoReturn

import orjson
import typer

from trial2fhir import __version__, roundtrip
from trial2fhir.convert import ConvertReport, convert
from trial2fhir.errors import clean
from trial2fhir.output import OutputError, UsageError, check_report_path, write_atomic
from trial2fhir.pipeline import ProgressHook, worker_count
from trial2fhir.readers import READERS
from trial2fhir.sources import DEFAULT_MAX_FILE_MB
from trial2fhir.targets import TARGETS
from trial2fhir.validate import validate_inputs
from trial2fhir.validation.xml import SchemaNotInstalledError

app = typer.Typer(
    help="Turn clinical-trial registry records into validated HL7 FHIR R5 (CDISC XML targets to come).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
err = typer.echo
INTERRUPTED = 130  # 128 + SIGINT, as shells report it

# --- the options every per-record command shares -----------------------------------------------

InputsArg = Annotated[list[str], typer.Argument(help="Files, folders (walked), or - for stdin.", show_default=False)]
FromOpt = Annotated[str, typer.Option("--from", help=f"Input format, or auto: {', '.join(READERS)}.")]
ReportOpt = Annotated[Path | None, typer.Option("--report", help="Write a JSON report to this file.")]
JobsOpt = Annotated[int, typer.Option("--jobs", "-j", help="Worker processes (0: one per core; capped at the "
                                      "cores unless --force-jobs).")]
ForceJobsOpt = Annotated[bool, typer.Option("--force-jobs", help="Allow --jobs above the number of cores.")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar, no summary.")]
MaxFileOpt = Annotated[int, typer.Option("--max-file-mb", help="Largest record (and whole non-streamed input) "
                                         "read, in MiB.")]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"trial2fhir {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[  # noqa: ARG001 - handled by its eager callback
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
    schema_dir: Annotated[
        Path | None,
        typer.Option("--schema-dir", help="Folder of published XSDs no package ships (cdisc-sdm/1.0/, "
                     "ctgov-prs/<version>/); default: $TRIAL2FHIR_SCHEMA_DIR."),
    ] = None,
) -> None:
    """trial2fhir: registry records -> FHIR R5 and CDISC XML."""
    if schema_dir is not None:  # the schema locators read the environment, in workers too
        from trial2fhir.validation.xml import SCHEMA_DIR_ENV

        os.environ[SCHEMA_DIR_ENV] = str(schema_dir)


def _check_choice(values: list[str], allowed: dict[str, object], what: str) -> None:
    bad = [v for v in values if v not in allowed]
    if bad:
        raise typer.BadParameter(f"unknown {what} {', '.join(bad)}; choose from: {', '.join(allowed)}")


def _fail(message: str, code: int) -> NoReturn:
    err(f"error: {message}", err=True)
    raise typer.Exit(code)


def _jobs(jobs: int, force: bool, quiet: bool) -> int:
    count, note = worker_count(jobs, force)
    if note and not quiet:
        err(f"note: {note}", err=True)
    return count


def _input_format(from_: str) -> str | None:
    if from_ == "auto":
        return None
    _check_choice([from_], dict(READERS), "input format")
    return from_


def _record_options(
    from_: str, report: Path | None, jobs: int, force_jobs: bool, quiet: bool
) -> tuple[str | None, int]:
    """The options every record-reading command shares, checked before any record is read:
    (input format or None for auto, worker count)."""
    input_format = _input_format(from_)
    with _stops():
        if report is not None:
            check_report_path(report)
    return input_format, _jobs(jobs, force_jobs, quiet)


@contextmanager
def _stops() -> Iterator[None]:
    """Library errors that stop a command before or outside any record, as one line and an exit code."""
    try:
        yield
    except UsageError as exc:
        _fail(str(exc), 2)
    except FileNotFoundError as exc:  # a published schema is not installed: say what to run
        _fail(clean(str(exc)), 2)
    except OutputError as exc:
        _fail(str(exc), 1)


def _write_report(path: Path | None, doc: dict[str, Any]) -> None:
    if path is None:
        return
    try:
        write_atomic(path, orjson.dumps(doc, option=orjson.OPT_INDENT_2) + b"\n")
    except OutputError as exc:
        _fail(f"report not written: {exc}", 1)


class _Bar:
    """A rich progress bar on stderr, only for a terminal and batches worth watching."""

    def __init__(self, verb: str, inputs: list[str], quiet: bool) -> None:
        self.verb = verb
        self.enabled = not quiet and sys.stderr.isatty() and (
            len(inputs) > 3 or any(Path(i).is_dir() or Path(i).suffix.lower() in {".zip", ".ndjson", ".jsonl"}
                                   for i in inputs))
        self._progress: Any = None

    def hook(self) -> ProgressHook | None:
        if not self.enabled:
            return None
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        progress = Progress(
            TextColumn(self.verb), BarColumn(), MofNCompleteColumn(), TextColumn("files"), TimeRemainingColumn(),
            console=Console(stderr=True), transient=True,
        )
        progress.start()
        task = progress.add_task("files", total=None)
        self._progress = progress

        def update(done: int, total: int, _name: str) -> None:
            progress.update(task, completed=done, total=total)

        return update

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()


def _run(verb: str, inputs: list[str], quiet: bool, call: Callable[[ProgressHook | None], Any]) -> Any:
    bar = _Bar(verb, inputs, quiet)
    try:
        with _stops():
            return call(bar.hook())
    finally:
        bar.close()


def _print_inputs(skipped: list[str], notes: list[Any], quiet: bool) -> None:
    for note in notes:
        err(f"warning: {note}", err=True)
    if skipped and not quiet:
        names = ", ".join(clean(Path(f).name) for f in skipped[:5])
        more = "" if len(skipped) <= 5 else f" and {len(skipped) - 5} more"
        err(f"skipped {len(skipped)} file(s) with no input extension: {names}{more}", err=True)


def _finish(report: Any, done: int, inputs: list[str]) -> NoReturn:
    """The exit code every command ends on, after its own summary."""
    if report.interrupted:
        err(f"interrupted: {done} record(s) done before Ctrl-C; the report says which", err=True)
        raise typer.Exit(INTERRUPTED)
    if getattr(report, "fatal", None):
        _fail(f"{report.fatal}; stopped after {done} record(s), the report says which", 1)
    if not report.records:
        _fail(f"no record found in {', '.join(clean(i) for i in inputs)}", 1)
    raise typer.Exit(0 if report.ok else 1)


# --- convert -----------------------------------------------------------------------------------


def _print_convert(report: ConvertReport, outdir: Path, quiet: bool) -> None:
    _print_inputs(report.skipped_files, report.notes, quiet)
    for rec in report.records:
        for warning in rec.warnings:
            err(f"warning: {warning}", err=True)
    for rec in report.failed:
        for problem in rec.errors:
            err(f"error: {problem}", err=True)
        for name, kept in rec.kept.items():
            err(f"note: invalid {name} output kept as {clean(kept)}", err=True)
    if not quiet:
        n, bad = len(report.records), len(report.failed)
        tail = f"; {bad} failed" if bad else ""
        err(f"converted {n - bad} of {n} record(s) into {clean(str(outdir))}{tail}", err=True)


@app.command("convert")
def convert_cmd(
    inputs: InputsArg,
    to: Annotated[list[str], typer.Option("--to", help=f"Target, repeatable: {', '.join(TARGETS)}.")] = [  # noqa: B006
        "trial-json"
    ],
    output: Annotated[Path, typer.Option("-o", "--output", help="Output folder.")] = Path("out"),
    from_: FromOpt = "auto",
    report: ReportOpt = None,
    max_file_mb: MaxFileOpt = DEFAULT_MAX_FILE_MB,
    validate: Annotated[
        bool, typer.Option("--validate/--no-validate", help="Validate each output against its published schema.")
    ] = True,
    fmt: Annotated[
        str, typer.Option("--format", help="files: one file per trial and target; ndjson: FHIR Bulk Data layout.")
    ] = "files",
    keep_invalid: Annotated[
        Path | None, typer.Option("--keep-invalid", help="Write the outputs of failed records here (never to -o).")
    ] = None,
    jobs: JobsOpt = 0,
    force_jobs: ForceJobsOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Convert trials into one file per trial and target: OUTDIR/<NCT_ID>.<target>.<ext>.

    Exit 0 when every record converted, 1 when any failed (the others are still written), 2 on a
    usage problem, 130 when interrupted.
    """
    _check_choice(to, dict(TARGETS), "target")
    _check_choice([fmt], {"files": None, "ndjson": None}, "format")
    if not validate and not quiet:
        err("note: --no-validate: outputs are written without schema validation", err=True)
    input_format, workers = _record_options(from_, report, jobs, force_jobs, quiet)
    result: ConvertReport = _run("converting", inputs, quiet, lambda hook: convert(
        inputs, output, targets=to, input_format=input_format, max_file_mb=max_file_mb, validate=validate,
        ndjson=fmt == "ndjson", jobs=workers, progress=hook, keep_invalid=keep_invalid))
    _write_report(report, result.to_dict())
    _print_convert(result, output, quiet)
    _finish(result, len(result.records), inputs)


# --- validate ----------------------------------------------------------------------------------


@app.command("validate")
def validate_cmd(
    inputs: Annotated[list[str], typer.Argument(help="Written files (FHIR Bundles, resources or NDJSON, ...), "
                                                "folders of them, or - for stdin.", show_default=False)],
    from_: Annotated[str, typer.Option("--from", help=f"Judge every file as this target's output, or auto: "
                                       f"{', '.join(TARGETS)}.")] = "auto",
    report: ReportOpt = None,
    max_file_mb: MaxFileOpt = DEFAULT_MAX_FILE_MB,
    jobs: JobsOpt = 1,
    force_jobs: ForceJobsOpt = False,
    quiet: QuietOpt = False,
    deep: Annotated[bool, typer.Option("--deep", help="FHIR JSON files also through the FHIR engine "
                                       "(tools/fhir-engine, Node): invariants and required codes.")] = False,
) -> None:
    """Validate written files against their target's published schema (FHIR: HL7's fhir.schema.json
    and the fhir.resources models, plus Bundle invariants); NDJSON line by line. With --deep, FHIR
    JSON files also go through the FHIR engine offline (FHIRPath invariants, required-binding codes).

    Prints one line per problem (file, place, message); exit 1 on any problem.
    """
    target = None if from_ == "auto" else from_
    if target is not None:
        _check_choice([target], dict(TARGETS), "target")
    with _stops():
        if report is not None:
            check_report_path(report)
        for t in [TARGETS[target]] if target else TARGETS.values():
            try:
                t.ready()
            except SchemaNotInstalledError:
                if target:
                    raise
                # An XSD from the schema folder that is not configured: only files of that target
                # fail (validate names what to set), the others are still judged.
        if deep:
            from trial2fhir.validation.deep import engine_dir

            engine_dir()
    workers = _jobs(jobs, force_jobs, quiet)
    with _stops():
        result = _run("validating", inputs, quiet, lambda hook: validate_inputs(
            inputs, target, jobs=workers, max_file_mb=max_file_mb, progress=hook))
    if deep:
        from trial2fhir.validation.deep import deep_validate, is_fhir_json

        # FHIR JSON only (Bundles, resources); XML and NDJSON keep their plain checks.
        fhir = {f.file: f for f in result.files if is_fhir_json(Path(f.file), target)}
        with _stops():
            for name, problems in deep_validate([Path(n) for n in fhir], target).items():
                fhir[name].problems.extend(problems)
    _write_report(report, result.to_dict())
    for problem in result.problems:
        err(str(problem), err=True)
    if not quiet:
        _print_inputs(result.skipped_files, [], quiet)
        err(f"{len(result.files)} file(s) checked, {len(result.problems)} problem(s)", err=True)
    if result.interrupted:
        err(f"interrupted: {len(result.files)} file(s) checked before Ctrl-C", err=True)
        raise typer.Exit(INTERRUPTED)
    if not result.files:
        _fail(f"no file to validate in {', '.join(clean(i) for i in inputs)}", 1)
    raise typer.Exit(1 if result.problems else 0)


# --- load --------------------------------------------------------------------------------------


@app.command("load")
def load_cmd(
    inputs: Annotated[list[str], typer.Argument(help="Records (as for convert) or written FHIR Bundles, folders, "
                                                "or - for stdin.", show_default=False)],
    server: Annotated[str, typer.Option("--server", help="FHIR base URL (http or https; https is verified).")],
    to: Annotated[str, typer.Option("--to", help="fhir-r5 or fhir-r4b.")] = "fhir-r5",
    token_env: Annotated[str | None, typer.Option("--token-env", help="Bearer token from this environment "
                                                  "variable.")] = None,
    token_file: Annotated[Path | None, typer.Option("--token-file", help="Bearer token from this file.")] = None,
    header: Annotated[list[str], typer.Option("--header", help="Extra header 'Name: value', repeatable.")] = [],  # noqa: B006
    batch: Annotated[int, typer.Option("--batch", help="Trials per transaction.")] = 1,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds to wait for each answer.")] = 30.0,
    retries: Annotated[int, typer.Option("--retries", help="Retries of a transient fault (timeout, refused, "
                                         "429, 5xx).")] = 4,
    retry_budget: Annotated[float, typer.Option("--retry-budget", help="Most seconds spent retrying one "
                                                "transaction.")] = 60.0,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would be sent; send nothing.")] = False,
    from_: FromOpt = "auto",
    report: ReportOpt = None,
    max_file_mb: MaxFileOpt = DEFAULT_MAX_FILE_MB,
    jobs: JobsOpt = 1,
    force_jobs: ForceJobsOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Load trials into a FHIR server, each trial (or --batch N trials) one transaction of conditional
    updates: a second run leaves everything unchanged. Prints created/updated/unchanged/failed per trial.

    Exit 0 when every trial loaded, 1 when any failed (the others still load), 2 on a usage problem.
    """
    from trial2fhir import load as loading

    input_format, workers = _record_options(from_, report, jobs, force_jobs, quiet)
    with _stops():
        conn = loading.Connection(server, loading.read_token(token_env, token_file, dict(os.environ)),
                                  loading.parse_headers(header), timeout_s=timeout, retries=retries,
                                  retry_budget_s=retry_budget)

    def show(rec: loading.TrialLoad) -> None:
        if not quiet:
            for warning in rec.warnings:
                err(f"warning: {warning}", err=True)
        if dry_run and rec.bundle is not None:
            for line in loading.dry_run_lines(rec):
                typer.echo(line)
            return
        for problem in rec.errors:
            err(f"error: {problem}", err=True)
        if not quiet or rec.status == "failed":
            counts = ", ".join(f"{n} {s}" for s, n in rec.entries.items())
            typer.echo(clean(f"{rec.status} {rec.nct_id or rec.label}" + (f" ({counts})" if counts else "")))

    result: loading.LoadReport = _run("loading", inputs, quiet, lambda hook: loading.load(
        inputs, conn, target=to, batch=batch, dry_run=dry_run, input_format=input_format,
        max_file_mb=max_file_mb, jobs=workers, progress=hook, on_trial=show))
    _write_report(report, result.to_dict())
    _print_inputs(result.skipped_files, result.notes, quiet)
    if not quiet:
        s = result.summary()
        verb = "would load" if dry_run else "loaded"
        err(f"{verb} {len(result.records)} trial(s) into {clean(conn.server)}: " + ", ".join(f"{n} {k}" for k, n in
            s.items()), err=True)
    _finish(result, len(result.records), inputs)


# --- roundtrip ---------------------------------------------------------------------------------


@app.command("roundtrip")
def roundtrip_cmd(
    inputs: InputsArg,
    to: Annotated[list[str], typer.Option("--to", help=f"Target, repeatable: {', '.join(TARGETS)}.")] = ["fhir-r5"],  # noqa: B006
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Also keep the valid written files here.")
    ] = None,
    from_: FromOpt = "auto",
    report: ReportOpt = None,
    max_file_mb: MaxFileOpt = DEFAULT_MAX_FILE_MB,
    jobs: JobsOpt = 0,
    force_jobs: ForceJobsOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Convert, validate, read the written bytes back and compare each trial; exit 1 on an invalid
    output or an undeclared loss (or a record that could not be read)."""
    _check_choice(to, dict(TARGETS), "target")
    input_format, workers = _record_options(from_, report, jobs, force_jobs, quiet)
    result: roundtrip.RoundtripReport = _run("round-tripping", inputs, quiet, lambda hook: roundtrip.run(
        inputs, to, output, input_format=input_format, max_file_mb=max_file_mb, jobs=workers, progress=hook))
    _print_inputs(result.skipped_files, result.notes, quiet)
    for rec in result.records:
        for e in rec.errors:
            err(f"error: {clean(e)}", err=True)
        for name, t in rec.targets.items():
            undeclared = [d.path for d in t.diffs if not d.declared]
            declared = sorted({d.path for d in t.diffs if d.declared})
            state = "ok" if t.ok else "FAIL"
            line = f"{state} {rec.nct_id} {name}"
            if not t.valid:
                line += f" invalid ({len(t.errors)} error(s): {t.errors[0]})"
            if undeclared:
                line += f" lost: {', '.join(undeclared)}"
            if declared:
                line += f" (declared losses: {', '.join(declared)})"
            if not quiet or not t.ok:
                typer.echo(clean(line))
    _write_report(report, result.to_dict())
    if not quiet:
        for name in to:
            for loss in TARGETS[name].losses():
                err(f"declared loss ({name}): {loss.path}: {loss.why}", err=True)
        err(f"{len(result.records) - len(result.failed)} of {len(result.records)} trial(s) round-tripped", err=True)
    _finish(result, len(result.records), inputs)


@app.command("check")
def check_cmd(
    inputs: InputsArg,
    registry: Annotated[str, typer.Option("--registry", help="Checklist: ctgov-prs or who-trds.")] = "ctgov-prs",
    from_: FromOpt = "auto",
    report: ReportOpt = None,
    max_file_mb: MaxFileOpt = DEFAULT_MAX_FILE_MB,
    jobs: JobsOpt = 0,
    force_jobs: ForceJobsOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Readiness: per trial, the data elements the registry requires that are missing, the values
    that needed a mapping choice, and a score (a table; JSON with --report).

    Exit 0 when every trial has every applicable required element, 1 when any is missing or a
    record could not be read.
    """
    from trial2fhir import readiness
    from trial2fhir.readiness_table import print_tables

    _check_choice([registry], dict.fromkeys(readiness.registries()), "registry")
    input_format, workers = _record_options(from_, report, jobs, force_jobs, quiet)
    run: readiness.CheckRun = _run("checking", inputs, quiet, lambda hook: readiness.check(
        inputs, registry, input_format=input_format, max_file_mb=max_file_mb, jobs=workers, progress=hook))
    for problem in run.errors:
        err(f"error: {clean(problem)}", err=True)
    if not quiet:
        print_tables(run.results, registry)
    _write_report(report, readiness.report(run.results, registry))
    ready = sum(1 for r in run.results if r.ready)
    if not quiet:
        err(f"{ready} of {len(run.results)} trial(s) ready for {registry}", err=True)
    if not run.results and not run.errors:
        _fail(f"no record found in {', '.join(clean(i) for i in inputs)}", 1)
    raise typer.Exit(0 if ready == len(run.results) and not run.errors else 1)


if __name__ == "__main__":  # pragma: no cover
    app()
