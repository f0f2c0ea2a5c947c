"""The rule catalogue: per-column rules generated from the codebook, and the hand-written rules.

Generated rules (``<layer>.<table>.<column>.<kind>``, ``<layer>.<table>.key_unique``):

============  ============  ==========================================================
kind          category      from
============  ============  ==========================================================
required      completeness  ``required`` (model.yaml, registry.yaml) or the REDCap data
                            dictionary's *Required Field?*; REDCap branching logic on the
                            event or on a coded field becomes a row condition, and a cell
                            holding a missing-data code (its ``__missing_reason`` is set)
                            counts as answered
type          conformance   the column's model type (or the REDCap field's typing), as
                            pandas dtypes
in_set        conformance   ``enum`` (enumerations.yaml), a REDCap field's choices, the
                            events of a form, the configured waves
between       plausibility  ``min``/``max`` (model.yaml, and the model's bounds for the same
                            registry column), REDCap's *Text Validation Min/Max*
format        conformance   year-month columns, a quarter ``AAAA-Tn``, a region code,
                            REDCap text validations (:data:`COLUMN_FORMATS`,
                            :data:`REDCAP_FORMATS`)
key_unique    conformance   the table's key columns (REDCap: record, event, instance)
============  ============  ==========================================================

Hand-written rules are those of :data:`~proximite.expectations.base.HAND_WRITTEN_RULES` and
:data:`MORE_RULES` (an activity's family exists; no REDCap date after the pull's time): four are
single-table and run in Great Expectations (a pair of dates in order, two plausibility bounds),
the others are cross-table or cross-wave and run in DuckDB
(:mod:`proximite.expectations.sql_checks`). The staged REDCap forms have one cross-form rule
each, ``staged.<form>.one_territory``: a record's rows are all in one data access group (the
harmonised tables keep only the ``famille`` row's group, so a follow-up filed under another
territory can only be seen there).

Severity and threshold come from the settings' ``[validation]`` table: a default per generated
kind (``[validation.kinds]``), then per-rule overrides keyed by rule id or a glob pattern
(``[validation.rules]``); ``enabled = false`` drops a rule. Plausibility bounds live in
``[validation.plausibility]`` (falling back to ``[registry]`` for minutes and kilometres).

Every rule's ``params`` holds plain types: its evaluation ``kind`` (``required``, ``type``,
``in_set``, ``between``, ``format``, ``key_unique``, ``pair_ge``, ``sql``), what the kind needs
(values, bounds, regex, columns, a row ``condition``), and ``report_value`` (whether a failing
row's value may be shown: only coded, numeric, boolean and date columns, never free text).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from proximite.expectations.base import HAND_WRITTEN_RULES, Category, Layer, Rule

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from proximite.cohort.codebook import Codebook
    from proximite.config import Settings

__all__ = [
    "COLUMN_FORMATS",
    "GENERATED_KINDS",
    "KIND_CATEGORY",
    "MODEL_DTYPES",
    "MORE_RULES",
    "REDCAP_FORMATS",
    "STAGED_SOURCES",
    "RuleOutcome",
    "ValidationConfig",
    "accepts_dtype",
    "apply_config",
    "columns_read",
    "condition_columns",
    "hand_written_rules",
    "harmonised_rules",
    "is_text_dtype",
    "staged_rules",
]


#: Generated kinds, in the order their rules are listed for a column.
GENERATED_KINDS = ("required", "type", "in_set", "between", "format")

#: OHDSI data-quality category of each generated kind.
KIND_CATEGORY: dict[str, Category] = {
    "required": "completeness",
    "type": "conformance",
    "in_set": "conformance",
    "between": "plausibility",
    "format": "conformance",
    "key_unique": "conformance",
}

#: Accepted pandas dtypes of each model type, named as Great Expectations' type lists name them
#: (numpy dtype names, or the pandas extension dtype's class name). ``object`` holds strings.
MODEL_DTYPES: dict[str, tuple[str, ...]] = {
    "string": ("StringDtype", "object"),
    "month": ("StringDtype", "object"),
    "int": ("Int64Dtype", "Int32Dtype", "int64", "int32"),
    "float": ("Float64Dtype", "Float32Dtype", "float64", "float32", "Int64Dtype", "int64"),
    "date": ("datetime64[ns]", "datetime64[us]", "datetime64[ms]", "datetime64[s]"),
    "bool": ("BooleanDtype", "bool"),
}

_MONTH = r"^\d{4}-(?:0[1-9]|1[0-2])$"
#: Formats of columns the codebook types only as strings, by column name (any table).
COLUMN_FORMATS: dict[str, str] = {
    "period": r"^\d{4}-T[1-4]$",
    "region_code": r"^(?:0[1-9]|1[0-7])$",
}
#: Formats of REDCap text validations that staging leaves as text.
REDCAP_FORMATS: dict[str, str] = {
    "postalcode_canada": r"^[A-Za-z]\d[A-Za-z] ?\d[A-Za-z]\d$",
    "phone": r"^\(?\d{3}\)?[ .-]?\d{3}[ .-]?\d{4}$",
    "email": r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
    "zipcode": r"^\d{5}(?:-\d{4})?$",
    "alpha_only": r"^[A-Za-z]+$",
    "time": r"^(?:[01]\d|2[0-3]):[0-5]\d$",
}

#: Staged sources and their tables (``docs/data-layout.md``); REDCap's come from the codebook.
STAGED_SOURCES: dict[str, tuple[str, ...]] = {
    "reference": ("region", "territory", "organisation"),
    "registry": ("activity", "worker", "supervision"),
    "cost": ("cost",),
}

#: REDCap staged metadata columns (``proximite.cohort.redcap.records.META_COLUMNS``).
_EVENT = "redcap_event_name"
_INSTANCE = "redcap_repeat_instance"
_DAG = "redcap_data_access_group"
_MISSING_REASON = "__missing_reason"

#: Hand-written rules that run in Great Expectations (single table); the rest run in DuckDB.
_GE_HAND_WRITTEN = {
    "harmonised.need.status_after_identification",
    "harmonised.referral.outcome_after_referral",
    "harmonised.activity.minutes_plausible",
    "harmonised.activity.travel_km_plausible",
}


# ----------------------------------------------------------------------------------- settings
@dataclass(frozen=True)
class ValidationConfig:
    """The ``[validation]`` settings.

    Attributes
    ----------
    max_failures_per_rule : int
        Failing rows listed per rule in a result (counts are always complete); 0 = no limit.
    kinds : dict
        ``{kind: {"severity": ..., "threshold": ...}}`` defaults of generated rules.
    rules : dict
        ``{rule id or glob: {"severity", "threshold", "enabled"}}`` overrides.
    plausibility : dict
        ``max_minutes``, ``max_travel_km``, ``child_max_age_years``, ``unborn_max_months``.
    wave_months : tuple of int
        Configured waves (``[waves] months``).
    baseline_within_days, window_days : int
        Wave windows (``[waves]``).
    as_of : str, optional
        The pull's time (UTC ISO): no REDCap date may be after it (``*.not_after_pull``). The
        latest REDCap pull's watermark, else the time the settings are read.
    """

    max_failures_per_rule: int = 10_000
    sql_keys_above_rows: int = 500_000
    kinds: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    rules: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    plausibility: Mapping[str, float] = field(default_factory=dict)
    wave_months: tuple[int, ...] = (0, 6, 12, 24)
    baseline_within_days: int = 30
    window_days: int = 45
    as_of: str | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> ValidationConfig:
        """Read ``[validation]``, ``[waves]`` and (for fallbacks) ``[registry]``."""
        raw = settings.raw.get("validation", {})
        registry = settings.raw.get("registry", {})
        plausibility = {
            "max_minutes": float(registry.get("max_minutes", 720)),
            "max_travel_km": float(registry.get("max_travel_km", 500)),
            "child_max_age_years": 18.0,
            "unborn_max_months": 10.0,
        }
        plausibility.update({str(k): float(v) for k, v in raw.get("plausibility", {}).items()})
        waves = settings.raw.get("waves", {})
        return cls(
            max_failures_per_rule=int(raw.get("max_failures_per_rule", 10_000)),
            sql_keys_above_rows=int(raw.get("sql_keys_above_rows", 500_000)),
            kinds={str(k): dict(v) for k, v in raw.get("kinds", {}).items()},
            rules={str(k): dict(v) for k, v in raw.get("rules", {}).items()},
            plausibility=plausibility,
            wave_months=tuple(int(m) for m in waves.get("months", (0, 6, 12, 24))),
            baseline_within_days=int(waves.get("baseline_within_days", 30)),
            window_days=int(waves.get("window_days", 45)),
            as_of=_pull_time(settings),
        )

    def override_for(self, rule_id: str) -> Mapping[str, Any]:
        """The override of a rule: its exact id, else the longest matching glob pattern."""
        if rule_id in self.rules:
            return self.rules[rule_id]
        patterns = [p for p in self.rules if any(c in p for c in "*?[") and fnmatch.fnmatchcase(rule_id, p)]
        return self.rules[max(patterns, key=len)] if patterns else {}


def _pull_time(settings: Settings) -> str:
    """The latest REDCap pull's server time (its watermark), else now: both UTC ISO."""
    import datetime as dt

    from proximite.cohort.redcap.watermark import iso_utc, read_watermark

    try:
        watermark = read_watermark(settings)
    except (OSError, ValueError, KeyError):  # a damaged watermark: the pull's time is unknown, now bounds it
        watermark = None
    moment = watermark.server_time if watermark is not None else dt.datetime.now(dt.timezone.utc)
    return iso_utc(moment)


