"""The vocabulary of validation: rules, their outcomes, and a validation result as data.

Every rule carries an OHDSI data-quality category (conformance, completeness, plausibility), a
severity (``error`` blocks a gate, ``warning`` only reports) and a threshold (the largest share of
failing rows tolerated, 0 by default; Great Expectations' ``mostly`` is ``1 - threshold``).

Rule ids are stable strings that reports, tests and coordinators can rely on:

- generated per-column rules: ``<layer>.<table>.<column>.<kind>`` with kind one of
  ``required``, ``type``, ``in_set``, ``between``, ``format``; unique keys:
  ``<layer>.<table>.key_unique``;
- hand-written and cross-table rules: the ids of :data:`HAND_WRITTEN_RULES` (harmonised layer).

A :class:`ValidationResult` is plain data (frames and dicts of plain types), so a flow can publish
it as an artifact and a report writer can render it; it never holds a family's free text or
identifiers, only keys and, for coded, numeric and date fields, the offending value.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import pandas as pd

Category = Literal["conformance", "completeness", "plausibility"]
Severity = Literal["error", "warning"]
Layer = Literal["staged", "harmonised"]

#: Columns of :attr:`ValidationResult.failures`: one row per failing row of a rule.
FAILURE_COLUMNS = [
    "layer",
    "source",
    "table",
    "rule_id",
    "category",
    "severity",
    "column",
    "record_id",
    "event",
    "instance",
    "key",
    "value",
    "source_file",
    "source_row",
]

#: Columns of :attr:`ValidationResult.summary`: one row per rule evaluated.
SUMMARY_COLUMNS = [
    "layer",
    "source",
    "table",
    "rule_id",
    "category",
    "severity",
    "threshold",
    "checked",
    "failed",
    "failed_share",
    "passed",
    "engine",
    "description",
]

#: Hand-written and cross-table rules of the harmonised layer: id → (category, description).
HAND_WRITTEN_RULES: dict[str, tuple[Category, str]] = {
    "harmonised.assessment.in_wave_window": (
        "plausibility",
        "an assessment falls in its wave's window: T0 within baseline_within_days of the first contact, "
        "Tk within ±window_days of T0 + k months",
    ),
    "harmonised.assessment.after_first_contact": ("plausibility", "an assessment is not before the family's first contact"),
    "harmonised.assessment.waves_in_date_order": ("plausibility", "a family's assessments are in date order of their waves"),
    "harmonised.assessment.family_exists": ("conformance", "every assessment has its family"),
    "harmonised.need.family_exists": ("conformance", "every need has its family"),
    "harmonised.need.status_after_identification": ("plausibility", "a need's status date is not before its identification"),
    "harmonised.referral.family_exists": ("conformance", "every referral has its family"),
    "harmonised.referral.organisation_exists": ("conformance", "every organisation named in a referral exists"),
    "harmonised.referral.outcome_after_referral": ("plausibility", "a referral's outcome date is not before the referral"),
    "harmonised.child.family_exists": ("conformance", "every child has its family"),
    "harmonised.child.birth_plausible": (
        "plausibility",
        "a child's birth month is plausible for the family's first contact (born at most 18 years before it; "
        "an unborn child expected within 10 months after it)",
    ),
    "harmonised.child.unborn_born_later": (
        "plausibility",
        "a child unborn at contact has a birth month after the first contact",
    ),
    "harmonised.child.born_before_assessment": (
        "plausibility",
        "a child born (not unborn) at contact is born before the family's assessments",
    ),
    "harmonised.family.one_territory": ("conformance", "a family belongs to one territory"),
    "harmonised.activity.worker_known": ("conformance", "every activity is by a known worker"),
    "harmonised.activity.within_tenure": ("plausibility", "a worker's activities fall inside their tenure in the territory"),
    "harmonised.activity.minutes_plausible": ("plausibility", "an activity lasts 1 to max_minutes minutes"),
    "harmonised.activity.travel_km_plausible": ("plausibility", "travel kilometres are between 0 and max_travel_km"),
}


@dataclass(frozen=True)
class Rule:
    """One validation rule.

    Attributes
    ----------
    rule_id : str
        Stable id (see the module docstring).
    layer : {"staged", "harmonised"}
    table : str
        The table it checks (``famille``, ``activity`` ... for staged; a model table for harmonised).
    category : {"conformance", "completeness", "plausibility"}
    severity : {"error", "warning"}
    threshold : float
        Largest share of failing rows tolerated (0 = none).
    description : str
        What the rule asks, in plain words (shown in reports).
    column : str, optional
        The column it checks, when it checks one.
    engine : {"great_expectations", "duckdb", "pandas"}
        What evaluates it.
    source : str, optional
        The staged source (``redcap``, ``registry`` ...) for staged rules.
    params : dict
        The rule's parameters (allowed codes, bounds, format ...), plain types.
    """

    rule_id: str
    layer: Layer
    table: str
    category: Category
    severity: Severity = "error"
    threshold: float = 0.0
    description: str = ""
    column: str | None = None
    engine: str = "great_expectations"
    source: str | None = None
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class ValidationResult:
    """What a gate found, as data.

    Attributes
    ----------
    layer : {"staged", "harmonised"}
    source : str or None
        The staged source, or None for the harmonised gate.
    pull_id : str or None
        The pull (staged) or the build's inputs id (harmonised) that was checked.
    summary : DataFrame
        One row per rule (:data:`SUMMARY_COLUMNS`).
    failures : DataFrame
        One row per failing row of a rule (:data:`FAILURE_COLUMNS`), keys and safe values only.
    seconds : float
        Time taken.
    """

    layer: Layer
    source: str | None
    pull_id: str | None
    summary: pd.DataFrame
    failures: pd.DataFrame
    seconds: float = 0.0

    @property
    def blocking(self) -> pd.DataFrame:
        """Rules of severity error that failed beyond their threshold."""
        summary = self.summary
        return summary[(summary["severity"] == "error") & ~summary["passed"].astype(bool)]

    @property
    def passed(self) -> bool:
        """True when no error rule failed beyond its threshold (warnings never block)."""
        return self.blocking.empty

    def to_dict(self) -> dict[str, Any]:
        """Plain-type summary (for a Prefect artifact or JSON): counts per rule, no row-level data."""
        return {
            "layer": self.layer,
            "source": self.source,
            "pull_id": self.pull_id,
            "passed": self.passed,
            "seconds": round(self.seconds, 3),
            "rules": int(len(self.summary)),
            "rules_failed": int((~self.summary["passed"].astype(bool)).sum()) if len(self.summary) else 0,
            "blocking": [
                {"rule_id": str(row.rule_id), "table": str(row.table), "failed": int(row.failed)}
                for row in self.blocking.itertuples()
            ],
            "tables": self.table_counts(),
        }

    def table_counts(self) -> list[dict[str, Any]]:
        """Per table: rules checked, rules with failing rows, failing rows, rules that block (plain types)."""
        summary = self.summary
        if summary.empty:
            return []
        failed = summary["failed"].fillna(0).astype("int64")
        frame = pd.DataFrame(
            {
                "table": summary["table"].astype(str),
                "failing": failed > 0,
                "failed": failed,
                "blocking": (summary["severity"] == "error") & ~summary["passed"].astype(bool),
            }
        )
        grouped = frame.groupby("table", sort=True).agg(
            rules=("failing", "size"), rules_failing=("failing", "sum"), failing_rows=("failed", "sum"), blocking=("blocking", "sum")
        )
        return [
            {"table": str(table), **{column: int(value) for column, value in row.items()}}
            for table, row in grouped.iterrows()
        ]
