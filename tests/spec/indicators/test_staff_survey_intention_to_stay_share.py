"""Spec: ``staff_survey.intention_to_stay_share`` = answers intending to hold their post in a year.

Staff world of ``_survey_tables`` (column ``intention_to_stay``; unanswered items are left out):

| year | agree that they will hold their post in a year | all | ptp | gestionnaire |
|---|---|---|---|---|
| 2024 | s1 (5), s2 (4); not s3 (2), s5 (3); s4 unanswered | 2/4 | 1/2 | 1/2 |

Host type OCF (T1, T3) 2024 = 2/3; CPSC (T2) 2024 = 0/1.

Wilson = statsmodels; the role breakdown adds up to ``all``.
"""

from __future__ import annotations

import pytest
from statsmodels.stats.proportion import proportion_confint

from proximite.indicators.staff_survey import intention_to_stay_share

from ._reach_isolation_tables import unchanged
from ._registry_tables import PARAMETERS, pick, unit_of
from ._survey_tables import staff_world

ID = "staff_survey.intention_to_stay_share"


@pytest.mark.parametrize(
    ("cell", "period", "counted", "answered"),
    [
        ({}, "2024", 2, 4),
        ({"breakdown": "role", "breakdown_value": "ptp"}, "2024", 1, 2),
        ({"breakdown": "role", "breakdown_value": "gestionnaire"}, "2024", 1, 2),
        ({"stratum": "host_type", "stratum_value": "OCF"}, "2024", 2, 3),
        ({"stratum": "host_type", "stratum_value": "CPSC"}, "2024", 0, 1),
    ],
)
def test_intention_to_stay_share(cell: dict, period: str, counted: int, answered: int) -> None:
    frame = unchanged(intention_to_stay_share, staff_world(), parameters=PARAMETERS)
    row = pick(frame, ID, period=period, **cell)
    low, high = proportion_confint(counted, answered, method="wilson")
    assert (row["numerator"], row["denominator"], row["n"]) == (counted, answered, answered)
    assert (row["value"], row["ci_low"], row["ci_high"]) == (
        pytest.approx(counted / answered), pytest.approx(low, abs=1e-12), pytest.approx(high, abs=1e-12))
    assert row["unit"] == unit_of(ID) == "share" and "hold their post" in row["method"]
    assert set(frame["indicator"]) == {ID}
