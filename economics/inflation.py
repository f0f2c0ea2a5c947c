"""Price years: the CPI table (Statistics Canada) and :func:`inflate`, which moves amounts between
the dollars of two years.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from proximite.economics.costing_base import CostingError

__all__ = ["DEFAULT_CPI_PATH", "inflate", "load_cpi"]

#: The shipped CPI table (Statistics Canada 18-10-0005-01, annual averages, Canada).
DEFAULT_CPI_PATH: Path = Path(__file__).parent / "data" / "cpi_canada.csv"


def load_cpi(path: str | Path | None = None) -> pd.Series:
    """Read a CPI table (``year,cpi`` CSV; ``#`` lines are comments); default the shipped one.

    Returns
    -------
    Series
        CPI by year (index ``year``, int), float values.

    Raises
    ------
    CostingError
        A missing file or column, a repeated year, a non-positive index.
    """
    source = Path(path) if path is not None else DEFAULT_CPI_PATH
    try:
        frame = pd.read_csv(source, comment="#")
    except (OSError, pd.errors.ParserError) as error:
        raise CostingError(f"{source}: cannot read the CPI table ({error.__class__.__name__})") from None
    missing = [column for column in ("year", "cpi") if column not in frame.columns]
    if missing:
        raise CostingError(f"{source}: column(s) {', '.join(missing)} missing; a CPI table has year and cpi")
    if frame["year"].duplicated().any():
        raise CostingError(f"{source}: column 'year': a year appears twice")
    cpi = pd.to_numeric(frame["cpi"], errors="coerce")
    if cpi.isna().any() or (cpi <= 0).any():
        raise CostingError(f"{source}: column 'cpi': every value must be a positive number")
    return pd.Series(cpi.to_numpy(dtype="float64"), index=pd.Index(frame["year"].astype(int), name="year"), name="cpi")


def _cpi_series(cpi: pd.Series | pd.DataFrame | Mapping[int, float]) -> pd.Series:
    if isinstance(cpi, pd.DataFrame):
        return pd.Series(cpi["cpi"].to_numpy(dtype="float64"), index=cpi["year"].astype(int).to_numpy())
    if isinstance(cpi, pd.Series):
        return pd.Series(cpi.to_numpy(dtype="float64"), index=np.asarray(cpi.index, dtype="int64"))
    return pd.Series({int(year): float(value) for year, value in cpi.items()}, dtype="float64")


def inflate(amounts: Any, from_year: Any, to_year: int, cpi: pd.Series | pd.DataFrame | Mapping[int, float]) -> Any:
    """Express amounts of ``from_year`` dollars in ``to_year`` dollars.

    Parameters
    ----------
    amounts : float, array-like or Series
        Amounts in dollars of ``from_year``.
    from_year : int or array-like of int
        Price year of each amount (broadcast against ``amounts``).
    to_year : int
        The price year wanted.
    cpi : Series, DataFrame or mapping
        CPI by year (:func:`load_cpi`; a DataFrame needs ``year`` and ``cpi`` columns).

    Returns
    -------
    Same kind as ``amounts`` (a Series keeps its index; a scalar gives a float).

    Raises
    ------
    CostingError
        A year absent from the CPI table (the message lists the years).

    Notes
    -----
    .. math:: A_{t} = A_{s}\\,\\frac{\\mathrm{CPI}_{t}}{\\mathrm{CPI}_{s}}

    for an amount :math:`A_s` in dollars of year :math:`s` and the target year :math:`t`
    (annual-average CPI, all items).
    """
    table = _cpi_series(cpi)
    years = np.atleast_1d(np.asarray(from_year, dtype="int64"))
    wanted = sorted({int(year) for year in years} | {int(to_year)})
    missing = [year for year in wanted if year not in table.index]
    if missing:
        raise CostingError(
            f"no CPI for the year(s) {', '.join(map(str, missing))}; the CPI table covers "
            f"{int(table.index.min())}-{int(table.index.max())}" if len(table) else "the CPI table is empty"
        )
    factor = float(table[int(to_year)]) / table.reindex(years).to_numpy(dtype="float64")
    if np.ndim(from_year) == 0:
        factor = factor[0]
    if isinstance(amounts, pd.Series):
        return amounts * factor
    if np.ndim(amounts) == 0 and np.ndim(factor) == 0:
        return float(amounts) * float(factor)
    return np.asarray(amounts, dtype="float64") * factor
