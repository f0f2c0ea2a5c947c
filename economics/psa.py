"""Uncertainty: probabilistic sensitivity analysis (PSA) and one-way sensitivity (tornado).

:func:`run_psa` draws every uncertain value of the parameter file at once in numpy (no loop
over draws) and reports the distribution of NPV and BCR with P(BCR > 1) and P(NPV > 0), as the
WSIPP benefit–cost reports do. Draws are made in chunks, each from a seed derived from
``(seed, chunk number)`` with :class:`numpy.random.SeedSequence`, so chunks can be computed
anywhere (a Dask worker: :func:`plan_chunks`, :func:`psa_chunk`, :func:`combine_chunks`) and
give the same draws for the same seed and chunk size.

:func:`one_way` moves each value to the low and high ends of its range, the others at their
base case, and :meth:`OneWayResults.plot_tornado` draws the tornado chart.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from proximite.economics.benefit import (
    CostBenefit,
    CostBenefitError,
    Costs,
    Families,
    base_values,
    evaluate,
    used_values,
)
from proximite.economics.benefit_parameters import BenefitParameters
from proximite.economics.publication import PublicationCheck, PublicationStatus
from proximite.economics.uncertain_values import Value

if TYPE_CHECKING:  # pragma: no cover - typing only
    from matplotlib.axes import Axes

__all__ = [
    "OneWayResults",
    "PSAChunk",
    "PSAResults",
    "combine_chunks",
    "combine_with_base_case",
    "one_way",
    "plan_chunks",
    "psa_chunk",
    "run_psa",
]

_METRICS = ("npv", "bcr", "pv_costs", "pv_benefits")


# ------------------------------------------------------------------------------------- seeds
def _child(parent: np.random.SeedSequence, index: int) -> np.random.SeedSequence:
    """The ``index``-th child of ``parent``, as ``parent.spawn`` makes it, without mutating ``parent``."""
    return np.random.SeedSequence(parent.entropy, spawn_key=(*parent.spawn_key, index), pool_size=parent.pool_size)


def plan_chunks(
    *, draws: int, chunk: int | None = None, seed: int | np.random.SeedSequence | None = None
) -> list[tuple[int, np.random.SeedSequence]]:
    """How ``draws`` split into chunks, with each chunk's seed sequence.

    Parameters
    ----------
    draws : int, keyword-only
        Total number of draws.
    chunk : int, optional, keyword-only
        Draws per chunk (the last may be smaller); default: one chunk.
    seed : int or SeedSequence, optional, keyword-only
        The root seed; None draws fresh entropy (recorded in the results, so the run can be
        repeated).

    Returns
    -------
    list of (int, SeedSequence)
        Per chunk i: its number of draws and ``SeedSequence(seed).spawn(n_chunks)[i]``.

    Notes
    -----
    Chunk i of a run with root seed s always uses the child with spawn key (i,), whatever the
    number of chunks; so a given seed and chunk size give identical draws however the chunks are
    scheduled. A different chunk size gives different (equally valid) draws.
    """
    if not isinstance(draws, (int, np.integer)) or draws < 1:
        raise CostBenefitError(f"draws must be an integer ≥ 1 (got {draws!r})")
    size = int(draws) if chunk is None else int(chunk)
    if size < 1:
        raise CostBenefitError(f"chunk must be ≥ 1 (got {chunk!r})")
    root = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    count = math.ceil(draws / size)
    return [(min(size, draws - i * size), _child(root, i)) for i in range(count)]


# ------------------------------------------------------------------------------------- chunks
@dataclass
class PSAChunk:
    """The draws of one chunk (:func:`psa_chunk`) and what :func:`combine_chunks` checks.

    Parameters
    ----------
    index : int
        The chunk's number (the last element of its seed sequence's spawn key).
    draws : DataFrame
        One row per draw: ``npv``, ``bcr``, ``pv_costs``, ``pv_benefits``, ``pv_<outcome>``, then
        each drawn value by name.
    entropy : int or sequence of int
        The root seed's entropy.
    setting : dict
        Perspective, horizon, discount rate, program years: chunks of one run share them.
    """

    index: int
    draws: pd.DataFrame
    entropy: Any
    setting: dict[str, Any]


def psa_chunk(
    parameters: BenefitParameters,
    costs: Costs,
    families: Families,
    *,
    draws: int,
    seed_sequence: np.random.SeedSequence,
    perspective: str | None = None,
    horizon_years: int | None = None,
    discount_rate: float | None = None,
    program_years: int | None = None,
) -> PSAChunk:
    """Draw one chunk of the PSA (vectorised).

    Parameters
    ----------
    parameters : BenefitParameters
    costs, families
        As :meth:`proximite.economics.benefit.CostBenefit.fit` takes them.
    draws : int, keyword-only
        Draws in this chunk.
    seed_sequence : SeedSequence, keyword-only
        This chunk's seed (from :func:`plan_chunks`); not mutated.
    perspective, horizon_years, discount_rate, program_years : optional, keyword-only
        As :class:`~proximite.economics.benefit.CostBenefit` takes them.

    Returns
    -------
    PSAChunk

    Notes
    -----
    Value j of the file (its position in ``parameters.values()``) is drawn from its own
    generator, ``Generator(PCG64(child j of seed_sequence))``, so a value's draws do not depend
    on which other values are uncertain or counted (common random numbers across perspectives).
    Distributions from (mean, sd): beta with c = m(1 − m)/s² − 1, α = mc, β = (1 − m)c; gamma
    with shape m²/s² and scale s²/m; lognormal with σ² = ln(1 + s²/m²), μ = ln m − σ²/2 (see
    :func:`proximite.economics.parameters.moments_to_parameters`).
    """
    model = CostBenefit(
        parameters, perspective=perspective, horizon_years=horizon_years,
        discount_rate=discount_rate, program_years=program_years,
    )
    design = model.design(costs, families)
    used = {value.name for value in used_values(parameters, design.perspective)}
    values: dict[str, np.ndarray] = {}
    drawn: list[str] = []
    for position, value in enumerate(parameters.values()):
        if value.name in used and value.uncertain:
            rng = np.random.Generator(np.random.PCG64(_child(seed_sequence, position)))
            values[value.name] = value.sample(rng, int(draws))
            drawn.append(value.name)
        else:
            values[value.name] = np.full(int(draws), value.mean)
    result = evaluate(design, values, model.discount_rate)
    table = {name: result[name] for name in _METRICS}
    for key, pv in result["pv"].items():
        table[f"pv_{key}"] = pv
    for name in drawn:
        table[name] = values[name]
    setting = {
        "perspective": design.perspective,
        "horizon_years": design.horizon_years,
        "program_years": design.program_years,
        "discount_rate": model.discount_rate,
        "price_year": parameters.price_year,
        "currency": parameters.currency,
    }
    return PSAChunk(
        index=int(seed_sequence.spawn_key[-1]) if seed_sequence.spawn_key else 0,
        draws=pd.DataFrame(table),
        entropy=seed_sequence.entropy,
        setting=setting,
    )


def combine_chunks(
    chunks: Sequence[PSAChunk],
    *,
    deterministic: dict[str, float] | None = None,
    publication: PublicationCheck | None = None,
    seed: Any = None,
) -> PSAResults:
    """Put chunks together (in chunk order, whatever order they arrive in).

    Parameters
    ----------
    chunks : sequence of PSAChunk
    deterministic : dict, optional, keyword-only
        The base-case ``npv``, ``bcr``, ``pv_costs``, ``pv_benefits``, ``pv_<outcome>`` shown
        beside the PSA's (``run_psa`` passes them).
    publication : PublicationCheck, optional, keyword-only
        Whether the parameters allow publication (``run_psa`` passes it).
    seed : optional, keyword-only
        The seed the run was given, recorded in ``statistics``.

    Returns
    -------
    PSAResults
    """
    if not chunks:
        raise CostBenefitError("combine_chunks needs at least one chunk")
    ordered = sorted(chunks, key=lambda c: c.index)
    indexes = [c.index for c in ordered]
    if len(set(indexes)) != len(indexes):
        raise CostBenefitError(f"combine_chunks: chunk numbers repeat ({indexes})")
    first = ordered[0]
    for other in ordered[1:]:
        if other.setting != first.setting or other.entropy != first.entropy:
            raise CostBenefitError("combine_chunks: the chunks come from different runs (seed or setting differ)")
    draws = pd.concat([c.draws for c in ordered], ignore_index=True)
    draws.index.name = "draw"
    return PSAResults.from_draws(
        draws,
        setting=first.setting,
        seed=seed if seed is not None else first.entropy,
        chunks=len(ordered),
        deterministic=deterministic or {},
        publication=publication if publication is not None else PublicationCheck(("publication status unknown: combine_chunks was not given it",)),
    )


def run_psa(
    parameters: BenefitParameters,
    costs: Costs,
    families: Families,
    *,
    draws: int = 5000,
    seed: int | np.random.SeedSequence | None = None,
    chunk: int | None = None,
    perspective: str | None = None,
    horizon_years: int | None = None,
    discount_rate: float | None = None,
    program_years: int | None = None,
) -> PSAResults:
    """Probabilistic sensitivity analysis of NPV and BCR.

    Parameters
    ----------
    parameters : BenefitParameters
    costs, families
        As :meth:`proximite.economics.benefit.CostBenefit.fit` takes them.
    draws : int, default 5000, keyword-only
    seed : int or SeedSequence, optional, keyword-only
        Makes the run reproducible; None draws fresh entropy, recorded in ``statistics["seed"]``.
    chunk : int, optional, keyword-only
        Draws per chunk (default: one chunk). Memory grows with the chunk; results depend on
        the seed and the chunk size only (see :func:`plan_chunks`).
    perspective, horizon_years, discount_rate, program_years : optional, keyword-only
        As :class:`~proximite.economics.benefit.CostBenefit` takes them.

    Returns
    -------
    PSAResults

    Notes
    -----
    Each draw i takes every uncertain value from its distribution and computes, vectorised,
    PV costs_i, PV benefits_i, NPV_i = PV benefits_i − PV costs_i and BCR_i = PV benefits_i /
    PV costs_i (formulas of :func:`proximite.economics.benefit.evaluate`). Reported: mean, sd,
    median, 2.5 % and 97.5 % quantiles; P(BCR > 1) = (1/n) Σ_i 1[BCR_i > 1] and
    P(NPV > 0). The discount rate and the timing are not drawn (their sensitivity is reported
    by the deterministic analysis and :func:`one_way`).
    """
    options: dict[str, Any] = {
        "perspective": perspective, "horizon_years": horizon_years,
        "discount_rate": discount_rate, "program_years": program_years,
    }
    root = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    chunks = [
        psa_chunk(parameters, costs, families, draws=size, seed_sequence=sequence, **options)
        for size, sequence in plan_chunks(draws=draws, chunk=chunk, seed=root)
    ]
    return combine_with_base_case(
        chunks, parameters, costs, families, seed=seed if isinstance(seed, (int, np.integer)) else root.entropy, **options
    )


def combine_with_base_case(
    chunks: Sequence[PSAChunk],
    parameters: BenefitParameters,
    costs: Costs,
    families: Families,
    *,
    seed: Any = None,
    **options: Any,
) -> PSAResults:
    """:func:`combine_chunks` with the deterministic base case and the parameters' publication status.

    What :func:`run_psa` returns, for chunks computed elsewhere (the ``economics`` flow draws
    them on a task runner, possibly Dask workers). ``options``: ``perspective``,
    ``horizon_years``, ``discount_rate``, ``program_years``, as the chunks were drawn with.
    """
    base = CostBenefit(parameters, **options).fit(costs, families)
    deterministic = {name: float(base.statistics[name]) for name in _METRICS}
    counted = base.summary[base.summary["counted"]].drop(index=["benefits", "costs", "net"])
    deterministic.update({f"pv_{key}": float(pv) for key, pv in counted["present_value"].items()})
    return combine_chunks(chunks, deterministic=deterministic, publication=parameters.publishable(), seed=seed)


@dataclass
class PSAResults(PublicationStatus):
    """What :func:`run_psa` returns.

    Parameters
    ----------
    summary : DataFrame
        Index ``quantity``: ``npv``, ``bcr``, ``pv_costs``, ``pv_benefits``, ``pv_<outcome>``.
        Columns: ``deterministic`` (base case), ``mean``, ``sd``, ``median``, ``ci_lower``
        (2.5 %), ``ci_upper`` (97.5 %).
    statistics : dict
        ``draws``, ``chunks``, ``seed``, ``perspective``, ``horizon_years``, ``program_years``,
        ``discount_rate``, ``price_year``, ``currency``, ``generator`` (bit generator and numpy
        version: numpy may change a distribution's algorithm between versions, so the same seed
        reproduces the draws under the same numpy), ``p_bcr_gt_1``, ``p_npv_gt_0``,
        ``publishable``, ``blockers``.
    draws : DataFrame
        One row per draw (index ``draw``): ``npv``, ``bcr``, ``pv_costs``, ``pv_benefits``,
        ``pv_<outcome>`` and each drawn value by name.
    publication : PublicationCheck
    title : str
    """

    summary: pd.DataFrame
    statistics: dict[str, Any]
    draws: pd.DataFrame
    publication: PublicationCheck = field(default_factory=PublicationCheck)
    title: str = "Probabilistic sensitivity analysis"

    @classmethod
    def from_draws(
        cls,
        draws: pd.DataFrame,
        *,
        setting: dict[str, Any],
        seed: Any,
        chunks: int,
        deterministic: dict[str, float],
        publication: PublicationCheck,
    ) -> PSAResults:
        """Summarise a table of draws."""
        quantities = [*_METRICS, *[c for c in draws.columns if c.startswith("pv_") and c not in _METRICS]]
        block = draws[quantities].to_numpy(dtype="float64")
        with np.errstate(all="ignore"):
            summary = pd.DataFrame(
                {
                    "deterministic": [deterministic.get(q, math.nan) for q in quantities],
                    "mean": np.nanmean(block, axis=0),
                    "sd": np.nanstd(block, axis=0, ddof=1) if len(block) > 1 else np.full(len(quantities), math.nan),
                    "median": np.nanmedian(block, axis=0),
                    "ci_lower": np.nanquantile(block, 0.025, axis=0),
                    "ci_upper": np.nanquantile(block, 0.975, axis=0),
                },
                index=pd.Index(quantities, name="quantity"),
            )
        statistics = {
            "draws": len(draws),
            "chunks": chunks,
            "seed": seed,
            **setting,
            "generator": f"PCG64, numpy {np.__version__}",
            "p_bcr_gt_1": float(np.mean(draws["bcr"].to_numpy() > 1)),
            "p_npv_gt_0": float(np.mean(draws["npv"].to_numpy() > 0)),
            "publishable": bool(publication),
            "blockers": len(publication.blockers),
        }
        title = (
            f"PSA, {len(draws):,} draws ({setting['perspective']} perspective, {setting['horizon_years']}-year horizon, "
            f"{setting['discount_rate']:.1%} real)"
        )
        return cls(summary=summary, statistics=statistics, draws=draws, publication=publication, title=title)

    @property
    def p_bcr_gt_1(self) -> float:
        """P(BCR > 1): the share of draws whose benefits exceed their costs."""
        return float(self.statistics["p_bcr_gt_1"])

    @property
    def p_npv_gt_0(self) -> float:
        """P(NPV > 0) (equal to P(BCR > 1) when costs are positive)."""
        return float(self.statistics["p_npv_gt_0"])

    def to_dict(self) -> dict[str, Any]:
        """The figures a report keeps: ``draws``, ``seed``, ``interval`` (0.95), ``npv_mean``,
        ``npv_low``, ``npv_high``, ``bcr_mean``, ``bcr_low``, ``bcr_high`` (low/high: the 2.5 % and
        97.5 % quantiles), ``p_bcr_gt_1``, ``p_npv_gt_0``; plain Python numbers."""
        record: dict[str, Any] = {"draws": int(self.statistics["draws"]), "seed": self.statistics["seed"], "interval": 0.95}
        for metric in ("npv", "bcr"):
            row = self.summary.loc[metric]
            record[f"{metric}_mean"] = float(row["mean"])
            record[f"{metric}_low"] = float(row["ci_lower"])
            record[f"{metric}_high"] = float(row["ci_upper"])
        record["p_bcr_gt_1"] = self.p_bcr_gt_1
        record["p_npv_gt_0"] = self.p_npv_gt_0
        return record

    def probability_bcr_above(self, threshold: float | Sequence[float] | np.ndarray) -> float | np.ndarray:
        """P(BCR > threshold) over the draws (an acceptability curve for a sequence of thresholds)."""
        bcr = self.draws["bcr"].to_numpy()
        thresholds = np.atleast_1d(np.asarray(threshold, dtype="float64"))
        probabilities = (bcr[None, :] > thresholds[:, None]).mean(axis=1)
        return float(probabilities[0]) if np.ndim(threshold) == 0 else probabilities

    def __str__(self) -> str:
        lines = [self.title]
        if not self.publishable:
            lines.append(f"NOT PUBLISHABLE: {len(self.blockers)} parameter value(s) are placeholders or unsourced")
        lines.append(f"P(BCR > 1) = {self.p_bcr_gt_1:.3f}   P(NPV > 0) = {self.p_npv_gt_0:.3f}   seed: {self.statistics['seed']}")
        lines.append(self.summary.to_string(float_format=lambda v: f"{v:,.4g}"))
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"<PSAResults {len(self.draws):,} draws, P(BCR>1)={self.p_bcr_gt_1:.3f}, publishable={self.publishable}>"

    def plot(self, ax: Axes | None = None, *, kind: str = "bcr", bins: int = 50) -> Axes:
        """The distribution of the draws.

        Parameters
        ----------
        ax : matplotlib Axes, optional
        kind : {"bcr", "npv", "curve"}, keyword-only
            Histogram of BCR (line at 1) or of NPV (line at 0), or the curve P(BCR > x)
            against x (an acceptability curve, CEAC-like).
        bins : int, keyword-only
        """
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(6, 4))
        if kind in ("bcr", "npv"):
            values = self.draws[kind].to_numpy()
            values = values[np.isfinite(values)]
            ax.hist(values, bins=bins, color="tab:blue", alpha=0.8)
            ax.axvline(1.0 if kind == "bcr" else 0.0, color="black", linewidth=1)
            deterministic = self.summary.loc[kind, "deterministic"]
            if np.isfinite(deterministic):
                ax.axvline(deterministic, color="tab:red", linestyle="--", linewidth=1, label="base case")
                ax.legend(fontsize="small")
            ax.set_xlabel("BCR" if kind == "bcr" else f"NPV ({self.statistics['currency']} {self.statistics['price_year']})")
            ax.set_ylabel("draws")
            probability = self.p_bcr_gt_1 if kind == "bcr" else self.p_npv_gt_0
            ax.set_title(f"{'P(BCR > 1)' if kind == 'bcr' else 'P(NPV > 0)'} = {probability:.2f}", fontsize="medium")
        elif kind == "curve":
            bcr = self.draws["bcr"].to_numpy()
            finite = bcr[np.isfinite(bcr)]
            upper = max(2.0, float(np.quantile(finite, 0.99))) if len(finite) else 2.0
            thresholds = np.linspace(0.0, upper, 200)
            ax.plot(thresholds, self.probability_bcr_above(thresholds))
            ax.axvline(1.0, color="grey", linewidth=0.8)
            ax.set_xlabel("BCR threshold x")
            ax.set_ylabel("P(BCR > x)")
            ax.set_ylim(0, 1)
        else:
            raise ValueError(f"kind must be 'bcr', 'npv' or 'curve' (got {kind!r})")
        return ax

    def tables(self) -> dict[str, pd.DataFrame]:
        """``summary``, ``statistics`` (one row) and ``blockers``: what may be exported (not the draws)."""
        statistics = pd.DataFrame([{k: (v.item() if hasattr(v, "item") else v) for k, v in self.statistics.items()}])
        return {"summary": self.summary, "statistics": statistics, "blockers": pd.DataFrame({"blocker": self.blockers})}

    def to_csv(self, path: str | Path, *, draws: bool = False) -> Path:
        """Write the summary to ``path``, the other tables beside it (and the draws when asked)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tables = self.tables()
        if draws:
            tables["draws"] = self.draws
        for name, table in tables.items():
            target = path if name == "summary" else path.with_name(f"{path.stem}.{name}.csv")
            table.to_csv(target, lineterminator="\n")
        return path


