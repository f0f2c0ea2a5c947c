"""The access log: one line per read of identifying data or coordinator output with record ids.

DESIGN (*Privacy*): every read of identifying data and every coordinator output that carries
REDCap record ids appends a line to an append-only log in the project::

    <project-dir>/privacy/access.log

Each line is one JSON object: the time (UTC), the operating-system user, the command, counts,
and an optional detail (a report's folder, a pull id)::

    {"time": "2026-01-21T06:00:00Z", "user": "coordo", "uid": 1000, "command": "lookup",
     "counts": {"asked": 2, "found": 2, "not_found": 0}, "detail": null}

Never a value: counts must be integers and their names, the command and the detail are checked
against plain patterns, so a record id or a name cannot slip in as a count. The file is created
with mode 0600 (its folder 0700) and opened with ``O_APPEND``; each line is written by one
``write`` call, so lines from concurrent commands never interleave.

Who writes it: the CLI and the pipeline's steps, where the counts are known (``proximite
lookup``, ``proximite followups``, the internal snapshot's follow-up page, refusal reports);
:func:`record_withdrawal`, :func:`record_retention` and :func:`record_key_rotation` are the hooks
the withdrawal, retention and key-rotation commands call.
"""

from __future__ import annotations

import datetime as dt
import json
import numbers
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from proximite.errors import ProximiteError

if TYPE_CHECKING:  # pragma: no cover
    from proximite.config import Settings

__all__ = [
    "ACCESS_LOG",
    "KEY_ROTATION",
    "OPEN_REPORT",
    "RETENTION",
    "WITHDRAWAL",
    "AccessLogError",
    "access_log_path",
    "os_user",
    "read_access_log",
    "record_access",
    "record_key_rotation",
    "record_retention",
    "record_withdrawal",
]

#: The log, relative to the project directory.
ACCESS_LOG = Path("privacy") / "access.log"
#: Commands the hooks write (withdrawal, retention, key rotation, opening a quarantine report).
WITHDRAWAL = "privacy withdraw"
RETENTION = "privacy retention"
KEY_ROTATION = "privacy rotate-key"
OPEN_REPORT = "privacy open-report"

_COMMAND = re.compile(r"[a-z][a-z0-9 _./:-]{0,79}")
_COUNT_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")
_MAX_COUNTS = 32
_MAX_DETAIL = 300
#: A line is written by one ``write``; the limits above keep it far below this.
_MAX_LINE_BYTES = 4096
_FIELDS = ("time", "user", "uid", "command", "counts", "detail")


class AccessLogError(ProximiteError):
    """An entry breaks the log's rules (a count that is not an integer ...), or the log cannot be read or written."""


def access_log_path(settings: Settings) -> Path:
    """``<project-dir>/privacy/access.log``."""
    return settings.project_dir / ACCESS_LOG


def os_user() -> tuple[str, int]:
    """The operating-system user running this process: its name and uid.

    The name comes from the password database for the real uid (an environment variable such
    as ``USER`` can say anything); :func:`getpass.getuser` is the fallback for a uid without an
    entry, then ``uid:<n>``.
    """
    uid = os.getuid()
    try:
        import pwd

        return pwd.getpwuid(uid).pw_name, uid
    except (ImportError, KeyError):
        pass
    try:
        import getpass

        return getpass.getuser(), uid
    except (ImportError, KeyError, OSError):
        return f"uid:{uid}", uid


def _checked_counts(counts: Mapping[str, Any]) -> dict[str, int]:
    """The counts as ``{name: int}``; the error names the count, never its value."""
    if not isinstance(counts, Mapping):
        raise AccessLogError(f"access log: counts must be a mapping of names to integers, got {type(counts).__name__}")
    if len(counts) > _MAX_COUNTS:
        raise AccessLogError(f"access log: at most {_MAX_COUNTS} counts per line, got {len(counts)}")
    checked: dict[str, int] = {}
    for name, value in counts.items():
        if not isinstance(name, str) or not _COUNT_NAME.fullmatch(name):
            raise AccessLogError(
                "access log: a count's name must be lower-case letters, digits and _ (at most 64), "
                "so that no value is written as a name"
            )
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise AccessLogError(
                f"access log: count {name!r} must be an integer, got {type(value).__name__}: the log holds counts, never values"
            )
        if int(value) < 0:
            raise AccessLogError(f"access log: count {name!r} must not be negative")
        checked[name] = int(value)
    return checked


def _checked_detail(detail: str | None) -> str | None:
    if detail is None:
        return None
    if not isinstance(detail, str) or len(detail) > _MAX_DETAIL or not detail.isprintable():
        raise AccessLogError(
            f"access log: the detail must be one printable line of at most {_MAX_DETAIL} characters "
            "(a report's folder, a pull id; never a value)"
        )
    return detail


