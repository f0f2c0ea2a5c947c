"""Validation that gates every layer transition: rules from the codebook and by hand, run in
Great Expectations and DuckDB, each tagged with its OHDSI data-quality category.

Public API::

    from proximite.expectations import rules_for, validate_tables

    result = validate_tables(tables, layer="harmonised", settings=settings)
    result.passed, result.summary, result.failures

Great Expectations itself is imported only when a suite is built or run (≈3 s).
"""

from proximite.expectations.base import (
    FAILURE_COLUMNS,
    HAND_WRITTEN_RULES,
    SUMMARY_COLUMNS,
    Category,
    Layer,
    Rule,
    Severity,
    ValidationResult,
)
from proximite.expectations.engine import (
    ENGINES,
    evaluate_rules,
    rules_for,
    validate_tables,
)
from proximite.expectations.great_expectations import build_suites, write_data_docs
from proximite.expectations.rules import RuleOutcome, ValidationConfig, columns_read

__all__ = [
    "ENGINES",
    "FAILURE_COLUMNS",
    "HAND_WRITTEN_RULES",
    "SUMMARY_COLUMNS",
    "Category",
    "Layer",
    "Rule",
    "RuleOutcome",
    "Severity",
    "ValidationConfig",
    "ValidationResult",
    "build_suites",
    "columns_read",
    "evaluate_rules",
    "rules_for",
    "validate_tables",
    "write_data_docs",
]

