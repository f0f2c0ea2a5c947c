"""What the time-to-event models share: checking the columns, strata, row names, design matrices."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from proximite.cohort.models.base import ModelError

__all__ = [
    "DAYS_PER_MONTH",
    "DEFAULT_SEED",
    "as_list",
    "captured_warnings",
    "check_confidence",
    "complete_rows",
    "design_matrix",
    "durations_of",
    "event_codes",
    "format_time",
    "formula_columns",
    "plain_frame",
    "require_columns",
    "step_at",
    "strata_groups",
    "summary_frame",
    "term_name",
    "wald_p",
]

#: Default seed of the bootstraps and of the Aalen–Johansen tie jitter.
DEFAULT_SEED = 20261121

#: Days in a month (365.25 / 12), as :data:`proximite.cohort.survival.DAYS_PER_MONTH`.
DAYS_PER_MONTH = 365.25 / 12


def require_columns(kind: str, data: pd.DataFrame, columns: Sequence[str]) -> None:
    """Raise :class:`ModelError` naming the columns of ``columns`` missing from ``data``."""
    missing = [column for column in dict.fromkeys(columns) if column not in data.columns]
    if missing:
        raise ModelError(f"{kind}: column(s) {', '.join(repr(c) for c in missing)} not in the data"
                         + close_names_hint(missing, [str(column) for column in data.columns]))


def close_names_hint(missing: Sequence[str], available: Sequence[str]) -> str:
    """`` (did you mean 'x'?)`` for the missing names that resemble an available column, else ``""``."""
    import difflib

    guesses = [match for name in missing for match in difflib.get_close_matches(name, available, n=1, cutoff=0.75)]
    return f" (did you mean {', '.join(repr(g) for g in dict.fromkeys(guesses))}?)" if guesses else ""


def as_list(value: str | Sequence[str] | None) -> list[str]:
    """An option given as one column name, several, or none, as a list."""
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def check_confidence(kind: str, confidence: float) -> None:
    """Raise :class:`ModelError` unless ``confidence`` is in (0, 1)."""
    if not 0 < confidence < 1:
        raise ModelError(f"{kind}: option confidence must be in (0, 1)")


def complete_rows(kind: str, data: pd.DataFrame, columns: Sequence[str]) -> tuple[pd.DataFrame, int]:
    """The rows of ``data[columns]`` with no missing value (a copy), and how many were dropped."""
    frame = data[list(dict.fromkeys(columns))].copy()
    keep = frame.notna().all(axis=1).to_numpy(dtype=bool)
    frame = frame.loc[keep].reset_index(drop=True)
    if frame.empty:
        raise ModelError(f"{kind}: no row without a missing value in {', '.join(dict.fromkeys(columns))}")
    return frame, int((~keep).sum())


def durations_of(kind: str, frame: pd.DataFrame, column: str, *, allow_inf: bool = False) -> np.ndarray:
    """A duration column as float64, refused when not numeric, negative or (unless allowed) infinite."""
    try:
        values = pd.to_numeric(frame[column]).astype("float64").to_numpy()
    except (TypeError, ValueError):
        raise ModelError(f"{kind}: column {column!r} must be numeric (durations)") from None
    negative = int((values < 0).sum())
    if negative:
        raise ModelError(f"{kind}: column {column!r} has {negative} negative value(s); durations must be >= 0")
    if not allow_inf and not np.isfinite(values).all():
        raise ModelError(f"{kind}: column {column!r} has {int((~np.isfinite(values)).sum())} infinite value(s)")
    return values


def event_codes(kind: str, frame: pd.DataFrame, column: str, *, allowed: Sequence[int] = (0, 1)) -> np.ndarray:
    """An event column as int64, refused when it holds a code not in ``allowed``."""
    try:
        values = pd.to_numeric(frame[column].astype("float64")).to_numpy()
    except (TypeError, ValueError):
        raise ModelError(f"{kind}: column {column!r} must hold the codes {', '.join(map(str, allowed))}") from None
    bad = int((~np.isin(values, list(allowed))).sum())
    if bad:
        raise ModelError(f"{kind}: column {column!r} must hold the codes {', '.join(map(str, allowed))}; {bad} row(s) do not")
    return values.astype("int64")


def strata_groups(frame: pd.DataFrame, strata: list[str]) -> list[tuple[str, pd.DataFrame]]:
    """(label, rows) per stratum; label ``""`` without strata, else ``col=value, col=value``."""
    if not strata:
        return [("", frame)]
    result = []
    for key, rows in frame.groupby(strata, sort=True, observed=True):
        values = key if isinstance(key, tuple) else (key,)
        result.append((", ".join(f"{name}={value}" for name, value in zip(strata, values, strict=True)), rows))
    return result


def term_name(base: str, label: str) -> str:
    """A summary row's name: ``base``, or ``base | stratum`` within a stratum."""
    return f"{base} | {label}" if label else base


