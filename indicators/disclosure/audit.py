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
  all equal (a shared denominator) have numerators adding up to it, when some partition of the
  breakdown publishes the same non-zero denominator twice (:mod:`.relations`);
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
A hidden count whose set of linked cells the solver gave up on (iteration limit, numerical
trouble) and that no agreeing table showed safe is reported too (*unresolved*, bounds
:math:`[0, \\infty]`): the audit never passes what it could not check.

The functions here do no I/O and never modify their inputs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse

from proximite.indicators.disclosure.bounding import bound_targets
from proximite.indicators.disclosure.polyhedron import Problem, components_of
from proximite.indicators.disclosure.primary import COMPLEMENT, DEN, N, NUM
from proximite.indicators.disclosure.relations import (
    EQ_GROUP,
    EQ_LINK,
    KEY_COLUMNS,
    MIN_EVIDENCE,
    UB,
    Relations,
    build_relations,
    narrow_primary_shares,
)
from proximite.indicators.disclosure.rounding import MEAN_DECIMALS

__all__ = ["AUDITED_COLUMNS", "FINDING_COLUMNS", "MEAN_DECIMALS", "MIN_EVIDENCE", "AuditResult", "AuditedTable",
           "DisclosureLeak", "audit_published", "classify", "describe", "one_mark", "refuse_leaks"]

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
    related : dict
        The rows linked to each finding's row.
    relations, unknowns, programmes : int
        The size of the attack: relation lines rebuilt, unknowns they hold (numerators,
        denominators, n of published and hidden rows), linear programmes solved.
    """

    findings: pd.DataFrame
    rows: np.ndarray
    hidden_counts: int = 0
    seconds: float = 0.0
    inconsistent_components: int = 0
    related: dict[int, np.ndarray] = field(default_factory=dict)
    relations: int = 0
    unknowns: int = 0
    programmes: int = 0

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
    known: pd.DataFrame | None = None,
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
    known : DataFrame, keyword-only
        The table ``table`` was made from (same rows, same order: numerator, denominator, value,
        n before rounding and suppression), when the caller has it, as the disclosure control
        does. The attacker does not: it only gives the solver a table that agrees with the file
        to start from. The findings are the same with or without it; only the time differs.

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
                                territory=territory, known=known)
    findings, inconsistent, related, programmes = _solve(relations, threshold)
    findings.extend(_unrounded_means(relations))
    frame, rows_in_order = _findings_frame(table, findings)
    _, var, _, kind, _ = relations.arrays()
    return AuditResult(frame, rows_in_order, relations.targets, time.perf_counter() - started, inconsistent, related,
                       relations=len(kind), unknowns=len(np.unique(var)), programmes=programmes)


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


def _solve(relations: Relations, threshold: int) -> tuple[list, int, dict, int]:
    """Bound every hidden count, narrow the shares marked primary when that says which count is small, classify.
    Also the number of programmes solved."""
    bounds, inconsistent, component, programmes = _all_bounds(relations)
    if len(relations.primary_shares) and narrow_primary_shares(relations, _as_dict(relations, bounds)):
        bounds, inconsistent, component, more = _all_bounds(relations)
        programmes += more
    low, high, feasible, unresolved = bounds
    lo = np.ceil(low - _TOLERANCE)
    hi = np.where(np.isfinite(high), np.floor(high + _TOLERANCE), np.inf)
    small = feasible & ~unresolved & (lo >= 1) & (hi <= threshold - 1)
    findings = [(int(relations.target_row[i]), int(relations.target_quantity[i]), float(low[i]), float(high[i]),
                 classify(low[i], high[i], threshold)) for i in np.flatnonzero(small)]
    findings = [f for f in findings if f[4]]
    # A count the solver gave up on is not shown safe: reported, with no bounds claimed.
    findings += [(int(relations.target_row[i]), int(relations.target_quantity[i]), 0.0, np.inf, "unresolved")
                 for i in np.flatnonzero(feasible & unresolved)]
    rows = np.unique([f[0] for f in findings]).astype("int64")
    return findings, inconsistent, _related_rows(relations, component, rows), programmes


def _as_dict(relations: Relations, bounds: tuple) -> dict[tuple[int, int], tuple[float, float]]:
    low, high, feasible, unresolved = bounds
    usable = feasible & ~unresolved
    return {(int(r), int(q)): (float(lo), float(hi)) for r, q, lo, hi, ok in
            zip(relations.target_row, relations.target_quantity, low, high, usable) if ok}


def _problem(relations: Relations, *, strict: bool, lines: np.ndarray | None = None,
             targets: np.ndarray | None = None) -> Problem:
    """The relations as a :class:`~.bounding.Problem`; ``strict=False`` drops guessed links and reads group
    equations as inequalities (parent ≥ Σ children). ``lines`` / ``targets``: a subset (default all)."""
    line, var, coef, kind, rhs = relations.arrays()
    coef = coef.copy()
    kind = kind.copy()
    if not strict:
        group = kind[line] == EQ_GROUP
        coef[group] = -coef[group]
        kind = np.where(kind == EQ_GROUP, UB, kind)
    chosen = np.ones(len(kind), dtype=bool) if lines is None else np.isin(np.arange(len(kind)), lines)
    if not strict:
        chosen &= kind != EQ_LINK
    keep = chosen[line]
    codes, uniques = pd.factorize(line[keep])
    uniques = np.asarray(uniques, dtype="int64")
    a = sparse.csr_matrix((coef[keep], (codes, var[keep])), shape=(len(uniques), relations.variables))
    picked = np.arange(relations.targets) if targets is None else targets
    t_var, t_coef = relations.target_var[picked], relations.target_coef[picked]
    present = t_var >= 0
    t_rows = np.repeat(np.arange(len(picked)), 2).reshape(-1, 2)
    t_matrix = sparse.csr_matrix((t_coef[present], (t_rows[present], t_var[present])),
                                 shape=(len(picked), relations.variables))
    need_low = np.isin(relations.target_row[picked], relations.primary_shares)
    return Problem(a, kind[uniques] != UB, rhs[uniques], relations.lower, relations.upper, relations.integral,
                   t_matrix, relations.threshold, need_low, relations.start)


def _all_bounds(relations: Relations) -> tuple[tuple[np.ndarray, ...], int, np.ndarray, int]:
    """Low, high, feasibility and whether the solver gave up, for every target; a self-contradicting set of
    linked cells is solved again without the attacker's guesses (:func:`_problem` with ``strict=False``). Also
    each unknown's component and the programmes solved."""
    line, var, _, kind, _ = relations.arrays()
    graph = sparse.csr_matrix((np.ones(len(line)), (line, var)), shape=(len(kind), relations.variables))
    component = components_of(graph, relations.variables)
    solution = bound_targets(_problem(relations, strict=True))
    low, high, feasible, unresolved = solution.low, solution.high, solution.feasible, solution.unresolved
    inconsistent, programmes = 0, solution.programmes
    if not feasible.all():
        targets = np.flatnonzero(~feasible)
        bad = np.unique(component[relations.target_var[targets, 0]])
        inconsistent = len(bad)
        lines = np.unique(line[np.isin(component[var], bad)])
        again = bound_targets(_problem(relations, strict=False, lines=lines, targets=targets))
        low[targets], high[targets], feasible[targets] = again.low, again.high, again.feasible
        unresolved[targets] = again.unresolved
        programmes += again.programmes
    return (low, high, feasible, unresolved), inconsistent, component, programmes


