"""Rows of the string tables the readers make: where each comes from, and the error that names it.

:func:`fail_where` raises the :class:`~proximite.errors.InputError` of the first failing row (file,
row, column as the partner named it, rule); the typing functions of
:mod:`proximite.cohort.sources.coerce` work on :func:`distinct_values`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from proximite.errors import InputError

__all__ = ["MAX_QUOTE", "RowLocator", "as_array", "distinct_values", "fail_where"]


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
) -> None:
    """Raise an :class:`InputError` for the first of ``bad_rows`` (a boolean row mask).

    ``quote(row index)`` gives the coded value to quote, for code lists only.
    """
    if not bad_rows.any():
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
