"""``proximite economics``: the economic evaluation of the current build and the funding tables."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from proximite.cli.common import ProjectDir, console, user_errors

__all__ = ["economics_app"]


economics_app = typer.Typer(
    help="Economic evaluation: costing, cost per outcome, cost-benefit with PSA, funding tables.",
    no_args_is_help=True,
    add_completion=False,
)


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
    with user_errors():
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

    with user_errors():
        try:
            summary = funding_summary(load_funding_table(table_path), regions=region or None)
        except ValueError as error:
            from proximite.errors import ProximiteError

            raise ProximiteError(str(error)) from None
    console.print(summary.table.to_string(index=False), highlight=False, soft_wrap=True, markup=False)
    if region:
        console.print(str(summary.selection), highlight=False, soft_wrap=True, markup=False)
