"""Consent withdrawal with data destruction, in every layer of the project directory.

A family who asks that its data be withdrawn (the exit form's ``sortie_retrait = participation_donnees``, or
``proximite privacy withdraw --record ID``) is entered in the ledger
(:mod:`~proximite.cohort.privacy.ledger`); then, in every pull that holds its rows:

- **01 raw** — the REDCap exports, record lists and project log, and the partner registry files
  whose activities name it, are rewritten without its rows (:mod:`redact_rows`); the old file is
  replaced, and the pull's ``manifest.json`` records the redaction (time, reason, rows and
  SHA-256 before and after per file; no identifier). It is the one exception to "raw is never
  edited".
- **02 staged** — its rows leave every staged table of every pull;
- **quarantine** — its rows leave the refusal reports' ``failures.csv`` and the refused batches;
  a report page that showed them is removed (``failures.csv`` stays, complete);
- **03 harmonised** — the layer's folders, caches of the staged pulls, are removed and made again;
- the warehouse, the indicators and the snapshot are rebuilt from there by the run, and the
  snapshots written before are listed as superseded (:mod:`~proximite.cohort.privacy.superseded`).

Pulls already checked against the ledger as it stands are not read again, so a project with
withdrawals pays for each pull once.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from proximite.cohort import layers
from proximite.cohort.privacy import ledger
from proximite.cohort.privacy.redact_rows import Dropped, drop_rows, rows_numbered
from proximite.cohort.privacy.superseded import supersede_snapshots
from proximite.cohort.privacy.withdrawal_scan import (
    RECORD_COLUMNS,
    destruction_requests,
    log_record,
    raw_record_files,
    record_ids_in_raw,
    record_ids_in_staged,
)
from proximite.cohort.pseudonym import pseudonym
from proximite.cohort.leftovers import finished_manifest
from proximite.cohort.raw import update_manifest, utc_now
from proximite.cohort.raw_files import read_raw_file, write_raw_file
from proximite.config import Settings

__all__ = ["REASON", "WithdrawalReport", "apply_withdrawals"]

REASON = "consent withdrawal (participation and data)"


@dataclass
class WithdrawalReport:
    """What a withdrawal run did, in counts (never an id)."""

    new_requests: int = 0
    families: int = 0
    raw_files: int = 0
    raw_rows: int = 0
    staged_files: int = 0
    staged_rows: int = 0
    quarantine_files: int = 0
    harmonised_removed: int = 0
    snapshots_superseded: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Plain counts, for a log line, an artifact or the access log."""
        return {name: (len(value) if isinstance(value, list) else value) for name, value in vars(self).items()}


def apply_withdrawals(settings: Settings, *, key: bytes, record_ids: Iterable[str] = (), via: str = "redcap") -> WithdrawalReport:
    """Record the new withdrawal requests and remove every withdrawn family's rows from the layers.

    Parameters
    ----------
    settings : Settings
    key : bytes, keyword-only
        The pseudonym key (it keys the ledger's tokens and names the families' pseudonyms).
    record_ids : iterable of str, keyword-only
        Requests made outside REDCap (``proximite privacy withdraw --record``).
    via : str, keyword-only
        How those were made (``"command"``); the exit form's requests say ``"redcap"``.

    Returns
    -------
    WithdrawalReport
    """
    project = settings.project_name
    asked = {str(record) for record in record_ids}
    new = ledger.add_requests(settings, (ledger.withdrawal_token(record, key=key, project=project) for record in asked), via=via)
    staged = _latest_staged_redcap(settings)
    from_form = destruction_requests(staged) if staged else set()
    new += ledger.add_requests(settings, (ledger.withdrawal_token(record, key=key, project=project) for record in from_form), via="redcap")
    report = WithdrawalReport(new_requests=len(new))
    tokens = {request["token"] for request in ledger.read_ledger(settings)}
    if not tokens:
        return report
    checks = ledger.read_checks(settings)
    withdrawn: set[str] = set()
    for place, pull in _pulls_to_check(settings, checks, len(tokens)):
        found = _redact_pull(place, pull, tokens, settings=settings, key=key, report=report)
        withdrawn |= found
        checks[f"{place}/{pull.name}"] = len(tokens)
    withdrawn |= _redact_registry(settings, tokens, key=key, report=report, checks=checks)
    ledger.write_checks(settings, checks)
    if withdrawn:
        report.families = len(withdrawn)
        names = {pseudonym(record, key=key, project=project, length=int(settings["pseudonym"]["id_length"])) for record in withdrawn}
        report.quarantine_files += _redact_quarantine(settings, withdrawn | names)
        report.harmonised_removed = _remove_harmonised(settings)
        report.snapshots_superseded = supersede_snapshots(settings, reason=REASON)
    return report


