"""Spec: ``reach.children_0_5_share``, children aged five or less at their family's first contact.

As the generator defines it (``cohort/sandbox/_families.py``): a born child under six years at the
first contact. From the birth month: fewer than 72 whole calendar months between the birth
month and the first-contact month. Unborn children are not aged five or less but stay in the
denominator; a born child without a usable birth month (missing, or after the first contact)
leaves it.
"""

from __future__ import annotations

import pytest
from statsmodels.stats.proportion import proportion_confint

from proximite.indicators import reach

from ._reach_isolation_tables import (
    PARAMETERS,
    child_table,
    family_table,
    pick,
    reach_tables,
    unchanged,
    unit_of,
)

ID = "reach.children_0_5_share"

FAMILIES = [("F1", "T1", "2024-03-10", True), ("F2", "T2", "2024-03-10", False)]
CHILDREN = [
    ("F1", "2018-04", False),  # 71 months at 2024-03: aged five or less
    ("F1", "2018-03", False),  # 72 months: six years
    ("F1", "2024-03", False),  # born the month of the contact: 0 months
    ("F1", "2024-08", True),  # unborn: in the denominator, not young
    ("F1", "2024-05", False),  # "born" after the contact: age unknown
    ("F1", None, False),  # no birth month: age unknown
    ("F2", "2008-01", False),  # 16 years
]
ACTIVITIES = [("T1", "2024-03-10", "F1"), ("T2", "2024-03-12", "F2")]


def test_child_ages_follow_the_generator_definition() -> None:
    ages = reach.child_ages(child_table(CHILDREN), family_table(FAMILIES))
    assert list(ages["young"]) == [1, 0, 1, 0, 0, 0, 0]
    assert list(ages["age_known"]) == [1, 1, 1, 1, 0, 0, 1]
    assert list(ages["unborn"]) == [0, 0, 0, 1, 0, 0, 0]


def test_share_aged_five_or_less() -> None:
    tables = reach_tables(FAMILIES, children=CHILDREN, activities=ACTIVITIES)
    out = unchanged(reach.compute, tables, parameters=PARAMETERS)
    row = pick(out, ID)
    # Young: 71 and 0 months → 2; known: 71, 72, 0 months, the unborn child, the 16-year-old → 5.
    assert (row["numerator"], row["denominator"], row["n"]) == (2, 5, 5)
    assert row["value"] == pytest.approx(0.4)
    low, high = proportion_confint(2, 5, method="wilson")
    assert (row["ci_low"], row["ci_high"]) == (pytest.approx(low), pytest.approx(high))
    assert pick(out, ID, scope="territory", scope_id="T1")[["numerator", "denominator"]].tolist() == [2, 4]
    assert pick(out, ID, scope="territory", scope_id="T2")["value"] == 0
    assert row["unit"] == unit_of(ID) == "share"
