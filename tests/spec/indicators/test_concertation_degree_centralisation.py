"""concertation.degree_centralisation: Freeman's C = Σ (d_max − d_i) / ((n − 1)(n − 2)), undirected degrees.

By hand: a star of n nodes (centre n − 1, leaves 1) gives (n − 1)(n − 2) / ((n − 1)(n − 2)) = 1;
a complete graph or a cycle (all degrees equal) gives 0; a path a–b–c–d (1, 2, 2, 1) gives
(1 + 0 + 0 + 1) / (3 × 2) = 1/3. In the tiny world: T1 2024 is a star around H1 (undirected
degrees 3, 1, 1, 1) → 1; T1 2025 is a triangle H1, P1a, P1b → 0; T3 2024 a 3-node star → 1;
T2 has two nodes → undefined, no row.

Referrals mediated by the PTP always have the territory's host organisation at one end
(``ptp_to_partner`` from the host, ``partner_to_ptp`` to it, an unnamed PTP end being the host):
such a network is a star around the host, so C = 1 however many partners it has. That is why the
demo, whose synthetic referrals are all host-mediated, shows 1,00 everywhere. Only a tie between
two partners lowers it: H1 with P1a, P1b, P1c, P1d (degrees 4, 1, 1, 1, 1) gives
4 × 3 / (4 × 3) = 1; adding P1a→P1b (degrees 4, 2, 2, 1, 1) gives (0 + 2 + 2 + 3 + 3) / 12 = 5/6.
"""

from __future__ import annotations

import math

import networkx as nx
import pandas as pd
import pytest

from proximite.indicators import concertation

from ._registry_tables import PARAMETERS, network_tables, pick, registry_tables, rows, unit_of

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


def test_host_mediated_referrals_make_a_star_and_a_partner_tie_lowers_it() -> None:
    mediated = [
        ("T1", "ptp_to_partner", "H1", "P1a", "2024-02-01"),
        ("T1", "ptp_to_partner", None, "P1b", "2024-03-01"),  # the PTP end not named: the host
        ("T1", "partner_to_ptp", "P1c", "H1", "2024-04-01"),
        ("T1", "partner_to_ptp", "P1d", None, "2024-05-01"),
    ]
    star = concertation.compute(registry_tables(referrals=mediated), parameters=PARAMETERS)
    row = pick(star, ID, period="2024", scope="territory", scope_id="T1")
    assert row["value"] == pytest.approx(1.0) and (row["numerator"], row["denominator"]) == (12, 12)
    with_tie = mediated + [("T1", "ptp_to_partner", "P1a", "P1b", "2024-06-01")]
    result = concertation.compute(registry_tables(referrals=with_tie), parameters=PARAMETERS)
    row = pick(result, ID, period="2024", scope="territory", scope_id="T1")
    assert row["value"] == pytest.approx(5 / 6) and (row["numerator"], row["denominator"]) == (10, 12)
    # The same by networkx's degrees, independently of the indicator's graph building.
    graph = nx.Graph([("H1", "P1a"), ("H1", "P1b"), ("P1c", "H1"), ("P1d", "H1"), ("P1a", "P1b")])
    degrees = dict(graph.degree())
    assert sum(max(degrees.values()) - d for d in degrees.values()) / (4 * 3) == pytest.approx(row["value"])
