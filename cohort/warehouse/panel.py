"""The long panel for statisticians: one row per family and wave, with covariates and weights."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from proximite.cohort.harmonise import PANDAS_DTYPES, model_dtypes
from proximite.cohort.harmonise.rules import resolve_codebook
from proximite.cohort.warehouse.panel_codebook import PANEL_COVARIATES, PANEL_DERIVED, panel_codebook
from proximite.cohort.warehouse.read import connect, typed_frame
from proximite.cohort.warehouse.schema import BUILD_TABLE, quote_name

if TYPE_CHECKING:  # pragma: no cover
    from proximite.cohort.codebook import Codebook
    from proximite.config import Settings

__all__ = ["DTYPES", "numpy_dtypes", "panel"]

#: Values of ``panel(..., dtypes=)``: pandas' nullable dtypes (the warehouse's) or plain NumPy ones.
DTYPES = ("pandas", "numpy")


def panel(
    project_dir: str | Path | None = None,
    *,
    settings: Settings | None = None,
    columns: Sequence[str] | None = None,
    waves: Sequence[int] | None = None,
    codebook: Codebook | None = None,
    ptp_minutes: bool = False,
    attrition_weight: bool = False,
    attrition_options: Mapping[str, Any] | None = None,
    dtypes: str = "pandas",
) -> pd.DataFrame:
    """The long panel: one row per family and wave, from the current warehouse.

    Parameters
    ----------
    project_dir : str or Path, optional
        Project directory (its settings are loaded); ignored when ``settings`` is given.
        Defaults to the current directory.
    settings : Settings, optional, keyword-only
    columns : sequence of str, optional, keyword-only
        Columns to keep (default: all assessment columns, then the covariates).
    waves : sequence of int, optional, keyword-only
        Waves to keep (default: all).
    codebook : Codebook, optional, keyword-only
    ptp_minutes : bool, keyword-only
        Add ``ptp_minutes``: the PTP time the family received up to the wave's assessment date
        (also added when ``columns`` names it).
    attrition_weight : bool, keyword-only
        Add ``attrition_weight``: the stabilised inverse probability of still being followed at
        the wave (:func:`proximite.cohort.models.attrition.attrition_weights`, fitted on every
        wave whatever ``waves`` keeps; also added when ``columns`` names it).
    attrition_options : mapping, optional, keyword-only
        Options of :func:`~proximite.cohort.models.attrition.attrition_weights` (``outcome``,
        ``covariates``, ``previous``, ``numerator``).
    dtypes : {"pandas", "numpy"}, keyword-only
        ``"pandas"`` (default): the warehouse's nullable dtypes (``boolean``, ``Float64``,
        ``Int64``, ``string``), where a missing answer stays ``<NA>``. ``"numpy"``: plain NumPy
        dtypes that statsmodels formulas (``smf.ols``, ``smf.mixedlm``), patsy and linearmodels
        accept as they are (see :func:`numpy_dtypes`).

    Returns
    -------
    DataFrame
        Indexed by ``(family_id, wave)`` (``wave`` int64, months after T0), sorted; columns are
        the assessment's (date, the six dimensions, resources used, index, isolated, scales,
        satisfaction) then the covariates ``territory_id``, ``region_code`` (two digits, named by
        :func:`~proximite.cohort.warehouse.regions`), ``environment``,
        ``host_type``, ``isolated_at_contact``, ``single_parent``, ``baseline_isolation_index``
        (the index at the first configured wave) and ``n_children``. ``attrs["codebook"]`` maps
        every column (and index level) to ``{description, description_en, type, enum, labels,
        labels_en, source_fields}`` (plain dicts, so copies and pickles keep it); ``attrs["build_id"]`` names the build;
        ``attrs["waves_not_due"]`` maps each wave to the families whose window was still open at
        the data's horizon (the latest assessment date): the attrition model does not count them
        as lost.
        ``ptp_minutes`` (Int64) and ``attrition_weight`` (Float64) come last when asked for.

    Raises
    ------
    WarehouseNotFoundError
        The project has no warehouse yet.
    ValueError
        A requested column is not in the panel, an unknown key of ``attrition_options`` or an
        unknown ``dtypes``.
    ModelError
        The attrition model cannot be fitted (a covariate not in the panel).

    Notes
    -----
    Only observed assessments are rows (the panel is unbalanced; attrition shows as missing
    waves). ``n_children`` counts every child of the family, unborn ones included.

    .. math:: \\text{ptp\\_minutes}_{fw} = \\sum_{a \\in \\text{activity}:\\ a.\\text{family\\_id} = f,\\
              a.\\text{date} \\le \\text{assessment\\_date}_{fw}} a.\\text{minutes}

    (travel minutes not counted; 0 for a family without a logged activity; missing when the
    assessment date is). ``attrition_weight`` is 1 at the baseline wave and missing for rows of
    families without a baseline index (or a covariate of the attrition model); every family is
    taken as due at every wave, so restrict to families past their last wave's window before
    weighting a cohort still being followed.
    """
    from proximite.config import load_settings

    if dtypes not in DTYPES:
        raise ValueError(f"panel dtypes must be one of {', '.join(map(repr, DTYPES))}, not {dtypes!r}")
    settings = settings if settings is not None else load_settings(project_dir)
    book = resolve_codebook(codebook)
    chosen, derived = _panel_columns(book, columns, asked={"ptp_minutes": ptp_minutes, "attrition_weight": attrition_weight})
    baseline_wave = min(settings.wave_months) if settings.wave_months else 0
    wave_filter = ""
    parameters: list[Any] = [baseline_wave]
    if waves is not None:
        wave_filter = "WHERE a.wave IN (SELECT unnest(?::BIGINT[]))"
        parameters.append([int(wave) for wave in waves])
    with connect(settings) as connection:
        frame = connection.execute(_panel_sql(chosen, wave_filter=wave_filter), parameters).df()
        minutes = (
            connection.execute(_PTP_SQL.format(wave_filter=wave_filter), parameters[1:]).df()
            if "ptp_minutes" in derived else None
        )
        build = connection.execute(f"SELECT build_id FROM {BUILD_TABLE} ORDER BY built_at DESC LIMIT 1").fetchone()
        not_due = _waves_not_due(settings, connection)
    frame = _typed_panel(frame, chosen=chosen, book=book)
    if minutes is not None:
        minutes = minutes.astype({"family_id": "string", "wave": "int64"}).set_index(["family_id", "wave"])
        frame["ptp_minutes"] = minutes["ptp_minutes"].reindex(frame.index).astype("Int64")
    if "attrition_weight" in derived:
        frame["attrition_weight"] = _attrition_weights(settings, book, frame.index, attrition_options or {})
    frame.attrs["codebook"] = panel_codebook(["family_id", "wave", *chosen, *derived], codebook=book)
    frame.attrs["build_id"] = build[0] if build else None
    frame.attrs["waves_not_due"] = not_due
    return numpy_dtypes(frame) if dtypes == "numpy" else frame


def numpy_dtypes(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with plain NumPy dtypes, for statsmodels formulas and linearmodels (a new frame).

    Parameters
    ----------
    frame : DataFrame
        A panel (or any frame) with pandas' nullable dtypes; not modified.

    Returns
    -------
    DataFrame
        The same values, index and ``attrs``: ``boolean`` → float64 1.0 / 0.0 with NaN for a
        missing value; ``Int64``, ``Float64`` and other nullable numbers → float64 with NaN;
        ``string`` → object with NaN (``category`` and dates stay as they are); index levels
        converted the same way (``family_id`` becomes object, ``wave`` stays int64).

    Notes
    -----
    Why: patsy cannot interpret ``BooleanDtype`` (``smf.ols`` fails with "Cannot interpret
    'BooleanDtype'") and statsmodels' missing-value check asks ``bool(pd.NA)`` ("boolean value
    of NA is ambiguous" in ``smf.mixedlm``). A boolean becomes a 0/1 float rather than a NumPy
    bool, so that a missing answer stays missing (NaN) and formulas drop the row, instead of
    being read as False. Integers become float64 for the same reason: NumPy integers have no NaN.
    """
    converted = pd.DataFrame({name: _numpy_column(frame[name]) for name in frame.columns}, index=frame.index)
    if isinstance(frame.index, pd.MultiIndex):
        levels = [_numpy_column(pd.Series(frame.index.get_level_values(i))) for i in range(frame.index.nlevels)]
        converted.index = pd.MultiIndex.from_arrays([level.to_numpy() for level in levels], names=frame.index.names)
    else:
        converted.index = pd.Index(_numpy_column(pd.Series(frame.index)).to_numpy(), name=frame.index.name)
    converted.attrs = dict(frame.attrs)
    return converted


