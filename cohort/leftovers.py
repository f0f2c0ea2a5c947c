"""What a killed ingest or pull leaves behind, found and removed by the next run.

An ingest or a REDCap pull killed outright (``SIGKILL``, a machine that stops) runs none of its
own clean-up, so it can leave:

- **staging temporaries** in ``data/02_staged/<source>/``: the hidden ``.<pull_id>.partial``
  folder a pull stages into before its commit, and the hidden ``.LATEST.<pull_id>.tmp`` file a
  commit writes before it replaces ``LATEST``;
- **an unfinished raw folder** ``data/01_raw/<source>/<pull_id>/``: what was received so far
  (the REDCap export holds identifiers) with a manifest that still says "in progress", or with
  no manifest at all (written by a version that wrote it last).

The next ingest or pull of the project calls :func:`clean_leftovers` before it starts, and
``proximite status`` lists with :func:`find_leftovers` what is still there.

Notes
-----
The rule, chosen so that nothing a live run or a finished pull owns is ever removed:

1. A raw folder whose manifest is **complete** (staged, failed or refused: anything but "in
   progress") is never touched: 01 raw is never edited.
2. A raw folder whose manifest says **in progress** and names its process (``process.pid`` on
   ``process.host``) is abandoned when that host is this machine and no process has that id.
   A process of another machine, or a live process, keeps it.
3. A raw folder with **no manifest**, or an in-progress manifest that names no process (older
   versions), is abandoned when nothing in it changed for :data:`GRACE_SECONDS` (a live copy
   keeps changing it; a run writes its manifest right after creating the folder).
4. A staging temporary is abandoned when its pull is not live: the raw folder of the same pull
   id is complete, abandoned or gone (then the temporary's own age decides, as in 3).

The run that cleans never looks at its own pull id. Logs give counts, never a file's content.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from proximite.cohort.layers import RAW, STAGED
from proximite.config import Settings

__all__ = [
    "GRACE_SECONDS",
    "IN_PROGRESS",
    "CleanResult",
    "Leftover",
    "clean_leftovers",
    "find_leftovers",
    "finished_manifest",
    "process_is_gone",
    "running_process",
]

log = logging.getLogger(__name__)

#: The ``error`` an in-progress manifest holds (the text older versions wrote too).
IN_PROGRESS = "pull in progress (or interrupted)"

#: How long a folder without a process to ask about must stay unchanged before it is abandoned.
GRACE_SECONDS = 15 * 60

_TEMPORARY = re.compile(r"^\.(?:LATEST\.)?(?P<pull>[A-Za-z0-9][A-Za-z0-9._-]*?)\.(?:partial|tmp)$")

#: The kinds of leftover, as :func:`find_leftovers` names them.
STAGING_TEMPORARY = "staging temporary"
UNFINISHED_RAW = "unfinished raw pull"


@dataclass(frozen=True)
class Leftover:
    """One thing an interrupted run left.

    Attributes
    ----------
    path : Path
    kind : str
        ``"staging temporary"`` or ``"unfinished raw pull"``.
    source : str
    pull_id : str
    reason : str
        Why it is taken as abandoned (no value of a file).
    """

    path: Path
    kind: str
    source: str
    pull_id: str
    reason: str


@dataclass(frozen=True)
class CleanResult:
    """What :func:`clean_leftovers` removed (counts by kind) and what it could not (with why)."""

    removed: dict[str, int]
    failed: list[tuple[Leftover, str]]


def running_process() -> dict[str, Any]:
    """``{"pid", "host"}`` of this process: what an in-progress manifest names."""
    return {"pid": os.getpid(), "host": socket.gethostname()}


def process_is_gone(process: Any, *, host: str | None = None) -> bool:
    """Whether the process an in-progress manifest names is known to be gone.

    False when it runs, when it is on another machine (nothing can be known from here) or when
    the manifest names no usable process.
    """
    if not isinstance(process, dict) or not isinstance(process.get("pid"), int):
        return False
    if process.get("host") != (host or socket.gethostname()):
        return False
    try:
        os.kill(process["pid"], 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # it exists, under another user
        return False
    return False


def _read_manifest(folder: Path) -> dict[str, Any] | None:
    from proximite.cohort.raw import MANIFEST_NAME

    try:
        manifest = json.loads((folder / MANIFEST_NAME).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, json.JSONDecodeError):
        return {"in_progress": True}  # half-written: as unfinished as no manifest, decided by age
    return manifest if isinstance(manifest, dict) else {"in_progress": True}


def finished_manifest(folder: Path) -> dict[str, Any] | None:
    """A raw pull's manifest when the pull is finished; None when it has none, a half-written one or an in-progress one."""
    manifest = _read_manifest(folder)
    return None if manifest is None or _in_progress(manifest) else manifest


def _in_progress(manifest: dict[str, Any]) -> bool:
    """Whether a manifest is a run's first one (this version's flag, or older versions' text)."""
    return bool(manifest.get("in_progress")) or manifest.get("error") == IN_PROGRESS


