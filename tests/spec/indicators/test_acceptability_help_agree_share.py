"""Spec: ``acceptability.help_agree_share`` = share of families scoring 4 or 5 on ``satisfaction_help``.

| family | territory | help T6 | relation T6 (not read) |
|---|---|---|---|
| A | T1 | 4 | 1 |
| B | T1 | 3 | 5 |
| D | T2 | 5 | 1 |
| G | T3 | – | 5 |

By hand: Québec T6 = A, D of A, B, D → 2/3 (G did not answer the help item); T1 = A of A, B → 1/2;
region 02 has no answer → no row. Wilson = statsmodels.
"""

from __future__ import annotations

import pytest
from statsmodels.stats.proportion import proportion_confint

from proximite.indicators.acceptability import help_agree_share

from ._axes_tables import cohort_tables
from ._reach_isolation_tables import PARAMETERS, pick, rows, unchanged

ID = "acceptability.help_agree_share"
TERRITORIES = {"A": "T1", "B": "T1", "D": "T2", "G": "T3"}
ANSWERS = [("A", 6, {"satisfaction_help": 4, "satisfaction_relation": 1}),
           ("B", 6, {"satisfaction_help": 3, "satisfaction_relation": 5}),
           ("D", 6, {"satisfaction_help": 5, "satisfaction_relation": 1}),
           ("G", 6, {"satisfaction_help": None, "satisfaction_relation": 5})]


def test_share_satisfied_with_the_help() -> None:
    tables = cohort_tables(ANSWERS, territories=TERRITORIES, columns=["satisfaction_help", "satisfaction_relation"])
    frame = unchanged(help_agree_share, tables, parameters=PARAMETERS)
    assert set(frame["indicator"]) == {ID}
    for cell, agree, answered in (({}, 2, 3), ({"scope": "territory", "scope_id": "T1"}, 1, 2)):
        row = pick(frame, ID, wave=6, **cell)
        low, high = proportion_confint(agree, answered, method="wilson")
        assert (row["numerator"], row["denominator"]) == (agree, answered)
        assert (row["value"], row["ci_low"], row["ci_high"]) == (
            pytest.approx(agree / answered), pytest.approx(low), pytest.approx(high))
        assert "satisfaction_help" in row["method"]
    assert not (rows(frame, ID)["scope_id"] == "02").any()
