"""concertation.reciprocity: share of a territory's referral edges whose reverse edge exists.

Graphs of ``NETWORK_REFERRALS`` (see test_concertation_density.py):

- T1 2024: H1→P1a, P1a→H1 reciprocal; H1→P1b, H1→P1c not: 2/4 = 0.5;
- T1 2025: H1→P1b, P1b→H1 reciprocal; H1→P1a, P1a→P1b not: 2/4 = 0.5;
- T2 2024: H2⇄P2a: 2/2 = 1; T3 2024: H3→P3a, H3→P3b: 0/2 = 0; T3 2025: all four reciprocal: 1.

Québec 2024 = mean (0.5, 1, 0) = 0.5 over 3 territories.
"""

from __future__ import annotations

import math

import networkx as nx
import pandas as pd
import pytest

from proximite.indicators import concertation

from ._registry_tables import PARAMETERS, network_tables, pick, unit_of

ID = "concertation.reciprocity"


@pytest.fixture(scope="module")
def result() -> pd.DataFrame:
    return concertation.compute(network_tables(), parameters=PARAMETERS)


@pytest.mark.parametrize(
    ("territory", "period", "expected", "reciprocal", "edges"),
    [
        ("T1", "2024", 0.5, 2, 4),
        ("T1", "2025", 0.5, 2, 4),
        ("T2", "2024", 1.0, 2, 2),
        ("T3", "2024", 0.0, 0, 2),
        ("T3", "2025", 1.0, 4, 4),
    ],
)
def test_territory_reciprocity(
    result: pd.DataFrame, territory: str, period: str, expected: float, reciprocal: int, edges: int
) -> None:
    row = pick(result, ID, period=period, scope="territory", scope_id=territory)
    assert row["value"] == pytest.approx(expected)
    assert (row["numerator"], row["denominator"]) == (reciprocal, edges)
    assert row["unit"] == unit_of(ID)


def test_networkx_agrees(result: pd.DataFrame) -> None:
    graph = nx.DiGraph([("H1", "P1a"), ("H1", "P1b"), ("P1a", "H1"), ("H1", "P1c")])
    assert pick(result, ID, period="2024", scope="territory", scope_id="T1")["value"] == pytest.approx(
        nx.reciprocity(graph)
    )
    measures = concertation.network_measures(graph)
    assert measures["reciprocity"] == pytest.approx(nx.reciprocity(graph))
    edgeless = nx.DiGraph()
    edgeless.add_nodes_from(["a", "b"])
    assert math.isnan(concertation.network_measures(edgeless)["reciprocity"])  # no edges: undefined


def test_quebec_mean(result: pd.DataFrame) -> None:
    row = pick(result, ID, period="2024")
    assert row["value"] == pytest.approx(0.5) and row["n"] == 3
    # 0.5 ± t(2) × 0.5 / sqrt(3) = 0.5 ± 1.242: cut to [0, 1].
    assert (row["ci_low"], row["ci_high"]) == (0.0, 1.0)
    row = pick(result, ID, period="2025")
    assert row["value"] == pytest.approx(0.75) and row["n"] == 2  # T1 0.5, T3 1
