"""Pull the cohort from a REDCap project through PyCap: layers 01 raw and 02 staged.

:func:`pull_redcap` does, through :class:`redcap.Project` only (PyCap, unchanged):

1. **Project**: project information, data dictionary, arms, events, form–event mapping,
   repeating instruments, data access groups and export field names, each saved as received
   (CSV) under ``data/01_raw/redcap/<pull_id>/``. The HTTP ``Date`` header of the first answer is
   the **watermark**: server time, taken before any record is read.
2. **Record ids**: ``fields=[record id]`` (all records for a full pull; with ``dateRangeBegin`` =
   the previous watermark for an incremental one), then the records **by batches of ids**
   (``records_0001.csv`` ...), with a pause between batches. Each batch must hold every id asked
   for and no other; never chunked by rows.
3. **Deletions** (incremental): the project log since the previous watermark
   (``log_type="record"``); a record whose last logged action is a deletion, and that did not
   come back among the changed ids, is deleted.
4. **Staging**: the records are typed from the data dictionary by
   :func:`~proximite.cohort.sources.redcap_records.stage_records` (the same typing as a file
   export). A full pull stages them as they are; an incremental pull takes the previous good
   staged pull, drops the changed and deleted records and adds the changed records' fresh rows
   (:func:`merge_incremental`). The result is written as a complete new staged pull, with
   ``watermark.json``, into a hidden directory; it passes the staged validation gate
   (given by the pipeline, :func:`proximite.pipeline.stage.pull_redcap`), then is moved into place and marked
   ``LATEST``. A pull the gate refuses goes to ``data/quarantine/<pull_id>/redcap/`` with its
   report, and ``LATEST`` does not move.

Every request retries with exponential backoff on HTTP 408, 429 and 5xx, time-outs, dropped
connections, answers cut short, bodies that are not the CSV asked for, and REDCap's out-of-memory
answer (HTTP 200 with an HTML error page). After the last try the pull stops with a
:class:`RedcapPullError` naming the request and the number of tries; what was received stays in
01 raw with its manifest marked ``"staged": false`` and the error, and ``LATEST`` (hence the
warehouse built from it) is untouched.

The API token is never written anywhere: not in the raw layer, the manifest, logs or error
messages (PyCap 2.7 quotes a malformed token in its own assertion message; it is redacted).
"""

from __future__ import annotations

import bisect
import csv
import datetime as dt
import email.utils
import hashlib
import io
import json
import logging
import os
import re
import shutil
import time
import urllib.parse
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pv

from proximite.errors import InputError, ProximiteError
from proximite.cohort.ingest import make_read_only, utc_now, write_manifest
from proximite.cohort.layers import STAGED, StagedGate, latest_pull, mark_latest, new_pull_id, raw_dir, staged_dir
from proximite.cohort.sources.redcap_records import (
    DAG,
    INSTANCE,
    RedcapProject,
    flat_columns,
    stage_records,
)

if TYPE_CHECKING:  # pragma: no cover
    import requests

    from proximite.cohort.codebook import Codebook
    from proximite.config import Settings

__all__ = [
    "pull_redcap",
    "token_from_env",
    "PullResult",
    "RedcapPullError",
    "RetryPolicy",
    "TransientError",
    "RefusedError",
    "call_with_retries",
    "is_transient",
    "redact",
    "public_url",
    "unique_ids",
    "id_batches",
    "batch_mismatch",
    "deleted_records",
    "merge_incremental",
    "parse_server_date",
    "read_watermark",
    "server_clock",
    "WATERMARK_NAME",
]

log = logging.getLogger(__name__)

SOURCE = "redcap"
#: Written into each staged REDCap pull: the watermark and what the next incremental pull needs.
WATERMARK_NAME = "watermark.json"
#: What replaces a token in any text that might carry it.
REDACTED = "[token redacted]"
#: Compression of staged Parquet written by the pull (fast to write; DuckDB and pandas read it).
PARQUET_COMPRESSION = "lz4"
#: HTTP statuses worth another try (besides every 5xx).
RETRY_STATUSES = frozenset({408, 429})

#: ``progress(step, done, total)``, as :func:`proximite.cohort.ingest.ingest` reports it.
Progress = Callable[[str, int, int], None]
STEP_PROJECT = "project (metadata, events, DAGs)"  # done/total: requests
STEP_RECORDS = "records"  # done/total: records
STEP_STAGE = "stage to 02"  # 0/1 then 1/1

_TOKEN = re.compile(r"[0-9A-Fa-f]{32}")
_TOKEN_IN_TEXT = re.compile(r"(token=)[^&\s'\"]+", re.IGNORECASE)
_UNTOUCHED = (
    "The pull is not staged: the last good staged pull (LATEST) and the warehouse are untouched; "
    "what was received is kept in 01 raw, marked incomplete"
)
_T = TypeVar("_T")


# ------------------------------------------------------------------------------------ errors
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


# ------------------------------------------------------------------------------------ secrets
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
    if not _TOKEN.fullmatch(token):
        raise RedcapPullError(
            f"environment variable {var} does not hold a REDCap API token: a token is 32 hexadecimal "
            f"characters (0-9, A-F) and this value is not ({len(token)} characters); the value is not shown"
        )
    return token


