"""Dropping rows from a raw file's bytes: CSV, XLSX, SPSS and Stata, in the file's own format.

Rows are named as the sources number them (``source_row``: the n-th data row after the header,
from 1), or chosen by the value of a key column. Everything else in the file is kept: the header,
the delimiter, the encoding, an XLSX's other sheets, a SPSS file's labels. These functions are
pure (bytes in, bytes out) and never raise with a value of the file.
"""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path

from proximite.errors import ProximiteError

__all__ = ["REDACTABLE_SUFFIXES", "Dropped", "RowTest", "csv_rows", "drop_rows", "rows_numbered", "rows_where"]

REDACTABLE_SUFFIXES = (".csv", ".xlsx", ".sav", ".zsav", ".dta")
#: ``drop(number, cells)``: whether a data row goes (see :func:`drop_rows`).
RowTest = Callable[[int, dict[str, str]], bool]


@dataclass(frozen=True)
class Dropped:
    """A file's new bytes and its data rows before and after."""

    data: bytes
    rows_before: int
    rows_after: int


def drop_rows(
    data: bytes,
    *,
    suffix: str,
    drop: RowTest,
    encoding: str | None = None,
    sheet: str | None = None,
) -> Dropped:
    """The file without the data rows numbered ``rows`` and those whose ``column`` is in ``values``.

    Parameters
    ----------
    data : bytes
        The file as received.
    suffix : str
        Its format (``.csv``, ``.xlsx``, ``.sav``, ``.zsav``, ``.dta``).
    drop : callable, keyword-only
        ``drop(number, cells)`` says whether to drop a data row: ``number`` counts from 1 after
        the header (``source_row`` of the staged tables), ``cells`` maps the header's names to
        the row's values as text. :func:`rows_numbered` and :func:`rows_where` make the usual ones.
    encoding, sheet : str, optional, keyword-only
        A CSV's declared encoding, an XLSX's sheet (its mapping's ``encoding:`` and ``sheet:``).
    """
    suffix = suffix.lower()
    chosen = drop
    if suffix == ".csv":
        return _drop_csv(data, chosen, encoding=encoding)
    if suffix == ".xlsx":
        return _drop_xlsx(data, chosen, sheet=sheet)
    if suffix in {".sav", ".zsav", ".dta"}:
        return _drop_statistical(data, chosen, suffix=suffix)
    raise ProximiteError(f"rows cannot be removed from a '{suffix}' file (only {', '.join(REDACTABLE_SUFFIXES)})")


def csv_rows(data: bytes, *, errors: str = "strict") -> tuple[list[str], list[list[str]]]:
    """A UTF-8 CSV file's header and data rows (a BOM dropped); ``errors`` as for :meth:`bytes.decode`."""
    records = list(csv.reader(io.StringIO(data.decode("utf-8-sig", errors=errors), newline="")))
    return (records[0], records[1:]) if records else ([], [])


def rows_numbered(rows: Collection[int]) -> RowTest:
    """A ``drop`` test for the data rows numbered ``rows`` (from 1 after the header)."""
    chosen = {int(row) for row in rows}
    return lambda number, cells: number in chosen


def rows_where(column: str, values: Collection[str]) -> RowTest:
    """A ``drop`` test for the rows whose ``column`` holds one of ``values`` (as text)."""
    chosen = {str(value) for value in values}
    return lambda number, cells: cells.get(column, "") in chosen


def _dropped(number: int, cells: dict[str, str], chosen: RowTest) -> bool:
    return bool(chosen(number, cells))


def _csv_text(data: bytes, encoding: str | None) -> tuple[str, str]:
    if encoding:
        return data.decode(encoding), encoding
    for candidate in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(candidate), candidate
        except UnicodeDecodeError:
            continue
    raise ProximiteError("the CSV file decodes neither as UTF-8 nor as cp1252")


def _drop_csv(data: bytes, chosen: RowTest, *, encoding: str | None) -> Dropped:
    text, used = _csv_text(data, encoding)
    first_line = text.split("\n", 1)[0]
    outside = "".join(part for index, part in enumerate(first_line.split('"')) if index % 2 == 0)
    delimiter = max((",", ";", "\t"), key=outside.count)
    records = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    if not records:
        return Dropped(data, 0, 0)
    header, body = records[0], records[1:]
    kept = [record for number, record in enumerate(body, start=1) if not _dropped(number, dict(zip(header, record)), chosen)]
    if len(kept) == len(body):
        return Dropped(data, len(body), len(body))
    out = io.StringIO(newline="")
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n" if "\r\n" in first_line + "\n" else "\n")
    writer.writerows([header, *kept])
    # utf-8-sig writes the BOM back only when the file had one
    bom = data.startswith(b"\xef\xbb\xbf")
    encoded = out.getvalue().encode("utf-8" if used == "utf-8-sig" else used)
    return Dropped((b"\xef\xbb\xbf" if bom else b"") + encoded, len(body), len(kept))


def _drop_xlsx(data: bytes, chosen: RowTest, *, sheet: str | None) -> Dropped:
    import openpyxl

    workbook = openpyxl.load_workbook(io.BytesIO(data))
    worksheet = workbook[sheet] if sheet is not None else workbook.worksheets[0]
    header = [str(cell.value) if cell.value is not None else "" for cell in worksheet[1]]
    total = worksheet.max_row - 1
    doomed = []
    for number, row in enumerate(worksheet.iter_rows(min_row=2, values_only=True), start=1):
        cells = {name: "" if value is None else str(value) for name, value in zip(header, row)}
        if _dropped(number, cells, chosen):
            doomed.append(number + 1)  # the sheet's own row number (the header is row 1)
    if not doomed:
        return Dropped(data, total, total)
    for sheet_row in reversed(doomed):  # from the bottom, so the numbers above stay right
        worksheet.delete_rows(sheet_row)
    out = io.BytesIO()
    workbook.save(out)
    return Dropped(out.getvalue(), total, total - len(doomed))


def _drop_statistical(data: bytes, chosen: RowTest, *, suffix: str) -> Dropped:
    import pyreadstat

    # pyreadstat reads and writes paths only: a private folder, removed on the way out.
    with tempfile.TemporaryDirectory(prefix="proximite-redact-") as folder:
        path = Path(folder) / f"file{suffix}"
        path.write_bytes(data)
        reader = pyreadstat.read_dta if suffix == ".dta" else pyreadstat.read_sav
        frame, meta = reader(str(path))
        cells = frame.astype("string").fillna("")
        keep = [
            not _dropped(number, dict(zip(frame.columns, row)), chosen)
            for number, row in enumerate(cells.itertuples(index=False, name=None), start=1)
        ]
        if all(keep):
            return Dropped(data, len(frame), len(frame))
        kept = frame.loc[keep].reset_index(drop=True)
        labels = {"column_labels": meta.column_labels, "variable_value_labels": meta.variable_value_labels}
        if suffix == ".dta":
            pyreadstat.write_dta(kept, str(path), **labels)
        else:
            pyreadstat.write_sav(kept, str(path), compress=suffix == ".zsav", **labels)
        return Dropped(path.read_bytes(), len(frame), len(kept))
