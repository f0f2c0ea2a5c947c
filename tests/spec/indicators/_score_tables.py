"""Tiny harmonised tables for the effectiveness (score trajectory) spec tests.

The world of :mod:`._reach_isolation_tables` (T1, T2 in region 01; T3 alone in region 02); each
test writes ``(family_id, wave, score)`` tuples of one score (``empowerment`` or
``parental_stress``, 1 to 5), the other score left missing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd
import pytest

from proximite.indicators import effectiveness
from proximite.indicators.base import IndicatorParameters

from ._reach_isolation_tables import family_table, pick, rows, territory_table, unchanged, unit_of

#: (family_id, wave, score or None)
Score = tuple[str, int, float | None]


def score_tables(
    score: str,
    observations: Iterable[Score],
    *,
    territories: Mapping[str, str] | None = None,
    contact: Mapping[str, bool] | None = None,
) -> dict[str, pd.DataFrame]:
    """Tables with ``score`` filled from ``observations`` (the other score missing)."""
    frame = pd.DataFrame(list(observations), columns=["family_id", "wave", score])
    other = "parental_stress" if score == "empowerment" else "empowerment"
    frame = frame.astype({"family_id": "string", "wave": "Int64", score: "Float64"})
    frame[other] = pd.array([None] * len(frame), dtype="Float64")
    frame["isolation_index"] = pd.array([None] * len(frame), dtype="Float64")
    frame["assessment_date"] = pd.Timestamp("2024-06-01")
    ids = list(dict.fromkeys(frame["family_id"]))
    territories, contact = territories or {}, contact or {}
    family = family_table((f, territories.get(f, "T1"), "2024-01-15", contact.get(f, False)) for f in ids)
    return {"territory": territory_table(), "family": family, "assessment": frame}


def compute(tables: Mapping[str, pd.DataFrame], **parameters) -> pd.DataFrame:
    """The effectiveness family, checking it leaves its inputs unchanged."""
    return unchanged(effectiveness.compute, tables, parameters=IndicatorParameters(**parameters))


def score_world(score: str, *, rise: Mapping[int, float], families_per_territory: int = 12,
                dropped=lambda family, wave: False) -> list[Score]:
    """A panel for the fixed-effects tests (30 followed families or more).

    Family ``i`` (F00, ...) sits in ``T{i % 3 + 1}``; its score is
    ``2 + (i % 5) * 0.3 + rise[wave] + wobble`` with a family-by-wave wobble
    ``(((i * 7 + wave) % 5) - 2) / 10``, cut to [1, 5]; ``dropped(i, wave)`` removes a later wave.
    """
    rows: list[Score] = []
    for i in range(3 * families_per_territory):
        for wave in (0, 6, 12, 24):
            if wave and dropped(i, wave):
                continue
            wobble = (((i * 7 + wave) % 5) - 2) / 10
            rows.append((f"F{i:02d}", wave, float(np.clip(2 + (i % 5) * 0.3 + rise[wave] + wobble, 1, 5))))
    return rows


def world_territories(observations: Iterable[Score]) -> dict[str, str]:
    return {family: f"T{int(family[1:]) % 3 + 1}" for family, _, _ in observations}


def panelols(observations: Iterable[Score], territories: Mapping[str, str], *, weights=None):
    """Reference fit: linearmodels PanelOLS, family effects, wave dummies, SE clustered by territory."""
    from linearmodels import PanelOLS

    data = pd.DataFrame(list(observations), columns=["family", "wave", "y"]).dropna()
    data = data.set_index(["family", "wave"]).sort_index()
    exog = pd.DataFrame({"const": 1.0} | {f"T{k}": (data.index.get_level_values("wave") == k).astype(float)
                                          for k in (6, 12, 24)}, index=data.index)
    w = None if weights is None else weights.reindex(data.index)
    clusters = pd.DataFrame({"t": pd.factorize(data.index.get_level_values("family").map(territories))[0]},
                            index=data.index)
    model = PanelOLS(data["y"], exog, entity_effects=True, weights=w)
    return model.fit(cov_type="clustered", clusters=clusters, group_debias=True)


def cr2_bounds(observations: Iterable[Score], territories: Mapping[str, str], *, weights=None) -> pd.DataFrame:
    """The default interval of the adjusted effects: CR2 by territory with Bell–McCaffrey df, per wave dummy."""
    from proximite.cohort.models.small_sample import cr2

    data = pd.DataFrame(list(observations), columns=["family", "wave", "y"]).dropna()
    data = data.set_index(["family", "wave"]).sort_index()
    families = data.index.get_level_values("family")
    design = np.column_stack([(data.index.get_level_values("wave") == k).astype(float) for k in (6, 12, 24)])
    fit = cr2(data["y"].to_numpy(), design, families.map(territories).to_numpy(), entities=families.to_numpy(),
              weights=None if weights is None else weights.reindex(data.index).to_numpy())
    lower, upper = fit.intervals(0.95)
    return pd.DataFrame({"lower": lower, "upper": upper}, index=["T6", "T12", "T24"])


# ---------------------------------------------------------------------- the adjusted effects' checks
# The empowerment and stress specs of the adjusted effects differ only in the score and its
# planted rise: their checks are written once here, and each indicator's spec calls them.
def check_balanced_effect(score: str, rise: Mapping[int, float]) -> None:
    """Balanced panel: the effect equals the mean change and linearmodels' PanelOLS; the interval is
    CR2 by territory (the default) and, asked for, linearmodels' CR1 with the residual df."""
    indicator = f"effectiveness.{score}_adjusted_effect"
    observations = score_world(score, rise=rise)
    territories = world_territories(observations)
    tables = score_tables(score, observations, territories=territories)
    frame = compute(tables)
    reference = panelols(observations, territories)
    bounds = cr2_bounds(observations, territories)
    cr1, cr1_bounds = compute(tables, adjusted_inference="cr1"), reference.conf_int()
    for wave in (6, 12, 24):
        row = pick(cr1, indicator, wave=wave)
        assert (row["ci_low"], row["ci_high"]) == (
            pytest.approx(cr1_bounds.loc[f"T{wave}", "lower"]), pytest.approx(cr1_bounds.loc[f"T{wave}", "upper"]))
    for wave in (6, 12, 24):
        row = pick(frame, indicator, wave=wave)
        # Balanced panel: the fixed-effects coefficient is the mean within-family change.
        assert row["value"] == pytest.approx(pick(frame, f"effectiveness.{score}_change", wave=wave)["value"])
        assert row["value"] == pytest.approx(reference.params[f"T{wave}"])
        assert (row["ci_low"], row["ci_high"]) == (
            pytest.approx(bounds.loc[f"T{wave}", "lower"]), pytest.approx(bounds.loc[f"T{wave}", "upper"]))
        assert row["n"] == 36 and "CR2 SE clustered by territory" in row["method"]
    # The planted rise (the wobble averages to about 0 over the 36 families).
    assert pick(frame, indicator, wave=24)["value"] == pytest.approx(rise[24], abs=0.05)
    assert rows(frame, indicator)["unit"].unique().tolist() == [unit_of(indicator)] == ["points"]


