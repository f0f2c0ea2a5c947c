"""Key rotation of the raw layer and the quarantine: every file sealed again with a new key, safely.

:func:`rotate_raw_key` works in three steps, each of which a ``kill -9`` may interrupt:

1. the key file is rewritten (atomically) with the **new key first and every old key after it**;
2. every raw and quarantine file (:func:`~proximite.cohort.privacy.storage.protected_files`) not
   yet sealed with the new key is decrypted and sealed again in place: a temporary beside it,
   fsync, rename, fsync of its folder (:func:`~proximite.cohort.privacy.storage.reseal`). Plain
   files of a project created before encryption are encrypted on the way;
3. once no file needs an old key any more, the key file is rewritten with the new key alone.

Killed anywhere, each file is whole and sealed with the old key or the new one, and the key
file holds both until step 3: everything stays readable. Running the rotation again finishes it
(with no new key given, a key file that still lists previous keys means "finish": the current
key is kept). Rotation refuses to start while a pull is running (its raw folder says "in
progress" and its process lives); what killed runs left is removed first, as a pull does.

When the keys come from the environment (``PROXIMITE_RAW_KEY``), nothing is written: set the
variable to ``NEW,OLD`` (new key first) and rotate without a new key, or give the new key; once
the rotation has finished, keep the new key alone in the variable.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from proximite.cohort.privacy.encryption import KeyRing, RawKey, file_key_id
from proximite.cohort.privacy.keys import key_file_path, keys_from_environment, raw_keyring_from_file, write_key_file
from proximite.cohort.privacy.storage import protected_files, reseal, stale_temporaries
from proximite.config import ConfigError, Settings
from proximite.errors import ProximiteError

__all__ = ["RotationResult", "encrypt_plain_files", "rotate_raw_key"]

log = logging.getLogger(__name__)

#: ``progress(done, total)`` after each file.
RotationProgress = Callable[[int, int], None]


@dataclass(frozen=True)
class RotationResult:
    """What a rotation did (ids and counts only).

    Attributes
    ----------
    key_id : str
        The current key's id once the rotation has finished.
    dropped : list of str
        Ids of the previous keys no file needs any more (removed from the key file).
    files : int
        Raw and quarantine files examined.
    rewritten : int
        Files sealed again (re-keyed, or plain files encrypted).
    origin : str
        Where the keys live (``file:<path>`` or ``env:<NAME>``).
    """

    key_id: str
    dropped: list[str]
    files: int
    rewritten: int
    origin: str


def _refuse_running_pulls(settings: Settings) -> None:
    """Remove what killed runs left; refuse while a pull is in progress (it writes with the key it read)."""
    from proximite.cohort.layers import RAW
    from proximite.cohort.leftovers import IN_PROGRESS, clean_leftovers
    from proximite.cohort.raw import MANIFEST_NAME

    clean_leftovers(settings)
    for manifest_path in sorted((settings.data_dir / RAW).glob(f"*/*/{MANIFEST_NAME}")):
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            manifest = {"in_progress": True}
        if manifest.get("in_progress") or manifest.get("error") == IN_PROGRESS:
            folder = manifest_path.parent
            raise ProximiteError(
                f"{folder}: pull {folder.name} of {folder.parent.name} is in progress; rotate the keys once it has finished"
            )
    for temporary in stale_temporaries(settings):
        temporary.unlink(missing_ok=True)  # a killed rotation's or write's half file (never the only copy)


def _target_ring(settings: Settings, new_key: RawKey | None) -> tuple[KeyRing, Path | None]:
    """The ring to rotate with (the target key first, every known key after) and the key file to keep it in."""
    from_env = keys_from_environment(settings)
    if from_env is not None:
        if new_key is None and not from_env.previous:
            raise ConfigError(
                f"the raw-layer keys come from {from_env.origin}: give the new key, or set the variable to "
                "NEW,OLD (new key first) and rotate again"
            )
        target = new_key or from_env.current
        return KeyRing((target, *(key for key in from_env.keys if key.key_id != target.key_id)), origin=from_env.origin), None
    path = key_file_path(settings)
    old = _read_ring(path)
    if old is not None and new_key is None and old.previous:
        target = old.current  # an unfinished rotation: finish it
    else:
        target = new_key or RawKey.generate()
    others = () if old is None else tuple(key for key in old.keys if key.key_id != target.key_id)
    return KeyRing((target, *others), origin=f"file:{path}"), path


def _read_ring(path: Path) -> KeyRing | None:
    return raw_keyring_from_file(path) if path.is_file() else None


def _reseal_all(settings: Settings, ring: KeyRing, progress: RotationProgress | None) -> tuple[int, int]:
    """Seal every protected file with the ring's current key; ``(files, rewritten)``."""
    files = list(protected_files(settings))
    rewritten = 0
    for done, path in enumerate(files, start=1):
        rewritten += reseal(path, keys=ring, key=ring.current)
        if progress is not None:
            progress(done, len(files))
    return len(files), rewritten


