"""Spec: ``staff_survey.supervision_adequacy_share`` = answers agreeing that the supervision received meets their needs.

Staff world of ``_survey_tables`` (column ``supervision_adequacy``; unanswered items are left out):

| year | agree (4 or 5 of 5) | all | ptp | gestionnaire |
|---|---|---|---|---|
| 2024 | s1 (5), s3 (4); not s2 (3), s4 (2); s5 unanswered | 2/4 | 2/3 | 0/1 |

Region 01 (T1, T2) 2024 = 2/3.

Wilson = statsmodels; the role breakdown adds up to ``all``.
"""

from __future__ import annotations

import pytest
from statsmodels.stats.proportion import proportion_confint

from proximite.indicators.staff_survey import supervision_adequacy_share

from ._reach_isolation_tables import unchanged
from ._registry_tables import PARAMETERS, pick, unit_of
from ._survey_tables import staff_world

ID = "staff_survey.supervision_adequacy_share"


@pytest.mark.parametrize(
    ("cell", "period", "counted", "answered"),
    [
        ({}, "2024", 2, 4),
        ({"breakdown": "role", "breakdown_value": "ptp"}, "2024", 2, 3),
        ({"breakdown": "role", "breakdown_value": "gestionnaire"}, "2024", 0, 1),
        ({"scope": "region", "scope_id": "01"}, "2024", 2, 3),
    ],
)
def test_supervision_adequacy_share(cell: dict, period: str, counted: int, answered: int) -> None:
    frame = unchanged(supervision_adequacy_share, staff_world(), parameters=PARAMETERS)
    row = pick(frame, ID, period=period, **cell)
    low, high = proportion_confint(counted, answered, method="wilson")
    assert (row["numerator"], row["denominator"], row["n"]) == (counted, answered, answered)
    assert (row["value"], row["ci_low"], row["ci_high"]) == (
        pytest.approx(counted / answered), pytest.approx(low, abs=1e-12), pytest.approx(high, abs=1e-12))
    assert row["unit"] == unit_of(ID) == "share" and "supervision meets" in row["method"]
    assert set(frame["indicator"]) == {ID}
