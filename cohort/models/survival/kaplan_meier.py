"""Kaplan–Meier curves and medians, right-censored or interval-censored (Turnbull)."""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import norm

from proximite.cohort.models.base import Model, ModelError, register
from proximite.cohort.models.survival.common import (
    as_list,
    check_confidence,
    complete_rows,
    durations_of,
    event_codes,
    format_time,
    require_columns,
    step_at,
    strata_groups,
    summary_frame,
    term_name,
)
from proximite.cohort.models.survival.results import SurvivalResults

__all__ = ["KaplanMeier", "km_median", "median_with_interval"]

HALF = 0.5


def _km_fitter(durations: np.ndarray, events: np.ndarray, *, confidence: float, label: str = "km") -> Any:
    from lifelines import KaplanMeierFitter

    return KaplanMeierFitter(alpha=1 - confidence).fit(durations, events, label=label or "km")


def _km_median_ci(durations: np.ndarray, events: np.ndarray, *, confidence: float) -> tuple[float, float, float]:
    """:func:`median_with_interval`, NaN where a curve never falls to one half."""
    return tuple(value if np.isfinite(value) else float("nan")  # type: ignore[return-value]
                 for value in median_with_interval(durations, events, confidence=confidence))


def median_with_interval(duration: np.ndarray, event: np.ndarray, *, confidence: float) -> tuple[float, float, float]:
    """The Kaplan–Meier median and the bounds of its confidence interval.

    Parameters
    ----------
    duration : array of float
        Time at risk of each subject (no missing value).
    event : array of bool
        Whether the subject's duration ends in the event (else it is censored there).
    confidence : float, keyword-only
        The interval's confidence level.

    Returns
    -------
    tuple of float
        ``(median, low, high)``; ``inf`` where the curve (or a bound's curve) never falls to
        one half. ``low`` comes from the lower survival bound, which crosses one half first.

    Notes
    -----
    At the distinct times :math:`t_i` with :math:`d_i` events among :math:`n_i` at risk,

    .. math::

        \\hat S(t_i) = \\prod_{j \\le i} \\Big(1 - \\frac{d_j}{n_j}\\Big), \\qquad
        V_i = \\sum_{j \\le i} \\frac{d_j}{n_j (n_j - d_j)}

    (a term with :math:`n_j = d_j` counts 0), and the bounds are
    :math:`\\exp(-\\exp(\\log(-\\log \\hat S) \\mp z \\sqrt{V} / \\log \\hat S))` (1 where
    :math:`\\hat S = 1`). The curves start at time :math:`\\min(0, \\min t)`. Each median is the
    first time whose value is at most one half, ``inf`` if the curve's last value is above it:
    lifelines' ``KaplanMeierFitter`` with ``median_survival_times`` (the unit tests hold them
    equal on random samples), without a fitter and its frames per call: an indicator fits one
    curve per scope cell, a simulation study one per replicate.
    """
    duration = np.asarray(duration, dtype="float64")
    observed = np.asarray(event, dtype=bool)
    times, index = np.unique(duration, return_inverse=True)
    removed = np.bincount(index, minlength=len(times)).astype("float64")
    deaths = np.bincount(index, weights=observed.astype("float64"), minlength=len(times))
    if times[0] > 0:  # lifelines starts every curve at 0, where nobody leaves
        times = np.concatenate([[0.0], times])
        removed = np.concatenate([[0.0], removed])
        deaths = np.concatenate([[0.0], deaths])
    at_risk = len(duration) - np.concatenate([[0.0], np.cumsum(removed)[:-1]])
    with np.errstate(divide="ignore", invalid="ignore"):
        log_survival = np.cumsum(np.log(at_risk - deaths) - np.log(at_risk))
        terms = deaths / (at_risk * (at_risk - deaths))
        variance = np.cumsum(np.where(np.isinf(terms), 0.0, terms))
        alpha = 1 - confidence  # as lifelines takes it
        z = norm.ppf(1 - alpha / 2)
        spread = z * np.sqrt(variance) / log_survival
        lower = np.exp(-np.exp(np.log(-log_survival) - spread))
        upper = np.exp(-np.exp(np.log(-log_survival) + spread))
    survival = np.exp(log_survival)
    bounds = [_first_at_half(times, np.where(np.isnan(curve), 1.0, curve)) for curve in (lower, upper)]
    return _first_at_half(times, survival), min(bounds), max(bounds)


def _first_at_half(times: np.ndarray, curve: np.ndarray) -> float:
    """The first time at which ``curve`` is at most one half (``inf`` if its last value is above)."""
    if curve[-1] > HALF:
        return float("inf")
    return float(times[np.searchsorted(-curve, -HALF, side="left")])


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
    (``lifelines.utils.median_survival_times``), as the ``needs_offer.time_to_met`` indicator.
    """
    kind = "km_median"
    strata_list = as_list(strata)
    check_confidence(kind, confidence)
    require_columns(kind, table, [duration, event, *strata_list])
    frame, _ = complete_rows(kind, table, [duration, event, *strata_list])
    rows = []
    for label, group in strata_groups(frame, strata_list):
        durations = durations_of(kind, group, duration)
        events = event_codes(kind, group, event)
        median, low, high = _km_median_ci(durations, events, confidence=confidence)
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
        check_confidence("kaplan_meier", confidence)
        self.duration = duration
        self.event = event
        self.strata = as_list(strata)
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
        require_columns(kind, data, columns)
        frame, dropped = complete_rows(kind, data, columns)
        rows: list[dict[str, Any]] = []
        curves: list[pd.DataFrame] = []
        natives: dict[str, Any] = {}
        for label, group in strata_groups(frame, self.strata):
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
                    rows.append(self._row(f"survival(t={format_time(t)})", label, step_at(curve, t), float("nan"), float("nan"), n, events, time=t))
            else:
                durations = durations_of(kind, group, self.duration)
                events_array = event_codes(kind, group, self.event)
                fitter = _km_fitter(durations, events_array, confidence=self.confidence, label=label)
                n, events = len(group), int(events_array.sum())
                median, low, high = _km_median_ci(durations, events_array, confidence=self.confidence)
                rows.append(self._row("median", label, median, low, high, n, events))
                survival = fitter.survival_function_.iloc[:, 0]
                bounds = fitter.confidence_interval_
                table = fitter.event_table
                greenwood = _greenwood(table)
                for t in self.times:
                    estimate = step_at(survival, t)
                    ci = sorted([step_at(bounds.iloc[:, 0], t), step_at(bounds.iloc[:, 1], t)])
                    variance = step_at(greenwood, t)
                    rows.append(self._row(f"survival(t={format_time(t)})", label, estimate, ci[0], ci[1], n, events,
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
        event = self.event if not self.interval_censoring else f"{self.lower}/{self.upper}"
        title = f"Share still without the event '{event}' over '{statistics['time_column']}' (Kaplan–Meier){by}"
        return SurvivalResults(
            model=kind, summary=summary_frame(rows), statistics=statistics, title=title, confidence=self.confidence,
            extra={"survival_curve": pd.concat(curves, ignore_index=True)}, native=natives, curve="survival_curve",
        )

    def _fit_interval(self, group: pd.DataFrame) -> tuple[Any, int, int]:
        from lifelines import KaplanMeierFitter

        kind = self.kind
        lower = durations_of(kind, group, self.lower)
        upper = durations_of(kind, group, self.upper, allow_inf=True)
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
        return {"term": term_name(base, label), "estimate": estimate, "std_error": std_error, "ci_lower": low, "ci_upper": high,
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
