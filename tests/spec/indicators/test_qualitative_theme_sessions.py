"""Spec: ``qualitative.theme_sessions`` = per theme, the sessions analysed in which it was coded.

Sessions of :mod:`test_qualitative_sessions` (S6 without consent and S7 uncoded left out). A theme
counts once per session whatever its segments, through its listed code or a sub-code:

| theme (axis) | sessions | Québec 2024 | 2025 | all |
|---|---|---|---|---|
| Confiance (acceptabilite) | S1 (C2, sub-code of C1, twice), S2 (C1) | 2 | – | 2 |
| Transport (pertinence) | S1, S3 | 1 | 1 | 2 |
| Décloisonnement (effets_systemiques) | S3 (T1, region 01), S5 (T3, region 02) | – | 2 | 2 |

C5 (Divers) is in no theme: S4 has no theme row. T1's Transport is parent 1 (S1) + ptp 1 (S3).
The rows carry the axis in ``breakdown`` and the theme in ``breakdown_value``, and no ``all``
breakdown: themes do not add up (S1 codes two of them).
"""

from __future__ import annotations

from proximite.indicators.qualitative import theme_sessions

from ._qualitative_tables import qualitative_tables
from ._reach_isolation_tables import unchanged
from ._registry_tables import PARAMETERS, pick, rows, unit_of
from .test_qualitative_sessions import SESSIONS

ID = "qualitative.theme_sessions"


def result():
    return unchanged(theme_sessions, qualitative_tables(SESSIONS), parameters=PARAMETERS)


def test_each_theme_counts_its_sessions_once() -> None:
    frame = result()
    assert set(frame["indicator"]) == {ID} and unit_of(ID) == "count"
    confiance = pick(frame, ID, period="all", breakdown="acceptabilite", breakdown_value="Confiance")
    assert (confiance["value"], confiance["n"]) == (2, 2)
    transport = [pick(frame, ID, period=p, breakdown="pertinence", breakdown_value="Transport")["value"] for p in ("2024", "2025", "all")]
    assert transport == [1, 1, 2]
    assert "theme" in confiance["method"]


def test_codes_without_a_theme_and_sessions_without_consent_count_nowhere() -> None:
    frame = result()
    assert set(frame["breakdown_value"]) == {"Confiance", "Transport", "Décloisonnement"}
    assert set(frame["breakdown"]) == {"acceptabilite", "pertinence", "effets_systemiques"}
    assert rows(frame, ID, scope="territory", scope_id="T2").empty  # S4: no theme; S7: not coded


def test_by_region_and_participant_type() -> None:
    frame = result()
    silos = {"breakdown": "effets_systemiques", "breakdown_value": "Décloisonnement", "period": "all"}
    assert [pick(frame, ID, scope="region", scope_id=code, **silos)["value"] for code in ("01", "02")] == [1, 1]
    transport = {"breakdown": "pertinence", "breakdown_value": "Transport", "period": "all", "scope": "territory", "scope_id": "T1"}
    assert [pick(frame, ID, stratum="participant_type", stratum_value=value, **transport)["value"]
            for value in ("parent", "ptp")] == [1, 1]
