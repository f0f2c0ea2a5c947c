"""The cost–benefit parameter set in memory: its outcomes and their sourced values.

:class:`BenefitParameters` holds every number of the cost–benefit model (unit values, baseline
probabilities, effects, SROI adjustments, the discount rate), each a
:class:`~proximite.economics.uncertain_values.Value`; :meth:`BenefitParameters.publishable` says
whether results built on them may be published. :mod:`~proximite.economics.parameters` reads
them from a file.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from proximite.economics.parameter_labels import FIELD_LABELS, parameter_label
from proximite.economics.publication import PublicationCheck
from proximite.economics.uncertain_values import Value, check_value

__all__ = ["FIELD_LABELS", "OUTCOME_SHARES", "PERSPECTIVES", "BenefitParameters", "Outcome"]

#: The perspectives an analysis may take.
PERSPECTIVES: tuple[str, ...] = ("government", "society")

#: The SROI adjustments every outcome carries, as shares.
OUTCOME_SHARES = ("drop_off", "deadweight", "attribution", "displacement")


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
        outcomes = {key: (outcome.label_fr, outcome.label_en) for key, outcome in self.outcomes.items()}
        return parameter_label(name, lang=lang, outcomes=outcomes)

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
            for name in OUTCOME_SHARES:
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
            check_value(new, self.origin, None, name)
            return new

        outcomes = {}
        for key, outcome in self.outcomes.items():
            fields: dict[str, Any] = {"unit_value": {p: swap(v) for p, v in outcome.unit_value.items()}, "effect": swap(outcome.effect)}
            if outcome.baseline_probability is not None:
                fields["baseline_probability"] = swap(outcome.baseline_probability)
            for share in OUTCOME_SHARES:
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