def format_time(value: float) -> str:
    """A time as it appears in row names (``survival(t=30.4375)``)."""
    return f"{value:.6g}"


def step_at(series: pd.Series, time: float) -> float:
    """Value of a right-continuous step function (indexed by time) at ``time``."""
    upto = series.loc[series.index <= time]
    return float(upto.iloc[-1]) if len(upto) else float("nan")


def summary_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Summary rows indexed by ``term``, the estimate, its SE, interval and p-value first."""
    frame = pd.DataFrame(rows).set_index("term")
    first = ["estimate", "std_error", "ci_lower", "ci_upper", "p_value"]
    return frame[first + [column for column in frame.columns if column not in first]]


def wald_p(estimate: float, error: float) -> float:
    """Two-sided Wald p-value of ``estimate / error`` (NaN when the error is not positive)."""
    from scipy import stats

    if not np.isfinite(error) or error <= 0:
        return float("nan")
    return float(2 * stats.norm.sf(abs(estimate / error)))


def captured_warnings(caught: list[warnings.WarningMessage]) -> list[str]:
    """Distinct warning lines (lifelines' convergence warnings name columns, not values)."""
    lines = []
    for item in caught:
        line = f"{item.category.__name__}: {str(item.message).strip().splitlines()[0][:200]}"
        if line not in lines:
            lines.append(line)
    return lines


def design_matrix(kind: str, frame: pd.DataFrame, covariates: Sequence[str]) -> tuple[pd.DataFrame, list[str]]:
    """Numeric design columns: numbers and booleans as float, other columns as 0/1 dummies
    (first level in sorted order is the reference, named ``column[T.level]``)."""
    design = {}
    for column in covariates:
        series = frame[column]
        if pd.api.types.is_bool_dtype(series) or pd.api.types.is_numeric_dtype(series):
            design[column] = pd.to_numeric(series).astype("float64").to_numpy()
            continue
        levels = sorted(series.astype(str).unique())
        if len(levels) < 2:
            raise ModelError(f"{kind}: covariate {column!r} has a single level; it cannot be estimated")
        for level in levels[1:]:
            design[f"{column}[T.{level}]"] = (series.astype(str) == level).to_numpy(dtype="float64")
    return pd.DataFrame(design, index=frame.index), list(design)


def formula_columns(kind: str, formula: str) -> list[str]:
    """The variables a formula names (``C``, ``np.log`` and other functions left out), sorted.

    Names that are not columns of the data are kept, so that :func:`require_columns` names them
    rather than the fit failing later with a formula library's message.
    """
    from formulaic import Formula

    try:
        return sorted(Formula(formula).required_variables)
    except Exception as error:  # noqa: BLE001 - formulaic raises several parser errors
        raise ModelError(f"{kind}: the formula {formula!r} cannot be read ({error})") from None


def plain_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Nullable dtypes as numpy ones (lifelines and formulaic want float/object)."""
    result = frame.copy()
    for column in result.columns:
        series = result[column]
        if pd.api.types.is_bool_dtype(series) or pd.api.types.is_numeric_dtype(series):
            result[column] = pd.to_numeric(series).astype("float64")
        elif isinstance(series.dtype, pd.StringDtype | pd.CategoricalDtype):
            result[column] = series.astype(object)
    return result