#: The cross-table and date rules added beside :data:`HAND_WRITTEN_RULES`: id → (category, description).
#: ``<table>.<column>.not_after_pull`` covers every date a REDCap pull brings (not the
#: registry's, which arrive by files on their own schedule; not birth months, which may be
#: expected months of unborn children).
MORE_RULES: dict[str, tuple[Category, str]] = {
    "harmonised.activity.family_exists": (
        "conformance",
        "an activity that names a family names one of the cohort's families (a record deleted in REDCap leaves "
        "its activities orphaned)",
    ),
    **{
        f"harmonised.{table}.{column}.not_after_pull": (
            "plausibility", f"{table}.{column} is not after the REDCap pull's time (a date in the future is a typo)",
        )
        for table, column in (
            ("family", "first_contact_date"), ("family", "consent_date"), ("family", "exit_date"),
            ("assessment", "assessment_date"), ("need", "identified_date"), ("need", "status_date"),
            ("referral", "referral_date"), ("referral", "outcome_date"),
        )
    },
}


def _more_specs(config: ValidationConfig) -> dict[str, dict[str, Any]]:
    """Parameters of :data:`MORE_RULES`."""
    specs: dict[str, dict[str, Any]] = {
        "harmonised.activity.family_exists": {
            "column": "family_id", "reads": {"activity": ["family_id"], "family": ["family_id"]},
        },
    }
    for rule_id in MORE_RULES:
        if rule_id.endswith(".not_after_pull"):
            _, table, column, _ = rule_id.split(".")
            specs[rule_id] = {
                "column": column, "check": "not_after", "as_of": config.as_of or _now_iso(),
                "reads": {table: [column]}, "report_value": True,
            }
    return specs


