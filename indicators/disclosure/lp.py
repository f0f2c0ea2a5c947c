"""Linear programmes over independent components, many hidden counts per programme (steps 4–5 of :mod:`.bounding`).

Every programme maximises a sum of capped auxiliaries, one per (hidden count, direction):

- *up*: :math:`y_j \\le T_j v + c_j`, :math:`y_j \\le t`, so :math:`y_j^* = \\min(t, T_j v^*)`;
- *down*: :math:`z_j + T_j v \\le t - c_j`, :math:`z_j \\le t`, so :math:`t - z_j^* = \\max(0, T_j v^*)`.

Both are bounded whatever the component, so a programme never comes back unbounded. With one
auxiliary per component the components are independent and each one's optimum is exact; with
several, the solution is a table that agrees with the file (a witness) and every hidden count is
read off it.

A programme need not span a whole component. Given one table that agrees with the file (a
*start*: the first witness of the component, or a table the caller knows, such as the one the
file was made from), a programme over a few unknowns around the counts still open, with every
other unknown kept at its start value, gives another agreeing table: a local witness, much
cheaper on a large component. Whole-component programmes are left for what local ones cannot
settle and for exact bounds.

An infeasible whole-component programme is split in halves until the components that
contradict themselves are found; their counts are reported as such.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from scipy.optimize import linprog

from proximite.indicators.disclosure.polyhedron import TOLERANCE, Problem, Solution, components_of

__all__ = ["BATCH_COLUMNS", "LOCAL_RADII", "WITNESS_ROUNDS", "ComponentSolver"]

UP, DOWN = 0, 1
#: Rounds of many-at-once witnesses over whole components, after the local ones.
WITNESS_ROUNDS = 3
#: Columns (unknowns and auxiliaries) of one programme: the solver's time grows faster than its
#: size, and a few milliseconds per call is the price of smaller ones.
BATCH_COLUMNS = 2000
#: Reach of the local programmes, in steps unknown → line → unknown around each open count.
LOCAL_RADII = (1, 2, 4)
#: A start value off its line by more than this is not a table that agrees with the file.
_START_SLACK = 1e-6


class ComponentSolver:
    """The open hidden counts of a reduced problem, their components and what the witnesses showed.

    Parameters
    ----------
    problem : Problem
        After merging and substitution (:mod:`.bounding`).
    constant : ndarray
        Each target's constant part (its fixed unknowns).
    open_targets : ndarray of int
        The targets propagation did not settle.
    start : ndarray, optional
        A value per unknown (NaN: none) that may agree with the file; used, component by
        component, only where it does.
    check : ndarray of bool, optional
        Unknowns whose components must be shown not to contradict themselves even without an
        open count (one agreeing table suffices).
    """

    def __init__(self, problem: Problem, constant: np.ndarray, open_targets: np.ndarray,
                 start: np.ndarray | None = None, check: np.ndarray | None = None) -> None:
        self.problem, self.constant, self.t = problem, constant, float(problem.threshold)
        n = problem.a.shape[1]
        targets = problem.targets[open_targets].tocsr()
        # Components of the lines and of the targets themselves (a target's unknowns stay together).
        label = components_of(sparse.vstack([problem.a, targets]).tocsr(), n)
        self.open, self.targets = open_targets, targets
        self.component, self.var_label = label[_first_unknown(targets)], label
        self.sizes = np.bincount(label, minlength=int(label.max(initial=-1)) + 1)
        coo = problem.a.tocoo()
        self.entries = (coo.row, coo.col, coo.data)
        self.incidence = (abs(problem.a) > 0).astype("float64").tocsr()
        self.low_seen = np.full(len(open_targets), np.inf)
        self.high_seen = np.full(len(open_targets), -np.inf)
        self.exact_low = np.full(len(open_targets), np.nan)
        self.exact_high = np.full(len(open_targets), np.nan)
        self.dead = np.zeros(len(self.sizes), dtype=bool)
        # Components a programme could not solve (neither optimal nor infeasible): nothing is claimed there.
        self.stuck = np.zeros(len(self.sizes), dtype=bool)
        self.programmes = 0
        # Components to show feasible: those asked for that hold a line (an unknown alone is within its bounds).
        self.must_check = np.zeros(len(self.sizes), dtype=bool)
        if check is not None:
            self.must_check[label[check & (problem.a.getnnz(axis=0) > 0)]] = True
        self.start = np.full(n, np.nan)
        self.has_start = np.zeros(len(self.sizes), dtype=bool)
        if start is not None:
            self._adopt_start(np.asarray(start, dtype="float64"))

    @property
    def dead_unknowns(self) -> np.ndarray:
        """Unknowns (a mask) whose component contradicts itself."""
        return self.dead[self.var_label]

    @property
    def unresolved_targets(self) -> np.ndarray:
        """Targets (indices of the problem) of a component the solver gave up on that no witness settled."""
        return self.open[self.stuck[self.component] & ~self.dead[self.component] & self._undecided()]

    # ------------------------------------------------------------------ phases
    def witnesses(self) -> None:
        """Tables that settle the open counts: a first one per component without a start; then, around the
        counts still open, local ones of growing reach, each reach pushing them to 0, then to ≥ t (a small
        count is most often moved to its siblings more easily than they to it); whole components for the rest."""
        fresh = np.flatnonzero(self._open() & ~self.has_start[self.component])
        # Components without an open count: one table (any) shows they do not contradict themselves.
        unchecked = np.flatnonzero(self.must_check & ~self.has_start)
        if len(fresh) or len(unchecked):
            self._programme(fresh, np.full(len(fresh), UP), also=unchecked)
        for radius in LOCAL_RADII:
            for direction in (DOWN, UP):
                jobs = np.flatnonzero(self._wanted(direction) & self.has_start[self.component])
                if len(jobs):
                    self._local(jobs, direction, radius)
        for direction in (UP, DOWN):
            self._whole(direction)

    def exact(self, solution: Solution) -> None:
        """Exact bounds where needed, one count per component per programme; then fill ``solution``."""
        while True:
            jobs, directions = self._exact_jobs()
            if not len(jobs):
                break
            self._programme(jobs, directions, exact=True)
        self._fill(solution)

    def _whole(self, direction: int) -> None:
        """Rounds of whole-component witnesses for the counts still open in ``direction``."""
        for _ in range(WITNESS_ROUNDS):
            jobs = np.flatnonzero(self._wanted(direction))
            if not len(jobs) or not self._programme(jobs, np.full(len(jobs), direction)):
                break
            if np.array_equal(np.flatnonzero(self._wanted(direction)), jobs):  # the next table would be the same
                break

    # ------------------------------------------------------------------ bookkeeping
    def _settled(self) -> np.ndarray:
        """Open counts a witness (or an exact bound) shows cannot be findings."""
        t = self.t
        high_known = self.high_seen >= t - TOLERANCE
        low_known = self.low_seen <= TOLERANCE
        wide = (self.low_seen <= 1 + TOLERANCE) & (self.high_seen >= t - 1 - TOLERANCE)
        return high_known | low_known | wide

    def _live(self) -> np.ndarray:
        """Open counts whose component is neither contradictory nor given up on."""
        return ~(self.dead | self.stuck)[self.component]

    def _open(self) -> np.ndarray:
        return ~self._settled() & self._live()

    def _undecided(self) -> np.ndarray:
        """Counts not settled, or whose lower bound is wanted and not yet shown to be below t."""
        low_wanted = self.problem.need_low[self.open] & ~(self.low_seen <= self.t - 1 + TOLERANCE)
        return ~self._settled() | low_wanted

    def _wanted(self, direction: int) -> np.ndarray:
        """Counts a witness pushing ``direction`` may still settle: open ones; downwards, also those whose lower
        bound is wanted."""
        return (~self._settled() if direction == UP else self._undecided()) & self._live()

    def _exact_jobs(self) -> tuple[np.ndarray, np.ndarray]:
        """One (count, direction) per live component: maxima first, then the minima that decide."""
        settled = self._settled()
        want_high = ~settled & np.isnan(self.exact_high)
        want_low = self._undecided() & np.isnan(self.exact_low) & ~want_high
        candidates = np.flatnonzero((want_high | want_low) & self._live())
        if not len(candidates):
            return candidates, candidates
        order = candidates[np.lexsort((candidates, ~want_high[candidates], self.component[candidates]))]
        first = np.r_[True, self.component[order][1:] != self.component[order][:-1]]
        jobs = order[first]
        return jobs, np.where(want_high[jobs], UP, DOWN)

    def _fill(self, solution: Solution) -> None:
        """Per open count: exact bounds where computed, else what the witnesses showed."""
        t = self.t
        # Without an exact maximum the count is settled (some table has it ≥ t, or 0, or both 1 and t − 1).
        high = np.where(np.isnan(self.exact_high) | (self.exact_high >= t - TOLERANCE), np.inf, self.exact_high)
        low = np.where(np.isnan(self.exact_low), np.maximum(np.minimum(self.low_seen, t), 0.0), self.exact_low)
        solution.low[self.open] = np.maximum(low, 0.0)
        solution.high[self.open] = high

    def _adopt_start(self, start: np.ndarray) -> None:
        """Keep the start of every component where it agrees with the file, and read the counts off it."""
        problem = self.problem
        bad_var = ~np.isfinite(start) | (start < problem.lower - _START_SLACK) | (start > problem.upper + _START_SLACK)
        residual = problem.a @ np.where(np.isfinite(start), start, 0.0) - problem.rhs
        bad_line = np.where(problem.equality, np.abs(residual) > _START_SLACK, residual > _START_SLACK)
        row, col, _ = self.entries
        bad = np.zeros(len(self.sizes), dtype=bool)
        bad[self.var_label[bad_var]] = True
        bad[self.var_label[col[bad_line[row]]]] = True
        self.has_start = ~bad
        self.start = np.where(self.has_start[self.var_label], start, np.nan)
        mine = np.flatnonzero(self.has_start[self.component])
        self._see(mine, self.start)

    def _see(self, mine: np.ndarray, point: np.ndarray) -> None:
        """Record the value each of the open counts ``mine`` takes in an agreeing table ``point``."""
        if not len(mine):
            return
        values = self.targets[mine] @ np.nan_to_num(point) + self.constant[self.open[mine]]
        self.low_seen[mine] = np.minimum(self.low_seen[mine], values)
        self.high_seen[mine] = np.maximum(self.high_seen[mine], values)

    # ------------------------------------------------------------------ programmes
    def _local(self, jobs: np.ndarray, direction: int, radius: int) -> None:
        """Witnesses from the start, free only within ``radius`` steps of each open count, in batches."""
        seed = np.zeros(self.problem.a.shape[1])
        seed[self.targets[jobs].indices] = 1.0
        free = seed > 0
        for _ in range(radius):
            lines = (self.incidence @ free.astype("float64")) > 0
            free |= (self.incidence.T @ lines.astype("float64")) > 0
        variables = np.flatnonzero(free)
        label = self.var_label[variables]
        components, sizes = np.unique(label, return_counts=True)
        per_component = np.bincount(np.searchsorted(components, self.component[jobs]), minlength=len(components))
        batch = np.cumsum(sizes + per_component) // BATCH_COLUMNS
        for number in np.unique(batch):
            part = components[batch == number]
            mine = np.isin(self.component[jobs], part)
            chosen = variables[np.isin(label, part)]
            status, x = self._solve(chosen, jobs[mine], np.full(int(mine.sum()), direction))
            if status == 0:
                point = self.start.copy()
                point[chosen] = x[:len(chosen)]
                self._see(np.flatnonzero(np.isin(self.component, part) & ~self.dead[self.component]), point)

    def _programme(self, jobs: np.ndarray, directions: np.ndarray, *, exact: bool = False,
                   also: np.ndarray | None = None) -> bool:
        """Solve for ``jobs`` over their whole components (and the components ``also``, for a table only), in
        batches of about :data:`BATCH_COLUMNS` columns (a batch is split while infeasible); False when nothing was
        solved."""
        components = np.union1d(self.component[jobs], np.zeros(0, dtype="int64") if also is None else also)
        per_component = np.bincount(np.searchsorted(components, self.component[jobs]), minlength=len(components))
        batch = np.cumsum(self.sizes[components] + per_component) // BATCH_COLUMNS
        solved = False
        for number in np.unique(batch):
            part = components[batch == number]
            mine = np.isin(self.component[jobs], part)
            solved |= self._solve_split(part, jobs[mine], directions[mine], exact)
        return solved

    def _solve_split(self, components: np.ndarray, jobs: np.ndarray, directions: np.ndarray, exact: bool) -> bool:
        variables = np.flatnonzero(np.isin(self.var_label, components))
        status, x = self._solve(variables, jobs, directions)
        if status == 0:
            self._record(components, variables, x, jobs, directions, exact)
            return True
        if len(components) == 1:
            if status == 2:
                self.dead[components] = True
            else:  # not solved (iteration limit, numerics): its open counts are reported as unresolved
                self.stuck[components] = True
            return False
        half = len(components) // 2
        solved = False
        for part in (components[:half], components[half:]):
            mine = np.isin(self.component[jobs], part)
            solved |= self._solve_split(part, jobs[mine], directions[mine], exact)
        return solved

    def _record(self, components: np.ndarray, variables: np.ndarray, x: np.ndarray, jobs: np.ndarray,
                directions: np.ndarray, exact: bool) -> None:
        """Read every open count of the components off the solution; exact optima for the jobs; a start for
        the components that had none."""
        n = len(variables)
        point = np.full(len(self.start), np.nan)
        point[variables] = x[:n]
        fresh = ~self.has_start[components]
        if fresh.any():
            newly = np.isin(self.var_label[variables], components[fresh])
            self.start[variables[newly]] = x[:n][newly]
            self.has_start[components[fresh]] = True
        self._see(np.flatnonzero(np.isin(self.component, components) & ~self.dead[self.component]), point)
        if exact:
            aux = x[n:]
            up = directions == UP
            self.exact_high[jobs[up]] = aux[up]
            self.exact_low[jobs[~up]] = self.t - aux[~up]

    def _solve(self, variables: np.ndarray, jobs: np.ndarray, directions: np.ndarray) -> tuple[int, np.ndarray]:
        """One programme free over ``variables`` (sorted), every other unknown of their lines at its start."""
        problem = self.problem
        free = np.zeros(problem.a.shape[1], dtype=bool)
        free[variables] = True
        row, col, data = self.entries
        touched = np.zeros(problem.a.shape[0], dtype=bool)
        touched[row[free[col]]] = True
        keep = touched[row]
        lines, line_codes = np.unique(row[keep], return_inverse=True)
        inside = free[col[keep]]
        local = np.searchsorted(variables, col[keep][inside])
        n, k = len(variables), len(jobs)
        a = sparse.csr_matrix((data[keep][inside], (line_codes[inside], local)), shape=(len(lines), n + k))
        outside = np.bincount(line_codes[~inside], weights=data[keep][~inside] * self.start[col[keep][~inside]],
                              minlength=len(lines))
        rhs = problem.rhs[lines] - outside
        jt = self.targets[jobs][:, variables]
        up = directions == UP
        sign = np.where(up, -1.0, 1.0)
        # up: y − T v ≤ c; down: z + T v ≤ t − c (the part of T outside ``variables`` is at its start).
        rest = self.targets[jobs] @ np.nan_to_num(np.where(free, 0.0, self.start)) + self.constant[self.open[jobs]]
        link = sparse.hstack([sparse.diags(sign, shape=(k, k)) @ jt, sparse.identity(k, format="csr")]).tocsr()
        link_rhs = np.where(up, rest, self.t - rest)
        equality = problem.equality[lines]
        a_ub = sparse.vstack([a[~equality], link]).tocsr()
        b_ub = np.r_[rhs[~equality], link_rhs]
        if not len(b_ub):  # a table only (no count to push), of equations only
            a_ub, b_ub = None, None
        a_eq, b_eq = (a[equality], rhs[equality]) if equality.any() else (None, None)
        bounds = np.c_[np.r_[problem.lower[variables], np.full(k, -np.inf)],
                       np.r_[problem.upper[variables], np.full(k, self.t)]]
        self.programmes += 1
        result = linprog(np.r_[np.zeros(n), -np.ones(k)], A_ub=a_ub, b_ub=b_ub, A_eq=a_eq, b_eq=b_eq, bounds=bounds,
                         method="highs")
        return result.status, result.x


def _first_unknown(targets: sparse.csr_matrix) -> np.ndarray:
    """The first unknown of each target (every target has one)."""
    coo = targets.tocoo()
    first = np.full(targets.shape[0], -1)
    first[coo.row[::-1]] = coo.col[::-1]
    return first
