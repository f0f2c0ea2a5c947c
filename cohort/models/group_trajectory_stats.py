"""What a fitted group-based trajectory model reports: the parameter table, the group curves with
delta-method intervals, Nagin's adequacy figures, the entropy and the information criteria.

Pure numpy/pandas on the output of :mod:`proximite.cohort.models.group_trajectory_em`;
:class:`~proximite.cohort.models.group_trajectory.GroupTrajectory` assembles them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit, logit, ndtr, ndtri

from proximite.cohort.models.group_trajectory_em import MixtureParams, expected_outcome

__all__ = [
    "APP_TARGET",
    "MIN_OBSERVED_CELL",
    "OCC_TARGET",
    "adequacy",
    "adjusted_rand_index",
    "covariance",
    "curve_table",
    "group_order",
    "information_criteria",
    "match_groups",
    "nearest",
    "observed_means",
    "parameter_table",
    "relative_entropy",
    "term_names",
]

#: Nagin's targets: average posterior probability of each group's members ≥ 0.7 ...
APP_TARGET = 0.7
#: ... and odds of correct classification ≥ 5.
OCC_TARGET = 5.0
#: An observed group mean over fewer entities than this is not reported (the snapshots' threshold:
#: a mean of one to four families is nearly their own values).
MIN_OBSERVED_CELL = 5


def term_names(time: str, order: int) -> list[str]:
    """Names of a polynomial's terms: ``intercept``, ``<time>``, ``<time>^2`` ..."""
    return ["intercept", time] + [f"{time}^{power}" for power in range(2, order + 1)]


def _offsets(orders: Sequence[int]) -> list[int]:
    """Where each group's coefficients start in the parameter vector (then log sigma, then the logits)."""
    return [0, *np.cumsum([order + 1 for order in orders]).tolist()]


def covariance(information: np.ndarray) -> tuple[np.ndarray, bool]:
    """The inverse of the observed information, and whether the information is positive definite.

    A singular or indefinite information (a flat likelihood: a group with too few entities, an
    order too high for the times) gives the pseudo-inverse and ``False``: the standard errors
    are then not to be trusted, and the statistics say so.
    """
    symmetric = (information + information.T) / 2
    try:
        np.linalg.cholesky(symmetric)
    except np.linalg.LinAlgError:
        return np.linalg.pinv(symmetric), False
    return np.linalg.inv(symmetric), True


def group_order(params: MixtureParams, orders: Sequence[int], points: np.ndarray, lower: float, upper: float) -> np.ndarray:
    """Groups by increasing mean fitted level (the expected outcome averaged over ``points``).

    ``points`` are scaled times; ties keep the fitted order (a stable sort), so the numbering
    does not depend on which start found the solution.
    """
    levels = []
    for j, order in enumerate(orders):
        mu = np.vander(points, order + 1, increasing=True) @ params.betas[j]
        levels.append(float(np.mean(expected_outcome(mu, params.sigma, lower, upper)[0])))
    return np.argsort(np.asarray(levels), kind="stable")


def _rows(estimate: np.ndarray, error: np.ndarray, z: float) -> dict[str, np.ndarray]:
    statistic = np.divide(estimate, error, out=np.full_like(estimate, np.nan), where=error > 0)
    return {
        "estimate": estimate,
        "std_error": error,
        "ci_lower": estimate - z * error,
        "ci_upper": estimate + z * error,
        "p_value": 2 * ndtr(-np.abs(statistic)),
    }


def _share_rows(params: MixtureParams, cov: np.ndarray, start: int, z: float) -> pd.DataFrame:
    """Shares with delta-method errors and intervals on the logit scale (they stay in 0–1)."""
    shares = params.shares
    k = len(shares)
    if k == 1:
        error = np.zeros(1)
    else:
        # d pi / d theta_m = pi (1[j = m] - pi_m), m = 2..k (theta_1 is fixed at 0)
        jacobian = (np.diag(shares) - np.outer(shares, shares))[:, 1:]
        block = cov[start:, start:]
        error = np.sqrt(np.clip(np.einsum("im,mn,in->i", jacobian, block, jacobian), 0, None))
    inner = (shares > 0) & (shares < 1) & (error > 0)
    logit_error = np.divide(error, shares * (1 - shares), out=np.zeros_like(error), where=inner)
    centre = logit(np.clip(shares, 1e-300, 1 - 1e-16))
    lower = np.where(inner, expit(centre - z * logit_error), shares)
    upper = np.where(inner, expit(centre + z * logit_error), shares)
    return pd.DataFrame(
        {"estimate": shares, "std_error": error, "ci_lower": lower, "ci_upper": upper, "p_value": np.nan,
         "group": np.arange(1, k + 1), "parameter": "share"},
        index=[f"g{j}:share" for j in range(1, k + 1)],
    )


