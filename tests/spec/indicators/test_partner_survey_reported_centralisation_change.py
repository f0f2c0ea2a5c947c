"""Spec: ``partner_survey.reported_centralisation_change`` = reported centralisation minus the previous year's.

Partner world of ``_survey_tables``: T1's reported centralisation is 1/3 in 2024 and 1 in 2025, so
its 2025 change is 2/3; T2's is undefined (two organisations): no change.
"""

from __future__ import annotations

import pytest

from proximite.indicators.partner_survey import reported_centralisation_change

from ._reach_isolation_tables import unchanged
from ._registry_tables import PARAMETERS, pick, rows, unit_of
from ._survey_tables import partner_world

ID = "partner_survey.reported_centralisation_change"


def test_change_of_the_centralisation() -> None:
    frame = unchanged(reported_centralisation_change, partner_world(), parameters=PARAMETERS)
    row = pick(frame, ID, period="2025", scope="territory", scope_id="T1")
    assert row["value"] == pytest.approx(2 / 3) and row["unit"] == unit_of(ID) == "ratio"
    assert rows(frame, ID, scope_id="T2").empty and set(frame["period"]) == {"2025"}
