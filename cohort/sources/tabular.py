"""Tabular files read as strings, one row per data row: CSV and XLSX."""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pv

from proximite.errors import InputError
from proximite.cohort.sources.encodings import decode_to_utf8

__all__ = [
    "RawTable",
    "cell_text",
    "check_header",
    "read_csv_strings",
    "read_xlsx_strings",
    "require_rows",
]


@dataclass
class RawTable:
    """A data file read as strings, before any mapping or typing.

    Attributes
    ----------
    path : Path
    table : pyarrow.Table
        One string column per column of the file (names as in the file, trimmed); ``""`` for an
        empty cell.
    source_rows : ndarray
        1-based data row of each row in the file (the header is row 0; for a spreadsheet, row
        *n* is the sheet's line *n* + 1).
    encoding : str, optional
        The text encoding the file was read in.
    missing_reasons : dict
        Column → reason of each user-missing cell (null elsewhere); those cells are ``""``.
    codes : dict
        Column → the raw codes of a value-labelled column (``table`` holds the labels).
    """

    path: Path
    table: pa.Table
    source_rows: np.ndarray
    encoding: str | None = None
    missing_reasons: dict[str, pa.Array] = field(default_factory=dict)
    codes: dict[str, pa.Array] = field(default_factory=dict)

    @property
    def num_rows(self) -> int:
        return self.table.num_rows

    @property
    def columns(self) -> list[str]:
        return self.table.column_names


def check_header(names: list[str], *, path: Path) -> list[str]:
    """Trimmed header names; unnamed columns get a placeholder; a repeated name is an error."""
    cleaned = []
    for position, name in enumerate(names):
        name = str(name).strip() if name is not None else ""
        cleaned.append(name or f"__unnamed_{position + 1}")
    seen: set[str] = set()
    for name in cleaned:
        if name in seen:
            raise InputError(path, "duplicate column name", column=name, detail="Each column must have its own name")
        seen.add(name)
    return cleaned


def require_rows(raw: RawTable, *, rows_required: bool) -> RawTable:
    """Refuse a table without a data row when rows are required; else return it."""
    if rows_required and raw.num_rows == 0:
        raise InputError(raw.path, "no data rows", detail="The file has a header but no rows; send the complete file")
    return raw


def _sniff_delimiter(header_line: str) -> str:
    """The likeliest delimiter of a header line (``,``, ``;`` or tab), outside quotes."""
    outside = re.sub(r'"[^"]*"', "", header_line)
    counts = {delimiter: outside.count(delimiter) for delimiter in (",", ";", "\t")}
    best = max(counts, key=lambda delimiter: counts[delimiter])
    return best if counts[best] > 0 else ","


def _first_bad_record(text: str, delimiter: str, expected: int) -> int | None:
    """1-based data row of the first record whose field count is wrong (error path only)."""
    for number, record in enumerate(csv.reader(io.StringIO(text), delimiter=delimiter)):
        if number > 0 and record and len(record) != expected:
            return number
    return None


def read_csv_strings(
    path: Path,
    *,
    encoding: str | None = None,
    delimiter: str | None = None,
    hint: str = "",
    rows_required: bool = True,
) -> RawTable:
    """Read a CSV file as strings (pyarrow's multi-threaded reader; nothing is inferred).

    Parameters
    ----------
    path : Path
    encoding : str, optional
        Declared encoding; detected when absent (see :func:`decode_to_utf8`).
    delimiter : str, optional
        ``,``, ``;`` or tab; sniffed from the header when absent.
    hint : str, keyword-only
        What to do about an encoding error.
    rows_required : bool, keyword-only
        A header without rows is an error.

    Raises
    ------
    InputError
        Empty file, undeclared encoding, repeated column name, a row with the wrong number of
        fields, or no data rows when they are required.
    """
    path = Path(path)
    data = path.read_bytes()
    if not data or data.isspace():
        raise InputError(path, "empty file", detail=f"{len(data)} bytes; send the complete file")
    data, used = decode_to_utf8(data, path=path, declared=encoding, hint=hint)
    head = data[: 1 << 16].decode("utf-8", errors="ignore")
    first_line = head.split("\n", 1)[0]
    delimiter = delimiter or _sniff_delimiter(first_line)
    header = next(csv.reader(io.StringIO(head), delimiter=delimiter), [])
    if not [name for name in header if name.strip()]:
        raise InputError(path, "empty file", detail="No header row")
    names = check_header(header, path=path)
    bad_rows: list[int] = []

    def on_bad_row(row: Any) -> str:
        bad_rows.append(int(row.actual_columns))
        return "skip"

    try:
        table = pv.read_csv(
            pa.BufferReader(data),
            read_options=pv.ReadOptions(column_names=names, skip_rows=1, use_threads=True, block_size=_BLOCK_BYTES),
            parse_options=pv.ParseOptions(delimiter=delimiter, newlines_in_values=True, invalid_row_handler=on_bad_row),
            convert_options=pv.ConvertOptions(
                column_types={name: pa.string() for name in names},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
                null_values=[],
            ),
        )
    except pa.ArrowInvalid:
        # pyarrow's messages quote the offending row: never pass them on.
        oversized = _oversized_field(data, delimiter, names)
        if oversized is not None:
            row, column, size = oversized
            raise InputError(
                path, "field larger than the limit", row=row, column=column,
                detail=f"A cell holds {size:,} bytes, more than the {MAX_FIELD_BYTES:,} bytes a cell may hold; "
                "it is often an unclosed quote that swallowed the rows after it, else a text to shorten",
            ) from None
        raise InputError(path, "not a readable CSV file", detail="Check quoting and line endings") from None
    if bad_rows:
        row = _first_bad_record(data.decode("utf-8"), delimiter, len(names))
        raise InputError(
            path, "wrong number of fields", row=row, count=len(bad_rows),
            detail=f"The header has {len(names)} columns (delimiter '{delimiter}'); check for an "
            "unquoted delimiter inside a value",
        )
    _check_field_sizes(table, path)
    # Cells keep their blanks here; typing trims them (blank_to_null), once.
    raw = RawTable(path=path, table=table, source_rows=np.arange(1, table.num_rows + 1, dtype=np.int64), encoding=used)
    return require_rows(raw, rows_required=rows_required)


