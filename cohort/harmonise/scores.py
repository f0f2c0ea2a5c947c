"""The isolation grid's rules: checked boxes counted, the non-recours score, the index, the flag, item means."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from proximite.cohort.harmonise.columns import cast_column
from proximite.cohort.harmonise.rules import NONE_CODES, THRESHOLD_TOLERANCE
from proximite.errors import HarmoniseError

__all__ = [
    "count_checked",
    "dimensions_answered",
    "isolated_flag",
    "isolation_index",
    "item_mean",
    "non_recours_score",
]


def count_checked(boxes: pd.DataFrame, *, none_codes: Sequence[str] = NONE_CODES, field: str = "") -> pd.Series:
    """Count the ticked boxes of a checkbox question, "none of these" excluded.

    Parameters
    ----------
    boxes : DataFrame
        The question's expanded columns ``<field>___<code>`` (boolean; null = not collected).
    none_codes : sequence of str, keyword-only
        Codes that mean "none of these" (``aucune``): an answer worth 0.
    field : str, keyword-only
        The field name, to recognise ``<field>___<code>`` columns.

    Returns
    -------
    Series
        dtype ``Int64``; missing when no box at all is ticked (the question was not answered).

    Notes
    -----
    .. math:: n = \\sum_{c \\notin \\text{none}} \\mathbb{1}[\\text{box}_c], \\quad
              \\text{missing if } \\sum_{c} \\mathbb{1}[\\text{box}_c] = 0
    """
    prefix = f"{field}___" if field else ""
    ticked = boxes.astype("boolean").fillna(False).astype(bool)
    none_columns = [column for column in boxes.columns if str(column).removeprefix(prefix) in set(none_codes)]
    counted = ticked.drop(columns=none_columns).sum(axis=1).astype("int64")
    any_ticked = ticked.any(axis=1)
    return pd.Series(counted, index=boxes.index, dtype="Int64").where(any_ticked, pd.NA)


def non_recours_score(resources: pd.Series, *, bands: Sequence[Sequence[int]], above: int) -> pd.Series:
    """Score the ``non_recours`` dimension from the number of resources used.

    Parameters
    ----------
    resources : Series
        Resources used in the last 3 months (integer, missing allowed).
    bands : sequence of (upper, score), keyword-only
        Ascending upper bounds (inclusive) and their score; the default ``[[0, 3], [1, 2], [3, 1]]``.
    above : int, keyword-only
        Score above the last bound (default 0).

    Returns
    -------
    Series
        dtype ``Int64``; missing where ``resources`` is.

    Notes
    -----
    With bounds :math:`u_1 < u_2 < \\dots < u_k` and scores :math:`s_1, \\dots, s_k`,

    .. math:: \\text{non\\_recours}(r) = s_j \\text{ for the first } j \\text{ with } r \\le u_j,
              \\quad a \\text{ (above) when } r > u_k

    so by default 0 → 3, 1 → 2, 2–3 → 1, ≥ 4 → 0.
    """
    uppers = np.array([int(upper) for upper, _ in bands], dtype="int64")
    scores = np.array([int(score) for _, score in bands] + [int(above)], dtype="int64")
    if len(uppers) and np.any(np.diff(uppers) <= 0):
        raise HarmoniseError("[isolation] non_recours_bands: upper bounds must be strictly increasing")
    numbers = pd.to_numeric(resources).astype("Float64")
    present = numbers.notna().to_numpy()
    values = numbers.to_numpy(dtype="float64", na_value=0.0)
    band = np.searchsorted(uppers, values, side="left")  # first band whose bound is >= r
    return pd.Series(scores[band], index=resources.index, dtype="Int64").where(present, pd.NA)


def dimensions_answered(dimensions: pd.DataFrame) -> pd.Series:
    """Number of answered (non-missing) dimensions on each row, as ``Int64``."""
    return dimensions.notna().sum(axis=1).astype("Int64")


def isolation_index(
    dimensions: pd.DataFrame,
    *,
    weights: Mapping[str, float],
    max_score: float = 3,
    min_answered: int = 4,
) -> pd.Series:
    """Isolation index, 0 to 100, from the dimension scores.

    Parameters
    ----------
    dimensions : DataFrame
        One column per dimension, scores 0 to ``max_score``, missing when not answered.
    weights : mapping, keyword-only
        Weight of each column.
    max_score : float, keyword-only
        Highest score of a dimension.
    min_answered : int, keyword-only
        The index is missing when fewer dimensions are answered.

    Returns
    -------
    Series
        dtype ``Float64``.

    Notes
    -----
    With :math:`A` the answered dimensions of a row, :math:`x_d` their scores, :math:`w_d` their
    weights and :math:`M` the maximum score,

    .. math:: \\text{index} = 100 \\times \\frac{\\sum_{d \\in A} w_d\\, x_d}{M \\sum_{d \\in A} w_d}
              \\quad \\text{if } |A| \\ge \\text{min\\_answered}, \\text{ else missing.}

    With equal weights this is 100 × (mean of the answered dimensions) / 3.
    """
    names = list(dimensions.columns)
    missing = [name for name in names if name not in weights]
    if missing:
        raise HarmoniseError(f"[isolation] weights: no weight for {', '.join(missing)}")
    scores = dimensions.astype("Float64").to_numpy(dtype="float64", na_value=np.nan)
    answered = ~np.isnan(scores)
    weight = np.array([float(weights[name]) for name in names], dtype="float64")
    numerator = np.where(answered, scores, 0.0) @ weight
    denominator = answered.astype("float64") @ weight
    enough = (answered.sum(axis=1) >= int(min_answered)) & (denominator > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        index = 100.0 * numerator / (float(max_score) * denominator)
    return pd.Series(np.where(enough, index, np.nan), index=dimensions.index, name="isolation_index").astype("Float64")


def isolated_flag(index: pd.Series, *, threshold: float = 50) -> pd.Series:
    """Isolated at a wave: the index is at or above the threshold.

    Returns
    -------
    Series
        dtype ``boolean``, missing where the index is.

    Notes
    -----
    .. math:: \\text{isolated} = [\\text{index} \\ge \\text{threshold} - 10^{-9}]

    The tolerance keeps an index that is the threshold in exact arithmetic on the right side.
    """
    values = index.astype("Float64")
    return (values >= float(threshold) - THRESHOLD_TOLERANCE).astype("boolean")


def item_mean(items: pd.DataFrame) -> pd.Series:
    """Mean of the answered items of a scale (empowerment, parental stress).

    Returns
    -------
    Series
        dtype ``Float64``; missing when no item is answered.

    Notes
    -----
    .. math:: \\bar{x} = \\frac{1}{|A|} \\sum_{i \\in A} x_i, \\quad A = \\text{answered items}
    """
    numeric = items.apply(lambda column: cast_column(column, "float", name=str(column.name)))
    values = numeric.to_numpy(dtype="float64", na_value=np.nan)
    answered = ~np.isnan(values)
    count = answered.sum(axis=1)
    total = np.where(answered, values, 0.0).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    return pd.Series(mean, index=items.index).astype("Float64")
