"""Spec: ``effectiveness.parental_stress_meaningful_change``: paired families whose stress fell by ≥ δ.

The good direction of stress is down: a fall of at least δ (default 0.5) counts, a rise never.
"""

from __future__ import annotations

import pytest
from statsmodels.stats.proportion import proportion_confint

from ._reach_isolation_tables import pick, unit_of
from ._score_tables import compute, score_tables

ID = "effectiveness.parental_stress_meaningful_change"

SCORES = [
    ("A", 0, 3.0), ("A", 24, 2.5),  # fell 0.5: counts
    ("B", 0, 3.0), ("B", 24, 3.6),  # rose 0.6: does not
    ("C", 0, 4.0), ("C", 24, 3.0),  # fell 1: counts
]


def test_share_with_a_fall_of_at_least_delta() -> None:
    row = pick(compute(score_tables("parental_stress", SCORES)), ID, wave=24)
    assert (row["numerator"], row["denominator"]) == (2, 3)
    low, high = proportion_confint(2, 3, method="wilson")
    assert (row["value"], row["ci_low"], row["ci_high"]) == (
        pytest.approx(2 / 3), pytest.approx(low), pytest.approx(high))
    assert row["unit"] == unit_of(ID) == "share"


def test_delta_from_the_settings(tmp_path) -> None:
    from proximite.indicators.base import IndicatorParameters

    class Settings:  # the part of Settings that from_settings reads
        raw = {"indicators": {"meaningful_change": {"parental_stress": 0.75}}}

    parameters = IndicatorParameters.from_settings(Settings())
    assert parameters.meaningful_change_of("parental_stress") == 0.75
    assert parameters.meaningful_change_of("empowerment") == 0.5
    frame = compute(score_tables("parental_stress", SCORES), score_meaningful_change=parameters.score_meaningful_change)
    assert pick(frame, ID, wave=24)[["numerator", "denominator"]].tolist() == [1, 3]  # C only
