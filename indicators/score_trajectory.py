"""Score trajectories: the generic machinery of a family score followed across the cohort's waves.

One :class:`ScoreSpec` names a column of the harmonised ``assessment`` table, the direction in
which a change is good, the δ of a meaningful change, the score's range and the indicator ids.
:class:`ScoreData` builds what the indicators of one score share (the observed panel, the T0 → Tk
pairs, their expansion to scope cells, the attrition-weighted sample) once, and five functions
give the indicator rows:

- :func:`mean_by_wave`: mean score per scope cell and wave (SE clustered by territory);
- :func:`change_from_baseline`: mean within-family change T0 → Tk (paired, same clustering);
- :func:`meaningful_change`: share of paired families whose score moved by ≥ δ in the good
  direction (Wilson interval);
- :func:`adjusted_effect`: PanelOLS wave effects with family effects, SE clustered by territory,
  plain or weighted by the inverse probability of being observed (:func:`attrition_weights`).

:mod:`~proximite.indicators.isolation` uses it for the isolation index and
:mod:`~proximite.indicators.effectiveness` for empowerment and parental stress.

Clustering: by territory at the Québec and region scopes, by family at the territory scope and in
a cell holding a single territory (a one-cluster SE does not exist). The adjusted effects are
estimated at the Québec scope (and its strata) and per region, in cells with at least
:data:`MIN_PANEL_FAMILIES` families observed at two waves or more; per territory only when
``parameters.extra[spec.territory_fits]`` is true (two PanelOLS fits per territory are costly).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

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
    "KINDS",
    "MIN_PANEL_FAMILIES",
    "ScoreData",
    "ScoreSpec",
    "adjusted_effect",
    "adjusted_effects",
    "adjusted_sample",
    "attrition_weights",
    "change_from_baseline",
    "clustered_means",
    "compute",
    "meaningful_change",
    "mean_by_wave",
    "paired_scores",
    "scope_cells",
    "score_panel",
    "shares",
]

#: The indicator kinds of a score trajectory (keys of :attr:`ScoreSpec.ids`).
KINDS: tuple[str, ...] = ("mean", "change", "meaningful", "adjusted", "adjusted_ipw")

#: A cell gets a fixed-effects estimate only with at least this many families observed at two
#: waves or more (a territory of a dozen followed families gives no usable panel estimate).
MIN_PANEL_FAMILIES = 30

#: Tolerance of the δ comparison (index differences are sums of fractions such as 100/18).
TOLERANCE = 1e-9

_WILSON = "wilson"

#: The fit of one cell's wave effects (:func:`adjusted_effects`' signature).
Fit = Callable[..., list[dict[str, Any]]]


@dataclass(frozen=True)
class ScoreSpec:
    """One score followed across waves.

    Attributes
    ----------
    column : str
        The column of the harmonised ``assessment`` table.
    ids : mapping of str to str
        Indicator id of each kind of :data:`KINDS` (``mean``, ``change``, ``meaningful``,
        ``adjusted``, ``adjusted_ipw``).
    direction : {1, -1}
        1 when a rise is good (empowerment), −1 when a fall is (isolation, stress).
    delta : float
        δ: a move of at least this in the good direction is a meaningful change.
    bounds : (float, float)
        The score's range; intervals of means are cut to it, those of changes to ± its width.
    territory_fits : str
        Key of ``parameters.extra`` that turns on the adjusted effects at territory scope.
    """

    column: str
    ids: Mapping[str, str]
    direction: int
    delta: float
    bounds: tuple[float, float]
    territory_fits: str

    def __post_init__(self) -> None:
        if self.direction not in (1, -1):
            raise ValueError(f"direction of {self.column!r} must be 1 or -1, not {self.direction!r}")
        if not self.delta > 0:
            raise ValueError(f"meaningful change of {self.column!r} must be positive, not {self.delta!r}")
        missing = set(KINDS) - set(self.ids)
        if missing:
            raise ValueError(f"score {self.column!r} has no indicator id for {sorted(missing)}")


# ---------------------------------------------------------------------------- panels
def score_panel(assessment: pd.DataFrame, family: pd.DataFrame, *, column: str, waves: Sequence[int]) -> pd.DataFrame:
    """The observed score per family and wave (a new frame).

    Parameters
    ----------
    assessment : DataFrame
        The harmonised assessment table (``family_id``, ``wave``, ``column``).
    family : DataFrame
        The harmonised family table (``family_id``, ``territory_id``).
    column : str, keyword-only
    waves : sequence of int, keyword-only
        Other waves are ignored.

    Returns
    -------
    DataFrame
        ``family_id``, ``territory_id``, ``wave`` (int64) and ``score`` (float64), one row per
        family and wave where the score is known, sorted by family and wave.
    """
    wave = assessment["wave"].astype("Int64")
    score = assessment[column].astype("Float64")
    keep = (wave.isin(list(waves)) & score.notna()).to_numpy(dtype=bool)
    observed = pd.DataFrame(
        {
            "family_id": assessment["family_id"].to_numpy()[keep],
            "wave": wave.to_numpy(dtype="int64", na_value=-1)[keep],
            "score": score.to_numpy(dtype="float64", na_value=np.nan)[keep],
        }
    )
    home = family[["family_id", "territory_id"]].drop_duplicates("family_id")
    panel = observed.merge(home, on="family_id", how="inner")[["family_id", "territory_id", "wave", "score"]]
    return panel.sort_values(["family_id", "wave"], kind="stable").reset_index(drop=True)


def paired_scores(
    panel: pd.DataFrame, *, direction: int, delta: float, carry: Sequence[str] = ()
) -> pd.DataFrame:
    """Each family's T0 → Tk pair, for every later wave where it is observed with T0.

    Parameters
    ----------
    panel : DataFrame
        From :func:`score_panel` (with any ``carry`` columns).
    direction : {1, -1}, keyword-only
    delta : float, keyword-only
    carry : sequence of str, keyword-only
        Panel columns copied as ``{name}_t0`` and ``{name}_tk``.

    Returns
    -------
    DataFrame
        ``family_id``, ``territory_id``, ``wave`` (k > 0), ``change`` (score Tk − score T0),
        ``meaningful`` (bool) and the carried columns.

    Notes
    -----
    .. math:: \\Delta_{fk} = y_{fk} - y_{f0}, \\qquad
              \\text{meaningful}_{fk} = [d \\, \\Delta_{fk} \\ge \\delta - 10^{-9}]

    with :math:`d` the direction (1 or −1).
    """
    baseline = panel.loc[panel["wave"] == 0, ["family_id", "score", *carry]]
    later = panel.loc[panel["wave"] > 0]
    pairs = later.merge(baseline, on="family_id", how="inner", suffixes=("", "_t0"))
    change = pairs["score"].to_numpy() - pairs["score_t0"].to_numpy()
    frame = pd.DataFrame(
        {
            "family_id": pairs["family_id"].to_numpy(),
            "territory_id": pairs["territory_id"].to_numpy(),
            "wave": pairs["wave"].to_numpy(),
            "change": change,
            "meaningful": direction * change >= delta - TOLERANCE,
        }
    )
    for name in carry:
        frame[f"{name}_t0"] = pairs[f"{name}_t0"].to_numpy()
        frame[f"{name}_tk"] = pairs[name].to_numpy()
    return frame


def scope_cells(
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
        The expanded units (``cell``, ``cluster``, ``wave`` and the value columns) and the cells
        (``cell``, the scope labels and ``cluster_by``). The cluster is the territory, or the
        family at territory scope and in cells holding a single territory. Integer codes instead
        of string labels keep the per-cell groupby cheap at province scale.
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


def clustered_means(
    expanded: pd.DataFrame,
    cells: pd.DataFrame,
    value: str,
    *,
    confidence: float,
    bounds: tuple[float, float] | None = None,
) -> pd.DataFrame:
    """:func:`~proximite.indicators.base.clustered_mean` of ``value`` per scope cell and wave.

    Parameters
    ----------
    expanded, cells : DataFrame
        From :func:`scope_cells`.
    value : str
        The value column.
    confidence : float, keyword-only
    bounds : (float, float), optional, keyword-only
        The range of the quantity: the interval is cut to it (with two or three territories
        :math:`t_{G-1}` is wide enough to leave a 1–5 scale).

    Returns
    -------
    DataFrame
        The cells' labels, ``cluster_by``, ``wave``, ``value``, ``ci_low``, ``ci_high`` and ``n``
        (families), one row per cell and wave with values; empty when there is none.
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
    if bounds is None:
        return means
    return means.assign(ci_low=means["ci_low"].clip(lower=bounds[0]), ci_high=means["ci_high"].clip(upper=bounds[1]))


