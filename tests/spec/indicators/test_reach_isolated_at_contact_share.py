"""Spec: ``reach.isolated_at_contact_share``, families isolated at first contact / families reached.

Wilson interval; a family whose isolation at contact is unknown leaves the denominator.
"""

from __future__ import annotations

import pytest
from statsmodels.stats.proportion import proportion_confint

from proximite.indicators import reach
from proximite.indicators.base import IndicatorParameters

from ._reach_isolation_tables import PARAMETERS, pick, reach_tables, unchanged, unit_of

ID = "reach.isolated_at_contact_share"

FAMILIES = [
    ("F1", "T1", "2024-02-01", True),
    ("F2", "T1", "2024-02-01", False),
    ("F3", "T1", "2024-02-01", True),
    ("F4", "T2", "2024-02-01", True),
    ("F5", "T2", "2024-02-01", None),  # unknown: out of the denominator
    ("F6", "T3", "2024-02-01", False),  # not reached
]
ACTIVITIES = [("T1", "2024-02-01", "F1"), ("T1", "2024-03-01", "F2"), ("T1", "2024-04-01", "F3"),
              ("T2", "2024-05-01", "F4"), ("T2", "2024-06-01", "F5"), ("T2", "2025-01-10", "F4")]


def compute(parameters: IndicatorParameters = PARAMETERS):
    return unchanged(reach.compute, reach_tables(FAMILIES, activities=ACTIVITIES), parameters=parameters)


def test_share_of_reached_families_with_known_status() -> None:
    row = pick(compute(), ID)
    # Reached F1..F5; known F1..F4; isolated F1, F3, F4 → 3 / 4.
    assert (row["numerator"], row["denominator"], row["n"]) == (3, 4, 4)
    assert row["value"] == pytest.approx(0.75)
    low, high = proportion_confint(3, 4, alpha=0.05, method="wilson")
    assert (row["ci_low"], row["ci_high"]) == (pytest.approx(low), pytest.approx(high))
    assert row["unit"] == unit_of(ID) == "share" and row["method"] == "wilson"


def test_rolls_up_by_territory_region_and_period() -> None:
    out = compute()
    assert pick(out, ID, scope="territory", scope_id="T1")["value"] == pytest.approx(2 / 3)  # F1, F3 of F1..F3
    assert pick(out, ID, scope="territory", scope_id="T2")[["numerator", "denominator"]].tolist() == [1, 1]
    assert pick(out, ID, scope="region", scope_id="01")[["numerator", "denominator"]].tolist() == [3, 4]
    assert pick(out, ID, stratum="environment", stratum_value="rural")[["numerator", "denominator"]].tolist() == [1, 1]
    # 2025: only F4 (isolated) is met again.
    assert pick(out, ID, period="2025")[["numerator", "denominator", "value"]].tolist() == [1, 1, 1.0]


def test_confidence_parameter_sets_the_interval() -> None:
    row = pick(compute(IndicatorParameters(periods="year", confidence=0.90)), ID)
    low, high = proportion_confint(3, 4, alpha=0.10, method="wilson")
    assert (row["ci_low"], row["ci_high"]) == (pytest.approx(low), pytest.approx(high))
