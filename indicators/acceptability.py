"""Acceptability: the parents' satisfaction with, and trust in, the PTP, by wave.

The cohort's follow-up form asks three questions on a 1–5 scale (``assessment`` columns):
``satisfaction_relation`` (trust in the PTP), ``satisfaction_help`` (help received for the
family's needs) and ``satisfaction_recommend`` (would recommend the PTP). Four indicators of the
catalogue (``cohort/codebook/indicators.yaml``), family ``acceptability``, one row per scope cell
and wave:

- ``acceptability.trust_agree_share``: share of the families answering that score 4 or 5 on
  ``satisfaction_relation``;
- ``acceptability.help_agree_share``: the same for ``satisfaction_help``;
- ``acceptability.recommend_agree_share``: the same for ``satisfaction_recommend``;
- ``acceptability.satisfaction_mean``: the mean score of each item (breakdown
  ``satisfaction_item``, values the three column names).

Shares get Wilson intervals; means a standard error clustered by territory (by family at the
territory scope, see :mod:`~proximite.indicators.wave_items`). A family counts at a wave where it
answered the item. One public function per id; :func:`compute` puts them together.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from proximite.cohort.codebook import load_codebook
from proximite.indicators.base import IndicatorParameters, empty_indicator_frame, indicator_frame
from proximite.indicators.score_trajectory import clustered_means, scope_cells
from proximite.indicators.wave_items import cell_shares, item_panel

__all__ = [
    "AGREE_SCORE",
    "INDICATORS",
    "ITEMS",
    "compute",
    "help_agree_share",
    "recommend_agree_share",
    "satisfaction_mean",
    "trust_agree_share",
]

#: Agreeing = a score of at least this on the 1–5 scale (4 "agree", 5 "strongly agree").
AGREE_SCORE = 4
#: The satisfaction items (assessment columns), in the order of the form.
ITEMS: tuple[str, ...] = ("satisfaction_relation", "satisfaction_help", "satisfaction_recommend")
#: Item → id of its share-agreeing indicator.
AGREE_IDS: dict[str, str] = {
    "satisfaction_relation": "acceptability.trust_agree_share",
    "satisfaction_help": "acceptability.help_agree_share",
    "satisfaction_recommend": "acceptability.recommend_agree_share",
}
MEAN_ID = "acceptability.satisfaction_mean"
#: The indicator ids this module emits.
INDICATORS: tuple[str, ...] = (*AGREE_IDS.values(), MEAN_ID)
ITEM_BREAKDOWN = "satisfaction_item"
_SCALE = (1.0, 5.0)


def _agree_share(tables: Mapping[str, pd.DataFrame], item: str, parameters: IndicatorParameters) -> pd.DataFrame:
    """Rows of one item's share-agreeing indicator."""
    panel = item_panel(tables["assessment"], tables["family"], item, parameters=parameters)
    if panel.empty:
        return empty_indicator_frame()
    panel["agree"] = panel["value"].to_numpy() >= AGREE_SCORE
    expanded, cells = scope_cells(panel, tables["territory"], strata=parameters.strata, scopes=parameters.scopes)
    shares = cell_shares(expanded, cells, "agree", confidence=parameters.confidence)
    if shares.empty:
        return empty_indicator_frame()
    indicator = AGREE_IDS[item]
    return indicator_frame(
        shares.assign(
            indicator=indicator,
            unit=load_codebook().indicator(indicator)["unit"],
            method=f"wilson; agreeing = score >= {AGREE_SCORE} on the 1-5 scale of {item}, "
            "among the families who answered it at the wave",
        )
    )


def trust_agree_share(tables: Mapping[str, pd.DataFrame], *, parameters: IndicatorParameters) -> pd.DataFrame:
    """``acceptability.trust_agree_share``: share of families who trust the PTP (score 4 or 5), by wave.

    Parameters
    ----------
    tables : mapping of str to DataFrame
        ``assessment``, ``family``, ``territory`` (not modified).
    parameters : IndicatorParameters, keyword-only
        ``waves``, ``confidence``, ``strata``, ``scopes``.

    Returns
    -------
    DataFrame
        Indicator rows (:data:`~proximite.indicators.base.INDICATOR_COLUMNS`), one per scope cell
        and wave where someone answered, unit ``share``, period ``all``.

    Notes
    -----
    With :math:`F_w` the families with a ``satisfaction_relation`` score :math:`s_{fw}` at wave
    :math:`w`,

    .. math:: \\text{trust}_w = \\frac{|\\{f \\in F_w : s_{fw} \\ge 4\\}|}{|F_w|}

    Wilson interval; ``n`` = :math:`|F_w|`.
    """
    return _agree_share(tables, "satisfaction_relation", parameters)


