"""The named data layers of a project directory, and pull identifiers.

::

    <project-dir>/data/01_raw/<source>/<pull_id>/      files as received + manifest.json (never edited)
    <project-dir>/data/02_staged/<source>/<pull_id>/   typed tables, one Parquet file per table
    <project-dir>/data/02_staged/<source>/LATEST       pull id of the last good staged pull
    <project-dir>/data/quarantine/<pull_id>/           batches a gate refused, with their report
    <project-dir>/warehouse.duckdb                     03 harmonised (the warehouse)
    <project-dir>/reporting/                           05 reporting

``LATEST`` is replaced atomically only after a pull has been fully staged, so a failed pull
leaves the last good staged state in place.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import secrets
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path

import pandas as pd

from proximite.config import Settings

RAW = "01_raw"
STAGED = "02_staged"
HARMONISED = "03_harmonised"
QUARANTINE = "quarantine"
LATEST = "LATEST"

#: Sources every build needs, in the order a pipeline ingests them.
SOURCES = ("reference", "redcap", "registry", "cost")
#: The yearly questionnaires: a build uses their latest staged pull when there is one.
SURVEY_SOURCES = ("partner_survey", "staff_survey")
#: The qualitative strand (register and coding): a build uses it when it has been staged.
QUALITATIVE_SOURCES = ("qual_register", "qual_coding")
#: Sources a build uses when they have been staged.
OPTIONAL_SOURCES = SURVEY_SOURCES + QUALITATIVE_SOURCES
#: Every source of the data layers.
ALL_SOURCES = SOURCES + OPTIONAL_SOURCES

#: The staged validation gate, as the sources receive it: called with ``{source: candidate
#: directory}`` and the pull id before a pull is committed; it raises (a ``GateFailed`` of
#: :mod:`proximite.expectations.gates`) to refuse. The pipeline's stage steps pass
#: :func:`proximite.expectations.gates.staged_gate`; the data layer never imports the checks.
StagedGate = Callable[[Mapping[str, Path], str], None]


def new_pull_id(now: dt.datetime | None = None) -> str:
    """A sortable, unique pull id: ``20260121T060000Z-1a2b3c``."""
    now = now or dt.datetime.now(dt.timezone.utc)
    return f"{now.strftime('%Y%m%dT%H%M%SZ')}-{secrets.token_hex(3)}"


def raw_dir(settings: Settings, source: str, pull_id: str) -> Path:
    return settings.data_dir / RAW / source / pull_id


def staged_dir(settings: Settings, source: str, pull_id: str) -> Path:
    return settings.data_dir / STAGED / source / pull_id


def quarantine_dir(settings: Settings, pull_id: str) -> Path:
    return settings.data_dir / QUARANTINE / pull_id


def sha256_of(path: Path, *, chunk_size: int = 1 << 20) -> str:
    """Hex SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(chunk_size), b""):
            digest.update(chunk)
    return digest.hexdigest()


def replace_directory(temporary: Path, target: Path) -> None:
    """Put the directory ``temporary`` at ``target``, replacing an existing one (kept on failure).

    Two renames within the same parent, each atomic: a reader sees the old or the new directory
    (or, for an instant, none); if the second rename fails the old directory is put back.
    """
    if not target.exists():
        os.replace(temporary, target)
        return
    aside = target.with_name(f".{target.name}.old-{secrets.token_hex(4)}")
    os.replace(target, aside)
    try:
        os.replace(temporary, target)
    except BaseException:
        os.replace(aside, target)
        raise
    shutil.rmtree(aside, ignore_errors=True)


def mark_latest(settings: Settings, source: str, pull_id: str) -> None:
    """Point ``LATEST`` of a source at a fully staged pull (atomic replace)."""
    target = settings.data_dir / STAGED / source / LATEST
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{LATEST}.{pull_id}.tmp")
    temporary.write_text(pull_id + "\n", encoding="utf-8")
    os.replace(temporary, target)


def latest_pull(settings: Settings, source: str) -> str | None:
    """Pull id of the last good staged pull of a source, or None."""
    target = settings.data_dir / STAGED / source / LATEST
    if not target.is_file():
        return None
    return target.read_text(encoding="utf-8").strip() or None


def read_staged(settings: Settings, source: str, pull_id: str | None = None) -> dict[str, pd.DataFrame]:
    """Read the staged tables of one pull (the latest by default) as ``{table: frame}``.

    Raises
    ------
    FileNotFoundError
        The source has no staged pull yet.
    """
    pull_id = pull_id or latest_pull(settings, source)
    if pull_id is None:
        raise FileNotFoundError(
            f"no staged pull of source '{source}' under {settings.data_dir / STAGED}; run `proximite ingest` first"
        )
    directory = staged_dir(settings, source, pull_id)
    return {path.stem: pd.read_parquet(path) for path in sorted(directory.glob("*.parquet"))}


def staged_fingerprint(settings: Settings, sources: tuple[str, ...] = ALL_SOURCES) -> dict[str, str]:
    """``{source: pull_id}`` of the latest staged pulls (what a build is made from; sources never staged left out)."""
    return {source: pull for source in sources if (pull := latest_pull(settings, source)) is not None}


def staged_content(settings: Settings, sources: tuple[str, ...] = ALL_SOURCES) -> dict[str, str]:
    """``{source: SHA-256}`` of the latest staged pulls' tables: what they hold, whatever their pull id.

    Two pulls of the same files (or a REDCap incremental pull that changed nothing) stage the
    same tables byte for byte, so they have the same content hash and the steps after them need
    not run again.
    """
    content: dict[str, str] = {}
    for source, pull_id in staged_fingerprint(settings, sources).items():
        digest = hashlib.sha256()
        for path in sorted(staged_dir(settings, source, pull_id).glob("*.parquet")):
            digest.update(path.name.encode("utf-8") + b"\0" + sha256_of(path).encode("ascii") + b"\n")
        content[source] = digest.hexdigest()
    return content