def _numpy_column(column: pd.Series) -> pd.Series:
    """One column in a NumPy dtype (see :func:`numpy_dtypes`)."""
    dtype = column.dtype
    if isinstance(dtype, pd.CategoricalDtype) or pd.api.types.is_datetime64_any_dtype(dtype):
        return column
    if isinstance(dtype, pd.BooleanDtype) or pd.api.types.is_bool_dtype(dtype):
        return pd.Series(column.to_numpy(dtype="float64", na_value=np.nan), index=column.index, name=column.name)
    if isinstance(dtype, pd.StringDtype):
        return pd.Series(column.to_numpy(dtype=object, na_value=np.nan), index=column.index, name=column.name)
    if isinstance(dtype, pd.api.extensions.ExtensionDtype) and pd.api.types.is_numeric_dtype(dtype):
        return pd.Series(column.to_numpy(dtype="float64", na_value=np.nan), index=column.index, name=column.name)
    return column


def _panel_columns(book: Codebook, columns: Sequence[str] | None, *, asked: Mapping[str, bool]) -> tuple[list[str], list[str]]:
    """The panel columns read from the warehouse, and the derived ones asked for (or named)."""
    measures = [name for name in book.columns("assessment") if name not in {"family_id", "wave"}]
    available = measures + list(PANEL_COVARIATES)
    chosen = list(available if columns is None else columns)
    unknown = [name for name in chosen if name not in available + list(PANEL_DERIVED)]
    if unknown:
        raise ValueError(
            f"not panel columns: {', '.join(unknown)} (available: {', '.join(available + list(PANEL_DERIVED))})"
        )
    derived = [name for name in PANEL_DERIVED if asked[name] or name in chosen]
    return [name for name in chosen if name not in PANEL_DERIVED], derived


