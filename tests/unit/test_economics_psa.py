"""PSA and one-way sensitivity: distributions, convergence, seeds and chunks, tornado ordering."""

from __future__ import annotations

import math
from typing import Any

import matplotlib
import numpy as np
import pandas as pd
import pytest
from proximite.economics.benefit import CostBenefit
from proximite.economics.parameters import load_benefit_parameters, parse_benefit_parameters
from proximite.economics.publication import PublicationError
from proximite.economics.uncertain_values import Value
from proximite.economics.psa import (
    combine_chunks,
    one_way,
    plan_chunks,
    psa_chunk,
    run_psa,
)

matplotlib.use("Agg")

COSTS = pd.Series([900_000.0, 950_000.0, 1_000_000.0], index=[2025, 2026, 2027])
FAMILIES = pd.Series([1000, 1100, 1200], index=[2025, 2026, 2027])
SOURCE = {"source": "Hand-worked test value", "year": 2024, "placeholder": False}


@pytest.fixture(scope="module")
def defaults() -> Any:
    return load_benefit_parameters()


# ------------------------------------------------------------------------------------- distributions
@pytest.mark.parametrize(
    ("distribution", "mean", "sd"),
    [("beta", 0.2, 0.05), ("beta", 0.7, 0.2), ("gamma", 18000.0, 6000.0), ("lognormal", 0.85, 0.08), ("lognormal", 550.0, 200.0)],
)
def test_draws_recover_mean_and_sd(distribution: str, mean: float, sd: float) -> None:
    n = 200_000
    value = Value(name="x", distribution=distribution, mean=mean, sd=sd)
    draws = value.sample(np.random.default_rng(20260101), n)
    # the mean within 4 standard errors; the sd within 4 standard errors of a sample sd
    # (se(s) ≈ s·√((κ − 1)/(4n)), κ the kurtosis: 3 % covers the skewed gamma and lognormal)
    assert abs(draws.mean() - mean) < 4 * sd / math.sqrt(n)
    assert draws.std(ddof=1) == pytest.approx(sd, rel=0.03)
    if distribution == "beta":
        assert draws.min() >= 0 and draws.max() <= 1
    else:
        assert draws.min() > 0


def test_fixed_values_repeat() -> None:
    value = Value(name="x", distribution="fixed", mean=3.0)
    assert (value.sample(np.random.default_rng(1), 5) == 3.0).all()


# ------------------------------------------------------------------------------------- PSA
def test_psa_mean_converges_to_the_deterministic_result(defaults: Any) -> None:
    deterministic = CostBenefit(defaults).fit(COSTS, FAMILIES)
    tight = run_psa(defaults.scale_uncertainty(1e-6), COSTS, FAMILIES, draws=2000, seed=3)
    assert tight.summary.loc["npv", "mean"] == pytest.approx(deterministic.npv, rel=1e-3)
    assert tight.summary.loc["bcr", "mean"] == pytest.approx(deterministic.bcr, rel=1e-3)
    assert tight.summary.loc["pv_costs", "mean"] == pytest.approx(deterministic.statistics["pv_costs"], rel=1e-3)
    assert tight.summary.loc["npv", "deterministic"] == pytest.approx(deterministic.npv)
    assert tight.summary.loc["npv", "sd"] < 1e-3 * abs(deterministic.npv)


def test_psa_results_shape_and_probabilities(defaults: Any) -> None:
    results = run_psa(defaults, COSTS, FAMILIES, draws=5000, seed=11)
    draws = results.draws
    assert len(draws) == 5000 and draws.index.name == "draw"
    assert list(results.summary.columns) == ["deterministic", "mean", "sd", "median", "ci_lower", "ci_upper"]
    assert list(results.summary.index)[:4] == ["npv", "bcr", "pv_costs", "pv_benefits"]
    assert {"pv_dpj", "pv_emploi", "dpj.unit_value", "emploi.unit_value.society", "cost_multiplier"} <= set(draws.columns)
    assert "emploi.unit_value.government" not in draws.columns  # not used from the society perspective
    assert results.p_bcr_gt_1 == pytest.approx((draws["bcr"] > 1).mean())
    assert results.p_npv_gt_0 == pytest.approx((draws["npv"] > 0).mean())
    assert results.p_bcr_gt_1 == results.p_npv_gt_0  # costs are positive
    npv = draws["npv"].to_numpy()
    assert results.summary.loc["npv", "ci_lower"] == pytest.approx(np.quantile(npv, 0.025))
    assert results.summary.loc["npv", "ci_upper"] == pytest.approx(np.quantile(npv, 0.975))
    np.testing.assert_allclose(draws["npv"], draws["pv_benefits"] - draws["pv_costs"], rtol=1e-12)
    np.testing.assert_allclose(draws["pv_benefits"], draws[[f"pv_{k}" for k in defaults.outcomes]].sum(axis=1), rtol=1e-12)
    assert 0 < results.p_bcr_gt_1 < 1
    assert results.probability_bcr_above(1.0) == results.p_bcr_gt_1
    record = results.to_dict()
    assert record["draws"] == 5000 and record["seed"] == 11 and record["interval"] == 0.95
    assert record["npv_low"] == results.summary.loc["npv", "ci_lower"]
    assert record["bcr_high"] == results.summary.loc["bcr", "ci_upper"]
    assert record["p_bcr_gt_1"] == results.p_bcr_gt_1
    curve = results.probability_bcr_above([0.0, 1.0, 100.0])
    assert curve[0] >= curve[1] >= curve[2] == 0
    assert results.publishable is False
    with pytest.raises(PublicationError):
        results.require_publishable()
    assert "P(BCR > 1)" in str(results)
    for kind in ("bcr", "npv", "curve"):
        assert results.plot(kind=kind) is not None
    import matplotlib.pyplot as plt

    plt.close("all")


