"""The additive groups of an indicator table: ``parent = Σ children`` over the hierarchy, strata and breakdowns.

A territory adds up to its region (or to Québec when the table has no region rows), a region to
Québec, a stratum value to its scope's ``all`` stratum, a breakdown value to the breakdown's
``all``, each within one slice (indicator, wave, period). Strata come in two kinds: a territory
attribute (environment, host type: region and Québec rows only, a territory's value read from
the territory table) and a characteristic of the units counted (the participant type of a
qualitative session), which territory rows carry too: a territory's row of such a stratum value
adds up to the region's row of the same value. :func:`build_groups` finds them;
:func:`additivity` says which of them are equations for which quantity.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from proximite.indicators.base import ALL, QUEBEC, SCOPES
from proximite.indicators.disclosure.primary import DEN, N, NUM, CellQuantities

__all__ = ["BREAKDOWN", "GEO", "STRATUM", "NA_LABEL", "Additivity", "Groups", "Keyer", "additivity", "build_groups"]

# Kinds of additive groups.
GEO, STRATUM, BREAKDOWN = 0, 1, 2
#: The label of a missing key value.
NA_LABEL = "\x00<NA>"
_KEY_COLUMNS = ("indicator", "wave", "period", "scope", "scope_id", "stratum", "stratum_value", "breakdown",
                "breakdown_value")


@dataclass(frozen=True)
class Groups:
    """Memberships of the cells in the additive groups.

    Attributes
    ----------
    slice_of_row : ndarray of int
        Each cell's slice (indicator, wave, period): no group crosses slices.
    group_parent : ndarray of int
        The parent cell of each group.
    mrow, mgid, mrole : ndarray of int
        One entry per membership: the cell, the group, the role (1 child, 0 parent); children
        first, then the parent of each group.
    by_group, group_starts, by_row, row_starts : ndarray of int
        Memberships ordered by group and by cell, and where each group's (cell's) run starts.
    """

    slice_of_row: np.ndarray
    group_parent: np.ndarray
    mrow: np.ndarray
    mgid: np.ndarray
    mrole: np.ndarray
    by_group: np.ndarray
    group_starts: np.ndarray
    by_row: np.ndarray
    row_starts: np.ndarray

    @property
    def count(self) -> int:
        """The number of groups."""
        return len(self.group_parent)


def labels_of(series: pd.Series) -> np.ndarray:
    """The values of a key column as strings, a missing value as :data:`NA_LABEL`."""
    return series.astype("string").fillna(NA_LABEL).to_numpy(dtype=object)


def build_groups(frame: pd.DataFrame, territory: pd.DataFrame | None) -> Groups:
    """Find every additive group ``parent = Σ children`` among the rows of ``frame``.

    Parameters
    ----------
    frame : DataFrame
        The people rows of an indicator table (not modified).
    territory : DataFrame or None
        The harmonised territory table: each territory's region and strata.

    Returns
    -------
    Groups

    Raises
    ------
    ValueError
        ``territory`` is needed and missing or incomplete, or two rows describe the same cell.
    """
    labels = {column: labels_of(frame[column]) for column in _KEY_COLUMNS}
    scope = labels["scope"]
    # A territory's parent is its region, or Québec itself when the table has no region rows.
    above = "region" if (scope == "region").any() else "quebec"
    # A stratum that territory rows carry describes the units counted (a session's participant
    # type), not the territory: each such row adds up to the same stratum value above it.
    unit_strata = sorted(set(labels["stratum"][scope == "territory"]) - {ALL})
    strata = sorted(set(labels["stratum"][scope == above]) - {ALL} - set(unit_strata))
    territory_rows = (scope == "territory") & np.isin(labels["stratum"], [ALL, *unit_strata])
    has_parent = bool((scope == above).any())
    region_of = attributes = None
    if territory_rows.any() and has_parent and (above == "region" or strata):
        region_of, attributes = _territory_lookup(labels["scope_id"][territory_rows], territory, above, strata)
    extras = {
        "scope": list(SCOPES),
        "scope_id": [QUEBEC] + ([] if region_of is None else list(pd.unique(region_of))),
        "stratum": [ALL],
        "stratum_value": [ALL] + sorted({str(v) for values in (attributes or {}).values() for v in values}),
        "breakdown": [ALL],
        "breakdown_value": [ALL],
    }
    keyer = Keyer(labels, extras)
    if not keyer.index.is_unique:
        raise ValueError(
            "two rows of the table describe the same cell (indicator, wave, period, scope, stratum, breakdown)"
        )
    links = _Links(len(frame))
    _hierarchy_links(links, keyer, labels, territory_rows if has_parent else None, above, strata, region_of, attributes)
    _stratum_and_breakdown_links(links, keyer, labels)
    return _index_groups(links, keyer.codes["slice"], len(frame))


def _territory_lookup(
    ids: np.ndarray, territory: pd.DataFrame | None, above: str, strata: list[str]
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Region code and stratum values of the territory rows (``ids``), from the territory table."""
    if territory is None:
        raise ValueError(
            f"the table holds territory and {above} rows: pass territory= (the harmonised territory table) so "
            "that complementary suppression knows each territory's region and strata"
        )
    needed = ["territory_id", "region_code", *strata]
    absent = [c for c in needed if c not in territory.columns]
    if absent:
        raise ValueError(f"territory table lacks column(s) {', '.join(absent)}")
    lookup = territory[needed].astype("string").drop_duplicates("territory_id")
    known = pd.Index(lookup["territory_id"].to_numpy(dtype=object))
    where = known.get_indexer(ids)
    if (where < 0).any():
        unknown = sorted(set(ids[where < 0]))
        raise ValueError(f"territory table lacks {len(unknown)} territory id(s) of the table, e.g. {unknown[:3]}")
    region_of = lookup["region_code"].fillna(NA_LABEL).to_numpy(dtype=object)[where]
    attributes = {s: lookup[s].fillna(NA_LABEL).to_numpy(dtype=object)[where] for s in strata}
    return region_of, attributes


