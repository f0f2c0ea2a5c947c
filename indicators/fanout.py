"""The indicators' fan-out: units of work of one indicator family at one scope level.

Registry periods, the data's end (``as_of``) and the wave windows are computed over the whole
cohort, so cutting the tables by region would change the numbers. A unit of work is instead an
indicator family × a scope level (``quebec``, ``region``, ``territory``): every unit reads the
full tables and computes only its scope level, so its rows are exactly the rows of that scope
level in the all-at-once computation (:func:`~proximite.indicators.compute_all`). The units
(every family of :data:`~proximite.indicators.FAMILIES` × three levels) can run on a thread pool or a Dask cluster, in any order;
:func:`combine_units` puts their rows back in :func:`canonical_order`, the order
:func:`~proximite.indicators.compute_all` also returns, so both paths give the same table.

The functions here do no I/O and never modify their inputs.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

from proximite.indicators import FAMILIES, compute_family
from proximite.indicators.base import (
    INDICATOR_COLUMNS,
    INDICATOR_DTYPES,
    SCOPES,
    IndicatorParameters,
    empty_indicator_frame,
)

__all__ = [
    "ALL_LEVELS", "FanoutUnit", "ORDER_KEYS", "canonical_order", "combine_units", "compute_unit", "fanout_units", "unit_cells",
]

#: The scope of a unit that computes its family at every configured scope level at once: on one
#: machine, where a family's preparation (its tables, spells, panels) is then done once, not once
#: per level.
ALL_LEVELS = "all"

#: Columns that identify a row within an indicator family and scope level, in sort order
#: (after the family's rank and the scope level's rank).
ORDER_KEYS: list[str] = [
    "indicator",
    "scope_id",
    "stratum",
    "stratum_value",
    "wave",
    "period_start",
    "period",
    "breakdown",
    "breakdown_value",
]


@dataclass(frozen=True)
class FanoutUnit:
    """One unit of the fan-out: an indicator family at one scope level.

    Attributes
    ----------
    family : str
        A key of :data:`~proximite.indicators.FAMILIES`.
    scope : str
        One of :data:`~proximite.indicators.base.SCOPES`, or :data:`ALL_LEVELS`.

    Raises
    ------
    ValueError
        An unknown family or scope level.
    """

    family: str
    scope: str

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise ValueError(f"no indicator family {self.family!r} (families: {', '.join(FAMILIES)})")
        if self.scope not in (*SCOPES, ALL_LEVELS):
            raise ValueError(f"no scope level {self.scope!r} (scope levels: {', '.join(SCOPES)}, or {ALL_LEVELS})")

    @property
    def name(self) -> str:
        """``<family>-<scope>``, e.g. ``isolation-region`` (a task or part-file name)."""
        return f"{self.family}-{self.scope}"


def fanout_units(
    *, families: Iterable[str] | None = None, scopes: Iterable[str] | None = None, split_scopes: bool = True
) -> list[FanoutUnit]:
    """Every unit of the fan-out, families in :data:`FAMILIES` order × scope levels in :data:`SCOPES` order.

    Parameters
    ----------
    families : iterable of str, keyword-only
        A subset of :data:`~proximite.indicators.FAMILIES` (default: all).
    scopes : iterable of str, keyword-only
        A subset of :data:`~proximite.indicators.base.SCOPES` (default: all).
    split_scopes : bool, keyword-only
        One unit per family × scope level (for a cluster: more, smaller units); False: one unit
        per family at :data:`ALL_LEVELS` (for one machine: each family prepared once), ``scopes``
        then only checked.

    Returns
    -------
    list of FanoutUnit
        In the registries' order whatever the order given (by default every family × every
        scope level: ``len(FAMILIES) * len(SCOPES)`` units).

    Raises
    ------
    ValueError
        An unknown family or scope level.
    """
    chosen_families = list(FAMILIES) if families is None else list(families)
    chosen_scopes = list(SCOPES) if scopes is None else list(scopes)
    for family in chosen_families:
        if family not in FAMILIES:
            raise ValueError(f"no indicator family {family!r} (families: {', '.join(FAMILIES)})")
    for scope in chosen_scopes:
        if scope not in SCOPES:
            raise ValueError(f"no scope level {scope!r} (scope levels: {', '.join(SCOPES)})")
    if not split_scopes:
        return [FanoutUnit(family, ALL_LEVELS) for family in FAMILIES if family in chosen_families]
    return [
        FanoutUnit(family, scope)
        for family in FAMILIES
        if family in chosen_families
        for scope in SCOPES
        if scope in chosen_scopes
    ]


def unit_cells(unit: FanoutUnit, scopes: Iterable[str]) -> list[tuple[str, str]]:
    """The (family, scope level) pairs a unit computes when the parameters' levels are ``scopes``."""
    chosen = set(scopes)
    levels = [scope for scope in SCOPES if scope in chosen] if unit.scope == ALL_LEVELS else [unit.scope]
    return [(unit.family, level) for level in levels]


