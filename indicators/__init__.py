"""Indicators: pure functions from harmonised tables to tidy indicator tables (layer 04).

One module per indicator family of DESIGN's table, each with a ``compute(tables, *, parameters)``
function over the harmonised tables (a mapping ``{table name: DataFrame}``, as
:func:`proximite.cohort.warehouse.table` returns them) that returns a new frame with the columns of
:data:`~proximite.indicators.base.INDICATOR_COLUMNS`, and one public function per indicator id
(e.g. :func:`~proximite.indicators.implementation.ptp_hours` for ``implementation.ptp_hours``)
that returns only that id's rows (``compute`` builds any input they share once and passes it
to each). The families:

- :mod:`~proximite.indicators.reach`: families reached, share isolated at contact, children;
- :mod:`~proximite.indicators.isolation`: mean index, change from baseline, meaningful reduction,
  leaving isolation, the adjusted (and attrition-weighted) wave effects;
- :mod:`~proximite.indicators.needs_offer`: match rate, referral completion, time to need met,
  service gaps, referral intensity and destinations;
- :mod:`~proximite.indicators.concertation`: active partners and the referral network's structure;
- :mod:`~proximite.indicators.implementation`: PTP time, travel, supervision, turnover;
- :mod:`~proximite.indicators.acceptability`: satisfaction with and trust in the PTP, by wave;
- :mod:`~proximite.indicators.relevance`: non-use of services by wave and its change from T0;
- :mod:`~proximite.indicators.systemic`: referrals crossing networks and the partner networks
  each territory reaches ("décloisonnement").
- :mod:`~proximite.indicators.effectiveness`: empowerment and parental stress by wave, paired
  and meaningful change, adjusted (and attrition-weighted) wave effects, the generic score
  trajectory of :mod:`~proximite.indicators.score_trajectory` that isolation's index uses too;
- :mod:`~proximite.indicators.partner_survey`: the yearly partner questionnaire (response rate,
  appreciation of the collaboration, trust and value, the reported network beside the referral
  network) per survey year;
- :mod:`~proximite.indicators.staff_survey`: the yearly PTP and manager questionnaire (supervision,
  training, the mandate's clarity, workload, intention to stay) beside the registry's supervision
  hours and turnover, per survey year;
- :mod:`~proximite.indicators.qualitative`: the sessions analysed and the themes coded in them, by
  territory, participant type and period (the joint display's qualitative column).

:mod:`~proximite.indicators.fanout` splits the work into units (a family at one scope level) that
can run in parallel and puts their rows back together in the same order as :func:`compute_all`.

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
    # The evaluation's axes: acceptability, relevance, systemic effects, effectiveness.
    "acceptability": "proximite.indicators.acceptability",
    "relevance": "proximite.indicators.relevance",
    "systemic": "proximite.indicators.systemic",
    # Score trajectories of empowerment and parental stress (the evaluation's effectiveness axis).
    "effectiveness": "proximite.indicators.effectiveness",
    # The yearly questionnaires: partners (collaboration, trust, reported network); PTP and managers.
    "partner_survey": "proximite.indicators.partner_survey",
    "staff_survey": "proximite.indicators.staff_survey",
    # The qualitative strand: themes coded in interviews and focus groups (mixed methods).
    "qualitative": "proximite.indicators.qualitative",
}

#: Called after each family: ``progress(family, done, total)``.
Progress = Callable[[str, int, int], None]


def compute_family(
    family: str, tables: Mapping[str, pd.DataFrame], *, parameters: IndicatorParameters
) -> pd.DataFrame:
    """Compute one indicator family (see :data:`FAMILIES`).

    Parameters
    ----------
    family : str
        A key of :data:`FAMILIES`.
    tables : mapping of str to DataFrame
        The harmonised tables (not modified).
    parameters : IndicatorParameters, keyword-only
        ``parameters.scopes`` names the scope levels computed.

    Returns
    -------
    DataFrame
        The family's tidy table, rows of the scope levels of ``parameters.scopes`` only (an
        empty table when it names none).

    Raises
    ------
    ValueError
        An unknown family.
    """
    try:
        module = importlib.import_module(FAMILIES[family])
    except KeyError:
        raise ValueError(f"no indicator family {family!r} (families: {', '.join(FAMILIES)})") from None
    if not parameters.scopes:
        return empty_indicator_frame()
    frame = module.compute(tables, parameters=parameters)
    # Each family honours parameters.scopes; this guarantees it, so a fan-out unit holds only its level.
    outside = ~frame["scope"].isin(parameters.scopes).to_numpy(dtype=bool)
    if outside.any():
        frame = frame.loc[~outside].reset_index(drop=True)
    return frame


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
        The families' rows with :data:`INDICATOR_COLUMNS`, in
        :func:`~proximite.indicators.fanout.canonical_order` (the order the fan-out's
        :func:`~proximite.indicators.fanout.combine_units` gives too).
    """
    from proximite.indicators.fanout import canonical_order  # the fan-out module imports this one

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
    return canonical_order(pd.concat(frames, ignore_index=True)[INDICATOR_COLUMNS])
