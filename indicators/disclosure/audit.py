"""The attacker: what the published cells of a snapshot give away about its hidden counts.

:func:`audit_published` reads a published indicator table (``indicators.csv`` as written, no
family data) and does what an outsider holding only that file can do: rebuild the linear
relations the table carries, then minimise and maximise every hidden count over all the tables
that agree with what is published (linear programming, :func:`scipy.optimize.linprog`).

The relations (:mod:`.relations` builds them):

- the additive groups of :mod:`.groups` (territories → region → Québec, stratum values → all,
  breakdown values → all), for the numerator, denominator and n of indicators the public
  catalogue calls additive (n always);
- partitions without an ``all`` row: the rows of one breakdown whose published denominators are
  all equal (a shared denominator) have numerators adding up to it;
- links across indicators: a quantity of one indicator equal, cell for cell, to a quantity of
  another (families reached = the denominator of "isolated at contact"; the n of a mean = the
  denominator of a share) wherever both are published, at least :data:`MIN_EVIDENCE` times;
- within a row: a share's numerator ≤ its denominator; an n equal to the count (denominator)
  in every published row of the indicator;
- the published numbers: a count rounded to base *b* (half up) lies in
  :math:`[r - \\lfloor b/2 \\rfloor, r + \\lceil b/2 \\rceil - 1]`; an unrounded one is exact; a
  hidden one is ≥ 0, and in :math:`[1, t - 1]` when the file says the rule hid it as a small
  count (``suppression = primary``).

**What counts as a finding.** With :math:`t` the threshold, let :math:`[lo, hi]` be the integer
bounds of a hidden count (:math:`lo = \\lceil \\min \\rceil`, :math:`hi = \\lfloor \\max
\\rfloor` of the linear programme; a count of a hidden cell is its count, a share's numerator,
denominator and denominator − numerator, and any row's n). It is a finding when

- *pinned*: :math:`1 \\le lo = hi \\le t - 1` (a small count known exactly), or
- *narrowed*: :math:`1 \\le lo` and :math:`hi \\le t - 1` and :math:`hi - lo < t - 2` (the count
  is known to be a small non-zero count, more precisely than "from 1 to t − 1").

A hidden count bounded only within :math:`[1, t-1]` says what the rule itself says and is not
a finding; a count pinned to 0 names nobody, and one known to be :math:`\\ge t` (a
complementary cell, or a denominator its published siblings share) is not a small group. Two more checks need no solver: a mean, change or
median (units ``mean``, ``points``, ``days``) published with more than
:data:`MEAN_DECIMALS` decimal(s), whose n would follow from :math:`n \\cdot mean` being whole
(*unrounded mean*), and a published numerator or denominator of such a row (*sum published*).

The functions here do no I/O and never modify their inputs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.optimize import linprog
from scipy.sparse.csgraph import connected_components

from proximite.indicators.disclosure.primary import COMPLEMENT, DEN, N, NUM
from proximite.indicators.disclosure.rounding import MEAN_DECIMALS
from proximite.indicators.disclosure.relations import (
    KEY_COLUMNS,
    MIN_EVIDENCE,
    Relations,
    build_relations,
    narrow_primary_shares,
)

__all__ = ["FINDING_COLUMNS", "MEAN_DECIMALS", "MIN_EVIDENCE", "AuditResult", "DisclosureLeak", "audit_published",
           "classify", "describe", "refuse_leaks"]

#: Columns of the findings (cell keys and bounds only: no family data).
FINDING_COLUMNS: list[str] = [*KEY_COLUMNS, "quantity", "low", "high", "finding"]
QUANTITY_NAMES = {NUM: "numerator", DEN: "denominator", N: "n", COMPLEMENT: "denominator - numerator"}
_TOLERANCE = 1e-6


@dataclass
class AuditResult:
    """What the attacker found.

    Attributes
    ----------
    findings : DataFrame
        :data:`FINDING_COLUMNS`, one row per hidden count pinned or narrowed (or mean published
        unrounded), sorted by cell key.
    rows : ndarray of int
        The input position of each finding's cell, in the order of ``findings``.
    hidden_counts : int
        The hidden counts the solver bounded.
    seconds : float
    inconsistent_components : int
        Sets of linked cells the published numbers contradict (a relation the attacker guessed
        does not hold): solved again with group equations as inequalities and no guessed links.
    """

    findings: pd.DataFrame
    rows: np.ndarray
    hidden_counts: int = 0
    seconds: float = 0.0
    inconsistent_components: int = 0
    related: dict[int, np.ndarray] = field(default_factory=dict)

    @property
    def clean(self) -> bool:
        """True when nothing is pinned or narrowed."""
        return self.findings.empty


def audit_published(
    table: pd.DataFrame,
    *,
    threshold: int = 5,
    rounding_base: int = 5,
    codebook: Any = None,
    territory: pd.DataFrame | None = None,
) -> AuditResult:
    """Attack a published indicator table: every hidden count it pins or narrows.

    Parameters
    ----------
    table : DataFrame
        The published rows (``indicators.csv``): the indicator key columns, ``numerator``,
        ``denominator``, ``value``, ``n``, ``unit``, ``suppressed`` and, when published,
        ``suppression``. Not modified.
    threshold : int, keyword-only
        The disclosure rule's threshold :math:`t`.
    rounding_base : int, keyword-only
        The base published counts were rounded to (1: not rounded, as at the internal level).
    codebook : Codebook, keyword-only
        The public catalogue: which indicators count people and add up (default: packaged).
    territory : DataFrame, keyword-only
        Public geography (``territory_id``, ``region_code``): links territory rows to their
        region. Without it, territory rows join no geographic group when region rows exist.

    Returns
    -------
    AuditResult

    Notes
    -----
    For each set of linked unknowns (connected through the relations), and each hidden count
    :math:`x = c^\\top v` in it, the attacker solves
    :math:`\\min c^\\top v` and :math:`\\max c^\\top v` subject to
    :math:`A_{eq} v = 0`, :math:`A_{ub} v \\le 0`, :math:`l \\le v \\le u` (HiGHS). The definition
    of a finding is in the module docstring.
    """
    started = time.perf_counter()
    relations = build_relations(table, threshold=threshold, rounding_base=rounding_base, codebook=codebook,
                                territory=territory)
    findings, rows, counted, inconsistent, related = _solve(relations, threshold)
    mean_rows = _unrounded_means(relations)
    findings.extend(mean_rows)
    frame, rows_in_order = _findings_frame(table, findings)
    return AuditResult(frame, rows_in_order, counted, time.perf_counter() - started, inconsistent, related)


def _findings_frame(table: pd.DataFrame, findings: list[tuple[int, int, float, float, str]]) -> tuple[pd.DataFrame,
                                                                                                 np.ndarray]:
    """The cell keys of each finding with its quantity, bounds and kind, sorted; and each one's input row."""
    if not findings:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in FINDING_COLUMNS}), np.zeros(0, dtype="int64")
    positions = [f[0] for f in findings]
    keys = table.iloc[positions][KEY_COLUMNS].reset_index(drop=True).astype("string")
    keys["quantity"] = [QUANTITY_NAMES[f[1]] for f in findings]
    keys["low"] = [f[2] for f in findings]
    keys["high"] = [f[3] for f in findings]
    keys["finding"] = [f[4] for f in findings]
    keys["row"] = positions
    keys = keys.sort_values(KEY_COLUMNS + ["quantity"], kind="stable").reset_index(drop=True)
    return keys[FINDING_COLUMNS], keys["row"].to_numpy(dtype="int64")


