"""Pull the cohort (or a yearly questionnaire) from a REDCap project through PyCap: layers 01 raw and 02 staged.

:func:`pull_redcap` does, through :class:`redcap.Project` only (PyCap, unchanged):

1. **Project** (:mod:`~proximite.cohort.redcap.structure`): project information and structure,
   each saved as received under ``data/01_raw/redcap/<pull_id>/`` (encrypted at rest with the
   project's current key, :mod:`proximite.cohort.privacy.storage`); the HTTP ``Date`` of the first
   answer is the **watermark**.
2. **Record ids and records** (:mod:`~proximite.cohort.redcap.fetch`): the ids (changed ones only
   for an incremental pull), the deletions from the log, then the records by batches of ids.
3. **Staging**: the records are typed from the data dictionary by
   :func:`~proximite.cohort.redcap.records.stage_records` (the same typing as a file export). A
   full pull stages them as they are; an incremental pull takes the previous good staged pull,
   drops the changed and deleted records and adds the changed records' fresh rows
   (:func:`~proximite.cohort.redcap.incremental.merge_incremental`).
4. **Commit** (:mod:`~proximite.cohort.redcap.commit`): the new staged state, with
   ``watermark.json``, passes the staged validation gate (given by the pipeline,
   :func:`proximite.pipeline.stage.pull_redcap`), then is moved into place and marked ``LATEST``.

A failed request is retried (:mod:`~proximite.cohort.redcap.retries`); after the last try the
pull stops with a :class:`~proximite.cohort.redcap.errors.RedcapPullError`; what was received
stays in 01 raw with its manifest marked ``"staged": false`` and the error, and ``LATEST`` (hence
the warehouse built from it) is untouched. The API token is never written anywhere.

The raw manifest is written first, saying "in progress" and naming this process: a pull killed
outright leaves it so, and the next pull or ingest of the project removes that raw folder and
its staging temporaries once the process is gone (:mod:`proximite.cohort.leftovers`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from proximite.cohort.leftovers import IN_PROGRESS, clean_leftovers
from proximite.cohort.privacy.storage import writing_key
from proximite.cohort.raw import utc_now, write_manifest
from proximite.cohort.layers import StagedGate, latest_pull, new_pull_id, raw_dir, staged_dir
from proximite.cohort.redcap.client import Client
from proximite.cohort.redcap.errors import TOKEN_PATTERN, RedcapPullError, public_url, redact
from proximite.cohort.redcap.retries import RetryPolicy
from proximite.cohort.redcap.steps import run_pull
from proximite.cohort.redcap.structure import project_spec
from proximite.cohort.redcap.watermark import SOURCE, read_watermark
from proximite.errors import ProximiteError

if TYPE_CHECKING:  # pragma: no cover
    from proximite.cohort.codebook import Codebook
    from proximite.config import Settings

__all__ = ["Progress", "PullResult", "pull_redcap"]

log = logging.getLogger(__name__)

#: ``progress(step, done, total)``, as :func:`proximite.cohort.ingest.ingest` reports it.
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class PullResult:
    """What :func:`pull_redcap` did.

    Attributes
    ----------
    pull_id : str
    mode : {"full", "incremental"}
    watermark : str
        Server time at the start of the pull (UTC ISO): the next incremental pull starts there.
    records : int
        Records fetched (every record for a full pull, the changed ones for an incremental one).
    deleted : int
        Records removed because the log says they were deleted.
    rows : dict
        Rows per staged table (the whole new staged state).
    raw_dir, staged_dir : Path
    requests : int
        HTTP requests made (tries included).
    seconds : float
    previous_pull : str or None
        The staged pull that was ``LATEST`` before this one (an incremental pull starts from it).
    reason : str
        Why the pull is full or incremental.
    """

    pull_id: str
    mode: str
    watermark: str
    records: int
    deleted: int
    rows: dict[str, int]
    raw_dir: Path
    staged_dir: Path
    requests: int
    seconds: float
    previous_pull: str | None = None
    reason: str = ""

    def summary(self) -> dict[str, Any]:
        """JSON-ready counts, ids and paths; never a token or a value."""
        return {
            "pull_id": self.pull_id,
            "mode": self.mode,
            "reason": self.reason,
            "watermark": self.watermark,
            "previous_pull": self.previous_pull,
            "records": self.records,
            "deleted": self.deleted,
            "rows": dict(self.rows),
            "raw_dir": str(self.raw_dir),
            "staged_dir": str(self.staged_dir),
            "requests": self.requests,
            "seconds": round(self.seconds, 3),
        }


def pull_redcap(
    url: str,
    *,
    token: str,
    settings: Settings,
    full: bool = False,
    batch_size: int = 500,
    pause_seconds: float = 0.0,
    retries: int = 5,
    backoff_seconds: float = 0.5,
    timeout_seconds: float = 60,
    progress: Progress | None = None,
    codebook: Codebook | None = None,
    gate: StagedGate | None = None,
    source: str = SOURCE,
) -> PullResult:
    """Pull a REDCap project through PyCap into 01 raw and 02 staged (incremental unless ``full``).

    Parameters
    ----------
    url : str
        The REDCap API URL (ends in ``/api/``).
    token : str, keyword-only
        The project's API token (32 hexadecimal characters); written nowhere.
    settings : Settings, keyword-only
        The project directory (layers) and the event → wave map.
    full : bool, keyword-only
        Pull every record even when an incremental pull is possible.
    batch_size : int, keyword-only
        Record ids per records request.
    pause_seconds : float, keyword-only
        Pause between two records requests (spares a busy server).
    retries : int, keyword-only
        Tries after the first one, per request.
    backoff_seconds : float, keyword-only
        Pause after a first failed try, doubled after each further one.
    timeout_seconds : float, keyword-only
        Longest wait for an answer (connect and read).
    progress : callable, optional, keyword-only
        ``progress(step, done, total)`` with step ``"project (metadata, events, DAGs)"``
        (requests), ``"records"`` (records) and ``"stage to 02"``.
    codebook : Codebook, optional, keyword-only
        For :meth:`RedcapProject.from_frames` (default: the packaged codebook).
    gate : callable, optional, keyword-only
        The staged validation gate (:data:`~proximite.cohort.layers.StagedGate`), run on the new
        staged state before it is committed. :func:`proximite.pipeline.stage.pull_redcap` passes
        the project's gate; without one, nothing is validated (tests that stage data the gate
        would refuse).
    source : str, keyword-only
        The project pulled and its data layer: ``redcap`` (the cohort, default), or a yearly
        questionnaire's survey project, ``partner_survey`` or ``staff_survey``
        (``data/01_raw/<source>/``, ``data/02_staged/<source>/``; its watermark is its own).

    Returns
    -------
    PullResult

    Raises
    ------
    RedcapPullError
        The token is malformed, REDCap refused a request, a request still failed after the last
        try, or an answer did not hold the records asked for. The raw directory is kept with its
        manifest marked incomplete; ``LATEST`` and the warehouse are untouched.
    InputError
        The records do not fit the data dictionary (named by raw file, row and column).
    ConfigError
        The project encrypts its raw layer (``[privacy] encrypt_raw``) and has no key; nothing
        is written.
    GateFailed
        An error rule of the staged validation failed: the staged candidate and its report are in
        ``data/quarantine/<pull_id>/redcap/``; the raw directory is kept with its manifest marked
        not staged; ``LATEST`` and the warehouse are untouched.

    Notes
    -----
    Incremental when a previous good pull of the same URL and project exists, its structure
    fingerprint (dictionary, events, mapping, repeating instruments, missing-data codes) is
    unchanged and ``full`` is false. Then, with :math:`w` the previous watermark,
    :math:`C` = ids exported with ``dateRangeBegin`` = :math:`w` and :math:`D` = records whose
    last action in the log since :math:`w` is a deletion, minus :math:`C`, the new staged state
    is :func:`~proximite.cohort.redcap.incremental.merge_incremental` (previous, rows of
    :math:`C`, changed = :math:`C`, deleted = :math:`D`). The watermark is the server's ``Date``
    of the pull's first answer; ``dateRangeBegin`` is sent on the server's clock
    (``[redcap] server_timezone``, default this machine's zone), one second early so that a
    change in the watermark's own second is not missed (fetching a record twice is harmless).
    """
    from proximite.cohort.codebook import load_codebook

    started = time.monotonic()
    _check_arguments(url, token=token)
    policy = RetryPolicy(retries=retries, backoff_seconds=backoff_seconds)
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1 (got {batch_size})")
    report = progress or (lambda step, done, total: None)
    codebook = codebook or load_codebook()
    project_spec(codebook, source)  # an unknown source stops here, before anything is written
    previous = None if full else read_watermark(settings, source=source)
    previous_pull = latest_pull(settings, source)
    key = writing_key(settings)  # no key, no pull: checked before anything is written
    pull_id = new_pull_id()
    clean_leftovers(settings, current_pull=pull_id)  # what killed runs left goes first
    raw = raw_dir(settings, source, pull_id)
    raw.mkdir(parents=True)
    received_at = utc_now()
    parameters: dict[str, Any] = {
        "url": public_url(url),
        "mode": "full" if (full or previous is None) else "incremental",  # settled once the structure is read
        "batch_size": batch_size,
        "pause_seconds": pause_seconds,
        "retries": retries,
        "backoff_seconds": backoff_seconds,
        "timeout_seconds": timeout_seconds,
        "watermark": None,
        "since": None,
        "previous_pull": previous_pull,
        "client": "PyCap (redcap.Project)",
    }
    client: Client | None = None

    def manifest(*, staged: bool, error: str | None, in_progress: bool = False) -> None:
        _write_manifest(raw, client, pull_id=pull_id, received_at=received_at, parameters=parameters,
                        staged=staged, error=error, in_progress=in_progress, source=source)

    manifest(staged=False, error=IN_PROGRESS, in_progress=True)  # names this process, for the next run
    try:
        client = Client(url, token, raw=raw, policy=policy, timeout=timeout_seconds, key=key)
        outcome = run_pull(
            client, settings=settings, codebook=codebook, previous=previous, parameters=parameters,
            batch_size=batch_size, pause_seconds=pause_seconds, report=report, pull_id=pull_id, url=url,
            full=full, previous_pull=previous_pull, gate=gate, source=source,
        )
    except BaseException as error:
        text = redact(str(error), token) if isinstance(error, ProximiteError) else f"{type(error).__name__} during the pull"
        if isinstance(error, RedcapPullError):
            error.raw_dir = raw
        manifest(staged=False, error=text)
        log.warning("REDCap pull %s not staged (%s); LATEST is unchanged", pull_id, text)
        raise
    manifest(staged=True, error=None)
    result = PullResult(
        pull_id=pull_id, mode=parameters["mode"], watermark=parameters["watermark"],
        records=outcome.records, deleted=outcome.deleted, rows=outcome.rows,
        raw_dir=raw, staged_dir=staged_dir(settings, source, pull_id), requests=client.requests,
        seconds=time.monotonic() - started, previous_pull=previous_pull, reason=outcome.reason,
    )
    log.info(
        "REDCap pull %s (%s): %d records fetched, %d deleted, %d requests, %.1f s",
        pull_id, result.mode, result.records, result.deleted, result.requests, result.seconds,
    )
    return result


def _check_arguments(url: str, *, token: str) -> None:
    """Refuse a malformed token or URL before anything is written (the token is never shown)."""
    if not TOKEN_PATTERN.fullmatch(token or ""):
        raise RedcapPullError(
            "the REDCap API token is malformed: a token is 32 hexadecimal characters (0-9, A-F); the value is not shown"
        )
    if not str(url).rstrip().endswith("/api/"):
        raise RedcapPullError(f"the REDCap API URL must end in /api/ (got {public_url(url)})")


def _write_manifest(
    raw: Path,
    client: Client | None,
    *,
    pull_id: str,
    received_at: str,
    parameters: dict[str, Any],
    staged: bool,
    error: str | None,
    in_progress: bool = False,
    source: str = SOURCE,
) -> None:
    """The raw manifest: every answer kept so far, the parameters, and whether the pull is staged."""
    files = [
        {"path": item.path, "bytes": item.bytes, "sha256": item.sha256, "rows": item.rows, "request": item.content, "attempts": item.attempts}
        for item in (client.received if client else [])
    ]
    write_manifest(
        raw, source=source, pull_id=pull_id, received_at=received_at, parameters=parameters, files=files,
        staged=staged, error=error, extra={"requests": client.requests if client else 0}, in_progress=in_progress,
    )
