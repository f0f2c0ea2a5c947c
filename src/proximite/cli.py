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
    from proximite.cohort.errors import ProximiteError
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
    from proximite.cohort.ingest import ingest as run_ingest
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
    from proximite.cohort import steps
    from proximite.config import load_settings, pseudonym_key

    with _user_errors():
        settings = load_settings(project_dir)
        key, _origin = pseudonym_key(settings)
        with console.status("Harmonising the staged pulls ..."):
            harmonised_dir = steps.harmonise_staged(settings, key=key)
        with console.status("Building the warehouse ..."):
            info = steps.build_from_harmonised(settings, harmonised_dir)
        console.print(f"Warehouse [bold]{settings.warehouse_path}[/] built (build {info.build_id}).")
        _print_summary(steps.warehouse_summary(settings))


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
    from proximite.cohort import layers, steps
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
                    harmonised_dir = steps.harmonise_staged(settings, key=key)
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
    from proximite.cohort.sources.redcap import pull_redcap, token_from_env
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
    from proximite.cohort import steps
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
            indicators_dir = steps.compute_indicators(settings, progress=progress, force=recompute)
        with console.status("Writing the snapshot ..."):
            out = steps.write_snapshot_from_warehouse(
                settings, lang=lang, level=level, scope=scope, indicators_dir=indicators_dir
            )
    console.print(f"Indicators: {indicators_dir}")
    console.print(f"Snapshot: {out / 'index.html'}", highlight=False, soft_wrap=True)


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
    from proximite.cohort import steps
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
                    "indicators, snapshot ..."
                )
                result = pipeline(
                    input_dir=str(input_dir.resolve()),
                    project_dir=str(project_dir.resolve()),
                    redcap_url=server.url,
                    token_env=DEMO_TOKEN_ENV,
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
        _print_summary(steps.warehouse_summary(settings))
        console.print(f"Warehouse: [bold]{settings.warehouse_path}[/]")
        console.print(f"Indicators: {result['indicators_dir']}")
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