def _newest_change(path: Path) -> float:
    """The newest modification time of a folder, of anything in it, or of a file."""
    newest = path.lstat().st_mtime
    if path.is_dir():
        for root, folders, files in os.walk(path):
            for name in folders + files:
                try:
                    newest = max(newest, (Path(root) / name).lstat().st_mtime)
                except OSError:
                    continue
    return newest


def raw_pull_state(folder: Path, *, now: float, host: str | None = None) -> str | None:
    """Why a raw pull folder is abandoned, or None when it is complete or may still be running."""
    manifest = _read_manifest(folder)
    if manifest is not None:
        if not _in_progress(manifest):
            return None  # rule 1: a finished pull, never touched
        if "process" in manifest and isinstance(manifest["process"], dict) and manifest["process"].get("pid"):
            if process_is_gone(manifest["process"], host=host):
                return f"manifest in progress, process {manifest['process']['pid']} is gone"
            return None  # rule 2: alive, or on another machine
    idle = now - _newest_change(folder)
    if idle < GRACE_SECONDS:
        return None
    what = "no manifest" if manifest is None else "manifest in progress without a process"
    return f"{what}, unchanged for {int(idle // 60)} min"


def find_leftovers(settings: Settings, *, current_pull: str | None = None, now: float | None = None,
                   host: str | None = None) -> list[Leftover]:
    """Every abandoned staging temporary and unfinished raw pull of a project (see the module's rule).

    Parameters
    ----------
    settings : Settings
    current_pull : str, optional, keyword-only
        The pull id of the run asking, never taken as a leftover.
    now : float, optional, keyword-only
        Epoch seconds (default: the clock).
    host : str, optional, keyword-only
        This machine's name (default: :func:`socket.gethostname`).

    Returns
    -------
    list of Leftover
        Sorted by path.
    """
    now = time.time() if now is None else now
    found: list[Leftover] = []
    raw_states: dict[tuple[str, str], str | None] = {}
    raw_root = settings.data_dir / RAW
    for folder in sorted(raw_root.glob("*/*")) if raw_root.is_dir() else ():
        if not folder.is_dir() or folder.name.startswith(".") or folder.name == current_pull:
            continue
        state = raw_pull_state(folder, now=now, host=host)
        raw_states[(folder.parent.name, folder.name)] = state
        if state is not None:
            found.append(Leftover(folder, UNFINISHED_RAW, folder.parent.name, folder.name, state))
    staged_root = settings.data_dir / STAGED
    for path in sorted(staged_root.glob("*/.*")) if staged_root.is_dir() else ():
        match = _TEMPORARY.match(path.name)
        if match is None or match["pull"] == current_pull:
            continue
        raw_folder = raw_root / path.parent.name / match["pull"]
        reason = _temporary_state(path, raw_folder, raw_states.get((path.parent.name, match["pull"])), now=now)
        if reason is not None:
            found.append(Leftover(path, STAGING_TEMPORARY, path.parent.name, match["pull"], reason))
    return sorted(found, key=lambda leftover: str(leftover.path))


def _temporary_state(path: Path, raw_folder: Path, raw_reason: str | None, *, now: float) -> str | None:
    """Rule 4: a staging temporary is abandoned with its pull (or, with no raw folder, by age)."""
    if raw_reason is not None:
        return f"its pull is abandoned ({raw_reason})"
    if not raw_folder.is_dir():
        idle = now - _newest_change(path)
        return f"no raw pull of that id, unchanged for {int(idle // 60)} min" if idle >= GRACE_SECONDS else None
    manifest = _read_manifest(raw_folder)
    if manifest is not None and not _in_progress(manifest):
        return "its pull has finished"
    return None  # the pull may still be running


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()


def clean_leftovers(settings: Settings, *, current_pull: str | None = None,
                    remove: Callable[[Path], None] = _remove) -> CleanResult:
    """Remove what :func:`find_leftovers` finds; log the counts; never raise for a failed removal.

    Parameters
    ----------
    settings : Settings
    current_pull : str, optional, keyword-only
        The pull id of the run cleaning (never removed).
    remove : callable, optional, keyword-only
        Removes one path (default: the folder with its content, or the file).

    Returns
    -------
    CleanResult
        Counts removed by kind; the leftovers that could not be removed, with the error's kind
        (``proximite status`` lists those, since they stay).
    """
    removed: dict[str, int] = {}
    failed: list[tuple[Leftover, str]] = []
    for leftover in find_leftovers(settings, current_pull=current_pull):
        try:
            remove(leftover.path)
        except OSError as error:
            failed.append((leftover, type(error).__name__))
            continue
        removed[leftover.kind] = removed.get(leftover.kind, 0) + 1
    if removed or failed:
        log.warning(
            "leftovers of interrupted runs: %d unfinished raw pull(s) and %d staging temporary(ies) removed, "
            "%d could not be removed (see `proximite status`)",
            removed.get(UNFINISHED_RAW, 0), removed.get(STAGING_TEMPORARY, 0), len(failed),
        )
    return CleanResult(removed=removed, failed=failed)
