"""Spec: ``partner_survey.value_dyad_mean`` = mean over the ties of their value score (the dyad level).

Partner world of ``_survey_tables`` (value items: power and influence, resources, involvement):

| cell | ties (score, cluster) | mean |
|---|---|---|
| T1 2024 | r1→H1 3.0, r1→P1b 2.0, r2→H1 2.0 (clusters r1, r2) | 7/3 |
| Québec 2024 | the three of T1 and r3→H2 4.0 (clusters T1, T2) | 11/4 = 2.75 |
| Québec 2025 | r4→H1 11/3, r4→P1e 5/3 (one territory: clusters are the responses) | 8/3 |

Interval: statsmodels' cluster-robust OLS on a constant, t(G − 1).
"""

from __future__ import annotations

import math

import pytest

from proximite.indicators.partner_survey import value_dyad_mean

from ._reach_isolation_tables import statsmodels_clustered_mean, unchanged
from ._registry_tables import PARAMETERS, pick, unit_of
from ._survey_tables import partner_world

ID = "partner_survey.value_dyad_mean"


@pytest.mark.parametrize(
    ("cell", "period", "scores", "clusters"),
    [
        ({"scope": "territory", "scope_id": "T1"}, "2024", [3.0, 2.0, 2.0], ["r1", "r1", "r2"]),
        ({}, "2024", [3.0, 2.0, 2.0, 4.0], ["T1", "T1", "T1", "T2"]),
    ],
)
def test_mean_of_the_ties_value_scores(cell: dict, period: str, scores: list, clusters: list) -> None:
    frame = unchanged(value_dyad_mean, partner_world(), parameters=PARAMETERS)
    row = pick(frame, ID, period=period, **cell)
    mean, low, high = statsmodels_clustered_mean(scores, clusters)
    assert row["value"] == pytest.approx(mean) == pytest.approx(sum(scores) / len(scores))
    assert (row["ci_low"], row["ci_high"], row["n"]) == (pytest.approx(low), pytest.approx(high), len(scores))
    assert row["unit"] == unit_of(ID) == "mean" and set(frame["indicator"]) == {ID}


def test_a_year_of_one_response_has_its_mean_and_no_interval() -> None:
    row = pick(unchanged(value_dyad_mean, partner_world(), parameters=PARAMETERS), ID, period="2025")
    assert row["value"] == pytest.approx(8 / 3) and row["n"] == 2 and math.isnan(row["ci_high"])
