"""The cost–benefit parameter file: loading, validation rules, publishability, conversions."""

from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np
import pytest
import yaml
from proximite.economics.parameters import (
    DEFAULT_BENEFIT_PARAMETERS,
    load_benefit_parameters,
    parse_benefit_parameters,
)
from proximite.economics.publication import PublicationError
from proximite.economics.uncertain_values import ParameterError, moments_to_parameters

SOURCE = {"source": "Test study (2023)", "year": 2023, "placeholder": False}


def sourced(**block: Any) -> dict[str, Any]:
    return {**block, **SOURCE}


def mapping() -> dict[str, Any]:
    """A small, fully sourced parameter mapping (one outcome)."""
    return {
        "perspective": "society",
        "horizon_years": 5,
        "price_year": 2024,
        "currency": "CAD",
        "discount_rate": sourced(value=0.035),
        "discount_sensitivity": sourced(values=[0.015, 0.06]),
        "cost_multiplier": sourced(value=1.0),
        "outcomes": {
            "dpj": {
                "label_fr": "DPJ évitée",
                "label_en": "DPJ avoided",
                "perspectives": ["government", "society"],
                "direction": "avoided",
                "unit_value": sourced(distribution="gamma", mean=1000.0, sd=200.0),
                "baseline_probability": sourced(distribution="beta", mean=0.2, sd=0.05),
                "effect": sourced(measure="relative_risk", distribution="lognormal", mean=0.8, sd=0.1),
                "timing": sourced(start_year=0, duration_years=2),
                "drop_off": sourced(distribution="beta", mean=0.3, sd=0.1),
                "deadweight": sourced(value=0.1),
                "attribution": sourced(distribution="uniform", low=0.2, high=0.4),
                "displacement": sourced(value=0.0),
            }
        },
    }


def test_default_file_loads_with_the_four_outcomes_all_placeholders() -> None:
    parameters = load_benefit_parameters()
    assert parameters.origin == str(DEFAULT_BENEFIT_PARAMETERS)
    assert list(parameters.outcomes) == ["dpj", "logement", "urgence", "emploi"]
    assert parameters.discount_rate.mean == 0.035
    assert parameters.discount_sensitivity == (0.015, 0.06)
    assert parameters.currency == "CAD"
    values = list(parameters.values())
    assert all(value.placeholder for value in values)
    assert all(value.source and value.year for value in values)
    check = parameters.publishable()
    assert not check
    assert len(check.blockers) == len(values)
    assert "dpj.unit_value: placeholder, source is a placeholder" in check.blockers
    # per-perspective unit values
    emploi = parameters.outcomes["emploi"]
    assert emploi.unit_value["government"].mean == 9000 and emploi.unit_value["society"].mean == 22000
    assert emploi.direction == "gained" and emploi.start_year == 1


def test_a_sourced_signed_off_mapping_is_publishable() -> None:
    parameters = parse_benefit_parameters(mapping())
    assert parameters.publishable()
    assert parameters.publishable().blockers == ()
    parameters.publishable().require()  # does not raise
    outcome = parameters.outcomes["dpj"]
    assert outcome.attribution.mean == pytest.approx(0.3)
    assert outcome.attribution.sd == pytest.approx(0.2 / math.sqrt(12))
    assert outcome.unit_value["government"] is outcome.unit_value["society"]


def test_publication_refused_lists_each_blocker() -> None:
    data = mapping()
    data["outcomes"]["dpj"]["effect"]["placeholder"] = True
    del data["outcomes"]["dpj"]["drop_off"]["placeholder"]  # not marked
    data["outcomes"]["dpj"]["deadweight"]["source"] = "placeholder — to be set by the research team"
    check = parse_benefit_parameters(data).publishable()
    assert not check
    assert check.blockers == (
        "dpj.effect: placeholder",
        "dpj.drop_off: not marked (placeholder: false missing)",
        "dpj.deadweight: source is a placeholder",
    )
    with pytest.raises(PublicationError) as caught:
        check.require()
    assert caught.value.blockers == list(check.blockers)
    assert "dpj.drop_off" in str(caught.value)


def test_require_sources_false_loads_unsourced_values_that_block_publication() -> None:
    data = mapping()
    del data["outcomes"]["dpj"]["unit_value"]["source"]
    del data["outcomes"]["dpj"]["effect"]["year"]
    with pytest.raises(ParameterError, match="missing source"):
        parse_benefit_parameters(data)
    parameters = parse_benefit_parameters(data, require_sources=False)
    assert parameters.publishable().blockers == ("dpj.unit_value: no source", "dpj.effect: no year")


def _set(data: dict[str, Any], path: str, value: Any) -> None:
    keys = path.split(".")
    target = data
    for key in keys[:-1]:
        target = target[key]
    if value is DELETE:
        del target[keys[-1]]
    else:
        target[keys[-1]] = value


DELETE = object()


