"""Retention of layer 01: raw pulls older than ``[privacy] raw_retention_days`` lose their identifiers.

A raw pull is kept as received while it may be needed (a refusal to fix, a pull to compare);
after ``raw_retention_days`` (default 90) it is *reduced* to what the audit trail needs: its
manifest (files, row counts, SHA-256 as received), and its files without the columns the
project's data dictionary flags as identifiers (names, phones, addresses, birth dates, e-mails,
free-text comments) and without the ``details`` of REDCap's project log (which quotes values).
The record id stays: it is the key REDCap shows coordinators, and a later withdrawal must still
find the family's rows. The manifest records the reduction (time, days, columns removed per file,
SHA-256 before and after). Pulls are dated by their manifest's ``received_at``.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from proximite.cohort import layers
from proximite.cohort.leftovers import finished_manifest
from proximite.cohort.privacy.redact_rows import csv_rows
from proximite.cohort.raw import update_manifest, utc_now
from proximite.cohort.raw_files import read_raw_file, write_raw_file
from proximite.config import ConfigError, Settings

__all__ = ["DEFAULT_RAW_RETENTION_DAYS", "ReducedPull", "apply_retention", "plan_retention", "raw_retention_days"]

#: ``[privacy] raw_retention_days`` when the configuration does not set it.
DEFAULT_RAW_RETENTION_DAYS = 90
#: Data dictionaries a raw pull may carry, and the column that flags identifiers in each.
DICTIONARIES = {"metadata.csv": "identifier", "data_dictionary.csv": "Identifier?"}
#: The project log's column that quotes the values changed.
LOG_DETAILS = ("details", "data_values")


@dataclass(frozen=True)
class ReducedPull:
    """A raw pull due for reduction: where it is, when it came, what leaves each file (names only)."""

    source: str
    pull_id: str
    received_at: str
    columns: dict[str, list[str]]

    def to_dict(self) -> dict[str, Any]:
        """Plain values (a dry run's table)."""
        return {"source": self.source, "pull_id": self.pull_id, "received_at": self.received_at,
                "files": len(self.columns), "columns_removed": sorted({name for names in self.columns.values() for name in names})}


def raw_retention_days(settings: Settings) -> int:
    """``[privacy] raw_retention_days`` (default :data:`DEFAULT_RAW_RETENTION_DAYS`).

    Raises
    ------
    ConfigError
        The value is not a positive whole number of days.
    """
    value = (settings.raw.get("privacy") or {}).get("raw_retention_days", DEFAULT_RAW_RETENTION_DAYS)
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigError("[privacy] raw_retention_days must be a positive whole number of days")
    return value


def plan_retention(settings: Settings, *, now: dt.datetime | None = None) -> list[ReducedPull]:
    """The raw pulls older than the retention period that still hold identifier columns."""
    now = now or dt.datetime.now(dt.timezone.utc)
    cutoff = now - dt.timedelta(days=raw_retention_days(settings))
    due = []
    root = settings.data_dir / layers.RAW
    for pull in sorted(root.glob("*/*")) if root.is_dir() else []:
        manifest = finished_manifest(pull) if pull.is_dir() else None
        if manifest is None or _received(manifest) > cutoff:
            continue
        columns = _identifier_columns(pull, settings=settings)
        if columns:
            due.append(ReducedPull(pull.parent.name, pull.name, manifest["received_at"], columns))
    return due


def apply_retention(settings: Settings, plan: list[ReducedPull]) -> dict[str, int]:
    """Reduce the planned pulls; return counts (pulls, files, columns removed)."""
    files = columns = 0
    for item in plan:
        pull = layers.raw_dir(settings, item.source, item.pull_id)
        changes = [{**_reduce_file(pull / name, names, settings=settings), "path": name} for name, names in item.columns.items()]
        _record_reduction(pull, changes, days=raw_retention_days(settings))
        files += len(changes)
        columns += sum(len(change["columns_removed"]) for change in changes)
    return {"pulls": len(plan), "files": files, "columns": columns}


def _received(manifest: dict[str, Any]) -> dt.datetime:
    return dt.datetime.strptime(manifest["received_at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc)


def _first_row(data: bytes) -> list[str]:
    """A CSV file's header (its first record), without decoding the rest."""
    head = data[: 1 << 16].decode("utf-8-sig", errors="replace")
    return next(csv.reader(io.StringIO(head, newline="")), [])


def _identifier_fields(pull: Path, *, settings: Settings) -> set[str]:
    """Field names the pull's own data dictionary flags as identifiers."""
    fields: set[str] = set()
    for name, flag in DICTIONARIES.items():
        for path in pull.rglob(name):
            header, rows = csv_rows(read_raw_file(path, settings=settings))
            if flag in header:
                at = header.index(flag)
                fields.update(row[0] for row in rows if len(row) > at and row[at].strip().lower() == "y")
    return fields


def _identifier_columns(pull: Path, *, settings: Settings) -> dict[str, list[str]]:
    """``{relative file: [columns to remove]}`` for the pull's CSV files that still hold them."""
    identifiers = _identifier_fields(pull, settings=settings)
    found: dict[str, list[str]] = {}
    for path in sorted(pull.rglob("*.csv")):
        if path.name in DICTIONARIES:
            continue
        header = _first_row(read_raw_file(path, settings=settings))
        doomed = [name for name in header if name in identifiers or (path.name == "log.csv" and name in LOG_DETAILS)]
        if doomed:
            found[path.relative_to(pull).as_posix()] = doomed
    return found


def _reduce_file(path: Path, columns: list[str], *, settings: Settings) -> dict[str, Any]:
    data = read_raw_file(path, settings=settings)
    header, rows = csv_rows(data)
    keep = [index for index, name in enumerate(header) if name not in set(columns)]
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([header[index] for index in keep])
    writer.writerows([[row[index] if index < len(row) else "" for index in keep] for row in rows])
    reduced = out.getvalue().encode("utf-8")
    write_raw_file(path, reduced, settings=settings)
    return {"path": path.as_posix(), "columns_removed": columns, "rows": len(rows),
            "sha256_before": hashlib.sha256(data).hexdigest(), "sha256_after": hashlib.sha256(reduced).hexdigest()}


def _record_reduction(pull: Path, changes: list[dict[str, Any]], *, days: int) -> None:
    record = {"reduced_at": utc_now(), "raw_retention_days": days, "files": changes}
    update_manifest(pull, lambda manifest: manifest.update(retention=record))
