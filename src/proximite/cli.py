"""The ``proximite`` command line.

Heavy imports (pandas, Prefect) happen inside the commands so that ``--help`` stays quick.
Errors a user can act on (bad input, missing key, failed build) print one clear message and exit
with status 1; nothing about a family is printed.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

# The machines are offline: no telemetry from Prefect or Great Expectations.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")

app = typer.Typer(
    name="proximite",
    help="Proximité: cohort, activity registry, indicators and cost–benefit of outreach work with isolated families.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(stderr=False)
error_console = Console(stderr=True)

ProjectDir = Annotated[
    Path,
    typer.Option("--project-dir", "-p", help="Project directory: data layers, warehouse.duckdb, reporting/."),
]


@contextlib.contextmanager
def _progress() -> Iterator[Callable[[str, int, int], None]]:
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
def _user_errors() -> Iterator[None]:
    """Turn the platform's user-facing errors into one message and exit status 1."""
    from proximite.errors import ProximiteError
    from proximite.config import ConfigError

    try:
        yield
    except (ProximiteError, ConfigError, FileNotFoundError) as error:
        error_console.print(f"[bold red]error:[/] {error}", highlight=False, soft_wrap=True)
        raise typer.Exit(code=1) from None


def _parse_waves(text: str) -> tuple[int, ...]:
    try:
        waves = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise typer.BadParameter(f"waves must be comma-separated months, e.g. 0,6,12,24 (got {text!r})") from None
    if not waves or waves[0] != 0 or list(waves) != sorted(set(waves)):
        raise typer.BadParameter("waves must start at 0 and increase, e.g. 0,6,12,24")
    return waves


# --------------------------------------------------------------------------------------- synth
@app.command()
def synth(
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory to write the synthetic input into.")],
    families: Annotated[int, typer.Option(help="Number of families (the pilot: 5,305).", min=1)] = 5305,
    territories: Annotated[int, typer.Option(help="Number of territories (the pilot: 50).", min=1)] = 50,
    waves: Annotated[str, typer.Option(help="Waves in months after T0, comma-separated.")] = "0,6,12,24",
    seed: Annotated[int, typer.Option(help="Random seed: the same seed writes the same bytes.")] = 20240101,
    as_of: Annotated[
        Optional[str], typer.Option("--as-of", help="Data as of this date (YYYY-MM-DD); default: complete follow-up.")
    ] = None,
) -> None:
    """Write a synthetic cohort: a REDCap-shaped project, registry files, reference and cost files, truth.json.

    The default calibration reproduces the pilot's published figures (50 territories in 13
    regions, 5,305 families, 61 % isolated at contact, ~10,036 children ...) and plants known
    effects that truth.json records.
    """
    from proximite.cohort.sandbox.synth import generate_cohort

    as_of_date = _parse_date(as_of) if as_of else None
    with _user_errors(), _progress() as progress:
        summary = generate_cohort(
            out,
            families=families,
            territories=territories,
            waves=_parse_waves(waves),
            seed=seed,
            as_of=as_of_date,
            progress=progress,
        )
    console.print(f"Synthetic cohort written to [bold]{out}[/] ({summary.counts.get('families', families)} families).")
    _print_counts("Synthetic cohort", summary.counts)


def _parse_date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"expected a date as YYYY-MM-DD, got {text!r}") from None


# --------------------------------------------------------------------------------------- ingest
@app.command()
def ingest(
    input_dir: Annotated[Path, typer.Argument(help="Input directory (redcap/, registry/, reference/, costs/).")],
    project_dir: ProjectDir = Path("."),
    source: Annotated[
        Optional[list[str]],
        typer.Option("--source", "-s", help="Only these sources (reference, redcap, registry, cost); repeatable."),
    ] = None,
) -> None:
    """Copy inputs as received into 01 raw (with a manifest) and stage typed tables in 02.

    A file that breaks a rule stops the ingest with a message naming the file, row or column and
    the rule; its raw copy is kept and the last good staged pull stays in place.
    """
    from proximite.pipeline import ingest as run_ingest
    from proximite.config import load_settings

    with _user_errors():
        if not input_dir.is_dir():
            raise FileNotFoundError(f"{input_dir}: no such input directory")
        settings = load_settings(project_dir)
        with _progress() as progress:
            result = run_ingest(input_dir, settings=settings, sources=source or None, progress=progress)
    table = Table(title="Ingested")
    for column in ("source", "pull id", "table", "rows"):
        table.add_column(column, justify="right" if column == "rows" else "left")
    for source_name, info in result.summary().items():
        for table_name, rows in info["rows"].items():
            table.add_row(source_name, info["pull_id"], table_name, f"{rows:,}")
    console.print(table)


# --------------------------------------------------------------------------------------- build
@app.command()
def build(project_dir: ProjectDir = Path(".")) -> None:
    """Harmonise the latest staged pulls (03) and build the warehouse (an atomic swap).

    Needs the pseudonym key in PROXIMITE_PSEUDONYM_KEY or the project's key file. A failed
    build leaves the previous warehouse in place.
    """
    from proximite import pipeline
    from proximite.config import load_settings, pseudonym_key

    with _user_errors():
        settings = load_settings(project_dir)
        key, _origin = pseudonym_key(settings)
        with console.status("Harmonising the staged pulls ..."):
            harmonised_dir = pipeline.harmonise_staged(settings, key=key)
        with console.status("Building the warehouse ..."):
            info = pipeline.build_from_harmonised(settings, harmonised_dir)
        console.print(f"Warehouse [bold]{settings.warehouse_path}[/] built (build {info.build_id}).")
        _print_summary(pipeline.warehouse_summary(settings))


# --------------------------------------------------------------------------------------- validate
@app.command()
def validate(
    project_dir: ProjectDir = Path("."),
    layer: Annotated[
        str, typer.Option(help="staged: the last good pull of each source; harmonised: layer 03 made from them.")
    ] = "harmonised",
    source: Annotated[
        Optional[list[str]], typer.Option("--source", "-s", help="Staged layer only: these sources (repeatable).")
    ] = None,
) -> None:
    """Run a validation gate again and print its one-screen summary.

    Every rule carries its data-quality category (conformance, completeness, plausibility), its
    severity and threshold. A failing error rule exits with status 1 and a report under
    data/quarantine/; the last result of each gate is kept in reporting/validation/.
    """
    from proximite import pipeline
    from proximite.cohort import layers
    from proximite.config import load_settings, pseudonym_key
    from proximite.expectations.gates import GateFailed, gate_harmonised, gate_staged
    from proximite.expectations.report import summary_lines

    if layer not in {"staged", "harmonised"}:
        raise typer.BadParameter("layer must be staged or harmonised")
    with _user_errors():
        settings = load_settings(project_dir)
        results = []
        try:
            if layer == "staged":
                chosen = source or [name for name in layers.SOURCES if layers.latest_pull(settings, name)]
                if not chosen:
                    raise FileNotFoundError("no staged pull yet: run `proximite ingest` or `proximite pull redcap` first")
                for name in chosen:
                    pull_id = layers.latest_pull(settings, name)
                    if pull_id is None:
                        raise FileNotFoundError(f"no staged pull of source '{name}'")
                    staged = layers.staged_dir(settings, name, pull_id)
                    results.append(gate_staged(settings, source=name, pull_id=pull_id, staged_dir=staged))
            else:
                key, _origin = pseudonym_key(settings)
                with console.status("Harmonising the staged pulls ..."):
                    harmonised_dir = pipeline.harmonise_staged(settings, key=key)
                results.append(gate_harmonised(settings, harmonised_dir=harmonised_dir))
        except GateFailed as failure:
            for line in summary_lines(failure.result, failure.report_dir):
                console.print(line, highlight=False)
            raise
        for result in results:
            for line in summary_lines(result):
                console.print(line, highlight=False)


