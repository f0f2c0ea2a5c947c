"""Spec: ``partner_survey.reported_density_change`` = reported density minus the previous year's.

Partner world of ``_survey_tables``: T1 is surveyed in 2024 (3/10) and 2025 (2/3), so its 2025
change is 2/3 − 3/10 = 11/30; T2 answered in 2024 only: no change. No 2024 change (no 2023).
"""

from __future__ import annotations

import pytest

from proximite.indicators.partner_survey import reported_density_change

from ._reach_isolation_tables import unchanged
from ._registry_tables import PARAMETERS, pick, rows, unit_of
from ._survey_tables import partner_world

ID = "partner_survey.reported_density_change"


def test_change_between_consecutive_survey_years() -> None:
    frame = unchanged(reported_density_change, partner_world(), parameters=PARAMETERS)
    row = pick(frame, ID, period="2025", scope="territory", scope_id="T1")
    assert (row["value"], row["n"]) == (pytest.approx(11 / 30), 3)
    assert row["unit"] == unit_of(ID) == "ratio" and "consecutive" in row["method"]
    assert rows(frame, ID, period="2024").empty and rows(frame, ID, scope_id="T2").empty
    assert pick(frame, ID, period="2025")["value"] == pytest.approx(11 / 30)