def rotate_raw_key(settings: Settings, new_key: RawKey | None = None, *, progress: RotationProgress | None = None) -> RotationResult:
    """Seal every raw and quarantine file with a new key, safely against a kill at any moment.

    Parameters
    ----------
    settings : Settings
    new_key : RawKey, optional
        The new key. Default: a random one written to the project's key file; or, when the key
        file (or the variable) still lists previous keys, the current key (an unfinished rotation
        is finished). A project without any key gets its key file here, and its plain files
        encrypted.
    progress : callable, optional, keyword-only
        ``progress(done, total)`` after each file.

    Returns
    -------
    RotationResult

    Raises
    ------
    ProximiteError
        A pull is running; or a file cannot be opened with any known key
        (:class:`~proximite.cohort.privacy.encryption.EncryptedFileError`, naming it). Nothing is
        lost: run the rotation again once the cause is fixed.
    ConfigError
        The keys come from the environment and no new key was given.
    """
    _refuse_running_pulls(settings)
    ring, key_file = _target_ring(settings, new_key)
    if key_file is not None:
        write_key_file(key_file, ring)  # step 1: the new key first, every old one kept
    files, rewritten = _reseal_all(settings, ring, progress)  # step 2
    # A file written meanwhile with an old key (a run started before step 1) is sealed again.
    behind = [path for path in protected_files(settings) if file_key_id(path) != ring.current.key_id]
    for path in behind:
        rewritten += reseal(path, keys=ring, key=ring.current)
    if key_file is not None and ring.previous:
        write_key_file(key_file, KeyRing((ring.current,)))  # step 3: no file needs an old key any more
    log.info("raw-layer key rotation: %d file(s) examined, %d sealed again, current key %s", files, rewritten, ring.current.key_id)
    return RotationResult(
        key_id=ring.current.key_id, dropped=[key.key_id for key in ring.previous], files=files, rewritten=rewritten,
        origin=ring.origin,
    )


def encrypt_plain_files(settings: Settings, *, progress: RotationProgress | None = None) -> RotationResult:
    """Encrypt with the current key the raw and quarantine files still in clear (a project from before encryption).

    Files already encrypted are left as they are (whatever key of the ring sealed them); the keys
    do not change.
    """
    from proximite.cohort.privacy.encryption import is_encrypted
    from proximite.cohort.privacy.keys import raw_keyring

    _refuse_running_pulls(settings)
    ring = raw_keyring(settings)
    plain = [path for path in protected_files(settings) if not is_encrypted(path)]
    rewritten = 0
    for done, path in enumerate(plain, start=1):
        rewritten += reseal(path, keys=ring, key=ring.current)
        if progress is not None:
            progress(done, len(plain))
    return RotationResult(key_id=ring.current.key_id, dropped=[], files=len(plain), rewritten=rewritten, origin=ring.origin)
