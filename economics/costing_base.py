"""Shared by the costing modules: the error, the codebook's cost vocabulary, and reading the tables.

The cost categories, supervision kinds and line components are the codebook's (``cost_category``,
``supervision_kind``); :func:`require_table`, :func:`as_numbers`, :func:`quarter_label` and
:func:`period_year` read the harmonised tables the same way in every costing step.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from proximite.errors import ProximiteError

__all__ = [
    "BUDGET_ONLY_CATEGORIES",
    "COMPONENTS",
    "COST_CATEGORIES",
    "SUPERVISION_KINDS",
    "CostingError",
    "as_numbers",
    "period_year",
    "quarter_label",
    "require_table",
]

#: The codebook's cost categories (``cost_category``), in order.
COST_CATEGORIES: tuple[str, ...] = (
    "salaire_ptp", "supervision", "mobilite", "soutien_concret", "formation", "coordination", "autre",
)
#: Categories the registry cannot cost: reported from the budget only.
BUDGET_ONLY_CATEGORIES: tuple[str, ...] = ("soutien_concret", "coordination", "autre")
#: The codebook's supervision kinds (``supervision_kind``).
SUPERVISION_KINDS: tuple[str, ...] = ("clinique", "organisationnelle", "codeveloppement", "formation", "communaute_pratique")
#: Components of the activity-based cost.
COMPONENTS: tuple[str, ...] = ("ptp_activity", "ptp_travel", "travel_km", "ptp_session", "supervisor_session", "session_fee")


class CostingError(ProximiteError, ValueError):
    """Costing cannot proceed: a bad parameter file, a missing table or column, a year without CPI."""


def quarter_label(dates: pd.Series) -> pd.Series:
    """The calendar quarter of each date as the cost table labels it (``2024-T1``).

    Notes
    -----
    :math:`\\text{label} = \\text{year} \\,\\text{-T}\\, \\lceil \\text{month} / 3 \\rceil`.
    """
    values = pd.to_datetime(dates)
    labels = values.dt.year.astype("Int64").astype("string") + "-T" + values.dt.quarter.astype("Int64").astype("string")
    return labels.astype("string")


def period_year(period: pd.Series) -> np.ndarray:
    """The year of each cost-table period label (``2024-T1`` → 2024).

    Raises
    ------
    CostingError
        A period that does not start with its year.
    """
    years = pd.to_numeric(period.astype("string").str.slice(0, 4), errors="coerce")
    if years.isna().any():
        raise CostingError("cost table column 'period': every period must start with its year (AAAA-Tn)")
    return years.to_numpy(dtype="int64")


def require_table(tables: Mapping[str, pd.DataFrame], name: str, columns: Sequence[str]) -> pd.DataFrame:
    """The table ``name`` of ``tables``, checked to have ``columns``.

    Raises
    ------
    CostingError
        The table or one of the columns is missing (the message names them).
    """
    if name not in tables:
        raise CostingError(f"costing needs the {name!r} table; the tables given are {', '.join(sorted(tables))}")
    frame = tables[name]
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise CostingError(f"table {name!r}: column(s) {', '.join(missing)} missing")
    return frame


def as_numbers(series: pd.Series) -> np.ndarray:
    """``series`` as float64 values; what is not a number becomes NaN."""
    return pd.to_numeric(series, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
