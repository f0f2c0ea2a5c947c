"""Spec: ``effectiveness.empowerment_adjusted_effect_ipw``: the adjusted effect weighted for attrition.

Weights: per later wave, a logit of "score observed at Tk" on the T0 score, isolated at contact,
the environment and "observed at the previous wave" (left out at the first later wave);
stabilised (share observed / fitted probability), 1 at T0. Then PanelOLS weighted by them. The
checks are shared with the other score's spec (``_score_tables``).
"""

from __future__ import annotations

from ._score_tables import check_no_attrition_gives_the_plain_effect, check_weighted_effect

RISE = {0: 0.0, 6: 0.3, 12: 0.45, 24: 0.75}


def test_weighted_effect_matches_linearmodels_with_statsmodels_weights() -> None:
    check_weighted_effect("empowerment", RISE)


def test_no_attrition_gives_the_plain_effect() -> None:
    check_no_attrition_gives_the_plain_effect("empowerment", RISE)
