"""The cost–benefit parameter file: loading, validation, publishability, distributions.

Every number of the cost–benefit model (unit values, baseline probabilities, effects, SROI
adjustments, the discount rate) lives in a YAML file where each value names its distribution,
its source and the source's year; the package's default file
(``economics/params/benefits.yaml``) holds placeholders only. :func:`load_benefit_parameters`
reads a file and :func:`parse_benefit_parameters` validates an already-read mapping (no I/O) into
a :class:`~proximite.economics.benefit_parameters.BenefitParameters`.

Errors name the file, the outcome, the key and the rule broken (:class:`ParameterError`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from proximite.economics.benefit_parameters import OUTCOME_SHARES, PERSPECTIVES, BenefitParameters, Outcome
from proximite.economics.uncertain_values import ParameterError, Value, is_number, read_value

__all__ = ["DEFAULT_BENEFIT_PARAMETERS", "load_benefit_parameters", "parse_benefit_parameters"]

#: The package's default parameter file (placeholders only).
DEFAULT_BENEFIT_PARAMETERS: Path = Path(__file__).resolve().parent / "params" / "benefits.yaml"


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
        return read_value(raw, name=name, kind=kind, key=key, outcome=outcome, origin=origin, require_sources=require_sources)

    if "discount_rate" not in data:
        raise fail("required key missing", "discount_rate")
    discount = read(data["discount_rate"], "discount_rate", "rate", "discount_rate", None)
    rates, sensitivity_value = _discount_sensitivity(data, discount, fail, read)
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


def _discount_sensitivity(
    data: Mapping[str, Any], discount: Value, fail: Any, read: Any
) -> tuple[list[float], Value]:
    """The discount rates of the sensitivity analysis and their provenance as a value."""
    # absent, or a bare list of rates: the provenance of the discount rate applies
    inherited = {"source": discount.source, "year": discount.year, "placeholder": discount.placeholder}
    sensitivity_raw = data.get("discount_sensitivity", [0.015, 0.06])
    if isinstance(sensitivity_raw, Sequence) and not isinstance(sensitivity_raw, str):
        sensitivity_raw = {"values": list(sensitivity_raw), **inherited}
    if not isinstance(sensitivity_raw, Mapping) or not isinstance(sensitivity_raw.get("values"), Sequence):
        raise fail("must be a list of rates or a mapping with 'values', 'source' and 'year'", "discount_sensitivity")
    rates = []
    for rate in sensitivity_raw["values"]:
        if not is_number(rate) or not 0 <= float(rate) < 1:
            raise fail(f"a discount rate must be a number in [0, 1) (got {rate!r})", "discount_sensitivity.values")
        rates.append(float(rate))
    sensitivity_value = read(
        {**{k: v for k, v in sensitivity_raw.items() if k != "values"}, "value": discount.mean},
        "discount_sensitivity", "rate", "discount_sensitivity", None,
    )
    return rates, sensitivity_value


def _read_outcome(key: str, raw: Any, origin: str, read: Any) -> Outcome:
    def fail(rule: str, field_: str | None = None) -> ParameterError:
        return ParameterError(origin, rule, outcome=key, key=field_)

    if not isinstance(raw, Mapping):
        raise fail("an outcome must be a mapping")
    known = {"label_fr", "label_en", "perspectives", "direction", "unit_value", "baseline_probability", "effect", "timing", *OUTCOME_SHARES}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise fail(f"unknown key(s) {', '.join(map(str, unknown))}; an outcome takes {', '.join(sorted(known))}")
    for label in ("label_fr", "label_en"):
        if not isinstance(raw.get(label), str) or not raw[label].strip():
            raise fail("required label missing", label)
    perspectives = _outcome_perspectives(raw, fail)
    direction = raw.get("direction", "avoided")
    if direction not in ("avoided", "gained"):
        raise fail(f"direction must be 'avoided' or 'gained' (got {direction!r})", "direction")
    unit = _unit_values(key, raw, perspectives, fail, read)
    effect, measure, baseline = _effect(key, raw, fail, read)
    start, duration, timing = _timing(key, raw, fail, read)
    shares = {}
    for name in OUTCOME_SHARES:
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


def _outcome_perspectives(raw: Mapping[str, Any], fail: Any) -> Sequence[str]:
    """The perspectives that count an outcome (one name or a list)."""
    perspectives = raw.get("perspectives")
    if isinstance(perspectives, str):
        perspectives = [perspectives]
    if not isinstance(perspectives, Sequence) or not perspectives:
        raise fail("list the perspectives that count this outcome (government, society)", "perspectives")
    for perspective in perspectives:
        if perspective not in PERSPECTIVES:
            raise fail(f"unknown perspective {perspective!r}; use {', '.join(PERSPECTIVES)}", "perspectives")
    return perspectives


def _unit_values(key: str, raw: Mapping[str, Any], perspectives: Sequence[str], fail: Any, read: Any) -> dict[str, Value]:
    """An outcome's unit value per perspective: one value block, or one per perspective."""
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
    return unit


def _effect(key: str, raw: Mapping[str, Any], fail: Any, read: Any) -> tuple[Value, str, Value | None]:
    """An outcome's effect, its measure, and the baseline probability a relative risk needs."""
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
    return effect, measure, baseline


def _timing(key: str, raw: Mapping[str, Any], fail: Any, read: Any) -> tuple[int, int, Value]:
    """An outcome's start year, duration, and the duration as a sourced value."""
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
    return start, duration, timing
