"""Spec: ``partner_survey.referral_centralisation`` = Freeman centralisation of the year's referral network.

Partner world of ``_survey_tables``, on the organisations of ``reported_density``:

| territory, year | degrees in the referral network | centralisation |
|---|---|---|
| T1 2024 | H1 2, P1a 1, P1d 1, P1b 0, P1c 0 (n = 5) | (0 + 1 + 1 + 2 + 2)/12 = 1/2 |
| T1 2025 | H1 1, P1a 1, P1e 0 (n = 3) | (0 + 0 + 1)/2 = 1/2 |
"""

from __future__ import annotations

import pytest

from proximite.indicators.partner_survey import referral_centralisation

from ._reach_isolation_tables import unchanged
from ._registry_tables import PARAMETERS, pick, unit_of
from ._survey_tables import partner_world

ID = "partner_survey.referral_centralisation"


@pytest.mark.parametrize(("period", "n"), [("2024", 5), ("2025", 3)])
def test_referral_centralisation(period: str, n: int) -> None:
    frame = unchanged(referral_centralisation, partner_world(), parameters=PARAMETERS)
    row = pick(frame, ID, period=period, scope="territory", scope_id="T1")
    assert (row["value"], row["n"]) == (pytest.approx(0.5), n)
    assert row["unit"] == unit_of(ID) == "ratio" and "referral" in row["method"]
    assert set(frame["indicator"]) == {ID}
