"""Implementation: PTP time by component and action type, travel, supervision and turnover.

Indicators (ids of ``cohort/codebook/indicators.yaml``), per registry period and for the whole
follow-up (period ``all``), at every scope and stratum:

- ``implementation.ptp_hours``: Σ activity minutes / 60, with breakdown ``all``, ``component``
  (each component) and ``action_type`` (each action type);
- ``implementation.travel_share``: travel time / (activity time + travel time), with a ratio
  interval clustered by worker;
- ``implementation.supervision_hours_per_month``: supervision and training hours per month of
  PTP tenure;
- ``implementation.worker_turnover``: PTP departures per PTP-year in post, exact Poisson interval.

Numerators and denominators are sums, so they add up along territory → region → Québec. The
functions here do no I/O and never modify their inputs.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property

import numpy as np
import pandas as pd
from scipy import stats

from proximite.cohort.codebook import load_codebook
from proximite.indicators.base import (
    ALL,
    SCOPE_KEYS,
    IndicatorParameters,
    assign_periods,
    empty_indicator_frame,
    expand_scopes,
    indicator_frame,
    poisson_rate_interval,
    registry_span,
    session_territories,
)

__all__ = [
    "INDICATORS",
    "ImplementationData",
    "compute",
    "ptp_hours",
    "ratio_interval",
    "supervision_hours_per_month",
    "tenure_exposure",
    "travel_share",
    "worker_turnover",
]

#: The indicator ids this module emits, in the order :func:`compute` returns them.
INDICATORS: tuple[str, ...] = (
    "implementation.ptp_hours",
    "implementation.travel_share",
    "implementation.supervision_hours_per_month",
    "implementation.worker_turnover",
)

#: Days in an average month and year (tenure overlaps are counted in days).
DAYS_PER_YEAR = 365.25
DAYS_PER_MONTH = DAYS_PER_YEAR / 12

_CELL = [*SCOPE_KEYS, "period"]
_OUTPUT = [
    "scope", "scope_id", "stratum", "stratum_value", "period", "period_start", "period_end", "breakdown",
    "breakdown_value", "indicator", "numerator", "denominator", "value", "ci_low", "ci_high", "n", "unit", "method",
]


# ---------------------------------------------------------------------------- public helpers
def ratio_interval(
    y: np.ndarray,
    x: np.ndarray,
    clusters: int | np.ndarray,
    *,
    sums: tuple[np.ndarray, np.ndarray, np.ndarray],
    confidence: float = 0.95,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ratio estimator :math:`R = Y / X` with a cluster-robust interval (vectorised over cells).

    Parameters
    ----------
    y, x : ndarray
        Totals :math:`Y = \\sum_g y_g` and :math:`X = \\sum_g x_g` of each cell.
    clusters : int or ndarray
        Number of clusters :math:`G` of each cell.
    sums : (ndarray, ndarray, ndarray), keyword-only
        :math:`\\sum_g y_g^2`, :math:`\\sum_g y_g x_g` and :math:`\\sum_g x_g^2` of each cell.
    confidence : float, keyword-only

    Returns
    -------
    (ndarray, ndarray, ndarray)
        :math:`R`, lower and upper bounds (NaN where :math:`G < 2` or :math:`X = 0`).

    Notes
    -----
    The linearised (delta-method) variance of a ratio with cluster totals
    :math:`(y_g, x_g)`:

    .. math:: \\widehat{\\mathrm{Var}}(R) = \\frac{G}{G-1}\\,\\frac{\\sum_g (y_g - R x_g)^2}{X^2},
              \\qquad \\sum_g (y_g - R x_g)^2 = \\sum y_g^2 - 2R\\sum y_g x_g + R^2 \\sum x_g^2

    and the interval is :math:`R \\pm t_{G-1}\\,\\mathrm{SE}`. This is the ratio estimator of
    survey sampling with the small-sample factor :math:`G/(G-1)`, and the same as the
    cluster-robust weighted least squares of :math:`y_i` on :math:`x_i` without intercept and
    weights :math:`1/x_i` (statsmodels ``WLS(...).fit(cov_type="cluster", use_t=True)``).
    """
    y = np.asarray(y, dtype="float64")
    x = np.asarray(x, dtype="float64")
    g = np.asarray(clusters, dtype="float64")
    syy, syx, sxx = (np.asarray(s, dtype="float64") for s in sums)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(x > 0, y / x, np.nan)
        residual = np.maximum(syy - 2 * ratio * syx + ratio**2 * sxx, 0.0)
        se = np.sqrt(g / (g - 1) * residual) / x
        t = np.where(g >= 2, stats.t.ppf(0.5 + confidence / 2, np.maximum(g - 1, 1)), np.nan)
        low = np.where((g >= 2) & (x > 0), ratio - t * se, np.nan)
        high = np.where((g >= 2) & (x > 0), ratio + t * se, np.nan)
    return ratio, low, high


