"""Harmonisation: staged tables (layer 02) → the canonical model (layer 03).

:func:`harmonise` takes the staged tables of every source and returns one frame per table of
``model.yaml`` with exactly the model's columns, in model order, typed:

======== =======================================
model    pandas dtype
======== =======================================
string   ``"string"`` (``pd.StringDtype()``, one storage for all)
int      ``"Int64"``
float    ``"Float64"``
date     ``datetime64[ns]`` (normalised to midnight)
month    ``"string"`` ``YYYY-MM``
bool     ``"boolean"``
======== =======================================

It is made of small pure functions, one per rule or table, each tested on its own
(``tests/spec/test_harmonise.py``): events → waves, data access groups → territories, checkboxes
→ a count, the isolation grid, item means, repeat instances → rows, pseudonymous ids. Which REDCap
field feeds which column is read from the codebook (``target`` in ``forms.yaml``), not written
here. Nothing here reads or writes files, and no input frame is modified.

Errors (:class:`~proximite.errors.HarmoniseError`) and log lines name rules, codes, column
names and counts, never a family's values.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from proximite.errors import HarmoniseError
from proximite.cohort.pseudonym import pseudonymise, pseudonymise_instances

if TYPE_CHECKING:  # pragma: no cover
    from proximite.cohort.codebook import Codebook
    from proximite.config import Settings

__all__ = [
    "Harmonised",
    "HarmoniseRules",
    "PANDAS_DTYPES",
    "harmonise",
    "model_dtypes",
    "cast_column",
    "conform",
    "check_keys",
    "events_to_waves",
    "territories_of_dags",
    "count_checked",
    "non_recours_score",
    "dimensions_answered",
    "isolation_index",
    "isolated_flag",
    "item_mean",
    "birth_month",
    "components_of",
    "form_columns",
    "unmatched_family_records",
    "harmonise_reference",
    "harmonise_family",
    "harmonise_child",
    "harmonise_assessment",
    "harmonise_need",
    "harmonise_referral",
    "harmonise_activity",
]

logger = logging.getLogger(__name__)

#: Model type → pandas dtype of a harmonised column.
PANDAS_DTYPES: dict[str, str] = {
    "string": "string",
    "int": "Int64",
    "float": "Float64",
    "date": "datetime64[ns]",
    "month": "string",
    "bool": "boolean",
}

#: REDCap forms and the tables they feed (the codebook's ``target`` keys say which field goes where).
FAMILY_FORM = "famille"
EXIT_FORM = "sortie"
ASSESSMENT_FORM = "suivi"
CHILD_FORM = "enfant"
NEED_FORM = "besoin"
REFERRAL_FORM = "reference"

#: Staged sources and the model tables copied from them column for column.
REFERENCE_TABLES = {
    "region": ("reference", "region"),
    "territory": ("reference", "territory"),
    "organisation": ("reference", "organisation"),
    "worker": ("registry", "worker"),
    "supervision": ("registry", "supervision"),
    "cost": ("cost", "cost"),
}

#: Checkbox codes that mean "none of these": ticking them is an answer, not a resource.
NONE_CODES = ("aucune",)

#: The derived dimension: it has no REDCap field of its own.
NON_RECOURS = "non_recours"
RESOURCES = "resources_used_3m"

#: Tolerance of the threshold comparison, so that 50 computed as 49.999999999 still counts.
THRESHOLD_TOLERANCE = 1e-9

_MONTH = r"\d{4}-(0[1-9]|1[0-2])"
_TRUE = {"1", "true", "t", "yes", "y", "oui", "o", "vrai"}
_FALSE = {"0", "false", "f", "no", "n", "non", "faux"}


# ---------------------------------------------------------------------------------------- rules
@dataclass(frozen=True)
class HarmoniseRules:
    """Parameters of harmonisation, read from the settings (never the key).

    Attributes
    ----------
    project : str
        Project name, the public salt of the pseudonyms.
    id_length : int
        Hex characters kept in a pseudonymous id.
    event_waves : dict
        REDCap unique event name → wave (months after T0).
    dimensions : tuple of str
        The isolation dimensions (assessment columns), in index order.
    weights : dict
        Dimension → weight in the index.
    max_score : float
        Highest score of a dimension (3).
    min_answered : int
        Dimensions needed for the index to be computed.
    isolated_threshold : float
        Index at or above which a family is isolated.
    non_recours_bands : tuple of (int, int)
        ``(upper bound of resources used, score)``, ascending bounds.
    non_recours_above : int
        Score above the last band.
    """

    project: str
    id_length: int
    event_waves: Mapping[str, int]
    dimensions: tuple[str, ...]
    weights: Mapping[str, float]
    max_score: float
    min_answered: int
    isolated_threshold: float
    non_recours_bands: tuple[tuple[int, int], ...]
    non_recours_above: int

    @classmethod
    def from_settings(cls, settings: Settings) -> HarmoniseRules:
        """Rules from ``[project]``, ``[pseudonym]``, ``[waves.events]`` and ``[isolation]``."""
        isolation = settings["isolation"]
        dimensions = tuple(str(name) for name in isolation["dimensions"])
        weights = {str(name): float(value) for name, value in isolation.get("weights", {}).items()}
        missing = [name for name in dimensions if name not in weights]
        if missing:
            raise HarmoniseError(f"[isolation] weights: no weight for dimension(s) {', '.join(missing)}")
        return cls(
            project=settings.project_name,
            id_length=int(settings["pseudonym"].get("id_length", 16)),
            event_waves=dict(settings.event_waves),
            dimensions=dimensions,
            weights=weights,
            max_score=float(isolation["max_score"]),
            min_answered=int(isolation["min_answered"]),
            isolated_threshold=float(isolation["isolated_threshold"]),
            non_recours_bands=tuple((int(upper), int(score)) for upper, score in isolation["non_recours_bands"]),
            non_recours_above=int(isolation["non_recours_above"]),
        )


class Harmonised(dict):  # type: ignore[type-arg]
    """``{table: frame}`` as :func:`harmonise` returns it, plus counts of what was set aside.

    Attributes
    ----------
    counts : dict of str to int
        Counts only (never values), e.g. ``activity_rows_unknown_family``.
    """

    def __init__(self, tables: Mapping[str, pd.DataFrame], counts: Mapping[str, int]) -> None:
        super().__init__(tables)
        self.counts: dict[str, int] = dict(counts)


# ---------------------------------------------------------------------------------------- typing
def _codebook(codebook: Codebook | None) -> Codebook:
    if codebook is not None:
        return codebook
    from proximite.cohort.codebook import load_codebook

    return load_codebook()


def model_dtypes(table: str, *, codebook: Codebook | None = None) -> dict[str, str]:
    """Pandas dtype of each column of a harmonised table, in model order."""
    columns = _codebook(codebook).columns(table)
    return {name: PANDAS_DTYPES[spec["type"]] for name, spec in columns.items()}


def _blank_to_na(values: pd.Series) -> pd.Series:
    """Empty or blank strings are missing (REDCap exports ``""`` for a missing value)."""
    text = values if isinstance(values.dtype, pd.StringDtype) else values.astype("string")
    empty = text.isin([""])  # hash lookup: much faster than == on a string array
    return text.mask(empty) if bool(empty.any()) else text


def cast_column(values: pd.Series, kind: str, *, name: str = "") -> pd.Series:
    """Cast a Series to the pandas dtype of a model type.

    Parameters
    ----------
    values : Series
        Staged values (already typed, or strings as REDCap gives them).
    kind : {"string", "int", "float", "date", "month", "bool"}
        The model type.
    name : str, keyword-only
        ``table.column``, for the error message.

    Returns
    -------
    Series
        A new Series with the dtype of :data:`PANDAS_DTYPES`.

    Raises
    ------
    HarmoniseError
        A value cannot be read as the type (the message gives the column and the count).
    """
    dtype = values.dtype
    try:
        if kind == "string":
            text = _blank_to_na(values) if isinstance(dtype, pd.StringDtype) or dtype == object else values
            # One storage for every string column (ingest stages pyarrow-backed strings).
            return text if text.dtype == pd.StringDtype() else text.astype(pd.StringDtype())
        if kind in {"int", "float"}:
            target = "Int64" if kind == "int" else "Float64"
            if pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype):
                numbers = values
            else:
                text = _blank_to_na(values)
                numbers = pd.to_numeric(text, errors="coerce")
                _check_coerced(text, numbers, name, "numbers")
            if target == "Int64" and pd.api.types.is_float_dtype(numbers.dtype):
                fraction = numbers.notna() & (numbers != np.floor(numbers.astype("float64")))
                if bool(fraction.any()):
                    raise HarmoniseError(f"{name}: {int(fraction.sum())} values are not whole numbers")
            return numbers.astype(target)
        if kind == "date":
            return _as_dates(values, name)
        if kind == "month":
            if pd.api.types.is_datetime64_any_dtype(dtype):
                return _as_dates(values, name).dt.strftime("%Y-%m").astype("string")
            text = _blank_to_na(values)
            bad = text.notna() & ~text.str.fullmatch(_MONTH).fillna(False)
            if bool(bad.any()):
                # A full date where a month is expected: keep its year-month only.
                as_dates = pd.to_datetime(text.where(bad), errors="coerce", format="ISO8601")
                _check_coerced(text.where(bad), as_dates, name, "months (YYYY-MM) or dates")
                text = text.mask(bad, as_dates.dt.strftime("%Y-%m").astype("string"))
            return text if text.dtype == pd.StringDtype() else text.astype(pd.StringDtype())
        if kind == "bool":
            if pd.api.types.is_bool_dtype(dtype) or isinstance(dtype, pd.BooleanDtype):
                return values.astype("boolean")
            if pd.api.types.is_numeric_dtype(dtype):
                bad = values.notna() & ~values.isin([0, 1])
                if bool(bad.any()):
                    raise HarmoniseError(f"{name}: {int(bad.sum())} values are not 1/0")
                return values.astype("boolean")
            text = _blank_to_na(values).str.strip().str.lower()
            result = pd.Series(pd.NA, index=values.index, dtype="boolean")
            result = result.mask(text.isin(_TRUE).fillna(False), True).mask(text.isin(_FALSE).fillna(False), False)
            _check_coerced(text, result, name, "yes/no values")
            return result
    except (TypeError, ValueError) as error:
        raise HarmoniseError(f"{name}: cannot be read as {kind} ({type(error).__name__})") from None
    raise HarmoniseError(f"{name}: unknown model type {kind!r}")


def _rows(count: int) -> str:
    return f"{count} row" if count == 1 else f"{count} rows"


def _records(count: int) -> str:
    return f"{count} record" if count == 1 else f"{count} records"


def _check_coerced(before: pd.Series, after: pd.Series, name: str, what: str) -> None:
    lost = before.notna() & after.isna()
    if bool(lost.any()):
        raise HarmoniseError(f"{name}: {int(lost.sum())} values are not {what}")


def _as_dates(values: pd.Series, name: str) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        dates = values
        if getattr(dates.dt, "tz", None) is not None:
            dates = dates.dt.tz_localize(None)
    else:
        text = _blank_to_na(values)
        dates = pd.to_datetime(text, errors="coerce", format="ISO8601")
        _check_coerced(text, dates, name, "ISO dates")
    return dates.dt.normalize().astype("datetime64[ns]")


def conform(columns: Mapping[str, pd.Series] | pd.DataFrame, table: str, *, codebook: Codebook | None = None) -> pd.DataFrame:
    """Assemble a harmonised table: exactly the model's columns, in model order, typed.

    Parameters
    ----------
    columns : mapping of str to Series, or DataFrame
        One Series per model column, aligned on the same rows.
    table : str
        The model table.
    codebook : Codebook, optional

    Returns
    -------
    DataFrame
        A new frame with a fresh RangeIndex.

    Raises
    ------
    HarmoniseError
        A column outside the model would leak, or a model column is missing.
    """
    spec = _codebook(codebook).columns(table)
    given = list(columns.columns) if isinstance(columns, pd.DataFrame) else list(columns)
    extra = [name for name in given if name not in spec]
    if extra:
        # A guard, not a user error: nothing outside the model (identifiers above all) leaves here.
        raise HarmoniseError(f"{table}: columns outside the model would leak: {', '.join(map(str, extra))}")
    missing = [name for name in spec if name not in given]
    if missing:
        raise HarmoniseError(f"{table}: model columns not produced: {', '.join(missing)}")
    data = {
        name: cast_column(columns[name], column_spec["type"], name=f"{table}.{name}").reset_index(drop=True)
        for name, column_spec in spec.items()
    }
    return pd.DataFrame(data, copy=False)


def check_keys(frame: pd.DataFrame, table: str, *, codebook: Codebook | None = None, detail: str = "") -> None:
    """Raise when a key column is null or the key is not unique.

    Parameters
    ----------
    frame : DataFrame
        A harmonised table.
    table : str
    codebook : Codebook, optional
    detail : str, keyword-only
        Appended to the message (where to look; never a value of a person).

    Raises
    ------
    HarmoniseError
        With the count of rows at fault.
    """
    keys = _codebook(codebook).key_columns(table)
    if not keys or frame.empty:
        return
    null = frame[keys].isna().any(axis=1)
    if bool(null.any()):
        raise HarmoniseError(f"{table}: a key column ({', '.join(keys)}) is missing on {_rows(int(null.sum()))}{detail}")
    duplicated = frame.duplicated(keys, keep="first")
    if bool(duplicated.any()):
        raise HarmoniseError(
            f"{table}: the key ({', '.join(keys)}) is repeated on {_rows(int(duplicated.sum()))}{detail}"
        )


# ------------------------------------------------------------------------------- rules, one by one
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
        raise HarmoniseError(f"{_rows(missing)} without a REDCap event name")
    if unknown:
        listed = "; ".join(f"'{event}' ({_rows(count)})" for event, count in sorted(unknown))
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
    groups = _blank_to_na(territory["redcap_dag"])
    ambiguous = groups[groups.duplicated() & groups.notna()]
    if not ambiguous.empty:
        raise HarmoniseError(f"reference territory: data access group(s) {', '.join(sorted(ambiguous.unique()))} name several territories")
    lookup = dict(zip(groups.dropna(), territory["territory_id"][groups.notna()]))
    codes, uniques = pd.factorize(_blank_to_na(dags), use_na_sentinel=True)
    counted = record_ids if record_ids is not None else pd.Series(np.arange(len(dags)), index=dags.index)

    def records_where(mask: np.ndarray) -> int:
        return int(pd.Series(counted.to_numpy()[mask]).nunique())

    problems = []
    if (codes == -1).any():
        problems.append(f"no data access group ({_records(records_where(codes == -1))})")
    for i, group in enumerate(uniques):
        if group not in lookup:
            problems.append(f"unknown data access group '{group}' ({_records(records_where(codes == i))})")
    if problems:
        raise HarmoniseError(
            "REDCap records cannot be placed in a territory: "
            + "; ".join(problems)
            + "; each group must be the redcap_dag of one reference territory"
        )
    mapped = np.array([lookup[group] for group in uniques] + [None], dtype=object)
    return pd.Series(mapped[codes], index=dags.index, name="territory_id").astype("string")


def count_checked(boxes: pd.DataFrame, *, none_codes: Sequence[str] = NONE_CODES, field: str = "") -> pd.Series:
    """Count the ticked boxes of a checkbox question, "none of these" excluded.

    Parameters
    ----------
    boxes : DataFrame
        The question's expanded columns ``<field>___<code>`` (boolean; null = not collected).
    none_codes : sequence of str, keyword-only
        Codes that mean "none of these" (``aucune``): an answer worth 0.
    field : str, keyword-only
        The field name, to recognise ``<field>___<code>`` columns.

    Returns
    -------
    Series
        dtype ``Int64``; missing when no box at all is ticked (the question was not answered).

    Notes
    -----
    .. math:: n = \\sum_{c \\notin \\text{none}} \\mathbb{1}[\\text{box}_c], \\quad
              \\text{missing if } \\sum_{c} \\mathbb{1}[\\text{box}_c] = 0
    """
    prefix = f"{field}___" if field else ""
    ticked = boxes.astype("boolean").fillna(False).astype(bool)
    none_columns = [column for column in boxes.columns if str(column).removeprefix(prefix) in set(none_codes)]
    counted = ticked.drop(columns=none_columns).sum(axis=1).astype("int64")
    any_ticked = ticked.any(axis=1)
    return pd.Series(counted, index=boxes.index, dtype="Int64").where(any_ticked, pd.NA)


def non_recours_score(resources: pd.Series, *, bands: Sequence[Sequence[int]], above: int) -> pd.Series:
    """Score the ``non_recours`` dimension from the number of resources used.

    Parameters
    ----------
    resources : Series
        Resources used in the last 3 months (integer, missing allowed).
    bands : sequence of (upper, score), keyword-only
        Ascending upper bounds (inclusive) and their score; the default ``[[0, 3], [1, 2], [3, 1]]``.
    above : int, keyword-only
        Score above the last bound (default 0).

    Returns
    -------
    Series
        dtype ``Int64``; missing where ``resources`` is.

    Notes
    -----
    With bounds :math:`u_1 < u_2 < \\dots < u_k` and scores :math:`s_1, \\dots, s_k`,

    .. math:: \\text{non\\_recours}(r) = s_j \\text{ for the first } j \\text{ with } r \\le u_j,
              \\quad a \\text{ (above) when } r > u_k

    so by default 0 → 3, 1 → 2, 2–3 → 1, ≥ 4 → 0.
    """
    uppers = np.array([int(upper) for upper, _ in bands], dtype="int64")
    scores = np.array([int(score) for _, score in bands] + [int(above)], dtype="int64")
    if len(uppers) and np.any(np.diff(uppers) <= 0):
        raise HarmoniseError("[isolation] non_recours_bands: upper bounds must be strictly increasing")
    numbers = pd.to_numeric(resources).astype("Float64")
    present = numbers.notna().to_numpy()
    values = numbers.to_numpy(dtype="float64", na_value=0.0)
    band = np.searchsorted(uppers, values, side="left")  # first band whose bound is >= r
    return pd.Series(scores[band], index=resources.index, dtype="Int64").where(present, pd.NA)


def dimensions_answered(dimensions: pd.DataFrame) -> pd.Series:
    """Number of answered (non-missing) dimensions on each row, as ``Int64``."""
    return dimensions.notna().sum(axis=1).astype("Int64")


def isolation_index(
    dimensions: pd.DataFrame,
    *,
    weights: Mapping[str, float],
    max_score: float = 3,
    min_answered: int = 4,
) -> pd.Series:
    """Isolation index, 0 to 100, from the dimension scores.

    Parameters
    ----------
    dimensions : DataFrame
        One column per dimension, scores 0 to ``max_score``, missing when not answered.
    weights : mapping, keyword-only
        Weight of each column.
    max_score : float, keyword-only
        Highest score of a dimension.
    min_answered : int, keyword-only
        The index is missing when fewer dimensions are answered.

    Returns
    -------
    Series
        dtype ``Float64``.

    Notes
    -----
    With :math:`A` the answered dimensions of a row, :math:`x_d` their scores, :math:`w_d` their
    weights and :math:`M` the maximum score,

    .. math:: \\text{index} = 100 \\times \\frac{\\sum_{d \\in A} w_d\\, x_d}{M \\sum_{d \\in A} w_d}
              \\quad \\text{if } |A| \\ge \\text{min\\_answered}, \\text{ else missing.}

    With equal weights this is 100 × (mean of the answered dimensions) / 3.
    """
    names = list(dimensions.columns)
    missing = [name for name in names if name not in weights]
    if missing:
        raise HarmoniseError(f"[isolation] weights: no weight for {', '.join(missing)}")
    scores = dimensions.astype("Float64").to_numpy(dtype="float64", na_value=np.nan)
    answered = ~np.isnan(scores)
    weight = np.array([float(weights[name]) for name in names], dtype="float64")
    numerator = np.where(answered, scores, 0.0) @ weight
    denominator = answered.astype("float64") @ weight
    enough = (answered.sum(axis=1) >= int(min_answered)) & (denominator > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        index = 100.0 * numerator / (float(max_score) * denominator)
    return pd.Series(np.where(enough, index, np.nan), index=dimensions.index, name="isolation_index").astype("Float64")


def isolated_flag(index: pd.Series, *, threshold: float = 50) -> pd.Series:
    """Isolated at a wave: the index is at or above the threshold.

    Returns
    -------
    Series
        dtype ``boolean``, missing where the index is.

    Notes
    -----
    .. math:: \\text{isolated} = [\\text{index} \\ge \\text{threshold} - 10^{-9}]

    The tolerance keeps an index that is the threshold in exact arithmetic on the right side.
    """
    values = index.astype("Float64")
    return (values >= float(threshold) - THRESHOLD_TOLERANCE).astype("boolean")


def item_mean(items: pd.DataFrame) -> pd.Series:
    """Mean of the answered items of a scale (empowerment, parental stress).

    Returns
    -------
    Series
        dtype ``Float64``; missing when no item is answered.

    Notes
    -----
    .. math:: \\bar{x} = \\frac{1}{|A|} \\sum_{i \\in A} x_i, \\quad A = \\text{answered items}
    """
    numeric = items.apply(lambda column: cast_column(column, "float", name=str(column.name)))
    values = numeric.to_numpy(dtype="float64", na_value=np.nan)
    answered = ~np.isnan(values)
    count = answered.sum(axis=1)
    total = np.where(answered, values, 0.0).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    return pd.Series(mean, index=items.index).astype("Float64")


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
    codes, uniques = pd.factorize(_blank_to_na(action_types), use_na_sentinel=True)
    unknown = [(str(code), int((codes == i).sum())) for i, code in enumerate(uniques) if code not in action_component]
    if unknown:
        listed = "; ".join(f"'{code}' ({_rows(count)})" for code, count in sorted(unknown))
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
    book = _codebook(codebook)
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
    codes, uniques = pd.factorize(_blank_to_na(activity_records), use_na_sentinel=True)
    known = pd.Index(_blank_to_na(redcap_records).dropna().unique())
    unknown = ~pd.Index(uniques).isin(known)
    unknown_rows = np.isin(codes, np.flatnonzero(unknown))
    return {"rows": int(unknown_rows.sum()), "records": int(unknown.sum())}


# ---------------------------------------------------------------------------------------- tables
def _family_ids(frame: pd.DataFrame, rules: HarmoniseRules, key: bytes, record_field: str) -> pd.Series:
    return pseudonymise(_blank_to_na(frame[record_field]), key=key, project=rules.project, length=rules.id_length)


def _instance_ids(frame: pd.DataFrame, form: str, rules: HarmoniseRules, key: bytes, record_field: str) -> pd.Series:
    if "redcap_repeat_instance" not in frame.columns:
        raise HarmoniseError(f"staged {form}: no redcap_repeat_instance column (it is a repeating form)")
    return pseudonymise_instances(
        _blank_to_na(frame[record_field]),
        frame["redcap_repeat_instance"],
        form=form,
        key=key,
        project=rules.project,
        length=rules.id_length,
    )


def _require(frame: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise HarmoniseError(f"{what}: missing column(s) {', '.join(missing)}")


def _warn_absent(form: str, absent: list[str]) -> None:
    if absent:
        logger.warning("staged %s lacks field(s) %s: their columns are missing values", form, ", ".join(absent))


def _empty(table: str, codebook: Codebook) -> pd.DataFrame:
    return pd.DataFrame({name: pd.Series(dtype=dtype) for name, dtype in model_dtypes(table, codebook=codebook).items()})


def harmonise_reference(frame: pd.DataFrame | None, table: str, *, codebook: Codebook | None = None) -> pd.DataFrame:
    """A table the staged sources already give column for column (region, territory, organisation,
    worker, supervision, cost): select the model's columns and type them.

    Staged bookkeeping columns (``source_file``, ``source_row``) are dropped.
    """
    book = _codebook(codebook)
    if frame is None:
        return _empty(table, book)
    spec = book.columns(table)
    _require(frame, list(spec), f"staged {table}")
    result = conform({name: frame[name] for name in spec}, table, codebook=book)
    check_keys(result, table, codebook=book)
    return result


def harmonise_family(
    famille: pd.DataFrame,
    sortie: pd.DataFrame | None,
    *,
    territory: pd.DataFrame,
    rules: HarmoniseRules,
    key: bytes,
    codebook: Codebook | None = None,
) -> pd.DataFrame:
    """The ``family`` table: one row per REDCap record of the ``famille`` form.

    ``territory_id`` comes from the record's data access group (:func:`territories_of_dags`),
    ``exit_date`` and ``exit_reason`` from the ``sortie`` form (missing while the family is
    accompanied), ``family_id`` is the record id's pseudonym.

    Raises
    ------
    HarmoniseError
        A record appears twice, has an unknown data access group, or two exit forms.
    """
    book = _codebook(codebook)
    record = book.record_id_field
    _require(famille, [record, "redcap_data_access_group"], f"staged {FAMILY_FORM}")
    records = _blank_to_na(famille[record])
    repeated = records.duplicated() & records.notna()
    if bool(repeated.any()):
        raise HarmoniseError(f"staged {FAMILY_FORM}: a record appears on more than one row ({_rows(int(repeated.sum()))} too many)")
    columns, absent = form_columns(famille, form=FAMILY_FORM, table="family", codebook=book)
    _warn_absent(FAMILY_FORM, absent)
    columns["family_id"] = _family_ids(famille, rules, key, record)
    columns["territory_id"] = territories_of_dags(
        famille["redcap_data_access_group"], territory=territory, record_ids=records
    )
    exit_columns = [name for name, spec in book.columns("family").items() if name not in columns]
    if sortie is not None and not sortie.empty:
        _require(sortie, [record], f"staged {EXIT_FORM}")
        exits, absent = form_columns(sortie, form=EXIT_FORM, table="family", codebook=book)
        _warn_absent(EXIT_FORM, absent)
        exit_records = _blank_to_na(sortie[record])
        repeated_exits = exit_records.duplicated() & exit_records.notna()
        if bool(repeated_exits.any()):
            raise HarmoniseError(f"staged {EXIT_FORM}: a record has more than one exit row ({_rows(int(repeated_exits.sum()))} too many)")
        # Join on the record id: the position of each family's exit row, -1 when it has none.
        with_record = exit_records.notna().to_numpy()
        position = pd.Index(exit_records[with_record]).get_indexer(records)
        for name in exit_columns:
            if name in exits:
                taken = exits[name][with_record].reset_index(drop=True).reindex(position)
                columns[name] = taken.set_axis(famille.index)
    for name in exit_columns:
        if name not in columns:
            columns[name] = pd.Series(pd.NA, index=famille.index, dtype=PANDAS_DTYPES[book.columns("family")[name]["type"]])
    result = conform(columns, "family", codebook=book)
    check_keys(result, "family", codebook=book)
    return result


def _repeating(
    frame: pd.DataFrame,
    *,
    form: str,
    table: str,
    id_column: str,
    rules: HarmoniseRules,
    key: bytes,
    codebook: Codebook,
) -> pd.DataFrame:
    record = codebook.record_id_field
    _require(frame, [record], f"staged {form}")
    columns, absent = form_columns(frame, form=form, table=table, codebook=codebook)
    _warn_absent(form, absent)
    columns[id_column] = _instance_ids(frame, form, rules, key, record)
    columns["family_id"] = _family_ids(frame, rules, key, record)
    result = conform(columns, table, codebook=codebook)
    check_keys(result, table, codebook=codebook, detail=f" (form {form}: a record's repeat instances must be distinct)")
    return result


def harmonise_child(enfant: pd.DataFrame, *, rules: HarmoniseRules, key: bytes, codebook: Codebook | None = None) -> pd.DataFrame:
    """The ``child`` table: one row per instance of the repeating ``enfant`` form.

    ``birth_month`` is the year-month of the (expected) birth date; the exact date is dropped.
    ``child_id`` is the pseudonym of ``record_id:enfant:instance``.
    """
    return _repeating(enfant, form=CHILD_FORM, table="child", id_column="child_id", rules=rules, key=key, codebook=_codebook(codebook))


def harmonise_need(besoin: pd.DataFrame, *, rules: HarmoniseRules, key: bytes, codebook: Codebook | None = None) -> pd.DataFrame:
    """The ``need`` table: one row per instance of the repeating ``besoin`` form."""
    return _repeating(besoin, form=NEED_FORM, table="need", id_column="need_id", rules=rules, key=key, codebook=_codebook(codebook))


def harmonise_referral(reference: pd.DataFrame, *, rules: HarmoniseRules, key: bytes, codebook: Codebook | None = None) -> pd.DataFrame:
    """The ``referral`` table: one row per instance of the repeating ``reference`` form."""
    return _repeating(
        reference, form=REFERRAL_FORM, table="referral", id_column="referral_id", rules=rules, key=key, codebook=_codebook(codebook)
    )


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
    book = _codebook(codebook)
    record = book.record_id_field
    _require(suivi, [record, "redcap_event_name"], f"staged {ASSESSMENT_FORM}")
    waves = events_to_waves(suivi["redcap_event_name"], event_waves=rules.event_waves)
    answered = _answered_rows(suivi, form=ASSESSMENT_FORM, codebook=book)
    dropped = int((~answered).sum())
    rows = suivi.loc[answered.to_numpy()] if dropped else suivi
    waves = waves.loc[rows.index]
    columns, absent = form_columns(rows, form=ASSESSMENT_FORM, table="assessment", codebook=book)
    _warn_absent(ASSESSMENT_FORM, absent)
    columns["family_id"] = _family_ids(rows, rules, key, record)
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
            f"assessment: a (family_id, wave) is repeated on {_rows(int(duplicated.sum()))} "
            f"(first at {where}); two events map to one wave or a record is duplicated"
        )


def harmonise_activity(
    activity: pd.DataFrame,
    *,
    rules: HarmoniseRules,
    key: bytes,
    codebook: Codebook | None = None,
) -> pd.DataFrame:
    """The ``activity`` table from the registry's canonical columns.

    ``component`` comes from ``action_type`` (``registry.yaml`` ``action_component``),
    ``family_id`` is the pseudonym of ``family_record_id`` with the same key and project as the
    REDCap families, so the two join.

    Raises
    ------
    HarmoniseError
        An unknown action type, or an ``activity_id`` used twice (the registry template asks
        for ids unique within a partner; the model needs them unique overall).
    """
    book = _codebook(codebook)
    spec = book.columns("activity")
    direct = [name for name in spec if name not in {"component", "family_id"}]
    _require(activity, direct + ["family_record_id"], "staged registry activity")
    columns = {name: activity[name] for name in direct}
    columns["component"] = components_of(activity["action_type"], action_component=book.action_component)
    columns["family_id"] = pseudonymise(
        _blank_to_na(activity["family_record_id"]), key=key, project=rules.project, length=rules.id_length
    )
    result = conform(columns, "activity", codebook=book)
    try:
        check_keys(result, "activity", codebook=book)
    except HarmoniseError:
        if "source_file" not in activity.columns:
            raise
        # Say which files share ids (file names, not values), so the partner knows where to look.
        repeated = result.duplicated(book.key_columns("activity"), keep=False).to_numpy(dtype=bool)
        files = sorted(activity["source_file"].iloc[np.flatnonzero(repeated)].dropna().astype(str).unique())
        detail = f" (in file(s) {', '.join(files[:5])}{' ...' if len(files) > 5 else ''})"
        check_keys(result, "activity", codebook=book, detail=detail)
        raise
    return result


# ---------------------------------------------------------------------------------------- entry
def harmonise(
    staged: Mapping[str, Mapping[str, pd.DataFrame]],
    *,
    key: bytes,
    settings: Settings,
    codebook: Codebook | None = None,
) -> dict[str, pd.DataFrame]:
    """Turn the staged tables of every source into the harmonised model.

    Parameters
    ----------
    staged : mapping
        ``{source: {table: frame}}`` for the sources ``reference`` (region, territory,
        organisation), ``redcap`` (famille, enfant, suivi, besoin, reference, sortie),
        ``registry`` (activity, worker, supervision) and ``cost`` (cost), as
        :func:`~proximite.cohort.layers.read_staged` gives them. A missing source or table
        gives an empty harmonised table.
    key : bytes, keyword-only
        The pseudonymisation key.
    settings : Settings, keyword-only
        Project name (salt), id length, event → wave map and the isolation grid.
    codebook : Codebook, optional, keyword-only
        Defaults to the packaged codebook.

    Returns
    -------
    Harmonised
        A dict ``{table: frame}`` with every table of ``model.yaml``, in model order, each with
        exactly the model's columns and dtypes; its ``counts`` attribute counts what was set
        aside (activity rows naming no known REDCap record, empty follow-up forms, rows whose
        family has no ``famille`` row).

    Raises
    ------
    HarmoniseError
        A cross-table rule is broken: unknown event or data access group, duplicate key,
        a staged identifier field.

    Notes
    -----
    ``family_id = HMAC-SHA256(key, project + record_id)[:id_length]``; children, needs and
    referrals hash ``record_id:form:instance`` the same way. The isolation index is
    :func:`isolation_index`. Inputs are never modified.
    """
    book = _codebook(codebook)
    rules = HarmoniseRules.from_settings(settings)
    redcap = staged.get("redcap", {})
    _check_no_identifiers(redcap, book)
    counts: dict[str, int] = {}
    tables: dict[str, pd.DataFrame] = {}

    for table, (source, name) in REFERENCE_TABLES.items():
        tables[table] = harmonise_reference(staged.get(source, {}).get(name), table, codebook=book)

    famille = redcap.get(FAMILY_FORM)
    if famille is not None:
        tables["family"] = harmonise_family(
            famille, redcap.get(EXIT_FORM), territory=tables["territory"], rules=rules, key=key, codebook=book
        )
    else:
        tables["family"] = _empty("family", book)
    builders = {"child": (CHILD_FORM, harmonise_child), "need": (NEED_FORM, harmonise_need), "referral": (REFERRAL_FORM, harmonise_referral)}
    for table, (form, build) in builders.items():
        frame = redcap.get(form)
        tables[table] = _empty(table, book) if frame is None else build(frame, rules=rules, key=key, codebook=book)
    suivi = redcap.get(ASSESSMENT_FORM)
    if suivi is not None:
        tables["assessment"], counts["assessment_rows_empty"] = harmonise_assessment(suivi, rules=rules, key=key, codebook=book)
    else:
        tables["assessment"] = _empty("assessment", book)

    activity = staged.get("registry", {}).get("activity")
    if activity is not None:
        tables["activity"] = harmonise_activity(activity, rules=rules, key=key, codebook=book)
        known = famille[book.record_id_field] if famille is not None else pd.Series([], dtype="string")
        unmatched = unmatched_family_records(activity["family_record_id"], known)
        counts["activity_rows_unknown_family"] = unmatched["rows"]
        counts["activity_records_unknown_family"] = unmatched["records"]
    else:
        tables["activity"] = _empty("activity", book)

    sortie = redcap.get(EXIT_FORM)
    if sortie is not None and famille is not None:
        counts["exit_rows_unknown_family"] = int((~sortie[book.record_id_field].isin(famille[book.record_id_field])).sum())
    family_ids = pd.Index(tables["family"]["family_id"].dropna().unique())
    for table in ("child", "assessment", "need", "referral"):
        counts[f"{table}_rows_unknown_family"] = int((~tables[table]["family_id"].isin(family_ids)).sum())

    for name, value in counts.items():
        if value:
            logger.warning("harmonise: %s = %d", name, value)
    ordered = {table: tables[table] for table in book.tables}
    return Harmonised(ordered, counts)


def _check_no_identifiers(redcap: Mapping[str, pd.DataFrame], codebook: Codebook) -> None:
    """Identifier fields stay in layer 01; a staged table that has one is refused."""
    identifiers = set(codebook.identifier_fields)
    leaked = sorted({f"{form}.{column}" for form, frame in redcap.items() for column in frame.columns if column in identifiers})
    if leaked:
        raise HarmoniseError(
            f"staged REDCap tables hold identifier field(s) {', '.join(leaked)}; they must not leave layer 01 (re-run ingest)"
        )

