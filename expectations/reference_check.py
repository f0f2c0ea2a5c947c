"""An independent, hand-written evaluation of every rule with vectorised pandas.

It exists for two reasons: the benchmark (validation through Great Expectations and DuckDB must
cost no more than twice this), and a cross-check (both engines must find exactly the same
failing rows; ``tests/spec/test_validation_checks.py``). It shares nothing with the other engines
but the :class:`~proximite.expectations.base.Rule` objects: no Great Expectations, no SQL.

Conventions (the same as the other engines, stated once):

- ``required``: rows meeting the rule's condition are checked; missing values fail;
- ``in_set``, ``between``, ``format``, ``pair_ge``: rows with the value(s) present are checked;
- ``type``: every row is checked; all fail when the column's dtype is not accepted;
- ``key_unique``: rows whose key is not entirely missing are checked; every row of a repeated
  key fails (missing values compare equal);
- cross-table rules: the rows in scope stated in :mod:`proximite.expectations.sql_checks`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from proximite.expectations.base import Rule
from proximite.expectations.rules import RuleOutcome, accepts_dtype

__all__ = ["condition_mask", "evaluate_reference"]

_MONTH_PATTERN = r"\d{4}-(?:0[1-9]|1[0-2])"


def _present(values: pd.Series) -> np.ndarray:
    return values.notna().to_numpy(dtype=bool)


def _clause_mask(frame: pd.DataFrame, clause: Mapping[str, Any]) -> np.ndarray:
    op = clause["op"]
    if op == "any":
        masks = [_clause_mask(frame, inner) for inner in clause["clauses"]]
        return np.logical_or.reduce(masks) if masks else np.ones(len(frame), dtype=bool)
    values = frame[clause["column"]]
    if op == "is_null":
        return ~_present(values)
    if op == "not_null":
        return _present(values)
    member = values.isin(list(clause["value"])).fillna(False).to_numpy(dtype=bool)
    if op == "in":
        return member
    if op == "not_in":
        return ~member
    raise ValueError(f"unknown condition operator {op!r}")


def condition_mask(frame: pd.DataFrame, condition: Sequence[Mapping[str, Any]]) -> np.ndarray:
    """Rows meeting a rule's condition (clauses joined by *and*; ``any`` joins by *or*)."""
    mask = np.ones(len(frame), dtype=bool)
    for clause in condition:
        mask &= _clause_mask(frame, clause)
    return mask


def _dates(values: pd.Series) -> pd.Series:
    """Day precision, as SQL's ``CAST(... AS DATE)``."""
    return pd.to_datetime(values).dt.normalize()


