"""The command line: each command is one library call plus printing and an exit code."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import orjson
import typer

from trial2fhir import __version__, roundtrip
from trial2fhir.convert import ConvertReport, convert
from trial2fhir.pipeline import ProgressHook
from trial2fhir.readers import READERS
from trial2fhir.sources import DEFAULT_MAX_FILE_MB
from trial2fhir.targets import TARGETS
from trial2fhir.validate import validate_file

app = typer.Typer(
    help="Turn clinical-trial registry records into validated HL7 FHIR R5 (CDISC XML targets to come).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
err = typer.echo


def _version(value: bool) -> None:
    if value:
        typer.echo(f"trial2fhir {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """trial2fhir: registry records -> FHIR R5 and CDISC XML."""


def _check_choice(values: list[str], allowed: dict[str, object], what: str) -> None:
    bad = [v for v in values if v not in allowed]
    if bad:
        raise typer.BadParameter(f"unknown {what} {', '.join(bad)}; choose from: {', '.join(allowed)}")


class _Bar:
    """A rich progress bar on stderr, only for a terminal and batches worth watching."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._progress: object | None = None

    def hook(self) -> ProgressHook | None:
        if not self.enabled:
            return None
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        progress = Progress(
            TextColumn("converting"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
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
            self._progress.stop()  # type: ignore[attr-defined]


def _print_report(report: ConvertReport, outdir: Path, quiet: bool) -> None:
    for rec in report.records:
        for warning in rec.warnings:
            err(f"warning: {warning}", err=True)
    for rec in report.failed:
        for problem in rec.errors:
            err(f"error: {problem}", err=True)
    if report.skipped_files and not quiet:
        names = ", ".join(Path(f).name for f in report.skipped_files[:5])
        more = "" if len(report.skipped_files) <= 5 else f" and {len(report.skipped_files) - 5} more"
        err(f"skipped {len(report.skipped_files)} file(s) with no input extension: {names}{more}", err=True)
    if not quiet:
        n, bad = len(report.records), len(report.failed)
        err(f"converted {n - bad} of {n} record(s) into {outdir}" + (f"; {bad} failed" if bad else ""), err=True)


@app.command("convert")
def convert_cmd(
    inputs: Annotated[list[str], typer.Argument(help="Files, folders, or - for stdin.", show_default=False)],
    to: Annotated[list[str], typer.Option("--to", help=f"Target, repeatable: {', '.join(TARGETS)}.")] = [  # noqa: B006
        "trial-json"
    ],
    output: Annotated[Path, typer.Option("-o", "--output", help="Output folder.")] = Path("out"),
    from_: Annotated[
        str, typer.Option("--from", help=f"Input format, or auto: {', '.join(READERS)}.")
    ] = "auto",
    report: Annotated[Path | None, typer.Option("--report", help="Write a JSON report here.")] = None,
    max_file_mb: Annotated[int, typer.Option(help="Largest single input file read, in MiB.")] = DEFAULT_MAX_FILE_MB,
    validate: Annotated[
        bool, typer.Option("--validate/--no-validate", help="Validate each output against its published schema.")
    ] = True,
    fmt: Annotated[
        str, typer.Option("--format", help="files: one file per trial and target; ndjson: FHIR Bulk Data layout.")
    ] = "files",
    jobs: Annotated[
        int, typer.Option("--jobs", "-j", help="Worker processes for large batches (0: one per core).")
    ] = 0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar, no summary.")] = False,
) -> None:
    """Convert trials into one file per trial and target: OUTDIR/<NCT_ID>.<target>.<ext>.

    Exit 0 when every record converted, 1 when any failed (the others are still written).
    """
    _check_choice(to, dict(TARGETS), "target")
    _check_choice([fmt], {"files": None, "ndjson": None}, "format")
    if not validate and not quiet:
        err("note: --no-validate: outputs are written without schema validation", err=True)
    if from_ != "auto":
        _check_choice([from_], dict(READERS), "input format")
    show_bar = not quiet and sys.stderr.isatty() and (len(inputs) > 3 or any(Path(i).is_dir() for i in inputs))
    bar = _Bar(show_bar)
    try:
        result = convert(
            inputs, output, targets=to, input_format=None if from_ == "auto" else from_,
            max_file_mb=max_file_mb, validate=validate, ndjson=fmt == "ndjson",
            jobs=jobs or os.cpu_count() or 1, progress=bar.hook(),
        )
    except FileNotFoundError as exc:  # a published schema is not installed: say what to run
        err(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    finally:
        bar.close()
    if report is not None:
        report.parent.mkdir(parents=True, exist_ok=True)
        report.write_bytes(orjson.dumps(result.to_dict(), option=orjson.OPT_INDENT_2) + b"\n")
    _print_report(result, output, quiet)
    raise typer.Exit(0 if result.ok else 1)


@app.command("validate")
def validate_cmd(
    files: Annotated[list[Path], typer.Argument(help="Written files: FHIR Bundles, resources or NDJSON, ...")],
    as_: Annotated[
        str | None, typer.Option("--as", help=f"Judge every file as this target: {', '.join(TARGETS)}.")
    ] = None,
) -> None:
    """Validate written files against their target's published schema (FHIR: HL7's fhir.schema.json
    and the fhir.resources models, plus Bundle invariants).

    Prints one line per problem (file, place, message); exit 1 on any problem.
    """
    if as_ is not None:
        _check_choice([as_], dict(TARGETS), "target")
    try:
        for t in [TARGETS[as_]] if as_ else TARGETS.values():
            t.ready()
    except FileNotFoundError as exc:  # the published schema is not installed: say what to run
        err(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    problems = [p for f in files for p in validate_file(f, as_)]
    for problem in problems:
        err(str(problem), err=True)
    err(f"{len(files)} file(s) checked, {len(problems)} problem(s)", err=True)
    raise typer.Exit(1 if problems else 0)


@app.command("roundtrip")
def roundtrip_cmd(
    inputs: Annotated[list[str], typer.Argument(help="Files, folders, or - for stdin.", show_default=False)],
    to: Annotated[list[str], typer.Option("--to", help=f"Target, repeatable: {', '.join(TARGETS)}.")] = ["fhir-r5"],  # noqa: B006
    output: Annotated[Path | None, typer.Option("-o", "--output", help="Also keep the written files here.")] = None,
    report: Annotated[Path | None, typer.Option("--report", help="Write a JSON report here.")] = None,
) -> None:
    """Convert, validate, read back and compare each trial; exit 1 on an invalid output or undeclared loss."""
    _check_choice(to, dict(TARGETS), "target")
    try:
        records = roundtrip.run(inputs, to, output)
    except FileNotFoundError as exc:  # the published schema is not installed: say what to run
        err(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    for rec in records:
        for e in rec.errors:
            err(f"error: {e}", err=True)
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
            typer.echo(line)
    if report is not None:
        report.parent.mkdir(parents=True, exist_ok=True)
        report.write_bytes(orjson.dumps({"records": [r.to_dict() for r in records]}, option=orjson.OPT_INDENT_2))
    for name in to:
        for loss in TARGETS[name].losses():
            err(f"declared loss ({name}): {loss.path}: {loss.why}", err=True)
    bad = [r for r in records if not r.ok]
    err(f"{len(records) - len(bad)} of {len(records)} trial(s) round-tripped", err=True)
    raise typer.Exit(1 if bad else 0)


if __name__ == "__main__":  # pragma: no cover
    app()
