"""Building a rehearsal project through the API with PyCap, unchanged, and what REDCap answers about it.

The journey: a coordinator starts an empty sandbox project, imports the cohort's shipped data
dictionary, arms, events, form–event mapping, repeating setup and data access groups through
PyCap, imports records, assigns a user to a group, and pulls with that user's token
(``proximite pull redcap``): the pull holds that group's records only.
"""

from __future__ import annotations

import io
import time
from pathlib import Path

import pandas as pd
import pytest
import redcap
import requests
from typer.testing import CliRunner

from proximite.cli import app
from proximite.cohort import layers
from proximite.cohort.redcap.project import RedcapProject
from proximite.cohort.sandbox._api_design import empty_project, unique_name
from proximite.cohort.sandbox.server import SandboxServer
from proximite.config import load_settings

CODEBOOK = Path(__file__).resolve().parents[2] / "cohort" / "codebook" / "redcap"
runner = CliRunner()

#: A 16-field dictionary modelled on REDCap's own test project: a calc, a file and a descriptive
#: field, a checkbox with three options, two forms.
SIXTEEN_FIELDS = pd.DataFrame(
    [
        ("record_id", "demographics", "text", "Record ID", "", ""),
        ("intro", "demographics", "descriptive", "Please answer", "", ""),
        ("name_first", "demographics", "text", "First name", "", ""),
        ("dob", "demographics", "text", "Date of birth", "", "date_ymd"),
        ("age", "demographics", "calc", "Age", "rounddown(datediff([dob],'today','y'))", ""),
        ("sex", "demographics", "radio", "Sex", "0, Female | 1, Male", ""),
        ("race", "demographics", "checkbox", "Race", "1, Asian | 2, Black | 3, White", ""),
        ("height", "health", "text", "Height (cm)", "", "number"),
        ("weight", "health", "text", "Weight (kg)", "", "integer"),
        ("bmi", "health", "calc", "BMI", "round([weight]*10000/(([height])^(2)),1)", ""),
        ("comments", "health", "notes", "Comments", "", ""),
        ("mugshot", "health", "file", "Photo", "", ""),
        ("smoker", "health", "yesno", "Smoker", "", ""),
        ("visits", "health", "text", "Visits", "", "integer"),
        ("notes_end", "health", "descriptive", "Thank you", "", ""),
        ("consent", "health", "yesno", "Consent", "", ""),
    ],
    columns=["field_name", "form_name", "field_type", "field_label", "select_choices_or_calculations",
             "text_validation_type_or_show_slider_number"],
)


def _csv(name: str) -> pd.DataFrame:
    return pd.read_csv(CODEBOOK / name, dtype=str, keep_default_na=False)


def _build_cohort_project(project: redcap.Project) -> dict[str, int]:
    """The cohort's design imported through PyCap, as a coordinator would from the shipped codebook."""
    dags = _csv("dags.csv")
    return {
        "fields": project.import_metadata(_csv("data_dictionary.csv"), import_format="df"),
        "arms": project.import_arms(_csv("arms.csv").to_dict("records")),
        "events": project.import_events(_csv("events.csv").to_dict("records")),
        "mapping": project.import_instrument_event_mappings(_csv("form_event_mapping.csv").to_dict("records")),
        "repeating": project.import_repeating_instruments_events(_csv("repeating_forms_events.csv").to_dict("records")),
        "dags": project.import_dags(
            [{"data_access_group_name": name, "unique_group_name": ""} for name in dags["data_access_group_name"]]
        ),
    }


@pytest.fixture
def blank_sandbox(sandbox_project: RedcapProject):
    """An empty longitudinal project with the cohort's missing-data codes (set on REDCap's setup page)."""
    codes = str(sandbox_project.info.get("missing_data_codes") or "")
    project = empty_project(title="Répétition", project_id=77, longitudinal=True, missing_data_codes=codes)
    with SandboxServer(project) as server:
        yield server