def _panel_sql(chosen: Sequence[str], *, wave_filter: str) -> str:
    """The assessments joined to their family, territory, baseline index and children count."""
    select = ", ".join(f"{quote_name(name)}" for name in chosen)
    return f"""
WITH baseline AS (
  SELECT family_id, isolation_index AS baseline_isolation_index FROM assessment WHERE wave = ?
), children AS (
  SELECT family_id, count(*) AS n_children FROM child GROUP BY family_id
), joined AS (
  SELECT a.*, f.territory_id, t.region_code, t.environment, t.host_type,
         f.isolated_at_contact, f.single_parent, b.baseline_isolation_index,
         coalesce(c.n_children, 0) AS n_children
  FROM assessment a
  LEFT JOIN family f ON f.family_id = a.family_id
  LEFT JOIN territory t ON t.territory_id = f.territory_id
  LEFT JOIN baseline b ON b.family_id = a.family_id
  LEFT JOIN children c ON c.family_id = a.family_id
  {wave_filter}
)
SELECT family_id, wave{', ' + select if select else ''} FROM joined ORDER BY family_id, wave
"""


#: PTP time up to each assessment: activities of the family dated on or before the assessment.
_PTP_SQL = """
SELECT a.family_id, a.wave,
       CASE WHEN a.assessment_date IS NULL THEN NULL
            ELSE coalesce(sum(v.minutes) FILTER (WHERE v.activity_date <= a.assessment_date), 0) END AS ptp_minutes
FROM assessment a
LEFT JOIN activity v ON v.family_id = a.family_id
{wave_filter}
GROUP BY a.family_id, a.wave, a.assessment_date
"""


def _typed_panel(frame: pd.DataFrame, *, chosen: Sequence[str], book: Codebook) -> pd.DataFrame:
    """The panel read from DuckDB with the model's dtypes, indexed by (family_id, wave)."""
    dtypes = model_dtypes("assessment", codebook=book)
    dtypes.update({name: PANDAS_DTYPES[kind] for name, (kind, _, _) in PANEL_COVARIATES.items()})
    frame = typed_frame(frame, {name: dtypes[name] for name in ["family_id", *chosen]})
    frame["wave"] = frame["wave"].astype("int64")
    return frame.set_index(["family_id", "wave"])


def _waves_not_due(settings: Settings, connection: Any) -> dict[int, list[str]]:
    """Per wave, the families whose window was still open at the data's horizon.

    The horizon is the latest assessment date of the warehouse (what the last pull could hold);
    a wave whose window ends after it cannot have been missed yet, so attrition models leave the
    family out of that wave's risk set instead of counting it as lost.
    """
    from proximite.cohort.followups import FollowupSchedule, wave_windows

    family = connection.execute("SELECT family_id, territory_id, first_contact_date, exit_date FROM family").df()
    assessment = connection.execute("SELECT family_id, wave, assessment_date FROM assessment").df()
    if family.empty or assessment["assessment_date"].isna().all():
        return {}
    horizon = pd.to_datetime(assessment["assessment_date"]).max()
    windows = wave_windows(family, assessment, schedule=FollowupSchedule.from_settings(settings))
    open_windows = windows.loc[pd.to_datetime(windows["window_end"]) > horizon]
    return {int(wave): sorted(str(family_id) for family_id in group["family_id"]) for wave, group in open_windows.groupby("wave")}


def _attrition_weights(
    settings: Settings, book: Codebook, index: pd.MultiIndex, options: Mapping[str, Any]
) -> pd.Series:
    """The attrition weights of ``index``'s rows, from the dropout model fitted on every wave."""
    from proximite.cohort.models.attrition import attrition_weights

    unknown = sorted(set(options) - {"outcome", "covariates", "previous", "numerator"})
    if unknown:
        raise ValueError(
            f"attrition_options: unknown option(s) {', '.join(unknown)}; they are outcome, covariates, previous, numerator"
        )
    outcome = str(options.get("outcome", "isolation_index"))
    covariates = list(options.get("covariates", ("baseline_isolation_index", "isolated_at_contact")))
    full = panel(settings=settings, columns=list(dict.fromkeys([outcome, *covariates])), codebook=book)
    weights = attrition_weights(full, **dict(options))
    return pd.Series(weights.reindex(index).to_numpy(dtype="float64"), index=index, dtype="Float64")
