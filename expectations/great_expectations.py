"""Great Expectations suites built from :class:`~proximite.expectations.base.Rule` objects.

Great Expectations (GX Core 1.x) is imported lazily (≈3 s): only when a suite is built or run.
Everything runs in an ephemeral context (nothing written but the Data Docs one asks for), on a
pandas data source whose batches are whole DataFrames.

==============  ========================================================================
rule kind       expectation
==============  ========================================================================
required        ``ExpectColumnValuesToNotBeNull`` (with ``row_condition`` when the rule
                has a condition)
type            ``ExpectColumnValuesToBeInTypeList``
in_set          ``ExpectColumnValuesToBeInSet``
between         ``ExpectColumnValuesToBeBetween`` (``mostly = 1 − threshold``)
format          ``ExpectColumnValuesToMatchRegex``
key_unique      ``ExpectCompoundColumnsToBeUnique`` (``ExpectColumnValuesToBeUnique`` for
                a one-column key)
pair_ge         ``ExpectColumnPairValuesAToBeGreaterThanB`` (``or_equal``, rows with a
                missing date ignored)
==============  ========================================================================

Offending rows come back through ``unexpected_index_column_names``: each batch carries a
``_row`` column (the row's position in its table), from which the engine takes the keys.

Speed, measured on 2,000,000 activities (``tests/bench/bench_validation.py``):

- a column's dtype is a property of the column, so type expectations run on an empty batch
  with the table's dtypes;
- the other expectations run on small batches, one per set of columns they read (plus
  ``_row``): Great Expectations' pandas engine filters a batch's rows for every metric, and a
  narrow frame makes each filter cheap;
- nullable numbers (``Int64``, ``Float64``) are given as ``float64``: the pandas engine compares
  numpy numbers vectorised but nullable ones one Python value at a time;
- the batch fingerprint (a hash of every cell, only a marker in the batch's metadata) is turned
  off.
"""

from __future__ import annotations

import copy
import datetime as dt
import functools
import operator
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from proximite.expectations.base import Rule
from proximite.expectations.data_docs_assets import make_offline
from proximite.expectations.rules import RuleOutcome, columns_read, is_text_dtype

if TYPE_CHECKING:  # pragma: no cover
    from great_expectations.core import ExpectationSuite
    from great_expectations.core.expectation_validation_result import (
        ExpectationValidationResult,
    )
    from great_expectations.expectations import Expectation

__all__ = [
    "GreatExpectationsError",
    "GreatExpectationsRunner",
    "SuiteRun",
    "build_site",
    "build_suites",
    "expectation_for",
    "keep_runs",
    "write_data_docs",
]

#: The column each batch carries so that failing rows can be found again.
ROW = "_row"
_KEEP_RESULT_KEYS = (
    "element_count", "unexpected_count", "unexpected_percent", "missing_count", "missing_percent",
    "unexpected_percent_total", "unexpected_percent_nonmissing", "observed_value",
)


class GreatExpectationsError(RuntimeError):
    """Great Expectations could not evaluate an expectation (a bug in the suite, not in the data)."""


@functools.cache
def _gx() -> Any:
    """Import Great Expectations once, offline, without its per-cell batch fingerprint."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx
    from great_expectations.execution_engine import pandas_execution_engine

    # The fingerprint hashes every cell of a batch (1.7 s for 2M rows) for a metadata marker we
    # never read; GX skips it above this many bytes.
    pandas_execution_engine.HASH_THRESHOLD = 0
    return gx


def _ephemeral_context() -> Any:
    """An in-memory GX context: no default docs site, no progress bars, no analytics."""
    gx = _gx()
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False),
    )
    return gx.get_context(mode="ephemeral", project_config=config)


def _condition(clauses: Sequence[Mapping[str, Any]]) -> Any:
    """A rule's condition as a GX row condition (``Column`` objects, joined by and/or)."""
    from great_expectations.expectations.row_conditions import Column, OrCondition

    def one(clause: Mapping[str, Any]) -> Any:
        op = clause["op"]
        if op == "any":
            parts = [one(inner) for inner in clause["clauses"]]
            return parts[0] if len(parts) == 1 else OrCondition(conditions=parts)
        column = Column(str(clause["column"]))
        if op == "is_null":
            return column.is_null()
        if op == "not_null":
            return column.is_not_null()
        if op == "in":
            return column.is_in(list(clause["value"]))
        if op == "not_in":
            return column.is_not_in(list(clause["value"]))
        raise ValueError(f"unknown condition operator {op!r}")

    conditions = [one(clause) for clause in clauses]
    return functools.reduce(operator.and_, conditions) if conditions else None


