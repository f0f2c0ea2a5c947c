"""The linear relations a published indicator table carries, as the attacker of :mod:`.audit` rebuilds them.

Unknowns: the numerator, denominator and n of every row (variable ``q·m + row`` for quantity
``q`` of :mod:`.primary`, ``m`` rows). :func:`build_relations` gives their bounds from what is
published and the relations between them; the module docstring of :mod:`.audit` lists them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse

from proximite.indicators.base import ALL
from proximite.indicators.disclosure.groups import build_groups, labels_of
from proximite.indicators.disclosure.primary import COMPLEMENT, DEN, N, NUM

__all__ = ["KEY_COLUMNS", "MIN_EVIDENCE", "STAFF_INDICATORS", "Relations", "System", "build_relations",
           "counts_people", "narrow_primary_shares"]

#: The key of a cell in a published table.
KEY_COLUMNS = ["indicator", "wave", "period", "scope", "scope_id", "stratum", "stratum_value", "breakdown",
               "breakdown_value"]
#: Cells in which two quantities must agree, all of them, before the attacker takes them as equal.
MIN_EVIDENCE = 3
#: Indicators whose counts are staff (PTP in post, departures): people under the rule although the
#: catalogue's ``people`` flag (families) is false. A catalogue entry ``staff: true`` adds to these.
STAFF_INDICATORS = frozenset({"implementation.worker_turnover"})
_PER_ROW = ("mean", "points", "days")
# Kinds of relation lines.
EQ_GROUP, EQ_LINK, UB = 0, 1, 2
_GROUP_KEYS = ["wave", "period", "scope", "scope_id", "stratum", "stratum_value"]


def counts_people(spec: dict[str, Any], indicator: str) -> bool:
    """Whether the rule applies to an indicator: it counts families, their needs, or staff."""
    return bool(spec.get("people")) or bool(spec.get("staff")) or indicator in STAFF_INDICATORS


@dataclass
class System:
    """One component's constraints for :func:`scipy.optimize.linprog`."""

    a_eq: Any
    b_eq: Any
    a_ub: Any
    b_ub: Any


