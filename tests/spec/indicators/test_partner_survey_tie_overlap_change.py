"""Spec: ``partner_survey.tie_overlap_change`` = tie overlap minus the previous year's.

Partner world of ``_survey_tables``: T1's overlap is 1/4 in 2024 and 1/2 in 2025, so its 2025
change is 1/4 (n = the 2025 union, 2 ties); Québec 2025 = T1's alone.
"""

from __future__ import annotations

import pytest

from proximite.indicators.partner_survey import tie_overlap_change

from ._reach_isolation_tables import unchanged
from ._registry_tables import PARAMETERS, pick, unit_of
from ._survey_tables import partner_world

ID = "partner_survey.tie_overlap_change"


def test_change_of_the_overlap() -> None:
    frame = unchanged(tie_overlap_change, partner_world(), parameters=PARAMETERS)
    row = pick(frame, ID, period="2025", scope="territory", scope_id="T1")
    assert (row["value"], row["n"]) == (pytest.approx(0.25), 2)
    quebec = pick(frame, ID, period="2025")
    assert (quebec["value"], quebec["n"]) == (pytest.approx(0.25), 1) and quebec["unit"] == unit_of(ID)
