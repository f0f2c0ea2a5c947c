"""Reading the current warehouse: a connection, its build, one harmonised table, or several of one build."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import duckdb
import pandas as pd

from proximite.cohort.harmonise import model_dtypes
from proximite.cohort.harmonise.rules import resolve_codebook
from proximite.cohort.warehouse.schema import BUILD_TABLE, BuildInfo, WarehouseNotFoundError, quote_name

if TYPE_CHECKING:  # pragma: no cover
    from proximite.cohort.codebook import Codebook
    from proximite.config import Settings

__all__ = ["build_tables", "connect", "current_build", "table", "typed_frame"]


def connect(settings: Settings, *, read_only: bool = True) -> duckdb.DuckDBPyConnection:
    """Open the warehouse (read-only by default); use it as a context manager.

    Notes
    -----
    DuckDB shares one database instance per file within a process: while a connection opened
    before a rebuild stays open, new connections in the same process still see the old build.
    Close connections when done (``with connect(settings) as connection: ...``), as
    :func:`table`, :func:`panel` and :func:`current_build` do.

    Raises
    ------
    WarehouseNotFoundError
        The project has no warehouse yet.
    """
    path = settings.warehouse_path
    if not path.is_file():
        raise WarehouseNotFoundError(f"no warehouse at {path}; run `proximite build` first")
    return duckdb.connect(str(path), read_only=read_only)


def current_build(settings: Settings) -> BuildInfo | None:
    """The build of the current warehouse, or None when there is none."""
    if not settings.warehouse_path.is_file():
        return None
    with connect(settings) as connection:
        row = connection.execute(
            f"SELECT build_id, built_at, inputs, inputs_sha256, code_version, row_counts FROM {BUILD_TABLE} "
            "ORDER BY built_at DESC LIMIT 1"
        ).fetchone()
    if row is None:
        return None
    build_id, built_at, inputs, digest, code_version, row_counts = row
    return BuildInfo(
        build_id=build_id,
        built_at=built_at.replace(tzinfo=dt.timezone.utc),
        inputs=json.loads(inputs),
        inputs_sha256=digest,
        code_version=code_version,
        row_counts={str(k): int(v) for k, v in json.loads(row_counts).items()},
        path=settings.warehouse_path,
    )


def typed_frame(frame: pd.DataFrame, dtypes: Mapping[str, str]) -> pd.DataFrame:
    """Give a frame read from DuckDB the harmonised dtypes (string, Int64, Float64, boolean, ns dates)."""
    return frame.astype({name: dtype for name, dtype in dtypes.items() if name in frame.columns})


def build_tables(
    settings: Settings, names: Sequence[str], *, codebook: Codebook | None = None
) -> tuple[str | None, dict[str, pd.DataFrame]]:
    """Harmonised tables of one build, read through one connection, with that build's id.

    Parameters
    ----------
    settings : Settings
    names : sequence of str
        Model tables.
    codebook : Codebook, optional, keyword-only

    Returns
    -------
    tuple
        ``(build_id, {name: frame})`` (build id None for a warehouse without a build row), with
        the model's columns and dtypes. A rebuild swaps the file by a rename, and a connection
        keeps reading the file it opened, so every table here comes from the same build, even
        while another process rebuilds (:func:`table` one by one could mix two builds).

    Raises
    ------
    CodebookError
        A name outside the model.
    WarehouseNotFoundError
        The project has no warehouse yet.
    """
    book = resolve_codebook(codebook)
    for name in names:
        book.columns(name)  # refuses a name outside the model before anything is read
    with connect(settings) as connection:
        row = connection.execute(f"SELECT build_id FROM {BUILD_TABLE} ORDER BY built_at DESC LIMIT 1").fetchone()
        tables = {name: _read_table(connection, name, book) for name in names}
    return (None if row is None else str(row[0])), tables


def table(settings: Settings, name: str, *, codebook: Codebook | None = None) -> pd.DataFrame:
    """One harmonised table of the current warehouse, with the model's columns and dtypes.

    Raises
    ------
    CodebookError
        ``name`` is not a model table.
    WarehouseNotFoundError
        The project has no warehouse yet.
    """
    book = resolve_codebook(codebook)
    book.columns(name)  # refuses a name outside the model before a connection is opened
    with connect(settings) as connection:
        return _read_table(connection, name, book)


def _read_table(connection: duckdb.DuckDBPyConnection, name: str, book: Codebook) -> pd.DataFrame:
    """The model's columns of table ``name`` through ``connection``, with the model's dtypes."""
    select = ", ".join(quote_name(column) for column in book.columns(name))
    frame = connection.execute(f"SELECT {select} FROM {quote_name(name)}").df()
    return typed_frame(frame, model_dtypes(name, codebook=book))
