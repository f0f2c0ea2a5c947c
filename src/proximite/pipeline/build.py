"""Stage 03 → warehouse: the harmonised gate, then the DuckDB warehouse (atomic swap)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from proximite.config import Settings
from proximite.version import code_version

__all__ = ["validate_harmonised", "build_from_harmonised", "warehouse_summary", "read_harmonised"]


def read_harmonised(directory: Path) -> dict[str, pd.DataFrame]:
    """Every table of a layer-03 directory (one Parquet file per table)."""
    return {path.stem: pd.read_parquet(path) for path in sorted(directory.glob("*.parquet"))}


def validate_harmonised(settings: Settings, harmonised_dir: str | Path) -> dict[str, Any]:
    """Run the harmonised validation gate on a layer-03 directory (before the warehouse is built).

    Parameters
    ----------
    settings : Settings
    harmonised_dir : str or Path
        Written by :func:`harmonise_staged`.

    Returns
    -------
    dict
        :meth:`ValidationResult.to_dict` (counts per blocking rule, no row-level data), for a
        flow artifact; the gate's last result is also in ``reporting/validation/harmonised.*``.

    Raises
    ------
    GateFailed
        An error rule failed: the tables and the report are in
        ``data/quarantine/<harmonised id>/harmonised/``; the warehouse is untouched.
    """
    from proximite.expectations.gates import gate_harmonised
    from proximite.pipeline.access import logging_refusals

    with logging_refusals(settings, command="validate"):
        return gate_harmonised(settings, harmonised_dir=Path(harmonised_dir)).to_dict()


def build_from_harmonised(settings: Settings, harmonised_dir: str | Path, *, validate: bool = True) -> Any:
    """Build the warehouse from a layer-03 directory written by :func:`harmonise_staged`.

    Parameters
    ----------
    settings : Settings
    harmonised_dir : str or Path
    validate : bool, keyword-only
        Run the harmonised validation gate first (default); a refused batch is quarantined and
        the warehouse is not touched. Only tests that need to build data the gate would refuse
        turn it off.

    Returns
    -------
    BuildInfo
        The new build (id, time, inputs, row counts).

    Raises
    ------
    GateFailed
        The harmonised gate refused the tables (the last good warehouse stays in place).
    """
    from proximite.cohort.warehouse import build_warehouse

    directory = Path(harmonised_dir)
    inputs = json.loads((directory / "inputs.json").read_text(encoding="utf-8"))
    tables = read_harmonised(directory)
    if validate:
        from proximite.expectations.gates import gate_harmonised
        from proximite.pipeline.access import logging_refusals

        # The tables just read are the ones validated and the ones built: read once.
        with logging_refusals(settings, command="build"):
            gate_harmonised(settings, harmonised_dir=directory, tables=tables)
    return build_warehouse(tables, settings=settings, inputs=inputs, code_version=code_version())


def warehouse_summary(settings: Settings) -> dict[str, Any]:
    """Counts of the current warehouse: families, children, assessments per wave, activities, referrals.

    Only counts: nothing about one family.
    """
    from proximite.cohort.warehouse import connect

    with connect(settings, read_only=True) as connection:
        scalar = lambda sql: int(connection.execute(sql).fetchone()[0])  # noqa: E731
        per_wave = connection.execute(
            "SELECT wave, count(*) FROM assessment GROUP BY wave ORDER BY wave"
        ).fetchall()
        build = connection.execute(
            "SELECT build_id, built_at FROM build ORDER BY built_at DESC LIMIT 1"
        ).fetchone()
        return {
            "build_id": build[0] if build else None,
            "built_at": str(build[1]) if build else None,
            "territories": scalar("SELECT count(*) FROM territory"),
            "organisations": scalar("SELECT count(*) FROM organisation"),
            "workers": scalar("SELECT count(DISTINCT worker_id) FROM worker"),
            "families": scalar("SELECT count(*) FROM family"),
            "isolated_at_contact": scalar("SELECT count(*) FROM family WHERE isolated_at_contact"),
            "children": scalar("SELECT count(*) FROM child"),
            "assessments_per_wave": {int(wave): int(count) for wave, count in per_wave},
            "needs": scalar("SELECT count(*) FROM need"),
            "referrals": scalar("SELECT count(*) FROM referral"),
            "activities": scalar("SELECT count(*) FROM activity"),
            "supervision_sessions": scalar("SELECT count(*) FROM supervision"),
            "qualitative_sessions": scalar("SELECT count(*) FROM qual_session"),
            "qualitative_sessions_coded": scalar("SELECT count(DISTINCT session_id) FROM qual_coding"),
        }