# ------------------------------------------------------------------------------------ retries
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
        A refusal (at once), or a transient failure at the last try; the message says which
        request, how many tries, the last reason, and that the last good pull is untouched.
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
                f"{what}: REDCap refused the request ({redact(str(error), *secrets)}); it was not retried. {_UNTOUCHED}.",
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
                    f"{what} failed after {failed} tries (last: {reason}). {_UNTOUCHED}. "
                    "Check that REDCap answers, then run the pull again (a smaller --batch-size helps when "
                    "REDCap runs out of memory).",
                    request=what,
                    attempts=failed,
                ) from None
            pause = policy.delay(failed)
            log.warning("REDCap %s: try %d of %d failed (%s); next try in %.2f s", what, failed, policy.attempts, reason, pause)
            sleep(pause)


# ------------------------------------------------------------------------------------ pure parts
def unique_ids(values: Iterable[Any]) -> list[str]:
    """Record ids in first-seen order, each once, blanks dropped (an id export has a row per event)."""
    seen: dict[str, None] = {}
    for value in values:
        if value is None:
            continue
        text = str(value).strip()
        if text:
            seen.setdefault(text, None)
    return list(seen)


def id_batches(ids: Sequence[str], size: int) -> list[list[str]]:
    """Consecutive batches of at most ``size`` record ids, in order.

    Raises
    ------
    ValueError
        ``size`` is below 1.
    """
    if size < 1:
        raise ValueError(f"batch size must be at least 1 (got {size})")
    return [list(ids[start : start + size]) for start in range(0, len(ids), size)]


def batch_mismatch(requested: Iterable[str], returned: Iterable[str]) -> tuple[list[str], list[str]]:
    """Ids asked for that did not come back, and ids that came back without being asked for.

    Returns
    -------
    missing, unexpected : list of str
        Both sorted; both empty when the answer holds exactly the batch.
    """
    asked = set(requested)
    got = {str(value) for value in returned}
    return sorted(asked - got), sorted(got - asked)


_DELETE = re.compile(r"^\s*delete(?:d)?\s+record\b\s*(?P<record>\S+)?", re.IGNORECASE)
_RECORD_ACTION = re.compile(r"^\s*(create|update|delete)(?:d)?\s+record\b\s*(?P<record>\S+)?", re.IGNORECASE)


def deleted_records(log_entries: pd.DataFrame) -> list[str]:
    """Records whose last logged action is a deletion (``"Delete record 12"``).

    Parameters
    ----------
    log_entries : DataFrame
        REDCap's logging export (``timestamp``, ``action``, optional ``record``), strings, in the
        server's order (oldest or newest first: the order is read from the timestamps).

    Returns
    -------
    list of str
        Record ids, sorted; a record deleted then created again is not among them.
    """
    if log_entries.empty or "action" not in log_entries.columns:
        return []
    frame = log_entries.reset_index(drop=True)
    stamps = frame["timestamp"].astype(str).tolist() if "timestamp" in frame.columns else []
    if len(stamps) > 1 and stamps[0] > stamps[-1]:  # newest first, as REDCap's log page lists it
        frame = frame.iloc[::-1].reset_index(drop=True)
    if "timestamp" in frame.columns:
        frame = frame.sort_values("timestamp", kind="stable")
    last: dict[str, bool] = {}
    records = frame["record"].astype(str) if "record" in frame.columns else pd.Series("", index=frame.index)
    for action, record in zip(frame["action"].astype(str), records, strict=True):
        match = _RECORD_ACTION.match(action)
        if not match:
            continue
        record_id = (record or "").strip() or (match.group("record") or "").strip()
        if record_id:
            last[record_id] = bool(_DELETE.match(action))
    return sorted(record for record, deleted in last.items() if deleted)


def _pandas_metadata(schema: pa.Schema, extra: Sequence[pa.Schema]) -> dict[bytes, bytes] | None:
    """The pandas metadata of ``schema`` extended with the columns only ``extra`` schemas have.

    Staged Parquet is read back with pandas (:func:`~proximite.cohort.layers.read_staged`), which
    takes each column's dtype from this metadata: a column added by a merge needs its entry.
    """
    if schema.metadata is None or b"pandas" not in schema.metadata:
        return schema.metadata
    meta = json.loads(schema.metadata[b"pandas"])
    known = {entry.get("field_name") for entry in meta.get("columns", [])}
    for other in extra:
        if other.metadata is None or b"pandas" not in other.metadata:
            continue
        for entry in json.loads(other.metadata[b"pandas"]).get("columns", []):
            if entry.get("field_name") not in known and entry.get("field_name") in schema.names:
                meta["columns"].append(entry)
                known.add(entry.get("field_name"))
    return {**schema.metadata, b"pandas": json.dumps(meta).encode("utf-8")}


