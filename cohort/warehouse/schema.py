"""The warehouse's schema: DuckDB types of the model, the build's description, table DDL."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from proximite.cohort.harmonise.rules import resolve_codebook
from proximite.errors import ProximiteError

if TYPE_CHECKING:  # pragma: no cover
    from proximite.cohort.codebook import Codebook

__all__ = [
    "BUILD_TABLE",
    "DUCKDB_TYPES",
    "BuildInfo",
    "Progress",
    "WarehouseNotFoundError",
    "create_table_sql",
    "inputs_sha256",
    "quote_name",
]


#: Model type → DuckDB column type.
DUCKDB_TYPES: dict[str, str] = {
    "string": "VARCHAR",
    "int": "BIGINT",
    "float": "DOUBLE",
    "date": "DATE",
    "month": "VARCHAR",
    "bool": "BOOLEAN",
}

#: The table describing the build, beside the model tables.
BUILD_TABLE = "build"

#: Called after each table is written: ``progress(table, done, total)``.
Progress = Callable[[str, int, int], None]


class WarehouseNotFoundError(ProximiteError, FileNotFoundError):
    """The project has no warehouse yet (run ``proximite build``)."""


@dataclass(frozen=True)
class BuildInfo:
    """One build of the warehouse.

    Attributes
    ----------
    build_id : str
        Sortable unique id, ``20260121T060000Z-1a2b3c``.
    built_at : datetime
        When the build finished writing (timezone-aware, UTC).
    inputs : dict
        ``{source: pull_id or file hash}`` it was made from.
    inputs_sha256 : str
        SHA-256 of ``inputs`` (see :func:`inputs_sha256`).
    code_version : str
    row_counts : dict
        ``{table: rows}`` for every model table.
    path : Path
        The warehouse file.
    """

    build_id: str
    built_at: dt.datetime
    inputs: dict[str, str]
    inputs_sha256: str
    code_version: str
    row_counts: dict[str, int]
    path: Path = field(compare=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form (for run summaries and Prefect results)."""
        data = asdict(self)
        data["built_at"] = self.built_at.isoformat()
        data["path"] = str(self.path)
        return data


def quote_name(name: str) -> str:
    """A table or column name quoted for DuckDB SQL."""
    return '"' + name.replace('"', '""') + '"'


def inputs_sha256(inputs: Mapping[str, str]) -> str:
    """SHA-256 of a build's inputs.

    Notes
    -----
    .. math:: \\mathrm{sha256}\\big(\\mathrm{json}(\\mathrm{sorted}(inputs))\\big)

    with compact separators and UTF-8, so the digest does not depend on the mapping's order.
    """
    canonical = json.dumps({str(k): str(v) for k, v in sorted(inputs.items())}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def create_table_sql(table: str, *, codebook: Codebook | None = None, primary_key: bool = True) -> str:
    """``CREATE TABLE`` statement of a model table (types from the model, key from its key columns)."""
    book = resolve_codebook(codebook)
    spec = book.columns(table)
    lines = [f"{quote_name(name)} {DUCKDB_TYPES[column['type']]}" for name, column in spec.items()]
    keys = book.key_columns(table)
    if primary_key and keys:
        lines.append(f"PRIMARY KEY ({', '.join(quote_name(name) for name in keys)})")
    return f"CREATE TABLE {quote_name(table)} (\n  " + ",\n  ".join(lines) + "\n)"
