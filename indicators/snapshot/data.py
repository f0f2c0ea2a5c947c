"""The snapshot's data files: ``indicators.csv`` and ``indicators.json``.

Both hold the disclosed table the page was made from (the same numbers the page shows, before
formatting): the indicator columns, ``suppressed`` and ``suppression``, plus ``label``, the
indicator's label in the snapshot's language. Dates are written as ``YYYY-MM-DD``; a missing
number is an empty CSV cell and a JSON ``null``. The CSV is UTF-8 with a byte-order mark so that
spreadsheet programs read its accents right; readers that are not spreadsheets skip the mark
(``pandas.read_csv`` does).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from proximite.indicators.snapshot.base import FormatContext, SnapshotFormat

__all__ = ["SUPPRESSED_MARK", "CsvFormat", "JsonFormat", "export_frame"]

DATE_COLUMNS = ("period_start", "period_end")


#: The one mark every hidden cell carries in a public snapshot's data files.
SUPPRESSED_MARK = "suppressed"


def export_frame(table: pd.DataFrame, *, context: FormatContext) -> pd.DataFrame:
    """The disclosed table as the data files hold it: dates as ISO text, plus ``label`` (a new frame).

    In a public snapshot every hidden cell carries the same ``suppression`` mark
    (:data:`SUPPRESSED_MARK`): which rule hid it (a small count, or a cell that would give one away)
    would tell a reader that a cell holds 1 to 4 people, and with sibling zeros pin it down.
    """
    frame = table.reset_index(drop=True).copy()
    if context.snapshot.level == "public" and "suppression" in frame.columns:
        hidden = frame["suppressed"].astype("boolean").fillna(False).to_numpy(dtype=bool)
        frame["suppression"] = pd.array(np.where(hidden, SUPPRESSED_MARK, ""), dtype="string")
    for column in DATE_COLUMNS:
        if column in frame.columns:
            dates = pd.to_datetime(frame[column])
            frame[column] = dates.dt.strftime("%Y-%m-%d").astype("string")
    lang = context.snapshot.lang
    labels = {indicator: context.codebook.indicator_label(indicator, lang=lang) for indicator in frame["indicator"].dropna().unique()}
    frame["label"] = frame["indicator"].map(labels).astype("string")
    return frame


class CsvFormat(SnapshotFormat):
    """``indicators.csv``: the disclosed table, one row per indicator cell."""

    name = "csv"
    file_name = "indicators.csv"

    def write(self, table: pd.DataFrame, out_dir: Path, *, context: FormatContext) -> list[Path]:
        path = out_dir / self.file_name
        export_frame(table, context=context).to_csv(path, index=False, encoding="utf-8-sig", lineterminator="\n")
        return [path]


def _json_columns(frame: pd.DataFrame) -> list[list[Any]]:
    """Each column as a list of JSON-ready Python values (missing → None), built per column."""
    columns = []
    for name in frame.columns:
        series = frame[name]
        if pd.api.types.is_bool_dtype(series.dtype) and not series.isna().any():
            columns.append(series.astype(bool).tolist())
        elif pd.api.types.is_integer_dtype(series.dtype) or pd.api.types.is_float_dtype(series.dtype):
            values = series.astype("Float64").to_numpy(dtype="float64", na_value=np.nan).tolist()
            integer = pd.api.types.is_integer_dtype(series.dtype)
            columns.append([None if math.isnan(v) else (int(v) if integer else v) for v in values])
        else:
            columns.append(series.astype(object).where(series.notna(), None).tolist())
    return columns


class JsonFormat(SnapshotFormat):
    """``indicators.json``: ``{"columns": [...], "rows": [[value, ...], ...]}``, rows in column order.

    Rows are arrays rather than objects so that a province snapshot (~10⁵ cells) stays a few
    tens of megabytes; ``pandas.DataFrame(doc["rows"], columns=doc["columns"])`` reads it back.
    """

    name = "json"
    file_name = "indicators.json"

    def write(self, table: pd.DataFrame, out_dir: Path, *, context: FormatContext) -> list[Path]:
        frame = export_frame(table, context=context)
        rows = zip(*_json_columns(frame))
        path = out_dir / self.file_name
        with path.open("w", encoding="utf-8") as handle:
            # One row per line: readable, diffable, and compact.
            handle.write('{"columns": ' + json.dumps(list(frame.columns), ensure_ascii=False) + ',\n "rows": [\n')
            handle.write(",\n".join(json.dumps(list(row), ensure_ascii=False, allow_nan=False) for row in rows))
            handle.write("\n]}\n")
        return [path]
