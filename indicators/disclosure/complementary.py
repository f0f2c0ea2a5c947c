"""Complementary suppression: hide more cells until no hidden cell can be recomputed.

:class:`Cells` holds the people rows of a table, their additive groups
(:mod:`~proximite.indicators.disclosure.groups`) and which cells are hidden. :meth:`Cells.protect`
alternates the group rule (no group may hide a single non-zero value of a quantity it adds up)
and the exact check (:func:`~proximite.indicators.disclosure.recoverability.pinned_quantities`),
hiding one more published cell per pinned quantity, until neither finds anything.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from proximite.indicators.base import SCOPES
from proximite.indicators.disclosure.groups import Groups, additivity, build_groups
from proximite.indicators.disclosure.primary import (
    COMPLEMENT,
    DEN,
    NUM,
    CellQuantities,
    cell_quantities,
    primary_cells,
)
from proximite.indicators.disclosure.recoverability import pinned_quantities

__all__ = ["Cells"]

# Safety net of the fixed point: more rounds than this means a bug, not a hard table.
_MAX_ROUNDS = 10_000


class Cells:
    """The people rows of a table: their quantities, additive groups and suppression state.

    Parameters
    ----------
    frame : DataFrame
        The people rows (not modified).
    unit, additive : ndarray
        Each row's unit and whether the catalogue calls its indicator additive.
    threshold : int, keyword-only
        The primary rule's threshold.
    territory : DataFrame or None, keyword-only
        The harmonised territory table (see :func:`~proximite.indicators.disclosure.groups.build_groups`).

    Attributes
    ----------
    primary, suppressed : ndarray of bool
        Hidden by the primary rule; hidden at all (updated by :meth:`protect`).
    """

    def __init__(
        self, frame: pd.DataFrame, unit: np.ndarray, additive: np.ndarray, *, threshold: int,
        territory: pd.DataFrame | None,
    ) -> None:
        self.m = len(frame)
        self.threshold = threshold
        quantities = cell_quantities(frame, unit)
        self.q, self.main_q, self.main = quantities.q, quantities.main_q, quantities.main
        self.share, self.complement = quantities.share, quantities.complement
        self.primary = primary_cells(quantities, threshold=threshold)
        self.level = frame["scope"].map({scope: rank for rank, scope in enumerate(SCOPES)}).to_numpy(dtype="int64")
        # Hidden cells as of the last exact check.
        self._checked = np.zeros(self.m, dtype=bool)
        with np.errstate(invalid="ignore"):
            # A complementary cell is best with every quantity positive (no zero to pin it).
            positive = np.where(np.isnan(self.q), True, self.q > 0).all(axis=0)
            self.all_positive = positive & np.where(self.share, ~(self.complement <= 0), True)
        self._attach_groups(build_groups(frame, territory), quantities, additive)

    def _attach_groups(self, groups: Groups, quantities: CellQuantities, additive_indicator: np.ndarray) -> None:
        """Keep the groups' memberships and equations, and count the primary cells in them."""
        self.slice_of_row = groups.slice_of_row
        self.G = groups.count
        self.group_parent = groups.group_parent
        self.mrow, self.mgid, self.mrole = groups.mrow, groups.mgid, groups.mrole
        self.by_group, self.group_starts = groups.by_group, groups.group_starts
        self.by_row, self.row_starts = groups.by_row, groups.row_starts
        equations = additivity(groups, quantities, additive_indicator)
        self.additive, self.active, self.n_repeats = equations.equations, equations.active, equations.n_repeats
        # Hidden non-zero values of each quantity per group (and of a share's m − k, which adds up
        # where k and m do), kept up to date by _suppress.
        self.q4 = np.vstack([self.q, self.complement])
        self.additive4 = np.vstack([self.additive, self.additive[NUM] & self.additive[DEN]])
        self.nonzero = np.nan_to_num(self.q4) != 0
        self.hidden_count = np.zeros((4, self.G))
        self.hidden_any = np.zeros(self.G)
        self.suppressed = np.zeros(self.m, dtype=bool)
        self._suppress(np.flatnonzero(self.primary))

    # ------------------------------------------------------------------ protection
    def protect(self) -> None:
        """Complementary suppression to a fixed point (group rule, then the exact check)."""
        if self.G == 0:
            return
        for _ in range(_MAX_ROUNDS):
            self._group_rule()
            leaks = self._recoverable()
            if not leaks:
                return
            if not self._repair(leaks):
                raise RuntimeError("disclosure control could not protect every suppressed cell")  # pragma: no cover
        raise RuntimeError("disclosure control did not reach a fixed point")  # pragma: no cover

    def suppress_more(self, rows: np.ndarray) -> None:
        """Hide more cells (chosen outside, e.g. by the audit) and protect again to a fixed point."""
        self._suppress(np.asarray(rows, dtype="int64"))
        self.protect()

    def _recoverable(self) -> list[tuple[int, int]]:
        """Hidden quantities the published cells pin down, checked where something changed."""
        dirty_rows = self.suppressed & ~self._checked
        self._checked = self.suppressed.copy()
        return pinned_quantities(self, dirty_rows)

    def _suppress(self, rows: np.ndarray) -> None:
        rows = np.unique(rows)
        rows = rows[~self.suppressed[rows]]
        self.suppressed[rows] = True
        if self.G == 0 or not len(rows):
            return
        memberships = self.by_row[_ranges(self.row_starts, rows)]
        groups, members = self.mgid[memberships], self.mrow[memberships]
        for quantity in range(4):
            np.add.at(self.hidden_count[quantity], groups, self.nonzero[quantity, members])
        np.add.at(self.hidden_any, groups, 1.0)
    def _group_rule(self) -> None:
        """No group may hide exactly one non-zero value of a quantity it adds up: add a published member.

        The quantities: numerator, denominator, n, and a share's m − k.

        Among the group's published members with that quantity positive: children before the
        parent, then the one in the most groups in need, then all quantities positive, then the
        smallest. Repeated until no group is in need (or none can be helped).
        """
        G = self.G
        stuck = np.zeros((4, G), dtype=bool)
        for _ in range(_MAX_ROUNDS):
            needy = self.additive4 & (self.hidden_count == 1) & ~stuck
            if not needy.any():
                return
            any_needy = np.flatnonzero(needy.any(axis=0))
            memberships = self.by_group[_ranges(self.group_starts, any_needy)]
            rows, groups = self.mrow[memberships], self.mgid[memberships]
            coverage = np.bincount(rows, minlength=self.m)
            published = ~self.suppressed[rows]
            picks = []
            for quantity in range(4):
                if not needy[quantity].any():
                    continue
                with np.errstate(invalid="ignore"):
                    candidates = np.flatnonzero(needy[quantity, groups] & published & (self.q4[quantity, rows] > 0))
                r = rows[candidates]
                main = np.where(self.main[r] > 0, self.main[r], np.inf)
                order = np.lexsort((r, main, ~self.all_positive[r], -coverage[r], -self.mrole[memberships[candidates]],
                                    groups[candidates]))
                candidates = candidates[order]
                g = groups[candidates]
                first = np.r_[True, g[1:] != g[:-1]] if len(g) else np.zeros(0, dtype=bool)
                served = np.zeros(G, dtype=bool)
                served[g[first]] = True
                stuck[quantity] |= needy[quantity] & ~served
                picks.append(rows[candidates[first]])
            self._suppress(self._fewest(np.concatenate(picks), needy.any(axis=0), coverage))
        raise RuntimeError("complementary suppression did not converge")  # pragma: no cover

    def _fewest(self, picks: np.ndarray, needy: np.ndarray, coverage: np.ndarray) -> np.ndarray:
        """Drop the picks whose groups another pick already serves (greedy, most groups first).

        Each group in need chose its own candidate; a candidate that sits in several of these
        groups serves them all, so the others' choices would hide cells for nothing.
        """
        picks = np.unique(picks)
        if len(picks) < 2:
            return picks
        picks = picks[np.lexsort((picks, -coverage[picks]))]
        served = np.zeros(self.G, dtype=bool)
        kept = []
        for row in picks:
            groups = self.mgid[self.by_row[self.row_starts[row]:self.row_starts[row + 1]]]
            groups = groups[needy[groups]]
            if len(groups) and served[groups].all():
                continue
            served[groups] = True
            kept.append(row)
        return np.asarray(kept, dtype="int64")

    def _repair(self, leaks: list[tuple[int, int]]) -> bool:
        """Hide one more published cell for each pinned quantity, as close to it as possible.

        The candidates are the published members of the pinned cell's groups; when all are hidden,
        those of the groups of the hidden members, and so on outwards (breadth first).
        """
        by_group, group_starts, by_row, row_starts = self.by_group, self.group_starts, self.by_row, self.row_starts
        if_complement = self.additive[NUM] | self.additive[DEN]
        # A candidate whose other groups already hide something closes a loop at once instead of
        # needing partners of its own: prefer the ones with most such groups.
        self._connected = np.bincount(self.mrow, weights=(self.hidden_any > 0)[self.mgid] & self.active[self.mgid],
                                      minlength=self.m)

        def groups_of(row: int, quantity: int) -> np.ndarray:
            mine = self.mgid[by_row[row_starts[row]:row_starts[row + 1]]]
            return mine[if_complement[mine] if quantity == COMPLEMENT else self.additive[quantity, mine]]

        chosen = np.zeros(self.m, dtype=bool)
        stranded: list[int] = []
        # Deepest cells first (territories, then regions, then Québec): a parent is often pinned
        # only because its children are, and then repairing the children frees it too.
        level = self.level
        for cell, quantity in sorted(leaks, key=lambda leak: (-level[leak[0]], leak)):
            seen_groups: set[int] = set()
            seen_rows = {cell}
            frontier = [int(g) for g in groups_of(cell, quantity)]
            while frontier:
                seen_groups.update(frontier)
                members = np.unique(np.concatenate(
                    [self.mrow[by_group[group_starts[g]:group_starts[g + 1]]] for g in frontier]))
                pick = self._best_candidate(members, quantity, exclude=chosen)
                if pick is not None:
                    chosen[pick] = True
                    break
                hidden = [int(r) for r in members if int(r) not in seen_rows]
                seen_rows.update(hidden)
                frontier = sorted({int(g) for r in hidden for g in groups_of(r, quantity)} - seen_groups)
            else:
                stranded.append(cell)
        if stranded:
            # Nothing published is left around the cell (possible only when a group's children
            # fall short of their parent): hide every non-zero cell of its slice.
            slices = np.unique(self.slice_of_row[stranded])
            chosen |= np.isin(self.slice_of_row, slices) & self.nonzero.any(axis=0) & ~self.suppressed
        if not chosen.any():
            return False
        self._suppress(np.flatnonzero(chosen))
        return True

    def _best_candidate(self, rows: np.ndarray, quantity: int, *, exclude: np.ndarray) -> int | None:
        """The published row with the quantity positive: all quantities positive first, then smallest.

        A row already chosen this round counts as hidden (so two leaks of a group share it).
        """
        amount = self.complement[rows] if quantity == COMPLEMENT else self.q[quantity, rows]
        with np.errstate(invalid="ignore"):
            ok = ~self.suppressed[rows] & (amount > 0)
        taken = exclude[rows] & ok
        if taken.any():
            return int(rows[taken][0])
        rows = rows[ok]
        if not len(rows):
            return None
        main = np.where(self.main[rows] > 0, self.main[rows], np.inf)
        return int(rows[np.lexsort((rows, main, ~self.all_positive[rows], -self._connected[rows]))[0]])


def _ranges(starts: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Concatenation of ``arange(starts[k], starts[k + 1])`` for each k in ``keys`` (vectorised)."""
    begin, end = starts[keys], starts[keys + 1]
    lengths = end - begin
    total = int(lengths.sum())
    if not total:
        return np.zeros(0, dtype="int64")
    offsets = np.repeat(begin - np.cumsum(np.r_[0, lengths[:-1]]), lengths)
    return np.arange(total, dtype="int64") + offsets


