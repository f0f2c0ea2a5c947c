"""Spec: ``staff_survey.mandate_misread_share`` = answers saying partners count on the PTP to fill service gaps outside the mandate.

Staff world of ``_survey_tables`` (column ``mandate_misread``; unanswered items are left out):

| year | agree that partners use the PTP to fill gaps ("bouche-trou") | all | ptp | gestionnaire |
|---|---|---|---|---|
| 2024 | s1 (4), s3 (5), s4 (4); not s2 (2), s5 (1) | 3/5 | 3/3 | 0/2 |
| 2025 | not s1 (3) | 0/1 | 0/1 | — |

Wilson = statsmodels; the role breakdown adds up to ``all``.
"""

from __future__ import annotations

import pytest
from statsmodels.stats.proportion import proportion_confint

from proximite.indicators.staff_survey import mandate_misread_share

from ._reach_isolation_tables import unchanged
from ._registry_tables import PARAMETERS, pick, unit_of
from ._survey_tables import staff_world

ID = "staff_survey.mandate_misread_share"


@pytest.mark.parametrize(
    ("cell", "period", "counted", "answered"),
    [
        ({}, "2024", 3, 5),
        ({"breakdown": "role", "breakdown_value": "ptp"}, "2024", 3, 3),
        ({"breakdown": "role", "breakdown_value": "gestionnaire"}, "2024", 0, 2),
        ({}, "2025", 0, 1),
    ],
)
def test_mandate_misread_share(cell: dict, period: str, counted: int, answered: int) -> None:
    frame = unchanged(mandate_misread_share, staff_world(), parameters=PARAMETERS)
    row = pick(frame, ID, period=period, **cell)
    low, high = proportion_confint(counted, answered, method="wilson")
    assert (row["numerator"], row["denominator"], row["n"]) == (counted, answered, answered)
    assert (row["value"], row["ci_low"], row["ci_high"]) == (
        pytest.approx(counted / answered), pytest.approx(low, abs=1e-12), pytest.approx(high, abs=1e-12))
    assert row["unit"] == unit_of(ID) == "share" and "fill service gaps" in row["method"]
    assert set(frame["indicator"]) == {ID}