def parameter_table(
    params: MixtureParams, cov: np.ndarray, orders: Sequence[int], *, scale: float, time: str, confidence: float
) -> pd.DataFrame:
    """The summary: per group its polynomial's coefficients (in the time's own unit), its share, then sigma.

    Notes
    -----
    Coefficients were fitted on :math:`\\tau = t / s`; in the unit of :math:`t`,
    :math:`b_p = \\beta_p / s^p` and :math:`SE(b_p) = SE(\\beta_p) / s^p`. Wald intervals and
    p-values (normal). Shares: delta method, interval on the logit scale. Sigma: interval
    :math:`\\exp(\\log\\hat\\sigma \\pm z\\, SE(\\log\\hat\\sigma))`. Standard errors are
    :math:`\\sqrt{\\operatorname{diag}(I^{-1})}`, :math:`I` the observed information.
    """
    z = float(ndtri(0.5 + confidence / 2))
    errors = np.sqrt(np.clip(np.diag(cov), 0, None))
    offsets = _offsets(orders)
    frames = []
    for j, order in enumerate(orders):
        powers = scale ** np.arange(order + 1, dtype="float64")
        block = _rows(params.betas[j] / powers, errors[offsets[j] : offsets[j + 1]] / powers, z)
        names = term_names(time, order)
        frames.append(pd.DataFrame({**block, "group": j + 1, "parameter": names}, index=[f"g{j + 1}:{name}" for name in names]))
    sigma_at = offsets[-1]
    shares = _share_rows(params, cov, sigma_at + 1, z)
    log_error = errors[sigma_at]
    sigma = pd.DataFrame(
        {"estimate": [params.sigma], "std_error": [params.sigma * log_error], "ci_lower": [math.exp(params.log_sigma - z * log_error)],
         "ci_upper": [math.exp(params.log_sigma + z * log_error)], "p_value": [np.nan], "group": [pd.NA], "parameter": ["sigma"]},
        index=["sigma"],
    )
    table = pd.concat([*frames, shares, sigma])
    table["group"] = table["group"].astype("Int64")
    return table.rename_axis("term")


def curve_table(
    params: MixtureParams, cov: np.ndarray, orders: Sequence[int], *, points: np.ndarray, scale: float,
    lower: float, upper: float, confidence: float,
) -> pd.DataFrame:
    """Each group's fitted mean at the time ``points`` with delta-method intervals.

    Notes
    -----
    ``estimate`` is the expected value of the observed outcome, censoring applied
    (:func:`~proximite.cohort.models.group_trajectory_em.expected_outcome`; the latent mean
    :math:`\\mu` for ``normal``); ``latent_mean`` is :math:`\\mu`. Its variance is
    :math:`g^\\top I^{-1} g` with :math:`g` the gradient of the expected value in the
    parameters (its group's coefficients and :math:`\\log\\sigma`).
    """
    z = float(ndtri(0.5 + confidence / 2))
    offsets = _offsets(orders)
    tau = np.asarray(points, dtype="float64") / scale
    frames = []
    for j, order in enumerate(orders):
        x = np.vander(tau, order + 1, increasing=True)
        mu = x @ params.betas[j]
        value, d_mu, d_log_sigma = expected_outcome(mu, params.sigma, lower, upper)
        gradient = np.zeros((len(tau), cov.shape[0]))
        gradient[:, offsets[j] : offsets[j + 1]] = d_mu[:, None] * x
        gradient[:, offsets[-1]] = d_log_sigma
        error = np.sqrt(np.clip(np.einsum("ip,pq,iq->i", gradient, cov, gradient), 0, None))
        frames.append(pd.DataFrame({
            "group": j + 1, "time": np.asarray(points, dtype="float64"), "estimate": value, "std_error": error,
            "ci_lower": value - z * error, "ci_upper": value + z * error, "latent_mean": mu,
        }))
    return pd.concat(frames, ignore_index=True)


