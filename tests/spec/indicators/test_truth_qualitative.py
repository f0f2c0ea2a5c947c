"""Truth recovery on the small synthetic cohort: the themes planted in the qualitative strand.

The generator (``cohort/sandbox/_qualitative.py``) writes a register, two REFI-QDA projects whose
codebooks name the themes differently, and ``themes.yaml``; it plants, per participant type, the
probability that each theme is coded in a session (more transport in rural territories), withdraws
the consent of a few coded sessions and leaves a few registered sessions uncoded.
``truth["qualitative"]["realised_analysed"]`` counts, per territory and participant type, the
sessions analysed (consent in force, coded) and those coding each theme: the indicators, read
through ingest, the themes mapping and harmonisation, must find exactly these counts, and the
shares over the pilot's territories must sit near the planted probabilities.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
import pytest

from proximite.indicators import qualitative
from proximite.indicators.base import IndicatorParameters

from ._registry_tables import rows


@pytest.fixture(scope="module")
def small(small_cohort: tuple[dict[str, pd.DataFrame], dict[str, Any]]) -> tuple[pd.DataFrame, dict[str, Any], dict]:
    tables, truth = small_cohort
    return qualitative.compute(tables, parameters=IndicatorParameters()), truth["qualitative"], tables


@pytest.fixture(scope="module")
def pilot(pilot_cohort: tuple[dict[str, pd.DataFrame], dict[str, Any]]) -> tuple[None, dict[str, Any], dict]:
    tables, truth = pilot_cohort
    return None, truth["qualitative"], tables


def _by_territory_and_type(frame: pd.DataFrame, indicator: str) -> pd.DataFrame:
    return rows(frame, indicator, scope="territory", stratum="participant_type", period="all")


def test_sessions_and_themes_per_territory_and_participant_type_are_recovered(small) -> None:
    frame, truth, _ = small
    sessions = _by_territory_and_type(frame, "qualitative.sessions")
    found = {(r.scope_id, r.stratum_value): int(r.value) for r in sessions.itertuples()}
    planted = {(t, kind): cell["sessions"] for t, kinds in truth["realised_analysed"].items() for kind, cell in kinds.items()}
    assert found == planted and sum(found.values()) == truth["sessions"]["analysed"]
    themes = _by_territory_and_type(frame, "qualitative.theme_sessions")
    found_themes = {(r.scope_id, r.stratum_value, r.breakdown_value): int(r.value) for r in themes.itertuples()}
    planted_themes = {(t, kind, theme): n for t, kinds in truth["realised_analysed"].items()
                      for kind, cell in kinds.items() for theme, n in cell["themes"].items()}
    assert found_themes == planted_themes
    axes = {r.breakdown_value: r.breakdown for r in themes.itertuples()}
    assert all(axes[theme] == spec["axis"] for theme, spec in truth["themes"].items() if theme in axes)


def test_withdrawn_and_uncoded_sessions_are_left_out(small) -> None:
    frame, truth, tables = small
    counts = truth["sessions"]
    assert counts["consent_withdrawn_after_coding"] > 0 and counts["not_coded_yet"] > 0
    assert len(tables["qual_session"]) == counts["registered"]
    quebec = rows(frame, "qualitative.sessions", scope="quebec", stratum="all", period="all")
    assert int(quebec["value"].iloc[0]) == counts["analysed"] < counts["registered"]


def test_shares_sit_near_the_planted_probabilities(pilot) -> None:
    """On the pilot's 50 territories: each rate within 4 standard errors; rural parents raise transport more."""
    _, truth, tables = pilot
    rural = set(tables["territory"].loc[tables["territory"]["environment"] == "rural", "territory_id"].astype(str))
    checked = 0
    for kind, themes in truth["prevalence"].items():
        cells = {t: c[kind] for t, c in truth["realised_analysed"].items() if kind in c}
        for theme, p in themes.items():
            if theme in truth["rural_prevalence"].get(kind, {}):
                continue  # a mixture of two rates: checked below
            n = sum(cell["sessions"] for cell in cells.values())
            k = sum(cell["themes"].get(theme, 0) for cell in cells.values())
            if n >= 20:
                assert abs(k / n - p) <= 4 * math.sqrt(p * (1 - p) / n), (kind, theme, k, n, p)
                checked += 1
    parents = {t: c["parent"] for t, c in truth["realised_analysed"].items() if "parent" in c}
    share = {
        where: sum(c["themes"].get("Transport", 0) for t, c in parents.items() if (t in rural) == where)
        / max(1, sum(c["sessions"] for t, c in parents.items() if (t in rural) == where))
        for where in (True, False)
    }
    assert checked >= 8 and share[True] > share[False] + 0.15
