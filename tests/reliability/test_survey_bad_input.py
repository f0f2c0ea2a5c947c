"""Bad answers to the yearly questionnaires stop at a gate, named by file, row, record and field.

The staged checks run on the small hand-written exports of ``tests/survey_inputs.py`` (pull
``good`` first, then a broken copy as pull ``bad``): an item out of its scale, an event that is
not a survey year, a record answering twice in one year, two records naming the same organisation
(or PTP) in one year, a partner named twice, a PTP without their code. The cross-table checks
(an organisation or a PTP the reference and the registry do not know) need the whole model: they
run on the synthetic cohort's input directory, whose questionnaires the generator writes.

Each refusal must leave the previous good state (``LATEST``, the warehouse) in place and quote
no value of a person (names, e-mails, comments) in its message or report.
"""

from __future__ import annotations

import csv
import json
import shutil
import sys
import io
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from survey_inputs import PERSONAL, write_surveys  # noqa: E402

from proximite import pipeline  # noqa: E402
from proximite.cohort.codebook import load_codebook  # noqa: E402
from proximite.cohort.layers import STAGED, latest_pull, quarantine_dir, raw_dir, read_staged  # noqa: E402
from proximite.cohort.privacy.storage import read_protected  # noqa: E402
from proximite.cohort.raw_files import read_raw_file  # noqa: E402
from proximite.config import Settings, load_settings  # noqa: E402
from proximite.errors import InputError  # noqa: E402
from proximite.expectations.gates import GateFailed  # noqa: E402

GOOD, BAD = "20240101T000000Z-000001", "20240101T000000Z-000002"


def plain(path: Path, settings: Settings) -> io.BytesIO:
    """A quarantine report's file as written (it is encrypted at rest: it names record ids)."""
    return io.BytesIO(read_protected(path, settings=settings))

SURVEYS = ["partner_survey", "staff_survey"]
KEY = b"test-key-not-secret-0123456789abcdef"


@dataclass
class Project:
    settings: Settings
    input_dir: Path


def settings_of(directory: Path) -> Settings:
    """A project's settings without Data Docs (the gates' reports are what these tests read)."""
    directory.mkdir(parents=True)
    (directory / "proximite.toml").write_text("[validation]\ndata_docs = false\n", encoding="utf-8")
    return load_settings(directory)


@pytest.fixture
def project(tmp_path: Path) -> Project:
    good = write_surveys(tmp_path / "good-input", load_codebook())
    settings = settings_of(tmp_path / "project")
    pipeline.ingest(good, settings=settings, pull_id=GOOD, sources=SURVEYS)
    bad = tmp_path / "bad-input"
    shutil.copytree(good, bad)
    return Project(settings, bad)


def _rows(path: Path) -> tuple[list[str], list[list[str]]]:
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    return rows[0], rows[1:]


