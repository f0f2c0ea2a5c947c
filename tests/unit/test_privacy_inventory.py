"""The privacy inventory: every field of every source, its layers, who sees it; identifiers in layer 01 only.

A planted identifier field (in a copy of the codebook) must be named by the coverage check, a
field whose way into layer 03 is unknown must stop the inventory, and the pseudonym columns the
inventory states must be the ones harmonisation really derives from a record id.
"""

from __future__ import annotations

import datetime as dt
import shutil
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ingest_inputs import build_input_dir, write_reference  # noqa: E402
from survey_inputs import write_surveys  # noqa: E402

from proximite.cli import app  # noqa: E402
from proximite.cohort.codebook import Codebook, load_codebook, package_dir  # noqa: E402
from proximite.cohort.harmonise.all_tables import harmonise  # noqa: E402
from proximite.cohort.harmonise.rules import RECORD_PSEUDONYMS  # noqa: E402
from proximite.cohort.layers import read_staged  # noqa: E402
from proximite.cohort.privacy.inventory import (  # noqa: E402
    LAYERS,
    InventoryError,
    build_inventory,
    check_coverage,
    inventory_rows,
    raw_retention_days,
)
from proximite.cohort.privacy.inventory_pages import inventory_documents  # noqa: E402
from proximite.config import ConfigError, load_settings  # noqa: E402
from proximite.pipeline import ingest  # noqa: E402
from proximite.pipeline.indicators import INDICATORS  # noqa: E402
from tests.spec.test_harmonise import staged_example  # noqa: E402

CB = load_codebook()
KEY = b"inventory-test-key-0123456789abcdef"
LATER = [f"layer_{layer}" for layer in LAYERS[1:]]


@pytest.fixture(scope="module")
def rows() -> pd.DataFrame:
    return inventory_rows(CB)


def _row(rows: pd.DataFrame, source: str, table: str, field: str) -> dict[str, Any]:
    found = rows[(rows["source"] == source) & (rows["table"] == table) & (rows["field"] == field)]
    assert len(found) == 1, (source, table, field, len(found))
    return found.iloc[0].to_dict()


def _flagged_by_hand(codebook: Codebook) -> set[tuple[str, str, str]]:
    """Every field the codebook flags identifier, read from its own APIs (not the inventory's walk)."""
    flagged = {("redcap", row.form_name, row.field_name) for row in codebook.fields.itertuples() if row.identifier}
    for name, survey in codebook.surveys.items():
        flagged |= {(name, row.form_name, row.field_name) for row in survey.fields.itertuples() if row.identifier}
    for table, columns in codebook.registry.items():
        flagged |= {("registry", table, column) for column, spec in columns.items() if spec.get("identifier")}
    return flagged


# ------------------------------------------------------------------------------ the rows
def test_every_identifier_field_of_every_source_is_in_the_inventory_in_layer_01_only(rows: pd.DataFrame) -> None:
    flagged = _flagged_by_hand(CB)
    # The shipped codebook: parents' and children's names and contacts, respondents' names, e-mails, comments.
    assert {("redcap", "famille", "fam_telephone"), ("redcap", "enfant", "enf_prenom"),
            ("partner_survey", "organisme", "commentaires"), ("staff_survey", "questionnaire", "rep_courriel")} <= flagged
    assert len(flagged) == len(CB.identifier_fields) + sum(len(s.identifier_fields) for s in CB.surveys.values())
    for source, table, field in flagged:
        row = _row(rows, source, table, field)
        assert row["identifier"] and row["role"] == "identifier", (source, field)
        assert row["layer_01"] == "received" and not any(row[column] for column in LATER), (source, field)
        assert row["audience"] == "coordinator" and row["retention"] == "raw_removed"
    check_coverage(rows, CB)


