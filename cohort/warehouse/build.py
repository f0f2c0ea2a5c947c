"""Building the warehouse atomically: a new database beside the old one, then one rename."""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import pandas as pd

from proximite.cohort.harmonise.rules import resolve_codebook
from proximite.cohort.warehouse.schema import (
    BUILD_TABLE,
    BuildInfo,
    Progress,
    create_table_sql,
    inputs_sha256,
    quote_name,
)
from proximite.errors import BuildError

if TYPE_CHECKING:  # pragma: no cover
    from proximite.cohort.codebook import Codebook
    from proximite.config import Settings

__all__ = ["build_warehouse"]


def _check_tables(tables: Mapping[str, pd.DataFrame], codebook: Codebook) -> None:
    missing = [name for name in codebook.tables if name not in tables]
    unknown = [name for name in tables if name not in codebook.tables]
    problems = []
    if missing:
        problems.append(f"missing table(s) {', '.join(missing)}")
    if unknown:
        problems.append(f"table(s) outside the model {', '.join(map(str, unknown))}")
    for name in codebook.tables:
        if name not in tables:
            continue
        expected = list(codebook.columns(name))
        given = list(tables[name].columns)
        extra = [column for column in given if column not in expected]
        absent = [column for column in expected if column not in given]
        if extra:
            problems.append(f"{name}: columns outside the model {', '.join(map(str, extra))}")
        if absent:
            problems.append(f"{name}: missing columns {', '.join(absent)}")
    if problems:
        raise BuildError("the tables do not match model.yaml: " + "; ".join(problems))


def _write_table(
    connection: duckdb.DuckDBPyConnection, name: str, frame: pd.DataFrame, *, codebook: Codebook, primary_key: bool = True
) -> int:
    """Create one model table and load a frame into it; returns the row count.

    The frame is scanned by DuckDB directly (faster here than converting to Arrow first).
    """
    connection.execute(create_table_sql(name, codebook=codebook, primary_key=primary_key))
    columns = ", ".join(quote_name(column) for column in codebook.columns(name))
    connection.register("incoming_frame", frame)
    try:
        connection.execute(f"INSERT INTO {quote_name(name)} ({columns}) SELECT {columns} FROM incoming_frame")
    finally:
        connection.unregister("incoming_frame")
    return int(len(frame))


def _write_build(connection: duckdb.DuckDBPyConnection, info: BuildInfo) -> None:
    connection.execute(
        f"""CREATE TABLE {BUILD_TABLE} (
  build_id VARCHAR PRIMARY KEY,
  built_at TIMESTAMP,           -- UTC
  inputs VARCHAR,               -- JSON {{source: pull id}}
  inputs_sha256 VARCHAR,
  code_version VARCHAR,
  row_counts VARCHAR            -- JSON {{table: rows}}
)"""
    )
    connection.execute(
        f"INSERT INTO {BUILD_TABLE} VALUES (?, ?, ?, ?, ?, ?)",
        [
            info.build_id,
            info.built_at.astimezone(dt.timezone.utc).replace(tzinfo=None),
            json.dumps(info.inputs, sort_keys=True),
            info.inputs_sha256,
            info.code_version,
            json.dumps(info.row_counts),
        ],
    )


def _new_build_id(now: dt.datetime) -> str:
    return f"{now.strftime('%Y%m%dT%H%M%SZ')}-{secrets.token_hex(3)}"