def _bound(value: Any, kind: str) -> Any:
    if value is None:
        return None
    return dt.datetime.fromisoformat(str(value)) if kind == "date" else value


def expectation_for(rule: Rule) -> Expectation:
    """The GX expectation of a single-table rule.

    Parameters
    ----------
    rule : Rule
        A rule of kind required, type, in_set, between, format, key_unique or pair_ge.

    Returns
    -------
    Expectation
        With ``meta={"rule_id": ..., "category": ...}`` (results come back in no set order),
        the rule's description and severity (``critical`` for an error, ``warning``);
        ``mostly = 1 − threshold`` where the rule tolerates a share.

    Raises
    ------
    ValueError
        The rule is cross-table (``kind="sql"``).
    """
    gxe = _gx().expectations
    params = rule.params
    kind = params["kind"]
    common: dict[str, Any] = {
        "meta": {"rule_id": rule.rule_id, "category": rule.category},
        "description": rule.description or None,
        # GX's own severity, shown in Data Docs: an error blocks, a warning reports.
        "severity": "critical" if rule.severity == "error" else "warning",
    }
    mostly = {"mostly": 1.0 - rule.threshold} if rule.threshold > 0 else {}
    condition = _condition(params.get("condition", []))
    conditional = {"row_condition": condition} if condition is not None else {}
    if kind == "required":
        return gxe.ExpectColumnValuesToNotBeNull(column=rule.column, **mostly, **conditional, **common)
    if kind == "type":
        return gxe.ExpectColumnValuesToBeInTypeList(column=rule.column, type_list=list(params["dtypes"]), **common)
    if kind == "in_set":
        return gxe.ExpectColumnValuesToBeInSet(column=rule.column, value_set=list(params["values"]), **mostly, **conditional, **common)
    if kind == "between":
        bound = params.get("bound", "number")
        return gxe.ExpectColumnValuesToBeBetween(
            column=rule.column, min_value=_bound(params.get("min"), bound), max_value=_bound(params.get("max"), bound),
            **mostly, **conditional, **common,
        )
    if kind == "format":
        return gxe.ExpectColumnValuesToMatchRegex(column=rule.column, regex=params["regex"], **mostly, **conditional, **common)
    if kind == "key_unique":
        columns = list(params["columns"])
        if len(columns) == 1:
            return gxe.ExpectColumnValuesToBeUnique(column=columns[0], **mostly, **common)
        return gxe.ExpectCompoundColumnsToBeUnique(column_list=columns, **mostly, **common)
    if kind == "pair_ge":
        return gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A=params["column_a"], column_B=params["column_b"], or_equal=True,
            ignore_row_if="either_value_is_missing", **mostly, **common,
        )
    raise ValueError(f"{rule.rule_id}: kind {kind!r} has no Great Expectations expectation")


def build_suites(rules: Sequence[Rule]) -> dict[str, ExpectationSuite]:
    """One GX suite per table, ``{"<layer>.<table>": suite}``, from the rules GX evaluates.

    Cross-table rules (DuckDB) are left out. The suites are not attached to a context.
    """
    gx = _gx()
    grouped: dict[str, list[Rule]] = {}
    for rule in rules:
        if rule.engine == "great_expectations":
            grouped.setdefault(f"{rule.layer}.{rule.table}", []).append(rule)
    return {
        name: gx.ExpectationSuite(name=name, expectations=[expectation_for(rule) for rule in group])
        for name, group in grouped.items()
    }


@dataclass
class SuiteRun:
    """What GX did on one table: the suite (every expectation run) and its results.

    Attributes
    ----------
    name : str
        ``<layer>.<table>``.
    table : str
    rules : dict
        ``{rule id: Rule}``.
    expectations : list
        The expectations, in rule order.
    results : list
        GX's ``ExpectationValidationResult`` of each.
    meta : dict
        The meta of one of GX's suite results (batch and version information).
    notes : list of str
        Markdown lines shown with the suite in Data Docs (the table's cross-table rules).
    """

    name: str
    table: str
    rules: dict[str, Rule] = field(default_factory=dict)
    expectations: list[Any] = field(default_factory=list)
    results: list[Any] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _as_numpy(values: pd.Series) -> Any:
    """A column as GX's pandas engine compares fastest: nullable numbers as float64 (NaN)."""
    dtype = values.dtype
    if isinstance(dtype, pd.api.extensions.ExtensionDtype) and pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype):
        return values.to_numpy(dtype="float64", na_value=np.nan)
    return values.array


