"""Disclosure control on random hierarchical tables, audited by linear programming.

Each example is a random province: a few regions of a few territories (each rural or urban),
and for each territory × need category a count (families reached) and a share (needs met /
needs identified). Every published cell is a sum of these leaf cells, exactly as the indicator
functions compute them: Québec, regions, their environment strata, territories, and the
breakdown ``all`` and its categories.

The audit is independent of the algorithm: it knows only the leaves and which published cell
sums which leaves (not the algorithm's groups). An attacker who sees the output solves, for each
suppressed cell, min and max of its count over every leaf table that agrees with what is
published:

- variables: the leaf counts, ≥ 0 (shares: numerator and denominator with 0 ≤ k ≤ m);
- published cells: Σ leaves = the published count (``internal``), or lies in
  [r − b/2, r + b/2] around the published rounded count r (``public``, base b).

**Protection criterion**: for every suppressed cell and each of its counts that is not 0 (the
count; for a share its numerator, its denominator and denominator − numerator), max − min > 0:
the published table is compatible with more than one value of that count.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from proximite.indicators.base import INDICATOR_COLUMNS, indicator_frame
from proximite.indicators.disclosure import DISCLOSURE_COLUMNS, apply_disclosure
from proximite.indicators.disclosure.audit import audit_published
from proximite.indicators.disclosure.recoverability import null_moves, null_space
from scipy.optimize import linprog

COUNT = "reach.families_reached"
SHARE = "needs_offer.match_rate"
PSEUDONYM = re.compile(r"^[0-9a-f]{16}$")


@dataclass
class Province:
    table: pd.DataFrame
    territory: pd.DataFrame
    #: Cell key → the leaves (territory, category) it sums.
    leaves: dict[tuple[str, ...], list[tuple[str, str]]]
    #: Leaf → count, numerator, denominator.
    count: dict[tuple[str, str], int]
    numerator: dict[tuple[str, str], int]
    denominator: dict[tuple[str, str], int]
    categories: list[str]
    indicators: tuple[str, ...]


def key_of(row: pd.Series | dict) -> tuple[str, ...]:
    return tuple(str(row[c]) for c in ("scope", "scope_id", "stratum", "stratum_value", "breakdown_value"))


@st.composite
def provinces(draw: st.DrawFn) -> Province:
    regions = [f"{r:02d}" for r in range(1, draw(st.integers(1, 3)) + 1)]
    territory_rows = []
    for region in regions:
        for t in range(1, draw(st.integers(1, 3)) + 1):
            territory_rows.append(
                {"territory_id": f"T{region}-{t:02d}", "region_code": region,
                 "environment": draw(st.sampled_from(["rural", "urbain"])), "host_type": "OCF"}
            )
    territory = pd.DataFrame(territory_rows).astype("string")
    categories = ["logement", "alimentation", "sante"][: draw(st.integers(2, 3))]
    indicators = draw(st.sampled_from([(COUNT,), (SHARE,), (COUNT, SHARE)]))
    # A groupby only emits the cells it sees: rows of zero counts may be absent.
    drop_zeros = draw(st.booleans())
    small = st.one_of(st.integers(0, 6), st.integers(0, 30))
    count, numerator, denominator = {}, {}, {}
    for tid in territory["territory_id"]:
        for category in categories:
            leaf = (tid, category)
            count[leaf] = draw(small)
            denominator[leaf] = draw(small)
            numerator[leaf] = draw(st.integers(0, denominator[leaf]))

    # Geographic cells and the territories they cover (only non-empty ones, as a groupby gives).
    geo: dict[tuple[str, str, str, str], list[str]] = {("quebec", "QC", "all", "all"): list(territory["territory_id"])}
    for region in regions:
        geo[("region", region, "all", "all")] = list(territory.loc[territory["region_code"] == region, "territory_id"])
    for env in ("rural", "urbain"):
        members = territory.loc[territory["environment"] == env]
        if len(members):
            geo[("quebec", "QC", "environment", env)] = list(members["territory_id"])
        for region in regions:
            inside = members.loc[members["region_code"] == region, "territory_id"]
            if len(inside):
                geo[("region", region, "environment", env)] = list(inside)
    for tid in territory["territory_id"]:
        geo[("territory", str(tid), "all", "all")] = [str(tid)]

    rows, leaves = [], {}
    for (scope, scope_id, stratum, stratum_value), tids in geo.items():
        for category in ["all", *categories]:
            cell_leaves = [(t, c) for t in tids for c in categories if category in ("all", c)]
            key = (scope, scope_id, stratum, stratum_value, category)
            leaves[key] = cell_leaves
            base = {"scope": scope, "scope_id": scope_id, "stratum": stratum, "stratum_value": stratum_value,
                    "period": "all", "breakdown": "all" if category == "all" else "need_category",
                    "breakdown_value": category}
            c = sum(count[leaf] for leaf in cell_leaves)
            k = sum(numerator[leaf] for leaf in cell_leaves)
            m = sum(denominator[leaf] for leaf in cell_leaves)
            if COUNT in indicators and not (drop_zeros and c == 0):
                rows.append({**base, "indicator": COUNT, "numerator": c, "value": c, "n": c, "unit": "count",
                             "method": "count"})
            if SHARE in indicators and not (drop_zeros and m == 0):
                rows.append({**base, "indicator": SHARE, "numerator": k, "denominator": m,
                             "value": k / m if m else np.nan, "n": m, "unit": "share", "method": "wilson"})
    return Province(indicator_frame(rows), territory, leaves, count, numerator, denominator, categories, indicators)


def published_bounds(published: float, level: str, base: int) -> tuple[float, float]:
    if level == "public":
        return max(published - base / 2, 0.0), published + base / 2
    return published, published


def audit(province: Province, out: pd.DataFrame, indicator: str, level: str, base: int) -> list[str]:
    """Counts of suppressed cells that the published table pins down (empty when all protected)."""
    leaf_list = sorted(province.count)
    index = {leaf: i for i, leaf in enumerate(leaf_list)}
    size = len(leaf_list)
    share = indicator == SHARE
    width = 2 * size if share else size  # [numerators | denominators] or [counts]
    rows = out.loc[out["indicator"] == indicator]

    def vector(key: tuple[str, ...], part: int) -> np.ndarray:
        v = np.zeros(width)
        for leaf in province.leaves[key]:
            v[part * size + index[leaf]] = 1.0
        return v

    a_ub, b_ub = [], []
    for _, row in rows.loc[~rows["suppressed"]].iterrows():
        key = key_of(row)
        for part, column in ((0, "numerator"), (1, "denominator"))[: 2 if share else 1]:
            low, high = published_bounds(float(row[column]), level, base)
            v = vector(key, part)
            a_ub += [v, -v]
            b_ub += [high, -low]
    if share:  # 0 ≤ k ≤ m in every leaf
        for i in range(size):
            v = np.zeros(width)
            v[i], v[size + i] = 1.0, -1.0
            a_ub.append(v)
            b_ub.append(0.0)
    a_ub_array, b_ub_array = np.array(a_ub).reshape(-1, width), np.array(b_ub)

    def movable(objective: np.ndarray, true_value: float) -> bool:
        """max − min > 0; the true table is feasible, so one end away from the truth suffices."""
        for sign in (-1.0, 1.0):  # maximise, then minimise
            result = linprog(sign * objective, A_ub=a_ub_array, b_ub=b_ub_array, bounds=(0, None), method="highs")
            if result.status == 3:  # unbounded: nothing published caps this cell
                return True
            assert result.status == 0, result.message
            if abs(sign * result.fun - true_value) > 1e-6:
                return True
        return False

    pinned = []
    for _, row in rows.loc[rows["suppressed"]].iterrows():
        key = key_of(row)
        if share:
            k = sum(province.numerator[leaf] for leaf in province.leaves[key])
            m = sum(province.denominator[leaf] for leaf in province.leaves[key])
            checks = [("numerator", vector(key, 0), k), ("denominator", vector(key, 1), m),
                      ("denominator − numerator", vector(key, 1) - vector(key, 0), m - k)]
        else:
            c = sum(province.count[leaf] for leaf in province.leaves[key])
            checks = [("count", vector(key, 0), c)]
        for name, objective, true_value in checks:
            if true_value > 0 and not movable(objective, true_value):
                pinned.append(f"{indicator} {key} {name}={true_value}")
    return pinned


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(province=provinces(), level=st.sampled_from(["public", "internal"]), threshold=st.sampled_from([3, 5]),
       base=st.sampled_from([3, 5]))
def test_no_suppressed_cell_can_be_recomputed(province: Province, level: str, threshold: int, base: int) -> None:
    table = province.table.assign(family_id="0123456789abcdef")  # an extra column must not survive
    before = table.copy(deep=True)
    out = apply_disclosure(table, level=level, threshold=threshold, rounding_base=base, territory=province.territory)
    pd.testing.assert_frame_equal(table, before)

    # Nothing but aggregates comes out.
    assert list(out.columns) == DISCLOSURE_COLUMNS == [*INDICATOR_COLUMNS, "suppressed", "suppression"]
    for column in out.select_dtypes(exclude="number").columns:
        assert not out[column].astype(str).str.fullmatch(PSEUDONYM).any(), column
    assert set(out["scope"]) <= {"quebec", "region", "territory"}

    # Every published count (before rounding) is 0 or at least the threshold.
    truth = table
    published = ~out["suppressed"]
    k = truth["numerator"].where(published)
    m = truth["denominator"].where(published & (truth["indicator"] == SHARE))
    for counts in (k, m, m - k):
        counts = counts.dropna()
        assert ((counts == 0) | (counts >= threshold)).all()
    # Suppressed cells show nothing.
    shown = ["numerator", "denominator", "value", "ci_low", "ci_high", "n"]
    assert out.loc[out["suppressed"], shown].isna().all().all()
    assert (out["suppression"].eq("") == ~out["suppressed"]).all()

    for indicator in province.indicators:
        assert audit(province, out, indicator, level, base) == []


@st.composite
def systems(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, int]:
    """A random sparse system of "parent − Σ children" equations (entries ±1)."""
    lines, columns = draw(st.integers(1, 25)), draw(st.integers(1, 30))
    entries = draw(st.sets(st.tuples(st.integers(0, lines - 1), st.integers(0, columns - 1)), min_size=1,
                           max_size=3 * columns))
    eq = np.array([e for e, _ in entries])
    var = np.array([v for _, v in entries])
    coefficient = np.array(draw(st.lists(st.sampled_from([1.0, -1.0]), min_size=len(eq), max_size=len(eq))))
    return eq, var, coefficient, lines, columns


@settings(max_examples=100, deadline=None)
@given(system=systems())
def test_the_iterative_check_agrees_with_exact_elimination(system: tuple) -> None:
    # The iterative projection (what the algorithm uses) and Gauss–Jordan elimination (its
    # fallback) find the same pinned unknowns: those no move of the null space changes.
    eq, var, coefficient, lines, columns = system
    moves = null_moves(eq, var, coefficient, lines, columns)
    basis = null_space(eq, var, coefficient, lines, columns)
    matrix = np.zeros((lines, columns))
    np.add.at(matrix, (eq, var), coefficient)
    assert np.abs(matrix @ moves).max() < 1e-9 and np.abs(matrix @ basis).max(initial=0.0) < 1e-9
    assert basis.shape[1] == columns - np.linalg.matrix_rank(matrix)
    pinned_iterative = ~(np.abs(moves) > 1e-7).any(axis=1)
    pinned_exact = ~(np.abs(basis) > 1e-9).any(axis=1)
    assert (pinned_iterative == pinned_exact).all()


# ---------------------------------------------------------------------------- the shipped attacker
def published_view(out: pd.DataFrame) -> pd.DataFrame:
    """The table as a public file holds it: one mark for every hidden cell."""
    return out.assign(suppression=np.where(out["suppressed"], "suppressed", ""))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(province=provinces(), level=st.sampled_from(["public", "internal"]), threshold=st.sampled_from([3, 5]),
       base=st.sampled_from([3, 5]))
def test_the_audit_finds_nothing_after_apply_disclosure(province: Province, level: str, threshold: int,
                                                        base: int) -> None:
    out = apply_disclosure(province.table, level=level, threshold=threshold, rounding_base=base,
                           territory=province.territory)
    result = audit_published(published_view(out), threshold=threshold,
                             rounding_base=base if level == "public" else 1, territory=province.territory)
    assert result.clean, result.findings.to_string()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(province=provinces(), data=st.data())
def test_the_audits_bounds_hold_the_truth(province: Province, data: st.DataObject) -> None:
    # Hide random cells of the exact table (no complementary suppression): every finding's
    # bounds contain the true count (the relations the attacker guesses hold on real tables).
    table = province.table
    hidden = np.array(data.draw(st.lists(st.booleans(), min_size=len(table), max_size=len(table))), dtype=bool)
    published = table.assign(suppressed=hidden, suppression=np.where(hidden, "suppressed", ""))
    for column in ("numerator", "denominator", "value", "ci_low", "ci_high", "n"):
        published[column] = published[column].mask(pd.Series(hidden, index=published.index))
    result = audit_published(published, threshold=5, rounding_base=1, territory=province.territory)
    truth = table.reset_index(drop=True)
    assert len(result.rows) == len(result.findings)
    for row, (_, finding) in zip(result.rows, result.findings.iterrows()):
        name = finding["quantity"]
        k, m = truth.at[row, "numerator"], truth.at[row, "denominator"]
        value = {"numerator": k, "denominator": m, "n": truth.at[row, "n"], "denominator - numerator": m - k}[name]
        assert finding["low"] - 1e-6 <= value <= finding["high"] + 1e-6, (finding.to_dict(), value)