def _now_iso() -> str:
    import datetime as dt

    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def apply_config(rules: Sequence[Rule], config: ValidationConfig) -> list[Rule]:
    """Severity and threshold from the settings; rules with ``enabled = false`` dropped.

    Parameters
    ----------
    rules : sequence of Rule
    config : ValidationConfig

    Returns
    -------
    list of Rule
        New rules (the inputs are frozen dataclasses, never changed).

    Raises
    ------
    ValueError
        A severity that is neither ``error`` nor ``warning``, or a threshold outside [0, 1].
    """
    configured = []
    for rule in rules:
        kind = rule.params.get("kind")
        settings: dict[str, Any] = {}
        if rule.rule_id not in HAND_WRITTEN_RULES and rule.rule_id not in MORE_RULES and kind in config.kinds:
            settings.update(config.kinds[kind])
        settings.update(config.override_for(rule.rule_id))
        if not settings.get("enabled", True):
            continue
        severity = str(settings.get("severity", rule.severity))
        threshold = float(settings.get("threshold", rule.threshold))
        if severity not in ("error", "warning"):
            raise ValueError(f"[validation] {rule.rule_id}: severity must be 'error' or 'warning', not {severity!r}")
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(f"[validation] {rule.rule_id}: threshold must be a share between 0 and 1")
        configured.append(replace(rule, severity=severity, threshold=threshold))  # type: ignore[arg-type]
    return configured


# ------------------------------------------------------------------------------------ helpers
def is_text_dtype(dtype: Any) -> bool:
    """A pandas string dtype, whatever its storage (``string[python]``, ``string[pyarrow]``, an
    Arrow ``string``): staging gives Arrow-backed strings, Parquet read back Python ones."""
    import pandas as pd
    import pyarrow as pa

    if isinstance(dtype, pd.StringDtype):
        return True
    if isinstance(dtype, pd.ArrowDtype):
        return pa.types.is_string(dtype.pyarrow_dtype) or pa.types.is_large_string(dtype.pyarrow_dtype)
    return False