def test_every_field_of_every_source_is_a_row(rows: pd.DataFrame) -> None:
    def fields(source: str) -> set[tuple[str, str]]:
        return {(table, field) for table, field in rows.loc[rows["source"] == source, ["table", "field"]].itertuples(index=False)}

    assert {(r.form_name, r.field_name) for r in CB.fields.itertuples()} <= fields("redcap")
    for name, survey in CB.surveys.items():
        assert {(r.form_name, r.field_name) for r in survey.fields.itertuples()} <= fields(name)
    for table in ("activity", "worker", "supervision"):
        assert {(table, column) for column in CB.registry[table]} <= fields("registry")
    assert {("cost", column) for column in CB.columns("cost")} <= fields("cost")
    for table in ("region", "territory", "organisation"):
        assert {(table, column) for column in CB.columns(table)} <= fields("reference")
    assert {("qual_session", column) for column in CB.columns("qual_session")} <= fields("qual_register")
    for table in ("qual_code", "qual_coding"):
        assert {(table, column) for column in CB.columns(table)} <= fields("qual_coding")
    # Every harmonised column is fed by a source's row or listed as derived: layer 03 is covered.
    targets = {target.strip() for cell in rows["harmonised"] for target in str(cell).split(";") if target.strip()}
    assert targets == {f"{table}.{column}" for table in CB.tables for column in CB.columns(table)}


def test_each_path_is_the_one_staging_and_harmonisation_take(rows: pd.DataFrame) -> None:
    record = _row(rows, "redcap", "famille", "record_id")
    assert (record["role"], record["layer_02"], record["layer_03"]) == ("record_id", "typed", "pseudonym")
    assert record["harmonised"].split("; ") == list(RECORD_PSEUDONYMS["redcap"]["record_id"])
    assert "followups_lookup" in record["elsewhere"] and record["layer_05"] == "aggregate"
    birth = _row(rows, "redcap", "enfant", "enf_date_naissance")  # the exact day never leaves layer 01
    assert (birth["layer_02"], birth["layer_03"], birth["harmonised"]) == ("month", "value", "child.birth_month")
    boxes = _row(rows, "redcap", "suivi", "ressources_3m")
    assert (boxes["layer_02"], boxes["layer_03"]) == ("choices", "count")
    assert _row(rows, "redcap", "suivi", "pa_1")["layer_03"] == "mean"
    family = _row(rows, "registry", "activity", "family_record_id")
    assert (family["layer_03"], family["harmonised"]) == ("pseudonym", "activity.family_id")
    document = _row(rows, "qual_coding", "qual_document", "session_id")  # read for a check, never harmonised
    assert (document["layer_02"], document["layer_03"]) == ("typed", "")
    for source in ("redcap", "partner_survey", "staff_survey"):
        survey_id = _row(rows, source, "(export)", "redcap_survey_identifier")
        assert survey_id["identifier"] and survey_id["layer_01"] == "received" and not any(survey_id[c] for c in LATER)
    transcripts = _row(rows, "qual_coding", "*", "*.qdpx")
    assert transcripts["identifier"] and transcripts["role"] == "raw_only" and not any(transcripts[c] for c in LATER)
    assert _row(rows, "reference", "territory", "name")["layer_05"] == "reference"
    assert _row(rows, "harmonisation", "assessment", "isolation_index")["layer_03"] == "derived"


def _changed_columns(before: dict[str, pd.DataFrame], after: dict[str, pd.DataFrame]) -> set[str]:
    return {
        f"{table}.{column}" for table, frame in before.items() for column in frame.columns
        if sorted(frame[column].astype(str)) != sorted(after[table][column].astype(str))
    }


def _with_record_changed(staged: dict, source: str, column: str, old: str, new: str) -> dict:
    changed = {name: dict(tables) for name, tables in staged.items()}
    changed[source] = {
        table: frame.assign(**{column: frame[column].replace(old, new)}) if column in frame.columns else frame
        for table, frame in staged[source].items()
    }
    return changed


