"""The arithmetic of group-based trajectory models (Nagin): a finite mixture of polynomial curves
in time, fitted by EM from several starts; pure numpy/scipy.

:class:`~proximite.cohort.models.group_trajectory.GroupTrajectory` wraps it in the estimator
style. Here time is already scaled (``tau`` = time / scale, so the polynomial's columns stay of
one magnitude) and entities are integer codes ``0 .. n-1``.

The model of entity :math:`i`'s outcomes :math:`y_{it}` at times :math:`t`:

.. math::

    L_i = \\sum_{j=1}^{k} \\pi_j \\prod_t f(y_{it} \\mid \\mu_{jt}, \\sigma), \\qquad
    \\mu_{jt} = \\sum_{p=0}^{d_j} \\beta_{jp} \\tau_t^p, \\qquad
    \\pi_j = \\frac{e^{\\theta_j}}{\\sum_m e^{\\theta_m}}, \\ \\theta_1 = 0

with one :math:`\\sigma` for every group (traj's default). ``normal``: :math:`f` is the normal
density. ``censored_normal`` (traj's ``cnorm``, a Tobit): an observation at or below the lower
bound :math:`a` contributes :math:`\\Phi((a - \\mu)/\\sigma)`, one at or above the upper bound
:math:`b` contributes :math:`1 - \\Phi((b - \\mu)/\\sigma)`, the others the normal density.

EM: the E-step gives each entity's posterior probabilities :math:`w_{ij}` and, for a censored
observation, the moments of the latent outcome under group :math:`j` (truncated normal); the
M-step is a weighted least squares per group on those expected latent outcomes, the variance
from the expected squared residuals, the shares the mean posteriors. The likelihood never
decreases. The best start's EM solution is then polished by BFGS with the analytic score, and
the observed information is the numerical derivative (central differences) of that score.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy.special import log_ndtr, ndtr

__all__ = [
    "DISTRIBUTIONS",
    "DegenerateFit",
    "EMOutcome",
    "MixtureFit",
    "MixtureParams",
    "Problem",
    "design",
    "em",
    "entity_loglik",
    "expected_outcome",
    "fit_mixture",
    "initial_params",
    "log_likelihood",
    "m_step",
    "observation_terms",
    "observed_information",
    "posterior",
    "problem",
    "score",
    "start_posteriors",
]

#: The outcome distributions: ``normal`` and ``censored_normal`` (bounds required).
DISTRIBUTIONS: tuple[str, ...] = ("normal", "censored_normal")

#: EM stops when the log-likelihood gains less than this, relative to its size.
EM_TOLERANCE = 1e-9
#: EM's most iterations per start (BFGS finishes what EM leaves).
EM_MAX_ITERATIONS = 300
#: A group with less posterior weight than this many entities is degenerate (the start is dropped).
MIN_GROUP_WEIGHT = 1.0
#: Share of a start's posterior given to its hard assignment (the rest spread evenly).
START_SHARPNESS = 0.9
_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)


class DegenerateFit(ArithmeticError):
    """Every start (or this one) left a group without entities: fewer groups fit the data."""


@dataclass
class Problem:
    """The data of one fit: outcome, scaled time, entity codes, bounds, and each group's design.

    Attributes
    ----------
    y, tau : ndarray
        Outcome and scaled time, one value per observation.
    entity : ndarray of int
        Each observation's entity code, ``0 .. n_entities - 1``.
    n_entities : int
    orders : tuple of int
        Polynomial order of each group.
    lower, upper : float
        Censoring bounds (``-inf`` / ``inf`` for none; both infinite for ``normal``).
    designs : list of ndarray
        Per group, the columns :math:`\\tau^0 .. \\tau^{d_j}`.
    at_lower, at_upper : ndarray of bool
        Observations at or beyond a bound (censored).
    """

    y: np.ndarray
    tau: np.ndarray
    entity: np.ndarray
    n_entities: int
    orders: tuple[int, ...]
    lower: float = -math.inf
    upper: float = math.inf
    designs: list[np.ndarray] = field(default_factory=list, repr=False)
    at_lower: np.ndarray = field(default_factory=lambda: np.zeros(0, bool), repr=False)
    at_upper: np.ndarray = field(default_factory=lambda: np.zeros(0, bool), repr=False)

    @property
    def k(self) -> int:
        """The number of groups."""
        return len(self.orders)

    @property
    def censored(self) -> bool:
        """Whether a bound is finite (``censored_normal``)."""
        return math.isfinite(self.lower) or math.isfinite(self.upper)


def design(tau: np.ndarray, order: int) -> np.ndarray:
    """Polynomial columns :math:`\\tau^0, \\tau^1, .., \\tau^{order}` (one row per value of ``tau``)."""
    return np.vander(np.asarray(tau, dtype="float64"), order + 1, increasing=True)


def problem(
    y: np.ndarray, tau: np.ndarray, entity: np.ndarray, orders: tuple[int, ...], *, lower: float = -math.inf, upper: float = math.inf
) -> Problem:
    """Build a :class:`Problem` (designs and censoring masks computed once)."""
    y = np.asarray(y, dtype="float64")
    tau = np.asarray(tau, dtype="float64")
    entity = np.asarray(entity, dtype="int64")
    return Problem(
        y=y, tau=tau, entity=entity, n_entities=int(entity.max()) + 1 if len(entity) else 0, orders=tuple(orders),
        lower=float(lower), upper=float(upper), designs=[design(tau, order) for order in orders],
        at_lower=y <= lower, at_upper=y >= upper,
    )


@dataclass
class MixtureParams:
    """Parameters of a mixture: per-group coefficients (on scaled time), log sigma, share logits.

    ``vector()`` lays them out as the score and the information do: every group's
    coefficients in turn, then :math:`\\log\\sigma`, then :math:`\\theta_2 .. \\theta_k`
    (:math:`\\theta_1 = 0`).
    """

    betas: list[np.ndarray]
    log_sigma: float
    theta: np.ndarray

    @property
    def sigma(self) -> float:
        """The residual standard deviation (one for every group)."""
        return math.exp(self.log_sigma)

    @property
    def shares(self) -> np.ndarray:
        """The mixing probabilities :math:`\\pi_j` (softmax of :math:`\\theta`)."""
        return np.exp(self.theta - _logsumexp(self.theta[None, :])[0])

    def vector(self) -> np.ndarray:
        """The free parameters as one vector (see the class docstring for the layout)."""
        return np.concatenate([*self.betas, [self.log_sigma], self.theta[1:]])

    @classmethod
    def from_vector(cls, vector: np.ndarray, orders: tuple[int, ...]) -> MixtureParams:
        """Undo :meth:`vector`."""
        betas, start = [], 0
        for order in orders:
            betas.append(np.array(vector[start : start + order + 1], dtype="float64"))
            start += order + 1
        theta = np.concatenate([[0.0], vector[start + 1 :]])
        return cls(betas=betas, log_sigma=float(vector[start]), theta=theta)

    def permuted(self, order: np.ndarray) -> MixtureParams:
        """The same mixture with its groups in ``order`` (the first group's logit set back to 0)."""
        theta = self.theta[order] - self.theta[order[0]]
        return MixtureParams(betas=[self.betas[j].copy() for j in order], log_sigma=self.log_sigma, theta=theta)


# ------------------------------------------------------------------------------ likelihood
def _logsumexp(values: np.ndarray) -> np.ndarray:
    """:math:`\\log \\sum_j e^{v_{ij}}` per row, stable (scipy's costs a millisecond a call in overhead)."""
    top = values.max(axis=1)
    top = np.where(np.isfinite(top), top, 0.0)
    return top + np.log(np.exp(values - top[:, None]).sum(axis=1))


def observation_terms(
    y: np.ndarray, mu: np.ndarray, sigma: float, at_lower: np.ndarray, at_upper: np.ndarray, lower: float, upper: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each observation's log-likelihood and its derivatives in :math:`\\mu` and :math:`\\log\\sigma`.

    Notes
    -----
    Uncensored, :math:`z = (y - \\mu)/\\sigma`: :math:`\\ell = -z^2/2 - \\log\\sigma - \\log\\sqrt{2\\pi}`,
    :math:`\\partial_\\mu \\ell = z/\\sigma`, :math:`\\partial_{\\log\\sigma} \\ell = z^2 - 1`.
    At the lower bound, :math:`a = (lower - \\mu)/\\sigma`, :math:`\\lambda = \\phi(a)/\\Phi(a)`:
    :math:`\\ell = \\log\\Phi(a)`, :math:`\\partial_\\mu \\ell = -\\lambda/\\sigma`,
    :math:`\\partial_{\\log\\sigma}\\ell = -\\lambda a`. At the upper bound,
    :math:`b = (upper - \\mu)/\\sigma`, :math:`\\lambda = \\phi(b)/\\Phi(-b)`:
    :math:`\\ell = \\log\\Phi(-b)`, :math:`\\partial_\\mu \\ell = \\lambda/\\sigma`,
    :math:`\\partial_{\\log\\sigma}\\ell = \\lambda b`.
    """
    z = (y - mu) / sigma
    logf = -0.5 * z * z - math.log(sigma) - _LOG_SQRT_2PI
    d_mu = z / sigma
    d_log_sigma = z * z - 1.0
    if at_lower.any():
        a = (lower - mu[at_lower]) / sigma
        log_cdf = log_ndtr(a)
        ratio = np.exp(-0.5 * a * a - _LOG_SQRT_2PI - log_cdf)
        logf[at_lower], d_mu[at_lower], d_log_sigma[at_lower] = log_cdf, -ratio / sigma, -ratio * a
    if at_upper.any():
        b = (upper - mu[at_upper]) / sigma
        log_survival = log_ndtr(-b)
        ratio = np.exp(-0.5 * b * b - _LOG_SQRT_2PI - log_survival)
        logf[at_upper], d_mu[at_upper], d_log_sigma[at_upper] = log_survival, ratio / sigma, ratio * b
    return logf, d_mu, d_log_sigma


def _group_terms(data: Problem, params: MixtureParams, j: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    mu = data.designs[j] @ params.betas[j]
    return observation_terms(data.y, mu, params.sigma, data.at_lower, data.at_upper, data.lower, data.upper)


def entity_loglik(data: Problem, params: MixtureParams) -> np.ndarray:
    """:math:`\\log \\prod_t f(y_{it} \\mid j)`: one row per entity, one column per group."""
    columns = [
        np.bincount(data.entity, weights=_group_terms(data, params, j)[0], minlength=data.n_entities) for j in range(data.k)
    ]
    return np.column_stack(columns)


def posterior(data: Problem, params: MixtureParams) -> tuple[float, np.ndarray]:
    """The log-likelihood and each entity's posterior group probabilities :math:`w_{ij}`.

    Notes
    -----
    :math:`w_{ij} = \\pi_j L_{ij} / \\sum_m \\pi_m L_{im}` (Bayes), computed on the log scale.
    """
    joint = entity_loglik(data, params) + np.log(params.shares)[None, :]
    marginal = _logsumexp(joint)
    return float(marginal.sum()), np.exp(joint - marginal[:, None])


def log_likelihood(data: Problem, params: MixtureParams) -> float:
    """:math:`\\sum_i \\log \\sum_j \\pi_j \\prod_t f(y_{it} \\mid j)`."""
    return posterior(data, params)[0]


# ------------------------------------------------------------------------------ EM
def _latent_moments(data: Problem, mu: np.ndarray, sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """Expected latent outcome and its variance given the observation (truncated normal moments)."""
    expected, variance = data.y.copy(), np.zeros_like(data.y)
    if data.at_lower.any():
        m = mu[data.at_lower]
        a = (data.lower - m) / sigma
        ratio = np.exp(-0.5 * a * a - _LOG_SQRT_2PI - log_ndtr(a))
        expected[data.at_lower] = m - sigma * ratio
        variance[data.at_lower] = sigma**2 * np.clip(1.0 - a * ratio - ratio**2, 0.0, None)
    if data.at_upper.any():
        m = mu[data.at_upper]
        b = (data.upper - m) / sigma
        ratio = np.exp(-0.5 * b * b - _LOG_SQRT_2PI - log_ndtr(-b))
        expected[data.at_upper] = m + sigma * ratio
        variance[data.at_upper] = sigma**2 * np.clip(1.0 + b * ratio - ratio**2, 0.0, None)
    return expected, variance


def m_step(data: Problem, params: MixtureParams | None, weights: np.ndarray) -> MixtureParams:
    """One M-step: weighted least squares per group, the common variance, the shares.

    Parameters
    ----------
    data : Problem
    params : MixtureParams or None
        The current parameters (they give the censored observations' latent moments); None
        for a start, where censored observations count as observed at their bound.
    weights : ndarray
        Posterior probabilities, one row per entity, one column per group.

    Raises
    ------
    DegenerateFit
        A group holds less than :data:`MIN_GROUP_WEIGHT` entities' weight.
    """
    totals = weights.sum(axis=0)
    if (totals < MIN_GROUP_WEIGHT).any():
        raise DegenerateFit("a group has no entity left")
    betas, squares = [], 0.0
    for j in range(data.k):
        x = data.designs[j]
        if params is None or not data.censored:
            expected, variance = data.y, np.zeros_like(data.y)
        else:
            expected, variance = _latent_moments(data, x @ params.betas[j], params.sigma)
        w = weights[data.entity, j]
        weighted = x.T * w
        # normal equations: a handful of columns on a scaled time, well conditioned
        beta = np.linalg.lstsq(weighted @ x, weighted @ expected, rcond=None)[0]
        squares += float(np.sum(w * ((expected - x @ beta) ** 2 + variance)))
        betas.append(beta)
    sigma = math.sqrt(max(squares / len(data.y), 1e-12))
    shares = totals / totals.sum()
    return MixtureParams(betas=betas, log_sigma=math.log(sigma), theta=np.log(shares) - math.log(shares[0]))


@dataclass
class EMOutcome:
    """One start's EM: its parameters, log-likelihood, iterations and whether it converged."""

    params: MixtureParams
    loglik: float
    iterations: int
    converged: bool


def em(data: Problem, params: MixtureParams, *, tolerance: float = EM_TOLERANCE, max_iterations: int = EM_MAX_ITERATIONS) -> EMOutcome:
    """EM iterations from ``params`` until the log-likelihood gains less than ``tolerance`` (relative).

    Raises
    ------
    DegenerateFit
        A group lost every entity on the way.
    """
    previous = -math.inf
    for iteration in range(1, max_iterations + 1):
        loglik, weights = posterior(data, params)
        if loglik - previous <= tolerance * (1.0 + abs(loglik)):
            return EMOutcome(params, loglik, iteration, True)
        previous = loglik
        params = m_step(data, params, weights)
    loglik = log_likelihood(data, params)
    return EMOutcome(params, loglik, max_iterations, False)


# ------------------------------------------------------------------------------ starts
def _entity_features(data: Problem) -> np.ndarray:
    """Per entity, its mean outcome and its least-squares slope in time, standardised."""
    counts = np.bincount(data.entity, minlength=data.n_entities).astype("float64")
    mean_y = np.bincount(data.entity, weights=data.y, minlength=data.n_entities) / counts
    mean_t = np.bincount(data.entity, weights=data.tau, minlength=data.n_entities) / counts
    dt = data.tau - mean_t[data.entity]
    sxx = np.bincount(data.entity, weights=dt * dt, minlength=data.n_entities)
    sxy = np.bincount(data.entity, weights=dt * (data.y - mean_y[data.entity]), minlength=data.n_entities)
    slope = np.divide(sxy, sxx, out=np.zeros_like(sxy), where=sxx > 1e-12)
    features = np.column_stack([mean_y, slope])
    spread = features.std(axis=0)
    return (features - features.mean(axis=0)) / np.where(spread > 0, spread, 1.0)


def start_posteriors(data: Problem, k: int, rng: np.random.Generator, index: int) -> np.ndarray:
    """Starting posterior probabilities: a hard assignment softened (:data:`START_SHARPNESS`).

    Start 0 splits the entities into ``k`` equal groups by their mean outcome; the others draw
    ``k`` entities at random and assign every entity to the nearest in (mean, slope).
    """
    features = _entity_features(data)
    if index == 0:
        ranks = np.argsort(np.argsort(features[:, 0], kind="stable"), kind="stable")
        hard = ranks * k // data.n_entities
    else:
        centres = features[rng.choice(data.n_entities, size=k, replace=False)]
        hard = np.argmin(((features[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2), axis=1)
    weights = np.full((data.n_entities, k), (1.0 - START_SHARPNESS) / k)
    weights[np.arange(data.n_entities), hard] += START_SHARPNESS
    return weights


def initial_params(data: Problem, weights: np.ndarray) -> MixtureParams:
    """Parameters from starting posteriors (one M-step, censored observations taken at their bound)."""
    return m_step(data, None, weights)


# ------------------------------------------------------------------------------ score, information
def score(data: Problem, params: MixtureParams) -> np.ndarray:
    """The gradient of the log-likelihood in :meth:`MixtureParams.vector`'s layout.

    Notes
    -----
    :math:`\\partial \\ell / \\partial\\psi = \\sum_i \\sum_j w_{ij}\\, \\partial \\log(\\pi_j L_{ij}) / \\partial\\psi`
    (Louis): for :math:`\\beta_j`, :math:`X_j^\\top (w_{\\cdot j} \\odot \\partial_\\mu \\ell)`;
    for :math:`\\log\\sigma`, the weighted sum of :math:`\\partial_{\\log\\sigma}\\ell`; for
    :math:`\\theta_m`, :math:`\\sum_i (w_{im} - \\pi_m)`.
    """
    _, weights = posterior(data, params)
    parts, d_sigma = [], 0.0
    for j in range(data.k):
        _, d_mu, d_log_sigma = _group_terms(data, params, j)
        w = weights[data.entity, j]
        parts.append(data.designs[j].T @ (w * d_mu))
        d_sigma += float(np.sum(w * d_log_sigma))
    d_theta = weights.sum(axis=0)[1:] - data.n_entities * params.shares[1:]
    return np.concatenate([*parts, [d_sigma], d_theta])


def observed_information(data: Problem, params: MixtureParams) -> np.ndarray:
    """Minus the Hessian of the log-likelihood: central differences of the analytic :func:`score`."""
    vector = params.vector()
    size = len(vector)
    hessian = np.empty((size, size))
    for index in range(size):
        step = 1e-5 * max(1.0, abs(vector[index]))
        up, down = vector.copy(), vector.copy()
        up[index] += step
        down[index] -= step
        hessian[:, index] = (
            score(data, MixtureParams.from_vector(up, data.orders)) - score(data, MixtureParams.from_vector(down, data.orders))
        ) / (2 * step)
    return -(hessian + hessian.T) / 2


def _polish(data: Problem, outcome: EMOutcome) -> tuple[EMOutcome, bool]:
    """BFGS on the log-likelihood from EM's solution (kept only if it gains); whether it converged."""
    from scipy.optimize import minimize

    def negative(vector: np.ndarray) -> tuple[float, np.ndarray]:
        params = MixtureParams.from_vector(vector, data.orders)
        value = log_likelihood(data, params)
        if not math.isfinite(value):
            return math.inf, np.zeros_like(vector)
        return -value, -score(data, params)

    found = minimize(negative, outcome.params.vector(), jac=True, method="BFGS", options={"gtol": 1e-6, "maxiter": 500})
    if not np.isfinite(found.fun) or -found.fun < outcome.loglik:
        return outcome, bool(outcome.converged)
    params = MixtureParams.from_vector(found.x, data.orders)
    return EMOutcome(params, -float(found.fun), outcome.iterations, outcome.converged or bool(found.success)), True


# ------------------------------------------------------------------------------ several starts
@dataclass
class MixtureFit:
    """The best of several EM starts.

    Attributes
    ----------
    params : MixtureParams
    loglik : float
    start_logliks : list of float
        Each start's log-likelihood after EM (NaN for a degenerate start), in start order.
    iterations : int
        EM iterations of the best start.
    converged : bool
        EM reached its tolerance or BFGS its gradient tolerance.
    """

    params: MixtureParams
    loglik: float
    start_logliks: list[float]
    iterations: int
    converged: bool

    @property
    def starts_at_best(self) -> int:
        """How many starts reached the best log-likelihood (within 0.01): several is reassuring."""
        return int(sum(1 for value in self.start_logliks if math.isfinite(value) and value >= self.loglik - 0.01))


def fit_mixture(data: Problem, *, starts: int, seed: int) -> MixtureFit:
    """EM from ``starts`` seeded starts (one for one group), the best polished by BFGS.

    The random generator is ``numpy.random.default_rng([seed, k])``: the fit with ``k`` groups
    is the same whether fitted alone or among several numbers of groups.

    Raises
    ------
    DegenerateFit
        Every start left a group empty.
    """
    rng = np.random.default_rng([seed, data.k])
    outcomes: list[EMOutcome] = []
    logliks: list[float] = []
    for index in range(starts if data.k > 1 else 1):
        try:
            outcome = em(data, initial_params(data, start_posteriors(data, data.k, rng, index)))
        except DegenerateFit:
            logliks.append(math.nan)
            continue
        outcomes.append(outcome)
        logliks.append(outcome.loglik)
    if not outcomes:
        raise DegenerateFit(f"every start left one of the {data.k} groups without entities")
    best, converged = _polish(data, max(outcomes, key=lambda item: item.loglik))
    return MixtureFit(best.params, best.loglik, logliks, best.iterations, converged)


# ------------------------------------------------------------------------------ the fitted curve
def expected_outcome(mu: np.ndarray, sigma: float, lower: float, upper: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Expected value of the observed (censored) outcome and its derivatives in :math:`\\mu`, :math:`\\log\\sigma`.

    Notes
    -----
    With :math:`\\alpha = (a - \\mu)/\\sigma`, :math:`\\beta = (b - \\mu)/\\sigma`:

    .. math::

        E[y] = a\\Phi(\\alpha) + b(1 - \\Phi(\\beta)) + \\mu(\\Phi(\\beta) - \\Phi(\\alpha))
               + \\sigma(\\phi(\\alpha) - \\phi(\\beta)),

    :math:`\\partial E/\\partial\\mu = \\Phi(\\beta) - \\Phi(\\alpha)`,
    :math:`\\partial E/\\partial\\log\\sigma = \\sigma(\\phi(\\alpha) - \\phi(\\beta))`. Without
    bounds, :math:`E[y] = \\mu`.
    """
    mu = np.asarray(mu, dtype="float64")
    if not (math.isfinite(lower) or math.isfinite(upper)):
        return mu.copy(), np.ones_like(mu), np.zeros_like(mu)
    alpha = (lower - mu) / sigma
    beta = (upper - mu) / sigma
    cdf_a, cdf_b = ndtr(alpha), ndtr(beta)
    pdf_a = np.exp(-0.5 * alpha**2 - _LOG_SQRT_2PI) if math.isfinite(lower) else np.zeros_like(mu)
    pdf_b = np.exp(-0.5 * beta**2 - _LOG_SQRT_2PI) if math.isfinite(upper) else np.zeros_like(mu)
    value = mu * (cdf_b - cdf_a) + sigma * (pdf_a - pdf_b)
    if math.isfinite(lower):
        value = value + lower * cdf_a
    if math.isfinite(upper):
        value = value + upper * (1.0 - cdf_b)
    return value, cdf_b - cdf_a, sigma * (pdf_a - pdf_b)
