"""The bounding engine of the disclosure audit against plain solvers, on random polyhedra.

:func:`~proximite.indicators.disclosure.bounding.bound_targets` settles most hidden counts with
interval propagation and a few programmes that put many counts at once at the threshold or at 0
(whole components, then local programmes around a known table). Whatever the shortcuts, what it
says about each count must sit between two references computed count by count:

- the *linear* attacker (minimise and maximise the count over the polyhedron, no integrality):
  every finding it makes, the engine makes too (the engine is at least as strong);
- the *integer* attacker (the same over whole numbers): every finding the engine makes has
  bounds that hold every whole-number table agreeing with the file (the engine is sound), and
  that are no wider than the linear attacker's.

A table the caller knows (``start``: the one the file was made from, or a wrong one) changes how
fast the engine gets there, never what it says.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from proximite.indicators.base import indicator_frame
from proximite.indicators.disclosure import lp
from proximite.indicators.disclosure.audit import audit_published, classify
from proximite.indicators.disclosure.bounding import bound_targets
from proximite.indicators.disclosure.polyhedron import Problem
from scipy import sparse
from scipy.sparse.csgraph import connected_components
from scipy.optimize import Bounds, LinearConstraint, linprog, milp

TOL = 1e-6


@st.composite
def problems(draw: st.DrawFn) -> tuple[Problem, np.ndarray, bool]:
    """A polyhedron that a whole-number table ``truth`` satisfies (unless ``broken``), with counts to bound."""
    n = draw(st.integers(2, 14))
    truth = np.array(draw(st.lists(st.integers(0, 9), min_size=n, max_size=n)), dtype="float64")
    rows, cols, data, equality, rhs = [], [], [], [], []
    # Equalities of two unknowns (merged by the engine): a shared denominator, n = count.
    pairs = [p for p in draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=3))
             if p[0] != p[1]]
    for a, b in pairs:
        rows += [len(rhs)] * 2
        cols += [a, b]
        data += [1.0, -1.0]
        equality.append(True)
        rhs.append(0.0)
    if pairs:  # the table gives one value to the unknowns the pairs tie together
        tied = sparse.coo_matrix((np.ones(len(pairs)), tuple(np.array(pairs).T)), shape=(n, n))
        _, label = connected_components(tied, directed=False)
        truth = truth[np.unique(label, return_index=True)[1]][label]
    # Sums (parent − Σ children = 0) and inequalities (k ≤ m, Σ ≤ a published bound).
    for _ in range(draw(st.integers(1, 8))):
        members = sorted(draw(st.sets(st.integers(0, n - 1), min_size=2, max_size=min(5, n))))
        signs = draw(st.lists(st.sampled_from([1.0, -1.0]), min_size=len(members), max_size=len(members)))
        is_eq = draw(st.booleans())
        value = float(np.dot(signs, truth[members]))
        rows += [len(rhs)] * len(members)
        cols += members
        data += signs
        equality.append(is_eq)
        rhs.append(value if is_eq else value + draw(st.integers(0, 2)))
    lower, upper = np.zeros(n), np.full(n, np.inf)
    for j in range(n):
        kind = draw(st.sampled_from(["hidden", "exact", "rounded", "small"]))
        if kind == "exact":
            lower[j] = upper[j] = truth[j]
        elif kind == "rounded":  # published to base 5: r − 2 ≤ x ≤ r + 2
            r = 5 * np.floor(truth[j] / 5 + 0.5)
            lower[j], upper[j] = max(0.0, r - 2), r + 2
        elif kind == "small" and 1 <= truth[j] <= 4:  # the file says "1 to t − 1"
            lower[j], upper[j] = 1.0, 4.0
    broken = draw(st.booleans()) and draw(st.booleans())
    if broken:  # a line the published numbers contradict
        rhs[draw(st.integers(0, len(rhs) - 1))] += draw(st.sampled_from([0.5, 3.0, -3.0]))
    a = sparse.csr_matrix((data, (rows, cols)), shape=(len(rhs), n))
    # Hidden counts: single unknowns, and differences (m − k).
    t_rows, t_cols, t_data = [], [], []
    for j in sorted(draw(st.sets(st.integers(0, n - 1), min_size=1, max_size=n))):
        t_rows.append(len(set(t_rows)))
        t_cols.append(j)
        t_data.append(1.0)
    k = len(t_rows)
    for _ in range(draw(st.integers(0, 3))):
        a_, b_ = draw(st.integers(0, n - 1)), draw(st.integers(0, n - 1))
        if a_ != b_:
            t_rows += [k, k]
            t_cols += [a_, b_]
            t_data += [1.0, -1.0]
            k += 1
    targets = sparse.csr_matrix((t_data, (t_rows, t_cols)), shape=(k, n))
    need_low = np.array(draw(st.lists(st.booleans(), min_size=k, max_size=k)), dtype=bool)
    threshold = draw(st.sampled_from([3, 5]))
    problem = Problem(a, np.array(equality), np.array(rhs), lower, upper, np.ones(n, dtype=bool), targets, threshold,
                      need_low)
    return problem, truth, broken


def _reference(problem: Problem, row: int, integral: bool) -> tuple[float, float] | None:
    """Min and max of one count over its lines' connected unknowns (None: they contradict each other)."""
    n = problem.a.shape[1]
    objective = problem.targets[row].toarray().ravel()
    # The lines linked to the count (other lines do not constrain it, and may contradict themselves).
    reach = objective != 0
    lines = np.zeros(problem.a.shape[0], dtype=bool)
    incidence = abs(problem.a) > 0
    while True:
        lines_now = (incidence @ reach.astype(float)) > 0
        reach_now = reach | ((incidence.T @ lines_now.astype(float)) > 0)
        if (lines_now == lines).all() and (reach_now == reach).all():
            break
        lines, reach = lines_now, reach_now
    a = problem.a[np.flatnonzero(lines)].toarray()
    eq = problem.equality[lines]
    rhs = problem.rhs[lines]
    out = []
    for sign in (1.0, -1.0):
        if integral:
            constraints = []
            if len(rhs):
                constraints.append(LinearConstraint(a, np.where(eq, rhs, -np.inf), rhs))
            solve = lambda c: milp(c, constraints=constraints, integrality=np.ones(n),  # noqa: E731
                                   bounds=Bounds(problem.lower, problem.upper))
            result = solve(sign * objective)
            if result.status == 2 and solve(np.zeros(n)).status == 2:
                return None
            if result.status == 2:  # HiGHS may call an unbounded problem infeasible: it is feasible
                out.append(-sign * np.inf)
                continue
            if result.status == 3 or result.x is None:  # unbounded
                out.append(-sign * np.inf)
                continue
            out.append(sign * result.fun)
        else:
            kw = {}
            if eq.any():
                kw.update(A_eq=a[eq], b_eq=rhs[eq])
            if (~eq).any():
                kw.update(A_ub=a[~eq], b_ub=rhs[~eq])
            solve = lambda c: linprog(c, bounds=np.c_[problem.lower, problem.upper], method="highs", **kw)  # noqa: E731
            result = solve(sign * objective)
            if result.status == 2 and solve(np.zeros(n)).status == 2:
                return None
            # HiGHS may call an unbounded problem infeasible; a feasible one without objective tells.
            out.append(-sign * np.inf if result.status in (2, 3) else sign * result.fun)
    return out[0], out[1]


