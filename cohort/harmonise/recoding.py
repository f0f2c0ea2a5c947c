"""REDCap's layout recoded: events to waves, groups to territories, a form's fields to model columns."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from proximite.cohort.harmonise.columns import blank_to_na, cast_column
from proximite.cohort.harmonise.rules import NONE_CODES, PANDAS_DTYPES, record_count, resolve_codebook, row_count
from proximite.cohort.harmonise.scores import count_checked, item_mean
from proximite.errors import HarmoniseError

if TYPE_CHECKING:  # pragma: no cover
    from proximite.cohort.codebook import Codebook

__all__ = [
    "birth_month",
    "components_of",
    "events_to_waves",
    "form_columns",
    "territories_of_dags",
    "unmatched_family_records",
]


def events_to_waves(events: pd.Series, *, event_waves: Mapping[str, int]) -> pd.Series:
    """Map REDCap unique event names to integer waves.

    Parameters
    ----------
    events : Series
        ``redcap_event_name`` of each row.
    event_waves : mapping, keyword-only
        Event → wave in months (``Settings.event_waves``).

    Returns
    -------
    Series
        dtype ``Int64``.

    Raises
    ------
    HarmoniseError
        An event is not mapped (the message names the event and its row count).
    """
    codes, uniques = pd.factorize(events, use_na_sentinel=True)
    unknown = [(str(event), int((codes == i).sum())) for i, event in enumerate(uniques) if event not in event_waves]
    missing = int((codes == -1).sum())
    if missing:
        raise HarmoniseError(f"{row_count(missing)} without a REDCap event name")
    if unknown:
        listed = "; ".join(f"'{event}' ({row_count(count)})" for event, count in sorted(unknown))
        raise HarmoniseError(
            f"REDCap event(s) not mapped to a wave: {listed}; add them to [waves.events] of the configuration"
        )
    waves = np.array([int(event_waves[event]) for event in uniques] + [0], dtype="int64")
    return pd.Series(waves[codes], index=events.index, name="wave").astype("Int64")


def territories_of_dags(dags: pd.Series, *, territory: pd.DataFrame, record_ids: pd.Series | None = None) -> pd.Series:
    """Map REDCap data access groups to territory ids.

    Parameters
    ----------
    dags : Series
        ``redcap_data_access_group`` of each row.
    territory : DataFrame, keyword-only
        The reference territories, with ``redcap_dag`` and ``territory_id``.
    record_ids : Series, optional, keyword-only
        Record id of each row, to count records (rather than rows) in the error message.

    Returns
    -------
    Series
        dtype ``"string"``.

    Raises
    ------
    HarmoniseError
        A group is not the ``redcap_dag`` of any territory, or a record has no group (the message
        names the group code and the number of records).
    """
    groups = blank_to_na(territory["redcap_dag"])
    ambiguous = groups[groups.duplicated() & groups.notna()]
    if not ambiguous.empty:
        raise HarmoniseError(f"reference territory: data access group(s) {', '.join(sorted(ambiguous.unique()))} name several territories")
    lookup = dict(zip(groups.dropna(), territory["territory_id"][groups.notna()]))
    codes, uniques = pd.factorize(blank_to_na(dags), use_na_sentinel=True)
    counted = record_ids if record_ids is not None else pd.Series(np.arange(len(dags)), index=dags.index)

    def records_where(mask: np.ndarray) -> int:
        return int(pd.Series(counted.to_numpy()[mask]).nunique())

    problems = []
    if (codes == -1).any():
        problems.append(f"no data access group ({record_count(records_where(codes == -1))})")
    for i, group in enumerate(uniques):
        if group not in lookup:
            problems.append(f"unknown data access group '{group}' ({record_count(records_where(codes == i))})")
    if problems:
        raise HarmoniseError(
            "REDCap records cannot be placed in a territory: "
            + "; ".join(problems)
            + "; each group must be the redcap_dag of one reference territory"
        )
    mapped = np.array([lookup[group] for group in uniques] + [None], dtype=object)
    return pd.Series(mapped[codes], index=dags.index, name="territory_id").astype("string")


def birth_month(dates: pd.Series) -> pd.Series:
    """Year-month ``YYYY-MM`` of a date (the exact date is not kept)."""
    return cast_column(dates, "month", name="birth_month")


def components_of(action_types: pd.Series, *, action_component: Mapping[str, str]) -> pd.Series:
    """Component (proximite, soutien, concertation) of each action type.

    Raises
    ------
    HarmoniseError
        An action type is not in the codebook (the message names the code and its row count).
    """
    codes, uniques = pd.factorize(blank_to_na(action_types), use_na_sentinel=True)
    unknown = [(str(code), int((codes == i).sum())) for i, code in enumerate(uniques) if code not in action_component]
    if unknown:
        listed = "; ".join(f"'{code}' ({row_count(count)})" for code, count in sorted(unknown))
        raise HarmoniseError(f"activity: action type(s) not in the codebook: {listed}")
    mapped = np.array([action_component[code] for code in uniques] + [None], dtype=object)
    return pd.Series(mapped[codes], index=action_types.index, name="component").astype("string")


def form_columns(
    frame: pd.DataFrame,
    *,
    form: str,
    table: str,
    codebook: Codebook | None = None,
    none_codes: Sequence[str] = NONE_CODES,
) -> tuple[dict[str, pd.Series], list[str]]:
    """The model columns a REDCap form feeds, from the codebook's ``target`` keys.

    One field → its values cast to the column's type; several fields → the mean of the answered
    items (a scale); a checkbox → the number of ticked boxes (:func:`count_checked`). The
    record id (which becomes a pseudonym) is left to the caller.

    Parameters
    ----------
    frame : DataFrame
        The staged rows of the form.
    form, table : str, keyword-only
        The REDCap form and the model table.
    codebook : Codebook, optional, keyword-only
    none_codes : sequence of str, keyword-only
        Checkbox codes that mean "none of these".

    Returns
    -------
    columns : dict of str to Series
    absent : list of str
        Fields of the codebook missing from ``frame`` (their column is missing values).
    """
    book = resolve_codebook(codebook)
    spec = book.columns(table)
    fields = book.fields
    mapped = fields.loc[(fields["form_name"] == form) & (fields["target_table"] == table)]
    mapped = mapped.loc[mapped["field_name"] != book.record_id_field]
    columns: dict[str, pd.Series] = {}
    absent: list[str] = []
    for column, group in mapped.groupby("target_column", sort=False):
        kind = spec[column]["type"]
        names = group["field_name"].tolist()
        types = group["field_type"].tolist()
        if types == ["checkbox"]:
            prefix = f"{names[0]}___"
            boxes = [name for name in frame.columns if str(name).startswith(prefix)]
            if not boxes:
                absent.append(names[0])
                columns[column] = pd.Series(pd.NA, index=frame.index, dtype="Int64")
            else:
                columns[column] = count_checked(frame[boxes], none_codes=none_codes, field=names[0])
            continue
        present = [name for name in names if name in frame.columns]
        absent.extend(name for name in names if name not in frame.columns)
        if not present:
            columns[column] = pd.Series(pd.NA, index=frame.index, dtype=PANDAS_DTYPES[kind])
        elif len(names) > 1:
            if kind != "float":
                raise HarmoniseError(f"codebook: {len(names)} fields feed {table}.{column}, which is not a float scale")
            columns[column] = item_mean(frame[present])
        else:
            columns[column] = cast_column(frame[present[0]], kind, name=f"{form}.{present[0]}")
    return columns, absent


def unmatched_family_records(activity_records: pd.Series, redcap_records: pd.Series) -> dict[str, int]:
    """Count activity rows whose family record id is not a REDCap record.

    Returns
    -------
    dict
        ``{"rows": ..., "records": ...}``: counts only, never the ids.
    """
    codes, uniques = pd.factorize(blank_to_na(activity_records), use_na_sentinel=True)
    known = pd.Index(blank_to_na(redcap_records).dropna().unique())
    unknown = ~pd.Index(uniques).isin(known)
    unknown_rows = np.isin(codes, np.flatnonzero(unknown))
    return {"rows": int(unknown_rows.sum()), "records": int(unknown.sum())}
