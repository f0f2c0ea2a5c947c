"""The HTTP side of a pull: PyCap's :class:`redcap.Project` with a response hook and retries.

Every answer passes through :meth:`Client.fetch`: its status is checked (408, 429 and 5xx are
worth another try, other 4xx are refusals), the server's ``Date`` of the first answer is kept
(the pull's watermark), and the body is kept in 01 raw as received (encrypted at rest when the
project encrypts), read-only, with its size, SHA-256 (of the body), rows and tries recorded for
the manifest.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from proximite.cohort.privacy.storage import write_protected
from proximite.cohort.redcap.errors import RedcapPullError, RefusedError, TransientError, redact
from proximite.cohort.redcap.retries import RETRY_STATUSES, RetryPolicy, call_with_retries, is_transient

if TYPE_CHECKING:  # pragma: no cover
    import requests

    from proximite.cohort.privacy.encryption import RawKey

__all__ = ["Client", "Received", "open_project"]

_T = TypeVar("_T")


def open_project(url: str, token: str, **request_kwargs: Any) -> Any:
    """A :class:`redcap.Project`; PyCap's own checks are turned into a redacted :class:`RedcapPullError`.

    PyCap checks the URL and token when the project is created and, for a malformed token,
    quotes it in its ``AssertionError``: the message is redacted before anyone sees it.
    """
    from redcap import Project

    try:
        return Project(url, token, **request_kwargs)
    except AssertionError as error:
        text = " ".join(str(part) for part in error.args) if error.args else "invalid URL or token"
        raise RedcapPullError(f"PyCap refused the URL or the token: {redact(text, token)}") from None


def _error_excerpt(response: requests.Response, token: str) -> str:
    """REDCap's error message from an answer's body (JSON, XML or text), short and redacted."""
    try:
        text = response.content[:2000].decode("utf-8", errors="replace")
    except Exception:  # noqa: BLE001 - the body itself may be unreadable
        return "no readable message"
    match = re.search(r'"error"\s*:\s*"([^"]*)"', text) or re.search(r"<error>(.*?)</error>", text, re.S)
    message = match.group(1) if match else re.sub(r"<[^>]+>", " ", text)
    message = " ".join(message.split())[:200]
    return redact(message, token) or "no message"


@dataclass


class Received:
    """One answer kept in 01 raw."""

    path: str
    content: str
    bytes: int
    sha256: str
    rows: int | None
    attempts: int


class Client:
    """PyCap's project with a response hook: status checks, the server's ``Date``, the body as received."""

    def __init__(
        self,
        url: str,
        token: str,
        *,
        raw: Path,
        policy: RetryPolicy,
        timeout: float,
        key: RawKey | None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._token = token
        self._key = key  # the answers are sealed with it (None: kept in clear)
        self.raw = raw
        self.policy = policy
        self.sleep = sleep
        self.requests = 0
        self.received: list[Received] = []
        self.first_date: str | None = None
        self._last: tuple[bytes, str | None] | None = None
        self._reading = False  # True while an answer's body is being read
        # Hooks and timeout go to requests through PyCap's request options: every call of the
        # project passes through `_on_response`, PyCap itself is unchanged.
        self.project = open_project(url, token, timeout=timeout, hooks={"response": [self._on_response]})

    def _on_response(self, response: requests.Response, *args: Any, **kwargs: Any) -> requests.Response:
        self.requests += 1  # an answer came (requests without one are counted in `fetch`)
        status = response.status_code
        if status in RETRY_STATUSES or status >= 500:
            response.close()
            raise TransientError(f"HTTP {status}")
        if status >= 400:
            excerpt = _error_excerpt(response, self._token)
            response.close()
            raise RefusedError(f"HTTP {status}: {excerpt}")
        if "charset" not in response.headers.get("Content-Type", "").lower():
            response.encoding = "utf-8"  # REDCap answers UTF-8; spares requests a slow guess
        self._reading = True
        content = response.content  # raises when the answer is cut short
        self._reading = False
        date = response.headers.get("Date")
        self._last = (content, date)
        return response

    def received_bytes(self, filename: str) -> bytes:
        """An answer this pull kept in 01 raw, as received (decrypted with the key it was sealed with)."""
        from proximite.cohort.privacy.encryption import decrypt_bytes, is_encrypted

        path = self.raw / filename
        data = path.read_bytes()
        return decrypt_bytes(data, self._key, path=path) if self._key is not None and is_encrypted(path) else data

    def fetch(
        self,
        what: str,
        filename: str,
        call: Callable[[Any], Any],
        *,
        parse: Callable[[bytes], _T],
        rows: Callable[[_T], int | None] = lambda parsed: None,
    ) -> _T:
        """Make one PyCap call with retries, keep its answer in 01 raw as received, return it parsed."""
        import requests
        from redcap import RedcapError

        def attempt() -> tuple[bytes, _T]:
            self._last = None
            self._reading = False
            try:
                call(self.project)
            except (requests.exceptions.ConnectionError, requests.exceptions.Timeout):
                if not self._reading:
                    self.requests += 1  # the request that failed got no answer at all
                raise
            except RedcapError as error:  # PyCap's error for an error body (also the base of requests' errors)
                if is_transient(error):
                    raise
                raise RefusedError(redact(str(error), self._token)[:200]) from None
            if self._last is None:  # pragma: no cover - the hook runs for every answer
                raise TransientError("no answer")
            content, date = self._last
            parsed = parse(content)
            if self.first_date is None and date:
                self.first_date = date
            return content, parsed

        (content, parsed), attempts = call_with_retries(
            attempt, policy=self.policy, what=what, secrets=(self._token,), sleep=self.sleep
        )
        # A new file of a pull in progress: no sync (a killed pull is removed by the next run).
        write_protected(self.raw / filename, content, key=self._key, read_only=True, sync=False)
        self.received.append(
            Received(filename, what, len(content), hashlib.sha256(content).hexdigest(), rows(parsed), attempts)
        )
        return parsed

