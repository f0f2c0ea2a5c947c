"""Record ids and their batches: the records are pulled by batches of ids, never chunked by rows.

Each batch's answer must hold every id asked for and no other (:func:`checked_batch`); the
batches are then typed at once (:func:`stage_batches`), an error naming the batch file and its row.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from proximite.cohort.redcap.answers import parse_csv_body
from proximite.cohort.redcap.dictionary import DAG, INSTANCE
from proximite.cohort.redcap.errors import RedcapPullError, TransientError
from proximite.cohort.redcap.layout import flat_columns
from proximite.cohort.redcap.records import stage_records
from proximite.cohort.redcap.refusal import StagingRefused, quarantine_refusal
from proximite.errors import InputError

if TYPE_CHECKING:  # pragma: no cover
    from proximite.cohort.redcap.project import RedcapProject
    from proximite.config import Settings

__all__ = ["batch_mismatch", "checked_batch", "id_batches", "stage_batches", "unique_ids"]


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


def checked_batch(data: bytes, batch: Sequence[str], record_field: str) -> pa.Table:
    """A records answer, checked to hold every record of the batch and no other.

    Raises
    ------
    TransientError
        The answer was cut short, or its records are not the batch's (an answer cut at the end
        of a row loses records without breaking the CSV).
    AnswerError
        The answer is not the CSV asked for (see :func:`~proximite.cohort.redcap.answers.parse_csv_body`).
    """
    # An empty answer is a batch whose records all went missing: said as such below.
    table = parse_csv_body(data, required=(record_field,), allow_empty=True)
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


def stage_batches(
    fetched: Sequence[pa.Table],
    names: Sequence[str],
    project: RedcapProject,
    *,
    raw: Path,
    settings: Settings,
    token_group: str | None = None,
    record_url: str | Callable[[], str | None] | None = None,
    source: str = "redcap",
) -> dict[str, pd.DataFrame]:
    """Type the batches at once; an error names the batch file and its row.

    Parameters
    ----------
    fetched : sequence of pyarrow.Table
        The batches' answers, in order.
    names : sequence of str
        Their files in the raw directory.
    project : RedcapProject
    raw : Path, keyword-only
        The pull's raw directory.
    settings : Settings, keyword-only
        For the event → wave map.
    token_group : str, optional, keyword-only
        The one data access group the token sees, if so.
    record_url : str or callable, optional, keyword-only
        :func:`~proximite.cohort.redcap.refusal.record_home_url` (or what returns it, called only
        when the batches are refused): a refusal links each record.
    source : str, keyword-only
        The data layer: the cohort's (``redcap``: its events are the waves of ``settings``) or a
        yearly questionnaire's (its events are years).

    When the answers have no group column (a token bound to a data access group) and the token
    sees exactly one group, that group is every row's.
    """
    if fetched:
        table = pa.concat_tables(fetched)
    else:  # an empty project: an empty export with the columns a batch would have had
        table = pa.table({name: pa.array([], pa.string()) for name in flat_columns(project)})
    if DAG not in table.column_names and project.dag_names:
        if token_group is None:
            raise RedcapPullError(
                "the records came without their data access group and the token sees several groups or none; "
                "pull with a token of a user who is not in a data access group, or with the token of one group"
            )
        position = table.column_names.index(INSTANCE) + 1 if INSTANCE in table.column_names else min(2, table.num_columns)
        table = table.add_column(position, DAG, pa.array([token_group] * table.num_rows, pa.string()))
    offsets = np.cumsum([0] + [part.num_rows for part in fetched]).tolist()
    try:
        waves = settings.event_waves if source == "redcap" else None
        return stage_records(table, project, event_waves=waves, path=raw / "records_*.csv")
    except StagingRefused as error:
        link = record_url() if callable(record_url) else record_url
        raise quarantine_refusal(
            error, settings=settings, pull_id=raw.name, source=source, names=names, offsets=offsets, record_url=link
        ) from None
    except InputError as error:
        if error.row is None or not names:
            raise
        index = bisect.bisect_right(offsets, error.row - 1) - 1
        index = min(max(index, 0), len(names) - 1)
        raise InputError(
            raw / names[index], error.rule, row=error.row - offsets[index], column=error.column,
            detail=error.detail, count=error.count,
        ) from None

