"""Linear programmes over independent components, many hidden counts per programme (steps 4–5 of :mod:`.bounding`).

Every programme maximises a sum of capped auxiliaries, one per (hidden count, direction):

- *up*: :math:`y_j \\le T_j v + c_j`, :math:`y_j \\le t`, so :math:`y_j^* = \\min(t, T_j v^*)`;
- *down*: :math:`z_j + T_j v \\le t - c_j`, :math:`z_j \\le t`, so :math:`t - z_j^* = \\max(0, T_j v^*)`.

Both are bounded whatever the component, so a programme never comes back unbounded. With one
auxiliary per component the components are independent and each one's optimum is exact; with
several, the solution is a table that agrees with the file (a witness) and every hidden count is
read off it. An infeasible programme is split in halves until the components that contradict
themselves are found; their counts are reported as such.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from scipy.optimize import linprog

from proximite.indicators.disclosure.polyhedron import TOLERANCE, Problem, Solution, components_of

__all__ = ["ComponentSolver"]

UP, DOWN = 0, 1
#: Rounds of many-at-once witnesses before exact bounds.
WITNESS_ROUNDS = 3
#: Columns (unknowns and auxiliaries) of one programme: the solver's time grows faster than its
#: size, and a few milliseconds per call is the price of smaller ones.
BATCH_COLUMNS = 2000


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
    """

    def __init__(self, problem: Problem, constant: np.ndarray, open_targets: np.ndarray) -> None:
        self.problem, self.constant, self.t = problem, constant, float(problem.threshold)
        n = problem.a.shape[1]
        targets = problem.targets[open_targets]
        # Components of the lines and of the targets themselves (a target's unknowns stay together).
        label = components_of(sparse.vstack([problem.a, targets]).tocsr(), n)
        tcoo = targets.tocoo()
        first = np.full(len(open_targets), -1)
        first[tcoo.row[::-1]] = tcoo.col[::-1]
        self.open = open_targets
        self.component = label[first]
        self.var_label = label
        self.sizes = np.bincount(label)
        coo = problem.a.tocoo()
        self.line_label = np.full(problem.a.shape[0], -1)
        self.line_label[coo.row] = label[coo.col]
        self.entries = (coo.row, coo.col, coo.data)
        self.targets = targets
        self.low_seen = np.full(len(open_targets), np.inf)
        self.high_seen = np.full(len(open_targets), -np.inf)
        self.exact_low = np.full(len(open_targets), np.nan)
        self.exact_high = np.full(len(open_targets), np.nan)
        self.dead = np.zeros(int(label.max(initial=-1)) + 1, dtype=bool)
        self.programmes = 0

    @property
    def infeasible_targets(self) -> np.ndarray:
        """Targets (indices of the problem) whose component contradicts itself."""
        return self.open[self.dead[self.component]]

    # ------------------------------------------------------------------ phases
    def witnesses_up(self) -> None:
        """Tables that put as many open counts as possible at ≥ t (a few rounds, all components at once)."""
        for _ in range(WITNESS_ROUNDS):
            jobs = np.flatnonzero(~self._settled() & ~self.dead[self.component])
            if not len(jobs) or not self._programme(jobs, np.full(len(jobs), UP)):
                break

    def witnesses_down(self) -> None:
        """Tables that put as many open counts as possible at 0 (those still open after :meth:`witnesses_up`)."""
        for _ in range(WITNESS_ROUNDS):
            need = ~self._settled() | (self._needs_low() & ~(self.low_seen <= self.t - 1 + TOLERANCE))
            jobs = np.flatnonzero(need & ~self.dead[self.component])
            if not len(jobs) or not self._programme(jobs, np.full(len(jobs), DOWN)):
                break

    def exact(self, solution: Solution) -> None:
        """Exact bounds where needed, one count per component per programme; then fill ``solution``."""
        while True:
            jobs, directions = self._exact_jobs()
            if not len(jobs):
                break
            self._programme(jobs, directions, exact=True)
        self._fill(solution)

    # ------------------------------------------------------------------ bookkeeping
    def _settled(self) -> np.ndarray:
        """Open counts a witness (or an exact bound) shows cannot be findings."""
        t = self.t
        high_known = self.high_seen >= t - TOLERANCE
        low_known = self.low_seen <= TOLERANCE
        wide = (self.low_seen <= 1 + TOLERANCE) & (self.high_seen >= t - 1 - TOLERANCE)
        return high_known | low_known | wide

    def _needs_low(self) -> np.ndarray:
        return self.problem.need_low[self.open]

    def _exact_jobs(self) -> tuple[np.ndarray, np.ndarray]:
        """One (count, direction) per live component: maxima first, then the minima that decide."""
        settled = self._settled()
        want_high = ~settled & np.isnan(self.exact_high)
        low_decides = (~settled | (self._needs_low() & ~(self.low_seen <= self.t - 1 + TOLERANCE)))
        want_low = low_decides & np.isnan(self.exact_low) & ~want_high
        candidates = np.flatnonzero((want_high | want_low) & ~self.dead[self.component])
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

    # ------------------------------------------------------------------ programmes
    def _programme(self, jobs: np.ndarray, directions: np.ndarray, *, exact: bool = False) -> bool:
        """Solve for ``jobs`` over their components, in batches of about :data:`BATCH_COLUMNS` columns (a
        batch is split while infeasible); False when nothing was solved."""
        components, per_component = np.unique(self.component[jobs], return_counts=True)
        columns = self.sizes[components] + per_component
        batch = np.cumsum(columns) // BATCH_COLUMNS
        solved = False
        for number in np.unique(batch):
            part = components[batch == number]
            mine = np.isin(self.component[jobs], part)
            solved |= self._solve_split(part, jobs[mine], directions[mine], exact)
        return solved

    def _solve_split(self, components: np.ndarray, jobs: np.ndarray, directions: np.ndarray, exact: bool) -> bool:
        status, x, variables = self._solve(components, jobs, directions)
        if status == 0:
            self._record(components, x, variables, jobs, directions, exact)
            return True
        if len(components) == 1:
            if status == 2:
                self.dead[components] = True
            else:  # not solved (iteration limit, numerics): claim nothing about its counts
                self._give_up(jobs)
            return False
        half = len(components) // 2
        solved = False
        for part in (components[:half], components[half:]):
            mine = np.isin(self.component[jobs], part)
            solved |= self._solve_split(part, jobs[mine], directions[mine], exact)
        return solved

    def _give_up(self, jobs: np.ndarray) -> None:
        self.high_seen[jobs] = np.inf
        self.low_seen[jobs] = -np.inf

    def _solve(self, components: np.ndarray, jobs: np.ndarray, directions: np.ndarray):
        """One programme over the components; returns (status, solution, the unknowns it covers)."""
        problem = self.problem
        variables = np.flatnonzero(np.isin(self.var_label, components))
        local = np.full(problem.a.shape[1], -1)
        local[variables] = np.arange(len(variables))
        row, col, data = self.entries
        keep = np.isin(self.line_label[row], components)
        lines, line_codes = np.unique(row[keep], return_inverse=True)
        a = sparse.csr_matrix((data[keep], (line_codes, local[col[keep]])), shape=(len(lines), len(variables)))
        n, k = len(variables), len(jobs)
        jt = self.targets[jobs][:, variables].tocsr()
        sign = np.where(directions == UP, -1.0, 1.0)
        # up: y − T v ≤ c; down: z + T v ≤ t − c.
        link = sparse.hstack([sparse.diags(sign) @ jt, sparse.identity(k, format="csr")]).tocsr()
        link_rhs = np.where(directions == UP, self.constant[self.open[jobs]], self.t - self.constant[self.open[jobs]])
        equality = problem.equality[lines]
        pad = sparse.csr_matrix((len(lines), k))
        full = sparse.hstack([a, pad]).tocsr()
        a_ub = sparse.vstack([full[~equality], link]).tocsr()
        b_ub = np.r_[problem.rhs[lines][~equality], link_rhs]
        a_eq = full[equality] if equality.any() else None
        b_eq = problem.rhs[lines][equality] if equality.any() else None
        bounds = np.c_[np.r_[problem.lower[variables], np.full(k, -np.inf)],
                       np.r_[problem.upper[variables], np.full(k, self.t)]]
        c = np.r_[np.zeros(n), -np.ones(k)]
        self.programmes += 1
        result = linprog(c, A_ub=a_ub, b_ub=b_ub, A_eq=a_eq, b_eq=b_eq, bounds=bounds, method="highs")
        return result.status, result.x, variables

    def _record(self, components: np.ndarray, x: np.ndarray, variables: np.ndarray, jobs: np.ndarray,
                directions: np.ndarray, exact: bool) -> None:
        """Read every open count of the components off the solution; exact optima for the jobs."""
        n = len(variables)
        mine = np.flatnonzero(np.isin(self.component, components) & ~self.dead[self.component])
        values = self.targets[mine][:, variables] @ x[:n] + self.constant[self.open[mine]]
        self.low_seen[mine] = np.minimum(self.low_seen[mine], values)
        self.high_seen[mine] = np.maximum(self.high_seen[mine], values)
        if exact:
            aux = x[n:]
            up = directions == UP
            self.exact_high[jobs[up]] = aux[up]
            self.exact_low[jobs[~up]] = self.t - aux[~up]