# --------------------------------------------------------------------------------------- codebook
codebook_app = typer.Typer(
    help="The codebook: a readable page (default), or the cohort project as REDCap files.",
    no_args_is_help=False,
    add_completion=False,
)
app.add_typer(codebook_app, name="codebook")


@codebook_app.callback(invoke_without_command=True)
def codebook(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option("--out", "-o", help="File to write (.md or .html).")] = Path("codebook.html"),
    lang: Annotated[str, typer.Option(help="Language of the labels: fr or en.")] = "fr",
) -> None:
    """Write the codebook as a readable page: tables, fields, enumerations, REDCap events and forms."""
    if ctx.invoked_subcommand is not None:
        return
    from proximite.cohort.codebook.docs import write_codebook_page

    if lang not in {"fr", "en"}:
        raise typer.BadParameter("lang must be fr or en")
    if out.suffix.lower() not in {".md", ".html", ".htm"}:
        raise typer.BadParameter("the output must end in .md or .html")
    path = write_codebook_page(out, lang=lang)
    console.print(f"Codebook written to [bold]{path}[/].")


@codebook_app.command("export")
def codebook_export(
    format_: Annotated[
        str, typer.Option("--format", "-f", help="redcap-xml: the cohort project as a REDCap project XML (no data).")
    ] = "redcap-xml",
    out: Annotated[Path, typer.Option("--out", "-o", help="File to write.")] = Path("proximite_cohorte.REDCap.xml"),
) -> None:
    """Export the cohort's REDCap project (metadata, events, arms, mapping, repeating instruments, DAGs).

    Upload the XML in REDCap (New project → "Upload a REDCap project XML file") to create the
    project in one step; `proximite sandbox --project FILE` serves it locally.
    """
    if format_ != "redcap-xml":
        raise typer.BadParameter(f"unknown format {format_!r}; the one format is redcap-xml")
    from proximite.cohort.codebook.redcap_xml import write_codebook_project_xml

    path = write_codebook_project_xml(out)
    console.print(f"REDCap project XML written to [bold]{path}[/].")


# --------------------------------------------------------------------------------------- sandbox
@app.command()
def sandbox(
    project: Annotated[
        Path, typer.Option("--project", help="A REDCap project XML file, or a folder with data_dictionary.csv and records.csv.")
    ],
    host: Annotated[str, typer.Option(help="Address to listen on (loopback by default).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port (0: any free port).", min=0, max=65535)] = 0,
    token_file: Annotated[
        Optional[Path], typer.Option("--token-file", help="Where to write the random API token (mode 0600).")
    ] = None,
) -> None:
    """Serve a project over a local REDCap-compatible API (for rehearsing pulls, the demo and the tests).

    Prints the URL (ending in /api/) and the file holding a fresh random token; the token itself
    is never printed. Stop with Ctrl-C.
    """
    from proximite.cohort.sandbox.server import serve_forever

    with _user_errors():
        serve_forever(project, host=host, port=port, token_file=token_file, echo=console.print)


# --------------------------------------------------------------------------------------- pull
pull_app = typer.Typer(help="Pull data from a live source.", no_args_is_help=True, add_completion=False)
app.add_typer(pull_app, name="pull")


@pull_app.command("redcap")
def pull_redcap_command(
    url: Annotated[str, typer.Option(help="The REDCap API URL (ends in /api/).")],
    token_env: Annotated[
        str, typer.Option("--token-env", help="Environment variable that holds the API token.")
    ] = "PROXIMITE_REDCAP_TOKEN",
    project_dir: ProjectDir = Path("."),
    full: Annotated[bool, typer.Option("--full", help="Pull every record, not only what changed since the last pull.")] = False,
    batch_size: Annotated[int, typer.Option("--batch-size", help="Records per request.", min=1)] = 500,
    pause: Annotated[float, typer.Option(help="Seconds to pause between batches.", min=0)] = 0.0,
) -> None:
    """Pull the cohort from REDCap through PyCap: batched by record id, incremental unless --full.

    Every response lands in 01 raw as received; the typed tables are staged only when the whole
    pull succeeded. The token is read from the environment and never printed or stored.
    """
    from proximite.cohort.sources.redcap import token_from_env
    from proximite.pipeline import pull_redcap
    from proximite.config import load_settings

    with _user_errors():
        settings = load_settings(project_dir)
        token = token_from_env(token_env)
        with _progress() as progress:
            result = pull_redcap(
                url, token=token, settings=settings, full=full, batch_size=batch_size, pause_seconds=pause, progress=progress
            )
    summary = result.summary()
    console.print(
        f"REDCap pull {summary['pull_id']} ({summary['mode']}): {summary['records']:,} records fetched, "
        f"{summary['deleted']:,} deleted, {summary['requests']:,} requests in {summary['seconds']:.1f} s."
    )
    _print_counts("Staged", summary["rows"])


