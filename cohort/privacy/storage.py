"""How the files of layer 01 raw and of the quarantine are written and read: encrypted at rest.

Every file a pull keeps in ``data/01_raw/<source>/<pull_id>/`` (but its ``manifest.json``) and
every file of ``data/quarantine/`` (but ``quarantine.json``) is written encrypted
(:mod:`~proximite.cohort.privacy.encryption`) with the project's current key when ``[privacy]
encrypt_raw`` is true (the default), and read back through these functions, which open a plain
file too (a project created before encryption, or with ``encrypt_raw = false``). The manifests
and ``quarantine.json`` hold counts, sizes and hashes only; they stay in clear for ``proximite
status`` and the clean-up of killed runs. A manifest's ``bytes`` and ``sha256`` are those of the
file **as received** (the plaintext), so they keep their audit meaning whatever the storage.

Readers that need paths (the file sources read CSV, Excel, SPSS, Stata and REFI-QDA files by
path) get a :func:`plain_view`: a private temporary folder (mode 0700, under the system's
temporary directory, ``TMPDIR``) holding decrypted copies, removed when the reading ends, on an
error too. Errors keep naming the user's files (:func:`proximite.cohort.raw.as_received`).
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from proximite.cohort.privacy.encryption import (
    SEGMENT_SIZE,
    KeyRing,
    RawKey,
    decrypt_file,
    file_chunks,
    file_key_id,
    fsync_directory,
    is_encrypted,
    iter_decrypted,
    iter_encrypted,
)
from proximite.cohort.privacy.keys import encrypts_raw, raw_keyring
from proximite.config import Settings

__all__ = [
    "CLEAR_QUARANTINE_FILES",
    "CLEAR_RAW_FILES",
    "copy_protected",
    "decrypt_tree",
    "plain_chunks",
    "plain_view",
    "protect_tree",
    "protected_files",
    "protected_writer",
    "readable_report_copy",
    "read_protected",
    "reseal",
    "stale_temporaries",
    "write_protected",
    "writing_key",
]

#: Files of a raw pull folder kept in clear (counts, sizes, hashes: no identifier).
CLEAR_RAW_FILES = frozenset({"manifest.json"})
#: Files of a quarantine folder kept in clear (counts by rule).
CLEAR_QUARANTINE_FILES = frozenset({"quarantine.json"})
_TEMPORARY_SUFFIX = ".pxtmp"
#: Temporaries of the writers (ours, the manifests', the reports'): never data, never sealed.
_TEMPORARY = re.compile(r"^\..+\.(?:pxtmp|tmp|rewrite)$")


def writing_key(settings: Settings) -> RawKey | None:
    """The key new raw and quarantine files are sealed with, or None when ``encrypt_raw`` is false.

    Raises
    ------
    ConfigError
        Encryption is on and no key is set (the message says where to put one).
    """
    return raw_keyring(settings).current if encrypts_raw(settings) else None


def _temporary_beside(path: Path) -> Path:
    return path.with_name(f".{path.name}.{secrets.token_hex(4)}{_TEMPORARY_SUFFIX}")


def _write_pieces(
    path: Path, pieces: Iterator[bytes | memoryview], *, mode: int | None, sync: bool = True, durable: bool = False
) -> None:
    """Write ``pieces`` to a temporary beside ``path`` (fsync when ``sync``), rename it over ``path``.

    ``durable`` also syncs the folder, so that the rename itself survives a crash (the rotation).
    """
    temporary = _temporary_beside(path)
    try:
        with temporary.open("wb") as handle:
            for piece in pieces:
                handle.write(piece)
            if sync:
                handle.flush()
                os.fsync(handle.fileno())
        if mode is not None:
            temporary.chmod(mode)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    if durable:
        fsync_directory(path.parent)


def _read_only(mode: int) -> int:
    return mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)


def write_protected(
    path: str | Path, data: bytes | memoryview, *, key: RawKey | None, read_only: bool = False, sync: bool = True
) -> None:
    """Write ``data`` to ``path``, encrypted with ``key`` (in clear when None), atomically.

    The bytes go to a temporary file beside ``path`` (synced unless ``sync`` is false: a new file
    of a pull still in progress needs no sync, the next run removes an unfinished pull), renamed
    over it: a reader, or a run killed at any moment, sees the old file or the new one.
    ``read_only`` drops every write permission (01 raw is never edited). Memory: the ciphertext is
    written segment by segment.
    """
    path = Path(path)
    view = memoryview(data)
    chunks = (view[start : start + SEGMENT_SIZE] for start in range(0, len(view), SEGMENT_SIZE))
    pieces = iter_encrypted(chunks, key) if key is not None else iter([view])
    _write_pieces(path, pieces, mode=_read_only(0o644) if read_only else None, sync=sync)


def protected_writer(settings: Settings) -> Callable[[Path, bytes], None]:
    """``write(path, data)`` for the quarantine's reports: encrypted when the project encrypts."""
    key = writing_key(settings)

    def write(path: Path, data: bytes) -> None:
        write_protected(path, data, key=key)

    return write


