"""The synthetic cohort (``proximite synth``) and the end-to-end demo on it (``proximite demo``)."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from proximite.cli.common import (
    ProjectDir,
    console,
    parse_date,
    parse_waves,
    print_counts,
    print_warehouse_summary,
    progress_display,
    user_errors,
)
from proximite.cli.models import copy_example_specs

if TYPE_CHECKING:  # pragma: no cover
    from proximite.config import Settings

__all__ = ["DEMO_TOKEN_ENV", "cohort_as_of", "demo", "synth"]

AsOf = Annotated[
    Optional[str],
    typer.Option("--as-of", help="Data as of this day (YYYY-MM-DD): nothing dated after it. Default: today."),
]


def cohort_as_of(as_of: str | None) -> dt.date:
    """The day a generated cohort is censored at: ``--as-of``, else today.

    Today is the earlier of the local and the UTC date: the harmonised gate compares REDCap
    dates with the pull's UTC day, so a cohort made just after local midnight east of UTC would
    otherwise hold dates after it. A usage error names ``--as-of`` when it is not YYYY-MM-DD.
    """
    if as_of is None:
        return min(dt.date.today(), dt.datetime.now(dt.timezone.utc).date())
    try:
        return parse_date(as_of)
    except typer.BadParameter as error:
        raise typer.BadParameter(error.message, param_hint="--as-of") from None


def synth(
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory to write the synthetic input into.")],
    families: Annotated[int, typer.Option(help="Number of families (the pilot: 5,305).", min=1)] = 5305,
    territories: Annotated[int, typer.Option(help="Number of territories (the pilot: 50).", min=1)] = 50,
    waves: Annotated[str, typer.Option(help="Waves in months after T0, comma-separated.")] = "0,6,12,24",
    seed: Annotated[int, typer.Option(help="Random seed: the same seed and --as-of write the same bytes.")] = 20240101,
    as_of: AsOf = None,
    complete_follow_up: Annotated[
        bool,
        typer.Option(
            "--complete-follow-up",
            help="Write every wave and outcome, dates after today included (simulation studies; "
            "the harmonised gate refuses a REDCap date after the pull).",
        ),
    ] = False,
    trajectory_groups: Annotated[
        bool,
        typer.Option(
            "--trajectory-groups",
            help="Plant three trajectory groups of the isolation index (rapid improvement, gradual improvement, "
            "persistent isolation) for group-based trajectory models to recover; truth.json records each "
            "family's group.",
        ),
    ] = False,
) -> None:
    """Write a synthetic cohort: a REDCap-shaped project, registry files, reference and cost files, truth.json.

    The default calibration reproduces the pilot's published figures (50 territories in 13
    regions, 5,305 families, 61 % isolated at contact, ~10,036 children ...) and plants known
    effects that truth.json records. The data are as of today unless --as-of or
    --complete-follow-up says otherwise. --trajectory-groups plants groups of isolation
    trajectories (see docs/models.md).
    """
    from proximite.cohort.sandbox.synth import generate_cohort
    from proximite.config import load_settings

    if complete_follow_up and as_of is not None:
        raise typer.BadParameter("give --as-of or --complete-follow-up, not both", param_hint="--as-of")
    as_of_date = None if complete_follow_up else cohort_as_of(as_of)
    with user_errors(), progress_display() as progress:
        summary = generate_cohort(
            out,
            families=families,
            territories=territories,
            waves=parse_waves(waves),
            seed=seed,
            as_of=as_of_date,
            trajectory_groups=trajectory_groups,
            settings=load_settings(),  # the configured waves and windows (local overrides, PROXIMITE_CONFIG)
            progress=progress,
        )
    console.print(f"Synthetic cohort written to [bold]{out}[/] ({summary.counts.get('families', families)} families).")
    print_counts("Synthetic cohort", summary.counts)


def demo(
    project_dir: ProjectDir = Path("demo-project"),
    families: Annotated[int, typer.Option(help="Number of synthetic families.", min=20)] = 300,
    territories: Annotated[int, typer.Option(help="Number of territories.", min=1)] = 12,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 20240101,
    as_of: AsOf = None,
) -> None:
    """Generate a synthetic cohort, serve it from the REDCap sandbox, and run the pipeline flow.

    The pipeline pulls the cohort through PyCap from the sandbox (on loopback, with a random
    token that lives only in this process), ingests the registry, reference, cost and qualitative files,
    harmonises and builds the warehouse, computes the indicators and writes the decision-makers'
    snapshot, in Prefect's ephemeral mode. Creates the project's pseudonym key file (mode 0600)
    when PROXIMITE_PSEUDONYM_KEY is not set, and the key file of the raw layer's encryption
    (``.raw_key``) when PROXIMITE_RAW_KEY is not set, and says so. Ends with a summary of the warehouse
    and the path of the snapshot. The cohort is as of today (--as-of: another day): the gate
    refuses a REDCap date after the pull, so the demo has no complete-follow-up option.
    """
    from proximite.cohort.sandbox.synth import generate_cohort
    from proximite.config import load_settings, pseudonym_key

    as_of_date = cohort_as_of(as_of)
    with user_errors():
        project_dir.mkdir(parents=True, exist_ok=True)
        settings = load_settings(project_dir)
        _key, origin = pseudonym_key(settings, create=True)
        if origin.startswith("file:"):
            console.print(
                f"Pseudonym key: {origin[5:]} (mode 0600, created for this demo if it was missing). "
                "Set PROXIMITE_PSEUDONYM_KEY for a real project."
            )
        _raw_key(settings)
        input_dir = project_dir / "input"
        with progress_display() as progress:
            generate_cohort(
                input_dir, families=families, territories=territories, seed=seed, as_of=as_of_date, settings=settings,
                progress=progress,
            )
        console.print(f"Synthetic cohort: {input_dir}")
        result = _run_pipeline_on_sandbox(input_dir, project_dir)
        _print_demo_outcome(result, settings, project_dir)


def _raw_key(settings: Settings) -> None:
    """The raw layer's key (created in the project when none is set) and where it lives; never the key."""
    from proximite.cohort.privacy.keys import encrypts_raw, raw_keyring

    if not encrypts_raw(settings):
        return
    origin = raw_keyring(settings, create=True).origin
    if origin.startswith("file:"):
        console.print(
            f"Raw-layer key: {origin[5:]} (mode 0600, created for this demo if it was missing): 01 raw and the "
            "quarantine's reports are encrypted with it. Set PROXIMITE_RAW_KEY for a real project (docs/encryption.md)."
        )