# --------------------------------------------------------------------------------------- snapshot
@app.command()
def snapshot(
    project_dir: ProjectDir = Path("."),
    lang: Annotated[str, typer.Option(help="Language of index.html: fr or en (the other language is written beside it).")] = "fr",
    level: Annotated[
        Optional[str],
        typer.Option(help="Disclosure level: public (suppressed and rounded) or internal (suppressed only); default from [disclosure]."),
    ] = None,
    scope: Annotated[str, typer.Option(help="quebec, region:<code> (e.g. region:06) or territory:<id>.")] = "quebec",
    recompute: Annotated[
        bool, typer.Option("--recompute", help="Recompute the indicators even when layer 04 has them for this build.")
    ] = False,
) -> None:
    """Write the decision-makers' snapshot: reporting/snapshot-<date>/ (HTML page, CSV, JSON, manifest).

    Computes the indicators of the current warehouse build into data/04_indicators/<build>/ when
    they are not there yet, applies disclosure control, and writes index.html (French by default)
    plus the page in the other language, indicators.csv, indicators.json and manifest.json. A
    snapshot written earlier today is replaced. The page opens offline and prints.
    """
    from proximite import pipeline
    from proximite.config import load_settings

    if lang not in {"fr", "en"}:
        raise typer.BadParameter("lang must be fr or en")
    if level is not None and level not in {"public", "internal"}:
        raise typer.BadParameter("level must be public or internal")
    with _user_errors():
        from proximite.cohort.warehouse import table
        from proximite.indicators.snapshot import check_scope

        settings = load_settings(project_dir)
        # A mistyped region or territory fails before minutes of computing, not after.
        check_scope(scope, territory=table(settings, "territory"))
        with _progress() as progress:
            indicators_dir = pipeline.compute_indicators(settings, progress=progress, force=recompute)
        with console.status("Writing the snapshot ..."):
            out = pipeline.write_snapshot_from_warehouse(
                settings, lang=lang, level=level, scope=scope, indicators_dir=indicators_dir
            )
    console.print(f"Indicators: {indicators_dir}")
    console.print(f"Snapshot: {out / 'index.html'}", highlight=False, soft_wrap=True)


# --------------------------------------------------------------------------------------- followups
from typing import TYPE_CHECKING  # noqa: E402

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from proximite.cohort.followups import FollowupReport
    from proximite.config import Settings


@app.command()
def followups(
    project_dir: ProjectDir = Path("."),
    territory: Annotated[
        Optional[list[str]], typer.Option("--territory", "-t", help="Only this territory id (repeatable); default: all.")
    ] = None,
    as_of: Annotated[Optional[str], typer.Option("--as-of", help="The day the list is for (YYYY-MM-DD); default: today.")] = None,
    status: Annotated[
        Optional[list[str]],
        typer.Option("--status", help="Only follow-ups with this status: open, closing or overdue (repeatable)."),
    ] = None,
    csv: Annotated[
        Optional[Path], typer.Option("--csv", help="Also write the list to this CSV file, and <stem>.completion.csv beside it.")
    ] = None,
) -> None:
    """List, per territory, the families whose next wave window is open, closing within 14 days, or overdue.

    Then completion and attrition by wave, and a count by status. Families appear by their
    pseudonymous id only: look the id up inside REDCap to reach the record.
    """
    from proximite.cohort.followups import FOLLOWUP_STATUSES, FollowupError, followups_from_warehouse
    from proximite.config import load_settings

    unknown = sorted(set(status or ()) - set(FOLLOWUP_STATUSES))
    if unknown:
        raise typer.BadParameter(f"status must be open, closing or overdue (got {', '.join(unknown)})")
    with _user_errors():
        try:
            as_of_date = _parse_date(as_of) if as_of else None
        except typer.BadParameter as error:
            raise FollowupError(f"--as-of: {error.message}") from None
        settings = load_settings(project_dir)
        report = followups_from_warehouse(settings, as_of=as_of_date, territories=territory or None)
    due = report.due if not status else report.due[report.due["status"].isin(status)].reset_index(drop=True)
    console.print("Family ids are pseudonymous: look a family up inside REDCap to reach its record.", highlight=False)
    _print_followups(report, due)
    counts = due["status"].value_counts()
    summary = ", ".join(f"{int(counts.get(name, 0)):,} {name}" for name in reversed(FOLLOWUP_STATUSES) if not status or name in status)
    console.print(
        f"{len(due):,} follow-up(s) due on {report.as_of.isoformat()} ({summary}; closing = window ends within "
        f"{report.closing_days} days), warehouse build {report.build_id}.",
        highlight=False,
    )
    if csv is not None:
        completion_path = csv.with_name(f"{csv.stem}.completion.csv")
        with _user_errors():
            _write_followup_csv(due, report.completion, due_path=csv, completion_path=completion_path)
        console.print(f"Follow-ups written to {csv} ({len(due):,} rows); completion and attrition to {completion_path}.",
                      highlight=False, soft_wrap=True)


def _print_followups(report: FollowupReport, due: pd.DataFrame) -> None:
    """One table of due follow-ups per territory, then completion and attrition by wave."""
    import pandas as pd
    from rich import box

    for territory_id in report.territories:
        rows = due[due["territory_id"] == territory_id]
        name = report.territory_names.get(territory_id, "")
        title = f"{territory_id} {name}".strip()
        if rows.empty:
            console.print(f"[bold]{title}[/]: no follow-up due.", highlight=False)
            continue
        table = Table(
            title=f"{title}: {len(rows):,} follow-up(s) due",
            title_justify="left",
            box=box.SIMPLE_HEAD,
            pad_edge=False,
            collapse_padding=True,  # fits an 80-column terminal without cutting an id
        )
        # Ids and dates are never cut: the id is what the coordinator looks up in REDCap.
        table.add_column("family id", no_wrap=True, min_width=16)
        table.add_column("wave", no_wrap=True)
        table.add_column("due date", no_wrap=True, min_width=10)
        table.add_column("window", no_wrap=True, min_width=23)
        table.add_column("status", no_wrap=True)
        table.add_column("days left", justify="right")
        style = {"overdue": "bold red", "closing": "yellow", "open": ""}
        for row in rows.itertuples(index=False):
            table.add_row(
                str(row.family_id),
                f"T{int(row.wave)}",
                f"{row.due_date:%Y-%m-%d}",
                f"{row.window_start:%Y-%m-%d} – {row.window_end:%Y-%m-%d}",
                f"[{style[row.status]}]{row.status}[/]" if style[row.status] else str(row.status),
                f"{int(row.days_left):,}",
            )
        console.print(table)
    completion = report.completion
    table = Table(
        title=f"Completion and attrition by wave, on {report.as_of.isoformat()}",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    for column in ("territory", "wave", "due", "completed", "missed", "exited", "completion", "attrition"):
        table.add_column(column, justify="left" if column in {"territory", "wave"} else "right", no_wrap=True)
    percent = lambda value: "–" if pd.isna(value) else f"{100 * value:.1f} %"  # noqa: E731
    # The total of the territories shown comes last.
    ordered = pd.concat([completion[completion["territory_id"] != "all"], completion[completion["territory_id"] == "all"]])
    for row in ordered.itertuples(index=False):
        table.add_row(
            str(row.territory_id),
            f"T{int(row.wave)}",
            f"{int(row.due):,}",
            f"{int(row.completed):,}",
            f"{int(row.missed):,}",
            f"{int(row.exited):,}",
            percent(row.completion_rate),
            percent(row.attrition_rate),
        )
    if completion.empty:
        console.print("Completion and attrition: no wave due yet.")
    else:
        console.print(table)


def _write_followup_csv(due: pd.DataFrame, completion: pd.DataFrame, *, due_path: Path, completion_path: Path) -> None:
    """The due list and the completion table as CSV (UTF-8 with BOM for spreadsheets, dates as YYYY-MM-DD)."""
    due_path.parent.mkdir(parents=True, exist_ok=True)
    due.to_csv(due_path, index=False, encoding="utf-8-sig", date_format="%Y-%m-%d", lineterminator="\n")
    completion.to_csv(completion_path, index=False, encoding="utf-8-sig", lineterminator="\n")


# --------------------------------------------------------------------------------------- server
def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    # Linux: the server stops if `proximite server` is killed outright (no orphan holding the port).
    import ctypes
    import signal

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _run_in_foreground(command: list[str], *, env: dict[str, str], stop_seconds: float = 30.0) -> int:
    """Run ``command`` until it ends; Ctrl-C or SIGTERM is passed on to it, then it gets ``stop_seconds`` to stop."""
    import signal
    import subprocess

    # The child has its own session so that a terminal's Ctrl-C reaches it once, through us.
    process = subprocess.Popen(
        command, env=env, start_new_session=True, preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None
    )

    def forward(signum: int, _frame: object) -> None:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)

    previous = {signum: signal.signal(signum, forward) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        return process.wait()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=stop_seconds)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@app.command()
