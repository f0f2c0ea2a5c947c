"""Spec: ``relevance.resources_used_mean`` = mean resources used in the last 3 months, by wave.

By hand (scenario of ``_relevance_tables``): Québec T0 = (0 + 1 + 0 + 2 + 5 + 0 + 1) / 7 = 9/7;
T6 = (2 + 1 + 4 + 1) / 4 = 2.0; territory T2 T0 = (2 + 5) / 2 = 3.5, plain t interval
(s² = 4.5, SE = 1.5, t(1)) = 3.5 ± 19.06 cut at 0 below.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from proximite.indicators.relevance import resources_used_mean

from ._reach_isolation_tables import PARAMETERS, pick, statsmodels_clustered_mean, unchanged
from ._relevance_tables import relevance_tables

ID = "relevance.resources_used_mean"


def test_mean_resources_used_by_wave() -> None:
    frame = unchanged(resources_used_mean, relevance_tables(), parameters=PARAMETERS)
    assert set(frame["indicator"]) == {ID}
    row = pick(frame, ID, wave=0)
    mean, low, high = statsmodels_clustered_mean([0, 1, 0, 2, 5, 0, 1], ["T1"] * 3 + ["T2"] * 2 + ["T3"] * 2)
    assert (row["value"], row["ci_low"], row["ci_high"]) == (
        pytest.approx(9 / 7), pytest.approx(max(low, 0.0)), pytest.approx(high))
    assert pick(frame, ID, wave=6)["value"] == pytest.approx(2.0)
    t2 = pick(frame, ID, scope="territory", scope_id="T2", wave=0)
    low, high = stats.t.interval(0.95, 1, loc=3.5, scale=np.sqrt(4.5 / 2))
    assert (t2["value"], t2["ci_low"], t2["ci_high"]) == (3.5, 0.0, pytest.approx(high))
