"""The withdrawal ledger: which families asked that their data be destroyed, without naming them.

A family who withdraws its data must leave every layer and stay out of every later pull, even
while REDCap still holds its record. The ledger (``<project>/privacy/withdrawals.json``) keeps,
per request, a *withdrawal token*: ``HMAC-SHA256(key, "withdrawal" + project + record_id)``. It
is keyed (without the pseudonym key nobody can test a record id against it) and lives in its own
domain (it is neither the family's pseudonym nor anything found in the warehouse), so the ledger
itself holds no identifier of the family.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from proximite.config import Settings

__all__ = [
    "LEDGER_NAME",
    "PRIVACY_DIR",
    "add_requests",
    "ledger_path",
    "read_checks",
    "read_ledger",
    "withdrawal_token",
    "withdrawn_among",
    "write_checks",
]

#: The project's privacy folder (the ledger, the access log).
PRIVACY_DIR = "privacy"
LEDGER_NAME = "withdrawals.json"
#: Hex characters kept from the HMAC: 128 bits, no collision between two families in practice.
TOKEN_LENGTH = 32


def withdrawal_token(record_id: str, *, key: bytes, project: str) -> str:
    """The ledger's token of a REDCap record id (never stored with the id).

    Parameters
    ----------
    record_id : str
    key : bytes, keyword-only
        The pseudonym key.
    project : str, keyword-only
        ``[project] name``.
    """
    message = f"withdrawal\x00{project}\x00{record_id}".encode("utf-8")
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:TOKEN_LENGTH]


def ledger_path(settings: Settings) -> Path:
    """``<project>/privacy/withdrawals.json``."""
    return settings.project_dir / PRIVACY_DIR / LEDGER_NAME


def _read(settings: Settings) -> dict[str, Any]:
    path = ledger_path(settings)
    if not path.is_file():
        return {"requests": [], "checked": {}}
    return {"requests": [], "checked": {}, **json.loads(path.read_text(encoding="utf-8"))}


def _write(settings: Settings, content: dict[str, Any]) -> None:
    """Replace the ledger atomically, mode 0600."""
    path = ledger_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        json.dump(content, handle, indent=2)
        handle.write("\n")
    os.replace(temporary, path)


def read_ledger(settings: Settings) -> list[dict[str, Any]]:
    """Every withdrawal request recorded so far (``token``, ``requested_at``, ``via``), oldest first."""
    return _read(settings)["requests"]


def read_checks(settings: Settings) -> dict[str, int]:
    """``{"<layer>/<pull_id>": requests}``: the pulls already cleared of a ledger of that many requests."""
    return dict(_read(settings)["checked"])


def write_checks(settings: Settings, checks: dict[str, int]) -> None:
    """Remember which pulls are cleared (see :func:`read_checks`)."""
    content = _read(settings)
    if content["checked"] != checks:
        _write(settings, {**content, "checked": checks})


def add_requests(settings: Settings, tokens: Iterable[str], *, via: str) -> list[str]:
    """Record the tokens not yet in the ledger; return them (the new requests).

    Parameters
    ----------
    settings : Settings
    tokens : iterable of str
        :func:`withdrawal_token` of each record id.
    via : str
        ``"redcap"`` (the exit form) or ``"command"`` (``proximite privacy withdraw``).
    """
    content = _read(settings)
    known = {request["token"] for request in content["requests"]}
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    new = sorted(set(tokens) - known)
    if not new:
        return []
    content["requests"].extend({"token": token, "requested_at": now, "via": via} for token in new)
    _write(settings, content)
    return new


def withdrawn_among(record_ids: Iterable[str], tokens: set[str], *, key: bytes, project: str) -> set[str]:
    """The record ids of ``record_ids`` whose token is in ``tokens``."""
    return {str(record) for record in set(record_ids) if withdrawal_token(str(record), key=key, project=project) in tokens}
