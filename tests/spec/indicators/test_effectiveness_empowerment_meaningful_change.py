"""Spec: ``effectiveness.empowerment_meaningful_change``: paired families whose score rose by ≥ δ.

δ = ``[indicators.meaningful_change] empowerment`` (default 0.5 point); a rise of exactly δ
counts; a fall never does. Wilson interval.
"""

from __future__ import annotations

import pytest
from statsmodels.stats.proportion import proportion_confint

from ._reach_isolation_tables import pick, unit_of
from ._score_tables import compute, score_tables

ID = "effectiveness.empowerment_meaningful_change"

SCORES = [
    ("A", 0, 2.0), ("A", 6, 3.0),  # rose 1: counts
    ("B", 0, 3.5), ("B", 6, 2.5),  # fell 1: does not
    ("C", 0, 4.0), ("C", 6, 4.5),  # rose exactly 0.5: counts
    ("D", 0, 2.0), ("D", 6, 2.49),  # rose 0.49: does not
    ("E", 0, 3.0),  # not paired
]


def test_share_with_a_rise_of_at_least_delta() -> None:
    row = pick(compute(score_tables("empowerment", SCORES)), ID, wave=6)
    assert (row["numerator"], row["denominator"], row["n"]) == (2, 4, 4)
    low, high = proportion_confint(2, 4, method="wilson")
    assert (row["value"], row["ci_low"], row["ci_high"]) == (0.5, pytest.approx(low), pytest.approx(high))
    assert row["unit"] == unit_of(ID) == "share"


def test_delta_parameter() -> None:
    frame = compute(score_tables("empowerment", SCORES), score_meaningful_change=(("empowerment", 1.0),))
    assert pick(frame, ID, wave=6)[["numerator", "denominator"]].tolist() == [1, 4]  # A only
