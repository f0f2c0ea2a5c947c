"""Cross-table and cross-wave rules in DuckDB SQL, over pandas frames (harmonised tables, and the
staged REDCap forms for a record's data access group).

Great Expectations checks one table at a time; these rules join tables (a referral's family, a
worker's tenure) or compare a family's waves, which SQL says plainly and DuckDB runs on millions
of rows in a fraction of a second. Each rule is one ``SELECT`` over its table's rows *in scope*
(those the rule can judge: the dates it compares are present, the family it looks up has a first
contact ...) giving ``_row`` (the row's 0-based position in its table) and ``failing``; the
runner counts both and lists the failing positions, from which the engine takes the offending
keys.

Frames are registered with DuckDB without copying their data (only the columns a rule reads,
plus ``_row``); nothing is written to disk.

Notes
-----
Month arithmetic follows DuckDB's ``date + INTERVAL n MONTH``, which clamps to the end of a
shorter month (31 August + 6 months = 28 or 29 February), as pandas' ``DateOffset(months=n)``.
A year-month ``YYYY-MM`` is compared as the month index :math:`12 \\cdot year + month - 1`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from proximite.expectations.base import Rule
from proximite.expectations.rules import RuleOutcome, columns_read

__all__ = ["SQL_RULES", "rule_sql", "run_sql_checks"]

_MONTH_PATTERN = r"^\d{4}-(?:0[1-9]|1[0-2])$"


def _family_exists(table: str) -> Callable[[Mapping[str, Any]], str]:
    def sql(params: Mapping[str, Any]) -> str:
        return f"""
            SELECT t._row, f.family_id IS NULL AS failing
            FROM {table} t
            LEFT JOIN (SELECT DISTINCT family_id FROM family WHERE family_id IS NOT NULL) f
              ON t.family_id = f.family_id
            WHERE t.family_id IS NOT NULL
        """

    return sql


# A family's first contact (the earliest, should the family table repeat a family).
_FIRST_CONTACT = """
    first_contact AS (
        SELECT family_id, min(CAST(first_contact_date AS DATE)) AS contact
        FROM family WHERE family_id IS NOT NULL AND first_contact_date IS NOT NULL
        GROUP BY family_id
    )
"""

_CHILD_MONTHS = f"""
    {_FIRST_CONTACT},
    months AS (
        SELECT c._row, c.unborn_at_contact AS unborn,
               TRY_CAST(substr(c.birth_month, 1, 4) AS INTEGER) * 12
                 + TRY_CAST(substr(c.birth_month, 6, 2) AS INTEGER) - 1 AS birth,
               year(fc.contact) * 12 + month(fc.contact) - 1 AS contact
        FROM child c JOIN first_contact fc ON c.family_id = fc.family_id
        WHERE regexp_full_match(c.birth_month, '{_MONTH_PATTERN}') AND c.unborn_at_contact IS NOT NULL
    )
