"""Spec: ``isolation.mean_index``, the mean isolation index per wave.

Families observed at the wave (index not missing); waves outside ``parameters.waves`` are
ignored. SE clustered by territory at the Québec and region scopes, by family at territory scope
(and in a region holding a single territory), t interval with G − 1 df.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from proximite.indicators import isolation

from ._reach_isolation_tables import (
    PARAMETERS,
    isolation_tables,
    pick,
    rows,
    statsmodels_clustered_mean,
    unchanged,
    unit_of,
)

ID = "isolation.mean_index"

ASSESSMENTS = [
    ("A", 0, 60.0), ("A", 6, 50.0),
    ("B", 0, 40.0), ("B", 6, None),  # index missing at T6 (fewer than 4 dimensions)
    ("C", 0, 55.0),
    ("D", 0, 70.0), ("D", 6, 40.0),
    ("E", 0, 20.0), ("E", 3, 99.0),  # wave 3 is not configured
    ("G", 0, 50.0), ("G", 6, 45.0),
    ("H", 0, 30.0),
]
TERRITORIES = {"A": "T1", "B": "T1", "C": "T1", "D": "T2", "E": "T2", "G": "T3", "H": "T3"}


def compute():
    return unchanged(isolation.compute, isolation_tables(ASSESSMENTS, territories=TERRITORIES), parameters=PARAMETERS)


def test_quebec_mean_clustered_by_territory() -> None:
    row = pick(compute(), ID, wave=0)
    t0 = [60, 40, 55, 70, 20, 50, 30]
    assert row["value"] == pytest.approx(325 / 7) and row["n"] == 7
    mean, low, high = statsmodels_clustered_mean(t0, ["T1", "T1", "T1", "T2", "T2", "T3", "T3"])
    assert (row["value"], row["ci_low"], row["ci_high"]) == (pytest.approx(mean), pytest.approx(low),
                                                             pytest.approx(high))
    assert row["method"] == "mean, SE clustered by territory, t interval (G-1 df)"
    assert row["unit"] == unit_of(ID) == "mean"
    assert np.isnan(row["numerator"]) and np.isnan(row["denominator"])


def test_missing_index_and_unconfigured_waves_are_left_out() -> None:
    out = compute()
    assert pick(out, ID, wave=6)[["value", "n"]].tolist() == [pytest.approx(45.0), 3]  # A 50, D 40, G 45
    assert sorted(rows(out, ID)["wave"].unique()) == [0, 6]


def test_territory_scope_clusters_by_family() -> None:
    row = pick(compute(), ID, wave=0, scope="territory", scope_id="T1")
    values = np.array([60.0, 40.0, 55.0])
    # One row per family: clustering by family is the plain SE, t with n − 1 df.
    low, high = stats.t.interval(0.95, df=2, loc=values.mean(), scale=stats.sem(values))
    assert (row["value"], row["ci_low"], row["ci_high"]) == (pytest.approx(155 / 3), pytest.approx(low),
                                                             pytest.approx(high))
    assert row["method"] == "mean, SE clustered by family, t interval (G-1 df)"


def test_single_territory_region_clusters_by_family() -> None:
    out = compute()
    region = pick(out, ID, wave=0, scope="region", scope_id="02")  # T3 alone: G 50, H 30
    low, high = stats.t.interval(0.95, df=1, loc=40.0, scale=stats.sem([50.0, 30.0]))
    assert (region["value"], region["ci_low"], region["ci_high"]) == (40.0, pytest.approx(max(low, 0.0)), pytest.approx(min(high, 100.0)))  # cut to 0-100
    assert region["method"].endswith("clustered by family, t interval (G-1 df)")
    # Region 01 has T1 and T2: two clusters.
    mean, low, high = statsmodels_clustered_mean([60, 40, 55, 70, 20], ["T1", "T1", "T1", "T2", "T2"])
    row = pick(out, ID, wave=0, scope="region", scope_id="01")
    assert (row["value"], row["ci_low"], row["ci_high"]) == (pytest.approx(mean), pytest.approx(low),
                                                             pytest.approx(high))
    strata = pick(out, ID, wave=0, stratum="environment", stratum_value="urbain")  # T1 and T3
    assert strata["value"] == pytest.approx((60 + 40 + 55 + 50 + 30) / 5)


def test_interval_stays_within_the_index_range_with_few_territories() -> None:
    """Two territories give t(1) = 12.7: the raw interval would leave 0-100; it is cut to the range."""
    import numpy as np

    from proximite.indicators import isolation
    from proximite.indicators.base import IndicatorParameters, clustered_mean

    from ._reach_isolation_tables import isolation_tables

    indices = [("F1", 0, 95.0), ("F2", 0, 90.0), ("F3", 0, 5.0), ("F4", 0, 10.0)]
    tables = isolation_tables(indices, territories={"F1": "T1", "F2": "T1", "F3": "T2", "F4": "T2"})
    out = isolation.compute(tables, parameters=IndicatorParameters(strata=()))
    row = out[(out["indicator"] == "isolation.mean_index") & (out["scope"] == "region")].iloc[0]
    raw = clustered_mean(np.array([95.0, 90.0, 5.0, 10.0]), np.array(["T1", "T1", "T2", "T2"]))
    assert raw.ci_low < 0 and raw.ci_high > 100  # what t(1) gives
    assert (row["ci_low"], row["ci_high"]) == (0.0, 100.0)
    assert row["value"] == 50.0
