"""Spec: ``isolation.share_isolated``, families with index ≥ threshold / families observed.

The flag is recomputed from the index with ``parameters.isolated_threshold`` (an index equal to
the threshold is isolated), whatever the ``isolated`` column holds. Wilson interval.
"""

from __future__ import annotations

import pytest
from statsmodels.stats.proportion import proportion_confint

from proximite.indicators import isolation
from proximite.indicators.base import IndicatorParameters

from ._reach_isolation_tables import isolation_tables, pick, unchanged, unit_of

ID = "isolation.share_isolated"

ASSESSMENTS = [("A", 0, 50.0), ("B", 0, 49.9), ("C", 0, 80.0), ("D", 0, 10.0), ("E", 0, 45.0),
               ("A", 6, 30.0), ("C", 6, 55.0), ("F", 6, None)]


def compute(threshold: float):
    # The harmonised flag is wrong on purpose: the indicator must not read it.
    tables = isolation_tables(ASSESSMENTS, isolated=lambda index: False)
    return unchanged(isolation.compute, tables, parameters=IndicatorParameters(isolated_threshold=threshold))


def test_share_at_the_default_threshold() -> None:
    row = pick(compute(50.0), ID, wave=0)
    # 50 (at the threshold) and 80 of 5 observed.
    assert (row["numerator"], row["denominator"], row["n"]) == (2, 5, 5)
    low, high = proportion_confint(2, 5, method="wilson")
    assert (row["value"], row["ci_low"], row["ci_high"]) == (0.4, pytest.approx(low), pytest.approx(high))
    assert row["unit"] == unit_of(ID) == "share" and row["method"] == "wilson"
    assert pick(compute(50.0), ID, wave=6)[["numerator", "denominator"]].tolist() == [1, 2]  # C 55; F unknown


def test_the_threshold_parameter_is_honoured() -> None:
    row = pick(compute(40.0), ID, wave=0)
    assert (row["numerator"], row["denominator"]) == (4, 5)  # 50, 49.9, 80, 45
