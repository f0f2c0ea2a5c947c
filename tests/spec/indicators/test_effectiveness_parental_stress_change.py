"""Spec: ``effectiveness.parental_stress_change``, mean within-family change T0 → Tk (paired)."""

from __future__ import annotations

import pytest

from ._reach_isolation_tables import pick, statsmodels_clustered_mean, unit_of
from ._score_tables import compute, score_tables

ID = "effectiveness.parental_stress_change"


def test_paired_mean_change_keeps_its_sign() -> None:
    scores = [("A", 0, 4.0), ("A", 12, 3.0), ("B", 0, 3.5), ("B", 12, 3.25), ("C", 0, 2.0), ("C", 12, 2.5)]
    frame = compute(score_tables("parental_stress", scores, territories={"B": "T2", "C": "T3"}))
    row = pick(frame, ID, wave=12)
    mean, low, high = statsmodels_clustered_mean([-1.0, -0.25, 0.5], ["T1", "T2", "T3"])
    assert row["value"] == pytest.approx(mean) == pytest.approx(-0.25)  # a fall: stress went down
    assert (row["ci_low"], row["ci_high"]) == (pytest.approx(max(low, -4.0)), pytest.approx(min(high, 4.0)))
    assert row["unit"] == unit_of(ID) == "points"