def shares(frame: pd.DataFrame, *, confidence: float) -> pd.DataFrame:
    """Add ``value``, ``ci_low``, ``ci_high`` and ``n`` to a frame of numerators and denominators (Wilson)."""
    k = frame["numerator"].to_numpy(dtype="float64")
    n = frame["denominator"].to_numpy(dtype="float64")
    low, high = wilson_interval(k, n, confidence=confidence)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = np.where(n > 0, k / n, np.nan)
    return frame.assign(value=value, ci_low=low, ci_high=high, n=n.astype("int64"), unit="share", method=_WILSON)


# ---------------------------------------------------------------------------- attrition weights
def attrition_weights(
    panel: pd.DataFrame, family: pd.DataFrame, territory: pd.DataFrame, *, waves: Sequence[int]
) -> pd.DataFrame:
    """Stabilised inverse-probability-of-observation weights of a score's panel, per family and wave.

    Parameters
    ----------
    panel : DataFrame
        From :func:`score_panel`.
    family, territory : DataFrame
        The harmonised tables (``isolated_at_contact``; ``environment``; not modified).
    waves : sequence of int, keyword-only
        The configured waves (T0 first).

    Returns
    -------
    DataFrame
        ``family_id`` (string), ``wave`` (Int64) and ``weight`` (float64): weight 1 at T0 for
        every family with a T0 score, and a weight at each later wave where the family is
        observed. Families without a T0 score have no row.

    Notes
    -----
    For each later wave :math:`k`, over the families with a T0 score, a logistic regression
    (statsmodels GLM, binomial, logit link) of :math:`R_{fk}` = [score observed at :math:`k`] on
    the T0 score, isolated at contact, the territory's environment (dummies) and
    :math:`R_{f,k-1}` (observed at the previous wave; left out at the first later wave, where
    every family is observed at T0) gives :math:`\\hat p_{fk}`; then

    .. math:: w_{fk} = \\frac{\\bar R_k}{\\hat p_{fk}} \\quad (R_{fk} = 1), \\qquad w_{f0} = 1

    with :math:`\\bar R_k` the share observed at :math:`k` (stabilised weights). A missing
    isolated-at-contact counts as not isolated; a wave where every family (or none) is observed
    gets weight 1.
    """
    base = panel.loc[panel["wave"] == 0, ["family_id", "territory_id", "score"]].reset_index(drop=True)
    if base.empty:
        return pd.DataFrame(
            {"family_id": pd.Series(dtype="string"), "wave": pd.Series(dtype="Int64"),
             "weight": pd.Series(dtype="float64")}
        )
    covariates = _attrition_covariates(base, family, territory)
    observed = {
        wave: base["family_id"].isin(panel.loc[panel["wave"] == wave, "family_id"]).to_numpy(dtype=bool)
        for wave in waves
    }
    pieces = [pd.DataFrame({"family_id": base["family_id"].to_numpy(), "wave": 0, "weight": 1.0})]
    for previous, wave in zip(waves[:-1], waves[1:]):
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


