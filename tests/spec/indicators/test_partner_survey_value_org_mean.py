"""Spec: ``partner_survey.value_org_mean`` = mean over the organisations named of the value they receive.

Partner world of ``_survey_tables``:

| cell | organisations (score) | mean |
|---|---|---|
| T1 2024 | H1 (3.0 + 2.0)/2 = 2.5, P1b 2.0 | 2.25 |
| Québec 2024 | H1 2.5, P1b 2.0 (T1), H2 4.0 (T2); clusters T1, T2 | 8.5/3 |

Interval: statsmodels' cluster-robust OLS on a constant, t(G − 1); ``n`` = organisations.
"""

from __future__ import annotations

import pytest

from proximite.indicators.partner_survey import value_org_mean

from ._reach_isolation_tables import statsmodels_clustered_mean, unchanged
from ._registry_tables import PARAMETERS, pick, unit_of
from ._survey_tables import partner_world

ID = "partner_survey.value_org_mean"


@pytest.mark.parametrize(
    ("cell", "scores", "clusters"),
    [
        ({"scope": "territory", "scope_id": "T1"}, [2.5, 2.0], ["H1", "P1b"]),
        ({}, [2.5, 2.0, 4.0], ["T1", "T1", "T2"]),
    ],
)
def test_mean_of_the_organisations_received_value(cell: dict, scores: list, clusters: list) -> None:
    frame = unchanged(value_org_mean, partner_world(), parameters=PARAMETERS)
    row = pick(frame, ID, period="2024", **cell)
    mean, low, high = statsmodels_clustered_mean(scores, clusters)
    assert row["value"] == pytest.approx(mean) == pytest.approx(sum(scores) / len(scores))
    assert (row["ci_low"], row["ci_high"], row["n"]) == (pytest.approx(low), pytest.approx(high), len(scores))
    assert row["unit"] == unit_of(ID) == "mean" and set(frame["indicator"]) == {ID}