def compute_unit(
    tables: Mapping[str, pd.DataFrame], unit: FanoutUnit, *, parameters: IndicatorParameters
) -> pd.DataFrame:
    """Compute one unit: the family's rows of the unit's scope level only.

    Parameters
    ----------
    tables : mapping of str to DataFrame
        The full harmonised tables (not modified; not cut by scope: periods, the data's end and
        wave windows are taken over the whole cohort).
    unit : FanoutUnit
    parameters : IndicatorParameters, keyword-only
        Every parameter but ``scopes``, which becomes the unit's scope level.

    Returns
    -------
    DataFrame
        With :data:`~proximite.indicators.base.INDICATOR_COLUMNS`; every ``scope`` is
        ``unit.scope`` (a unit at :data:`ALL_LEVELS`: the family at every level of
        ``parameters.scopes``).

    Notes
    -----
    :func:`~proximite.indicators.compute_family` with
    ``dataclasses.replace(parameters, scopes=(unit.scope,))``: for every family :math:`f`,

    .. math:: \\bigcup_{s \\in \\text{SCOPES}} \\text{unit}(f, s) = \\text{compute\\_family}(f)

    row for row (up to order, see :func:`canonical_order`).
    """
    if unit.scope == ALL_LEVELS:
        return compute_family(unit.family, tables, parameters=parameters)
    unit_parameters = dataclasses.replace(parameters, scopes=(unit.scope,))
    return compute_family(unit.family, tables, parameters=unit_parameters)


def _family_rank() -> dict[str, int]:
    """Indicator id → rank of its family in :data:`FAMILIES` (from the codebook)."""
    from proximite.cohort.codebook import load_codebook

    ranks = {family: rank for rank, family in enumerate(FAMILIES)}
    return {
        indicator: ranks.get(str(spec.get("family")), len(FAMILIES))
        for indicator, spec in load_codebook().indicators.items()
    }


def canonical_order(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows of an indicator table in an order that does not depend on how they were computed.

    Parameters
    ----------
    frame : DataFrame
        An indicator table (:data:`~proximite.indicators.base.INDICATOR_COLUMNS`; not modified).

    Returns
    -------
    DataFrame
        A new frame, index reset, sorted by the family's rank in
        :data:`~proximite.indicators.FAMILIES` (from the codebook's indicator → family; an id
        the codebook lacks goes last), the scope level's rank in
        :data:`~proximite.indicators.base.SCOPES`, then :data:`ORDER_KEYS` (missing values
        first), with a stable sort.

    Notes
    -----
    The keys identify a row (one per scope cell, stratum, wave or period, breakdown and
    indicator), so the order is total: any split of the same rows into pieces, concatenated in
    any order, comes out identical.
    """
    if frame.empty:
        return frame.reset_index(drop=True)
    indicators = frame["indicator"].astype(object)
    family = indicators.map(_family_rank()).fillna(len(FAMILIES)).astype("int64")
    scope = frame["scope"].astype(object).map({name: rank for rank, name in enumerate(SCOPES)})
    ordered = frame.assign(_family=family.to_numpy(), _scope=scope.fillna(len(SCOPES)).astype("int64").to_numpy())
    ordered = ordered.sort_values(["_family", "_scope", *ORDER_KEYS], na_position="first", kind="stable")
    return ordered.drop(columns=["_family", "_scope"]).reset_index(drop=True)


def combine_units(frames: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """Put the units' tables together: one indicator table in :func:`canonical_order`.

    Parameters
    ----------
    frames : sequence of DataFrame
        Indicator tables (of :func:`compute_unit`, or read back from part files); empty ones are
        skipped; none is modified.

    Returns
    -------
    DataFrame
        Exactly :data:`~proximite.indicators.base.INDICATOR_COLUMNS` with their dtypes;
        :func:`~proximite.indicators.base.empty_indicator_frame` when every frame is empty.
    """
    kept = [frame for frame in frames if len(frame)]
    if not kept:
        return empty_indicator_frame()
    combined = pd.concat([frame[INDICATOR_COLUMNS] for frame in kept], ignore_index=True)
    # Frames read back from Parquet may come with other (equivalent) dtypes.
    combined = combined.astype(INDICATOR_DTYPES)
    return canonical_order(combined)