def _attrition_covariates(base: pd.DataFrame, family: pd.DataFrame, territory: pd.DataFrame) -> np.ndarray:
    """Constant, T0 score, isolated at contact and environment dummies of the families with a T0 score."""
    attributes = family[["family_id", "isolated_at_contact"]].drop_duplicates("family_id")
    base = base.merge(attributes, on="family_id", how="left")
    environment = territory[["territory_id", "environment"]].astype("string")
    base = base.merge(environment, on="territory_id", how="left")
    contact = base["isolated_at_contact"].astype("boolean").fillna(False).to_numpy(dtype="float64")
    dummies = pd.get_dummies(base["environment"].fillna("inconnu").astype(str), drop_first=True, dtype="float64")
    return np.column_stack([np.ones(len(base)), base["score"].to_numpy(dtype="float64"), contact, dummies.to_numpy()])


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
    inference: str = "cr1",
    seed: int = 0,
) -> list[dict[str, Any]]:
    """Wave effects of one cell: PanelOLS of the score on wave dummies with family effects.

    Parameters
    ----------
    sample : DataFrame
        The cell's observations of families with a T0 score: ``family_id``, ``territory_id``,
        ``wave``, ``score`` and, when ``weighted``, ``weight``.
    waves : sequence of int, keyword-only
        The configured waves (T0 first, the reference).
    cluster_by : {"territory", "family"}, keyword-only
    weighted : bool, keyword-only
        Pass ``weight`` to PanelOLS (inverse probability of being observed).
    confidence : float, keyword-only
    inference : {"cr1", "cr2", "wild"}, keyword-only
        The interval (:data:`~proximite.indicators.base.ADJUSTED_INFERENCE`): linearmodels' CR1
        with the residual df, CR2 with Bell–McCaffrey df, or the wild cluster bootstrap's
        percentile-t (Webb weights, 999 draws, ``seed``).
    seed : int, keyword-only
        Seed of the wild bootstrap.

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
    followed = int((np.bincount(entity) >= 2).sum())
    later = [k for k in waves[1:] if (wave == k).any()]
    if followed < MIN_PANEL_FAMILIES or not later:
        return []
    index = pd.MultiIndex.from_arrays([entity, wave], names=["family", "wave"])
    dependent = pd.Series(sample["score"].to_numpy(dtype="float64"), index=index, name="score")
    exog = pd.DataFrame({"const": 1.0} | {f"T{k}": (wave == k).astype("float64") for k in later}, index=index)
    weights = pd.Series(sample["weight"].to_numpy(dtype="float64"), index=index) if weighted else None
    model = PanelOLS(dependent, exog, entity_effects=True, weights=weights)
    if inference != "cr1":
        # The estimates only: CR2 or the bootstrap makes the interval, not linearmodels' covariance.
        result = model.fit(cov_type="unadjusted")
        bounds = _small_sample_bounds(exog.drop(columns="const"), dependent, weights, sample, entity, cluster_by=cluster_by,
                                      inference=inference, confidence=confidence, seed=seed)
    elif cluster_by == "family":
        result = model.fit(cov_type="clustered", cluster_entity=True, group_debias=True)
        bounds = result.conf_int(level=confidence)
    else:
        clusters = pd.DataFrame({"territory": pd.factorize(sample["territory_id"])[0]}, index=index)
        result = model.fit(cov_type="clustered", clusters=clusters, group_debias=True)
        bounds = result.conf_int(level=confidence)
    return [
        {
            "wave": k,
            "value": float(result.params[f"T{k}"]),
            "ci_low": float(bounds.loc[f"T{k}", "lower"]),
            "ci_high": float(bounds.loc[f"T{k}", "upper"]),
            "n": int(np.unique(entity[wave == k]).size),
        }
        for k in later
    ]


def _small_sample_bounds(
    design: pd.DataFrame, dependent: pd.Series, weights: pd.Series | None, sample: pd.DataFrame, entity: np.ndarray,
    *, cluster_by: str, inference: str, confidence: float, seed: int,
) -> pd.DataFrame:
    """``lower`` and ``upper`` per wave dummy: CR2 (Bell–McCaffrey) or the wild cluster bootstrap."""
    from proximite.cohort.models.small_sample import cr2, wild_cluster_bootstrap

    clusters = entity if cluster_by == "family" else sample["territory_id"].astype(str).to_numpy()
    arrays = {"dependent": dependent.to_numpy(), "design": design.to_numpy(), "clusters": clusters, "entities": entity,
              "weights": None if weights is None else weights.to_numpy()}
    if inference == "cr2":
        lower, upper = cr2(**arrays).intervals(confidence)
    else:
        # K counts the constant, as linearmodels' CR1 (the bootstrap's scale) does.
        fit = wild_cluster_bootstrap(**arrays, seed=seed, counted_terms=design.shape[1] + 1)
        lower, upper = fit.intervals(confidence)
    return pd.DataFrame({"lower": lower, "upper": upper}, index=design.columns)


def adjusted_sample(panel: pd.DataFrame, weights: pd.DataFrame) -> pd.DataFrame:
    """The families with a T0 score, their observations with their weights, integer family labels."""
    baseline = panel.loc[panel["wave"] == 0, "family_id"]
    sample = panel.loc[panel["family_id"].isin(baseline), ["family_id", "territory_id", "wave", "score"]]
    weight_of = weights.assign(wave=weights["wave"].astype("int64"), family_id=weights["family_id"].astype(object))
    sample = sample.merge(weight_of, on=["family_id", "wave"], how="left")
    # Integer family labels: each fit counts and groups families several times.
    sample["family_id"] = pd.factorize(sample["family_id"])[0]
    return sample


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


#: How each ``inference`` option's interval is described in the method column.
_INTERVALS: dict[str, str] = {
    "cr1": "SE clustered by {cluster_by}, t interval (residual df)",
    "cr2": "CR2 SE clustered by {cluster_by}, t interval (Bell–McCaffrey df)",
    "wild": "wild bootstrap by {cluster_by} (Webb weights, 999 draws), percentile-t interval",
}


def _adjusted_method(cluster_by: str, *, weighted: bool, inference: str = "cr1") -> str:
    interval = _INTERVALS[inference].format(cluster_by=cluster_by)
    if not weighted:
        return f"PanelOLS family effects, wave dummies vs T0, {interval}"
    return (
        "PanelOLS family effects weighted by stabilised inverse probability of being observed "
        f"(logit), wave dummies vs T0, {interval}"
    )


# ---------------------------------------------------------------------------- shared data
class ScoreData:
    """What the indicators of one score share, computed once on first use.

    Parameters
    ----------
    tables : mapping of str to DataFrame
        The harmonised tables; uses ``assessment``, ``family`` and ``territory`` (not modified).
    spec : ScoreSpec
    parameters : IndicatorParameters, keyword-only

    Attributes
    ----------
    panel : DataFrame
        :func:`score_panel`.
    levels : (DataFrame, DataFrame)
        The panel repeated per scope cell, and the cells (:func:`scope_cells`).
    pairs : DataFrame
        :func:`paired_scores`.
    paired : (DataFrame, DataFrame)
        The pairs repeated per scope cell, and the cells.
    pair_counts : DataFrame
        Per cell and later wave: ``pairs`` and ``meaningful`` counts.
    adjusted_sample : DataFrame
        The observations of families with a T0 score, with their attrition weights.
    """

    def __init__(self, tables: Mapping[str, pd.DataFrame], spec: ScoreSpec, *, parameters: IndicatorParameters) -> None:
        self.tables = tables
        self.spec = spec
        self.parameters = parameters

    def expand(self, units: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
        """:func:`scope_cells` of ``units`` at the parameters' strata and scopes."""
        parameters = self.parameters
        return scope_cells(units, self.tables["territory"], strata=parameters.strata, scopes=parameters.scopes)

    def weights(self) -> pd.DataFrame:
        """:func:`attrition_weights` of the panel (a subclass may compute them its own way)."""
        return attrition_weights(self.panel, self.tables["family"], self.tables["territory"],
                                 waves=self.parameters.waves)

    def fit(self, sample: pd.DataFrame, **options: Any) -> list[dict[str, Any]]:
        """:func:`adjusted_effects` of one cell (a subclass may route it through its own module)."""
        return adjusted_effects(sample, **options)

    @cached_property
    def panel(self) -> pd.DataFrame:
        return score_panel(self.tables["assessment"], self.tables["family"], column=self.spec.column,
                           waves=self.parameters.waves)

    @cached_property
    def levels(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        return self.expand(self.panel)

    @cached_property
    def pairs(self) -> pd.DataFrame:
        return paired_scores(self.panel, direction=self.spec.direction, delta=self.spec.delta)

    @cached_property
    def paired(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        return self.expand(self.pairs)

    @cached_property
    def pair_counts(self) -> pd.DataFrame:
        paired, cells = self.paired
        flags = paired[["cell", "wave", "meaningful"]].assign(pairs=1)
        return cells.merge(flags.groupby(["cell", "wave"], sort=True).sum().reset_index(), on="cell")

    @cached_property
    def adjusted_sample(self) -> pd.DataFrame:
        return adjusted_sample(self.panel, self.weights())


# ---------------------------------------------------------------------------- the indicators
def mean_by_wave(data: ScoreData) -> pd.DataFrame:
    """The ``mean`` indicator of ``data.spec``: the mean score per scope cell and wave.

    Returns
    -------
    DataFrame
        Indicator rows (:data:`~proximite.indicators.base.INDICATOR_COLUMNS`), unit ``mean``.

    Notes
    -----
    .. math:: \\bar y_{\\cdot w} = \\frac{1}{|F_w|} \\sum_{f \\in F_w} y_{fw}

    over the families observed at wave :math:`w`, with
    :func:`~proximite.indicators.base.clustered_mean` (SE clustered by territory, by family at
    territory scope, t interval with G − 1 df), the interval cut to the score's range.
    """
    if data.panel.empty:
        return empty_indicator_frame()
    levels, cells = data.levels
    low, high = data.spec.bounds
    means = clustered_means(levels, cells, "score", confidence=data.parameters.confidence)
    # With two or three territories t(G-1) is wide enough to leave the score's range.
    means = means.assign(ci_low=means["ci_low"].clip(lower=low), ci_high=means["ci_high"].clip(upper=high))
    return indicator_frame(
        means.assign(
            indicator=data.spec.ids["mean"], unit="mean",
            method="mean, SE clustered by " + means["cluster_by"] + ", t interval (G-1 df)",
        )
    )


def change_from_baseline(data: ScoreData) -> pd.DataFrame:
    """The ``change`` indicator of ``data.spec``: mean within-family change of the score from T0 to Tk.

    Returns
    -------
    DataFrame
        Indicator rows, unit ``points``, waves after T0 only.

    Notes
    -----
    .. math:: \\text{change}_k = \\frac{1}{|P_k|}\\sum_{f \\in P_k} (y_{fk} - y_{f0})

    over :math:`P_k` the families observed at T0 and Tk, SE clustered as in :func:`mean_by_wave`,
    the interval cut to ± the width of the score's range.
    """
    if data.panel.empty or data.pairs.empty:
        return empty_indicator_frame()
    paired, cells = data.paired
    width = data.spec.bounds[1] - data.spec.bounds[0]
    changes = clustered_means(paired, cells, "change", confidence=data.parameters.confidence)
    changes = changes.assign(ci_low=changes["ci_low"].clip(lower=-width), ci_high=changes["ci_high"].clip(upper=width))
    return indicator_frame(
        changes.assign(
            indicator=data.spec.ids["change"], unit="points",
            method="mean of within-family changes T0 to Tk, SE clustered by " + changes["cluster_by"]
            + ", t interval (G-1 df)",
        )
    )


def meaningful_change(data: ScoreData) -> pd.DataFrame:
    """The ``meaningful`` indicator of ``data.spec``: share of paired families whose score moved by ≥ δ the good way.

    Returns
    -------
    DataFrame
        Indicator rows, unit ``share``, waves after T0 only.

    Notes
    -----
    .. math:: \\text{meaningful}_k = \\frac{|\\{f \\in P_k : d\\,(y_{fk} - y_{f0}) \\ge \\delta\\}|}{|P_k|}

    with :math:`d` = ``spec.direction`` and δ = ``spec.delta``; Wilson interval.
    """
    if data.panel.empty or data.pairs.empty:
        return empty_indicator_frame()
    counts = data.pair_counts
    labels = counts[SCOPE_KEYS + ["wave"]]
    return indicator_frame(
        shares(labels.assign(numerator=counts["meaningful"], denominator=counts["pairs"]),
               confidence=data.parameters.confidence).assign(indicator=data.spec.ids["meaningful"])
    )


def adjusted_effect(data: ScoreData, *, weighted: bool) -> pd.DataFrame:
    """The ``adjusted`` (or ``adjusted_ipw``) indicator of ``data.spec``: PanelOLS wave effects vs T0.

    Returns
    -------
    DataFrame
        Indicator rows, unit ``points``, waves after T0 only.

    Notes
    -----
    :func:`adjusted_effects` (weighted by :func:`attrition_weights` when ``weighted``) at the
    Québec scope and its strata and in each region (not per region × stratum), in cells where at
    least :data:`MIN_PANEL_FAMILIES` families are observed at two waves or more; at territory
    scope only when ``parameters.extra[spec.territory_fits]`` is true. Families without a T0
    score are left out.
    """
    parameters = data.parameters
    # The fits are the family's main cost: none for a scope level that has no adjusted effects.
    scopes = [
        scope for scope in parameters.scopes
        if scope != "territory" or parameters.extra.get(data.spec.territory_fits, False)
    ]
    if not scopes or data.panel.empty:
        return empty_indicator_frame()
    indicator = data.spec.ids["adjusted_ipw" if weighted else "adjusted"]
    rows = []
    cells = _adjusted_cells(data.adjusted_sample, data.tables["territory"], strata=parameters.strata, scopes=scopes)
    for labels, cell in cells:
        cluster_by = "family" if labels["scope"] == "territory" or cell["territory_id"].nunique() < 2 else "territory"
        method = _adjusted_method(cluster_by, weighted=weighted, inference=parameters.adjusted_inference)
        for row in data.fit(cell, waves=parameters.waves, cluster_by=cluster_by, weighted=weighted,
                            confidence=parameters.confidence, inference=parameters.adjusted_inference,
                            seed=parameters.bootstrap_seed):
            rows.append(labels | row | {"indicator": indicator, "unit": "points", "method": method})
    return indicator_frame(pd.DataFrame(rows))


def compute(data: ScoreData) -> list[pd.DataFrame]:
    """The five indicators of ``data.spec`` in :data:`KINDS` order (empty frames left out)."""
    frames = [
        mean_by_wave(data), change_from_baseline(data), meaningful_change(data),
        adjusted_effect(data, weighted=False), adjusted_effect(data, weighted=True),
    ]
    return [frame for frame in frames if len(frame)]
