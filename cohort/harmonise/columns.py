"""Typing harmonised columns and assembling a model table: exactly its columns, typed, keys unique."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from proximite.cohort.harmonise.rules import PANDAS_DTYPES, resolve_codebook, row_count
from proximite.errors import HarmoniseError

if TYPE_CHECKING:  # pragma: no cover
    from proximite.cohort.codebook import Codebook

__all__ = ["blank_to_na", "cast_column", "check_keys", "conform", "model_dtypes"]


_MONTH = r"\d{4}-(0[1-9]|1[0-2])"
_TRUE = {"1", "true", "t", "yes", "y", "oui", "o", "vrai"}
_FALSE = {"0", "false", "f", "no", "n", "non", "faux"}


def model_dtypes(table: str, *, codebook: Codebook | None = None) -> dict[str, str]:
    """Pandas dtype of each column of a harmonised table, in model order."""
    columns = resolve_codebook(codebook).columns(table)
    return {name: PANDAS_DTYPES[spec["type"]] for name, spec in columns.items()}


def blank_to_na(values: pd.Series) -> pd.Series:
    """Empty or blank strings are missing (REDCap exports ``""`` for a missing value)."""
    text = values if isinstance(values.dtype, pd.StringDtype) else values.astype("string")
    empty = text.isin([""])  # hash lookup: much faster than == on a string array
    return text.mask(empty) if bool(empty.any()) else text


def cast_column(values: pd.Series, kind: str, *, name: str = "") -> pd.Series:
    """Cast a Series to the pandas dtype of a model type.

    Parameters
    ----------
    values : Series
        Staged values (already typed, or strings as REDCap gives them).
    kind : {"string", "int", "float", "date", "month", "bool"}
        The model type.
    name : str, keyword-only
        ``table.column``, for the error message.

    Returns
    -------
    Series
        A new Series with the dtype of :data:`PANDAS_DTYPES`.

    Raises
    ------
    HarmoniseError
        A value cannot be read as the type (the message gives the column and the count).
    """
    dtype = values.dtype
    try:
        if kind == "string":
            text = blank_to_na(values) if isinstance(dtype, pd.StringDtype) or dtype == object else values
            # One storage for every string column (ingest stages pyarrow-backed strings).
            return text if text.dtype == pd.StringDtype() else text.astype(pd.StringDtype())
        if kind in {"int", "float"}:
            target = "Int64" if kind == "int" else "Float64"
            if pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype):
                numbers = values
            else:
                text = blank_to_na(values)
                numbers = pd.to_numeric(text, errors="coerce")
                _check_coerced(text, numbers, name, "numbers")
            if target == "Int64" and pd.api.types.is_float_dtype(numbers.dtype):
                fraction = numbers.notna() & (numbers != np.floor(numbers.astype("float64")))
                if bool(fraction.any()):
                    raise HarmoniseError(f"{name}: {int(fraction.sum())} values are not whole numbers")
            return numbers.astype(target)
        if kind == "date":
            return _as_dates(values, name)
        if kind == "month":
            if pd.api.types.is_datetime64_any_dtype(dtype):
                return _as_dates(values, name).dt.strftime("%Y-%m").astype("string")
            text = blank_to_na(values)
            bad = text.notna() & ~text.str.fullmatch(_MONTH).fillna(False)
            if bool(bad.any()):
                # A full date where a month is expected: keep its year-month only.
                as_dates = pd.to_datetime(text.where(bad), errors="coerce", format="ISO8601")
                _check_coerced(text.where(bad), as_dates, name, "months (YYYY-MM) or dates")
                text = text.mask(bad, as_dates.dt.strftime("%Y-%m").astype("string"))
            return text if text.dtype == pd.StringDtype() else text.astype(pd.StringDtype())
        if kind == "bool":
            if pd.api.types.is_bool_dtype(dtype) or isinstance(dtype, pd.BooleanDtype):
                return values.astype("boolean")
            if pd.api.types.is_numeric_dtype(dtype):
                bad = values.notna() & ~values.isin([0, 1])
                if bool(bad.any()):
                    raise HarmoniseError(f"{name}: {int(bad.sum())} values are not 1/0")
                return values.astype("boolean")
            text = blank_to_na(values).str.strip().str.lower()
            result = pd.Series(pd.NA, index=values.index, dtype="boolean")
            result = result.mask(text.isin(_TRUE).fillna(False), True).mask(text.isin(_FALSE).fillna(False), False)
            _check_coerced(text, result, name, "yes/no values")
            return result
    except (TypeError, ValueError) as error:
        raise HarmoniseError(f"{name}: cannot be read as {kind} ({type(error).__name__})") from None
    raise HarmoniseError(f"{name}: unknown model type {kind!r}")


def _check_coerced(before: pd.Series, after: pd.Series, name: str, what: str) -> None:
    lost = before.notna() & after.isna()
    if bool(lost.any()):
        raise HarmoniseError(f"{name}: {int(lost.sum())} values are not {what}")


def _as_dates(values: pd.Series, name: str) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        dates = values
        if getattr(dates.dt, "tz", None) is not None:
            dates = dates.dt.tz_localize(None)
    else:
        text = blank_to_na(values)
        dates = pd.to_datetime(text, errors="coerce", format="ISO8601")
        _check_coerced(text, dates, name, "ISO dates")
    return dates.dt.normalize().astype("datetime64[ns]")


def conform(columns: Mapping[str, pd.Series] | pd.DataFrame, table: str, *, codebook: Codebook | None = None) -> pd.DataFrame:
    """Assemble a harmonised table: exactly the model's columns, in model order, typed.

    Parameters
    ----------
    columns : mapping of str to Series, or DataFrame
        One Series per model column, aligned on the same rows.
    table : str
        The model table.
    codebook : Codebook, optional

    Returns
    -------
    DataFrame
        A new frame with a fresh RangeIndex.

    Raises
    ------
    HarmoniseError
        A column outside the model would leak, or a model column is missing.
    """
    spec = resolve_codebook(codebook).columns(table)
    given = list(columns.columns) if isinstance(columns, pd.DataFrame) else list(columns)
    extra = [name for name in given if name not in spec]
    if extra:
        # A guard, not a user error: nothing outside the model (identifiers above all) leaves here.
        raise HarmoniseError(f"{table}: columns outside the model would leak: {', '.join(map(str, extra))}")
    missing = [name for name in spec if name not in given]
    if missing:
        raise HarmoniseError(f"{table}: model columns not produced: {', '.join(missing)}")
    data = {
        name: cast_column(columns[name], column_spec["type"], name=f"{table}.{name}").reset_index(drop=True)
        for name, column_spec in spec.items()
    }
    return pd.DataFrame(data, copy=False)


def check_keys(frame: pd.DataFrame, table: str, *, codebook: Codebook | None = None, detail: str = "") -> None:
    """Raise when a key column is null or the key is not unique.

    Parameters
    ----------
    frame : DataFrame
        A harmonised table.
    table : str
    codebook : Codebook, optional
    detail : str, keyword-only
        Appended to the message (where to look; never a value of a person).

    Raises
    ------
    HarmoniseError
        With the count of rows at fault.
    """
    keys = resolve_codebook(codebook).key_columns(table)
    if not keys or frame.empty:
        return
    null = frame[keys].isna().any(axis=1)
    if bool(null.any()):
        raise HarmoniseError(f"{table}: a key column ({', '.join(keys)}) is missing on {row_count(int(null.sum()))}{detail}")
    duplicated = frame.duplicated(keys, keep="first")
    if bool(duplicated.any()):
        raise HarmoniseError(
            f"{table}: the key ({', '.join(keys)}) is repeated on {row_count(int(duplicated.sum()))}{detail}"
        )