def _aligned(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """``table`` with exactly the fields of ``schema`` (missing ones null, others cast)."""
    columns = []
    for target in schema:
        if target.name in table.column_names:
            column = table[target.name]
            columns.append(column if column.type == target.type else pc.cast(column, target.type))
        else:
            columns.append(pa.nulls(table.num_rows, target.type))
    return pa.Table.from_arrays(columns, schema=schema)


def _record_order(ids: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """Positions that stably sort record ids (numerically when every id is a number)."""
    try:
        keys = pc.cast(ids, pa.float64()).to_numpy(zero_copy_only=False)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        keys = None
    if keys is None or np.isnan(keys).any():
        keys = np.asarray(pc.fill_null(ids, "").to_pylist(), dtype=object)
    return np.argsort(keys, kind="stable")


def _same_rows(before: pa.Table, after: pa.Table, *, ignore: Sequence[str] = ("source_row",)) -> bool:
    """Whether two sets of rows of a form hold the same values (``source_row`` aside).

    ``after`` may lack columns of ``before`` only where they are all null; a column only
    ``after`` has makes them differ.
    """
    if before.num_rows != after.num_rows or not set(after.column_names) <= set(before.column_names):
        return False
    names = [name for name in before.column_names if name not in ignore]
    try:
        aligned = _aligned(after, before.schema)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return False
    ordered = aligned.take(pa.array(_record_order(aligned["record_id"])))
    return ordered.select(names).combine_chunks().equals(before.select(names).combine_chunks())


def merge_incremental(
    previous: Mapping[str, pa.Table],
    fresh: Mapping[str, pa.Table],
    *,
    changed: Iterable[str],
    deleted: Iterable[str] = (),
) -> dict[str, pa.Table]:
    r"""The staged state after an incremental pull.

    Parameters
    ----------
    previous : mapping of str to pyarrow.Table
        The previous good staged pull, ``{form: rows}`` (``record_id`` column), in REDCap's order.
    fresh : mapping of str to pyarrow.Table
        The changed records' rows (every row of each changed record), typed the same way, in
        REDCap's order (as the API exports them).
    changed : iterable of str, keyword-only
        Records fetched again (created or updated since the watermark).
    deleted : iterable of str, keyword-only
        Records deleted since the watermark.

    Returns
    -------
    dict of str to pyarrow.Table
        One table per form of either input (the inputs are not modified: Arrow tables are
        immutable). A form whose rows did not change is the previous table itself (the same
        object), so that a caller may keep its file rather than write it again.

    Notes
    -----
    Per form, with :math:`R` = changed ∪ deleted records:
    :math:`\text{new} = \{r \in \text{previous} : r.\text{record} \notin R\} \cup \text{fresh}`,
    stably sorted by record (numerically when ids are numbers), so each record's rows keep
    REDCap's order (event, repeat instrument, instance). A record changed so that it lost rows
    of a form (an instance deleted, a form emptied) loses them here too, since every row of a
    changed record comes from ``fresh``. Columns are those of ``previous`` (types and order),
    then those only ``fresh`` has (a ``__missing_reason`` companion present on one side only is
    null on the other). It works on Arrow tables: at province scale (~800,000 rows) the merge
    costs a fraction of a second, where pandas would convert every string.
    """
    drop = pa.array(sorted({str(value) for value in changed} | {str(value) for value in deleted}), pa.string())
    merged: dict[str, pa.Table] = {}
    for form in list(dict.fromkeys([*previous, *fresh])):
        old, new = previous.get(form), fresh.get(form)
        if old is None:
            assert new is not None
            merged[form] = new.take(pa.array(_record_order(new["record_id"])))
            continue
        ids = old["record_id"]
        gone = pc.fill_null(pc.is_in(ids if ids.type == pa.string() else pc.cast(ids, pa.string()), value_set=drop), False)
        if new is None or new.num_rows == 0:
            merged[form] = old.filter(pc.invert(gone)) if pc.any(gone).as_py() else old
            continue
        if _same_rows(old.filter(gone), new):
            merged[form] = old  # the changes were elsewhere: this form's rows are as they were
            continue
        fields = list(old.schema) + [field_ for field_ in new.schema if field_.name not in old.schema.names]
        schema = pa.schema(fields, metadata=old.schema.metadata)
        schema = schema.with_metadata(_pandas_metadata(schema, [new.schema]) or {})
        # One copy only: the kept old rows and the fresh ones are taken, in record order, from
        # the two tables side by side (concatenating them costs nothing).
        both = pa.concat_tables([_aligned(old, schema), _aligned(new, schema)])
        kept = np.flatnonzero(~gone.to_numpy(zero_copy_only=False))
        rows = np.concatenate([kept, np.arange(old.num_rows, old.num_rows + new.num_rows)])
        rows_array = pa.array(rows)
        merged[form] = both.take(rows_array.take(pa.array(_record_order(pc.take(both["record_id"], rows_array)))))
    return merged


def parse_server_date(value: str | None) -> dt.datetime | None:
    """An HTTP ``Date`` header (``Wed, 21 Jan 2026 06:00:00 GMT``) as an aware UTC datetime."""
    if not value:
        return None
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return moment.astimezone(dt.timezone.utc)


def structure_fingerprint(parts: Mapping[str, bytes | str]) -> str:
    """SHA-256 over the project's structure (dictionary, events, mapping, repeating, missing codes).

    When it differs from the previous pull's, an incremental pull becomes a full one: the
    previous staged rows were typed under another dictionary.
    """
    digest = hashlib.sha256()
    for name in sorted(parts):
        value = parts[name]
        data = value.encode("utf-8") if isinstance(value, str) else value
        digest.update(name.encode("utf-8") + b"\0" + hashlib.sha256(data.replace(b"\r\n", b"\n")).digest())
    return digest.hexdigest()


# ------------------------------------------------------------------------------------ CSV bodies
def _body_problem(data: bytes) -> str | None:
    """Why an answer is not a CSV body (REDCap's out-of-memory page, an error), else None.

    Only the start of the body is looked at: a REDCap CSV starts with its header, never with
    ``<`` or ``{``, so a value that mentions memory further down is never mistaken for an error.
    """
    head = data[:8192].lstrip()
    if head.startswith(b"<"):
        lowered = head.lower()
        if b"allowed memory size" in lowered or b"out of memory" in lowered or b"memory exhausted" in lowered:
            return "REDCap ran out of memory (an HTML error page instead of the CSV)"
        return "an HTML or XML page instead of the CSV asked for"
    if head.startswith((b"{", b"[")):
        return "a JSON answer (an error?) instead of the CSV asked for"
    return None


def parse_csv_body(data: bytes, *, required: Sequence[str] = (), allow_empty: bool = True) -> pa.Table:
    """A CSV answer as a table of strings (nothing inferred, ``""`` for an empty cell).

    Parameters
    ----------
    data : bytes
        The body as received.
    required : sequence of str, keyword-only
        Columns the header must have.
    allow_empty : bool, keyword-only
        Whether an empty body (no header at all) is a valid answer.

    Raises
    ------
    TransientError
        The body is an error page, not UTF-8 CSV, has rows with the wrong number of fields (cut
        short), lacks a required column, or is empty when it may not be.
    """
    problem = _body_problem(data)
    if problem:
        raise TransientError(problem)
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if not data.strip():
        if allow_empty:
            return pa.table({name: pa.array([], pa.string()) for name in required})
        raise TransientError("an empty answer")
    try:
        header_line = data.split(b"\n", 1)[0].decode("utf-8").rstrip("\r")
    except UnicodeDecodeError:
        raise TransientError("an answer that is not UTF-8 text") from None
    names = next(csv.reader(io.StringIO(header_line)), [])
    names = [name.strip() for name in names]
    missing = [name for name in required if name not in names]
    if missing:
        raise TransientError(f"an answer without the column(s) {', '.join(missing)}")
    if len(set(names)) != len(names):
        raise TransientError("an answer whose header repeats a column")
    bad_rows = 0

    def on_bad_row(row: Any) -> str:
        nonlocal bad_rows
        bad_rows += 1
        return "skip"

    try:
        table = pv.read_csv(
            pa.BufferReader(data),
            read_options=pv.ReadOptions(column_names=names, skip_rows=1, use_threads=True),
            parse_options=pv.ParseOptions(newlines_in_values=True, invalid_row_handler=on_bad_row),
            convert_options=pv.ConvertOptions(
                column_types={name: pa.string() for name in names},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
                null_values=[],
            ),
        )
    except (pa.ArrowInvalid, UnicodeDecodeError):
        # pyarrow's messages quote the offending row: never pass them on.
        raise TransientError("an answer that is not readable CSV (cut short?)") from None
    if bad_rows:
        raise TransientError(f"an answer with {bad_rows} row(s) of the wrong length (cut short?)")
    return table


def _frame(table: pa.Table) -> pd.DataFrame:
    """A string table as a pandas frame of Python strings (what ``RedcapProject.from_frames`` reads)."""
    return pd.DataFrame({name: table[name].to_pylist() for name in table.column_names}, dtype=object)


# ------------------------------------------------------------------------------------ watermark
@dataclass(frozen=True)
class Watermark:
    """What a good pull leaves for the next incremental one (``watermark.json`` of a staged pull).

    Attributes
    ----------
    pull_id : str
    server_time : datetime
        The server's time when the pull began (its HTTP ``Date``), aware UTC.
    url : str
        The API URL (without credentials).
    project_id : str
    structure : str
        :func:`structure_fingerprint` of the project's structure.
    records : int
        Records in the staged state.
    """

    pull_id: str
    server_time: dt.datetime
    url: str
    project_id: str
    structure: str
    records: int

    def to_json(self, *, mode: str, previous_pull: str | None) -> dict[str, Any]:
        return {
            "pull_id": self.pull_id,
            "mode": mode,
            "watermark": _iso(self.server_time),
            "url": self.url,
            "project_id": self.project_id,
            "structure": self.structure,
            "records": self.records,
            "previous_pull": previous_pull,
        }


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def read_watermark(settings: Settings, pull_id: str | None = None) -> Watermark | None:
    """The watermark of a staged REDCap pull (the latest by default), or None.

    None when there is no staged pull, or when it came from files (a REDCap export ingested
    with ``proximite ingest``), which have no watermark.
    """
    pull_id = pull_id or latest_pull(settings, SOURCE)
    if pull_id is None:
        return None
    path = staged_dir(settings, SOURCE, pull_id) / WATERMARK_NAME
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        moment = dt.datetime.strptime(data["watermark"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc)
        return Watermark(
            pull_id=str(data["pull_id"]), server_time=moment, url=str(data["url"]),
            project_id=str(data.get("project_id", "")), structure=str(data["structure"]), records=int(data.get("records", 0)),
        )
    except (ValueError, KeyError, TypeError):
        log.warning("staged REDCap pull %s: unreadable %s; the next pull is full", pull_id, WATERMARK_NAME)
        return None


# ------------------------------------------------------------------------------------ result
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


# ------------------------------------------------------------------------------------ the client
def _open_project(url: str, token: str, **request_kwargs: Any) -> Any:
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
class _Received:
    """One answer kept in 01 raw."""

    path: str
    content: str
    bytes: int
    sha256: str
    rows: int | None
    attempts: int


class _Client:
    """PyCap's project with a response hook: status checks, the server's ``Date``, the body as received."""

    def __init__(
        self,
        url: str,
        token: str,
        *,
        raw: Path,
        policy: RetryPolicy,
        timeout: float,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._token = token
        self.raw = raw
        self.policy = policy
        self.sleep = sleep
        self.requests = 0
        self.received: list[_Received] = []
        self.first_date: str | None = None
        self._last: tuple[bytes, str | None] | None = None
        self._reading = False  # True while an answer's body is being read
        # Hooks and timeout go to requests through PyCap's request options: every call of the
        # project passes through `_on_response`, PyCap itself is unchanged.
        self.project = _open_project(url, token, timeout=timeout, hooks={"response": [self._on_response]})

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
        path = self.raw / filename
        path.write_bytes(content)
        make_read_only(path)
        self.received.append(
            _Received(filename, what, len(content), hashlib.sha256(content).hexdigest(), rows(parsed), attempts)
        )
        return parsed


# ------------------------------------------------------------------------------------ the pull
_PROJECT_REQUESTS = (
    # (content, file, PyCap call, required columns)
    ("metadata", "metadata.csv", lambda p: p.export_metadata(format_type="csv"), ("field_name", "form_name", "field_type")),
    ("arms", "arms.csv", lambda p: p.export_arms(format_type="csv"), ("arm_num",)),
    ("events", "events.csv", lambda p: p.export_events(format_type="csv"), ("unique_event_name",)),
    (
        "formEventMapping", "form_event_mapping.csv",
        lambda p: p.export_instrument_event_mappings(format_type="csv"), ("unique_event_name", "form"),
    ),
    (
        "repeatingFormsEvents", "repeating_forms_events.csv",
        lambda p: p.export_repeating_instruments_events(format_type="csv"), ("event_name", "form_name"),
    ),
    ("dag", "dags.csv", lambda p: p.export_dags(format_type="csv"), ()),
    ("exportFieldNames", "field_names.csv", lambda p: p.export_field_names(format_type="csv"), ("original_field_name",)),
)


def _count_rows(table: pa.Table) -> int:
    return table.num_rows


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
    is :func:`merge_incremental` (previous, rows of :math:`C`, changed = :math:`C`, deleted =
    :math:`D`). The watermark is the server's ``Date`` of the pull's first answer; ``dateRangeBegin``
    is sent on the server's clock (``[redcap] server_timezone``, default this machine's zone), one
    second early so that a change in the watermark's own second is not missed (fetching a record
    twice is harmless).
    """
    from proximite.cohort.codebook import load_codebook

    started = time.monotonic()
    if not _TOKEN.fullmatch(token or ""):
        raise RedcapPullError(
            "the REDCap API token is malformed: a token is 32 hexadecimal characters (0-9, A-F); the value is not shown"
        )
    if not str(url).rstrip().endswith("/api/"):
        raise RedcapPullError(f"the REDCap API URL must end in /api/ (got {public_url(url)})")
    policy = RetryPolicy(retries=retries, backoff_seconds=backoff_seconds)
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1 (got {batch_size})")
    report = progress or (lambda step, done, total: None)
    codebook = codebook or load_codebook()
    previous = None if full else read_watermark(settings)
    previous_pull = latest_pull(settings, SOURCE)

    pull_id = new_pull_id()
    raw = raw_dir(settings, SOURCE, pull_id)
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
    client: _Client | None = None

    def manifest(*, staged: bool, error: str | None) -> None:
        files = [
            {"path": item.path, "bytes": item.bytes, "sha256": item.sha256, "rows": item.rows, "request": item.content, "attempts": item.attempts}
            for item in (client.received if client else [])
        ]
        write_manifest(
            raw, source=SOURCE, pull_id=pull_id, received_at=received_at, parameters=parameters, files=files,
            staged=staged, error=error, extra={"requests": client.requests if client else 0},
        )

    manifest(staged=False, error="pull in progress (or interrupted)")
    try:
        client = _Client(url, token, raw=raw, policy=policy, timeout=timeout_seconds)
        outcome = _pull(
            client, settings=settings, codebook=codebook, previous=previous, parameters=parameters,
            batch_size=batch_size, pause_seconds=pause_seconds, report=report, pull_id=pull_id, url=url,
            full=full, previous_pull=previous_pull, gate=gate,
        )
    except BaseException as error:
        if isinstance(error, ProximiteError):
            text = redact(str(error), token)
        else:
            text = f"{type(error).__name__} during the pull"
        if isinstance(error, RedcapPullError):
            error.raw_dir = raw
        manifest(staged=False, error=text)
        log.warning("REDCap pull %s not staged (%s); LATEST is unchanged", pull_id, text)
        raise
    manifest(staged=True, error=None)
    result = PullResult(
        pull_id=pull_id,
        mode=parameters["mode"],
        watermark=parameters["watermark"],
        records=outcome["records"],
        deleted=outcome["deleted"],
        rows=outcome["rows"],
        raw_dir=raw,
        staged_dir=staged_dir(settings, SOURCE, pull_id),
        requests=client.requests,
        seconds=time.monotonic() - started,
        previous_pull=previous_pull,
        reason=outcome["reason"],
    )
    log.info(
        "REDCap pull %s (%s): %d records fetched, %d deleted, %d requests, %.1f s",
        pull_id, result.mode, result.records, result.deleted, result.requests, result.seconds,
    )
    return result


def server_clock(moment: dt.datetime, *, timezone: str = "local") -> dt.datetime:
    """A UTC moment on the REDCap server's wall clock (naive), as ``dateRangeBegin`` expects it.

    Parameters
    ----------
    moment : datetime
        Aware (UTC from the HTTP ``Date`` header).
    timezone : str, keyword-only
        The server's IANA time zone (``America/Toronto``), or ``local`` for this machine's zone
        (``[redcap] server_timezone``).

    Raises
    ------
    RedcapPullError
        The zone is unknown.
    """
    if timezone in {"", "local"}:
        return moment.astimezone().replace(tzinfo=None)
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise RedcapPullError(f"[redcap] server_timezone: unknown time zone '{timezone}' (e.g. America/Toronto or local)") from None
    return moment.astimezone(zone).replace(tzinfo=None)


def _server_timezone(settings: Settings) -> str:
    """``[redcap] server_timezone`` (REDCap compares ``dateRangeBegin`` with its own clock)."""
    return str(settings.raw.get("redcap", {}).get("server_timezone", "local") or "local")


def _pull(
    client: _Client,
    *,
    settings: Settings,
    codebook: Codebook,
    previous: Watermark | None,
    parameters: dict[str, Any],
    batch_size: int,
    pause_seconds: float,
    report: Progress,
    pull_id: str,
    url: str,
    full: bool,
    previous_pull: str | None,
    gate: StagedGate | None = None,
) -> dict[str, Any]:
    """The pull's steps once the raw directory exists; fills ``parameters`` (mode, watermark)."""
    raw = client.raw
    total_project = 2 + len(_PROJECT_REQUESTS)
    done = 0

    # 1. Project information first: its Date header is the watermark (before any record is read).
    info_table = client.fetch(
        "project information", "project_info.csv", lambda p: p.export_project_info(format_type="csv"),
        parse=lambda data: parse_csv_body(data, required=("project_id",), allow_empty=False), rows=_count_rows,
    )
    done += 1
    report(STEP_PROJECT, done, total_project)
    info = {name: (info_table[name][0].as_py() if info_table.num_rows else "") for name in info_table.column_names}
    server_time = parse_server_date(client.first_date) or dt.datetime.now(dt.timezone.utc)
    if client.first_date is None:
        log.warning("REDCap sent no Date header: the watermark is this machine's clock")
    parameters["watermark"] = _iso(server_time)
    if str(info.get("is_longitudinal", "1")).strip() not in {"1", "true", "True"}:
        raise RedcapPullError(
            "the REDCap project is not longitudinal; the cohort project has events (inclusion, t0, t6, ...): "
            "check the URL and the token's project"
        )
    has_repeating = str(info.get("has_repeating_instruments_or_events", "1")).strip() in {"1", "true", "True"}

    tables: dict[str, pa.Table] = {}
    files: dict[str, Path] = {}
    for content, filename, call, required in _PROJECT_REQUESTS:
        if content == "repeatingFormsEvents" and not has_repeating:
            done += 1
            continue
        tables[content] = client.fetch(
            content, filename, call,
            parse=lambda data, required=required, content=content: parse_csv_body(
                data, required=required, allow_empty=content in {"dag", "repeatingFormsEvents", "arms"}
            ),
            rows=_count_rows,
        )
        files[content] = raw / filename
        done += 1
        report(STEP_PROJECT, done, total_project)

    metadata = _frame(tables["metadata"])
    dags = _frame(tables["dag"]) if tables["dag"].num_columns else None
    # A token bound to a data access group sees only its group, and REDCap leaves the group
    # column out of its record exports: the one group it sees is every record's group.
    if dags is not None and "unique_group_name" not in dags.columns:
        raise RedcapPullError("the data access groups answer has no unique_group_name column")
    token_group = str(dags["unique_group_name"].iloc[0]) if dags is not None and len(dags) == 1 else None
    parameters["data_access_groups_visible"] = 0 if dags is None else len(dags)
    project = RedcapProject.from_frames(
        metadata,
        events=_frame(tables["events"]),
        form_event_mapping=_frame(tables["formEventMapping"]),
        repeating_forms_events=_frame(tables["repeatingFormsEvents"]) if "repeatingFormsEvents" in tables else None,
        dags=dags if dags is not None and len(dags) else None,
        codebook=codebook,
        paths={
            "metadata": files["metadata"], "events": files["events"], "form_event_mapping": files["formEventMapping"],
            "repeating_forms_events": files.get("repeatingFormsEvents", raw / "repeating_forms_events.csv"),
            "dags": files["dag"], "info": raw / "project_info.csv",
        },
        missing_data_codes=str(info.get("missing_data_codes") or ""),
    )
    structure = structure_fingerprint(
        {
            "metadata": (raw / "metadata.csv").read_bytes(),
            "events": (raw / "events.csv").read_bytes(),
            "form_event_mapping": (raw / "form_event_mapping.csv").read_bytes(),
            "repeating": (raw / "repeating_forms_events.csv").read_bytes() if "repeatingFormsEvents" in tables else b"",
            "missing_data_codes": json.dumps(dict(project.missing_codes), sort_keys=True),
        }
    )
    project_id = str(info.get("project_id", ""))

    # 2. Full or incremental.
    incremental = False
    if full:
        reason = "asked for (--full)"
    elif previous is None:
        reason = "no previous pull" if previous_pull is None else "the last staged pull has no watermark (it came from files)"
    elif previous.url != public_url(url) or (previous.project_id and previous.project_id != project_id):
        reason = "another project than the previous pull"
    elif previous.structure != structure:
        reason = "the data dictionary, events or missing-data codes changed since the previous pull"
    else:
        incremental, reason = True, f"changes since {_iso(previous.server_time)}"
    parameters["mode"] = "incremental" if incremental else "full"
    parameters["reason"] = reason
    if incremental:
        assert previous is not None
        parameters["since"] = _iso(previous.server_time)
    record_field = project.record_id_field

    # 3. Record ids (changed ones only for an incremental pull), then deletions from the log.
    since_server_clock: dt.datetime | None = None
    if incremental:
        assert previous is not None
        since_server_clock = server_clock(
            previous.server_time - dt.timedelta(seconds=1), timezone=_server_timezone(settings)
        )
    ids_table = client.fetch(
        "record ids" + (" changed since the watermark" if incremental else ""), "record_ids.csv",
        lambda p: p.export_records(format_type="csv", fields=[record_field], date_begin=since_server_clock),
        parse=lambda data: parse_csv_body(data, required=(record_field,), allow_empty=True), rows=_count_rows,
    )
    done += 1
    report(STEP_PROJECT, done, total_project)
    ids = unique_ids(ids_table[record_field].to_pylist())
    deleted: list[str] = []
    if incremental:
        assert since_server_clock is not None
        # Log timestamps have minutes only: start at the watermark's minute.
        log_since = since_server_clock.replace(second=0, microsecond=0)
        log_table = client.fetch(
            "project log (record changes)", "log.csv",
            lambda p: p.export_logging(format_type="csv", log_type="record", begin_time=log_since),
            parse=lambda data: parse_csv_body(data, required=("timestamp", "action"), allow_empty=True), rows=_count_rows,
        )
        # A record deleted and created again since the watermark is among the changed ids: kept.
        came_back = set(ids)
        deleted = [record for record in deleted_records(_frame(log_table)) if record not in came_back]

    # 4. Records by batches of ids.
    batches = id_batches(ids, batch_size)
    fetched: list[pa.Table] = []
    names: list[str] = []
    report(STEP_RECORDS, 0, len(ids))
    fetched_count = 0
    for number, batch in enumerate(batches, start=1):
        if number > 1 and pause_seconds > 0:
            time.sleep(pause_seconds)
        filename = f"records_{number:04d}.csv"
        what = f"records batch {number} of {len(batches)}"
        table = client.fetch(
            what, filename,
            lambda p, batch=batch: p.export_records(
                format_type="csv", records=batch, raw_or_label="raw", export_data_access_groups=True,
            ),
            parse=lambda data, batch=batch: _checked_batch(data, batch, record_field),
            rows=_count_rows,
        )
        if fetched and table.column_names != fetched[0].column_names:
            raise RedcapPullError(
                f"{what}: its columns differ from the first batch's; the project changed during the pull. "
                f"Run the pull again. {_UNTOUCHED}.",
                request=what,
            )
        fetched.append(table)
        names.append(filename)
        fetched_count += len(batch)
        report(STEP_RECORDS, fetched_count, len(ids))
    log.info("REDCap pull %s: %d record(s) in %d batch(es), %d deletion(s)", pull_id, len(ids), len(batches), len(deleted))

    # 5. Stage: type the records, merge with the previous state for an incremental pull, commit.
    report(STEP_STAGE, 0, 1)
    tables_out: dict[str, pd.DataFrame | pa.Table]
    unchanged: dict[str, Path] = {}
    if incremental:
        assert previous is not None
        fresh = (
            _stage_batches(fetched, names, project, raw=raw, settings=settings, token_group=token_group) if fetched else {}
        )
        before = _read_staged_tables(settings, previous.pull_id)
        tables_out = dict(
            merge_incremental(
                before,
                {form: pa.Table.from_pandas(frame, preserve_index=False) for form, frame in fresh.items()},
                changed=ids,
                deleted=deleted,
            )
        )
        # Forms the changes did not touch keep the previous pull's file (staged files are never
        # edited, so a hard link is as good as a copy and costs nothing).
        unchanged = {
            form: staged_dir(settings, SOURCE, previous.pull_id) / f"{form}.parquet"
            for form, table in tables_out.items()
            if form in before and table is before[form]
        }
    else:
        tables_out = dict(_stage_batches(fetched, names, project, raw=raw, settings=settings, token_group=token_group))
    tables_out = {form: tables_out[form] for form in [*project.forms, *tables_out] if form in tables_out}
    distinct = [
        pc.unique(frame["record_id"] if isinstance(frame, pa.Table) else pa.array(frame["record_id"].dropna().unique().astype(object)))
        for frame in tables_out.values()
    ]
    records_in_state = (
        pc.count_distinct(pa.chunked_array([values.cast(pa.string()) for values in distinct], pa.string())).as_py() if distinct else 0
    )
    watermark = Watermark(
        pull_id=pull_id, server_time=server_time, url=public_url(url), project_id=project_id,
        structure=structure, records=records_in_state,
    )
    _commit(
        settings, pull_id, tables_out, watermark.to_json(mode=parameters["mode"], previous_pull=previous_pull),
        unchanged=unchanged, gate=gate,
    )
    report(STEP_STAGE, 1, 1)
    return {
        "records": len(ids),
        "deleted": len(deleted),
        "rows": {table: (frame.num_rows if isinstance(frame, pa.Table) else len(frame)) for table, frame in tables_out.items()},
        "reason": reason,
    }


def _checked_batch(data: bytes, batch: Sequence[str], record_field: str) -> pa.Table:
    """A records answer, checked to hold every record of the batch and no other."""
    table = parse_csv_body(data, required=(record_field,), allow_empty=False)
    returned = pc.unique(table[record_field]).to_pylist()
    missing, unexpected = batch_mismatch(batch, (value.strip() for value in returned if value is not None))
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"{len(missing)} of the {len(batch)} records asked for are missing (deleted during the pull?)")
        if unexpected:
            parts.append(f"{len(unexpected)} record(s) not asked for")
        raise TransientError("an answer that does not match its batch: " + "; ".join(parts))
    return table


def _stage_batches(
    fetched: Sequence[pa.Table],
    names: Sequence[str],
    project: RedcapProject,
    *,
    raw: Path,
    settings: Settings,
    token_group: str | None = None,
) -> dict[str, pd.DataFrame]:
    """Type the batches at once; an error names the batch file and its row.

    When the answers have no group column (a token bound to a data access group) and the token
    sees exactly one group, that group is every row's.
    """
    if fetched:
        table = pa.concat_tables(fetched)
    else:  # an empty project: an empty export with the columns a batch would have had
        table = pa.table({name: pa.array([], pa.string()) for name in flat_columns(project)})
    if DAG not in table.column_names and project.dags:
        if token_group is None:
            raise RedcapPullError(
                "the records came without their data access group and the token sees several groups or none; "
                "pull with a token of a user who is not in a data access group, or with the token of one group"
            )
        position = table.column_names.index(INSTANCE) + 1 if INSTANCE in table.column_names else min(2, table.num_columns)
        table = table.add_column(position, DAG, pa.array([token_group] * table.num_rows, pa.string()))
    offsets = np.cumsum([0] + [part.num_rows for part in fetched]).tolist()
    try:
        return stage_records(table, project, event_waves=settings.event_waves, path=raw / "records_*.csv")
    except InputError as error:
        if error.row is None or not names:
            raise
        index = bisect.bisect_right(offsets, error.row - 1) - 1
        index = min(max(index, 0), len(names) - 1)
        raise InputError(
            raw / names[index], error.rule, row=error.row - offsets[index], column=error.column,
            detail=error.detail, count=error.count,
        ) from None


def _read_staged_tables(settings: Settings, pull_id: str) -> dict[str, pa.Table]:
    """The tables of a staged REDCap pull as Arrow tables (no conversion to pandas)."""
    import pyarrow.parquet as pq

    directory = staged_dir(settings, SOURCE, pull_id)
    return {path.stem: pq.read_table(path) for path in sorted(directory.glob("*.parquet"))}


def _commit(
    settings: Settings,
    pull_id: str,
    tables: Mapping[str, pd.DataFrame | pa.Table],
    watermark: Mapping[str, Any],
    *,
    unchanged: Mapping[str, Path] | None = None,
    gate: StagedGate | None = None,
) -> None:
    """Write the staged pull into a hidden directory, gate it, move it into place, then mark it LATEST.

    ``unchanged`` maps forms to the previous pull's file holding exactly their rows: those are
    hard-linked (copied where links are not possible) instead of written again. With a
    ``gate``, the hidden directory passes it first; a refused pull is moved to the quarantine and nothing is committed.
    """
    unchanged = dict(unchanged or {})
    import pyarrow.parquet as pq

    temporary = settings.data_dir / STAGED / SOURCE / f".{pull_id}.partial"
    final = staged_dir(settings, SOURCE, pull_id)
    if final.exists():
        raise ProximiteError(f"{final} already exists: a pull id is used once")
    shutil.rmtree(temporary, ignore_errors=True)
    temporary.mkdir(parents=True)
    def write(item: tuple[str, pd.DataFrame | pa.Table]) -> None:
        name, table = item
        target = temporary / f"{name}.parquet"
        if name in unchanged:
            try:
                os.link(unchanged[name], target)
            except OSError:
                shutil.copy2(unchanged[name], target)
            return
        if isinstance(table, pd.DataFrame):
            table = pa.Table.from_pandas(table, preserve_index=False)
        pq.write_table(table, target, compression=PARQUET_COMPRESSION)

    try:
        # Parquet writing releases the GIL: the forms are written side by side.
        with ThreadPoolExecutor(max_workers=min(4, len(tables) or 1)) as pool:
            list(pool.map(write, tables.items()))
        (temporary / WATERMARK_NAME).write_text(json.dumps(dict(watermark), indent=2) + "\n", encoding="utf-8")
        if gate is not None:
            # The whole new state is checked (an incremental pull's merge included), as committed.
            gate({SOURCE: temporary}, pull_id)
        os.rename(temporary, final)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    try:
        mark_latest(settings, SOURCE, pull_id)
    except BaseException:
        shutil.rmtree(final, ignore_errors=True)  # never a staged pull that LATEST does not know
        raise
