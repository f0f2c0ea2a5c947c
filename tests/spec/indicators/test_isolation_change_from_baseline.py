"""Spec: ``isolation.change_from_baseline``, the mean within-family change T0 → Tk.

Paired: only families observed at T0 and Tk; SE clustered by territory (by family at territory
scope), t interval with G − 1 df; rows for the waves after T0 only.
"""

from __future__ import annotations

import pytest
from scipy import stats

from proximite.indicators import isolation

from ._reach_isolation_tables import (
    PARAMETERS,
    isolation_tables,
    pick,
    rows,
    statsmodels_clustered_mean,
    unchanged,
    unit_of,
)

ID = "isolation.change_from_baseline"

ASSESSMENTS = [
    ("A", 0, 60.0), ("A", 6, 50.0), ("A", 12, 40.0),
    ("B", 0, 40.0), ("B", 6, None),  # not observed at T6
    ("C", 6, 30.0),  # no T0
    ("D", 0, 70.0), ("D", 6, 40.0), ("D", 12, 50.0),
    ("E", 0, 20.0), ("E", 6, 25.0),
    ("G", 0, 50.0), ("G", 6, 45.0),
]
TERRITORIES = {"A": "T1", "B": "T1", "C": "T1", "D": "T2", "E": "T2", "G": "T3"}


def compute():
    return unchanged(isolation.compute, isolation_tables(ASSESSMENTS, territories=TERRITORIES), parameters=PARAMETERS)


def test_paired_mean_change_clustered_by_territory() -> None:
    row = pick(compute(), ID, wave=6)
    changes = [50 - 60, 40 - 70, 25 - 20, 45 - 50]  # A, D, E, G → mean −10
    mean, low, high = statsmodels_clustered_mean(changes, ["T1", "T2", "T2", "T3"])
    assert (row["value"], row["n"]) == (pytest.approx(-10.0), 4) and mean == pytest.approx(-10.0)
    assert (row["ci_low"], row["ci_high"]) == (pytest.approx(low), pytest.approx(high))
    assert row["method"].endswith("clustered by territory, t interval (G-1 df)")
    assert row["unit"] == unit_of(ID) == "points"
    assert pick(compute(), ID, wave=12)[["value", "n"]].tolist() == [pytest.approx(-20.0), 2]  # A −20, D −20


def test_territory_scope_clusters_by_family_and_no_t0_row() -> None:
    out = compute()
    row = pick(out, ID, wave=6, scope="territory", scope_id="T2")
    low, high = stats.t.interval(0.95, df=1, loc=-12.5, scale=stats.sem([-30.0, 5.0]))
    assert (row["value"], row["ci_low"], row["ci_high"]) == (-12.5, pytest.approx(max(low, -100.0)), pytest.approx(min(high, 100.0)))  # cut to ±100
    assert 0 not in set(rows(out, ID)["wave"])