def accepts_dtype(dtype: Any, accepted: Sequence[str]) -> bool:
    """Whether a pandas dtype is one of the accepted names (numpy name or extension class name;
    ``StringDtype`` stands for every string storage)."""
    if is_text_dtype(dtype):
        return "StringDtype" in accepted
    return str(dtype) in accepted or type(dtype).__name__ in accepted


def _column_rules(
    *,
    layer: Layer,
    table: str,
    column: str,
    source: str | None,
    model_type: str,
    required: bool = False,
    values: Sequence[Any] | None = None,
    minimum: Any = None,
    maximum: Any = None,
    regex: str | None = None,
    condition: list[dict[str, Any]] | None = None,
    report_value: bool | None = None,
    what: str = "",
) -> list[Rule]:
    """The generated rules of one column, in :data:`GENERATED_KINDS` order."""
    prefix = f"{layer}.{table}.{column}"
    label = what or column
    shows_value = report_value if report_value is not None else (model_type != "string" or values is not None)
    common = {"layer": layer, "table": table, "column": column, "source": source}
    rules = []
    if required:
        rules.append(
            Rule(
                rule_id=f"{prefix}.required", category="completeness", description=f"{label} is filled in",
                params={"kind": "required", "condition": list(condition or []), "report_value": False}, **common,
            )
        )
    rules.append(
        Rule(
            rule_id=f"{prefix}.type", category="conformance", description=f"{label} is typed {model_type}",
            params={"kind": "type", "model_type": model_type, "dtypes": list(MODEL_DTYPES[model_type]), "report_value": False},
            **common,
        )
    )
    if values is not None:
        shown = ", ".join(map(str, values)) if len(values) <= 12 else f"{len(values)} codes"
        rules.append(
            Rule(
                rule_id=f"{prefix}.in_set", category="conformance", description=f"{label} is one of {shown}",
                params={"kind": "in_set", "values": list(values), "report_value": shows_value}, **common,
            )
        )
    if minimum is not None or maximum is not None:
        bound = "date" if model_type == "date" else "number"
        low = "" if minimum is None else f"≥ {minimum}"
        high = "" if maximum is None else f"≤ {maximum}"
        rules.append(
            Rule(
                rule_id=f"{prefix}.between", category="plausibility",
                description=f"{label} is {' and '.join(part for part in (low, high) if part)}",
                params={"kind": "between", "min": minimum, "max": maximum, "bound": bound, "report_value": shows_value},
                **common,
            )
        )
    if regex is not None:
        rules.append(
            Rule(
                rule_id=f"{prefix}.format", category="conformance", description=f"{label} matches {regex}",
                params={"kind": "format", "regex": regex, "report_value": shows_value}, **common,
            )
        )
    return rules


def _key_rule(*, layer: Layer, table: str, columns: Sequence[str], source: str | None) -> Rule:
    return Rule(
        rule_id=f"{layer}.{table}.key_unique", layer=layer, table=table, category="conformance",
        description=f"({', '.join(columns)}) identifies one row", source=source,
        params={"kind": "key_unique", "columns": list(columns), "report_value": False},
    )


def _number(value: Any) -> float | int | None:
    if value is None or value == "":
        return None
    number = float(value)
    return int(number) if number.is_integer() else number


def _model_bounds(spec: Mapping[str, Any]) -> tuple[Any, Any]:
    return _number(spec.get("min")), _number(spec.get("max"))


def _model_column_rules(
    table: str, column: str, spec: Mapping[str, Any], *, layer: Layer, source: str | None, codebook: Codebook
) -> list[Rule]:
    kind = str(spec["type"])
    values = codebook.codes(spec["enum"]) if spec.get("enum") else None
    minimum, maximum = _model_bounds(spec)
    regex = _MONTH if kind == "month" else COLUMN_FORMATS.get(column)
    return _column_rules(
        layer=layer, table=table, column=column, source=source, model_type=kind,
        required=bool(spec.get("required")), values=values, minimum=minimum, maximum=maximum, regex=regex,
    )


# ------------------------------------------------------------------------------------ staged
def staged_rules(
    source: str,
    *,
    codebook: Codebook,
    tables: Mapping[str, pd.DataFrame] | None = None,
) -> list[Rule]:
    """Generated rules of one staged source (severity and threshold: :func:`apply_config`).

    Parameters
    ----------
    source : {"reference", "redcap", "registry", "cost"}
    codebook : Codebook, keyword-only
    tables : mapping, optional, keyword-only
        The staged tables: rules are made only for tables present, and a REDCap field's
        ``__missing_reason`` companion, when present, conditions its ``required`` rule.

    Returns
    -------
    list of Rule
    """
    if source == "redcap":
        rules = _redcap_rules(codebook, tables=tables)
    elif source in STAGED_SOURCES:
        rules = []
        for table in STAGED_SOURCES[source]:
            if tables is not None and table not in tables:
                continue
            rules.extend(_staged_model_rules(source, table, codebook=codebook))
    else:
        raise ValueError(f"unknown staged source {source!r} (sources: redcap, {', '.join(STAGED_SOURCES)})")
    return rules


