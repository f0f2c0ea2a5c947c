"""The territory → region → Québec hierarchy and its strata (environment, host type).

Indicators, economics and reports roll units up along it: each unit is counted once for Québec,
once for its region and once for its territory, and at the Québec and region scopes once per
stratum. Pure functions: no I/O, inputs never modified.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pandas as pd

__all__ = [
    "ALL",
    "QUEBEC",
    "SCOPES",
    "SCOPE_KEYS",
    "expand_scopes",
    "iter_scopes",
    "scope_specs",
    "territory_attributes",
]

ALL = "all"
QUEBEC = "QC"
SCOPES: tuple[str, ...] = ("quebec", "region", "territory")


def territory_attributes(territory: pd.DataFrame) -> pd.DataFrame:
    """``territory_id, region_code, environment, host_type`` of each territory (a new frame)."""
    return territory[["territory_id", "region_code", "environment", "host_type"]].astype("string").copy()


def scope_specs(strata: Sequence[str], scopes: Sequence[str]) -> list[tuple[str, str | None, str | None]]:
    """(scope, column holding the scope id, stratum column) for every scope × stratum."""
    specs: list[tuple[str, str | None, str | None]] = []
    scope_columns = {"quebec": None, "region": "region_code", "territory": "territory_id"}
    for scope in scopes:
        if scope not in scope_columns:
            raise ValueError(f"unknown scope {scope!r}; allowed: {', '.join(SCOPES)}")
        specs.append((scope, scope_columns[scope], None))
        if scope != "territory":
            specs.extend((scope, scope_columns[scope], stratum) for stratum in strata)
    return specs


def expand_scopes(
    units: pd.DataFrame,
    territory: pd.DataFrame,
    *,
    strata: Sequence[str] = ("environment", "host_type"),
    scopes: Sequence[str] = SCOPES,
) -> pd.DataFrame:
    """Repeat each unit once per scope cell it belongs to, for one vectorised ``groupby``.

    Parameters
    ----------
    units : DataFrame
        Rows with a ``territory_id`` column (families, needs, activities, or already aggregated
        per territory).
    territory : DataFrame
        The harmonised territory table.
    strata : sequence of str, keyword-only
        Territory attributes the region and Québec scopes are split by.
    scopes : sequence of str, keyword-only

    Returns
    -------
    DataFrame
        ``units`` (with region_code, environment and host_type joined) plus ``scope``,
        ``scope_id``, ``stratum`` and ``stratum_value``: each unit appears once for Québec, once
        for its region, once for its territory, and once per stratum at the Québec and region
        scopes. Units of a territory missing from ``territory`` are dropped.
    """
    attributes = territory_attributes(territory)
    joined = units.drop(columns=[c for c in ("region_code", "environment", "host_type") if c in units.columns])
    joined = joined.merge(attributes, on="territory_id", how="inner", validate="many_to_one")
    pieces = []
    for scope, id_column, stratum in scope_specs(strata, scopes):
        piece = joined.copy()
        piece["scope"] = scope
        piece["scope_id"] = QUEBEC if id_column is None else joined[id_column]
        piece["stratum"] = ALL if stratum is None else stratum
        piece["stratum_value"] = ALL if stratum is None else joined[stratum]
        pieces.append(piece)
    expanded = pd.concat(pieces, ignore_index=True)
    for column in ("scope", "scope_id", "stratum", "stratum_value"):
        expanded[column] = expanded[column].astype("string")
    return expanded


SCOPE_KEYS = ["scope", "scope_id", "stratum", "stratum_value"]


def iter_scopes(
    units: pd.DataFrame,
    territory: pd.DataFrame,
    *,
    strata: Sequence[str] = ("environment", "host_type"),
    scopes: Sequence[str] = SCOPES,
) -> Iterator[tuple[dict[str, str], pd.DataFrame]]:
    """Yield ``(labels, subset)`` per scope cell, for estimators that need the cell's rows.

    ``labels`` holds ``scope``, ``scope_id``, ``stratum`` and ``stratum_value``; ``subset`` the
    units of that cell (with region_code, environment and host_type joined). Cells come in
    :func:`expand_scopes` order; empty cells are not yielded.
    """
    attributes = territory_attributes(territory)
    joined = units.drop(columns=[c for c in ("region_code", "environment", "host_type") if c in units.columns])
    joined = joined.merge(attributes, on="territory_id", how="inner", validate="many_to_one")
    for scope, id_column, stratum in scope_specs(strata, scopes):
        keys = [column for column in (id_column, stratum) if column is not None]
        if not keys:
            if len(joined):
                yield {"scope": scope, "scope_id": QUEBEC, "stratum": ALL, "stratum_value": ALL}, joined
            continue
        for key, subset in joined.groupby(keys, sort=True, observed=True):
            key = key if isinstance(key, tuple) else (key,)
            values = dict(zip(keys, key))
            yield (
                {
                    "scope": scope,
                    "scope_id": QUEBEC if id_column is None else str(values[id_column]),
                    "stratum": ALL if stratum is None else stratum,
                    "stratum_value": ALL if stratum is None else str(values[stratum]),
                },
                subset,
            )