def classify(low: float, high: float, threshold: int) -> str | None:
    """``"pinned"``, ``"narrowed"`` or None for a hidden count's LP bounds (see the module docstring)."""
    lo = np.ceil(low - _TOLERANCE)
    hi = np.floor(high + _TOLERANCE) if np.isfinite(high) else np.inf
    if lo == hi and 1 <= lo <= threshold - 1:
        return "pinned"
    if lo >= 1 and hi <= threshold - 1 and hi - lo < threshold - 2:
        return "narrowed"
    return None


def _solve(relations: Relations, threshold: int) -> tuple[list, list, int, int, dict]:
    """Bound every hidden count, narrow the shares marked primary when that says which count is small, classify."""
    bounds, inconsistent, related = _all_bounds(relations)
    if relations.primary_shares and narrow_primary_shares(relations, bounds):
        bounds, inconsistent, related = _all_bounds(relations)
    findings: list[tuple[int, int, float, float, str]] = []
    rows: list[int] = []
    for (row, quantity), (low, high) in bounds.items():
        kind = classify(low, high, threshold)
        if kind:
            findings.append((row, quantity, float(low), float(high), kind))
            rows.append(row)
    return findings, rows, len(relations.targets), inconsistent, {r: related[r] for r in rows}


def _all_bounds(relations: Relations) -> tuple[dict, int, dict]:
    """Min and max of every target, component by component; the cells each target is linked to."""
    bounds: dict[tuple[int, int], tuple[float, float]] = {}
    related: dict[int, np.ndarray] = {}
    inconsistent = 0
    if not relations.targets:
        return bounds, inconsistent, related
    label = _components(relations, relations.variables)
    _, entry_var = relations.all_entries()
    entry_order = np.argsort(label[entry_var], kind="stable")
    entry_labels = label[entry_var][entry_order]
    var_order = np.argsort(label, kind="stable")
    var_labels = label[var_order]
    by_component: dict[int, list[int]] = {}
    for i, (_, vars_, _, _) in enumerate(relations.targets):
        by_component.setdefault(int(label[vars_[0]]), []).append(i)
    for component, target_ids in by_component.items():
        members = np.sort(var_order[np.searchsorted(var_labels, component):np.searchsorted(var_labels, component, "right")])
        entries = entry_order[np.searchsorted(entry_labels, component):np.searchsorted(entry_labels, component, "right")]
        found = _bound_targets(relations.restrict(members, entries, strict=True), relations, target_ids, members)
        if found is None:
            inconsistent += 1
            found = _bound_targets(relations.restrict(members, entries, strict=False), relations, target_ids, members)
            if found is None:
                continue
        member_rows = np.unique(members % relations.m)
        for target_id, interval in zip(target_ids, found):
            row, _, _, quantity = relations.targets[target_id]
            bounds[(row, quantity)] = interval
            related[row] = member_rows
    return bounds, inconsistent, related


