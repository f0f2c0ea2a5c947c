"""Spec: ``acceptability.recommend_agree_share`` = share of families scoring 4 or 5 on ``satisfaction_recommend``.

| family | territory | T0 | T12 |
|---|---|---|---|
| A | T1 | 4 | 3 |
| B | T2 | 5 | 5 |
| C | T3 | 3 | 4 |

By hand: Québec T0 = A, B → 2/3; T12 = B, C → 2/3; region 01 T12 = B of A, B → 1/2;
the rural stratum (T2) T12 = 1/1. A score of exactly 4 agrees, 3 does not.
"""

from __future__ import annotations

import pytest
from statsmodels.stats.proportion import proportion_confint

from proximite.indicators.acceptability import recommend_agree_share

from ._axes_tables import cohort_tables
from ._reach_isolation_tables import PARAMETERS, pick, unchanged

ID = "acceptability.recommend_agree_share"
SCORES = [("A", 0, 4), ("B", 0, 5), ("C", 0, 3), ("A", 12, 3), ("B", 12, 5), ("C", 12, 4)]


def test_share_who_would_recommend() -> None:
    answers = [(f, w, {"satisfaction_recommend": s}) for f, w, s in SCORES]
    tables = cohort_tables(answers, territories={"A": "T1", "B": "T2", "C": "T3"}, columns=["satisfaction_recommend"])
    frame = unchanged(recommend_agree_share, tables, parameters=PARAMETERS)
    assert set(frame["indicator"]) == {ID}
    cases = [({}, 0, 2, 3), ({}, 12, 2, 3), ({"scope": "region", "scope_id": "01"}, 12, 1, 2),
             ({"stratum": "environment", "stratum_value": "rural"}, 12, 1, 1)]
    for cell, wave, agree, answered in cases:
        row = pick(frame, ID, wave=wave, **cell)
        low, high = proportion_confint(agree, answered, method="wilson")
        assert (row["numerator"], row["denominator"], row["n"]) == (agree, answered, answered)
        assert (row["value"], row["ci_low"], row["ci_high"]) == (
            pytest.approx(agree / answered), pytest.approx(low), pytest.approx(high))