@pytest.mark.parametrize(
    ("path", "value", "outcome", "key", "rule"),
    [
        ("outcomes.dpj.unit_value.source", DELETE, "dpj", "unit_value.source", "missing source"),
        ("outcomes.dpj.effect.year", DELETE, "dpj", "effect.year", "missing year"),
        ("outcomes.dpj.baseline_probability.mean", 1.2, "dpj", "baseline_probability.mean", "must lie in [0, 1]"),
        ("outcomes.dpj.deadweight.value", -0.1, "dpj", "deadweight.mean", "must lie in [0, 1]"),
        ("outcomes.dpj.unit_value.sd", 0, "dpj", "unit_value.sd", "sd must be > 0"),
        ("outcomes.dpj.unit_value.sd", -5, "dpj", "unit_value.sd", "sd must be > 0"),
        ("outcomes.dpj.unit_value.distribution", "weibull", "dpj", "unit_value.distribution", "unknown distribution 'weibull'"),
        ("outcomes.dpj.drop_off.distribution", "gamma", "dpj", "drop_off.distribution", "a share or probability takes a fixed, beta, uniform"),
        ("outcomes.dpj.drop_off.sd", 0.5, "dpj", "drop_off.sd", "a beta with mean 0.3 needs sd <"),
        ("outcomes.dpj.effect.mean", -0.8, "dpj", "effect.mean", "a ratio must be > 0"),
        ("outcomes.dpj.effect.measure", "odds_ratio", "dpj", "effect.measure", "relative_risk or risk_difference"),
        ("outcomes.dpj.baseline_probability", DELETE, "dpj", "baseline_probability", "a relative risk needs a baseline_probability"),
        ("outcomes.dpj.displacement", DELETE, "dpj", "displacement", "required value block missing"),
        ("outcomes.dpj.perspectives", ["taxpayer"], "dpj", "perspectives", "unknown perspective 'taxpayer'"),
        ("outcomes.dpj.label_en", "", "dpj", "label_en", "required label missing"),
        ("outcomes.dpj.timing.duration_years", 0, "dpj", "timing.duration_years", "duration_years must be an integer ≥ 1"),
        ("outcomes.dpj.unit_value.low", 1500.0, "dpj", "unit_value.low", "low (1500) is above the mean"),
        ("outcomes.dpj.unit_value.colour", "red", "dpj", "unit_value", "unknown key(s) colour"),
        ("outcomes.dpj.unit_value.year", "2023", "dpj", "unit_value.year", "year must be a year"),
        ("perspective", "patient", None, "perspective", "unknown perspective 'patient'"),
        ("horizon_years", 0, None, "horizon_years", "horizon_years must be an integer ≥ 1"),
        ("discount_rate.value", 1.5, None, "discount_rate.mean", "a discount rate must lie in [0, 1)"),
    ],
)
def test_validation_errors_name_file_outcome_key_and_rule(path: str, value: Any, outcome: str | None, key: str, rule: str) -> None:
    data = copy.deepcopy(mapping())
    _set(data, path, value)
    with pytest.raises(ParameterError) as caught:
        parse_benefit_parameters(data, origin="benefits-test.yaml")
    error = caught.value
    assert error.path == "benefits-test.yaml"
    assert error.outcome == outcome
    assert error.key == key
    assert rule in error.rule
    message = str(error)
    assert message.startswith("benefits-test.yaml")
    assert f"key '{key}'" in message
    if outcome:
        assert f"outcome '{outcome}'" in message


def test_unit_value_per_perspective_must_cover_the_perspectives_listed() -> None:
    data = mapping()
    data["outcomes"]["dpj"]["unit_value"] = {"government": sourced(value=500.0)}
    with pytest.raises(ParameterError) as caught:
        parse_benefit_parameters(data)
    assert caught.value.key == "unit_value.society"


def test_load_from_a_file_names_the_file(tmp_path: Any) -> None:
    path = tmp_path / "mine.yaml"
    data = mapping()
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    assert load_benefit_parameters(path).publishable()
    data["outcomes"]["dpj"]["unit_value"]["sd"] = 0
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ParameterError, match=r"mine\.yaml, outcome 'dpj', key 'unit_value\.sd': sd must be > 0"):
        load_benefit_parameters(path)
    path.write_text("outcomes: [unclosed", encoding="utf-8")
    with pytest.raises(ParameterError, match="not valid YAML"):
        load_benefit_parameters(path)
    with pytest.raises(ParameterError, match="cannot read"):
        load_benefit_parameters(tmp_path / "absent.yaml")


def test_moments_to_parameters_by_hand() -> None:
    # beta: c = m(1 − m)/v − 1 = 0.16/0.01 − 1 = 15 → α = 3, β = 12
    assert moments_to_parameters("beta", 0.2, 0.1) == pytest.approx((3.0, 12.0))
    # gamma: k = m²/v = 100/25 = 4, θ = v/m = 2.5
    assert moments_to_parameters("gamma", 10.0, 5.0) == pytest.approx((4.0, 2.5))
    # lognormal: σ² = ln(1 + v/m²) = ln 1.25, μ = ln 10 − σ²/2
    mu, sigma = moments_to_parameters("lognormal", 10.0, 5.0)
    assert sigma == pytest.approx(math.sqrt(math.log(1.25)))
    assert mu == pytest.approx(math.log(10.0) - math.log(1.25) / 2)
    assert math.exp(mu + sigma**2 / 2) == pytest.approx(10.0)


