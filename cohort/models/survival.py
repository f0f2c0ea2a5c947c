"""Time-to-event models on a survival table (:func:`proximite.cohort.survival_table`).

Registered kinds:

``kaplan_meier`` (:class:`KaplanMeier`)
    Product-limit survival, one curve per stratum; summary rows ``median`` (and ``survival(t=…)``),
    extra table ``survival_curve``. Interval-censored fit (Turnbull NPMLE) on ``lower``/``upper``.
``cox`` (:class:`CoxPH`)
    Cox proportional hazards (Efron ties), strata, cluster-robust SE, the proportional-hazards
    test as extra table ``proportional_hazards``.
``cox_time_varying`` (:class:`CoxTimeVarying`)
    Cox on start/stop rows, with cluster-bootstrap standard errors and percentile intervals.
``aalen_johansen`` (:class:`AalenJohansen`)
    Cumulative incidence of the event of interest with a competing event; rows ``cif(t=…)``.
``rmst`` (:class:`RMST`)
    Restricted mean survival time up to ``tau`` per stratum and differences between strata,
    with bootstrap intervals.

Summary row names put the stratum after a bar: ``median | environment=rural``. The helper
:func:`km_median` gives medians with their 95 % interval as a plain table (for simulation studies).
Results hold estimates and counts only.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from proximite.cohort.models.base import Model, ModelError, ModelResults, register

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

__all__ = [
    "RMST",
    "AalenJohansen",
    "CoxPH",
    "CoxTimeVarying",
    "KaplanMeier",
    "SurvivalResults",
    "km_median",
    "rmst_area",
]

#: Default seed of the bootstraps and of the Aalen–Johansen tie jitter.
DEFAULT_SEED = 20261121
#: Days in a month (365.25 / 12), as :data:`proximite.cohort.survival.DAYS_PER_MONTH`.
DAYS_PER_MONTH = 365.25 / 12


# ------------------------------------------------------------------------------------ results
@dataclass
class SurvivalResults(ModelResults):
    """:class:`ModelResults` whose ``plot`` draws curves (Kaplan–Meier, cumulative incidence).

    ``curve`` names the ``extra`` table holding the curves (columns ``stratum``, ``time``,
    ``value``, ``ci_lower``, ``ci_upper``); without one, ``plot`` draws the forest plot.
    """

    curve: str = ""

    def __str__(self) -> str:
        if not self.curve or self.curve not in self.extra:
            return super().__str__()
        # The curve has a row per event time: printed shortened (exports keep it whole).
        others = {name: table for name, table in self.extra.items() if name != self.curve}
        text = ModelResults.__str__(replace(self, extra=others))
        table = self.extra[self.curve]
        curve = table.to_string(max_rows=16, float_format=lambda value: f"{value:.4g}")
        return "\n".join([text, "", f"{self.curve} ({len(table)} rows):", curve])

    def plot(self, ax: Axes | None = None, *, terms: Sequence[str] | None = None) -> Axes:
        """Step curves with their confidence band, one per stratum (else the forest plot).

        Parameters
        ----------
        ax : matplotlib Axes, optional
            Where to draw (default: a new figure).
        terms : sequence of str, optional, keyword-only
            Only for the forest plot: the terms to show.
        """
        if not self.curve or self.curve not in self.extra:
            return super().plot(ax, terms=terms)
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(7, 4.5))
        curves = self.extra[self.curve]
        for stratum, curve in curves.groupby("stratum", sort=False, dropna=False):
            label = str(stratum) if str(stratum) else self.model
            (line,) = ax.step(curve["time"], curve["value"], where="post", label=label)
            if curve["ci_lower"].notna().any():
                ax.fill_between(
                    curve["time"], curve["ci_lower"], curve["ci_upper"], step="post", alpha=0.2, color=line.get_color()
                )
        ax.set_xlabel(str(self.statistics.get("time_column", "time")))
        ax.set_ylabel("survival" if self.model == "kaplan_meier" else "cumulative incidence")
        ax.set_ylim(0, 1.02)
        ax.set_title(self.title or self.model, fontsize="medium")
        if curves["stratum"].astype(str).str.len().gt(0).any():
            ax.legend()
        return ax


# ------------------------------------------------------------------------------------ helpers
def _require(kind: str, data: pd.DataFrame, columns: Sequence[str]) -> None:
    missing = [column for column in dict.fromkeys(columns) if column not in data.columns]
    if missing:
        raise ModelError(f"{kind}: column(s) {', '.join(repr(c) for c in missing)} not in the data")


def _as_list(value: str | Sequence[str] | None) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def _check_confidence(kind: str, confidence: float) -> None:
    if not 0 < confidence < 1:
        raise ModelError(f"{kind}: option confidence must be in (0, 1)")


def _complete(kind: str, data: pd.DataFrame, columns: Sequence[str]) -> tuple[pd.DataFrame, int]:
    """The rows of ``data[columns]`` with no missing value (a copy), and how many were dropped."""
    frame = data[list(dict.fromkeys(columns))].copy()
    keep = frame.notna().all(axis=1).to_numpy(dtype=bool)
    frame = frame.loc[keep].reset_index(drop=True)
    if frame.empty:
        raise ModelError(f"{kind}: no row without a missing value in {', '.join(dict.fromkeys(columns))}")
    return frame, int((~keep).sum())


def _durations(kind: str, frame: pd.DataFrame, column: str, *, allow_inf: bool = False) -> np.ndarray:
    try:
        values = pd.to_numeric(frame[column]).astype("float64").to_numpy()
    except (TypeError, ValueError):
        raise ModelError(f"{kind}: column {column!r} must be numeric (durations)") from None
    negative = int((values < 0).sum())
    if negative:
        raise ModelError(f"{kind}: column {column!r} has {negative} negative value(s); durations must be >= 0")
    if not allow_inf and not np.isfinite(values).all():
        raise ModelError(f"{kind}: column {column!r} has {int((~np.isfinite(values)).sum())} infinite value(s)")
    return values


def _events(kind: str, frame: pd.DataFrame, column: str, *, allowed: Sequence[int] = (0, 1)) -> np.ndarray:
    try:
        values = pd.to_numeric(frame[column].astype("float64")).to_numpy()
    except (TypeError, ValueError):
        raise ModelError(f"{kind}: column {column!r} must hold the codes {', '.join(map(str, allowed))}") from None
    bad = int((~np.isin(values, list(allowed))).sum())
    if bad:
        raise ModelError(f"{kind}: column {column!r} must hold the codes {', '.join(map(str, allowed))}; {bad} row(s) do not")
    return values.astype("int64")


def _groups(frame: pd.DataFrame, strata: list[str]) -> list[tuple[str, pd.DataFrame]]:
    """(label, rows) per stratum; label ``""`` without strata, else ``col=value, col=value``."""
    if not strata:
        return [("", frame)]
    result = []
    for key, rows in frame.groupby(strata, sort=True, observed=True):
        values = key if isinstance(key, tuple) else (key,)
        result.append((", ".join(f"{name}={value}" for name, value in zip(strata, values, strict=True)), rows))
    return result


def _term(base: str, label: str) -> str:
    return f"{base} | {label}" if label else base


def _format_time(value: float) -> str:
    return f"{value:.6g}"


def _step_at(series: pd.Series, time: float) -> float:
    """Value of a right-continuous step function (indexed by time) at ``time``."""
    upto = series.loc[series.index <= time]
    return float(upto.iloc[-1]) if len(upto) else float("nan")


def _summary(rows: list[dict[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows).set_index("term")
    first = ["estimate", "std_error", "ci_lower", "ci_upper", "p_value"]
    return frame[first + [column for column in frame.columns if column not in first]]


def _wald_p(estimate: float, error: float) -> float:
    from scipy import stats

    if not np.isfinite(error) or error <= 0:
        return float("nan")
    return float(2 * stats.norm.sf(abs(estimate / error)))


def _captured(caught: list[warnings.WarningMessage]) -> list[str]:
    """Distinct warning lines (lifelines' convergence warnings name columns, not values)."""
    lines = []
    for item in caught:
        line = f"{item.category.__name__}: {str(item.message).strip().splitlines()[0][:200]}"
        if line not in lines:
            lines.append(line)
    return lines


# ------------------------------------------------------------------------------------ Kaplan–Meier
def _km_fitter(durations: np.ndarray, events: np.ndarray, *, confidence: float, label: str = "km") -> Any:
    from lifelines import KaplanMeierFitter

    return KaplanMeierFitter(alpha=1 - confidence).fit(durations, events, label=label or "km")


def _km_median_ci(fitter: Any) -> tuple[float, float, float]:
    from lifelines.utils import median_survival_times

    median = float(fitter.median_survival_time_)
    bounds = median_survival_times(fitter.confidence_interval_).iloc[0].to_numpy(dtype="float64")
    low, high = float(np.min(bounds)), float(np.max(bounds))
    return (
        median if np.isfinite(median) else float("nan"),
        low if np.isfinite(low) else float("nan"),
        high if np.isfinite(high) else float("nan"),
    )


def km_median(
    table: pd.DataFrame,
    *,
    duration: str = "duration",
    event: str = "event",
    strata: str | Sequence[str] | None = None,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Kaplan–Meier median survival time with its confidence interval, per stratum.

    Parameters
    ----------
    table : DataFrame
        A survival table (one row per subject); not modified.
    duration, event : str, keyword-only
        Columns of the time (≥ 0) and the event indicator (0/1).
    strata : str or sequence of str, optional, keyword-only
        One median per combination of these columns' values.
    confidence : float, keyword-only

    Returns
    -------
    DataFrame
        One row per stratum (index ``stratum``: ``""`` without strata, else ``col=value``):
        ``n``, ``events``, ``median``, ``ci_lower``, ``ci_upper`` (NaN where not reached).

    Notes
    -----
    :math:`\\hat S(t) = \\prod_{t_i \\le t} (1 - d_i / n_i)`; the median is
    :math:`\\min\\{t : \\hat S(t) \\le 0.5\\}` and its interval runs from where the lower to where
    the upper pointwise log(−log) Greenwood bound of :math:`\\hat S` first reaches 0.5
    (``lifelines.utils.median_survival_times``), as the ``needs.time_to_met`` indicator.
    """
    kind = "km_median"
    strata_list = _as_list(strata)
    _check_confidence(kind, confidence)
    _require(kind, table, [duration, event, *strata_list])
    frame, _ = _complete(kind, table, [duration, event, *strata_list])
    rows = []
    for label, group in _groups(frame, strata_list):
        durations = _durations(kind, group, duration)
        events = _events(kind, group, event)
        median, low, high = _km_median_ci(_km_fitter(durations, events, confidence=confidence))
        rows.append({"stratum": label, "n": len(group), "events": int(events.sum()), "median": median, "ci_lower": low, "ci_upper": high})
    return pd.DataFrame(rows).set_index("stratum")


@register("kaplan_meier")
class KaplanMeier(Model):
    """Kaplan–Meier survival curves (lifelines ``KaplanMeierFitter``), one per stratum.

    Parameters
    ----------
    duration : str, keyword-only
        Time column (default ``duration``, days; ``duration_months`` for months).
    event : str, keyword-only
        Event indicator (0/1).
    strata : str or sequence of str, optional, keyword-only
        One curve per combination of these columns' values.
    times : sequence of float, optional, keyword-only
        Also report :math:`\\hat S(t)` at these times (unit of ``duration``).
    interval_censoring : bool, keyword-only
        Fit the interval-censored NPMLE (Turnbull) on ``lower``/``upper`` instead.
    lower, upper : str, keyword-only
        Interval bounds (``upper = inf`` when right-censored; ``lower == upper`` for an exact time).
    confidence : float, keyword-only

    Notes
    -----
    Product limit :math:`\\hat S(t) = \\prod_{t_i \\le t}(1 - d_i/n_i)` with Greenwood's variance
    :math:`\\widehat{\\operatorname{Var}}\\,\\hat S(t) = \\hat S(t)^2 \\sum_{t_i \\le t} d_i / (n_i (n_i - d_i))`
    (the ``std_error`` of ``survival(t=…)`` rows) and lifelines' log(−log) pointwise intervals.
    Summary rows: ``median`` (estimate = median time, CI as :func:`km_median`, std_error and
    p_value NaN) and ``survival(t=<t>)``, each suffixed ``| <stratum>`` when stratified; columns
    ``n``, ``events``, ``stratum``, ``time``. Extra table ``survival_curve``: ``stratum``,
    ``time``, ``value`` (:math:`\\hat S`), ``ci_lower``, ``ci_upper``, ``at_risk``, ``events``.
    With ``interval_censoring`` the curve is the NPMLE of lifelines'
    ``fit_interval_censoring`` made right-continuous: the NPMLE is not unique beyond the last
    bound, lifelines gives its two extremes (curve columns ``npmle_lower``/``npmle_upper``);
    ``value`` is the upper one (mass of right-censored subjects kept beyond their time, as in
    the product limit) and the median is where it first reaches 0.5; intervals are not given
    (NaN). Without interval-censored rows and without a censored time equal to an event time,
    the NPMLE is the product limit.
    """

    def __init__(
        self,
        *,
        duration: str = "duration",
        event: str = "event",
        strata: str | Sequence[str] | None = None,
        times: Sequence[float] | None = None,
        interval_censoring: bool = False,
        lower: str = "lower",
        upper: str = "upper",
        confidence: float = 0.95,
    ) -> None:
        _check_confidence("kaplan_meier", confidence)
        self.duration = duration
        self.event = event
        self.strata = _as_list(strata)
        self.times = [float(t) for t in times] if times is not None else []
        self.interval_censoring = bool(interval_censoring)
        self.lower = lower
        self.upper = upper
        self.confidence = float(confidence)

    def fit(self, data: pd.DataFrame) -> SurvivalResults:
        """Fit one curve per stratum on ``data`` (not modified)."""
        kind = self.kind
        if self.interval_censoring:
            columns = [self.lower, self.upper, *self.strata]
        else:
            columns = [self.duration, self.event, *self.strata]
        _require(kind, data, columns)
        frame, dropped = _complete(kind, data, columns)
        rows: list[dict[str, Any]] = []
        curves: list[pd.DataFrame] = []
        natives: dict[str, Any] = {}
        for label, group in _groups(frame, self.strata):
            if self.interval_censoring:
                fitter, n, events = self._fit_interval(group)
                curve, extremes = _npmle_curve(fitter.survival_function_)
                median = _first_at_or_below(curve, 0.5)
                rows.append(self._row("median", label, median, float("nan"), float("nan"), n, events))
                curves.append(
                    pd.DataFrame({"stratum": label, "time": curve.index.to_numpy(dtype="float64"), "value": curve.to_numpy(),
                                  "ci_lower": np.nan, "ci_upper": np.nan, "at_risk": np.nan, "events": np.nan,
                                  "npmle_lower": extremes["lower"].to_numpy(), "npmle_upper": extremes["upper"].to_numpy()})
                )
                for t in self.times:
                    rows.append(self._row(f"survival(t={_format_time(t)})", label, _step_at(curve, t), float("nan"), float("nan"), n, events, time=t))
            else:
                durations = _durations(kind, group, self.duration)
                events_array = _events(kind, group, self.event)
                fitter = _km_fitter(durations, events_array, confidence=self.confidence, label=label)
                n, events = len(group), int(events_array.sum())
                median, low, high = _km_median_ci(fitter)
                rows.append(self._row("median", label, median, low, high, n, events))
                survival = fitter.survival_function_.iloc[:, 0]
                bounds = fitter.confidence_interval_
                table = fitter.event_table
                greenwood = _greenwood(table)
                for t in self.times:
                    estimate = _step_at(survival, t)
                    ci = sorted([_step_at(bounds.iloc[:, 0], t), _step_at(bounds.iloc[:, 1], t)])
                    variance = _step_at(greenwood, t)
                    rows.append(self._row(f"survival(t={_format_time(t)})", label, estimate, ci[0], ci[1], n, events,
                                          std_error=estimate * math.sqrt(variance), time=t))
                ci_values = np.sort(bounds.to_numpy(dtype="float64"), axis=1)
                curves.append(
                    pd.DataFrame(
                        {
                            "stratum": label,
                            "time": survival.index.to_numpy(dtype="float64"),
                            "value": survival.to_numpy(dtype="float64"),
                            "ci_lower": ci_values[:, 0],
                            "ci_upper": ci_values[:, 1],
                            "at_risk": table["at_risk"].reindex(survival.index).to_numpy(dtype="float64"),
                            "events": table["observed"].reindex(survival.index).to_numpy(dtype="float64"),
                        }
                    )
                )
            natives[label] = fitter
        statistics: dict[str, Any] = {
            "nobs": len(frame),
            "events": int(sum(row["events"] for row in rows if row["term"].startswith("median"))),
            "strata": len(natives),
            "dropped_missing": dropped,
            "time_column": self.lower if self.interval_censoring else self.duration,
            "method": "Turnbull NPMLE (interval-censored)" if self.interval_censoring else "product limit, log(-log) Greenwood CI",
        }
        by = f" by {', '.join(self.strata)}" if self.strata else ""
        title = f"Kaplan-Meier of {self.event if not self.interval_censoring else self.lower + '/' + self.upper} over {statistics['time_column']}{by}"
        return SurvivalResults(
            model=kind, summary=_summary(rows), statistics=statistics, title=title, confidence=self.confidence,
            extra={"survival_curve": pd.concat(curves, ignore_index=True)}, native=natives, curve="survival_curve",
        )

    def _fit_interval(self, group: pd.DataFrame) -> tuple[Any, int, int]:
        from lifelines import KaplanMeierFitter

        kind = self.kind
        lower = _durations(kind, group, self.lower)
        upper = _durations(kind, group, self.upper, allow_inf=True)
        if (upper < lower).any():
            raise ModelError(f"{kind}: {int((upper < lower).sum())} row(s) have {self.upper!r} < {self.lower!r}")
        events = int(np.isfinite(upper).sum())
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fitter = KaplanMeierFitter(alpha=1 - self.confidence).fit_interval_censoring(lower, upper)
        return fitter, len(group), events

    @staticmethod
    def _row(
        base: str, label: str, estimate: float, low: float, high: float, n: int, events: int,
        *, std_error: float = float("nan"), time: float = float("nan"),
    ) -> dict[str, Any]:
        return {"term": _term(base, label), "estimate": estimate, "std_error": std_error, "ci_lower": low, "ci_upper": high,
                "p_value": float("nan"), "n": n, "events": events, "stratum": label, "time": time}


def _npmle_curve(raw: pd.DataFrame) -> tuple[pd.Series, pd.DataFrame]:
    """Right-continuous curve from lifelines' interval-censored ``survival_function_``.

    lifelines indexes the NPMLE by the Turnbull bounds and gives at each bound the survival just
    before it; the survival at :math:`t` is the value at the next bound. Returns the curve (the
    upper extreme, which keeps the mass of right-censored subjects beyond the last bound, as the
    product limit does) and both extremes, at the finite bounds.
    """
    shifted = raw.shift(-1).iloc[:-1]
    shifted = shifted.loc[np.isfinite(shifted.index.to_numpy(dtype="float64"))]
    extremes = pd.DataFrame({"lower": shifted.min(axis=1), "upper": shifted.max(axis=1)})
    start = pd.DataFrame({"lower": [1.0], "upper": [1.0]}, index=[0.0])
    if len(extremes) and extremes.index[0] > 0:
        extremes = pd.concat([start, extremes])
    return extremes["upper"], extremes


def _first_at_or_below(curve: pd.Series, level: float) -> float:
    """First time where a decreasing step curve is at or below ``level`` (NaN if never)."""
    below = curve.loc[curve.to_numpy(dtype="float64") <= level]
    return float(below.index[0]) if len(below) else float("nan")


def _greenwood(table: pd.DataFrame) -> pd.Series:
    """Greenwood's sum :math:`\\sum_{t_i \\le t} d_i / (n_i (n_i - d_i))` over lifelines' event table."""
    d = table["observed"].to_numpy(dtype="float64")
    n = table["at_risk"].to_numpy(dtype="float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(d > 0, d / (n * (n - d)), 0.0)
    return pd.Series(np.cumsum(terms), index=table.index)


# ------------------------------------------------------------------------------------ Cox
def _design(kind: str, frame: pd.DataFrame, covariates: Sequence[str]) -> tuple[pd.DataFrame, list[str]]:
    """Numeric design columns: numbers and booleans as float, other columns as 0/1 dummies
    (first level in sorted order is the reference, named ``column[T.level]``)."""
    design = {}
    for column in covariates:
        series = frame[column]
        if pd.api.types.is_bool_dtype(series) or pd.api.types.is_numeric_dtype(series):
            design[column] = pd.to_numeric(series).astype("float64").to_numpy()
            continue
        levels = sorted(series.astype(str).unique())
        if len(levels) < 2:
            raise ModelError(f"{kind}: covariate {column!r} has a single level; it cannot be estimated")
        for level in levels[1:]:
            design[f"{column}[T.{level}]"] = (series.astype(str) == level).to_numpy(dtype="float64")
    return pd.DataFrame(design, index=frame.index), list(design)


def _formula_columns(data: pd.DataFrame, formula: str) -> list[str]:
    import re

    tokens = set(re.findall(r"[A-Za-z_][A-Za-z0-9_.]*", formula))
    return [column for column in data.columns if column in tokens]


def _plain_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Nullable dtypes as numpy ones (lifelines and formulaic want float/object)."""
    result = frame.copy()
    for column in result.columns:
        series = result[column]
        if pd.api.types.is_bool_dtype(series) or pd.api.types.is_numeric_dtype(series):
            result[column] = pd.to_numeric(series).astype("float64")
        elif isinstance(series.dtype, pd.StringDtype | pd.CategoricalDtype):
            result[column] = series.astype(object)
    return result


@register("cox")
class CoxPH(Model):
    """Cox proportional-hazards model (lifelines ``CoxPHFitter``).

    Parameters
    ----------
    covariates : sequence of str, optional, keyword-only
        Covariate columns (numbers and booleans as is; text as dummies against the first level).
    formula : str, optional, keyword-only
        A formulaic right-hand side instead of ``covariates`` (``"age + C(environment)"``).
    duration, event : str, keyword-only
    strata : str or sequence of str, optional, keyword-only
        Baseline hazard stratified by these columns.
    cluster_col : str, optional, keyword-only
        Cluster-robust (sandwich) standard errors by this column (e.g. ``family_id``, ``territory_id``).
    penalizer : float, keyword-only
        lifelines' L2 penalty (0: the plain partial likelihood).
    check_assumptions : bool, keyword-only
        Run the proportional-hazards test (extra table ``proportional_hazards``).
    time_transform : str, keyword-only
        Time transform of that test (``rank``, ``km``, ``identity``, ``log``).
    confidence : float, keyword-only

    Notes
    -----
    The hazard is :math:`h(t \\mid x) = h_{0s}(t) \\exp(x^\\top \\beta)` in stratum :math:`s`;
    :math:`\\beta` maximises Efron's partial likelihood (identical to Breslow's without tied
    times). Summary: ``estimate`` = :math:`\\hat\\beta` (log hazard ratio), Wald intervals
    :math:`\\hat\\beta \\pm z\\,\\mathrm{SE}`, plus ``hazard_ratio``, ``hr_ci_lower``,
    ``hr_ci_upper`` (their exponentials) and ``z``. The PH test is the Grambsch–Therneau score
    test of scaled Schoenfeld residuals against :math:`g(t)`
    (``lifelines.statistics.proportional_hazard_test``); nothing is printed.
    """

    def __init__(
        self,
        *,
        covariates: Sequence[str] | None = None,
        formula: str | None = None,
        duration: str = "duration",
        event: str = "event",
        strata: str | Sequence[str] | None = None,
        cluster_col: str | None = None,
        penalizer: float = 0.0,
        check_assumptions: bool = True,
        time_transform: str = "rank",
        confidence: float = 0.95,
    ) -> None:
        if (covariates is None) == (formula is None):
            raise ModelError("cox: give exactly one of the options covariates and formula")
        if covariates is not None and not list(covariates):
            raise ModelError("cox: option covariates is empty")
        _check_confidence("cox", confidence)
        self.covariates = list(covariates) if covariates is not None else None
        self.formula = formula
        self.duration = duration
        self.event = event
        self.strata = _as_list(strata)
        self.cluster_col = cluster_col
        self.penalizer = float(penalizer)
        self.check_assumptions = bool(check_assumptions)
        self.time_transform = time_transform
        self.confidence = float(confidence)

    def fit(self, data: pd.DataFrame) -> ModelResults:
        """Fit the model on ``data`` (not modified)."""
        from lifelines import CoxPHFitter

        kind = self.kind
        variables = self.covariates if self.covariates is not None else _formula_columns(data, self.formula or "")
        extra_columns = [*self.strata, *([self.cluster_col] if self.cluster_col else [])]
        _require(kind, data, [self.duration, self.event, *variables, *extra_columns])
        frame, dropped = _complete(kind, data, [self.duration, self.event, *variables, *extra_columns])
        durations = _durations(kind, frame, self.duration)
        events = _events(kind, frame, self.event)
        fit_frame = pd.DataFrame({"_duration": durations, "_event": events})
        if self.covariates is not None:
            design, _ = _design(kind, frame, self.covariates)
            fit_frame = pd.concat([fit_frame, design], axis=1)
            formula = None
        else:
            fit_frame = pd.concat([fit_frame, _plain_frame(frame[variables])], axis=1)
            formula = self.formula
        for column in extra_columns:
            if column not in fit_frame.columns:
                fit_frame[column] = frame[column].astype(str).to_numpy() if column in self.strata else frame[column].to_numpy()
        fitter = CoxPHFitter(penalizer=self.penalizer, alpha=1 - self.confidence)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                fitter.fit(
                    fit_frame, duration_col="_duration", event_col="_event", strata=self.strata or None,
                    cluster_col=self.cluster_col, formula=formula,
                )
            except Exception as error:  # noqa: BLE001 - lifelines: ConvergenceError, LinAlgError, ValueError...
                raise ModelError(f"{kind}: the fit failed ({type(error).__name__}); check collinear or constant covariates") from None
        summary = self._summary_from(fitter)
        statistics: dict[str, Any] = {
            "nobs": len(fit_frame),
            "events": int(events.sum()),
            "dropped_missing": dropped,
            "log_likelihood": float(fitter.log_likelihood_),
            "concordance": float(fitter.concordance_index_),
            "partial_aic": float(fitter.AIC_partial_),
            "ties": "efron",
            "covariance": f"cluster-robust by {self.cluster_col}" if self.cluster_col else "model-based",
            "clusters": int(frame[self.cluster_col].nunique()) if self.cluster_col else None,
            "strata": ", ".join(self.strata) or None,
        }
        extra: dict[str, pd.DataFrame] = {}
        if self.check_assumptions:
            extra["proportional_hazards"], statistics["ph_test"] = self._ph_test(fitter, fit_frame)
        lines = _captured(caught)
        if lines:
            statistics["warnings"] = " | ".join(lines)
        rhs = self.formula if self.formula is not None else " + ".join(self.covariates or [])
        by = f", strata {', '.join(self.strata)}" if self.strata else ""
        title = f"Cox PH: {self.duration}, {self.event} ~ {rhs}{by}"
        return ModelResults(model=kind, summary=summary, statistics=statistics, title=title, confidence=self.confidence,
                            extra=extra, native=fitter)

    def _summary_from(self, fitter: Any) -> pd.DataFrame:
        table = fitter.summary
        lower = next(c for c in table.columns if c.startswith("coef lower"))
        upper = next(c for c in table.columns if c.startswith("coef upper"))
        summary = pd.DataFrame(
            {
                "estimate": table["coef"].to_numpy(dtype="float64"),
                "std_error": table["se(coef)"].to_numpy(dtype="float64"),
                "ci_lower": table[lower].to_numpy(dtype="float64"),
                "ci_upper": table[upper].to_numpy(dtype="float64"),
                "p_value": table["p"].to_numpy(dtype="float64"),
                "hazard_ratio": np.exp(table["coef"].to_numpy(dtype="float64")),
                "hr_ci_lower": np.exp(table[lower].to_numpy(dtype="float64")),
                "hr_ci_upper": np.exp(table[upper].to_numpy(dtype="float64")),
                "z": table["z"].to_numpy(dtype="float64"),
            },
            index=pd.Index([str(name) for name in table.index], name="term"),
        )
        return summary

    def _ph_test(self, fitter: Any, fit_frame: pd.DataFrame) -> tuple[pd.DataFrame, str]:
        from lifelines.statistics import proportional_hazard_test

        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                result = proportional_hazard_test(fitter, fit_frame, time_transform=self.time_transform)
        except Exception as error:  # noqa: BLE001 - the test can fail where the fit did not (a tiny stratum)
            empty = pd.DataFrame(columns=["test_statistic", "df", "p_value", "time_transform"])
            return empty, f"failed ({type(error).__name__})"
        table = result.summary
        frame = pd.DataFrame(
            {
                "test_statistic": table["test_statistic"].to_numpy(dtype="float64"),
                "df": 1,
                "p_value": table["p"].to_numpy(dtype="float64"),
                "time_transform": self.time_transform,
            },
            index=pd.Index([str(name) for name in table.index], name="term"),
        )
        smallest = float(frame["p_value"].min()) if len(frame) else float("nan")
        return frame, f"Grambsch-Therneau ({self.time_transform}); smallest p = {smallest:.3g}"


# ------------------------------------------------------------------------------------ time-varying Cox
@register("cox_time_varying")
class CoxTimeVarying(Model):
    """Cox model on start/stop rows (lifelines ``CoxTimeVaryingFitter``) with a cluster bootstrap.

    Parameters
    ----------
    covariates : sequence of str, optional, keyword-only
        Covariate columns (as :class:`CoxPH`); or ``formula``.
    formula : str, optional, keyword-only
    id_col, start, stop, event : str, keyword-only
        The long format of :func:`proximite.cohort.survival_table` with ``time_varying=True``.
    strata : str or sequence of str, optional, keyword-only
    cluster_col : str, optional, keyword-only
        Resampling unit of the bootstrap (default ``id_col``: subjects); ``family_id`` for needs
        clustered in families.
    n_boot : int, keyword-only
        Bootstrap replicates (default 200).
    seed : int, keyword-only
        Seed of the bootstrap (the same seed gives the same intervals).
    penalizer : float, keyword-only
    confidence : float, keyword-only

    Notes
    -----
    :math:`h(t \\mid x(t)) = h_0(t) \\exp(x(t)^\\top \\beta)`; :math:`\\hat\\beta` maximises the
    partial likelihood over the risk sets of the start/stop rows. lifelines gives no robust
    variance here, so clusters are resampled with replacement :math:`B` times (a copy of a
    cluster gets new subject ids), :math:`\\hat\\beta^{*}_b` refitted; ``std_error`` =
    :math:`\\operatorname{sd}_b(\\hat\\beta^{*}_b)`, ``ci_lower``/``ci_upper`` = the
    :math:`\\alpha/2` and :math:`1 - \\alpha/2` percentiles, ``p_value`` = Wald
    :math:`2\\,(1 - \\Phi(|\\hat\\beta| / \\mathrm{SE}))` with the bootstrap SE. Replicates whose
    fit fails are left out and counted (``boot_failed``). Also ``std_error_model`` (lifelines'
    model-based SE), ``hazard_ratio`` and its interval.
    """

    def __init__(
        self,
        *,
        covariates: Sequence[str] | None = None,
        formula: str | None = None,
        id_col: str = "id",
        start: str = "start",
        stop: str = "stop",
        event: str = "event",
        strata: str | Sequence[str] | None = None,
        cluster_col: str | None = None,
        n_boot: int = 200,
        seed: int = DEFAULT_SEED,
        penalizer: float = 0.0,
        confidence: float = 0.95,
    ) -> None:
        if (covariates is None) == (formula is None):
            raise ModelError("cox_time_varying: give exactly one of the options covariates and formula")
        if int(n_boot) < 2:
            raise ModelError("cox_time_varying: option n_boot must be at least 2")
        _check_confidence("cox_time_varying", confidence)
        self.covariates = list(covariates) if covariates is not None else None
        self.formula = formula
        self.id_col = id_col
        self.start = start
        self.stop = stop
        self.event = event
        self.strata = _as_list(strata)
        self.cluster_col = cluster_col
        self.n_boot = int(n_boot)
        self.seed = int(seed)
        self.penalizer = float(penalizer)
        self.confidence = float(confidence)

    def _fit_once(self, frame: pd.DataFrame, formula: str | None) -> Any:
        from lifelines import CoxTimeVaryingFitter

        fitter = CoxTimeVaryingFitter(penalizer=self.penalizer, alpha=1 - self.confidence)
        fitter.fit(frame, event_col="_event", start_col="_start", stop_col="_stop", id_col="_id",
                   strata=self.strata or None, formula=formula)
        return fitter

    def fit(self, data: pd.DataFrame) -> ModelResults:
        """Fit on the start/stop rows of ``data`` (not modified), then bootstrap the clusters."""
        kind = self.kind
        cluster = self.cluster_col or self.id_col
        variables = self.covariates if self.covariates is not None else _formula_columns(data, self.formula or "")
        needed = [self.id_col, self.start, self.stop, self.event, *variables, *self.strata, cluster]
        _require(kind, data, needed)
        frame, dropped = _complete(kind, data, needed)
        start = _durations(kind, frame, self.start)
        stop = _durations(kind, frame, self.stop)
        if (stop <= start).any():
            raise ModelError(f"{kind}: {int((stop <= start).sum())} row(s) have {self.stop!r} <= {self.start!r}")
        events = _events(kind, frame, self.event)
        ids = pd.factorize(frame[self.id_col].astype(str))[0]
        fit_frame = pd.DataFrame({"_id": ids, "_start": start, "_stop": stop, "_event": events})
        if self.covariates is not None:
            design, _ = _design(kind, frame, self.covariates)
            fit_frame = pd.concat([fit_frame, design], axis=1)
            formula = None
        else:
            fit_frame = pd.concat([fit_frame, _plain_frame(frame[variables])], axis=1)
            formula = self.formula
        for column in self.strata:
            if column not in fit_frame.columns:
                fit_frame[column] = frame[column].astype(str).to_numpy()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                fitter = self._fit_once(fit_frame, formula)
            except Exception as error:  # noqa: BLE001 - lifelines raises several kinds
                raise ModelError(f"{kind}: the fit failed ({type(error).__name__}); check collinear or constant covariates") from None
        estimate = fitter.params_.to_numpy(dtype="float64")
        names = [str(name) for name in fitter.params_.index]

        clusters = pd.factorize(frame[cluster].astype(str))[0]
        order = np.argsort(clusters, kind="stable")
        sizes = np.bincount(clusters)
        offsets = np.concatenate([[0], np.cumsum(sizes)])
        n_clusters = len(sizes)
        rng = np.random.default_rng(self.seed)
        draws: list[np.ndarray] = []
        failed = 0
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for _ in range(self.n_boot):
                chosen = rng.integers(0, n_clusters, n_clusters)
                rows = np.concatenate([order[offsets[c]:offsets[c + 1]] for c in chosen])
                copy_number = np.repeat(np.arange(n_clusters), sizes[chosen])
                sample = fit_frame.iloc[rows].reset_index(drop=True)
                sample["_id"] = copy_number * (int(ids.max()) + 1) + sample["_id"].to_numpy()
                try:
                    boot = self._fit_once(sample, formula)
                    values = boot.params_.reindex(fitter.params_.index).to_numpy(dtype="float64")
                    if not np.isfinite(values).all():
                        raise ValueError
                    draws.append(values)
                except Exception:  # noqa: BLE001 - a replicate without events or with a constant column
                    failed += 1
        if len(draws) < 2:
            raise ModelError(f"{kind}: only {len(draws)} of {self.n_boot} bootstrap fits succeeded")
        boot = np.vstack(draws)
        alpha = 1 - self.confidence
        error = boot.std(axis=0, ddof=1)
        low = np.quantile(boot, alpha / 2, axis=0)
        high = np.quantile(boot, 1 - alpha / 2, axis=0)
        summary = pd.DataFrame(
            {
                "estimate": estimate,
                "std_error": error,
                "ci_lower": low,
                "ci_upper": high,
                "p_value": [_wald_p(b, s) for b, s in zip(estimate, error, strict=True)],
                "std_error_model": fitter.standard_errors_.to_numpy(dtype="float64"),
                "hazard_ratio": np.exp(estimate),
                "hr_ci_lower": np.exp(low),
                "hr_ci_upper": np.exp(high),
            },
            index=pd.Index(names, name="term"),
        )
        statistics: dict[str, Any] = {
            "nobs": len(fit_frame),
            "subjects": len(np.unique(ids)),
            "events": int(events.sum()),
            "dropped_missing": dropped,
            "log_likelihood": float(fitter.log_likelihood_),
            "covariance": f"cluster bootstrap by {cluster}",
            "clusters": n_clusters,
            "n_boot": self.n_boot,
            "boot_failed": failed,
            "seed": self.seed,
        }
        lines = _captured(caught)
        if lines:
            statistics["warnings"] = " | ".join(lines)
        rhs = self.formula if self.formula is not None else " + ".join(self.covariates or [])
        title = f"Time-varying Cox: ({self.start}, {self.stop}], {self.event} ~ {rhs}"
        return ModelResults(model=kind, summary=summary, statistics=statistics, title=title, confidence=self.confidence,
                            extra={}, native=fitter)


# ------------------------------------------------------------------------------------ Aalen–Johansen
def _default_times(duration: str) -> list[float]:
    """3, 6 and 12 months in the unit of the duration column (months if its name ends so, else days)."""
    months = [3.0, 6.0, 12.0]
    return months if duration.endswith("months") else [m * DAYS_PER_MONTH for m in months]


@register("aalen_johansen")
class AalenJohansen(Model):
    """Cumulative incidence with a competing event (lifelines ``AalenJohansenFitter``).

    Parameters
    ----------
    duration : str, keyword-only
    event_type : str, keyword-only
        0 censored, ``event_of_interest``, ``competing`` (other codes are refused).
    event_of_interest, competing : int, keyword-only
        Codes (default 1 and 2).
    strata : str or sequence of str, optional, keyword-only
    times : sequence of float, optional, keyword-only
        Report the cumulative incidence at these times (unit of ``duration``); default 3, 6 and
        12 months (91.3125, 182.625, 365.25 days when ``duration`` is in days).
    seed : int, keyword-only
        Seed of lifelines' jitter of tied times (the same seed gives the same figures).
    confidence : float, keyword-only

    Notes
    -----
    With :math:`\\hat S` the all-cause Kaplan–Meier survival,
    :math:`\\widehat{F}_k(t) = \\sum_{t_i \\le t} \\hat S(t_{i-1})\\, d_{ki} / n_i` for the event
    of interest :math:`k`. lifelines breaks tied times by a small random jitter (seeded here).
    Summary rows ``cif(t=<t>)`` for the event of interest and ``cif_competing(t=<t>)`` for the
    competing one (suffixed ``| <stratum>``); ``std_error`` is the square root of lifelines'
    variance, the interval lifelines' (log(−log) transformed); ``p_value`` NaN. Extra table
    ``cumulative_incidence`` (``stratum``, ``time``, ``value``, ``ci_lower``, ``ci_upper``)
    for the event of interest.
    """

    def __init__(
        self,
        *,
        duration: str = "duration",
        event_type: str = "event_type",
        event_of_interest: int = 1,
        competing: int = 2,
        strata: str | Sequence[str] | None = None,
        times: Sequence[float] | None = None,
        seed: int = DEFAULT_SEED,
        confidence: float = 0.95,
    ) -> None:
        _check_confidence("aalen_johansen", confidence)
        if int(event_of_interest) in (0, int(competing)):
            raise ModelError("aalen_johansen: option event_of_interest must differ from 0 and from competing")
        self.duration = duration
        self.event_type = event_type
        self.event_of_interest = int(event_of_interest)
        self.competing = int(competing)
        self.strata = _as_list(strata)
        self.times = [float(t) for t in times] if times is not None else _default_times(duration)
        self.seed = int(seed)
        self.confidence = float(confidence)

    def _fit_one(self, durations: np.ndarray, codes: np.ndarray, interest: int) -> Any:
        from lifelines import AalenJohansenFitter

        fitter = AalenJohansenFitter(seed=self.seed, alpha=1 - self.confidence)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fitter.fit(durations, codes, event_of_interest=interest)
        return fitter

    def fit(self, data: pd.DataFrame) -> SurvivalResults:
        """Fit the cumulative incidences on ``data`` (not modified)."""
        kind = self.kind
        _require(kind, data, [self.duration, self.event_type, *self.strata])
        frame, dropped = _complete(kind, data, [self.duration, self.event_type, *self.strata])
        rows: list[dict[str, Any]] = []
        curves: list[pd.DataFrame] = []
        natives: dict[str, Any] = {}
        ties = 0
        for label, group in _groups(frame, self.strata):
            durations = _durations(kind, group, self.duration)
            codes = _events(kind, group, self.event_type, allowed=(0, self.event_of_interest, self.competing))
            observed = durations[codes > 0]
            ties += int(len(observed) - len(np.unique(observed)))
            n = len(group)
            for base, interest in (("cif", self.event_of_interest), ("cif_competing", self.competing)):
                count = int((codes == interest).sum())
                if count == 0:
                    for t in self.times:
                        rows.append(self._row(f"{base}(t={_format_time(t)})", label, 0.0, float("nan"), 0.0, 0.0, n, count, t))
                    continue
                fitter = self._fit_one(durations, codes, interest)
                cif = fitter.cumulative_density_.iloc[:, 0]
                variance = fitter.variance_
                bounds = np.sort(fitter.confidence_interval_.to_numpy(dtype="float64"), axis=1)
                lower = pd.Series(bounds[:, 0], index=fitter.confidence_interval_.index)
                upper = pd.Series(bounds[:, 1], index=fitter.confidence_interval_.index)
                for t in self.times:
                    value = _step_at(cif, t)
                    error = math.sqrt(max(_step_at(variance, t), 0.0)) if np.isfinite(_step_at(variance, t)) else float("nan")
                    rows.append(self._row(f"{base}(t={_format_time(t)})", label, value, error, _step_at(lower, t), _step_at(upper, t), n, count, t))
                if interest == self.event_of_interest:
                    natives[label] = fitter
                    curves.append(pd.DataFrame({"stratum": label, "time": cif.index.to_numpy(dtype="float64"),
                                                "value": cif.to_numpy(dtype="float64"), "ci_lower": bounds[:, 0], "ci_upper": bounds[:, 1]}))
        statistics: dict[str, Any] = {
            "nobs": len(frame),
            "events": int((_events(kind, frame, self.event_type, allowed=(0, self.event_of_interest, self.competing)) == self.event_of_interest).sum()),
            "competing_events": int((frame[self.event_type].astype("float64") == self.competing).sum()),
            "dropped_missing": dropped,
            "tied_event_times": ties,
            "seed": self.seed,
            "time_column": self.duration,
        }
        by = f" by {', '.join(self.strata)}" if self.strata else ""
        title = f"Aalen-Johansen cumulative incidence of {self.event_type}={self.event_of_interest} (competing {self.competing}) over {self.duration}{by}"
        extra = {"cumulative_incidence": pd.concat(curves, ignore_index=True)} if curves else {}
        return SurvivalResults(model=kind, summary=_summary(rows), statistics=statistics, title=title, confidence=self.confidence,
                               extra=extra, native=natives, curve="cumulative_incidence" if curves else "")

    @staticmethod
    def _row(term: str, label: str, value: float, error: float, low: float, high: float, n: int, events: int, t: float) -> dict[str, Any]:
        return {"term": _term(term, label), "estimate": value, "std_error": error, "ci_lower": low, "ci_upper": high,
                "p_value": float("nan"), "n": n, "events": events, "stratum": label, "time": t}


# ------------------------------------------------------------------------------------ RMST
def rmst_area(durations: np.ndarray, events: np.ndarray, *, tau: float) -> float:
    """Area under the Kaplan–Meier curve from 0 to ``tau``.

    Parameters
    ----------
    durations : array of float
        Times (≥ 0).
    events : array of int
        1 event, 0 censored.
    tau : float, keyword-only
        Restriction time (> 0).

    Returns
    -------
    float

    Notes
    -----
    :math:`\\mathrm{RMST}(\\tau) = \\int_0^\\tau \\hat S(t)\\,dt = \\sum_j \\hat S(t_{j-1})\\,(\\min(t_j, \\tau) - t_{j-1})`
    over the event times :math:`t_j \\le \\tau` (with :math:`t_0 = 0`, the last piece ending at
    :math:`\\tau`); equal to lifelines' ``restricted_mean_survival_time`` of a fitted KM.
    """
    durations = np.asarray(durations, dtype="float64")
    events = np.asarray(events, dtype="float64")
    if durations.size == 0:
        return float("nan")
    order = np.argsort(durations, kind="stable")
    durations, events = durations[order], events[order]
    times, first = np.unique(durations, return_index=True)
    at_risk = durations.size - first
    deaths = np.add.reduceat(events, first)
    keep = (deaths > 0) & (times <= tau)
    survival = np.cumprod(1.0 - deaths[keep] / at_risk[keep])
    knots = np.concatenate([[0.0], times[keep], [tau]])
    levels = np.concatenate([[1.0], survival])
    return float(np.sum(levels * np.diff(knots)))


@register("rmst")
class RMST(Model):
    """Restricted mean survival time up to ``tau``, per stratum and differences, bootstrap CIs.

    Parameters
    ----------
    tau : float, keyword-only
        Restriction time (unit of ``duration``), > 0.
    duration, event : str, keyword-only
    strata : str, optional, keyword-only
        One RMST per value; differences of each value against ``reference``.
    reference : str, optional, keyword-only
        Reference value of ``strata`` (default: the first in sorted order).
    cluster_col : str, optional, keyword-only
        Resample these clusters (e.g. ``family_id`` for needs) instead of rows within strata.
    n_boot : int, keyword-only
        Bootstrap replicates (default 500).
    seed : int, keyword-only
    confidence : float, keyword-only

    Notes
    -----
    :math:`\\mathrm{RMST}_g(\\tau) = \\int_0^\\tau \\hat S_g(t)\\,dt` (:func:`rmst_area`);
    difference :math:`\\Delta_g = \\mathrm{RMST}_g - \\mathrm{RMST}_{ref}`. Intervals are
    bootstrap percentiles (rows resampled within each stratum, or clusters across the data);
    ``std_error`` is the bootstrap SD and the ``p_value`` of a difference the Wald
    :math:`2(1 - \\Phi(|\\Delta| / \\mathrm{SE}))` (NaN for a single RMST). Rows:
    ``rmst(tau=<tau>)`` (``| <stratum>``) and ``rmst_difference(tau=<tau>) | <g> - <ref>``.
    """

    def __init__(
        self,
        *,
        tau: float,
        duration: str = "duration",
        event: str = "event",
        strata: str | None = None,
        reference: str | None = None,
        cluster_col: str | None = None,
        n_boot: int = 500,
        seed: int = DEFAULT_SEED,
        confidence: float = 0.95,
    ) -> None:
        if not (isinstance(tau, int | float) and math.isfinite(tau) and tau > 0):
            raise ModelError("rmst: option tau must be a positive number")
        if int(n_boot) < 2:
            raise ModelError("rmst: option n_boot must be at least 2")
        if strata is not None and not isinstance(strata, str):
            raise ModelError("rmst: option strata must be one column name")
        if reference is not None and strata is None:
            raise ModelError("rmst: option reference needs strata")
        _check_confidence("rmst", confidence)
        self.tau = float(tau)
        self.duration = duration
        self.event = event
        self.strata = strata
        self.reference = reference
        self.cluster_col = cluster_col
        self.n_boot = int(n_boot)
        self.seed = int(seed)
        self.confidence = float(confidence)

    def fit(self, data: pd.DataFrame) -> ModelResults:
        """Estimate the RMSTs and bootstrap them on ``data`` (not modified)."""
        kind = self.kind
        columns = [self.duration, self.event, *([self.strata] if self.strata else []), *([self.cluster_col] if self.cluster_col else [])]
        _require(kind, data, columns)
        frame, dropped = _complete(kind, data, columns)
        durations = _durations(kind, frame, self.duration)
        events = _events(kind, frame, self.event)
        if self.strata:
            groups = frame[self.strata].astype(str).to_numpy()
            levels = sorted(set(groups))
        else:
            groups = np.full(len(frame), "", dtype=object)
            levels = [""]
        reference = self.reference if self.reference is not None else levels[0]
        if self.strata and reference not in levels:
            raise ModelError(f"rmst: the reference is not a value of the column {self.strata!r}")
        codes = np.searchsorted(np.array(levels, dtype=object), groups)

        def estimate(rows: np.ndarray) -> np.ndarray:
            values = np.full(len(levels), np.nan)
            for position in range(len(levels)):
                chosen = rows[codes[rows] == position]
                if chosen.size:
                    values[position] = rmst_area(durations[chosen], events[chosen], tau=self.tau)
            return values

        everything = np.arange(len(frame))
        point = estimate(everything)
        rng = np.random.default_rng(self.seed)
        if self.cluster_col:
            clusters = pd.factorize(frame[self.cluster_col].astype(str))[0]
            order = np.argsort(clusters, kind="stable")
            sizes = np.bincount(clusters)
            offsets = np.concatenate([[0], np.cumsum(sizes)])
        members = [np.flatnonzero(codes == position) for position in range(len(levels))]
        boot = np.empty((self.n_boot, len(levels)))
        for b in range(self.n_boot):
            if self.cluster_col:
                chosen = rng.integers(0, len(sizes), len(sizes))
                rows = np.concatenate([order[offsets[c]:offsets[c + 1]] for c in chosen])
            else:
                rows = np.concatenate([member[rng.integers(0, member.size, member.size)] for member in members])
            boot[b] = estimate(rows)
        alpha = 1 - self.confidence
        tau_text = _format_time(self.tau)
        summary_rows: list[dict[str, Any]] = []
        for position, level in enumerate(levels):
            label = f"{self.strata}={level}" if self.strata else ""
            draws = boot[:, position][np.isfinite(boot[:, position])]
            mask = codes == position
            summary_rows.append(self._row(f"rmst(tau={tau_text})", label, point[position], draws, alpha, float("nan"),
                                          n=int(mask.sum()), events=int(events[mask].sum())))
        ref = levels.index(reference)
        for position, level in enumerate(levels):
            if position == ref:
                continue
            diff = boot[:, position] - boot[:, ref]
            draws = diff[np.isfinite(diff)]
            value = point[position] - point[ref]
            error = float(draws.std(ddof=1)) if draws.size > 1 else float("nan")
            label = f"{self.strata}={level} - {self.strata}={reference}"
            summary_rows.append(self._row(f"rmst_difference(tau={tau_text})", label, value, draws, alpha, _wald_p(value, error),
                                          n=int(((codes == position) | (codes == ref)).sum()),
                                          events=int(events[(codes == position) | (codes == ref)].sum())))
        statistics: dict[str, Any] = {
            "nobs": len(frame),
            "events": int(events.sum()),
            "dropped_missing": dropped,
            "tau": self.tau,
            "n_boot": self.n_boot,
            "seed": self.seed,
            "bootstrap": f"clusters by {self.cluster_col}" if self.cluster_col else ("rows within strata" if self.strata else "rows"),
            "reference": f"{self.strata}={reference}" if self.strata else None,
        }
        by = f" by {self.strata}" if self.strata else ""
        title = f"RMST up to {tau_text} of {self.event} over {self.duration}{by}"
        return ModelResults(model=kind, summary=_summary(summary_rows), statistics=statistics, title=title,
                            confidence=self.confidence, extra={}, native=None)

    @staticmethod
    def _row(term: str, label: str, value: float, draws: np.ndarray, alpha: float, p_value: float, *, n: int, events: int) -> dict[str, Any]:
        enough = draws.size > 1
        return {
            "term": _term(term, label),
            "estimate": float(value),
            "std_error": float(draws.std(ddof=1)) if enough else float("nan"),
            "ci_lower": float(np.quantile(draws, alpha / 2)) if enough else float("nan"),
            "ci_upper": float(np.quantile(draws, 1 - alpha / 2)) if enough else float("nan"),
            "p_value": p_value,
            "n": n,
            "events": events,
            "stratum": label,
        }

