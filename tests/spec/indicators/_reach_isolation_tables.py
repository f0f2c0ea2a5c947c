"""Tiny harmonised tables for the reach and isolation spec tests.

One small world, the same in every test: three territories, two regions; each test writes only
the families, children, activities and assessments it needs, as short tuples, and reads back one
indicator row with :func:`pick`.

==========  ======  ===========  =========
territory   region  environment  host type
==========  ======  ===========  =========
T1          01      urbain       OCF
T2          01      rural        CPSC
T3          02      urbain       OCF
==========  ======  ===========  =========

Region 02 holds one territory, so its cells are clustered by family (as the territory's).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd
import statsmodels.api as sm

from proximite.cohort.codebook import load_codebook
from proximite.indicators.base import IndicatorParameters

#: Calendar-year registry periods, 95 % intervals, both strata.
PARAMETERS = IndicatorParameters(periods="year")

TERRITORIES = [
    ("T1", "01", "urbain", "OCF"),
    ("T2", "01", "rural", "CPSC"),
    ("T3", "02", "urbain", "OCF"),
]

#: (family_id, territory_id, first contact YYYY-MM-DD, isolated at contact or None)
Family = tuple[str, str, str, bool | None]
#: (family_id, birth or expected month YYYY-MM, unborn at contact)
Child = tuple[str, str | None, bool]
#: (territory_id, activity date YYYY-MM-DD, family_id or None)
Activity = tuple[str, str, str | None]
#: (family_id, wave, isolation index or None)
Assessment = tuple[str, int, float | None]


def territory_table() -> pd.DataFrame:
    return pd.DataFrame(TERRITORIES, columns=["territory_id", "region_code", "environment", "host_type"]).astype(
        "string"
    )


def family_table(families: Iterable[Family]) -> pd.DataFrame:
    frame = pd.DataFrame(list(families), columns=["family_id", "territory_id", "first_contact_date",
                                                  "isolated_at_contact"])
    return frame.astype(
        {"family_id": "string", "territory_id": "string", "first_contact_date": "datetime64[ns]",
         "isolated_at_contact": "boolean"}
    )


def child_table(children: Iterable[Child]) -> pd.DataFrame:
    rows = [(f"C{number}", *child) for number, child in enumerate(children, start=1)]
    frame = pd.DataFrame(rows, columns=["child_id", "family_id", "birth_month", "unborn_at_contact"])
    return frame.astype({"child_id": "string", "family_id": "string", "birth_month": "string",
                         "unborn_at_contact": "boolean"})


def activity_table(activities: Iterable[Activity]) -> pd.DataFrame:
    rows = [
        (f"A{number}", f"W{territory}", territory, date, family, "lien_confiance" if family else "espaces_dialogue")
        for number, (territory, date, family) in enumerate(activities, start=1)
    ]
    frame = pd.DataFrame(rows, columns=["activity_id", "worker_id", "territory_id", "activity_date", "family_id",
                                        "action_type"])
    return frame.astype(
        {"activity_id": "string", "worker_id": "string", "territory_id": "string",
         "activity_date": "datetime64[ns]", "family_id": "string", "action_type": "string"}
    )


def assessment_table(
    assessments: Iterable[Assessment], *, isolated: Callable[[float], bool] | None = None
) -> pd.DataFrame:
    """Assessments; ``isolated`` is filled as harmonisation would at 50 unless told otherwise."""
    rows = list(assessments)
    frame = pd.DataFrame(rows, columns=["family_id", "wave", "isolation_index"])
    frame = frame.astype({"family_id": "string", "wave": "Int64", "isolation_index": "Float64"})
    flag = isolated or (lambda index: index >= 50)
    frame["isolated"] = pd.array([None if pd.isna(i) else flag(i) for i in frame["isolation_index"]], dtype="boolean")
    frame["assessment_date"] = pd.Timestamp("2024-06-01")
    return frame


def reach_tables(
    families: Iterable[Family], *, children: Iterable[Child] = (), activities: Iterable[Activity] = ()
) -> dict[str, pd.DataFrame]:
    return {
        "territory": territory_table(),
        "family": family_table(families),
        "child": child_table(children),
        "activity": activity_table(activities),
    }


def isolation_tables(
    assessments: Iterable[Assessment],
    *,
    territories: Mapping[str, str] | None = None,
    contact: Mapping[str, bool] | None = None,
    isolated: Callable[[float], bool] | None = None,
) -> dict[str, pd.DataFrame]:
    """Tables of an isolation test: each family's territory (default T1), isolated at contact."""
    assessment = assessment_table(assessments, isolated=isolated)
    ids = list(dict.fromkeys(assessment["family_id"]))
    territories = territories or {}
    contact = contact or {}
    family = family_table(
        (family, territories.get(family, "T1"), "2024-01-15", contact.get(family, False)) for family in ids
    )
    return {"territory": territory_table(), "family": family, "assessment": assessment}