def test_the_pseudonym_columns_are_exactly_those_a_record_id_changes(tmp_path: Path) -> None:
    settings = load_settings(tmp_path / "cohort")
    staged = staged_example()
    base = harmonise(staged, key=KEY, settings=settings)
    record = _with_record_changed(staged, "redcap", "record_id", "1001", "9999")
    assert _changed_columns(base, harmonise(record, key=KEY, settings=settings)) == set(RECORD_PSEUDONYMS["redcap"]["record_id"])
    old = staged["registry"]["activity"]["family_record_id"].dropna().iloc[0]
    activity = _with_record_changed(staged, "registry", "family_record_id", old, "9999")
    assert _changed_columns(base, harmonise(activity, key=KEY, settings=settings)) == set(RECORD_PSEUDONYMS["registry"]["family_record_id"])

    root = tmp_path / "surveys"
    write_surveys(root / "input", CB)
    write_reference(root / "input" / "reference", CB)
    survey_settings = load_settings(root / "project")
    ingest(root / "input", settings=survey_settings, validate=False)
    surveys = {source: read_staged(survey_settings, source) for source in ("reference", "partner_survey", "staff_survey")}
    base = harmonise(surveys, key=KEY, settings=survey_settings)
    for source in ("partner_survey", "staff_survey"):
        first = next(iter(surveys[source].values()))["record_id"].dropna().iloc[0]
        after = harmonise(_with_record_changed(surveys, source, "record_id", first, "9999"), key=KEY, settings=survey_settings)
        assert _changed_columns(base, after) == set(RECORD_PSEUDONYMS[source]["record_id"]), source