def nearest(values: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Index of the nearest of the sorted ``points`` for each value."""
    position = np.clip(np.searchsorted(points, values), 1, max(len(points) - 1, 1))
    if len(points) == 1:
        return np.zeros(len(values), dtype="int64")
    left = points[position - 1]
    right = points[position]
    return np.where(np.abs(values - left) <= np.abs(right - values), position - 1, position)


def observed_means(
    y: np.ndarray, time: np.ndarray, entity: np.ndarray, modal: np.ndarray, points: np.ndarray, k: int
) -> pd.DataFrame:
    """Mean observed outcome of each group's members (modal assignment) at each time point.

    Observations go to the nearest of ``points``. ``n_observed`` counts the distinct entities;
    the mean is missing where they are fewer than :data:`MIN_OBSERVED_CELL`.
    """
    group = modal[entity]
    slot = nearest(np.asarray(time, dtype="float64"), np.asarray(points, dtype="float64"))
    frame = pd.DataFrame({"group": group + 1, "slot": slot, "y": y, "entity": entity})
    summary = frame.groupby(["group", "slot"]).agg(observed_mean=("y", "mean"), n_observed=("entity", "nunique"))
    full = pd.MultiIndex.from_product([range(1, k + 1), range(len(points))], names=["group", "slot"])
    summary = summary.reindex(full)
    summary["n_observed"] = summary["n_observed"].fillna(0).astype("int64")
    summary.loc[summary["n_observed"] < MIN_OBSERVED_CELL, "observed_mean"] = np.nan
    return summary.reset_index(drop=True)


def relative_entropy(weights: np.ndarray) -> float:
    """Relative entropy of the classification, 1 (every entity certain) to 0 (no information).

    Notes
    -----
    :math:`E_k = 1 - \\sum_i \\sum_j -w_{ij} \\log w_{ij} / (n \\log k)` (Ramaswamy et al.
    1993); missing (NaN) for one group.
    """
    n, k = weights.shape
    if k == 1 or n == 0:
        return math.nan
    terms = np.where(weights > 0, -weights * np.log(np.where(weights > 0, weights, 1.0)), 0.0)
    return float(1.0 - terms.sum() / (n * math.log(k)))


def adequacy(weights: np.ndarray, shares: np.ndarray, share_lower: np.ndarray, share_upper: np.ndarray) -> pd.DataFrame:
    """Nagin's adequacy figures per group (Nagin 2005, ch. 5).

    Parameters
    ----------
    weights : ndarray
        Posterior probabilities, one row per entity, one column per group.
    shares : ndarray
        Estimated shares (mixing probabilities) :math:`\\hat\\pi_j`.
    share_lower, share_upper : ndarray
        Their confidence interval.

    Returns
    -------
    DataFrame
        Indexed by group (1..k): ``estimated_share``, its interval, ``assigned_share`` and
        ``n_assigned`` (modal assignment), ``app``, ``app_met``, ``occ``, ``occ_met``,
        ``share_met`` (the assigned share inside the estimated share's interval), ``all_met``.

    Notes
    -----
    :math:`APP_j` = mean posterior probability of group :math:`j` over the entities whose
    highest posterior is :math:`j` (target ≥ 0.7).
    :math:`OCC_j = \\frac{APP_j / (1 - APP_j)}{\\hat\\pi_j / (1 - \\hat\\pi_j)}` (target ≥ 5;
    infinite when :math:`APP_j = 1`, missing when :math:`\\hat\\pi_j = 1`). A group nobody is
    assigned to has a missing APP and OCC and meets neither.
    """
    n, k = weights.shape
    modal = np.argmax(weights, axis=1)
    counts = np.bincount(modal, minlength=k)
    sums = np.bincount(modal, weights=weights[np.arange(n), modal], minlength=k)
    app = np.divide(sums, counts, out=np.full(k, np.nan), where=counts > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        odds_app = np.where(app >= 1, np.inf, app / (1 - app))
        odds_prior = shares / (1 - shares)
        occ = np.where(shares >= 1, np.nan, odds_app / odds_prior)
    assigned = counts / n if n else np.full(k, np.nan)
    table = pd.DataFrame({
        "estimated_share": shares, "share_ci_lower": share_lower, "share_ci_upper": share_upper,
        "assigned_share": assigned, "n_assigned": counts, "app": app, "app_met": app >= APP_TARGET,
        "occ": occ, "occ_met": occ >= OCC_TARGET,
        "share_met": (share_lower - 1e-12 <= assigned) & (assigned <= share_upper + 1e-12),
    }, index=pd.Index(range(1, k + 1), name="group"))
    table["all_met"] = table["app_met"] & table["occ_met"] & table["share_met"]
    return table


def information_criteria(loglik: float, parameters: int, entities: int) -> dict[str, Any]:
    """AIC and BIC with the number of entities as n (Nagin), and traj's form of the BIC.

    Notes
    -----
    :math:`AIC = -2\\ell + 2p`, :math:`BIC = -2\\ell + p \\log n` (smaller is better; n the
    number of entities, as Nagin recommends), ``bic_nagin`` :math:`= \\ell - \\tfrac{p}{2}\\log n`
    (traj's and Nagin's form: larger is better; :math:`-BIC/2`, so both rank models alike).
    """
    return {
        "log_likelihood": float(loglik),
        "parameters": int(parameters),
        "aic": float(-2 * loglik + 2 * parameters),
        "bic": float(-2 * loglik + parameters * math.log(entities)),
        "bic_nagin": float(loglik - 0.5 * parameters * math.log(entities)),
        "bic_n": int(entities),
    }


def adjusted_rand_index(first: Sequence[Any] | np.ndarray, second: Sequence[Any] | np.ndarray) -> float:
    """Hubert and Arabie's adjusted Rand index of two partitions of the same entities.

    Parameters
    ----------
    first, second : array-like
        Each entity's label in each partition (any hashable labels; the names need not match).

    Returns
    -------
    float
        1 for the same partition (whatever the labels), about 0 for unrelated ones (it can be
        negative); NaN when both partitions put every entity in one group, or fewer than two.

    Notes
    -----
    With :math:`n_{ij}` the entities in group :math:`i` of the first and :math:`j` of the
    second partition, :math:`a_i` and :math:`b_j` the margins and :math:`\\binom{\\cdot}{2}` the
    pairs,

    .. math::

        ARI = \\frac{\\sum_{ij}\\binom{n_{ij}}{2} - E}{\\tfrac12\\big[\\sum_i\\binom{a_i}{2} + \\sum_j\\binom{b_j}{2}\\big] - E},
        \\qquad E = \\frac{\\sum_i\\binom{a_i}{2}\\sum_j\\binom{b_j}{2}}{\\binom{n}{2}}.
    """
    left, right = np.asarray(first), np.asarray(second)
    if left.shape != right.shape or left.ndim != 1:
        raise ValueError("adjusted_rand_index: the two partitions must be one-dimensional and of the same length")
    table = pd.crosstab(left, right).to_numpy().astype(float)

    def pairs(counts: np.ndarray) -> float:
        return float((counts * (counts - 1) / 2).sum())

    total = pairs(np.array([float(len(left))]))
    together, rows, columns = pairs(table), pairs(table.sum(axis=1)), pairs(table.sum(axis=0))
    expected = rows * columns / total if total else math.nan
    denominator = (rows + columns) / 2 - expected
    return float((together - expected) / denominator) if denominator else math.nan


def match_groups(found: Sequence[Any] | np.ndarray, reference: Sequence[Any] | np.ndarray) -> dict[Any, Any]:
    """The one-to-one matching of found groups to reference groups that agrees on most entities.

    Parameters
    ----------
    found, reference : array-like
        Each entity's group in the fitted partition (e.g. ``memberships()["group"]``) and in a
        reference one (a planted or earlier classification).

    Returns
    -------
    dict
        Found group -> reference group, for as many groups as the smaller partition has (the
        Hungarian algorithm on the cross-table: label switching is not an error of the fit).
    """
    from scipy.optimize import linear_sum_assignment

    def plain(label: Any) -> Any:
        return label.item() if isinstance(label, np.generic) else label

    table = pd.crosstab(np.asarray(found), np.asarray(reference))
    rows, columns = linear_sum_assignment(-table.to_numpy())
    return {plain(table.index[r]): plain(table.columns[c]) for r, c in zip(rows, columns)}
