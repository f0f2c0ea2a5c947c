"""The REDCap sandbox over plain HTTP: every content, both list encodings, flags, formats,
filters, ordering, the flat layout, DAG-bound tokens, errors and status codes, imports, deletes
and the log, as REDCap answers them."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import re
import signal
import stat
import subprocess
import sys
from email.utils import parsedate_to_datetime
from pathlib import Path

import pandas as pd
import pytest
import requests

from proximite.cohort.codebook import REDCAP_METADATA_COLUMNS
from proximite.cohort.redcap.project import RedcapProject
from proximite.cohort.sandbox.server import SandboxServer

KEYS = ["record_id", "redcap_event_name", "redcap_repeat_instrument", "redcap_repeat_instance"]
NO_PERMISSION = "You do not have permissions to use the API"


def post(server: SandboxServer, token: str | None = None, **params: object) -> requests.Response:
    data = {"token": server.token if token is None else token, **params}
    return requests.post(server.url, data=data, timeout=10)


def csv_frame(response: requests.Response) -> pd.DataFrame:
    assert response.status_code == 200, response.text
    return pd.read_csv(io.StringIO(response.text), dtype=str, keep_default_na=False)


def export(server: SandboxServer, token: str | None = None, **params: object) -> pd.DataFrame:
    return csv_frame(post(server, token, content="record", format="csv", type="flat", **params))


def classic_project(project: RedcapProject) -> RedcapProject:
    """A classic (non-longitudinal, non-repeating) project: the 'famille' form at inclusion."""
    metadata = project.metadata[project.metadata["form_name"] == "famille"].reset_index(drop=True)
    records = project.records
    rows = records[(records["redcap_event_name"] == "inclusion_arm_1") & (records["redcap_repeat_instrument"] == "")]
    famille = list(
        records.columns[records.columns.get_loc("fam_nom_parent") : records.columns.get_loc("famille_complete") + 1]
    )
    info = {**project.info, "is_longitudinal": 0, "has_repeating_instruments_or_events": 0}
    return RedcapProject(
        info=info,
        metadata=metadata,
        records=rows[["record_id", "redcap_data_access_group", *famille]].reset_index(drop=True),
        dags=project.dags.copy(),
    )


@pytest.fixture
def classic_sandbox(sandbox_project: RedcapProject):
    with SandboxServer(classic_project(sandbox_project)) as server:
        yield server


# ------------------------------------------------------------------------------ small contents
def test_version_is_plain_text(redcap_sandbox: SandboxServer) -> None:
    response = post(redcap_sandbox, content="version")
    assert response.status_code == 200
    assert response.text.count(".") == 2 and all(part.isdigit() for part in response.text.split("."))


def test_project_information_in_json_and_csv(redcap_sandbox: SandboxServer) -> None:
    info = post(redcap_sandbox, content="project", format="json").json()
    assert info["is_longitudinal"] == 1
    assert info["has_repeating_instruments_or_events"] == 1
    assert "missing_data_codes" in info and info["project_title"] == redcap_sandbox.project.info["project_title"]
    frame = export_any(redcap_sandbox, "project")
    assert len(frame) == 1 and frame.loc[0, "is_longitudinal"] == "1"


def export_any(server: SandboxServer, content: str, **params: object) -> pd.DataFrame:
    return csv_frame(post(server, content=content, format="csv", **params))


def test_metadata_has_redcaps_18_columns_and_filters(redcap_sandbox: SandboxServer) -> None:
    project = redcap_sandbox.project
    frame = export_any(redcap_sandbox, "metadata")
    assert list(frame.columns) == REDCAP_METADATA_COLUMNS
    pd.testing.assert_frame_equal(frame, project.metadata[REDCAP_METADATA_COLUMNS].reset_index(drop=True))
    as_json = post(redcap_sandbox, content="metadata", format="json").json()
    assert [row["field_name"] for row in as_json] == list(project.metadata["field_name"])
    assert all(isinstance(value, str) for row in as_json for value in row.values())
    # Both list encodings, and forms.
    php = export_any(redcap_sandbox, "metadata", **{"fields[0]": "iso_transport", "fields[1]": "record_id"})
    comma = export_any(redcap_sandbox, "metadata", fields="iso_transport,record_id")
    assert list(php["field_name"]) == list(comma["field_name"]) == ["record_id", "iso_transport"]
    sortie = export_any(redcap_sandbox, "metadata", **{"forms[0]": "sortie"})
    assert set(sortie["form_name"]) == {"sortie"}
    bad = post(redcap_sandbox, content="metadata", format="json", **{"fields[0]": "nope"})
    assert bad.status_code == 400
    assert bad.json() == {"error": "The following values in the parameter fields are not valid: 'nope'"}


def test_structure_contents_match_the_project(redcap_sandbox: SandboxServer) -> None:
    project = redcap_sandbox.project
    for content, table in [
        ("event", project.events),
        ("arm", project.arms),
        ("formEventMapping", project.form_event_mapping),
        ("repeatingFormsEvents", project.repeating_forms_events),
        ("dag", project.dags),
    ]:
        pd.testing.assert_frame_equal(export_any(redcap_sandbox, content), table.reset_index(drop=True), obj=content)
    events = post(redcap_sandbox, content="event", format="json").json()
    assert events[0]["unique_event_name"] == "inclusion_arm_1" and events[0]["arm_num"] == 1  # a number, as REDCap
    mapping = post(redcap_sandbox, content="formEventMapping", format="json", **{"arms[0]": "1"}).json()
    assert {"arm_num", "unique_event_name", "form"} <= set(mapping[0]) and len(mapping) == len(
        project.form_event_mapping
    )
    assert post(redcap_sandbox, content="formEventMapping", format="json", arms="2").json() == []


def test_export_field_names_expand_checkboxes(redcap_sandbox: SandboxServer) -> None:
    names = post(redcap_sandbox, content="exportFieldNames", format="json").json()
    assert names[0] == {"original_field_name": "record_id", "choice_value": "", "export_field_name": "record_id"}
    checkbox = [row for row in names if row["original_field_name"] == "ressources_3m"]
    assert [row["export_field_name"] for row in checkbox][:2] == ["ressources_3m___ocf", "ressources_3m___cpsc"]
    assert checkbox[0]["choice_value"] == "ocf"
    assert {"original_field_name": "suivi_complete", "choice_value": "", "export_field_name": "suivi_complete"} in names
    # Every data column of the flat export is an export field name.
    columns = export(redcap_sandbox, **{"records[0]": "1"}).columns
    assert set(columns) - set(KEYS) <= {row["export_field_name"] for row in names}
    one = post(redcap_sandbox, content="exportFieldNames", format="json", field="ressources_3m").json()
    assert {row["original_field_name"] for row in one} == {"ressources_3m"} and len(one) == len(checkbox)
    assert post(redcap_sandbox, content="exportFieldNames", format="json", field="nope").status_code == 400


def test_instruments_and_next_record_name(redcap_sandbox: SandboxServer) -> None:
    instruments = post(redcap_sandbox, content="instrument", format="json").json()
    assert [row["instrument_name"] for row in instruments] == [
        "famille",
        "enfant",
        "suivi",
        "besoin",
        "reference",
        "sortie",
    ]
    assert post(redcap_sandbox, content="generateNextRecordName").text == "41"


# ----------------------------------------------------------------------------- record export
def test_flat_export_reproduces_the_projects_records(redcap_sandbox: SandboxServer) -> None:
    project = redcap_sandbox.project
    frame = export(redcap_sandbox, exportDataAccessGroups="true")
    assert list(frame.columns) == list(project.records.columns)
    pd.testing.assert_frame_equal(frame, project.records.reset_index(drop=True))
    rows = post(redcap_sandbox, content="record", format="json", exportDataAccessGroups="true").json()
    assert pd.DataFrame(rows).equals(frame)
    assert all(isinstance(value, str) for row in rows[:50] for value in row.values())


def test_flat_export_layout_and_order(redcap_sandbox: SandboxServer) -> None:
    frame = export(redcap_sandbox)
    assert list(frame.columns[:4]) == KEYS
    assert frame.columns[4] == "fam_nom_parent"  # no DAG column without the flag
    ranks = {name: rank for rank, name in enumerate(redcap_sandbox.project.events["unique_event_name"])}
    forms = {"": -1, "enfant": 1, "besoin": 3, "reference": 4}
    key = pd.DataFrame(
        {
            "record": frame["record_id"].astype(int),
            "event": frame["redcap_event_name"].map(ranks),
            "form": frame["redcap_repeat_instrument"].map(forms),
            "instance": pd.to_numeric(frame["redcap_repeat_instance"], errors="coerce").fillna(0),
        }
    )
    assert key.equals(key.sort_values(["record", "event", "form", "instance"]))
    # Dates are ISO; a form's status closes its fields.
    dates = frame["date_premier_contact"][frame["date_premier_contact"] != ""]
    assert dates.str.fullmatch(r"\d{4}-\d{2}-\d{2}").all()
    assert list(frame.columns).index("famille_complete") == list(frame.columns).index("ptp_code") + 1


@pytest.mark.parametrize("spelling", ["true", "True", "TRUE", "1"])
def test_flags_are_case_insensitive(redcap_sandbox: SandboxServer, spelling: str) -> None:
    frame = export(redcap_sandbox, exportDataAccessGroups=spelling, **{"records[0]": "1"})
    assert frame.columns[4] == "redcap_data_access_group" and frame["redcap_data_access_group"].ne("").all()


@pytest.mark.parametrize("spelling", ["false", "False", "0", ""])
def test_false_flags_leave_the_dag_column_out(redcap_sandbox: SandboxServer, spelling: str) -> None:
    assert "redcap_data_access_group" not in export(redcap_sandbox, exportDataAccessGroups=spelling).columns


def test_both_list_encodings_select_the_same_records_and_fields(redcap_sandbox: SandboxServer) -> None:
    php = post(
        redcap_sandbox,
        content="record",
        format="csv",
        **{"records[0]": "7", "records[1]": "3", "fields[0]": "iso_transport"},
    )
    comma = post(redcap_sandbox, content="record", format="csv", records="7,3", fields="iso_transport")
    assert php.status_code == comma.status_code == 200
    assert php.text == comma.text
    frame = csv_frame(php)
    assert list(dict.fromkeys(frame["record_id"])) == ["3", "7"]  # REDCap's order, not the request's


def test_fields_and_forms_filters_keep_the_key_columns_in_dictionary_order(redcap_sandbox: SandboxServer) -> None:
    frame = export(redcap_sandbox, fields="ressources_3m,iso_transport,suivi_complete", exportDataAccessGroups="1")
    checkboxes = [c for c in redcap_sandbox.project.records.columns if c.startswith("ressources_3m___")]
    assert list(frame.columns) == [*KEYS, "redcap_data_access_group", *checkboxes, "iso_transport", "suivi_complete"]
    assert set(frame["redcap_repeat_instrument"]) == {""}  # rows of repeating forms not asked for are left out
    besoin = export(redcap_sandbox, **{"forms[0]": "besoin"})
    project_besoin = redcap_sandbox.project.records.query("redcap_repeat_instrument == 'besoin'")
    assert list(besoin.columns) == [
        *KEYS,
        "bes_categorie",
        "bes_date_identification",
        "bes_statut",
        "bes_date_statut",
        "besoin_complete",
    ]
    assert set(besoin["redcap_repeat_instrument"]) == {"", "besoin"}
    assert (besoin["redcap_repeat_instrument"] == "besoin").sum() == len(project_besoin)
    only_id = export(redcap_sandbox, fields="record_id")
    assert list(only_id.columns) == KEYS


def test_events_filter(redcap_sandbox: SandboxServer) -> None:
    frame = export(redcap_sandbox, events="t0_arm_1,sortie_arm_1")
    assert set(frame["redcap_event_name"]) == {"t0_arm_1", "sortie_arm_1"}
    records = redcap_sandbox.project.records
    assert len(frame) == records["redcap_event_name"].isin(["t0_arm_1", "sortie_arm_1"]).sum()
    bad = post(redcap_sandbox, content="record", format="csv", **{"events[0]": "t99_arm_1"})
    assert bad.status_code == 400
    assert bad.text == "ERROR: The following values in the parameter events are not valid: 't99_arm_1'"


def test_raw_or_label_gives_choice_labels(redcap_sandbox: SandboxServer) -> None:
    raw = export(redcap_sandbox, **{"records[0]": "1"})
    label = export(redcap_sandbox, rawOrLabel="label", exportDataAccessGroups="true", **{"records[0]": "1"})
    first = raw.index[raw["redcap_event_name"] == "inclusion_arm_1"][0]
    assert label.loc[first, "redcap_event_name"] == "Inclusion"
    channel = raw.loc[first, "canal_recrutement"]
    dictionary = redcap_sandbox.project.metadata.set_index("field_name")
    choices = dict(
        (part.split(",", 1)[0].strip(), part.split(",", 1)[1].strip())
        for part in dictionary.loc["canal_recrutement", "select_choices_or_calculations"].split("|")
    )
    assert label.loc[first, "canal_recrutement"] == choices[channel]
    assert label.loc[first, "isole_contact"] in {"Yes", "No"}
    assert label.loc[first, "famille_complete"] in {"Incomplete", "Unverified", "Complete"}
    assert label.loc[first, "redcap_data_access_group"] in set(redcap_sandbox.project.dags["data_access_group_name"])
    child = raw.index[raw["redcap_repeat_instrument"] == "enfant"][0]
    assert label.loc[child, "redcap_repeat_instrument"] == "Enfant"
    t0 = raw.index[raw["redcap_event_name"] == "t0_arm_1"][0]
    assert label.loc[t0, "ressources_3m___ocf"] in {"Checked", "Unchecked"}


def test_csv_delimiter_and_label_headers(redcap_sandbox: SandboxServer) -> None:
    semicolon = post(redcap_sandbox, content="record", format="csv", csvDelimiter=";", fields="record_id")
    assert semicolon.text.splitlines()[0] == ";".join(KEYS)
    tab = post(redcap_sandbox, content="record", format="csv", csvDelimiter="tab", fields="record_id")
    assert tab.text.splitlines()[0] == "\t".join(KEYS)
    headers = post(redcap_sandbox, content="record", format="csv", rawOrLabelHeaders="label", fields="iso_transport")
    assert headers.text.splitlines()[0].split(",")[1:4] == ["Event Name", "Repeat Instrument", "Repeat Instance"]


def test_xml_is_the_default_format(redcap_sandbox: SandboxServer) -> None:
    response = post(redcap_sandbox, content="record", fields="record_id", records="1")
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/xml")
    assert response.text.startswith('<?xml version="1.0" encoding="UTF-8" ?>')
    assert "<item><record_id><![CDATA[1]]></record_id>" in response.text


def test_date_range_filters_on_last_change(redcap_sandbox: SandboxServer) -> None:
    server = redcap_sandbox
    started = dt.datetime.strptime(server.started_at, "%Y-%m-%d %H:%M:%S")
    later = (started + dt.timedelta(days=2)).strftime("%Y-%m-%d %H:%M:%S")
    server.project.modified.update({"4": later, "9": later})

    def ids(**params: str) -> list[str]:
        return list(dict.fromkeys(export(server, fields="record_id", **params)["record_id"]))

    def stamp(moment: dt.datetime) -> str:
        return moment.strftime("%Y-%m-%d %H:%M:%S")

    assert ids(dateRangeBegin=stamp(started + dt.timedelta(days=1))) == ["4", "9"]
    # Records never changed count as changed when the server started; bounds are included.
    assert len(ids(dateRangeBegin=server.started_at)) == 40
    assert ids(dateRangeEnd=stamp(started + dt.timedelta(days=1))) == [str(n) for n in range(1, 41) if n not in (4, 9)]
    assert (
        ids(dateRangeBegin=stamp(started - dt.timedelta(days=1)), dateRangeEnd=stamp(started - dt.timedelta(hours=1)))
        == []
    )
    assert post(server, content="record", format="csv", dateRangeBegin="yesterday").status_code == 400


# ------------------------------------------------------------------------------------ tokens
def test_a_dag_bound_token_sees_only_its_group(redcap_sandbox: SandboxServer) -> None:
    server = redcap_sandbox
    records = server.project.records
    group = records["redcap_data_access_group"].iloc[0]
    token = server.add_token(dag=group)
    assert len(token) == 32 and int(token, 16) >= 0
    mine = set(records.loc[records["redcap_data_access_group"] == group, "record_id"])
    frame = export(server, token, exportDataAccessGroups="true")
    assert set(frame["record_id"]) == mine
    assert "redcap_data_access_group" not in frame.columns  # REDCap ignores the flag for a group's user
    assert len(frame) == (records["redcap_data_access_group"] == group).sum()
    other = next(r for r in records["record_id"] if r not in mine)
    assert export(server, token, records=other).empty
    assert [row["unique_group_name"] for row in post(server, token, content="dag", format="json").json()] == [group]
    # Its deletes and imports stay inside the group.
    refused = post(server, token, content="record", action="delete", **{"records[0]": other})
    assert refused.status_code == 400
    created = post(
        server,
        token,
        content="record",
        format="json",
        data=json.dumps(
            [{"record_id": "500", "redcap_event_name": "inclusion_arm_1", "langue_principale": "francais"}]
        ),
    )
    assert created.json() == {"count": 1}
    assert (
        server.project.records.loc[server.project.records["record_id"] == "500", "redcap_data_access_group"]
        .eq(group)
        .all()
    )
    post(
        server,
        content="record",
        format="json",
        data=json.dumps([{"record_id": other, "redcap_event_name": "t0_arm_1", "iso_transport": "2"}]),
    )
    log = post(server, token, content="log", format="json").json()
    assert {row["record"] for row in log if row["record"]} == {"500"}
    with pytest.raises(ValueError):
        server.add_token(dag="no_such_group")


# ------------------------------------------------------------------------------------ errors
@pytest.mark.parametrize(
    ("params", "body", "content_type"),
    [
        ({"format": "csv"}, f"ERROR: {NO_PERMISSION}", "text/csv"),
        ({"format": "json"}, json.dumps({"error": NO_PERMISSION}), "application/json"),
        ({"format": "csv", "returnFormat": "json"}, json.dumps({"error": NO_PERMISSION}), "application/json"),
        ({}, f'<?xml version="1.0" encoding="UTF-8" ?><hash><error>{NO_PERMISSION}</error></hash>', "text/xml"),
    ],
)
def test_a_bad_token_is_refused_with_403(
    redcap_sandbox: SandboxServer, params: dict, body: str, content_type: str
) -> None:
    response = post(redcap_sandbox, "0123456789ABCDEF0123456789ABCDEF", content="record", **params)
    assert response.status_code == 403
    assert response.text == body
    assert response.headers["Content-Type"].startswith(content_type)
    assert post(redcap_sandbox, "", content="version").status_code == 403
    # The token is case-insensitive hexadecimal, like REDCap's.
    assert post(redcap_sandbox, redcap_sandbox.token.lower(), content="version").status_code == 200


def test_unknown_content_field_and_method(redcap_sandbox: SandboxServer) -> None:
    content = post(redcap_sandbox, content="nonsense", format="csv")
    assert content.status_code == 400 and content.text == 'ERROR: The value of the parameter "content" is not valid'
    field = post(redcap_sandbox, content="record", format="csv", fields="record_id,x_unknown,y_unknown")
    assert field.status_code == 400
    assert field.text == "ERROR: The following values in the parameter fields are not valid: 'x_unknown', 'y_unknown'"
    forms = post(redcap_sandbox, content="record", format="json", forms="nope")
    assert forms.status_code == 400 and "parameter forms" in forms.json()["error"]
    get = requests.get(redcap_sandbox.url, timeout=10)
    assert get.status_code == 501 and "<error>The requested method is not implemented.</error>" in get.text
    assert requests.post(redcap_sandbox.url.replace("/api/", "/other/"), timeout=10).status_code == 404


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("arm", "You cannot export arms for classic projects"),
        ("event", "You cannot export events for classic projects"),
        ("formEventMapping", "You cannot export form/event mappings for classic projects"),
        (
            "repeatingFormsEvents",
            "You cannot export repeating instruments and events because the project does not contain any repeating "
            "instruments and events",
        ),
    ],
)
def test_a_classic_project_refuses_structure_exports(
    classic_sandbox: SandboxServer, content: str, message: str
) -> None:
    response = post(classic_sandbox, content=content, format="csv")
    assert response.status_code == 400
    assert response.text == f"ERROR: {message}"
    assert post(classic_sandbox, content=content, format="json").json() == {"error": message}


def test_a_classic_project_exports_without_event_or_repeat_columns(classic_sandbox: SandboxServer) -> None:
    frame = export(classic_sandbox, exportDataAccessGroups="true")
    assert list(frame.columns[:3]) == ["record_id", "redcap_data_access_group", "fam_nom_parent"]
    assert len(frame) == 40 and frame["record_id"].is_unique
    info = post(classic_sandbox, content="project", format="json").json()
    assert info["is_longitudinal"] == 0 and info["has_repeating_instruments_or_events"] == 0


# ------------------------------------------------------------------------- import and delete
def test_import_csv_updates_and_creates_and_logs(redcap_sandbox: SandboxServer) -> None:
    server = redcap_sandbox
    before = export(server, records="3", events="t0_arm_1")
    assert before.loc[0, "iso_mefiance"] != "" and before.loc[0, "iso_transport"] != ""
    new_value = "0" if before.loc[0, "iso_transport"] != "0" else "1"
    data = (
        "record_id,redcap_event_name,redcap_repeat_instrument,redcap_repeat_instance,iso_transport,iso_mefiance\n"
        f"3,t0_arm_1,,,{new_value},\n"
        "41,inclusion_arm_1,,,,\n"
        "41,inclusion_arm_1,enfant,1,,\n"
    )
    response = post(
        server,
        content="record",
        action="import",
        format="csv",
        type="flat",
        overwriteBehavior="normal",
        data=data,
        returnFormat="json",
    )
    assert response.status_code == 200 and response.json() == {"count": 2}
    after = export(server, records="3", events="t0_arm_1")
    assert after.loc[0, "iso_transport"] == new_value
    assert after.loc[0, "iso_mefiance"] == before.loc[0, "iso_mefiance"]  # normal: a blank erases nothing
    created = export(server, records="41")
    assert list(created["redcap_repeat_instrument"]) == ["", "enfant"]
    log = post(server, content="log", format="json", logtype="record").json()
    assert log[0]["record"] in {"3", "41"}  # newest first
    actions = {row["action"] for row in log}
    assert {"Update record 3", "Create record 41"} <= actions
    update = next(row for row in log if row["action"] == "Update record 3")
    assert update["details"] == f"iso_transport = '{new_value}'" and update["username"] == "sandbox"
    assert server.project.modified["3"] >= server.started_at


def test_import_json_overwrite_erases_blanks(redcap_sandbox: SandboxServer) -> None:
    server = redcap_sandbox
    row = {"record_id": "5", "redcap_event_name": "t0_arm_1", "iso_mefiance": ""}
    normal = post(server, content="record", format="json", data=json.dumps([row]))
    assert normal.json() == {"count": 1}
    assert export(server, records="5", events="t0_arm_1").loc[0, "iso_mefiance"] != ""
    erased = post(server, content="record", format="json", overwriteBehavior="overwrite", data=json.dumps([row]))
    assert erased.json() == {"count": 1}
    assert export(server, records="5", events="t0_arm_1").loc[0, "iso_mefiance"] == ""
    ids = post(
        server, content="record", format="json", returnContent="ids", data=json.dumps([{**row, "iso_mefiance": "2"}])
    )
    assert ids.json() == ["5"]
    assert post(server, content="record", format="json", data="[]").json() == {"count": 0}


def test_an_invalid_import_changes_nothing(redcap_sandbox: SandboxServer) -> None:
    server = redcap_sandbox
    before = server.project.records.copy()
    rows = [
        {"record_id": "1", "redcap_event_name": "t0_arm_1", "iso_transport": "2"},
        {"record_id": "2", "redcap_event_name": "t0_arm_1", "iso_transport": "9"},
    ]
    response = post(server, content="record", format="json", data=json.dumps(rows))
    assert response.status_code == 400
    assert '"2","iso_transport","9"' in response.json()["error"]
    pd.testing.assert_frame_equal(server.project.records, before)
    unknown = post(server, content="record", format="csv", data="record_id,redcap_event_name,nope\n1,t0_arm_1,x\n")
    assert unknown.status_code == 400 and "nope" in unknown.text
    wrong_event = post(
        server,
        content="record",
        format="json",
        data=json.dumps([{"record_id": "1", "redcap_event_name": "sortie_arm_1", "iso_transport": "1"}]),
    )
    assert wrong_event.status_code == 400  # suivi is not collected at sortie
    pd.testing.assert_frame_equal(server.project.records, before)


def test_delete_removes_every_row_and_logs(redcap_sandbox: SandboxServer) -> None:
    server = redcap_sandbox
    rows_before = len(server.project.records)
    rows_of_2_and_6 = server.project.records["record_id"].isin(["2", "6"]).sum()
    response = post(
        server, content="record", action="delete", returnFormat="json", **{"records[0]": "2", "records[1]": "6"}
    )
    assert response.status_code == 200 and response.json() == 2
    assert len(server.project.records) == rows_before - rows_of_2_and_6
    assert export(server, records="2,6").empty
    deleted = post(server, content="log", format="json", logtype="record_delete").json()
    assert [row["action"] for row in deleted] == ["Delete record 6", "Delete record 2"]
    assert deleted[0]["record"] == "6" and deleted[0]["details"] == "record_id = '6'"
    missing = post(
        server, content="record", action="delete", returnFormat="csv", **{"records[0]": "2", "records[1]": "8"}
    )
    assert missing.status_code == 400
    assert missing.text == (
        "ERROR: One or more of the records provided cannot be deleted because they do not exist in the project. "
        "The following records do not exist: 2"
    )
    assert not export(server, records="8").empty  # nothing deleted when one record is missing


def test_changes_and_deletions_can_be_detected_from_the_log(redcap_sandbox: SandboxServer) -> None:
    """The way redcapAPI's changedRecords reads the log: actions starting with the verb."""
    server = redcap_sandbox
    current = export(server, records="12", events="t0_arm_1").loc[0, "iso_transport"]
    changed = "0" if current != "0" else "3"
    post(
        server,
        content="record",
        format="json",
        data=json.dumps([{"record_id": "12", "redcap_event_name": "t0_arm_1", "iso_transport": changed}]),
    )
    same = export(server, records="14", events="t0_arm_1").loc[0, "iso_transport"]
    post(
        server,
        content="record",
        format="json",
        data=json.dumps([{"record_id": "14", "redcap_event_name": "t0_arm_1", "iso_transport": same}]),
    )
    post(
        server,
        content="record",
        format="json",
        data=json.dumps([{"record_id": "77", "redcap_event_name": "inclusion_arm_1", "langue_principale": "autre"}]),
    )
    post(server, content="record", action="delete", records="13")
    log = pd.DataFrame(post(server, content="log", format="json").json())

    def touched(verb: str) -> set[str]:
        return set(log.loc[log["action"].str.lower().str.startswith(f"{verb} record"), "record"])

    # Record 14 was sent its own value: nothing changed, nothing logged (as REDCap).
    assert (touched("update"), touched("create"), touched("delete")) == ({"12"}, {"77"}, {"13"})


