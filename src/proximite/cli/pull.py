"""Pulling from a live source (``proximite pull redcap``) and the local REDCap sandbox to rehearse it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from proximite.cli.common import ProjectDir, console, print_counts, progress_display, user_errors

__all__ = ["pull_app", "sandbox"]


def sandbox(
    project: Annotated[
        Path, typer.Option("--project", help="A REDCap project XML file, or a folder with data_dictionary.csv and records.csv.")
    ],
    host: Annotated[str, typer.Option(help="Address to listen on (loopback by default).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port (0: any free port).", min=0, max=65535)] = 0,
    token_file: Annotated[
        Optional[Path], typer.Option("--token-file", help="Where to write the random API token (mode 0600).")
    ] = None,
    fault: Annotated[
        Optional[list[str]],
        typer.Option(
            "--fault",
            metavar="KIND[:RATE]",
            help=(
                "Inject a fault to rehearse failures (repeatable): latency[:SECONDS], 5xx[:RATE], "
                "truncate[:RATE], drop[:RATE] or oom[:RATE]; a rate is a share of requests (default 1)."
            ),
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the fault draws.")] = 0,
) -> None:
    """Serve a project over a local REDCap-compatible API (for rehearsing pulls, the demo and the tests).

    Prints the URL (ending in /api/) and the file holding a fresh random token; the token itself
    is never printed. Stop with Ctrl-C.
    """
    from proximite.cohort.sandbox.server import faults_from_specs, serve_forever

    try:
        faults = faults_from_specs(fault or [], seed=seed)
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--fault") from None
    with user_errors():
        serve_forever(project, host=host, port=port, token_file=token_file, faults=faults, echo=console.print)


pull_app = typer.Typer(help="Pull data from a live source.", no_args_is_help=True, add_completion=False)


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
    mapping: Annotated[
        Optional[Path], typer.Option("--mapping", help="Your own project's mapping YAML (default: [redcap] mapping).")
    ] = None,
    survey: Annotated[
        Optional[str],
        typer.Option("--survey", help="Pull a yearly questionnaire's project instead of the cohort's: partner_survey or staff_survey."),
    ] = None,
) -> None:
    """Pull the cohort (or, with --survey, a yearly questionnaire) from REDCap through PyCap.

    Batched by record id, incremental unless --full. Every response lands in 01 raw as received;
    the typed tables are staged only when the whole pull succeeded. The token (the project's:
    each questionnaire is its own REDCap project) is read from the environment and never printed
    or stored.
    """
    from proximite.cohort.redcap.errors import token_from_env
    from proximite.pipeline import pull_redcap
    from proximite.config import load_settings

    if survey is not None and survey not in {"partner_survey", "staff_survey"}:
        raise typer.BadParameter(f"unknown questionnaire {survey!r}; the questionnaires are partner_survey and staff_survey")
    if survey is not None and mapping is not None:
        raise typer.BadParameter("--mapping maps a team's own cohort project; a questionnaire is pulled as the codebook defines it")
    with user_errors():
        settings = load_settings(project_dir)
        token = token_from_env(token_env)
        with progress_display() as progress:
            result = pull_redcap(
                url, token=token, settings=settings, full=full, batch_size=batch_size, pause_seconds=pause, progress=progress,
                mapping=mapping, source=survey or "redcap",
            )
    summary = result.summary()
    if survey is not None:
        from proximite.cohort.redcap.structure import PROJECT_LABELS

        console.print(f"Pulled the {PROJECT_LABELS[survey]} project (staged as [bold]{survey}[/]).")
    console.print(
        f"REDCap pull {summary['pull_id']} ({summary['mode']}): {summary['records']:,} records fetched, "
        f"{summary['deleted']:,} deleted, {summary['requests']:,} requests in {summary['seconds']:.1f} s."
    )
    print_counts("Staged", summary["rows"])
