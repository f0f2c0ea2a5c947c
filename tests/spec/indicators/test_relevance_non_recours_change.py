"""Spec: ``relevance.non_recours_change`` = mean within-family change of ``non_recours`` from T0 (paired).

By hand (scenario of ``_relevance_tables``), families observed at T0 and Tk:
T6: A 1 − 3 = −2, B 2 − 2 = 0, D 0 − 1 = −1, G 2 − 3 = −1 (C has no T6 score) → −4/4 = −1,
clustered by territory (T1, T1, T2, T3) = statsmodels; T12: A 0 − 3 = −3, E 0 − 0 = 0 → −1.5.
Territory T1 T6: −2, 0 → −1, s² = 2, SE = 1, t(1) = 12.706 → cut to [−3, 3]. No T0 row.
"""

from __future__ import annotations

import pytest

from proximite.indicators.relevance import non_recours_change

from ._reach_isolation_tables import PARAMETERS, pick, statsmodels_clustered_mean, unchanged, unit_of
from ._relevance_tables import relevance_tables

ID = "relevance.non_recours_change"


def test_paired_change_from_t0() -> None:
    frame = unchanged(non_recours_change, relevance_tables(), parameters=PARAMETERS)
    assert set(frame["indicator"]) == {ID}
    assert set(frame["wave"].astype(int)) == {6, 12}
    row = pick(frame, ID, wave=6)
    mean, low, high = statsmodels_clustered_mean([-2, 0, -1, -1], ["T1", "T1", "T2", "T3"])
    assert (row["value"], row["ci_low"], row["ci_high"], row["n"]) == (
        pytest.approx(-1.0), pytest.approx(max(low, -3)), pytest.approx(min(high, 3)), 4)
    assert row["unit"] == unit_of(ID) == "points" and "within-family changes" in row["method"]
    assert pick(frame, ID, wave=12)["value"] == pytest.approx(-1.5)
    t1 = pick(frame, ID, scope="territory", scope_id="T1", wave=6)
    assert (t1["value"], t1["ci_low"], t1["ci_high"]) == (-1.0, -3.0, 3.0)