# ---------------------------------------------------------------------------------------- log
def test_log_filters(redcap_sandbox: SandboxServer) -> None:
    server = redcap_sandbox
    server.project.log.extend(
        [
            {
                "timestamp": "2024-03-01 09:15",
                "username": "alice",
                "action": "Update record 1",
                "details": "x = '1'",
                "record": "1",
            },
            {
                "timestamp": "2024-03-02 10:00",
                "username": "bob",
                "action": "Delete record 4",
                "details": "record_id = '4'",
                "record": "4",
            },
            {
                "timestamp": "2024-03-03 11:30",
                "username": "alice",
                "action": "Data export",
                "details": "Export data (API)",
                "record": "",
            },
        ]
    )

    def actions(**params: str) -> list[str]:
        response = post(server, content="log", format="json", **params)
        assert response.status_code == 200, response.text
        return [row["action"] for row in response.json()]

    window = {"beginTime": "2024-03-01 09:15", "endTime": "2024-03-02 10:00"}
    assert actions(**window) == ["Delete record 4", "Update record 1"]  # bounds included, newest first
    assert actions(beginTime="2024-03-02 00:00", endTime="2024-03-31 00:00") == ["Data export", "Delete record 4"]
    assert actions(endTime="2024-03-01") == ["Update record 1"]  # a date alone ends with its day
    assert actions(logtype="record_delete", endTime="2024-03-31 00:00") == ["Delete record 4"]
    assert actions(logtype="export", endTime="2024-03-31 00:00") == ["Data export"]
    assert actions(record="1", endTime="2024-03-31 00:00") == ["Update record 1"]
    assert actions(user="alice", endTime="2024-03-31 00:00") == ["Data export", "Update record 1"]
    frame = csv_frame(post(server, content="log", format="csv", **window))
    assert list(frame.columns) == ["timestamp", "username", "action", "details", "record"]
    assert post(server, content="log", format="json", logtype="nonsense").status_code == 400
    assert post(server, content="log", format="json", beginTime="03/01/2024").status_code == 400