def _components(relations: Relations, variables: int) -> np.ndarray:
    """Connected sets of variables (two variables are linked when a relation holds both)."""
    eq, var = relations.all_entries()
    lines = int(eq.max()) + 1 if len(eq) else 0
    graph = sparse.coo_matrix((np.ones(len(eq)), (var, variables + eq)), shape=(variables + lines,) * 2)
    _, label = connected_components(graph, directed=False)
    return label[:variables]


def _bound_targets(system: Any, relations: Relations, target_ids: list[int], members: np.ndarray):
    """Min and max of each target over the component's feasible set (None when it is empty).

    The maximum first: a target whose maximum reaches the threshold cannot be a finding (see
    :func:`classify`), so its minimum is not needed (reported as 0), except for a share marked
    ``primary`` (:func:`~proximite.indicators.disclosure.relations.narrow_primary_shares`).
    """
    position = {int(v): i for i, v in enumerate(members)}
    # A share marked primary needs its minima: they say which of its counts is the small one.
    needs_minimum = set(relations.primary_shares)
    lower, upper = relations.lower[members], relations.upper[members]
    bounds_list = list(zip(lower, np.where(np.isfinite(upper), upper, None)))
    objectives = []
    for target_id in target_ids:
        _, vars_, coefs, _ = relations.targets[target_id]
        c = np.zeros(len(members))
        for v, coef in zip(vars_, coefs):
            c[position[int(v)]] += coef
        objectives.append(c)
    reaches = _reach_threshold(system, np.array(objectives), bounds_list, float(relations.threshold))
    if reaches is None:
        return None
    out = []
    for target_id, c, certified in zip(target_ids, objectives, reaches):
        if certified and relations.targets[target_id][0] not in needs_minimum:
            out.append((0.0, np.inf))  # some feasible table has it ≥ t: not a finding
            continue
        high = _optimum(system, -c, bounds_list)
        if high is None:
            return None
        high = -high
        if high >= relations.threshold - _TOLERANCE and relations.targets[target_id][0] not in needs_minimum:
            out.append((0.0, high))
            continue
        low = _optimum(system, c, bounds_list)
        if low is None:
            return None
        out.append((max(low, 0.0), high))
    return out


