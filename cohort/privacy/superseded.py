"""Snapshots written before a withdrawal: kept (they hold aggregates only) but listed as superseded.

``reporting/superseded.json`` names each superseded snapshot folder with the SHA-256 of its
``manifest.json`` at the time, so that a snapshot written later into the same folder (same date,
level and scope) is not taken for the old one.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from proximite.cohort.raw import utc_now
from proximite.config import Settings

__all__ = ["SUPERSEDED_NAME", "current_superseded", "is_superseded", "read_superseded", "supersede_snapshots"]

SUPERSEDED_NAME = "superseded.json"


def _path(settings: Settings) -> Path:
    return settings.reporting_dir / SUPERSEDED_NAME


def _manifest_hash(folder: Path) -> str | None:
    manifest = folder / "manifest.json"
    return hashlib.sha256(manifest.read_bytes()).hexdigest() if manifest.is_file() else None


def read_superseded(settings: Settings) -> list[dict[str, Any]]:
    """Every superseded snapshot: ``snapshot`` (folder name), ``manifest_sha256``, ``at``, ``reason``."""
    path = _path(settings)
    return json.loads(path.read_text(encoding="utf-8"))["snapshots"] if path.is_file() else []


def is_superseded(settings: Settings, folder: Path) -> bool:
    """Whether the snapshot in ``folder``, as it is now, was superseded."""
    digest = _manifest_hash(Path(folder))
    return any(entry["snapshot"] == Path(folder).name and entry["manifest_sha256"] == digest for entry in read_superseded(settings))


def current_superseded(settings: Settings) -> list[str]:
    """The snapshot folders of ``reporting/`` that hold, now, a superseded snapshot.

    A folder written again after the withdrawal (same date, level and scope) holds a new snapshot
    and is not among them.
    """
    names = sorted({entry["snapshot"] for entry in read_superseded(settings)})
    return [name for name in names if is_superseded(settings, settings.reporting_dir / name)]


def supersede_snapshots(settings: Settings, *, reason: str) -> list[str]:
    """List every snapshot of ``reporting/`` written so far as superseded; return the folders newly listed."""
    entries = read_superseded(settings)
    known = {(entry["snapshot"], entry["manifest_sha256"]) for entry in entries}
    added = []
    for folder in sorted(settings.reporting_dir.glob("snapshot-*")) if settings.reporting_dir.is_dir() else []:
        digest = _manifest_hash(folder)
        if digest is not None and (folder.name, digest) not in known:
            entries.append({"snapshot": folder.name, "manifest_sha256": digest, "at": utc_now(), "reason": reason})
            added.append(folder.name)
    if added:
        path = _path(settings)
        temporary = path.with_name(f".{path.name}.tmp")
        temporary.write_text(json.dumps({"snapshots": entries}, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        os.replace(temporary, path)
    return added
