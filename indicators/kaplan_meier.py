"""Kaplan–Meier median and its interval in numpy, for indicators that fit one curve per cell.

lifelines' ``KaplanMeierFitter`` builds a fitter, an event table and several frames for every
fit; an indicator with hundreds of scope cells spends most of its time there. :func:`km_median`
computes the same numbers from sorted arrays: the product-limit estimate, the exponential
(log(−log)) Greenwood bounds and the first time each curve falls to one half, with lifelines'
rules for ties, for a curve that stays at one and for one that is never reached. The unit tests
hold it equal to lifelines on random samples.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import norm

__all__ = ["km_median"]

HALF = 0.5


def km_median(duration: np.ndarray, event: np.ndarray, *, alpha: float) -> tuple[float, float, float]:
    """The Kaplan–Meier median and the bounds of its confidence interval.

    Parameters
    ----------
    duration : array of float
        Time at risk of each subject (no missing value).
    event : array of bool
        Whether the subject's duration ends in the event (else it is censored there).
    alpha : float, keyword-only
        One minus the interval's confidence level.

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
    lifelines' ``KaplanMeierFitter`` with ``median_survival_times``.
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
