"""The DuckDB warehouse (layer 03), its atomic builds, and the long panel.

``<project>/warehouse.duckdb`` holds one table per table of ``model.yaml`` (columns and types from
the model, primary keys from its key columns) and a ``build`` table describing the build: its id,
when (UTC), from which inputs (``{source: pull id}`` and their SHA-256), by which code version,
with how many rows per table.

A build never leaves a half-written warehouse: it writes a new database beside the old one
(``.warehouse.duckdb.<build_id>.tmp`` in the same directory, so the rename stays on one file
system), checkpoints and closes it, then :func:`os.replace` swaps it in. On any error the
temporary file is removed, the previous warehouse is untouched, and
:class:`~proximite.errors.BuildError` is raised from the cause. Readers that had the old
file open keep reading the old build.

Statisticians use :func:`panel`, and :func:`regions` to name its ``region_code``; other code uses
:func:`connect`, :func:`table` and :func:`current_build`.
"""

from __future__ import annotations

from proximite.cohort.warehouse.build import build_warehouse
from proximite.cohort.warehouse.panel import panel
from proximite.cohort.warehouse.panel_codebook import PANEL_COVARIATES, PANEL_DERIVED, panel_codebook
from proximite.cohort.warehouse.read import build_tables, connect, current_build, table
from proximite.cohort.warehouse.regions import regions
from proximite.cohort.warehouse.schema import (
    BUILD_TABLE,
    DUCKDB_TYPES,
    BuildInfo,
    WarehouseNotFoundError,
    create_table_sql,
    inputs_sha256,
)

__all__ = [
    "BUILD_TABLE",
    "BuildInfo",
    "DUCKDB_TYPES",
    "PANEL_COVARIATES",
    "PANEL_DERIVED",
    "WarehouseNotFoundError",
    "build_tables",
    "build_warehouse",
    "connect",
    "create_table_sql",
    "current_build",
    "inputs_sha256",
    "panel",
    "panel_codebook",
    "regions",
    "table",
]
