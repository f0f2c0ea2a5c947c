"""What every indicator family shares: the tidy output table, parameters, intervals, scopes, periods.

Every indicator function returns a frame with exactly :data:`INDICATOR_COLUMNS`, one row per
(scope, stratum, wave or period, breakdown, indicator):

- ``scope`` (``quebec``, ``region``, ``territory``) and ``scope_id`` (``QC``, the region code, the
  territory id);
- ``stratum`` (``all``, ``environment``, ``host_type``) and ``stratum_value`` (``all`` or a code);
  a territory has one environment and one host type, so territory rows are ``all`` only;
- ``wave`` (months, nullable) for cohort indicators, ``period`` for registry ones (``all`` for the
  whole follow-up), with ``period_start`` / ``period_end`` (inclusive dates, nullable);
- ``breakdown`` / ``breakdown_value`` (``all`` or, for example, ``need_category`` / ``logement``);
- ``indicator`` (an id of ``cohort/codebook/indicators.yaml``), ``numerator``, ``denominator``,
  ``value``, ``ci_low``, ``ci_high``, ``n`` (the units the value is computed from: families,
  needs, referrals, activities, territories), ``unit`` and ``method``.

The functions here do no I/O and never modify their inputs.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import stats

from proximite.cohort.hierarchy import (
    ALL,
    QUEBEC,
    SCOPE_KEYS,
    SCOPES,
    expand_scopes,
    iter_scopes,
    territory_attributes,
)
from proximite.cohort.tenure import session_territories

if TYPE_CHECKING:  # pragma: no cover
    from proximite.config import Settings

__all__ = [
    "ADJUSTED_INFERENCE",
    "ALL",
    "INDICATOR_COLUMNS",
    "IndicatorParameters",
    "MeanEstimate",
    "QUEBEC",
    "SCOPES",
    "assign_periods",
    "clustered_mean",
    "empty_indicator_frame",
    "expand_scopes",
    "indicator_frame",
    "iter_scopes",
    "poisson_rate_interval",
    "registry_periods",
    "registry_span",
    "summed_shares",
    "territory_attributes",
    "wave_window_close",
    "wave_window_note",
    "wilson_interval",
    "year_periods",
    "SCOPE_KEYS",
    "session_territories",
]


#: Column → pandas dtype of every indicator table, in order.
INDICATOR_DTYPES: dict[str, str] = {
    "scope": "string",
    "scope_id": "string",
    "stratum": "string",
    "stratum_value": "string",
    "wave": "Int64",
    "period": "string",
    "period_start": "datetime64[ns]",
    "period_end": "datetime64[ns]",
    "breakdown": "string",
    "breakdown_value": "string",
    "indicator": "string",
    "numerator": "float64",
    "denominator": "float64",
    "value": "float64",
    "ci_low": "float64",
    "ci_high": "float64",
    "n": "Int64",
    "unit": "string",
    "method": "string",
}
INDICATOR_COLUMNS: list[str] = list(INDICATOR_DTYPES)

#: Defaults of the optional columns when a row does not set them.
_ROW_DEFAULTS: dict[str, Any] = {
    "stratum": ALL,
    "stratum_value": ALL,
    "wave": pd.NA,
    "period": ALL,
    "period_start": pd.NaT,
    "period_end": pd.NaT,
    "breakdown": ALL,
    "breakdown_value": ALL,
    "numerator": np.nan,
    "denominator": np.nan,
    "ci_low": np.nan,
    "ci_high": np.nan,
    "n": pd.NA,
}

#: Sort order of the scope levels.
_SCOPE_ORDER = {scope: rank for rank, scope in enumerate(SCOPES)}


#: Intervals of the adjusted effects: CR2 with Bell–McCaffrey df, the wild cluster bootstrap
#: (percentile-t), or linearmodels' CR1 with the residual df.
ADJUSTED_INFERENCE: tuple[str, ...] = ("cr2", "wild", "cr1")


@dataclass(frozen=True)
class IndicatorParameters:
    """Parameters of the indicators (``[indicators]``, ``[waves]`` and ``[isolation]`` of the config).

    Attributes
    ----------
    waves : tuple of int
        Wave months (T0 first).
    window_days : int
        Half-width of a later wave's window around its due date (first contact + k months).
    baseline_days : int
        T0's window: within this many days of the first contact.
    isolated_threshold : float
        A family is isolated at a wave when its index is at least this.
    meaningful_reduction_points : float
        δ: a fall of the index by at least this many points is a meaningful reduction.
    score_meaningful_change : tuple of (str, float)
        δ of each 1–5 score of the effectiveness family (``empowerment``, ``parental_stress``):
        a move of at least this in the good direction is a meaningful change (default 0.5, half a
        point of the scale, about half a standard deviation of such scales; see
        :meth:`meaningful_change_of`).
    periods : str
        Registry periods: ``"wave"`` (the waves' calendar windows, see :func:`registry_periods`),
        ``"quarter"`` or ``"year"``.
    confidence : float
        Level of every confidence interval.
    strata : tuple of str
        Territory attributes the region and Québec scopes are also split by.
    as_of : datetime.date or None
        End of the data; ``None`` = the latest date found in the tables.
    bootstrap_seed : int
        Seed of any resampling, so the same data give the same intervals.
    scopes : tuple of str
        Scope levels to compute (default all of :data:`SCOPES`); each unit of the fan-out
        (:mod:`proximite.indicators.fanout`) computes one level over the whole tables.
    adjusted_inference : str
        Interval of the adjusted effects (:data:`ADJUSTED_INFERENCE`, ``[indicators]
        adjusted_inference``): ``"cr2"``, ``"wild"`` or ``"cr1"``.
    """

    waves: tuple[int, ...] = (0, 6, 12, 24)
    window_days: int = 45
    baseline_days: int = 30
    isolated_threshold: float = 50.0
    meaningful_reduction_points: float = 10.0
    score_meaningful_change: tuple[tuple[str, float], ...] = (("empowerment", 0.5), ("parental_stress", 0.5))
    periods: str = "wave"
    confidence: float = 0.95
    strata: tuple[str, ...] = ("environment", "host_type")
    as_of: dt.date | None = None
    bootstrap_seed: int = 20240101
    scopes: tuple[str, ...] = SCOPES
    adjusted_inference: str = "cr2"
    extra: Mapping[str, Any] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        if self.periods not in {"wave", "quarter", "year"}:
            raise ValueError(f"indicator periods must be 'wave', 'quarter' or 'year', not {self.periods!r}")
        if not 0 < self.confidence < 1:
            raise ValueError(f"confidence must lie strictly between 0 and 1, not {self.confidence!r}")
        unknown = set(self.scopes) - set(SCOPES)
        if unknown:
            raise ValueError(f"unknown scope(s) {sorted(unknown)}; allowed: {', '.join(SCOPES)}")
        if self.adjusted_inference not in ADJUSTED_INFERENCE:
            raise ValueError(f"adjusted_inference must be one of {', '.join(ADJUSTED_INFERENCE)}, not {self.adjusted_inference!r}")
        if not self.waves or self.waves[0] != 0:
            raise ValueError(f"waves must start at 0 (T0), not {list(self.waves)!r}")

    def meaningful_change_of(self, score: str) -> float:
        """δ of a score (:attr:`score_meaningful_change`); 0.5 for a score it does not name."""
        return dict(self.score_meaningful_change).get(score, 0.5)

    @property
    def z(self) -> float:
        """Standard normal quantile of the two-sided interval."""
        return float(stats.norm.ppf(0.5 + self.confidence / 2))

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> IndicatorParameters:
        """Parameters from a project's settings; keyword arguments override them."""
        section = dict(settings.raw.get("indicators", {}))
        isolation = settings.raw.get("isolation", {})
        waves = settings.raw.get("waves", {})
        values: dict[str, Any] = {
            "waves": tuple(int(month) for month in waves.get("months", cls.waves)),
            "window_days": int(waves.get("window_days", cls.window_days)),
            "baseline_days": int(waves.get("baseline_within_days", cls.baseline_days)),
            "isolated_threshold": float(isolation.get("isolated_threshold", cls.isolated_threshold)),
            "meaningful_reduction_points": float(
                section.get("meaningful_reduction_points", cls.meaningful_reduction_points)
            ),
            "score_meaningful_change": tuple(
                (str(score), float(delta))
                for score, delta in (dict(cls.score_meaningful_change) | dict(section.get("meaningful_change", {}))).items()
            ),
            "periods": str(section.get("periods", cls.periods)),
            "confidence": float(section.get("confidence", cls.confidence)),
            "strata": tuple(section.get("strata", cls.strata)),
            "bootstrap_seed": int(section.get("bootstrap_seed", cls.bootstrap_seed)),
            "adjusted_inference": str(section.get("adjusted_inference", cls.adjusted_inference)),
        }
        if section.get("as_of"):
            values["as_of"] = dt.date.fromisoformat(str(section["as_of"]))
        values.update(overrides)
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        """Plain-Python form (for manifests and run summaries)."""
        return {
            "waves": list(self.waves),
            "window_days": self.window_days,
            "baseline_days": self.baseline_days,
            "isolated_threshold": self.isolated_threshold,
            "meaningful_reduction_points": self.meaningful_reduction_points,
            "periods": self.periods,
            "confidence": self.confidence,
            "strata": list(self.strata),
            "as_of": self.as_of.isoformat() if self.as_of else None,
            "bootstrap_seed": self.bootstrap_seed,
            "scopes": list(self.scopes),
            "adjusted_inference": self.adjusted_inference,
        }


# ---------------------------------------------------------------------------- output table
def indicator_frame(rows: Sequence[Mapping[str, Any]] | pd.DataFrame) -> pd.DataFrame:
    """Normalise indicator rows into a frame with exactly :data:`INDICATOR_COLUMNS`.

    Parameters
    ----------
    rows : sequence of mappings or DataFrame
        Each row needs ``scope``, ``scope_id``, ``indicator``, ``value``, ``unit`` and ``method``;
        the other columns default to ``all`` (labels) or missing (numbers, wave, dates).

    Returns
    -------
    DataFrame
        Typed with :data:`INDICATOR_DTYPES`, sorted by indicator, scope level, scope id, stratum,
        wave, period and breakdown, with a fresh index.

    Raises
    ------
    ValueError
        A required column is missing, or a scope is not one of :data:`SCOPES`.
    """
    frame = rows.copy() if isinstance(rows, pd.DataFrame) else pd.DataFrame(list(rows))
    if frame.empty:
        return empty_indicator_frame()
    required = ["scope", "scope_id", "indicator", "value", "unit", "method"]
    missing = [column for column in required if column not in frame.columns]
    if missing:
        raise ValueError(f"indicator rows lack column(s) {', '.join(missing)}")
    unknown_scopes = set(frame["scope"]) - set(SCOPES)
    if unknown_scopes:
        raise ValueError(f"unknown scope(s) {sorted(map(str, unknown_scopes))}; allowed: {', '.join(SCOPES)}")
    for column, default in _ROW_DEFAULTS.items():
        if column not in frame.columns:
            frame[column] = default
    for column in ("stratum", "stratum_value", "period", "breakdown", "breakdown_value"):
        frame[column] = frame[column].fillna(ALL)
    frame = frame[INDICATOR_COLUMNS]
    frame = frame.astype({column: dtype for column, dtype in INDICATOR_DTYPES.items() if "datetime" not in dtype})
    for column in ("period_start", "period_end"):
        frame[column] = pd.to_datetime(frame[column]).astype("datetime64[ns]")
    order = frame["scope"].map(_SCOPE_ORDER)
    frame = (
        frame.assign(_order=order)
        .sort_values(
            ["indicator", "_order", "scope_id", "stratum", "stratum_value", "wave", "period_start", "period",
             "breakdown", "breakdown_value"],
            na_position="first",
            kind="stable",
        )
        .drop(columns="_order")
        .reset_index(drop=True)
    )
    return frame


def empty_indicator_frame() -> pd.DataFrame:
    """An indicator table with no rows (and the right columns and types)."""
    return pd.DataFrame({column: pd.Series(dtype=dtype) for column, dtype in INDICATOR_DTYPES.items()})


# ---------------------------------------------------------------------------- intervals
def wilson_interval(
    successes: Any, trials: Any, *, confidence: float = 0.95
) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of a proportion (vectorised).

    Parameters
    ----------
    successes, trials : array-like
        Counts; where ``trials`` is 0 the bounds are NaN.
    confidence : float, keyword-only

    Returns
    -------
    (ndarray, ndarray)
        Lower and upper bounds.

    Notes
    -----
    With :math:`\\hat p = k/n` and :math:`z` the normal quantile,

    .. math:: \\frac{\\hat p + \\frac{z^2}{2n} \\pm z\\sqrt{\\frac{\\hat p(1-\\hat p)}{n} + \\frac{z^2}{4n^2}}}
              {1 + \\frac{z^2}{n}}

    (statsmodels ``proportion_confint(method="wilson")`` gives the same bounds).
    """
    k = np.asarray(successes, dtype="float64")
    n = np.asarray(trials, dtype="float64")
    z = stats.norm.ppf(0.5 + confidence / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = k / n
        denominator = 1 + z**2 / n
        centre = (p + z**2 / (2 * n)) / denominator
        half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / denominator
        low = np.where(n > 0, np.clip(centre - half, 0, 1), np.nan)
        high = np.where(n > 0, np.clip(centre + half, 0, 1), np.nan)
    return low, high


@dataclass(frozen=True)
class MeanEstimate:
    """A mean with a cluster-robust standard error and interval."""

    mean: float
    se: float
    ci_low: float
    ci_high: float
    n: int
    clusters: int


def clustered_mean(values: Any, clusters: Any, *, confidence: float = 0.95) -> MeanEstimate:
    """Mean of ``values`` with a standard error clustered by ``clusters``.

    Parameters
    ----------
    values : array-like of float
        Missing values are dropped (with their cluster labels).
    clusters : array-like
        Cluster label of each value (territory, or family within a territory).
    confidence : float, keyword-only

    Returns
    -------
    MeanEstimate
        With fewer than two clusters the standard error and bounds are NaN.

    Notes
    -----
    With :math:`N` values in :math:`G` clusters and :math:`e_i = y_i - \\bar y`,

    .. math:: \\widehat{\\mathrm{Var}}(\\bar y) = \\frac{G}{G-1}\\,\\frac{1}{N^2}
              \\sum_{g=1}^{G}\\Big(\\sum_{i \\in g} e_i\\Big)^2

    and the interval is :math:`\\bar y \\pm t_{G-1}\\,\\mathrm{SE}`: the same as statsmodels
    ``OLS(y, 1).fit(cov_type="cluster", cov_kwds={"groups": g}, use_t=True)``.
    """
    y = np.asarray(values, dtype="float64")
    groups = np.asarray(clusters)
    keep = ~np.isnan(y)
    y, groups = y[keep], groups[keep]
    n = int(y.size)
    if n == 0:
        return MeanEstimate(math.nan, math.nan, math.nan, math.nan, 0, 0)
    mean = float(y.mean())
    codes, uniques = pd.factorize(groups)
    g = len(uniques)
    if g < 2:
        return MeanEstimate(mean, math.nan, math.nan, math.nan, n, g)
    sums = np.bincount(codes, weights=y - mean, minlength=g)
    variance = g / (g - 1) * float(np.sum(sums**2)) / n**2
    se = math.sqrt(variance)
    t = float(stats.t.ppf(0.5 + confidence / 2, df=g - 1))
    return MeanEstimate(mean, se, mean - t * se, mean + t * se, n, g)


def poisson_rate_interval(
    events: Any, exposure: Any, *, confidence: float = 0.95
) -> tuple[np.ndarray, np.ndarray]:
    """Exact (Garwood) interval of a Poisson rate ``events / exposure`` (vectorised).

    Notes
    -----
    .. math:: \\Big[\\tfrac{1}{2}\\chi^2_{\\alpha/2}(2k),\\ \\tfrac{1}{2}\\chi^2_{1-\\alpha/2}(2k+2)\\Big] / E

    with the lower bound 0 when :math:`k = 0`.
    """
    k = np.asarray(events, dtype="float64")
    exposure = np.asarray(exposure, dtype="float64")
    alpha = 1 - confidence
    with np.errstate(divide="ignore", invalid="ignore"):
        low = np.where(k > 0, stats.chi2.ppf(alpha / 2, 2 * k) / 2, 0.0) / exposure
        high = stats.chi2.ppf(1 - alpha / 2, 2 * k + 2) / 2 / exposure
        low = np.where(exposure > 0, low, np.nan)
        high = np.where(exposure > 0, high, np.nan)
    return low, high


# ---------------------------------------------------------------------------- wave windows
def wave_window_close(first_contact: pd.Series, wave: int, *, parameters: IndicatorParameters) -> pd.Series:
    """The day each family's assessment window of ``wave`` closes (a new series).

    Parameters
    ----------
    first_contact : Series of datetime64
        The families' first contact dates (one per row; not modified).
    wave : int
        Wave months (0 = T0).
    parameters : IndicatorParameters, keyword-only
        ``baseline_days`` and ``window_days``.

    Returns
    -------
    Series of datetime64
        Same index as ``first_contact``.

    Notes
    -----
    DESIGN's assessment windows: T0 lies within ``baseline_days`` of the first contact :math:`c`,
    a later wave :math:`k` within ``window_days`` (:math:`w`) of :math:`c + k` months, so

    .. math:: a_0 = c + \\text{baseline\\_days}, \\qquad a_k = c + k \\text{ months} + w.

    A need-based indicator "by wave" reads the status at :math:`a_k`: the contact day alone
    would leave T0 with only the needs identified and met on that very day.
    """
    if int(wave) == 0:
        return first_contact + pd.Timedelta(days=parameters.baseline_days)
    return _add_months(first_contact, int(wave)) + pd.Timedelta(days=parameters.window_days)


def wave_window_note(parameters: IndicatorParameters) -> str:
    """How :func:`wave_window_close` anchors the waves, in words (for the ``method`` column)."""
    return (
        f"wave k read at the close of its assessment window: T0 = first contact + {parameters.baseline_days} days, "
        f"Tk = first contact + k months + {parameters.window_days} days"
    )


# ---------------------------------------------------------------------------- periods
def _add_months(dates: pd.Series, months: int) -> pd.Series:
    return dates + pd.DateOffset(months=months)


def registry_periods(
    family: pd.DataFrame,
    *,
    parameters: IndicatorParameters,
    first_date: Any,
    last_date: Any,
) -> pd.DataFrame:
    """The registry periods: the waves' calendar windows, or calendar quarters or years.

    Parameters
    ----------
    family : DataFrame
        The harmonised family table (``first_contact_date``).
    parameters : IndicatorParameters, keyword-only
        ``parameters.periods`` chooses the kind.
    first_date, last_date : date-like, keyword-only
        The span the periods must cover (the first and last dated registry rows).

    Returns
    -------
    DataFrame
        ``period`` (label), ``wave`` (Int64; the wave months for wave windows, else missing),
        ``period_start`` and ``period_end`` (inclusive), in order, covering the span without gap
        or overlap.

    Notes
    -----
    A wave's calendar window starts on the median due date of that wave over the cohort
    (first contact + wave months) and ends the day before the next wave's window starts; the
    first starts at ``first_date`` and the last ends at ``last_date``. Waves whose window would
    start after ``last_date`` are left out. Quarters are labelled ``2024-T1`` (as in the cost
    table), years ``2024``.
    """
    start = pd.Timestamp(first_date).normalize()
    end = pd.Timestamp(last_date).normalize()
    if end < start:
        raise ValueError(f"the period span ends ({end.date()}) before it starts ({start.date()})")
    if parameters.periods == "wave":
        contacts = pd.to_datetime(family["first_contact_date"]).dropna()
        starts = []
        for wave in parameters.waves:
            if wave == 0 or contacts.empty:
                starts.append(start if wave == 0 else None)
                continue
            starts.append(_add_months(contacts, wave).median().normalize())
        rows = []
        kept = [(wave, begin) for wave, begin in zip(parameters.waves, starts) if begin is not None and begin <= end]
        for index, (wave, begin) in enumerate(kept):
            begin = max(begin, start)
            stop = kept[index + 1][1] - pd.Timedelta(days=1) if index + 1 < len(kept) else end
            if stop < begin:
                continue
            rows.append({"period": f"T{wave}", "wave": wave, "period_start": begin, "period_end": stop})
        frame = pd.DataFrame(rows)
    else:
        freq = "QS" if parameters.periods == "quarter" else "YS"
        anchor = start.to_period("Q" if freq == "QS" else "Y").start_time
        begins = pd.date_range(anchor, end, freq=freq)
        rows = []
        for begin in begins:
            stop = (begin + (pd.offsets.QuarterEnd(0) if freq == "QS" else pd.offsets.YearEnd(0))).normalize()
            label = f"{begin.year}-T{begin.quarter}" if freq == "QS" else f"{begin.year}"
            rows.append({"period": label, "wave": pd.NA, "period_start": max(begin, start), "period_end": min(stop, end)})
        frame = pd.DataFrame(rows)
    frame["wave"] = frame["wave"].astype("Int64")
    frame["period"] = frame["period"].astype("string")
    return frame.reset_index(drop=True)


def assign_periods(dates: pd.Series, periods: pd.DataFrame) -> pd.Series:
    """Label of the period each date falls in (``<NA>`` outside every period).

    Parameters
    ----------
    dates : Series of dates
    periods : DataFrame
        From :func:`registry_periods` (ordered, without overlap).

    Returns
    -------
    Series of string, aligned on ``dates``.
    """
    values = pd.to_datetime(dates).to_numpy(dtype="datetime64[ns]")
    starts = periods["period_start"].to_numpy(dtype="datetime64[ns]")
    ends = periods["period_end"].to_numpy(dtype="datetime64[ns]")
    position = np.searchsorted(starts, values, side="right") - 1
    labels = periods["period"].astype(object).to_numpy()
    inside = (position >= 0) & ~pd.isna(values)
    safe = np.clip(position, 0, len(periods) - 1) if len(periods) else position
    if len(periods):
        inside &= values <= ends[safe]
    result = np.where(inside, labels[safe] if len(periods) else None, None)
    return pd.Series(result, index=dates.index, dtype="string")


def registry_span(
    tables: Mapping[str, pd.DataFrame], parameters: IndicatorParameters
) -> tuple[pd.DataFrame, pd.Timestamp, pd.Timestamp] | None:
    """The registry periods over the referral and activity dates, and the span they cover.

    Returns
    -------
    (periods, first, last) or None
        ``periods`` from :func:`registry_periods`; ``first`` the earliest dated referral or
        activity, ``last`` ``parameters.as_of`` or the latest one. None when nothing is dated.
    """
    dates = pd.concat(
        [pd.to_datetime(tables["referral"]["referral_date"]), pd.to_datetime(tables["activity"]["activity_date"])],
        ignore_index=True,
    ).dropna()
    if parameters.as_of is not None:
        dates = dates[dates <= pd.Timestamp(parameters.as_of)]
    if dates.empty:
        return None
    first = dates.min().normalize()
    last = pd.Timestamp(parameters.as_of) if parameters.as_of is not None else dates.max().normalize()
    periods = registry_periods(tables["family"], parameters=parameters, first_date=first, last_date=last)
    return periods, first, last


# ---------------------------------------------------------------------------- survey years
def year_periods(years: Any) -> pd.DataFrame:
    """The periods of yearly questionnaires: ``period`` (``"2024"``), ``period_start``, ``period_end``.

    Parameters
    ----------
    years : iterable of int
        Survey years (duplicates and missing values are dropped).

    Returns
    -------
    DataFrame
        One row per year, in order: 1 January to 31 December.
    """
    distinct = sorted({int(year) for year in pd.Series(list(years), dtype="Int64").dropna()})
    return pd.DataFrame(
        {
            "period": pd.array([str(year) for year in distinct], dtype="string"),
            "period_start": pd.to_datetime([f"{year}-01-01" for year in distinct]).astype("datetime64[ns]"),
            "period_end": pd.to_datetime([f"{year}-12-31" for year in distinct]).astype("datetime64[ns]"),
        }
    )


def summed_shares(
    counts: pd.DataFrame, territory: pd.DataFrame, *, keys: Sequence[str], parameters: IndicatorParameters
) -> pd.DataFrame:
    """Shares of summed counts per scope cell: territory counts added up the hierarchy, Wilson intervals.

    Parameters
    ----------
    counts : DataFrame
        ``territory_id``, the ``keys`` columns, ``numerator`` and ``denominator`` (counts).
    territory : DataFrame
        The harmonised territory table.
    keys : sequence of str, keyword-only
        Columns the shares are taken within besides the scope cell (``period``, breakdowns ...).
    parameters : IndicatorParameters, keyword-only
        ``strata``, ``scopes``, ``confidence``.

    Returns
    -------
    DataFrame
        The scope columns, ``keys``, ``numerator``, ``denominator``, ``value``, ``ci_low``,
        ``ci_high`` and ``n`` (the denominator); cells with a zero denominator are left out.

    Notes
    -----
    .. math:: p = \\frac{\\sum_t k_t}{\\sum_t m_t}

    over the cell's territories, with the Wilson interval of :func:`wilson_interval`.
    """
    expanded = expand_scopes(counts, territory, strata=parameters.strata, scopes=parameters.scopes)
    if expanded.empty:
        return pd.DataFrame()
    summed = expanded.groupby([*SCOPE_KEYS, *keys], sort=False, observed=True)[["numerator", "denominator"]].sum()
    summed = summed.reset_index()
    summed = summed.loc[summed["denominator"] > 0]
    k = summed["numerator"].to_numpy(dtype="float64")
    m = summed["denominator"].to_numpy(dtype="float64")
    low, high = wilson_interval(k, m, confidence=parameters.confidence)
    return summed.assign(numerator=k, denominator=m, value=k / m, ci_low=low, ci_high=high, n=m.astype("int64"))