"""


def _in_wave_window(params: Mapping[str, Any]) -> str:
    waves = ", ".join(str(int(w)) for w in params["wave_months"])
    return f"""
        WITH {_FIRST_CONTACT},
        baseline AS (
            SELECT family_id, min(CAST(assessment_date AS DATE)) AS t0
            FROM assessment WHERE wave = 0 AND family_id IS NOT NULL AND assessment_date IS NOT NULL
            GROUP BY family_id
        ),
        dated AS (
            SELECT a._row, a.wave, CAST(a.assessment_date AS DATE) AS day, fc.contact,
                   coalesce(b.t0, fc.contact) AS anchor
            FROM assessment a
            LEFT JOIN first_contact fc ON a.family_id = fc.family_id
            LEFT JOIN baseline b ON a.family_id = b.family_id
            WHERE a.assessment_date IS NOT NULL AND a.wave IN ({waves})
        )
        SELECT _row,
               CASE WHEN wave = 0
                    THEN day < contact OR day > contact + {int(params["baseline_within_days"])}
                    ELSE abs(date_diff('day', CAST(anchor + to_months(CAST(wave AS INTEGER)) AS DATE), day))
                         > {int(params["window_days"])}
               END AS failing
        FROM dated
        WHERE CASE WHEN wave = 0 THEN contact IS NOT NULL ELSE anchor IS NOT NULL END
    """


def _after_first_contact(params: Mapping[str, Any]) -> str:
    return f"""
        WITH {_FIRST_CONTACT}
        SELECT a._row, CAST(a.assessment_date AS DATE) < fc.contact AS failing
        FROM assessment a JOIN first_contact fc ON a.family_id = fc.family_id
        WHERE a.assessment_date IS NOT NULL
    """


def _waves_in_date_order(params: Mapping[str, Any]) -> str:
    # Each wave's date is after the previous wave's (the previous by wave number, not by date).
    return """
        WITH ordered AS (
            SELECT _row, CAST(assessment_date AS DATE) AS day,
                   lag(CAST(assessment_date AS DATE)) OVER (PARTITION BY family_id ORDER BY wave) AS previous
            FROM assessment
            WHERE family_id IS NOT NULL AND assessment_date IS NOT NULL AND wave IS NOT NULL
        )
        SELECT _row, coalesce(day <= previous, false) AS failing FROM ordered
    """


def _organisation_exists(params: Mapping[str, Any]) -> str:
    return """
        WITH known AS (SELECT DISTINCT org_id FROM organisation WHERE org_id IS NOT NULL)
        SELECT r._row,
               (r.from_org_id IS NOT NULL AND origin.org_id IS NULL)
               OR (r.to_org_id IS NOT NULL AND destination.org_id IS NULL) AS failing
        FROM referral r
        LEFT JOIN known origin ON r.from_org_id = origin.org_id
        LEFT JOIN known destination ON r.to_org_id = destination.org_id
        WHERE r.from_org_id IS NOT NULL OR r.to_org_id IS NOT NULL
    """


def _birth_plausible(params: Mapping[str, Any]) -> str:
    years = int(params["child_max_age_years"])
    unborn = int(params["unborn_max_months"])
    return f"""
        WITH {_CHILD_MONTHS}
        SELECT _row,
               CASE WHEN unborn THEN birth - contact > {unborn}
                    ELSE contact - birth > {12 * years} END AS failing
        FROM months
    """


def _unborn_born_later(params: Mapping[str, Any]) -> str:
    return f"""
        WITH {_CHILD_MONTHS}
        SELECT _row, birth < contact AS failing FROM months WHERE unborn
    """


def _born_before_assessment(params: Mapping[str, Any]) -> str:
    return f"""
        WITH first_assessment AS (
            SELECT family_id, min(CAST(assessment_date AS DATE)) AS day
            FROM assessment WHERE family_id IS NOT NULL AND assessment_date IS NOT NULL
            GROUP BY family_id
        )
        SELECT c._row,
               TRY_CAST(substr(c.birth_month, 1, 4) AS INTEGER) * 12 + TRY_CAST(substr(c.birth_month, 6, 2) AS INTEGER) - 1
               > year(fa.day) * 12 + month(fa.day) - 1 AS failing
        FROM child c JOIN first_assessment fa ON c.family_id = fa.family_id
        WHERE regexp_full_match(c.birth_month, '{_MONTH_PATTERN}') AND c.unborn_at_contact = false
    """


def _one_territory(params: Mapping[str, Any]) -> str:
    return """
        WITH seen AS (
            SELECT family_id, territory_id FROM family WHERE family_id IS NOT NULL AND territory_id IS NOT NULL
            UNION
            SELECT family_id, territory_id FROM activity WHERE family_id IS NOT NULL AND territory_id IS NOT NULL
        ),
        several AS (SELECT family_id FROM seen GROUP BY family_id HAVING count(*) > 1)
        SELECT f._row, s.family_id IS NOT NULL AS failing
        FROM family f LEFT JOIN several s ON f.family_id = s.family_id
        WHERE f.family_id IS NOT NULL
    """


def _region_exists(params: Mapping[str, Any]) -> str:
    return """
        SELECT t._row, r.region_code IS NULL AS failing
        FROM territory t
        LEFT JOIN (SELECT DISTINCT region_code FROM region WHERE region_code IS NOT NULL) r ON t.region_code = r.region_code
        WHERE t.region_code IS NOT NULL
    """


def _worker_known(params: Mapping[str, Any]) -> str:
    return """
        SELECT a._row, w.worker_id IS NULL AS failing
        FROM activity a
        LEFT JOIN (SELECT DISTINCT worker_id FROM worker WHERE worker_id IS NOT NULL) w ON a.worker_id = w.worker_id
        WHERE a.worker_id IS NOT NULL
    """


def _within_tenure(params: Mapping[str, Any]) -> str:
    # Only activities of known workers: an unknown worker is worker_known's finding.
    return """
        WITH known AS (SELECT DISTINCT worker_id FROM worker WHERE worker_id IS NOT NULL),
        inside AS (
            SELECT DISTINCT a._row
            FROM activity a JOIN worker w
              ON a.worker_id = w.worker_id AND a.territory_id = w.territory_id
             AND CAST(a.activity_date AS DATE) >= CAST(w.start_date AS DATE)
             AND (w.end_date IS NULL OR CAST(a.activity_date AS DATE) <= CAST(w.end_date AS DATE))
        )
        SELECT a._row, i._row IS NULL AS failing
        FROM activity a
        JOIN known k ON a.worker_id = k.worker_id
        LEFT JOIN inside i ON a._row = i._row
        WHERE a.activity_date IS NOT NULL
    """


def _redcap_one_territory(table: str) -> Callable[[Mapping[str, Any]], str]:
    def sql(params: Mapping[str, Any]) -> str:
        rows = " UNION ALL ".join(
            f"SELECT record_id, redcap_data_access_group AS dag FROM {_quoted(form)}" for form in params["forms"]
        )
        # A record's group is the one most of its rows name; on a tie no group is its own.
        return f"""
            WITH grouped AS (
                SELECT record_id, dag, count(*) AS n FROM ({rows})
                WHERE record_id IS NOT NULL AND dag IS NOT NULL GROUP BY record_id, dag
            ),
            ranked AS (SELECT record_id, dag, n, max(n) OVER (PARTITION BY record_id) AS top FROM grouped),
            modal AS (
                SELECT record_id, CASE WHEN count(*) = 1 THEN min(dag) END AS dag
                FROM ranked WHERE n = top GROUP BY record_id
            )
            SELECT t._row, m.dag IS NULL OR t.redcap_data_access_group <> m.dag AS failing
            FROM {_quoted(table)} t JOIN modal m ON t.record_id = m.record_id
            WHERE t.redcap_data_access_group IS NOT NULL
        """

    return sql


def _organisation_known(table: str, column: str) -> Callable[[Mapping[str, Any]], str]:
    def sql(params: Mapping[str, Any]) -> str:
        return f"""
            SELECT t._row, o.org_id IS NULL AS failing
            FROM {table} t
            LEFT JOIN (SELECT DISTINCT org_id FROM organisation WHERE org_id IS NOT NULL) o ON t.{column} = o.org_id
            WHERE t.{column} IS NOT NULL
        """

    return sql


def _response_exists(params: Mapping[str, Any]) -> str:
    return """
        SELECT t._row, r.response_id IS NULL AS failing
        FROM partner_tie t
        LEFT JOIN (SELECT DISTINCT response_id FROM partner_response WHERE response_id IS NOT NULL) r
          ON t.response_id = r.response_id
        WHERE t.response_id IS NOT NULL
    """


def _not_self(params: Mapping[str, Any]) -> str:
    return """
        SELECT _row, from_org_id = to_org_id AS failing
        FROM partner_tie WHERE from_org_id IS NOT NULL AND to_org_id IS NOT NULL
    """


def _staff_worker_known(params: Mapping[str, Any]) -> str:
    return """
        SELECT s._row, w.worker_id IS NULL AS failing
        FROM staff_survey s
        LEFT JOIN (SELECT DISTINCT worker_id FROM worker WHERE worker_id IS NOT NULL) w ON s.worker_id = w.worker_id
        WHERE s.worker_id IS NOT NULL
    """


def _duplicate_answer(table: str) -> Callable[[Mapping[str, Any]], str]:
    """Rows whose complete key (every column filled) repeats another row's: each of them fails."""

    def sql(params: Mapping[str, Any]) -> str:
        keys = [_quoted(column) for column in params["columns"]]
        complete = " AND ".join(f"{key} IS NOT NULL" for key in keys)
        same = " AND ".join(f"t.{key} = d.{key}" for key in keys)
        return f"""
            WITH repeated AS (
                SELECT {", ".join(keys)}, 1 AS hit FROM {_quoted(table)} WHERE {complete}
                GROUP BY ALL HAVING count(*) > 1
            )
            SELECT t._row, d.hit IS NOT NULL AS failing
            FROM {_quoted(table)} t LEFT JOIN repeated d ON {same}
            WHERE {" AND ".join(f"t.{key} IS NOT NULL" for key in keys)}
        """

    return sql


