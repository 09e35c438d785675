"""The readiness report as rich tables on the terminal: one per trial, gaps first in red."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from trial2fhir.readiness import Readiness, checklist

_STYLE = {
    "missing": "bold red", "not-held": "magenta", "undetermined": "yellow", "present": "green", "absent": "dim",
    "not-applicable": "dim",
}


def print_tables(results: list[Readiness], registry: str, console: Console | None = None) -> None:
    console = console or Console()
    cl = checklist(registry)
    for r in results:
        table = Table(title=f"{r.nct_id}  {cl.title}  score {r.score:.0%}", caption=r.source, title_justify="left")
        for column in ("element", "level", "state", "detail"):
            table.add_column(column, overflow="fold")
        for e in r.elements:
            if e.state == "not-applicable":
                continue
            table.add_row(e.element, e.level, f"[{_STYLE[e.state]}]{e.state}[/]", e.detail)
        console.print(table)
        for c in r.choices:
            console.print(f"  mapping choice: {c.element}: {c.value}: {c.note}", highlight=False)
