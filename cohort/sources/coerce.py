"""Vectorised typing of string columns, with errors that name the file, the row and the rule.

Every reader in :mod:`proximite.cohort.sources` first turns its input into a pyarrow table of
strings (``""`` for an empty cell); the functions here type one column at a time. Parsing works
on the *distinct* values of a column and takes the results back by index: dates, codes and
durations repeat heavily, so typing a two-million-row column costs one hash pass plus the parsing
of a few thousand strings. No function loops over rows in Python.

Errors never quote a person's value: a date, a number or a free text that fails is located by
file, row and column only. A coded value that is not in its list may be quoted (it is a code,
not a fact about a family). Inside :func:`~proximite.cohort.sources.rows.collecting_defects`
(REDCap staging) a failing cell becomes missing, the typing goes on, and each failing cell is
recorded with its value (coded, numeric and date cells only: free text is never typed, so it
never fails) for the coordinator's refusal report.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

# RowLocator is part of this module's API (the readers build one per table), defined in .rows.
from proximite.cohort.sources.rows import RowLocator, as_array, distinct_values, fail_where
from proximite.errors import InputError

__all__ = [
    "RowLocator",
    "blank_to_null",
    "to_int",
    "to_float",
    "to_bool",
    "to_date",
    "check_codes",
    "map_values",
    "to_frame",
    "TRUE_WORDS",
    "FALSE_WORDS",
]

#: Spellings accepted for a true / false cell in registry and reference files.
TRUE_WORDS = ("1", "true", "vrai", "oui", "yes", "o", "y")
FALSE_WORDS = ("0", "false", "faux", "non", "no", "n")

_NULL_STRING = pa.scalar(None, pa.string())
_INT_PATTERN = r"^[+-]?\d{1,18}([.,]0*)?$"
_FLOAT_PATTERN = r"^[+-]?(\d+([.,]\d*)?|[.,]\d+)([eE][+-]?\d+)?$"


def blank_to_null(values: pa.Array | pa.ChunkedArray, *, trim: bool = True) -> pa.Array:
    """Strings with surrounding blanks trimmed (optional) and empty cells as null."""
    array = as_array(values)
    if not pa.types.is_string(array.type):
        array = pc.cast(array, pa.string())
    if trim:
        array = pc.utf8_trim_whitespace(array)
    return pc.if_else(pc.equal(array, ""), _NULL_STRING, array)


def to_int(values: pa.Array | pa.ChunkedArray, *, locator: RowLocator, column: str) -> pa.Array:
    """Whole numbers as int64 (``"12"``, ``"12.0"``); empty cells become null.

    Raises
    ------
    InputError
        A cell is not a whole number (the first such row and the count are given).
    """
    array = blank_to_null(values)
    distinct, index = distinct_values(array)
    looks_whole = pc.fill_null(pc.match_substring_regex(distinct, _INT_PATTERN), False)
    digits = pc.replace_substring_regex(distinct, r"[.,]0*$", "")
    parsed = pc.cast(pc.if_else(looks_whole, digits, _NULL_STRING), pa.int64())
    bad = pc.and_(pc.is_valid(distinct), pc.invert(looks_whole)).to_numpy(zero_copy_only=False)
    fail_where(
        bad[index], locator=locator, column=column, rule="not a whole number",
        detail="Write an integer (digits only)", allowed="a whole number", cells=array,
    )
    return pc.take(parsed, pa.array(index))


def to_float(values: pa.Array | pa.ChunkedArray, *, locator: RowLocator, column: str) -> pa.Array:
    """Decimal numbers as float64 (a decimal comma is accepted); empty cells become null.

    Raises
    ------
    InputError
        A cell is not a number.
    """
    array = blank_to_null(values)
    distinct, index = distinct_values(array)
    looks_number = pc.fill_null(pc.match_substring_regex(distinct, _FLOAT_PATTERN), False)
    dotted = pc.replace_substring(distinct, ",", ".")
    parsed = pc.cast(pc.if_else(looks_number, dotted, _NULL_STRING), pa.float64())
    bad = pc.and_(pc.is_valid(distinct), pc.invert(looks_number)).to_numpy(zero_copy_only=False)
    fail_where(
        bad[index], locator=locator, column=column, rule="not a number",
        detail="Write a number such as 12 or 12.5", allowed="a number", cells=array,
    )
    return pc.take(parsed, pa.array(index))


def to_bool(
    values: pa.Array | pa.ChunkedArray,
    *,
    locator: RowLocator,
    column: str,
    true_values: Iterable[str] = TRUE_WORDS,
    false_values: Iterable[str] = FALSE_WORDS,
) -> pa.Array:
    """Booleans from the given spellings (compared case-insensitively); empty cells become null.

    Raises
    ------
    InputError
        A cell is neither a true nor a false spelling (the value is quoted: it is a code).
    """
    trues = pa.array(sorted({value.lower() for value in true_values}), pa.string())
    falses = pa.array(sorted({value.lower() for value in false_values}), pa.string())
    array = blank_to_null(values)
    distinct, index = distinct_values(array)
    lowered = pc.utf8_lower(distinct)
    is_true = pc.is_in(lowered, value_set=trues)
    is_false = pc.is_in(lowered, value_set=falses)
    parsed = pc.if_else(is_true, True, pc.if_else(is_false, False, pa.scalar(None, pa.bool_())))
    bad = pc.and_(pc.is_valid(distinct), pc.is_null(parsed)).to_numpy(zero_copy_only=False)
    if bad.any():
        allowed = "/".join(sorted(set(trues.to_pylist()) | set(falses.to_pylist())))
        fail_where(
            bad[index], locator=locator, column=column, rule="not a yes/no value",
            detail=f"is not one of {allowed}", quote=lambda row: distinct[int(index[row])].as_py(),
            allowed=allowed, cells=array,
        )
    return pc.take(parsed, pa.array(index))


def _parse_dates(text: pd.Series, *, with_time: bool) -> np.ndarray:
    """Parse ISO dates (and ISO date-times) strictly; unparseable values become NaT."""
    parsed = pd.to_datetime(text, format="%Y-%m-%d", errors="coerce")
    for fallback in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M"):
        missing = parsed.isna() & text.notna()
        if not missing.any():
            break
        parsed = parsed.where(~missing, pd.to_datetime(text.where(missing), format=fallback, errors="coerce"))
    if not with_time:
        parsed = parsed.dt.normalize()
    return parsed.to_numpy(dtype="datetime64[ns]")


def to_date(
    values: pa.Array | pa.ChunkedArray,
    *,
    locator: RowLocator,
    column: str,
    formats: pa.Array | None = None,
    with_time: bool = False,
) -> pa.Array:
    """Dates as timestamp[ns]: ISO ``YYYY-MM-DD`` always, or each row's own ``strptime`` format.

    Parameters
    ----------
    values : pyarrow.Array
        Strings.
    locator : RowLocator
    column : str
    formats : pyarrow.Array, optional
        Per row, the file's declared ``date_format`` (null when it declared none); tried on the
        rows that are not ISO dates.
    with_time : bool, keyword-only
        Keep the time of day (REDCap ``datetime_*`` fields); otherwise dates are midnight.

    Raises
    ------
    InputError
        A cell is not a valid date (the value is never quoted).
    """
    array = blank_to_null(values)
    distinct, index = distinct_values(array)
    text = pd.Series(distinct.to_pylist(), dtype=object)
    parsed_distinct = _parse_dates(text, with_time=with_time)
    present_distinct = text.notna().to_numpy()
    result = parsed_distinct[index]
    bad = (present_distinct & np.isnat(parsed_distinct))[index]
    if formats is not None and bad.any():
        row_formats = as_array(formats).to_numpy(zero_copy_only=False)
        for date_format in {value for value in row_formats[bad] if value}:
            selected = bad & (row_formats == date_format)
            wanted = np.unique(index[selected])
            lookup = np.full(len(text), np.datetime64("NaT"), dtype="datetime64[ns]")
            lookup[wanted] = (
                pd.to_datetime(text.iloc[wanted], format=date_format, errors="coerce")
                .to_numpy(dtype="datetime64[ns]")
            )
            result[selected] = lookup[index[selected]]
        bad = present_distinct[index] & np.isnat(result)
    if bad.any():
        expected = "YYYY-MM-DD"
        if formats is not None:
            declared = {value for value in as_array(formats).to_pylist() if value}
            if declared:
                expected += " or the mapping's date_format " + ", ".join(sorted(declared))
        fail_where(
            bad, locator=locator, column=column, rule="date cannot be parsed",
            detail=f"Write dates as {expected} (a real calendar date)", allowed=expected, cells=array,
        )
    return pa.array(result, type=pa.timestamp("ns"), from_pandas=True)


def check_codes(
    values: pa.Array | pa.ChunkedArray,
    allowed: Sequence[str],
    *,
    locator: RowLocator,
    column: str,
    list_name: str,
) -> pa.Array:
    """Codes checked against their list; empty cells become null.

    Raises
    ------
    InputError
        A cell holds a code that is not in ``allowed`` (the code is quoted, with the list).
    """
    array = blank_to_null(values)
    distinct, index = distinct_values(array)
    known = pc.is_in(distinct, value_set=pa.array(list(allowed), pa.string()))
    bad = pc.and_(pc.is_valid(distinct), pc.invert(known)).to_numpy(zero_copy_only=False)
    if bad.any():
        shown = ", ".join(allowed) if len(allowed) <= 20 else ", ".join(allowed[:20]) + ", …"
        fail_where(
            bad[index], locator=locator, column=column, rule="unknown code",
            detail=f"is not a code of {list_name} (allowed: {shown})",
            quote=lambda row: distinct[int(index[row])].as_py(), allowed=", ".join(allowed), cells=array,
        )
    return array


def map_values(
    values: pa.Array | pa.ChunkedArray, mapping: Mapping[str, str], *, keep_unmapped: bool = True
) -> pa.Array:
    """Replace whole cell values found in ``mapping`` (vectorised over distinct values).

    Cells not in ``mapping`` are kept, or become null with ``keep_unmapped=False``; empty cells
    are null either way.
    """
    array = blank_to_null(values)
    if not mapping and keep_unmapped:
        return array
    distinct, index = distinct_values(array)
    replaced = [
        mapping.get(value, value if keep_unmapped else None) if value is not None else None
        for value in distinct.to_pylist()
    ]
    return pc.take(pa.array(replaced, pa.string()), pa.array(index))


def _pandas_type(arrow_type: pa.DataType) -> object | None:
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return pd.StringDtype("pyarrow")
    if pa.types.is_integer(arrow_type):
        return pd.Int64Dtype()
    if pa.types.is_floating(arrow_type):
        return pd.Float64Dtype()
    if pa.types.is_boolean(arrow_type):
        return pd.BooleanDtype()
    return None


def to_frame(columns: Mapping[str, pa.Array | pa.ChunkedArray]) -> pd.DataFrame:
    """A pandas frame with nullable dtypes (string, Int64, Float64, boolean, datetime64[ns])."""
    table = pa.table(dict(columns))
    return table.to_pandas(types_mapper=_pandas_type)
