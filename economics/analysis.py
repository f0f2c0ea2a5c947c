"""The whole economic evaluation of one warehouse build, from tables to the report's summary.

:func:`analyse` chains the parts, each tested on its own: activity-based costing reconciled with
the budgets (:mod:`~proximite.economics.costing`), cost per outcome with the indicators'
intervals (:mod:`~proximite.economics.outcomes`), the deterministic cost–benefit
(:mod:`~proximite.economics.benefit`), the probabilistic and one-way sensitivity analyses
(:mod:`~proximite.economics.psa`) and the programme-funding table
(:mod:`~proximite.economics.funding`). It is pure: tables and parameters in, results out;
:func:`proximite.cohort.pipeline.run_economics` reads the warehouse and writes the run directory.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from proximite.economics.benefit import CostBenefit, CostBenefitResults
from proximite.economics.costing import CostingResults, cost
from proximite.economics.costing_parameters import CostingParameters
from proximite.economics.funding import FundingSummary, funding_summary
from proximite.economics.outcomes import CostPerOutcome, cost_per_outcome
from proximite.economics.parameter_labels import parameter_labels, split_blocker
from proximite.economics.benefit_parameters import BenefitParameters
from proximite.economics.psa import OneWayResults, PSAChunk, PSAResults, combine_with_base_case, one_way, run_psa

__all__ = [
    "COST_BASES",
    "DEFAULT_DRAWS",
    "DEFAULT_SEED",
    "EconomicsAnalysis",
    "analyse",
    "families_by_year",
    "programme_costs",
    "summary_record",
]

#: Draws of the probabilistic sensitivity analysis (the issue asks for at least 5,000).
DEFAULT_DRAWS = 10_000
#: Seed of the PSA when none is given: a run is reproducible by default.
DEFAULT_SEED = 20_260_101
#: What the cost–benefit counts as the programme's cost: its budgets (every category, what a
#: funder pays) or the activity-based cost of the registry (the time logged and travel).
COST_BASES: tuple[str, ...] = ("budget", "activity")


@dataclass
class EconomicsAnalysis:
    """Every result of one economic evaluation (see :func:`analyse`).

    Attributes
    ----------
    costing : CostingResults
    cost_per_outcome : CostPerOutcome
    cost_benefit : CostBenefitResults
    psa : PSAResults
    one_way : OneWayResults
    funding : FundingSummary or None
    costs : DataFrame
        The programme costs the cost–benefit used: ``period``, ``amount_cad``.
    families : Series
        Families reached per calendar year of first contact (the cost–benefit's families).
    cost_basis : str
    """

    costing: CostingResults
    cost_per_outcome: CostPerOutcome
    cost_benefit: CostBenefitResults
    psa: PSAResults
    one_way: OneWayResults
    funding: FundingSummary | None
    costs: pd.DataFrame
    families: pd.Series
    cost_basis: str

    @property
    def publishable(self) -> bool:
        """True when no parameter, costing or benefit, is a placeholder or unsourced."""
        return not self.blocking

    @property
    def blocking(self) -> list[str]:
        """The parameters that stop publication (placeholders, unsourced values)."""
        costing = [f"costing.{name}: placeholder" for name in self.costing.statistics.get("placeholders", [])]
        return [*self.cost_benefit.blockers, *costing]


def programme_costs(costing: CostingResults, *, basis: str = "budget") -> pd.DataFrame:
    """The programme's cost per quarter (Québec), on the budget or the activity-based basis.

    Returns
    -------
    DataFrame
        ``period`` (``AAAA-Tn``), ``amount_cad``, sorted by period.
    """
    if basis not in COST_BASES:
        raise ValueError(f"cost basis must be one of {', '.join(COST_BASES)}, not {basis!r}")
    by_period = costing.by("quebec", by_period=True)
    column = "budget_cad" if basis == "budget" else "activity_cad"
    amounts = by_period.groupby("period")[column].sum(min_count=1).fillna(0.0)
    return pd.DataFrame({"period": amounts.index.astype(str), "amount_cad": amounts.to_numpy(dtype="float64")})


def families_by_year(family: pd.DataFrame) -> pd.Series:
    """Families reached per calendar year of their first contact (a count per year, no family row)."""
    years = pd.to_datetime(family["first_contact_date"]).dt.year.dropna().astype(int)
    counts = years.value_counts().sort_index()
    counts.index.name = "year"
    return counts.astype("float64").rename("families")


def analyse(
    tables: Mapping[str, pd.DataFrame],
    indicators: pd.DataFrame,
    *,
    benefit_parameters: BenefitParameters,
    costing_parameters: CostingParameters | None = None,
    funding_table: pd.DataFrame | None = None,
    cost_basis: str = "budget",
    draws: int = DEFAULT_DRAWS,
    seed: int = DEFAULT_SEED,
    chunk: int | None = None,
    psa_chunks: Sequence[PSAChunk] | None = None,
) -> EconomicsAnalysis:
    """Cost, cost per outcome, cost–benefit, PSA and one-way sensitivity of one build.

    Parameters
    ----------
    tables : mapping of str to DataFrame
        The harmonised tables (registry, cost, family, territory...); not modified.
    indicators : DataFrame
        The build's indicator table (layer 04).
    benefit_parameters : BenefitParameters
    costing_parameters : CostingParameters, optional, keyword-only
        Default: the shipped ``economics/params/costing.yaml``.
    funding_table : DataFrame, optional, keyword-only
        A programme-funding table (:func:`~proximite.economics.funding.load_funding_table`);
        summarised in the report when given.
    cost_basis : {"budget", "activity"}, keyword-only
        The programme cost of the cost–benefit (see :data:`COST_BASES`).
    draws, seed, chunk : int, keyword-only
        The PSA's draws, seed and chunk size (:func:`~proximite.economics.psa.run_psa`).
    psa_chunks : sequence of PSAChunk, optional, keyword-only
        The PSA's chunks drawn elsewhere (the ``economics`` flow draws them on a task runner,
        possibly Dask workers, with :func:`~proximite.economics.psa.plan_chunks` of ``draws``,
        ``chunk`` and ``seed``); combined here with the base case.

    Returns
    -------
    EconomicsAnalysis

    Notes
    -----
    The cost–benefit takes the programme cost per quarter (counted in its calendar year) and the
    families reached per calendar year of first contact; outcome effects apply per family
    reached (:mod:`~proximite.economics.benefit`). Costs per outcome divide the Québec cost by
    the indicator's count, with the count's interval carried: :math:`[C/U, C/L]`.
    """
    costing = cost(tables, costing_parameters)
    per_outcome = cost_per_outcome(costing, indicators)
    costs = programme_costs(costing, basis=cost_basis)
    families = families_by_year(tables["family"])
    model = CostBenefit(benefit_parameters)
    cost_benefit = model.fit(costs, families)
    if psa_chunks is None:
        psa = run_psa(benefit_parameters, costs, families, draws=draws, seed=seed, chunk=chunk)
    else:
        psa = combine_with_base_case(psa_chunks, benefit_parameters, costs, families, seed=seed)
    sensitivity = one_way(benefit_parameters, costs, families)
    funding = funding_summary(funding_table) if funding_table is not None else None
    return EconomicsAnalysis(
        costing=costing,
        cost_per_outcome=per_outcome,
        cost_benefit=cost_benefit,
        psa=psa,
        one_way=sensitivity,
        funding=funding,
        costs=costs,
        families=families,
        cost_basis=cost_basis,
    )


def parameters_hash(*documents: Any) -> str:
    """SHA-256 of the parameters' canonical JSON (what the report cites as the parameters used)."""
    canonical = json.dumps([_jsonable(document) for document in documents], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def summary_record(
    analysis: EconomicsAnalysis,
    *,
    build_id: str,
    code_version: str,
    parameters_sha256: str,
    lang: str = "fr",
    tornado_png: str | None = "tornado.png",
) -> dict[str, Any]:
    """The report's JSON (schema of :mod:`proximite.economics.report`) from an analysis.

    Aggregates only: Québec totals, costs by category, Québec costs per outcome with their
    intervals, present values, the PSA's summary and the tornado's swings.
    """
    benefit = analysis.cost_benefit
    statistics = benefit.statistics
    record = benefit.to_dict()
    by_category = analysis.costing.summary
    column = "budget_cad" if analysis.cost_basis == "budget" else "activity_cad"
    categories = {
        str(name): float(value)
        for name, value in by_category[column].drop(index="total", errors="ignore").items()
        if pd.notna(value)
    }
    quebec = analysis.cost_per_outcome.table
    quebec = quebec.loc[(quebec["scope"] == "quebec") & (quebec["stratum"] == "all")]
    labels = _outcome_labels()
    per_outcome = [
        {
            "outcome": str(row.outcome),
            "label_fr": labels[str(row.outcome)][0],
            "label_en": labels[str(row.outcome)][1],
            "scope": "quebec",
            "value": _number(row.cost_per_outcome),
            "ci_lower": _number(row.cost_per_outcome_low),
            "ci_upper": _number(row.cost_per_outcome_high),
            "basis": str(row.basis),
        }
        for row in quebec.itertuples(index=False)
    ]
    funding = None
    if analysis.funding is not None:
        funding = {"year": 2019, **{str(key): _plain(value) for key, value in analysis.funding.totals.items()}}
    return {
        "kind": "proximite-economics",
        "schema_version": 1,
        "build_id": build_id,
        "scope": "quebec",
        "price_year": int(statistics.get("price_year") or 0) or None,
        "currency": "CAD",
        "perspective": str(statistics["perspective"]),
        "horizon_years": int(statistics["horizon_years"]),
        "discount_rate": float(statistics["discount_rate"]),
        "discount_sensitivity": record.pop("discount_sensitivity"),
        "publishable": analysis.publishable,
        "blocking": analysis.blocking,
        "costs": {"total": float(sum(categories.values())), "basis": analysis.cost_basis, "by_category": categories},
        "cost_per_outcome": per_outcome,
        "cost_benefit": record,
        "psa": analysis.psa.to_dict(),
        "tornado_metric": str(analysis.one_way.statistics["metric"]),
        "tornado": _tornado_records(analysis.one_way, lang=lang),
        "tornado_png": tornado_png,
        "parameter_labels": _parameter_labels(analysis),
        "funding": funding,
        "code_version": code_version,
        "parameters_sha256": parameters_sha256,
    }


def _tornado_records(one_way: OneWayResults, *, lang: str) -> list[dict[str, Any]]:
    """The tornado's records with the label in ``lang`` and both languages' labels (the page shows either)."""
    french = one_way.to_records(lang="fr")
    english = one_way.to_records(lang="en")
    return [
        {**(record_fr if lang == "fr" else record_en), "label_fr": record_fr["label"], "label_en": record_en["label"]}
        for record_fr, record_en in zip(french, english, strict=True)
    ]


def _parameter_labels(analysis: EconomicsAnalysis) -> dict[str, dict[str, str]]:
    """French and English labels of the parameters the pages name: the blocking ones and the tornado's."""
    from proximite.cohort.codebook import load_codebook

    table = analysis.cost_benefit.summary.drop(index=["benefits", "costs", "net"], errors="ignore")
    outcomes = {str(key): (str(row["label_fr"]), str(row["label_en"])) for key, row in table.iterrows()}
    names = [split_blocker(blocker)[0] for blocker in analysis.blocking]
    names += [str(name) for name in analysis.one_way.summary.index]
    return parameter_labels(names, outcomes=outcomes, codebook=load_codebook())


def _outcome_labels() -> dict[str, tuple[str, str]]:
    return {
        "family_reached": ("par famille rejointe", "per family reached"),
        "isolated_family_reached": ("par famille isolée rejointe", "per isolated family reached"),
        "need_met": ("par besoin répondu", "per need met"),
        "meaningful_isolation_reduction": (
            "par famille dont l'isolement a nettement diminué",
            "per family with a meaningful reduction of isolation",
        ),
    }


def _number(value: Any) -> float | None:
    number = float(value)
    return None if not np.isfinite(number) else number


def _plain(value: Any) -> Any:
    item = getattr(value, "item", None)
    return item() if callable(item) else value


def _jsonable(value: Any) -> Any:
    to_dict = getattr(value, "to_dict", None)
    return to_dict() if callable(to_dict) else value