def _fsync(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _remove_quietly(*paths: Path) -> None:
    for path in paths:
        try:
            path.unlink()
        except FileNotFoundError:
            pass


def build_warehouse(
    tables: Mapping[str, pd.DataFrame],
    *,
    settings: Settings,
    inputs: Mapping[str, str],
    code_version: str,
    progress: Progress | None = None,
    primary_keys: bool = True,
    codebook: Codebook | None = None,
) -> BuildInfo:
    """Build ``<project>/warehouse.duckdb`` from the harmonised tables, atomically.

    Parameters
    ----------
    tables : mapping of str to DataFrame
        Every table of ``model.yaml`` with exactly its columns (as :func:`harmonise` returns).
    settings : Settings, keyword-only
        Gives the warehouse path.
    inputs : mapping, keyword-only
        ``{source: pull_id or file hash}`` the tables were made from.
    code_version : str, keyword-only
    progress : callable, optional, keyword-only
        ``progress(table, done, total)`` after each table.
    primary_keys : bool, keyword-only
        Declare each table's key columns as its primary key (default). At province scale this
        costs about 2.5 s of a 5 s build and 2.4 times the file size (187 vs 78 MB, measured with
        2 million activities); :func:`harmonise` already checks the keys, so a caller pressed for
        time may turn it off.
    codebook : Codebook, optional, keyword-only

    Returns
    -------
    BuildInfo

    Raises
    ------
    BuildError
        The tables do not match the model, or writing failed (a duplicate key, a full disk ...).
        The previous warehouse is left in place and no temporary file remains.

    Notes
    -----
    ``inputs_sha256 = sha256(json(sorted(inputs)))``. The new database is written to a temporary
    file in the warehouse's directory, checkpointed, closed and fsynced, then renamed over the
    old one with :func:`os.replace` (atomic on POSIX).
    """
    book = resolve_codebook(codebook)
    _check_tables(tables, book)
    path = settings.warehouse_path
    path.parent.mkdir(parents=True, exist_ok=True)
    build_id = _new_build_id(dt.datetime.now(dt.timezone.utc))
    temporary = path.with_name(f".{path.name}.{build_id}.tmp")
    wal = temporary.with_name(temporary.name + ".wal")
    step = [""]  # the step under way, named when the build fails
    try:
        info = _write_database(
            temporary, tables, book=book, build_id=build_id, path=path, inputs=inputs, code_version=code_version,
            progress=progress, primary_keys=primary_keys, step=step,
        )
        step.append("swap")
        _fsync(temporary)
        os.replace(temporary, path)
        _fsync_directory(path.parent)
    except BaseException as error:
        _remove_quietly(temporary, wal)
        if not isinstance(error, Exception):  # KeyboardInterrupt, SystemExit: clean up, then let it through
            raise
        # Name the step and the error type; DuckDB's message may quote a key (never other values).
        first_line = str(error).splitlines()[0][:300] if str(error) else ""
        raise BuildError(
            f"warehouse build failed at '{step[-1]}' ({type(error).__name__}: {first_line}); "
            f"the previous warehouse at {path} is unchanged"
        ) from error
    return info


def _write_database(
    temporary: Path,
    tables: Mapping[str, pd.DataFrame],
    *,
    book: Codebook,
    build_id: str,
    path: Path,
    inputs: Mapping[str, str],
    code_version: str,
    progress: Progress | None,
    primary_keys: bool,
    step: list[str],
) -> BuildInfo:
    """Write every model table and the build table into a new database file, checkpointed and closed.

    ``step`` gets the name of each table as it is written (the caller's error names it).
    """
    connection = duckdb.connect(str(temporary))
    try:
        row_counts: dict[str, int] = {}
        total = len(book.tables)
        for done, name in enumerate(book.tables, start=1):
            step.append(name)
            row_counts[name] = _write_table(connection, name, tables[name], codebook=book, primary_key=primary_keys)
            if progress is not None:
                progress(name, done, total)
        step.append(BUILD_TABLE)
        info = BuildInfo(
            build_id=build_id,
            built_at=dt.datetime.now(dt.timezone.utc),
            inputs={str(k): str(v) for k, v in sorted(inputs.items())},
            inputs_sha256=inputs_sha256(inputs),
            code_version=str(code_version),
            row_counts=row_counts,
            path=path,
        )
        _write_build(connection, info)
        connection.execute("CHECKPOINT")
    finally:
        connection.close()
    return info


def _fsync_directory(directory: Path) -> None:
    try:
        _fsync(directory)
    except OSError:  # some file systems refuse fsync on a directory; the rename is still atomic
        pass
