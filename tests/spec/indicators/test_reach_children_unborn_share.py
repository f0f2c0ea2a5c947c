"""Spec: ``reach.children_unborn_share``, children unborn at the first contact / children.

Over the children of the families reached; Wilson interval; a child whose status is unknown
leaves the denominator.
"""

from __future__ import annotations

import pytest
from statsmodels.stats.proportion import proportion_confint

from proximite.indicators import reach

from ._reach_isolation_tables import PARAMETERS, pick, reach_tables, unchanged, unit_of

ID = "reach.children_unborn_share"

FAMILIES = [
    ("F1", "T1", "2024-03-10", True),
    ("F2", "T2", "2024-03-10", False),
    ("F3", "T3", "2024-03-10", False),  # not reached
]
CHILDREN = [
    ("F1", "2020-01", False), ("F1", "2024-09", True),
    ("F2", "2015-01", False), ("F2", "2018-06", False), ("F2", "2024-08", True),
    ("F2", "2021-02", None),  # unknown: out of the denominator
    ("F3", "2024-10", True),
]
ACTIVITIES = [("T1", "2024-03-10", "F1"), ("T2", "2024-04-10", "F2")]


def test_share_unborn_among_children_of_reached_families() -> None:
    tables = reach_tables(FAMILIES, children=CHILDREN, activities=ACTIVITIES)
    out = unchanged(reach.compute, tables, parameters=PARAMETERS)
    row = pick(out, ID)
    # F1: 1 of 2 unborn; F2: 1 of 3 known; F3 is not reached → 2 / 5.
    assert (row["numerator"], row["denominator"], row["n"]) == (2, 5, 5)
    assert row["value"] == pytest.approx(0.4)
    low, high = proportion_confint(2, 5, method="wilson")
    assert (row["ci_low"], row["ci_high"]) == (pytest.approx(low), pytest.approx(high))
    assert pick(out, ID, scope="territory", scope_id="T1")["value"] == pytest.approx(0.5)
    assert pick(out, ID, scope="territory", scope_id="T2")["value"] == pytest.approx(1 / 3)
    assert row["unit"] == unit_of(ID) == "share" and row["method"] == "wilson"