def help_agree_share(tables: Mapping[str, pd.DataFrame], *, parameters: IndicatorParameters) -> pd.DataFrame:
    """``acceptability.help_agree_share``: share of families satisfied with the help received (4 or 5), by wave.

    Parameters and returns as :func:`trust_agree_share`.

    Notes
    -----
    The formula of :func:`trust_agree_share` on ``satisfaction_help``.
    """
    return _agree_share(tables, "satisfaction_help", parameters)


def recommend_agree_share(tables: Mapping[str, pd.DataFrame], *, parameters: IndicatorParameters) -> pd.DataFrame:
    """``acceptability.recommend_agree_share``: share of families who would recommend the PTP (4 or 5), by wave.

    Parameters and returns as :func:`trust_agree_share`.

    Notes
    -----
    The formula of :func:`trust_agree_share` on ``satisfaction_recommend``.
    """
    return _agree_share(tables, "satisfaction_recommend", parameters)


def satisfaction_mean(tables: Mapping[str, pd.DataFrame], *, parameters: IndicatorParameters) -> pd.DataFrame:
    """``acceptability.satisfaction_mean``: mean score (1–5) of each satisfaction item, by wave.

    Parameters and returns as :func:`trust_agree_share` (unit ``mean``; breakdown
    ``satisfaction_item`` with the values of :data:`ITEMS`, no ``all`` row: the items are not
    averaged together).

    Notes
    -----
    .. math:: \\bar s_{iw} = \\frac{1}{|F_{iw}|} \\sum_{f \\in F_{iw}} s_{ifw}

    over :math:`F_{iw}` the families who answered item :math:`i` at wave :math:`w`, with
    :func:`~proximite.indicators.base.clustered_mean`: SE clustered by territory (by family at
    territory scope and in a cell of one territory), interval :math:`\\bar s \\pm t_{G-1}
    \\mathrm{SE}` cut to [1, 5].
    """
    pieces = []
    for item in ITEMS:
        panel = item_panel(tables["assessment"], tables["family"], item, parameters=parameters)
        if panel.empty:
            continue
        expanded, cells = scope_cells(panel, tables["territory"], strata=parameters.strata, scopes=parameters.scopes)
        means = clustered_means(expanded, cells, "value", confidence=parameters.confidence, bounds=_SCALE)
        if len(means):
            pieces.append(means.assign(breakdown=ITEM_BREAKDOWN, breakdown_value=item))
    if not pieces:
        return empty_indicator_frame()
    means = pd.concat(pieces, ignore_index=True)
    return indicator_frame(
        means.assign(
            indicator=MEAN_ID,
            unit=load_codebook().indicator(MEAN_ID)["unit"],
            method="mean score (1-5), SE clustered by " + means["cluster_by"] + ", t interval (G-1 df)",
        ).drop(columns="cluster_by")
    )


def compute(tables: Mapping[str, pd.DataFrame], *, parameters: IndicatorParameters) -> pd.DataFrame:
    """Every acceptability indicator, in one tidy table.

    Parameters
    ----------
    tables : mapping of str to DataFrame
        ``assessment``, ``family``, ``territory`` (not modified).
    parameters : IndicatorParameters, keyword-only

    Returns
    -------
    DataFrame
        The rows of :func:`trust_agree_share`, :func:`help_agree_share`,
        :func:`recommend_agree_share` and :func:`satisfaction_mean`.

    Notes
    -----
    See each function: share agreeing = share scoring :math:`\\ge 4` (Wilson), mean score with a
    territory-clustered SE, per scope cell and wave.
    """
    frames = [
        indicator(tables, parameters=parameters)
        for indicator in (trust_agree_share, help_agree_share, recommend_agree_share, satisfaction_mean)
    ]
    frames = [frame for frame in frames if len(frame)]
    if not frames:
        return empty_indicator_frame()
    return indicator_frame(pd.concat(frames, ignore_index=True))