# ------------------------------------------------------------------------------------- HTTP
def test_date_header_and_request_count(redcap_sandbox: SandboxServer) -> None:
    before = redcap_sandbox.requests
    response = post(redcap_sandbox, content="version")
    moment = parsedate_to_datetime(response.headers["Date"])
    assert abs((moment - dt.datetime.now(dt.timezone.utc)).total_seconds()) < 5
    post(redcap_sandbox, "F" * 32, content="version")
    assert redcap_sandbox.requests == before + 2


def test_an_incremental_pull_with_the_date_header_as_watermark(redcap_sandbox: SandboxServer) -> None:
    """Export, change a record, export again from the first answer's Date: only the change."""
    server = redcap_sandbox
    # The records were last changed well before this pull (as in a project in use).
    server.project.modified.update({str(n): "2024-01-01 00:00:00" for n in range(1, 41)})
    first = post(server, content="record", format="csv", fields="record_id")
    assert first.text.count("\n") > 40
    # REDCap reads dateRangeBegin in the server's local time; the Date header is GMT.
    watermark = parsedate_to_datetime(first.headers["Date"]).astimezone().replace(tzinfo=None)
    post(
        server,
        content="record",
        format="json",
        data=json.dumps([{"record_id": "21", "redcap_event_name": "t0_arm_1", "iso_transport": "1"}]),
    )
    changed = export(server, fields="record_id", dateRangeBegin=watermark.strftime("%Y-%m-%d %H:%M:%S"))
    assert set(changed["record_id"]) == {"21"}


