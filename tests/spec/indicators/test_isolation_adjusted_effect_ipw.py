"""Spec: ``isolation.adjusted_effect_ipw`` and :func:`isolation.attrition_weights`.

Per later wave k, a logistic regression of "observed at Tk" on the T0 index, isolated at
contact, the environment and "observed at the previous wave" (left out at the first later
wave) over the families with a T0 index; stabilised weights = share observed at k / fitted
probability; weight 1 at T0. The adjusted effect is then PanelOLS weighted by them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from proximite.indicators import isolation

from ._reach_isolation_tables import (
    PARAMETERS,
    isolation_tables,
    panel_world,
    pick,
    rows,
    unchanged,
    unit_of,
    world_territories,
)

ID = "isolation.adjusted_effect_ipw"


def weights_of(tables):
    return isolation.attrition_weights(tables["assessment"], tables["family"], tables["territory"],
                                       parameters=PARAMETERS)


def test_weights_by_hand_in_a_saturated_model() -> None:
    # Same T0 index and territory for all: the logit on "isolated at contact" is saturated, so
    # the fitted probability is each group's share observed at T6.
    contact = {f"F{i}": i < 4 for i in range(8)}
    seen_t6 = {"F0", "F1", "F4", "F5", "F6"}  # isolated: 2 of 4; not isolated: 3 of 4
    assessments = [(f, 0, 50.0) for f in contact] + [(f, 6, 40.0) for f in sorted(seen_t6)] + [("Z", 6, 40.0)]
    tables = isolation_tables(assessments, contact=contact)
    weights = unchanged(lambda t, **_: weights_of(t), tables)
    got = {(row.family_id, int(row.wave)): row.weight for row in weights.itertuples()}
    marginal = 5 / 8
    assert got == pytest.approx(
        {(f, 0): 1.0 for f in contact}
        | {("F0", 6): marginal / 0.5, ("F1", 6): marginal / 0.5}
        | {(f, 6): marginal / 0.75 for f in ("F4", "F5", "F6")}
    )  # Z has no T0 index: no weight at all
    assert list(weights.dtypes.astype(str)) == ["string", "Int64", "float64"]


def dropped(family: int, wave: int) -> bool:
    """Attrition that depends on the family (and hence on its T0 index)."""
    return (wave == 6 and family % 7 == 3) or (wave == 12 and family % 4 == 1) or (wave == 24 and family % 5 == 2)


def world():
    assessments = panel_world(dropped=dropped)
    territories = world_territories(assessments)
    contact = {family: int(family[1:]) % 3 != 0 for family in territories}
    return assessments, territories, isolation_tables(assessments, territories=territories, contact=contact)


def test_weights_against_statsmodels_logit() -> None:
    assessments, territories, tables = world()
    weights = weights_of(tables).astype({"wave": "int64"})
    data = pd.DataFrame(assessments, columns=["family", "wave", "y"])
    observed = data.pivot(index="family", columns="wave", values="y").notna()
    families = observed.index
    environment = families.map(territories).map({"T1": "urbain", "T2": "rural", "T3": "urbain"})
    design = pd.DataFrame({
        "const": 1.0,
        "t0": data.loc[data["wave"] == 0].set_index("family")["y"].reindex(families),
        "contact": [float(int(f[1:]) % 3 != 0) for f in families],
        "urbain": (environment == "urbain").astype(float),
    }, index=families)
    for previous, wave in ((0, 6), (6, 12), (12, 24)):
        x = design if previous == 0 else design.assign(previous=observed[previous].astype(float))
        fitted = sm.Logit(observed[wave].astype(float), x).fit(disp=False).predict(x)
        expected = (observed[wave].mean() / fitted)[observed[wave]]
        got = weights.loc[weights["wave"] == wave].set_index("family_id")["weight"]
        assert got.sort_index().to_numpy() == pytest.approx(expected.sort_index().to_numpy(), rel=1e-6)
    assert (weights.loc[weights["wave"] == 0, "weight"] == 1).all()


def test_weighted_effect_against_statsmodels_wls() -> None:
    assessments, _, tables = world()
    out = unchanged(isolation.compute, tables, parameters=PARAMETERS)
    weights = weights_of(tables).astype({"wave": "int64", "family_id": object})
    data = pd.DataFrame(assessments, columns=["family_id", "wave", "y"]).merge(weights, on=["family_id", "wave"])
    x = pd.concat([pd.get_dummies(data["wave"], prefix="T", dtype=float).drop(columns="T_0"),
                   pd.get_dummies(data["family_id"], dtype=float)], axis=1)
    wls = sm.WLS(data["y"], x, weights=data["weight"]).fit()
    for wave in (6, 12, 24):
        row = pick(out, ID, wave=wave)
        assert row["value"] == pytest.approx(wls.params[f"T_{wave}"])
        assert row["ci_low"] < row["value"] < row["ci_high"]
        # The weights move the estimate away from the unweighted one.
        assert row["value"] != pytest.approx(pick(out, "isolation.adjusted_effect", wave=wave)["value"], abs=1e-6)
    assert row["unit"] == unit_of(ID) == "points"
    assert "inverse probability" in row["method"]
    assert 0 not in set(rows(out, ID)["wave"])


def test_without_attrition_ipw_is_the_unweighted_effect() -> None:
    assessments = panel_world()
    out = isolation.compute(isolation_tables(assessments, territories=world_territories(assessments)),
                            parameters=PARAMETERS)
    for wave in (6, 12, 24):
        weighted, plain = pick(out, ID, wave=wave), pick(out, "isolation.adjusted_effect", wave=wave)
        assert weighted[["value", "ci_low", "ci_high", "n"]].tolist() == pytest.approx(
            plain[["value", "ci_low", "ci_high", "n"]].tolist())
    assert np.isnan(weighted["numerator"])
