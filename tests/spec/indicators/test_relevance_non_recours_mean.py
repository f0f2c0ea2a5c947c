"""Spec: ``relevance.non_recours_mean`` = mean ``non_recours`` score (0–3) by wave (scenario of ``_relevance_tables``).

By hand: Québec T0 = (3 + 2 + 3 + 1 + 0 + 3 + 2) / 7 = 14/7 = 2.0, SE clustered by territory
(T1, T1, T1, T2, T2, T3, T3) = statsmodels cluster-robust OLS on a constant, t(2);
T6 = (1 + 2 + 0 + 2) / 4 = 1.25 (C has no score); T12 = (0 + 0) / 2 = 0.
Region 02 T0 (one territory: clustered by family) = (3 + 2)/2 = 2.5, s² = 0.5, SE = 0.5, t(1) = 12.706
→ [−3.85, 8.85] cut to [0, 3].
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from proximite.indicators.relevance import non_recours_mean

from ._reach_isolation_tables import PARAMETERS, pick, statsmodels_clustered_mean, unchanged, unit_of
from ._relevance_tables import relevance_tables

ID = "relevance.non_recours_mean"


def test_mean_non_recours_by_wave() -> None:
    frame = unchanged(non_recours_mean, relevance_tables(), parameters=PARAMETERS)
    assert set(frame["indicator"]) == {ID}
    row = pick(frame, ID, wave=0)
    mean, low, high = statsmodels_clustered_mean([3, 2, 3, 1, 0, 3, 2], ["T1"] * 3 + ["T2"] * 2 + ["T3"] * 2)
    assert row["value"] == pytest.approx(2.0) == pytest.approx(mean)
    assert (row["ci_low"], row["ci_high"]) == (pytest.approx(max(low, 0)), pytest.approx(min(high, 3)))
    assert row["n"] == 7 and row["unit"] == unit_of(ID) == "mean"
    assert "clustered by territory" in row["method"]
    assert pick(frame, ID, wave=6)["value"] == pytest.approx(1.25) and pick(frame, ID, wave=6)["n"] == 4
    assert pick(frame, ID, wave=12)["value"] == 0.0


def test_one_territory_region_is_clustered_by_family_and_cut_to_the_scale() -> None:
    row = pick(unchanged(non_recours_mean, relevance_tables(), parameters=PARAMETERS), ID,
               scope="region", scope_id="02", wave=0)
    low, high = stats.t.interval(0.95, 1, loc=2.5, scale=np.sqrt(0.5 / 2))
    assert low < 0 and high > 3
    assert (row["value"], row["ci_low"], row["ci_high"]) == (2.5, 0.0, 3.0)
    assert "clustered by family" in row["method"]