def _latest_staged_redcap(settings: Settings) -> dict[str, pd.DataFrame]:
    """The exit form of the latest staged REDCap pull (only it: the other forms can be large)."""
    pull_id = layers.latest_pull(settings, "redcap")
    path = layers.staged_dir(settings, "redcap", pull_id) / "sortie.parquet" if pull_id else None
    return {"sortie": pd.read_parquet(path)} if path is not None and path.is_file() else {}


def _pulls_to_check(settings: Settings, checks: dict[str, int], tokens: int) -> list[tuple[str, Path]]:
    """REDCap pulls of 01 raw and 02 staged not yet checked against a ledger of this size."""
    chosen = []
    for place in (layers.RAW, layers.STAGED):
        root = settings.data_dir / place / "redcap"
        for pull in sorted(root.iterdir()) if root.is_dir() else []:
            # A raw pull still being written (by another run) is checked by the next run, once finished.
            unfinished = place == layers.RAW and finished_manifest(pull) is None
            if pull.is_dir() and not pull.name.startswith(".") and checks.get(f"{place}/{pull.name}") != tokens and not unfinished:
                chosen.append((place, pull))
    return chosen


def _redact_pull(place: str, pull: Path, tokens: set[str], *, settings: Settings, key: bytes, report: WithdrawalReport) -> set[str]:
    project = settings.project_name
    if place == layers.RAW:
        found = ledger.withdrawn_among(record_ids_in_raw(pull, settings=settings), tokens, key=key, project=project)
        if found:
            changes = [_redact_raw_file(path, found, settings=settings) for path in raw_record_files(pull)]
            _record_redaction(pull, [change for change in changes if change], report=report)
        return found
    frames = {path: pd.read_parquet(path) for path in sorted(pull.glob("*.parquet"))}
    found = ledger.withdrawn_among(record_ids_in_staged(frames.values()), tokens, key=key, project=project)
    if found:
        for path, frame in frames.items():
            _rewrite_staged(path, frame, _rows_of(frame, found), report=report)
    return found


def _rows_of(frame: pd.DataFrame, records: set[str]) -> pd.Series:
    """Rows of a table that belong to the withdrawn records (by any record-id column)."""
    hit = pd.Series(False, index=frame.index)
    for column in RECORD_COLUMNS:
        if column in frame.columns:
            hit |= frame[column].astype("string").isin(records).fillna(False)
    return hit


def _rewrite_staged(path: Path, frame: pd.DataFrame, doomed: pd.Series, *, report: WithdrawalReport) -> None:
    if not doomed.any():
        return
    temporary = path.with_name(f".{path.name}.tmp")
    frame.loc[~doomed].reset_index(drop=True).to_parquet(temporary, index=False)
    os.replace(temporary, path)
    report.staged_files += 1
    report.staged_rows += int(doomed.sum())


def _redact_raw_file(path: Path, records: set[str], *, settings: Settings) -> dict[str, Any] | None:
    """Rewrite one REDCap raw file without the records' rows; its change, or None when untouched."""
    data = read_raw_file(path, settings=settings)
    if path.name == "log.csv":
        dropped = drop_rows(data, suffix=".csv", drop=lambda number, cells: log_record(cells) in records)
    else:
        dropped = drop_rows(data, suffix=".csv", drop=lambda number, cells: next(iter(cells.values()), "") in records)
    return _replace_raw(path, data, dropped, settings=settings)


def _replace_raw(path: Path, data: bytes, dropped: Dropped, *, settings: Settings) -> dict[str, Any] | None:
    if dropped.rows_after == dropped.rows_before:
        return None
    write_raw_file(path, dropped.data, settings=settings)
    return {
        "path": str(path),
        "rows_before": dropped.rows_before,
        "rows_after": dropped.rows_after,
        "sha256_before": hashlib.sha256(data).hexdigest(),
        "sha256_after": hashlib.sha256(dropped.data).hexdigest(),
        "bytes_after": len(dropped.data),
    }


def _record_redaction(pull: Path, changes: list[dict[str, Any]], *, report: WithdrawalReport) -> None:
    """Write the redaction into the pull's manifest: per file, rows and SHA-256 before and after."""
    for change in changes:
        change["path"] = Path(change["path"]).relative_to(pull).as_posix()
    report.raw_files += len(changes)
    report.raw_rows += sum(change["rows_before"] - change["rows_after"] for change in changes)
    update_manifest(pull, lambda manifest: _with_redaction(manifest, changes))


def _with_redaction(manifest: dict[str, Any], changes: list[dict[str, Any]]) -> None:
    """The manifest's file entries as they are now, and the redaction appended to its record."""
    by_path = {change["path"]: change for change in changes}
    for entry in manifest.get("files", []):
        change = by_path.get(entry.get("path"))
        if change:
            entry.update({"bytes": change["bytes_after"], "sha256": change["sha256_after"], "rows": change["rows_after"]})
    files = [{name: value for name, value in change.items() if name != "bytes_after"} for change in changes]
    manifest.setdefault("redactions", []).append({"at": utc_now(), "reason": REASON, "files": files})


