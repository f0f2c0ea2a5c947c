"""Where a family's rows are: the record ids held by each REDCap pull and each registry pull.

Pure readers over the layers; :mod:`proximite.cohort.privacy.withdrawal` acts on what they find.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from proximite.cohort.privacy.redact_rows import csv_rows
from proximite.cohort.raw_files import read_raw_file
from proximite.config import Settings

__all__ = [
    "RECORD_COLUMNS",
    "STAGED_ONLY_FIELDS",
    "destruction_requests",
    "log_record",
    "raw_record_files",
    "record_ids_in_raw",
    "record_ids_in_staged",
]

#: Columns that hold a REDCap record id in staged tables and reports.
RECORD_COLUMNS = ("record_id", "family_record_id", "record")
#: The exit form's request: withdrawal of participation and data (``participation_donnees``).
WITHDRAWAL_FIELD = "sortie_retrait"
DESTROY_DATA = "participation_donnees"
#: Staged fields read by the withdrawal step and never harmonised, by source (the privacy inventory lists them so).
STAGED_ONLY_FIELDS: dict[str, tuple[str, ...]] = {"redcap": (WITHDRAWAL_FIELD,)}
#: REDCap's logging export names the record in its action ("Update record 12").
_RECORD_ACTION = re.compile(r"^\s*(?:create|update|delete|lock|unlock|e-?sign)\w*\s+record\b\s*(?P<record>\S+)", re.IGNORECASE)


def destruction_requests(staged: dict[str, pd.DataFrame]) -> set[str]:
    """Record ids whose exit form asks that their data be destroyed (``sortie_retrait = participation_donnees``).

    Parameters
    ----------
    staged : dict of DataFrame
        The latest staged REDCap pull, ``{form: frame}``.
    """
    exit_form = staged.get("sortie")
    if exit_form is None or WITHDRAWAL_FIELD not in exit_form.columns:
        return set()
    asks = exit_form[WITHDRAWAL_FIELD].astype("string").str.strip() == DESTROY_DATA
    return set(exit_form.loc[asks.fillna(False), "record_id"].astype(str))


def raw_record_files(pull_dir: Path) -> list[Path]:
    """The files of a REDCap raw pull that name records: exports, record lists, the project log."""
    return sorted(
        path for path in pull_dir.rglob("*.csv")
        if path.name.startswith(("records", "record_ids")) or path.name == "log.csv"
    )


def log_record(cells: dict[str, str]) -> str:
    """The record a row of REDCap's logging export is about ('' when none)."""
    named = (cells.get("record") or "").strip()
    if named:
        return named
    match = _RECORD_ACTION.match(cells.get("action") or "")
    return match.group("record") if match else ""


def record_ids_in_raw(pull_dir: Path, *, settings: Settings) -> set[str]:
    """Every record id a REDCap raw pull names (first column of its exports and lists, its log)."""
    found: set[str] = set()
    for path in raw_record_files(pull_dir):
        header, rows = csv_rows(read_raw_file(path, settings=settings), errors="replace")
        if path.name == "log.csv":
            found.update(record for row in rows if (record := log_record(dict(zip(header, row)))))
        else:
            found.update(row[0] for row in rows if row)
    return found


def record_ids_in_staged(frames: Iterable[pd.DataFrame]) -> set[str]:
    """Every record id of staged tables (their ``record_id`` / ``family_record_id`` columns)."""
    found: set[str] = set()
    for frame in frames:
        for column in RECORD_COLUMNS:
            if column in frame.columns:
                found.update(frame[column].dropna().astype(str))
    return found