def _related_rows(relations: Relations, component: np.ndarray, rows: np.ndarray) -> dict[int, np.ndarray]:
    """The rows linked to each finding's row (its unknowns' components)."""
    if not len(rows):
        return {}
    m = relations.m
    row_of_var = np.arange(relations.variables) % m
    related = {}
    for row in rows:
        labels = np.unique(component[[NUM * m + row, DEN * m + row, N * m + row]])
        related[int(row)] = np.unique(row_of_var[np.isin(component, labels)])
    return related


def _unrounded_means(relations: Relations) -> list[tuple[int, int, float, float, str]]:
    """Published means, changes and medians with more decimals than :data:`MEAN_DECIMALS`, or with their sum."""
    means = relations.mean_rows
    if means is None or means.empty:
        return []
    scale = 10.0**MEAN_DECIMALS
    value = means["value"].to_numpy(dtype="float64")
    with np.errstate(invalid="ignore"):
        unrounded = np.isfinite(value) & (np.abs(value * scale - np.round(value * scale)) > 1e-6)
    sums = means["sums"].to_numpy(dtype=bool)
    kind = np.where(sums, "sum published", np.where(unrounded, "unrounded mean", ""))
    return [(int(r), N, float(n), float(n), str(k)) for r, n, k in zip(means["row"], means["n"], kind) if k]