def server(
    project_dir: ProjectDir = Path("."),
    host: Annotated[
        Optional[str], typer.Option(help="Address to listen on; default [orchestration] server_host (127.0.0.1).")
    ] = None,
    port: Annotated[
        Optional[int], typer.Option(help="Port; default [orchestration] server_port (4200).", min=1, max=65535)
    ] = None,
    allow_remote: Annotated[
        bool,
        typer.Option(
            "--allow-remote",
            help="Listen on a non-loopback address. The server has no authentication: only behind a firewall "
            "or a proxy that authenticates.",
        ),
    ] = False,
) -> None:
    """Start the project's Prefect server (API and UI) in the foreground; Ctrl-C stops it.

    Runs `prefect server start` with its SQLite database in <project-dir>/.prefect/prefect.db
    (PREFECT_HOME is <project-dir>/.prefect unless set); a shared installation sets
    PREFECT_API_DATABASE_CONNECTION_URL to PostgreSQL instead (see docs/orchestration.md).
    Analytics are off. Prints the UI address and the PREFECT_API_URL to export for
    `proximite schedule` and the `prefect` command.
    """
    from proximite.config import load_settings
    from proximite.flows import deployments

    with _user_errors():
        settings = load_settings(project_dir)
        orchestration = settings.raw.get("orchestration") or {}
        host = host or str(orchestration.get("server_host") or "127.0.0.1")
        port = port or int(orchestration.get("server_port") or 4200)
        if not allow_remote and not deployments.is_loopback_host(host):
            raise deployments.ScheduleError(
                f"--host {host}: not a loopback address. The Prefect server has no authentication: whoever reaches "
                f"{host}:{port} can read every run and start flows. Keep 127.0.0.1 and reach it through an SSH tunnel "
                "(ssh -L 4200:127.0.0.1:4200 ...), or pass --allow-remote behind a firewall or an authenticating proxy."
            )
        env, database = deployments.server_environment(settings, dict(os.environ))
        Path(env["PREFECT_HOME"]).mkdir(parents=True, exist_ok=True)
        (settings.project_dir / deployments.PREFECT_DIR_NAME).mkdir(parents=True, exist_ok=True)
    base = f"http://{deployments.url_host(host)}:{port}"
    if os.environ.get("PREFECT_API_DATABASE_CONNECTION_URL"):
        console.print(f"Database: {database} (from PREFECT_API_DATABASE_CONNECTION_URL)", highlight=False, soft_wrap=True)
    else:
        console.print(f"Database: SQLite, {database.split(':///', 1)[-1]}", highlight=False, soft_wrap=True)
    console.print(f"Prefect UI: {base}", highlight=False, soft_wrap=True)
    console.print(
        f"In another terminal: export PREFECT_API_URL={base}/api   then: proximite schedule --cron \"0 6 * * MON\" "
        f"--project-dir {project_dir}",
        highlight=False,
        soft_wrap=True,
    )
    console.print("Stop with Ctrl-C.")
    command = [sys.executable, "-m", "prefect", "server", "start", "--host", host, "--port", str(port), "--analytics-off"]
    code = _run_in_foreground(command, env=env)
    # uvicorn's clean stop after Ctrl-C is not an error.
    raise typer.Exit(code=0 if code in (0, -2, 130) else code)


# --------------------------------------------------------------------------------------- schedule
def _prefect_answers(api: str) -> bool:
    import httpx

    try:
        return httpx.get(f"{api}/health", timeout=5.0).status_code == 200
    except httpx.HTTPError:
        return False


@app.command()
def schedule(
    cron: Annotated[
        str, typer.Option(help='When to run: a five-field cron read in --timezone, e.g. "0 6 * * MON" (Mondays 06:00).')
    ],
    flow: Annotated[
        Optional[list[str]],
        typer.Option("--flow", "-f", help="Flow to schedule: pipeline (default), pull_cohort, pull_registry, models, economics; repeatable."),
    ] = None,
    project_dir: ProjectDir = Path("."),
    api_url: Annotated[
        Optional[str],
        typer.Option("--api-url", help="Prefect API URL; default PREFECT_API_URL, else the [orchestration] server's."),
    ] = None,
    timezone: Annotated[
        Optional[str], typer.Option(help="IANA time zone of the cron; default [orchestration] timezone (America/Toronto).")
    ] = None,
) -> None:
    """Serve the flows on a schedule against the project's Prefect server, until Ctrl-C.

    Registers one deployment per flow, named after the project ([project] name) with the
    parameters of [orchestration] (input_dir, redcap_url, token_env, token_secret), and runs
    each scheduled or UI-triggered run in a subprocess of this process: the pseudonym key and the
    REDCap token come from this process's environment. Stopping it pauses the schedules;
    starting it again resumes them.
    """
    from proximite.config import load_settings
    from proximite.flows import deployments

    with _user_errors():
        settings = load_settings(project_dir)
        url = deployments.api_url(settings, option=api_url)
        # A mistyped cron fails here, before any network or Prefect import.
        cron = deployments.validate_cron(cron)
        zone = deployments.resolved_timezone(settings, timezone)
        if not _prefect_answers(url):
            raise deployments.ScheduleError(f"no Prefect server at {url}; start it with `proximite server`")
        # The serving process and the runs it starts talk to this server.
        os.environ["PREFECT_API_URL"] = url
        from prefect import serve
        from prefect.settings import PREFECT_API_URL, temporary_settings

        with temporary_settings(updates={PREFECT_API_URL: url}):
            served = deployments.build_deployments(settings, cron=cron, flows=flow or ["pipeline"], timezone=zone)
            next_run = deployments.next_run_time(cron, timezone=zone)
            console.print(f"Serving on {url}, cron {cron!r} in {zone}:", highlight=False, soft_wrap=True)
            table = Table()
            for column in ("deployment", "next run"):
                table.add_column(column)
            for deployment in served:
                table.add_row(f"{deployment.flow_name}/{deployment.name}", next_run.isoformat(timespec="minutes"))
            console.print(table)
            console.print("Runs are in the Prefect UI (filter on the tag 'proximite'). Stop with Ctrl-C.")
            import signal

            # Ctrl-C stops serving even when started with SIGINT ignored (a script's background
            # job); Prefect's runner handles SIGTERM itself.
            signal.signal(signal.SIGINT, signal.default_int_handler)
            serve(*served, print_starting_message=False)


