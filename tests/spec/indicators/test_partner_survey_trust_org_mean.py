"""Spec: ``partner_survey.trust_org_mean`` = mean over the organisations named of the trust they receive.

Partner world of ``_survey_tables``. An organisation's score is the mean of the trust scores of
the ties naming it in its territory and year:

| cell | organisations (score) | mean |
|---|---|---|
| T1 2024 | H1 (4.0 + 2.0)/2 = 3.0, P1b 2.5 (each its own cluster) | 2.75 |
| Québec 2024 | H1 3.0, P1b 2.5 (T1), H2 10/3 (T2); clusters T1, T2 | 8.8333/3 = 2.9444 |
| T1 2025 | H1 11/3, P1e 8/3 | 19/6 |

Interval: statsmodels' cluster-robust OLS on a constant, t(G − 1); ``n`` = organisations.
"""

from __future__ import annotations

import pytest

from proximite.indicators.partner_survey import trust_org_mean

from ._reach_isolation_tables import statsmodels_clustered_mean, unchanged
from ._registry_tables import PARAMETERS, pick, unit_of
from ._survey_tables import partner_world

ID = "partner_survey.trust_org_mean"


@pytest.mark.parametrize(
    ("cell", "period", "scores", "clusters"),
    [
        ({"scope": "territory", "scope_id": "T1"}, "2024", [3.0, 2.5], ["H1", "P1b"]),
        ({}, "2024", [3.0, 2.5, 10 / 3], ["T1", "T1", "T2"]),
        ({"scope": "territory", "scope_id": "T1"}, "2025", [11 / 3, 8 / 3], ["H1", "P1e"]),
    ],
)
def test_mean_of_the_organisations_received_trust(cell: dict, period: str, scores: list, clusters: list) -> None:
    frame = unchanged(trust_org_mean, partner_world(), parameters=PARAMETERS)
    row = pick(frame, ID, period=period, **cell)
    mean, low, high = statsmodels_clustered_mean(scores, clusters)
    assert row["value"] == pytest.approx(mean) == pytest.approx(sum(scores) / len(scores))
    assert (row["ci_low"], row["ci_high"], row["n"]) == (pytest.approx(low), pytest.approx(high), len(scores))
    assert row["unit"] == unit_of(ID) == "mean" and "receive" in row["method"]
