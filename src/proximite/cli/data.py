"""The data layers' commands: ingest inputs (01, 02), build the warehouse (03), run a validation
gate again, write the decision-makers' snapshot (04, 05)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from proximite.cli.common import ProjectDir, console, print_warehouse_summary, progress_display, user_errors

__all__ = ["build", "ingest", "snapshot", "validate"]


def ingest(
    input_dir: Annotated[Path, typer.Argument(help="Input directory (redcap/, registry/, reference/, costs/).")],
    project_dir: ProjectDir = Path("."),
    source: Annotated[
        Optional[list[str]],
        typer.Option("--source", "-s", help="Only these sources (reference, redcap, registry, cost, qual_register, qual_coding); repeatable."),
    ] = None,
) -> None:
    """Copy inputs as received into 01 raw (with a manifest) and stage typed tables in 02.

    A file that breaks a rule stops the ingest with a message naming the file, row or column and
    the rule; its raw copy is kept and the last good staged pull stays in place.
    """
    from proximite.pipeline import ingest as run_ingest
    from proximite.config import load_settings

    with user_errors():
        if not input_dir.is_dir():
            raise FileNotFoundError(f"{input_dir}: no such input directory")
        settings = load_settings(project_dir)
        with progress_display() as progress:
            result = run_ingest(input_dir, settings=settings, sources=source or None, progress=progress)
    table = Table(title="Ingested")
    for column in ("source", "pull id", "table", "rows"):
        table.add_column(column, justify="right" if column == "rows" else "left")
    for source_name, info in result.summary().items():
        for table_name, rows in info["rows"].items():
            table.add_row(source_name, info["pull_id"], table_name, f"{rows:,}")
    console.print(table)


def build(project_dir: ProjectDir = Path(".")) -> None:
    """Harmonise the latest staged pulls (03) and build the warehouse (an atomic swap).

    Needs the pseudonym key in PROXIMITE_PSEUDONYM_KEY or the project's key file. A failed
    build leaves the previous warehouse in place.
    """
    from proximite import pipeline
    from proximite.config import load_settings, pseudonym_key

    with user_errors():
        settings = load_settings(project_dir)
        key, _origin = pseudonym_key(settings)
        withdrawn = pipeline.withdraw_families(settings, key=key)
        if withdrawn.families:
            console.print(f"Consent withdrawals: {withdrawn.families} family(ies) removed from every layer before the build.")
        with console.status("Harmonising the staged pulls ..."):
            harmonised_dir = pipeline.harmonise_staged(settings, key=key)
        with console.status("Building the warehouse ..."):
            info = pipeline.build_from_harmonised(settings, harmonised_dir)
        console.print(f"Warehouse [bold]{settings.warehouse_path}[/] built (build {info.build_id}).")
        print_warehouse_summary(pipeline.warehouse_summary(settings))


def validate(
    project_dir: ProjectDir = Path("."),
    layer: Annotated[
        str, typer.Option(help="staged: the last good pull of each source; harmonised: layer 03 made from them.")
    ] = "harmonised",
    source: Annotated[
        Optional[list[str]], typer.Option("--source", "-s", help="Staged layer only: these sources (repeatable).")
    ] = None,
    lang: Annotated[str, typer.Option(help="Language of the summary: fr or en.")] = "fr",
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
    from proximite.pipeline.access import logging_refusals

    if layer not in {"staged", "harmonised"}:
        raise typer.BadParameter("layer must be staged or harmonised")
    if lang not in {"fr", "en"}:
        raise typer.BadParameter("lang must be fr or en")
    with user_errors():
        settings = load_settings(project_dir)
        results = []
        # A refused gate's report names REDCap records: the access log records it.
        with logging_refusals(settings, command="validate"):
            try:
                if layer == "staged":
                    chosen = source or [name for name in layers.ALL_SOURCES if layers.latest_pull(settings, name)]
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
                for line in summary_lines(failure.result, failure.report_dir, lang=lang):
                    console.print(line, highlight=False)
                raise
        for result in results:
            for line in summary_lines(result, lang=lang):
                console.print(line, highlight=False)


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
    out: Annotated[
        Optional[Path],
        typer.Option("--out", help="Folder to write (default reporting/snapshot-<date>-<level>-<scope>/); "
                     "it must be empty or hold a snapshot of the same level and scope."),
    ] = None,
) -> None:
    """Write the decision-makers' snapshot: reporting/snapshot-<date>-<level>-<scope>/ (HTML page, CSV, JSON, manifest).

    Computes the indicators of the current warehouse build into data/04_indicators/<build>/ when
    they are not there yet, applies disclosure control, and writes index.html (French by default)
    plus the page in the other language, indicators.csv, indicators.json and manifest.json. One
    folder per day, level and scope (e.g. snapshot-2026-12-07-public-quebec,
    snapshot-2026-12-07-internal-region-06): a snapshot of the same day, level and scope is
    replaced, others are left alone. The page opens offline and prints.
    """
    from proximite import pipeline
    from proximite.config import load_settings

    if lang not in {"fr", "en"}:
        raise typer.BadParameter("lang must be fr or en")
    if level is not None and level not in {"public", "internal"}:
        raise typer.BadParameter("level must be public or internal")
    with user_errors():
        from proximite.cohort.warehouse import table
        from proximite.indicators.snapshot import check_scope

        settings = load_settings(project_dir)
        # A mistyped region or territory fails before minutes of computing, not after.
        check_scope(scope, territory=table(settings, "territory"))
        with progress_display() as progress:
            indicators_dir = pipeline.compute_indicators(settings, progress=progress, force=recompute)
        with console.status("Writing the snapshot ..."):
            out = pipeline.write_snapshot_from_warehouse(
                settings, lang=lang, level=level, scope=scope, indicators_dir=indicators_dir, out=out
            )
    console.print(f"Indicators: {indicators_dir}")
    console.print(f"Snapshot: {out / 'index.html'}", highlight=False, soft_wrap=True)