def pick(
    frame: pd.DataFrame,
    indicator: str,
    *,
    scope: str = "quebec",
    scope_id: str = "QC",
    stratum: str = "all",
    stratum_value: str = "all",
    wave: int | None = None,
    period: str = "all",
    breakdown_value: str = "all",
) -> pd.Series:
    """The one row of ``indicator`` in that cell (fails unless there is exactly one)."""
    mask = (
        (frame["indicator"] == indicator)
        & (frame["scope"] == scope)
        & (frame["scope_id"] == scope_id)
        & (frame["stratum"] == stratum)
        & (frame["stratum_value"] == stratum_value)
        & (frame["period"] == period)
        & (frame["breakdown_value"] == breakdown_value)
    )
    mask &= frame["wave"].isna() if wave is None else (frame["wave"] == wave).fillna(False)
    found = frame.loc[mask.to_numpy(dtype=bool)]
    assert len(found) == 1, f"{len(found)} rows of {indicator} at {scope}/{scope_id}/{stratum_value}/{wave}/{period}"
    return found.iloc[0]


def rows(frame: pd.DataFrame, indicator: str) -> pd.DataFrame:
    return frame.loc[(frame["indicator"] == indicator).to_numpy(dtype=bool)]


def unit_of(indicator: str) -> str:
    return str(load_codebook().indicator(indicator)["unit"])


def unchanged(compute: Callable[..., pd.DataFrame], tables: Mapping[str, pd.DataFrame], **options: Any) -> pd.DataFrame:
    """Run ``compute`` and assert it left every input frame as it was."""
    before = copy.deepcopy(dict(tables))
    result = compute(tables, **options)
    for name, frame in before.items():
        pd.testing.assert_frame_equal(tables[name], frame, check_exact=True)
    return result


def statsmodels_clustered_mean(values: Iterable[float], clusters: Iterable[Any], *, confidence: float = 0.95):
    """Reference mean and interval: OLS on a constant, cluster-robust SE, t with G − 1 df."""
    y = np.asarray(list(values), dtype="float64")
    fit = sm.OLS(y, np.ones_like(y)).fit(
        cov_type="cluster", cov_kwds={"groups": pd.factorize(pd.Series(list(clusters)))[0]}, use_t=True
    )
    low, high = fit.conf_int(alpha=1 - confidence)[0]
    return float(fit.params[0]), float(low), float(high)


def panel_world(
    *, families_per_territory: int = 12, dropped: Callable[[int, int], bool] = lambda family, wave: False
) -> list[Assessment]:
    """A generated panel for the fixed-effects tests (they need 30 followed families or more).

    Family ``i`` (F00, F01, ...) sits in territory ``T{i % 3 + 1}``; its index is
    ``30 + (i % 5) * 6 + (i % 2) * 2 − drop(wave)`` with drops 0, 6, 9 and 15 points at T0, T6,
    T12 and T24 plus a family-by-wave wobble ``((i * 7 + wave) % 5) − 2``; ``dropped(i, wave)``
    removes a later observation.
    """
    drop = {0: 0.0, 6: 6.0, 12: 9.0, 24: 15.0}
    rows: list[Assessment] = []
    for i in range(3 * families_per_territory):
        for wave in (0, 6, 12, 24):
            if wave and dropped(i, wave):
                continue
            wobble = ((i * 7 + wave) % 5) - 2
            rows.append((f"F{i:02d}", wave, 30 + (i % 5) * 6 + (i % 2) * 2 - drop[wave] + wobble))
    return rows


def world_territories(assessments: Iterable[Assessment]) -> dict[str, str]:
    """Territory of each family of :func:`panel_world` (``F07`` → ``T2``)."""
    return {family: f"T{int(family[1:]) % 3 + 1}" for family, _, _ in assessments}
