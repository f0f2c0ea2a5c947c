"""One sourced parameter value with its distribution: the type, reading and checking it.

A value names its distribution (:data:`DISTRIBUTIONS`, restricted per kind of value by
:data:`ALLOWED_DISTRIBUTIONS`), its source and the source's year; :func:`moments_to_parameters`
turns (mean, sd) into the distribution's parameters. :func:`read_value` reads one value block of
a parameter file and :func:`check_value` checks one; both raise :class:`ParameterError`, naming
the file, the outcome, the key and the rule broken.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from proximite.errors import ProximiteError

__all__ = [
    "ALLOWED_DISTRIBUTIONS",
    "DISTRIBUTIONS",
    "Kind",
    "ParameterError",
    "Value",
    "check_value",
    "is_number",
    "moments_to_parameters",
    "read_value",
]

#: The distributions a value may follow.
DISTRIBUTIONS: tuple[str, ...] = ("fixed", "beta", "gamma", "lognormal", "normal", "uniform")

Kind = Literal["share", "ratio", "money", "rate", "difference"]

#: Distributions allowed per kind of value.
ALLOWED_DISTRIBUTIONS: dict[str, tuple[str, ...]] = {
    "share": ("fixed", "beta", "uniform"),  # probabilities and SROI shares, in [0, 1]
    "difference": ("fixed", "beta", "uniform", "normal"),  # a risk difference, in [-1, 1]
    "ratio": ("fixed", "lognormal", "gamma"),  # relative risks, multipliers, > 0
    "money": ("fixed", "gamma", "lognormal"),  # unit values, CAD, ≥ 0
    "rate": ("fixed",),  # the discount rate
}
_PLACEHOLDER_MARK = "placeholder"


class ParameterError(ProximiteError):
    """A parameter file breaks a rule.

    Parameters
    ----------
    path : str
        The file (or ``<mapping>`` for a mapping given in memory).
    rule : str
        The rule broken, in plain words.
    outcome : str, optional
        The outcome at fault.
    key : str, optional
        The key at fault, dotted (``unit_value.sd``).
    """

    def __init__(self, path: str | Path, rule: str, *, outcome: str | None = None, key: str | None = None) -> None:
        self.path = str(path)
        self.rule = rule
        self.outcome = outcome
        self.key = key
        where = [self.path]
        if outcome is not None:
            where.append(f"outcome '{outcome}'")
        if key is not None:
            where.append(f"key '{key}'")
        super().__init__(f"{', '.join(where)}: {rule}")



@dataclass(frozen=True)
class Value:
    """One parameter value with its distribution and provenance.

    Parameters
    ----------
    name : str
        Dotted name (``dpj.unit_value``, ``emploi.unit_value.society``, ``cost_multiplier``).
    distribution : str
        One of :data:`DISTRIBUTIONS`.
    mean : float
        The base-case value (the distribution's mean; uniform: the middle of its bounds).
    sd : float
        Standard deviation on the natural scale (0 for ``fixed``; uniform: (high − low)/√12).
    low, high : float or None
        One-way sensitivity range given in the file (uniform: its bounds), or None.
    source : str or None
        Citation text.
    year : int or None
        Year of the source.
    placeholder : bool or None
        True on defaults; None when the file does not say (not signed off).
    kind : str
        ``share``, ``difference``, ``ratio``, ``money`` or ``rate``.
    """

    name: str
    distribution: str
    mean: float
    sd: float = 0.0
    low: float | None = None
    high: float | None = None
    source: str | None = None
    year: int | None = None
    placeholder: bool | None = None
    kind: str = "money"

    @property
    def uncertain(self) -> bool:
        """Whether the PSA draws this value (a non-fixed distribution with sd > 0)."""
        return self.distribution != "fixed" and self.sd > 0

    def blocker(self) -> str | None:
        """Why this value blocks publication, or None."""
        reasons = []
        if self.placeholder:
            reasons.append("placeholder")
        elif self.placeholder is None:
            reasons.append("not marked (placeholder: false missing)")
        if not self.source:
            reasons.append("no source")
        elif self.source.strip().lower().startswith(_PLACEHOLDER_MARK):
            reasons.append("source is a placeholder")
        if self.year is None:
            reasons.append("no year")
        return f"{self.name}: {', '.join(reasons)}" if reasons else None

    def range(self) -> tuple[float, float]:
        """One-way sensitivity range: ``(low, high)`` from the file, else the 2.5 % and 97.5 % quantiles.

        A fixed value without a range gives ``(mean, mean)``.
        """
        if self.low is not None and self.high is not None:
            return float(self.low), float(self.high)
        if not self.uncertain:
            return self.mean, self.mean
        low, high = self.quantile(np.array([0.025, 0.975]))
        return float(low), float(high)

    def quantile(self, q: np.ndarray) -> np.ndarray:
        """Quantiles of the distribution (scipy), ``q`` in [0, 1].

        Notes
        -----
        The parameters are converted from (mean, sd) as :func:`moments_to_parameters` states.
        """
        from scipy import stats

        q = np.asarray(q, dtype="float64")
        if not self.uncertain:
            return np.full(q.shape, self.mean)
        a, b = moments_to_parameters(self.distribution, self.mean, self.sd, low=self.low, high=self.high)
        if self.distribution == "beta":
            return stats.beta.ppf(q, a, b)
        if self.distribution == "gamma":
            return stats.gamma.ppf(q, a, scale=b)
        if self.distribution == "lognormal":
            return stats.lognorm.ppf(q, b, scale=math.exp(a))
        if self.distribution == "normal":
            return stats.norm.ppf(q, a, b)
        return stats.uniform.ppf(q, a, b - a)

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """``size`` draws (vectorised); a fixed value repeats its mean.

        Notes
        -----
        beta(α, β), gamma(k, θ) and lognormal(μ, σ) take the parameters of
        :func:`moments_to_parameters`, so each draw's expectation is ``mean`` and its standard
        deviation ``sd``.
        """
        if not self.uncertain:
            return np.full(size, self.mean)
        a, b = moments_to_parameters(self.distribution, self.mean, self.sd, low=self.low, high=self.high)
        if self.distribution == "beta":
            return rng.beta(a, b, size)
        if self.distribution == "gamma":
            return rng.gamma(a, b, size)
        if self.distribution == "lognormal":
            return rng.lognormal(a, b, size)
        if self.distribution == "normal":
            return rng.normal(a, b, size)
        return rng.uniform(a, b, size)

    def scaled(self, factor: float) -> Value:
        """This value with its standard deviation (uniform: its half-width) multiplied by ``factor``."""
        if self.distribution == "uniform":
            assert self.low is not None and self.high is not None
            half = (self.high - self.low) / 2 * factor
            return dataclasses.replace(self, low=self.mean - half, high=self.mean + half, sd=self.sd * factor)
        return dataclasses.replace(self, sd=self.sd * factor)


def moments_to_parameters(
    distribution: str, mean: float, sd: float, *, low: float | None = None, high: float | None = None
) -> tuple[float, float]:
    """A distribution's parameters from its mean and standard deviation (natural scale).

    Parameters
    ----------
    distribution : {"beta", "gamma", "lognormal", "normal", "uniform"}
    mean, sd : float
        Mean m and standard deviation s > 0.
    low, high : float, optional, keyword-only
        The bounds of a uniform.

    Returns
    -------
    tuple of float
        beta: (α, β); gamma: (shape k, scale θ); lognormal: (μ, σ) of the log; normal: (m, s);
        uniform: (low, high).

    Notes
    -----
    Method of moments, with v = s²:

    - beta: c = m(1 − m)/v − 1, α = m·c, β = (1 − m)·c (needs v < m(1 − m));
    - gamma: k = m²/v, θ = v/m;
    - lognormal: σ² = ln(1 + v/m²), μ = ln m − σ²/2 (so E[X] = m and Var[X] = v);
    - uniform: the bounds; mean (low + high)/2 and sd (high − low)/√12.
    """
    v = sd * sd
    if distribution == "beta":
        common = mean * (1 - mean) / v - 1
        return mean * common, (1 - mean) * common
    if distribution == "gamma":
        return mean * mean / v, v / mean
    if distribution == "lognormal":
        sigma2 = math.log1p(v / (mean * mean))
        return math.log(mean) - sigma2 / 2, math.sqrt(sigma2)
    if distribution == "normal":
        return mean, sd
    if distribution == "uniform":
        if low is None or high is None:
            raise ValueError("a uniform needs low and high")
        return low, high
    raise ValueError(f"no parameters for distribution {distribution!r}")


def is_number(value: Any) -> bool:
    """Whether ``value`` is a finite int or float (not a bool)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(float(value))


_VALUE_KEYS = {"distribution", "mean", "sd", "low", "high", "value", "source", "year", "placeholder"}


def read_value(
    raw: Any, *, name: str, kind: str, key: str, outcome: str | None, origin: str, require_sources: bool
) -> Value:
    def fail(rule: str, sub: str | None = None) -> ParameterError:
        return ParameterError(origin, rule, outcome=outcome, key=f"{key}.{sub}" if sub else key)

    if is_number(raw):
        raw = {"value": raw}
    if not isinstance(raw, Mapping):
        raise fail("a value must be a number or a mapping (distribution, mean, sd, source, year)")
    unknown = sorted(set(raw) - _VALUE_KEYS)
    if unknown:
        raise fail(f"unknown key(s) {', '.join(map(str, unknown))}; a value takes {', '.join(sorted(_VALUE_KEYS))}")
    distribution = raw.get("distribution", "fixed" if "value" in raw else None)
    if distribution is None:
        raise fail("no distribution (give distribution: ... or value: x)", "distribution")
    if distribution not in DISTRIBUTIONS:
        raise fail(f"unknown distribution {distribution!r}; use one of {', '.join(DISTRIBUTIONS)}", "distribution")
    for sub in ("mean", "sd", "low", "high", "value"):
        if sub in raw and raw[sub] is not None and not is_number(raw[sub]):
            raise fail(f"must be a finite number (got {raw[sub]!r})", sub)
    low = float(raw["low"]) if raw.get("low") is not None else None
    high = float(raw["high"]) if raw.get("high") is not None else None
    if distribution == "uniform":
        if low is None or high is None:
            raise fail("a uniform needs low and high", "low")
        mean = (low + high) / 2
        sd = (high - low) / math.sqrt(12)
        if "mean" in raw and abs(float(raw["mean"]) - mean) > 1e-12 * max(1.0, abs(mean)):
            raise fail("a uniform's mean is (low + high) / 2; drop mean or make it agree", "mean")
    else:
        if distribution == "fixed":
            if "value" not in raw and "mean" not in raw:
                raise fail("a fixed value needs value: x (or mean: x)", "value")
            mean = float(raw["value"] if "value" in raw else raw["mean"])
            sd = 0.0
            if raw.get("sd") not in (None, 0, 0.0):
                raise fail("a fixed value has no sd (choose a distribution)", "sd")
        else:
            if "value" in raw:
                raise fail(f"value: is for fixed values; a {distribution} takes mean and sd", "value")
            if raw.get("mean") is None:
                raise fail(f"a {distribution} needs a mean", "mean")
            if raw.get("sd") is None:
                raise fail(f"a {distribution} needs an sd", "sd")
            mean = float(raw["mean"])
            sd = float(raw["sd"])
            if sd <= 0:
                raise fail(f"sd must be > 0 (got {sd:g}); use value: x for a fixed value", "sd")

    source = raw.get("source")
    if source is not None and not isinstance(source, str):
        raise fail("source must be citation text", "source")
    year = raw.get("year")
    if year is not None and (not isinstance(year, int) or isinstance(year, bool) or not 1900 <= year <= 2200):
        raise fail(f"year must be a year (an integer; got {year!r})", "year")
    placeholder = raw.get("placeholder")
    if placeholder is not None and not isinstance(placeholder, bool):
        raise fail("placeholder must be true or false", "placeholder")
    if require_sources:
        if not source or not source.strip():
            raise fail("missing source (cite the value's source, or 'placeholder — to be set by the research team')", "source")
        if year is None:
            raise fail("missing year (the year of the source)", "year")
    value = Value(
        name=name, distribution=distribution, mean=mean, sd=sd, low=low, high=high,
        source=source.strip() if isinstance(source, str) else None, year=year, placeholder=placeholder, kind=kind,
    )
    check_value(value, origin, outcome, key)
    return value


def check_value(value: Value, origin: str, outcome: str | None, key: str) -> None:
    """The domain rules of a value (its kind, its distribution, its range)."""

    def fail(rule: str, sub: str | None = None) -> ParameterError:
        return ParameterError(origin, rule, outcome=outcome, key=f"{key}.{sub}" if sub else key)

    allowed = ALLOWED_DISTRIBUTIONS[value.kind]
    if value.distribution not in allowed:
        what = {"share": "a share or probability", "difference": "a risk difference", "ratio": "a ratio",
                "money": "a unit value", "rate": "a discount rate"}[value.kind]
        raise fail(f"{what} takes a {', '.join(allowed)} distribution, not {value.distribution}", "distribution")
    domain = {"share": (0.0, 1.0), "difference": (-1.0, 1.0)}.get(value.kind)
    checks = [("mean", value.mean), ("low", value.low), ("high", value.high)]
    for sub, number in checks:
        if number is None:
            continue
        if value.kind == "rate" and not 0 <= number < 1:
            raise fail(f"a discount rate must lie in [0, 1) (got {number:g})", sub)
        if domain is not None and not domain[0] <= number <= domain[1]:
            noun = "a probability or share" if value.kind == "share" else value.kind.replace("_", " ")
            raise fail(f"{noun} must lie in [{domain[0]:g}, {domain[1]:g}] (got {number:g})", sub)
        if value.kind == "ratio" and number <= 0:
            raise fail(f"a ratio must be > 0 (got {number:g})", sub)
        if value.kind == "money" and number < 0:
            raise fail(f"a unit value must be ≥ 0 (got {number:g})", sub)
    if value.distribution in ("gamma", "lognormal") and value.mean <= 0:
        raise fail(f"a {value.distribution} needs a mean > 0 (got {value.mean:g})", "mean")
    if value.distribution == "beta":
        if not 0 < value.mean < 1:
            raise fail(f"a beta needs a mean strictly inside (0, 1) (got {value.mean:g})", "mean")
        if value.sd > 0 and value.sd**2 >= value.mean * (1 - value.mean):
            raise fail(
                f"a beta with mean {value.mean:g} needs sd < √(m(1 − m)) = {math.sqrt(value.mean * (1 - value.mean)):.4g} (got {value.sd:g})",
                "sd",
            )
    if value.low is not None and value.high is not None and value.low > value.high:
        raise fail(f"low ({value.low:g}) is above high ({value.high:g})", "low")
    if value.distribution != "uniform":
        if value.low is not None and value.low > value.mean:
            raise fail(f"low ({value.low:g}) is above the mean ({value.mean:g})", "low")
        if value.high is not None and value.high < value.mean:
            raise fail(f"high ({value.high:g}) is below the mean ({value.mean:g})", "high")
