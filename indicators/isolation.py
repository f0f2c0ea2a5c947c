"""Isolation: the multidimensional isolation index across waves.

Cohort indicators, one row per scope cell and wave (``wave`` = months after T0):

- ``isolation.mean_index``: mean index (SE clustered by territory; by family at territory scope);
- ``isolation.share_isolated``: share of families with index ≥ ``parameters.isolated_threshold``;
- ``isolation.change_from_baseline``: mean within-family change T0 → Tk (paired);
- ``isolation.meaningful_reduction``: share of paired families whose index fell by ≥ δ points;
- ``isolation.leaving_isolation``: among families isolated at T0 and observed at Tk, the share
  not isolated at Tk;
- ``isolation.transition``: breakdown ``transition`` (``isole_isole``, ``isole_non_isole``,
  ``non_isole_isole``, ``non_isole_non_isole``), shares of the families observed at T0 and Tk;
- ``isolation.adjusted_effect``: PanelOLS of the index on wave dummies with family effects;
- ``isolation.adjusted_effect_ipw``: the same weighted by the inverse probability of being
  observed (:func:`attrition_weights`).

The index-based indicators (mean, change, meaningful reduction, adjusted effects) are the generic
score trajectory of :mod:`proximite.indicators.score_trajectory` with :func:`isolation_spec`
(direction −1: a fall is good); this module adds the threshold-based ones (share isolated,
leaving isolation, transitions).

The paired, transition and adjusted indicators have rows for the waves after T0 only. A family
is observed at a wave when its index is not missing there; the isolated flag is recomputed from
the index with ``parameters.isolated_threshold`` (as harmonisation defines it), so the parameter
is honoured whatever threshold the warehouse was built with.

Clustering: by territory at the Québec and region scopes, by family at the territory scope; a
Québec or region cell holding a single territory is that territory, so it is clustered by
family too (a one-cluster SE does not exist). The ``method`` column says which was used.

The adjusted effects are estimated at the Québec scope (and its strata) and per region, in
cells with at least :data:`MIN_PANEL_FAMILIES` families observed at two waves or more; per
territory only on request (:data:`ADJUSTED_TERRITORIES`), because two PanelOLS fits per
territory cost more than the rest of the module at province scale.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property
from typing import Any

import pandas as pd

from proximite.cohort.harmonise import isolated_flag
from proximite.indicators import score_trajectory as trajectory
from proximite.indicators.base import (
    SCOPE_KEYS,
    IndicatorParameters,
    empty_indicator_frame,
    indicator_frame,
)
from proximite.indicators.score_trajectory import MIN_PANEL_FAMILIES, ScoreSpec, adjusted_effects, shares

__all__ = [
    "ADJUSTED_TERRITORIES",
    "INDICATORS",
    "MIN_PANEL_FAMILIES",
    "TRANSITIONS",
    "IsolationData",
    "adjusted_effect",
    "adjusted_effect_ipw",
    "adjusted_effects",
    "attrition_weights",
    "change_from_baseline",
    "compute",
    "isolation_panel",
    "isolation_spec",
    "leaving_isolation",
    "mean_index",
    "meaningful_reduction",
    "paired_changes",
    "share_isolated",
    "transition",
]

#: The indicator ids this module emits.
INDICATORS: tuple[str, ...] = (
    "isolation.mean_index",
    "isolation.share_isolated",
    "isolation.change_from_baseline",
    "isolation.meaningful_reduction",
    "isolation.leaving_isolation",
    "isolation.transition",
    "isolation.adjusted_effect",
    "isolation.adjusted_effect_ipw",
)

#: Breakdown values of ``isolation.transition``: (isolated at T0, isolated at Tk) → label.
TRANSITIONS: dict[tuple[bool, bool], str] = {
    (True, True): "isole_isole",
    (True, False): "isole_non_isole",
    (False, True): "non_isole_isole",
    (False, False): "non_isole_non_isole",
}

#: Key of ``parameters.extra`` that turns on the adjusted effects at territory scope. Off by
#: default: two PanelOLS fits per territory cost about 18 ms each, i.e. 11 s for 300 territories
#: (measured on 2 cores), for estimates that rest on one territory's families; the paired
#: ``isolation.change_from_baseline`` is there for every territory.
ADJUSTED_TERRITORIES = "isolation.adjusted_effect_territories"


def isolation_spec(parameters: IndicatorParameters) -> ScoreSpec:
    """The isolation index as a score trajectory: a fall of δ = ``meaningful_reduction_points`` is good."""
    return ScoreSpec(
        column="isolation_index",
        ids={
            "mean": "isolation.mean_index",
            "change": "isolation.change_from_baseline",
            "meaningful": "isolation.meaningful_reduction",
            "adjusted": "isolation.adjusted_effect",
            "adjusted_ipw": "isolation.adjusted_effect_ipw",
        },
        direction=-1,
        delta=parameters.meaningful_reduction_points,
        bounds=(0.0, 100.0),
        territory_fits=ADJUSTED_TERRITORIES,
    )


# ---------------------------------------------------------------------------- panels
def isolation_panel(
    assessment: pd.DataFrame, family: pd.DataFrame, *, parameters: IndicatorParameters
) -> pd.DataFrame:
    """The observed index per family and wave (a new frame).

    Parameters
    ----------
    assessment : DataFrame
        The harmonised assessment table (``family_id``, ``wave``, ``isolation_index``).
    family : DataFrame
        The harmonised family table (``family_id``, ``territory_id``).
    parameters : IndicatorParameters, keyword-only
        ``waves`` (other waves are ignored) and ``isolated_threshold``.

    Returns
    -------
    DataFrame
        ``family_id``, ``territory_id``, ``wave`` (int64), ``score`` (the index, float64) and
        ``isolated`` (bool), one row per family and wave where the index is known.

    Notes
    -----
    .. math:: \\text{isolated}_{fw} = [\\text{index}_{fw} \\ge \\text{threshold} - 10^{-9}]
    """
    panel = trajectory.score_panel(assessment, family, column="isolation_index", waves=parameters.waves)
    flag = isolated_flag(pd.Series(panel["score"].to_numpy(), dtype="Float64"), threshold=parameters.isolated_threshold)
    return panel.assign(isolated=flag.to_numpy(dtype=bool, na_value=False))


def paired_changes(panel: pd.DataFrame, *, parameters: IndicatorParameters) -> pd.DataFrame:
    """Each family's T0 → Tk pair, for every later wave where it is observed with T0.

    Parameters
    ----------
    panel : DataFrame
        From :func:`isolation_panel`.
    parameters : IndicatorParameters, keyword-only

    Returns
    -------
    DataFrame
        ``family_id``, ``territory_id``, ``wave`` (k > 0), ``change`` (index Tk − index T0),
        ``meaningful`` (bool: T0 − Tk ≥ δ), ``isolated_t0`` and ``isolated_tk`` (bool).

    Notes
    -----
    .. math:: \\Delta_{fk} = y_{fk} - y_{f0}, \\qquad
              \\text{meaningful}_{fk} = [y_{f0} - y_{fk} \\ge \\delta - 10^{-9}]
    """
    pairs = trajectory.paired_scores(panel, direction=-1, delta=parameters.meaningful_reduction_points,
                                     carry=("isolated",))
    return pairs.astype({"isolated_t0": bool, "isolated_tk": bool})


# ---------------------------------------------------------------------------- attrition weights
def attrition_weights(
    assessment: pd.DataFrame,
    family: pd.DataFrame,
    territory: pd.DataFrame,
    *,
    parameters: IndicatorParameters,
) -> pd.DataFrame:
    """Stabilised inverse-probability-of-observation weights, per family and wave.

    Parameters
    ----------
    assessment, family, territory : DataFrame
        The harmonised tables (not modified).
    parameters : IndicatorParameters, keyword-only
        ``waves``.

    Returns
    -------
    DataFrame
        ``family_id`` (string), ``wave`` (Int64) and ``weight`` (float64): weight 1 at T0 for
        every family with a T0 index, and a weight at each later wave where the family is
        observed. Families without a T0 index have no row.

    Notes
    -----
    :func:`proximite.indicators.score_trajectory.attrition_weights` of the index: for each later
    wave :math:`k`, a logistic regression of :math:`R_{fk}` = [index observed at :math:`k`] on
    the T0 index, isolated at contact, the territory's environment and :math:`R_{f,k-1}` gives
    :math:`\\hat p_{fk}`; then

    .. math:: w_{fk} = \\frac{\\bar R_k}{\\hat p_{fk}} \\quad (R_{fk} = 1), \\qquad w_{f0} = 1
    """
    panel = trajectory.score_panel(assessment, family, column="isolation_index", waves=parameters.waves)
    return trajectory.attrition_weights(panel, family, territory, waves=parameters.waves)


# ---------------------------------------------------------------------------- the indicators
class IsolationData(trajectory.ScoreData):
    """What the isolation indicators share, computed once on first use.

    Parameters
    ----------
    tables : mapping of str to DataFrame
        The harmonised tables; uses ``assessment``, ``family`` and ``territory`` (not modified).
    parameters : IndicatorParameters, keyword-only

    Attributes
    ----------
    panel : DataFrame
        :func:`isolation_panel`.
    levels : (DataFrame, DataFrame)
        The panel repeated per scope cell, and the cells (integer ``cell`` and ``cluster``).
    pairs : DataFrame
        :func:`paired_changes`.
    paired : (DataFrame, DataFrame)
        The pairs repeated per scope cell, and the cells.
    pair_counts : DataFrame
        Per cell and later wave: pairs, meaningful (reduced), isolated at T0, leaving and the
        :data:`TRANSITIONS` counts.
    adjusted_sample : DataFrame
        The observations of families with a T0 index, with their :func:`attrition_weights`.
    """

    def __init__(self, tables: Mapping[str, pd.DataFrame], *, parameters: IndicatorParameters) -> None:
        super().__init__(tables, isolation_spec(parameters), parameters=parameters)

    # The module's own names, looked up when called, so the fan-out's tests can count the fits.
    def weights(self) -> pd.DataFrame:
        assessment, family, territory = (self.tables[name] for name in ("assessment", "family", "territory"))
        return attrition_weights(assessment, family, territory, parameters=self.parameters)

    def fit(self, sample: pd.DataFrame, **options: Any) -> list[dict[str, Any]]:
        return adjusted_effects(sample, **options)

    @cached_property
    def panel(self) -> pd.DataFrame:
        return isolation_panel(self.tables["assessment"], self.tables["family"], parameters=self.parameters)

    @cached_property
    def pairs(self) -> pd.DataFrame:
        return paired_changes(self.panel, parameters=self.parameters)

    @cached_property
    def pair_counts(self) -> pd.DataFrame:
        paired, cells = self.paired
        flags = paired[["cell", "wave", "meaningful", "isolated_t0"]].assign(
            pairs=1,
            leaving=paired["isolated_t0"] & ~paired["isolated_tk"],
            **{label: (paired["isolated_t0"] == t0) & (paired["isolated_tk"] == tk)
               for (t0, tk), label in TRANSITIONS.items()},
        )
        return cells.merge(flags.groupby(["cell", "wave"], sort=True).sum().reset_index(), on="cell")


def _data(
    tables: Mapping[str, pd.DataFrame], parameters: IndicatorParameters, data: IsolationData | None
) -> IsolationData:
    return IsolationData(tables, parameters=parameters) if data is None else data


def mean_index(
    tables: Mapping[str, pd.DataFrame], *, parameters: IndicatorParameters, data: IsolationData | None = None
) -> pd.DataFrame:
    """``isolation.mean_index``: the mean isolation index per scope cell and wave.

    Parameters
    ----------
    tables : mapping of str to DataFrame
        The harmonised tables; uses ``assessment``, ``family`` and ``territory`` (not modified).
    parameters : IndicatorParameters, keyword-only
    data : IsolationData, keyword-only
        The shared intermediate results of the same tables and parameters, when already made.

    Returns
    -------
    DataFrame
        Indicator rows (:data:`~proximite.indicators.base.INDICATOR_COLUMNS`), unit ``mean``.

    Notes
    -----
    .. math:: \\text{mean index}_w = \\bar y_{\\cdot w}

    over the families observed at wave :math:`w`, with
    :func:`~proximite.indicators.base.clustered_mean` (SE clustered by territory, by family at
    territory scope, t interval with G − 1 df), the interval cut to [0, 100].
    """
    return trajectory.mean_by_wave(_data(tables, parameters, data))


def share_isolated(
    tables: Mapping[str, pd.DataFrame], *, parameters: IndicatorParameters, data: IsolationData | None = None
) -> pd.DataFrame:
    """``isolation.share_isolated``: share of the families observed at a wave that are isolated.

    Parameters and returns as :func:`mean_index` (unit ``share``).

    Notes
    -----
    .. math:: \\text{share isolated}_w = \\frac{|\\{f \\in F_w : y_{fw} \\ge s\\}|}{|F_w|}

    with :math:`s` = ``parameters.isolated_threshold``; Wilson interval.
    """
    data = _data(tables, parameters, data)
    if data.panel.empty:
        return empty_indicator_frame()
    levels, cells = data.levels
    isolated = levels.groupby(["cell", "wave"], sort=True)["isolated"].agg(["sum", "size"]).reset_index()
    isolated = cells.merge(isolated.rename(columns={"sum": "numerator", "size": "denominator"}), on="cell")
    return indicator_frame(
        shares(isolated, confidence=parameters.confidence).assign(indicator="isolation.share_isolated")
    )


def change_from_baseline(
    tables: Mapping[str, pd.DataFrame], *, parameters: IndicatorParameters, data: IsolationData | None = None
) -> pd.DataFrame:
    """``isolation.change_from_baseline``: mean within-family change of the index from T0 to Tk.

    Parameters and returns as :func:`mean_index` (unit ``points``; waves after T0 only).

    Notes
    -----
    .. math:: \\text{change}_k = \\frac{1}{|P_k|}\\sum_{f \\in P_k} (y_{fk} - y_{f0})

    over :math:`P_k` the families observed at T0 and Tk, SE clustered as in :func:`mean_index`,
    the interval cut to [−100, 100].
    """
    return trajectory.change_from_baseline(_data(tables, parameters, data))


def meaningful_reduction(
    tables: Mapping[str, pd.DataFrame], *, parameters: IndicatorParameters, data: IsolationData | None = None
) -> pd.DataFrame:
    """``isolation.meaningful_reduction``: share of paired families whose index fell by at least δ points.

    Parameters and returns as :func:`mean_index` (unit ``share``; waves after T0 only).

    Notes
    -----
    .. math:: \\text{reduction}_k = \\frac{|\\{f \\in P_k : y_{f0} - y_{fk} \\ge \\delta\\}|}{|P_k|}

    with δ = ``parameters.meaningful_reduction_points``; Wilson interval.
    """
    return trajectory.meaningful_change(_data(tables, parameters, data))


def leaving_isolation(
    tables: Mapping[str, pd.DataFrame], *, parameters: IndicatorParameters, data: IsolationData | None = None
) -> pd.DataFrame:
    """``isolation.leaving_isolation``: of the families isolated at T0 and observed at Tk, the share not isolated at Tk.

    Parameters and returns as :func:`mean_index` (unit ``share``; waves after T0, cells with a
    family isolated at T0).

    Notes
    -----
    .. math:: \\text{leaving}_k = \\frac{|\\{f \\in P_k : y_{f0} \\ge s,\\ y_{fk} < s\\}|}
                                      {|\\{f \\in P_k : y_{f0} \\ge s\\}|}

    Wilson interval.
    """
    data = _data(tables, parameters, data)
    if data.panel.empty or data.pairs.empty:
        return empty_indicator_frame()
    counts = data.pair_counts
    labels = counts[SCOPE_KEYS + ["wave"]]
    baseline_isolated = (counts["isolated_t0"] > 0).to_numpy()
    return indicator_frame(
        shares(labels.assign(numerator=counts["leaving"], denominator=counts["isolated_t0"])[baseline_isolated],
                confidence=parameters.confidence).assign(indicator="isolation.leaving_isolation")
    )


def transition(
    tables: Mapping[str, pd.DataFrame], *, parameters: IndicatorParameters, data: IsolationData | None = None
) -> pd.DataFrame:
    """``isolation.transition``: isolated or not at T0 × at Tk, shares of the families observed at both.

    Parameters and returns as :func:`mean_index` (unit ``share``; breakdown ``transition`` with
    the values of :data:`TRANSITIONS`; waves after T0 only).

    Notes
    -----
    .. math:: \\text{transition}_k(a, b) = \\frac{|\\{f \\in P_k : [y_{f0} \\ge s] = a,\\
              [y_{fk} \\ge s] = b\\}|}{|P_k|}

    Wilson interval.
    """
    data = _data(tables, parameters, data)
    if data.panel.empty or data.pairs.empty:
        return empty_indicator_frame()
    counts = data.pair_counts
    labels = counts[SCOPE_KEYS + ["wave"]]
    frames = [
        shares(labels.assign(numerator=counts[label], denominator=counts["pairs"]),
                confidence=parameters.confidence).assign(
            indicator="isolation.transition", breakdown="transition", breakdown_value=label,
            method="wilson, share of the families observed at T0 and Tk",
        )
        for label in TRANSITIONS.values()
    ]
    return indicator_frame(pd.concat(frames, ignore_index=True))


def adjusted_effect(
    tables: Mapping[str, pd.DataFrame], *, parameters: IndicatorParameters, data: IsolationData | None = None
) -> pd.DataFrame:
    """``isolation.adjusted_effect``: PanelOLS wave effects (vs T0) with family effects.

    Parameters and returns as :func:`mean_index` (unit ``points``; waves after T0 only).

    Notes
    -----
    :func:`adjusted_effects` unweighted, at the Québec scope and its strata and in each region
    (not per region × stratum), in cells where at least :data:`MIN_PANEL_FAMILIES` families are
    observed at two waves or more; at territory scope only when
    ``parameters.extra[ADJUSTED_TERRITORIES]`` is true. Families without a T0 index are left out.
    """
    return trajectory.adjusted_effect(_data(tables, parameters, data), weighted=False)


def adjusted_effect_ipw(
    tables: Mapping[str, pd.DataFrame], *, parameters: IndicatorParameters, data: IsolationData | None = None
) -> pd.DataFrame:
    """``isolation.adjusted_effect_ipw``: :func:`adjusted_effect` weighted by the inverse probability of being observed.

    Parameters and returns as :func:`mean_index` (unit ``points``; waves after T0 only).

    Notes
    -----
    As :func:`adjusted_effect`, each observation weighted by its stabilised inverse probability
    of being observed (:func:`attrition_weights`).
    """
    return trajectory.adjusted_effect(_data(tables, parameters, data), weighted=True)


# ---------------------------------------------------------------------------- compute
def compute(tables: Mapping[str, pd.DataFrame], *, parameters: IndicatorParameters) -> pd.DataFrame:
    """Isolation indicators per scope cell and wave.

    Parameters
    ----------
    tables : mapping of str to DataFrame
        The harmonised tables; uses ``assessment``, ``family`` and ``territory`` (not modified).
    parameters : IndicatorParameters, keyword-only
        ``waves``, ``isolated_threshold``, ``meaningful_reduction_points`` (δ), ``confidence``,
        ``strata``, ``scopes`` (the scope levels computed).

    Returns
    -------
    DataFrame
        The tidy indicator table with the ids of :data:`INDICATORS`; ``period`` is ``all``.

    Notes
    -----
    Per cell and wave, with :math:`y_{fw}` the index of family :math:`f` at wave :math:`w`,
    :math:`F_w` the families observed at :math:`w` and :math:`P_k = F_0 \\cap F_k`:

    .. math::

        \\text{mean index}_w = \\bar y_{\\cdot w}, \\qquad
        \\text{share isolated}_w = \\frac{|\\{f \\in F_w : y_{fw} \\ge s\\}|}{|F_w|}

        \\text{change}_k = \\frac{1}{|P_k|}\\sum_{f \\in P_k} (y_{fk} - y_{f0}), \\qquad
        \\text{reduction}_k = \\frac{|\\{f \\in P_k : y_{f0} - y_{fk} \\ge \\delta\\}|}{|P_k|}

        \\text{leaving}_k = \\frac{|\\{f \\in P_k : y_{f0} \\ge s,\\ y_{fk} < s\\}|}
                                  {|\\{f \\in P_k : y_{f0} \\ge s\\}|}, \\qquad
        \\text{transition}_k(a, b) = \\frac{|\\{f \\in P_k : [y_{f0} \\ge s] = a,\\ [y_{fk} \\ge s] = b\\}|}{|P_k|}

    Means use :func:`~proximite.indicators.base.clustered_mean` (SE clustered by territory, by
    family at territory scope, t interval with G − 1 df); shares get Wilson intervals. The
    adjusted effects (:func:`adjusted_effects`) are estimated at the Québec scope and its
    strata and in each region (not per region × stratum), where at least
    :data:`MIN_PANEL_FAMILIES` families are observed at two waves or more; at territory scope
    only when ``parameters.extra[ADJUSTED_TERRITORIES]`` is true (off by default: about 11 s for
    300 territories, see :data:`ADJUSTED_TERRITORIES`), with the same rule. Families without a
    T0 index are left out of both models, and the weighted one uses :func:`attrition_weights`.
    """
    data = IsolationData(tables, parameters=parameters)
    if data.panel.empty:
        return empty_indicator_frame()
    frames = [
        indicator(tables, parameters=parameters, data=data)
        for indicator in (mean_index, share_isolated, change_from_baseline, meaningful_reduction,
                          leaving_isolation, transition, adjusted_effect, adjusted_effect_ipw)
    ]
    frames = [frame for frame in frames if len(frame)]
    return indicator_frame(pd.concat(frames, ignore_index=True))