#: SQL of each cross-table or cross-wave rule: ``params -> SELECT _row, failing`` (rows in scope).
SQL_RULES: dict[str, Callable[[Mapping[str, Any]], str]] = {
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
    "harmonised.partner_response.organisation_exists": _organisation_known("partner_response", "org_id"),
    "harmonised.partner_tie.organisation_exists": _organisation_known("partner_tie", "to_org_id"),
    "harmonised.partner_tie.response_exists": _response_exists,
    "harmonised.partner_tie.not_self": _not_self,
    "harmonised.staff_survey.worker_known": _staff_worker_known,
}


def _not_after(table: str, column: str) -> Callable[[Mapping[str, Any]], str]:
    """Dates after the pull's time (``as_of``, UTC): a day after the pull's own day fails."""

    def sql(params: Mapping[str, Any]) -> str:
        day = str(params["as_of"])[:10]
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", day):
            raise ValueError(f"as_of must start with a YYYY-MM-DD day (got {params['as_of']!r})")
        return f"""
            SELECT _row, CAST({_quoted(column)} AS DATE) > DATE '{day}' AS failing
            FROM {_quoted(table)} WHERE {_quoted(column)} IS NOT NULL
        """

    return sql


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _key_unique(table: str, columns: Sequence[str]) -> str:
    """Rows of a repeated key (missing values compare equal, as in pandas and GX)."""
    keys = [_quoted(column) for column in columns]
    present = " OR ".join(f"{key} IS NOT NULL" for key in keys)
    same = " AND ".join(f"t.{key} IS NOT DISTINCT FROM d.{key}" for key in keys)
    return f"""
        WITH repeated AS (
            SELECT {", ".join(keys)}, 1 AS hit FROM {_quoted(table)} WHERE {present}
            GROUP BY ALL HAVING count(*) > 1
        )
        SELECT t._row, d.hit IS NOT NULL AS failing
        FROM {_quoted(table)} t LEFT JOIN repeated d ON {same}
        WHERE {" OR ".join(f"t.{key} IS NOT NULL" for key in keys)}
    """