def _staged_model_rules(source: str, table: str, *, codebook: Codebook) -> list[Rule]:
    """Reference tables (exactly the model's columns) and registry/cost tables (the template's)."""
    model = codebook.columns(table)
    rules: list[Rule] = []
    if source == "reference":
        for column, spec in model.items():
            rules.extend(_model_column_rules(table, column, spec, layer="staged", source=source, codebook=codebook))
    else:
        for column, spec in codebook.registry[table].items():
            kind = str(spec["type"])
            values = codebook.codes(spec["enum"]) if spec.get("enum") else None
            # The template has no bounds of its own: the model's bounds of the same column apply.
            minimum, maximum = _model_bounds(model.get(column, {}))
            rules.extend(
                _column_rules(
                    layer="staged", table=table, column=column, source=source, model_type=kind,
                    required=bool(spec.get("required")), values=values, minimum=minimum, maximum=maximum,
                    regex=COLUMN_FORMATS.get(column),
                )
            )
    keys = codebook.key_columns(table)
    if keys:
        rules.append(_key_rule(layer="staged", table=table, columns=keys, source=source))
    return rules


def _branching_condition(branching: str, kinds: Mapping[str, str]) -> list[dict[str, Any]] | None:
    """REDCap branching logic as a row condition, for the simple forms REDCap projects use most.

    ``[event-name] = 'x'``, ``[event-name] <> 'x'`` and ``[field] = 'code'`` (a coded field),
    joined by ``and``. Returns None when the logic is anything else (the field's ``required``
    rule is then left out rather than guessed).
    """
    text = branching.strip()
    if not text:
        return []
    clauses = []
    for part in re.split(r"\s+and\s+", text, flags=re.IGNORECASE):
        match = re.fullmatch(r"\[([\w-]+)\]\s*(=|<>|!=)\s*['\"]([^'\"]*)['\"]", part.strip())
        if not match:
            return None
        name, operator, value = match.groups()
        column = _EVENT if name == "event-name" else name
        if column != _EVENT and kinds.get(name) != "code":
            return None
        clauses.append({"column": column, "op": "in" if operator == "=" else "not_in", "value": [value]})
    return clauses


def _redcap_rules(codebook: Codebook, *, tables: Mapping[str, pd.DataFrame] | None) -> list[Rule]:
    """Rules of the staged REDCap forms, from the project's data dictionary (as staging types it)."""
    from proximite.cohort.redcap.dictionary import checkbox_column

    # Staging's own field typing (one source of truth for what each staged column holds).
    from proximite.cohort.redcap.dictionary import staged_fields
    from proximite.cohort.redcap.project import RedcapProject

    project = RedcapProject.from_codebook(codebook)
    metadata = project.metadata.set_index("field_name")
    identifiers = set(metadata.index[metadata["identifier"].str.lower() == "y"])
    fields = staged_fields(project)
    kinds = {f.name: f.kind for f in fields}
    record_field = project.record_id_field
    model_type = {"date": "date", "month": "string", "datetime": "date", "int": "int", "float": "float", "bool": "bool", "code": "string", "text": "string"}
    rules: list[Rule] = []
    for form in project.forms:
        if tables is not None and form not in tables:
            continue
        frame = tables.get(form) if tables is not None else None
        repeats = form in project.repeating
        events = sorted(set(project.form_events.get(form, ())))
        common = {"layer": "staged", "table": form, "source": "redcap"}
        rules += _column_rules(**common, column="record_id", model_type="string", required=True, what="the record id")
        rules += _column_rules(**common, column=_EVENT, model_type="string", required=True, values=events, what="the event")
        if repeats:
            rules += _column_rules(
                **common, column=_INSTANCE, model_type="int", required=True, minimum=1, what="the repeat instance",
            )
        rules += _column_rules(**common, column=_DAG, model_type="string", required=True, report_value=True, what="the data access group")
        for field_ in fields:
            if field_.form != form or field_.name == record_field or field_.name in identifiers:
                continue
            row = metadata.loc[field_.name]
            if field_.kind == "checkbox":
                for code in field_.codes:
                    rules += _column_rules(**common, column=checkbox_column(field_.name, code), model_type="bool")
                continue
            condition = _branching_condition(str(row["branching_logic"]), kinds)
            required = str(row["required_field"]).lower() == "y" and condition is not None
            reason = field_.name + _MISSING_REASON
            if required and frame is not None and reason in frame.columns:
                # A missing-data code (NSP, REF) is an answer: REDCap accepts it for a required field.
                condition = [*(condition or []), {"column": reason, "op": "is_null"}]
            kind = model_type[field_.kind]
            bounded = field_.kind in {"date", "datetime", "int", "float"}
            rules += _column_rules(
                **common, column=field_.name, model_type=kind, required=required,
                values=list(field_.codes) if field_.kind == "code" else None,
                minimum=_redcap_bound(row["text_validation_min"], kind) if bounded else None,
                maximum=_redcap_bound(row["text_validation_max"], kind) if bounded else None,
                regex=_staged_regex(field_.kind, row) if kind == "string" else None,
                condition=condition, report_value=field_.kind != "text",
            )
        rules += _column_rules(**common, column=f"{form}_complete", model_type="int", values=[0, 1, 2], what="the form status")
        rules.append(
            _key_rule(layer="staged", table=form, columns=["record_id", _EVENT, _INSTANCE], source="redcap")
        )
    forms = [form for form in project.forms if tables is None or form in tables]
    for form in forms:
        rules.append(
            Rule(
                rule_id=f"staged.{form}.one_territory", layer="staged", table=form, category="conformance",
                description="the row is in its record's data access group (the group of most of the record's rows, "
                "all forms together): a family belongs to one territory",
                column=_DAG, engine="duckdb", source="redcap",
                params={
                    "kind": "sql", "check": "redcap_one_territory", "forms": forms,
                    "reads": {name: ["record_id", _DAG] for name in forms}, "report_value": True,
                },
            )
        )
    return rules


