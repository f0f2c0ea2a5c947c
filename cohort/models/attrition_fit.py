"""The fit behind the attrition model: risk sets, the two logits and the stabilised weights.

:func:`fit_attrition` does the work of :class:`~proximite.cohort.models.attrition.Attrition` and
:func:`~proximite.cohort.models.attrition.attrition_weights`; :func:`fit_logit` is the binomial
GLM both it and :func:`proximite.indicators.isolation.attrition_weights` use.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from proximite.cohort.models.base import ModelError

__all__ = ["AttritionFit", "fit_attrition", "fit_logit", "PROBABILITY_FLOOR"]

#: Floor of a fitted probability in a weight's denominator (a near-zero one would dominate).
PROBABILITY_FLOOR = 1e-6


def fit_logit(outcome: Any, design: Any, *, quiet: bool = True) -> Any:
    """Fit a binomial GLM with a logit link (statsmodels) and return its results.

    Parameters
    ----------
    outcome : array-like of 0/1
    design : array-like or DataFrame
        The design matrix, intercept included (column names become the parameter names).
    quiet : bool, keyword-only
        Silence statsmodels' warnings (perfect separation still gives usable fitted values).

    Notes
    -----
    :math:`\\operatorname{logit} P(Y_i = 1) = x_i^\\top \\beta`, fitted by IRLS (``sm.GLM``,
    ``families.Binomial()``), model-based covariance.
    """
    import statsmodels.api as sm  # imported here: a second of import for one model

    with warnings.catch_warnings(), np.errstate(over="ignore", under="ignore"):
        if quiet:
            warnings.simplefilter("ignore")
        return sm.GLM(outcome, design, family=sm.families.Binomial()).fit()


# ---------------------------------------------------------------------------- the fit
@dataclass
class AttritionFit:
    """Everything one fit computes; the weights stay here, never in exported results."""

    risk: pd.DataFrame  # one row per family and later wave at risk (family, wave, followed, covariates)
    denominator: Any
    numerator: Any
    denominator_terms: list[str]
    weights: pd.Series
    waves: list[int]
    families_without_baseline: int
    intermittent_missing: int
    not_yet_due: int = 0  # family-waves of families with a baseline whose window was still open
    due_at_wave: dict[int, int] | None = None  # families with a baseline that were due, per wave
    due_table: pd.DataFrame | None = None  # family x wave: due by the data's horizon (reports only)


def _numeric(series: pd.Series) -> pd.Series:
    """Nullable numbers and booleans as float64 with NaN (what patsy and numpy read)."""
    if pd.api.types.is_bool_dtype(series.dtype) or pd.api.types.is_numeric_dtype(series.dtype):
        return pd.Series(series.astype("Float64").to_numpy(dtype="float64", na_value=np.nan), index=series.index)
    return series.astype(object).where(series.notna(), None)


def _check_columns(data: pd.DataFrame, columns: Sequence[str], *, kind: str) -> None:
    if not isinstance(data.index, pd.MultiIndex) or list(data.index.names)[:2] != ["family_id", "wave"]:
        raise ModelError(f"{kind}: the data must be the long panel indexed by (family_id, wave)")
    missing = [name for name in columns if name not in data.columns]
    if missing:
        raise ModelError(f"{kind}: column(s) {', '.join(missing)} not in the panel (columns of proximite.cohort.panel())")


def fit_attrition(
    data: pd.DataFrame,
    *,
    outcome: str,
    covariates: Sequence[str],
    previous: bool,
    numerator: Sequence[str],
    kind: str = "attrition",
    require_dropout: bool = True,
    due: pd.DataFrame | Mapping[Any, Sequence[str]] | None = None,
) -> AttritionFit:
    """Fit the dropout model and the stabilised weights on the long panel ``data`` (not modified).

    Parameters
    ----------
    data : DataFrame
        The long panel indexed by ``(family_id, wave)``.
    outcome, covariates, previous, numerator, due : keyword-only
        As in :func:`proximite.cohort.models.attrition.attrition_weights`.
    kind : str, keyword-only
        The model's name in error messages.
    require_dropout : bool, keyword-only
        Raise :class:`~proximite.cohort.models.base.ModelError` when no family at risk drops out
        (the model needs one); otherwise every weight is then 1.

    Returns
    -------
    AttritionFit
        The risk set, both logits, the weights on ``data.index`` and the counts of the reports.

    Notes
    -----
    The model and the weights are those of
    :func:`~proximite.cohort.models.attrition.attrition_weights`.
    """
    frame, waves = _long_frame(data, outcome=outcome, covariates=covariates, numerator=numerator, kind=kind)
    families, observed, value = _family_tables(frame, covariates=covariates, waves=waves)
    with_baseline = observed[waves[0]].to_numpy()
    # In follow-up at wave k: observed at k or at a later wave (a missed wave between two answered
    # ones is an intermittent miss, taken as missing at random, not as dropout).
    seen = observed.to_numpy()
    followed = np.flip(np.logical_or.accumulate(np.flip(seen, axis=1), axis=1), axis=1)
    is_due = _due_matrix(due, families=families.index, waves=waves, followed=followed)
    terms = [*covariates, *([f"previous_{outcome}"] if previous else [])]
    risk = _risk_set(
        families, followed=followed, is_due=is_due & with_baseline[:, None], waves=waves,
        last_value=value.ffill(axis=1).to_numpy() if previous else None, outcome=outcome, terms=terms,
    )
    dropout_seen = not risk.empty and risk["followed"].nunique() == 2
    if require_dropout and not dropout_seen:
        raise ModelError(
            f"{kind}: no dropout to model (every family at risk is followed at every wave, or none is); "
            "the rule is at least one family staying and one leaving among families with a baseline "
            f"{outcome} and complete covariates"
        )
    later = [str(wave) for wave in waves[1:]]
    design = _design(risk, terms, later)
    denominator = numerator_fit = None
    ratio = np.ones(len(risk))
    if dropout_seen:
        denominator, numerator_fit, ratio = _weight_ratios(risk, design, _design(risk, list(numerator), later))
    return AttritionFit(
        risk=risk,
        denominator=denominator,
        numerator=numerator_fit,
        denominator_terms=list(design.columns),
        weights=_cumulative_weights(risk, ratio, index=data.index, waves=waves),
        waves=waves,
        families_without_baseline=int((~with_baseline).sum()),
        intermittent_missing=int((followed & ~seen)[with_baseline].sum()),
        not_yet_due=int((~is_due[:, 1:])[with_baseline].sum()) if len(waves) > 1 else 0,
        due_at_wave={int(wave): int(is_due[with_baseline, position].sum()) for position, wave in enumerate(waves)},
        due_table=pd.DataFrame(is_due, index=families.index, columns=waves),
    )


def _long_frame(
    data: pd.DataFrame, *, outcome: str, covariates: Sequence[str], numerator: Sequence[str], kind: str
) -> tuple[pd.DataFrame, list[int]]:
    """The panel as a flat frame with ``_observed`` and ``_value`` of the outcome; its sorted waves."""
    _check_columns(data, [outcome, *covariates, *numerator], kind=kind)
    unknown = [name for name in numerator if name not in covariates]
    if unknown:
        raise ModelError(
            f"{kind}: numerator covariate(s) {', '.join(unknown)} must also be in covariates "
            "(stabilised weights condition the numerator on a subset of the denominator's covariates)"
        )
    frame = data.reset_index()
    frame["wave"] = frame["wave"].astype("int64")
    waves = sorted(int(wave) for wave in frame["wave"].unique())
    if len(waves) < 2:
        raise ModelError(f"{kind}: the panel has {len(waves)} wave(s); attrition needs a baseline and a later wave")
    values = _numeric(frame[outcome])
    frame["_observed"] = values.notna().to_numpy()
    frame["_value"] = values.to_numpy()
    return frame, waves


def _family_tables(
    frame: pd.DataFrame, *, covariates: Sequence[str], waves: list[int]
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Per family: its covariates; family x wave: outcome observed, and its value."""
    # Covariates are family-level, read on the family's first row (the baseline's when it has one).
    first_rows = frame.sort_values(["family_id", "wave"]).drop_duplicates("family_id").set_index("family_id")
    families = pd.DataFrame({name: _numeric(first_rows[name]) for name in covariates}, index=first_rows.index)
    observed = frame.pivot_table(index="family_id", columns="wave", values="_observed", aggfunc="any")
    observed = observed.reindex(index=families.index, columns=waves).astype("boolean").fillna(False).astype(bool)
    value = frame.pivot_table(index="family_id", columns="wave", values="_value", aggfunc="first", dropna=False)
    return families, observed, value.reindex(index=families.index, columns=waves)