# ------------------------------------------------------------------------------------- one-way
def one_way(
    parameters: BenefitParameters,
    costs: Costs,
    families: Families,
    *,
    metric: str = "npv",
    perspective: str | None = None,
    horizon_years: int | None = None,
    discount_rate: float | None = None,
    discount_sensitivity: Sequence[float] | None = None,
    program_years: int | None = None,
) -> OneWayResults:
    """One-way sensitivity: each value at the ends of its range, the others at their base case.

    Parameters
    ----------
    parameters : BenefitParameters
    costs, families
        As :meth:`proximite.economics.benefit.CostBenefit.fit` takes them.
    metric : {"npv", "bcr", "pv_benefits", "pv_costs"}, keyword-only
    perspective, horizon_years, discount_rate, discount_sensitivity, program_years : optional
        As :class:`~proximite.economics.benefit.CostBenefit` takes them.

    Returns
    -------
    OneWayResults

    Notes
    -----
    A value's range is ``(low, high)`` when the file gives one, else its distribution's 2.5 %
    and 97.5 % quantiles; values without a range (fixed, no low/high) are left out. The discount
    rate moves over its sensitivity rates (lowest, highest). All the moved cases are evaluated in
    one vectorised call. swing = |metric(high) − metric(low)|; rows are sorted by swing,
    largest first.
    """
    if metric not in _METRICS:
        raise CostBenefitError(f"metric must be one of {', '.join(_METRICS)} (got {metric!r})")
    model = CostBenefit(
        parameters, perspective=perspective, horizon_years=horizon_years, discount_rate=discount_rate,
        discount_sensitivity=discount_sensitivity, program_years=program_years,
    )
    design = model.design(costs, families)
    base = base_values(parameters)
    base_metric = float(evaluate(design, base, model.discount_rate)[metric][0])
    moved: list[tuple[Value, float, float]] = []
    for value in used_values(parameters, design.perspective):
        low, high = value.range()
        if high > low:
            moved.append((value, low, high))
    rows = []
    if moved:
        n = 2 * len(moved)
        values = {name: np.repeat(array, n) for name, array in base.items()}
        for i, (value, low, high) in enumerate(moved):
            values[value.name] = values[value.name].copy()
            values[value.name][2 * i] = low
            values[value.name][2 * i + 1] = high
        result = evaluate(design, values, model.discount_rate)[metric]
        for i, (value, low, high) in enumerate(moved):
            rows.append({
                "parameter": value.name, "low": low, "base": value.mean, "high": high,
                f"{metric}_low": float(result[2 * i]), f"{metric}_high": float(result[2 * i + 1]),
            })
    rates = sorted(model.discount_sensitivity)
    if rates and (rates[0] != rates[-1] or rates[0] != model.discount_rate):
        low_rate, high_rate = min(rates[0], model.discount_rate), max(rates[-1], model.discount_rate)
        rows.append({
            "parameter": "discount_rate", "low": low_rate, "base": model.discount_rate, "high": high_rate,
            f"{metric}_low": float(evaluate(design, base, low_rate)[metric][0]),
            f"{metric}_high": float(evaluate(design, base, high_rate)[metric][0]),
        })
    columns = ["parameter", "low", "base", "high", f"{metric}_low", f"{metric}_high"]
    summary = pd.DataFrame(rows, columns=columns)
    summary.insert(1, "label_en", [parameters.label(name) for name in summary["parameter"]])
    summary.insert(1, "label_fr", [parameters.label(name, lang="fr") for name in summary["parameter"]])
    summary["swing"] = (summary[f"{metric}_high"] - summary[f"{metric}_low"]).abs()
    summary = summary.sort_values("swing", ascending=False, kind="stable").set_index("parameter")
    statistics = {
        "metric": metric,
        "base": base_metric,
        "perspective": design.perspective,
        "horizon_years": design.horizon_years,
        "discount_rate": model.discount_rate,
        "parameters": len(summary),
        "publishable": bool(parameters.publishable()),
    }
    return OneWayResults(summary=summary, statistics=statistics, publication=parameters.publishable())


