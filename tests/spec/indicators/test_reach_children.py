"""Spec: ``reach.children``, the children of the families reached in the period.

A family's children count in every period the family is reached; a family without children
adds none; children of families not reached do not count.
"""

from __future__ import annotations

import numpy as np

from proximite.indicators import reach

from ._reach_isolation_tables import PARAMETERS, pick, reach_tables, rows, unchanged, unit_of

ID = "reach.children"

FAMILIES = [
    ("F1", "T1", "2024-02-01", True),
    ("F2", "T2", "2024-02-01", False),
    ("F3", "T1", "2024-02-01", True),  # not reached: its child does not count
    ("F4", "T1", "2024-09-01", False),  # reached, no child
]
CHILDREN = [
    ("F1", "2019-05", False), ("F1", "2022-01", False),
    ("F2", "2010-03", False), ("F2", "2016-07", False), ("F2", "2024-06", True),
    ("F3", "2020-02", False),
]
ACTIVITIES = [("T1", "2024-02-01", "F1"), ("T1", "2025-01-05", "F1"), ("T2", "2024-03-01", "F2"),
              ("T1", "2025-02-01", "F4")]


def compute():
    tables = reach_tables(FAMILIES, children=CHILDREN, activities=ACTIVITIES)
    return unchanged(reach.compute, tables, parameters=PARAMETERS)


def test_children_of_reached_families_per_period() -> None:
    out = compute()
    assert pick(out, ID, period="2024")["value"] == 2 + 3  # F1, F2
    assert pick(out, ID, period="2025")["value"] == 2 + 0  # F1, F4
    assert pick(out, ID)["value"] == 2 + 3 + 0  # F1, F2, F4 over the whole follow-up
    assert pick(out, ID, scope="territory", scope_id="T1")["value"] == 2
    assert pick(out, ID, scope="territory", scope_id="T2")["value"] == 3
    assert pick(out, ID, scope="region", scope_id="01", stratum="environment", stratum_value="rural")["value"] == 3


def test_a_count_of_children() -> None:
    row = pick(compute(), ID)
    assert row["numerator"] == row["value"] == row["n"] == 5
    assert np.isnan(row["denominator"]) and np.isnan(row["ci_low"])
    assert row["unit"] == unit_of(ID) == "count"


def test_every_reach_id_is_catalogued_and_comes_out() -> None:
    out = compute()
    assert set(out["indicator"]) == set(reach.INDICATORS)
    for indicator in reach.INDICATORS:
        assert set(rows(out, indicator)["unit"]) == {unit_of(indicator)}
