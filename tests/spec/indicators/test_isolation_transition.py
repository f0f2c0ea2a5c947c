"""Spec: ``isolation.transition``, the T0 → Tk transition matrix as shares of the families observed
at both waves (breakdown ``transition``: ``isole_isole``, ``isole_non_isole``,
``non_isole_isole``, ``non_isole_non_isole``). Wilson interval per cell.
"""

from __future__ import annotations

import pytest
from statsmodels.stats.proportion import proportion_confint

from proximite.indicators import isolation

from ._reach_isolation_tables import PARAMETERS, isolation_tables, pick, rows, unchanged, unit_of

ID = "isolation.transition"

ASSESSMENTS = [
    ("A", 0, 60.0), ("A", 6, 40.0),  # isolated → not
    ("B", 0, 70.0), ("B", 6, 55.0),  # isolated → isolated
    ("C", 0, 50.0), ("C", 6, 49.0),  # isolated → not
    ("D", 0, 30.0), ("D", 6, 60.0),  # not → isolated
    ("E", 0, 80.0), ("E", 6, None),  # not observed at T6: out
]


def test_transition_shares() -> None:
    out = unchanged(isolation.compute, isolation_tables(ASSESSMENTS), parameters=PARAMETERS)
    expected = {"isole_isole": 1, "isole_non_isole": 2, "non_isole_isole": 1, "non_isole_non_isole": 0}
    for label, count in expected.items():
        row = pick(out, ID, wave=6, breakdown_value=label)
        assert row["breakdown"] == "transition"
        assert (row["numerator"], row["denominator"], row["n"]) == (count, 4, 4)
        low, high = proportion_confint(count, 4, method="wilson")
        assert (row["value"], row["ci_low"], row["ci_high"]) == (count / 4, pytest.approx(low), pytest.approx(high))
        assert row["unit"] == unit_of(ID) == "share"
    quebec = rows(out, ID).query("scope == 'quebec' and stratum == 'all'")
    assert quebec["value"].sum() == pytest.approx(1.0)
    assert set(quebec["breakdown_value"]) == set(isolation.TRANSITIONS.values())
    # Leaving isolation is the first row of the matrix, normalised: 2 / (1 + 2).
    assert pick(out, "isolation.leaving_isolation", wave=6)["value"] == pytest.approx(2 / 3)
