"""Indicators: pure functions from harmonised tables to tidy indicator tables (layer 04).

One module per indicator family of DESIGN's table, each with a ``compute(tables, *, parameters)``
function over the harmonised tables (a mapping ``{table name: DataFrame}``, as
:func:`proximite.cohort.warehouse.table` returns them) that returns a new frame with the columns of
:data:`~proximite.indicators.base.INDICATOR_COLUMNS`:

- :mod:`~proximite.indicators.reach`: families reached, share isolated at contact, children;
- :mod:`~proximite.indicators.isolation`: mean index, change from baseline, meaningful reduction,
  leaving isolation, the adjusted (and attrition-weighted) wave effects;
- :mod:`~proximite.indicators.needs_offer`: match rate, referral completion, time to need met,
  service gaps, referral intensity and destinations;
- :mod:`~proximite.indicators.concertation`: active partners and the referral network's structure;
- :mod:`~proximite.indicators.implementation`: PTP time, travel, supervision, turnover.

:mod:`~proximite.indicators.disclosure` applies the disclosure rule to any such table, and
:mod:`~proximite.indicators.snapshot` writes what decision-makers read. Indicator ids, labels and
units live in the codebook (``cohort/codebook/indicators.yaml``).
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import pandas as pd

from proximite.indicators.base import INDICATOR_COLUMNS, IndicatorParameters, empty_indicator_frame

__all__ = ["FAMILIES", "INDICATOR_COLUMNS", "IndicatorParameters", "compute_all", "compute_family"]

#: Indicator family → module (each defines ``compute(tables, *, parameters)``).
FAMILIES: dict[str, str] = {
    "reach": "proximite.indicators.reach",
    "isolation": "proximite.indicators.isolation",
    "needs_offer": "proximite.indicators.needs_offer",
    "concertation": "proximite.indicators.concertation",
    "implementation": "proximite.indicators.implementation",
}

#: Called after each family: ``progress(family, done, total)``.
Progress = Callable[[str, int, int], None]


def compute_family(
    family: str, tables: Mapping[str, pd.DataFrame], *, parameters: IndicatorParameters
) -> pd.DataFrame:
    """Compute one indicator family (see :data:`FAMILIES`)."""
    try:
        module = importlib.import_module(FAMILIES[family])
    except KeyError:
        raise ValueError(f"no indicator family {family!r} (families: {', '.join(FAMILIES)})") from None
    return module.compute(tables, parameters=parameters)


def compute_all(
    tables: Mapping[str, pd.DataFrame],
    *,
    parameters: IndicatorParameters,
    families: Iterable[str] | None = None,
    progress: Progress | None = None,
    timings: dict[str, Any] | None = None,
) -> pd.DataFrame:
    """Compute every indicator family and return one tidy table.

    Parameters
    ----------
    tables : mapping of str to DataFrame
        The harmonised tables (not modified).
    parameters : IndicatorParameters, keyword-only
    families : iterable of str, keyword-only
        A subset of :data:`FAMILIES` (default: all, in that order).
    progress : callable, keyword-only
        Called as ``progress(family, done, total)`` after each family.
    timings : dict, keyword-only
        When given, filled with ``{family: seconds}``.

    Returns
    -------
    DataFrame
        The families' tables one after the other, with :data:`INDICATOR_COLUMNS`.
    """
    chosen = list(FAMILIES if families is None else families)
    frames = []
    for done, family in enumerate(chosen, start=1):
        started = time.perf_counter()
        frames.append(compute_family(family, tables, parameters=parameters))
        if timings is not None:
            timings[family] = time.perf_counter() - started
        if progress is not None:
            progress(family, done, len(chosen))
    frames = [frame for frame in frames if len(frame)]
    if not frames:
        return empty_indicator_frame()
    return pd.concat(frames, ignore_index=True)[INDICATOR_COLUMNS]
