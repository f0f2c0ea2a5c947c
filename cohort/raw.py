"""Layer 01 raw: files kept as received, made read-only, and described by a manifest.

:func:`proximite.cohort.ingest.ingest` and the REDCap pull (:mod:`proximite.cohort.redcap.pull`)
both write their pulls with these. Files are encrypted at rest when the project encrypts
(:mod:`proximite.cohort.privacy.storage`); the manifest stays in clear and records each file's
size and SHA-256 as received (the plaintext).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

from proximite.cohort.leftovers import running_process
from proximite.cohort.privacy.encryption import RawKey
from proximite.cohort.privacy.storage import copy_protected
from proximite.cohort.sources import Source
from proximite.errors import InputError, ProximiteError
from proximite.version import code_version

__all__ = ["MANIFEST_NAME", "as_received", "copy_as_received", "make_read_only", "update_manifest", "utc_now", "write_manifest"]

#: The manifest of a raw pull directory.
MANIFEST_NAME = "manifest.json"


def utc_now() -> str:
    """The current UTC time as ISO text, ``2026-01-21T06:00:00Z`` (manifests' ``received_at``)."""
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def write_manifest(
    target: Path,
    *,
    source: str,
    pull_id: str,
    received_at: str,
    parameters: dict[str, Any],
    files: list[dict[str, Any]],
    staged: bool,
    error: str | None,
    extra: dict[str, Any] | None = None,
    in_progress: bool = False,
) -> Path:
    """Write (or rewrite) the ``manifest.json`` of a raw pull directory, read-only.

    Parameters
    ----------
    target : Path
        ``data/01_raw/<source>/<pull_id>/``.
    source, pull_id, received_at : str, keyword-only
        ``received_at`` is UTC ISO (``2026-01-21T06:00:00Z``).
    parameters : dict, keyword-only
        How the pull was made (never a secret).
    files : list of dict, keyword-only
        ``{"path" (relative), "bytes", "sha256", "rows", ...}`` per file.
    staged : bool, keyword-only
        Whether the pull reached 02 staged.
    error : str or None, keyword-only
        Why it did not (a message without values or secrets).
    extra : dict, optional, keyword-only
        More keys (a pull's mode, watermark, ...), written after the standard ones.
    in_progress : bool, keyword-only
        The run's first manifest, written as soon as its folder exists: it says ``"in_progress":
        true`` and names the process (``{"pid", "host"}``), so that the next run can tell a
        killed run's folder from a live one (:mod:`proximite.cohort.leftovers`). The last
        manifest (staged, failed or refused) drops both.

    Returns
    -------
    Path
        The manifest's path.
    """
    manifest = {
        "source": source,
        "pull_id": pull_id,
        "received_at": received_at,
        "parameters": parameters,
        "files": files,
        "code_version": code_version(),
        "staged": staged,
        "error": error,
        **(extra or {}),
    }
    if in_progress:
        manifest.update({"in_progress": True, "process": running_process()})
    return _replace_manifest(target / MANIFEST_NAME, manifest)


def update_manifest(target: Path, update: Callable[[dict[str, Any]], None]) -> Path:
    """Change a finished pull's manifest in place (a redaction, a retention record), read-only again.

    Parameters
    ----------
    target : Path
        The raw pull directory.
    update : callable
        Called with the manifest as a dict; changes it in place.
    """
    path = target / MANIFEST_NAME
    manifest = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    update(manifest)
    return _replace_manifest(path, manifest)


def _replace_manifest(path: Path, manifest: dict[str, Any]) -> Path:
    if path.exists():  # a pull rewrites its manifest as it goes: in progress, then done or failed
        path.chmod(0o644)
    temporary = path.with_name(f".{MANIFEST_NAME}.tmp")
    temporary.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(temporary, path)
    path.chmod(0o444)
    return path


def make_read_only(path: Path) -> None:
    """Remove every write permission of a raw file (01 raw is never edited)."""
    path.chmod(path.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


def copy_as_received(
    source: Source, files: list[Path], *, input_dir: Path, target: Path, tick: Callable[[], None], key: RawKey | None
) -> list[dict[str, Any]]:
    """Copy a source's files as received, read-only, encrypted with ``key`` (in clear when None).

    Returns their manifest entries: ``bytes`` and ``sha256`` are those of the file received.
    ``target`` may exist already (holding only the run's in-progress manifest).
    """
    root = source.source_dir(input_dir)
    relatives = [path.relative_to(root) for path in files]
    target.mkdir(parents=True, exist_ok=True)
    entries = []
    for path, relative in zip(files, relatives, strict=True):
        destination = target / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        expected = path.stat().st_size
        size, digest = copy_protected(path, destination, key=key)
        if size != expected:
            raise ProximiteError(f"{destination}: the copy is incomplete ({size} of {expected} bytes)")
        make_read_only(destination)
        entries.append({"path": relative.as_posix(), "bytes": size, "sha256": digest, "rows": None})
        tick()
    return entries


def as_received(error: InputError, *, raw: Path, received: Path, stored: Path | None = None) -> InputError:
    """The same error, naming the file where the user sent it rather than its raw copy.

    ``raw`` is the folder the reader read (the raw pull folder, or the decrypted view of it that
    :func:`~proximite.cohort.privacy.storage.plain_view` gave); ``stored`` the raw pull folder
    when ``raw`` is such a view. The raw copy's path stays available as ``error.raw_path`` (when
    the file exists).
    """
    try:
        relative = Path(error.path).relative_to(raw)
    except ValueError:
        return error
    from proximite.cohort.redcap.refusal import StagingRefused

    renamed: InputError
    if isinstance(error, StagingRefused):  # every defect kept, the report named
        renamed = StagingRefused(received / relative, error.defects, report_dir=error.report_dir)
    else:
        renamed = InputError(
            received / relative, error.rule, row=error.row, column=error.column, detail=error.detail, count=error.count
        )
    kept = (stored or raw) / relative
    if kept.exists():
        renamed.raw_path = str(kept)  # type: ignore[attr-defined]
    return renamed
