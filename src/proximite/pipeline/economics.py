"""The economic evaluation of the current build → ``reporting/economics/<build_id>/``."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pandas as pd

from proximite.cohort import layers
from proximite.config import Settings
from proximite.pipeline.indicators import INDICATORS_FILE, compute_indicators, indicator_tables
from proximite.version import code_version

__all__ = ["run_economics", "economics_parameter_files", "economics_inputs", "psa_unit"]


def run_economics(
    settings: Settings,
    *,
    params: str | Path | None = None,
    costing_params: str | Path | None = None,
    cost_basis: str = "budget",
    draws: int | None = None,
    seed: int | None = None,
    chunk: int | None = None,
    psa_chunks: list[Any] | None = None,
    lang: str = "fr",
) -> Path:
    """The economic evaluation of the current build, written to ``reporting/economics/<build_id>/``.

    Parameters
    ----------
    settings : Settings
    params : str or Path, optional, keyword-only
        The benefit parameter file (default: ``[economics] params`` of the configuration, else
        the shipped placeholders, ``economics/params/benefits.yaml``).
    costing_params : str or Path, optional, keyword-only
        The costing parameter file (default: ``[economics] costing_params``, else
        ``economics/params/costing.yaml``).
    cost_basis : {"budget", "activity"}, keyword-only
    draws, seed, chunk : int, optional, keyword-only
        The PSA (defaults :data:`proximite.economics.analysis.DEFAULT_DRAWS` and ``DEFAULT_SEED``).
    psa_chunks : list of PSAChunk, optional, keyword-only
        The PSA's chunks drawn by the flow (:func:`psa_unit`), combined here.
    lang : {"fr", "en"}, keyword-only
        Language of the tornado chart's labels.

    Returns
    -------
    Path
        The run directory: ``economics.json`` (:class:`~proximite.economics.report.EconomicsSummary`),
        ``tornado.png``, the tables as CSV (aggregates only). Written under a temporary name and
        swapped in: a failed run leaves the previous one in place.

    Raises
    ------
    WarehouseNotFoundError
        No warehouse yet.
    ParameterError, CostingError
        A parameter file breaks its rules (the message names the file, key and rule).
    """
    import secrets

    from proximite.cohort.figures import save_figure
    from proximite.cohort.warehouse import WarehouseNotFoundError, current_build
    from proximite.economics.analysis import DEFAULT_DRAWS, DEFAULT_SEED, analyse, parameters_hash, summary_record
    from proximite.economics.costing_parameters import load_costing_parameters
    from proximite.economics.funding import load_funding_table
    from proximite.economics.parameters import load_benefit_parameters
    from proximite.economics.report import EconomicsSummary, run_dir

    params, costing_params = economics_parameter_files(settings, params, costing_params)
    benefit_parameters = load_benefit_parameters(params)
    costing_parameters = load_costing_parameters(costing_params)
    build = current_build(settings)
    if build is None:
        raise WarehouseNotFoundError(f"no warehouse in {settings.project_dir}: run `proximite build` first")
    indicators = pd.read_parquet(compute_indicators(settings) / INDICATORS_FILE)
    tables = indicator_tables(settings, build.build_id)
    analysis = analyse(
        tables,
        indicators,
        benefit_parameters=benefit_parameters,
        costing_parameters=costing_parameters,
        funding_table=load_funding_table(),
        cost_basis=cost_basis,
        draws=draws or DEFAULT_DRAWS,
        seed=DEFAULT_SEED if seed is None else seed,
        chunk=chunk,
        psa_chunks=psa_chunks,
    )
    record = summary_record(
        analysis,
        build_id=build.build_id,
        code_version=code_version(),
        parameters_sha256=parameters_hash(benefit_parameters.table(), costing_parameters.to_dict()),
        lang=lang,
    )
    target = run_dir(settings, build.build_id)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.tmp-{secrets.token_hex(4)}")
    temporary.mkdir()
    try:
        EconomicsSummary.from_dict(record).write(temporary)
        save_figure(lambda ax: analysis.one_way.plot_tornado(ax), temporary / "tornado.png", width=8, height=0.5 + 0.35 * len(record["tornado"]), max_height=20)
        save_figure(lambda ax: analysis.psa.plot(ax), temporary / "psa.png", width=8, height=4.0)
        named = {
            **{f"costing.{name}": frame for name, frame in analysis.costing.tables().items() if name != "lines"},
            "cost_per_outcome": analysis.cost_per_outcome.table,
            **{f"cost_benefit.{name}": frame for name, frame in analysis.cost_benefit.tables().items()},
            **{f"psa.{name}": frame for name, frame in analysis.psa.tables().items()},
            "one_way": analysis.one_way.summary.reset_index(),
        }
        if analysis.funding is not None:
            named["funding_2019"] = analysis.funding.table
        for name, frame in named.items():
            frame.to_csv(temporary / f"{name}.csv", index=False, lineterminator="\n")
        layers.replace_directory(temporary, target)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    return target


def economics_parameter_files(
    settings: Settings, params: str | Path | None = None, costing_params: str | Path | None = None
) -> tuple[str | None, str | None]:
    """The parameter files of an economics run: those given, else ``[economics] params`` and
    ``costing_params`` of the project's configuration (relative to the project), else None (the
    shipped placeholders)."""
    configured = settings.raw.get("economics") or {}

    def resolve(given: str | Path | None, key: str) -> str | None:
        value = given if given not in (None, "") else (configured.get(key) or None)
        if value is None:
            return None
        path = Path(value)
        return str(path if path.is_absolute() or given not in (None, "") else Path(settings.project_dir) / path)

    return resolve(params, "params"), resolve(costing_params, "costing_params")


def economics_inputs(
    settings: Settings, *, params: str | Path | None = None, costing_params: str | Path | None = None, cost_basis: str = "budget"
) -> dict[str, Any]:
    """The cost–benefit's inputs of the current build, as small plain data (for the flow's PSA units).

    Returns
    -------
    dict
        ``build_id``, ``params`` and ``costing_params`` (the files, see
        :func:`economics_parameter_files`), ``costs`` (``[{"period", "amount_cad"}]``, Québec per
        quarter) and ``families`` (``{year: families reached}``): aggregates only.
    """
    from proximite.cohort.warehouse import WarehouseNotFoundError, current_build
    from proximite.economics.analysis import families_by_year, programme_costs
    from proximite.economics.costing import cost
    from proximite.economics.costing_parameters import load_costing_parameters

    build = current_build(settings)
    if build is None:
        raise WarehouseNotFoundError(f"no warehouse in {settings.project_dir}: run `proximite build` first")
    params, costing_params = economics_parameter_files(settings, params, costing_params)
    tables = indicator_tables(settings, build.build_id)
    costs = programme_costs(cost(tables, load_costing_parameters(costing_params)), basis=cost_basis)
    families = families_by_year(tables["family"])
    return {
        "build_id": build.build_id,
        "params": params,
        "costing_params": costing_params,
        "costs": [{"period": str(row.period), "amount_cad": float(row.amount_cad)} for row in costs.itertuples(index=False)],
        "families": {int(year): float(count) for year, count in families.items()},
    }


def cost_benefit_data(inputs: dict[str, Any]) -> tuple[pd.DataFrame, pd.Series]:
    """The programme costs per period and the families reached per year of :func:`economics_inputs`, as frames."""
    costs = pd.DataFrame(inputs["costs"], columns=["period", "amount_cad"])
    families = pd.Series({int(year): float(count) for year, count in inputs["families"].items()}, name="families", dtype="float64")
    families.index.name = "year"
    return costs, families.sort_index()


def psa_unit(params: str | Path | None, inputs: dict[str, Any], *, draws: int, chunk: int, seed: int, index: int) -> Any:
    """Chunk ``index`` of the PSA (``draws`` split in chunks of ``chunk``): the same draws wherever it runs."""
    from proximite.economics.parameters import load_benefit_parameters
    from proximite.economics.psa import plan_chunks, psa_chunk

    size, sequence = plan_chunks(draws=draws, chunk=chunk, seed=seed)[index]
    costs, families = cost_benefit_data(inputs)
    return psa_chunk(load_benefit_parameters(params), costs, families, draws=size, seed_sequence=sequence)