def _entry(command: str, counts: Mapping[str, Any], detail: str | None, *, now: dt.datetime | None) -> dict[str, Any]:
    if not isinstance(command, str) or not _COMMAND.fullmatch(command):
        raise AccessLogError(
            "access log: the command must be lower-case words (letters, digits, space, _ . / : -), at most 80 characters"
        )
    user, uid = os_user()
    moment = (now or dt.datetime.now(dt.timezone.utc)).astimezone(dt.timezone.utc)
    return {
        "time": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "user": user,
        "uid": uid,
        "command": command,
        "counts": _checked_counts(counts),
        "detail": _checked_detail(detail),
    }


def _append(path: Path, data: bytes) -> None:
    """Append ``data`` with one ``write`` on an ``O_APPEND`` descriptor; create the file with mode 0600."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)
    try:
        descriptor = os.open(path, flags | os.O_EXCL, 0o600)
        os.fchmod(descriptor, 0o600)  # whatever the umask: created 0600
    except FileExistsError:
        descriptor = os.open(path, flags, 0o600)
    except OSError as error:
        raise AccessLogError(f"{path}: cannot create the access log ({error.strerror})") from None
    try:
        written = os.write(descriptor, data)
    except OSError as error:
        raise AccessLogError(f"{path}: cannot append to the access log ({error.strerror})") from None
    finally:
        os.close(descriptor)
    if written != len(data):
        raise AccessLogError(f"{path}: the access log took {written} of {len(data)} bytes of a line (disk full?)")


def record_access(
    settings: Settings,
    command: str,
    counts: Mapping[str, int],
    *,
    detail: str | None = None,
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """Append one line to the project's access log.

    Parameters
    ----------
    settings : Settings
        Its project directory holds the log (:func:`access_log_path`).
    command : str
        What read the data or wrote the output (``"lookup"``, ``"followups"``, ``"pull redcap"``):
        lower-case words.
    counts : mapping of str to int
        How many of what (``{"asked": 3, "found": 2}``); names are lower-case identifiers and
        values non-negative integers (``bool`` and text refused).
    detail : str, optional, keyword-only
        One printable line of at most 300 characters: a report's folder, a pull id. Never a
        person's value (the caller's responsibility: pass paths and ids of batches only).
    now : datetime, optional, keyword-only
        The time written (default: now); tests pass one.

    Returns
    -------
    dict
        The entry written: ``time``, ``user``, ``uid``, ``command``, ``counts``, ``detail``.

    Raises
    ------
    AccessLogError
        A count is not a non-negative integer, a name or the command breaks its pattern, the
        detail is not one short printable line, or the file cannot be written (nothing is
        written then).
    """
    entry = _entry(command, counts, detail, now=now)
    data = (json.dumps(entry, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")
    if len(data) > _MAX_LINE_BYTES:  # unreachable with the limits above; kept so one write stays one line
        raise AccessLogError(f"access log: a line of {len(data)} bytes is over the {_MAX_LINE_BYTES}-byte limit")
    _append(access_log_path(settings), data)
    return entry


def read_access_log(settings: Settings) -> list[dict[str, Any]]:
    """Every entry of the project's access log, oldest first (empty when there is no log yet).

    Raises
    ------
    AccessLogError
        A line is not a JSON object with the log's fields (the line's number is named, not its text).
    """
    path = access_log_path(settings)
    if not path.is_file():
        return []
    entries = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                raise AccessLogError(f"{path}, line {number}: not a JSON line (the log was edited or truncated)") from None
            if not isinstance(entry, dict) or not set(_FIELDS) <= set(entry) or not isinstance(entry["counts"], dict):
                raise AccessLogError(f"{path}, line {number}: not an access-log entry (fields {', '.join(_FIELDS)})")
            entries.append(entry)
    return entries


def record_withdrawal(settings: Settings, counts: Mapping[str, int], *, detail: str | None = None) -> dict[str, Any]:
    """The withdrawal command's line (``privacy withdraw``): families withdrawn, rows and raw files rewritten.

    Parameters and errors as :func:`record_access`.
    """
    return record_access(settings, WITHDRAWAL, counts, detail=detail)


def record_retention(settings: Settings, counts: Mapping[str, int], *, detail: str | None = None) -> dict[str, Any]:
    """The retention rule's line (``privacy retention``): raw pulls reduced, files removed.

    Parameters and errors as :func:`record_access`.
    """
    return record_access(settings, RETENTION, counts, detail=detail)


def record_key_rotation(settings: Settings, counts: Mapping[str, int], *, detail: str | None = None) -> dict[str, Any]:
    """The key rotation's line (``privacy rotate-key``): files re-encrypted, pseudonyms re-derived.

    Parameters and errors as :func:`record_access`.
    """
    return record_access(settings, KEY_ROTATION, counts, detail=detail)