class _Links:
    """Child → parent links as they are found, with the group's kind and sub-key."""

    def __init__(self, rows: int) -> None:
        self.rows = np.arange(rows)
        self.children: list[np.ndarray] = []
        self.parents: list[np.ndarray] = []
        self.kinds: list[np.ndarray] = []
        self.subs: list[np.ndarray] = []

    def add(self, selection: np.ndarray, parent: np.ndarray, kind: int, sub: np.ndarray | int) -> None:
        found = parent >= 0
        self.children.append(self.rows[selection][found])
        self.parents.append(parent[found])
        self.kinds.append(np.full(int(found.sum()), kind))
        self.subs.append(np.full(int(found.sum()), sub) if np.isscalar(sub) else np.asarray(sub)[found])


def _hierarchy_links(
    links: _Links,
    keyer: Keyer,
    labels: Mapping[str, np.ndarray],
    territory_rows: np.ndarray | None,
    above: str,
    strata: list[str],
    region_of: np.ndarray | None,
    attributes: dict[str, np.ndarray] | None,
) -> None:
    """Québec ← regions; a region (or Québec) ← its territories, per stratum value too.

    ``territory_rows`` are the territory rows of stratum ``all`` and of the unit strata; the
    attributes of ``strata`` (environment, host type) come from the territory table and apply
    to the ``all`` rows.
    """
    codes, code = keyer.codes, keyer.code
    # (a) Québec ← regions, within each stratum value.
    sel = labels["scope"] == "region"
    parent = keyer.find(codes["slice"][sel], code("scope", "quebec"), code("scope_id", QUEBEC),
                        codes["stratum"][sel], codes["stratum_value"][sel], codes["breakdown"][sel],
                        codes["breakdown_value"][sel])
    links.add(sel, parent, GEO, 0)
    # (b) a region ← its territories; region/stratum value ← its territories with that value
    # (Québec and Québec/stratum value when the table has no region rows).
    if territory_rows is None or not territory_rows.any():
        return
    sel = territory_rows
    if above == "region":
        parent_ids: np.ndarray | int = keyer.encode("scope_id", region_of)  # type: ignore[arg-type]
    else:
        parent_ids = code("scope_id", QUEBEC)
    # The territory's own stratum and value: all/all, or a unit stratum's value (participant type).
    parent = keyer.find(codes["slice"][sel], code("scope", above), parent_ids, codes["stratum"][sel],
                        codes["stratum_value"][sel], codes["breakdown"][sel], codes["breakdown_value"][sel])
    links.add(sel, parent, GEO, 0)
    whole = labels["stratum"][sel] == ALL  # a territory attribute splits the territory's all rows only
    for stratum in strata:
        value_codes = keyer.encode("stratum_value", attributes[stratum])  # type: ignore[index]
        parent = keyer.find(codes["slice"][sel], code("scope", above), parent_ids, code("stratum", stratum),
                            value_codes, codes["breakdown"][sel], codes["breakdown_value"][sel])
        links.add(sel, np.where(whole, parent, -1), GEO, 0)


