"""The linear relations a published indicator table carries, as the attacker of :mod:`.audit` rebuilds them.

Unknowns: the numerator, denominator and n of every row (variable ``q·m + row`` for quantity
``q`` of :mod:`.primary`, ``m`` rows). :func:`build_relations` gives their bounds from what is
published and the relations between them; the module docstring of :mod:`.audit` lists them.
Every relation is built for all cells at once (array operations and group-bys, no loop over
cells): the audit runs on every public snapshot and inside the repair loop of
:func:`~proximite.indicators.disclosure.apply_disclosure`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from proximite.indicators.base import ALL
from proximite.indicators.disclosure.groups import build_groups, labels_of
from proximite.indicators.disclosure.primary import COMPLEMENT, DEN, N, NUM

__all__ = ["EQ_GROUP", "EQ_LINK", "KEY_COLUMNS", "MIN_EVIDENCE", "STAFF_INDICATORS", "UB", "Relations",
           "build_relations", "counts_people", "narrow_primary_shares"]

#: The key of a cell in a published table.
KEY_COLUMNS = ["indicator", "wave", "period", "scope", "scope_id", "stratum", "stratum_value", "breakdown",
               "breakdown_value"]
#: Cells in which two quantities must agree, all of them, before the attacker takes them as equal.
MIN_EVIDENCE = 3
#: Indicators whose counts are staff (PTP in post, departures): people under the rule although the
#: catalogue's ``people`` flag (families) is false. A catalogue entry ``staff: true`` adds to these.
STAFF_INDICATORS = frozenset({"implementation.worker_turnover"})
_PER_ROW = ("mean", "points", "days")
#: Kinds of relation lines: an additive group taken as an equation, a guessed equality, ``Σ ≤ rhs``.
EQ_GROUP, EQ_LINK, UB = 0, 1, 2
_GROUP_KEYS = ["wave", "period", "scope", "scope_id", "stratum", "stratum_value"]


def counts_people(spec: dict[str, Any], indicator: str) -> bool:
    """Whether the rule applies to an indicator: it counts families, their needs, or staff."""
    return bool(spec.get("people")) or bool(spec.get("staff")) or indicator in STAFF_INDICATORS


@dataclass
class Relations:
    """Bounds of the unknowns, the relations between them and the hidden counts to bound.

    Attributes
    ----------
    m : int
        Rows of the table; ``variables = 3 m``.
    lower, upper : ndarray
        Bounds of each unknown.
    integral : ndarray of bool
        Unknowns that are whole numbers (all but a staff rate's denominator, an average headcount).
    kind, rhs : ndarray
        Per relation line: ``EQ_GROUP`` (an additive group), ``EQ_LINK`` (a guessed equality) or
        ``UB``; the line is :math:`\\sum coef \\cdot v = rhs` (``≤ rhs`` for ``UB``).
    line, var, coef : ndarray
        One entry per (line, unknown, coefficient).
    target_row, target_quantity : ndarray
        The hidden counts: a row and ``NUM``, ``DEN``, ``N`` or ``COMPLEMENT`` (m − k).
    target_var, target_coef : ndarray, shape (targets, 2)
        Each hidden count as :math:`\\sum c \\cdot v` over at most two unknowns (−1: none).
    mean_rows : DataFrame
        Published means, changes and medians: ``row``, ``value``, ``n``, ``sums`` (published).
    primary_shares : ndarray of int
        Hidden shares the file marks ``primary``.
    start : ndarray or None
        A value per unknown from the table the file was made from, when the caller has it
        (:func:`build_relations` ``known``): where it agrees with the relations, a first table
        to search from. It changes how fast the bounds are found, never what they are.
    """

    m: int
    lower: np.ndarray
    upper: np.ndarray
    integral: np.ndarray
    threshold: int = 5
    _lines: list = field(default_factory=list)
    target_row: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype="int64"))
    target_quantity: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype="int64"))
    target_var: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), dtype="int64"))
    target_coef: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))
    mean_rows: pd.DataFrame | None = None
    primary_shares: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype="int64"))
    start: np.ndarray | None = None
    _cache: Any = None

    @property
    def variables(self) -> int:
        return 3 * self.m

    @property
    def targets(self) -> int:
        return len(self.target_row)

    def add_lines(self, variables: np.ndarray, coefficients: Any, kind: Any, rhs: Any = 0.0) -> None:
        """Add lines of a fixed number of unknowns: ``variables`` of shape (lines, k); −1 pads a shorter line."""
        variables = np.atleast_2d(np.asarray(variables, dtype="int64"))
        lines, width = variables.shape
        if not lines:
            return
        coefficients = np.broadcast_to(np.asarray(coefficients, dtype="float64"), (lines, width))
        local = np.repeat(np.arange(lines), width)
        flat = variables.ravel()
        keep = flat >= 0
        self.add_ragged(local[keep], flat[keep], coefficients.ravel()[keep], lines, kind, rhs)

    def add_ragged(self, local: np.ndarray, variables: np.ndarray, coefficients: np.ndarray, lines: int, kind: Any,
                   rhs: Any = 0.0) -> None:
        """Add ``lines`` lines; entry ``e`` is ``coefficients[e]`` on ``variables[e]`` in line ``local[e]``."""
        if not lines:
            return
        kinds = np.broadcast_to(np.asarray(kind, dtype="int64"), (lines,)).copy()
        rhs = np.broadcast_to(np.asarray(rhs, dtype="float64"), (lines,)).copy()
        self._lines.append((np.asarray(local, dtype="int64"), np.asarray(variables, dtype="int64"),
                            np.asarray(coefficients, dtype="float64"), kinds, rhs))
        self._cache = None

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Line, unknown and coefficient of every entry, then each line's kind and right-hand side."""
        if self._cache is None:
            lines, var, coef, kinds, rhs, offset = [], [], [], [], [], 0
            for local, variables, coefficients, kind, right in self._lines:
                lines.append(local + offset)
                var.append(variables)
                coef.append(coefficients)
                kinds.append(kind)
                rhs.append(right)
                offset += len(kind)
            if not lines:
                empty = np.zeros(0, dtype="int64")
                self._cache = (empty, empty, np.zeros(0), empty, np.zeros(0))
            else:
                self._cache = tuple(np.concatenate(a) for a in (lines, var, coef, kinds, rhs))
        return self._cache


def build_relations(
    table: pd.DataFrame, *, threshold: int, rounding_base: int, codebook: Any = None,
    territory: pd.DataFrame | None = None, known: pd.DataFrame | None = None,
) -> Relations:
    """The unknowns' bounds and relations of a published table (see :mod:`.audit`); ``known``: the table it
    was made from (same rows, same order), read only as :attr:`Relations.start`."""
    if codebook is None:
        from proximite.cohort.codebook import load_codebook

        codebook = load_codebook()
    frame = table.reset_index(drop=True)
    m = len(frame)
    indicators = frame["indicator"].astype(str).to_numpy(dtype=object)
    specs = {i: codebook.indicator(i) for i in pd.unique(indicators)}
    people = _per_indicator(indicators, specs, lambda spec, i: counts_people(spec, i))
    additive = _per_indicator(indicators, specs, lambda spec, i: bool(spec.get("additive")))
    raw_unit = frame["unit"].astype(str).to_numpy(dtype=object)
    rate = people & (raw_unit == "rate")
    unit = np.where(rate, "share", raw_unit)  # staff rates are under the rule as shares
    hidden = frame["suppressed"].astype("boolean").fillna(False).to_numpy(dtype=bool) & people
    q = _quantities(frame, unit)
    applicable = np.vstack([np.isin(unit, ["count", "share"]), unit == "share", np.ones(m, dtype=bool)]) & people
    integral = np.ones(3 * m, dtype=bool)
    integral[DEN * m + np.flatnonzero(rate)] = False  # an average headcount
    relations = Relations(m, np.zeros(3 * m), np.full(3 * m, np.inf), integral, threshold=threshold)
    _published_bounds(relations, q, hidden, applicable, rounding_base)
    marks = frame["suppression"] if "suppression" in frame.columns else pd.Series("", index=frame.index)
    primary = (marks.astype("string").fillna("") == "primary").to_numpy(dtype=bool) & hidden
    small = np.flatnonzero(primary & (unit != "share"))
    v = np.where(unit[small] == "count", NUM, N) * m + small
    relations.lower[v], relations.upper[v] = 1.0, float(threshold - 1)
    relations.primary_shares = np.flatnonzero(primary & (unit == "share"))
    _group_relations(relations, frame, people, additive, applicable, territory)
    _row_relations(relations, indicators, q, hidden, unit, applicable, rate)
    _partition_relations(relations, frame, q, hidden, unit, people)
    _link_relations(relations, frame, q, hidden, applicable, people)
    value = pd.to_numeric(frame["value"], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    _targets(relations, hidden, unit, applicable, rate)
    _mean_rows(relations, hidden, unit, applicable, q, value)
    if known is not None:
        if len(known) != m:
            raise ValueError(f"the known table has {len(known)} rows, the published one {m}: they must be the same rows")
        relations.start = _quantities(known.reset_index(drop=True), unit).ravel()
    return relations


def key_codes(frame: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """One integer per distinct combination of the key columns (a missing value is a value of its own)."""
    code = np.zeros(len(frame), dtype="int64")
    for column in columns:
        code = _combine(code, pd.factorize(frame[column], use_na_sentinel=False)[0])
    return code


def _combine(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Dense codes of the pairs (first, second)."""
    width = int(second.max(initial=0)) + 1
    return pd.factorize(first.astype("int64") * width + second)[0].astype("int64")


def _per_indicator(indicators: np.ndarray, specs: dict, test: Any) -> np.ndarray:
    """A catalogue flag of each row's indicator (looked up once per indicator)."""
    names = list(specs)
    flags = np.array([test(specs[i], i) for i in names], dtype=bool)
    return flags[pd.Index(names).get_indexer(indicators)] if len(names) else np.zeros(len(indicators), dtype=bool)


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
        rows = np.flatnonzero(applicable[quantity] & ~hidden & np.isfinite(q[quantity]))
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
    if not groups.count:
        return
    m, G = relations.m, groups.count
    rows = positions[groups.mrow]
    children = groups.mrole == 1
    signs = np.where(children, -1.0, 1.0)
    parent = positions[groups.group_parent]
    for quantity in (NUM, DEN, N):
        gated = np.ones(G, dtype=bool) if quantity == N else additive[parent]
        missing = np.bincount(groups.mgid, weights=~applicable[quantity, rows], minlength=G) > 0
        chosen = gated & ~missing
        variables = quantity * m + rows
        lo, hi = relations.lower[variables], relations.upper[variables]
        sum_lo_children = np.bincount(groups.mgid, weights=np.where(children, lo, 0.0), minlength=G)
        sum_hi_children = np.bincount(groups.mgid, weights=np.where(children, hi, 0.0), minlength=G)
        fits = (sum_lo_children <= relations.upper[quantity * m + parent]) & (
            sum_hi_children >= relations.lower[quantity * m + parent])
        member = chosen[groups.mgid]
        line_of, lines = np.unique(groups.mgid[member], return_inverse=True)
        coefficient = np.where(fits[groups.mgid], signs, -signs)[member]
        relations.add_ragged(lines, variables[member], coefficient, len(line_of),
                             np.where(fits[line_of], EQ_GROUP, UB))


def _row_relations(relations: Relations, indicators: np.ndarray, q: np.ndarray, hidden: np.ndarray, unit: np.ndarray,
                   applicable: np.ndarray, rate: np.ndarray) -> None:
    """k ≤ m in a share; n equal to the count (the share's denominator) where every published row says so.

    A staff rate (departures over the average number in post) may exceed 1: no k ≤ m for it.
    """
    m = relations.m
    rows = np.flatnonzero(applicable[DEN] & ~rate)
    relations.add_lines(np.c_[NUM * m + rows, DEN * m + rows], [1.0, -1.0], UB)
    rows = np.flatnonzero(applicable[NUM])
    twin = np.where(unit[rows] == "share", DEN, NUM)
    twin_value = q[twin, rows]
    seen = ~hidden[rows] & np.isfinite(twin_value) & np.isfinite(q[N, rows])
    evidence = pd.DataFrame({"indicator": indicators[rows], "seen": seen,
                             "differs": seen & (twin_value != q[N, rows])})
    verdict = evidence.groupby("indicator", sort=False)[["seen", "differs"]].transform("sum")
    # The unit (hence the twin) is one per indicator in a catalogue-built table.
    linked = (verdict["seen"].to_numpy() >= MIN_EVIDENCE) & (verdict["differs"].to_numpy() == 0)
    rows, twin = rows[linked], twin[linked]
    relations.add_lines(np.c_[N * m + rows, twin * m + rows], [1.0, -1.0], EQ_LINK)


def _partition_relations(relations: Relations, frame: pd.DataFrame, q: np.ndarray, hidden: np.ndarray,
                         unit: np.ndarray, people: np.ndarray) -> None:
    """The values of a breakdown whose published denominators agree share it; their numerators add up to it.

    A family is one indicator's breakdown; a partition, its rows of one wave, period, scope and
    stratum. A family is taken as partitions of a shared denominator when some partition
    publishes it twice, not 0 (empty cells agree whatever the indicator: no evidence), and no
    partition publishes two different ones.
    """
    m = relations.m
    rows = np.flatnonzero(people & (unit == "share") & (labels_of(frame["breakdown"]) != ALL))
    if not len(rows):
        return
    family = key_codes(frame, ["indicator", "breakdown"])[rows]
    part = key_codes(frame, ["indicator", "breakdown", *_GROUP_KEYS])[rows]
    order = np.lexsort((rows, part))
    rows, part, family = rows[order], part[order], family[order]
    starts = np.r_[0, np.flatnonzero(part[1:] != part[:-1]) + 1]
    size = np.diff(np.r_[starts, len(rows)])
    den, num = q[DEN, rows], q[NUM, rows]
    seen = ~hidden[rows] & np.isfinite(den)
    seen_count = np.add.reduceat(seen.astype("int64"), starts)
    agree = (np.minimum.reduceat(np.where(seen, den, np.inf), starts)
             == np.maximum.reduceat(np.where(seen, den, -np.inf), starts)) | (seen_count == 0)
    full = np.logical_and.reduceat(seen & np.isfinite(num), starts) & (size > 1)
    total = np.add.reduceat(np.nan_to_num(num), starts)
    slack = ~full | (np.abs(total - den[starts]) <= 2 * (size + 1))
    families = int(family.max()) + 1
    part_family = family[starts]
    twice = np.add.reduceat((seen & (den > 0)).astype("int64"), starts) > 1
    shared = np.bincount(part_family, weights=twice & agree, minlength=families) > 0
    consistent = np.bincount(part_family, weights=~agree, minlength=families) == 0
    exact = np.bincount(part_family, weights=~slack, minlength=families) == 0
    chosen_part = (shared & consistent)[part_family]
    if not chosen_part.any():
        return
    first = np.repeat(rows[starts], size)
    in_chosen = np.repeat(chosen_part, size)
    others = in_chosen & (rows != first)
    relations.add_lines(np.c_[DEN * m + first[others], DEN * m + rows[others]], [1.0, -1.0], EQ_LINK)
    # Σ numerators = the shared denominator (an upper bound only when a published partition disagrees).
    kept = np.flatnonzero(chosen_part)
    equal = exact[part_family[kept]]
    line_of_row = np.repeat(np.arange(len(starts)), size)
    renumber = np.full(len(starts), -1)
    renumber[kept] = np.arange(len(kept))
    line = renumber[line_of_row[in_chosen]]
    sign = np.where(equal, 1.0, -1.0)
    local = np.r_[np.arange(len(kept)), line]
    variables = np.r_[DEN * m + rows[starts[kept]], NUM * m + rows[in_chosen]]
    relations.add_ragged(local, variables, np.r_[sign, -sign[line]], len(kept), np.where(equal, EQ_LINK, UB))


def _link_relations(relations: Relations, frame: pd.DataFrame, q: np.ndarray, hidden: np.ndarray,
                    applicable: np.ndarray, people: np.ndarray) -> None:
    """A quantity of one indicator equal to a quantity of another in every cell where both are published.

    The streams are (indicator, quantity): the left one read on ``all`` rows, the right one (a
    denominator or an n) on any row of the same wave, period, scope and stratum. The evidence of
    every pair of streams is counted at once, as sparse products over the cells' keys (never a
    list of all pairs); only the linked pairs are then spelt out.
    """
    m = relations.m
    key = key_codes(frame, _GROUP_KEYS)
    total = labels_of(frame["breakdown"]) == ALL
    indicator = key_codes(frame, ["indicator"])
    rows, quantity = _stream_entries(applicable & people)
    value = np.where(hidden[rows], np.nan, q[quantity, rows])
    stream = indicator[rows] * 3 + quantity
    left = total[rows]
    right = quantity != NUM
    linked = _linked_streams(stream, key[rows], value, left, right, 3 * (int(indicator.max(initial=0)) + 1))
    if not len(linked):
        return
    lefts = pd.DataFrame({"stream_a": stream[left], "key": key[rows][left], "var_a": quantity[left] * m + rows[left]})
    rights = pd.DataFrame({"stream_b": stream[right], "key": key[rows][right],
                           "var_b": quantity[right] * m + rows[right]})
    pairs = lefts.merge(linked, on="stream_a").merge(rights, on=["stream_b", "key"])
    relations.add_lines(np.c_[pairs["var_a"].to_numpy(), pairs["var_b"].to_numpy()], [1.0, -1.0], EQ_LINK)


def _stream_entries(applicable: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every (row, quantity) a row carries."""
    rows, quantity = [], []
    for q in (NUM, DEN, N):
        chosen = np.flatnonzero(applicable[q])
        rows.append(chosen)
        quantity.append(np.full(len(chosen), q))
    return np.concatenate(rows), np.concatenate(quantity)


def _linked_streams(stream: np.ndarray, key: np.ndarray, value: np.ndarray, left: np.ndarray, right: np.ndarray,
                    streams: int) -> pd.DataFrame:
    """Pairs of streams (of different indicators) published together at least :data:`MIN_EVIDENCE` times,
    always equal and not always 0: columns ``stream_a``, ``stream_b``."""
    from scipy import sparse

    published = ~np.isnan(value)
    keys = int(key.max(initial=0)) + 1
    pair_value = _combine(key, pd.factorize(np.where(published, value, -1.0))[0])
    values = int(pair_value.max(initial=0)) + 1

    def incidence(select: np.ndarray, column: np.ndarray, width: int) -> sparse.csr_matrix:
        return sparse.csr_matrix((np.ones(int(select.sum())), (stream[select], column[select])),
                                 shape=(streams, width))

    a, b = left & published, right & published
    seen = incidence(a, key, keys) @ incidence(b, key, keys).T
    nonzero = incidence(a & (value > 0), key, keys) @ incidence(b, key, keys).T
    agree = incidence(a, pair_value, values) @ incidence(b, pair_value, values).T
    seen, nonzero, agree = seen.tocoo(), nonzero.tocsr(), agree.tocsr()
    enough = seen.data >= MIN_EVIDENCE
    stream_a, stream_b, count = seen.row[enough], seen.col[enough], seen.data[enough]
    if not len(count):
        return pd.DataFrame({"stream_a": stream_a, "stream_b": stream_b})
    same = np.asarray(agree[stream_a, stream_b]).ravel() == count
    some = np.asarray(nonzero[stream_a, stream_b]).ravel() > 0
    other = stream_a // 3 != stream_b // 3
    keep = same & some & other
    return pd.DataFrame({"stream_a": stream_a[keep], "stream_b": stream_b[keep]})


def _targets(relations: Relations, hidden: np.ndarray, unit: np.ndarray, applicable: np.ndarray,
             rate: np.ndarray) -> None:
    """The hidden counts: the count, a share's numerator, denominator and m − k, every n."""
    m = relations.m
    rows, quantities, variables, coefficients = [], [], [], []
    for quantity in (NUM, DEN, N):
        chosen = np.flatnonzero(hidden & applicable[quantity])
        rows.append(chosen)
        quantities.append(np.full(len(chosen), quantity))
        variables.append(np.c_[quantity * m + chosen, np.full(len(chosen), -1)])
        coefficients.append(np.c_[np.ones(len(chosen)), np.zeros(len(chosen))])
    chosen = np.flatnonzero(hidden & (unit == "share") & ~rate)
    rows.append(chosen)
    quantities.append(np.full(len(chosen), COMPLEMENT))
    variables.append(np.c_[DEN * m + chosen, NUM * m + chosen])
    coefficients.append(np.c_[np.ones(len(chosen)), -np.ones(len(chosen))])
    row = np.concatenate(rows)
    order = np.lexsort((np.concatenate(quantities), row))
    relations.target_row = row[order].astype("int64")
    relations.target_quantity = np.concatenate(quantities)[order].astype("int64")
    relations.target_var = np.concatenate(variables)[order].astype("int64").reshape(-1, 2)
    relations.target_coef = np.concatenate(coefficients)[order].astype("float64").reshape(-1, 2)


def _mean_rows(relations: Relations, hidden: np.ndarray, unit: np.ndarray, applicable: np.ndarray, q: np.ndarray,
               value: np.ndarray) -> None:
    """Published means, changes and medians, with whether their sums are published too."""
    rows = np.flatnonzero(~hidden & np.isin(unit, _PER_ROW) & applicable[N])
    relations.mean_rows = pd.DataFrame({"row": rows, "value": value[rows], "n": q[N, rows],
                                        "sums": np.isfinite(q[NUM, rows]) | np.isfinite(q[DEN, rows])})


def narrow_primary_shares(relations: Relations, bounds: dict[tuple[int, int], tuple[float, float]]) -> int:
    """A share marked ``primary`` has k, m − k or m from 1 to t − 1: when the bounds leave one of the three, impose it.

    Returns the number of shares narrowed.
    """
    m, small = relations.m, float(relations.threshold - 1)
    narrowed = 0
    for row in relations.primary_shares:
        options = [quantity for quantity in (NUM, COMPLEMENT, DEN) if bounds.get((int(row), quantity), (0.0, np.inf))[0]
                   <= small]
        if len(options) != 1:
            continue
        narrowed += 1
        if options[0] == COMPLEMENT:
            relations.add_lines(np.array([[DEN * m + row, NUM * m + row]] * 2), np.array([[1.0, -1.0], [-1.0, 1.0]]),
                                UB, np.array([small, -1.0]))
        else:
            v = options[0] * m + row
            relations.lower[v], relations.upper[v] = max(relations.lower[v], 1.0), min(relations.upper[v], small)
    return narrowed
