"""PyCap, unchanged, against the REDCap sandbox: what the REDCap pull relies on."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
import redcap
import semantic_version

from proximite.cohort.codebook import REDCAP_METADATA_COLUMNS
from proximite.cohort.redcap.project import RedcapProject
from proximite.cohort.sandbox.server import SandboxServer


@pytest.fixture
def project(redcap_sandbox: SandboxServer) -> redcap.Project:
    return redcap.Project(redcap_sandbox.url, redcap_sandbox.token)


def test_version_and_project_information(project: redcap.Project) -> None:
    assert isinstance(project.export_version(), semantic_version.Version)
    info = project.export_project_info()
    assert info["is_longitudinal"] == 1 and info["has_repeating_instruments_or_events"] == 1


def test_metadata(project: redcap.Project, redcap_sandbox: SandboxServer) -> None:
    rows = project.export_metadata()
    assert list(rows[0]) == REDCAP_METADATA_COLUMNS
    frame = project.export_metadata(format_type="df")
    assert frame.index.name == "field_name"
    assert list(frame.index) == list(redcap_sandbox.project.metadata["field_name"])
    assert project.def_field == "record_id"
    assert set(project.forms) == set(redcap_sandbox.project.metadata["form_name"])
    sortie = (redcap_sandbox.project.metadata["form_name"] == "sortie").sum()
    assert len(project.export_metadata(fields=["iso_transport"], forms=["sortie"])) == 1 + sortie


def test_records_as_a_frame_of_a_longitudinal_project(project: redcap.Project, redcap_sandbox: SandboxServer) -> None:
    records = redcap_sandbox.project.records
    frame = project.export_records(format_type="df")
    assert project.is_longitudinal
    assert frame.index.names == ["record_id", "redcap_event_name"]
    assert len(frame) == len(records)
    expected = [c for c in records.columns if c not in ("record_id", "redcap_event_name", "redcap_data_access_group")]
    assert list(frame.columns) == expected
    assert set(frame.index.get_level_values("redcap_event_name")) == set(records["redcap_event_name"])
    with_dags = project.export_records(format_type="df", export_data_access_groups=True, records=["1", "2"])
    assert set(with_dags["redcap_data_access_group"]) <= set(redcap_sandbox.project.dags["unique_group_name"])
    assert set(with_dags.index.get_level_values(0)) == {1, 2}


def test_records_as_json_with_filters(project: redcap.Project) -> None:
    rows = project.export_records(records=["3"], fields=["iso_transport"], events=["t0_arm_1", "t6_arm_1"])
    assert {row["redcap_event_name"] for row in rows} <= {"t0_arm_1", "t6_arm_1"}
    assert set(rows[0]) == {
        "record_id",
        "redcap_event_name",
        "redcap_repeat_instrument",
        "redcap_repeat_instance",
        "iso_transport",
    }
    forms = project.export_records(format_type="df", forms=["besoin"], records=["1"])
    assert "bes_categorie" in forms.columns and "iso_transport" not in forms.columns
    label = project.export_records(records=["1"], raw_or_label="label", fields=["langue_principale"])
    assert label[0]["redcap_event_name"] == "Inclusion"


def test_structure(project: redcap.Project, redcap_sandbox: SandboxServer) -> None:
    sandbox = redcap_sandbox.project
    mappings = project.export_instrument_event_mappings()
    assert [(row["unique_event_name"], row["form"]) for row in mappings] == list(
        zip(sandbox.form_event_mapping["unique_event_name"], sandbox.form_event_mapping["form"], strict=True)
    )
    repeating = project.export_repeating_instruments_events(format_type="df")
    assert set(repeating["form_name"]) == {"enfant", "besoin", "reference"}
    assert [event["unique_event_name"] for event in project.export_events()] == list(
        sandbox.events["unique_event_name"]
    )
    assert project.export_arms()[0]["arm_num"] == 1
    assert {dag["unique_group_name"] for dag in project.export_dags()} == set(sandbox.dags["unique_group_name"])


def test_export_field_names(project: redcap.Project, redcap_sandbox: SandboxServer) -> None:
    names = project.export_field_names()
    exported = {row["export_field_name"] for row in names}
    data_columns = [c for c in redcap_sandbox.project.records.columns if not c.startswith("redcap_")]
    assert set(data_columns) <= exported
    frame = project.export_field_names(format_type="df")
    assert frame.index.name == "original_field_name"
    assert len(project.export_field_names(field="ressources_3m")) == 11


def test_import_log_and_delete(project: redcap.Project, redcap_sandbox: SandboxServer) -> None:
    started = dt.datetime.now().replace(second=0, microsecond=0) - dt.timedelta(minutes=1)
    current = project.export_records(records=["8"], events=["t0_arm_1"], fields=["iso_transport"])[0]["iso_transport"]
    value = "0" if current != "0" else "2"
    assert project.import_records([{"record_id": "8", "redcap_event_name": "t0_arm_1", "iso_transport": value}]) == {
        "count": 1
    }
    new = pd.DataFrame(
        [{"record_id": 301, "redcap_event_name": "inclusion_arm_1", "langue_principale": "anglais", "isole_contact": 1}]
    ).set_index("record_id")
    assert project.import_records(new, import_format="df") == {"count": 1}
    assert project.import_records(
        [{"record_id": "8", "redcap_event_name": "t0_arm_1", "iso_transport": value}], return_content="ids"
    ) == ["8"]
    assert project.delete_records(["9", "301"]) == 2
    log = pd.DataFrame(project.export_logging(begin_time=started))
    assert list(log.columns) == ["timestamp", "username", "action", "details", "record"]
    record_log = log[log["record"] != ""]
    assert record_log["action"].tolist() == [
        "Delete record 301",
        "Delete record 9",
        "Create record 301",
        "Update record 8",
    ]
    assert project.export_logging(log_type="record_delete", record="9")[0]["details"] == "record_id = '9'"
    assert project.export_logging(end_time=started - dt.timedelta(days=1)) == []
    remaining = project.export_records(format_type="df", fields=["record_id"])
    assert 9 not in remaining.index.get_level_values(0) and 301 not in remaining.index.get_level_values(0)
    changed = project.export_records(
        date_begin=dt.datetime.strptime(redcap_sandbox.started_at, "%Y-%m-%d %H:%M:%S") + dt.timedelta(days=1)
    )
    assert changed == []


def test_errors_become_redcap_errors(project: redcap.Project, redcap_sandbox: SandboxServer) -> None:
    with pytest.raises(redcap.RedcapError, match="You do not have permissions to use the API"):
        redcap.Project(redcap_sandbox.url, "ABCDEF0123456789ABCDEF0123456789").export_metadata()
    with pytest.raises(redcap.RedcapError, match="You do not have permissions to use the API"):
        redcap.Project(redcap_sandbox.url, "ABCDEF0123456789ABCDEF0123456789").export_records(format_type="csv")
    with pytest.raises(redcap.RedcapError, match="not valid: 'nope'"):
        project.export_records(fields=["nope"])
    with pytest.raises(redcap.RedcapError, match="do not exist"):
        project.delete_records(["999"])
    with pytest.raises(redcap.RedcapError, match="not a valid category"):
        project.import_records(
            [{"record_id": "1", "redcap_event_name": "inclusion_arm_1", "langue_principale": "klingon"}]
        )


def test_a_dag_bound_token(redcap_sandbox: SandboxServer) -> None:
    group = redcap_sandbox.project.dags["unique_group_name"].iloc[1]
    restricted = redcap.Project(redcap_sandbox.url, redcap_sandbox.add_token(dag=group))
    frame = restricted.export_records(format_type="df", export_data_access_groups=True)
    records = redcap_sandbox.project.records
    mine = records.loc[records["redcap_data_access_group"] == group, "record_id"].astype(int)
    assert set(frame.index.get_level_values(0)) == set(mine)
    assert "redcap_data_access_group" not in frame.columns


def test_a_classic_project(sandbox_project: RedcapProject) -> None:
    metadata = sandbox_project.metadata[sandbox_project.metadata["form_name"] == "sortie"]
    metadata = pd.concat([sandbox_project.metadata.iloc[[0]].assign(form_name="sortie"), metadata], ignore_index=True)
    rows = sandbox_project.records[sandbox_project.records["redcap_event_name"] == "sortie_arm_1"]
    classic = RedcapProject(
        info={"project_title": "Classic", "is_longitudinal": 0, "has_repeating_instruments_or_events": 0},
        metadata=metadata,
        records=rows[["record_id", "sortie_date", "sortie_raison", "sortie_complete"]].reset_index(drop=True),
    )
    with SandboxServer(classic) as server:
        project = redcap.Project(server.url, server.token)
        assert not project.is_longitudinal
        frame = project.export_records(format_type="df")
        assert frame.index.name == "record_id" and len(frame) == len(rows)
        assert list(frame.columns) == ["sortie_date", "sortie_raison", "sortie_retrait", "sortie_complete"]
        with pytest.raises(redcap.RedcapError, match="classic projects"):
            project.export_events()
