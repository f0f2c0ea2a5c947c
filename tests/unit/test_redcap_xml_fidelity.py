"""Hand-written REDCap 14 project XML exports served by the sandbox and read with PyCap, unchanged.

Each file of ``tests/data/redcap_xml/`` is modelled on what REDCap 14 writes (see its README); each
test checks one behaviour of REDCap's API that a pull or a rehearsal relies on.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import redcap

from proximite.cohort.redcap.loaders import load_project
from proximite.cohort.redcap.xml_read import project_from_xml
from proximite.cohort.redcap.xml_write import project_to_xml
from proximite.cohort.sandbox.server import SandboxServer

DATA = Path(__file__).resolve().parents[1] / "data" / "redcap_xml"
EXPORTS = ["classic.xml", "longitudinal_two_arms.xml", "repeating_survey.xml", "empty.xml"]


@pytest.fixture
def serve() -> Iterator:
    """Start a sandbox over one of the exports; every server started is stopped after the test."""
    servers: list[SandboxServer] = []

    def start(name: str) -> redcap.Project:
        server = SandboxServer(load_project(DATA / name))
        server.start()
        servers.append(server)
        return redcap.Project(server.url, server.token)

    yield start
    for server in servers:
        server.stop()


def _csv(project: redcap.Project, **options) -> pd.DataFrame:
    text = project.export_records(format_type="csv", **options)
    return pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)


@pytest.mark.parametrize("name", EXPORTS)
def test_every_export_answers_what_the_pull_asks(serve, name: str) -> None:
    """Project information with a project id (stable across loads) and REDCap 14's keys; the structure."""
    project = serve(name)
    info = project.export_project_info()
    assert isinstance(info["project_id"], int) and info["project_id"] > 0
    assert info["project_id"] == project_from_xml(DATA / name).info["project_id"]
    for key in ("project_title", "creation_time", "in_production", "surveys_enabled", "ddp_enabled", "external_modules"):
        assert key in info
    assert project.export_metadata(format_type="df").index[0] == project.def_field
    assert project.export_field_names()
    assert project.export_instruments()
    if info["is_longitudinal"]:
        assert project.export_arms() and project.export_events() and project.export_instrument_event_mappings()
    if info["has_repeating_instruments_or_events"]:
        assert project.export_repeating_instruments_events()
    assert isinstance(project.export_dags(), list)


def test_classic_non_numeric_ids_checkboxes_and_a_two_line_note(serve) -> None:
    """A line break REDCap wrote raw inside Value="…" survives to PyCap's export."""
    frame = _csv(serve("classic.xml"))
    assert frame["participant_id"].tolist() == ["QC-001", "QC-002"]
    first = frame.iloc[0]
    assert first["notes"] == 'First line\nsecond line "quoted" & more'
    assert first[["languages___fr", "languages___en", "languages___99"]].tolist() == ["1", "0", "1"]


def test_a_file_upload_exports_the_documents_name(serve) -> None:
    frame = _csv(serve("classic.xml"))
    assert frame["consent_file"].tolist() == ["consentement signé.pdf", ""]


def test_form_status_follows_redcaps_rule(serve) -> None:
    """Data without a stored status: 0 (Incomplete); no data: blank; a stored status is kept."""
    frame = _csv(serve("classic.xml")).set_index("participant_id")
    assert frame.loc["QC-001", ["intake_complete", "documents_complete", "closing_complete"]].tolist() == ["2", "0", ""]
    # Unticked checkboxes are no data: QC-002's stored 0 stays, its other forms stay blank.
    assert frame.loc["QC-002", ["intake_complete", "documents_complete"]].tolist() == ["0", ""]
    longitudinal = _csv(serve("longitudinal_two_arms.xml"))
    followup = longitudinal[longitudinal["redcap_event_name"] == "followup_arm_1"].iloc[0]
    assert followup["visit_complete"] == "0"


def test_survey_fields_on_request(serve) -> None:
    """``exportSurveyFields`` adds redcap_survey_identifier and each survey form's timestamp, in REDCap's places."""
    project = serve("repeating_survey.xml")
    plain = _csv(project)
    assert "redcap_survey_identifier" not in plain.columns and "satisfaction_timestamp" not in plain.columns
    surveyed = _csv(project, export_survey_fields=True)
    columns = surveyed.columns.tolist()
    assert columns[:4] == ["record_id", "redcap_repeat_instrument", "redcap_repeat_instance", "redcap_survey_identifier"]
    assert columns.index("satisfaction_timestamp") == columns.index("sat_score") - 1
    assert "family_timestamp" not in columns  # not a survey
    assert surveyed["satisfaction_timestamp"].tolist() == ["2024-03-04 12:13:14", "", "", "[not completed]"]
    assert surveyed.loc[0, "sat_comment"] == "Très bien\nmerci"
    assert project.export_project_info()["surveys_enabled"] == 1


def test_longitudinal_two_arms_and_dags(serve) -> None:
    project = serve("longitudinal_two_arms.xml")
    assert [arm["arm_num"] for arm in project.export_arms()] == [1, 2]
    assert [dag["unique_group_name"] for dag in project.export_dags()] == ["montral_nord", "gasp"]
    frame = _csv(project, export_data_access_groups=True)
    assert frame[["record_id", "redcap_event_name", "redcap_data_access_group"]].values.tolist() == [
        ["1", "baseline_arm_1", "montral_nord"],
        ["1", "followup_arm_1", "montral_nord"],
        ["2", "baseline_arm_2", "gasp"],
    ]


def test_an_empty_project_exports_a_header_only_csv(serve) -> None:
    project = serve("empty.xml")
    text = project.export_records(format_type="csv")
    assert text.strip().splitlines() == ["record_id,age,baseline_complete"]
    assert project.export_records() == []


@pytest.mark.parametrize("name", EXPORTS)
def test_written_back_every_export_reads_the_same(name: str) -> None:
    """The platform's writer keeps what REDCap's file holds (survey fields, documents, breaks)."""
    project = project_from_xml(DATA / name)
    again = project_from_xml(project_to_xml(project))
    pd.testing.assert_frame_equal(again.records, project.records)
    assert again.survey_forms == project.survey_forms and again.info["project_id"] == project.info["project_id"]