def _stratum_and_breakdown_links(links: _Links, keyer: Keyer, labels: Mapping[str, np.ndarray]) -> None:
    """A scope's stratum ``all`` ← the values of each stratum; a breakdown ``all`` ← its values."""
    codes, code = keyer.codes, keyer.code
    sel = labels["stratum"] != ALL
    links.add(sel, keyer.find(codes["slice"][sel], codes["scope"][sel], codes["scope_id"][sel], code("stratum", ALL),
                              code("stratum_value", ALL), codes["breakdown"][sel], codes["breakdown_value"][sel]),
              STRATUM, codes["stratum"][sel])
    sel = labels["breakdown"] != ALL
    links.add(sel, keyer.find(codes["slice"][sel], codes["scope"][sel], codes["scope_id"][sel], codes["stratum"][sel],
                              codes["stratum_value"][sel], code("breakdown", ALL), code("breakdown_value", ALL)),
              BREAKDOWN, codes["breakdown"][sel])


def _index_groups(links: _Links, slice_of_row: np.ndarray, rows: int) -> Groups:
    """One group per (parent, kind, sub-key); memberships indexed by group and by cell."""
    child = np.concatenate(links.children)
    parent = np.concatenate(links.parents)
    kind = np.concatenate(links.kinds)
    sub = np.concatenate(links.subs).astype("int64")
    width = int(sub.max()) + 1 if len(sub) else 1
    key = (parent.astype("int64") * 3 + kind) * width + sub
    group_of_child, unique_keys = pd.factorize(key)
    group_parent = (np.asarray(unique_keys) // (3 * width)).astype("int64")
    groups = len(group_parent)
    # Memberships: children (role 1) then the parent of each group (role 0).
    mrow = np.concatenate([child, group_parent]).astype("int64")
    mgid = np.concatenate([group_of_child, np.arange(groups)]).astype("int64")
    mrole = np.concatenate([np.ones(len(child), dtype="int64"), np.zeros(groups, dtype="int64")])
    # Memberships by group and by row (CSR-like: positions, and where each group / row starts).
    by_group = np.argsort(mgid, kind="stable")
    by_row = np.argsort(mrow, kind="stable")
    return Groups(
        slice_of_row=slice_of_row,
        group_parent=group_parent,
        mrow=mrow,
        mgid=mgid,
        mrole=mrole,
        by_group=by_group,
        group_starts=np.searchsorted(mgid[by_group], np.arange(groups + 1)),
        by_row=by_row,
        row_starts=np.searchsorted(mrow[by_row], np.arange(rows + 1)),
    )


@dataclass(frozen=True)
class Additivity:
    """Which groups are equations: ``equations[q, g]`` for quantity ``q`` (numerator, denominator, n).

    ``active``: a group that is an equation for some quantity; ``n_repeats``: a group whose n
    repeats, member by member, the count or the share's denominator (the same equation again).
    """

    equations: np.ndarray
    active: np.ndarray
    n_repeats: np.ndarray


def additivity(groups: Groups, quantities: CellQuantities, additive_indicator: np.ndarray) -> Additivity:
    """Which groups are equations for which quantity: the catalogue says so and the numbers agree.

    Notes
    -----
    A group is an equation for a quantity when the indicator is additive (for ``n`` always), no
    member lacks the quantity, and the children's sum equals the parent's value, or falls short
    of it when no member is negative (a category whose row is absent).
    """
    G, m, q = groups.count, len(additive_indicator), quantities.q
    gate = np.vstack([additive_indicator, additive_indicator, np.ones(m, dtype=bool)])
    equations = np.zeros((3, G), dtype=bool)
    if G == 0:
        return Additivity(equations, np.zeros(0, dtype=bool), np.zeros(0, dtype=bool))
    mrow, mgid = groups.mrow, groups.mgid
    is_child = groups.mrole == 1
    for quantity in range(3):
        values = q[quantity, mrow]
        has_nan = np.bincount(mgid, weights=np.isnan(values), minlength=G) > 0
        negative = np.bincount(mgid, weights=np.nan_to_num(values) < 0, minlength=G) > 0
        children_sum = np.bincount(mgid[is_child], weights=np.nan_to_num(values[is_child]), minlength=G)
        parent_value = q[quantity, groups.group_parent]
        tolerance = 1e-9 * np.maximum(1.0, np.abs(np.nan_to_num(parent_value)))
        with np.errstate(invalid="ignore"):
            exact = np.abs(children_sum - parent_value) <= tolerance
            at_most = children_sum <= parent_value + tolerance
        equations[quantity] = gate[quantity, groups.group_parent] & ~has_nan & np.where(negative, exact, at_most)
    # Groups whose n repeats, member by member, the count or the share's denominator.
    share = quantities.share
    twin = np.where(quantities.main_q == NUM, np.where(share, q[DEN], q[NUM]), np.nan)
    with np.errstate(invalid="ignore"):
        differs = ~(twin == q[N])[mrow]
    twin_quantity = np.where(share, DEN, NUM)[groups.group_parent]
    n_repeats = (np.bincount(mgid, weights=differs, minlength=G) == 0) & equations[twin_quantity, np.arange(G)]
    return Additivity(equations, equations.any(axis=0), n_repeats)


class Keyer:
    """Integer codes of the cells' keys, so a parent cell is found with one index lookup."""

    _COLUMNS = ("slice", "scope", "scope_id", "stratum", "stratum_value", "breakdown", "breakdown_value")

    def __init__(self, labels: Mapping[str, np.ndarray], extras: Mapping[str, list[str]]) -> None:
        slice_key = pd.MultiIndex.from_arrays([labels["indicator"], labels["wave"], labels["period"]])
        slice_codes, _ = pd.factorize(slice_key)
        slices = int(slice_codes.max()) + 1 if len(slice_codes) else 1
        self.categories: dict[str, pd.Index] = {"slice": pd.RangeIndex(slices)}
        self.codes: dict[str, np.ndarray] = {"slice": slice_codes.astype("int64")}
        for column in self._COLUMNS[1:]:
            values = np.concatenate([labels[column], np.asarray(extras.get(column, []), dtype=object)])
            categories = pd.Index(pd.unique(values))
            self.categories[column] = categories
            self.codes[column] = categories.get_indexer(labels[column]).astype("int64")
        self.radix = {column: len(self.categories[column]) for column in self._COLUMNS}
        if np.prod([float(r) for r in self.radix.values()]) >= 2.0**62:
            raise ValueError("indicator table too large to key its cells on 64 bits")  # pragma: no cover
        self.index = pd.Index(self._compose([self.codes[c] for c in self._COLUMNS]))

    def code(self, column: str, label: str) -> int:
        """The code of one label of a key column (−1 when unknown)."""
        return int(self.categories[column].get_indexer([label])[0])

    def encode(self, column: str, labels: np.ndarray) -> np.ndarray:
        """The codes of labels of a key column (−1 when unknown)."""
        return self.categories[column].get_indexer(np.asarray(labels, dtype=object)).astype("int64")

    def _compose(self, parts: list[Any]) -> np.ndarray:
        key = np.zeros(np.broadcast(*parts).shape, dtype="int64")
        for column, part in zip(self._COLUMNS, parts):
            key = key * self.radix[column] + np.asarray(part, dtype="int64")
        return key

    def find(self, *parts: Any) -> np.ndarray:
        """Row of each key (−1 when the cell is absent)."""
        arrays = [np.asarray(p, dtype="int64") for p in parts]
        unknown = np.zeros(np.broadcast(*arrays).shape, dtype=bool)
        for part in arrays:
            unknown |= part < 0
        found = self.index.get_indexer(self._compose(arrays))
        return np.where(unknown, -1, found)