# ------------------------------------------------------------------------------ planted fields
def _codebook_copy(tmp_path: Path, file: str, edit: Any) -> Codebook:
    """A copy of the packaged codebook with ``file`` edited by ``edit(content)``."""
    directory = tmp_path / "codebook"
    shutil.copytree(package_dir(), directory, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    path = directory / file
    content = yaml.safe_load(path.read_text(encoding="utf-8"))
    edit(content)
    path.write_text(yaml.safe_dump(content, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return Codebook(directory)


PHONE = {"type": "text", "label": "Autre téléphone", "label_en": "Other telephone", "validation": "phone", "identifier": True}


def test_a_planted_identifier_field_missing_from_the_inventory_is_named(tmp_path: Path, rows: pd.DataFrame) -> None:
    planted = _codebook_copy(tmp_path, "forms.yaml", lambda content: content["forms"]["famille"].update(fam_telephone2=PHONE))
    with pytest.raises(InventoryError) as caught:
        check_coverage(rows, planted)  # the inventory made before the field was added
    message = str(caught.value)
    assert "fam_telephone2" in message and "forms.yaml forms.famille.fam_telephone2" in message
    assert "redcap data dictionary" in message  # what staging reads says it too
    # Made from the planted codebook, the inventory places it: dropped at staging, layer 01 only.
    fresh = inventory_rows(planted)
    row = _row(fresh, "redcap", "famille", "fam_telephone2")
    assert row["identifier"] and row["layer_01"] == "received" and not any(row[column] for column in LATER)
    check_coverage(fresh, planted)


def test_a_planted_identifier_that_staging_keeps_fails_the_coverage_check(tmp_path: Path) -> None:
    def flag_worker(content: dict) -> None:
        content["activity"]["worker_id"]["identifier"] = True

    planted = _codebook_copy(tmp_path, "registry.yaml", flag_worker)
    with pytest.raises(InventoryError) as caught:
        check_coverage(inventory_rows(planted), planted)
    message = str(caught.value)
    assert "registry activity.worker_id: identifier held in layer(s) 02, 03, 04, 05" in message


def test_a_field_whose_way_into_layer_03_is_unknown_stops_the_inventory(tmp_path: Path) -> None:
    loose = {"type": "text", "label": "Note", "label_en": "Note"}
    planted = _codebook_copy(tmp_path / "a", "forms.yaml", lambda content: content["forms"]["suivi"].update(suivi_note=loose))
    with pytest.raises(InventoryError, match=r"redcap suivi\.suivi_note: staged in layer 02, but its way into layer 03 is unknown"):
        inventory_rows(planted)

    def add_column(content: dict) -> None:
        content["activity"]["family_name"] = {"type": "string", "explanation": "Nom", "explanation_en": "Name"}

    planted = _codebook_copy(tmp_path / "b", "registry.yaml", add_column)
    with pytest.raises(InventoryError, match=r"registry activity\.family_name: staged in layer 02"):
        inventory_rows(planted)


# ------------------------------------------------------------------------------ settings and documents
def test_the_facts_come_from_the_configuration(tmp_path: Path) -> None:
    settings = load_settings(tmp_path)
    assert raw_retention_days(settings) == 90
    facts = build_inventory(settings, indicators_folder=INDICATORS).facts
    assert facts["raw_key"] == {"env": "PROXIMITE_RAW_KEY", "file": ".raw_key", "planned": False}
    assert facts["disclosure"] == {"threshold": 5, "rounding_base": 5, "level": "public"}
    assert facts["folders"]["04"] == [f"data/{INDICATORS}"] and facts["access_log"] == "privacy/access.log"
    (tmp_path / "proximite.toml").write_text(
        '[privacy]\nraw_retention_days = 30\nraw_key_env = "MY_RAW_KEY"\nraw_key_file = "secrets/raw.key"\n'
        "[disclosure]\nthreshold = 10\n",
        encoding="utf-8",
    )
    inventory = build_inventory(load_settings(tmp_path), indicators_folder=INDICATORS)
    assert inventory.facts["raw_key"] == {"env": "MY_RAW_KEY", "file": "secrets/raw.key", "planned": False}
    documents = inventory_documents(inventory, generated=dt.date(2026, 5, 1), code_version="0.1.0+test")
    english = documents["privacy-inventory.en.md"]
    assert "30 days" in english and "from 1 to 9 are suppressed (threshold 10)" in english
    assert "`MY_RAW_KEY`" in english and "planned location" not in english
    (tmp_path / "proximite.toml").write_text("[privacy]\nraw_retention_days = 0\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="raw_retention_days"):
        raw_retention_days(load_settings(tmp_path))


def test_the_command_writes_both_languages_and_no_value(tmp_path: Path) -> None:
    project = tmp_path / "project"
    ingest(build_input_dir(tmp_path / "input", CB), settings=load_settings(project), validate=False)
    out = tmp_path / "pia"
    result = CliRunner().invoke(app, ["privacy", "inventory", "--project-dir", str(project), "--out", str(out)])
    assert result.exit_code == 0, result.output
    names = sorted(path.name for path in out.iterdir())
    assert names == ["privacy-inventory.en.html", "privacy-inventory.en.md", "privacy-inventory.fr.html", "privacy-inventory.fr.md"]
    texts = {name: (out / name).read_text(encoding="utf-8") for name in names}
    assert "Inventaire des renseignements personnels" in texts["privacy-inventory.fr.md"]
    assert "Privacy inventory" in texts["privacy-inventory.en.md"]
    assert "<html lang='fr'>" in texts["privacy-inventory.fr.html"] and "<html lang='en'>" in texts["privacy-inventory.en.html"]
    assert "Nom du parent répondant" in texts["privacy-inventory.fr.md"]
    assert "Responding parent's last name" in texts["privacy-inventory.en.md"]
    for _source, _table, field in _flagged_by_hand(CB):
        assert all(field in text for text in texts.values()), field
    # The project holds names, phones, e-mails and record ids in layer 01: none reaches the documents.
    values = ["Tremblay", "Hélène", "514-555-0101", "helene@example.org", "H2X 1Y4", "1990-05-17", "Léa", "Côté", "Zoé"]
    for name, text in texts.items():
        assert not [value for value in values if value in text], name
        assert "http" not in text and "<script" not in text
    assert "identifying, each held in layer 01 only" in " ".join(result.output.split())

    french = CliRunner().invoke(app, ["privacy", "inventory", "--project-dir", str(project), "--lang", "fr"])
    assert french.exit_code == 0, french.output
    default = project / "reporting" / "privacy-inventory"
    assert sorted(path.name for path in default.iterdir()) == ["privacy-inventory.fr.html", "privacy-inventory.fr.md"]
    bad = CliRunner().invoke(app, ["privacy", "inventory", "--project-dir", str(project), "--lang", "de"])
    assert bad.exit_code == 2 and "fr, en or both" in bad.output
