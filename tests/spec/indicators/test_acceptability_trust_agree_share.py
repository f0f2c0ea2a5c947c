"""Spec: ``acceptability.trust_agree_share`` = share of families scoring 4 or 5 on ``satisfaction_relation``.

| family | territory | T0 | T6 |
|---|---|---|---|
| A | T1 | 5 | 4 |
| B | T1 | 4 | – (not answered) |
| C | T1 | 2 | |
| D | T2 (rural) | 3 | 2 |
| E | T2 (rural) | 5 | (wave 3: 5, not a configured wave) |
| G | T3 (region 02) | 4 | 5 |
| H | T3 (region 02) | 1 | |

By hand: Québec T0 agree = A, B, E, G → 4/7; T6 = A, G of A, D, G → 2/3 (B did not answer).
T1 T0 = A, B of A, B, C → 2/3; region 01 T0 = A, B, E of A–E → 3/5; region 02 T0 = G of G, H → 1/2;
Québec rural T0 = E of D, E → 1/2. Wilson intervals = statsmodels ``proportion_confint(method="wilson")``.
"""

from __future__ import annotations

import pytest
from statsmodels.stats.proportion import proportion_confint

from proximite.indicators.acceptability import trust_agree_share

from ._axes_tables import cohort_tables
from ._reach_isolation_tables import PARAMETERS, pick, unchanged, unit_of

ID = "acceptability.trust_agree_share"
TERRITORIES = {"A": "T1", "B": "T1", "C": "T1", "D": "T2", "E": "T2", "G": "T3", "H": "T3"}
SCORES = [("A", 0, 5), ("B", 0, 4), ("C", 0, 2), ("D", 0, 3), ("E", 0, 5), ("G", 0, 4), ("H", 0, 1),
          ("A", 6, 4), ("B", 6, None), ("D", 6, 2), ("G", 6, 5), ("E", 3, 5)]


def result():
    answers = [(f, w, {"satisfaction_relation": s, "satisfaction_help": 1}) for f, w, s in SCORES]
    tables = cohort_tables(answers, territories=TERRITORIES, columns=["satisfaction_relation", "satisfaction_help"])
    return unchanged(trust_agree_share, tables, parameters=PARAMETERS)


@pytest.mark.parametrize(
    ("cell", "wave", "agree", "answered"),
    [
        ({}, 0, 4, 7),
        ({}, 6, 2, 3),
        ({"scope": "territory", "scope_id": "T1"}, 0, 2, 3),
        ({"scope": "region", "scope_id": "01"}, 0, 3, 5),
        ({"scope": "region", "scope_id": "02"}, 0, 1, 2),
        ({"stratum": "environment", "stratum_value": "rural"}, 0, 1, 2),
    ],
)
def test_share_agreeing_with_wilson_interval(cell: dict, wave: int, agree: int, answered: int) -> None:
    row = pick(result(), ID, wave=wave, **cell)
    low, high = proportion_confint(agree, answered, alpha=0.05, method="wilson")
    assert (row["numerator"], row["denominator"], row["n"]) == (agree, answered, answered)
    assert row["value"] == pytest.approx(agree / answered)
    assert (row["ci_low"], row["ci_high"]) == (pytest.approx(low), pytest.approx(high))
    assert row["unit"] == unit_of(ID) == "share"
    assert "score >= 4" in row["method"] and "satisfaction_relation" in row["method"]


def test_only_its_id_and_the_configured_waves() -> None:
    frame = result()
    assert set(frame["indicator"]) == {ID}
    assert set(frame["wave"].dropna().astype(int)) == {0, 6}
