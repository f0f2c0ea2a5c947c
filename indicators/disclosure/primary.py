"""The primary rule: which cells hold a small count of people, and the refusal of non-aggregate tables."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from proximite.indicators.base import SCOPES

__all__ = ["COMPLEMENT", "DEN", "N", "NUM", "CellQuantities", "cell_quantities", "check_aggregate", "primary_cells"]

# The quantities a cell may carry, as rows of a (3, cells) array.
NUM, DEN, N = 0, 1, 2
#: Denominator − numerator of a share, in leak reports.
COMPLEMENT = 3

# A label that looks like a pseudonymous id (HMAC hex digest, 16 characters by default): such a
# value has no business in an aggregate table.
_PSEUDONYM = re.compile(r"^[0-9a-fA-F]{12,}$")
_LABEL_COLUMNS = (
    "scope", "scope_id", "stratum", "stratum_value", "period", "breakdown", "breakdown_value", "indicator",
)


def check_aggregate(frame: pd.DataFrame) -> None:
    """Refuse a table that holds anything but aggregates (DESIGN rule 8: no row-level data).

    Raises
    ------
    ValueError
        A scope outside :data:`~proximite.indicators.base.SCOPES`, or a label that looks like a
        pseudonymous id.
    """
    scopes = set(frame["scope"].dropna().astype(str))
    if scopes - set(SCOPES):
        raise ValueError(
            f"rows of scope(s) {sorted(scopes - set(SCOPES))} are not aggregates; allowed: {', '.join(SCOPES)}"
        )
    for column in _LABEL_COLUMNS:
        values = pd.unique(frame[column].dropna().astype(str))
        if any(_PSEUDONYM.match(value) for value in values):
            raise ValueError(f"column {column} holds a value that looks like a pseudonymous id: not an aggregate table")


@dataclass(frozen=True)
class CellQuantities:
    """The quantities of the people rows of a table.

    Attributes
    ----------
    q : ndarray, shape (3, cells)
        Numerator (a count's value when its numerator is missing), denominator, n.
    main_q : ndarray of int
        The quantity that must stay hidden in a suppressed cell (:data:`NUM` for counts and
        shares, :data:`N` otherwise); ``main`` is its value.
    share : ndarray of bool
    complement : ndarray of float
        A share's denominator − numerator (missing for other units).
    """

    q: np.ndarray
    main_q: np.ndarray
    main: np.ndarray
    count: np.ndarray
    share: np.ndarray
    complement: np.ndarray


def cell_quantities(frame: pd.DataFrame, unit: np.ndarray) -> CellQuantities:
    """The :class:`CellQuantities` of indicator rows of the given units."""
    numerator = frame["numerator"].to_numpy(dtype="float64", na_value=np.nan)
    denominator = frame["denominator"].to_numpy(dtype="float64", na_value=np.nan)
    value = frame["value"].to_numpy(dtype="float64", na_value=np.nan)
    n = frame["n"].to_numpy(dtype="float64", na_value=np.nan)
    count = unit == "count"
    share = unit == "share"
    # A count's count is its numerator (its value when the numerator is missing).
    numerator = np.where(count & np.isnan(numerator), value, numerator)
    q = np.vstack([numerator, denominator, n])
    main_q = np.where(count | share, NUM, N)
    return CellQuantities(
        q=q,
        main_q=main_q,
        main=q[main_q, np.arange(len(frame))],
        count=count,
        share=share,
        complement=np.where(share, denominator - numerator, np.nan),
    )


def primary_cells(quantities: CellQuantities, *, threshold: int) -> np.ndarray:
    """Which cells the primary rule hides (bool per cell).

    Notes
    -----
    With :math:`t` the threshold: a count when :math:`0 < c < t`; a share (numerator :math:`k`,
    denominator :math:`m`) when :math:`0 < k < t`, :math:`0 < m - k < t` or :math:`0 < m < t`;
    any unit when :math:`0 < n < t`.
    """
    q, count, share, complement = quantities.q, quantities.count, quantities.share, quantities.complement
    small = (q > 0) & (q < threshold)
    primary = small[N].copy()
    primary |= (count | share) & small[NUM]
    primary |= share & (small[DEN] | ((complement > 0) & (complement < threshold)))
    return primary