def _due_matrix(
    due: pd.DataFrame | Mapping[Any, Sequence[str]] | None, *, families: pd.Index, waves: list[int], followed: np.ndarray
) -> np.ndarray:
    """Family x wave booleans: the wave was due by the data's horizon.

    A wave not due yet (its window still open at the data's horizon) says nothing about
    dropout: the family leaves the risk set there rather than counting as lost. A family
    followed at a wave was due there, whatever the table says.
    """
    if isinstance(due, Mapping):
        due = _due_from_not_due(due, families=families, waves=waves)
    if due is None:
        return np.ones_like(followed) | followed
    due_table = due.copy()
    due_table.columns = [int(column) for column in due_table.columns]
    is_due = due_table.reindex(index=families, columns=waves).astype("boolean").fillna(True).to_numpy(dtype=bool)
    return is_due | followed


def _risk_set(
    families: pd.DataFrame,
    *,
    followed: np.ndarray,
    is_due: np.ndarray,
    waves: list[int],
    last_value: np.ndarray | None,
    outcome: str,
    terms: Sequence[str],
) -> pd.DataFrame:
    """One row per family and later wave at risk (followed at the previous wave, due), complete terms."""
    pieces = []
    for position, wave in enumerate(waves[1:], start=1):
        at_risk = followed[:, position - 1] & is_due[:, position]
        piece = families.loc[at_risk].copy()
        piece["wave"] = wave
        piece["followed"] = followed[at_risk, position].astype("float64")
        if last_value is not None:
            piece[f"previous_{outcome}"] = last_value[at_risk, position - 1]
        pieces.append(piece)
    risk = pd.concat(pieces).reset_index()
    complete = risk[list(terms)].notna().all(axis=1) if terms else pd.Series(True, index=risk.index)
    return risk.loc[complete].reset_index(drop=True)