def tenure_exposure(worker: pd.DataFrame, periods: pd.DataFrame) -> pd.DataFrame:
    """Days each tenure is in post in each period, and whether it ends there (a departure).

    Parameters
    ----------
    worker : DataFrame
        The harmonised worker table (``worker_id``, ``territory_id``, ``start_date``,
        ``end_date``; a missing end = still in post).
    periods : DataFrame
        ``period``, ``period_start``, ``period_end`` (inclusive dates).

    Returns
    -------
    DataFrame
        ``territory_id``, ``worker_id``, ``period``, ``days`` (> 0) and ``departure`` (0 or 1),
        one row per tenure and period it overlaps.

    Notes
    -----
    :math:`\\text{days} = \\min(e, P_e) - \\max(s, P_s) + 1` for a tenure :math:`[s, e]`
    (:math:`e = P_e` when missing) and a period :math:`[P_s, P_e]`; a departure is an end date
    within the period.
    """
    tenures = pd.DataFrame(
        {
            "territory_id": worker["territory_id"].astype("string").to_numpy(),
            "worker_id": worker["worker_id"].astype("string").to_numpy(),
            "start": pd.to_datetime(worker["start_date"]).to_numpy(dtype="datetime64[ns]"),
            "end": pd.to_datetime(worker["end_date"]).to_numpy(dtype="datetime64[ns]"),
        }
    )
    start = tenures["start"].to_numpy()[:, None]
    end = tenures["end"].to_numpy()[:, None]
    p_start = periods["period_start"].to_numpy(dtype="datetime64[ns]")[None, :]
    p_end = periods["period_end"].to_numpy(dtype="datetime64[ns]")[None, :]
    open_end = np.where(pd.isna(end), p_end, np.minimum(end, p_end))
    days = (open_end - np.maximum(start, p_start)) / np.timedelta64(1, "D") + 1
    departure = ~pd.isna(end) & (end >= p_start) & (end <= p_end)
    rows, cols = np.nonzero(days > 0)
    return pd.DataFrame(
        {
            "territory_id": tenures["territory_id"].to_numpy()[rows],
            "worker_id": tenures["worker_id"].to_numpy()[rows],
            "period": periods["period"].astype("string").to_numpy()[cols],
            "days": days[rows, cols],
            "departure": departure[rows, cols].astype("int64"),
        }
    ).astype({"territory_id": "string", "worker_id": "string", "period": "string"})


# ---------------------------------------------------------------------------- inputs
def _registry_span(
    tables: Mapping[str, pd.DataFrame], parameters: IndicatorParameters
) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """(registry periods, the same plus period ``all``) over the referral and activity dates."""
    span = registry_span(tables, parameters)
    if span is None:
        return None
    periods, first, last = span
    whole = pd.DataFrame({"period": [ALL], "period_start": [first], "period_end": [last]})
    table = pd.concat([periods[["period", "period_start", "period_end"]], whole], ignore_index=True)
    return periods, table.astype({"period": "string"})