def test_range_is_the_file_range_or_the_central_95_percent() -> None:
    from scipy import stats

    parameters = load_benefit_parameters()
    assert parameters.value("dpj.displacement").range() == (0.0, 0.05)
    unit = parameters.value("dpj.unit_value")
    k, theta = moments_to_parameters("gamma", 18000.0, 6000.0)
    assert unit.range() == pytest.approx(tuple(stats.gamma.ppf([0.025, 0.975], k, scale=theta)))
    assert parameters.value("urgence.displacement").range() == (0.0, 0.0)


def test_scale_uncertainty_and_replace_value_return_new_objects() -> None:
    parameters = load_benefit_parameters()
    small = parameters.scale_uncertainty(1e-3)
    assert small.value("dpj.unit_value").sd == pytest.approx(6.0)
    assert parameters.value("dpj.unit_value").sd == 6000.0  # unchanged
    fixed = parameters.replace_value("dpj.effect", mean=0.5, sd=0.0)
    assert fixed.value("dpj.effect").distribution == "fixed"
    assert fixed.value("dpj.effect").mean == 0.5
    assert parameters.value("dpj.effect").mean == 0.85
    with pytest.raises(ParameterError, match="must lie in"):
        parameters.replace_value("dpj.deadweight", mean=1.5)
    with pytest.raises(KeyError, match="no parameter 'dpj.nothing'"):
        parameters.replace_value("dpj.nothing", mean=1.0)
    assert np.isfinite(parameters.table()[["mean", "low", "high"]].to_numpy()).all()


# ------------------------------------------------------------------ labels (the pages name parameters in their language)
def _shipped_blockers() -> list[str]:
    from proximite.economics.costing_parameters import load_costing_parameters

    benefits = load_benefit_parameters(require_sources=False)
    costing = [f"costing.{name}: placeholder" for name in load_costing_parameters().placeholders()]
    return [*benefits.publishable().blockers, *costing]


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_every_shipped_parameter_and_reason_has_a_label_in_both_languages(lang: str) -> None:
    """No key of the parameter files (discount_rate, dpj.unit_value, costing.km_rate…) reaches a page as is."""
    from proximite.cohort.codebook import load_codebook
    from proximite.economics.parameter_labels import REASON_LABELS, parameter_label, reason_label, split_blocker

    benefits = load_benefit_parameters(require_sources=False)
    outcomes = {key: (outcome.label_fr, outcome.label_en) for key, outcome in benefits.outcomes.items()}
    blockers = _shipped_blockers()
    assert len(blockers) > 40
    for blocker in blockers:
        name, reasons = split_blocker(blocker)
        label = parameter_label(name, lang=lang, outcomes=outcomes, codebook=load_codebook())
        assert label != name and "_" not in label and "." not in label, (name, label)
        assert reasons and all(reason in REASON_LABELS for reason in reasons), blocker
        assert all(reason_label(reason, lang=lang) == REASON_LABELS[reason][lang == "en"] for reason in reasons)


def test_labels_by_hand() -> None:
    from proximite.cohort.codebook import load_codebook
    from proximite.economics.parameter_labels import parameter_label, parameter_labels, reason_label, split_blocker

    cb = load_codebook()
    outcomes = {"emploi": ("Emploi d'un parent", "Parental employment")}
    assert split_blocker("emploi.effect: placeholder, source is a placeholder") == (
        "emploi.effect", ["placeholder", "source is a placeholder"])
    assert split_blocker("dpj.timing: not marked (placeholder: false missing)") == (
        "dpj.timing", ["not marked (placeholder: false missing)"])
    assert parameter_label("emploi.unit_value.society", lang="fr", outcomes=outcomes) == (
        "Emploi d'un parent\u00a0: valeur unitaire (société)")
    assert parameter_label("emploi.unit_value.society", lang="en", outcomes=outcomes) == "Parental employment: unit value (society)"
    assert parameter_label("discount_rate", lang="fr") == "Taux d'actualisation"
    assert parameter_label("costing.supervision_kinds.clinique.fee_per_session", lang="fr", codebook=cb) == (
        "Supervision clinique\u00a0: frais par séance et par PTP")
    assert parameter_label("costing.wages.coordinator", lang="en") == "Base hourly wage (coordinator)"
    assert parameter_label("unknown.knob", lang="fr", outcomes=outcomes) == "unknown.knob"  # shown as code
    assert reason_label("source is a placeholder", lang="fr") == "source provisoire"
    assert parameter_labels(["discount_rate", "discount_rate"]) == {
        "discount_rate": {"fr": "Taux d'actualisation", "en": "Discount rate"}}
    # The model's own labels (the tornado's) come from the same table.
    benefits = load_benefit_parameters(require_sources=False)
    assert benefits.label("dpj.effect", lang="fr") == parameter_label(
        "dpj.effect", lang="fr", outcomes={"dpj": (benefits.outcomes["dpj"].label_fr, benefits.outcomes["dpj"].label_en)})
