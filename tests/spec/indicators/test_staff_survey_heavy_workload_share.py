"""Spec: ``staff_survey.heavy_workload_share`` = answers agreeing that their workload is too heavy.

Staff world of ``_survey_tables`` (column ``workload_heavy``; unanswered items are left out):

| year | agree that the workload is too heavy | all | ptp | gestionnaire |
|---|---|---|---|---|
| 2024 | s1 (5), s2 (4), s5 (4); not s3 (2), s4 (3) | 3/5 | 1/3 | 2/2 |

Rural (T2) 2024 = 0/1; urbain (T1, T3) 2024 = 3/4.

Wilson = statsmodels; the role breakdown adds up to ``all``.
"""

from __future__ import annotations

import pytest
from statsmodels.stats.proportion import proportion_confint

from proximite.indicators.staff_survey import heavy_workload_share

from ._reach_isolation_tables import unchanged
from ._registry_tables import PARAMETERS, pick, unit_of
from ._survey_tables import staff_world

ID = "staff_survey.heavy_workload_share"


@pytest.mark.parametrize(
    ("cell", "period", "counted", "answered"),
    [
        ({}, "2024", 3, 5),
        ({"breakdown": "role", "breakdown_value": "ptp"}, "2024", 1, 3),
        ({"breakdown": "role", "breakdown_value": "gestionnaire"}, "2024", 2, 2),
        ({"stratum": "environment", "stratum_value": "rural"}, "2024", 0, 1),
        ({"stratum": "environment", "stratum_value": "urbain"}, "2024", 3, 4),
    ],
)
def test_heavy_workload_share(cell: dict, period: str, counted: int, answered: int) -> None:
    frame = unchanged(heavy_workload_share, staff_world(), parameters=PARAMETERS)
    row = pick(frame, ID, period=period, **cell)
    low, high = proportion_confint(counted, answered, method="wilson")
    assert (row["numerator"], row["denominator"], row["n"]) == (counted, answered, answered)
    assert (row["value"], row["ci_low"], row["ci_high"]) == (
        pytest.approx(counted / answered), pytest.approx(low, abs=1e-12), pytest.approx(high, abs=1e-12))
    assert row["unit"] == unit_of(ID) == "share" and "too heavy" in row["method"]
    assert set(frame["indicator"]) == {ID}
