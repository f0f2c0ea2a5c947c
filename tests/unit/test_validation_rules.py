"""The rule catalogue: generated rules cover the codebook, hand-written ids are all there, and the
settings' ``[validation]`` table sets severities, thresholds and bounds."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from proximite.cohort.codebook import load_codebook
from proximite.config import load_settings
from proximite.expectations import HAND_WRITTEN_RULES, Rule, rules_for
from proximite.expectations.rules import MORE_RULES
from proximite.expectations.rules import (
    KIND_CATEGORY,
    ValidationConfig,
    _branching_condition,
    columns_read,
)

CODEBOOK = load_codebook()


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory):
    return load_settings(tmp_path_factory.mktemp("project"))


@pytest.fixture(scope="module")
def harmonised(settings) -> dict[str, Rule]:
    return {rule.rule_id: rule for rule in rules_for("harmonised", settings=settings)}


def with_settings(tmp_path: Path, text: str):
    (tmp_path / "proximite.toml").write_text(text, encoding="utf-8")
    return load_settings(tmp_path)


# ------------------------------------------------------------------------------------ harmonised
def test_every_model_column_has_its_generated_rules(harmonised: dict[str, Rule]) -> None:
    for table in CODEBOOK.tables:
        for column, spec in CODEBOOK.columns(table).items():
            prefix = f"harmonised.{table}.{column}"
            assert harmonised[f"{prefix}.type"].params["model_type"] == spec["type"]
            if spec.get("required"):
                assert harmonised[f"{prefix}.required"].category == "completeness"
            if spec.get("enum"):
                assert harmonised[f"{prefix}.in_set"].params["values"] == CODEBOOK.codes(spec["enum"])
            if "min" in spec or "max" in spec:
                between = harmonised[f"{prefix}.between"].params
                assert (between["min"], between["max"]) == (spec.get("min"), spec.get("max"))
            if spec["type"] == "month":
                assert f"{prefix}.format" in harmonised


def test_every_key_is_unique(harmonised: dict[str, Rule]) -> None:
    for table in CODEBOOK.tables:
        keys = CODEBOOK.key_columns(table)
        assert harmonised[f"harmonised.{table}.key_unique"].params["columns"] == keys


def test_ids_are_unique_and_named_by_layer_table_column_kind(settings) -> None:
    rules = rules_for("harmonised", settings=settings)
    ids = [rule.rule_id for rule in rules]
    assert len(ids) == len(set(ids))
    for rule in rules:
        if rule.rule_id in HAND_WRITTEN_RULES or rule.rule_id in MORE_RULES:
            continue
        kind = rule.params["kind"]
        expected = f"harmonised.{rule.table}.key_unique" if kind == "key_unique" else f"harmonised.{rule.table}.{rule.column}.{kind}"
        assert rule.rule_id == expected
        assert rule.category == KIND_CATEGORY[kind]


def test_every_hand_written_rule_is_present_with_its_category(harmonised: dict[str, Rule]) -> None:
    for rule_id, (category, _) in {**HAND_WRITTEN_RULES, **MORE_RULES}.items():
        rule = harmonised[rule_id]
        assert rule.category == category
        assert rule.engine in {"great_expectations", "duckdb"}
        assert set(columns_read(rule)) <= set(CODEBOOK.tables)


def test_waves_and_filled_together_columns_come_from_settings_and_forms(harmonised: dict[str, Rule]) -> None:
    assert harmonised["harmonised.assessment.wave.in_set"].params["values"] == [0, 6, 12, 24]
    # sortie's required fields arrive together: each exit column is required when the other is set.
    condition = harmonised["harmonised.family.exit_reason.required"].params["condition"]
    assert condition == [{"op": "any", "clauses": [{"column": "exit_date", "op": "not_null"}]}]


def test_rules_restricted_to_the_tables_given(settings) -> None:
    tables = {"need": pd.DataFrame(), "family": pd.DataFrame()}
    rules = rules_for("harmonised", settings=settings, tables=tables)
    assert {rule.table for rule in rules} == {"need", "family"}
    assert "harmonised.need.family_exists" in {rule.rule_id for rule in rules}
    assert "harmonised.referral.family_exists" not in {rule.rule_id for rule in rules}


# ------------------------------------------------------------------------------------ staged
def test_redcap_forms_follow_the_data_dictionary(settings) -> None:
    rules = {rule.rule_id: rule for rule in rules_for("staged", settings=settings, source="redcap")}
    fields = CODEBOOK.fields
    for field in fields.itertuples():
        prefix = f"staged.{field.form_name}.{field.field_name}"
        if field.identifier:
            assert not any(rule_id.startswith(prefix + ".") for rule_id in rules), field.field_name
            continue
        if field.field_name == CODEBOOK.record_id_field:
            continue
        if field.field_type == "checkbox":
            for code in CODEBOOK.codes(field.enum):
                assert rules[f"{prefix}___{code}.type"].params["model_type"] == "bool"
            continue
        assert f"{prefix}.type" in rules
        if field.field_type in {"dropdown", "radio"}:
            assert rules[f"{prefix}.in_set"].params["values"] == CODEBOOK.codes(field.enum)
        if field.required:
            assert f"{prefix}.required" in rules
    for form in CODEBOOK.forms:
        assert rules[f"staged.{form}.key_unique"].params["columns"] == ["record_id", "redcap_event_name", "redcap_repeat_instance"]
        assert rules[f"staged.{form}.redcap_event_name.in_set"].params["values"] == sorted(CODEBOOK.events_of_form(form))
        assert rules[f"staged.{form}.one_territory"].engine == "duckdb"
    assert rules["staged.famille.date_premier_contact.between"].params["min"] == "2022-01-01"


def test_missing_data_reason_makes_a_required_field_answered(settings) -> None:
    famille = pd.DataFrame({"date_premier_contact__missing_reason": pd.Series([], dtype="string")})
    rules = {rule.rule_id: rule for rule in rules_for("staged", settings=settings, source="redcap", tables={"famille": famille})}
    condition = rules["staged.famille.date_premier_contact.required"].params["condition"]
    assert condition == [{"column": "date_premier_contact__missing_reason", "op": "is_null"}]
    assert "staged.famille.canal_recrutement.required" in rules and not rules["staged.famille.canal_recrutement.required"].params["condition"]


def test_branching_logic_becomes_a_row_condition() -> None:
    kinds = {"bes_statut": "code", "pa_1": "code", "fam_nom_parent": "text"}
    assert _branching_condition("[event-name] <> 't0_arm_1'", kinds) == [
        {"column": "redcap_event_name", "op": "not_in", "value": ["t0_arm_1"]}
    ]
    assert _branching_condition("[bes_statut] = 'repondu' and [event-name] = 'accompagnement_arm_1'", kinds) == [
        {"column": "bes_statut", "op": "in", "value": ["repondu"]},
        {"column": "redcap_event_name", "op": "in", "value": ["accompagnement_arm_1"]},
    ]
    assert _branching_condition("", kinds) == []
    assert _branching_condition("[fam_nom_parent] = 'x'", kinds) is None  # not a coded field
    assert _branching_condition("[pa_1] > 2 or [pa_2] = '1'", kinds) is None


def test_registry_and_reference_rules(settings) -> None:
    registry = {rule.rule_id: rule for rule in rules_for("staged", settings=settings, source="registry")}
    # The template has no bounds: the model's bounds of the same column apply.
    assert (registry["staged.activity.minutes.between"].params["min"], registry["staged.activity.minutes.between"].params["max"]) == (1, 720)
    assert registry["staged.activity.action_type.in_set"].params["values"] == CODEBOOK.codes("action_type")
    assert registry["staged.activity.key_unique"].params["columns"] == ["activity_id", "territory_id"]
    assert "staged.activity.family_record_id.type" in registry
    reference = {rule.rule_id for rule in rules_for("staged", settings=settings, source="reference")}
    assert {"staged.territory.environment.in_set", "staged.region.region_code.format", "staged.organisation.key_unique"} <= reference
    cost = {rule.rule_id: rule for rule in rules_for("staged", settings=settings, source="cost")}
    assert cost["staged.cost.period.format"].params["regex"] == r"^\d{4}-T[1-4]$"
    with pytest.raises(ValueError, match="source="):
        rules_for("staged", settings=settings)
    with pytest.raises(ValueError, match="unknown staged source"):
        rules_for("staged", settings=settings, source="nope")


# ------------------------------------------------------------------------------------ settings
def test_defaults_error_zero_and_tolerant_plausibility(harmonised: dict[str, Rule]) -> None:
    assert harmonised["harmonised.family.family_id.required"].severity == "error"
    assert harmonised["harmonised.family.family_id.required"].threshold == 0.0
    assert harmonised["harmonised.assessment.in_wave_window"].severity == "error"
    assert harmonised["harmonised.activity.minutes_plausible"].severity == "warning"
    assert harmonised["harmonised.activity.minutes_plausible"].threshold == 0.01


def test_overrides_by_id_glob_kind_and_disabling(tmp_path: Path) -> None:
    settings = with_settings(
        tmp_path,
        """