def _with_start(problem: Problem, start: np.ndarray | None) -> Problem:
    return Problem(problem.a, problem.equality, problem.rhs, problem.lower, problem.upper, problem.integral,
                   problem.targets, problem.threshold, problem.need_low, start)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(case=problems())
def test_the_engine_sits_between_the_linear_and_the_integer_attacker(case: tuple) -> None:
    problem, truth, broken = case
    t = problem.threshold
    solution = bound_targets(problem)
    kinds = []
    for row in range(problem.targets.shape[0]):
        linear = _reference(problem, row, integral=False)
        whole = _reference(problem, row, integral=True)
        if linear is None:
            assert not solution.feasible[row], row  # the file contradicts itself there
            kinds.append(None)
            continue
        if not solution.feasible[row]:
            assert whole is None, row  # only a contradiction among whole numbers
            kinds.append(None)
            continue
        found = classify(solution.low[row], solution.high[row], t)
        kinds.append(found)
        if classify(*linear, t):
            assert found, (row, linear, solution.low[row], solution.high[row])
        if found:
            assert linear[0] - TOL <= solution.low[row] and solution.high[row] <= linear[1] + TOL, row
            if whole is not None:
                assert solution.low[row] <= whole[0] + TOL and whole[1] - TOL <= solution.high[row], row
            if not broken:
                value = float((problem.targets[row] @ truth)[0])
                assert solution.low[row] - TOL <= value <= solution.high[row] + TOL, row
    # A known table (right or wrong) changes the work, not the answer.
    for start in (truth, truth + 1.0, np.where(np.arange(len(truth)) % 2 == 0, truth, np.nan)):
        again = bound_targets(_with_start(problem, start))
        assert (again.feasible == solution.feasible).all()
        assert [classify(lo, hi, t) if ok else None for lo, hi, ok in
                zip(again.low, again.high, again.feasible)] == kinds


