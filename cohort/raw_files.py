"""Reading and rewriting single files of layer 01 raw, in one place.

Everything that reads a raw file's bytes after the pull (a withdrawal's redaction, retention)
goes through these functions, so that how raw files are stored (as received, or encrypted at
rest) is decided here only: :mod:`proximite.cohort.privacy.storage` encrypts with the project's
current key when ``[privacy] encrypt_raw`` is true, and opens plain files of a project created
before encryption as well as encrypted ones.
"""

from __future__ import annotations

from pathlib import Path

from proximite.cohort.privacy.storage import read_protected, write_protected, writing_key
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

    Raises
    ------
    EncryptedFileError
        The file is encrypted with a key the project does not hold, or it was altered.
    ConfigError
        The file is encrypted and no key is set.
    """
    return read_protected(Path(path), settings=settings)


def write_raw_file(path: Path, data: bytes, *, settings: Settings) -> None:
    """Replace a raw file by ``data`` atomically, read-only like every raw file.

    The old file is replaced by a rename, so a reader sees the old bytes or the new ones, never
    a mix; its blocks are not overwritten (a file system's free space is not the project's to
    scrub). The new file is encrypted with the project's current key (in clear when
    ``[privacy] encrypt_raw`` is false).

    Parameters
    ----------
    path : Path
        A file under ``data/01_raw/``.
    data : bytes
        Its new content, as it would have been received.
    settings : Settings, keyword-only
        The project's settings (where its keys are).
    """
    write_protected(Path(path), data, key=writing_key(settings), read_only=True)