def _raised(result: Any) -> str | None:
    """GX's exception message for an expectation, if one was raised."""
    info = result.exception_info or {}
    candidates = [info] + [value for value in info.values() if isinstance(value, dict)]
    for candidate in candidates:
        if candidate.get("raised_exception"):
            return str(candidate.get("exception_message") or "unknown error")
    return None


class GreatExpectationsRunner:
    """Run rules through GX, table by table, and keep what Data Docs need.

    Parameters
    ----------
    max_failures : int, keyword-only
        Failing rows listed per rule (``partial_unexpected_count``); 0 = all (``COMPLETE``).
    """

    def __init__(self, *, max_failures: int) -> None:
        self.max_failures = max_failures
        self.runs: dict[str, SuiteRun] = {}
        self._batch_definition: Any = None
        self._context: Any = None

    @property
    def context(self) -> Any:
        """The ephemeral GX context (created on first use, progress bars off)."""
        if self._context is None:
            context = _ephemeral_context()
            asset = context.data_sources.add_pandas("proximite").add_dataframe_asset("frames")
            self._batch_definition = asset.add_batch_definition_whole_dataframe("whole")
            self._context = context
        return self._context

    def _result_format(self) -> dict[str, Any]:
        if self.max_failures:
            return {
                "result_format": "SUMMARY", "unexpected_index_column_names": [ROW],
                "partial_unexpected_count": self.max_failures, "return_unexpected_index_query": False,
            }
        return {"result_format": "COMPLETE", "unexpected_index_column_names": [ROW], "return_unexpected_index_query": False}

    def _validate(self, frame: pd.DataFrame, expectations: list[Any], name: str) -> Any:
        gx = _gx()
        _ = self.context
        suite = gx.ExpectationSuite(name=name, expectations=expectations)
        batch = self._batch_definition.get_batch(batch_parameters={"dataframe": frame})
        return batch.validate(suite, result_format=self._result_format())

    def run(self, frame: pd.DataFrame, rules: Sequence[Rule], *, layer: str, table: str) -> list[RuleOutcome]:
        """Evaluate a table's GX rules.

        Parameters
        ----------
        frame : DataFrame
            The table (never modified).
        rules : sequence of Rule
            Its single-table rules; every column they read is present with an accepted dtype
            (the engine checks this first).
        layer, table : str, keyword-only

        Returns
        -------
        list of RuleOutcome
            In the order of ``rules``.

        Raises
        ------
        GreatExpectationsError
            GX raised while computing a metric.
        """
        if not rules:
            return []
        run = self.runs.setdefault(f"{layer}.{table}", SuiteRun(name=f"{layer}.{table}", table=table))
        n = len(frame)
        positions = np.arange(n, dtype=np.int64)  # shared by every batch of the table
        outcomes: dict[str, RuleOutcome] = {}
        groups: dict[tuple[str, ...], list[Rule]] = {}
        for rule in rules:
            run.rules[rule.rule_id] = rule
            if rule.params["kind"] == "type":
                groups.setdefault(("<schema>",), []).append(rule)
            else:
                groups.setdefault(tuple(columns_read(rule)[table]), []).append(rule)
        for group, members in groups.items():
            expectations = [expectation_for(rule) for rule in members]
            if group == ("<schema>",):
                # A dtype is the column's: an empty batch with the table's dtypes says it (strings
                # in one storage: GX knows StringDtype() only, whatever backs the column).
                batch = frame[list(dict.fromkeys(str(rule.column) for rule in members))].iloc[:0]
                batch = batch.astype({name: pd.StringDtype() for name, dtype in batch.dtypes.items() if is_text_dtype(dtype)})
            elif n == 0:
                for rule in members:
                    outcomes[rule.rule_id] = RuleOutcome(rule=rule, checked=0, failed=0, rows=np.zeros(0, np.int64), engine="great_expectations")
                continue
            else:
                data = {ROW: positions}
                data.update({column: _as_numpy(frame[column]) for column in group})
                batch = pd.DataFrame(data, copy=False)
            result = self._validate(batch, expectations, f"{layer}.{table}")
            run.meta = run.meta or dict(result.meta)
            by_id = {rule.rule_id: rule for rule in members}
            for item in result.results:
                rule = by_id[item.expectation_config.meta["rule_id"]]
                outcomes[rule.rule_id] = self._outcome(rule, item, rows=n)
                run.expectations.append(item.expectation_config)
                run.results.append(item)
        return [outcomes[rule.rule_id] for rule in rules]

    @staticmethod
    def _outcome(rule: Rule, item: ExpectationValidationResult, *, rows: int) -> RuleOutcome:
        message = _raised(item)
        if message is not None:
            raise GreatExpectationsError(f"Great Expectations could not evaluate {rule.rule_id}: {message}")
        kind = rule.params["kind"]
        if kind == "type":
            if item.success:
                return RuleOutcome(rule=rule, checked=rows, failed=0, rows=np.zeros(0, np.int64), engine="great_expectations")
            return RuleOutcome(
                rule=rule, checked=rows, failed=rows, rows=np.zeros(0, np.int64), engine="great_expectations",
                column_failure=rule.column,
            )
        result = item.result
        # COMPLETE lists every failing row; SUMMARY the first max_failures of them.
        listed = result.get("unexpected_index_list")
        if listed is None:
            listed = result.get("partial_unexpected_index_list") or []
        positions = np.unique(np.asarray([int(entry[ROW]) for entry in listed], dtype=np.int64))
        checked = int(result.get("element_count", 0))
        if kind != "required":
            checked -= int(result.get("missing_count") or 0)
        return RuleOutcome(
            rule=rule, checked=checked, failed=int(result.get("unexpected_count") or 0), rows=positions,
            engine="great_expectations",
        )