@dataclass
class Relations:
    """Bounds of the unknowns, the relations between them and the hidden counts to bound.

    Attributes
    ----------
    m : int
        Rows of the table; ``variables = 3 m``.
    lower, upper : ndarray
        Bounds of each unknown.
    line, var, coef, kind : ndarray
        One entry per (relation line, unknown, coefficient); ``kind[line]`` is ``EQ_GROUP`` (an
        additive group taken as an equation), ``EQ_LINK`` (a guessed equality) or ``UB``
        (:math:`\\sum \\le 0`).
    targets : list of (row, unknowns, coefficients, quantity)
        The hidden counts: :math:`c^\\top v` over the given unknowns.
    mean_rows : list of (row, value, n, sums published)
        Published means, changes and medians.
    """

    m: int
    lower: np.ndarray
    upper: np.ndarray
    line: list = field(default_factory=list)
    var: list = field(default_factory=list)
    coef: list = field(default_factory=list)
    kind: list = field(default_factory=list)
    rhs: list = field(default_factory=list)
    targets: list = field(default_factory=list)
    mean_rows: list = field(default_factory=list)
    primary_shares: list = field(default_factory=list)
    threshold: int = 5
    _cache: Any = None

    @property
    def variables(self) -> int:
        return 3 * self.m

    def add(self, variables: Any, coefficients: Any, kind: int, rhs: float = 0.0) -> None:
        """Add one relation line over the given unknowns (``Σ coef·v = rhs``, or ``≤ rhs`` for ``UB``)."""
        self.rhs.append(float(rhs))
        number = len(self.kind)
        variables = np.asarray(variables, dtype="int64")
        self.line.append(np.full(len(variables), number))
        self.var.append(variables)
        self.coef.append(np.asarray(coefficients, dtype="float64"))
        self.kind.append(kind)

    def all_entries(self) -> tuple[np.ndarray, np.ndarray]:
        """Line and unknown of every entry."""
        line, var, _ = self.arrays()
        return line, var

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Line, unknown and coefficient of every entry (concatenated once, until a line is added)."""
        if self._cache is None or self._cache[0] != len(self.kind):
            if not self.line:
                empty = np.zeros(0, dtype="int64")
                arrays = (empty, empty, np.zeros(0))
            else:
                arrays = (np.concatenate(self.line), np.concatenate(self.var), np.concatenate(self.coef))
            self._cache = (len(self.kind), arrays)
        return self._cache[1]

    def restrict(self, members: np.ndarray, entries: np.ndarray, *, strict: bool) -> System:
        """The constraints over ``members`` (a connected set, sorted) given by ``entries``; ``strict=False``
        drops guessed links and reads group equations as inequalities (parent ≥ Σ children)."""
        line, var, coef = (a[entries] for a in self.arrays())
        kind = np.asarray(self.kind, dtype="int64")
        rhs = np.asarray(self.rhs, dtype="float64")
        column = np.searchsorted(members, var)
        k = kind[line]
        if not strict:
            keep = k != EQ_LINK
            line, column, coef, k = line[keep], column[keep], coef[keep], k[keep]
            coef = np.where(k == EQ_GROUP, -coef, coef)
            k = np.where(k == EQ_GROUP, UB, k)
        return System(*_matrix(line, column, coef, k != UB, len(members), rhs),
                      *_matrix(line, column, coef, k == UB, len(members), rhs))


def _matrix(line: np.ndarray, column: np.ndarray, coef: np.ndarray, keep: np.ndarray, columns: int,
            rhs: np.ndarray):
    if not keep.any():
        return None, None
    codes, uniques = pd.factorize(line[keep])
    matrix = sparse.csr_matrix((coef[keep], (codes, column[keep])), shape=(len(uniques), columns))
    return matrix, rhs[np.asarray(uniques, dtype="int64")]


def build_relations(
    table: pd.DataFrame, *, threshold: int, rounding_base: int, codebook: Any = None,
    territory: pd.DataFrame | None = None,
) -> Relations:
    """The unknowns' bounds and relations of a published table (see :mod:`.audit`)."""
    if codebook is None:
        from proximite.cohort.codebook import load_codebook

        codebook = load_codebook()
    frame = table.reset_index(drop=True)
    m = len(frame)
    indicators = frame["indicator"].astype(str).to_numpy(dtype=object)
    specs = {i: codebook.indicator(i) for i in pd.unique(indicators)}
    people = np.array([counts_people(specs[i], i) for i in indicators], dtype=bool)
    additive = np.array([bool(specs[i].get("additive")) for i in indicators], dtype=bool)
    unit = frame["unit"].astype(str).to_numpy(dtype=object)
    unit = np.where(np.isin(indicators, list(STAFF_INDICATORS)) & (unit == "rate"), "share", unit)
    hidden = frame["suppressed"].astype("boolean").fillna(False).to_numpy(dtype=bool) & people
    q = _quantities(frame, unit)
    applicable = np.vstack([np.isin(unit, ["count", "share"]), unit == "share", np.ones(m, dtype=bool)]) & people
    relations = Relations(m, np.zeros(3 * m), np.full(3 * m, np.inf), threshold=threshold)
    _published_bounds(relations, q, hidden, applicable, rounding_base)
    primary = frame.get("suppression", pd.Series("", index=frame.index)).astype("string").fillna("") == "primary"
    small_main = np.where(unit == "count", NUM, N)
    for row in np.flatnonzero(primary.to_numpy(dtype=bool) & hidden & (unit != "share")):
        v = small_main[row] * m + row
        relations.lower[v], relations.upper[v] = 1.0, float(threshold - 1)
    relations.primary_shares = [int(r) for r in np.flatnonzero(primary.to_numpy(dtype=bool) & hidden & (unit == "share"))]
    _group_relations(relations, frame, people, additive, applicable, territory)
    _row_relations(relations, frame, q, hidden, unit, applicable)
    _partition_relations(relations, frame, q, hidden, unit, people)
    _link_relations(relations, frame, q, hidden, applicable, people)
    value = pd.to_numeric(frame["value"], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    _targets(relations, hidden, unit, applicable, q, value)
    return relations


def _quantities(frame: pd.DataFrame, unit: np.ndarray) -> np.ndarray:
    numerator = pd.to_numeric(frame["numerator"], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    value = pd.to_numeric(frame["value"], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    numerator = np.where((unit == "count") & np.isnan(numerator), value, numerator)
    denominator = pd.to_numeric(frame["denominator"], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    n = pd.to_numeric(frame["n"], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    return np.vstack([numerator, denominator, n])


def _published_bounds(relations: Relations, q: np.ndarray, hidden: np.ndarray, applicable: np.ndarray,
                      base: int) -> None:
    """A published count rounded half up to base b lies in [r − ⌊b/2⌋, r + ⌈b/2⌉ − 1]; unrounded, it is exact."""
    m = relations.m
    below, above = base // 2, (base + 1) // 2 - 1
    for quantity in (NUM, DEN, N):
        known = applicable[quantity] & ~hidden & np.isfinite(q[quantity])
        rows = np.flatnonzero(known)
        v = q[quantity, rows]
        relations.lower[quantity * m + rows] = np.maximum(0.0, v - below)
        relations.upper[quantity * m + rows] = v + above


def _group_relations(relations: Relations, frame: pd.DataFrame, people: np.ndarray, additive: np.ndarray,
                     applicable: np.ndarray, territory: pd.DataFrame | None) -> None:
    """parent = Σ children for every additive group (an inequality when the published bounds refuse it)."""
    scope = frame["scope"].astype(str).to_numpy(dtype=object)
    keep = people.copy()
    if territory is None and (scope == "region").any():
        keep &= scope != "territory"  # the attacker does not know which region a territory is in
    positions = np.flatnonzero(keep)
    if not len(positions):
        return
    groups = build_groups(frame.iloc[positions].reset_index(drop=True), territory)
    m = relations.m
    order = groups.by_group
    for g in range(groups.count):
        memberships = order[groups.group_starts[g]:groups.group_starts[g + 1]]
        rows = positions[groups.mrow[memberships]]
        signs = np.where(groups.mrole[memberships] == 0, 1.0, -1.0)
        parent = positions[groups.group_parent[g]]
        for quantity in (NUM, DEN, N):
            if quantity != N and not additive[parent]:
                continue
            if not applicable[quantity, rows].all():
                continue
            variables = quantity * m + rows
            lo, hi = relations.lower[variables], relations.upper[variables]
            children = signs < 0
            fits = lo[children].sum() <= hi[~children].sum() and hi[children].sum() >= lo[~children].sum()
            relations.add(variables, signs if fits else -signs, EQ_GROUP if fits else UB)


def _row_relations(relations: Relations, frame: pd.DataFrame, q: np.ndarray, hidden: np.ndarray, unit: np.ndarray,
                   applicable: np.ndarray) -> None:
    """k ≤ m in a share; n equal to the count (the share's denominator) where every published row says so."""
    m = relations.m
    for row in np.flatnonzero(applicable[DEN]):
        relations.add([NUM * m + row, DEN * m + row], [1.0, -1.0], UB)
    indicators = frame["indicator"].astype(str).to_numpy(dtype=object)
    for indicator in pd.unique(indicators[applicable[NUM]]):
        rows = np.flatnonzero((indicators == indicator) & applicable[NUM])
        twin = DEN if unit[rows[0]] == "share" else NUM
        seen = rows[~hidden[rows] & np.isfinite(q[twin, rows]) & np.isfinite(q[N, rows])]
        if len(seen) < MIN_EVIDENCE or not np.array_equal(q[twin, seen], q[N, seen]):
            continue
        for row in rows:
            relations.add([N * m + row, twin * m + row], [1.0, -1.0], EQ_LINK)


def _partition_relations(relations: Relations, frame: pd.DataFrame, q: np.ndarray, hidden: np.ndarray,
                         unit: np.ndarray, people: np.ndarray) -> None:
    """The values of a breakdown whose published denominators agree share it; their numerators add up to it."""
    m = relations.m
    rows = np.flatnonzero(people & (unit == "share") & (labels_of(frame["breakdown"]) != ALL))
    if not len(rows):
        return
    keys = frame.iloc[rows][["indicator", "breakdown", *_GROUP_KEYS]].astype("string").fillna("<NA>")
    keys.index = pd.RangeIndex(len(rows))
    for (indicator, breakdown), by_indicator in keys.groupby(["indicator", "breakdown"], sort=False).groups.items():
        positions = rows[keys.index.get_indexer(by_indicator)]
        sub = keys.loc[by_indicator, _GROUP_KEYS]
        partitions = [positions[np.asarray(idx)] for idx in sub.reset_index(drop=True).groupby(_GROUP_KEYS).indices.values()]
        full = [p for p in partitions if len(p) > 1 and not hidden[p].any() and np.isfinite(q[:2, p]).all()]
        # The published denominators of each partition must agree (a shared denominator).
        seen = [q[DEN, p[~hidden[p] & np.isfinite(q[DEN, p])]] for p in partitions]
        if not any(len(d) > 1 for d in seen) or not all((d == d[0]).all() for d in seen if len(d)):
            continue
        slack = [abs(q[NUM, p].sum() - q[DEN, p[0]]) <= 2 * (len(p) + 1) for p in full]
        kind = EQ_LINK if all(slack) else UB
        for p in partitions:
            for row in p[1:]:
                relations.add([DEN * m + p[0], DEN * m + row], [1.0, -1.0], EQ_LINK)
            sign = 1.0 if kind == EQ_LINK else -1.0
            relations.add(np.r_[DEN * m + p[0], NUM * m + p], np.r_[sign, -sign * np.ones(len(p))], kind)


def _link_relations(relations: Relations, frame: pd.DataFrame, q: np.ndarray, hidden: np.ndarray,
                    applicable: np.ndarray, people: np.ndarray) -> None:
    """A quantity of one indicator equal to a quantity of another in every cell where both are published."""
    m = relations.m
    keys = frame[_GROUP_KEYS].astype("string").fillna("<NA>")
    key = pd.factorize(pd.MultiIndex.from_frame(keys))[0]
    total = labels_of(frame["breakdown"]) == ALL
    indicators = frame["indicator"].astype(str).to_numpy(dtype=object)
    entries = []
    for quantity in (NUM, DEN, N):
        rows = np.flatnonzero(applicable[quantity] & people)
        entries.append(pd.DataFrame({
            "key": key[rows], "indicator": indicators[rows], "quantity": quantity, "var": quantity * m + rows,
            "value": np.where(hidden[rows], np.nan, q[quantity, rows]), "total": total[rows],
        }))
    stream = pd.concat(entries, ignore_index=True)
    left = stream[stream["total"]]
    right = stream[stream["quantity"] != NUM]
    pairs = left.merge(right, on="key", suffixes=("_a", "_b"))
    pairs = pairs[pairs["indicator_a"] != pairs["indicator_b"]]
    if pairs.empty:
        return
    both = pairs["value_a"].notna() & pairs["value_b"].notna()
    pairs = pairs.assign(seen=both, agree=both & (pairs["value_a"] == pairs["value_b"]),
                         nonzero=both & (pairs["value_a"] > 0))
    streams = ["indicator_a", "quantity_a", "indicator_b", "quantity_b"]
    verdict = pairs.groupby(streams)[["seen", "agree", "nonzero"]].sum()
    linked = verdict[(verdict["seen"] >= MIN_EVIDENCE) & (verdict["agree"] == verdict["seen"]) & (verdict["nonzero"] > 0)]
    chosen = pairs.set_index(streams).loc[pairs.set_index(streams).index.isin(linked.index)]
    for var_a, var_b in zip(chosen["var_a"].to_numpy(), chosen["var_b"].to_numpy()):
        relations.add([var_a, var_b], [1.0, -1.0], EQ_LINK)


def _targets(relations: Relations, hidden: np.ndarray, unit: np.ndarray, applicable: np.ndarray,
             q: np.ndarray, value: np.ndarray) -> None:
    """The hidden counts: the count, a share's numerator, denominator and m − k, every n."""
    m = relations.m
    for row in np.flatnonzero(hidden):
        for quantity in (NUM, DEN, N):
            if applicable[quantity, row]:
                relations.targets.append((int(row), np.array([quantity * m + row]), np.array([1.0]), quantity))
        if unit[row] == "share":
            relations.targets.append((int(row), np.array([DEN * m + row, NUM * m + row]), np.array([1.0, -1.0]),
                                      COMPLEMENT))
    for row in np.flatnonzero(~hidden & np.isin(unit, _PER_ROW) & applicable[N]):
        sums = bool(np.isfinite(q[NUM, row]) or np.isfinite(q[DEN, row]))
        relations.mean_rows.append((int(row), float(value[row]), float(q[N, row]), sums))


def narrow_primary_shares(relations: Relations, bounds: dict[tuple[int, int], tuple[float, float]]) -> int:
    """A share marked ``primary`` has k, m − k or m from 1 to t − 1: when the bounds leave one of the three, impose it.

    Returns the number of shares narrowed.
    """
    m, small = relations.m, float(relations.threshold - 1)
    narrowed = 0
    for row in relations.primary_shares:
        options = [quantity for quantity in (NUM, COMPLEMENT, DEN) if bounds.get((row, quantity), (0.0, np.inf))[0] <= small]
        if len(options) != 1:
            continue
        narrowed += 1
        if options[0] == COMPLEMENT:
            relations.add([DEN * m + row, NUM * m + row], [1.0, -1.0], UB, small)
            relations.add([DEN * m + row, NUM * m + row], [-1.0, 1.0], UB, -1.0)
        else:
            v = options[0] * m + row
            relations.lower[v], relations.upper[v] = max(relations.lower[v], 1.0), min(relations.upper[v], small)
    return narrowed
