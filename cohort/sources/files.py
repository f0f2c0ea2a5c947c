"""File sources: REDCap exports, the activity registry (CSV, XLSX, SPSS, Stata), reference and costs.

Reading happens in two steps for every format:

1. the file becomes a pyarrow table of **strings** (``""`` for an empty cell), with the 1-based
   data row of each row: :func:`read_csv_strings`, :func:`read_xlsx_strings`,
   :func:`read_stat_strings` (SPSS ``.sav``/Stata ``.dta``: value labels applied, user-missing
   values blanked with their reason kept);
2. a partner's own columns and codes are mapped to the canonical ones (:class:`FileMapping`, the
   ``<stem>.mapping.yaml`` beside the file), then every column is typed from the codebook with the
   vectorised functions of :mod:`proximite.cohort.sources.coerce`.

User-missing values (SPSS missing values, Stata ``.a``–``.z``) become missing in the staged column
and their reason lands in a companion string column ``<column>__missing_reason``: the value label of
the missing code when there is one (``"Refus de répondre"``), else ``"code 99"`` or ``".a"``.

Encodings: a CSV is read as UTF-8 (with or without BOM) unless its mapping declares ``encoding:``.
A file that is not UTF-8 is accepted as Windows-1252 (cp1252) only when the decoded text holds
nothing but ASCII and the accented letters and punctuation of French; anything else (UTF-16,
Mac-Roman, ...) stops the ingest and asks for ``encoding:`` in the mapping.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import json
import logging
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pv
import yaml

from proximite.errors import InputError
from proximite.cohort.sources.base import DATA_SUFFIXES, Source, Staged
from proximite.cohort.sources.coerce import (
    RowLocator,
    blank_to_null,
    check_codes,
    map_values,
    to_bool,
    to_date,
    to_float,
    to_frame,
    to_int,
)
from proximite.cohort.redcap.project import RedcapProject
from proximite.cohort.redcap.records import stage_records

if TYPE_CHECKING:  # pragma: no cover
    from proximite.cohort.codebook import Codebook
    from proximite.config import Settings

__all__ = [
    "RawTable",
    "FileMapping",
    "ColumnSpec",
    "TableSpec",
    "decode_to_utf8",
    "read_csv_strings",
    "read_xlsx_strings",
    "read_stat_strings",
    "read_table_file",
    "load_mapping",
    "mapping_path_for",
    "registry_spec",
    "model_spec",
    "canonical_strings",
    "type_table",
    "read_redcap_project",
    "RedcapExportSource",
    "RegistryFilesSource",
    "ReferenceFilesSource",
    "CostFilesSource",
]

log = logging.getLogger(__name__)

MISSING_REASON_SUFFIX = "__missing_reason"
_DATE_FORMAT_COLUMN = "__date_format"
_MAPPING_SUFFIXES = (".mapping.yaml", ".mapping.yml")
_UNSUPPORTED_SUFFIXES = {".xls": "save it as .xlsx", ".ods": "save it as .xlsx", ".xlsm": "save it as .xlsx"}

# ---------------------------------------------------------------------------------- encodings

#: Non-ASCII characters that plausible French (and the Spanish names of many families) contain.
_FRENCH_NON_ASCII = "àâäæçéèêëîïôöùûüÿœÀÂÄÆÇÉÈÊËÎÏÔÖÙÛÜŸŒáíñóúÁÍÑÓÚ«»°·’‘“”–—…€\u00a0"
_IMPLAUSIBLE = re.compile("[^\t\n\r\x20-\x7e" + re.escape(_FRENCH_NON_ASCII) + "]")
_WIDE_BOMS = (codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


def _undeclared(path: Path, *, hint: str, why: str, row: int | None = None) -> InputError:
    where = " (already in the header)" if row == 0 else ""
    return InputError(
        path,
        "encoding undeclared or unrecognised",
        row=row or None,
        detail=f"The file is not UTF-8, and {why}{where}, so it is not plausible French text in "
        f"Windows-1252 (cp1252) either. {hint}",
    )


def decode_to_utf8(data: bytes, *, path: Path, declared: str | None = None, hint: str = "") -> tuple[bytes, str]:
    """Return the file's bytes as UTF-8 (BOM removed) and the encoding it was read in.

    Parameters
    ----------
    data : bytes
        The file as received.
    path : Path
        Named in errors.
    declared : str, optional
        The mapping's ``encoding:``; trusted when given.
    hint : str, keyword-only
        What the user should do, appended to an encoding error.

    Raises
    ------
    InputError
        The bytes do not decode in the declared encoding, or no encoding was declared and the file
        is neither UTF-8 nor plausible French cp1252 (the row of the first odd character is given).
    """
    if declared:
        try:
            text = data.decode(declared)
        except UnicodeDecodeError as error:
            raise InputError(
                path, "file does not match its declared encoding",
                row=data[: error.start].count(b"\n") or None,
                detail=f"The mapping declares '{declared}' but the bytes are not valid in it; "
                "correct `encoding:` in the mapping YAML",
            ) from None
        return text.removeprefix("\ufeff").encode("utf-8"), declared
    if data.startswith(_WIDE_BOMS):
        raise _undeclared(path, hint=hint, why="it starts with a UTF-16/UTF-32 byte-order mark")
    encoding = "utf-8"
    if data.startswith(codecs.BOM_UTF8):
        data, encoding = data[len(codecs.BOM_UTF8):], "utf-8-sig"
    nul = data.find(b"\x00")
    if nul >= 0:
        raise _undeclared(path, hint=hint, why="it contains NUL bytes (typical of UTF-16)", row=data[:nul].count(b"\n"))
    try:
        data.decode("utf-8")
        return data, encoding
    except UnicodeDecodeError as error:
        if encoding == "utf-8-sig":
            raise InputError(
                path, "file does not match its declared encoding", row=data[: error.start].count(b"\n") or None,
                detail=f"It starts with a UTF-8 byte-order mark but is not valid UTF-8. {hint}",
            ) from None
    # Bytes Windows-1252 leaves undefined decode to U+FFFD, which the plausibility check refuses:
    # the first odd character, whatever its kind, gives the row.
    text = data.decode("cp1252", errors="replace")
    odd = _IMPLAUSIBLE.search(text)
    if odd:
        raise _undeclared(
            path, hint=hint, why="read as Windows-1252 it shows characters that French text does not use "
            "(as Mac-Roman or another encoding would)", row=text[: odd.start()].count("\n"),
        )
    return text.encode("utf-8"), "cp1252"


# ---------------------------------------------------------------------------------- readers


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


def _check_header(names: list[str], *, path: Path) -> list[str]:
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


def _require_rows(raw: RawTable, *, rows_required: bool) -> RawTable:
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
    names = _check_header(header, path=path)
    bad_rows: list[int] = []

    def on_bad_row(row: Any) -> str:
        bad_rows.append(int(row.actual_columns))
        return "skip"

    try:
        table = pv.read_csv(
            pa.BufferReader(data),
            read_options=pv.ReadOptions(column_names=names, skip_rows=1, use_threads=True),
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
        raise InputError(path, "not a readable CSV file", detail="Check quoting and line endings") from None
    if bad_rows:
        row = _first_bad_record(data.decode("utf-8"), delimiter, len(names))
        raise InputError(
            path, "wrong number of fields", row=row, count=len(bad_rows),
            detail=f"The header has {len(names)} columns (delimiter '{delimiter}'); check for an "
            "unquoted delimiter inside a value",
        )
    # Cells keep their blanks here; typing trims them (blank_to_null), once.
    raw = RawTable(path=path, table=table, source_rows=np.arange(1, table.num_rows + 1, dtype=np.int64), encoding=used)
    return _require_rows(raw, rows_required=rows_required)


def _cell_text(value: Any) -> str:
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
        return _cell_text(float(value))
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
    names = _check_header([_cell_text(cell) for cell in header], path=path)
    width = len(names)
    kept: list[tuple[int, tuple[Any, ...]]] = [
        (number, row) for number, row in enumerate(rows[1:], start=1) if any(cell not in (None, "") for cell in row)
    ]
    columns: dict[str, list[str]] = {name: [] for name in names}
    for _, row in kept:
        padded = tuple(row[:width]) + (None,) * max(0, width - len(row))
        for name, cell in zip(names, padded, strict=True):
            columns[name].append(_cell_text(cell).strip())
    table = pa.table({name: pa.array(values, pa.string()) for name, values in columns.items()})
    raw = RawTable(path=path, table=table, source_rows=np.array([number for number, _ in kept], dtype=np.int64))
    return _require_rows(raw, rows_required=rows_required)


def _label_text(labels: dict[Any, str], value: Any) -> str | None:
    if value in labels:
        return labels[value]
    if isinstance(value, float) and value.is_integer() and int(value) in labels:
        return labels[int(value)]
    return None


def _user_missing_mask(series: pd.Series, column: str, meta: Any) -> np.ndarray:
    """Cells that hold a user-missing code (SPSS missing values or ranges, Stata ``.a``–``.z``)."""
    mask = np.zeros(len(series), dtype=bool)
    for missing_range in (getattr(meta, "missing_ranges", None) or {}).get(column, []):
        low, high = missing_range["lo"], missing_range["hi"]
        if isinstance(low, str) or isinstance(high, str):
            mask |= (series.astype(object) == low).to_numpy()
        else:
            numeric = pd.to_numeric(series, errors="coerce")
            mask |= ((numeric >= low) & (numeric <= high)).fillna(False).to_numpy(dtype=bool)
    letters = (getattr(meta, "missing_user_values", None) or {}).get(column, [])
    if letters:
        mask |= series.isin(list(letters)).to_numpy()
    return mask


def read_stat_strings(path: Path, *, encoding: str | None = None, rows_required: bool = True) -> RawTable:
    """Read an SPSS ``.sav``/``.zsav`` or Stata ``.dta`` file as strings, through pyreadstat.

    Value labels are applied (the raw codes are kept in :attr:`RawTable.codes` so a mapping may
    name either); user-missing cells become ``""`` and their reason is kept in
    :attr:`RawTable.missing_reasons`: the missing code's value label, else ``code 99`` or ``.a``.

    Raises
    ------
    InputError
        The file is empty, corrupt or truncated, or has no rows.
    """
    import pyreadstat

    path = Path(path)
    if path.stat().st_size == 0:
        raise InputError(path, "empty file", detail="0 bytes; send the complete file")
    kind = "Stata" if path.suffix.lower() == ".dta" else "SPSS"
    reader = pyreadstat.read_dta if kind == "Stata" else pyreadstat.read_sav
    options: dict[str, Any] = {"user_missing": True, "apply_value_formats": False}
    if encoding:
        options["encoding"] = encoding
    try:
        frame, meta = reader(str(path), **options)
    except Exception as error:  # pyreadstat raises ReadstatError/PyreadstatError and others
        raise InputError(
            path, f"not a readable {kind} file",
            detail=f"The file is corrupt or truncated ({type(error).__name__}); export it again from {kind}",
        ) from None
    if frame.shape[1] == 0:
        raise InputError(path, "empty file", detail="No variables")
    names = _check_header(list(frame.columns), path=path)
    frame.columns = names
    value_labels: dict[str, dict[Any, str]] = getattr(meta, "variable_value_labels", None) or {}
    columns: dict[str, pa.Array] = {}
    reasons: dict[str, pa.Array] = {}
    codes: dict[str, pa.Array] = {}
    for name in names:
        series = frame[name]
        labels = value_labels.get(name, {})
        missing = _user_missing_mask(series, name, meta)
        # Per-cell Python here: statistical files from partners are small (the CSV path is the fast one).
        raw_text = series.map(_cell_text)
        if missing.any():
            why = [
                (_label_text(labels, value) or (f".{value}" if isinstance(value, str) and kind == "Stata" else f"code {_cell_text(value)}"))
                if is_missing else None
                for value, is_missing in zip(series.tolist(), missing, strict=True)
            ]
            reasons[name] = pa.array(why, pa.string())
            raw_text = raw_text.where(~missing, "")
        if labels:
            label_of = {text: _label_text(labels, value) for value, text in zip(series.tolist(), raw_text.tolist(), strict=True) if text}
            labelled = raw_text.map(lambda text: label_of.get(text) or text)
            codes[name] = pa.array(raw_text.to_numpy(dtype=object), pa.string())
            raw_text = labelled
        columns[name] = pa.array(raw_text.astype(str).to_numpy(dtype=object), pa.string())
    raw = RawTable(
        path=path, table=pa.table(columns), source_rows=np.arange(1, len(frame) + 1, dtype=np.int64),
        encoding=getattr(meta, "file_encoding", None), missing_reasons=reasons, codes=codes,
    )
    return _require_rows(raw, rows_required=rows_required)


# ---------------------------------------------------------------------------------- mappings


@dataclass(frozen=True)
class FileMapping:
    """A partner file's mapping to the canonical template (``<stem>.mapping.yaml``).

    Attributes
    ----------
    path : Path
    table : str, optional
        ``activity``, ``worker``, ``supervision`` or ``cost``; None when the YAML does not say
        (the file's place decides, ``activity`` under ``activities/``).
    encoding, sheet, date_format, delimiter : str, optional
        Reading options (``delimiter`` is an addition to the documented keys: ``;`` for French
        Excel CSV; sniffed when absent).
    columns : dict, optional
        Canonical column → the file's column; None means the file already uses canonical names.
    codes : dict
        Canonical column → {the file's code or value label → canonical code}.
    constants : dict
        Canonical column → one value for the whole file.
    """

    path: Path
    table: str | None = None
    encoding: str | None = None
    sheet: str | None = None
    date_format: str | None = None
    delimiter: str | None = None
    columns: dict[str, str] | None = None
    codes: dict[str, dict[str, str]] = field(default_factory=dict)
    constants: dict[str, str] = field(default_factory=dict)


_MAPPING_KEYS = ("table", "encoding", "sheet", "date_format", "delimiter", "columns", "codes", "constants")


def _scalar_text(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def load_mapping(path: Path) -> FileMapping:
    """Read and check a mapping YAML (its shape; the columns are checked against the file later).

    Raises
    ------
    InputError
        Not valid YAML, an unknown key, a wrongly shaped section, an unknown encoding.
    """
    path = Path(path)
    try:
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise InputError(path, "mapping is not UTF-8", detail="Save the mapping YAML as UTF-8") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" near line {mark.line + 1}" if mark is not None else ""
        raise InputError(path, "mapping is not valid YAML", detail=f"Syntax error{where}") from None
    if spec is None:
        raise InputError(path, "empty file", detail="The mapping YAML is empty")
    if not isinstance(spec, dict):
        raise InputError(path, "mapping is not a YAML mapping", detail="Write `key: value` lines (see docs/data-layout.md)")
    unknown = [str(key) for key in spec if key not in _MAPPING_KEYS]
    if unknown:
        raise InputError(path, "unknown mapping key", column=unknown[0], detail=f"Allowed keys: {', '.join(_MAPPING_KEYS)}")

    def section(name: str) -> dict[str, Any]:
        value = spec.get(name) or {}
        if not isinstance(value, dict):
            raise InputError(path, "mapping section is not a mapping", column=name, detail="Write `canonical: value` lines")
        return value

    columns = {str(key): _scalar_text(value).strip() for key, value in section("columns").items()} if "columns" in spec else None
    codes: dict[str, dict[str, str]] = {}
    for column, pairs in section("codes").items():
        if not isinstance(pairs, dict):
            raise InputError(path, "mapping section is not a mapping", column=f"codes.{column}", detail="Write `'partner code': canonical_code` lines")
        codes[str(column)] = {_scalar_text(key): _scalar_text(value) for key, value in pairs.items()}
    constants = {str(key): _scalar_text(value) for key, value in section("constants").items()}
    encoding = spec.get("encoding")
    if encoding is not None:
        try:
            codecs.lookup(str(encoding))
        except LookupError:
            raise InputError(path, "unknown encoding", column="encoding", detail=f"'{encoding}' is not an encoding name (utf-8, utf-8-sig, cp1252, ...)") from None
    delimiter = spec.get("delimiter")
    if delimiter is not None and len(str(delimiter)) != 1:
        raise InputError(path, "delimiter must be one character", column="delimiter")
    date_format = spec.get("date_format")
    if date_format is not None and "%" not in str(date_format):
        raise InputError(path, "date_format is not a strptime format", column="date_format", detail="For example \"%d/%m/%Y\"")
    return FileMapping(
        path=path,
        table=str(spec["table"]) if spec.get("table") is not None else None,
        encoding=str(encoding) if encoding is not None else None,
        sheet=str(spec["sheet"]) if spec.get("sheet") is not None else None,
        date_format=str(date_format) if date_format is not None else None,
        delimiter=str(delimiter) if delimiter is not None else None,
        columns=columns,
        codes=codes,
        constants=constants,
    )


def mapping_path_for(path: Path) -> Path | None:
    """The ``<stem>.mapping.yaml`` (or ``.yml``) beside a data file, if any."""
    for suffix in _MAPPING_SUFFIXES:
        candidate = path.with_name(path.stem + suffix)
        if candidate.is_file():
            return candidate
    return None


# ---------------------------------------------------------------------------------- table specs


@dataclass(frozen=True)
class ColumnSpec:
    """One canonical column: its type (string, int, float, date, bool, month), code list, requirement."""

    name: str
    kind: str
    enum: str | None = None
    required: bool = False


@dataclass(frozen=True)
class TableSpec:
    """The canonical columns of a staged table, and whether a file of it may hold no rows."""

    name: str
    columns: tuple[ColumnSpec, ...]
    rows_required: bool = True
    provenance: bool = True  # add source_file and source_row

    @property
    def names(self) -> list[str]:
        return [column.name for column in self.columns]


#: Registry tables a file may legitimately leave empty (a quiet period); others need rows.
_MAY_BE_EMPTY = {"activity", "supervision"}


def registry_spec(codebook: Codebook, table: str) -> TableSpec:
    """The registry template of ``table`` (``registry.yaml``)."""
    columns = tuple(
        ColumnSpec(name, str(spec["type"]), spec.get("enum"), bool(spec.get("required", False)))
        for name, spec in codebook.registry[table].items()
    )
    return TableSpec(table, columns, rows_required=table not in _MAY_BE_EMPTY)


def model_spec(codebook: Codebook, table: str, *, provenance: bool = True) -> TableSpec:
    """The harmonised model's columns of ``table`` (``model.yaml``): reference and cost files."""
    columns = tuple(
        ColumnSpec(name, str(spec["type"]), spec.get("enum"), bool(spec.get("required", False)))
        for name, spec in codebook.columns(table).items()
    )
    return TableSpec(table, columns, rows_required=True, provenance=provenance)


# ---------------------------------------------------------------------------------- canonical tables


def read_table_file(path: Path, *, mapping: FileMapping | None, rows_required: bool, hint: str = "") -> RawTable:
    """Read any supported data file as strings, with the mapping's reading options."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return read_csv_strings(
            path, encoding=mapping.encoding if mapping else None, delimiter=mapping.delimiter if mapping else None,
            hint=hint, rows_required=rows_required,
        )
    if suffix == ".xlsx":
        return read_xlsx_strings(path, sheet=mapping.sheet if mapping else None, rows_required=rows_required)
    if suffix in {".sav", ".zsav", ".dta"}:
        return read_stat_strings(path, encoding=mapping.encoding if mapping else None, rows_required=rows_required)
    raise InputError(path, "unsupported file format", detail="Send CSV, XLSX, SPSS .sav or Stata .dta")


def _apply_codes(raw: RawTable, partner_column: str, values: pa.Array, codes: dict[str, str]) -> pa.Array:
    """Map a partner's codes: by the cell (a value label when labelled), then by the raw code."""
    cells = blank_to_null(values)
    candidates = [map_values(cells, codes, keep_unmapped=False)]
    if partner_column in raw.codes:
        candidates.append(map_values(raw.codes[partner_column], codes, keep_unmapped=False))
    return pc.coalesce(*candidates, cells)


def canonical_strings(
    raw: RawTable, spec: TableSpec, mapping: FileMapping | None, *, relative: str
) -> tuple[pa.Table, dict[str, str]]:
    """Rename a file's columns and codes to the canonical template (still strings).

    Returns
    -------
    table : pyarrow.Table
        The canonical columns in template order, ``<column>__missing_reason`` companions,
        ``source_file``, ``source_row`` and the file's date format (internal).
    aliases : dict
        Canonical column → the file's own column name (for messages).

    Raises
    ------
    InputError
        The mapping names a column the file lacks or a column the template does not have, or a
        required column is neither in the file nor mapped nor set.
    """
    n_rows = raw.num_rows
    canonical = set(spec.names)
    hint = f"Map it in {raw.path.stem}.mapping.yaml (`columns:`) or set it (`constants:`)"
    if mapping is not None:
        for section, names in (("columns", mapping.columns or {}), ("codes", mapping.codes), ("constants", mapping.constants)):
            for name in names:
                if name not in canonical:
                    raise InputError(
                        mapping.path, "mapping names a column the template does not have", column=name,
                        detail=f"`{section}:` keys are the canonical columns of '{spec.name}': {', '.join(spec.names)}",
                    )
        both = set(mapping.columns or {}) & set(mapping.constants)
        if both:
            raise InputError(mapping.path, "column both mapped and set as a constant", column=sorted(both)[0])
    if mapping is not None and mapping.columns is not None:
        own = dict(mapping.columns)
        for name, partner in own.items():
            if partner not in raw.columns:
                raise InputError(
                    mapping.path, "mapping names a column the file does not have", column=partner,
                    detail=f"{raw.path.name} has no column '{partner}' (mapped to {name}); correct `columns:` in the mapping",
                )
    else:
        own = {name: name for name in spec.names if name in raw.columns}
    constants = mapping.constants if mapping is not None else {}
    for column in spec.columns:
        if column.required and column.name not in own and column.name not in constants:
            raise InputError(
                raw.path, "required column missing", column=column.name,
                detail=hint if mapping is not None else f"The template of '{spec.name}' requires it. {hint}",
            )
    ignored = [name for name in raw.columns if name not in own.values()]
    if ignored:
        log.info("%s: %d column(s) not in the template were left out", relative, len(ignored))
    columns: dict[str, pa.Array] = {}
    for column in spec.columns:
        if column.name in own:
            values = raw.table[own[column.name]]
        elif column.name in constants:
            values = pa.array([constants[column.name]] * n_rows, pa.string())
        else:
            values = pa.nulls(n_rows, pa.string())
        codes = mapping.codes.get(column.name) if mapping is not None else None
        columns[column.name] = _apply_codes(raw, own.get(column.name, ""), values, codes) if codes else blank_to_null(values)
    for name, partner in own.items():
        if partner in raw.missing_reasons:
            columns[name + MISSING_REASON_SUFFIX] = raw.missing_reasons[partner]
    columns["source_file"] = pa.array([relative] * n_rows, pa.string())
    columns["source_row"] = pa.array(raw.source_rows, pa.int64())
    date_format = mapping.date_format if mapping is not None else None
    columns[_DATE_FORMAT_COLUMN] = pa.array([date_format] * n_rows, pa.string())
    return pa.table(columns), own


def _empty_strings(spec: TableSpec) -> pa.Table:
    names = [*spec.names, "source_file", _DATE_FORMAT_COLUMN]
    columns = {name: pa.array([], pa.string()) for name in names}
    columns["source_row"] = pa.array([], pa.int64())
    return pa.table(columns)


def type_table(
    table: pa.Table, spec: TableSpec, *, codebook: Codebook, locator: RowLocator
) -> pd.DataFrame:
    """Type a canonical string table from its spec (codes checked against the codebook).

    Returns
    -------
    DataFrame
        Canonical columns (date → datetime64[ns], int → Int64, float → Float64, bool → boolean,
        string → string), then ``<column>__missing_reason`` columns, then ``source_file`` and
        ``source_row`` when the spec keeps provenance.
    """
    formats = table[_DATE_FORMAT_COLUMN] if _DATE_FORMAT_COLUMN in table.column_names else None
    out: dict[str, pa.Array] = {}
    for column in spec.columns:
        values = table[column.name]
        if column.kind == "date":
            out[column.name] = to_date(values, locator=locator, column=column.name, formats=formats)
        elif column.kind == "int":
            out[column.name] = to_int(values, locator=locator, column=column.name)
        elif column.kind == "float":
            out[column.name] = to_float(values, locator=locator, column=column.name)
        elif column.kind == "bool":
            out[column.name] = to_bool(values, locator=locator, column=column.name)
        elif column.enum:
            out[column.name] = check_codes(
                values, codebook.codes(column.enum), locator=locator, column=column.name, list_name=column.enum
            )
        else:
            out[column.name] = blank_to_null(values)
    for name in table.column_names:
        if name.endswith(MISSING_REASON_SUFFIX):
            out[name] = blank_to_null(table[name])
    if spec.provenance:
        out["source_file"] = blank_to_null(table["source_file"])
        out["source_row"] = table["source_row"]
    return to_frame(out)


@dataclass
class _Gathered:
    tables: list[pa.Table] = field(default_factory=list)
    aliases: dict[str, dict[str, str]] = field(default_factory=dict)


def _is_ignored(path: Path) -> bool:
    """Editor droppings (``~$book.xlsx`` lock files, ``.DS_Store``): copied, never read."""
    return path.name.startswith(("~$", "."))


class TabularFilesSource(Source):
    """A folder of tabular files (CSV, XLSX, SPSS, Stata), each with an optional mapping YAML.

    Subclasses list their :attr:`tables`, say which table a file holds by default
    (:meth:`table_of`) and where each table's canonical columns come from (:meth:`spec`).
    """

    #: The tables this source stages.
    tables: ClassVar[tuple[str, ...]]
    #: Tables that must come from at least one file.
    required_tables: ClassVar[tuple[str, ...]] = ()

    def table_of(self, relative: Path) -> str | None:
        """The table a data file holds when its mapping does not say (None: cannot tell)."""
        raise NotImplementedError

    def spec(self, table: str, codebook: Codebook) -> TableSpec:
        raise NotImplementedError

    def expected_file(self, table: str) -> str:
        """The file name a required table is expected in (for the missing-file message)."""
        return f"{table}.csv"

    def _data_files(self, raw_dir: Path) -> tuple[list[Path], list[Path]]:
        files = sorted(path for path in raw_dir.rglob("*") if path.is_file() and path.name != "manifest.json")
        data, mappings = [], []
        for path in files:
            if _is_ignored(path):
                continue
            lower = path.name.lower()
            if lower.endswith(_MAPPING_SUFFIXES):
                mappings.append(path)
            elif path.suffix.lower() in DATA_SUFFIXES:
                data.append(path)
            elif path.suffix.lower() in _UNSUPPORTED_SUFFIXES:
                raise InputError(path, "unsupported file format", detail=_UNSUPPORTED_SUFFIXES[path.suffix.lower()])
        return data, mappings

    def stage(self, raw_dir: Path, *, codebook: Codebook, settings: Settings) -> Staged:
        raw_dir = Path(raw_dir)
        data_files, mapping_files = self._data_files(raw_dir)
        gathered: dict[str, _Gathered] = {table: _Gathered() for table in self.tables}
        file_rows: dict[str, int] = {}
        if not data_files:
            raise InputError(raw_dir, "no data file", detail=f"The {self.folder}/ folder holds no CSV, XLSX, .sav or .dta file")
        mapping_of = {path: mapping_path_for(path) for path in data_files}
        used_mappings = {mapping for mapping in mapping_of.values() if mapping is not None}
        orphans = [path for path in mapping_files if path not in used_mappings]
        if orphans:  # checked first: its data file was probably renamed, and would be misread
            raise InputError(
                orphans[0], "mapping without its data file",
                detail="A mapping applies to the data file with the same stem (T13-02.xlsx ↔ T13-02.mapping.yaml)",
            )
        for path in data_files:
            relative = path.relative_to(raw_dir).as_posix()
            mapping_path = mapping_of[path]
            mapping = load_mapping(mapping_path) if mapping_path is not None else None
            table = (mapping.table if mapping is not None else None) or self.table_of(Path(relative))
            if table is None:
                raise InputError(
                    path, "cannot tell which table the file holds",
                    detail=f"Name it as the template does or add {path.stem}.mapping.yaml with `table:` "
                    f"({', '.join(self.tables)})",
                )
            if table not in self.tables:
                raise InputError(
                    mapping.path if mapping is not None else path, "unknown table", column="table",
                    detail=f"'{table}' is not a table of {self.folder}/ ({', '.join(self.tables)})",
                )
            spec = self.spec(table, codebook)
            hint = f"Save it as UTF-8, or declare `encoding:` in {path.stem}.mapping.yaml"
            raw = read_table_file(path, mapping=mapping, rows_required=spec.rows_required, hint=hint)
            canonical, aliases = canonical_strings(raw, spec, mapping, relative=relative)
            gathered[table].tables.append(canonical)
            gathered[table].aliases[relative] = aliases
            file_rows[relative] = raw.num_rows
            log.info("%s: %d rows read for table %s", relative, raw.num_rows, table)
        staged = Staged(file_rows=file_rows)
        for table in self.tables:
            spec = self.spec(table, codebook)
            parts = gathered[table].tables
            if not parts and table in self.required_tables:
                raise InputError(raw_dir / self.expected_file(table), "required file missing", detail=f"The {self.folder}/ folder needs it")
            combined = pa.concat_tables(parts, promote_options="default") if parts else _empty_strings(spec)
            locator = RowLocator(
                path=raw_dir, rows=_as_int_array(combined["source_row"]), files=_as_string_array(combined["source_file"]),
                aliases=gathered[table].aliases,
            )
            staged[table] = type_table(combined, spec, codebook=codebook, locator=locator)
        return staged


def _as_int_array(values: pa.ChunkedArray | pa.Array) -> pa.Array:
    return values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values


def _as_string_array(values: pa.ChunkedArray | pa.Array) -> pa.Array:
    return values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values


class RegistryFilesSource(TabularFilesSource):
    """The PTP activity registry: ``workers.csv``, ``supervision.csv``, ``activities/*``.

    Staged tables ``activity``, ``worker`` and ``supervision`` (registry.yaml columns, typed, plus
    ``source_file`` and ``source_row``); a table without files is staged empty.
    """

    name = "registry"
    folder = "registry"
    tables = ("activity", "worker", "supervision")

    def table_of(self, relative: Path) -> str | None:
        if relative.parts[0] == "activities" and len(relative.parts) > 1:
            return "activity"
        stem = relative.stem.lower()
        if stem.startswith(("worker", "ptp")):
            return "worker"
        if stem.startswith("supervision"):
            return "supervision"
        if stem.startswith(("activit", "registre")):
            return "activity"
        return None

    def spec(self, table: str, codebook: Codebook) -> TableSpec:
        return registry_spec(codebook, table)


class CostFilesSource(TabularFilesSource):
    """Program costs: ``costs/costs.csv`` (and any other file of the folder, with a mapping)."""

    name = "cost"
    folder = "costs"
    tables = ("cost",)
    required_tables = ("cost",)

    def table_of(self, relative: Path) -> str | None:
        return "cost"

    def expected_file(self, table: str) -> str:
        return "costs.csv"

    def spec(self, table: str, codebook: Codebook) -> TableSpec:
        return model_spec(codebook, table)


class ReferenceFilesSource(TabularFilesSource):
    """Reference tables: ``regions.csv``, ``territories.csv``, ``organisations.csv`` (all required).

    Staged tables ``region``, ``territory``, ``organisation`` with exactly the model's columns.
    """

    name = "reference"
    folder = "reference"
    tables = ("region", "territory", "organisation")
    required_tables = ("region", "territory", "organisation")
    _files: ClassVar[dict[str, str]] = {"regions": "region", "territories": "territory", "organisations": "organisation"}

    def table_of(self, relative: Path) -> str | None:
        return self._files.get(relative.stem.lower())

    def expected_file(self, table: str) -> str:
        return {value: key for key, value in self._files.items()}[table] + ".csv"

    def spec(self, table: str, codebook: Codebook) -> TableSpec:
        return model_spec(codebook, table, provenance=False)


# ---------------------------------------------------------------------------------- REDCap export

_REDCAP_HINT = "REDCap exports UTF-8: export the file again from REDCap and do not re-save it in Excel"


def _read_redcap_csv(path: Path, *, rows_required: bool = True) -> pd.DataFrame:
    raw = read_csv_strings(path, hint=_REDCAP_HINT, rows_required=rows_required)
    return raw.table.to_pandas()


#: The project files of a REDCap export folder, by :meth:`RedcapProject.from_frames` argument.
_PROJECT_FILES = {
    "events": "events.csv",
    "form_event_mapping": "form_event_mapping.csv",
    "repeating_forms_events": "repeating_forms_events.csv",
    "dags": "dags.csv",
}


def read_redcap_project(raw_dir: Path, *, codebook: Codebook) -> tuple[RedcapProject, dict[str, int]]:
    """The project of a REDCap export folder: its data dictionary and the optional project files.

    ``events.csv``, ``form_event_mapping.csv`` and ``repeating_forms_events.csv`` fall back to the
    codebook's cohort project when absent; without ``dags.csv`` the DAG column is not checked;
    ``project.json`` (REDCap's project information), when present, gives the missing-data codes.

    Returns
    -------
    project : RedcapProject
    file_rows : dict
        Rows read per file.
    """
    raw_dir = Path(raw_dir)
    rows: dict[str, int] = {}
    dictionary_path = raw_dir / "data_dictionary.csv"
    if not dictionary_path.is_file():
        raise InputError(dictionary_path, "required file missing", detail="Export the data dictionary with the records")
    dictionary = _read_redcap_csv(dictionary_path)
    rows[dictionary_path.name] = len(dictionary)
    frames: dict[str, pd.DataFrame] = {}
    paths: dict[str, str | Path] = {"metadata": dictionary_path}
    for argument, name in _PROJECT_FILES.items():
        path = raw_dir / name
        if path.is_file():
            # Events and the form mapping define the project: they cannot be empty.
            frames[argument] = _read_redcap_csv(path, rows_required=argument in {"events", "form_event_mapping"})
            rows[name] = len(frames[argument])
            paths[argument] = path
    if "dags" not in frames:
        log.warning("REDCap export without dags.csv: data access groups are not checked")
    if (raw_dir / "arms.csv").is_file():
        rows["arms.csv"] = len(_read_redcap_csv(raw_dir / "arms.csv", rows_required=False))
    missing_data_codes = None
    info_path = raw_dir / "project.json"
    if info_path.is_file():
        # Project information (REDCap's content=project): only its missing-data codes matter here.
        try:
            info = json.loads(info_path.read_text(encoding="utf-8-sig"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise InputError(info_path, "not a readable JSON file", detail="Export the project information again from REDCap") from None
        if isinstance(info, list):  # the API's JSON export may be a one-item list
            info = info[0] if info else {}
        if not isinstance(info, dict):
            raise InputError(info_path, "not a project information export", detail="Expected a JSON object")
        missing_data_codes = str(info.get("missing_data_codes") or "")
        paths["info"] = info_path
    project = RedcapProject.from_frames(
        dictionary, codebook=codebook, paths=paths, missing_data_codes=missing_data_codes, **frames
    )
    return project, rows


class RedcapExportSource(Source):
    """A REDCap project exported to files (``redcap/``): data dictionary, records and project files.

    Staged tables: one per form (famille, enfant, suivi, besoin, reference, sortie for the cohort
    project); see :func:`proximite.cohort.redcap.records.stage_records`.
    """

    name = "redcap"
    folder = "redcap"

    def stage(self, raw_dir: Path, *, codebook: Codebook, settings: Settings) -> Staged:
        raw_dir = Path(raw_dir)
        project, file_rows = read_redcap_project(raw_dir, codebook=codebook)
        records_path = raw_dir / "records.csv"
        if not records_path.is_file():
            raise InputError(records_path, "required file missing", detail="Export the records (type=flat, rawOrLabel=raw)")
        records = read_csv_strings(records_path, hint=_REDCAP_HINT, rows_required=True)
        file_rows["records.csv"] = records.num_rows
        tables = stage_records(
            records.table, project, event_waves=settings.event_waves, path=records_path, source_rows=records.source_rows
        )
        log.info("REDCap export: %d records rows staged into %d forms", records.num_rows, len(tables))
        return Staged(tables, file_rows=file_rows)
