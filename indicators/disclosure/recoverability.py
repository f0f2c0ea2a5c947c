"""The recoverability check: which hidden quantities the published cells pin down.

The hidden non-zero quantities are the unknowns of the linear system the additive groups give
(:mod:`~proximite.indicators.disclosure.groups`); an unknown is safe exactly when some move of
the unknowns that keeps every equation changes it (:func:`null_moves`). The property test checks
this against a linear-programming attack.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from proximite.indicators.disclosure.primary import COMPLEMENT, DEN, N, NUM

if TYPE_CHECKING:  # pragma: no cover
    from proximite.indicators.disclosure.complementary import Cells

__all__ = ["MOVE_SEED", "MOVE_TOLERANCE", "null_moves", "null_space", "pinned_quantities"]

#: A move below this is numerical noise (moves are O(1); the solver leaves ≲ 1e-10).
MOVE_TOLERANCE = 1e-7
#: Seed of the random moves: the same table gives the same output.
MOVE_SEED = 20240101


@dataclass(frozen=True)
class _System:
    """The equations on the unknowns: one entry per (equation, unknown, coefficient)."""

    eq: np.ndarray
    var: np.ndarray
    coef: np.ndarray


def pinned_quantities(cells: Cells, dirty_rows: np.ndarray) -> list[tuple[int, int]]:
    """Hidden quantities the published cells pin down: ``(row, quantity)``.

    Parameters
    ----------
    cells : Cells
        The people cells with their groups and suppression state (not modified).
    dirty_rows : ndarray of bool
        Cells hidden since the last check: only their slices, and in them the connected sets of
        unknowns they touch, are checked again.

    Returns
    -------
    list of (int, int)
        ``quantity`` is ``NUM``, ``DEN``, ``N`` or ``COMPLEMENT`` (a share's m − k).

    Notes
    -----
    Unknowns are the hidden quantities that are not 0. A hidden 0 is treated as known: it can
    only grow, so it may block every move of its neighbours (the attacker's bound ≥ 0), and a
    share hidden with numerator = denominator ties the two (k ≤ m). What is left is a linear
    system :math:`Az = 0` in which a small move along any null-space direction stays feasible, so
    an unknown is safe exactly when some null-space direction moves it.
    """
    m = cells.m
    dirty_slices = np.zeros(int(cells.slice_of_row.max(initial=0)) + 1, dtype=bool)
    dirty_slices[cells.slice_of_row[dirty_rows]] = True
    in_play = cells.suppressed & dirty_slices[cells.slice_of_row]
    unknown, required, complement_required = _unknowns(cells, in_play)
    system = _restrict_to_dirty(_equations(cells, unknown), dirty_rows, m)
    if system is None:
        return []
    eq_i, eq_codes = factorize(system.eq)
    var_i, var_codes = factorize(system.var)
    var_quantity, var_row = np.divmod(var_codes, m)
    moves = null_moves(eq_i, var_i, system.coef, len(eq_codes), len(var_codes))
    movable = np.abs(moves) > MOVE_TOLERANCE
    # An unknown that no move changes is pinned down.
    pinned_var = required[var_quantity, var_row] & ~movable.any(axis=1)
    leaks = [(int(var_row[v]), int(var_quantity[v])) for v in np.flatnonzero(pinned_var)]
    return leaks + _complement_leaks(complement_required, unknown, var_codes, moves, m)


def _unknowns(cells: Cells, in_play: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The unknown quantities, those that must stay hidden, and the shares whose m − k must."""
    q, m = cells.q, cells.m
    with np.errstate(invalid="ignore"):
        unknown = in_play[None, :] & ~np.isnan(q) & (q != 0)
        required = (q > 0) & (q < cells.threshold)
        required[cells.main_q, np.arange(m)] |= cells.main > 0
        # A share: its numerator, denominator and denominator − numerator all stay hidden.
        required[DEN] |= cells.share & (q[DEN] > 0)
        complement_required = in_play & cells.share & (cells.complement > 0)
    return unknown, required & unknown, complement_required


def _equations(cells: Cells, unknown: np.ndarray) -> _System:
    """(quantity, group) equations of the additive groups over their hidden non-zero members.

    An n equal to the count (or to the share's denominator) in every member of a group gives the
    same equation again: left out (its unknowns stand or fall with the count's). A share hidden
    with k = m adds the equation k − m = 0.
    """
    m, G, q = cells.m, cells.G, cells.q
    equations = cells.additive.copy()
    equations[N] &= ~cells.n_repeats
    eq, var, coef = [], [], []
    for quantity in range(3):
        keep = unknown[quantity, cells.mrow] & equations[quantity, cells.mgid]
        eq.append(quantity * G + cells.mgid[keep])
        var.append(quantity * m + cells.mrow[keep])
        coef.append(np.where(cells.mrole[keep] == 0, 1.0, -1.0))
    with np.errstate(invalid="ignore"):
        tied = np.flatnonzero(unknown[NUM] & unknown[DEN] & (q[NUM] == q[DEN]))
    if len(tied):
        ids = 3 * G + np.arange(len(tied))
        eq += [ids, ids]
        var += [NUM * m + tied, DEN * m + tied]
        coef += [np.ones(len(tied)), -np.ones(len(tied))]
    return _System(np.concatenate(eq), np.concatenate(var), np.concatenate(coef))


def _restrict_to_dirty(system: _System, dirty_rows: np.ndarray, m: int) -> _System | None:
    """Only the connected sets of unknowns that hold a newly hidden cell (None when none is left)."""
    if not len(system.eq):
        return None
    eq_i, eq_codes = factorize(system.eq)
    var_i, var_codes = factorize(system.var)
    graph = sparse.coo_matrix((np.ones(len(eq_i)), (var_i, len(var_codes) + eq_i)),
                              shape=(len(var_codes) + len(eq_codes),) * 2)
    _, label = connected_components(graph, directed=False)
    dirty = np.zeros(label.max() + 1, dtype=bool)
    dirty[label[: len(var_codes)][dirty_rows[var_codes % m]]] = True
    keep = dirty[label[var_i]]
    if not keep.any():
        return None
    return _System(system.eq[keep], system.var[keep], system.coef[keep])


def _complement_leaks(
    complement_required: np.ndarray, unknown: np.ndarray, var_codes: np.ndarray, moves: np.ndarray, m: int
) -> list[tuple[int, int]]:
    """Shares whose m − k no move changes: e_m − e_k (e_m alone when k is a known 0; nothing when m is)."""
    rows = np.flatnonzero(complement_required)
    den = position(var_codes, DEN * m + rows)
    num = position(var_codes, NUM * m + rows)
    # Skipped: m free or a known 0; k hidden, non-zero and in no equation (then k is free).
    keep = (den >= 0) & ~(unknown[NUM, rows] & (num < 0))
    rows, den, num = rows[keep], den[keep], num[keep]
    change = moves[den] - np.where((num >= 0)[:, None], moves[np.maximum(num, 0)], 0.0)
    return [(int(row), COMPLEMENT) for row in rows[~(np.abs(change) > MOVE_TOLERANCE).any(axis=1)]]


def factorize(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Codes and sorted uniques (``np.unique(return_inverse=True)`` by hashing, faster on big arrays)."""
    codes, uniques = pd.factorize(values, sort=True)
    return codes.astype("int64"), np.asarray(uniques)


def position(sorted_codes: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Index of each code in ``sorted_codes`` (−1 when absent)."""
    if not len(sorted_codes):
        return np.full(len(codes), -1)
    where = np.minimum(np.searchsorted(sorted_codes, codes), len(sorted_codes) - 1)
    found = sorted_codes[where] == codes
    return np.where(found, where, -1)


def null_moves(eq: np.ndarray, var: np.ndarray, coefficient: np.ndarray, lines: int, columns: int) -> np.ndarray:
    """A random move of the unknowns that keeps every equation (columns × 1).

    Parameters
    ----------
    eq, var : ndarray of int
        Equation and unknown of each non-zero coefficient (0-based, below ``lines``, ``columns``).
    coefficient : ndarray of float
    lines, columns : int
        The numbers of equations and unknowns.

    Returns
    -------
    ndarray, shape (columns, 1)

    Notes
    -----
    A move :math:`z` keeps the equations when :math:`Az = 0`. The orthogonal projection of a
    random :math:`r` on the null space, :math:`z = r - A^\\top y` with
    :math:`y = \\arg\\min \\lVert A^\\top y - r \\rVert` (conjugate gradients on the sparse
    system, :func:`_cgls`), is almost surely non-zero on every coordinate that some move
    changes, and 0 on the others; likewise for any linear function :math:`f^\\top z`. The
    random seed is fixed, so the same table gives the same output. The projection is repeated
    while :math:`\\lVert Az \\rVert_\\infty > 10^{-10}`; after three passes each connected set
    of unknowns is solved exactly instead (Gauss–Jordan, :func:`null_space`).
    """
    rng = np.random.default_rng(MOVE_SEED)
    # Unit-length equations: the same null space and projection, in about half the iterations.
    row_norms = np.sqrt(np.bincount(eq, weights=coefficient**2, minlength=lines))
    matrix = sparse.csr_matrix((coefficient / row_norms[eq], (eq, var)), shape=(lines, columns))
    transposed = matrix.T.tocsr()
    move = rng.standard_normal(columns)
    for _ in range(3):  # a further pass removes what the previous one left in the row space
        move = _cgls(matrix, transposed, move, maxiter=max(1000, 4 * columns))
        if np.abs(matrix @ move).max(initial=0.0) <= 1e-10:
            return move[:, None]
    return _exact_moves(eq, var, coefficient, lines, columns, rng)


def _exact_moves(
    eq: np.ndarray, var: np.ndarray, coefficient: np.ndarray, lines: int, columns: int, rng: np.random.Generator
) -> np.ndarray:
    """The exact fallback of :func:`null_moves`, one connected set of unknowns at a time."""
    graph = sparse.coo_matrix((np.ones(len(eq)), (var, columns + eq)), shape=(columns + lines,) * 2)
    _, label = connected_components(graph, directed=False)
    moves = np.zeros((columns, 1))
    order = np.argsort(label[var], kind="stable")
    eq, var, coefficient = eq[order], var[order], coefficient[order]
    component = label[var]
    bounds = np.flatnonzero(np.r_[True, component[1:] != component[:-1], True])
    for begin, end in pairwise(bounds):
        variables = np.unique(var[begin:end])
        equations, line = np.unique(eq[begin:end], return_inverse=True)
        column = np.searchsorted(variables, var[begin:end])
        basis = null_space(line, column, coefficient[begin:end], len(equations), len(variables))
        moves[variables] = basis @ rng.standard_normal((basis.shape[1], 1))
    return moves


def _cgls(matrix: sparse.csr_matrix, transposed: sparse.csr_matrix, start: np.ndarray, *, maxiter: int) -> np.ndarray:
    """The residual :math:`z = r - A^\\top y` of :math:`\\min_y \\lVert A^\\top y - r \\rVert` (CGLS).

    Notes
    -----
    Conjugate gradients on the normal equations :math:`AA^\\top y = Ar` (Hestenes–Stiefel
    CGLS), stopped when :math:`\\lVert Az \\rVert_\\infty \\le 10^{-12}`. Inner products are
    plain NumPy sums, not BLAS: on a busy machine a threaded BLAS spends more time waiting
    than computing on vectors of this size.
    """
    z = start.copy()
    s = matrix @ z
    p = s.copy()
    gamma = float((s * s).sum())
    for _ in range(maxiter):
        if np.abs(s).max(initial=0.0) <= 1e-12:
            break
        q = transposed @ p
        alpha = gamma / float((q * q).sum())
        z -= alpha * q
        s = matrix @ z
        gamma_next = float((s * s).sum())
        p = s + (gamma_next / gamma) * p
        gamma = gamma_next
    return z


def null_space(line: np.ndarray, column: np.ndarray, coefficient: np.ndarray, lines: int, columns: int) -> np.ndarray:
    """A basis (unknowns × dimension) of the moves of the unknowns that keep every equation.

    Parameters
    ----------
    line, column : ndarray of int
        Equation and unknown of each non-zero coefficient.
    coefficient : ndarray of float
    lines, columns : int
        The numbers of equations and unknowns.

    Returns
    -------
    ndarray, shape (columns, dimension of the null space)

    Notes
    -----
    Gauss–Jordan elimination with partial pivoting of :math:`A` (the equations restricted to
    the unknowns: parent +1, children −1) gives :math:`R = \\mathrm{rref}(A)`; each free column
    :math:`c` yields the null vector :math:`v` with :math:`v_c = 1`, :math:`v_{p(r)} = -R_{rc}`
    at the pivot of row :math:`r`, 0 elsewhere. A linear function :math:`f^\\top x` of the unknowns
    is pinned down by the published cells exactly when :math:`N^\\top f = 0`. (Plain NumPy
    rather than LAPACK: the systems are small and many, and threaded BLAS only adds overhead.)
    """
    a = np.zeros((lines, columns))
    np.add.at(a, (line, column), coefficient)
    pivots: list[int] = []
    r = 0
    for c in range(columns):
        if r == lines:
            break
        p = r + int(np.argmax(np.abs(a[r:, c])))
        if abs(a[p, c]) < 1e-9:
            continue
        if p != r:
            a[[r, p]] = a[[p, r]]
        a[r] /= a[r, c]
        factors = a[:, c].copy()
        factors[r] = 0.0
        nonzero = np.flatnonzero(factors)
        if len(nonzero):
            a[nonzero] -= factors[nonzero, None] * a[r]
        pivots.append(c)
        r += 1
    free = np.setdiff1d(np.arange(columns), pivots)
    basis = np.zeros((columns, len(free)))
    basis[free, np.arange(len(free))] = 1.0
    if pivots:
        basis[pivots] = -a[: len(pivots)][:, free]
    return basis