[validation.kinds]
between = { severity = "warning", threshold = 0.05 }
[validation.rules]
"harmonised.assessment.in_wave_window" = { severity = "warning", threshold = 0.1 }
"harmonised.child.*" = { threshold = 0.2 }
"harmonised.child.family_exists" = { severity = "warning" }
"harmonised.need.status_after_identification" = { enabled = false }
[validation.plausibility]
max_minutes = 480
""",
    )
    rules = {rule.rule_id: rule for rule in rules_for("harmonised", settings=settings)}
    assert (rules["harmonised.assessment.in_wave_window"].severity, rules["harmonised.assessment.in_wave_window"].threshold) == ("warning", 0.1)
    assert rules["harmonised.activity.minutes.between"].severity == "warning"  # by kind
    assert rules["harmonised.activity.minutes.between"].threshold == 0.05
    assert rules["harmonised.child.unborn_born_later"].threshold == 0.2  # by glob
    assert rules["harmonised.child.birth_plausible"].threshold == 0.01  # its own default entry wins over a glob
    # An exact id wins over a glob: its severity changes, its threshold stays the default.
    assert (rules["harmonised.child.family_exists"].severity, rules["harmonised.child.family_exists"].threshold) == ("warning", 0.0)
    assert "harmonised.need.status_after_identification" not in rules
    assert rules["harmonised.activity.minutes_plausible"].params["max"] == 480
    assert "480" in rules["harmonised.activity.minutes_plausible"].description


def test_malformed_override_is_refused(tmp_path: Path) -> None:
    settings = with_settings(tmp_path, '[validation.rules]\n"harmonised.family.key_unique" = { severity = "fatal" }\n')
    with pytest.raises(ValueError, match="severity must be"):
        rules_for("harmonised", settings=settings)
    settings = with_settings(tmp_path, '[validation.rules]\n"harmonised.family.key_unique" = { threshold = 2 }\n')
    with pytest.raises(ValueError, match="threshold"):
        rules_for("harmonised", settings=settings)


def test_large_tables_check_their_key_in_duckdb(tmp_path: Path) -> None:
    settings = with_settings(tmp_path, "[validation]\nsql_keys_above_rows = 2\n")
    small, large = pd.DataFrame({"x": [1, 2]}), pd.DataFrame({"x": [1, 2, 3]})
    rules = {rule.rule_id: rule for rule in rules_for("harmonised", settings=settings, tables={"need": small, "activity": large})}
    assert rules["harmonised.need.key_unique"].engine == "great_expectations"
    assert rules["harmonised.activity.key_unique"].engine == "duckdb"
    assert ValidationConfig.from_settings(settings).sql_keys_above_rows == 2
