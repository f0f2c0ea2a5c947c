"""concertation.density: m / (n (n - 1)) of each territory's directed org-org referral graph.

Graphs of the tiny world (``NETWORK_REFERRALS``):

- T1 2024: H1→P1a (twice: one edge), H1→P1b, P1a→H1, H1→P1c: n = 4, m = 4, density 4/12 = 1/3;
- T1 2025: H1→P1a and P1b→H1 (the PTP end not named: the host), H1→P1b, P1a→P1b: n = 3, m = 4,
  density 4/6 = 2/3;
- T1 all: the union, 6 edges on 4 nodes: 6/12 = 1/2;
- T2 2024: H2→P2a, P2a→H2: 2/2 = 1; T3 2024: H3→P3a, H3→P3b: 2/6 = 1/3; T3 2025: 4/6 = 2/3.

Québec 2024 = mean of the territories (1/3, 1, 1/3) = 5/9 with a t interval on 2 df.
"""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from proximite.indicators import concertation

from ._registry_tables import PARAMETERS, network_tables, pick, registry_tables, rows, unit_of

ID = "concertation.density"

EDGES = {
    ("T1", "2024"): [("H1", "P1a"), ("H1", "P1b"), ("P1a", "H1"), ("H1", "P1c")],
    ("T1", "2025"): [("H1", "P1a"), ("P1b", "H1"), ("H1", "P1b"), ("P1a", "P1b")],
    ("T2", "2024"): [("H2", "P2a"), ("P2a", "H2")],
    ("T3", "2024"): [("H3", "P3a"), ("H3", "P3b")],
    ("T3", "2025"): [("H3", "P3a"), ("P3a", "H3"), ("H3", "P3b"), ("P3b", "H3")],
}


@pytest.fixture(scope="module")
def result() -> pd.DataFrame:
    return concertation.compute(network_tables(), parameters=PARAMETERS)


@pytest.mark.parametrize(
    ("territory", "period", "expected", "edges", "nodes"),
    [
        ("T1", "2024", 4 / 12, 4, 4),
        ("T1", "2025", 4 / 6, 4, 3),
        ("T1", "all", 6 / 12, 6, 4),
        ("T2", "2024", 2 / 2, 2, 2),
        ("T3", "2024", 2 / 6, 2, 3),
        ("T3", "2025", 4 / 6, 4, 3),
    ],
)
def test_territory_density(
    result: pd.DataFrame, territory: str, period: str, expected: float, edges: int, nodes: int
) -> None:
    row = pick(result, ID, period=period, scope="territory", scope_id=territory)
    assert row["value"] == pytest.approx(expected)
    assert row["numerator"] == edges and row["denominator"] == nodes * (nodes - 1)
    assert row["n"] == nodes
    assert math.isnan(row["ci_low"])
    assert row["unit"] == unit_of(ID)


@pytest.mark.parametrize("key", list(EDGES))
def test_networkx_agrees(result: pd.DataFrame, key: tuple[str, str]) -> None:
    graph = nx.DiGraph(EDGES[key])
    row = pick(result, ID, period=key[1], scope="territory", scope_id=key[0])
    assert row["value"] == pytest.approx(nx.density(graph))


def test_quebec_is_the_mean_of_territories_with_a_t_interval(result: pd.DataFrame) -> None:
    values = np.array([1 / 3, 1.0, 1 / 3])
    row = pick(result, ID, period="2024")
    assert row["value"] == pytest.approx(5 / 9)
    assert row["n"] == 3
    assert math.isnan(row["numerator"]) and math.isnan(row["denominator"])
    assert "mean of territories" in row["method"]
    # 5/9 ± t(2) s / sqrt(3) = 5/9 ± 4.303 × 0.385 / 1.732 = [-0.40, 1.51], cut to [0, 1].
    assert (row["ci_low"], row["ci_high"]) == (0.0, 1.0)
    # The uncut interval of mean_of_territories is scipy's.
    frame = pd.DataFrame({"territory_id": ["T1", "T2", "T3"], "period": "2024", "value": values})
    means = concertation.mean_of_territories(
        frame, network_tables()["territory"], keys=["period"], strata=(), confidence=0.95
    )
    quebec = means.loc[means["scope"] == "quebec"].iloc[0]
    low, high = stats.t.interval(0.95, df=2, loc=values.mean(), scale=stats.sem(values))
    assert quebec["value"] == pytest.approx(5 / 9)
    assert (quebec["ci_low"], quebec["ci_high"]) == pytest.approx((low, high))
    # Region 02 has one territory: a mean without interval.
    region = means.loc[(means["scope"] == "region") & (means["scope_id"] == "02")].iloc[0]
    assert region["value"] == pytest.approx(1 / 3) and region["n"] == 1 and math.isnan(region["ci_low"])


def test_strata_and_regions(result: pd.DataFrame) -> None:
    # Region 01 = T1, T2: (1/3 + 1) / 2; urbain = T1, T3: (1/3 + 1/3) / 2, equal values: a 0-width interval.
    assert pick(result, ID, period="2024", scope="region", scope_id="01")["value"] == pytest.approx(2 / 3)
    urbain = pick(result, ID, period="2024", stratum="environment", stratum_value="urbain")
    assert urbain["value"] == pytest.approx(1 / 3) and urbain["n"] == 2
    assert urbain["ci_low"] == pytest.approx(1 / 3) and urbain["ci_high"] == pytest.approx(1 / 3)


def test_a_single_node_graph_has_no_density() -> None:
    # A partner refers a family to nobody named: one node, no edge, no density (nor reciprocity).
    tables = registry_tables(referrals=[("T2", "ptp_to_partner", "P2a", None, "2024-03-01")])
    result = concertation.compute(tables, parameters=PARAMETERS)
    assert rows(result, ID).empty and rows(result, "concertation.reciprocity").empty
    assert pick(result, "concertation.active_partners", period="2024")["value"] == 1


def test_inputs_are_not_modified() -> None:
    tables = network_tables()
    copies = {name: frame.copy() for name, frame in tables.items()}
    concertation.compute(tables, parameters=PARAMETERS)
    for name, frame in tables.items():
        pd.testing.assert_frame_equal(frame, copies[name])


def test_no_referrals_no_rows() -> None:
    assert concertation.compute(registry_tables(), parameters=PARAMETERS).empty
