"""Spec: ``partner_survey.reported_centralisation`` = Freeman degree centralisation of the reported network.

Partner world of ``_survey_tables`` (undirected; Σ(d_max − d_i) / ((n − 1)(n − 2))):

| territory, year | degrees | centralisation |
|---|---|---|
| T1 2024 | H1 2, P1a 2, P1b 2, P1c 0, P1d 0 (n = 5) | (0 + 0 + 0 + 2 + 2)/12 = 1/3 |
| T1 2025 | P1a 2, H1 1, P1e 1 (n = 3): a star | 2/2 = 1 |
| T2 2024 | two organisations | undefined: no row |

Québec 2024 = T1's 1/3 alone (n = 1 territory).
"""

from __future__ import annotations

import networkx as nx
import pytest

from proximite.indicators.concertation import freeman_centralisation
from proximite.indicators.partner_survey import reported_centralisation

from ._reach_isolation_tables import unchanged
from ._registry_tables import PARAMETERS, pick, rows, unit_of
from ._survey_tables import partner_world

ID = "partner_survey.reported_centralisation"


def test_territory_centralisation_by_hand_and_by_the_shared_function() -> None:
    frame = unchanged(reported_centralisation, partner_world(), parameters=PARAMETERS)
    star = nx.Graph([("P1a", "H1"), ("P1a", "P1e")])
    assert pick(frame, ID, period="2025", scope="territory", scope_id="T1")["value"] == pytest.approx(1.0)
    assert freeman_centralisation(star) == 1.0
    row = pick(frame, ID, period="2024", scope="territory", scope_id="T1")
    assert (row["value"], row["numerator"], row["denominator"], row["n"]) == (pytest.approx(1 / 3), pytest.approx(4), 12, 5)
    assert rows(frame, ID, scope="territory", scope_id="T2").empty
    quebec = pick(frame, ID, period="2024")
    assert (quebec["value"], quebec["n"]) == (pytest.approx(1 / 3), 1)
    assert quebec["unit"] == unit_of(ID) == "ratio"
