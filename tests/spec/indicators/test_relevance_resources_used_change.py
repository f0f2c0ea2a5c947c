"""Spec: ``relevance.resources_used_change`` = mean within-family change of the resources used from T0.

By hand (scenario of ``_relevance_tables``): T6: A 2 − 0 = 2, B 1 − 1 = 0, D 4 − 2 = 2, G 1 − 0 = 1
→ 5/4 = 1.25, clustered by territory (T1, T1, T2, T3) = statsmodels (no range cut);
T12: A 4 − 0 = 4, E 6 − 5 = 1 → 2.5.
"""

from __future__ import annotations

import pytest

from proximite.indicators.relevance import resources_used_change

from ._reach_isolation_tables import PARAMETERS, pick, statsmodels_clustered_mean, unchanged
from ._relevance_tables import relevance_tables

ID = "relevance.resources_used_change"


def test_paired_change_of_resources_used() -> None:
    frame = unchanged(resources_used_change, relevance_tables(), parameters=PARAMETERS)
    assert set(frame["indicator"]) == {ID}
    row = pick(frame, ID, wave=6)
    mean, low, high = statsmodels_clustered_mean([2, 0, 2, 1], ["T1", "T1", "T2", "T3"])
    assert (row["value"], row["ci_low"], row["ci_high"]) == (pytest.approx(1.25), pytest.approx(low),
                                                             pytest.approx(high))
    assert pick(frame, ID, wave=12)["value"] == pytest.approx(2.5)
