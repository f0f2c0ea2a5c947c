"""Retries of a REDCap request: which failures are worth another try, and the pauses between tries.

Errors by cause. Only what another try may cure is retried, with exponential backoff: HTTP 408,
429 and 5xx, time-outs, dropped connections, answers cut short, and REDCap's out-of-memory answer
(HTTP 200 with PHP's error page). After the last try the pull stops with a
:class:`~proximite.cohort.redcap.errors.RedcapPullError` naming the request and the number of tries.
A refusal (another 4xx) and an answer that is complete but not what the pull needs
(:class:`~proximite.cohort.redcap.errors.AnswerError`: a missing project field or column, an empty
structure, a web page instead of the API's answer) stop the pull at once, with what to check.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from proximite.cohort.redcap.errors import UNTOUCHED, AnswerError, RedcapPullError, RefusedError, TransientError, redact

__all__ = ["RETRY_STATUSES", "RetryPolicy", "call_with_retries", "is_transient"]

log = logging.getLogger(__name__)

#: HTTP statuses worth another try (besides every 5xx).
RETRY_STATUSES = frozenset({408, 429})
_T = TypeVar("_T")


@dataclass(frozen=True)


class RetryPolicy:
    """How often and how patiently a request is tried again.

    Parameters
    ----------
    retries : int
        Tries after the first one (so ``retries + 1`` in all).
    backoff_seconds : float
        Pause after the first failure; doubled after each further one.
    max_backoff_seconds : float
        Longest pause.

    Notes
    -----
    The pause after failed try :math:`k` (1-based) is
    :math:`\\min(b \\cdot 2^{k-1}, b_{\\max})`.
    """

    retries: int = 5
    backoff_seconds: float = 0.5
    max_backoff_seconds: float = 30.0

    def __post_init__(self) -> None:
        if self.retries < 0:
            raise ValueError("retries must be 0 or more")
        if self.backoff_seconds < 0 or self.max_backoff_seconds < 0:
            raise ValueError("backoff must be 0 or more seconds")

    @property
    def attempts(self) -> int:
        """Tries in all."""
        return self.retries + 1

    def delay(self, failed: int) -> float:
        """Seconds to wait after the ``failed``-th failed try (1-based)."""
        return min(self.backoff_seconds * 2 ** (failed - 1), self.max_backoff_seconds)


def is_transient(error: BaseException) -> bool:
    """Whether another try may cure ``error``: time-outs, dropped connections, short answers, 5xx."""
    import requests
    import urllib3.exceptions

    if isinstance(error, TransientError):
        return True
    transient = (
        requests.exceptions.Timeout,
        requests.exceptions.ConnectionError,
        requests.exceptions.ChunkedEncodingError,
        requests.exceptions.ContentDecodingError,
        requests.exceptions.JSONDecodeError,  # PyCap decoding a JSON answer that was cut or replaced
        urllib3.exceptions.ProtocolError,
        urllib3.exceptions.ReadTimeoutError,
        ConnectionError,
        TimeoutError,
    )
    return isinstance(error, transient)


def _describe(error: BaseException) -> str:
    """A short reason for a failed try, without URLs, payloads or tokens."""
    import requests

    if isinstance(error, TransientError | RefusedError):
        return str(error)
    if isinstance(error, requests.exceptions.Timeout | TimeoutError):
        return "no answer in time (time-out)"
    if isinstance(error, requests.exceptions.ChunkedEncodingError | requests.exceptions.ContentDecodingError):
        return "the answer was cut short"
    if isinstance(error, requests.exceptions.JSONDecodeError):
        return "the answer is not the JSON asked for"
    if isinstance(error, requests.exceptions.ConnectionError | ConnectionError):
        return "the connection was refused or dropped"
    return type(error).__name__


def _advice(what: str, error: BaseException) -> str:
    """What to do after the last try: a smaller batch only helps where the batch size matters."""
    import requests

    batch_matters = what.startswith("records batch") and isinstance(
        error, TransientError | requests.exceptions.Timeout | TimeoutError
    )
    if batch_matters or "out of memory" in str(error):
        return (
            "Check that REDCap answers, then run the pull again with a smaller --batch-size "
            "(REDCap runs out of memory or time on large batches)."
        )
    return "Check that REDCap answers (the URL, the network, the server), then run the pull again."


def call_with_retries(
    request: Callable[[], _T],
    *,
    policy: RetryPolicy,
    what: str,
    secrets: Sequence[str] = (),
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[_T, int]:
    """Call ``request()`` until it succeeds, retrying transient failures with exponential backoff.

    Parameters
    ----------
    request : callable
        Makes one try; raises on failure.
    policy : RetryPolicy, keyword-only
    what : str, keyword-only
        The request, as a message names it (``"records batch 3 of 12"``).
    secrets : sequence of str, keyword-only
        Redacted from every message.
    sleep : callable, keyword-only
        ``sleep(seconds)`` between tries (tests pass a fake).

    Returns
    -------
    result
        What ``request()`` returned.
    attempts : int
        Tries it took.

    Raises
    ------
    RedcapPullError
        A refusal or an unusable answer (at once), or a transient failure at the last try; the
        message says which request, how many tries, the reason, and that the last good pull is
        untouched.
    Exception
        Anything neither transient nor a refusal is raised as it is.

    Notes
    -----
    Transient failures are those of :func:`is_transient`; see :class:`RetryPolicy` for the pauses.
    """
    failed = 0
    while True:
        try:
            return request(), failed + 1
        except RefusedError as error:
            raise RedcapPullError(
                f"{what}: REDCap refused the request ({redact(str(error), *secrets)}); it was not retried. {UNTOUCHED}.",
                request=what,
                attempts=failed + 1,
            ) from None
        except AnswerError as error:
            # Complete but unusable: the same answer would come again, so no retry and no
            # advice about batch sizes.
            raise RedcapPullError(
                f"{what}: {redact(str(error), *secrets)}. It was not retried (another try gets the same answer). "
                f"{UNTOUCHED}.",
                request=what,
                attempts=failed + 1,
            ) from None
        except Exception as error:
            if not is_transient(error):
                raise
            failed += 1
            reason = redact(_describe(error), *secrets)
            if failed >= policy.attempts:
                raise RedcapPullError(
                    f"{what} failed after {failed} tries (last: {reason}). {UNTOUCHED}. {_advice(what, error)}",
                    request=what,
                    attempts=failed,
                ) from None
            pause = policy.delay(failed)
            log.warning("REDCap %s: try %d of %d failed (%s); next try in %.2f s", what, failed, policy.attempts, reason, pause)
            sleep(pause)