def _month_index(months: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """``12·year + month − 1`` of ``YYYY-MM`` strings, and which are valid."""
    text = months.astype("string")
    valid = text.str.fullmatch(_MONTH_PATTERN).fillna(False).to_numpy(dtype=bool)
    year = pd.to_numeric(text.str.slice(0, 4).where(valid), errors="coerce")
    month = pd.to_numeric(text.str.slice(5, 7).where(valid), errors="coerce")
    return (year * 12 + month - 1).to_numpy(dtype="float64", na_value=np.nan), valid


def _day_month_index(days: pd.Series) -> np.ndarray:
    return (days.dt.year * 12 + days.dt.month - 1).to_numpy(dtype="float64", na_value=np.nan)


# ------------------------------------------------------------------------------ per column
def _column_rule(frame: pd.DataFrame, rule: Rule) -> tuple[np.ndarray, np.ndarray]:
    """``(in scope, failing)`` masks of a single-table rule."""
    params = rule.params
    kind = params["kind"]
    n = len(frame)
    if kind == "key_unique":
        keys = frame[params["columns"]]
        scope = keys.notna().any(axis=1).to_numpy(dtype=bool)
        failing = np.zeros(n, dtype=bool)
        failing[scope] = keys[scope].duplicated(keep=False).to_numpy(dtype=bool)
        return scope, failing
    if kind == "pair_ge":
        a, b = frame[params["column_a"]], frame[params["column_b"]]
        scope = _present(a) & _present(b)
        failing = np.zeros(n, dtype=bool)
        failing[scope] = (a[scope] < b[scope]).to_numpy(dtype=bool)
        return scope, failing
    values = frame[rule.column]
    if kind == "type":
        scope = np.ones(n, dtype=bool)
        return scope, np.full(n, not accepts_dtype(values.dtype, params["dtypes"]))
    if kind == "required":
        scope = condition_mask(frame, params.get("condition", []))
        return scope, scope & ~_present(values)
    scope = _present(values) & condition_mask(frame, params.get("condition", []))
    if kind == "in_set":
        failing = ~values.isin(list(params["values"])).fillna(False).to_numpy(dtype=bool)
    elif kind == "between":
        if params.get("bound") == "date":
            low = pd.Timestamp(params["min"]) if params.get("min") is not None else None
            high = pd.Timestamp(params["max"]) if params.get("max") is not None else None
            numbers = values
        else:
            low, high = params.get("min"), params.get("max")
            numbers = values.astype("float64") if values.dtype != object else pd.to_numeric(values)
        failing = np.zeros(n, dtype=bool)
        if low is not None:
            failing |= (numbers < low).fillna(False).to_numpy(dtype=bool)
        if high is not None:
            failing |= (numbers > high).fillna(False).to_numpy(dtype=bool)
    elif kind == "format":
        failing = ~values.astype("string").str.contains(params["regex"], regex=True).fillna(True).to_numpy(dtype=bool)
    else:
        raise ValueError(f"{rule.rule_id}: no reference evaluation for kind {kind!r}")
    return scope, scope & failing


# ------------------------------------------------------------------------------ cross table
def _first_contact(family: pd.DataFrame) -> pd.Series:
    known = family[family["family_id"].notna() & family["first_contact_date"].notna()]
    return _dates(known["first_contact_date"]).groupby(known["family_id"].to_numpy()).min()


def _mapped(keys: pd.Series, lookup: pd.Series) -> pd.Series:
    """``lookup[key]`` for each key (missing when absent), aligned on ``keys``."""
    return keys.map(lookup)


def _family_exists(table: str) -> Callable[[Mapping[str, pd.DataFrame], Mapping[str, Any]], tuple[np.ndarray, np.ndarray]]:
    def check(tables: Mapping[str, pd.DataFrame], params: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        ids = tables[table]["family_id"]
        scope = _present(ids)
        known = tables["family"]["family_id"].dropna().unique()
        return scope, scope & ~ids.isin(known).to_numpy(dtype=bool)

    return check


def _region_exists(tables: Mapping[str, pd.DataFrame], params: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    codes = tables["territory"]["region_code"]
    scope = _present(codes)
    return scope, scope & ~codes.isin(tables["region"]["region_code"].dropna().unique()).to_numpy(dtype=bool)


def _in_wave_window(tables: Mapping[str, pd.DataFrame], params: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    assessment = tables["assessment"]
    contact = _mapped(assessment["family_id"], _first_contact(tables["family"]))
    day = _dates(assessment["assessment_date"])
    wave = assessment["wave"].astype("Float64").to_numpy(dtype="float64", na_value=np.nan)
    baseline_rows = (wave == 0) & day.notna().to_numpy() & assessment["family_id"].notna().to_numpy()
    t0 = day[baseline_rows].groupby(assessment.loc[baseline_rows, "family_id"].to_numpy()).min()
    anchor = _mapped(assessment["family_id"], t0).fillna(contact)
    n = len(assessment)
    scope = np.zeros(n, dtype=bool)
    failing = np.zeros(n, dtype=bool)
    dated = day.notna().to_numpy()
    for months in params["wave_months"]:
        rows = dated & (wave == months)
        if months == 0:
            rows &= contact.notna().to_numpy()
            offset = (day[rows] - contact[rows]).dt.days
            failing[rows] = ((offset < 0) | (offset > params["baseline_within_days"])).to_numpy()
        else:
            rows &= anchor.notna().to_numpy()
            due = pd.to_datetime(anchor[rows]) + pd.DateOffset(months=int(months))
            failing[rows] = ((day[rows] - due).dt.days.abs() > params["window_days"]).to_numpy()
        scope |= rows
    return scope, failing


def _after_first_contact(tables: Mapping[str, pd.DataFrame], params: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    assessment = tables["assessment"]
    contact = _mapped(assessment["family_id"], _first_contact(tables["family"]))
    day = _dates(assessment["assessment_date"])
    scope = day.notna().to_numpy() & contact.notna().to_numpy()
    failing = np.zeros(len(assessment), dtype=bool)
    failing[scope] = (day[scope] < pd.to_datetime(contact[scope])).to_numpy()
    return scope, failing


def _waves_in_date_order(tables: Mapping[str, pd.DataFrame], params: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    assessment = tables["assessment"]
    scope = (
        assessment["family_id"].notna() & assessment["assessment_date"].notna() & assessment["wave"].notna()
    ).to_numpy()
    rows = pd.DataFrame(
        {
            "family": assessment["family_id"].to_numpy()[scope],
            "wave": assessment["wave"].astype("float64").to_numpy()[scope],
            "day": _dates(assessment["assessment_date"]).to_numpy()[scope],
            "position": np.flatnonzero(scope),
        }
    ).sort_values(["family", "wave"], kind="stable")
    previous = rows.groupby("family", sort=False)["day"].shift()
    failing = np.zeros(len(assessment), dtype=bool)
    failing[rows["position"].to_numpy()] = (rows["day"] <= previous).to_numpy()
    return scope, failing


def _organisation_exists(tables: Mapping[str, pd.DataFrame], params: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    referral = tables["referral"]
    known = tables["organisation"]["org_id"].dropna().unique()
    origin, destination = referral["from_org_id"], referral["to_org_id"]
    scope = _present(origin) | _present(destination)
    failing = (_present(origin) & ~origin.isin(known).to_numpy(dtype=bool)) | (
        _present(destination) & ~destination.isin(known).to_numpy(dtype=bool)
    )
    return scope, failing


def _child_months(tables: Mapping[str, pd.DataFrame]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(in scope, unborn, birth month index, contact month index)`` of each child."""
    child = tables["child"]
    contact = _mapped(child["family_id"], _first_contact(tables["family"]))
    birth, valid = _month_index(child["birth_month"])
    unborn = child["unborn_at_contact"].astype("boolean")
    scope = valid & unborn.notna().to_numpy() & contact.notna().to_numpy()
    contact_month = _day_month_index(pd.to_datetime(contact))
    return scope, unborn.fillna(False).to_numpy(dtype=bool), birth, contact_month


def _birth_plausible(tables: Mapping[str, pd.DataFrame], params: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    scope, unborn, birth, contact = _child_months(tables)
    with np.errstate(invalid="ignore"):
        late_expected = unborn & (birth - contact > params["unborn_max_months"])
        implausible_age = ~unborn & (contact - birth > 12 * params["child_max_age_years"])
    return scope, scope & (late_expected | implausible_age)


def _unborn_born_later(tables: Mapping[str, pd.DataFrame], params: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    scope, unborn, birth, contact = _child_months(tables)
    scope = scope & unborn
    with np.errstate(invalid="ignore"):
        return scope, scope & (birth < contact)


def _born_before_assessment(tables: Mapping[str, pd.DataFrame], params: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    child, assessment = tables["child"], tables["assessment"]
    dated = assessment["family_id"].notna() & assessment["assessment_date"].notna()
    first = _dates(assessment.loc[dated, "assessment_date"]).groupby(assessment.loc[dated, "family_id"].to_numpy()).min()
    first_day = _mapped(child["family_id"], first)
    birth, valid = _month_index(child["birth_month"])
    born = (child["unborn_at_contact"].astype("boolean") == False).fillna(False).to_numpy(dtype=bool)
    scope = valid & born & first_day.notna().to_numpy()
    with np.errstate(invalid="ignore"):
        return scope, scope & (birth > _day_month_index(pd.to_datetime(first_day)))


def _one_territory(tables: Mapping[str, pd.DataFrame], params: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    family, activity = tables["family"], tables["activity"]
    pairs = pd.concat(
        [
            pd.DataFrame({"family": family["family_id"].to_numpy(dtype=object), "territory": family["territory_id"].to_numpy(dtype=object)}),
            pd.DataFrame({"family": activity["family_id"].to_numpy(dtype=object), "territory": activity["territory_id"].to_numpy(dtype=object)}),
        ]
    ).dropna().drop_duplicates()
    counts = pairs["family"].value_counts()
    several = counts.index[counts.to_numpy() > 1]
    scope = _present(family["family_id"])
    return scope, scope & family["family_id"].isin(several).to_numpy(dtype=bool)


def _worker_known(tables: Mapping[str, pd.DataFrame], params: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    workers = tables["activity"]["worker_id"]
    scope = _present(workers)
    known = tables["worker"]["worker_id"].dropna().unique()
    return scope, scope & ~workers.isin(known).to_numpy(dtype=bool)


def _within_tenure(tables: Mapping[str, pd.DataFrame], params: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    activity, worker = tables["activity"], tables["worker"]
    known = worker["worker_id"].dropna().unique()
    scope = activity["activity_date"].notna().to_numpy() & activity["worker_id"].isin(known).to_numpy(dtype=bool)
    positions = np.flatnonzero(scope)
    acts = pd.DataFrame(
        {
            "position": positions,
            "worker_id": activity["worker_id"].to_numpy(dtype=object)[positions],
            "territory_id": activity["territory_id"].to_numpy(dtype=object)[positions],
            "day": _dates(activity["activity_date"]).to_numpy()[positions],
        }
    )
    tenures = pd.DataFrame(
        {
            "worker_id": worker["worker_id"].to_numpy(dtype=object),
            "territory_id": worker["territory_id"].to_numpy(dtype=object),
            "start": _dates(worker["start_date"]).to_numpy(),
            "end": _dates(worker["end_date"]).to_numpy(),
        }
    ).dropna(subset=["worker_id", "territory_id"])
    matched = acts.merge(tenures, on=["worker_id", "territory_id"], how="inner")
    inside = (matched["day"] >= matched["start"]) & (matched["end"].isna() | (matched["day"] <= matched["end"]))
    covered = np.zeros(len(activity), dtype=bool)
    covered[matched.loc[inside, "position"].to_numpy()] = True
    return scope, scope & ~covered


def _redcap_one_territory(table: str, tables: Mapping[str, pd.DataFrame], params: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    rows = pd.concat(
        [
            pd.DataFrame(
                {
                    "record": tables[form]["record_id"].to_numpy(dtype=object),
                    "dag": tables[form]["redcap_data_access_group"].to_numpy(dtype=object),
                }
            )
            for form in params["forms"]
        ],
        ignore_index=True,
    ).dropna()
    counts = rows.groupby(["record", "dag"]).size().rename("n").reset_index()
    top = counts.groupby("record")["n"].transform("max")
    leaders = counts[counts["n"] == top]
    single = leaders.groupby("record")["dag"].transform("size") == 1
    modal = leaders[single].set_index("record")["dag"]
    frame = tables[table]
    records = frame["record_id"].to_numpy(dtype=object)
    dags = frame["redcap_data_access_group"].to_numpy(dtype=object)
    has_dag = _present(frame["redcap_data_access_group"])
    known = pd.Series(records).isin(set(counts["record"])).to_numpy() & _present(frame["record_id"])
    scope = has_dag & known
    own = pd.Series(records).map(modal).to_numpy(dtype=object)
    failing = scope & ~(pd.Series(own).notna().to_numpy() & (own == dags))
    return scope, failing


def _known(table: str, column: str, lookup: str, key: str) -> Callable[[Mapping[str, pd.DataFrame], Mapping[str, Any]], tuple[np.ndarray, np.ndarray]]:
    """Rows of ``table`` whose ``column`` is filled and not a ``key`` of ``lookup``."""

    def check(tables: Mapping[str, pd.DataFrame], params: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        values = tables[table][column]
        scope = _present(values)
        return scope, scope & ~values.isin(tables[lookup][key].dropna().unique()).to_numpy(dtype=bool)

    return check


def _not_self(tables: Mapping[str, pd.DataFrame], params: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    ties = tables["partner_tie"]
    scope = _present(ties["from_org_id"]) & _present(ties["to_org_id"])
    same = ties["from_org_id"].astype(object).to_numpy() == ties["to_org_id"].astype(object).to_numpy()
    return scope, scope & same


def _duplicate_answer(table: str, tables: Mapping[str, pd.DataFrame], params: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """Rows whose complete key repeats another row's (every such row fails)."""
    keys = tables[table][list(params["columns"])].astype(object)
    scope = keys.notna().all(axis=1).to_numpy(dtype=bool)
    repeated = keys.duplicated(keep=False).to_numpy(dtype=bool)
    return scope, scope & repeated


def _not_after(tables: Mapping[str, pd.DataFrame], table: str, column: str, as_of: str) -> tuple[np.ndarray, np.ndarray]:
    """Dates after the pull's day (the independent check of ``*.not_after_pull``)."""
    days = pd.to_datetime(tables[table][column], errors="coerce")
    scope = days.notna().to_numpy(dtype=bool)
    return scope, scope & (days > pd.Timestamp(as_of[:10])).fillna(False).to_numpy(dtype=bool)


_CROSS_TABLE: dict[str, Callable[[Mapping[str, pd.DataFrame], Mapping[str, Any]], tuple[np.ndarray, np.ndarray]]] = {
    "harmonised.assessment.in_wave_window": _in_wave_window,
    "harmonised.assessment.after_first_contact": _after_first_contact,
    "harmonised.assessment.waves_in_date_order": _waves_in_date_order,
    "harmonised.assessment.family_exists": _family_exists("assessment"),
    "harmonised.need.family_exists": _family_exists("need"),
    "harmonised.referral.family_exists": _family_exists("referral"),
    "harmonised.referral.organisation_exists": _organisation_exists,
    "harmonised.territory.region_exists": _region_exists,
    "harmonised.child.family_exists": _family_exists("child"),
    "harmonised.child.birth_plausible": _birth_plausible,
    "harmonised.child.unborn_born_later": _unborn_born_later,
    "harmonised.child.born_before_assessment": _born_before_assessment,
    "harmonised.family.one_territory": _one_territory,
    "harmonised.activity.worker_known": _worker_known,
    "harmonised.activity.within_tenure": _within_tenure,
    "harmonised.activity.family_exists": _family_exists("activity"),
    "harmonised.partner_response.organisation_exists": _known("partner_response", "org_id", "organisation", "org_id"),
    "harmonised.partner_tie.organisation_exists": _known("partner_tie", "to_org_id", "organisation", "org_id"),
    "harmonised.partner_tie.response_exists": _known("partner_tie", "response_id", "partner_response", "response_id"),
    "harmonised.partner_tie.not_self": _not_self,
    "harmonised.staff_survey.worker_known": _known("staff_survey", "worker_id", "worker", "worker_id"),
}


def evaluate_reference(
    tables: Mapping[str, pd.DataFrame],
    rules: Sequence[Rule],
    *,
    max_failures: int,
) -> list[RuleOutcome]:
    """Evaluate rules with plain vectorised pandas.

    Parameters
    ----------
    tables : mapping of str to DataFrame
        Every table a rule reads.
    rules : sequence of Rule
    max_failures : int, keyword-only
        Failing rows listed per rule (0 = all).

    Returns
    -------
    list of RuleOutcome
        In the order of ``rules``, with ``engine="pandas"``.
    """
    outcomes = []
    for rule in rules:
        if rule.params.get("check") == "redcap_one_territory":
            scope, failing = _redcap_one_territory(rule.table, tables, rule.params)
        elif rule.params.get("check") == "duplicate_answer":
            scope, failing = _duplicate_answer(rule.table, tables, rule.params)
        elif rule.params.get("check") == "not_after":
            scope, failing = _not_after(tables, rule.table, str(rule.column), str(rule.params["as_of"]))
        elif rule.params["kind"] == "sql":
            scope, failing = _CROSS_TABLE[rule.rule_id](tables, rule.params)
        else:
            scope, failing = _column_rule(tables[rule.table], rule)
        failing = failing & scope
        rows = np.flatnonzero(failing)
        if rule.params["kind"] == "type" and rows.size:
            # A dtype is the column's, not a row's: the failure is listed once, for the column.
            outcomes.append(
                RuleOutcome(rule=rule, checked=int(scope.sum()), failed=int(rows.size), rows=rows[:0], engine="pandas", column_failure=rule.column)
            )
            continue
        outcomes.append(
            RuleOutcome(
                rule=rule, checked=int(scope.sum()), failed=int(rows.size),
                rows=rows[:max_failures] if max_failures else rows, engine="pandas",
            )
        )
    return outcomes