def rule_sql(rule: Rule) -> str:
    """The ``SELECT _row, failing`` of a rule (for reading and for reports).

    Besides :data:`SQL_RULES`: a key-uniqueness rule of a large table (``engine="duckdb"``,
    see ``[validation] sql_keys_above_rows``), the staged REDCap forms' ``one_territory`` and the
    questionnaires' duplicate answers (``check = "duplicate_answer"``).
    """
    if rule.params.get("kind") == "key_unique":
        return _key_unique(rule.table, rule.params["columns"])
    if rule.params.get("check") == "redcap_one_territory":
        return _redcap_one_territory(rule.table)(rule.params)
    if rule.params.get("check") == "duplicate_answer":
        return _duplicate_answer(rule.table)(rule.params)
    if rule.params.get("check") == "not_after":
        return _not_after(rule.table, str(rule.column))(rule.params)
    try:
        return SQL_RULES[rule.rule_id](rule.params)
    except KeyError:
        raise ValueError(f"no SQL check for rule {rule.rule_id}") from None


def _registered(tables: Mapping[str, pd.DataFrame], reads: Mapping[str, set[str]]) -> dict[str, pd.DataFrame]:
    """The columns rules read, plus ``_row``; the frames' data are not copied."""
    views = {}
    for table, columns in reads.items():
        frame = tables[table]
        data: dict[str, Any] = {"_row": np.arange(len(frame), dtype=np.int64)}
        for column in sorted(columns):
            values = frame[column]
            data[column] = values.to_numpy() if isinstance(values.dtype, np.dtype) else values.array
        views[table] = pd.DataFrame(data, copy=False)
    return views


def run_sql_checks(
    tables: Mapping[str, pd.DataFrame],
    rules: Sequence[Rule],
    *,
    max_failures: int,
) -> list[RuleOutcome]:
    """Evaluate cross-table and cross-wave rules in DuckDB.

    Parameters
    ----------
    tables : mapping of str to DataFrame
        Harmonised tables by name; every table and column a rule reads must be present.
    rules : sequence of Rule
        Rules of :data:`SQL_RULES`, or key-uniqueness rules.
    max_failures : int, keyword-only
        Failing rows listed per rule (0 = all).

    Returns
    -------
    list of RuleOutcome
        In the order of ``rules``, with ``engine="duckdb"``.

    Notes
    -----
    For each rule, with :math:`S` its rows in scope and :math:`F \\subseteq S` those failing,
    ``checked = |S|`` and ``failed = |F|``.
    """
    if not rules:
        return []
    import duckdb

    reads: dict[str, set[str]] = {}
    for rule in rules:
        for table, columns in columns_read(rule).items():
            reads.setdefault(table, set()).update(columns)
    connection = duckdb.connect(database=":memory:")
    try:
        for name, view in _registered(tables, reads).items():
            connection.register(name, view)
        outcomes = []
        listed = f"list_slice(list(_row ORDER BY _row) FILTER (WHERE failing), 1, {max_failures})" if max_failures else (
            "list(_row ORDER BY _row) FILTER (WHERE failing)"
        )
        for rule in rules:
            query = f"""
                SELECT count(*), count(*) FILTER (WHERE failing), {listed}
                FROM (SELECT _row, coalesce(failing, false) AS failing FROM ({rule_sql(rule)}))
            """
            checked, failed, rows = connection.execute(query).fetchone()
            outcomes.append(
                RuleOutcome(
                    rule=rule, checked=int(checked), failed=int(failed),
                    rows=np.asarray(rows or [], dtype=np.int64), engine="duckdb",
                )
            )
        return outcomes
    finally:
        connection.close()
