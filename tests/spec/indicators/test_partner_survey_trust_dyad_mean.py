"""Spec: ``partner_survey.trust_dyad_mean`` = mean over the ties of their trust score (the dyad level).

Partner world of ``_survey_tables`` (a tie's score is the mean of its answered trust items; the
``aucune`` tie has none and is left out):

| cell | ties (score, cluster) | mean |
|---|---|---|
| T1 2024 | r1→H1 4.0, r1→P1b 2.5, r2→H1 2.0 (clusters: the responses r1, r2) | 8.5/3 |
| Québec 2024 | the three of T1 and r3→H2 10/3 (clusters: T1, T2) | 11.8333/4 = 2.9583 |
| T1 2025 | r4→H1 11/3, r4→P1e 8/3 (one response: one cluster, no interval) | 19/6 |

The interval is statsmodels' OLS on a constant with cluster-robust SE and t(G − 1).
"""

from __future__ import annotations

import math

import pytest

from proximite.indicators.partner_survey import trust_dyad_mean

from ._reach_isolation_tables import statsmodels_clustered_mean, unchanged
from ._registry_tables import PARAMETERS, pick, unit_of
from ._survey_tables import partner_world

ID = "partner_survey.trust_dyad_mean"


@pytest.mark.parametrize(
    ("cell", "period", "scores", "clusters"),
    [
        ({"scope": "territory", "scope_id": "T1"}, "2024", [4.0, 2.5, 2.0], ["r1", "r1", "r2"]),
        ({}, "2024", [4.0, 2.5, 2.0, 10 / 3], ["T1", "T1", "T1", "T2"]),
        ({"scope": "region", "scope_id": "01"}, "2024", [4.0, 2.5, 2.0, 10 / 3], ["T1", "T1", "T1", "T2"]),
    ],
)
def test_mean_of_the_ties_scores_clustered(cell: dict, period: str, scores: list, clusters: list) -> None:
    frame = unchanged(trust_dyad_mean, partner_world(), parameters=PARAMETERS)
    row = pick(frame, ID, period=period, **cell)
    mean, low, high = statsmodels_clustered_mean(scores, clusters)
    assert row["value"] == pytest.approx(sum(scores) / len(scores)) == pytest.approx(mean)
    assert (row["ci_low"], row["ci_high"], row["n"]) == (pytest.approx(low), pytest.approx(high), len(scores))
    assert row["unit"] == unit_of(ID) == "mean" and "clustered" in row["method"]


def test_one_response_has_no_interval() -> None:
    row = pick(unchanged(trust_dyad_mean, partner_world(), parameters=PARAMETERS), ID, period="2025",
               scope="territory", scope_id="T1")
    assert row["value"] == pytest.approx(19 / 6) and row["n"] == 2 and math.isnan(row["ci_low"])
