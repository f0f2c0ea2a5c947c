"""The cost–benefit parameter file: loading, validation, publishability, distributions.

Every number of the cost–benefit model (unit values, baseline probabilities, effects, SROI
adjustments, the discount rate) lives in a YAML file where each value names its distribution,
its source and the source's year; the package's default file
(``economics/params/benefits.yaml``) holds placeholders only. :func:`load_benefit_parameters`
reads a file, :func:`parse_benefit_parameters` validates an already-read mapping (no I/O), and
:meth:`BenefitParameters.publishable` says whether results built on them may be published.

Errors name the file, the outcome, the key and the rule broken (:class:`ParameterError`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Self

import numpy as np
from proximite.errors import ProximiteError

__all__ = [
    "DEFAULT_BENEFIT_PARAMETERS",
    "DISTRIBUTIONS",
    "PERSPECTIVES",
    "BenefitParameters",
    "Outcome",
    "ParameterError",
    "PublicationCheck",
    "PublicationError",
    "PublicationStatus",
    "Value",
    "load_benefit_parameters",
    "parse_benefit_parameters",
]

#: The package's default parameter file (placeholders only).
DEFAULT_BENEFIT_PARAMETERS: Path = Path(__file__).resolve().parent / "params" / "benefits.yaml"

#: The perspectives an analysis may take.
PERSPECTIVES: tuple[str, ...] = ("government", "society")

#: The distributions a value may follow.
DISTRIBUTIONS: tuple[str, ...] = ("fixed", "beta", "gamma", "lognormal", "normal", "uniform")

Kind = Literal["share", "ratio", "money", "rate", "difference"]

#: Distributions allowed per kind of value.
_ALLOWED: dict[str, tuple[str, ...]] = {
    "share": ("fixed", "beta", "uniform"),  # probabilities and SROI shares, in [0, 1]
    "difference": ("fixed", "beta", "uniform", "normal"),  # a risk difference, in [-1, 1]
    "ratio": ("fixed", "lognormal", "gamma"),  # relative risks, multipliers, > 0
    "money": ("fixed", "gamma", "lognormal"),  # unit values, CAD, ≥ 0
    "rate": ("fixed",),  # the discount rate
}
_OUTCOME_SHARES = ("drop_off", "deadweight", "attribution", "displacement")
_FIELD_LABELS: dict[str, dict[str, str]] = {
    "en": {
        "unit_value": "unit value", "baseline_probability": "baseline probability", "effect": "effect",
        "timing": "timing", "drop_off": "drop-off", "deadweight": "deadweight", "attribution": "attribution",
        "displacement": "displacement", "government": "government", "society": "society",
        "cost_multiplier": "Programme cost multiplier", "discount_rate": "Discount rate",
        "discount_sensitivity": "Discount rates (sensitivity)",
    },
    "fr": {
        "unit_value": "valeur unitaire", "baseline_probability": "probabilité de base", "effect": "effet",
        "timing": "calendrier", "drop_off": "atténuation annuelle", "deadweight": "poids mort",
        "attribution": "attribution", "displacement": "déplacement", "government": "gouvernement",
        "society": "société", "cost_multiplier": "Multiplicateur des coûts du programme",
        "discount_rate": "Taux d'actualisation", "discount_sensitivity": "Taux d'actualisation (sensibilité)",
    },
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


class PublicationError(ProximiteError):
    """Results were asked for publication while some parameters are placeholders or unsourced.

    ``blockers`` lists each value at fault with the reason.
    """

    def __init__(self, blockers: Sequence[str]) -> None:
        self.blockers = list(blockers)
        listing = "\n".join(f"  - {blocker}" for blocker in self.blockers)
        super().__init__(
            f"these results cannot be published: {len(self.blockers)} parameter value(s) are placeholders, "
            f"unsourced or not signed off (set a source, a year and placeholder: false):\n{listing}"
        )


@dataclass(frozen=True)
class PublicationCheck:
    """Whether results may be published; truthy when they may. ``blockers`` says what prevents it."""

    blockers: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return not self.blockers

    def require(self) -> None:
        """Raise :class:`PublicationError` when anything blocks publication."""
        if self.blockers:
            raise PublicationError(self.blockers)


class PublicationStatus:
    """What every economics results object says about publication (it has a ``publication`` check)."""

    publication: PublicationCheck

    @property
    def publishable(self) -> bool:
        """Whether every parameter is sourced, dated and signed off (``placeholder: false``)."""
        return bool(self.publication)

    @property
    def blockers(self) -> list[str]:
        """The parameter values that block publication, with the reasons."""
        return list(self.publication.blockers)

    def require_publishable(self) -> Self:
        """Return self, or raise :class:`PublicationError` listing what blocks."""
        self.publication.require()
        return self


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


@dataclass(frozen=True)
class Outcome:
    """One monetised outcome.

    Parameters
    ----------
    key : str
        The outcome's key in the file (``dpj``).
    label_fr, label_en : str
    perspectives : tuple of str
        The perspectives that count it.
    direction : {"avoided", "gained"}
        An adverse event prevented, or a favourable event obtained.
    unit_value : dict of str to Value
        CAD per occurrence by perspective (the same Value under every perspective when the file
        gives one).
    effect : Value
        A relative risk (``measure == "relative_risk"``) or a risk difference.
    measure : {"relative_risk", "risk_difference"}
    baseline_probability : Value or None
        Annual probability without the programme (required with a relative risk).
    start_year, duration_years : int
        The effect starts ``start_year`` years after a family is reached and lasts
        ``duration_years`` years.
    timing : Value
        Provenance of the timing (its ``mean`` is ``duration_years``; not drawn).
    drop_off, deadweight, attribution, displacement : Value
        Shares in [0, 1].
    """

    key: str
    label_fr: str
    label_en: str
    perspectives: tuple[str, ...]
    direction: str
    unit_value: dict[str, Value]
    effect: Value
    measure: str
    baseline_probability: Value | None
    start_year: int
    duration_years: int
    timing: Value
    drop_off: Value
    deadweight: Value
    attribution: Value
    displacement: Value

    def values(self) -> Iterator[Value]:
        """Every value of the outcome, each once, in a stable order."""
        seen: set[str] = set()
        for value in self.unit_value.values():
            if value.name not in seen:
                seen.add(value.name)
                yield value
        if self.baseline_probability is not None:
            yield self.baseline_probability
        yield self.effect
        yield self.timing
        yield self.drop_off
        yield self.deadweight
        yield self.attribution
        yield self.displacement


@dataclass(frozen=True)
class BenefitParameters:
    """The validated parameter file (:func:`load_benefit_parameters`).

    Parameters
    ----------
    perspective : {"government", "society"}
    horizon_years : int
    discount_rate : Value
    discount_sensitivity : tuple of float
        The other rates reported beside the base case (1.5 % and 6 % by default).
    discount_sensitivity_value : Value
        Provenance of ``discount_sensitivity``.
    price_year : int
    currency : str
    cost_multiplier : Value
        Multiplier on the programme costs from costing (1 = as costed).
    outcomes : dict of str to Outcome
    origin : str
        The file read (or ``<mapping>``).
    """

    perspective: str
    horizon_years: int
    discount_rate: Value
    discount_sensitivity: tuple[float, ...]
    discount_sensitivity_value: Value
    price_year: int
    currency: str
    cost_multiplier: Value
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    origin: str = "<mapping>"

    def values(self) -> Iterator[Value]:
        """Every value of the file, each once, in file order."""
        yield self.discount_rate
        yield self.discount_sensitivity_value
        yield self.cost_multiplier
        for outcome in self.outcomes.values():
            yield from outcome.values()

    def uncertain_values(self) -> list[Value]:
        """The values the PSA draws, in a stable order (the order of :meth:`values`)."""
        return [value for value in self.values() if value.uncertain]

    def value(self, name: str) -> Value:
        """The value named ``name`` (``dpj.unit_value``); KeyError lists the names otherwise."""
        for value in self.values():
            if value.name == name:
                return value
        raise KeyError(f"no parameter {name!r}; the names are: {', '.join(v.name for v in self.values())}")

    def outcomes_for(self, perspective: str | None = None) -> list[Outcome]:
        """The outcomes counted under ``perspective`` (default: the file's)."""
        perspective = perspective or self.perspective
        return [outcome for outcome in self.outcomes.values() if perspective in outcome.perspectives]

    def label(self, name: str, *, lang: str = "en") -> str:
        """A readable label for the value ``name`` (``dpj.effect`` → "… avoided: effect").

        Parameters
        ----------
        name : str
            A value's name, or ``discount_rate``.
        lang : {"en", "fr"}, keyword-only
        """
        words = _FIELD_LABELS["fr" if lang == "fr" else "en"]
        if name in words:
            return words[name]
        key, _, rest = name.partition(".")
        outcome = self.outcomes.get(key)
        if outcome is None:
            return name
        field_name, _, perspective = rest.partition(".")
        text = f"{outcome.label_fr if lang == 'fr' else outcome.label_en} : {words.get(field_name, field_name)}"
        if lang != "fr":
            text = text.replace(" : ", ": ")
        if perspective:
            text += f" ({words.get(perspective, perspective)})"
        return text

    def publishable(self) -> PublicationCheck:
        """Whether results built on these parameters may be published.

        Returns
        -------
        PublicationCheck
            Falsy when any value is a placeholder, has no source or year, or is not marked
            ``placeholder: false``; ``.blockers`` lists them (``name: reasons``).
        """
        return PublicationCheck(tuple(b for b in (value.blocker() for value in self.values()) if b))

    def scale_uncertainty(self, factor: float) -> BenefitParameters:
        """A copy with every standard deviation (uniform: half-width) multiplied by ``factor``.

        Used to check that the PSA converges to the deterministic result as variances shrink.
        """

        def scale_outcome(outcome: Outcome) -> Outcome:
            changes: dict[str, Any] = {
                "unit_value": {p: v.scaled(factor) for p, v in outcome.unit_value.items()},
                "effect": outcome.effect.scaled(factor),
                "baseline_probability": None if outcome.baseline_probability is None else outcome.baseline_probability.scaled(factor),
            }
            for name in _OUTCOME_SHARES:
                changes[name] = getattr(outcome, name).scaled(factor)
            return dataclasses.replace(outcome, **changes)

        return dataclasses.replace(
            self,
            cost_multiplier=self.cost_multiplier.scaled(factor),
            outcomes={key: scale_outcome(outcome) for key, outcome in self.outcomes.items()},
        )

    def replace_value(self, name: str, **changes: Any) -> BenefitParameters:
        """A copy where the value ``name`` has ``changes`` (e.g. ``mean=0.2, sd=0.0``); validated again."""
        found = False

        def swap(value: Value) -> Value:
            nonlocal found
            if value.name != name:
                return value
            found = True
            new = dataclasses.replace(value, **changes)
            if "sd" in changes and changes["sd"] == 0 and new.distribution != "uniform":
                new = dataclasses.replace(new, distribution="fixed")
            _check_value(new, self.origin, None, name)
            return new

        outcomes = {}
        for key, outcome in self.outcomes.items():
            fields: dict[str, Any] = {"unit_value": {p: swap(v) for p, v in outcome.unit_value.items()}, "effect": swap(outcome.effect)}
            if outcome.baseline_probability is not None:
                fields["baseline_probability"] = swap(outcome.baseline_probability)
            for share in _OUTCOME_SHARES:
                fields[share] = swap(getattr(outcome, share))
            outcomes[key] = dataclasses.replace(outcome, **fields)
        replaced = dataclasses.replace(
            self,
            discount_rate=swap(self.discount_rate),
            cost_multiplier=swap(self.cost_multiplier),
            outcomes=outcomes,
        )
        if not found:
            self.value(name)  # raises KeyError with the names
        return replaced

    def table(self) -> Any:
        """Every value as a DataFrame (name, distribution, mean, sd, low, high, source, year, placeholder)."""
        import pandas as pd

        rows = [
            {
                "name": v.name, "distribution": v.distribution, "mean": v.mean, "sd": v.sd,
                "low": v.range()[0], "high": v.range()[1],
                "source": v.source, "year": v.year, "placeholder": v.placeholder,
            }
            for v in self.values()
        ]
        return pd.DataFrame(rows).set_index("name")


# ------------------------------------------------------------------------------------- loading
def load_benefit_parameters(path: str | Path | None = None, *, require_sources: bool = True) -> BenefitParameters:
    """Read and validate a cost–benefit parameter file (YAML).

    Parameters
    ----------
    path : str or Path, optional
        The file (default: :data:`DEFAULT_BENEFIT_PARAMETERS`, placeholders only).
    require_sources : bool, default True, keyword-only
        Refuse a value without ``source`` or ``year``. With False such values load (for
        exploration) and block publication.

    Returns
    -------
    BenefitParameters

    Raises
    ------
    ParameterError
        The file is missing or not YAML, or a value breaks a rule; the message names the file,
        the outcome, the key and the rule.

    Notes
    -----
    Rules: ``perspective`` ∈ {government, society}; ``horizon_years`` an integer ≥ 1; the discount
    rate in [0, 1); each value has a known distribution, ``sd > 0`` unless fixed, a mean in
    the value's domain (shares in [0, 1], relative risks and unit values > 0), a beta's variance
    below m(1 − m), ``low ≤ mean ≤ high``, a source and a year; each outcome has labels in French
    and English, a perspective, a unit value for every perspective it lists, an effect (a relative
    risk needs a baseline probability) and a timing.
    """
    import yaml

    path = Path(path) if path is not None else DEFAULT_BENEFIT_PARAMETERS
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ParameterError(path, f"cannot read the parameter file ({error.strerror or error})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ParameterError(path, f"not valid YAML ({error})") from None
    return parse_benefit_parameters(data, origin=str(path), require_sources=require_sources)


def parse_benefit_parameters(
    data: Mapping[str, Any], *, origin: str = "<mapping>", require_sources: bool = True
) -> BenefitParameters:
    """Validate an already-read parameter mapping (the YAML's content); no I/O.

    Parameters
    ----------
    data : mapping
        The parameter file's content.
    origin : str, keyword-only
        What to name in errors (the file).
    require_sources : bool, default True, keyword-only
        As in :func:`load_benefit_parameters`.

    Returns
    -------
    BenefitParameters
    """
    if not isinstance(data, Mapping):
        raise ParameterError(origin, "the file must be a mapping of keys to values")

    def fail(rule: str, key: str | None = None, outcome: str | None = None) -> ParameterError:
        return ParameterError(origin, rule, outcome=outcome, key=key)

    perspective = data.get("perspective", "society")
    if perspective not in PERSPECTIVES:
        raise fail(f"unknown perspective {perspective!r}; use one of {', '.join(PERSPECTIVES)}", "perspective")
    horizon = data.get("horizon_years")
    if not isinstance(horizon, int) or isinstance(horizon, bool) or horizon < 1:
        raise fail("horizon_years must be an integer ≥ 1", "horizon_years")
    price_year = data.get("price_year")
    if not isinstance(price_year, int) or not 1900 <= price_year <= 2200:
        raise fail("price_year must be a year (an integer)", "price_year")
    currency = data.get("currency", "CAD")
    if not isinstance(currency, str):
        raise fail("currency must be text (CAD)", "currency")

    def read(raw: Any, name: str, kind: str, key: str, outcome: str | None) -> Value:
        return _read_value(raw, name=name, kind=kind, key=key, outcome=outcome, origin=origin, require_sources=require_sources)

    if "discount_rate" not in data:
        raise fail("required key missing", "discount_rate")
    discount = read(data["discount_rate"], "discount_rate", "rate", "discount_rate", None)
    # absent, or a bare list of rates: the provenance of the discount rate applies
    inherited = {"source": discount.source, "year": discount.year, "placeholder": discount.placeholder}
    sensitivity_raw = data.get("discount_sensitivity", [0.015, 0.06])
    if isinstance(sensitivity_raw, Sequence) and not isinstance(sensitivity_raw, str):
        sensitivity_raw = {"values": list(sensitivity_raw), **inherited}
    if not isinstance(sensitivity_raw, Mapping) or not isinstance(sensitivity_raw.get("values"), Sequence):
        raise fail("must be a list of rates or a mapping with 'values', 'source' and 'year'", "discount_sensitivity")
    rates = []
    for rate in sensitivity_raw["values"]:
        if not _is_number(rate) or not 0 <= float(rate) < 1:
            raise fail(f"a discount rate must be a number in [0, 1) (got {rate!r})", "discount_sensitivity.values")
        rates.append(float(rate))
    sensitivity_value = read(
        {**{k: v for k, v in sensitivity_raw.items() if k != "values"}, "value": discount.mean},
        "discount_sensitivity", "rate", "discount_sensitivity", None,
    )
    multiplier_raw = data.get(
        "cost_multiplier", {"value": 1.0, "source": "costs as computed by proximite.economics.costing", "year": price_year, "placeholder": False}
    )
    multiplier = read(multiplier_raw, "cost_multiplier", "ratio", "cost_multiplier", None)

    raw_outcomes = data.get("outcomes")
    if not isinstance(raw_outcomes, Mapping) or not raw_outcomes:
        raise fail("at least one outcome is required (a mapping of outcome keys)", "outcomes")
    outcomes = {str(key): _read_outcome(str(key), raw, origin, read) for key, raw in raw_outcomes.items()}
    known = {"perspective", "horizon_years", "price_year", "currency", "discount_rate", "discount_sensitivity", "cost_multiplier", "outcomes"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise fail(f"unknown key(s) {', '.join(map(str, unknown))}; the keys are {', '.join(sorted(known))}")
    return BenefitParameters(
        perspective=perspective,
        horizon_years=horizon,
        discount_rate=discount,
        discount_sensitivity=tuple(rates),
        discount_sensitivity_value=sensitivity_value,
        price_year=price_year,
        currency=currency,
        cost_multiplier=multiplier,
        outcomes=outcomes,
        origin=origin,
    )


def _read_outcome(key: str, raw: Any, origin: str, read: Any) -> Outcome:
    def fail(rule: str, field_: str | None = None) -> ParameterError:
        return ParameterError(origin, rule, outcome=key, key=field_)

    if not isinstance(raw, Mapping):
        raise fail("an outcome must be a mapping")
    known = {"label_fr", "label_en", "perspectives", "direction", "unit_value", "baseline_probability", "effect", "timing", *_OUTCOME_SHARES}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise fail(f"unknown key(s) {', '.join(map(str, unknown))}; an outcome takes {', '.join(sorted(known))}")
    for label in ("label_fr", "label_en"):
        if not isinstance(raw.get(label), str) or not raw[label].strip():
            raise fail("required label missing", label)
    perspectives = raw.get("perspectives")
    if isinstance(perspectives, str):
        perspectives = [perspectives]
    if not isinstance(perspectives, Sequence) or not perspectives:
        raise fail("list the perspectives that count this outcome (government, society)", "perspectives")
    for perspective in perspectives:
        if perspective not in PERSPECTIVES:
            raise fail(f"unknown perspective {perspective!r}; use {', '.join(PERSPECTIVES)}", "perspectives")
    direction = raw.get("direction", "avoided")
    if direction not in ("avoided", "gained"):
        raise fail(f"direction must be 'avoided' or 'gained' (got {direction!r})", "direction")

    # unit value: one value block, or one per perspective
    if "unit_value" not in raw:
        raise fail("required key missing", "unit_value")
    unit_raw = raw["unit_value"]
    unit: dict[str, Value] = {}
    if isinstance(unit_raw, Mapping) and set(unit_raw) and set(unit_raw) <= set(PERSPECTIVES):
        for perspective in perspectives:
            if perspective not in unit_raw:
                raise fail(f"no unit value for the perspective {perspective!r} the outcome lists", f"unit_value.{perspective}")
        for perspective, block in unit_raw.items():
            unit[perspective] = read(block, f"{key}.unit_value.{perspective}", "money", f"unit_value.{perspective}", key)
    else:
        value = read(unit_raw, f"{key}.unit_value", "money", "unit_value", key)
        unit = {perspective: value for perspective in perspectives}

    effect_raw = raw.get("effect")
    if not isinstance(effect_raw, Mapping):
        raise fail("required value block missing", "effect")
    measure = effect_raw.get("measure", "relative_risk")
    if measure not in ("relative_risk", "risk_difference"):
        raise fail(f"effect.measure must be relative_risk or risk_difference (got {measure!r})", "effect.measure")
    effect = read(
        {k: v for k, v in effect_raw.items() if k != "measure"}, f"{key}.effect",
        "ratio" if measure == "relative_risk" else "difference", "effect", key,
    )
    baseline = None
    if raw.get("baseline_probability") is not None:
        baseline = read(raw["baseline_probability"], f"{key}.baseline_probability", "share", "baseline_probability", key)
    elif measure == "relative_risk":
        raise fail("a relative risk needs a baseline_probability", "baseline_probability")

    timing_raw = raw.get("timing", {})
    if not isinstance(timing_raw, Mapping):
        raise fail("timing must be a mapping (start_year, duration_years, source, year)", "timing")
    start = timing_raw.get("start_year", 0)
    duration = timing_raw.get("duration_years", raw.get("duration_years"))
    if not isinstance(start, int) or isinstance(start, bool) or start < 0:
        raise fail("start_year must be an integer ≥ 0", "timing.start_year")
    if not isinstance(duration, int) or isinstance(duration, bool) or duration < 1:
        raise fail("duration_years must be an integer ≥ 1", "timing.duration_years")
    timing = read(
        {**{k: v for k, v in timing_raw.items() if k not in ("start_year", "duration_years")}, "value": float(duration)},
        f"{key}.timing", "ratio", "timing", key,
    )
    shares = {}
    for name in _OUTCOME_SHARES:
        if name not in raw:
            raise fail("required value block missing (use value: 0 with a source when it does not apply)", name)
        shares[name] = read(raw[name], f"{key}.{name}", "share", name, key)
    return Outcome(
        key=key,
        label_fr=raw["label_fr"].strip(),
        label_en=raw["label_en"].strip(),
        perspectives=tuple(perspectives),
        direction=direction,
        unit_value=unit,
        effect=effect,
        measure=measure,
        baseline_probability=baseline,
        start_year=start,
        duration_years=duration,
        timing=timing,
        **shares,
    )


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(float(value))


_VALUE_KEYS = {"distribution", "mean", "sd", "low", "high", "value", "source", "year", "placeholder"}


def _read_value(
    raw: Any, *, name: str, kind: str, key: str, outcome: str | None, origin: str, require_sources: bool
) -> Value:
    def fail(rule: str, sub: str | None = None) -> ParameterError:
        return ParameterError(origin, rule, outcome=outcome, key=f"{key}.{sub}" if sub else key)

    if _is_number(raw):
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
        if sub in raw and raw[sub] is not None and not _is_number(raw[sub]):
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
    _check_value(value, origin, outcome, key)
    return value


def _check_value(value: Value, origin: str, outcome: str | None, key: str) -> None:
    """The domain rules of a value (its kind, its distribution, its range)."""

    def fail(rule: str, sub: str | None = None) -> ParameterError:
        return ParameterError(origin, rule, outcome=outcome, key=f"{key}.{sub}" if sub else key)

    allowed = _ALLOWED[value.kind]
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
