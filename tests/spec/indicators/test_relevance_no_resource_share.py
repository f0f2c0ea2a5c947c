"""Spec: ``relevance.no_resource_share`` = share of families with ``non_recours`` = 3 (no resource used).

By hand (scenario of ``_relevance_tables``): T0 = A, C, G of 7 → 3/7; T6 = none of A, B, D, G → 0/4;
T1 T0 = A, C of A, B, C → 2/3. Wilson = statsmodels ``proportion_confint``.
"""

from __future__ import annotations

import pytest
from statsmodels.stats.proportion import proportion_confint

from proximite.indicators.relevance import no_resource_share

from ._reach_isolation_tables import PARAMETERS, pick, unchanged, unit_of
from ._relevance_tables import relevance_tables

ID = "relevance.no_resource_share"


@pytest.mark.parametrize(("cell", "wave", "none", "observed"),
                         [({}, 0, 3, 7), ({}, 6, 0, 4), ({"scope": "territory", "scope_id": "T1"}, 0, 2, 3)])
def test_share_with_no_resource(cell: dict, wave: int, none: int, observed: int) -> None:
    frame = unchanged(no_resource_share, relevance_tables(), parameters=PARAMETERS)
    assert set(frame["indicator"]) == {ID}
    row = pick(frame, ID, wave=wave, **cell)
    low, high = proportion_confint(none, observed, method="wilson")
    assert (row["numerator"], row["denominator"], row["n"]) == (none, observed, observed)
    assert (row["value"], row["ci_low"], row["ci_high"]) == (
        pytest.approx(none / observed), pytest.approx(low, abs=1e-12), pytest.approx(high))
    assert row["unit"] == unit_of(ID) == "share" and "non_recours = 3" in row["method"]