def _safe_result(rule: Rule | None, result: Mapping[str, Any]) -> dict[str, Any]:
    """A GX result without row-level data: counts, and values only of codes and numbers."""
    clean = {key: result[key] for key in _KEEP_RESULT_KEYS if key in result}
    if rule is not None and rule.params.get("report_value"):
        shows = rule.params["kind"] == "in_set" or (rule.params["kind"] == "between" and rule.params.get("bound") == "number")
        if shows:
            clean["partial_unexpected_list"] = list(result.get("partial_unexpected_list", []))[:20]
            clean["partial_unexpected_counts"] = list(result.get("partial_unexpected_counts", []))[:20]
    return clean


#: Folder of the Data Docs site where each suite's latest run is kept (so every gate's suites
#: stay on the site: each gate builds it from its own, short-lived GX context).
STORE_FOLDER = ".proximite_runs"


def write_data_docs(
    directory: str | Path,
    runs: Sequence[SuiteRun],
    *,
    run_name: str = "validation",
    site_name: str = "proximite",
) -> Path:
    """Write Great Expectations Data Docs (a static HTML site) for validation runs.

    Parameters
    ----------
    directory : str or Path
        The site's folder (for a project: under its reporting folder); created if needed.
    runs : sequence of SuiteRun
        What :class:`GreatExpectationsRunner` kept (``runner.runs.values()``).
    run_name : str, keyword-only
        Names the run in the site (a pull id, a build id).
    site_name : str, keyword-only

    Returns
    -------
    Path
        The site's ``index.html``.

    Notes
    -----
    The site shows the latest run of every suite ever written to ``directory`` (the staged
    gates' and the harmonised gate's): each suite's latest suite and result are kept as JSON in
    ``<directory>/.proximite_runs/`` and the site is rebuilt from them.

    Results are stripped of row-level data before they are kept (OpenSAFELY's rule): counts and
    shares stay, offending values stay only for coded and numeric columns; row positions, keys
    and dates never appear.

    The site opens offline: the scripts and styles GX's pages take from CDNs are copied into
    ``static/vendor/`` and the pages point at them
    (:func:`~proximite.expectations.data_docs_assets.make_offline`).
    """
    keep_runs(directory, runs, run_name=run_name)
    return build_site(directory, site_name=site_name)


