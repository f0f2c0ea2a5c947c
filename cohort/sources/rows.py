"""Rows of the string tables the readers make: where each comes from, and the error that names it.

:func:`fail_where` raises the :class:`~proximite.errors.InputError` of the first failing row (file,
row, column as the partner named it, rule); the typing functions of
:mod:`proximite.cohort.sources.coerce` work on :func:`distinct_values`.

Inside :func:`collecting_defects`, :func:`fail_where` raises nothing: it records every failing
row as a :class:`Defect` and the typing goes on (a failing cell becomes missing), so that one
refusal lists every defect of a file at once (REDCap staging does this).
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from proximite.errors import InputError

__all__ = [
    "MAX_QUOTE",
    "Defect",
    "DefectLog",
    "RowLocator",
    "active_log",
    "as_array",
    "collecting_defects",
    "distinct_values",
    "fail_where",
]


#: Longest coded value quoted in an error (longer ones are cut).
MAX_QUOTE = 40


@dataclass(frozen=True)
class RowLocator:
    """Where the rows of a table come from, so that an error can name a file and a row.

    Parameters
    ----------
    path : Path
        The file of every row, or the directory that ``files`` are relative to.
    rows : pyarrow.Array
        1-based data row of each row in its file (the header is row 0).
    files : pyarrow.Array, optional
        Relative path of each row's file, when a table gathers several files.
    aliases : mapping, optional
        ``{relative file: {canonical column: the file's own column}}``, to name a partner's
        column as the partner wrote it.
    """

    path: Path
    rows: pa.Array
    files: pa.Array | None = None
    aliases: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    def locate(self, mask: pa.Array) -> tuple[Path, int, int, str | None]:
        """Return ``(file, first row, number of rows, relative file)`` where ``mask`` is true."""
        first = pc.index(mask, True).as_py()
        count = int(pc.sum(mask).as_py() or 0)
        row = int(self.rows[first].as_py())
        if self.files is None:
            return self.path, row, count, None
        relative = str(self.files[first].as_py())
        return self.path / relative, row, count, relative

    def column_label(self, column: str, relative: str | None) -> str:
        """The column as the file names it (``Type → action_type`` when a mapping renamed it)."""
        own = self.aliases.get(relative or "", {}).get(column)
        if own and own != column:
            return f"{own} → {column}"
        return column


@dataclass(frozen=True)
class Defect:
    """One failing cell (or row) of a file, as a refusal report lists it.

    Attributes
    ----------
    file : str
        The file (as received).
    row : int or None
        1-based data row.
    column : str or None
        The column or field, as the file names it.
    rule : str
        The rule broken, in plain words.
    detail : str
        What to fix (never a person's value).
    allowed : str
        The values allowed, when the rule is a list (codes, yes/no, form status).
    value : str or None
        The offending cell, given only for coded, numeric and date cells (never free text).
    """

    file: str
    row: int | None
    column: str | None
    rule: str
    detail: str = ""
    allowed: str = ""
    value: str | None = None


@dataclass
class DefectLog:
    """The defects recorded inside :func:`collecting_defects`, in the order they were found."""

    defects: list[Defect] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.defects)

    def add_rows(
        self,
        bad_rows: np.ndarray,
        *,
        locator: RowLocator,
        column: str,
        rule: str,
        detail: str = "",
        allowed: str = "",
        cells: pa.Array | None = None,
    ) -> None:
        """Record one defect per row of ``bad_rows`` (``cells``: the row's value to report, or None)."""
        positions = np.flatnonzero(bad_rows)
        rows = as_array(locator.rows).to_numpy(zero_copy_only=False)[positions]
        files = as_array(locator.files).to_numpy(zero_copy_only=False)[positions] if locator.files is not None else None
        values = as_array(cells).take(pa.array(positions)).to_pylist() if cells is not None else [None] * len(positions)
        for number, (row, value) in enumerate(zip(rows, values, strict=True)):
            relative = None if files is None else str(files[number])
            path = locator.path if relative is None else locator.path / relative
            self.defects.append(
                Defect(
                    file=str(path), row=int(row), column=locator.column_label(column, relative), rule=rule,
                    detail=detail, allowed=allowed, value=value,
                )
            )


_ACTIVE: contextvars.ContextVar[DefectLog | None] = contextvars.ContextVar("proximite_defect_log", default=None)


def active_log() -> DefectLog | None:
    """The log of the enclosing :func:`collecting_defects`, or None (errors raise at once)."""
    return _ACTIVE.get()


@contextlib.contextmanager
def collecting_defects() -> Iterator[DefectLog]:
    """Record every failing row instead of raising at the first (see the module's docstring).

    Yields
    ------
    DefectLog
        Filled by :func:`fail_where` (and the REDCap checks) until the block ends; the caller
        decides whether to refuse.
    """
    log = DefectLog()
    token = _ACTIVE.set(log)
    try:
        yield log
    finally:
        _ACTIVE.reset(token)


def as_array(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """One contiguous array (a chunked array combined; an empty one typed)."""
    if isinstance(values, pa.ChunkedArray):
        if values.num_chunks == 0:
            return pa.array([], values.type)
        return values.combine_chunks()
    return values


def distinct_values(array: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """Distinct values (null included) and, per row, the index of its value among them."""
    distinct = pc.unique(array)
    index = pc.index_in(array, value_set=distinct, skip_nulls=False)
    return distinct, index.to_numpy(zero_copy_only=False).astype(np.int64, copy=False)


def fail_where(
    bad_rows: np.ndarray,
    *,
    locator: RowLocator,
    column: str,
    rule: str,
    detail: str = "",
    quote: Callable[[int], str | None] | None = None,
    allowed: str = "",
    cells: pa.Array | None = None,
) -> None:
    """Raise an :class:`InputError` for the first of ``bad_rows`` (a boolean row mask).

    ``quote(row index)`` gives the coded value to quote, for code lists only. Inside
    :func:`collecting_defects` every bad row is recorded instead, with ``allowed`` and its cell
    of ``cells`` (the caller passes ``cells`` only for coded, numeric and date columns).
    """
    if not bad_rows.any():
        return
    log = active_log()
    if log is not None:
        log.add_rows(bad_rows, locator=locator, column=column, rule=rule, detail=detail, allowed=allowed, cells=cells)
        return
    path, row, count, relative = locator.locate(pa.array(bad_rows))
    if quote is not None:
        value = quote(int(np.argmax(bad_rows)))
        if value is not None:
            shown = value if len(value) <= MAX_QUOTE else value[:MAX_QUOTE] + "…"
            detail = f"'{shown}' {detail}"
    raise InputError(
        path,
        rule,
        row=row,
        column=locator.column_label(column, relative),
        detail=detail,
        count=count,
    )
