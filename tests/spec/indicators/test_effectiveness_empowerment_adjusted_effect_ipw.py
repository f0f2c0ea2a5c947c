"""Spec: ``effectiveness.empowerment_adjusted_effect_ipw``: the adjusted effect weighted for attrition.

Weights: per later wave, a logit of "score observed at Tk" on the T0 score, isolated at contact,
the environment and "observed at the previous wave" (left out at the first later wave);
stabilised (share observed / fitted probability), 1 at T0. Then PanelOLS weighted by them.
"""

from __future__ import annotations

import pandas as pd
import pytest
import statsmodels.api as sm

from ._reach_isolation_tables import pick, unit_of
from ._score_tables import compute, panelols, score_tables, score_world, world_territories

ID = "effectiveness.empowerment_adjusted_effect_ipw"
RISE = {0: 0.0, 6: 0.3, 12: 0.45, 24: 0.75}


def dropped(family: int, wave: int) -> bool:
    return (wave == 6 and family % 7 == 3) or (wave == 12 and family % 4 == 1) or (wave == 24 and family % 5 == 2)


def reference_weights(observations, territories) -> pd.Series:
    """The weights by statsmodels' GLM, written out here."""
    data = pd.DataFrame(observations, columns=["family", "wave", "y"])
    observed = data.pivot(index="family", columns="wave", values="y").notna()
    families = observed.index
    design = pd.DataFrame({
        "const": 1.0,
        "t0": data.loc[data["wave"] == 0].set_index("family")["y"].reindex(families),
        "contact": [float(int(f[1:]) % 3 != 0) for f in families],
        "urbain": families.map(territories).map({"T1": 1.0, "T2": 0.0, "T3": 1.0}).astype(float),
    }, index=families)
    pieces = [pd.Series(1.0, index=pd.MultiIndex.from_product([families, [0]]))]
    for previous, wave in ((0, 6), (6, 12), (12, 24)):
        x = design if previous == 0 else design.assign(previous=observed[previous].astype(float))
        fitted = sm.GLM(observed[wave].astype(float), x, family=sm.families.Binomial()).fit().fittedvalues
        weight = observed[wave].mean() / fitted
        seen = observed[wave]
        pieces.append(pd.Series(weight[seen].to_numpy(), index=pd.MultiIndex.from_product([families[seen], [wave]])))
    return pd.concat(pieces)


def test_weighted_effect_matches_linearmodels_with_statsmodels_weights() -> None:
    observations = score_world("empowerment", rise=RISE, dropped=dropped)
    territories = world_territories(observations)
    contact = {family: int(family[1:]) % 3 != 0 for family in territories}
    frame = compute(score_tables("empowerment", observations, territories=territories, contact=contact))
    reference = panelols(observations, territories, weights=reference_weights(observations, territories))
    bounds = reference.conf_int()
    for wave in (6, 12, 24):
        row = pick(frame, ID, wave=wave)
        assert row["value"] == pytest.approx(reference.params[f"T{wave}"], rel=1e-6)
        assert row["ci_low"] == pytest.approx(bounds.loc[f"T{wave}", "lower"], rel=1e-6)
        assert row["ci_high"] == pytest.approx(bounds.loc[f"T{wave}", "upper"], rel=1e-6)
        assert "inverse probability" in row["method"]
    assert pick(frame, ID, wave=6)["unit"] == unit_of(ID) == "points"


def test_no_attrition_gives_the_plain_effect() -> None:
    observations = score_world("empowerment", rise=RISE)
    frame = compute(score_tables("empowerment", observations, territories=world_territories(observations)))
    for wave in (6, 12, 24):
        assert pick(frame, ID, wave=wave)["value"] == pytest.approx(
            pick(frame, "effectiveness.empowerment_adjusted_effect", wave=wave)["value"])