@dataclass
class OneWayResults(PublicationStatus):
    """What :func:`one_way` returns.

    Parameters
    ----------
    summary : DataFrame
        Index ``parameter`` (a value's name, or ``discount_rate``), sorted by swing (largest
        first). Columns: ``label_fr``, ``label_en``, ``low``, ``base``, ``high`` (the value's), ``<metric>_low``,
        ``<metric>_high`` (the metric with the value at its low / high end), ``swing``.
    statistics : dict
        ``metric``, ``base`` (the metric's base case), ``perspective``, ``horizon_years``,
        ``discount_rate``, ``parameters``, ``publishable``.
    publication : PublicationCheck
    """

    summary: pd.DataFrame
    statistics: dict[str, Any]
    publication: PublicationCheck = field(default_factory=PublicationCheck)

    def __str__(self) -> str:
        metric = self.statistics["metric"]
        lines = [f"One-way sensitivity of {metric} (base {self.statistics['base']:,.4g}; {self.statistics['perspective']} perspective)"]
        if not self.publishable:
            lines.append("NOT PUBLISHABLE: some parameter values are placeholders or unsourced")
        lines.append(self.summary.to_string(float_format=lambda v: f"{v:,.4g}"))
        return "\n".join(lines)

    def to_records(self, *, lang: str = "fr") -> list[dict[str, Any]]:
        """One record per parameter, widest swing first: ``parameter``, ``label`` (in ``lang``),
        ``low`` and ``high`` (the metric with the parameter at its low / high end), ``swing``."""
        metric = self.statistics["metric"]
        label = "label_fr" if lang == "fr" else "label_en"
        return [
            {
                "parameter": str(name), "label": str(row[label]), "low": float(row[f"{metric}_low"]),
                "high": float(row[f"{metric}_high"]), "swing": float(row["swing"]),
            }
            for name, row in self.summary.iterrows()
        ]

    def plot_tornado(self, ax: Axes | None = None, *, top: int | None = None) -> Axes:
        """Tornado chart: one bar per parameter from its low-end to its high-end result, widest on top.

        Parameters
        ----------
        ax : matplotlib Axes, optional
        top : int, optional, keyword-only
            Show only the ``top`` widest swings.
        """
        import matplotlib.pyplot as plt

        metric = self.statistics["metric"]
        rows = self.summary if top is None else self.summary.head(top)
        if ax is None:
            _, ax = plt.subplots(figsize=(7, 0.6 + 0.35 * max(1, len(rows))))
        base = self.statistics["base"]
        positions = np.arange(len(rows))
        low = rows[f"{metric}_low"].to_numpy(dtype="float64")
        high = rows[f"{metric}_high"].to_numpy(dtype="float64")
        ax.barh(positions, low - base, left=base, color="tab:blue", label="low value")
        ax.barh(positions, high - base, left=base, color="tab:orange", label="high value")
        ax.axvline(base, color="black", linewidth=0.8)
        ax.set_yticks(positions, [str(name) for name in rows.index])
        ax.invert_yaxis()
        ax.set_xlabel(metric.upper() if metric in ("npv", "bcr") else metric)
        ax.legend(fontsize="small")
        return ax

    plot = plot_tornado
