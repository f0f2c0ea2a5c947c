"""What every command group shares: the consoles, the ``--project-dir`` option, the progress
display, the printing of user errors (one message, exit status 1) and the summary tables."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

__all__ = [
    "ProjectDir",
    "console",
    "error_console",
    "parse_date",
    "parse_waves",
    "print_counts",
    "print_warehouse_summary",
    "progress_display",
    "user_errors",
]

console = Console(stderr=False)
error_console = Console(stderr=True)

ProjectDir = Annotated[
    Path,
    typer.Option("--project-dir", "-p", help="Project directory: data layers, warehouse.duckdb, reporting/."),
]


@contextlib.contextmanager
def progress_display() -> Iterator[Callable[[str, int, int], None]]:
    """A rich progress display; yields ``callback(step, done, total)`` for long steps."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
        disable=not console.is_terminal,
    ) as progress:
        tasks: dict[str, int] = {}

        def callback(step: str, done: int, total: int) -> None:
            if step not in tasks:
                tasks[step] = progress.add_task(step, total=total)
            progress.update(tasks[step], completed=done, total=total)

        yield callback


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """Turn the platform's user-facing errors into one message and exit status 1."""
    from proximite.errors import ProximiteError
    from proximite.config import ConfigError

    try:
        yield
    except (ProximiteError, ConfigError, FileNotFoundError) as error:
        error_console.print(f"[bold red]error:[/] {error}", highlight=False, soft_wrap=True)
        raise typer.Exit(code=1) from None


def parse_waves(text: str) -> tuple[int, ...]:
    """The waves of ``--waves`` (``"0,6,12,24"``) as months; a usage error unless they start at 0 and increase."""
    try:
        waves = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise typer.BadParameter(f"waves must be comma-separated months, e.g. 0,6,12,24 (got {text!r})") from None
    if not waves or waves[0] != 0 or list(waves) != sorted(set(waves)):
        raise typer.BadParameter("waves must start at 0 and increase, e.g. 0,6,12,24")
    return waves


def parse_date(text: str) -> dt.date:
    """A ``YYYY-MM-DD`` option as a date; a usage error otherwise."""
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"expected a date as YYYY-MM-DD, got {text!r}") from None


def print_counts(title: str, counts: dict[str, object]) -> None:
    """Print rows per table (an integer with thousands separators, anything else as text)."""
    table = Table(title=title)
    table.add_column("table")
    table.add_column("rows", justify="right")
    for name, value in counts.items():
        table.add_row(name, f"{value:,}" if isinstance(value, int) else str(value))
    console.print(table)


def print_warehouse_summary(summary: dict[str, object]) -> None:
    """Print the warehouse's counts (``pipeline.warehouse_summary``): entities, then assessments per wave."""
    table = Table(title=f"Warehouse (build {summary['build_id']})")
    table.add_column("what")
    table.add_column("count", justify="right")
    labels = [
        ("territories", "territories"),
        ("organisations", "organisations"),
        ("workers", "PTP (workers)"),
        ("families", "families"),
        ("isolated_at_contact", "  isolated at contact"),
        ("children", "children"),
        ("needs", "needs"),
        ("referrals", "referrals"),
        ("activities", "activities"),
        ("supervision_sessions", "supervision sessions"),
        ("qualitative_sessions", "interviews and focus groups"),
        ("qualitative_sessions_coded", "  coded (consent in force)"),
    ]
    for key, label in labels:
        table.add_row(label, f"{summary[key]:,}")
    per_wave = summary["assessments_per_wave"]
    assert isinstance(per_wave, dict)
    for wave, count in per_wave.items():
        table.add_row(f"assessments at T{wave}", f"{count:,}")
    console.print(table)