def _staged_regex(kind: str, row: pd.Series) -> str | None:
    """The pattern a staged text column follows: ``YYYY-MM`` for a month, else REDCap's validation."""
    if kind == "month":
        return r"\d{4}-(?:0[1-9]|1[0-2])"
    return REDCAP_FORMATS.get(str(row["text_validation_type_or_show_slider_number"]))


def _redcap_bound(value: Any, kind: str) -> Any:
    text = str(value).strip()
    if not text or text.lower() in {"nan", "none"}:
        return None
    if kind == "date":
        return text[:10]
    return _number(text)


# -------------------------------------------------------------------------------- harmonised
def harmonised_rules(
    *,
    codebook: Codebook,
    config: ValidationConfig,
    tables: Mapping[str, pd.DataFrame] | None = None,
) -> list[Rule]:
    """Generated rules of every harmonised table, then the hand-written rules.

    Parameters
    ----------
    codebook : Codebook, keyword-only
    config : ValidationConfig, keyword-only
        Waves (for ``assessment.wave.in_set``) and the plausibility bounds.
    tables : mapping, optional, keyword-only
        When given, only rules whose tables are all present.
    """
    rules: list[Rule] = []
    together = _filled_together(codebook)
    for table in codebook.tables:
        if tables is not None and table not in tables:
            continue
        for column, spec in codebook.columns(table).items():
            generated = _model_column_rules(table, column, spec, layer="harmonised", source=None, codebook=codebook)
            others = [name for name in together.get(table, []) if name != column]
            if column in together.get(table, []) and others:
                # A form's required fields arrive together: filled when any other of them is.
                condition = [{"op": "any", "clauses": [{"column": name, "op": "not_null"} for name in others]}]
                generated = _insert_first(
                    generated,
                    Rule(
                        rule_id=f"harmonised.{table}.{column}.required", layer="harmonised", table=table, column=column,
                        category="completeness", description=f"{column} is filled in when {' or '.join(others)} is",
                        params={"kind": "required", "condition": condition, "report_value": False},
                    ),
                )
            if (table, column) == ("assessment", "wave"):
                generated = _insert_after_type(
                    generated,
                    Rule(
                        rule_id="harmonised.assessment.wave.in_set", layer="harmonised", table=table, column=column,
                        category="conformance",
                        description=f"wave is one of the configured waves ({', '.join(map(str, config.wave_months))})",
                        params={"kind": "in_set", "values": list(config.wave_months), "report_value": True},
                    ),
                )
            rules.extend(generated)
        keys = codebook.key_columns(table)
        if keys:
            rules.append(_key_rule(layer="harmonised", table=table, columns=keys, source=None))
    for rule in hand_written_rules(config=config):
        if tables is None or all(name in tables for name in rule.params["reads"]):
            rules.append(rule)
    return rules


