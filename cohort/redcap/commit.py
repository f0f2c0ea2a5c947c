"""Commit a pull's staged state: written aside, gated, moved into place, then marked ``LATEST``.

A pull the gate refuses goes to ``data/quarantine/<pull_id>/<source>/`` with its report (the gate
does that), and ``LATEST`` does not move.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import pyarrow as pa

from proximite.cohort.layers import STAGED, StagedGate, mark_latest, staged_dir
from proximite.cohort.redcap.watermark import SOURCE, WATERMARK_NAME
from proximite.errors import ProximiteError

if TYPE_CHECKING:  # pragma: no cover
    from proximite.config import Settings

__all__ = ["PARQUET_COMPRESSION", "commit_staged", "read_staged_tables"]

#: Compression of staged Parquet written by the pull (fast to write; DuckDB and pandas read it).
PARQUET_COMPRESSION = "lz4"


def read_staged_tables(settings: Settings, pull_id: str, *, source: str = SOURCE) -> dict[str, pa.Table]:
    """The tables of a staged REDCap pull (of ``source``) as Arrow tables (no conversion to pandas)."""
    import pyarrow.parquet as pq

    directory = staged_dir(settings, source, pull_id)
    return {path.stem: pq.read_table(path) for path in sorted(directory.glob("*.parquet"))}


def commit_staged(
    settings: Settings,
    pull_id: str,
    tables: Mapping[str, pd.DataFrame | pa.Table],
    watermark: Mapping[str, Any],
    *,
    unchanged: Mapping[str, Path] | None = None,
    gate: StagedGate | None = None,
    source: str = SOURCE,
) -> None:
    """Write the staged pull into a hidden directory, gate it, move it into place, then mark it LATEST.

    ``unchanged`` maps forms to the previous pull's file holding exactly their rows: those are
    hard-linked (copied where links are not possible) instead of written again. With a
    ``gate``, the hidden directory passes it first; a refused pull is moved to the quarantine and nothing is committed.
    ``source`` is the data layer (the cohort's ``redcap``, or a yearly questionnaire's).
    """
    import pyarrow.parquet as pq

    unchanged = dict(unchanged or {})

    temporary = settings.data_dir / STAGED / source / f".{pull_id}.partial"
    final = staged_dir(settings, source, pull_id)
    if final.exists():
        raise ProximiteError(f"{final} already exists: a pull id is used once")
    shutil.rmtree(temporary, ignore_errors=True)
    temporary.mkdir(parents=True)

    def write(item: tuple[str, pd.DataFrame | pa.Table]) -> None:
        name, table = item
        target = temporary / f"{name}.parquet"
        if name in unchanged:
            try:
                os.link(unchanged[name], target)
            except OSError:
                shutil.copy2(unchanged[name], target)
            return
        if isinstance(table, pd.DataFrame):
            table = pa.Table.from_pandas(table, preserve_index=False)
        pq.write_table(table, target, compression=PARQUET_COMPRESSION)

    try:
        # Parquet writing releases the GIL: the forms are written side by side.
        with ThreadPoolExecutor(max_workers=min(4, len(tables) or 1)) as pool:
            list(pool.map(write, tables.items()))
        (temporary / WATERMARK_NAME).write_text(json.dumps(dict(watermark), indent=2) + "\n", encoding="utf-8")
        if gate is not None:
            # The whole new state is checked (an incremental pull's merge included), as committed.
            gate({source: temporary}, pull_id)
        os.rename(temporary, final)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    try:
        mark_latest(settings, source, pull_id)
    except BaseException:
        shutil.rmtree(final, ignore_errors=True)  # never a staged pull that LATEST does not know
        raise