def _gives_up(*_args: object, **_kwargs: object) -> SimpleNamespace:
    return SimpleNamespace(status=4, x=None)  # numerical trouble: neither optimal nor infeasible


def test_a_count_the_solver_gives_up_on_is_unresolved_not_safe(monkeypatch: pytest.MonkeyPatch) -> None:
    # x0 + x1 = 6 with both hidden: propagation leaves each in [0, 6], a programme must decide.
    problem = Problem(sparse.csr_matrix(np.array([[1.0, 1.0]])), np.array([True]), np.array([6.0]), np.zeros(2),
                      np.full(2, np.inf), np.ones(2, dtype=bool), sparse.identity(2, format="csr"), 5,
                      np.zeros(2, dtype=bool))
    solved = bound_targets(problem)
    assert not solved.unresolved.any() and classify(solved.low[0], solved.high[0], 5) is None
    monkeypatch.setattr(lp, "linprog", _gives_up)
    assert bound_targets(problem).unresolved.all()


def test_the_audit_reports_what_it_could_not_check(monkeypatch: pytest.MonkeyPatch) -> None:
    # One region's transitions without an "all" row; two hidden: the shared denominator links them.
    values = ["isole_isole", "isole_non_isole", "non_isole_isole", "non_isole_non_isole"]
    rows = [{"scope": "quebec", "scope_id": "QC", "indicator": "isolation.transition", "wave": 6,
             "breakdown": "transition", "breakdown_value": v, "numerator": k, "denominator": 45, "value": k / 45,
             "n": 45, "unit": "share", "method": "wilson"} for v, k in zip(values, [20, 9, 3, 13])]
    table = indicator_frame(rows).assign(suppressed=False, suppression="")
    hidden = table["breakdown_value"].isin(["isole_non_isole", "non_isole_isole"])
    table["suppressed"] = hidden.to_numpy()
    table["suppression"] = np.where(hidden, "suppressed", "")
    for column in ("numerator", "denominator", "value", "n"):
        table[column] = table[column].mask(hidden)
    assert audit_published(table, rounding_base=5).clean
    monkeypatch.setattr(lp, "linprog", _gives_up)
    found = audit_published(table, rounding_base=5).findings
    assert not found.empty and set(found["finding"]) == {"unresolved"}


def test_a_zero_count_cell_protects_when_every_positive_linked_cell_is_hidden() -> None:
    # A region's referrals (denominator 4) were the total less the other regions' published
    # denominators; the only cells left to hide had a count of 0. Hiding one still hides its
    # denominator, so it is taken rather than giving up.
    import pandas as pd

    from proximite.indicators.disclosure.repair import protecting_cell

    frame = pd.DataFrame({"indicator": ["x"] * 4})
    local = np.arange(4)
    cells = SimpleNamespace(suppressed=np.array([False, True, False, True]), main=np.array([2.0, 5.0, 0.0, 0.0]))
    assert protecting_cell(cells, local, 0, np.array([1, 2, 3]), frame) == 2
    # A linked cell with a positive count, when one is published, comes first.
    cells.suppressed = np.array([False, False, False, True])
    assert protecting_cell(cells, local, 0, np.array([1, 2, 3]), frame) == 1
    # Nothing published is linked: no cell to hide.
    cells.suppressed = np.array([False, True, True, True])
    assert protecting_cell(cells, local, 0, np.array([1, 2, 3]), frame) is None