def copy_protected(source: Path, target: Path, *, key: RawKey | None) -> tuple[int, str]:
    """Copy ``source`` to ``target`` encrypted with ``key`` (in clear when None), in constant memory.

    For a new file of a pull in progress: written beside ``target`` and renamed, not synced (a
    pull killed before its manifest says it finished is removed by the next run).

    Returns
    -------
    size, sha256 : int, str
        Of the bytes read from ``source`` (as received), whatever is stored.
    """
    import hashlib

    digest, size = hashlib.sha256(), 0

    def counted() -> Iterator[bytes]:
        nonlocal size
        for chunk in file_chunks(source):
            digest.update(chunk)
            size += len(chunk)
            yield chunk

    pieces = iter_encrypted(counted(), key) if key is not None else counted()
    _write_pieces(target, pieces, mode=None, sync=False)
    return size, digest.hexdigest()


def plain_chunks(path: str | Path, *, settings: Settings, name: str | Path | None = None) -> Iterator[bytes]:
    """A raw or quarantine file's bytes as received, in chunks (decrypted when it is encrypted).

    The project's keys are read only when the file is encrypted; ``name`` is how errors name it.
    """
    path = Path(path)
    if not is_encrypted(path):
        yield from file_chunks(path)
        return
    keys = raw_keyring(settings)
    with path.open("rb") as handle:
        yield from iter_decrypted(handle, keys, path=name or path)


def read_protected(path: str | Path, *, settings: Settings, name: str | Path | None = None) -> bytes:
    """A raw or quarantine file's bytes as received (decrypted when it is encrypted)."""
    return b"".join(plain_chunks(path, settings=settings, name=name))


def decrypt_tree(directory: Path, target: Path, *, keys: Callable[[], KeyRing]) -> list[Path]:
    """Copy every file of ``directory`` into ``target`` (same relative paths), decrypted; return the copies.

    Folders are created with mode 0700; ``keys`` is called once, at the first encrypted file.
    Writers' temporaries (a killed run's half files) are left out.
    """
    copies, ring = [], None
    for path in sorted(item for item in directory.rglob("*") if item.is_file() and not _TEMPORARY.match(item.name)):
        copy = target / path.relative_to(directory)
        copy.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if is_encrypted(path):
            ring = ring or keys()
            decrypt_file(path, copy, ring, name=path)
        else:
            shutil.copyfile(path, copy)
        copies.append(copy)
    return copies


@contextmanager
def plain_view(directory: str | Path, *, settings: Settings) -> Iterator[Path]:
    """A folder holding ``directory``'s files as received, for readers that want paths.

    Yields ``directory`` itself when none of its files is encrypted; otherwise a private
    temporary folder (mode 0700) of decrypted copies, removed afterwards (on an error too).
    """
    directory = Path(directory)
    if not any(is_encrypted(path) for path in directory.rglob("*") if path.is_file()):
        yield directory
        return
    view = Path(tempfile.mkdtemp(prefix="proximite-plain-"))
    try:
        decrypt_tree(directory, view, keys=lambda: raw_keyring(settings))
        yield view
    finally:
        shutil.rmtree(view, ignore_errors=True)


