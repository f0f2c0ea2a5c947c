"""The record steps of a pull: record ids, deletions from the log, then the records by batches of ids.

Record ids come from ``fields=[record id]`` (all records for a full pull; with
``dateRangeBegin`` = the previous watermark for an incremental one), then the records **by
batches of ids** (``records_0001.csv`` ...), with a pause between batches. For an incremental
pull, the project log since the previous watermark (``log_type="record"``) says which records
were deleted: those whose last logged action is a deletion and that did not come back among the
changed ids.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import pyarrow as pa

from proximite.cohort.redcap.answers import parse_csv_body, string_frame
from proximite.cohort.redcap.batches import checked_batch, id_batches, unique_ids
from proximite.cohort.redcap.errors import UNTOUCHED, RedcapPullError
from proximite.cohort.redcap.incremental import deleted_records
from proximite.cohort.redcap.structure import STEP_PROJECT, PROJECT_REQUESTS, count_rows

if TYPE_CHECKING:  # pragma: no cover
    from proximite.cohort.redcap.client import Client

__all__ = ["STEP_RECORDS", "fetch_deletions", "fetch_ids", "fetch_records"]

log = logging.getLogger(__name__)

#: The progress step of the records (done/total: records).
STEP_RECORDS = "records"


def fetch_ids(
    client: Client,
    record_field: str,
    *,
    since: dt.datetime | None,
    report: Callable[[str, int, int], None],
) -> list[str]:
    """The project's record ids, or those changed since ``since`` (the server's clock), each once."""
    ids_table = client.fetch(
        "record ids" + (" changed since the watermark" if since is not None else ""), "record_ids.csv",
        lambda p: p.export_records(format_type="csv", fields=[record_field], date_begin=since),
        parse=lambda data: parse_csv_body(data, required=(record_field,), allow_empty=True), rows=count_rows,
    )
    total = 2 + len(PROJECT_REQUESTS)  # the project step's last request
    report(STEP_PROJECT, total, total)
    return unique_ids(ids_table[record_field].to_pylist())


def fetch_deletions(client: Client, *, since: dt.datetime, changed: Sequence[str]) -> list[str]:
    """Records deleted since ``since`` (the server's clock) according to the log, minus ``changed``."""
    # Log timestamps have minutes only: start at the watermark's minute.
    log_since = since.replace(second=0, microsecond=0)
    log_table = client.fetch(
        "project log (record changes)", "log.csv",
        lambda p: p.export_logging(format_type="csv", log_type="record", begin_time=log_since),
        parse=lambda data: parse_csv_body(data, required=("timestamp", "action"), allow_empty=True), rows=count_rows,
    )
    # A record deleted and created again since the watermark is among the changed ids: kept.
    came_back = set(changed)
    return [record for record in deleted_records(string_frame(log_table)) if record not in came_back]


def fetch_records(
    client: Client,
    ids: Sequence[str],
    record_field: str,
    *,
    batch_size: int,
    pause_seconds: float,
    report: Callable[[str, int, int], None],
) -> tuple[list[pa.Table], list[str]]:
    """The records by batches of ids, and the raw file of each batch.

    Raises
    ------
    RedcapPullError
        A batch's columns differ from the first batch's (the project changed during the pull),
        or a batch still failed after its last try.
    """
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
            parse=lambda data, batch=batch: checked_batch(data, batch, record_field),
            rows=count_rows,
        )
        if fetched and table.column_names != fetched[0].column_names:
            raise RedcapPullError(
                f"{what}: its columns differ from the first batch's; the project changed during the pull. "
                f"Run the pull again. {UNTOUCHED}.",
                request=what,
            )
        fetched.append(table)
        names.append(filename)
        fetched_count += len(batch)
        report(STEP_RECORDS, fetched_count, len(ids))
    return fetched, names