def _save(path: Path, header: list[str], body: list[list[str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle, lineterminator="\n").writerows([header, *body])


def set_cell(path: Path, row: int, column: str, value: str) -> None:
    """Set one cell (``row`` is the 1-based data row)."""
    header, body = _rows(path)
    body[row - 1][header.index(column)] = value
    _save(path, header, body)


def copy_row(path: Path, row: int, **changes: str) -> None:
    """Append a copy of data row ``row`` with some cells changed."""
    header, body = _rows(path)
    extra = list(body[row - 1])
    for column, value in changes.items():
        extra[header.index(column)] = value
    _save(path, header, [*body, extra])


def records(project: Project, survey: str) -> Path:
    return project.input_dir / survey / "records.csv"


def unchanged(settings: Settings, message: str) -> None:
    """The refused pull changed nothing and its message quotes no one."""
    for source in SURVEYS:
        assert latest_pull(settings, source) == GOOD
        assert not (settings.data_dir / STAGED / source / BAD).exists()
    for value in PERSONAL:
        assert value not in message


def refused_at_staging(project: Project) -> InputError:
    with pytest.raises(InputError) as caught:
        pipeline.ingest(project.input_dir, settings=project.settings, pull_id=BAD, sources=SURVEYS)
    unchanged(project.settings, str(caught.value))
    return caught.value


def refused_by_the_gate(project: Project) -> tuple[GateFailed, pd.DataFrame]:
    with pytest.raises(GateFailed) as caught:
        pipeline.ingest(project.input_dir, settings=project.settings, pull_id=BAD, sources=SURVEYS)
    unchanged(project.settings, str(caught.value))
    report = caught.value.report_dir / "failures.csv"
    failures = pd.read_csv(plain(report, project.settings), encoding="utf-8-sig", dtype=str, keep_default_na=False)
    text = read_protected(report, settings=project.settings).decode("utf-8-sig")
    for value in PERSONAL:
        assert value not in text
    return caught.value, failures


# ------------------------------------------------------------------------------ a good pull
def test_the_good_exports_stage_without_the_identifier_fields(project: Project) -> None:
    partner = read_staged(project.settings, "partner_survey")
    staff = read_staged(project.settings, "staff_survey")
    assert set(partner) == {"organisme", "partenaire"} and set(staff) == {"questionnaire"}
    assert (len(partner["organisme"]), len(partner["partenaire"]), len(staff["questionnaire"])) == (3, 4, 3)
    for frame in (*partner.values(), *staff.values()):
        assert not {"rep_nom", "rep_courriel", "commentaires"} & set(frame.columns)  # layer 01 only
    raw_copy = raw_dir(project.settings, "partner_survey", GOOD) / "records.csv"
    assert b"Ginette Lavoie" not in raw_copy.read_bytes()  # encrypted at rest ...
    raw = read_raw_file(raw_copy, settings=project.settings).decode("utf-8")
    assert "Ginette Lavoie" in raw and "Très bonne collaboration" in raw  # ... and kept as received
    result = json.loads((project.settings.reporting_dir / "validation" / "staged-partner_survey.json").read_text("utf-8"))
    assert result["passed"] and result["rules"] > 50


# ------------------------------------------------------------------------------ out of range
def test_a_trust_item_out_of_its_1_to_4_scale(project: Project) -> None:
    set_cell(records(project, "partner_survey"), 5, "confiance_fiabilite", "5")
    error = refused_at_staging(project)
    assert error.path.endswith("partner_survey/records.csv")
    assert (error.row, error.column, error.rule) == (5, "confiance_fiabilite", "unknown code")
    assert "record" in str(error)
    failures = pd.read_csv(plain(error.report_dir / "failures.csv", project.settings), dtype=str, keep_default_na=False, encoding="utf-8-sig")
    row = failures.iloc[0]
    assert (row["record_id"], row["event"], row["instance"], row["field"]) == ("2", "annee_2024_arm_1", "1", "confiance_fiabilite")


def test_a_staff_item_out_of_its_1_to_5_scale(project: Project) -> None:
    set_cell(records(project, "staff_survey"), 3, "intention_rester", "7")
    error = refused_at_staging(project)
    assert error.path.endswith("staff_survey/records.csv")
    assert (error.row, error.column, error.rule) == (3, "intention_rester", "unknown code")


def test_training_hours_beyond_their_validation_range(project: Project) -> None:
    set_cell(records(project, "staff_survey"), 1, "form_heures", "4000")
    error, failures = refused_by_the_gate(project)
    assert "staged.questionnaire.form_heures.between" in str(error)
    row = failures.loc[failures["rule_id"] == "staged.questionnaire.form_heures.between"].iloc[0]
    assert (row["record_id"], row["event"], row["source_row"], row["value"]) == ("1", "annee_2024_arm_1", "1", "4000")


def test_an_event_that_is_not_a_survey_year(project: Project) -> None:
    set_cell(records(project, "partner_survey"), 6, "redcap_event_name", "annee_2031_arm_1")
    error = refused_at_staging(project)
    assert (error.row, error.column, error.rule) == (6, "redcap_event_name", "unknown event")
    failures = pd.read_csv(plain(error.report_dir / "failures.csv", project.settings), dtype=str, keep_default_na=False, encoding="utf-8-sig")
    assert failures.iloc[0]["value"] == "annee_2031_arm_1" and "annee_2024_arm_1" in failures.iloc[0]["allowed"]


# ------------------------------------------------------------------------------ duplicates
def test_a_record_answering_twice_in_one_year(project: Project) -> None:
    copy_row(records(project, "staff_survey"), 1)  # record 1, 2024, twice
    error = refused_at_staging(project)
    assert (error.row, error.rule) == (4, "duplicate row")
    assert "row 1" in str(error)


def test_two_records_answering_for_the_same_organisation_in_one_year(project: Project) -> None:
    copy_row(records(project, "partner_survey"), 4, record_id="3")  # a second record for ORG-06-01-3 in 2024
    error, failures = refused_by_the_gate(project)
    rule = "staged.organisme.one_response_per_organisation_year"
    assert rule in str(error) and "partner_survey" in str(error)
    found = failures.loc[failures["rule_id"] == rule]
    assert sorted(found["record_id"]) == ["2", "3"] and set(found["event"]) == {"annee_2024_arm_1"}
    assert sorted(found["source_row"]) == ["4", "8"] and set(found["column"]) == {"org_code"}


def test_two_records_answering_for_the_same_ptp_in_one_year(project: Project) -> None:
    copy_row(records(project, "staff_survey"), 3, record_id="3")  # W06-01-1 again in 2025
    error, failures = refused_by_the_gate(project)
    found = failures.loc[failures["rule_id"] == "staged.questionnaire.one_response_per_ptp_year"]
    assert sorted(found["record_id"]) == ["1", "3"] and sorted(found["source_row"]) == ["3", "4"]


def test_a_partner_named_twice_in_one_response(project: Project) -> None:
    copy_row(records(project, "partner_survey"), 2, redcap_repeat_instance="3")  # ORG-06-01-1 again, instance 3
    error, failures = refused_by_the_gate(project)
    found = failures.loc[failures["rule_id"] == "staged.partenaire.one_row_per_partner"]
    assert set(found["record_id"]) == {"1"} and sorted(found["instance"]) == ["1", "3"]


# ------------------------------------------------------------------------------ branching
def test_a_ptp_without_their_code_but_a_manager_needs_none(project: Project) -> None:
    set_cell(records(project, "staff_survey"), 1, "ptp_code", "")
    error, failures = refused_by_the_gate(project)
    found = failures.loc[failures["rule_id"] == "staged.questionnaire.ptp_code.required"]
    assert list(found["source_row"]) == ["1"]  # row 2, the manager's, has no code and is fine


def test_trust_items_are_required_only_when_the_organisations_collaborate(project: Project) -> None:
    set_cell(records(project, "partner_survey"), 2, "valeur_influence", "")
    error, failures = refused_by_the_gate(project)
    found = failures.loc[failures["rule_id"] == "staged.partenaire.valeur_influence.required"]
    assert list(found["source_row"]) == ["2"]  # row 3 (aucune) has no item and is fine


# ------------------------------------------------------------------------------ the model
@pytest.fixture
def whole(sandbox_project_dir: Path, tmp_path: Path) -> Project:
    """The synthetic cohort's input directory (questionnaires included), staged and built once as ``good``."""
    good = tmp_path / "good-input"
    shutil.copytree(sandbox_project_dir, good, ignore=shutil.ignore_patterns("truth.json"))
    settings = settings_of(tmp_path / "project")
    pipeline.ingest(good, settings=settings, pull_id=GOOD)
    pipeline.build_from_harmonised(settings, pipeline.harmonise_staged(settings, key=KEY))
    bad = tmp_path / "bad-input"
    shutil.copytree(good, bad)
    return Project(settings, bad)


def refused_by_the_harmonised_gate(project: Project) -> tuple[GateFailed, pd.DataFrame]:
    pipeline.ingest(project.input_dir, settings=project.settings, pull_id=BAD, sources=SURVEYS)
    warehouse = project.settings.project_dir / "warehouse.duckdb"
    before = warehouse.read_bytes()
    with pytest.raises(GateFailed) as caught:
        pipeline.build_from_harmonised(project.settings, pipeline.harmonise_staged(project.settings, key=KEY))
    assert warehouse.read_bytes() == before  # the last good warehouse stays
    target = quarantine_dir(project.settings, caught.value.result.pull_id) / "harmonised"
    assert caught.value.quarantine_dir == target
    failures = pd.read_csv(plain(target / "report" / "failures.csv", project.settings), encoding="utf-8-sig", dtype=str, keep_default_na=False)
    return caught.value, failures


def test_an_organisation_the_reference_does_not_know(whole: Project) -> None:
    set_cell(records(whole, "partner_survey"), 1, "org_code", "O99-99-99")
    error, failures = refused_by_the_harmonised_gate(whole)
    rule = "harmonised.partner_response.organisation_exists"
    assert f"1 row(s) broke {rule} (partner_response)" in str(error)
    row = failures.loc[failures["rule_id"] == rule].iloc[0]
    assert (row["column"], row["value"]) == ("org_id", "O99-99-99") and row["key"].startswith("response_id=")


def test_a_partner_organisation_the_reference_does_not_know(whole: Project) -> None:
    header, body = _rows(records(whole, "partner_survey"))
    row = next(i for i, values in enumerate(body, start=1) if values[header.index("lien_org")])
    set_cell(records(whole, "partner_survey"), row, "lien_org", "O99-99-98")
    error, failures = refused_by_the_harmonised_gate(whole)
    found = failures.loc[failures["rule_id"] == "harmonised.partner_tie.organisation_exists"]
    assert list(found["value"]) == ["O99-99-98"] and list(found["column"]) == ["to_org_id"]


def test_a_ptp_code_the_registry_does_not_know(whole: Project) -> None:
    header, body = _rows(records(whole, "staff_survey"))
    row = next(i for i, values in enumerate(body, start=1) if values[header.index("role")] == "ptp")
    set_cell(records(whole, "staff_survey"), row, "ptp_code", "W99-99-9")
    error, failures = refused_by_the_harmonised_gate(whole)
    found = failures.loc[failures["rule_id"] == "harmonised.staff_survey.worker_known"]
    assert len(found) == 1 and found.iloc[0]["column"] == "worker_id" and found.iloc[0]["value"] == ""
