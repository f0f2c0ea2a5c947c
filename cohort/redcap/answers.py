"""REDCap's CSV answers read as tables of strings, checked to be the CSV asked for.

A body that is an error page (REDCap's out-of-memory answer is HTTP 200 with an HTML page), is
not UTF-8, was cut short or lacks a column raises
:class:`~proximite.cohort.redcap.errors.TransientError`: another try may cure it.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pv

from proximite.cohort.redcap.errors import TransientError

__all__ = ["parse_csv_body", "string_frame"]


def _body_problem(data: bytes) -> str | None:
    """Why an answer is not a CSV body (REDCap's out-of-memory page, an error), else None.

    Only the start of the body is looked at: a REDCap CSV starts with its header, never with
    ``<`` or ``{``, so a value that mentions memory further down is never mistaken for an error.
    """
    head = data[:8192].lstrip()
    if head.startswith(b"<"):
        lowered = head.lower()
        if b"allowed memory size" in lowered or b"out of memory" in lowered or b"memory exhausted" in lowered:
            return "REDCap ran out of memory (an HTML error page instead of the CSV)"
        return "an HTML or XML page instead of the CSV asked for"
    if head.startswith((b"{", b"[")):
        return "a JSON answer (an error?) instead of the CSV asked for"
    return None


def parse_csv_body(data: bytes, *, required: Sequence[str] = (), allow_empty: bool = True) -> pa.Table:
    """A CSV answer as a table of strings (nothing inferred, ``""`` for an empty cell).

    Parameters
    ----------
    data : bytes
        The body as received.
    required : sequence of str, keyword-only
        Columns the header must have.
    allow_empty : bool, keyword-only
        Whether an empty body (no header at all) is a valid answer.

    Raises
    ------
    TransientError
        The body is an error page, not UTF-8 CSV, has rows with the wrong number of fields (cut
        short), lacks a required column, or is empty when it may not be.
    """
    problem = _body_problem(data)
    if problem:
        raise TransientError(problem)
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if not data.strip():
        if allow_empty:
            return pa.table({name: pa.array([], pa.string()) for name in required})
        raise TransientError("an empty answer")
    try:
        header_line = data.split(b"\n", 1)[0].decode("utf-8").rstrip("\r")
    except UnicodeDecodeError:
        raise TransientError("an answer that is not UTF-8 text") from None
    names = next(csv.reader(io.StringIO(header_line)), [])
    names = [name.strip() for name in names]
    missing = [name for name in required if name not in names]
    if missing:
        raise TransientError(f"an answer without the column(s) {', '.join(missing)}")
    if len(set(names)) != len(names):
        raise TransientError("an answer whose header repeats a column")
    bad_rows = 0

    def on_bad_row(row: Any) -> str:
        nonlocal bad_rows
        bad_rows += 1
        return "skip"

    try:
        table = pv.read_csv(
            pa.BufferReader(data),
            read_options=pv.ReadOptions(column_names=names, skip_rows=1, use_threads=True),
            parse_options=pv.ParseOptions(newlines_in_values=True, invalid_row_handler=on_bad_row),
            convert_options=pv.ConvertOptions(
                column_types={name: pa.string() for name in names},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
                null_values=[],
            ),
        )
    except (pa.ArrowInvalid, UnicodeDecodeError):
        # pyarrow's messages quote the offending row: never pass them on.
        raise TransientError("an answer that is not readable CSV (cut short?)") from None
    if bad_rows:
        raise TransientError(f"an answer with {bad_rows} row(s) of the wrong length (cut short?)")
    return table


def string_frame(table: pa.Table) -> pd.DataFrame:
    """A string table as a pandas frame of Python strings (what ``RedcapProject.from_frames`` reads)."""
    return pd.DataFrame({name: table[name].to_pylist() for name in table.column_names}, dtype=object)