def keep_runs(directory: str | Path, runs: Sequence[SuiteRun], *, run_name: str = "validation") -> None:
    """Keep validation runs in the site's store (``<directory>/.proximite_runs/``) without building its pages.

    The first half of :func:`write_data_docs` (stripped of row-level data as it says): a batch
    of gates keeps its runs, then builds the site once (:func:`build_site`).
    """
    _gx()  # fails before the folder is touched when Great Expectations is missing
    store = Path(directory) / STORE_FOLDER
    store.mkdir(parents=True, exist_ok=True)
    run_time = dt.datetime.now(dt.UTC)
    for run in runs:
        if run.results:
            _keep_run(store, run, run_name=run_name, run_time=run_time)


def build_site(directory: str | Path, *, site_name: str = "proximite") -> Path:
    """Build the Data Docs site of ``directory`` from the runs its store keeps; its ``index.html``.

    The second half of :func:`write_data_docs`: the latest run of every suite kept, the pages
    of earlier runs removed, the pages made to open offline.
    """
    import shutil

    site = Path(directory)
    store = site / STORE_FOLDER
    store.mkdir(parents=True, exist_ok=True)
    context = _ephemeral_context()
    context.add_data_docs_site(
        site_name=site_name,
        site_config={
            "class_name": "SiteBuilder",
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(site)},
        },
    )
    _load_kept_runs(context, store)
    # Pages of earlier runs are rebuilt from the kept runs; stale ones would linger unlinked.
    for folder in ("expectations", "validations"):
        shutil.rmtree(site / folder, ignore_errors=True)
    context.build_data_docs(site_names=[site_name])
    # GX's pages load their scripts and styles from CDNs: serve them from the site (offline).
    make_offline(site)
    return site / "index.html"


def _keep_run(store: Path, run: SuiteRun, *, run_name: str, run_time: dt.datetime) -> None:
    """Write a run's suite and its result, stripped of row-level data, as ``<store>/<suite>.json``."""
    import json

    gx = _gx()
    from great_expectations.core.expectation_validation_result import (
        ExpectationSuiteValidationResult,
        ExpectationValidationResult,
    )

    suite = gx.ExpectationSuite(
        name=run.name,
        expectations=[copy.deepcopy(config) for config in run.expectations],
        notes=list(run.notes) or None,
    )
    results = []
    for item in run.results:
        rule = run.rules.get(item.expectation_config.meta.get("rule_id"))
        results.append(
            ExpectationValidationResult(
                success=item.success, expectation_config=item.expectation_config, result=_safe_result(rule, item.result),
            )
        )
    successes = sum(bool(item.success) for item in results)
    suite_result = ExpectationSuiteValidationResult(
        success=successes == len(results),
        results=results,
        suite_name=run.name,
        statistics={
            "evaluated_expectations": len(results),
            "successful_expectations": successes,
            "unsuccessful_expectations": len(results) - successes,
            "success_percent": 100.0 * successes / len(results),
        },
        meta={key: value for key, value in run.meta.items() if key not in {"batch_parameters", "run_id", "validation_time"}},
    )
    record = {
        "run_name": run_name, "run_time": run_time.isoformat(), "batch": run.table,
        "suite": suite.to_json_dict(), "result": suite_result.to_json_dict(),
    }
    temporary = store / f".{run.name}.json.tmp"
    temporary.write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
    temporary.replace(store / f"{run.name}.json")


def _load_kept_runs(context: Any, store: Path) -> None:
    """Add every kept suite and its latest result to ``context``'s stores."""
    import json

    gx = _gx()
    from great_expectations.core.expectation_validation_result import ExpectationSuiteValidationResultSchema
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    schema = ExpectationSuiteValidationResultSchema()
    for path in sorted(store.glob("*.json")):
        record = json.loads(path.read_text(encoding="utf-8"))
        suite_spec = dict(record["suite"])
        suite_spec.pop("id", None)
        context.suites.add(gx.ExpectationSuite(**suite_spec))
        result = schema.load(record["result"])
        run_id = RunIdentifier(run_name=record["run_name"], run_time=dt.datetime.fromisoformat(record["run_time"]))
        result.meta["run_id"] = run_id
        suite_id = ExpectationSuiteIdentifier(name=suite_spec["name"])
        context.validation_results_store.store_validation_results(
            suite_validation_result=result,
            suite_validation_result_identifier=ValidationResultIdentifier(
                expectation_suite_identifier=suite_id, run_id=run_id, batch_identifier=record["batch"]
            ),
            expectation_suite_identifier=suite_id,
        )
