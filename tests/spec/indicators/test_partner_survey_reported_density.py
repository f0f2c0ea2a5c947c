"""Spec: ``partner_survey.reported_density`` = ties the partners report / pairs of organisations.

Partner world of ``_survey_tables``. The organisations of a territory and year are those that
answer, those they name and the ends of that calendar year's referrals; a reported tie is a pair
with a collaboration other than ``aucune`` (undirected):

| territory, year | organisations | reported ties | density |
|---|---|---|---|
| T1 2024 | H1, P1a, P1b, P1c (named, aucune), P1d (referral only): 5 | H1–P1a, P1a–P1b, H1–P1b | 3/10 |
| T1 2025 | P1a, H1, P1e: 3 | H1–P1a, P1a–P1e | 2/3 |
| T2 2024 | P2a, H2: 2 | H2–P2a | 1/1 |
| T3 2024 | referrals only, nobody answered | — | no row |

Québec 2024 = mean of T1 and T2 = (0.3 + 1)/2 = 0.65, t(1) interval cut to [0, 1]; Québec 2025 =
2/3 (one territory). networkx's density of the undirected graph gives the same figures.
"""

from __future__ import annotations

import math

import networkx as nx
import pytest
from scipy import stats

from proximite.indicators.partner_survey import reported_density

from ._reach_isolation_tables import unchanged
from ._registry_tables import PARAMETERS, pick, rows, unit_of
from ._survey_tables import partner_world

ID = "partner_survey.reported_density"


def result():
    return unchanged(reported_density, partner_world(), parameters=PARAMETERS)


@pytest.mark.parametrize(
    ("territory", "period", "nodes", "ties"),
    [
        ("T1", "2024", ["H1", "P1a", "P1b", "P1c", "P1d"], [("H1", "P1a"), ("P1a", "P1b"), ("H1", "P1b")]),
        ("T1", "2025", ["P1a", "H1", "P1e"], [("H1", "P1a"), ("P1a", "P1e")]),
        ("T2", "2024", ["P2a", "H2"], [("H2", "P2a")]),
    ],
)
def test_territory_density(territory: str, period: str, nodes: list, ties: list) -> None:
    row = pick(result(), ID, period=period, scope="territory", scope_id=territory)
    graph = nx.Graph()
    graph.add_nodes_from(nodes)
    graph.add_edges_from(ties)
    n = len(nodes)
    assert (row["numerator"], row["denominator"], row["n"]) == (len(ties), n * (n - 1) / 2, n)
    assert row["value"] == pytest.approx(nx.density(graph))
    assert row["unit"] == unit_of(ID) == "ratio" and "aucune" in row["method"]


def test_quebec_is_the_mean_of_the_territories_and_t3_has_no_row() -> None:
    frame = result()
    row = pick(frame, ID, period="2024")
    low, high = stats.t.interval(0.95, 1, loc=0.65, scale=stats.sem([0.3, 1.0]))
    assert (row["value"], row["n"]) == (pytest.approx(0.65), 2) and low < 0 and high > 1
    assert (row["ci_low"], row["ci_high"]) == (0.0, 1.0)
    alone = pick(frame, ID, period="2025")
    assert alone["value"] == pytest.approx(2 / 3) and math.isnan(alone["ci_low"])
    assert rows(frame, ID, scope="territory", scope_id="T3").empty
