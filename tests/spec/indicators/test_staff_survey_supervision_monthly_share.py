"""Spec: ``staff_survey.supervision_monthly_share`` = answers receiving supervision at least monthly.

Staff world of ``_survey_tables`` (column ``supervision_frequency``; unanswered items are left out):

| year | answers at least monthly (mensuelle, bimensuelle, hebdomadaire) | all | ptp | gestionnaire |
|---|---|---|---|---|
| 2024 | s1, s3, s5 of s1–s5 | 3/5 | 2/3 | 1/2 |
| 2025 | s1 | 1/1 | 1/1 | — |

T1 2024 = 1/2 (s1 yes, s2 no).

Wilson = statsmodels; the role breakdown adds up to ``all``.
"""

from __future__ import annotations

import pytest
from statsmodels.stats.proportion import proportion_confint

from proximite.indicators.staff_survey import supervision_monthly_share

from ._reach_isolation_tables import unchanged
from ._registry_tables import PARAMETERS, pick, unit_of
from ._survey_tables import staff_world

ID = "staff_survey.supervision_monthly_share"


@pytest.mark.parametrize(
    ("cell", "period", "counted", "answered"),
    [
        ({}, "2024", 3, 5),
        ({"breakdown": "role", "breakdown_value": "ptp"}, "2024", 2, 3),
        ({"breakdown": "role", "breakdown_value": "gestionnaire"}, "2024", 1, 2),
        ({"scope": "territory", "scope_id": "T1"}, "2024", 1, 2),
        ({}, "2025", 1, 1),
    ],
)
def test_supervision_monthly_share(cell: dict, period: str, counted: int, answered: int) -> None:
    frame = unchanged(supervision_monthly_share, staff_world(), parameters=PARAMETERS)
    row = pick(frame, ID, period=period, **cell)
    low, high = proportion_confint(counted, answered, method="wilson")
    assert (row["numerator"], row["denominator"], row["n"]) == (counted, answered, answered)
    assert (row["value"], row["ci_low"], row["ci_high"]) == (
        pytest.approx(counted / answered), pytest.approx(low, abs=1e-12), pytest.approx(high, abs=1e-12))
    assert row["unit"] == unit_of(ID) == "share" and "at least monthly" in row["method"]
    assert set(frame["indicator"]) == {ID}