# --------------------------------------------------------------------------------------- status
@app.command()
def status(
    project_dir: ProjectDir = Path("."),
    limit: Annotated[int, typer.Option(help="How many pulls to list (newest first).", min=1)] = 10,
) -> None:
    """What a coordinator checks first: the last pulls, the current warehouse build, the last snapshot.

    Read from the project's own files (the raw layer's manifests, the warehouse's build table,
    the snapshots' manifests, the quarantine folder); nothing is recomputed. Counts and ids only.
    """
    from proximite.cohort.status import project_status
    from proximite.config import load_settings

    with _user_errors():
        settings = load_settings(project_dir)
        state = project_status(settings, limit=limit)
    if not state["pulls"] and state["build"] is None and state["snapshot"] is None and not state["quarantined"]:
        console.print(
            f"Nothing in {settings.project_dir} yet: no pull, no warehouse, no snapshot. Start with "
            f"`proximite ingest INPUT_DIR --project-dir {project_dir}` (or `proximite pull redcap`), then `proximite build`.",
            highlight=False,
            soft_wrap=True,
        )
        return
    _print_pulls(state["pulls"])
    build_info = state["build"]
    if build_info is None:
        console.print("Warehouse: none built yet (`proximite build`).")
    else:
        console.print(
            f"Warehouse build {build_info['build_id']}, built {_short_time(build_info['built_at'])} UTC:", highlight=False
        )
        table = Table()
        table.add_column("table")
        table.add_column("rows", justify="right")
        for name, rows in sorted(build_info["row_counts"].items()):
            table.add_row(name, f"{int(rows):,}")
        console.print(table)
        console.print(f"Warehouse: {build_info['path']}", highlight=False, soft_wrap=True)
    snapshot_info = state["snapshot"]
    if snapshot_info is None:
        console.print("Snapshot: none written yet (`proximite snapshot`).")
    else:
        level = (snapshot_info.get("disclosure") or {}).get("level", "?")
        console.print(
            f"Last snapshot: {snapshot_info['path']} (generated {snapshot_info.get('generated_at', '?')}, level {level}, "
            f"scope {snapshot_info.get('scope', '?')}, build {snapshot_info.get('data_version', '?')})",
            highlight=False,
            soft_wrap=True,
        )
    quarantined = state["quarantined"]
    if quarantined:
        from proximite.cohort import layers

        console.print(
            f"Quarantined batches: {len(quarantined)} in {settings.data_dir / layers.QUARANTINE} "
            f"(newest {quarantined[-1]}; each has report.html and failures.csv).",
            highlight=False,
            soft_wrap=True,
        )
    else:
        console.print("Quarantined batches: none.")


def _short_time(value: object) -> str:
    """An ISO timestamp as ``YYYY-MM-DD HH:MM:SS`` in UTC (the raw text when it is not one)."""
    try:
        moment = dt.datetime.fromisoformat(str(value))
    except ValueError:
        return str(value or "?")
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.timezone.utc)
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def _print_pulls(pulls: list[dict[str, object]]) -> None:
    if not pulls:
        console.print("Pulls: none yet.")
        return
    table = Table(title="Last pulls (newest first; * = the pull the next build uses)")
    for column in ("time (UTC)", "source", "pull id", "rows", "mode", "outcome"):
        table.add_column(column, justify="right" if column == "rows" else "left")
    for pull in pulls:
        outcome = str(pull["outcome"])
        if pull.get("error"):
            outcome = f"{outcome}: {pull['error']}"
        rows = pull.get("rows")
        table.add_row(
            _short_time(pull.get("received_at")),
            str(pull["source"]),
            f"{pull['pull_id']}{' *' if pull.get('latest') else ''}",
            f"{rows:,}" if isinstance(rows, int) else "",
            str(pull.get("mode") or ""),
            outcome,
        )
    console.print(table)


# --------------------------------------------------------------------------------------- notify
notify_app = typer.Typer(
    help="Failure notifications: save a webhook or email block, send a test, create the server's automation.",
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(notify_app, name="notify")

ApiUrl = Annotated[
    Optional[str], typer.Option("--api-url", help="Prefect API URL; default PREFECT_API_URL, else the [orchestration] server's.")
]


@contextlib.contextmanager
def _prefect_server(project_dir: Path, api_url: Optional[str]) -> Iterator[Settings]:
    """Point Prefect at the project's running server (blocks and automations live there)."""
    from proximite.config import load_settings
    from proximite.flows import deployments

    with _user_errors():
        settings = load_settings(project_dir)
        url = deployments.api_url(settings, option=api_url)
        if not _prefect_answers(url):
            raise deployments.ScheduleError(f"no Prefect server at {url}; start it with `proximite server`")
    os.environ["PREFECT_API_URL"] = url
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: url}):
        try:
            yield settings
        except (ValueError, OSError) as error:
            # Prefect says "Unable to find block document named ..." or the SMTP server refused.
            error_console.print(f"[bold red]error:[/] {error}", highlight=False, soft_wrap=True)
            raise typer.Exit(code=1) from None


def _print_notify_block(value: str, project_dir: Path) -> None:
    console.print(f"Saved. Put this line under [orchestration] in {project_dir / 'proximite.toml'}:", highlight=False, soft_wrap=True)
    console.print(f'notify_block = "{value}"', highlight=False, soft_wrap=True, markup=False)


Overwrite = Annotated[bool, typer.Option("--overwrite", help="Replace a block of the same name.")]


@notify_app.command("webhook")
def notify_webhook(
    url: Annotated[str, typer.Argument(help="The endpoint that receives a JSON POST {\"subject\", \"body\"}.")],
    name: Annotated[str, typer.Option("--name", help="Block name, e.g. coordinator.")],
    project_dir: ProjectDir = Path("."),
    api_url: ApiUrl = None,
    overwrite: Overwrite = False,
) -> None:
    """Save a webhook notification block (Teams, Slack, Mattermost or any JSON endpoint)."""
    from proximite.flows import notify

    if not url.startswith(("https://", "http://")):
        raise typer.BadParameter(f"the webhook URL must start with https:// (got {url[:30]!r}...)")
    with _prefect_server(project_dir, api_url):
        value = notify.save_webhook_block(name, url, overwrite=overwrite)
    _print_notify_block(value, project_dir)


