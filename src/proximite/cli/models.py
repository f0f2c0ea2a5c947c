"""Statistical models: fit model specs on the warehouse (``proximite models``) and the simulation
study of the estimators (``proximite validity``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Optional

import typer

from proximite.cli.common import ProjectDir, console, progress_display, user_errors

__all__ = ["copy_example_specs", "models_app", "validity"]


models_app = typer.Typer(
    help="Fit model specs (YAML) on the long panel or the survival table; list the model kinds.",
    no_args_is_help=True,
    add_completion=False,
)


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

    with user_errors():
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

    with user_errors():
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


def copy_example_specs(project_dir: Path) -> list[Path]:
    """Copy the example specs shipped with the package (``proximite.cohort.models``'s
    ``examples/*.yaml``) into ``<project>/models/``.

    A spec already there is kept (it may have been edited); returns the files copied.
    """
    from importlib import resources

    examples = resources.files("proximite.cohort.models") / "examples"
    copied = []
    for source in sorted((item for item in examples.iterdir() if item.name.endswith(".yaml")), key=lambda item: item.name):
        target = project_dir / "models" / source.name
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(source.read_bytes())
            copied.append(target)
    return copied


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
    gbtm: Annotated[
        bool,
        typer.Option(
            "--gbtm/--no-gbtm",
            help="Also generate each replicate's cohort with planted trajectory groups and check the group-based "
            "trajectory model against them (several seconds more per replicate); --no-gbtm: skip it.",
        ),
    ] = True,
) -> None:
    """The simulation study: do the estimators recover what the synthetic cohort planted?

    Regenerates the synthetic cohort `--reps` times, builds each warehouse and fits the
    estimators; reports for each planted quantity the mean estimate, bias, RMSE and the coverage
    of the 95 % interval, then the issue's targets (wave effects, complete-case versus IPW mean
    at T24, Kaplan-Meier medians, the trajectory groups' recovery) with pass or fail. See
    docs/validity.md.
    """
    from proximite.pipeline.validity import run_validity

    console.print(
        f"{reps} replicate(s) of {families:,} families on {workers} worker(s): several seconds per replicate.",
        highlight=False,
    )
    with user_errors(), progress_display() as progress:
        results = run_validity(
            reps=reps, families=families, territories=territories, seed=seed, workers=workers, gbtm=gbtm,
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
        with user_errors():
            results.to_csv(out / "summary.csv")
            results.to_csv(out / "replicates.csv", which="replicates")
            out.mkdir(parents=True, exist_ok=True)
            targets.to_csv(out / "targets.csv", index=False)
        console.print(f"Written: {out / 'summary.csv'}, {out / 'replicates.csv'}, {out / 'targets.csv'}", highlight=False, soft_wrap=True)
