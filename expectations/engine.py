"""Entry points: the rules of a layer, and validating its tables into a :class:`ValidationResult`.

:func:`validate_tables` first checks that every column a rule reads exists with a dtype its
model type accepts (a rule reading a missing or mistyped column fails as a whole, once, without
rows), then evaluates the rules with the chosen engine:

- ``"great_expectations"`` (default): single-table rules in Great Expectations
  (:mod:`~proximite.expectations.great_expectations`), cross-table and cross-wave rules in DuckDB
  (:mod:`~proximite.expectations.sql_checks`), as each rule's ``engine`` says;
- ``"reference"``: every rule by the hand-written pandas checker
  (:mod:`~proximite.expectations.reference_check`), for the benchmark and the cross-check.

Failing rows become rows of :attr:`ValidationResult.failures` with their keys: for staged REDCap
forms ``record_id``, ``event``, ``instance`` and ``source_row``; for registry and cost files
``source_file`` and ``source_row`` (and the table's key); for reference and harmonised tables
the key columns joined as ``key`` (``family_id=…|wave=6``). ``value`` is filled only for coded,
numeric, boolean and date columns.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from proximite.expectations.base import (
    FAILURE_COLUMNS,
    SUMMARY_COLUMNS,
    Layer,
    Rule,
    ValidationResult,
)
from proximite.expectations.rules import (
    REDCAP_SOURCES,
    RuleOutcome,
    ValidationConfig,
    accepts_dtype,
    apply_config,
    columns_read,
    harmonised_rules,
    staged_rules,
)

if TYPE_CHECKING:  # pragma: no cover
    from proximite.cohort.codebook import Codebook
    from proximite.config import Settings

__all__ = ["ENGINES", "evaluate_rules", "rules_for", "validate_tables"]

log = logging.getLogger(__name__)

#: Engines :func:`validate_tables` accepts.
ENGINES = ("great_expectations", "reference")

_FAILURE_DTYPES = {
    "layer": "string", "source": "string", "table": "string", "rule_id": "string", "category": "string",
    "severity": "string", "column": "string", "record_id": "string", "event": "string", "instance": "Int64",
    "key": "string", "value": "string", "source_file": "string", "source_row": "Int64",
}


def _codebook(codebook: Codebook | None) -> Codebook:
    if codebook is not None:
        return codebook
    from proximite.cohort.codebook import load_codebook

    return load_codebook()


def rules_for(
    layer: Layer,
    *,
    settings: Settings,
    source: str | None = None,
    codebook: Codebook | None = None,
    tables: Mapping[str, pd.DataFrame] | None = None,
) -> list[Rule]:
    """The rules of a layer, with severities and thresholds from the settings.

    Parameters
    ----------
    layer : {"staged", "harmonised"}
    settings : Settings, keyword-only
        ``[validation]`` (severities, thresholds, plausibility bounds) and ``[waves]``.
    source : str, optional, keyword-only
        The staged source (``reference``, ``redcap``, ``registry``, ``cost``, ``partner_survey``,
        ``staff_survey``); required for
        ``layer="staged"``.
    codebook : Codebook, optional, keyword-only
        Defaults to the packaged codebook.
    tables : mapping, optional, keyword-only
        When given, only rules whose tables are present (and REDCap ``__missing_reason``
        companions condition ``required`` rules); key uniqueness of a table larger than
        ``[validation] sql_keys_above_rows`` is then checked in DuckDB.

    Returns
    -------
    list of Rule

    Raises
    ------
    ValueError
        An unknown layer or source, or a malformed ``[validation]`` override.
    """
    config = ValidationConfig.from_settings(settings)
    book = _codebook(codebook)
    if layer == "staged":
        if source is None:
            raise ValueError("the staged layer is validated one source at a time: give source=")
        rules = staged_rules(source, codebook=book, tables=tables)
    elif layer == "harmonised":
        rules = harmonised_rules(codebook=book, config=config, tables=tables)
    else:
        raise ValueError(f"unknown layer {layer!r} (layers: staged, harmonised)")
    rules = apply_config(rules, config)
    if tables is not None and config.sql_keys_above_rows:
        # GX's pandas engine takes ~1.5 s per million rows on a compound key; DuckDB a quarter.
        rules = [
            replace(rule, engine="duckdb")
            if rule.params.get("kind") == "key_unique" and len(tables[rule.table]) > config.sql_keys_above_rows
            else rule
            for rule in rules
        ]
    return rules


# ------------------------------------------------------------------------------ evaluation
def _expected_dtypes(rules: Sequence[Rule]) -> dict[tuple[str, str], list[str]]:
    return {(rule.table, str(rule.column)): rule.params["dtypes"] for rule in rules if rule.params.get("kind") == "type"}


def _unusable_column(rule: Rule, tables: Mapping[str, pd.DataFrame], expected: Mapping[tuple[str, str], list[str]]) -> str | None:
    """The first column a rule reads that is missing or mistyped (its own type rule excepted)."""
    for table, columns in columns_read(rule).items():
        frame = tables[table]
        for column in columns:
            if column not in frame.columns:
                return column
            if rule.params.get("kind") == "type":
                continue
            accepted = expected.get((table, column))
            if accepted is not None and not accepts_dtype(frame[column].dtype, accepted):
                return column
    return None


def evaluate_rules(
    tables: Mapping[str, pd.DataFrame],
    rules: Sequence[Rule],
    *,
    engine: str = "great_expectations",
    max_failures: int = 10_000,
    runner: Any = None,
) -> list[RuleOutcome]:
    """Evaluate rules on tables; the outcomes, in rule order.

    Parameters
    ----------
    tables : mapping of str to DataFrame
    rules : sequence of Rule
        Every table a rule reads must be in ``tables``.
    engine : {"great_expectations", "reference"}, keyword-only
    max_failures : int, keyword-only
        Failing rows listed per rule (0 = all).
    runner : GreatExpectationsRunner, optional, keyword-only
        Reused (and kept for Data Docs) when given.

    Returns
    -------
    list of RuleOutcome
    """
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r} (engines: {', '.join(ENGINES)})")
    expected = _expected_dtypes(rules)
    outcomes: dict[str, RuleOutcome] = {}
    usable: list[Rule] = []
    for rule in rules:
        column = _unusable_column(rule, tables, expected)
        if column is None:
            usable.append(rule)
            continue
        rows = len(tables[rule.table])
        outcomes[rule.rule_id] = RuleOutcome(
            rule=rule, checked=rows, failed=rows, rows=np.zeros(0, np.int64),
            engine="pandas" if engine == "reference" else rule.engine, column_failure=column,
        )
    if engine == "reference":
        from proximite.expectations.reference_check import evaluate_reference

        for outcome in evaluate_reference(tables, usable, max_failures=max_failures):
            outcomes[outcome.rule.rule_id] = outcome
    else:
        from proximite.expectations.sql_checks import run_sql_checks

        by_table: dict[tuple[str, str], list[Rule]] = {}
        for rule in usable:
            if rule.engine == "great_expectations":
                by_table.setdefault((rule.layer, rule.table), []).append(rule)
        if by_table:
            if runner is None:
                from proximite.expectations.great_expectations import (
                    GreatExpectationsRunner,
                )

                runner = GreatExpectationsRunner(max_failures=max_failures)
            for (layer, table), members in by_table.items():
                for outcome in runner.run(tables[table], members, layer=layer, table=table):
                    outcomes[outcome.rule.rule_id] = outcome
        sql = [rule for rule in usable if rule.engine == "duckdb"]
        for outcome in run_sql_checks(tables, sql, max_failures=max_failures):
            outcomes[outcome.rule.rule_id] = outcome
    return [outcomes[rule.rule_id] for rule in rules]


# ------------------------------------------------------------------------------ result frames
def _text(values: pd.Series) -> pd.Series:
    """Values as text for a report: dates as ISO days, whole numbers without decimals."""
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        return values.dt.strftime("%Y-%m-%d").astype("string")
    if pd.api.types.is_float_dtype(values.dtype):
        numbers = values.astype("Float64")
        whole = numbers.notna() & (numbers == numbers.round())
        text = numbers.astype("string")
        return text.mask(whole, numbers.round().astype("Int64").astype("string"))
    return values.astype("string")


def _key_columns(layer: Layer, source: str | None, table: str, frame: pd.DataFrame, codebook: Codebook) -> list[str]:
    if layer == "staged" and source in REDCAP_SOURCES:
        return []
    from proximite.cohort.codebook import CodebookError

    try:
        keys = codebook.key_columns(table)
    except CodebookError:  # a table outside the model has no key to show
        return []
    return [column for column in keys if column in frame.columns]


def _failure_rows(
    outcome: RuleOutcome,
    frame: pd.DataFrame,
    *,
    layer: Layer,
    source: str | None,
    codebook: Codebook,
) -> pd.DataFrame:
    rule = outcome.rule
    base = {
        "layer": layer, "source": source, "table": rule.table, "rule_id": rule.rule_id,
        "category": rule.category, "severity": rule.severity,
    }
    if outcome.column_failure is not None:
        return pd.DataFrame([{**base, "column": outcome.column_failure}])
    positions = outcome.rows
    if positions.size == 0:
        return pd.DataFrame()
    rows = frame.iloc[positions]
    data: dict[str, Any] = {name: [value] * len(rows) for name, value in base.items()}
    data["column"] = [rule.column] * len(rows)
    if layer == "staged" and source in REDCAP_SOURCES:
        for column, target in (("record_id", "record_id"), ("redcap_event_name", "event"), ("redcap_repeat_instance", "instance")):
            if column in rows.columns:
                data[target] = rows[column].to_numpy()
    if "source_file" in rows.columns:
        data["source_file"] = rows["source_file"].to_numpy()
    if "source_row" in rows.columns:
        data["source_row"] = rows["source_row"].to_numpy()
    keys = _key_columns(layer, source, rule.table, frame, codebook)
    if keys:
        parts = [(column + "=") + _text(rows[column]).fillna("").reset_index(drop=True) for column in keys]
        data["key"] = _join_keys(parts).to_numpy()
    if rule.params.get("report_value") and rule.column is not None and rule.column in rows.columns:
        data["value"] = _text(rows[rule.column]).to_numpy()
    return pd.DataFrame(data)


def _join_keys(parts: list[pd.Series]) -> pd.Series:
    """Join string Series element-wise with ``|``."""
    joined = parts[0]
    for part in parts[1:]:
        joined = joined + "|" + part
    return joined


def _failures_frame(frames: list[pd.DataFrame]) -> pd.DataFrame:
    frames = [frame for frame in frames if not frame.empty]
    failures = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    for column in FAILURE_COLUMNS:
        if column not in failures.columns:
            failures[column] = pd.NA
    failures = failures[FAILURE_COLUMNS]
    return failures.astype(_FAILURE_DTYPES)


def _summary_frame(outcomes: Sequence[RuleOutcome], *, layer: Layer, source: str | None) -> pd.DataFrame:
    records = []
    for outcome in outcomes:
        rule = outcome.rule
        whole = outcome.column_failure is not None
        share = 1.0 if whole else (outcome.failed / outcome.checked if outcome.checked else 0.0)
        records.append(
            {
                "layer": layer, "source": source, "table": rule.table, "rule_id": rule.rule_id,
                "category": rule.category, "severity": rule.severity, "threshold": float(rule.threshold),
                "checked": int(outcome.checked), "failed": int(outcome.failed), "failed_share": float(share),
                "passed": bool(share <= rule.threshold and not whole),
                "engine": outcome.engine, "description": rule.description,
            }
        )
    summary = pd.DataFrame(records, columns=SUMMARY_COLUMNS)
    return summary.astype(
        {"threshold": "float64", "checked": "int64", "failed": "int64", "failed_share": "float64", "passed": "bool"}
    )


def validate_tables(
    tables: Mapping[str, pd.DataFrame],
    *,
    layer: Layer,
    settings: Settings,
    source: str | None = None,
    pull_id: str | None = None,
    codebook: Codebook | None = None,
    engine: str = "great_expectations",
    data_docs_dir: Path | None = None,
) -> ValidationResult:
    """Validate one source's staged tables, or the whole harmonised model.

    Parameters
    ----------
    tables : mapping of str to DataFrame
        Staged tables of ``source`` (as :func:`~proximite.cohort.layers.read_staged` gives them),
        or the harmonised tables (as :func:`~proximite.cohort.harmonise.harmonise` gives them).
        Never modified.
    layer : {"staged", "harmonised"}, keyword-only
    settings : Settings, keyword-only
    source : str, optional, keyword-only
        Required for the staged layer.
    pull_id : str, optional, keyword-only
        Recorded in the result (the pull, or the build's inputs id).
    codebook : Codebook, optional, keyword-only
    engine : {"great_expectations", "reference"}, keyword-only
    data_docs_dir : Path, optional, keyword-only
        Write Great Expectations Data Docs there (engine ``great_expectations`` only; inside
        :func:`~proximite.expectations.data_docs_batch.one_data_docs_build`, the pages are
        built when the batch ends).

    Returns
    -------
    ValidationResult
        ``summary`` (one row per rule) and ``failures`` (one row per failing row listed, at most
        ``[validation] max_failures_per_rule`` per rule).

    Notes
    -----
    For a rule with :math:`c` rows checked and :math:`f` failing,
    ``failed_share`` :math:`= f / c` (0 when :math:`c = 0`) and ``passed`` :math:`= f/c \\le`
    threshold; a rule that cannot read its column (missing, or of a dtype its type does not
    accept) fails whatever its threshold, with ``failed_share`` 1. The result
    ``passed`` when no rule of severity error failed.
    """
    started = time.perf_counter()
    book = _codebook(codebook)
    config = ValidationConfig.from_settings(settings)
    rules = rules_for(layer, settings=settings, source=source, codebook=book, tables=tables)
    runner = None
    if engine == "great_expectations" and data_docs_dir is not None:
        from proximite.expectations.great_expectations import GreatExpectationsRunner

        runner = GreatExpectationsRunner(max_failures=config.max_failures_per_rule)
    outcomes = evaluate_rules(tables, rules, engine=engine, max_failures=config.max_failures_per_rule, runner=runner)
    failures = _failures_frame(
        [_failure_rows(outcome, tables[outcome.rule.table], layer=layer, source=source, codebook=book) for outcome in outcomes if outcome.failed]
    )
    summary = _summary_frame(outcomes, layer=layer, source=source)
    if runner is not None and data_docs_dir is not None:
        from proximite.expectations.data_docs_batch import site_changed
        from proximite.expectations.great_expectations import keep_runs

        _add_sql_notes(runner, outcomes, layer=layer)
        keep_runs(data_docs_dir, list(runner.runs.values()), run_name=pull_id or f"{layer}-{source or 'model'}")
        site_changed(data_docs_dir)  # built now, or once at the end of a batch of gates
    result = ValidationResult(
        layer=layer, source=source, pull_id=pull_id, summary=summary, failures=failures,
        seconds=time.perf_counter() - started,
    )
    log.info(
        "validation %s%s: %d rules, %d failed (%d blocking), %d failing rows listed, %.2f s",
        layer, f" {source}" if source else "", len(summary), int((~summary["passed"]).sum()),
        len(result.blocking), len(failures), result.seconds,
    )
    return result


def _add_sql_notes(runner: Any, outcomes: Sequence[RuleOutcome], *, layer: str) -> None:
    """Cross-table rules are not GX expectations: list their counts with their table's suite."""
    from proximite.expectations.great_expectations import SuiteRun

    for outcome in outcomes:
        rule = outcome.rule
        if rule.engine != "duckdb":
            continue
        run = runner.runs.setdefault(f"{layer}.{rule.table}", SuiteRun(name=f"{layer}.{rule.table}", table=rule.table))
        if not run.notes:
            run.notes.append("**Cross-table and cross-wave rules (DuckDB SQL)**")
        run.notes.append(
            f"- `{rule.rule_id}` ({rule.category}, {rule.severity}): {outcome.failed} of {outcome.checked} rows failing "
            f"— {rule.description}"
        )
