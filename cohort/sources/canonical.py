"""Canonical tables: the template's column specs, a partner file mapped onto them, then typed."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from proximite.errors import InputError
from proximite.cohort.sources.coerce import (
    blank_to_null,
    check_codes,
    map_values,
    to_bool,
    to_date,
    to_float,
    to_frame,
    to_int,
)
from proximite.cohort.sources.rows import RowLocator
from proximite.cohort.sources.mappings import FileMapping
from proximite.cohort.sources.stat_files import read_stat_strings
from proximite.cohort.sources.tabular import RawTable, read_csv_strings, read_xlsx_strings

if TYPE_CHECKING:  # pragma: no cover
    from proximite.cohort.codebook import Codebook

__all__ = [
    "DATE_FORMAT_COLUMN",
    "MISSING_REASON_SUFFIX",
    "ColumnSpec",
    "TableSpec",
    "canonical_strings",
    "empty_strings",
    "model_spec",
    "read_table_file",
    "registry_spec",
    "type_table",
]

log = logging.getLogger(__name__)

#: Suffix of the companion column holding a user-missing value's reason.
MISSING_REASON_SUFFIX = "__missing_reason"
#: Column holding the mapping's date format while the strings are typed.
DATE_FORMAT_COLUMN = "__date_format"


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
    columns[DATE_FORMAT_COLUMN] = pa.array([date_format] * n_rows, pa.string())
    return pa.table(columns), own


def empty_strings(spec: TableSpec) -> pa.Table:
    """A canonical table of strings with no row (the columns of ``spec``)."""
    names = [*spec.names, "source_file", DATE_FORMAT_COLUMN]
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
    formats = table[DATE_FORMAT_COLUMN] if DATE_FORMAT_COLUMN in table.column_names else None
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