def _filled_together(codebook: Codebook) -> dict[str, list[str]]:
    """Optional model columns fed by required fields of one REDCap form, by table.

    A form that is not always collected (``sortie``) still fills all its required fields when it
    is: ``family.exit_date`` and ``family.exit_reason`` come together.
    """
    fields = codebook.fields
    groups: dict[str, list[str]] = {}
    required = fields.loc[fields["required"] & (fields["target_table"] != "")]
    for (_form, table), group in required.groupby(["form_name", "target_table"], sort=False):
        model = codebook.columns(str(table))
        optional = [str(c) for c in dict.fromkeys(group["target_column"]) if not model[str(c)].get("required")]
        if len(optional) >= 2:
            groups.setdefault(str(table), []).extend(optional)
    return groups


def _insert_first(rules: list[Rule], extra: Rule) -> list[Rule]:
    return [extra, *rules]


def _insert_after_type(rules: list[Rule], extra: Rule) -> list[Rule]:
    position = next((i + 1 for i, rule in enumerate(rules) if rule.params["kind"] == "type"), len(rules))
    return [*rules[:position], extra, *rules[position:]]


def hand_written_rules(*, config: ValidationConfig) -> list[Rule]:
    """The rules of :data:`HAND_WRITTEN_RULES`, with their parameters and engines.

    Parameters
    ----------
    config : ValidationConfig, keyword-only

    Returns
    -------
    list of Rule
        In :data:`HAND_WRITTEN_RULES` order; ``params["reads"]`` names every table and column a
        rule reads.
    """
    bounds = config.plausibility
    spec = {
        **_assessment_and_need_specs(config), **_referral_and_child_specs(config), **_activity_specs(config),
        **_more_specs(config),
    }
    rules = []
    for rule_id, (category, description) in {**HAND_WRITTEN_RULES, **MORE_RULES}.items():
        params = dict(spec[rule_id])
        params.setdefault("kind", "sql")
        params.setdefault("report_value", False)
        column = params.pop("column")
        severity = params.pop("severity", "error")
        description = (
            description.replace("max_minutes", f"{_number(bounds['max_minutes'])}")
            .replace("max_travel_km", f"{_number(bounds['max_travel_km'])}")
        )
        rules.append(
            Rule(
                rule_id=rule_id, layer="harmonised", table=rule_id.split(".")[1], category=category,
                description=description, column=column, severity=severity,
                engine="great_expectations" if rule_id in _GE_HAND_WRITTEN else "duckdb", params=params,
            )
        )
    return rules


def _assessment_and_need_specs(config: ValidationConfig) -> dict[str, dict[str, Any]]:
    """Parameters of the hand-written rules on assessments and needs."""
    windows = {
        "wave_months": list(config.wave_months),
        "baseline_within_days": config.baseline_within_days,
        "window_days": config.window_days,
    }
    family = {"family": ["family_id", "first_contact_date"]}
    return {
        "harmonised.assessment.in_wave_window": {
            "column": "assessment_date", "reads": {"assessment": ["family_id", "wave", "assessment_date"], **family},
            **windows, "report_value": True,
        },
        "harmonised.assessment.after_first_contact": {
            "column": "assessment_date", "reads": {"assessment": ["family_id", "assessment_date"], **family},
            "report_value": True,
        },
        "harmonised.assessment.waves_in_date_order": {
            "column": "assessment_date", "reads": {"assessment": ["family_id", "wave", "assessment_date"]},
            "report_value": True,
        },
        "harmonised.assessment.family_exists": {"column": "family_id", "reads": {"assessment": ["family_id"], "family": ["family_id"]}},
        "harmonised.need.family_exists": {"column": "family_id", "reads": {"need": ["family_id"], "family": ["family_id"]}},
        "harmonised.need.status_after_identification": {
            "kind": "pair_ge", "column": "status_date", "column_a": "status_date", "column_b": "identified_date",
            "reads": {"need": ["status_date", "identified_date"]}, "report_value": True,
        },
    }


