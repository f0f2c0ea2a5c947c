"""Public rounding: published counts to the nearest multiple of the base, shares recomputed from them."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from proximite.indicators.base import wilson_interval

__all__ = ["MEAN_DECIMALS", "round_half_up", "round_published"]

#: Decimals of a published mean, change or median (units mean, points, days) and its interval.
MEAN_DECIMALS = 1


def round_half_up(values: Any, base: int) -> np.ndarray:
    """Round to the nearest multiple of ``base``, ties away from zero's floor (12.5 → 15 for base 5).

    Parameters
    ----------
    values : array-like of float
        Missing values stay missing.
    base : int

    Returns
    -------
    ndarray of float

    Notes
    -----
    .. math:: r(x) = b \\left\\lfloor \\frac{x}{b} + \\frac{1}{2} \\right\\rfloor

    NumPy's ``round`` sends ties to the even multiple (12.5 → 10), which would bias sums of many
    small counts; this does not.
    """
    x = np.asarray(values, dtype="float64")
    if base == 1:
        return np.floor(x + 0.5)
    return np.floor(x / base + 0.5) * base


def round_published(
    frame: pd.DataFrame, published: np.ndarray, unit: np.ndarray, *, base: int, confidence: float
) -> pd.DataFrame:
    """Public rounding of the published people rows (a new frame).

    Parameters
    ----------
    frame : DataFrame
        Indicator rows (not modified).
    published : ndarray of bool
        The people rows that are not suppressed: the rows rounded.
    unit : ndarray of str
        Each row's unit (``count`` and ``share`` get their counts rounded).
    base : int, keyword-only
        The rounding base.
    confidence : float, keyword-only
        Level of the Wilson intervals recomputed for shares.

    Returns
    -------
    DataFrame

    Notes
    -----
    With :math:`r` of :func:`round_half_up`: numerator, denominator and n become :math:`r(\\cdot)`; a
    share's value is :math:`r(k)/r(m)` (missing when :math:`r(m) = 0` or either count is missing) with
    the Wilson interval of :math:`(r(k), r(m))`; a count's interval is dropped. A mean, change or
    median (units ``mean``, ``points``, ``days``) and its interval are rounded half up to
    :data:`MEAN_DECIMALS` decimal(s).
    """
    out = frame.copy()
    numerator, denominator, value, ci_low, ci_high, n = (
        out[column].to_numpy(dtype="float64", na_value=np.nan)
        for column in ("numerator", "denominator", "value", "ci_low", "ci_high", "n")
    )
    count = published & (unit == "count")
    share = published & (unit == "share")
    rounded_numerator = round_half_up(numerator, base)
    rounded_denominator = round_half_up(denominator, base)

    numerator = np.where(count | share, rounded_numerator, numerator)
    denominator = np.where(count | share, rounded_denominator, denominator)
    value = np.where(count, np.where(np.isnan(rounded_numerator), round_half_up(value, base), rounded_numerator), value)
    # A count's interval comes from the exact count, so it would give the count away.
    ci_low = np.where(count, np.nan, ci_low)
    ci_high = np.where(count, np.nan, ci_high)

    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(rounded_denominator > 0, rounded_numerator / rounded_denominator, np.nan)
    low, high = wilson_interval(
        np.nan_to_num(rounded_numerator), np.nan_to_num(rounded_denominator), confidence=confidence
    )
    # A share without both counts cannot be recomputed from rounded counts: not published.
    has_counts = ~np.isnan(rounded_numerator) & ~np.isnan(rounded_denominator)
    value = np.where(share, np.where(has_counts, rate, np.nan), value)
    ci_low = np.where(share, np.where(has_counts, low, np.nan), ci_low)
    ci_high = np.where(share, np.where(has_counts, high, np.nan), ci_high)

    n = np.where(published, round_half_up(n, base), n)
    # A mean at full precision gives its n back (only one n near the rounded one makes n · mean a
    # possible sum of scores): published to MEAN_DECIMALS, so that every n within the rounding of n fits.
    per_row = published & np.isin(unit, ["mean", "points", "days"])
    scale = 10.0**MEAN_DECIMALS
    value, ci_low, ci_high = (np.where(per_row, np.floor(x * scale + 0.5) / scale, x) for x in (value, ci_low, ci_high))

    out["numerator"] = numerator
    out["denominator"] = denominator
    out["value"] = value
    out["ci_low"] = ci_low
    out["ci_high"] = ci_high
    out["n"] = pd.Series(n, index=out.index).round().astype("Int64")
    return out
