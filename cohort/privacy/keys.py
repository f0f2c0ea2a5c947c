"""Where the raw layer's keys come from, as the pseudonym key: the environment, a Secret block, a file.

``[privacy]`` of the configuration says where to look, in this order:

1. the environment variable ``raw_key_env`` (``PROXIMITE_RAW_KEY``), or the same name handed in
   through :attr:`proximite.config.Settings.secrets` (the flows read ``raw_key_secret``, a Prefect
   Secret block, and hand it in that way);
2. the project's key file ``raw_key_file`` (``.raw_key``, mode 0600: a file others may read is
   refused). ``proximite demo`` creates it; so does the first key rotation of a project that has
   no key yet.

Either holds one key or several: 64 hexadecimal characters each, separated by spaces, commas or
new lines (``#`` starts a comment in the file). The first is the **current** key, which new files
are sealed with; the others are **previous** keys, which files a rotation has not reached yet
are still opened with. A key is never logged nor put in a message: errors name where they
looked, and a key by its id (:attr:`~proximite.cohort.privacy.encryption.RawKey.key_id`).
"""

from __future__ import annotations

import os
import re
import secrets
import stat
from pathlib import Path
from typing import Any

from proximite.cohort.privacy.encryption import KeyRing, RawKey, fsync_directory
from proximite.config import ConfigError, Settings

__all__ = [
    "encrypts_raw",
    "key_file_path",
    "keys_from_environment",
    "parse_keys",
    "privacy_section",
    "raw_keyring",
    "raw_keyring_from_file",
    "write_key_file",
]

_DEFAULTS: dict[str, Any] = {
    "encrypt_raw": True,
    "raw_key_env": "PROXIMITE_RAW_KEY",
    "raw_key_secret": "",
    "raw_key_file": ".raw_key",
}
_SEPARATORS = re.compile(r"[\s,]+")


def privacy_section(settings: Settings) -> dict[str, Any]:
    """``[privacy]`` with its defaults filled in."""
    return {**_DEFAULTS, **(settings.raw.get("privacy") or {})}


def encrypts_raw(settings: Settings) -> bool:
    """``[privacy] encrypt_raw``: whether new raw and quarantine files are encrypted."""
    return bool(privacy_section(settings)["encrypt_raw"])


def key_file_path(settings: Settings) -> Path:
    """The project's key file (it may not exist)."""
    return settings.project_dir / str(privacy_section(settings)["raw_key_file"])


def parse_keys(text: str, *, origin: str) -> KeyRing:
    """The keys of a key file's or variable's text, current first; a malformed entry is named by its place.

    Raises
    ------
    ConfigError
        No key, or an entry that is not 64 hexadecimal characters (the entry is not shown).
    """
    lines = [line.split("#", 1)[0] for line in text.splitlines()]
    entries = [entry for entry in _SEPARATORS.split(" ".join(lines)) if entry]
    keys: list[RawKey] = []
    for position, entry in enumerate(entries, start=1):
        try:
            key = RawKey.from_hex(entry)
        except ValueError:
            raise ConfigError(
                f"{origin}: entry {position} is not a raw-layer key (64 hexadecimal characters); the value is not shown"
            ) from None
        if key.key_id not in {known.key_id for known in keys}:
            keys.append(key)
    if not keys:
        raise ConfigError(f"{origin}: holds no raw-layer key")
    return KeyRing(tuple(keys), origin=origin)


def keys_from_environment(settings: Settings) -> KeyRing | None:
    """The keys of ``raw_key_env`` (handed in or in the environment), or None when it is unset."""
    name = str(privacy_section(settings)["raw_key_env"])
    text = settings.secret(name)
    return parse_keys(text, origin=f"env:{name}") if text else None


def raw_keyring_from_file(path: Path) -> KeyRing:
    """The keys of a key file; one readable by others is refused (``ConfigError``)."""
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise ConfigError(f"{path}: the raw-layer key file is readable by others (mode {mode:o}); run `chmod 600` on it")
    return parse_keys(path.read_text(encoding="utf-8"), origin=f"file:{path}")


def raw_keyring(settings: Settings, *, create: bool = False) -> KeyRing:
    """The raw layer's keys: the environment (or a handed-in secret) first, then the project's key file.

    Parameters
    ----------
    settings : Settings
    create : bool, keyword-only
        Create the key file with a new random key (mode 0600) when there is no key at all. The
        demo does this; a real project sets the key itself (docs/encryption.md).

    Returns
    -------
    KeyRing
        ``origin`` is ``env:<NAME>`` or ``file:<path>``, never a key.

    Raises
    ------
    ConfigError
        No key and ``create`` is false; a key file readable by others; a malformed key.
    """
    from_env = keys_from_environment(settings)
    if from_env is not None:
        return from_env
    path = key_file_path(settings)
    if path.is_file():
        return raw_keyring_from_file(path)
    if not create:
        section = privacy_section(settings)
        raise ConfigError(
            f"no raw-layer key: set {section['raw_key_env']} (or a Prefect Secret block named in [privacy] raw_key_secret) "
            f"or create {path} with mode 0600; `proximite privacy rotate-key` creates it and encrypts the files "
            "already there (docs/encryption.md)"
        )
    ring = KeyRing((RawKey.generate(),), origin=f"file:{path}")
    write_key_file(path, ring, new=True)
    return ring


_FILE_HEADER = (
    "# Proximité: the keys of layer 01 raw and of the quarantine's reports (docs/encryption.md).\n"
    "# The first is the current key; any other is a previous key a key rotation still needs.\n"
    "# Keep a copy away from the data: without it the raw layer cannot be read.\n"
)


def write_key_file(path: Path, ring: KeyRing, *, new: bool = False) -> None:
    """Write the key file atomically (mode 0600): a temporary file, fsync, rename, fsync of the folder.

    A reader (or a run killed at any moment) sees the old file or the new one, never a mix.
    ``new`` refuses to replace an existing file.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(_FILE_HEADER + "".join(f"{key.hex()}\n" for key in ring.keys))
            handle.flush()
            os.fsync(handle.fileno())
        if new:
            os.link(temporary, path)  # fails when the file appeared meanwhile
            temporary.unlink()
        else:
            os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    fsync_directory(path.parent)
