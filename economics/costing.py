"""Activity-based costing from the PTP registry, reconciled with the programme budgets.

The registry says what the outreach workers (PTP) did and for how long; the ``cost`` table says
what the programme spent. :mod:`~proximite.economics.activity_costs` prices the registry,
:mod:`~proximite.economics.budget_reconciliation` reads the budgets and puts the two side by
side per territory and cost category, and this module wraps everything in
:class:`CostingResults` (:func:`cost`), whose tables roll up to the region, the environment, the
host type and Québec. The parameters are in :mod:`~proximite.economics.costing_parameters`, the
price years in :mod:`~proximite.economics.inflation`.

Components of the activity-based cost (column ``component`` of the lines), each booked to a
cost category of the codebook (``cost_category``):

======================  =================================================  =====================
component               amount                                             category
======================  =================================================  =====================
``ptp_activity``        activity minutes / 60 × loaded PTP wage            salaire_ptp
``ptp_travel``          travel minutes / 60 × loaded PTP wage              salaire_ptp
``travel_km``           km × km rate                                       mobilite
``ptp_session``         session minutes / 60 × loaded PTP wage             the kind's
                                                                           ``ptp_time_category``
``supervisor_session``  session minutes × ratio / 60 × loaded              the kind's
                        supervisor wage                                    ``category``
``session_fee``         sessions × fee per session                         the kind's
                                                                           ``category``
======================  =================================================  =====================

The registry cannot cost :data:`~proximite.economics.costing_base.BUDGET_ONLY_CATEGORIES` (``soutien_concret``: money or goods
given to families; ``coordination``; ``autre``): they are reported from the budget only.

Besides the logged time, the worker table gives each PTP's *contracted* time (tenure days ×
weekly hours / 7); priced at the loaded PTP wage it is a second estimate of ``salaire_ptp``
(column ``contracted_cad``), which the budget should match when it pays the PTP's whole time.

Everything here is pure: tables and parameters in, new frames out.
:func:`~proximite.economics.costing_parameters.load_costing_parameters` and
:func:`~proximite.economics.inflation.load_cpi` are the explicit loaders. Results hold sums per
territory and quarter, never a family's row.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from proximite.cohort.tenure import session_territories
from proximite.economics.activity_costs import LINE_VALUES, activity_costs, contracted_costs
from proximite.economics.budget_reconciliation import budget_costs, reconcile
from proximite.economics.costing_base import BUDGET_ONLY_CATEGORIES, CostingError, period_year, require_table
from proximite.economics.costing_parameters import CostingParameters, load_costing_parameters
from proximite.economics.inflation import inflate

if TYPE_CHECKING:  # pragma: no cover - typing only
    from matplotlib.axes import Axes

__all__ = ["LEVELS", "CostingResults", "cost"]

#: Levels :meth:`CostingResults.by` aggregates to (territory table columns, and Québec).
LEVELS: dict[str, str | None] = {
    "territory": "territory_id",
    "region": "region_code",
    "environment": "environment",
    "host_type": "host_type",
    "quebec": None,
}


@dataclass
class CostingResults:
    """What :func:`cost` returns: activity-based costs, budgets, their reconciliation.

    Attributes
    ----------
    lines : DataFrame
        Activity-based lines per territory, quarter and component (:func:`activity_costs`), in
        dollars of ``price_year``.
    budget : DataFrame
        Budget per territory, quarter and category (:func:`budget_costs`), in dollars of
        ``price_year`` when a CPI was given, else nominal (``statistics['budget_prices']``).
    contracted : DataFrame
        Contracted PTP time per territory and quarter (:func:`contracted_costs`).
    territory : DataFrame
        ``territory_id``, ``region_code``, ``environment``, ``host_type``.
    price_year : int
    statistics : dict
        Counts and totals (activities, sessions, territories, quarters, placeholders...).
    parameters : CostingParameters
    """

    lines: pd.DataFrame
    budget: pd.DataFrame
    contracted: pd.DataFrame
    territory: pd.DataFrame
    price_year: int
    statistics: dict[str, Any] = field(default_factory=dict)
    parameters: CostingParameters | None = field(default=None, repr=False)

    # -- tables
    def _attributed(self, frame: pd.DataFrame) -> pd.DataFrame:
        return frame.merge(self.territory, on="territory_id", how="left", validate="many_to_one")

    def reconciliation(self, *, by_period: bool = False) -> pd.DataFrame:
        """Per territory (and quarter) and category: activity-based, contracted, budget, gap (see :func:`reconcile`)."""
        keys = ["territory_id", "period"] if by_period else ["territory_id"]
        return reconcile(self._activity_with_contracted(), self.budget, keys=keys)

    def _activity_with_contracted(self) -> pd.DataFrame:
        contracted = self.contracted.assign(category="salaire_ptp", amount_cad=0.0)[
            ["territory_id", "period", "category", "amount_cad", "contracted_cad"]
        ]
        lines = self.lines[["territory_id", "period", "category", "amount_cad"]].assign(contracted_cad=np.nan)
        return pd.concat([lines, contracted], ignore_index=True).astype({"territory_id": "string", "period": "string", "category": "string"})

    def by(self, level: str, *, by_period: bool = False) -> pd.DataFrame:
        """Reconciliation aggregated to ``level``.

        Parameters
        ----------
        level : str
            ``territory``, ``region``, ``environment``, ``host_type`` or ``quebec``.
        by_period : bool, keyword-only
            One row per quarter too.

        Returns
        -------
        DataFrame
            ``level`` column (absent for ``quebec``), ``period`` when asked, then ``category``,
            ``activity_cad``, ``contracted_cad``, ``budget_cad``, ``gap_cad``, ``gap_pct``, ``status``.
        """
        if level not in LEVELS:
            raise CostingError(f"unknown level {level!r}; the levels are {', '.join(LEVELS)}")
        column = LEVELS[level]
        activity = self._attributed(self._activity_with_contracted())
        budget = self._attributed(self.budget)
        keys = ([column] if column else []) + (["period"] if by_period else [])
        if not keys:
            activity = activity.assign(quebec="QC")
            budget = budget.assign(quebec="QC")
            keys = ["quebec"]
        table = reconcile(activity, budget, keys=keys)
        return table.drop(columns=["quebec"]) if "quebec" in table.columns else table

    def components(self, level: str = "quebec") -> pd.DataFrame:
        """Activity-based cost by component (and activity component or session kind) at ``level``."""
        if level not in LEVELS:
            raise CostingError(f"unknown level {level!r}; the levels are {', '.join(LEVELS)}")
        column = LEVELS[level]
        lines = self._attributed(self.lines)
        keys = ([column] if column else []) + ["component", "category", "action_component", "kind"]
        return lines.groupby(keys, sort=False, observed=True)[LINE_VALUES].sum().reset_index()

    def scoped(self, *, strata: Sequence[str] = ("environment", "host_type")) -> pd.DataFrame:
        """Total cost per indicator scope cell (Québec, region, territory, and strata).

        Returns
        -------
        DataFrame
            ``scope``, ``scope_id``, ``stratum``, ``stratum_value`` (as the indicator tables),
            ``activity_cad`` (all components), ``budget_cad`` (all categories), ``price_year``.
        """
        from proximite.cohort.hierarchy import expand_scopes

        per_territory = pd.concat(
            [
                self.lines.groupby("territory_id", observed=True)["amount_cad"].sum().rename("activity_cad"),
                self.budget.groupby("territory_id", observed=True)["budget_cad"].sum(),
            ],
            axis=1,
        ).fillna(0.0).reset_index()
        per_territory["territory_id"] = per_territory["territory_id"].astype("string")
        expanded = expand_scopes(per_territory, self.territory, strata=strata)
        keys = ["scope", "scope_id", "stratum", "stratum_value"]
        table = expanded.groupby(keys, sort=False, observed=True)[["activity_cad", "budget_cad"]].sum().reset_index()
        table["price_year"] = self.price_year
        return table

    @property
    def summary(self) -> pd.DataFrame:
        """Québec reconciliation by category, with a ``total`` row (index ``category``)."""
        table = self.by("quebec").set_index("category")
        total = pd.DataFrame(
            {
                "activity_cad": [table["activity_cad"].sum(min_count=1)],
                "contracted_cad": [table["contracted_cad"].sum(min_count=1)],
                "budget_cad": [table["budget_cad"].sum(min_count=1)],
            },
            index=pd.Index(["total"], name="category"),
        )
        total["gap_cad"] = total["activity_cad"] - total["budget_cad"]
        total["gap_pct"] = 100 * total["gap_cad"] / total["budget_cad"] if float(total["budget_cad"].iloc[0] or 0) > 0 else np.nan
        total["status"] = "total"
        return pd.concat([table, total]).rename_axis("category")

    def __str__(self) -> str:
        head = f"Activity-based costing, CAD of {self.price_year}"
        stats = "  ".join(f"{name}: {value}" for name, value in self.statistics.items() if not isinstance(value, (list, dict)))
        lines = [head, stats, self.summary.to_string(float_format=lambda value: f"{value:,.2f}")]
        if self.statistics.get("placeholders"):
            lines.append(f"placeholder parameters: {', '.join(self.statistics['placeholders'])}")
        return "\n".join(lines)

    def plot(self, ax: Axes | None = None) -> Axes:
        """Activity-based cost beside the budget, by category (Québec), as horizontal bars."""
        import matplotlib.pyplot as plt

        table = self.by("quebec")
        if ax is None:
            _, ax = plt.subplots(figsize=(7, 0.6 + 0.5 * len(table)))
        positions = np.arange(len(table))
        ax.barh(positions - 0.2, table["budget_cad"].fillna(0).to_numpy(), height=0.4, label="budget")
        ax.barh(positions + 0.2, table["activity_cad"].fillna(0).to_numpy(), height=0.4, label="activity-based")
        ax.set_yticks(positions, table["category"].astype(str).tolist())
        ax.invert_yaxis()
        ax.set_xlabel(f"CAD ({self.price_year})")
        ax.legend()
        ax.set_title("Activity-based cost and budget by category", fontsize="medium")
        return ax

    def tables(self) -> dict[str, pd.DataFrame]:
        """Every table by name (aggregates only, no row of a family)."""
        return {
            "summary": self.summary.reset_index(),
            "reconciliation": self.reconciliation(),
            "by_region": self.by("region"),
            "by_environment": self.by("environment"),
            "by_host_type": self.by("host_type"),
            "components": self.components(),
            "lines": self.lines,
        }


def cost(
    tables: Mapping[str, pd.DataFrame],
    parameters: CostingParameters | None = None,
    *,
    price_year: int | None = None,
    cpi: pd.Series | pd.DataFrame | Mapping[int, float] | None = None,
    periods: Sequence[str] | None = None,
    end: Any = None,
) -> CostingResults:
    """Activity-based costs, contracted PTP time and budgets, reconciled, in one price year.

    Parameters
    ----------
    tables : mapping of str to DataFrame
        The harmonised tables (``activity``, ``supervision``, ``worker``, ``cost``,
        ``territory``), not modified.
    parameters : CostingParameters, optional
        Default: :func:`load_costing_parameters` (the shipped placeholders).
    price_year : int, optional, keyword-only
        Price year of the results (default ``parameters.price_year``); another year needs ``cpi``.
    cpi : Series, DataFrame or mapping, optional, keyword-only
        CPI by year (:func:`load_cpi`). With it, activity costs are inflated from
        ``parameters.price_year`` and budgets from their period's year to ``price_year``;
        without it budgets stay nominal.
    periods : sequence of str, optional, keyword-only
        Quarters (``2024-T1``) to keep (default: every quarter of the activities, sessions and
        budget).
    end : date-like, optional, keyword-only
        End of the data: open tenures run to it and contracted time stops there (default the
        latest activity or session date; without any, the last budget quarter's end).

    Returns
    -------
    CostingResults

    Notes
    -----
    Lines and budgets as in :func:`activity_costs`, :func:`contracted_costs` and
    :func:`budget_costs`, then :math:`A_{t} = A_{s}\\,\\mathrm{CPI}_t / \\mathrm{CPI}_s` (:func:`inflate`)
    with :math:`s` the wages' price year for the activity side and the quarter's year for the
    budget side.
    """
    parameters = parameters if parameters is not None else load_costing_parameters()
    target = int(price_year) if price_year is not None else parameters.price_year
    if target != parameters.price_year and cpi is None:
        raise CostingError(
            f"price year {target} differs from the parameters' price year {parameters.price_year}: pass cpi= (load_cpi())"
        )
    territory = require_table(tables, "territory", ["territory_id", "region_code", "environment", "host_type"])
    attributes = territory[["territory_id", "region_code", "environment", "host_type"]].astype("string").copy()
    lines = activity_costs(tables, parameters)
    budget = budget_costs(tables)
    wanted = None if periods is None else {str(p) for p in periods}
    if wanted is not None:
        lines = lines[lines["period"].isin(wanted)].reset_index(drop=True)
        budget = budget[budget["period"].isin(wanted)].reset_index(drop=True)
    quarters = sorted(set(lines["period"].dropna()) | set(budget["period"].dropna()))
    if end is None:
        end = _end_of_data(tables, quarters)
    worker = require_table(tables, "worker", ["worker_id", "territory_id", "start_date", "end_date", "weekly_hours"])
    contracted = contracted_costs(worker, parameters, periods=quarters, end=end)
    budget_prices = "nominal"
    if cpi is not None:
        lines, contracted, budget = _in_price_year(lines, contracted, budget, parameters=parameters, target=target, cpi=cpi)
        budget_prices = f"CAD of {target}"
    statistics = _statistics(
        tables, lines, budget, worker, attributes,
        parameters=parameters, target=target, quarters=quarters, budget_prices=budget_prices,
    )
    return CostingResults(
        lines=lines, budget=budget, contracted=contracted, territory=attributes, price_year=target,
        statistics=statistics, parameters=parameters,
    )


def _end_of_data(tables: Mapping[str, pd.DataFrame], quarters: Sequence[str]) -> pd.Timestamp:
    """The latest activity or session date; without any, the last quarter's end; else today."""
    ends = [
        pd.to_datetime(tables["activity"]["activity_date"]).max(),
        pd.to_datetime(tables["supervision"]["session_date"]).max(),
    ]
    ends = [value for value in ends if not pd.isna(value)]
    if not ends and quarters:
        ends.append(pd.Period(quarters[-1].replace("-T", "Q"), freq="Q").end_time.normalize())
    return max(ends) if ends else pd.Timestamp.today().normalize()


def _in_price_year(
    lines: pd.DataFrame,
    contracted: pd.DataFrame,
    budget: pd.DataFrame,
    *,
    parameters: CostingParameters,
    target: int,
    cpi: pd.Series | pd.DataFrame | Mapping[int, float],
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Activity and contracted costs from the wages' price year, budgets from their quarter's year, to ``target``."""
    if target != parameters.price_year:
        lines = lines.assign(amount_cad=inflate(lines["amount_cad"], parameters.price_year, target, cpi))
        contracted = contracted.assign(contracted_cad=inflate(contracted["contracted_cad"], parameters.price_year, target, cpi))
    if len(budget):
        budget = budget.assign(budget_cad=inflate(budget["budget_cad"], period_year(budget["period"]), target, cpi))
    return lines, contracted, budget


def _statistics(
    tables: Mapping[str, pd.DataFrame],
    lines: pd.DataFrame,
    budget: pd.DataFrame,
    worker: pd.DataFrame,
    attributes: pd.DataFrame,
    *,
    parameters: CostingParameters,
    target: int,
    quarters: Sequence[str],
    budget_prices: str,
) -> dict[str, Any]:
    """Counts and totals of a costing run (no row of a family)."""
    unknown = sorted((set(lines["territory_id"]) | set(budget["territory_id"])) - set(attributes["territory_id"]))
    activity = tables["activity"]
    sessions = tables["supervision"]
    return {
        "price_year": target,
        "currency": "CAD",
        "budget_prices": budget_prices,
        "activities": len(activity),
        "sessions": len(sessions),
        "sessions_without_tenure": int(len(sessions) - len(session_territories(sessions, worker))),
        "territories": len(set(lines["territory_id"]) | set(budget["territory_id"])),
        "territories_unknown": len(unknown),
        "quarters": len(quarters),
        "first_quarter": quarters[0] if quarters else None,
        "last_quarter": quarters[-1] if quarters else None,
        "activity_cad": round(float(lines["amount_cad"].sum()), 2),
        "budget_cad": round(float(budget["budget_cad"].sum()), 2),
        "budget_only_categories": list(BUDGET_ONLY_CATEGORIES),
        "placeholders": parameters.placeholders(),
        "parameters_file": parameters.path,
    }