def test_same_seed_same_draws_other_seed_other_draws(defaults: Any) -> None:
    first = run_psa(defaults, COSTS, FAMILIES, draws=1000, seed=42)
    again = run_psa(defaults, COSTS, FAMILIES, draws=1000, seed=42)
    other = run_psa(defaults, COSTS, FAMILIES, draws=1000, seed=43)
    pd.testing.assert_frame_equal(first.draws, again.draws)
    assert not np.allclose(first.draws["npv"], other.draws["npv"])
    assert first.statistics["seed"] == 42
    fresh = run_psa(defaults, COSTS, FAMILIES, draws=100)
    replay = run_psa(defaults, COSTS, FAMILIES, draws=100, seed=fresh.statistics["seed"])
    pd.testing.assert_frame_equal(fresh.draws, replay.draws)


def test_chunked_psa_equals_chunks_computed_apart(defaults: Any) -> None:
    whole = run_psa(defaults, COSTS, FAMILIES, draws=2500, seed=7, chunk=1000)
    assert whole.statistics["chunks"] == 3
    plan = plan_chunks(draws=2500, chunk=1000, seed=7)
    assert [size for size, _ in plan] == [1000, 1000, 500]
    spawned = np.random.SeedSequence(7).spawn(3)
    assert [sequence.spawn_key for _, sequence in plan] == [s.spawn_key for s in spawned]
    assert [sequence.generate_state(2).tolist() for _, sequence in plan] == [s.generate_state(2).tolist() for s in spawned]
    # as a Dask fan-out would: chunks computed separately, in any order, from the spawned seeds
    chunks = [psa_chunk(defaults, COSTS, FAMILIES, draws=size, seed_sequence=seq) for size, seq in reversed(plan)]
    combined = combine_chunks(chunks, publication=defaults.publishable(), seed=7)
    pd.testing.assert_frame_equal(combined.draws, whole.draws)
    # a root SeedSequence in place of the integer gives the same run
    by_sequence = run_psa(defaults, COSTS, FAMILIES, draws=2500, seed=np.random.SeedSequence(7), chunk=1000)
    pd.testing.assert_frame_equal(by_sequence.draws, whole.draws)
    # without the publication status, combined chunks are not publishable
    assert combine_chunks(chunks).publishable is False
    assert combined.p_bcr_gt_1 == whole.p_bcr_gt_1
    # a chunk's seed sequence is not consumed: computing it again gives the same draws
    again = psa_chunk(defaults, COSTS, FAMILIES, draws=plan[0][0], seed_sequence=plan[0][1])
    pd.testing.assert_frame_equal(again.draws, chunks[-1].draws)
    # one chunk of all the draws is the unchunked run
    single = run_psa(defaults, COSTS, FAMILIES, draws=2500, seed=7)
    pd.testing.assert_frame_equal(single.draws, run_psa(defaults, COSTS, FAMILIES, draws=2500, seed=7, chunk=2500).draws)


def test_combine_refuses_chunks_of_different_runs(defaults: Any) -> None:
    (size, seq), = plan_chunks(draws=10, seed=1)
    (_, other), = plan_chunks(draws=10, seed=2)
    a = psa_chunk(defaults, COSTS, FAMILIES, draws=size, seed_sequence=seq)
    b = psa_chunk(defaults, COSTS, FAMILIES, draws=size, seed_sequence=other)
    b.index = 1
    with pytest.raises(Exception, match="different runs"):
        combine_chunks([a, b])


def test_common_random_numbers_across_perspectives(defaults: Any) -> None:
    society = run_psa(defaults, COSTS, FAMILIES, draws=500, seed=5)
    government = run_psa(defaults, COSTS, FAMILIES, draws=500, seed=5, perspective="government")
    pd.testing.assert_series_equal(society.draws["dpj.unit_value"], government.draws["dpj.unit_value"])
    assert government.statistics["perspective"] == "government"


