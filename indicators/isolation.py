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

from collections.abc import Iterator, Mapping, Sequence
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from proximite.cohort.harmonise import isolated_flag
from proximite.indicators.base import (
    SCOPE_KEYS,
    IndicatorParameters,
    clustered_mean,
    empty_indicator_frame,
    expand_scopes,
    indicator_frame,
    iter_scopes,
    wilson_interval,
)

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

#: A cell gets a fixed-effects estimate only with at least this many families observed at two
#: waves or more (a territory of a dozen followed families gives no usable panel estimate).
MIN_PANEL_FAMILIES = 30

#: Key of ``parameters.extra`` that turns on the adjusted effects at territory scope. Off by
#: default: two PanelOLS fits per territory cost about 18 ms each, i.e. 11 s for 300 territories
#: (measured on 2 cores), for estimates that rest on one territory's families; the paired
#: ``isolation.change_from_baseline`` is there for every territory.
ADJUSTED_TERRITORIES = "isolation.adjusted_effect_territories"

#: Tolerance of the δ comparison (index differences are sums of fractions such as 100/18).
_TOLERANCE = 1e-9

_WILSON = "wilson"


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
        ``family_id``, ``territory_id``, ``wave`` (int64), ``index`` (float64) and ``isolated``
        (bool), one row per family and wave where the index is known.

    Notes
    -----
    .. math:: \\text{isolated}_{fw} = [\\text{index}_{fw} \\ge \\text{threshold} - 10^{-9}]
    """
    waves = assessment["wave"].astype("Int64")
    index = assessment["isolation_index"].astype("Float64")
    keep = (waves.isin(list(parameters.waves)) & index.notna()).to_numpy(dtype=bool)
    observed = pd.DataFrame(
        {
            "family_id": assessment["family_id"].to_numpy()[keep],
            "wave": waves.to_numpy(dtype="int64", na_value=-1)[keep],
            "index": index.to_numpy(dtype="float64", na_value=np.nan)[keep],
        }
    )
    home = family[["family_id", "territory_id"]].drop_duplicates("family_id")
    panel = observed.merge(home, on="family_id", how="inner")
    flag = isolated_flag(pd.Series(panel["index"].to_numpy(), dtype="Float64"), threshold=parameters.isolated_threshold)
    panel["isolated"] = flag.to_numpy(dtype=bool, na_value=False)
    panel = panel[["family_id", "territory_id", "wave", "index", "isolated"]]
    return panel.sort_values(["family_id", "wave"], kind="stable").reset_index(drop=True)


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
        ``reduced`` (bool: T0 − Tk ≥ δ), ``isolated_t0`` and ``isolated_tk`` (bool).

    Notes
    -----
    .. math:: \\Delta_{fk} = y_{fk} - y_{f0}, \\qquad
              \\text{reduced}_{fk} = [y_{f0} - y_{fk} \\ge \\delta - 10^{-9}]
    """
    baseline = panel.loc[panel["wave"] == 0, ["family_id", "index", "isolated"]]
    later = panel.loc[panel["wave"] > 0]
    pairs = later.merge(baseline, on="family_id", how="inner", suffixes=("", "_t0"))
    change = pairs["index"].to_numpy() - pairs["index_t0"].to_numpy()
    return pd.DataFrame(
        {
            "family_id": pairs["family_id"].to_numpy(),
            "territory_id": pairs["territory_id"].to_numpy(),
            "wave": pairs["wave"].to_numpy(),
            "change": change,
            "reduced": -change >= parameters.meaningful_reduction_points - _TOLERANCE,
            "isolated_t0": pairs["isolated_t0"].to_numpy(dtype=bool),
            "isolated_tk": pairs["isolated"].to_numpy(dtype=bool),
        }
    )