#: What the audit reads of a published table (beside the key columns).
AUDITED_COLUMNS: list[str] = [*KEY_COLUMNS, "numerator", "denominator", "value", "n", "unit", "suppressed", "suppression"]


@dataclass
class AuditedTable:
    """A public table as the audit read it (one suppression mark), with the rule's settings and what it found.

    The disclosure control audits the would-be public table until the audit finds nothing; the
    last table it audited is the public one. :meth:`covers` tells whether a table about to be
    published holds exactly those cells, so that the audit need not run twice on them.
    """

    table: pd.DataFrame
    result: AuditResult
    threshold: int
    rounding_base: int

    def covers(self, published: pd.DataFrame, *, threshold: int, rounding_base: int) -> bool:
        """True when ``published`` (one mark or the rule's labels) holds the audited cells, read alike."""
        if (threshold, rounding_base) != (self.threshold, self.rounding_base) or len(published) != len(self.table):
            return False
        marked = one_mark(published)
        present = [c for c in AUDITED_COLUMNS if c in self.table.columns or c in marked.columns]
        if any(c not in self.table.columns or c not in marked.columns for c in present):
            return False
        return all(_same_column(self.table[c], marked[c]) for c in present)


def one_mark(table: pd.DataFrame) -> pd.DataFrame:
    """The table as a public file shows it: every hidden cell marked ``suppressed`` (a new frame)."""
    published = table.reset_index(drop=True).copy()
    hidden = published["suppressed"].astype("boolean").fillna(False).to_numpy(dtype=bool)
    published["suppression"] = np.where(hidden, "suppressed", "")
    return published


def _same_column(first: pd.Series, second: pd.Series) -> bool:
    """The same values in the same order (numbers as floats, NaN equal to NaN; other values as text)."""
    a, b = first.reset_index(drop=True), second.reset_index(drop=True)
    numeric = pd.api.types.is_numeric_dtype(a) and pd.api.types.is_numeric_dtype(b)
    if numeric and not (pd.api.types.is_bool_dtype(a) or pd.api.types.is_bool_dtype(b)):
        return np.array_equal(a.to_numpy(dtype="float64", na_value=np.nan), b.to_numpy(dtype="float64", na_value=np.nan),
                              equal_nan=True)
    return bool((a.astype("string").fillna("\x00") == b.astype("string").fillna("\x00")).all())


class DisclosureLeak(ValueError):
    """The audit pins or narrows hidden counts of a table about to be published."""


def refuse_leaks(
    table: pd.DataFrame, *, threshold: int, rounding_base: int, codebook: Any = None,
    territory: pd.DataFrame | None = None, shown: int = 10, known: pd.DataFrame | None = None,
) -> AuditResult:
    """Audit a disclosed public table as it will be published (one suppression mark) and refuse it on a finding.

    ``known``: the table it was made from (see :func:`audit_published`), to find the same faster.

    Raises
    ------
    DisclosureLeak
        Naming up to ``shown`` cells (keys and bounds only) and how many there are.
    """
    published = one_mark(table)
    result = audit_published(published, threshold=threshold, rounding_base=rounding_base, codebook=codebook,
                             territory=territory, known=known)
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
