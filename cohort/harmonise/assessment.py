"""The assessment table: one row per family and wave, its isolation index and flag."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from proximite.cohort.harmonise.columns import check_keys, conform
from proximite.cohort.harmonise.recoding import events_to_waves, form_columns
from proximite.cohort.harmonise.rules import ASSESSMENT_FORM, NON_RECOURS, RESOURCES, HarmoniseRules, resolve_codebook, row_count
from proximite.cohort.harmonise.scores import dimensions_answered, isolated_flag, isolation_index, non_recours_score
from proximite.cohort.harmonise.tables import family_pseudonyms, require_columns, warn_absent
from proximite.errors import HarmoniseError

if TYPE_CHECKING:  # pragma: no cover
    from proximite.cohort.codebook import Codebook

__all__ = ["harmonise_assessment"]


def _answered_rows(frame: pd.DataFrame, *, form: str, codebook: Codebook) -> pd.Series:
    """Rows where at least one field of the form has a value (a ticked box counts, an unticked one not)."""
    fields = codebook.fields
    names = fields.loc[(fields["form_name"] == form) & (fields["field_name"] != codebook.record_id_field)]
    answered = pd.Series(False, index=frame.index)
    for name, kind in zip(names["field_name"], names["field_type"]):
        if kind == "checkbox":
            boxes = [column for column in frame.columns if str(column).startswith(f"{name}___")]
            if boxes:
                answered |= frame[boxes].astype("boolean").fillna(False).astype(bool).any(axis=1)
        elif name in frame.columns:
            answered |= frame[name].notna().to_numpy()
    return answered


def harmonise_assessment(
    suivi: pd.DataFrame,
    *,
    rules: HarmoniseRules,
    key: bytes,
    codebook: Codebook | None = None,
) -> tuple[pd.DataFrame, int]:
    """The ``assessment`` table: one row per family and wave, from the ``suivi`` form.

    Parameters
    ----------
    suivi : DataFrame
        Staged rows of the follow-up form.
    rules : HarmoniseRules, keyword-only
    key : bytes, keyword-only
    codebook : Codebook, optional, keyword-only

    Returns
    -------
    assessment : DataFrame
    dropped : int
        Rows with no answer at all (a form saved empty), left out.

    Raises
    ------
    HarmoniseError
        An event is not mapped to a wave, or two rows share a (family_id, wave).

    Notes
    -----
    ``non_recours`` comes from ``resources_used_3m`` by the configured bands, the other
    dimensions from the fields that target them. With :math:`A` the answered dimensions,

    .. math:: \\text{isolation\\_index} = 100 \\times \\frac{\\sum_{d \\in A} w_d x_d}{3 \\sum_{d \\in A} w_d}
              \\ \\text{when } |A| \\ge 4, \\qquad \\text{isolated} = [\\text{index} \\ge 50]

    and ``empowerment`` / ``parental_stress`` are the means of their answered items (weights,
    maximum score, minimum answered and threshold from ``[isolation]``).
    """
    book = resolve_codebook(codebook)
    record = book.record_id_field
    require_columns(suivi, [record, "redcap_event_name"], f"staged {ASSESSMENT_FORM}")
    waves = events_to_waves(suivi["redcap_event_name"], event_waves=rules.event_waves)
    answered = _answered_rows(suivi, form=ASSESSMENT_FORM, codebook=book)
    dropped = int((~answered).sum())
    rows = suivi.loc[answered.to_numpy()] if dropped else suivi
    waves = waves.loc[rows.index]
    columns, absent = form_columns(rows, form=ASSESSMENT_FORM, table="assessment", codebook=book)
    warn_absent(ASSESSMENT_FORM, absent)
    columns["family_id"] = family_pseudonyms(rows, rules, key, record)
    columns["wave"] = waves
    if RESOURCES not in columns:
        raise HarmoniseError(f"codebook: no field targets assessment.{RESOURCES}")
    columns[NON_RECOURS] = non_recours_score(
        columns[RESOURCES], bands=rules.non_recours_bands, above=rules.non_recours_above
    )
    unknown = [name for name in rules.dimensions if name not in columns]
    if unknown:
        raise HarmoniseError(f"[isolation] dimensions: no field feeds {', '.join(unknown)}")
    dimensions = pd.DataFrame({name: columns[name] for name in rules.dimensions}, index=rows.index)
    columns["dimensions_answered"] = dimensions_answered(dimensions)
    columns["isolation_index"] = isolation_index(
        dimensions, weights=rules.weights, max_score=rules.max_score, min_answered=rules.min_answered
    )
    columns["isolated"] = isolated_flag(columns["isolation_index"], threshold=rules.isolated_threshold)
    result = conform(columns, "assessment", codebook=book)
    _check_one_per_wave(result, rows)
    check_keys(result, "assessment", codebook=book)
    return result, dropped


def _check_one_per_wave(assessment: pd.DataFrame, rows: pd.DataFrame) -> None:
    duplicated = assessment.duplicated(["family_id", "wave"], keep="first").to_numpy()
    if duplicated.any():
        first = int(np.flatnonzero(duplicated)[0])
        event = rows["redcap_event_name"].iloc[first]
        where = f"event '{event}'"
        if "source_row" in rows.columns and pd.notna(rows["source_row"].iloc[first]):
            where += f", records.csv row {int(rows['source_row'].iloc[first])}"
        raise HarmoniseError(
            f"assessment: a (family_id, wave) is repeated on {row_count(int(duplicated.sum()))} "
            f"(first at {where}); two events map to one wave or a record is duplicated"
        )