def test_serve_forever_writes_a_private_token_and_never_prints_it(sandbox_project_dir: Path, tmp_path: Path) -> None:
    token_file = tmp_path / "secret" / "token"
    code = (
        "import sys; from proximite.cohort.sandbox.server import serve_forever; "
        f"serve_forever({str(sandbox_project_dir / 'redcap')!r}, token_file={str(token_file)!r}, "
        "echo=lambda line: print(line, flush=True))"
    )
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines = [process.stdout.readline(), process.stdout.readline()]
        url = re.search(r"http://\S+/api/", lines[0]).group(0)
        assert url.startswith("http://127.0.0.1:") and url.endswith("/api/")
        assert str(token_file) in lines[1]
        token = token_file.read_text().strip()
        assert len(token) == 32 and token not in "".join(lines)
        assert stat.S_IMODE(os.stat(token_file).st_mode) == 0o600
        assert requests.post(url, data={"token": token, "content": "version"}, timeout=10).status_code == 200
    finally:
        process.send_signal(signal.SIGINT)
        # Generous: on a loaded two-core CI machine the interpreter can take seconds to unwind.
        try:
            out, err = process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            out, err = process.communicate()
            pytest.fail(f"the sandbox did not stop within 60 s of SIGINT: {err[-500:]}")
    assert process.returncode == 0, err
    assert token not in out + err
    assert "stopped" in out
