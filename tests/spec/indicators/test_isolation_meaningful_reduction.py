"""Spec: ``isolation.meaningful_reduction``, paired families whose index fell by ≥ δ points at Tk.

δ = ``parameters.meaningful_reduction_points`` (default 10); a fall of exactly δ counts, also
when floating point puts it a hair below (tolerance 1e-9). Wilson interval.
"""

from __future__ import annotations

import pytest
from statsmodels.stats.proportion import proportion_confint

from proximite.indicators import isolation
from proximite.indicators.base import IndicatorParameters

from ._reach_isolation_tables import isolation_tables, pick, rows, unchanged, unit_of

ID = "isolation.meaningful_reduction"

ASSESSMENTS = [
    ("A", 0, 60.0), ("A", 6, 50.0),  # fell 10: counts
    ("B", 0, 60.0), ("B", 6, 50.01),  # fell 9.99: does not
    ("C", 0, 60.0), ("C", 6, 50.0 + 1e-12),  # fell 10 less rounding error (weighted indices): counts
    ("D", 0, 30.0), ("D", 6, 35.0),  # rose
    ("E", 0, 50.0), ("E", 6, None),  # not paired
]


def compute(delta: float = 10.0):
    tables = isolation_tables(ASSESSMENTS)
    return unchanged(isolation.compute, tables, parameters=IndicatorParameters(meaningful_reduction_points=delta))


def test_share_with_a_fall_of_at_least_delta() -> None:
    row = pick(compute(), ID, wave=6)
    assert (row["numerator"], row["denominator"], row["n"]) == (2, 4, 4)  # A, C of A, B, C, D
    low, high = proportion_confint(2, 4, method="wilson")
    assert (row["value"], row["ci_low"], row["ci_high"]) == (0.5, pytest.approx(low), pytest.approx(high))
    assert row["unit"] == unit_of(ID) == "share"
    assert 0 not in set(rows(compute(), ID)["wave"])


def test_delta_parameter() -> None:
    assert pick(compute(5.0), ID, wave=6)[["numerator", "denominator"]].tolist() == [3, 4]  # A, B, C
