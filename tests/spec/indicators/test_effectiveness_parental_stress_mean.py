"""Spec: ``effectiveness.parental_stress_mean``, the mean parental stress score (1–5) per wave."""

from __future__ import annotations

import pytest

from ._reach_isolation_tables import pick, rows, statsmodels_clustered_mean, unit_of
from ._score_tables import compute, score_tables

ID = "effectiveness.parental_stress_mean"


def test_mean_clustered_by_territory() -> None:
    scores = [("A", 0, 3.25), ("B", 0, 2.5), ("C", 0, 4.0), ("A", 12, 2.0)]
    frame = compute(score_tables("parental_stress", scores, territories={"C": "T2"}))
    row = pick(frame, ID, wave=0)
    mean, low, high = statsmodels_clustered_mean([3.25, 2.5, 4.0], ["T1", "T1", "T2"])
    assert row["value"] == pytest.approx(mean) == pytest.approx(9.75 / 3)
    assert (row["ci_low"], row["ci_high"]) == (pytest.approx(max(low, 1.0)), pytest.approx(min(high, 5.0)))
    assert row["unit"] == unit_of(ID) == "mean"
    assert pick(frame, ID, wave=12)["value"] == 2.0
    # Only parental stress is filled: no empowerment rows.
    assert rows(frame, "effectiveness.empowerment_mean").empty
