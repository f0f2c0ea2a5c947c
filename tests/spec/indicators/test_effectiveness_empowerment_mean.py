"""Spec: ``effectiveness.empowerment_mean``, the mean empowerment score (1–5) per wave.

Mean over the families with a score at the wave; SE clustered by territory (by family in a cell
of one territory), t interval with G − 1 df, cut to [1, 5].
"""

from __future__ import annotations

import pytest

from ._reach_isolation_tables import pick, statsmodels_clustered_mean, unit_of
from ._score_tables import compute, score_tables

ID = "effectiveness.empowerment_mean"

SCORES = [("A", 0, 2.0), ("B", 0, 3.0), ("C", 0, 4.0), ("D", 0, 4.5), ("E", 0, None), ("A", 6, 3.5)]
TERRITORIES = {"A": "T1", "B": "T1", "C": "T2", "D": "T3", "E": "T3"}


def test_mean_clustered_by_territory() -> None:
    frame = compute(score_tables("empowerment", SCORES, territories=TERRITORIES))
    row = pick(frame, ID, wave=0)
    assert row["value"] == pytest.approx((2.0 + 3.0 + 4.0 + 4.5) / 4)  # E has no score
    assert row["n"] == 4
    _, low, high = statsmodels_clustered_mean([2.0, 3.0, 4.0, 4.5], ["T1", "T1", "T2", "T3"])
    assert (row["ci_low"], row["ci_high"]) == (pytest.approx(max(low, 1.0)), pytest.approx(min(high, 5.0)))
    assert row["unit"] == unit_of(ID) == "mean"
    assert "clustered by territory" in row["method"]
    assert pick(frame, ID, wave=6)["value"] == 3.5


def test_interval_cut_to_the_scale() -> None:
    # Two territories: t with 1 df is wide enough to leave 1-5.
    frame = compute(score_tables("empowerment", [("A", 0, 1.0), ("C", 0, 5.0)], territories={"C": "T2"}))
    row = pick(frame, ID, wave=0)
    assert (row["value"], row["ci_low"], row["ci_high"]) == (3.0, 1.0, 5.0)


def test_region_of_one_territory_is_clustered_by_family() -> None:
    frame = compute(score_tables("empowerment", SCORES, territories=TERRITORIES))
    row = pick(frame, ID, scope="region", scope_id="02", wave=0)
    assert row["value"] == 4.5 and row["n"] == 1 and "clustered by family" in row["method"]
