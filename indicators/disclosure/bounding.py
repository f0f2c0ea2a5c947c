"""Bounds of many hidden counts over one polyhedron, fast enough to run on every snapshot.

The attacker of :mod:`.audit` needs, for each hidden count :math:`x_j = T_j v`, whether its
integer bounds over :math:`\\{v : A_{eq} v = b_{eq},\\ A_{ub} v \\le b_{ub},\\ l \\le v \\le u\\}`
make it a *finding* (known to be a small non-zero count more precisely than "1 to t − 1"), and
the exact bounds of the findings. :func:`bound_targets` gets there with few linear programmes:

1. **equalities merged**: a line :math:`v_a - v_b = 0` (n = count, a shared denominator, a
   quantity equal across indicators) makes the two one unknown (bounds intersected);
2. **interval propagation**: each line bounds each of its unknowns by the others' bounds,
   rounded to whole numbers (counts are), until nothing moves; unknowns it fixes are
   substituted, and a count whose propagated bounds are 0, or at least *t*, is settled;
3. **independent components**: what is left splits into sets of unknowns no line links;
4. **witnesses, many at once**: a table that agrees with the file settles every count it puts at
   0 or at ≥ *t* (no finding), and so do two tables that put it at ≤ 1 and ≥ *t* − 1. The first
   is the caller's *start* (the table the file was made from, where it agrees) or one programme
   per component; then programmes over the unknowns a few lines around the counts still open,
   every other unknown at its start value, each maximising :math:`\\sum_j \\min(T_j v, t)` (or the
   same towards 0), many counts per programme (:mod:`.lp`); whole components for what is left;
5. **exact bounds** for what is left: components are independent, so one programme that
   optimises the sum of one count per component gives each of them its own optimum.

Every part of a set of unknowns the file links that holds a count is shown not to contradict
itself (propagation, the start, or a programme); where one does, its counts are *infeasible* and
the audit solves them again without its guesses.

Everything here is pure: arrays in, arrays out.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from proximite.indicators.disclosure.lp import ComponentSolver
from proximite.indicators.disclosure.polyhedron import TOLERANCE, Problem, Solution, components_of

__all__ = ["PROPAGATION_ROUNDS", "bound_targets", "propagate"]

#: Rounds of interval propagation (each tightens by whole numbers; more means slow convergence).
PROPAGATION_ROUNDS = 60


def bound_targets(problem: Problem) -> Solution:
    """Bound every hidden count of ``problem`` (see the module docstring).

    A count is infeasible (``feasible`` False) when the lines linked to its unknowns contradict
    each other (the attacker's guesses do not hold): propagation, an equality merged into a
    contradiction, or a programme shows it, on any part of them.
    """
    k, n = problem.targets.shape
    solution = Solution(np.zeros(k), np.full(k, np.inf), np.ones(k, dtype=bool), unresolved=np.zeros(k, dtype=bool))
    if not k:
        return solution
    merged, label, contradicted = _merge_equalities(problem)
    # The sets of linked unknowns of the file itself: feasibility is decided for each of them as a whole.
    original = components_of(problem.a, n)
    of_class = np.zeros(merged.a.shape[1], dtype="int64")
    of_class[label] = original
    lower, upper, infeasible = propagate(merged, merged.lower, merged.upper)
    dead = np.zeros(int(original.max(initial=-1)) + 1, dtype=bool)
    dead[of_class[infeasible | contradicted]] = True
    dead_class = dead[of_class]
    lower, upper = np.where(dead_class, 0.0, lower), np.where(dead_class, 0.0, upper)
    reduced, constant, free = _fix(merged, lower, upper)
    t_low, t_high = _outer(reduced.targets, reduced.lower, reduced.upper, constant)
    # A count whose unknowns are in no line is bounded by their intervals alone, exactly.
    alone = ~_touches(reduced.targets, reduced.a.getnnz(axis=0) > 0)
    dead_target = _touches(abs(problem.targets), dead[original])
    settled = ~dead_target & ((t_high <= TOLERANCE) | (t_low >= problem.threshold - TOLERANCE) | alone)
    solution.low[settled], solution.high[settled] = t_low[settled], t_high[settled]
    open_ = ~dead_target & ~settled
    # Every part of a set of linked unknowns that holds a count must be shown not to contradict itself.
    holds_count = np.zeros(len(dead), dtype=bool)
    holds_count[original[problem.targets.indices]] = True
    check = holds_count[of_class[free]] & ~dead_class[free]
    if open_.any() or check.any():
        dead_free = _solve_open(reduced, constant, open_, check, solution)
        dead[of_class[free[dead_free]]] = True
    solution.feasible = ~_touches(abs(problem.targets), dead[original])
    return solution


def _distinct(targets: sparse.csr_matrix, constant: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct linear forms among ``rows`` of ``targets`` (after merging, n and a count are often one):
    the rows kept and, for each of ``rows``, the position of its form among them."""
    sub = targets[rows].tocsr()
    sub.sort_indices()
    width = int(sub.getnnz(axis=1).max(initial=0))
    key = np.zeros((len(rows), 2 * width + 1))
    for slot in range(width):
        has = sub.indptr[:-1] + slot < sub.indptr[1:]
        at = np.where(has, sub.indptr[:-1] + slot, 0)
        key[:, slot] = np.where(has, sub.indices[at] if len(sub.indices) else 0, -1)
        key[:, width + slot] = np.where(has, sub.data[at] if len(sub.data) else 0, 0.0)
    key[:, -1] = constant[rows]
    _, first, inverse = np.unique(key, axis=0, return_index=True, return_inverse=True)
    return rows[first], inverse.ravel()


def _touches(targets: sparse.csr_matrix, variables: np.ndarray) -> np.ndarray:
    """Targets with a non-zero coefficient on any of the flagged unknowns."""
    return (abs(targets) @ np.asarray(variables, dtype="float64")) > 0


def _merge_equalities(problem: Problem) -> tuple[Problem, np.ndarray, np.ndarray]:
    """Merge the unknowns of every line :math:`c (v_a - v_b) = 0` into one; drop the lines left empty.

    Also returns the merged unknown of each unknown and, per merged unknown, whether a line left
    empty contradicts itself there (such as :math:`v_a - v_b = 1` once :math:`v_a = v_b`): the
    file contradicts the attacker's guesses.
    """
    a = problem.a.tocsr()
    counts = a.getnnz(axis=1)
    two = np.flatnonzero(problem.equality & (counts == 2) & (problem.rhs == 0))
    if len(two):
        rows = a[two]
        data = rows.data.reshape(-1, 2)
        pairs = rows.indices.reshape(-1, 2)[np.abs(data.sum(axis=1)) <= 1e-12]
    else:
        pairs = np.zeros((0, 2), dtype="int64")
    n = a.shape[1]
    graph = sparse.coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    classes, label = connected_components(graph, directed=False)
    merge = sparse.csr_matrix((np.ones(n), (np.arange(n), label)), shape=(n, classes))
    lower = np.full(classes, -np.inf)
    np.maximum.at(lower, label, problem.lower)
    upper = np.full(classes, np.inf)
    np.minimum.at(upper, label, problem.upper)
    integral = np.zeros(classes, dtype=bool)
    np.logical_or.at(integral, label, problem.integral)
    merged = (a @ merge).tocsr()
    merged.eliminate_zeros()
    keep = merged.getnnz(axis=1) > 0
    broken = ~keep & np.where(problem.equality, np.abs(problem.rhs) > TOLERANCE, problem.rhs < -TOLERANCE)
    contradicted = np.zeros(classes, dtype=bool)
    contradicted[label[a[np.flatnonzero(broken)].indices]] = True
    a = merged
    targets = (problem.targets @ merge).tocsr()
    targets.eliminate_zeros()
    start = None
    if problem.start is not None:
        # One value per merged unknown, where its members agree on one.
        # A member without a value (NaN, read as +inf) makes its class's maximum infinite.
        values = np.where(np.isnan(problem.start), np.inf, problem.start)
        low, high = np.full(classes, np.inf), np.full(classes, -np.inf)
        np.minimum.at(low, label, values)
        np.maximum.at(high, label, values)
        start = np.where((low == high) & np.isfinite(low), low, np.nan)
    return Problem(a[keep], problem.equality[keep], problem.rhs[keep], lower, upper, integral, targets,
                   problem.threshold, problem.need_low, start), label, contradicted


def propagate(problem: Problem, lower: np.ndarray, upper: np.ndarray,
              rounds: int = PROPAGATION_ROUNDS) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Interval propagation: the bounds each line implies on each unknown, to a fixed point.

    Returns the tightened lower and upper bounds and a mask of unknowns whose bounds cross
    (the system is infeasible there).

    Notes
    -----
    For a line :math:`\\sum_k a_k v_k = b` (or ``≤``) and an unknown :math:`v_j`:
    :math:`a_j v_j \\in [b - \\max \\sum_{k \\ne j} a_k v_k,\\ b - \\min \\sum_{k \\ne j} a_k v_k]`
    (only the right end for ``≤``), with the sums over the others' bounds; a bound of a whole
    number is rounded inwards. Unknowns are ≥ 0, so only an infinite upper bound needs care.
    """
    coo = problem.a.tocoo()
    row, col, coef = coo.row, coo.col, coo.data
    lines = problem.a.shape[0]
    lower, upper = lower.astype("float64").copy(), upper.astype("float64").copy()
    equality = problem.equality[row]
    rhs = problem.rhs[row]
    integral = problem.integral
    positive = coef > 0
    for _ in range(rounds):
        lo_part = np.where(positive, coef * lower[col], coef * upper[col])  # −inf only when a < 0, u = ∞
        hi_part = np.where(positive, coef * upper[col], coef * lower[col])  # +inf only when a > 0, u = ∞
        min_rest = _rest(row, lo_part, lines, -1.0)
        max_rest = _rest(row, hi_part, lines, 1.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            from_min = (rhs - min_rest) / coef  # a v ≤ b − min(rest)
            from_max = np.where(equality, (rhs - max_rest) / coef, np.nan)  # a v ≥ b − max(rest)
        new_upper = np.where(positive, from_min, from_max)
        new_lower = np.where(positive, from_max, from_min)
        tight_upper = np.full(len(upper), np.inf)
        np.fmin.at(tight_upper, col, np.where(np.isnan(new_upper), np.inf, new_upper))
        tight_lower = np.full(len(lower), -np.inf)
        np.fmax.at(tight_lower, col, np.where(np.isnan(new_lower), -np.inf, new_lower))
        tight_upper = np.where(integral, np.floor(tight_upper + TOLERANCE), tight_upper)
        tight_lower = np.where(integral, np.ceil(tight_lower - TOLERANCE), tight_lower)
        moved = (tight_upper < upper - TOLERANCE) | (tight_lower > lower + TOLERANCE)
        upper, lower = np.minimum(upper, tight_upper), np.maximum(lower, tight_lower)
        if not moved.any():
            break
    infeasible = lower > upper + TOLERANCE
    close = ~infeasible & (lower > upper)
    lower[close] = upper[close] = (lower[close] + upper[close]) / 2
    return lower, upper, infeasible


def _rest(row: np.ndarray, part: np.ndarray, lines: int, sign: float) -> np.ndarray:
    """Per entry, the sum of the other entries' parts of its line (±inf when one of them is infinite)."""
    infinite = np.isinf(part)
    finite_sum = np.bincount(row, weights=np.where(infinite, 0.0, part), minlength=lines)
    infinite_count = np.bincount(row, weights=infinite, minlength=lines)
    others_infinite = infinite_count[row] - infinite
    rest = finite_sum[row] - np.where(infinite, 0.0, part)
    return np.where(others_infinite > 0, sign * np.inf, rest)


def _fix(problem: Problem, lower: np.ndarray, upper: np.ndarray) -> tuple[Problem, np.ndarray, np.ndarray]:
    """Substitute the unknowns whose bounds meet; the targets' constant parts and the unknowns left (indices)."""
    fixed = upper - lower <= TOLERANCE
    value = np.where(fixed, lower, 0.0)
    free = np.flatnonzero(~fixed)
    a = problem.a
    rhs = problem.rhs - a @ value
    a = a[:, free].tocsr()
    keep = a.getnnz(axis=1) > 0
    constant = problem.targets @ value
    targets = problem.targets[:, free].tocsr()
    start = None if problem.start is None else problem.start[free]
    reduced = Problem(a[keep], problem.equality[keep], rhs[keep], lower[free], upper[free], problem.integral[free],
                      targets, problem.threshold, problem.need_low, start)
    return reduced, constant, free


def _outer(targets: sparse.csr_matrix, lower: np.ndarray, upper: np.ndarray, constant: np.ndarray
           ) -> tuple[np.ndarray, np.ndarray]:
    """Bounds of each target from its unknowns' intervals alone (valid, not tight)."""
    positive, negative = targets.maximum(0), targets.minimum(0)
    with np.errstate(invalid="ignore"):
        finite_upper = np.where(np.isfinite(upper), upper, 0.0)
        infinite = (~np.isfinite(upper)).astype("float64")
        infinite_up = (abs(positive) @ infinite) > 0
        infinite_down = (abs(negative) @ infinite) > 0
        low = positive @ lower + negative @ finite_upper + constant
        high = positive @ finite_upper + negative @ lower + constant
    return np.where(infinite_down, -np.inf, low), np.where(infinite_up, np.inf, high)


def _solve_open(problem: Problem, constant: np.ndarray, open_: np.ndarray, check: np.ndarray,
                solution: Solution) -> np.ndarray:
    """Witnesses, then exact bounds, for the counts propagation did not settle (updates ``solution``); whether
    the components of the unknowns ``check`` contradict themselves. Returns the unknowns of the components that
    do (a mask)."""
    rows = np.flatnonzero(open_)
    distinct, inverse = _distinct(problem.targets, constant, rows)
    need_low = np.zeros(problem.targets.shape[0], dtype=bool)
    np.logical_or.at(need_low, distinct[inverse], problem.need_low[rows])
    problem = Problem(problem.a, problem.equality, problem.rhs, problem.lower, problem.upper, problem.integral,
                      problem.targets, problem.threshold, need_low, problem.start)
    solver = ComponentSolver(problem, constant, distinct, problem.start, check)
    solver.witnesses()
    solver.exact(solution)
    solution.low[rows], solution.high[rows] = solution.low[distinct][inverse], solution.high[distinct][inverse]
    stuck = np.zeros(problem.targets.shape[0], dtype=bool)
    stuck[solver.unresolved_targets] = True
    solution.unresolved[rows] = stuck[distinct][inverse]
    solution.programmes = solver.programmes
    return solver.dead_unknowns
