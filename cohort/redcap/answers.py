"""REDCap's CSV answers read as tables of strings, checked to be the CSV asked for.

Errors by cause: REDCap's out-of-memory page (HTTP 200 with PHP's error) and a body cut short
raise :class:`~proximite.cohort.redcap.errors.TransientError` (another try may cure them); a
complete answer that is not what was asked for (another web page, JSON, not UTF-8, a missing or
repeated column) raises :class:`~proximite.cohort.redcap.errors.AnswerError`: another try would
get the same answer.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pv

from proximite.cohort.redcap.errors import AnswerError, TransientError

__all__ = ["parse_csv_body", "string_frame"]


#: What to check when the answer is not REDCap's API answering (a web page, a missing column).
NOT_THE_API = (
    "check that the URL is your REDCap's API address (it ends in /api/) and that no login page or proxy "
    "answers in REDCap's place"
)


def _body_problem(data: bytes) -> None:
    """Raise when an answer is not a CSV body: REDCap's out-of-memory page, another page, JSON.

    Only the start of the body is looked at: a REDCap CSV starts with its header, never with
    ``<`` or ``{``, so a value that mentions memory further down is never mistaken for an error.
    """
    head = data[:8192].lstrip()
    if head.startswith(b"<"):
        lowered = head.lower()
        if b"allowed memory size" in lowered or b"out of memory" in lowered or b"memory exhausted" in lowered:
            raise TransientError("REDCap ran out of memory (an HTML error page instead of the CSV)")
        raise AnswerError(f"the answer is an HTML or XML page, not the CSV asked for: {NOT_THE_API}")
    if head.startswith((b"{", b"[")):
        raise AnswerError(f"the answer is JSON, not the CSV asked for: {NOT_THE_API}")


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
        The body is REDCap's out-of-memory page, or was cut short (rows with the wrong number of
        fields, unreadable CSV).
    AnswerError
        The body is another page or JSON, is not UTF-8, lacks a required column, repeats a
        column, or is empty when it may not be.
    """
    _body_problem(data)
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if not data.strip():
        if allow_empty:
            return pa.table({name: pa.array([], pa.string()) for name in required})
        raise AnswerError("the answer is empty where REDCap always sends rows")
    try:
        header_line = data.split(b"\n", 1)[0].decode("utf-8").rstrip("\r")
    except UnicodeDecodeError:
        raise AnswerError(f"the answer is not UTF-8 text, as REDCap's always is: {NOT_THE_API}") from None
    names = next(csv.reader(io.StringIO(header_line)), [])
    names = [name.strip() for name in names]
    missing = [name for name in required if name not in names]
    if missing:
        raise AnswerError(
            f"the answer has no {', '.join(missing)} field, which REDCap always sends: {NOT_THE_API}"
        )
    if len(set(names)) != len(names):
        raise AnswerError(f"the answer's header repeats a column, which REDCap never does: {NOT_THE_API}")
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

