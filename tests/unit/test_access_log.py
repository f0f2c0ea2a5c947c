"""The access log: one JSON line per access, mode 0600, counts only, whole lines under concurrent writers."""

from __future__ import annotations

import datetime as dt
import json
import multiprocessing
import os
import pwd
import stat
import sys
from pathlib import Path

import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ingest_inputs import build_input_dir, redcap_records  # noqa: E402

from proximite.cohort.codebook import load_codebook  # noqa: E402
from proximite.cohort.privacy.access_log import (  # noqa: E402
    KEY_ROTATION,
    RETENTION,
    WITHDRAWAL,
    AccessLogError,
    access_log_path,
    read_access_log,
    record_access,
    record_key_rotation,
    record_retention,
    record_withdrawal,
)
from proximite.cohort.redcap.project import RedcapProject  # noqa: E402
from proximite.cohort.redcap.records import stage_records  # noqa: E402
from proximite.cohort.redcap.refusal import StagingRefused, quarantine_refusal  # noqa: E402
from proximite.config import Settings, load_settings  # noqa: E402
from proximite.expectations.base import FAILURE_COLUMNS, SUMMARY_COLUMNS, ValidationResult  # noqa: E402
from proximite.expectations.gates import GateFailed  # noqa: E402
from proximite.pipeline import ingest  # noqa: E402
from proximite.pipeline.access import log_followups, log_refusal, logging_refusals  # noqa: E402


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(tmp_path / "project")


def _lines(settings: Settings) -> list[str]:
    return access_log_path(settings).read_text(encoding="utf-8").splitlines()


def test_each_access_appends_one_json_line_with_time_user_command_and_counts(settings: Settings) -> None:
    moment = dt.datetime(2026, 1, 21, 1, 2, 3, tzinfo=dt.timezone(dt.timedelta(hours=-5)))
    first = record_access(settings, "lookup", {"asked": 2, "found": 1, "not_found": 1}, now=moment)
    record_access(settings, "followups", {"rows": 7, "families": 6, "record_ids": 6}, detail="csv /tmp/due.csv")
    lines = _lines(settings)
    assert len(lines) == 2
    parsed = [json.loads(line) for line in lines]
    assert parsed[0] == first
    assert parsed[0]["time"] == "2026-01-21T06:02:03Z"  # UTC, whatever the caller's zone
    assert parsed[0]["user"] == pwd.getpwuid(os.getuid()).pw_name and parsed[0]["uid"] == os.getuid()
    assert parsed[0]["command"] == "lookup" and parsed[0]["counts"] == {"asked": 2, "found": 1, "not_found": 1}
    assert parsed[0]["detail"] is None and parsed[1]["detail"] == "csv /tmp/due.csv"
    assert read_access_log(settings) == parsed


def test_the_log_is_created_mode_0600_in_a_0700_folder_whatever_the_umask(settings: Settings) -> None:
    previous = os.umask(0)
    try:
        record_access(settings, "lookup", {"asked": 1})
    finally:
        os.umask(previous)
    path = access_log_path(settings)
    assert path == settings.project_dir / "privacy" / "access.log"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


@pytest.mark.parametrize(
    "counts",
    [
        {"records": "1001"},  # a record id as a count
        {"family": "Tremblay"},
        {"asked": 2.0},
        {"asked": True},
        {"asked": -1},
        {"Tremblay": 1},  # a value as a count's name
        {"record 1001": 1},
        {"": 1},
    ],
)
def test_a_value_is_refused_and_nothing_is_written(settings: Settings, counts: dict) -> None:
    with pytest.raises(AccessLogError) as caught:
        record_access(settings, "lookup", counts)
    assert not access_log_path(settings).exists()
    message = str(caught.value)
    assert "1001" not in message and "Tremblay" not in message


@pytest.mark.parametrize(
    ("command", "detail"),
    [("Lookup Tremblay", None), ("lookup\n", None), ("lookup", "line one\nline two"), ("lookup", "x" * 301)],
)
def test_a_command_or_detail_that_could_carry_a_value_is_refused(settings: Settings, command: str, detail: str | None) -> None:
    with pytest.raises(AccessLogError):
        record_access(settings, command, {"asked": 1}, detail=detail)
    assert not access_log_path(settings).exists()


def _writer(project_dir: str, worker: int, lines: int) -> None:
    settings = load_settings(project_dir)
    for index in range(lines):
        # A long detail makes each line a few hundred bytes: interleaved writes would show.
        record_access(settings, f"worker {worker}", {"index": index, "worker": worker}, detail=f"w{worker}-" + "x" * 250)


