"""Deterministic cost–benefit analysis: present values, NPV, BCR, with the SROI adjustments.

``CostBenefit(parameters).fit(costs, families)`` returns a :class:`CostBenefitResults` in the
estimator style (``summary``, ``statistics``, ``extra``, ``__str__``, ``plot``). The same
vectorised core (:func:`evaluate`) computes one draw here and thousands in
:mod:`proximite.economics.psa`.

Inputs are programme costs by year (from :mod:`proximite.economics.costing`) and families
reached by year, or per outcome the families affected; they are not modified. Results carry
totals only, never a family's row.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

import numpy as np
import pandas as pd
from proximite.errors import ProximiteError
from proximite.economics.benefit_parameters import PERSPECTIVES, BenefitParameters, Outcome
from proximite.economics.parameters import load_benefit_parameters
from proximite.economics.publication import PublicationCheck, PublicationStatus

if TYPE_CHECKING:  # pragma: no cover - typing only
    from matplotlib.axes import Axes

__all__ = [
    "CostBenefit",
    "CostBenefitError",
    "CostBenefitResults",
    "Design",
    "base_values",
    "compare_results",
    "discount_factors",
    "evaluate",
    "gross_change",
    "impact_factor",
    "present_value",
    "used_values",
]

#: What ``costs`` may be: CAD per programme year (a number), a Series by year, a table by year.
Costs: TypeAlias = float | int | pd.Series | pd.DataFrame
#: What ``families`` may be: per programme year (a number), a Series by year, or per outcome.
Families: TypeAlias = float | int | pd.Series | pd.DataFrame | Mapping[str, float | int | pd.Series]

TIMING_CONVENTION = "t = 0 for the first programme year (not discounted); each year's flows at t"


class CostBenefitError(ProximiteError):
    """The cost–benefit inputs break a rule (negative costs, years beyond the horizon, an unknown outcome)."""


# ------------------------------------------------------------------------------------- discounting
def discount_factors(rate: float, years: int) -> np.ndarray:
    """Discount factors for t = 0 … years − 1.

    Parameters
    ----------
    rate : float
        Real annual discount rate r.
    years : int
        Number of years.

    Returns
    -------
    ndarray
        ``d_t = 1 / (1 + r)^t``; the first year is not discounted (d_0 = 1).
    """
    return (1.0 + rate) ** -np.arange(years, dtype="float64")


def present_value(flows: Sequence[float] | np.ndarray | pd.Series, rate: float) -> float:
    """Present value of annual flows, the first at t = 0.

    Parameters
    ----------
    flows : sequence of float
        x_0, x_1, … (one per year, in order).
    rate : float
        Real annual discount rate r.

    Returns
    -------
    float

    Notes
    -----
    PV = Σ_t x_t / (1 + r)^t with t = 0 for the first year: 100 a year over three years at 3.5 %
    is 100 + 100/1.035 + 100/1.035².
    """
    values = np.asarray(flows, dtype="float64")
    return float(values @ discount_factors(rate, len(values)))


# ------------------------------------------------------------------------------------- design
@dataclass(frozen=True)
class Design:
    """The fixed structure of an analysis: years, costs and exposure of each counted outcome.

    Parameters
    ----------
    perspective : str
    horizon_years : int
        H; the analysis covers t = 0 … H − 1.
    years : tuple
        The label of each t (calendar years when the inputs had them, else 0 … H − 1).
    costs : ndarray
        Programme costs by t (length H, CAD of the price year, before the cost multiplier).
    exposure : dict of str to ndarray
        Per counted outcome o, the (H × D_o) matrix E[t, k] = Σ_c N_{o,c} 1[t − c − s_o = k]:
        families reached in year c whose effect is in its k-th year at t.
    families : dict of str to float
        Per counted outcome, the families counted over the programme years.
    outcomes : tuple of Outcome
        Every outcome of the parameters (counted or not), in file order.
    """

    perspective: str
    horizon_years: int
    years: tuple[Any, ...]
    costs: np.ndarray
    exposure: dict[str, np.ndarray]
    families: dict[str, float]
    outcomes: tuple[Outcome, ...]
    program_years: int = 1

    @property
    def counted(self) -> list[Outcome]:
        """The outcomes the perspective counts."""
        return [outcome for outcome in self.outcomes if outcome.key in self.exposure]

    @classmethod
    def build(
        cls,
        parameters: BenefitParameters,
        costs: Costs,
        families: Families,
        *,
        perspective: str | None = None,
        horizon_years: int | None = None,
        program_years: int | None = None,
    ) -> Design:
        """Check and align the inputs (see :class:`CostBenefit`)."""
        perspective = perspective or parameters.perspective
        if perspective not in PERSPECTIVES:
            raise CostBenefitError(f"unknown perspective {perspective!r}; use one of {', '.join(PERSPECTIVES)}")
        horizon = horizon_years if horizon_years is not None else parameters.horizon_years
        if not isinstance(horizon, int) or horizon < 1:
            raise CostBenefitError(f"horizon_years must be an integer ≥ 1 (got {horizon!r})")

        cost_series = _as_year_series(costs, "costs")
        counted = parameters.outcomes_for(perspective)
        family_series = _family_series(parameters, families, counted)
        labelled = [s for s in [cost_series, *family_series.values()] if isinstance(s, pd.Series)]
        origin, n_program = _programme_years(labelled, program_years, horizon)

        def to_flows(series: pd.Series | float) -> np.ndarray:
            flows = np.zeros(horizon)
            if isinstance(series, pd.Series):
                for label, amount in series.items():
                    flows[int(label) - origin] += float(amount)
            else:
                flows[:n_program] = float(series)
            return flows

        exposure = {}
        counts = {}
        for outcome in counted:
            reached = to_flows(family_series[outcome.key])
            exposure[outcome.key] = _exposure(outcome, reached, horizon)
            counts[outcome.key] = float(reached.sum())
        years = tuple(range(origin, origin + horizon)) if labelled else tuple(range(horizon))
        return cls(
            perspective=perspective,
            horizon_years=horizon,
            years=years,
            costs=to_flows(cost_series),
            exposure=exposure,
            families=counts,
            outcomes=tuple(parameters.outcomes.values()),
            program_years=n_program,
        )


def _family_series(parameters: BenefitParameters, families: Families, counted: list[Outcome]) -> dict[str, pd.Series | float]:
    """Families reached per counted outcome: one count or series per outcome, or one shared by all."""
    if isinstance(families, Mapping):
        unknown = sorted(set(families) - set(parameters.outcomes))
        if unknown:
            raise CostBenefitError(
                f"families: unknown outcome(s) {', '.join(map(str, unknown))}; the outcomes are {', '.join(parameters.outcomes)}"
            )
        missing = [o.key for o in counted if o.key not in families]
        if missing:
            raise CostBenefitError(f"families: no count for the counted outcome(s) {', '.join(missing)}")
        return {o.key: _as_year_series(families[o.key], f"families[{o.key}]") for o in counted}
    if isinstance(families, pd.DataFrame) and not {"year", "period"} & set(families.columns):
        family_series = {}
        for o in counted:
            if o.key not in families.columns:
                raise CostBenefitError(f"families: no column for the counted outcome {o.key!r}")
            family_series[o.key] = _as_year_series(families[o.key], f"families[{o.key}]")
        return family_series
    shared = _as_year_series(families, "families")
    return {o.key: shared for o in counted}


def _programme_years(labelled: list[pd.Series], program_years: int | None, horizon: int) -> tuple[int, int]:
    """The first programme year (label) and the number of programme years, checked against the horizon."""
    if labelled:
        if program_years is not None:
            raise CostBenefitError("program_years applies only when costs and families are plain numbers")
        labels = sorted({int(label) for s in labelled for label in s.index})
        origin = labels[0]
        n_program = labels[-1] - origin + 1
    else:
        origin = 0
        n_program = 1 if program_years is None else int(program_years)
        if n_program < 1:
            raise CostBenefitError(f"program_years must be ≥ 1 (got {program_years!r})")
    if n_program > horizon:
        raise CostBenefitError(
            f"the programme's {n_program} year(s) run beyond the horizon of {horizon} year(s); lengthen horizon_years"
        )
    return origin, n_program


def _exposure(outcome: Outcome, reached: np.ndarray, horizon: int) -> np.ndarray:
    """E[t, k]: families reached in year c whose effect is in its k-th year at t (t = c + s + k)."""
    matrix = np.zeros((horizon, outcome.duration_years))
    for cohort in np.flatnonzero(reached):
        for k in range(outcome.duration_years):
            t = cohort + outcome.start_year + k
            if t < horizon:
                matrix[t, k] += reached[cohort]
    return matrix


def _as_year_series(data: Any, what: str) -> pd.Series | float:
    """A number stays a number (per programme year); a Series or a table becomes a Series by year."""
    if isinstance(data, (int, float, np.integer, np.floating)) and not isinstance(data, bool):
        value = float(data)
        if not math.isfinite(value) or value < 0:
            raise CostBenefitError(f"{what}: must be a finite number ≥ 0")
        return value
    if isinstance(data, pd.DataFrame):
        table = data
        if "year" in table.columns:
            years = table["year"]
        elif "period" in table.columns:
            years = pd.to_numeric(table["period"].astype("string").str.slice(0, 4), errors="coerce")
            if years.isna().any():
                raise CostBenefitError(f"{what}: every period must start with its year (2024, 2024-T1)")
        else:
            years = pd.Series(table.index, index=table.index)
        numeric = [c for c in table.columns if c not in ("year", "period") and pd.api.types.is_numeric_dtype(table[c])]
        column = "amount_cad" if "amount_cad" in table.columns else (numeric[0] if len(numeric) == 1 else None)
        if column is None:
            raise CostBenefitError(f"{what}: a table needs an 'amount_cad' column (or exactly one numeric column) and a 'year' column or index")
        data = pd.Series(table[column].to_numpy(), index=pd.Index(np.asarray(years)))
    if not isinstance(data, pd.Series):
        raise CostBenefitError(f"{what}: give a number, a Series indexed by year or a table with year and amount_cad")
    if data.empty:
        raise CostBenefitError(f"{what}: no year given")
    try:
        index = [int(label) for label in data.index]
    except (TypeError, ValueError):
        raise CostBenefitError(f"{what}: the index must be years (integers)") from None
    values = pd.to_numeric(pd.Series(data.to_numpy()), errors="coerce").to_numpy(dtype="float64")
    if not np.all(np.isfinite(values)) or np.any(values < 0):
        raise CostBenefitError(f"{what}: every amount must be a finite number ≥ 0")
    return pd.Series(values, index=index).groupby(level=0).sum()


# ------------------------------------------------------------------------------------- the core
def base_values(parameters: BenefitParameters) -> dict[str, np.ndarray]:
    """Every value at its base case (its mean), as one-element arrays keyed by name."""
    return {value.name: np.array([value.mean]) for value in parameters.values()}


def used_values(parameters: BenefitParameters, perspective: str) -> list[Any]:
    """The values an analysis under ``perspective`` uses, each once, in file order.

    The cost multiplier, then for each counted outcome its unit value under the perspective, its
    baseline probability (with a relative risk), effect, drop-off, deadweight, attribution and
    displacement. The discount rate and the timing are not among them.
    """
    used = [parameters.cost_multiplier]
    for outcome in parameters.outcomes_for(perspective):
        used.append(outcome.unit_value[perspective])
        if outcome.measure == "relative_risk" and outcome.baseline_probability is not None:
            used.append(outcome.baseline_probability)
        used.extend([outcome.effect, outcome.drop_off, outcome.deadweight, outcome.attribution, outcome.displacement])
    return used


def gross_change(outcome: Outcome, values: Mapping[str, np.ndarray]) -> np.ndarray:
    """Annual change in the outcome's probability per family, in the favourable direction.

    Notes
    -----
    With baseline p₀ and relative risk RR, p₁ = min(p₀·RR, 1); avoided events give g = p₀ − p₁,
    gained events g = p₁ − p₀. A risk difference is g itself (positive = favourable).
    """
    effect = np.asarray(values[outcome.effect.name], dtype="float64")
    if outcome.measure == "risk_difference":
        return effect
    assert outcome.baseline_probability is not None
    p0 = np.asarray(values[outcome.baseline_probability.name], dtype="float64")
    p1 = np.minimum(p0 * effect, 1.0)
    return p0 - p1 if outcome.direction == "avoided" else p1 - p0


def impact_factor(outcome: Outcome, values: Mapping[str, np.ndarray]) -> np.ndarray:
    """(1 − deadweight)(1 − displacement)(1 − attribution) of an outcome."""
    return (
        (1.0 - np.asarray(values[outcome.deadweight.name]))
        * (1.0 - np.asarray(values[outcome.displacement.name]))
        * (1.0 - np.asarray(values[outcome.attribution.name]))
    )


def evaluate(design: Design, values: Mapping[str, np.ndarray], rate: float, *, flows: bool = False) -> dict[str, Any]:
    """Present values for n parameter draws at once (vectorised; n = 1 for the base case).

    Parameters
    ----------
    design : Design
    values : mapping of str to ndarray
        Each value's draws by name (arrays of one common length n, or length 1).
    rate : float
        Real discount rate r.
    flows : bool, default False, keyword-only
        Also return the undiscounted annual flows (H × n arrays).

    Returns
    -------
    dict
        ``pv_costs``, ``pv_benefits``, ``npv``, ``bcr`` (arrays of length n) and ``pv`` (per
        counted outcome); with ``flows``, ``cost_flows`` and ``benefit_flows``.

    Notes
    -----
    With d_t = (1 + r)^−t, q_o = 1 − drop_off_o and E_o the exposure of :class:`Design`:

    - PV costs = m · Σ_t C_t d_t (m the cost multiplier);
    - annual benefit B_o(t) = v_o · g_o · f_o · Σ_k E_o[t, k] q_o^k, where v_o is the unit value
      under the perspective, g_o the gross change (:func:`gross_change`) and
      f_o = (1 − deadweight)(1 − displacement)(1 − attribution);
    - PV_o = v_o g_o f_o Σ_k a_{o,k} q_o^k with a_{o,k} = Σ_t d_t E_o[t, k];
    - NPV = Σ_o PV_o − PV costs; BCR = Σ_o PV_o / PV costs (NaN when PV costs = 0).
    """
    d = discount_factors(rate, design.horizon_years)
    multiplier = np.asarray(values["cost_multiplier"], dtype="float64")
    pv_costs = multiplier * float(design.costs @ d)
    pv: dict[str, np.ndarray] = {}
    benefit_flows: dict[str, np.ndarray] = {}
    for outcome in design.counted:
        exposure = design.exposure[outcome.key]
        q = 1.0 - np.asarray(values[outcome.drop_off.name], dtype="float64")
        powers = q[:, None] ** np.arange(exposure.shape[1])[None, :]  # (n, D)
        scale = (
            np.asarray(values[outcome.unit_value[design.perspective].name], dtype="float64")
            * gross_change(outcome, values)
            * impact_factor(outcome, values)
        )
        pv[outcome.key] = scale * (powers @ (d @ exposure))
        if flows:
            benefit_flows[outcome.key] = (exposure @ powers.T) * scale  # (H, n)
    n = max([len(np.atleast_1d(v)) for v in values.values()] or [1])
    pv_benefits = np.zeros(n) + sum(pv.values(), np.zeros(1))
    pv_costs = np.zeros(n) + pv_costs
    with np.errstate(divide="ignore", invalid="ignore"):
        bcr = np.where(pv_costs > 0, pv_benefits / np.where(pv_costs > 0, pv_costs, 1.0), np.nan)
    result: dict[str, Any] = {"pv_costs": pv_costs, "pv_benefits": pv_benefits, "npv": pv_benefits - pv_costs, "bcr": bcr, "pv": pv}
    if flows:
        result["cost_flows"] = np.outer(design.costs, multiplier)
        result["benefit_flows"] = benefit_flows
    return result


# ------------------------------------------------------------------------------------- the model
class CostBenefit:
    """Deterministic cost–benefit analysis of the programme.

    Parameters
    ----------
    parameters : BenefitParameters, optional
        From :func:`~proximite.economics.parameters.load_benefit_parameters` (default: the
        package's placeholder file).
    perspective : {"government", "society"}, optional, keyword-only
        Which outcomes count and at which unit value (default: the file's).
    horizon_years : int, optional, keyword-only
        H (default: the file's).
    discount_rate : float, optional, keyword-only
        Base real rate (default: the file's, 3.5 %).
    discount_sensitivity : sequence of float, optional, keyword-only
        Other rates reported (default: the file's, 1.5 % and 6 %).
    program_years : int, optional, keyword-only
        When ``costs`` and ``families`` are both plain numbers: for how many years they recur
        (default 1).

    Notes
    -----
    For each counted outcome o and each year t (t = 0 the first programme year), with N_{o,c}
    families reached in year c, effect start s_o, duration D_o and k = t − c − s_o:

    .. math::

        B_o(t) = v_o \\, g_o \\, (1 - dw_o)(1 - disp_o)(1 - attr_o)
                 \\sum_{c:\\,0 \\le k < D_o} N_{o,c} (1 - do_o)^k

    - g_o, the gross annual change in the probability of the event per family: p₀(1 − RR) for an
      event avoided, p₀(RR − 1) for one gained (p₀·RR capped at 1), or the risk difference;
    - deadweight dw_o: share of the outcome that would have happened anyway;
    - displacement disp_o: share of the outcome that displaces the same outcome elsewhere;
    - attribution attr_o: share of the outcome due to OTHERS (SROI guides' definition), hence
      the factor (1 − attr_o);
    - drop-off do_o: the outcome falls by this share each year after its first (k ≥ 1);
    - years at or beyond the horizon H are not counted.

    PV = Σ_{t=0}^{H−1} x_t / (1 + r)^t (first year undiscounted); PV costs = m Σ_t C_t/(1 + r)^t
    with m the cost multiplier (1 at its base); NPV = PV benefits − PV costs;
    BCR = PV benefits / PV costs. A number given for costs or families counts for each programme
    year; a Series or a table gives them by year (calendar years or 0, 1, …; the earliest is
    t = 0).

    Base case: every value at its mean.
    """

    def __init__(
        self,
        parameters: BenefitParameters | None = None,
        *,
        perspective: str | None = None,
        horizon_years: int | None = None,
        discount_rate: float | None = None,
        discount_sensitivity: Sequence[float] | None = None,
        program_years: int | None = None,
    ) -> None:
        self.parameters = parameters if parameters is not None else load_benefit_parameters()
        self.perspective = perspective or self.parameters.perspective
        if self.perspective not in PERSPECTIVES:
            raise CostBenefitError(f"unknown perspective {self.perspective!r}; use one of {', '.join(PERSPECTIVES)}")
        self.horizon_years = horizon_years if horizon_years is not None else self.parameters.horizon_years
        self.discount_rate = float(discount_rate) if discount_rate is not None else self.parameters.discount_rate.mean
        self.discount_sensitivity = tuple(
            float(r) for r in (discount_sensitivity if discount_sensitivity is not None else self.parameters.discount_sensitivity)
        )
        for rate in (self.discount_rate, *self.discount_sensitivity):
            if not 0 <= rate < 1:
                raise CostBenefitError(f"a discount rate must lie in [0, 1) (got {rate!r})")
        self.program_years = program_years

    def design(self, costs: Costs, families: Families) -> Design:
        """The aligned inputs (:class:`Design`) the model evaluates."""
        return Design.build(
            self.parameters, costs, families,
            perspective=self.perspective, horizon_years=self.horizon_years, program_years=self.program_years,
        )

    def fit(self, costs: Costs, families: Families) -> CostBenefitResults:
        """Compute present values, NPV and BCR (inputs not modified).

        Parameters
        ----------
        costs : number, Series or DataFrame
            Programme costs, CAD of the price year: per programme year (a number), by year (a
            Series indexed by year), or a table with ``year`` (or ``period``, whose first four
            characters are the year: ``2024-T1``) and ``amount_cad``, summed by year (costing's
            lines by territory, period and category).
        families : number, Series, DataFrame or mapping
            Families reached (per programme year, or by year), or per outcome key the families
            affected (a mapping or a table with one column per outcome).

        Returns
        -------
        CostBenefitResults
        """
        design = self.design(costs, families)
        values = base_values(self.parameters)
        base = evaluate(design, values, self.discount_rate, flows=True)
        return _results(self, design, values, base)


def _results(model: CostBenefit, design: Design, values: dict[str, np.ndarray], base: dict[str, Any]) -> CostBenefitResults:
    parameters = model.parameters
    counted = {o.key for o in design.counted}
    publication = parameters.publishable()
    statistics: dict[str, Any] = {
        "perspective": design.perspective,
        "horizon_years": design.horizon_years,
        "program_years": design.program_years,
        "discount_rate": model.discount_rate,
        "price_year": parameters.price_year,
        "currency": parameters.currency,
        "pv_costs": float(base["pv_costs"][0]),
        "pv_benefits": float(base["pv_benefits"][0]),
        "npv": float(base["npv"][0]),
        "bcr": float(base["bcr"][0]),
        "outcomes_counted": len(counted),
        "publishable": bool(publication),
        "blockers": len(publication.blockers),
        "timing": TIMING_CONVENTION,
    }
    title = (
        f"Cost–benefit ({design.perspective} perspective, {design.horizon_years}-year horizon, "
        f"{model.discount_rate:.1%} real, {parameters.currency} {parameters.price_year})"
    )
    extra = {
        "discounting": _discounting_table(model, design, values, base),
        "flows": _flow_table(model, design, base),
        "cheers": _cheers_table(model, design, counted),
    }
    return CostBenefitResults(
        summary=_summary_table(design, values, base), statistics=statistics, title=title, extra=extra,
        publication=publication,
    )


def _summary_table(design: Design, values: dict[str, np.ndarray], base: dict[str, Any]) -> pd.DataFrame:
    """One row per outcome (counted or not), then the benefits, costs and net totals."""
    counted = {o.key for o in design.counted}
    pv_benefits = float(base["pv_benefits"][0])
    rows = []
    for outcome in design.outcomes:
        is_counted = outcome.key in counted
        unit = outcome.unit_value.get(design.perspective)
        row = {
            "label_fr": outcome.label_fr,
            "label_en": outcome.label_en,
            "counted": is_counted,
            "families": design.families.get(outcome.key, 0.0),
            "gross_change": float(gross_change(outcome, values)[0]),
            "impact_factor": float(impact_factor(outcome, values)[0]),
            "unit_value": float(unit.mean) if unit is not None else math.nan,
            "undiscounted": float(base["benefit_flows"][outcome.key].sum()) if is_counted else 0.0,
            "present_value": float(base["pv"][outcome.key][0]) if is_counted else 0.0,
        }
        row["share_of_benefits"] = row["present_value"] / pv_benefits if pv_benefits > 0 else math.nan
        rows.append(row)
    pv_costs = float(base["pv_costs"][0])
    npv = float(base["npv"][0])
    undiscounted_benefits = float(sum(base["benefit_flows"][k].sum() for k in counted)) if counted else 0.0
    undiscounted_costs = float(base["cost_flows"].sum())
    totals = [
        ("benefits", "Avantages totaux", "Total benefits", pv_benefits, undiscounted_benefits, 1.0 if pv_benefits > 0 else math.nan),
        ("costs", "Coûts du programme", "Programme costs", pv_costs, undiscounted_costs, math.nan),
        ("net", "Valeur actualisée nette", "Net present value", npv, undiscounted_benefits - undiscounted_costs, math.nan),
    ]
    for key, fr, en, pv, undiscounted, share in totals:
        rows.append({
            "label_fr": fr, "label_en": en, "counted": True, "families": math.nan, "gross_change": math.nan,
            "impact_factor": math.nan, "unit_value": math.nan, "undiscounted": undiscounted, "present_value": pv,
            "share_of_benefits": share,
        })
    return pd.DataFrame(rows, index=pd.Index([o.key for o in design.outcomes] + ["benefits", "costs", "net"], name="outcome"))


def _discounting_table(model: CostBenefit, design: Design, values: dict[str, np.ndarray], base: dict[str, Any]) -> pd.DataFrame:
    """Discount-rate sensitivity: the base rate and the others, in increasing order."""
    sensitivity_rows = []
    for rate in sorted({model.discount_rate, *model.discount_sensitivity}):
        result = base if rate == model.discount_rate else evaluate(design, values, rate)
        sensitivity_rows.append({
            "discount_rate": rate, "base_case": rate == model.discount_rate,
            "pv_costs": float(result["pv_costs"][0]), "pv_benefits": float(result["pv_benefits"][0]),
            "npv": float(result["npv"][0]), "bcr": float(result["bcr"][0]),
        })
    return pd.DataFrame(sensitivity_rows).set_index("discount_rate")


def _flow_table(model: CostBenefit, design: Design, base: dict[str, Any]) -> pd.DataFrame:
    """Costs and benefits by year t, with the discount factor and the discounted net flow."""
    d = discount_factors(model.discount_rate, design.horizon_years)
    flow_table = pd.DataFrame({"year": list(design.years), "discount_factor": d, "costs": base["cost_flows"][:, 0]})
    for key in base["benefit_flows"]:
        flow_table[f"benefit_{key}"] = base["benefit_flows"][key][:, 0]
    benefit_columns = [c for c in flow_table.columns if c.startswith("benefit_")]
    flow_table["benefits"] = flow_table[benefit_columns].sum(axis=1) if benefit_columns else 0.0
    flow_table["net_discounted"] = (flow_table["benefits"] - flow_table["costs"]) * d
    flow_table.index = pd.RangeIndex(design.horizon_years, name="t")
    return flow_table


def _cheers_table(model: CostBenefit, design: Design, counted: set[str]) -> pd.DataFrame:
    """The CHEERS items this analysis reports (perspective, horizon, discounting, valuation...)."""
    parameters = model.parameters
    values_all = list(parameters.values())
    placeholders = sum(1 for value in values_all if value.placeholder)
    return pd.DataFrame(
        [
            ("Perspective", f"{design.perspective}; outcomes counted: {', '.join(sorted(counted)) or 'none'}"),
            ("Comparator", "no outreach: baseline probabilities, relative risks, deadweight and attribution state the counterfactual"),
            ("Time horizon", f"{design.horizon_years} years from the first programme year ({design.program_years} programme year(s))"),
            ("Discount rate", f"{model.discount_rate:.1%} real; sensitivity {', '.join(f'{r:.1%}' for r in model.discount_sensitivity)}"),
            ("Valuation of outcomes", f"{len(values_all)} parameter values from {parameters.origin}; {placeholders} placeholder(s)"),
            ("Currency, price date", f"{parameters.currency} of {parameters.price_year}"),
            ("Characterising uncertainty", "discount-rate sensitivity here; PSA and one-way sensitivity in proximite.economics.psa"),
            ("Timing convention", TIMING_CONVENTION),
        ],
        columns=["item", "reported"],
    ).set_index("item")


@dataclass
class CostBenefitResults(PublicationStatus):
    """What :meth:`CostBenefit.fit` returns.

    Parameters
    ----------
    summary : DataFrame
        Index ``outcome``: one row per outcome of the file, then ``benefits``, ``costs`` and
        ``net``. Columns: ``label_fr``, ``label_en``, ``counted`` (whether the perspective counts
        the outcome), ``families``, ``gross_change`` (g, per family-year), ``impact_factor``
        ((1 − dw)(1 − disp)(1 − attr)), ``unit_value``, ``undiscounted``, ``present_value``,
        ``share_of_benefits``.
    statistics : dict
        ``perspective``, ``horizon_years``, ``program_years``, ``discount_rate``, ``price_year``,
        ``currency``, ``pv_costs``, ``pv_benefits``, ``npv``, ``bcr``, ``outcomes_counted``,
        ``publishable``, ``blockers`` (count), ``timing``.
    title : str
    extra : dict of DataFrame
        ``discounting`` (PV costs, PV benefits, NPV, BCR at each rate, index ``discount_rate``)
        ``flows`` (by year t: ``year``, ``discount_factor``, ``costs``, ``benefit_<outcome>``,
        ``benefits``, ``net_discounted``) and ``cheers`` (the CHEERS 2022 items this analysis
        fixes: perspective, comparator, horizon, discount rate, valuation, currency and price
        date, uncertainty; index ``item``, column ``reported``).
    publication : PublicationCheck
        Whether the parameters allow publication, and what blocks it.
    """

    summary: pd.DataFrame
    statistics: dict[str, Any]
    title: str = "Cost–benefit"
    extra: dict[str, pd.DataFrame] = field(default_factory=dict)
    publication: PublicationCheck = field(default_factory=PublicationCheck)

    @property
    def npv(self) -> float:
        """Net present value (CAD)."""
        return float(self.statistics["npv"])

    @property
    def bcr(self) -> float:
        """Benefit–cost ratio."""
        return float(self.statistics["bcr"])

    def to_dict(self) -> dict[str, Any]:
        """The figures a report keeps: ``pv_costs``, ``pv_benefits``, ``npv``, ``bcr`` (None when
        undefined), ``by_outcome`` (counted outcomes: ``outcome``, ``label_fr``, ``label_en``,
        ``pv``) and ``discount_sensitivity`` (``rate``, ``npv``, ``bcr`` per rate)."""

        def number(value: Any) -> float | None:
            value = float(value)
            return None if math.isnan(value) else value

        counted = self.summary[self.summary["counted"]].drop(index=["benefits", "costs", "net"])
        return {
            "pv_costs": number(self.statistics["pv_costs"]),
            "pv_benefits": number(self.statistics["pv_benefits"]),
            "npv": number(self.statistics["npv"]),
            "bcr": number(self.statistics["bcr"]),
            "by_outcome": [
                {"outcome": str(key), "label_fr": row["label_fr"], "label_en": row["label_en"], "pv": float(row["present_value"])}
                for key, row in counted.iterrows()
            ],
            "discount_sensitivity": [
                {"rate": float(rate), "npv": number(row["npv"]), "bcr": number(row["bcr"])}
                for rate, row in self.extra["discounting"].iterrows()
            ],
        }


    def __str__(self) -> str:
        lines = [self.title]
        if not self.publishable:
            lines.append(f"NOT PUBLISHABLE: {len(self.blockers)} parameter value(s) are placeholders or unsourced")
        shown = {k: v for k, v in self.statistics.items() if k not in ("timing",)}
        lines.append("  ".join(f"{name}: {_fmt(value)}" for name, value in shown.items()))
        lines.append(self.summary.drop(columns=["label_fr"]).to_string(float_format=lambda v: f"{v:,.4g}"))
        for name, table in self.extra.items():
            lines.extend(["", f"{name}:", table.to_string(float_format=lambda v: f"{v:,.4g}")])
        lines.append(f"({self.statistics.get('timing', TIMING_CONVENTION)})")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"<CostBenefitResults npv={self.npv:,.0f} bcr={self.bcr:.3g} publishable={self.publishable}>"

    def plot(self, ax: Axes | None = None, *, lang: str = "en") -> Axes:
        """Present value of each counted outcome, stacked, beside the programme costs.

        Parameters
        ----------
        ax : matplotlib Axes, optional
        lang : {"en", "fr"}, keyword-only
            Language of the labels.
        """
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(6, 4))
        label = "label_fr" if lang == "fr" else "label_en"
        outcomes = self.summary[self.summary["counted"]].drop(index=["benefits", "costs", "net"])
        bottom = 0.0
        for key, row in outcomes.iterrows():
            ax.bar(0, row["present_value"], bottom=bottom, label=row[label])
            bottom += row["present_value"]
        ax.bar(1, self.summary.loc["costs", "present_value"], color="grey", label=self.summary.loc["costs", label])
        ax.set_xticks([0, 1], ["Avantages" if lang == "fr" else "Benefits", "Coûts" if lang == "fr" else "Costs"])
        ax.set_ylabel(f"{'Valeur actualisée' if lang == 'fr' else 'Present value'} ({self.statistics['currency']} {self.statistics['price_year']})")
        ax.set_title(f"NPV {self.npv:,.0f}; BCR {self.bcr:.2f}", fontsize="medium")
        ax.legend(fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.08), ncol=2, frameon=False)
        return ax

    def tables(self) -> dict[str, pd.DataFrame]:
        """Every table by name: ``summary``, ``statistics`` (one row), ``blockers``, then ``extra``."""
        statistics = pd.DataFrame([{k: _plain(v) for k, v in self.statistics.items()}])
        blockers = pd.DataFrame({"blocker": self.blockers})
        return {"summary": self.summary, "statistics": statistics, "blockers": blockers, **self.extra}

    def to_csv(self, path: str | Path) -> Path:
        """Write the summary to ``path`` and every other table to ``<stem>.<name>.csv`` beside it."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        for name, table in self.tables().items():
            target = path if name == "summary" else path.with_name(f"{path.stem}.{name}.csv")
            table.to_csv(target, lineterminator="\n")
        return path


def compare_results(*results: CostBenefitResults, names: Sequence[str] | None = None) -> pd.DataFrame:
    """Totals of several analyses side by side (e.g. the two perspectives).

    Returns
    -------
    DataFrame
        Rows ``pv_costs``, ``pv_benefits``, ``npv``, ``bcr``, ``publishable``; one column per result.
    """
    if not results:
        raise CostBenefitError("compare_results needs at least one result")
    names = list(names) if names is not None else [f"{r.statistics['perspective']}" for r in results]
    if len(names) != len(results) or len(set(names)) != len(names):
        raise CostBenefitError("compare_results: give one distinct name per result")
    keys = ("perspective", "horizon_years", "discount_rate", "pv_costs", "pv_benefits", "npv", "bcr", "publishable")
    return pd.DataFrame({name: [r.statistics[k] for k in keys] for name, r in zip(names, results, strict=True)}, index=list(keys))


def _plain(value: Any) -> Any:
    item = getattr(value, "item", None)
    return item() if callable(item) and not isinstance(value, (str, bytes)) else value


def _fmt(value: Any) -> str:
    value = _plain(value)
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:,.4g}"
    if isinstance(value, int):
        return f"{value:,}" if abs(value) >= 10_000 else str(value)
    return str(value)
