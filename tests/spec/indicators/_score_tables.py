"""Tiny harmonised tables for the effectiveness (score trajectory) spec tests.

The world of :mod:`._reach_isolation_tables` (T1, T2 in region 01; T3 alone in region 02); each
test writes ``(family_id, wave, score)`` tuples of one score (``empowerment`` or
``parental_stress``, 1 to 5), the other score left missing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

from proximite.indicators import effectiveness
from proximite.indicators.base import IndicatorParameters

from ._reach_isolation_tables import family_table, territory_table, unchanged

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