def reseal(path: Path, *, keys: KeyRing, key: RawKey) -> bool:
    """Encrypt one file with ``key`` in place, atomically and durably, whatever it holds now.

    A plain file is encrypted; a file sealed with another key of ``keys`` is decrypted and
    sealed again; a file already sealed with ``key`` is left alone. The new file goes to a
    temporary beside it (fsync), is renamed over it, then its folder is synced: killed at any
    moment, the file is the old one or the new one. Its permissions are kept.

    Returns
    -------
    bool
        Whether the file was rewritten.
    """
    current = file_key_id(path)
    if current == key.key_id:
        return False
    mode = stat.S_IMODE(path.stat().st_mode)
    with path.open("rb") as handle:
        plain = iter_decrypted(handle, keys, path=path) if current is not None else file_chunks(path)
        _write_pieces(path, iter_encrypted(plain, key), mode=mode, durable=True)
    return True


def protect_tree(directory: Path, *, settings: Settings, clear: frozenset[str] = frozenset()) -> int:
    """Encrypt in place every plain file under ``directory`` (names in ``clear`` left), when the project encrypts.

    Returns the number of files encrypted (0 when ``encrypt_raw`` is false).
    """
    key = writing_key(settings)
    if key is None or not directory.is_dir():
        return 0
    keys = KeyRing((key,))
    done = 0
    for path in sorted(item for item in directory.rglob("*") if item.is_file()):
        if path.name in clear or _TEMPORARY.match(path.name) or is_encrypted(path):
            continue
        done += reseal(path, keys=keys, key=key)
    return done


def _files(root: Path) -> Iterator[Path]:
    for path in sorted(root.rglob("*")) if root.is_dir() else ():
        if path.is_file() and not path.is_symlink() and not _TEMPORARY.match(path.name):
            yield path


def protected_files(settings: Settings) -> Iterator[Path]:
    """Every file that is (or should be) encrypted: 01 raw but each pull's manifest, the quarantine but its records.

    Writers' temporaries (hidden ``.*.tmp``, ``.*.pxtmp``, ``.*.rewrite``) are left out.
    """
    from proximite.cohort.layers import QUARANTINE, RAW

    raw_root = settings.data_dir / RAW
    for path in _files(raw_root):
        relative = path.relative_to(raw_root)
        if len(relative.parts) == 3 and relative.name in CLEAR_RAW_FILES:
            continue  # <source>/<pull_id>/manifest.json
        yield path
    for path in _files(settings.data_dir / QUARANTINE):
        if path.name not in CLEAR_QUARANTINE_FILES:
            yield path


def stale_temporaries(settings: Settings) -> list[Path]:
    """Temporaries of :func:`write_protected` and :func:`reseal` that a killed run left (``.*.pxtmp``)."""
    from proximite.cohort.layers import QUARANTINE, RAW

    found: list[Path] = []
    for root in (settings.data_dir / RAW, settings.data_dir / QUARANTINE):
        if root.is_dir():
            found.extend(sorted(root.rglob(f".*{_TEMPORARY_SUFFIX}")))
    return found


def readable_report_copy(settings: Settings, path: str | Path, target: Path) -> list[Path]:
    """Decrypted copies of a quarantine folder (or one of its files) in ``target``, for a coordinator to read.

    Parameters
    ----------
    settings : Settings
    path : str or Path
        ``data/quarantine/<batch>/<source>/``, its ``report/`` or one file of it.
    target : Path
        Created with mode 0700 when missing; the copies keep their paths relative to ``path``.

    Returns
    -------
    list of Path
        The copies.

    Raises
    ------
    ProximiteError
        ``path`` is not in the project's quarantine.
    """
    from proximite.cohort.layers import QUARANTINE
    from proximite.errors import ProximiteError

    path, root = Path(path).resolve(), (settings.data_dir / QUARANTINE).resolve()
    if not path.exists() or not path.is_relative_to(root):
        raise ProximiteError(f"{path}: not a folder or file of the project's quarantine ({root})")
    target.mkdir(mode=0o700, parents=True, exist_ok=True)
    if path.is_dir():
        return decrypt_tree(path, target, keys=lambda: raw_keyring(settings))
    copy = target / path.name
    copy.write_bytes(read_protected(path, settings=settings))
    return [copy]
