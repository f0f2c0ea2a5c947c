"""Group-based trajectory models (Nagin's GBTM; R's ``lcmm``, Stata's ``traj``): kind ``group_trajectory``.

A finite mixture of polynomial curves in time fitted to a long panel (one row per entity and
time): every entity follows one of ``k`` latent groups, each with its own curve. Fitted by EM
from several seeded starts (:mod:`proximite.cohort.models.group_trajectory_em`); the reported
figures are computed in :mod:`proximite.cohort.models.group_trajectory_stats` and the
multinomial of group membership in :mod:`proximite.cohort.models.group_trajectory_membership`.

::

    from proximite.cohort.models import GroupTrajectory

    result = GroupTrajectory("isolation_index", time="wave", entity="family_id", groups=[1, 2, 3, 4],
                             order=2, distribution="censored_normal", bounds=(0, 100), starts=10, seed=1).fit(panel)
    result.summary                      # per group its curve's coefficients and its share; sigma
    result.extra["adequacy"]            # APP, OCC, estimated vs assigned shares
    result.extra["trajectories"]        # fitted mean per group and time, 95 % CI, observed means
    result.memberships()                # per entity: group, p_1 .. p_k (not exported)
    result.membership_model(panel, ["isolated_at_contact", "single_parent"])
    result.plot()

Results hold estimates and counts; the memberships (pseudonymous entity ids and their
posterior probabilities) are held by the results object only, never in its exported tables.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from proximite.cohort.models import group_trajectory_em as em
from proximite.cohort.models import group_trajectory_stats as stats
from proximite.cohort.models.base import Model, ModelError, ModelResults, register
from proximite.cohort.models.group_trajectory_membership import baseline_covariates, entity_columns, membership_model

if TYPE_CHECKING:  # pragma: no cover - typing only
    from matplotlib.axes import Axes

__all__ = ["MAX_ORDER", "MIN_ENTITIES_PER_GROUP", "GroupTrajectory", "GroupTrajectoryResults", "TrajectoryFit"]

#: The highest polynomial order a group may have.
MAX_ORDER = 5
#: A model with ``k`` groups needs at least this many entities per group.
MIN_ENTITIES_PER_GROUP = 10
#: Most time points of the ``trajectories`` table (more distinct times: an even grid).
MAX_TIME_POINTS = 40


@dataclass(repr=False)
class TrajectoryFit:
    """What a fit keeps beside its tables (the results' ``native``): parameters, covariance, posteriors.

    Coefficients are on the scaled time ``time / scale``; ``covariance`` is the inverse observed
    information in :meth:`~proximite.cohort.models.group_trajectory_em.MixtureParams.vector`'s
    layout. ``weights`` holds each entity's posterior probabilities (rows in ``entity_ids``
    order): row-level, so never exported.
    """

    params: em.MixtureParams
    covariance: np.ndarray
    information_ok: bool
    orders: tuple[int, ...]
    scale: float
    lower: float
    upper: float
    distribution: str
    outcome: str
    time: str
    entity: str
    confidence: float
    time_range: tuple[float, float]
    entity_ids: pd.Index = field(default_factory=pd.Index)
    weights: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))

    def __repr__(self) -> str:
        return f"<TrajectoryFit {len(self.orders)} group(s), {len(self.entity_ids)} entities>"

    def curves(self, points: np.ndarray) -> pd.DataFrame:
        """Each group's fitted mean at ``points`` (the time's unit) with its interval (see :func:`curve_table`)."""
        return stats.curve_table(
            self.params, self.covariance, self.orders, points=np.asarray(points, dtype="float64"), scale=self.scale,
            lower=self.lower, upper=self.upper, confidence=self.confidence,
        )


@dataclass
class GroupTrajectoryResults(ModelResults):
    """:class:`ModelResults` of :class:`GroupTrajectory`, with the entities' memberships and a curve plot.

    ``native`` is the :class:`TrajectoryFit`.
    """

    def memberships(self) -> pd.DataFrame:
        """Per entity its modal group and posterior probabilities.

        Returns
        -------
        DataFrame
            Indexed by the entity column's ids (pseudonymous family ids: analysis data, keep them
            in the project); columns ``group`` (1..k, the highest posterior) and ``p_1`` .. ``p_k``.
        """
        fit: TrajectoryFit = self.native
        k = fit.weights.shape[1]
        frame = pd.DataFrame(fit.weights, index=fit.entity_ids.rename(fit.entity), columns=[f"p_{j}" for j in range(1, k + 1)])
        frame.insert(0, "group", np.argmax(fit.weights, axis=1) + 1)
        return frame

    def membership_model(
        self, data: pd.DataFrame, covariates: Sequence[str], *, reference: int = 1, confidence: float | None = None
    ) -> ModelResults:
        """Multinomial logit of the modal group on baseline covariates taken from ``data``.

        Parameters
        ----------
        data : DataFrame
            The panel the model was fitted on (or any frame with the entity and time columns):
            each covariate's earliest non-missing value per entity is its baseline.
        covariates : sequence of str
        reference : int, keyword-only
            The group the others are compared with (default 1, the lowest).
        confidence : float, optional, keyword-only
            Default: the trajectory model's.

        Returns
        -------
        ModelResults
            Kind ``group_membership``; see
            :func:`~proximite.cohort.models.group_trajectory_membership.membership_model`.
        """
        fit: TrajectoryFit = self.native
        baseline = baseline_covariates(data, entity=fit.entity, time=fit.time, covariates=list(covariates), kind=self.model)
        return membership_model(self.memberships(), baseline, list(covariates), reference=reference,
                                confidence=self.confidence if confidence is None else confidence)

    def plot(self, ax: Axes | None = None, *, terms: Sequence[str] | None = None) -> Axes:
        """Each group's fitted curve with its confidence band, and its members' observed means (dots).

        Parameters
        ----------
        ax : matplotlib Axes, optional
            Where to draw (default: a new figure).
        terms : ignored, keyword-only
            Taken for the runner's call (other results draw a forest plot of those terms).
        """
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(7, 4.5))
        fit: TrajectoryFit = self.native
        grid = np.linspace(fit.time_range[0], fit.time_range[1], 60)
        curves = fit.curves(grid)
        table = self.extra["trajectories"]
        for group, curve in curves.groupby("group"):
            share = fit.params.shares[group - 1]
            (line,) = ax.plot(curve["time"], curve["estimate"], label=f"group {group} ({share:.0%})")
            ax.fill_between(curve["time"], curve["ci_lower"], curve["ci_upper"], alpha=0.2, color=line.get_color())
            observed = table[table["group"] == group]
            ax.plot(observed["time"], observed["observed_mean"], "o", color=line.get_color(), markersize=4)
        ax.set_xlabel(fit.time)
        ax.set_ylabel(fit.outcome)
        ax.set_title(f"{fit.outcome}: {len(fit.orders)} trajectory group(s), {fit.distribution}", fontsize="medium")
        ax.legend(fontsize="small", title=f"{self.confidence:.0%} band;\ndots: observed means", title_fontsize="small",
                  loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
        return ax


def _check_groups(groups: int | Sequence[int], order: int | Sequence[int]) -> tuple[list[int], list[int] | None]:
    """The numbers of groups to fit, and the per-group orders when given as a list."""
    if isinstance(groups, bool) or not isinstance(groups, (int, list, tuple)):
        raise ModelError(f"group_trajectory: groups must be a number of groups or a list of them, got {groups!r}")
    counts = [groups] if isinstance(groups, int) else list(groups)
    if not counts or not all(isinstance(k, int) and not isinstance(k, bool) and k >= 1 for k in counts):
        raise ModelError(f"group_trajectory: groups must be whole numbers ≥ 1, got {groups!r}")
    if len(set(counts)) != len(counts):
        raise ModelError(f"group_trajectory: groups lists a number twice: {groups!r}")
    orders = [order] if isinstance(order, int) and not isinstance(order, bool) else order
    if not isinstance(orders, (list, tuple)) or not all(
        isinstance(item, int) and not isinstance(item, bool) and 0 <= item <= MAX_ORDER for item in orders
    ):
        raise ModelError(f"group_trajectory: order must be a whole number from 0 to {MAX_ORDER} (or one per group), got {order!r}")
    if isinstance(order, (list, tuple)):
        if not isinstance(groups, int) or len(order) != groups:
            raise ModelError(f"group_trajectory: order lists one order per group; give groups as one number "
                             f"equal to its length ({len(order)}), or order as one number")
        return counts, list(order)
    return sorted(counts), None


def _check_bounds(distribution: str, bounds: Sequence[float | None] | None) -> tuple[float, float]:
    """The censoring bounds as floats (``-inf``/``inf`` for none)."""
    if distribution not in em.DISTRIBUTIONS:
        raise ModelError(f"group_trajectory: distribution must be one of {', '.join(em.DISTRIBUTIONS)}, got {distribution!r}")
    if distribution == "normal":
        if bounds is not None:
            raise ModelError("group_trajectory: bounds apply to distribution='censored_normal' only")
        return -math.inf, math.inf
    if not isinstance(bounds, (list, tuple)) or len(bounds) != 2:
        raise ModelError("group_trajectory: distribution='censored_normal' needs bounds=(lower, upper), e.g. (0, 100); "
                         "None for an open side")
    if not all(value is None or (isinstance(value, (int, float)) and not isinstance(value, bool)) for value in bounds):
        raise ModelError(f"group_trajectory: bounds must be numbers or None, got {bounds!r}")
    lower = -math.inf if bounds[0] is None else float(bounds[0])
    upper = math.inf if bounds[1] is None else float(bounds[1])
    if not lower < upper or (math.isinf(lower) and math.isinf(upper)):
        raise ModelError(f"group_trajectory: bounds must be lower < upper with at least one finite, got {bounds!r}")
    return lower, upper


@register("group_trajectory")
class GroupTrajectory(Model):
    """Group-based trajectory model (Nagin): a finite mixture of polynomial curves in time, fitted by EM.

    Parameters
    ----------
    outcome : str
        The outcome column (numeric), default ``isolation_index``.
    time : str, keyword-only
        The time column or index level (numeric: ``wave`` months, months since contact...).
    entity : str, keyword-only
        The column or index level identifying an entity (``family_id``).
    groups : int or list of int, keyword-only
        The number of groups (default 3), or several: each is fitted and the lowest BIC chosen
        (table ``extra["selection"]``).
    order : int or list of int, keyword-only
        Polynomial order of every group (default 2: quadratic), or one per group (with
        ``groups`` one number; groups are then renumbered by level: read each group's order
        from its terms).
    distribution : {"normal", "censored_normal"}, keyword-only
    bounds : (float or None, float or None), keyword-only
        ``censored_normal`` only: the censoring bounds, e.g. ``(0, 100)`` for the isolation
        index; an observation at (or beyond) a bound is censored there; None for an open side.
    starts : int, keyword-only
        EM starts (default 10): the first splits entities by their mean outcome, the others
        are random; the best log-likelihood is kept.
    seed : int, keyword-only
        Seed of the random starts (the fit with ``k`` groups uses ``default_rng([seed, k])``).
    covariates : list of str, optional, keyword-only
        Baseline covariates of a multinomial logit of the modal group
        (``extra["membership"]``); see :meth:`GroupTrajectoryResults.membership_model`.
    confidence : float, keyword-only

    Notes
    -----
    .. math::

        P(y_i) = \\sum_{j=1}^{k} \\pi_j \\prod_t f\\big(y_{it} \\mid \\textstyle\\sum_p \\beta_{jp} t^p, \\sigma\\big)

    with one :math:`\\sigma` for all groups; ``censored_normal`` uses :math:`\\Phi` at the bounds
    for the observations there (traj's ``cnorm``). Standard errors come from the **observed
    information**: the numerical Hessian (central differences of the analytic score) of the
    log-likelihood at the optimum, so they carry the uncertainty of the classification. BIC
    takes the number of entities as n (Nagin): :math:`BIC = -2\\ell + p \\log n`;
    ``bic_nagin`` = :math:`\\ell - (p/2)\\log n`. Groups are numbered by increasing mean fitted
    level, so numbering does not depend on the start. The fitted curves (``trajectories``,
    ``plot``) are the expected value of the **observed** outcome, censoring applied (column
    ``latent_mean`` has the latent mean).
    """

    def __init__(
        self,
        outcome: str = "isolation_index",
        *,
        time: str = "wave",
        entity: str = "family_id",
        groups: int | Sequence[int] = 3,
        order: int | Sequence[int] = 2,
        distribution: str = "normal",
        bounds: Sequence[float | None] | None = None,
        starts: int = 10,
        seed: int = 0,
        covariates: Sequence[str] | None = None,
        confidence: float = 0.95,
    ) -> None:
        self.group_counts, self.group_orders = _check_groups(groups, order)
        self.common_order = order if isinstance(order, int) else None
        self.lower, self.upper = _check_bounds(distribution, bounds)
        if isinstance(starts, bool) or not isinstance(starts, int) or starts < 1:
            raise ModelError(f"group_trajectory: starts must be a whole number ≥ 1, got {starts!r}")
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ModelError(f"group_trajectory: seed must be a whole number ≥ 0, got {seed!r}")
        if not 0 < confidence < 1:
            raise ModelError(f"group_trajectory: confidence must be between 0 and 1, got {confidence}")
        if covariates is not None and (isinstance(covariates, str) or not all(isinstance(name, str) for name in covariates)):
            raise ModelError("group_trajectory: covariates must be a list of column names")
        self.outcome, self.time, self.entity = outcome, time, entity
        self.groups, self.order = groups, order
        self.distribution, self.bounds = distribution, None if bounds is None else tuple(bounds)
        self.starts, self.seed, self.confidence = starts, seed, confidence
        self.covariates = list(covariates) if covariates else None

    # -- data
    def _observations(self, data: pd.DataFrame) -> pd.DataFrame:
        """Outcome, time and entity of the rows that have all three, as plain columns ``y``, ``t``, ``entity``."""
        frame = entity_columns(data, [self.entity, self.time, self.outcome], kind=self.kind)
        for name, role in ((self.outcome, "outcome"), (self.time, "time")):
            dtype = frame[name].dtype
            if pd.api.types.is_bool_dtype(dtype) or not pd.api.types.is_numeric_dtype(dtype):
                raise ModelError(f"{self.kind}: the {role} column {name!r} must be numeric, it is {dtype}")
        observations = pd.DataFrame({
            "y": frame[self.outcome].astype("Float64").to_numpy(dtype="float64", na_value=np.nan),
            "t": frame[self.time].astype("Float64").to_numpy(dtype="float64", na_value=np.nan),
            "entity": frame[self.entity].to_numpy(),
        })
        keep = np.isfinite(observations["y"]) & np.isfinite(observations["t"]) & frame[self.entity].notna().to_numpy()
        return observations.loc[keep].reset_index(drop=True)

    def _check_data(self, observations: pd.DataFrame) -> None:
        """Enough entities for the groups, times for the orders, and the outcome inside the bounds."""
        entities = observations["entity"].nunique()
        most = max(self.group_counts)
        if entities < MIN_ENTITIES_PER_GROUP * most:
            raise ModelError(f"{self.kind}: {most} group(s) need at least {MIN_ENTITIES_PER_GROUP * most} entities "
                             f"({MIN_ENTITIES_PER_GROUP} per group) with an observed {self.outcome!r}; the data have {entities}")
        times = observations["t"].nunique()
        if times < 2:
            raise ModelError(f"{self.kind}: the time column {self.time!r} has {times} distinct value(s) among the observed "
                             "rows; a trajectory needs at least two")
        highest = max(self._orders(1) if self.group_orders is None else self.group_orders)
        if times < highest + 1:
            raise ModelError(f"{self.kind}: order {highest} needs at least {highest + 1} distinct times; {self.time!r} has {times}")
        outside = int(((observations["y"] < self.lower) | (observations["y"] > self.upper)).sum())
        if outside:
            raise ModelError(f"{self.kind}: {outside} observation(s) of {self.outcome!r} lie outside the bounds "
                             f"{self.bounds!r}; the bounds must contain the data (censoring is at the bounds)")

    def _orders(self, k: int) -> tuple[int, ...]:
        """Each group's polynomial order for a fit with ``k`` groups."""
        if self.group_orders is not None:
            return tuple(self.group_orders)
        return (int(self.common_order or 0),) * k

    # -- fitting
    def _fit_k(self, make: Callable[[int], em.Problem], k: int) -> tuple[em.Problem, em.MixtureFit]:
        data = make(k)
        try:
            return data, em.fit_mixture(data, starts=self.starts, seed=self.seed)
        except em.DegenerateFit as error:
            raise ModelError(f"{self.kind}: cannot fit {k} groups: {error}; fit fewer groups or more starts") from None

    def _select(self, make: Callable[[int], em.Problem]) -> tuple[em.Problem, em.MixtureFit, pd.DataFrame]:
        """Fit every number of groups; the lowest BIC's fit and the table of criteria."""
        rows, fitted = [], {}
        for k in self.group_counts:
            data = make(k)
            try:
                fit = em.fit_mixture(data, starts=self.starts, seed=self.seed)
            except em.DegenerateFit:
                rows.append({"groups": k, "log_likelihood": math.nan, "note": "every start left a group empty"})
                continue
            fitted[k] = (data, fit)
            _, weights = em.posterior(data, fit.params)
            rows.append({
                "groups": k, **stats.information_criteria(fit.loglik, len(fit.params.vector()), data.n_entities),
                "entropy": stats.relative_entropy(weights), "smallest_share": float(fit.params.shares.min()),
                "starts_at_best": fit.starts_at_best, "converged": fit.converged, "note": "",
            })
        table = pd.DataFrame(rows).set_index("groups")
        if not fitted:
            raise ModelError(f"{self.kind}: no number of groups among {self.group_counts} could be fitted")
        chosen = min(fitted, key=lambda k: table.loc[k, "bic"])
        table["chosen"] = table.index == chosen
        return (*fitted[chosen], table)

    def fit(self, data: pd.DataFrame) -> GroupTrajectoryResults:
        """Fit on the long panel ``data`` (not modified); rows missing the outcome, time or entity are left out.

        Returns
        -------
        GroupTrajectoryResults
            ``summary``: per group ``g<j>:intercept``, ``g<j>:<time>``, ``g<j>:<time>^2`` ...,
            ``g<j>:share``, then ``sigma`` (columns ``group``, ``parameter`` after the usual
            ones). ``statistics``: ``nobs``, ``entities``, ``groups``, ``log_likelihood``,
            ``bic``, ``aic``, ``entropy`` ... ``extra``: ``adequacy``, ``trajectories``,
            ``selection`` (several numbers of groups), ``membership`` (with ``covariates``).

        Raises
        ------
        ModelError
            A missing column (named), a non-numeric outcome or time, one distinct time, too few
            entities for the groups, an outcome outside the bounds, no start that keeps every group.
        """
        observations = self._observations(data)
        self._check_data(observations)
        codes, ids = pd.factorize(observations["entity"], sort=True)
        t = observations["t"].to_numpy()
        scale = float(np.abs(t).max()) or 1.0
        y = observations["y"].to_numpy()

        def make(k: int) -> em.Problem:
            return em.problem(y, t / scale, codes, self._orders(k), lower=self.lower, upper=self.upper)

        if len(self.group_counts) == 1:
            selection = None
            problem, fit = self._fit_k(make, self.group_counts[0])
        else:
            problem, fit, selection = self._select(make)
        result = self._results(problem, fit, observations, pd.Index(ids), scale, selection)
        if self.covariates:
            membership = result.membership_model(data, self.covariates)
            result.extra["membership"] = membership.summary
            result.statistics["membership_nobs"] = membership.statistics["nobs"]
        return result

    # -- results
    def _results(
        self, problem: em.Problem, fit: em.MixtureFit, observations: pd.DataFrame, ids: pd.Index, scale: float,
        selection: pd.DataFrame | None,
    ) -> GroupTrajectoryResults:
        """Groups ordered by level, the covariance at the optimum, and every table."""
        t = observations["t"].to_numpy()
        distinct = np.unique(t)
        points = distinct if len(distinct) <= MAX_TIME_POINTS else np.linspace(distinct[0], distinct[-1], MAX_TIME_POINTS)
        order = stats.group_order(fit.params, problem.orders, points / scale, self.lower, self.upper)
        params = fit.params.permuted(order)
        problem = em.problem(problem.y, problem.tau, problem.entity, tuple(problem.orders[j] for j in order),
                             lower=self.lower, upper=self.upper)
        loglik, weights = em.posterior(problem, params)
        covariance, information_ok = stats.covariance(em.observed_information(problem, params))
        native = TrajectoryFit(
            params=params, covariance=covariance, information_ok=information_ok, orders=problem.orders, scale=scale,
            lower=self.lower, upper=self.upper, distribution=self.distribution, outcome=self.outcome, time=self.time,
            entity=self.entity, confidence=self.confidence, time_range=(float(distinct[0]), float(distinct[-1])),
            entity_ids=ids, weights=weights,
        )
        summary = stats.parameter_table(params, covariance, problem.orders, scale=scale, time=self.time, confidence=self.confidence)
        shares = summary[summary["parameter"] == "share"]
        extra = {
            "adequacy": stats.adequacy(weights, params.shares, shares["ci_lower"].to_numpy(), shares["ci_upper"].to_numpy()),
            "trajectories": self._trajectories(native, observations, points, weights, problem),
        }
        if selection is not None:
            extra["selection"] = selection
        return GroupTrajectoryResults(
            model=self.kind, summary=summary, statistics=self._statistics(problem, fit, loglik, weights, information_ok),
            title=self._title(problem.orders), confidence=self.confidence, extra=extra, native=native,
        )

    def _trajectories(
        self, native: TrajectoryFit, observations: pd.DataFrame, points: np.ndarray, weights: np.ndarray, problem: em.Problem
    ) -> pd.DataFrame:
        """Fitted curves at the time points beside the observed means of each group's members."""
        curves = native.curves(points)
        observed = stats.observed_means(problem.y, observations["t"].to_numpy(), problem.entity, np.argmax(weights, axis=1),
                                        points, problem.k)
        return pd.concat([curves, observed[["observed_mean", "n_observed"]]], axis=1)

    def _statistics(
        self, problem: em.Problem, fit: em.MixtureFit, loglik: float, weights: np.ndarray, information_ok: bool
    ) -> dict[str, Any]:
        criteria = stats.information_criteria(loglik, len(fit.params.vector()), problem.n_entities)
        return {
            "nobs": len(problem.y), "entities": problem.n_entities, "groups": problem.k,
            "distribution": self.distribution, "bounds": "none" if self.bounds is None else str(list(self.bounds)),
            "order": ",".join(map(str, problem.orders)), **criteria, "entropy": stats.relative_entropy(weights),
            "censored_lower": int(problem.at_lower.sum()), "censored_upper": int(problem.at_upper.sum()),
            "starts": self.starts, "starts_at_best": fit.starts_at_best, "seed": self.seed, "converged": fit.converged,
            "em_iterations": fit.iterations,
            "covariance": "observed information (numerical Hessian)" if information_ok else "singular information: SEs unreliable",
            "curve": "expected observed value (censoring applied)" if problem.censored else "mean",
        }

    def _title(self, orders: tuple[int, ...]) -> str:
        bounds = f" {list(self.bounds)}" if self.bounds is not None else ""
        return (f"{self.kind}: {self.outcome} ~ polynomial in {self.time} (order {','.join(map(str, orders))}) | "
                f"{len(orders)} group(s) of {self.entity}, {self.distribution}{bounds}")
