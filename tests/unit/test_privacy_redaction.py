"""Consent withdrawal and retention, file by file: rows dropped in each format, the ledger, the reduction of old pulls."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd
import pyreadstat
import pytest

from proximite.cohort.privacy import ledger
from proximite.cohort.privacy.redact_rows import drop_rows, rows_numbered, rows_where
from proximite.cohort.privacy.retention import apply_retention, plan_retention
from proximite.cohort.privacy.withdrawal_scan import destruction_requests, log_record
from proximite.cohort.pseudonym import pseudonym
from proximite.cohort.raw import write_manifest
from proximite.cohort.raw_files import read_raw_file
from proximite.config import load_settings

KEY = b"k" * 32


# ------------------------------------------------------------------------------ dropping rows
def test_a_csv_loses_the_rows_named_and_keeps_its_dialect() -> None:
    text = 'id;note;mot\r\n1;"deux\r\nlignes";été\r\n2;b;ça\r\n3;c;déjà\r\n'
    data = b"\xef\xbb\xbf" + text.encode("utf-8")
    dropped = drop_rows(data, suffix=".csv", drop=rows_numbered([1, 3]))
    assert (dropped.rows_before, dropped.rows_after) == (3, 1)
    assert dropped.data == b"\xef\xbb\xbf" + "id;note;mot\r\n2;b;ça\r\n".encode("utf-8")


def test_a_cp1252_csv_stays_cp1252_and_a_key_column_chooses_rows() -> None:
    data = "record_id,ville\n10,Montréal\n11,Québec\n".encode("cp1252")
    dropped = drop_rows(data, suffix=".csv", drop=rows_where("record_id", {"11"}))
    assert dropped.data == "record_id,ville\n10,Montréal\n".encode("cp1252")
    untouched = drop_rows(data, suffix=".csv", drop=rows_where("record_id", {"99"}))
    assert untouched.data is data and untouched.rows_after == 2


def test_an_xlsx_loses_its_numbered_rows_only_in_the_mapped_sheet() -> None:
    import openpyxl

    workbook = openpyxl.Workbook()
    notes = workbook.active
    notes.title = "notes"
    notes.append(["keep me"])
    sheet = workbook.create_sheet("activites")
    sheet.append(["activity_id", "family_record_id"])
    for number in range(1, 5):
        sheet.append([f"A{number}", f"R{number}"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    dropped = drop_rows(buffer.getvalue(), suffix=".xlsx", drop=rows_numbered([2, 4]), sheet="activites")
    assert (dropped.rows_before, dropped.rows_after) == (4, 2)
    result = openpyxl.load_workbook(io.BytesIO(dropped.data))
    assert [row for row in result["activites"].iter_rows(values_only=True)] == [("activity_id", "family_record_id"), ("A1", "R1"), ("A3", "R3")]
    assert result["notes"]["A1"].value == "keep me"


def test_a_spss_file_keeps_its_labels(tmp_path: Path) -> None:
    path = tmp_path / "activites.sav"
    frame = pd.DataFrame({"activity_id": ["A1", "A2", "A3"], "minutes": [30.0, 45.0, 60.0], "lieu": [1.0, 2.0, 1.0]})
    pyreadstat.write_sav(frame, str(path), column_labels=["Activité", "Minutes", "Lieu"], variable_value_labels={"lieu": {1.0: "domicile", 2.0: "organisme"}})
    dropped = drop_rows(path.read_bytes(), suffix=".sav", drop=rows_numbered([2]))
    out = tmp_path / "out.sav"
    out.write_bytes(dropped.data)
    kept, meta = pyreadstat.read_sav(str(out))
    assert kept["activity_id"].tolist() == ["A1", "A3"]
    assert meta.column_labels == ["Activité", "Minutes", "Lieu"]
    assert meta.variable_value_labels["lieu"] == {1.0: "domicile", 2.0: "organisme"}


def test_an_unknown_format_is_refused_by_name() -> None:
    with pytest.raises(Exception, match="'.json'"):
        drop_rows(b"{}", suffix=".json", drop=rows_numbered([1]))


# ------------------------------------------------------------------------------ requests and ledger
def test_the_exit_form_and_the_project_log_name_the_records() -> None:
    exits = pd.DataFrame({"record_id": ["1", "2", "3"], "sortie_retrait": ["participation", "participation_donnees", None]})
    assert destruction_requests({"sortie": exits}) == {"2"}
    assert destruction_requests({"sortie": exits.drop(columns="sortie_retrait")}) == set()
    assert log_record({"action": "Update record 17", "record": ""}) == "17"
    assert log_record({"action": "Manage/Design", "record": "4"}) == "4"
    assert log_record({"action": "Export data"}) == ""


def test_the_ledger_holds_keyed_tokens_never_the_id_nor_the_pseudonym(tmp_path: Path) -> None:
    settings = load_settings(tmp_path)
    token = ledger.withdrawal_token("REC-77", key=KEY, project=settings.project_name)
    assert token != pseudonym("REC-77", key=KEY, project=settings.project_name, length=32)
    assert ledger.add_requests(settings, [token], via="command") == [token]
    assert ledger.add_requests(settings, [token], via="redcap") == []  # recorded once
    text = ledger.ledger_path(settings).read_text(encoding="utf-8")
    assert "REC-77" not in text and ledger.ledger_path(settings).stat().st_mode & 0o077 == 0
    assert ledger.withdrawn_among(["REC-77", "REC-78"], {token}, key=KEY, project=settings.project_name) == {"REC-77"}
    assert ledger.withdrawn_among(["REC-77"], {token}, key=b"other", project=settings.project_name) == set()


# ------------------------------------------------------------------------------ retention
def _raw_pull(settings, pull_id: str, received_at: str) -> Path:
    target = settings.data_dir / "01_raw" / "redcap" / pull_id
    target.mkdir(parents=True)
    (target / "metadata.csv").write_text(
        "field_name,form_name,field_type,identifier\nrecord_id,famille,text,\nfam_nom_parent,famille,text,y\n"
        "fam_telephone,famille,text,y\nisole_contact,famille,yesno,\n", encoding="utf-8",
    )
    (target / "records_0001.csv").write_text(
        "record_id,redcap_event_name,fam_nom_parent,fam_telephone,isole_contact\n1,inclusion_arm_1,Tremblay,514-555-0101,1\n",
        encoding="utf-8",
    )
    (target / "log.csv").write_text("timestamp,username,action,details,record\n2026-01-01 10:00,u,Update record 1,fam_telephone = '514-555-0101',1\n", encoding="utf-8")
    write_manifest(target, source="redcap", pull_id=pull_id, received_at=received_at, parameters={}, files=[], staged=True, error=None)
    return target


def test_old_pulls_lose_their_identifier_columns_and_say_so(tmp_path: Path) -> None:
    settings = load_settings(tmp_path)
    old = _raw_pull(settings, "20200101T000000Z-aaaaaa", "2020-01-01T00:00:00Z")
    recent = _raw_pull(settings, "29990101T000000Z-bbbbbb", "2999-01-01T00:00:00Z")
    plan = plan_retention(settings)
    assert [(item.pull_id, item.columns) for item in plan] == [
        ("20200101T000000Z-aaaaaa", {"log.csv": ["details"], "records_0001.csv": ["fam_nom_parent", "fam_telephone"]})
    ]
    assert apply_retention(settings, plan) == {"pulls": 1, "files": 2, "columns": 3}
    plain = {name: read_raw_file(old / name, settings=settings) for name in ("records_0001.csv", "log.csv")}
    assert plain["records_0001.csv"] == b"record_id,redcap_event_name,isole_contact\n1,inclusion_arm_1,1\n"
    assert b"555-0101" not in plain["log.csv"] and b"Tremblay" in read_raw_file(recent / "records_0001.csv", settings=settings)
    assert b"Tremblay" not in (old / "records_0001.csv").read_bytes()  # sealed again: nothing readable without the key
    record = json.loads((old / "manifest.json").read_text(encoding="utf-8"))["retention"]
    assert record["raw_retention_days"] == 90 and {entry["path"] for entry in record["files"]} == {"log.csv", "records_0001.csv"}
    assert all(entry["sha256_before"] != entry["sha256_after"] for entry in record["files"])
    assert plan_retention(settings) == []  # done once


def test_the_retention_period_comes_from_the_settings(tmp_path: Path) -> None:
    (tmp_path / "proximite.toml").write_text("[privacy]\nraw_retention_days = 100000\n", encoding="utf-8")
    settings = load_settings(tmp_path)
    _raw_pull(settings, "20200101T000000Z-aaaaaa", "2020-01-01T00:00:00Z")
    assert plan_retention(settings) == []


# ------------------------------------------------------------------------------ superseded snapshots
def test_a_snapshot_written_again_after_a_withdrawal_is_not_superseded(tmp_path: Path) -> None:
    from proximite.cohort.privacy.superseded import current_superseded, is_superseded, read_superseded, supersede_snapshots

    settings = load_settings(tmp_path)
    folder = settings.reporting_dir / "snapshot-2026-01-01-public-quebec"
    folder.mkdir(parents=True)
    (folder / "manifest.json").write_text('{"generated_at": "2026-01-01T06:00:00+00:00"}', encoding="utf-8")
    assert supersede_snapshots(settings, reason="test") == [folder.name]
    assert supersede_snapshots(settings, reason="test") == []  # listed once
    assert is_superseded(settings, folder) and current_superseded(settings) == [folder.name]
    (folder / "manifest.json").write_text('{"generated_at": "2026-01-01T09:00:00+00:00"}', encoding="utf-8")
    assert not is_superseded(settings, folder) and current_superseded(settings) == []
    assert [entry["snapshot"] for entry in read_superseded(settings)] == [folder.name]  # the history stays