def test_concurrent_appends_from_several_processes_stay_whole_lines(settings: Settings) -> None:
    context = multiprocessing.get_context("spawn")
    workers, lines = 4, 150
    processes = [context.Process(target=_writer, args=(str(settings.project_dir), worker, lines)) for worker in range(workers)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
        assert process.exitcode == 0
    raw = _lines(settings)
    assert len(raw) == workers * lines
    entries = [json.loads(line) for line in raw]  # every line parses: none was cut or interleaved
    for worker in range(workers):
        mine = [entry for entry in entries if entry["command"] == f"worker {worker}"]
        assert [entry["counts"]["index"] for entry in mine] == list(range(lines))
        assert all(entry["detail"] == f"w{worker}-" + "x" * 250 for entry in mine)


def test_the_hooks_of_withdrawal_retention_and_key_rotation_write_their_commands(settings: Settings) -> None:
    record_withdrawal(settings, {"families": 1, "raw_files_rewritten": 3})
    record_retention(settings, {"pulls_reduced": 2})
    record_key_rotation(settings, {"files_reencrypted": 5}, detail="raw key")
    assert [entry["command"] for entry in read_access_log(settings)] == [WITHDRAWAL, RETENTION, KEY_ROTATION]
    with pytest.raises(AccessLogError):
        record_withdrawal(settings, {"family": "1001"})


def test_an_edited_log_is_named_by_line_never_quoted(settings: Settings) -> None:
    record_access(settings, "lookup", {"asked": 1})
    with access_log_path(settings).open("a", encoding="utf-8") as handle:
        handle.write("Tremblay 514-555-0101\n")
    with pytest.raises(AccessLogError) as caught:
        read_access_log(settings)
    assert "line 2" in str(caught.value) and "Tremblay" not in str(caught.value)
    assert read_access_log(load_settings(settings.project_dir / "elsewhere")) == []


# ------------------------------------------------------------------------------ what the pipeline logs
def _refused(tmp_path: Path, settings: Settings) -> StagingRefused:
    cb = load_codebook()
    columns, rows = redcap_records(cb)
    frame = pd.DataFrame(rows, columns=columns)
    frame.loc[3, "iso_transport"] = "9"
    frame.loc[10, "suivi_date"] = "hier"
    with pytest.raises(StagingRefused) as caught:
        stage_records(frame, RedcapProject.from_codebook(cb), path=tmp_path / "records.csv")
    return quarantine_refusal(caught.value, settings=settings, pull_id="P1")


def test_a_refusal_report_with_record_ids_is_logged_with_counts_and_its_folder(tmp_path: Path, settings: Settings) -> None:
    refused = _refused(tmp_path, settings)
    with pytest.raises(StagingRefused), logging_refusals(settings, command="pull redcap"):
        raise refused
    (entry,) = read_access_log(settings)
    assert entry["command"] == "pull redcap"
    assert entry["counts"] == {"defects": 2, "records": 2}
    assert entry["detail"] == "report data/quarantine/P1/redcap/report"
    text = access_log_path(settings).read_text(encoding="utf-8")
    assert '"1001"' not in text and '"1002"' not in text and "hier" not in text
    # Another error, or a report without record ids, adds nothing.
    with pytest.raises(ValueError), logging_refusals(settings, command="ingest"):
        raise ValueError("not a refusal")
    assert log_refusal(settings, StagingRefused("x.csv", refused.defects.assign(record_id=pd.NA)), command="ingest") is None
    assert len(read_access_log(settings)) == 1


def test_an_ingest_refused_at_staging_logs_one_line(tmp_path: Path, settings: Settings) -> None:
    cb = load_codebook()
    source = build_input_dir(tmp_path / "input", cb)
    records = source / "redcap" / "records.csv"
    frame = pd.read_csv(records, dtype=str, keep_default_na=False)
    frame.loc[3, "iso_transport"] = "9"
    frame.to_csv(records, index=False, lineterminator="\n")
    with pytest.raises(StagingRefused):
        ingest(source, settings=settings, validate=False, sources=["reference", "redcap"])
    (entry,) = read_access_log(settings)
    assert entry["command"] == "ingest" and entry["counts"] == {"defects": 1, "records": 1}
    assert entry["detail"].startswith("report data/quarantine/") and entry["detail"].endswith("/redcap/report")


def _gate_failed(settings: Settings, source: str, records: list[str | None]) -> GateFailed:
    summary = pd.DataFrame([dict.fromkeys(SUMMARY_COLUMNS)]).assign(
        layer="staged", source=source, table="t", rule_id=f"staged.{source}.rule", category="conformance",
        severity="error", threshold=0.0, checked=10, failed=len(records), failed_share=0.1, passed=False,
    )
    failures = pd.DataFrame({column: [None] * len(records) for column in FAILURE_COLUMNS}).assign(record_id=records)
    report = settings.data_dir / "quarantine" / "P2" / source / "report"
    return GateFailed(ValidationResult("staged", source, "P2", summary, failures), report)


def test_a_gate_refusal_naming_records_is_logged_with_every_refused_source(settings: Settings) -> None:
    redcap = _gate_failed(settings, "redcap", ["1001", "1001", "1002"])
    survey = _gate_failed(settings, "staff_survey", ["7"])
    both = GateFailed(redcap.result, redcap.report_dir, others=[survey])
    with pytest.raises(GateFailed), logging_refusals(settings, command="ingest"):
        raise both
    (entry,) = read_access_log(settings)
    assert entry["counts"] == {"failing_rows": 4, "records": 3}
    assert entry["detail"] == "report data/quarantine/P2/redcap/report; data/quarantine/P2/staff_survey/report"
    # A registry file's refusal names no REDCap record: no line.
    assert log_refusal(settings, _gate_failed(settings, "registry", [None, None]), command="ingest") is None
    assert len(read_access_log(settings)) == 1


def test_a_followup_list_is_logged_only_when_record_ids_were_looked_up(settings: Settings) -> None:
    due = pd.DataFrame({"family_id": ["a1", "a1", "b2"], "record_id": pd.array(["7", "7", pd.NA], dtype="string")})
    for reason in ("no_key", "no_pull", "not_asked"):
        assert log_followups(settings, due, reason=reason, command="followups") is None
    assert not access_log_path(settings).exists()
    entry = log_followups(settings, due, reason="not_found", command="followups", detail="csv due.csv")
    assert entry is not None and entry["counts"] == {"rows": 3, "families": 2, "record_ids": 2}
    assert '"7"' not in access_log_path(settings).read_text(encoding="utf-8")
