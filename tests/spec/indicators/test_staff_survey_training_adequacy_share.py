"""Spec: ``staff_survey.training_adequacy_share`` = answers agreeing that the training received meets their role's needs.

Staff world of ``_survey_tables`` (column ``training_adequacy``; unanswered items are left out):

| year | agree (4 or 5 of 5) | all | ptp | gestionnaire |
|---|---|---|---|---|
| 2024 | s1 (4), s2 (4), s5 (5); not s3 (2); s4 unanswered | 3/4 | 1/2 | 2/2 |

Wilson = statsmodels; the role breakdown adds up to ``all``.
"""

from __future__ import annotations

import pytest
from statsmodels.stats.proportion import proportion_confint

from proximite.indicators.staff_survey import training_adequacy_share

from ._reach_isolation_tables import unchanged
from ._registry_tables import PARAMETERS, pick, unit_of
from ._survey_tables import staff_world

ID = "staff_survey.training_adequacy_share"


@pytest.mark.parametrize(
    ("cell", "period", "counted", "answered"),
    [
        ({}, "2024", 3, 4),
        ({"breakdown": "role", "breakdown_value": "ptp"}, "2024", 1, 2),
        ({"breakdown": "role", "breakdown_value": "gestionnaire"}, "2024", 2, 2),
    ],
)
def test_training_adequacy_share(cell: dict, period: str, counted: int, answered: int) -> None:
    frame = unchanged(training_adequacy_share, staff_world(), parameters=PARAMETERS)
    row = pick(frame, ID, period=period, **cell)
    low, high = proportion_confint(counted, answered, method="wilson")
    assert (row["numerator"], row["denominator"], row["n"]) == (counted, answered, answered)
    assert (row["value"], row["ci_low"], row["ci_high"]) == (
        pytest.approx(counted / answered), pytest.approx(low, abs=1e-12), pytest.approx(high, abs=1e-12))
    assert row["unit"] == unit_of(ID) == "share" and "training meets" in row["method"]
    assert set(frame["indicator"]) == {ID}
