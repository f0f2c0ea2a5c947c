"""Spec: ``staff_survey.role_clarity_mean`` = mean of the answers' clarity scores (1–5).

Staff world of ``_survey_tables`` (``role_clarity``, each answer's mean of its clarity items):

| cell | answers (score, cluster) | mean |
|---|---|---|
| Québec 2024 | s1 4.5, s2 3.0 (T1), s3 2.5 (T2), s4 4.0, s5 3.5 (T3) | 17.5/5 = 3.5 |
| Québec 2024, ptp | s1 4.5 (T1), s3 2.5 (T2), s4 4.0 (T3) | 11/3 |
| T1 2024 | s1 4.5, s2 3.0 (one territory: clusters are the respondents) | 3.75 |
| Québec 2025 | s1 5.0 | 5.0 (no interval) |

Interval: statsmodels' cluster-robust OLS on a constant, t(G − 1); ``n`` = answers.
"""

from __future__ import annotations

import math

import pytest

from proximite.indicators.staff_survey import role_clarity_mean

from ._reach_isolation_tables import statsmodels_clustered_mean, unchanged
from ._registry_tables import PARAMETERS, pick, unit_of
from ._survey_tables import staff_world

ID = "staff_survey.role_clarity_mean"


@pytest.mark.parametrize(
    ("cell", "scores", "clusters"),
    [
        ({}, [4.5, 3.0, 2.5, 4.0, 3.5], ["T1", "T1", "T2", "T3", "T3"]),
        ({"breakdown": "role", "breakdown_value": "ptp"}, [4.5, 2.5, 4.0], ["T1", "T2", "T3"]),
        ({"scope": "territory", "scope_id": "T1"}, [4.5, 3.0], ["s1", "s2"]),
    ],
)
def test_clustered_mean_of_clarity(cell: dict, scores: list, clusters: list) -> None:
    frame = unchanged(role_clarity_mean, staff_world(), parameters=PARAMETERS)
    row = pick(frame, ID, period="2024", **cell)
    mean, low, high = statsmodels_clustered_mean(scores, clusters)
    assert row["value"] == pytest.approx(mean) == pytest.approx(sum(scores) / len(scores))
    assert (row["ci_low"], row["ci_high"], row["n"]) == (pytest.approx(low), pytest.approx(high), len(scores))
    assert row["unit"] == unit_of(ID) == "mean" and "clustered" in row["method"]


def test_a_single_answer_has_no_interval() -> None:
    row = pick(unchanged(role_clarity_mean, staff_world(), parameters=PARAMETERS), ID, period="2025")
    assert (row["value"], row["n"]) == (5.0, 1) and math.isnan(row["ci_low"])