def _referral_and_child_specs(config: ValidationConfig) -> dict[str, dict[str, Any]]:
    """Parameters of the hand-written rules on referrals and children."""
    bounds = config.plausibility
    child = {"child_max_age_years": int(bounds["child_max_age_years"]), "unborn_max_months": int(bounds["unborn_max_months"])}
    family = {"family": ["family_id", "first_contact_date"]}
    return {
        "harmonised.referral.family_exists": {"column": "family_id", "reads": {"referral": ["family_id"], "family": ["family_id"]}},
        "harmonised.referral.organisation_exists": {
            "column": None, "reads": {"referral": ["from_org_id", "to_org_id"], "organisation": ["org_id"]},
        },
        "harmonised.referral.outcome_after_referral": {
            "kind": "pair_ge", "column": "outcome_date", "column_a": "outcome_date", "column_b": "referral_date",
            "reads": {"referral": ["outcome_date", "referral_date"]}, "report_value": True,
        },
        "harmonised.child.family_exists": {"column": "family_id", "reads": {"child": ["family_id"], "family": ["family_id"]}},
        "harmonised.child.birth_plausible": {
            "column": "birth_month", "reads": {"child": ["family_id", "birth_month", "unborn_at_contact"], **family},
            **child, "report_value": True,
        },
        "harmonised.child.unborn_born_later": {
            "column": "birth_month", "reads": {"child": ["family_id", "birth_month", "unborn_at_contact"], **family},
            "report_value": True,
        },
        "harmonised.child.born_before_assessment": {
            "column": "birth_month",
            "reads": {"child": ["family_id", "birth_month", "unborn_at_contact"], "assessment": ["family_id", "assessment_date"]},
            "report_value": True,
        },
    }


def _activity_specs(config: ValidationConfig) -> dict[str, dict[str, Any]]:
    """Parameters of the hand-written rules on families' territories and activities."""
    bounds = config.plausibility
    return {
        "harmonised.family.one_territory": {
            "column": "territory_id",
            "reads": {"family": ["family_id", "territory_id"], "activity": ["family_id", "territory_id"]},
        },
        "harmonised.activity.worker_known": {"column": "worker_id", "reads": {"activity": ["worker_id"], "worker": ["worker_id"]}},
        "harmonised.activity.within_tenure": {
            "column": "activity_date",
            "reads": {
                "activity": ["worker_id", "territory_id", "activity_date"],
                "worker": ["worker_id", "territory_id", "start_date", "end_date"],
            },
            "report_value": True,
        },
        "harmonised.activity.minutes_plausible": {
            "kind": "between", "column": "minutes", "min": 1, "max": _number(bounds["max_minutes"]), "bound": "number",
            "reads": {"activity": ["minutes"]}, "report_value": True,
        },
        "harmonised.activity.travel_km_plausible": {
            "kind": "between", "column": "travel_km", "min": 0, "max": _number(bounds["max_travel_km"]), "bound": "number",
            "reads": {"activity": ["travel_km"]}, "report_value": True,
        },
    }


# ------------------------------------------------------------------------------------ outcome
def columns_read(rule: Rule) -> dict[str, list[str]]:
    """Every ``{table: [columns]}`` a rule reads (its own column, key, pair, condition, or SQL reads)."""
    params = rule.params
    if "reads" in params:
        return {table: list(columns) for table, columns in params["reads"].items()}
    columns: list[str] = []
    if params.get("kind") == "key_unique":
        columns += params["columns"]
    elif params.get("kind") == "pair_ge":
        columns += [params["column_a"], params["column_b"]]
    elif rule.column is not None:
        columns.append(rule.column)
    columns += condition_columns(params.get("condition", []))
    return {rule.table: list(dict.fromkeys(columns))}


def condition_columns(condition: Sequence[Mapping[str, Any]]) -> list[str]:
    """Columns a row condition reads (clauses joined by *and*; ``{"op": "any"}`` joins by *or*)."""
    columns: list[str] = []
    for clause in condition:
        if clause["op"] == "any":
            columns += condition_columns(clause["clauses"])
        else:
            columns.append(str(clause["column"]))
    return columns


@dataclass(frozen=True)
class RuleOutcome:
    """What one engine found for one rule (positions, not values: the engine adds keys).

    Attributes
    ----------
    rule : Rule
    checked : int
        Rows the rule examined (its domain: non-missing values, rows meeting its condition ...).
    failed : int
        Rows that broke it.
    rows : ndarray of int
        0-based positions, in the rule's table, of the failing rows listed (ascending, at most
        ``max_failures_per_rule``).
    engine : str
        ``great_expectations``, ``duckdb`` or ``pandas``.
    column_failure : str, optional
        Set when the rule failed as a whole because a column it reads is missing or mistyped
        (the column's name); no row is then listed.
    """

    rule: Rule
    checked: int
    failed: int
    rows: np.ndarray
    engine: str
    column_failure: str | None = None