def _run_pipeline_on_sandbox(input_dir: Path, project_dir: Path) -> dict[str, Any]:
    """Serve ``input_dir``'s REDCap project from the sandbox and run the pipeline flow against it."""
    from proximite.cohort.redcap.loaders import project_from_directory
    from proximite.cohort.sandbox.server import SandboxServer
    from proximite.flows.pipeline import pipeline as pipeline_flow

    with SandboxServer(project_from_directory(input_dir)) as server:
        console.print(f"REDCap sandbox serving the cohort at {server.url} (random token, this process only).")
        # The flow reads the token from this variable; it is never a flow parameter.
        os.environ[DEMO_TOKEN_ENV] = server.token
        try:
            console.print(
                "Running the pipeline flow (Prefect, ephemeral mode): pull through PyCap, ingest, build, "
                "indicators, economics, snapshot ..."
            )
            return pipeline_flow(
                input_dir=str(input_dir.resolve()),
                project_dir=str(project_dir.resolve()),
                redcap_url=server.url,
                token_env=DEMO_TOKEN_ENV,
                economics=True,
                economics_draws=5_000,
            )
        finally:
            os.environ.pop(DEMO_TOKEN_ENV, None)


def _print_demo_outcome(result: dict[str, Any], settings: Settings, project_dir: Path) -> None:
    """What the demo's pipeline run did (gates, pull, warehouse) and where its outputs are."""
    from proximite import pipeline

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
    print_warehouse_summary(pipeline.warehouse_summary(settings))
    console.print(f"Warehouse: [bold]{settings.warehouse_path}[/]")
    console.print(f"Indicators: {result['indicators_dir']}")
    if result.get("economics_dir"):
        console.print(
            f"Economics: {result['economics_dir']} (placeholder parameters: provisional, not publishable; "
            "see docs/economics.md)",
            highlight=False,
            soft_wrap=True,
        )
    copy_example_specs(project_dir)
    example = project_dir / "models" / "isolation_panel.yaml"
    if example.is_file():
        console.print(
            f"Model specs: {example.parent} (try: proximite models run {example} --project-dir {project_dir})",
            highlight=False,
            soft_wrap=True,
        )
    console.print(f"Snapshot: {Path(result['snapshot_dir']) / 'index.html'}", highlight=False, soft_wrap=True)


#: The environment variable through which the demo hands the sandbox's token to the pipeline flow.
DEMO_TOKEN_ENV = "PROXIMITE_DEMO_REDCAP_TOKEN"