def check_effect_needs_enough_families(score: str, rise: Mapping[int, float]) -> None:
    """Only cells with 30 followed families get an effect; territories only on request, and still 30."""
    indicator = f"effectiveness.{score}_adjusted_effect"
    small = score_world(score, rise=rise, families_per_territory=9)  # 27 families < 30
    assert rows(compute(score_tables(score, small, territories=world_territories(small))), indicator).empty
    observations = score_world(score, rise=rise)
    tables = score_tables(score, observations, territories=world_territories(observations))
    # Region 01 holds 24 families, region 02 twelve: under 30, only Québec gets an estimate.
    assert set(rows(compute(tables), indicator)["scope"]) == {"quebec"}
    # 12 families per territory: under 30 even when asked.
    asked = compute(tables, extra={effectiveness.ADJUSTED_TERRITORIES: True})
    assert "territory" not in set(rows(asked, indicator)["scope"])


def dropped(family: int, wave: int) -> bool:
    """The planted attrition of the weighted effects' specs."""
    return (wave == 6 and family % 7 == 3) or (wave == 12 and family % 4 == 1) or (wave == 24 and family % 5 == 2)


def reference_weights(observations, territories) -> pd.Series:
    """The attrition weights by statsmodels' GLM, written out here."""
    import statsmodels.api as sm

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


def check_weighted_effect(score: str, rise: Mapping[int, float]) -> None:
    """The attrition-weighted effect equals linearmodels' PanelOLS with statsmodels' weights (CR2 interval)."""
    indicator = f"effectiveness.{score}_adjusted_effect_ipw"
    observations = score_world(score, rise=rise, dropped=dropped)
    territories = world_territories(observations)
    contact = {family: int(family[1:]) % 3 != 0 for family in territories}
    frame = compute(score_tables(score, observations, territories=territories, contact=contact))
    weights = reference_weights(observations, territories)
    reference = panelols(observations, territories, weights=weights)
    bounds = cr2_bounds(observations, territories, weights=weights)
    for wave in (6, 12, 24):
        row = pick(frame, indicator, wave=wave)
        assert row["value"] == pytest.approx(reference.params[f"T{wave}"], rel=1e-6)
        assert row["ci_low"] == pytest.approx(bounds.loc[f"T{wave}", "lower"], rel=1e-6)
        assert row["ci_high"] == pytest.approx(bounds.loc[f"T{wave}", "upper"], rel=1e-6)
        assert "inverse probability" in row["method"]
    assert pick(frame, indicator, wave=6)["unit"] == unit_of(indicator) == "points"


def check_no_attrition_gives_the_plain_effect(score: str, rise: Mapping[int, float]) -> None:
    observations = score_world(score, rise=rise)
    frame = compute(score_tables(score, observations, territories=world_territories(observations)))
    for wave in (6, 12, 24):
        assert pick(frame, f"effectiveness.{score}_adjusted_effect_ipw", wave=wave)["value"] == pytest.approx(
            pick(frame, f"effectiveness.{score}_adjusted_effect", wave=wave)["value"])