def _weight_ratios(risk: pd.DataFrame, design: pd.DataFrame, numerator_design: pd.DataFrame) -> tuple[Any, Any, np.ndarray]:
    """Both logits of staying, and each at-risk row's factor P(numerator) / P(denominator)."""
    present = risk.groupby("wave")["followed"].agg(["min", "max"])
    constant_waves = [int(w) for w, row in present.iterrows() if row["min"] == row["max"]]
    denominator = fit_logit(risk["followed"].to_numpy(), design)
    numerator = fit_logit(risk["followed"].to_numpy(), numerator_design)
    p_denominator = np.clip(np.asarray(denominator.fittedvalues, dtype="float64"), PROBABILITY_FLOOR, 1.0)
    p_numerator = np.clip(np.asarray(numerator.fittedvalues, dtype="float64"), PROBABILITY_FLOOR, 1.0)
    # A wave where everyone at risk stays (or leaves) needs no correction: factor 1.
    return denominator, numerator, np.where(risk["wave"].isin(constant_waves), 1.0, p_numerator / p_denominator)


def _cumulative_weights(risk: pd.DataFrame, ratio: np.ndarray, *, index: pd.MultiIndex, waves: list[int]) -> pd.Series:
    """Each family's product of factors up to the wave, on ``index`` (the panel's)."""
    baseline = waves[0]
    factors = (
        risk.assign(_ratio=ratio)
        .loc[risk["followed"] == 1]
        .pivot_table(index="family_id", columns="wave", values="_ratio")
        .reindex(columns=waves[1:])
    )
    cumulative = factors.cumprod(axis=1, skipna=False)
    cumulative.insert(0, baseline, 1.0)
    cumulative = cumulative.reindex(index=pd.Index(risk["family_id"].unique(), name="family_id"))
    cumulative[baseline] = 1.0
    family_of = index.get_level_values("family_id")
    wave_of = index.get_level_values("wave").astype("int64")
    keys = pd.MultiIndex.from_arrays([family_of, wave_of])
    lookup = cumulative.stack(future_stack=True)
    weights = pd.Series(lookup.reindex(keys).to_numpy(dtype="float64"), index=index, name="attrition_weight")
    # Every baseline row weighs 1 (nothing has been lost yet), modelled family or not.
    weights[np.asarray(wave_of == baseline)] = 1.0
    return weights

def _due_from_not_due(not_due: Mapping[Any, Sequence[str]], *, families: pd.Index, waves: Sequence[int]) -> pd.DataFrame:
    """The family x wave table of waves due, from the ids of the families not due at each wave."""
    table = pd.DataFrame(True, index=families, columns=list(waves))
    for wave, ids in not_due.items():
        if int(wave) in table.columns:
            table.loc[table.index.isin(list(ids)), int(wave)] = False
    return table


def _design(risk: pd.DataFrame, terms: Sequence[str], later: Sequence[str]) -> pd.DataFrame:
    """One intercept per later wave (``wave[6]``...) then the covariates as they are named."""
    columns = {f"wave[{wave}]": (risk["wave"].astype(str) == wave).astype("float64") for wave in later}
    for name in terms:
        column = risk[name]
        if column.dtype == object:
            # A categorical covariate: one dummy per level but the first (sorted).
            levels = sorted(str(level) for level in column.dropna().unique())
            for level in levels[1:]:
                columns[f"{name}[{level}]"] = (column.astype(str) == level).astype("float64")
        else:
            columns[name] = column.astype("float64")
    return pd.DataFrame(columns, index=risk.index)
