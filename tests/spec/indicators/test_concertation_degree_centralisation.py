"""concertation.degree_centralisation: Freeman's C = Σ (d_max − d_i) / ((n − 1)(n − 2)), undirected degrees.

By hand: a star of n nodes (centre n − 1, leaves 1) gives (n − 1)(n − 2) / ((n − 1)(n − 2)) = 1;
a complete graph or a cycle (all degrees equal) gives 0; a path a–b–c–d (1, 2, 2, 1) gives
(1 + 0 + 0 + 1) / (3 × 2) = 1/3. In the tiny world: T1 2024 is a star around H1 (undirected
degrees 3, 1, 1, 1) → 1; T1 2025 is a triangle H1, P1a, P1b → 0; T3 2024 a 3-node star → 1;
T2 has two nodes → undefined, no row.
"""

from __future__ import annotations

import math

import networkx as nx
import pandas as pd
import pytest

from proximite.indicators import concertation

from ._registry_tables import PARAMETERS, network_tables, pick, rows, unit_of

ID = "concertation.degree_centralisation"


def test_star_is_one() -> None:
    assert concertation.freeman_centralisation(nx.star_graph(4)) == pytest.approx(1.0)  # 5 nodes
    # A directed star with ties both ways is the same undirected star.
    both_ways = nx.DiGraph([("c", leaf) for leaf in "abcd" if leaf != "c"] + [(leaf, "c") for leaf in "abd"])
    assert concertation.freeman_centralisation(both_ways) == pytest.approx(1.0)


def test_complete_graph_and_cycle_are_zero() -> None:
    assert concertation.freeman_centralisation(nx.complete_graph(5)) == 0.0
    assert concertation.freeman_centralisation(nx.cycle_graph(6)) == 0.0
    assert concertation.freeman_centralisation(nx.complete_graph(4, create_using=nx.DiGraph)) == 0.0


def test_path_by_hand() -> None:
    assert concertation.freeman_centralisation(nx.path_graph(4)) == pytest.approx(1 / 3)


def test_fewer_than_three_nodes_is_undefined() -> None:
    assert math.isnan(concertation.freeman_centralisation(nx.path_graph(2)))


@pytest.fixture(scope="module")
def result() -> pd.DataFrame:
    return concertation.compute(network_tables(), parameters=PARAMETERS)


@pytest.mark.parametrize(
    ("territory", "period", "expected", "nodes"),
    [("T1", "2024", 1.0, 4), ("T1", "2025", 0.0, 3), ("T3", "2024", 1.0, 3), ("T3", "2025", 1.0, 3)],
)
def test_territory_values(result: pd.DataFrame, territory: str, period: str, expected: float, nodes: int) -> None:
    row = pick(result, ID, period=period, scope="territory", scope_id=territory)
    assert row["value"] == pytest.approx(expected)
    assert row["n"] == nodes and row["denominator"] == (nodes - 1) * (nodes - 2)
    assert row["unit"] == unit_of(ID)


def test_two_node_graph_has_no_row(result: pd.DataFrame) -> None:
    assert rows(result, ID, scope="territory", scope_id="T2").empty


def test_quebec_mean(result: pd.DataFrame) -> None:
    # 2024: T1 1, T3 1 (T2 undefined) → 1 over 2 territories; 2025: T1 0, T3 1 → 0.5.
    row = pick(result, ID, period="2024")
    assert row["value"] == pytest.approx(1.0) and row["n"] == 2
    assert pick(result, ID, period="2025")["value"] == pytest.approx(0.5)
