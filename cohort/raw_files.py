"""Reading and rewriting single files of layer 01 raw, in one place.

Everything that reads a raw file's bytes after the pull (a withdrawal's redaction, retention)
goes through these functions, so that how raw files are stored (as received, or encrypted at
rest) is decided here only.
"""

from __future__ import annotations

import os
from pathlib import Path

from proximite.cohort.raw import make_read_only
from proximite.config import Settings

__all__ = ["read_raw_file", "write_raw_file"]


def read_raw_file(path: Path, *, settings: Settings) -> bytes:
    """The bytes of a raw file as they were received.

    Parameters
    ----------
    path : Path
        A file under ``data/01_raw/``.
    settings : Settings, keyword-only
        The project's settings (where its keys are).
    """
    del settings  # stored as received: nothing to undo
    return Path(path).read_bytes()


def write_raw_file(path: Path, data: bytes, *, settings: Settings) -> None:
    """Replace a raw file by ``data`` atomically, read-only like every raw file.

    The old file is replaced by a rename, so a reader sees the old bytes or the new ones, never
    a mix; its blocks are not overwritten (a file system's free space is not the project's to
    scrub).

    Parameters
    ----------
    path : Path
        A file under ``data/01_raw/``.
    data : bytes
        Its new content, as it would have been received.
    settings : Settings, keyword-only
        The project's settings (where its keys are).
    """
    del settings
    path = Path(path)
    temporary = path.with_name(f".{path.name}.rewrite")
    temporary.write_bytes(data)
    os.replace(temporary, path)
    make_read_only(path)
