"""What a coordinator asks first: the last pulls, the current warehouse build, the last snapshot.

Read from the project's own files (the raw layer's manifests, ``LATEST`` pointers, quarantine
folders, the warehouse's ``build`` table and the snapshots' manifests); nothing is recomputed.
Counts and ids only: no row of a family.
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

from proximite.cohort import layers
from proximite.cohort.privacy.superseded import current_superseded, is_superseded
from proximite.config import Settings

__all__ = ["gate_refusals", "interrupted_leftovers", "last_snapshot", "pull_history", "project_status"]


def _staged_rows(settings: Settings, source: str, pull_id: str) -> int | None:
    directory = layers.staged_dir(settings, source, pull_id)
    if not directory.is_dir():
        return None
    import pyarrow.parquet as pq

    return int(sum(pq.ParquetFile(path).metadata.num_rows for path in directory.glob("*.parquet")))


def _outcome(settings: Settings, source: str, pull_id: str, manifest: dict[str, Any]) -> str:
    if manifest.get("staged"):
        return "staged"
    quarantined = layers.quarantine_dir(settings, pull_id)
    if quarantined.is_dir():
        return "refused by validation"
    return "failed" if manifest.get("error") else "incomplete"


def pull_history(settings: Settings, *, limit: int = 10) -> pd.DataFrame:
    """The last pulls of every source, newest first.

    Returns
    -------
    DataFrame
        ``received_at`` (UTC), ``source``, ``pull_id``, ``mode`` (``full``/``incremental`` for
        REDCap, ``files`` for an ingest), ``rows`` (staged rows; missing when not staged),
        ``outcome`` (``staged``, ``refused by validation``, ``failed``, ``incomplete``),
        ``latest`` (the pull the next build uses), ``error`` (the reason, never a value of a
        person: errors name files, rows and rules).
    """
    rows = []
    raw_root = settings.data_dir / layers.RAW
    for source in layers.ALL_SOURCES:
        latest = layers.latest_pull(settings, source)
        source_dir = raw_root / source
        if not source_dir.is_dir():
            continue
        for manifest_path in source_dir.glob("*/manifest.json"):
            try:
                manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError):
                manifest = {"pull_id": manifest_path.parent.name, "error": "unreadable manifest"}
            pull_id = str(manifest.get("pull_id") or manifest_path.parent.name)
            parameters = manifest.get("parameters") or {}
            outcome = _outcome(settings, source, pull_id, manifest)
            rows.append(
                {
                    "received_at": manifest.get("received_at"),
                    "source": source,
                    "pull_id": pull_id,
                    "mode": parameters.get("mode", "files"),
                    "rows": _staged_rows(settings, source, pull_id) if outcome == "staged" else None,
                    "outcome": outcome,
                    "latest": pull_id == latest,
                    "error": manifest.get("error") or "",
                }
            )
    columns = ["received_at", "source", "pull_id", "mode", "rows", "outcome", "latest", "error"]
    history = pd.DataFrame(rows, columns=columns)
    if history.empty:
        return history
    history["rows"] = history["rows"].astype("Int64")
    history = history.sort_values(["received_at", "source"], ascending=[False, True], kind="stable")
    return history.head(limit).reset_index(drop=True)


def last_snapshot(settings: Settings) -> dict[str, Any] | None:
    """The newest ``reporting/snapshot-<date>-<level>-<scope>/`` with its manifest (``path`` added), or None."""
    candidates = sorted(settings.reporting_dir.glob("snapshot-*/manifest.json"), key=lambda path: (path.stat().st_mtime, path.parent.name))
    if not candidates:
        return None
    path = candidates[-1]
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        manifest = {}
    index = path.parent / "index.html"
    return {**manifest, "path": str(index if index.is_file() else path.parent), "superseded": is_superseded(settings, path.parent)}


def project_status(settings: Settings, *, limit: int = 10) -> dict[str, Any]:
    """The project's state in plain Python types.

    Returns
    -------
    dict
        ``pulls`` (records of :func:`pull_history`), ``build`` (the current warehouse build as
        :meth:`~proximite.cohort.warehouse.BuildInfo.to_dict`, or None), ``snapshot``
        (:func:`last_snapshot`, with ``superseded``), ``superseded`` (snapshot folders written
        before a consent withdrawal), ``quarantined`` (ids of refused batches).
    """
    from proximite.cohort.warehouse import current_build

    history = pull_history(settings, limit=limit)
    pulls = [
        {key: (None if pd.isna(value) else (int(value) if key == "rows" else value)) for key, value in record.items()}
        for record in history.astype(object).to_dict("records")
    ]
    build = current_build(settings)
    quarantine = settings.data_dir / layers.QUARANTINE
    return {
        "pulls": pulls,
        "build": build.to_dict() if build is not None else None,
        "snapshot": last_snapshot(settings),
        "superseded": current_superseded(settings),
        "quarantined": sorted(path.name for path in quarantine.iterdir()) if quarantine.is_dir() else [],
    }


def gate_refusals(settings: Settings, *, limit: int = 10) -> list[dict[str, Any]]:
    """The batches a gate refused, newest first, from the quarantine's own records.

    Parameters
    ----------
    settings : Settings
    limit : int, keyword-only

    Returns
    -------
    list of dict
        ``quarantined_at`` (UTC), ``gate`` (``staged`` or ``harmonised``), ``source`` (None for
        the harmonised gate), ``batch_id`` (the pull id or the harmonised id), ``rules`` (blocking
        rules that failed), ``rows`` (their failing rows, summed over rules), ``rule_ids``,
        ``quarantine`` (the folder) and ``report`` (its ``report.html``). Counts and ids only.

    Notes
    -----
    Read from ``data/quarantine/<batch>/<source or harmonised>/quarantine.json``, which the gates
    write when they refuse (a refused pull's raw manifest says only that it was not staged).
    """
    root = settings.data_dir / layers.QUARANTINE
    found = []
    for record_path in root.glob("*/*/quarantine.json") if root.is_dir() else ():
        try:
            record = json.loads(record_path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            record = {"layer": "?", "blocking": []}
        blocking = [entry for entry in record.get("blocking") or [] if isinstance(entry, dict)]
        folder = record_path.parent
        found.append(
            {
                "quarantined_at": record.get("quarantined_at"),
                "gate": record.get("layer") or "?",
                "source": record.get("source"),
                "batch_id": str(record.get("pull_id") or folder.parent.name),
                "rules": len(blocking),
                "rows": int(sum(int(entry.get("failed") or 0) for entry in blocking)),
                "rule_ids": [str(entry.get("rule_id")) for entry in blocking],
                "quarantine": str(folder),
                "report": str(folder / str(record.get("report") or "report/report.html")),
            }
        )
    found.sort(key=lambda entry: str(entry["quarantined_at"] or ""), reverse=True)
    return found[:limit]


def interrupted_leftovers(settings: Settings) -> list[dict[str, Any]]:
    """What killed runs left and no run has removed yet: staging temporaries and unfinished raw pulls.

    Parameters
    ----------
    settings : Settings

    Returns
    -------
    list of dict
        ``kind`` (``staging temporary`` or ``unfinished raw pull``), ``source``, ``pull_id``,
        ``path`` and ``reason`` (why it is taken as abandoned), sorted by path. Paths and ids only.

    Notes
    -----
    The rule is :mod:`proximite.cohort.leftovers`'s: a raw folder whose manifest is finished is
    never listed, nor one whose run may still be going. The next ingest or pull removes what is
    listed; what is still listed after it could not be removed (its log says how many).
    """
    from proximite.cohort.leftovers import find_leftovers

    return [
        {"kind": item.kind, "source": item.source, "pull_id": item.pull_id, "path": str(item.path), "reason": item.reason}
        for item in find_leftovers(settings)
    ]