@notify_app.command("email")
def notify_email(
    name: Annotated[str, typer.Option("--name", help="Block name, e.g. coordinator.")],
    host: Annotated[str, typer.Option("--host", help="SMTP server host name.")],
    from_address: Annotated[str, typer.Option("--from", help="Sender address.")],
    to: Annotated[list[str], typer.Option("--to", help="Recipient address (repeatable).")],
    port: Annotated[int, typer.Option("--port", help="SMTP port (587 STARTTLS, 465 SSL, 25 plain).", min=1, max=65535)] = 587,
    security: Annotated[str, typer.Option("--security", help="starttls, ssl or none.")] = "starttls",
    username: Annotated[Optional[str], typer.Option("--username", help="SMTP login, when the server needs one.")] = None,
    password_env: Annotated[
        Optional[str], typer.Option("--password-env", help="Environment variable holding the SMTP password (never on the command line).")
    ] = None,
    project_dir: ProjectDir = Path("."),
    api_url: ApiUrl = None,
    overwrite: Overwrite = False,
) -> None:
    """Save an email notification block sending through the institution's SMTP server."""
    from proximite.flows import notify

    if security not in {"starttls", "ssl", "none"}:
        raise typer.BadParameter(f"--security must be starttls, ssl or none (got {security!r})")
    password = None
    if password_env:
        password = os.environ.get(password_env)
        if not password:
            raise typer.BadParameter(f"--password-env {password_env}: that environment variable is not set")
    with _prefect_server(project_dir, api_url):
        value = notify.save_email_block(
            name,
            overwrite=overwrite,
            smtp_host=host,
            smtp_port=port,
            security=security,
            username=username,
            password=password,
            from_address=from_address,
            to_addresses=list(to),
        )
    _print_notify_block(value, project_dir)


@notify_app.command("test")
def notify_test(
    block: Annotated[str, typer.Option("--block", help='The block, as in notify_block: "custom-webhook/coordinator".')],
    project_dir: ProjectDir = Path("."),
    api_url: ApiUrl = None,
) -> None:
    """Send a test message through a notification block (check that the coordinator receives it)."""
    from proximite.flows import notify

    with _prefect_server(project_dir, api_url) as settings:
        notify.send_test_notice(block, project_name=settings.project_name)
    console.print(f"Test message sent through {block}.", highlight=False)


@notify_app.command("automation")
def notify_automation(
    block: Annotated[str, typer.Option("--block", help='A webhook block, as in notify_block: "custom-webhook/coordinator".')],
    name: Annotated[str, typer.Option("--name", help="Automation name (replaced if it exists).")] = "proximite-run-failed",
    project_dir: ProjectDir = Path("."),
    api_url: ApiUrl = None,
) -> None:
    """Create the server's automation: notify when a run tagged proximite ends Failed or Crashed."""
    from proximite.flows import notify

    with _prefect_server(project_dir, api_url):
        automation = notify.create_failure_automation(block, name=name)
    console.print(
        f"Automation {name!r} ({automation.id}) notifies through {block} when a run tagged "
        f"{notify.FLOW_TAG!r} ends Failed or Crashed.",
        highlight=False,
        soft_wrap=True,
    )


