"""Spec: ``isolation.leaving_isolation``: of families isolated at T0 and observed at Tk, those not
isolated at Tk. Wilson interval; no row where nobody was isolated at T0.
"""

from __future__ import annotations

import pytest
from statsmodels.stats.proportion import proportion_confint

from proximite.indicators import isolation

from ._reach_isolation_tables import PARAMETERS, isolation_tables, pick, rows, unchanged, unit_of

ID = "isolation.leaving_isolation"

ASSESSMENTS = [
    ("A", 0, 60.0), ("A", 6, 40.0), ("A", 12, 45.0),  # leaves
    ("B", 0, 70.0), ("B", 6, 55.0), ("B", 12, 50.0),  # stays (50 is isolated)
    ("C", 0, 50.0), ("C", 6, 49.0),  # leaves
    ("D", 0, 30.0), ("D", 6, 60.0),  # not isolated at T0
    ("E", 0, 80.0), ("E", 6, None),  # not observed at T6
    ("F", 6, 70.0),  # no T0
    ("G", 0, 30.0), ("G", 6, 20.0),  # alone in T2, not isolated at T0
]


def compute():
    tables = isolation_tables(ASSESSMENTS, territories={"G": "T2"})
    return unchanged(isolation.compute, tables, parameters=PARAMETERS)


def test_share_leaving_isolation() -> None:
    out = compute()
    row = pick(out, ID, wave=6)
    assert (row["numerator"], row["denominator"], row["n"]) == (2, 3, 3)  # A, C of A, B, C
    low, high = proportion_confint(2, 3, method="wilson")
    assert (row["value"], row["ci_low"], row["ci_high"]) == (pytest.approx(2 / 3), pytest.approx(low),
                                                             pytest.approx(high))
    assert pick(out, ID, wave=12)[["numerator", "denominator"]].tolist() == [1, 2]  # A of A, B
    assert row["unit"] == unit_of(ID) == "share"


def test_no_row_without_isolated_families_at_t0() -> None:
    out = compute()
    assert rows(out, ID).query("scope_id == 'T2'").empty
    assert 0 not in set(rows(out, ID)["wave"])
