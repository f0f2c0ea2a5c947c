"""Per-wave means and shares of one assessment column: what the acceptability and relevance families share.

An *item* is a numeric column of the harmonised ``assessment`` table (a satisfaction score, the
``non_recours`` dimension, the resources used). :func:`item_panel` reads it per family and wave,
:func:`paired_from_baseline` pairs each later wave with the family's T0, :func:`wave_cells`
repeats the units per scope cell, and :func:`cell_means` / :func:`cell_shares` give one
indicator row per cell and wave.

Clustering, as the isolation family does it: by territory at the Québec and region scopes, by
family at the territory scope and in a Québec or region cell holding a single territory (a
one-cluster SE does not exist). The functions here do no I/O and never modify their inputs.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from proximite.indicators.base import (
    SCOPE_KEYS,
    IndicatorParameters,
    clustered_mean,
    expand_scopes,
    wilson_interval,
)
from proximite.indicators.score_trajectory import score_panel

__all__ = ["cell_means", "cell_shares", "item_panel", "paired_from_baseline", "wave_cells"]


def item_panel(
    assessment: pd.DataFrame, family: pd.DataFrame, column: str, *, parameters: IndicatorParameters
) -> pd.DataFrame:
    """The observed values of one assessment column per family and wave (a new frame).

    Parameters
    ----------
    assessment : DataFrame
        The harmonised assessment table (``family_id``, ``wave``, ``column``).
    family : DataFrame
        The harmonised family table (``family_id``, ``territory_id``).
    column : str
        The assessment column read.
    parameters : IndicatorParameters, keyword-only
        ``waves`` (other waves are ignored).

    Returns
    -------
    DataFrame
        ``family_id``, ``territory_id``, ``wave`` (int64) and ``value`` (float64), one row per
        family and wave where the value is known, sorted by family and wave.
    """
    # The score trajectory's panel, on the item read as numbers (codes that are not numbers: missing).
    numeric = assessment[["family_id", "wave"]].assign(**{column: pd.to_numeric(assessment[column], errors="coerce")})
    panel = score_panel(numeric, family, column=column, waves=parameters.waves)
    return panel.rename(columns={"score": "value"})


def paired_from_baseline(panel: pd.DataFrame) -> pd.DataFrame:
    """Each family's change from T0 at every later wave where it is observed with T0.

    Parameters
    ----------
    panel : DataFrame
        From :func:`item_panel`.

    Returns
    -------
    DataFrame
        ``family_id``, ``territory_id``, ``wave`` (k > 0) and ``value`` = :math:`y_{fk} - y_{f0}`.
    """
    baseline = panel.loc[panel["wave"] == 0, ["family_id", "value"]]
    later = panel.loc[panel["wave"] > 0]
    pairs = later.merge(baseline, on="family_id", how="inner", suffixes=("", "_t0"))
    return pd.DataFrame(
        {
            "family_id": pairs["family_id"].to_numpy(),
            "territory_id": pairs["territory_id"].to_numpy(),
            "wave": pairs["wave"].to_numpy(),
            "value": pairs["value"].to_numpy() - pairs["value_t0"].to_numpy(),
        }
    )


def wave_cells(
    units: pd.DataFrame, territory: pd.DataFrame, *, strata: Sequence[str], scopes: Sequence[str]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Repeat ``units`` per scope cell, with integer ``cell`` and ``cluster`` columns.

    Parameters
    ----------
    units : DataFrame
        ``family_id``, ``territory_id``, ``wave`` and value columns (not modified).
    territory : DataFrame
        The harmonised territory table.
    strata, scopes : sequence of str, keyword-only

    Returns
    -------
    (DataFrame, DataFrame)
        The expanded units (``cell``, ``cluster``, ``wave`` and the value columns) and the
        cells (``cell``, the scope labels, ``cluster_by``: ``territory`` or ``family``).
    """
    units = units.assign(
        family=pd.factorize(units["family_id"])[0], territory=pd.factorize(units["territory_id"])[0]
    ).drop(columns="family_id")
    expanded = expand_scopes(units, territory, strata=strata, scopes=scopes)
    if expanded.empty:
        return expanded.assign(cell=0, cluster=0), pd.DataFrame(columns=["cell", *SCOPE_KEYS, "cluster_by"])
    cell = expanded.groupby(SCOPE_KEYS, observed=True, sort=False).ngroup().to_numpy()
    territories = pd.Series(expanded["territory"].to_numpy()).groupby(cell).nunique()
    first = pd.Series(np.arange(len(cell))).groupby(cell).first().to_numpy()
    cells = expanded.iloc[first][SCOPE_KEYS].reset_index(drop=True)
    by_family = (cells["scope"] == "territory").to_numpy() | (territories.to_numpy() < 2)
    cells.insert(0, "cell", np.arange(len(cells)))
    cells["cluster_by"] = np.where(by_family, "family", "territory")
    cluster = np.where(by_family[cell], expanded["family"].to_numpy(), expanded["territory"].to_numpy())
    values = expanded.drop(columns=[*SCOPE_KEYS, "territory_id", "region_code", "environment", "host_type"],
                           errors="ignore")
    return values.assign(cell=cell, cluster=cluster), cells


