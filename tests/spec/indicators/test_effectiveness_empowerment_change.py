"""Spec: ``effectiveness.empowerment_change``, mean within-family change T0 → Tk (paired)."""

from __future__ import annotations

import pytest

from ._reach_isolation_tables import pick, rows, statsmodels_clustered_mean, unit_of
from ._score_tables import compute, score_tables

ID = "effectiveness.empowerment_change"

SCORES = [
    ("A", 0, 2.0), ("A", 6, 3.0),  # +1
    ("B", 0, 3.0), ("B", 6, 2.5),  # -0.5
    ("C", 0, 4.0), ("C", 6, 4.5),  # +0.5
    ("D", 0, 5.0), ("D", 6, None),  # not paired
    ("E", 6, 1.0),  # no T0: not paired
]


def test_paired_mean_change() -> None:
    frame = compute(score_tables("empowerment", SCORES, territories={"C": "T2"}))
    row = pick(frame, ID, wave=6)
    mean, low, high = statsmodels_clustered_mean([1.0, -0.5, 0.5], ["T1", "T1", "T2"])
    assert row["value"] == pytest.approx(mean) == pytest.approx(1 / 3)
    assert row["n"] == 3
    assert (row["ci_low"], row["ci_high"]) == (pytest.approx(max(low, -4.0)), pytest.approx(min(high, 4.0)))
    assert row["unit"] == unit_of(ID) == "points"
    assert 0 not in set(rows(frame, ID)["wave"])