# --------------------------------------------------------------------------------------- models
models_app = typer.Typer(
    help="Fit model specs (YAML) on the long panel or the survival table; list the model kinds.",
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(models_app, name="models")


@models_app.command("run")
def models_run(
    specs: Annotated[list[Path], typer.Argument(help="Spec files (YAML): one spec, or several under models:.")],
    project_dir: ProjectDir = Path("."),
    out: Annotated[
        Optional[Path],
        typer.Option(
            "--out",
            "-o",
            help="Output directory (default <project>/reporting/models/<spec stem>-<build id>/); "
            "with several spec files, one folder per file inside it.",
        ),
    ] = None,
) -> None:
    """Fit every model of the spec files on the current warehouse and write their results.

    Per model: <name>.summary.csv (and its other tables), .html, .tex and .png; comparison.csv
    when models share terms; manifest.json (build id, code version, spec hash, files, rows used).
    Every file is checked before anything is fitted; a failing model stops the run and leaves
    the previous results in place.
    """
    from proximite.cohort.models.specs import load_specs, run_specs
    from proximite.config import load_settings

    with _user_errors():
        settings = load_settings(project_dir)
        loaded = [(path, load_specs(path)) for path in specs]
        stems = [path.stem for path, _ in loaded]
        for path, file_specs in loaded:
            target = None
            if out is not None:
                target = out if len(loaded) == 1 else out / (path.stem if stems.count(path.stem) == 1 else f"{path.stem}-{stems.index(path.stem)}")
            console.print(f"{path}: {len(file_specs)} model(s)", highlight=False)
            run = run_specs(file_specs, settings, target, echo=lambda line: console.print(f"  {line}", highlight=False, soft_wrap=True))
            if run.comparison is not None:
                console.print(f"  compared: {', '.join(run.comparison.results)}", highlight=False, soft_wrap=True)
            console.print(f"Results: {run.out_dir}", highlight=False, soft_wrap=True)
            console.print(f"Manifest: {run.manifest_path}", highlight=False, soft_wrap=True)


@models_app.command("list")
def models_list() -> None:
    """List the model kinds a spec can name (kind:) and the options each takes (see docs/models.md)."""
    from proximite.cohort.models.specs import describe_kinds

    with _user_errors():
        kinds = describe_kinds()
    for entry in kinds:
        console.print(f"[bold]{entry['kind']}[/]  {entry['summary'].replace('``', '')}", highlight=False, soft_wrap=True)
        options = ", ".join(
            f"{option['name']} (required)" if option["required"] else f"{option['name']}={_yaml_value(option['default'])}"
            for option in entry["options"]
        )
        console.print(f"    options: {options or 'none'}", highlight=False, soft_wrap=True, markup=False)
    console.print(f"{len(kinds)} kinds. A spec: kind, formula, data (panel or survival), options; see docs/models.md.")


def _yaml_value(value: object) -> str:
    """A default as a spec would write it (null, true, [a, b], text)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_yaml_value(item) for item in value) + "]"
    return str(value)


def _copy_example_specs(project_dir: Path) -> list[Path]:
    """Copy the example specs (docs/examples/models/*.yaml of a checkout) into ``<project>/models/``.

    A spec already there is kept (it may have been edited); returns the files copied.
    """
    import shutil

    examples = Path(__file__).resolve().parents[2] / "docs" / "examples" / "models"
    if not examples.is_dir():
        return []
    copied = []
    for source in sorted(examples.glob("*.yaml")):
        target = project_dir / "models" / source.name
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
            copied.append(target)
    return copied


# --------------------------------------------------------------------------------------- economics
economics_app = typer.Typer(
    help="Economic evaluation: costing, cost per outcome, cost-benefit with PSA, funding tables.",
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(economics_app, name="economics")


def _money(value: object) -> str:
    if value is None:
        return "–"
    return f"{float(value):,.0f} $".replace(",", " ")


@economics_app.command("run")
def economics_run(
    project_dir: ProjectDir = Path("."),
    params: Annotated[
        Optional[Path], typer.Option("--params", help="Benefit parameter file (YAML); default: the shipped placeholders.")
    ] = None,
    costing_params: Annotated[
        Optional[Path], typer.Option("--costing-params", help="Costing parameter file (YAML); default: the shipped placeholders.")
    ] = None,
    draws: Annotated[int, typer.Option(help="Draws of the probabilistic sensitivity analysis.", min=100)] = 10_000,
    seed: Annotated[int, typer.Option(help="Seed of the PSA (the same seed gives the same draws).", min=0)] = 20_260_101,
    chunk: Annotated[
        int, typer.Option(help="PSA draws per chunk (the economics flow's units; same seed and chunk, same draws).", min=100)
    ] = 2_500,
    cost_basis: Annotated[
        str, typer.Option("--cost-basis", help="Programme cost of the cost-benefit: budget (every category) or activity.")
    ] = "budget",
    lang: Annotated[str, typer.Option(help="Language of the tornado chart: fr or en.")] = "fr",
) -> None:
    """Cost the programme, cost per outcome, cost-benefit (NPV, BCR), PSA with P(BCR > 1) and the tornado chart.

    Reads the current warehouse build and its indicators; writes reporting/economics/<build>/
    (economics.json, tornado.png, psa.png and the tables as CSV), which the next snapshot shows.
    Results built on placeholder or unsourced parameters are marked NOT PUBLISHABLE: the public
    snapshot then shows a notice instead of the figures.
    """
    from proximite import pipeline
    from proximite.config import load_settings
    from proximite.economics.report import EconomicsSummary

    if cost_basis not in ("budget", "activity"):
        raise typer.BadParameter(f"--cost-basis must be budget or activity (got {cost_basis!r})")
    if lang not in ("fr", "en"):
        raise typer.BadParameter(f"--lang must be fr or en (got {lang!r})")
    console.print(f"Economic evaluation ({draws:,} PSA draws, seed {seed}) ...", highlight=False)
    with _user_errors():
        settings = load_settings(project_dir)
        try:
            directory = pipeline.run_economics(
                settings, params=params, costing_params=costing_params, cost_basis=cost_basis, draws=draws, seed=seed,
                chunk=chunk, lang=lang,
            )
        except ValueError as error:  # the parameter files' errors name the file, key and rule
            from proximite.errors import ProximiteError

            raise ProximiteError(str(error)) from None
        summary = EconomicsSummary.read(directory)
    data = summary.to_dict()
    table = Table(title=f"Cost per outcome (Québec, CAD {data.get('price_year') or ''}, 95 % interval)", title_justify="left")
    for column in ("outcome", "basis", "cost", "interval"):
        table.add_column(column, justify="left" if column in ("outcome", "basis") else "right")
    for row in data["cost_per_outcome"]:
        table.add_row(row["label_en"], str(row.get("basis", "")), _money(row["value"]),
                      f"{_money(row['ci_lower'])} – {_money(row['ci_upper'])}")
    console.print(table)
    benefit, psa = data["cost_benefit"], data["psa"] or {}
    console.print(
        f"{data['perspective']} perspective, {data['horizon_years']} years, discount {100 * data['discount_rate']:.1f} %: "
        f"PV costs {_money(benefit['pv_costs'])}, PV benefits {_money(benefit['pv_benefits'])}, "
        f"NPV {_money(benefit['npv'])}, BCR {benefit['bcr']:.2f}",
        highlight=False,
        soft_wrap=True,
    )
    if psa:
        console.print(
            f"PSA ({psa['draws']:,} draws): NPV {_money(psa['npv_low'])} to {_money(psa['npv_high'])}, "
            f"BCR {psa['bcr_low']:.2f} to {psa['bcr_high']:.2f}, P(BCR > 1) = {psa['p_bcr_gt_1']:.3f}",
            highlight=False,
            soft_wrap=True,
        )
    if not data["publishable"]:
        console.print(
            f"[bold yellow]NOT PUBLISHABLE[/]: {len(data['blocking'])} parameter value(s) are placeholders or unsourced "
            "(economics.json lists them); the public snapshot shows a notice instead of these figures.",
            highlight=False,
            soft_wrap=True,
        )
    console.print(f"Tornado chart: {directory / 'tornado.png'}", highlight=False, soft_wrap=True)
    console.print(f"Economics: {directory / 'economics.json'}", highlight=False, soft_wrap=True)


@economics_app.command("funding")
def economics_funding(
    table_path: Annotated[
        Optional[Path], typer.Option("--table", help="A funding table (CSV, the 2019 table's columns); default: the 2019 table.")
    ] = None,
    region: Annotated[
        Optional[list[str]], typer.Option("--region", help="A region (code or name) whose share of children to report; repeatable.")
    ] = None,
) -> None:
    """Programme-funding table: totals, funding per resource, per FTE and per child aged 0-5, regions' shares."""
    from proximite.economics.funding import funding_summary, load_funding_table

    with _user_errors():
        try:
            summary = funding_summary(load_funding_table(table_path), regions=region or None)
        except ValueError as error:
            from proximite.errors import ProximiteError

            raise ProximiteError(str(error)) from None
    console.print(summary.table.to_string(index=False), highlight=False, soft_wrap=True, markup=False)
    if region:
        console.print(str(summary.selection), highlight=False, soft_wrap=True, markup=False)


# --------------------------------------------------------------------------------------- validity
@app.command()
def validity(
    reps: Annotated[int, typer.Option(help="Replicates: synthetic cohorts regenerated with fresh seeds.", min=1)] = 200,
    families: Annotated[int, typer.Option(help="Families per replicate.", min=20)] = 1500,
    territories: Annotated[
        Optional[int], typer.Option(help="Territories per replicate; default: the pilot's families per territory.", min=1)
    ] = None,
    seed: Annotated[int, typer.Option(help="Study seed: replicate r uses seed + r.", min=0)] = 20240101,
    workers: Annotated[int, typer.Option(help="Processes running replicates in parallel.", min=1)] = max(1, min(2, os.cpu_count() or 1)),
    out: Annotated[
        Optional[Path], typer.Option("--out", "-o", help="Write summary.csv, replicates.csv and targets.csv here.")
    ] = None,
) -> None:
    """The simulation study: do the estimators recover what the synthetic cohort planted?

    Regenerates the synthetic cohort `--reps` times, builds each warehouse and fits the
    estimators; reports for each planted quantity the mean estimate, bias, RMSE and the coverage
    of the 95 % interval, then the issue's targets (wave effects, complete-case versus IPW mean
    at T24, Kaplan-Meier medians) with pass or fail. See docs/validity.md.
    """
    from proximite.pipeline.validity import run_validity

    console.print(
        f"{reps} replicate(s) of {families:,} families on {workers} worker(s): several seconds per replicate.",
        highlight=False,
    )
    with _user_errors(), _progress() as progress:
        results = run_validity(
            reps=reps, families=families, territories=territories, seed=seed, workers=workers,
            progress=lambda done, total: progress("replicates", done, total),
        )
    console.print(str(results), highlight=False, soft_wrap=True, markup=False)
    # The wave effects' targets are checked on PanelOLS with the attrition weights: the planted
    # dropout depends on the observed T0 index, which biases the unweighted fixed-effects
    # estimate towards zero (docs/validity.md); the unweighted one is shown for comparison.
    import pandas as pd

    targets = results.targets_met(estimator="panel_ols_ipw")
    unweighted = results.targets_met(estimator="panel_ols")
    console.print(targets.to_string(index=False), highlight=False, soft_wrap=True, markup=False)
    passed = int(targets["passed"].sum())
    console.print(f"Targets met: {passed} of {len(targets)}" + (" (few replicates: coverage is coarse)" if reps < 50 else "") + ".",
                  highlight=False)
    unweighted = unweighted.loc[unweighted["estimator"] == "panel_ols"]
    console.print(
        f"Unweighted PanelOLS, for comparison: {int(unweighted['passed'].sum())} of {len(unweighted)} wave-effect targets met.",
        highlight=False,
    )
    targets = pd.concat([targets, unweighted], ignore_index=True)
    if out is not None:
        with _user_errors():
            results.to_csv(out / "summary.csv")
            results.to_csv(out / "replicates.csv", which="replicates")
            out.mkdir(parents=True, exist_ok=True)
            targets.to_csv(out / "targets.csv", index=False)
        console.print(f"Written: {out / 'summary.csv'}, {out / 'replicates.csv'}, {out / 'targets.csv'}", highlight=False, soft_wrap=True)


# --------------------------------------------------------------------------------------- demo
@app.command()
def demo(
    project_dir: ProjectDir = Path("demo-project"),
    families: Annotated[int, typer.Option(help="Number of synthetic families.", min=20)] = 300,
    territories: Annotated[int, typer.Option(help="Number of territories.", min=1)] = 12,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 20240101,
) -> None:
    """Generate a synthetic cohort, serve it from the REDCap sandbox, and run the pipeline flow.

    The pipeline pulls the cohort through PyCap from the sandbox (on loopback, with a random
    token that lives only in this process), ingests the registry, reference and cost files,
    harmonises and builds the warehouse, computes the indicators and writes the decision-makers'
    snapshot, in Prefect's ephemeral mode. Creates the project's pseudonym key file (mode 0600)
    when PROXIMITE_PSEUDONYM_KEY is not set, and says so. Ends with a summary of the warehouse
    and the path of the snapshot.
    """
    from proximite import pipeline
    from proximite.cohort.sandbox.project import SandboxProject
    from proximite.cohort.sandbox.server import SandboxServer
    from proximite.cohort.sandbox.synth import generate_cohort
    from proximite.config import load_settings, pseudonym_key

    with _user_errors():
        project_dir.mkdir(parents=True, exist_ok=True)
        settings = load_settings(project_dir)
        _key, origin = pseudonym_key(settings, create=True)
        if origin.startswith("file:"):
            console.print(
                f"Pseudonym key: {origin[5:]} (mode 0600, created for this demo if it was missing). "
                "Set PROXIMITE_PSEUDONYM_KEY for a real project."
            )
        input_dir = project_dir / "input"
        with _progress() as progress:
            generate_cohort(input_dir, families=families, territories=territories, seed=seed, progress=progress)
        console.print(f"Synthetic cohort: {input_dir}")
        from proximite.flows.pipeline import pipeline

        with SandboxServer(SandboxProject.from_directory(input_dir)) as server:
            console.print(f"REDCap sandbox serving the cohort at {server.url} (random token, this process only).")
            # The flow reads the token from this variable; it is never a flow parameter.
            os.environ[DEMO_TOKEN_ENV] = server.token
            try:
                console.print(
                    "Running the pipeline flow (Prefect, ephemeral mode): pull through PyCap, ingest, build, "
                    "indicators, economics, snapshot ..."
                )
                result = pipeline(
                    input_dir=str(input_dir.resolve()),
                    project_dir=str(project_dir.resolve()),
                    redcap_url=server.url,
                    token_env=DEMO_TOKEN_ENV,
                    economics=True,
                    economics_draws=5_000,
                )
            finally:
                os.environ.pop(DEMO_TOKEN_ENV, None)
        validation = result["validation"]
        console.print(
            f"Validation: both gates passed ({validation['rules']} harmonised rules, "
            f"{validation['rules_failed']} with failures below their threshold); "
            f"results in {settings.reporting_dir / 'validation'}."
        )
        pull = result["pull"]
        console.print(
            f"Pulled {pull['records']:,} records through PyCap in {pull['requests']:,} requests ({pull['mode']} pull)."
        )
        _print_summary(pipeline.warehouse_summary(settings))
        console.print(f"Warehouse: [bold]{settings.warehouse_path}[/]")
        console.print(f"Indicators: {result['indicators_dir']}")
        if result.get("economics_dir"):
            console.print(
                f"Economics: {result['economics_dir']} (placeholder parameters: provisional, not publishable; "
                "see docs/economics.md)",
                highlight=False,
                soft_wrap=True,
            )
        _copy_example_specs(project_dir)
        example = project_dir / "models" / "isolation_panel.yaml"
        if example.is_file():
            console.print(
                f"Model specs: {example.parent} (try: proximite models run {example} --project-dir {project_dir})",
                highlight=False,
                soft_wrap=True,
            )
        console.print(f"Snapshot: {Path(result['snapshot_dir']) / 'index.html'}", highlight=False, soft_wrap=True)


DEMO_TOKEN_ENV = "PROXIMITE_DEMO_REDCAP_TOKEN"


# --------------------------------------------------------------------------------------- output
def _print_counts(title: str, counts: dict[str, object]) -> None:
    table = Table(title=title)
    table.add_column("table")
    table.add_column("rows", justify="right")
    for name, value in counts.items():
        table.add_row(name, f"{value:,}" if isinstance(value, int) else str(value))
    console.print(table)


def _print_summary(summary: dict[str, object]) -> None:
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
    ]
    for key, label in labels:
        table.add_row(label, f"{summary[key]:,}")
    per_wave = summary["assessments_per_wave"]
    assert isinstance(per_wave, dict)
    for wave, count in per_wave.items():
        table.add_row(f"assessments at T{wave}", f"{count:,}")
    console.print(table)


def main() -> None:  # pragma: no cover - console entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
