"""Per-wave means and shares of one assessment column: what the acceptability and relevance families share.

An *item* is a numeric column of the harmonised ``assessment`` table (a satisfaction score, the
``non_recours`` dimension, the resources used). :func:`item_panel` reads it per family and wave,
:func:`paired_from_baseline` pairs each later wave with the family's T0, the score trajectory's
:func:`~proximite.indicators.score_trajectory.scope_cells` repeats the units per scope cell, and
its :func:`~proximite.indicators.score_trajectory.clustered_means` / :func:`cell_shares` here give
one indicator row per cell and wave.

Clustering, as the isolation family does it: by territory at the Québec and region scopes, by
family at the territory scope and in a Québec or region cell holding a single territory (a
one-cluster SE does not exist). The functions here do no I/O and never modify their inputs.
"""

from __future__ import annotations

import pandas as pd

from proximite.indicators.base import IndicatorParameters, wilson_interval
from proximite.indicators.score_trajectory import paired_scores, score_panel

__all__ = ["cell_shares", "item_panel", "paired_from_baseline"]


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
        ``family_id``, ``territory_id``, ``wave`` (k > 0) and ``value`` = :math:`y_{fk} - y_{f0}`
        (the score trajectory's :func:`~proximite.indicators.score_trajectory.paired_scores`).
    """
    pairs = paired_scores(panel.rename(columns={"value": "score"}), direction=1, delta=0.0)
    return pairs[["family_id", "territory_id", "wave", "change"]].rename(columns={"change": "value"})


def cell_shares(expanded: pd.DataFrame, cells: pd.DataFrame, flag: str, *, confidence: float) -> pd.DataFrame:
    """Share of the units flagged by the boolean column ``flag``, per scope cell and wave, Wilson interval.

    ``expanded`` and ``cells`` come from :func:`~proximite.indicators.score_trajectory.scope_cells`.

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
