"""Errors of a REDCap pull, and the redaction that keeps the API token out of every message.

The API token is never written anywhere: not in the raw layer, the manifest, logs or error
messages (PyCap 2.7 quotes a malformed token in its own assertion message; it is redacted).
"""

from __future__ import annotations

import os
import re
import urllib.parse
from pathlib import Path

from proximite.errors import ProximiteError

__all__ = [
    "AnswerError",
    "REDACTED",
    "TOKEN_PATTERN",
    "UNTOUCHED",
    "RedcapPullError",
    "RefusedError",
    "TransientError",
    "public_url",
    "redact",
    "token_from_env",
]

#: What replaces a token in any text that might carry it.
REDACTED = "[token redacted]"
#: A REDCap API token: 32 hexadecimal characters.
TOKEN_PATTERN = re.compile(r"[0-9A-Fa-f]{32}")
_TOKEN_IN_TEXT = re.compile(r"(token=)[^&\s'\"]+", re.IGNORECASE)
#: What a failed pull leaves untouched, as its messages say.
UNTOUCHED = (
    "The pull is not staged: the last good staged pull (LATEST) and the warehouse are untouched; "
    "what was received is kept in 01 raw, marked incomplete"
)


class RedcapPullError(ProximiteError):
    """A REDCap pull failed; the message names the request and the tries, never a token or a value.

    Attributes
    ----------
    request : str or None
        The request that failed (``"records batch 3 of 12"``).
    attempts : int or None
        Tries made.
    raw_dir : Path or None
        The incomplete pull's raw directory, when one was created.
    """

    def __init__(self, message: str, *, request: str | None = None, attempts: int | None = None) -> None:
        super().__init__(message)
        self.request = request
        self.attempts = attempts
        self.raw_dir: Path | None = None


class TransientError(Exception):
    """A failure another try may cure (a 5xx, an answer cut short, REDCap out of memory)."""


class RefusedError(Exception):
    """REDCap refused the request (a 4xx, an error answer): trying again cannot help."""


class AnswerError(Exception):
    """The server answered, but not with what the pull needs: another try gets the same answer.

    A project field or column REDCap always sends is missing, a structure the cohort needs is
    empty (no events, no form–event mapping), or the body is a web page rather than the API's
    answer. The message says what is missing and what a coordinator can do about it.
    """


def redact(text: str, *secrets: str) -> str:
    """``text`` with every secret (and anything after ``token=``) replaced by ``[token redacted]``.

    Parameters
    ----------
    text : str
    *secrets : str
        Tokens to remove, as given and URL-encoded.
    """
    for secret in secrets:
        if secret:
            for spelling in {secret, urllib.parse.quote_plus(secret)}:
                # REDCap reads tokens in any case: so does the redaction.
                text = re.sub(re.escape(spelling), REDACTED, text, flags=re.IGNORECASE)
    return _TOKEN_IN_TEXT.sub(r"\1" + REDACTED, text)


def public_url(url: str) -> str:
    """The URL without user information, query or fragment: safe for a manifest or a message."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:  # an IPv6 address keeps its brackets
        host = f"[{host}]"
    if parts.port:
        host = f"{host}:{parts.port}"
    return urllib.parse.urlunsplit((parts.scheme, host, parts.path, "", ""))


def token_from_env(var: str) -> str:
    """The REDCap API token held by an environment variable.

    Parameters
    ----------
    var : str
        The variable's name (``PROXIMITE_REDCAP_TOKEN``).

    Returns
    -------
    str
        The token, surrounding blanks removed.

    Raises
    ------
    RedcapPullError
        The variable is unset or empty, or does not hold a REDCap token (32 hexadecimal
        characters). The message names the variable, never its value.
    """
    value = os.environ.get(var)
    if value is None or not value.strip():
        raise RedcapPullError(
            f"environment variable {var} is not set: it must hold the project's REDCap API token "
            "(REDCap → API → your token); set it in the environment, never in a file of the project"
        )
    token = value.strip()
    if not TOKEN_PATTERN.fullmatch(token):
        raise RedcapPullError(
            f"environment variable {var} does not hold a REDCap API token: a token is 32 hexadecimal "
            f"characters (0-9, A-F) and this value is not ({len(token)} characters); the value is not shown"
        )
    return token

