"""Relevance: do the families reached use the services of their community more, by wave?

Two ``assessment`` columns measure non-use of services (non-recours): ``non_recours``, the
isolation grid's dimension (0–3, derived from the resources used in the last three months by the
``[isolation] non_recours_bands`` of the configuration: by default 0 resources → 3, 1 → 2,
2–3 → 1, 4 or more → 0), and ``resources_used_3m`` itself. Five indicators of the catalogue,
family ``relevance``, one row per scope cell and wave:

- ``relevance.non_recours_mean``: mean ``non_recours`` score;
- ``relevance.resources_used_mean``: mean number of resources used in the last three months;
- ``relevance.non_recours_change``: mean within-family change of ``non_recours`` from T0 to Tk;
- ``relevance.resources_used_change``: the same for ``resources_used_3m``;
- ``relevance.no_resource_share``: share of families at the top of the ``non_recours`` scale
  (3: no resource used, with the default bands).

The relevance axis's other question, whether the PTP reaches isolated families, is
``reach.isolated_at_contact_share`` (family ``reach``): not repeated here.

Means and changes get a standard error clustered by territory (by family at the territory scope,
see :mod:`~proximite.indicators.wave_items`), shares a Wilson interval. One public function per
id; :func:`compute` puts them together.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import pandas as pd

from proximite.cohort.codebook import load_codebook
from proximite.indicators.base import IndicatorParameters, empty_indicator_frame, indicator_frame
from proximite.indicators.score_trajectory import clustered_means, scope_cells
from proximite.indicators.wave_items import cell_shares, item_panel, paired_from_baseline

__all__ = [
    "INDICATORS",
    "NO_RESOURCE_SCORE",
    "compute",
    "no_resource_share",
    "non_recours_change",
    "non_recours_mean",
    "resources_used_change",
    "resources_used_mean",
]

#: The top of the ``non_recours`` scale: no resource used (with the default bands).
NO_RESOURCE_SCORE = 3
NON_RECOURS = "non_recours"
RESOURCES = "resources_used_3m"
#: Column → the range of its values (the mean's interval is cut to it) and of its changes.
_RANGES: dict[str, tuple[float, float]] = {NON_RECOURS: (0.0, 3.0), RESOURCES: (0.0, math.inf)}
#: The indicator ids this module emits.
INDICATORS: tuple[str, ...] = (
    "relevance.non_recours_mean",
    "relevance.resources_used_mean",
    "relevance.non_recours_change",
    "relevance.resources_used_change",
    "relevance.no_resource_share",
)
_CLUSTERED = ", SE clustered by {}, t interval (G-1 df)"


def _mean_rows(
    tables: Mapping[str, pd.DataFrame], column: str, indicator: str, parameters: IndicatorParameters, *, paired: bool
) -> pd.DataFrame:
    """Rows of a per-wave mean of ``column`` (or of its within-family change from T0 when ``paired``)."""
    panel = item_panel(tables["assessment"], tables["family"], column, parameters=parameters)
    units = paired_from_baseline(panel) if paired and len(panel) else panel
    if units.empty:
        return empty_indicator_frame()
    low, high = _RANGES[column]
    bounds = (-high, high) if paired else (low, high)
    expanded, cells = scope_cells(units, tables["territory"], strata=parameters.strata, scopes=parameters.scopes)
    means = clustered_means(expanded, cells, "value", confidence=parameters.confidence, bounds=bounds)
    if means.empty:
        return empty_indicator_frame()
    what = f"mean of within-family changes of {column} T0 to Tk" if paired else f"mean {column}"
    method = means["cluster_by"].map(lambda by: what + _CLUSTERED.format(by))
    return indicator_frame(
        means.assign(indicator=indicator, unit=load_codebook().indicator(indicator)["unit"], method=method)
    )


def non_recours_mean(tables: Mapping[str, pd.DataFrame], *, parameters: IndicatorParameters) -> pd.DataFrame:
    """``relevance.non_recours_mean``: mean ``non_recours`` score (0–3), by wave.

    Parameters
    ----------
    tables : mapping of str to DataFrame
        ``assessment``, ``family``, ``territory`` (not modified).
    parameters : IndicatorParameters, keyword-only
        ``waves``, ``confidence``, ``strata``, ``scopes``.

    Returns
    -------
    DataFrame
        Indicator rows (:data:`~proximite.indicators.base.INDICATOR_COLUMNS`), unit ``mean``,
        one per scope cell and wave with a score, period ``all``.

    Notes
    -----
    .. math:: \\bar y_w = \\frac{1}{|F_w|}\\sum_{f \\in F_w} y_{fw}

    over :math:`F_w` the families with a score at wave :math:`w`;
    :func:`~proximite.indicators.base.clustered_mean` (SE clustered by territory, by family at
    territory scope, :math:`t_{G-1}` interval cut to [0, 3]).
    """
    return _mean_rows(tables, NON_RECOURS, "relevance.non_recours_mean", parameters, paired=False)


def resources_used_mean(tables: Mapping[str, pd.DataFrame], *, parameters: IndicatorParameters) -> pd.DataFrame:
    """``relevance.resources_used_mean``: mean number of resources used in the last three months, by wave.

    Parameters and returns as :func:`non_recours_mean`.

    Notes
    -----
    The formula of :func:`non_recours_mean` on ``resources_used_3m`` (interval cut at 0).
    """
    return _mean_rows(tables, RESOURCES, "relevance.resources_used_mean", parameters, paired=False)


def non_recours_change(tables: Mapping[str, pd.DataFrame], *, parameters: IndicatorParameters) -> pd.DataFrame:
    """``relevance.non_recours_change``: mean within-family change of ``non_recours`` from T0 to Tk.

    Parameters and returns as :func:`non_recours_mean` (unit ``points``; waves after T0 only).

    Notes
    -----
    .. math:: \\Delta_k = \\frac{1}{|P_k|}\\sum_{f \\in P_k} (y_{fk} - y_{f0})

    over :math:`P_k` the families with a score at T0 and at :math:`k` (paired), SE clustered as
    in :func:`non_recours_mean`, interval cut to [−3, 3]. A fall is less non-use.
    """
    return _mean_rows(tables, NON_RECOURS, "relevance.non_recours_change", parameters, paired=True)


def resources_used_change(tables: Mapping[str, pd.DataFrame], *, parameters: IndicatorParameters) -> pd.DataFrame:
    """``relevance.resources_used_change``: mean within-family change of the resources used, T0 to Tk.

    Parameters and returns as :func:`non_recours_change`.

    Notes
    -----
    The formula of :func:`non_recours_change` on ``resources_used_3m`` (no range cut).
    """
    return _mean_rows(tables, RESOURCES, "relevance.resources_used_change", parameters, paired=True)


def no_resource_share(tables: Mapping[str, pd.DataFrame], *, parameters: IndicatorParameters) -> pd.DataFrame:
    """``relevance.no_resource_share``: share of families with ``non_recours`` = 3 (no resource used), by wave.

    Parameters and returns as :func:`non_recours_mean` (unit ``share``).

    Notes
    -----
    .. math:: \\text{no resource}_w = \\frac{|\\{f \\in F_w : y_{fw} = 3\\}|}{|F_w|}

    Wilson interval; ``n`` = :math:`|F_w|`. With the default ``non_recours_bands`` a score of 3
    is no resource used in the last three months.
    """
    panel = item_panel(tables["assessment"], tables["family"], NON_RECOURS, parameters=parameters)
    if panel.empty:
        return empty_indicator_frame()
    panel["none"] = panel["value"].to_numpy() == NO_RESOURCE_SCORE
    expanded, cells = scope_cells(panel, tables["territory"], strata=parameters.strata, scopes=parameters.scopes)
    shares = cell_shares(expanded, cells, "none", confidence=parameters.confidence)
    if shares.empty:
        return empty_indicator_frame()
    indicator = "relevance.no_resource_share"
    return indicator_frame(
        shares.assign(
            indicator=indicator, unit=load_codebook().indicator(indicator)["unit"],
            method=f"wilson; non_recours = {NO_RESOURCE_SCORE} (no resource used in the last 3 months)",
        )
    )


def compute(tables: Mapping[str, pd.DataFrame], *, parameters: IndicatorParameters) -> pd.DataFrame:
    """Every relevance indicator, in one tidy table.

    Parameters
    ----------
    tables : mapping of str to DataFrame
        ``assessment``, ``family``, ``territory`` (not modified).
    parameters : IndicatorParameters, keyword-only

    Returns
    -------
    DataFrame
        The rows of :func:`non_recours_mean`, :func:`resources_used_mean`,
        :func:`non_recours_change`, :func:`resources_used_change` and :func:`no_resource_share`.

    Notes
    -----
    See each function: means and paired changes from T0 with a territory-clustered SE, the
    share at the top of the ``non_recours`` scale with a Wilson interval, per scope cell and wave.
    """
    frames = [
        indicator(tables, parameters=parameters)
        for indicator in (non_recours_mean, resources_used_mean, non_recours_change, resources_used_change,
                          no_resource_share)
    ]
    frames = [frame for frame in frames if len(frame)]
    if not frames:
        return empty_indicator_frame()
    return indicator_frame(pd.concat(frames, ignore_index=True))