def _cells(
    units: pd.DataFrame, territory: pd.DataFrame, *, strata: Sequence[str], scopes: Sequence[str]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Repeat ``units`` per scope cell, with integer ``cell`` and ``cluster`` columns.

    Returns the expanded units (``cell``, ``cluster``, ``wave`` and the value columns) and the
    cells (``cell``, the scope labels and ``cluster_by``). The cluster is the territory, or the
    family at territory scope and in cells holding a single territory. Integer codes instead of
    string labels keep the per-cell groupby cheap at province scale.
    """
    units = units.assign(
        family=pd.factorize(units["family_id"])[0], territory=pd.factorize(units["territory_id"])[0]
    ).drop(columns="family_id")
    expanded = expand_scopes(units, territory, strata=strata, scopes=scopes)
    cell = expanded.groupby(SCOPE_KEYS, observed=True, sort=False).ngroup().to_numpy()
    territories = pd.Series(expanded["territory"].to_numpy()).groupby(cell).nunique()
    first = pd.Series(np.arange(len(cell))).groupby(cell).first().to_numpy()
    cells = expanded.iloc[first][SCOPE_KEYS].reset_index(drop=True)
    by_family = (cells["scope"] == "territory").to_numpy() | (territories.to_numpy() < 2)
    cells.insert(0, "cell", np.arange(len(cells)))
    cells["cluster_by"] = np.where(by_family, "family", "territory")
    cluster = np.where(by_family[cell], expanded["family"].to_numpy(), expanded["territory"].to_numpy())
    values = expanded.drop(columns=SCOPE_KEYS + ["territory_id", "region_code", "environment", "host_type"])
    return values.assign(cell=cell, cluster=cluster), cells


def _clustered_means(expanded: pd.DataFrame, cells: pd.DataFrame, value: str, *, confidence: float) -> pd.DataFrame:
    """:func:`clustered_mean` of ``value`` per scope cell and wave (one call per cell)."""
    values = expanded[value].to_numpy(dtype="float64")
    clusters = expanded["cluster"].to_numpy()
    rows = []
    for (cell, wave), positions in expanded.groupby(["cell", "wave"], sort=True).indices.items():
        estimate = clustered_mean(values[positions], clusters[positions], confidence=confidence)
        rows.append(
            {"cell": cell, "wave": wave, "value": estimate.mean, "ci_low": estimate.ci_low,
             "ci_high": estimate.ci_high, "n": estimate.n}
        )
    return cells.merge(pd.DataFrame(rows), on="cell").drop(columns="cell")


def _shares(frame: pd.DataFrame, *, confidence: float) -> pd.DataFrame:
    """Add ``value``, ``ci_low``, ``ci_high`` and ``n`` to a frame of numerators and denominators."""
    k = frame["numerator"].to_numpy(dtype="float64")
    n = frame["denominator"].to_numpy(dtype="float64")
    low, high = wilson_interval(k, n, confidence=confidence)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = np.where(n > 0, k / n, np.nan)
    return frame.assign(value=value, ci_low=low, ci_high=high, n=n.astype("int64"), unit="share", method=_WILSON)


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
        ``waves`` and ``isolated_threshold``.

    Returns
    -------
    DataFrame
        ``family_id`` (string), ``wave`` (Int64) and ``weight`` (float64): weight 1 at T0 for
        every family with a T0 index, and a weight at each later wave where the family is
        observed. Families without a T0 index have no row.

    Notes
    -----
    For each later wave :math:`k`, over the families with a T0 index, a logistic regression
    (statsmodels GLM, binomial, logit link) of :math:`R_{fk}` = [index observed at :math:`k`] on
    the T0 index, isolated at contact, the territory's environment (dummies) and
    :math:`R_{f,k-1}` (observed at the previous wave; left out at the first later wave, where
    every family is observed at T0) gives :math:`\\hat p_{fk}`; then

    .. math:: w_{fk} = \\frac{\\bar R_k}{\\hat p_{fk}} \\quad (R_{fk} = 1), \\qquad w_{f0} = 1

    with :math:`\\bar R_k` the share observed at :math:`k` (stabilised weights). A missing
    isolated-at-contact counts as not isolated; a wave where every family (or none) is observed
    gets weight 1.
    """
    panel = isolation_panel(assessment, family, parameters=parameters)
    base = panel.loc[panel["wave"] == 0, ["family_id", "territory_id", "index"]].reset_index(drop=True)
    if base.empty:
        return pd.DataFrame(
            {"family_id": pd.Series(dtype="string"), "wave": pd.Series(dtype="Int64"),
             "weight": pd.Series(dtype="float64")}
        )
    attributes = family[["family_id", "isolated_at_contact"]].drop_duplicates("family_id")
    base = base.merge(attributes, on="family_id", how="left")
    environment = territory[["territory_id", "environment"]].astype("string")
    base = base.merge(environment, on="territory_id", how="left")
    contact = base["isolated_at_contact"].astype("boolean").fillna(False).to_numpy(dtype="float64")
    dummies = pd.get_dummies(base["environment"].fillna("inconnu").astype(str), drop_first=True, dtype="float64")
    covariates = np.column_stack([np.ones(len(base)), base["index"].to_numpy(dtype="float64"), contact,
                                  dummies.to_numpy()])

    observed = {
        wave: base["family_id"].isin(panel.loc[panel["wave"] == wave, "family_id"]).to_numpy(dtype=bool)
        for wave in parameters.waves
    }
    pieces = [pd.DataFrame({"family_id": base["family_id"].to_numpy(), "wave": 0, "weight": 1.0})]
    for previous, wave in zip(parameters.waves[:-1], parameters.waves[1:]):
        seen = observed[wave]
        if not seen.any():
            continue
        weight = np.ones(len(base))
        if not seen.all():
            design = covariates if previous == 0 else np.column_stack([covariates, observed[previous]])
            fitted = _logit_probabilities(seen.astype("float64"), design)
            weight = seen.mean() / np.clip(fitted, 1e-6, 1.0)
        pieces.append(pd.DataFrame({"family_id": base["family_id"].to_numpy()[seen], "wave": wave,
                                    "weight": weight[seen]}))
    weights = pd.concat(pieces, ignore_index=True)
    return weights.astype({"family_id": "string", "wave": "Int64", "weight": "float64"})


def _logit_probabilities(outcome: np.ndarray, design: np.ndarray) -> np.ndarray:
    """Fitted probabilities of a binomial GLM (logit link), the fit the cohort's attrition model uses."""
    from proximite.cohort.models.attrition_fit import fit_logit  # pure; statsmodels imported there lazily

    # Quiet: a covariate that separates the outcome perfectly still gives usable fitted values.
    return np.asarray(fit_logit(outcome, design, quiet=True).fittedvalues, dtype="float64")


# ---------------------------------------------------------------------------- adjusted effects
def adjusted_effects(
    sample: pd.DataFrame,
    *,
    waves: Sequence[int],
    cluster_by: str,
    weighted: bool,
    confidence: float,
) -> list[dict[str, Any]]:
    """Wave effects of one cell: PanelOLS of the index on wave dummies with family effects.

    Parameters
    ----------
    sample : DataFrame
        The cell's observations of families with a T0 index: ``family_id``, ``territory_id``,
        ``wave``, ``index`` and, when ``weighted``, ``weight``.
    waves : sequence of int, keyword-only
        The configured waves (T0 first, the reference).
    cluster_by : {"territory", "family"}, keyword-only
    weighted : bool, keyword-only
        Pass ``weight`` to PanelOLS (inverse probability of being observed).
    confidence : float, keyword-only

    Returns
    -------
    list of dict
        One per later wave observed in the cell: ``wave``, ``value`` (coefficient), ``ci_low``,
        ``ci_high``, ``n`` (families observed at that wave). Empty when fewer than
        :data:`MIN_PANEL_FAMILIES` families are observed at two waves or more.

    Notes
    -----
    .. math:: y_{fw} = \\alpha_f + \\sum_{k > 0} \\beta_k [w = k] + \\varepsilon_{fw}

    estimated by ``PanelOLS(entity_effects=True)`` (weighted least squares with weights
    :math:`w_{fw}` when ``weighted``), covariance ``clustered`` by territory or by family with
    ``debiased=True`` and ``group_debias=True`` (Stata's ``xtreg, fe vce(cluster)``: the family
    effects are nested in the clusters and not counted), interval :math:`\\hat\\beta_k \\pm
    t_{\\text{df\\_resid}} \\mathrm{SE}` as the results' ``conf_int`` gives it.
    """
    from linearmodels import PanelOLS  # imported here: a second of import, only for this model

    entity = pd.factorize(sample["family_id"])[0]
    wave = sample["wave"].to_numpy()
    observations = np.bincount(entity)
    followed = int((observations >= 2).sum())
    later = [k for k in waves[1:] if (wave == k).any()]
    if followed < MIN_PANEL_FAMILIES or not later:
        return []
    index = pd.MultiIndex.from_arrays([entity, wave], names=["family", "wave"])
    dependent = pd.Series(sample["index"].to_numpy(dtype="float64"), index=index, name="isolation_index")
    exog = pd.DataFrame({"const": 1.0} | {f"T{k}": (wave == k).astype("float64") for k in later}, index=index)
    weights = pd.Series(sample["weight"].to_numpy(dtype="float64"), index=index) if weighted else None
    model = PanelOLS(dependent, exog, entity_effects=True, weights=weights)
    if cluster_by == "family":
        result = model.fit(cov_type="clustered", cluster_entity=True, group_debias=True)
    else:
        clusters = pd.DataFrame({"territory": pd.factorize(sample["territory_id"])[0]}, index=index)
        result = model.fit(cov_type="clustered", clusters=clusters, group_debias=True)
    bounds = result.conf_int(level=confidence)
    rows = []
    for k in later:
        name = f"T{k}"
        rows.append(
            {
                "wave": k,
                "value": float(result.params[name]),
                "ci_low": float(bounds.loc[name, "lower"]),
                "ci_high": float(bounds.loc[name, "upper"]),
                "n": int(np.unique(entity[wave == k]).size),
            }
        )
    return rows


def _adjusted_cells(
    sample: pd.DataFrame, territory: pd.DataFrame, *, strata: Sequence[str], scopes: Sequence[str]
) -> Iterator[tuple[dict[str, str], pd.DataFrame]]:
    """Québec and its strata, each region, each territory: those of ``scopes`` (no region × stratum cells)."""
    if "quebec" in scopes:
        yield from iter_scopes(sample, territory, strata=strata, scopes=("quebec",))
    if "region" in scopes:
        yield from iter_scopes(sample, territory, strata=(), scopes=("region",))
    if "territory" in scopes:
        yield from iter_scopes(sample, territory, strata=(), scopes=("territory",))


def _adjusted_sample(panel: pd.DataFrame, weights: pd.DataFrame) -> pd.DataFrame:
    """The families with a T0 index, their observations with their weights, integer family labels."""
    baseline = panel.loc[panel["wave"] == 0, "family_id"]
    sample = panel.loc[panel["family_id"].isin(baseline), ["family_id", "territory_id", "wave", "index"]]
    weight_of = weights.assign(wave=weights["wave"].astype("int64"), family_id=weights["family_id"].astype(object))
    sample = sample.merge(weight_of, on=["family_id", "wave"], how="left")
    # Integer family labels: each fit counts and groups families several times.
    sample["family_id"] = pd.factorize(sample["family_id"])[0]
    return sample


def _adjusted_rows(
    sample: pd.DataFrame,
    territory: pd.DataFrame,
    *,
    parameters: IndicatorParameters,
    scopes: Sequence[str],
    weighted: bool,
) -> pd.DataFrame:
    """One adjusted effect (weighted or not) in every cell of :func:`_adjusted_cells` for these scope levels."""
    indicator = "isolation.adjusted_effect_ipw" if weighted else "isolation.adjusted_effect"
    rows = []
    for labels, cell in _adjusted_cells(sample, territory, strata=parameters.strata, scopes=scopes):
        cluster_by = "family" if labels["scope"] == "territory" or cell["territory_id"].nunique() < 2 else "territory"
        method = (
            f"PanelOLS family effects, wave dummies vs T0, SE clustered by {cluster_by}, t interval (residual df)"
            if not weighted
            else "PanelOLS family effects weighted by stabilised inverse probability of being observed "
            f"(logit), wave dummies vs T0, SE clustered by {cluster_by}, t interval (residual df)"
        )
        for row in adjusted_effects(
            cell, waves=parameters.waves, cluster_by=cluster_by, weighted=weighted,
            confidence=parameters.confidence,
        ):
            rows.append(labels | row | {"indicator": indicator, "unit": "points", "method": method})
    return indicator_frame(pd.DataFrame(rows))


# ---------------------------------------------------------------------------- the indicators
class IsolationData:
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
        Per cell and later wave: pairs, reduced, isolated at T0, leaving and the
        :data:`TRANSITIONS` counts.
    adjusted_sample : DataFrame
        The observations of families with a T0 index, with their :func:`attrition_weights`.
    """

    def __init__(self, tables: Mapping[str, pd.DataFrame], *, parameters: IndicatorParameters) -> None:
        self.tables = tables
        self.parameters = parameters

    def _expand(self, units: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
        parameters = self.parameters
        return _cells(units, self.tables["territory"], strata=parameters.strata, scopes=parameters.scopes)

    @cached_property
    def panel(self) -> pd.DataFrame:
        return isolation_panel(self.tables["assessment"], self.tables["family"], parameters=self.parameters)

    @cached_property
    def levels(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        return self._expand(self.panel)

    @cached_property
    def pairs(self) -> pd.DataFrame:
        return paired_changes(self.panel, parameters=self.parameters)

    @cached_property
    def paired(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        return self._expand(self.pairs)

    @cached_property
    def pair_counts(self) -> pd.DataFrame:
        paired, cells = self.paired
        flags = paired[["cell", "wave", "reduced", "isolated_t0"]].assign(
            pairs=1,
            leaving=paired["isolated_t0"] & ~paired["isolated_tk"],
            **{label: (paired["isolated_t0"] == t0) & (paired["isolated_tk"] == tk)
               for (t0, tk), label in TRANSITIONS.items()},
        )
        return cells.merge(flags.groupby(["cell", "wave"], sort=True).sum().reset_index(), on="cell")

    @cached_property
    def adjusted_sample(self) -> pd.DataFrame:
        assessment, family, territory = (self.tables[name] for name in ("assessment", "family", "territory"))
        weights = attrition_weights(assessment, family, territory, parameters=self.parameters)
        return _adjusted_sample(self.panel, weights)


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
    data = _data(tables, parameters, data)
    if data.panel.empty:
        return empty_indicator_frame()
    levels, cells = data.levels
    means = _clustered_means(levels, cells, "index", confidence=parameters.confidence)
    # With two or three territories t(G-1) is wide enough to leave the index's 0-100 range.
    means = means.assign(ci_low=means["ci_low"].clip(lower=0.0), ci_high=means["ci_high"].clip(upper=100.0))
    return indicator_frame(
        means.assign(
            indicator="isolation.mean_index", unit="mean",
            method="mean, SE clustered by " + means["cluster_by"] + ", t interval (G-1 df)",
        )
    )


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
        _shares(isolated, confidence=parameters.confidence).assign(indicator="isolation.share_isolated")
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
    data = _data(tables, parameters, data)
    if data.panel.empty or data.pairs.empty:
        return empty_indicator_frame()
    paired, cells = data.paired
    changes = _clustered_means(paired, cells, "change", confidence=parameters.confidence)
    changes = changes.assign(ci_low=changes["ci_low"].clip(lower=-100.0), ci_high=changes["ci_high"].clip(upper=100.0))
    return indicator_frame(
        changes.assign(
            indicator="isolation.change_from_baseline", unit="points",
            method="mean of within-family changes T0 to Tk, SE clustered by " + changes["cluster_by"]
            + ", t interval (G-1 df)",
        )
    )


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
    data = _data(tables, parameters, data)
    if data.panel.empty or data.pairs.empty:
        return empty_indicator_frame()
    counts = data.pair_counts
    labels = counts[SCOPE_KEYS + ["wave"]]
    return indicator_frame(
        _shares(labels.assign(numerator=counts["reduced"], denominator=counts["pairs"]),
                confidence=parameters.confidence).assign(indicator="isolation.meaningful_reduction")
    )


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
        _shares(labels.assign(numerator=counts["leaving"], denominator=counts["isolated_t0"])[baseline_isolated],
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
        _shares(labels.assign(numerator=counts[label], denominator=counts["pairs"]),
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
    return _adjusted_indicator(tables, parameters, data, weighted=False)


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
    return _adjusted_indicator(tables, parameters, data, weighted=True)


def _adjusted_indicator(
    tables: Mapping[str, pd.DataFrame], parameters: IndicatorParameters, data: IsolationData | None, *, weighted: bool
) -> pd.DataFrame:
    """The rows of one adjusted effect at the scope levels that have them."""
    # The fits are the module's main cost: none for a scope level that has no adjusted effects.
    scopes = [
        scope for scope in parameters.scopes
        if scope != "territory" or parameters.extra.get(ADJUSTED_TERRITORIES, False)
    ]
    data = _data(tables, parameters, data)
    if not scopes or data.panel.empty:
        return empty_indicator_frame()
    return _adjusted_rows(data.adjusted_sample, tables["territory"], parameters=parameters, scopes=scopes,
                          weighted=weighted)


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