#: Largest cell a CSV may hold: a quoted cell with line breaks must fit in one of pyarrow's blocks.
MAX_FIELD_BYTES = 4 << 20
_BLOCK_BYTES = 2 * MAX_FIELD_BYTES + (1 << 20)


def _check_field_sizes(table: pa.Table, path: Path) -> None:
    """Refuse a cell over :data:`MAX_FIELD_BYTES` that pyarrow could still read (the same limit either way)."""
    for name in table.column_names:
        lengths = pc.binary_length(table[name])
        longest = pc.max(lengths).as_py()
        if longest is not None and longest > MAX_FIELD_BYTES:
            row = int(pc.index(pc.greater(lengths, MAX_FIELD_BYTES), True).as_py()) + 1
            raise InputError(
                path, "field larger than the limit", row=row, column=name,
                detail=f"A cell holds {longest:,} bytes, more than the {MAX_FIELD_BYTES:,} bytes a cell may hold; "
                "it is often an unclosed quote that swallowed the rows after it, else a text to shorten",
            )


def _oversized_field(data: bytes, delimiter: str, names: list[str]) -> tuple[int, str, int] | None:
    """``(1-based data row, column, bytes)`` of the first cell over :data:`MAX_FIELD_BYTES`, or None.

    Read with the standard library (slow, but only once a file has already failed) and a
    limit high enough to measure the cell.
    """
    previous = csv.field_size_limit()
    csv.field_size_limit(max(previous, len(data) + 1))
    try:
        reader = csv.reader(io.StringIO(data.decode("utf-8", errors="replace"), newline=""), delimiter=delimiter)
        next(reader, None)
        for row, record in enumerate(reader, start=1):
            for position, cell in enumerate(record):
                size = len(cell.encode("utf-8"))
                if size > MAX_FIELD_BYTES:
                    column = names[position] if position < len(names) else f"column {position + 1}"
                    return row, column, size
    except csv.Error:
        return None
    finally:
        csv.field_size_limit(previous)
    return None


def cell_text(value: Any) -> str:
    """A spreadsheet or SPSS cell as the text a CSV would hold (ISO dates, ``12`` not ``12.0``)."""
    if value is None or value is pd.NaT:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (pd.Timestamp, dt.datetime)):
        if pd.isna(value):
            return ""
        if (value.hour, value.minute, value.second, value.microsecond) == (0, 0, 0, 0):
            return value.strftime("%Y-%m-%d")
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.time):
        return value.isoformat()
    if isinstance(value, (np.floating,)):
        return cell_text(float(value))
    return str(value)


def read_xlsx_strings(path: Path, *, sheet: str | None = None, rows_required: bool = True) -> RawTable:
    """Read one sheet of an XLSX workbook as strings (the first row is the header).

    Dates become ISO strings, whole numbers lose their ``.0``; fully empty rows are skipped but
    keep their place in the row numbers.

    Raises
    ------
    InputError
        The workbook is corrupt or truncated, the sheet does not exist, or it has no rows.
    """
    from openpyxl import load_workbook

    path = Path(path)
    if path.stat().st_size == 0:
        raise InputError(path, "empty file", detail="0 bytes; send the complete workbook")
    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except Exception as error:  # a damaged archive raises BadZipFile, KeyError, ValueError, ...
        raise InputError(
            path, "not a readable XLSX workbook",
            detail=f"The file is corrupt or truncated ({type(error).__name__}); save it again from Excel as .xlsx",
        ) from None
    try:
        if sheet is not None and sheet not in workbook.sheetnames:
            raise InputError(
                path, "sheet not found",
                detail=f"No sheet named '{sheet}' (sheets: {', '.join(workbook.sheetnames)}); correct `sheet:` in the mapping",
            )
        worksheet = workbook[sheet] if sheet is not None else workbook.worksheets[0]
        try:
            # Workbooks written by other tools often declare wrong dimensions: read what is stored.
            worksheet.reset_dimensions()
            rows = list(worksheet.iter_rows(values_only=True))
        except InputError:
            raise
        except Exception as error:
            raise InputError(
                path, "not a readable XLSX workbook",
                detail=f"The sheet cannot be read: the file is corrupt or truncated ({type(error).__name__})",
            ) from None
    finally:
        workbook.close()
    if not rows or not any(cell not in (None, "") for cell in rows[0]):
        raise InputError(path, "empty file", detail="The sheet has no header row")
    header = list(rows[0])
    while header and header[-1] in (None, ""):
        header.pop()
    names = check_header([cell_text(cell) for cell in header], path=path)
    width = len(names)
    kept: list[tuple[int, tuple[Any, ...]]] = [
        (number, row) for number, row in enumerate(rows[1:], start=1) if any(cell not in (None, "") for cell in row)
    ]
    columns: dict[str, list[str]] = {name: [] for name in names}
    for _, row in kept:
        padded = tuple(row[:width]) + (None,) * max(0, width - len(row))
        for name, cell in zip(names, padded, strict=True):
            columns[name].append(cell_text(cell).strip())
    table = pa.table({name: pa.array(values, pa.string()) for name, values in columns.items()})
    raw = RawTable(path=path, table=table, source_rows=np.array([number for number, _ in kept], dtype=np.int64))
    return require_rows(raw, rows_required=rows_required)
