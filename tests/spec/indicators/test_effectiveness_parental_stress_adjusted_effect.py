"""Spec: ``effectiveness.parental_stress_adjusted_effect``: PanelOLS wave effects vs T0 with family effects.

SE clustered by territory (debiased, family effects nested in clusters not counted), t interval
with the residual df; only in cells with 30 families observed twice or more; per territory only
on request. The checks are shared with the other score's spec (``_score_tables``).
"""

from __future__ import annotations

from ._score_tables import check_balanced_effect, check_effect_needs_enough_families

RISE = {0: 0.0, 6: -0.2, 12: -0.35, 24: -0.5}


def test_balanced_panel_effect_is_the_mean_change_and_matches_linearmodels() -> None:
    check_balanced_effect("parental_stress", RISE)


def test_too_few_followed_families_and_territories_on_request() -> None:
    check_effect_needs_enough_families("parental_stress", RISE)