@pytest.fixture
def sixteen(blank_sandbox: SandboxServer) -> redcap.Project:
    project = redcap.Project(blank_sandbox.url, blank_sandbox.token)
    assert project.import_metadata(SIXTEEN_FIELDS.to_dict("records")) == 16
    return redcap.Project(blank_sandbox.url, blank_sandbox.token)


# ------------------------------------------------------------------------------------ journey
def test_a_rehearsal_project_built_through_the_api_and_pulled_with_a_dag_bound_token(
    blank_sandbox: SandboxServer, sandbox_project: RedcapProject, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started = time.monotonic()
    admin = redcap.Project(blank_sandbox.url, blank_sandbox.token)
    assert admin.export_project_info()["project_id"] == 77
    counts = _build_cohort_project(admin)
    dictionary, dags = _csv("data_dictionary.csv"), _csv("dags.csv")
    assert counts == {
        "fields": len(dictionary),
        "arms": len(_csv("arms.csv")),
        "events": len(_csv("events.csv")),
        "mapping": len(_csv("form_event_mapping.csv")),
        "repeating": len(_csv("repeating_forms_events.csv")),
        "dags": len(dags),
    }
    # The design reads back as the codebook has it, unique names included.
    admin = redcap.Project(blank_sandbox.url, blank_sandbox.token)
    assert admin.is_longitudinal and admin.def_field == "record_id"
    assert [event["unique_event_name"] for event in admin.export_events()] == _csv("events.csv")["unique_event_name"].tolist()
    assert [dag["unique_group_name"] for dag in admin.export_dags()] == dags["unique_group_name"].tolist()
    assert {row["form_name"] for row in admin.export_repeating_instruments_events()} == set(
        _csv("repeating_forms_events.csv")["form_name"]
    )
    assert [row["instrument_name"] for row in admin.export_instruments()] == list(dict.fromkeys(dictionary.iloc[:, 1]))

    records = sandbox_project.records
    assert admin.import_records(records.to_csv(index=False), import_format="csv") == {"count": records["record_id"].nunique()}
    group = str(records["redcap_data_access_group"].iloc[0])
    mine = set(records.loc[records["redcap_data_access_group"] == group, "record_id"])
    coordinator = blank_sandbox.add_token(username="coordo_territoire")
    assert admin.import_user_dag_assignment(
        [{"username": "coordo_territoire", "redcap_data_access_group": group}]
    ) == 1
    assert {"username": "coordo_territoire", "redcap_data_access_group": group} in admin.export_user_dag_assignment()

    monkeypatch.setenv("REHEARSAL_TOKEN", coordinator)
    result = runner.invoke(
        app, ["pull", "redcap", "--url", blank_sandbox.url, "--token-env", "REHEARSAL_TOKEN", "--project-dir", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    staged = layers.read_staged(load_settings(tmp_path), "redcap")
    assert set(staged["famille"]["record_id"].astype(str)) == mine
    assert len(mine) < records["record_id"].nunique()
    assert coordinator not in result.output
    print(f"journey: built, filled and pulled in {time.monotonic() - started:.1f} s; {result.output.strip()}")


# ----------------------------------------------------------------------------- field names
def test_export_field_names_lists_what_redcap_lists(sixteen: redcap.Project) -> None:
    names = sixteen.export_field_names()
    exported = [row["export_field_name"] for row in names]
    # REDCap lists the record id, calculated fields and <form>_complete; file-upload and
    # descriptive fields are left out; a checkbox gives one row per option.
    assert exported == [
        "record_id", "name_first", "dob", "age", "sex", "race___1", "race___2", "race___3", "demographics_complete",
        "height", "weight", "bmi", "comments", "smoker", "visits", "consent", "health_complete",
    ]
    race = [row for row in names if row["original_field_name"] == "race"]
    assert [row["choice_value"] for row in race] == ["1", "2", "3"]
    assert sixteen.export_field_names(field="bmi") == [
        {"original_field_name": "bmi", "choice_value": "", "export_field_name": "bmi"}
    ]
    assert sixteen.export_field_names(field="mugshot") == []


# -------------------------------------------------------------------------------------- EAV
def test_eav_export_one_row_per_stored_value(sixteen: redcap.Project) -> None:
    sixteen.import_records(
        [
            {"record_id": "A-1", "name_first": "Léa", "sex": "0", "race___1": "1", "race___3": "1", "height": "160",
             "demographics_complete": "2"},
            {"record_id": "B-2", "name_first": "", "sex": "1", "weight": "70"},
        ]
    )
    rows = sixteen.export_records(record_type="eav", records=["A-1"])
    assert rows[0] == {"record": "A-1", "field_name": "record_id", "value": "A-1"}
    pairs = [(row["field_name"], row["value"]) for row in rows]
    assert ("race", "1") in pairs and ("race", "3") in pairs and ("race", "2") not in pairs
    assert ("name_first", "Léa") in pairs and ("demographics_complete", "2") in pairs
    assert not any(value == "" for _, value in pairs)
    assert not any(name.startswith("race___") for name, _ in pairs)
    labelled = sixteen.export_records(record_type="eav", records=["A-1"], raw_or_label="label", fields=["sex", "race"])
    assert {(row["field_name"], row["value"]) for row in labelled} == {
        ("record_id", "A-1"), ("sex", "Female"), ("race", "Asian"), ("race", "White")
    }
    text = sixteen.export_records(record_type="eav", format_type="csv", forms=["health"])
    frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    assert list(frame.columns) == ["record", "field_name", "value"]
    assert set(frame["field_name"]) == {"record_id", "height", "weight", "health_complete"}


def test_eav_of_a_longitudinal_project_with_repeats_names_event_and_instance(redcap_sandbox: SandboxServer) -> None:
    project = redcap.Project(redcap_sandbox.url, redcap_sandbox.token)
    rows = project.export_records(record_type="eav", records=["1"], forms=["enfant"])
    assert set(rows[0]) == {
        "record", "redcap_event_name", "redcap_repeat_instrument", "redcap_repeat_instance", "field_name", "value"
    }
    children = [row for row in rows if row["redcap_repeat_instrument"] == "enfant"]
    records = redcap_sandbox.project.records
    expected = records[(records["record_id"] == "1") & (records["redcap_repeat_instrument"] == "enfant")]
    assert {row["redcap_repeat_instance"] for row in children} == set(expected["redcap_repeat_instance"])
    flat = project.export_records(records=["1"], forms=["enfant"])
    stored = sum(
        1 for row in flat for column, value in row.items()
        if value not in ("", "0" if "___" in column else None) and not column.startswith("redcap_") and column != "record_id"
    )
    assert len([row for row in rows if row["field_name"] != "record_id"]) == stored


# ------------------------------------------------------------------------ design changes, errors
def test_deleting_arms_events_and_dags(blank_sandbox: SandboxServer, sandbox_project: RedcapProject) -> None:
    admin = redcap.Project(blank_sandbox.url, blank_sandbox.token)
    _build_cohort_project(admin)
    admin.import_records(sandbox_project.records.to_csv(index=False), import_format="csv")
    assert admin.import_arms([{"arm_num": 2, "name": "Témoins"}]) == 1
    assert admin.import_events([{"event_name": "Témoin T0", "arm_num": 2}]) == 1
    assert admin.export_events(arms=["2"])[0]["unique_event_name"] == "temoin_t0_arm_2"
    assert admin.delete_arms([2]) == 1
    assert [arm["arm_num"] for arm in admin.export_arms()] == [1]
    assert admin.delete_events(["sortie_arm_1"]) == 1
    assert "sortie_arm_1" not in set(blank_sandbox.project.records["redcap_event_name"])
    assert all(row["unique_event_name"] != "sortie_arm_1" for row in admin.export_instrument_event_mappings())
    group = str(sandbox_project.records["redcap_data_access_group"].iloc[0])
    assert admin.delete_dags([group]) == 1
    left = admin.export_records(format_type="df", export_data_access_groups=True)
    assert group not in set(left["redcap_data_access_group"].fillna(""))
    assert unique_name("Région de Québec — Nord", taken=[]) == "region_de_quebec_"[:18].strip("_")


def test_a_refused_design_import_changes_nothing(blank_sandbox: SandboxServer) -> None:
    admin = redcap.Project(blank_sandbox.url, blank_sandbox.token)
    _build_cohort_project(admin)
    before = blank_sandbox.project.metadata.copy()
    bad = SIXTEEN_FIELDS.assign(field_type=lambda f: f["field_type"].replace({"notes": "essay"}))
    bad.loc[3, "field_name"] = "Date Of Birth"
    with pytest.raises(redcap.RedcapError) as refused:
        admin.import_metadata(bad.to_dict("records"))
    # Every defect at once, by row.
    assert "row 4" in str(refused.value) and "'essay' is not a valid field type" in str(refused.value)
    pd.testing.assert_frame_equal(blank_sandbox.project.metadata, before)
    with pytest.raises(redcap.RedcapError, match="'nowhere_arm_1' is not an event"):
        admin.import_instrument_event_mappings([{"arm_num": "1", "unique_event_name": "nowhere_arm_1", "form": "famille"}])
    with pytest.raises(redcap.RedcapError, match="arm 9 does not exist|arm 9"):
        admin.import_events([{"event_name": "Perdu", "arm_num": 9}])
    with pytest.raises(redcap.RedcapError, match="not a user of the project"):
        admin.import_user_dag_assignment([{"username": "nobody", "redcap_data_access_group": "t02_01"}])


def test_a_dag_bound_token_cannot_change_the_design(blank_sandbox: SandboxServer) -> None:
    admin = redcap.Project(blank_sandbox.url, blank_sandbox.token)
    _build_cohort_project(admin)
    bound = redcap.Project(blank_sandbox.url, blank_sandbox.add_token(dag="t02_01"))
    with pytest.raises(redcap.RedcapError, match="Design and Setup rights"):
        bound.import_dags([{"data_access_group_name": "Mine", "unique_group_name": ""}])
    assert [dag["unique_group_name"] for dag in bound.export_dags()] == ["t02_01"]


def test_a_classic_project_refuses_arms_and_events() -> None:
    with SandboxServer(empty_project(longitudinal=False)) as server:
        project = redcap.Project(server.url, server.token)
        with pytest.raises(redcap.RedcapError, match="You cannot import arms for classic projects"):
            project.import_arms([{"arm_num": 1, "name": "Arm 1"}])
        with pytest.raises(redcap.RedcapError, match="You cannot export events for classic projects"):
            project.export_events()


@pytest.mark.parametrize("content", ["report", "surveyLink", "fileRepository", "nonsense"])
def test_unsupported_contents_answer_redcaps_error(redcap_sandbox: SandboxServer, content: str) -> None:
    for fmt, body in (
        ("json", '{"error": "The value of the parameter \\"content\\" is not valid"}'),
        ("csv", 'ERROR: The value of the parameter "content" is not valid'),
    ):
        answer = requests.post(
            redcap_sandbox.url, data={"token": redcap_sandbox.token, "content": content, "format": fmt}, timeout=10
        )
        assert answer.status_code == 400 and answer.text == body


def test_unsupported_actions_and_record_types_answer_redcaps_error(redcap_sandbox: SandboxServer) -> None:
    answer = requests.post(
        redcap_sandbox.url,
        data={"token": redcap_sandbox.token, "content": "dag", "action": "switch", "dag": "x", "format": "json"},
        timeout=10,
    )
    assert answer.status_code == 400 and answer.json() == {"error": 'The value of the parameter "action" is not valid'}
    answer = requests.post(
        redcap_sandbox.url,
        data={"token": redcap_sandbox.token, "content": "record", "type": "wide", "format": "json"},
        timeout=10,
    )
    assert answer.status_code == 400 and answer.json() == {"error": 'The value of the parameter "type" is not valid'}