def _redact_registry(settings: Settings, tokens: set[str], *, key: bytes, report: WithdrawalReport, checks: dict[str, int]) -> set[str]:
    """Registry pulls: the activities naming a withdrawn family leave the staged table and the partner's raw file."""
    withdrawn: set[str] = set()
    root = settings.data_dir / layers.STAGED / "registry"
    for pull in sorted(root.iterdir()) if root.is_dir() else []:
        activity = pull / "activity.parquet"
        mark = f"registry/{pull.name}"
        if not activity.is_file() or checks.get(mark) == len(tokens):
            continue
        frame = pd.read_parquet(activity)
        found = ledger.withdrawn_among(record_ids_in_staged([frame]), tokens, key=key, project=settings.project_name)
        if found:
            doomed = _rows_of(frame, found)
            raw = layers.raw_dir(settings, "registry", pull.name)
            if raw.is_dir():
                rows = frame.loc[doomed, ["source_file", "source_row"]]
                changes = [_redact_partner_file(raw / name, group["source_row"], settings=settings) for name, group in rows.groupby("source_file")]
                _record_redaction(raw, [change for change in changes if change], report=report)
            _rewrite_staged(activity, frame, doomed, report=report)
            withdrawn |= found
        checks[mark] = len(tokens)
    return withdrawn


def _redact_partner_file(path: Path, source_rows: pd.Series, *, settings: Settings) -> dict[str, Any] | None:
    """A partner's registry file without the rows its staged activities came from (any format)."""
    import yaml

    from proximite.cohort.sources.mappings import mapping_path_for

    mapping_file = mapping_path_for(path)
    spec = yaml.safe_load(read_raw_file(mapping_file, settings=settings)) if mapping_file else None
    spec = spec if isinstance(spec, dict) else {}
    data = read_raw_file(path, settings=settings)
    dropped = drop_rows(
        data, suffix=path.suffix, drop=rows_numbered(source_rows.astype(int)),
        encoding=spec.get("encoding"), sheet=spec.get("sheet"),
    )
    return _replace_raw(path, data, dropped, settings=settings)


def _redact_quarantine(settings: Settings, names: set[str]) -> int:
    """Refused batches and their reports without the withdrawn families' rows (record ids or pseudonyms).

    They are encrypted at rest like layer 01: read and rewritten through the same storage.
    """
    from proximite.cohort.privacy.storage import CLEAR_QUARANTINE_FILES

    root = settings.data_dir / layers.QUARANTINE
    changed = 0
    for path in sorted(root.rglob("*")) if root.is_dir() else []:
        if not path.is_file() or path.name in CLEAR_QUARANTINE_FILES:
            continue
        if path.suffix == ".parquet":
            frame = pd.read_parquet(io.BytesIO(read_raw_file(path, settings=settings)))
            doomed = _rows_of(frame, names) | _pseudonym_rows(frame, names)
            if doomed.any():
                buffer = io.BytesIO()
                frame.loc[~doomed].to_parquet(buffer, index=False)
                write_raw_file(path, buffer.getvalue(), settings=settings)
                changed += 1
        elif path.name == "failures.csv":
            changed += _redact_failures(path, names, settings=settings)
    return changed


def _pseudonym_rows(frame: pd.DataFrame, names: set[str]) -> pd.Series:
    if "family_id" not in frame.columns:
        return pd.Series(False, index=frame.index)
    return frame["family_id"].astype("string").isin(names).fillna(False)


def _redact_failures(path: Path, names: set[str], *, settings: Settings) -> int:
    """A report's failures.csv without the families' rows; its HTML pages, which showed them, go."""
    data = read_raw_file(path, settings=settings)
    dropped = drop_rows(data, suffix=".csv", drop=lambda number, cells: any(cells.get(column, "") in names for column in (*RECORD_COLUMNS, "family_id")))
    if dropped.rows_after == dropped.rows_before:
        return 0
    write_raw_file(path, dropped.data, settings=settings)
    for page in path.parent.glob("*.html"):
        page.unlink()
    note = (
        "Rapport réduit après un retrait de consentement : failures.csv reste, les pages HTML ont été retirées.\n"
        "Report reduced after a consent withdrawal: failures.csv remains, the HTML pages were removed.\n"
    )
    write_raw_file(path.parent / "REDACTED.txt", note.encode("utf-8"), settings=settings)
    return 1


def _remove_harmonised(settings: Settings) -> int:
    """Remove layer 03's folders: caches of staged pulls that still held the families."""
    root = settings.data_dir / layers.HARMONISED
    folders = [path for path in root.iterdir() if path.is_dir()] if root.is_dir() else []
    for folder in folders:
        shutil.rmtree(folder)
    return len(folders)
