"""Spec: ``effectiveness.empowerment_adjusted_effect``: PanelOLS wave effects vs T0 with family effects.

SE clustered by territory (debiased, family effects nested in clusters not counted), t interval
with the residual df; only in cells with 30 families observed twice or more; per territory only
on request.
"""

from __future__ import annotations

import pytest

from proximite.indicators import effectiveness

from ._reach_isolation_tables import pick, rows, unit_of
from ._score_tables import compute, panelols, score_tables, score_world, world_territories

ID = "effectiveness.empowerment_adjusted_effect"
RISE = {0: 0.0, 6: 0.3, 12: 0.45, 24: 0.75}


def test_balanced_panel_effect_is_the_mean_change_and_matches_linearmodels() -> None:
    observations = score_world("empowerment", rise=RISE)
    territories = world_territories(observations)
    frame = compute(score_tables("empowerment", observations, territories=territories))
    reference = panelols(observations, territories)
    bounds = reference.conf_int()
    for wave in (6, 12, 24):
        row = pick(frame, ID, wave=wave)
        # Balanced panel: the fixed-effects coefficient is the mean within-family change.
        assert row["value"] == pytest.approx(pick(frame, "effectiveness.empowerment_change", wave=wave)["value"])
        assert row["value"] == pytest.approx(reference.params[f"T{wave}"])
        assert (row["ci_low"], row["ci_high"]) == (
            pytest.approx(bounds.loc[f"T{wave}", "lower"]), pytest.approx(bounds.loc[f"T{wave}", "upper"]))
        assert row["n"] == 36 and "clustered by territory" in row["method"]
    # The planted rise (the wobble averages to about 0 over the 36 families).
    assert pick(frame, ID, wave=24)["value"] == pytest.approx(RISE[24], abs=0.05)
    assert rows(frame, ID)["unit"].unique().tolist() == [unit_of(ID)] == ["points"]


def test_too_few_followed_families_and_territories_on_request() -> None:
    small = score_world("empowerment", rise=RISE, families_per_territory=9)  # 27 families < 30
    assert rows(compute(score_tables("empowerment", small, territories=world_territories(small))), ID).empty
    observations = score_world("empowerment", rise=RISE)
    tables = score_tables("empowerment", observations, territories=world_territories(observations))
    # Region 01 holds 24 families, region 02 twelve: under 30, only Québec gets an estimate.
    assert set(rows(compute(tables), ID)["scope"]) == {"quebec"}
    # 12 families per territory: under 30 even when asked.
    asked = compute(tables, extra={effectiveness.ADJUSTED_TERRITORIES: True})
    assert "territory" not in set(rows(asked, ID)["scope"])