def _labelled(frame: pd.DataFrame, dates: pd.Series, periods: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with its registry period (rows outside every period dropped)."""
    labelled = frame.assign(period=assign_periods(dates, periods).astype("category").to_numpy())
    return labelled.loc[labelled["period"].notna()]


def _plus_all(aggregated: pd.DataFrame, keys: list[str], values: list[str]) -> pd.DataFrame:
    """Sums per registry period, plus their total as period ``all`` (periods tile the span)."""
    whole = aggregated.groupby(keys, observed=True, sort=False, dropna=False)[values].sum().reset_index()
    return pd.concat([aggregated, whole.assign(period=ALL)], ignore_index=True)


def _labelled_activities(activity: pd.DataFrame, periods: pd.DataFrame) -> pd.DataFrame:
    """The activities' keys, minutes and travel minutes, with their registry period."""
    # Categorical keys: grouping two million activities by category codes is far faster than by strings.
    acts = pd.DataFrame(
        {
            "territory_id": activity["territory_id"].astype("category").to_numpy(),
            "worker_id": activity["worker_id"].astype("category").to_numpy(),
            "component": activity["component"].astype("category").to_numpy(),
            "action_type": activity["action_type"].astype("category").to_numpy(),
            "minutes": pd.to_numeric(activity["minutes"], errors="coerce").fillna(0).to_numpy(dtype="float64"),
            "travel_minutes": pd.to_numeric(activity["travel_minutes"], errors="coerce").to_numpy(dtype="float64"),
        }
    )
    return _labelled(acts, pd.to_datetime(activity["activity_date"]).reset_index(drop=True), periods)


def _staffing_cells(
    tables: Mapping[str, pd.DataFrame],
    periods: pd.DataFrame,
    period_table: pd.DataFrame,
    parameters: IndicatorParameters,
) -> pd.DataFrame:
    """Per cell and period: tenure days, departures, supervision minutes and sessions, workers."""
    worker, territory = tables["worker"], tables["territory"]
    tenures = tenure_exposure(worker, period_table)
    exposure = tenures.groupby(["territory_id", "period"], observed=True, sort=False).agg(
        days=("days", "sum"), departures=("departure", "sum")
    )
    sessions = session_territories(tables["supervision"], worker).rename(columns={"session_date": "date"})
    sessions = _labelled(sessions, sessions["date"], periods)
    minutes = sessions.groupby(["territory_id", "period"], observed=True, sort=False).agg(
        minutes=("minutes", "sum"), sessions=("minutes", "size")
    )
    minutes = _plus_all(minutes.reset_index(), ["territory_id"], ["minutes", "sessions"])
    per_territory = exposure.join(minutes.set_index(["territory_id", "period"]), how="outer").fillna(0).reset_index()
    expanded = expand_scopes(per_territory, territory, strata=parameters.strata, scopes=parameters.scopes)
    # Counting workers again per cell: a worker id may hold tenures in two territories of a cell.
    workers = (
        expand_scopes(tenures, territory, strata=parameters.strata, scopes=parameters.scopes)
        .groupby(_CELL, observed=True, sort=False)["worker_id"]
        .nunique()
        .rename("workers")
    )
    cell = expanded.groupby(_CELL, observed=True, sort=False)[["days", "departures", "minutes", "sessions"]].sum()
    cell = cell.join(workers).reset_index()
    cell["workers"] = cell["workers"].fillna(0).astype("int64")
    return cell


class ImplementationData:
    """What the implementation indicators share, computed once on first use.

    Parameters
    ----------
    tables : mapping of str to DataFrame
        Harmonised tables; uses territory, family, referral (for the period span), activity,
        worker and supervision (not modified).
    parameters : IndicatorParameters, keyword-only

    Attributes
    ----------
    span : (DataFrame, DataFrame) or None
        The registry periods (``period``, ``period_start``, ``period_end``, over the referral and
        activity dates) and the same with the period ``all`` (the whole span) last; None when the
        registry has no span.
    activities : DataFrame
        The activities (``territory_id``, ``worker_id``, ``component``, ``action_type``,
        ``minutes`` with missing = 0, ``travel_minutes``) with their registry ``period``;
        activities outside every period are left out. Only read when ``span`` is not None.
    staffing : DataFrame
        Per scope cell and period (registry periods and ``all``): ``days`` (tenure days in post,
        :func:`tenure_exposure`), ``departures``, supervision ``minutes`` and ``sessions``, and
        ``workers`` (distinct worker ids in post). Only read when ``span`` is not None.
    """

    def __init__(self, tables: Mapping[str, pd.DataFrame], *, parameters: IndicatorParameters) -> None:
        self.tables = tables
        self.parameters = parameters

    @cached_property
    def span(self) -> tuple[pd.DataFrame, pd.DataFrame] | None:
        return _registry_span(self.tables, self.parameters)

    @cached_property
    def activities(self) -> pd.DataFrame:
        periods, _ = self.span
        return _labelled_activities(self.tables["activity"], periods)

    @cached_property
    def staffing(self) -> pd.DataFrame:
        periods, period_table = self.span
        return _staffing_cells(self.tables, periods, period_table, self.parameters)


def _data(
    tables: Mapping[str, pd.DataFrame], parameters: IndicatorParameters, data: ImplementationData | None
) -> ImplementationData:
    return ImplementationData(tables, parameters=parameters) if data is None else data


def _finish(rows: pd.DataFrame, indicator: str, data: ImplementationData) -> pd.DataFrame:
    """Indicator rows with the period dates and the catalogue unit."""
    if rows.empty:
        return empty_indicator_frame()
    _, period_table = data.span
    frame = rows.assign(period=rows["period"].astype("string"))
    frame = frame.merge(period_table, on="period", how="left")
    frame["unit"] = load_codebook().indicator(indicator)["unit"]
    return indicator_frame(frame[[c for c in _OUTPUT if c in frame.columns]])


# ---------------------------------------------------------------------------- indicators
def ptp_hours(
    tables: Mapping[str, pd.DataFrame], *, parameters: IndicatorParameters, data: ImplementationData | None = None
) -> pd.DataFrame:
    """``implementation.ptp_hours``: hours of PTP activity, in all, by component and by action type.

    Parameters
    ----------
    tables : mapping of str to DataFrame
        Harmonised tables; uses territory, family, referral (for the period span) and activity
        (not modified).
    parameters : IndicatorParameters, keyword-only
        ``periods``, ``strata``, ``as_of``, ``scopes``.
    data : ImplementationData, keyword-only
        :class:`ImplementationData` of the same tables and parameters, when already built.

    Returns
    -------
    DataFrame
        Indicator rows (:data:`~proximite.indicators.base.INDICATOR_COLUMNS`) per scope cell and
        period (the registry periods and ``all``), breakdowns ``all``, ``component`` and
        ``action_type``.

    Notes
    -----
    .. math:: \\text{hours} = \\sum \\text{minutes} / 60

    over the activities of the cell's territories in the period (value = numerator, no
    interval; ``n`` = activities). Every code of the breakdown gets a row (0 h when absent) in
    each territory and period with activity; the sums add up along the hierarchy.
    """
    data = _data(tables, parameters, data)
    if data.span is None or data.activities.empty:
        return empty_indicator_frame()
    activity, territory = data.activities, tables["territory"]
    codebook = load_codebook()
    pieces = []
    for breakdown, codes in (
        (ALL, [ALL]),
        ("component", codebook.codes("component")),
        ("action_type", codebook.codes("action_type")),
    ):
        keys = ["territory_id", "period"] if breakdown == ALL else ["territory_id", "period", breakdown]
        per = activity.groupby(keys, observed=True, sort=False).agg(minutes=("minutes", "sum"), n=("minutes", "size"))
        per = per.reset_index()
        per["breakdown_value"] = ALL if breakdown == ALL else per[breakdown]
        keys = ["territory_id", "period", "breakdown_value"]
        per = per.astype({key: "string" for key in keys}).set_index(keys)[["minutes", "n"]]
        pieces.append(_every_code(per, codes).assign(breakdown=breakdown))
    per_territory = pd.concat(pieces, ignore_index=True)
    per_territory = _plus_all(per_territory, ["territory_id", "breakdown", "breakdown_value"], ["minutes", "n"])
    expanded = expand_scopes(per_territory, territory, strata=parameters.strata, scopes=parameters.scopes)
    cells = expanded.groupby([*_CELL, "breakdown", "breakdown_value"], observed=True, sort=False)[["minutes", "n"]]
    summary = cells.sum().reset_index()
    hours = summary["minutes"].to_numpy(dtype="float64") / 60
    rows = summary.drop(columns="minutes").assign(
        indicator="implementation.ptp_hours", value=hours, numerator=hours, method="sum of activity minutes / 60"
    )
    return _finish(rows, "implementation.ptp_hours", data)


def _every_code(per: pd.DataFrame, codes: list[str]) -> pd.DataFrame:
    """Sums per (territory, period, code), with a zero row for each code absent from a pair."""
    found = per.index.get_level_values("breakdown_value").unique()
    labels = np.array([*codes, *(c for c in found if c not in codes)], dtype=object)
    pairs = per.index.droplevel("breakdown_value").unique()
    grid = pd.MultiIndex.from_arrays(
        [
            np.repeat(pairs.get_level_values(0).to_numpy(dtype=object), len(labels)),
            np.repeat(pairs.get_level_values(1).to_numpy(dtype=object), len(labels)),
            np.tile(labels, len(pairs)),
        ],
        names=per.index.names,
    )
    return per.reindex(grid, fill_value=0).reset_index()


def travel_share(
    tables: Mapping[str, pd.DataFrame], *, parameters: IndicatorParameters, data: ImplementationData | None = None
) -> pd.DataFrame:
    """``implementation.travel_share``: travel time over activity plus travel time.

    Parameters and returns as :func:`ptp_hours` (``confidence`` sets the interval; breakdown
    ``all``).

    Notes
    -----
    .. math:: R = \\frac{\\sum t}{\\sum (m + t)}

    with :math:`t` the travel minutes (missing = 0) and :math:`m` the activity minutes;
    numerator and denominator in hours. Interval of :func:`ratio_interval` with the workers as
    clusters (a worker id with tenures in two territories of a cell is one cluster), cut to
    [0, 1]; ``n`` = activities.
    """
    data = _data(tables, parameters, data)
    if data.span is None or data.activities.empty:
        return empty_indicator_frame()
    activity, territory = data.activities, tables["territory"]
    travel = pd.to_numeric(activity["travel_minutes"], errors="coerce").fillna(0).astype("float64")
    frame = activity.assign(y=travel.to_numpy(), x=activity["minutes"].to_numpy(dtype="float64") + travel.to_numpy())
    per_worker = (
        frame.groupby(["territory_id", "period", "worker_id"], observed=True, sort=False, dropna=False)
        .agg(y=("y", "sum"), x=("x", "sum"), n=("y", "size"))
        .reset_index()
        .astype({"territory_id": "string", "period": "string", "worker_id": "string"})
    )
    per_worker = _plus_all(per_worker, ["territory_id", "worker_id"], ["y", "x", "n"])
    expanded = expand_scopes(per_worker, territory, strata=parameters.strata, scopes=parameters.scopes)
    # A worker id with tenures in two territories of a cell is one cluster.
    clusters = expanded.groupby([*_CELL, "worker_id"], observed=True, sort=False, dropna=False)[["y", "x", "n"]].sum()
    clusters = clusters.assign(
        yy=clusters["y"] ** 2, yx=clusters["y"] * clusters["x"], xx=clusters["x"] ** 2, g=1
    ).reset_index()
    cell = clusters.groupby(_CELL, observed=True, sort=False)[["y", "x", "n", "yy", "yx", "xx", "g"]].sum()
    cell = cell.reset_index()
    ratio, low, high = ratio_interval(
        cell["y"].to_numpy(), cell["x"].to_numpy(), cell["g"].to_numpy(),
        sums=(cell["yy"].to_numpy(), cell["yx"].to_numpy(), cell["xx"].to_numpy()),
        confidence=parameters.confidence,
    )
    rows = cell[[*_CELL, "n"]].assign(
        indicator="implementation.travel_share",
        numerator=cell["y"].to_numpy() / 60,
        denominator=cell["x"].to_numpy() / 60,
        value=ratio,
        ci_low=np.clip(low, 0, 1),
        ci_high=np.clip(high, 0, 1),
        method="ratio estimator, SE clustered by worker (t interval); missing travel time counts as 0",
    )
    return _finish(rows, "implementation.travel_share", data)


def supervision_hours_per_month(
    tables: Mapping[str, pd.DataFrame], *, parameters: IndicatorParameters, data: ImplementationData | None = None
) -> pd.DataFrame:
    """``implementation.supervision_hours_per_month``: supervision and training hours per PTP-month in post.

    Parameters
    ----------
    tables : mapping of str to DataFrame
        Harmonised tables; uses territory, family, referral and activity (for the period span),
        worker and supervision (not modified).
    parameters : IndicatorParameters, keyword-only
        ``periods``, ``strata``, ``as_of``, ``scopes``.
    data : ImplementationData, keyword-only
        :class:`ImplementationData` of the same tables and parameters, when already built.

    Returns
    -------
    DataFrame
        Indicator rows (:data:`~proximite.indicators.base.INDICATOR_COLUMNS`) per scope cell and
        period (the registry periods and ``all``) with PTP time in post, breakdown ``all``.

    Notes
    -----
    .. math:: \\frac{\\sum \\text{session minutes} / 60}{\\sum \\text{tenure days in the period} / (365.25/12)}

    A session belongs to the territory of its worker's tenure covering its date; tenure days
    come from :func:`tenure_exposure`. No interval; ``n`` = workers in post.
    """
    data = _data(tables, parameters, data)
    if data.span is None:
        return empty_indicator_frame()
    cell = data.staffing
    months = cell["days"].to_numpy(dtype="float64") / DAYS_PER_MONTH
    hours = cell["minutes"].to_numpy(dtype="float64") / 60
    with np.errstate(divide="ignore", invalid="ignore"):
        rows = cell[[*_CELL]].assign(
            indicator="implementation.supervision_hours_per_month",
            numerator=hours,
            denominator=months,
            value=np.where(months > 0, hours / months, np.nan),
            n=cell["workers"].to_numpy(),
            method="supervision session hours / PTP-months in post (tenure days / 30.44)",
        )
    return _finish(rows.loc[months > 0], "implementation.supervision_hours_per_month", data)


def worker_turnover(
    tables: Mapping[str, pd.DataFrame], *, parameters: IndicatorParameters, data: ImplementationData | None = None
) -> pd.DataFrame:
    """``implementation.worker_turnover``: PTP departures per PTP-year in post.

    Parameters and returns as :func:`supervision_hours_per_month` (``confidence`` sets the
    interval).

    Notes
    -----
    .. math:: \\frac{D}{\\sum \\text{tenure days in the period} / 365.25}

    with :math:`D` the tenures whose end date falls within the period (:func:`tenure_exposure`)
    and the exact Poisson interval
    (:func:`~proximite.indicators.base.poisson_rate_interval`); ``n`` = workers in post.
    """
    data = _data(tables, parameters, data)
    if data.span is None:
        return empty_indicator_frame()
    cell = data.staffing
    years = cell["days"].to_numpy(dtype="float64") / DAYS_PER_YEAR
    departures = cell["departures"].to_numpy(dtype="float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        low, high = poisson_rate_interval(departures, years, confidence=parameters.confidence)
        rows = cell[[*_CELL]].assign(
            indicator="implementation.worker_turnover",
            numerator=departures,
            denominator=years,
            value=np.where(years > 0, departures / years, np.nan),
            ci_low=low,
            ci_high=high,
            n=cell["workers"].to_numpy(),
            method="departures / PTP-years in post (tenure days / 365.25), exact Poisson interval",
        )
    return _finish(rows.loc[years > 0], "implementation.worker_turnover", data)


# ---------------------------------------------------------------------------- compute
def compute(tables: Mapping[str, pd.DataFrame], *, parameters: IndicatorParameters) -> pd.DataFrame:
    """The implementation indicators of every scope, stratum and registry period.

    Parameters
    ----------
    tables : mapping of str to DataFrame
        Harmonised tables; uses territory, family, referral (for the period span), activity,
        worker and supervision (not modified).
    parameters : IndicatorParameters, keyword-only
        ``periods``, ``strata``, ``confidence``, ``as_of``, ``scopes`` (the scope levels computed).

    Returns
    -------
    DataFrame
        The rows of :func:`ptp_hours`, :func:`travel_share`, :func:`supervision_hours_per_month`
        and :func:`worker_turnover` (:data:`~proximite.indicators.base.INDICATOR_COLUMNS`).

    Notes
    -----
    Periods are the registry periods over the referral and activity dates, plus ``all`` (the
    whole span); see each function for its formula. Sums are taken over the activities (or
    sessions, or tenure days) of the cell's territories, so numerators and denominators add up
    along the hierarchy. The :class:`ImplementationData` is built once and shared.
    """
    data = ImplementationData(tables, parameters=parameters)
    if data.span is None:
        return empty_indicator_frame()
    frames = [
        indicator(tables, parameters=parameters, data=data)
        for indicator in (ptp_hours, travel_share, supervision_hours_per_month, worker_turnover)
    ]
    frames = [frame for frame in frames if len(frame)]
    if not frames:
        return empty_indicator_frame()
    return indicator_frame(pd.concat(frames, ignore_index=True))