def _reach_threshold(system: Any, objectives: np.ndarray, bounds_list: list, threshold: float,
                     rounds: int = 4) -> np.ndarray | None:
    """Which targets some feasible table puts at ≥ t (a certificate that they are no finding); None: infeasible.

    Notes
    -----
    One linear programme for many targets instead of one each: maximise :math:`\\sum_j y_j` with
    :math:`y_j \\le c_j^\\top v` and :math:`y_j \\le t`, over the component's constraints. Every
    target with :math:`c_j^\\top v \\ge t` at the optimum is certified; the others are tried again
    alone in the objective, for a few rounds. What is left gets its own programmes.
    """
    k, n = objectives.shape
    certified = np.zeros(k, dtype=bool)
    for _ in range(rounds):
        open_ = np.flatnonzero(~certified)
        if not len(open_):
            break
        link = sparse.hstack([-sparse.csr_matrix(objectives[open_]), sparse.identity(len(open_), format="csr")])
        a_ub = link if system.a_ub is None else sparse.vstack(
            [sparse.hstack([system.a_ub, sparse.csr_matrix((system.a_ub.shape[0], len(open_)))]), link])
        b_ub = np.zeros(len(open_)) if system.b_ub is None else np.r_[system.b_ub, np.zeros(len(open_))]
        a_eq = None if system.a_eq is None else sparse.hstack(
            [system.a_eq, sparse.csr_matrix((system.a_eq.shape[0], len(open_)))])
        solved = linprog(np.r_[np.zeros(n), -np.ones(len(open_))], A_ub=a_ub, b_ub=b_ub, A_eq=a_eq,
                         b_eq=system.b_eq, bounds=bounds_list + [(None, threshold)] * len(open_), method="highs")
        if solved.status == 2:
            return None
        if solved.status != 0:
            break
        newly = objectives[open_] @ solved.x[:n] >= threshold - _TOLERANCE
        if not newly.any():
            break
        certified[open_[newly]] = True
    return certified


def _optimum(system: Any, c: np.ndarray, bounds_list: list) -> float | None:
    """min cᵀv (−inf when unbounded or unsolved: claim nothing; None when infeasible)."""
    solved = linprog(c, A_ub=system.a_ub, b_ub=system.b_ub, A_eq=system.a_eq, b_eq=system.b_eq, bounds=bounds_list,
                     method="highs")
    if solved.status == 2:
        return None
    if solved.status != 0:
        return -np.inf
    return float(solved.fun)


def _unrounded_means(relations: Relations) -> list[tuple[int, int, float, float, str]]:
    """Published means, changes and medians with more decimals than :data:`MEAN_DECIMALS`, or with their sum."""
    found = []
    scale = 10.0**MEAN_DECIMALS
    for row, value, n, has_sums in relations.mean_rows:
        if has_sums:
            found.append((row, N, n, n, "sum published"))
        elif np.isfinite(value) and abs(value * scale - np.round(value * scale)) > 1e-6:
            found.append((row, N, n, n, "unrounded mean"))
    return found


class DisclosureLeak(ValueError):
    """The audit pins or narrows hidden counts of a table about to be published."""


def refuse_leaks(
    table: pd.DataFrame, *, threshold: int, rounding_base: int, codebook: Any = None,
    territory: pd.DataFrame | None = None, shown: int = 10,
) -> AuditResult:
    """Audit a disclosed public table as it will be published (one suppression mark) and refuse it on a finding.

    Raises
    ------
    DisclosureLeak
        Naming up to ``shown`` cells (keys and bounds only) and how many there are.
    """
    published = table.copy()
    if "suppression" in published.columns:
        hidden = published["suppressed"].astype("boolean").fillna(False).to_numpy(dtype=bool)
        published["suppression"] = np.where(hidden, "suppressed", "")
    result = audit_published(published, threshold=threshold, rounding_base=rounding_base, codebook=codebook,
                             territory=territory)
    if not result.clean:
        cells = "; ".join(describe(row) for _, row in result.findings.head(shown).iterrows())
        more = "" if len(result.findings) <= shown else f" (and {len(result.findings) - shown} more)"
        raise DisclosureLeak(
            f"refusing to publish: the disclosure audit recovers {len(result.findings)} hidden count(s) from the "
            f"published cells: {cells}{more}"
        )
    return result


def describe(finding: pd.Series) -> str:
    """One finding in words: its cell key, quantity and bounds."""
    key = " ".join(f"{c}={finding[c]}" for c in KEY_COLUMNS
                   if pd.notna(finding[c]) and str(finding[c]) not in {"all", "<NA>"} or c in {"indicator", "scope_id"})
    low, high = finding["low"], finding["high"]
    return f"{key} {finding['quantity']} {finding['finding']} in [{low:g}, {high:g}]"