def test_psa_of_fixed_values_is_the_deterministic_result() -> None:
    fixed = lambda v: {"value": v, **SOURCE}
    p = parse_benefit_parameters({
        "perspective": "society", "horizon_years": 3, "price_year": 2024,
        "discount_rate": fixed(0.035),
        "outcomes": {"a": {
            "label_fr": "A", "label_en": "A", "perspectives": ["society"],
            "unit_value": fixed(1000.0), "effect": {"measure": "risk_difference", **fixed(0.1)},
            "timing": {"duration_years": 2, **SOURCE}, "drop_off": fixed(0.5), "deadweight": fixed(0.0),
            "attribution": fixed(0.0), "displacement": fixed(0.0),
        }},
    })
    results = run_psa(p, 1000.0, 100.0, draws=50, seed=0)
    expected = 10000 + 5000 / 1.035 - 1000
    assert np.allclose(results.draws["npv"], expected)
    assert results.publishable
    assert list(results.draws.columns) == ["npv", "bcr", "pv_costs", "pv_benefits", "pv_a"]


# ------------------------------------------------------------------------------------- one-way
def test_one_way_by_hand_and_tornado_order() -> None:
    s = SOURCE
    p = parse_benefit_parameters({
        "perspective": "society", "horizon_years": 1, "price_year": 2024,
        "discount_rate": {"value": 0.035, **s}, "discount_sensitivity": {"values": [0.015, 0.06], **s},
        "outcomes": {"a": {
            "label_fr": "A", "label_en": "A", "perspectives": ["society"],
            "unit_value": {"value": 1000.0, "low": 500.0, "high": 2000.0, **s},
            "effect": {"measure": "risk_difference", "value": 0.1, "low": 0.08, "high": 0.11, **s},
            "timing": {"duration_years": 1, **s},
            "drop_off": {"value": 0.0, **s}, "deadweight": {"value": 0.0, **s},
            "attribution": {"distribution": "uniform", "low": 0.0, "high": 0.5, **s},
            "displacement": {"value": 0.0, **s},
        }},
    })
    result = one_way(p, 500.0, 100.0)
    # base: 100 × 0.1 × 1000 × (1 − 0.25) − 500 = 7,000
    assert result.statistics["base"] == pytest.approx(7000.0)
    table = result.summary
    assert table.loc["a.unit_value", ["npv_low", "npv_high"]].tolist() == pytest.approx([100 * 0.1 * 500 * 0.75 - 500, 100 * 0.1 * 2000 * 0.75 - 500])
    assert table.loc["a.attribution", ["npv_low", "npv_high"]].tolist() == pytest.approx([10000 - 500, 5000 - 500])
    assert table.loc["a.effect", ["npv_low", "npv_high"]].tolist() == pytest.approx([100 * 0.08 * 750 - 500, 100 * 0.11 * 750 - 500])
    # swings: unit value 11,250, attribution 5,000, effect 2,250; horizon 1: the discount rate moves nothing
    assert list(table.index) == ["a.unit_value", "a.attribution", "a.effect", "discount_rate"]
    assert table["swing"].tolist() == pytest.approx([11250.0, 5000.0, 2250.0, 0.0])
    assert table["swing"].is_monotonic_decreasing
    records = result.to_records(lang="en")
    assert records[0] == {"parameter": "a.unit_value", "label": "A: unit value", "low": pytest.approx(3250.0),
                          "high": pytest.approx(14500.0), "swing": pytest.approx(11250.0)}
    assert result.to_records()[-1]["label"] == "Taux d'actualisation"
    ax = result.plot_tornado()
    assert [t.get_text() for t in ax.get_yticklabels()] == list(table.index)
    bcr = one_way(p, 500.0, 100.0, metric="bcr")
    assert bcr.statistics["base"] == pytest.approx(15.0)
    import matplotlib.pyplot as plt

    plt.close("all")


def test_one_way_on_the_defaults_includes_the_discount_rate(defaults: Any) -> None:
    result = one_way(defaults, COSTS, FAMILIES)
    table = result.summary
    assert table["swing"].is_monotonic_decreasing
    assert table.loc["discount_rate", ["low", "base", "high"]].tolist() == [0.015, 0.035, 0.06]
    deterministic = CostBenefit(defaults).fit(COSTS, FAMILIES)
    low = deterministic.extra["discounting"].loc[0.015, "npv"]
    assert table.loc["discount_rate", "npv_low"] == pytest.approx(low)
    assert result.statistics["base"] == pytest.approx(deterministic.npv)
    assert "dpj.timing" not in table.index and "urgence.displacement" not in table.index  # no range
    assert "dpj.displacement" in table.index  # a fixed value with a range in the file
    assert result.publishable is False