def cell_means(
    expanded: pd.DataFrame, cells: pd.DataFrame, value: str, *, confidence: float, bounds: tuple[float, float]
) -> pd.DataFrame:
    """:func:`~proximite.indicators.base.clustered_mean` of ``value`` per scope cell and wave.

    Parameters
    ----------
    expanded, cells : DataFrame
        From :func:`wave_cells`.
    value : str
        The value column.
    confidence : float, keyword-only
    bounds : (float, float), keyword-only
        The range of the quantity: the interval is cut to it (with two or three territories
        :math:`t_{G-1}` is wide enough to leave a 1–5 scale).

    Returns
    -------
    DataFrame
        The cells' labels, ``cluster_by``, ``wave``, ``value``, ``ci_low``, ``ci_high`` and ``n``
        (families), one row per cell and wave with values.
    """
    values = expanded[value].to_numpy(dtype="float64")
    clusters = expanded["cluster"].to_numpy()
    rows = []
    for (cell, wave), positions in expanded.groupby(["cell", "wave"], sort=True).indices.items():
        estimate = clustered_mean(values[positions], clusters[positions], confidence=confidence)
        rows.append(
            {"cell": cell, "wave": wave, "value": estimate.mean, "ci_low": estimate.ci_low,
             "ci_high": estimate.ci_high, "n": estimate.n}
        )
    if not rows:
        return pd.DataFrame()
    means = cells.merge(pd.DataFrame(rows), on="cell").drop(columns="cell")
    return means.assign(ci_low=means["ci_low"].clip(lower=bounds[0]), ci_high=means["ci_high"].clip(upper=bounds[1]))


def cell_shares(expanded: pd.DataFrame, cells: pd.DataFrame, flag: str, *, confidence: float) -> pd.DataFrame:
    """Share of the units flagged by the boolean column ``flag``, per scope cell and wave, Wilson interval.

    Returns
    -------
    DataFrame
        The cells' labels, ``wave``, ``numerator``, ``denominator``, ``value``, ``ci_low``,
        ``ci_high`` and ``n`` (= denominator).
    """
    counts = expanded.groupby(["cell", "wave"], sort=True)[flag].agg(["sum", "size"]).reset_index()
    if counts.empty:
        return pd.DataFrame()
    counts = cells.drop(columns="cluster_by").merge(
        counts.rename(columns={"sum": "numerator", "size": "denominator"}), on="cell"
    ).drop(columns="cell")
    k = counts["numerator"].to_numpy(dtype="float64")
    n = counts["denominator"].to_numpy(dtype="float64")
    low, high = wilson_interval(k, n, confidence=confidence)
    return counts.assign(numerator=k, denominator=n, value=k / n, ci_low=low, ci_high=high, n=n.astype("int64"))
