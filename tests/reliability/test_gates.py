"""The validation gates with the real engine: a defective batch is quarantined, the last good state stays.

A clean synthetic cohort (40 families) is ingested and built once (``built``); each test copies
that project and plants one defect that ingest's typing lets through (typing already refuses
unknown codes and unreadable dates; the gates catch ranges, cross-table links and plausibility):

- staged: an activity of 5,000 minutes in a partner's template file; a REDCap family whose first
  contact is before the study (pulled through PyCap from the sandbox);
- harmonised: an orphan child and a duplicated family planted by editing a layer-03 Parquet file;
  an exit dated after the pull, refused naming the REDCap record and the field;
- warning only: implausible activity durations in layer 03 (a warning never blocks).

A refused batch must be in ``data/quarantine/<batch>/<source or harmonised>/`` with its report,
the :class:`GateFailed` message must say how many rows broke which rule (and where the report
is), ``LATEST`` and the warehouse must not move, and no value of a person may reach the message.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import pickle
import shutil
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from proximite import pipeline
from proximite.cohort.ingest import MANIFEST_NAME
from proximite.pipeline import ingest
from proximite.cohort.layers import SOURCES, STAGED, latest_pull, quarantine_dir, raw_dir, staged_dir
from proximite.cohort.privacy.encryption import is_encrypted
from proximite.cohort.privacy.storage import read_protected
from proximite.cohort.sandbox.server import SandboxServer
from proximite.pipeline import pull_redcap
from proximite.config import Settings, load_settings
from proximite.expectations.base import FAILURE_COLUMNS
from proximite.expectations.gates import GateFailed, gate_staged

GOOD, BAD = "20240101T000000Z-000001", "20240101T000000Z-000002"
KEY = b"test-key-not-secret-0123456789abcdef"
FAST = {"backoff_seconds": 0.001, "pause_seconds": 0.0, "timeout_seconds": 10, "batch_size": 10, "retries": 1}
REPORT_FILES = ("report.html", "failures.csv", "summary.csv", "summary.json")


@dataclass
class Project:
    settings: Settings
    input_dir: Path
    harmonised_dir: Path


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def built(sandbox_project_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project with a good pull of every source (``GOOD``) and a warehouse built through both gates."""
    root = tmp_path_factory.mktemp("gated") / "project"
    settings = load_settings(root)
    ingest(sandbox_project_dir, settings=settings, pull_id=GOOD)
    pipeline.build_from_harmonised(settings, pipeline.harmonise_staged(settings, key=KEY))
    return root


@pytest.fixture
def project(built: Path, sandbox_project_dir: Path, tmp_path: Path) -> Project:
    """A copy of the built project and of its input directory, free to break."""
    root = tmp_path / "project"
    shutil.copytree(built, root)
    input_dir = tmp_path / "input"
    shutil.copytree(sandbox_project_dir, input_dir)
    settings = load_settings(root)
    (harmonised,) = [path for path in (settings.data_dir / pipeline.HARMONISED).iterdir() if path.is_dir()]
    return Project(settings, input_dir, harmonised)


def _set_cell(path: Path, *, row: int, column: str, value: str, encoding: str = "utf-8") -> None:
    with path.open(encoding=encoding, newline="") as handle:
        rows = list(csv.reader(handle))
    rows[row][rows[0].index(column)] = value
    with path.open("w", encoding=encoding, newline="") as handle:
        csv.writer(handle, lineterminator="\n").writerows(rows)


def _assert_quarantined(settings: Settings, batch: str, folder: str, error: GateFailed, *, tables: list[str]) -> pd.DataFrame:
    """The batch's report and tables are in the quarantine; returns its failures.csv."""
    target = quarantine_dir(settings, batch) / folder
    assert error.quarantine_dir == target
    assert error.report_dir == target / "report"
    # Record ids: every file but quarantine.json is encrypted at rest, and read through the project's keys.
    for name in REPORT_FILES:
        assert is_encrypted(target / "report" / name), name
    for table in tables:
        assert is_encrypted(target / "tables" / f"{table}.parquet"), table
    manifest = json.loads((target / "quarantine.json").read_text(encoding="utf-8"))
    assert manifest["passed"] is False and manifest["blocking"]
    failures = pd.read_csv(
        io.BytesIO(read_protected(target / "report" / "failures.csv", settings=settings)), encoding="utf-8-sig", dtype=str,
        keep_default_na=False,
    )
    assert list(failures.columns) == FAILURE_COLUMNS
    summary = json.loads(read_protected(target / "report" / "summary.json", settings=settings))
    assert summary == json.loads(json.dumps(error.result.to_dict()))
    return failures


def _last_result(settings: Settings, gate: str) -> dict:
    return json.loads((settings.reporting_dir / "validation" / f"{gate}.json").read_text(encoding="utf-8"))


# ------------------------------------------------------------------------------ clean cohort
def test_a_clean_cohort_passes_both_gates_and_leaves_its_results_in_reporting(built: Path) -> None:
    settings = load_settings(built)
    assert not (settings.data_dir / "quarantine").exists()
    for source in SOURCES:
        assert latest_pull(settings, source) == GOOD
        result = _last_result(settings, f"staged-{source}")
        assert result["passed"] is True and result["pull_id"] == GOOD and result["rules"] > 0
        assert result["report"] is None and result["quarantine"] is None
        summary = pd.read_csv(settings.reporting_dir / "validation" / f"staged-{source}.csv")
        assert summary["passed"].all(), summary.loc[~summary["passed"], ["rule_id", "failed", "checked"]]
    harmonised = _last_result(settings, "harmonised")
    assert harmonised["passed"] is True and harmonised["layer"] == "harmonised"
    summary = pd.read_csv(settings.reporting_dir / "validation" / "harmonised.csv")
    # No rule fires on the clean synthetic cohort, warnings included: a firing rule is a false alarm.
    # The cohort is as of a past day, so no REDCap date is after the pull (an error if one were).
    firing = summary[summary["failed"] > 0]
    assert firing.empty, firing[["rule_id", "failed", "checked"]]
    dated = summary.loc[summary["rule_id"].str.endswith(".not_after_pull")]
    assert len(dated) == 8 and (dated["severity"] == "error").all() and (dated["checked"] > 0).all()
    docs = settings.reporting_dir / "data_docs"
    assert docs.is_dir() and any(docs.rglob("*.html"))
    assert settings.warehouse_path.is_file()


# ------------------------------------------------------------------------------ staged gate
def test_an_out_of_range_activity_is_quarantined_and_latest_stays(project: Project) -> None:
    settings = project.settings
    warehouse = _digest(settings.warehouse_path)
    _set_cell(project.input_dir / "registry" / "activities" / "T06-01.csv", row=3, column="minutes", value="5000")
    with pytest.raises(GateFailed) as caught:
        ingest(project.input_dir, settings=settings, sources=["registry"], pull_id=BAD)
    error = caught.value
    message = str(error)
    assert "1 row(s) broke staged.activity.minutes.between (activity)" in message
    assert f"staged pull {BAD} of source 'registry'" in message
    assert str(error.report_dir / "report.html") in message
    assert "5000" not in message and "5,000" not in message  # counts and rule ids, never a value
    failures = _assert_quarantined(settings, BAD, "registry", error, tables=["activity", "worker", "supervision"])
    row = failures[failures["rule_id"] == "staged.activity.minutes.between"].iloc[0]
    assert (row["value"], row["column"], row["source_row"]) == ("5000", "minutes", "3")
    assert row["source_file"].endswith("T06-01.csv")
    # Nothing committed: LATEST, the staged pulls and the warehouse are as they were.
    assert latest_pull(settings, "registry") == GOOD
    assert not staged_dir(settings, "registry", BAD).exists()
    assert not list((settings.data_dir / STAGED / "registry").glob(f".{BAD}*"))
    assert _digest(settings.warehouse_path) == warehouse
    manifest = json.loads((raw_dir(settings, "registry", BAD) / MANIFEST_NAME).read_text(encoding="utf-8"))
    assert manifest["staged"] is False and "staged.activity.minutes.between" in manifest["error"]
    last = _last_result(settings, "staged-registry")
    assert last["passed"] is False and last["report"] == str(error.report_dir / "report.html")
    # The exception travels (Prefect pickles a task's error).
    assert str(pickle.loads(pickle.dumps(error))) == message


@pytest.mark.journey
def test_every_refused_source_of_one_ingest_is_reported(project: Project) -> None:
    settings = project.settings
    _set_cell(project.input_dir / "registry" / "activities" / "T13-01.csv", row=1, column="travel_km", value="-4")
    records = project.input_dir / "redcap" / "records.csv"
    frame = pd.read_csv(records, dtype=str, keep_default_na=False)
    first = frame.index[(frame["redcap_event_name"] == "inclusion_arm_1") & (frame["redcap_repeat_instrument"] == "")][0]
    frame.loc[first, "date_premier_contact"] = "2019-05-01"
    frame.to_csv(records, index=False)
    with pytest.raises(GateFailed) as caught:
        ingest(project.input_dir, settings=settings, pull_id=BAD)
    error = caught.value
    assert {result.source for result in error.results} == {"redcap", "registry"}
    message = str(error)
    assert "staged.famille.date_premier_contact.between (famille)" in message
    assert "staged.activity.travel_km.between (activity)" in message
    assert "2019-05-01" not in message
    for source in SOURCES:  # all sources of one call commit together, or none does
        assert latest_pull(settings, source) == GOOD
        assert not staged_dir(settings, source, BAD).exists()
    by_source = {refusal.result.source: refusal for refusal in [error, *error.others]}
    redcap = _assert_quarantined(settings, BAD, "redcap", by_source["redcap"], tables=["famille", "suivi"])
    _assert_quarantined(settings, BAD, "registry", by_source["registry"], tables=["activity"])
    row = redcap[redcap["rule_id"] == "staged.famille.date_premier_contact.between"].iloc[0]
    assert row["record_id"] == frame.loc[first, "record_id"] and row["event"] == "inclusion_arm_1"
    assert row["value"] == "2019-05-01"  # a date is a safe value for the coordinator's report
    assert not (quarantine_dir(settings, BAD) / "reference").exists()  # sources that passed are not quarantined


def test_a_redcap_pull_that_fails_its_gate_is_quarantined_before_commit(
    project: Project, sandbox_project, pseudonym_env: bytes
) -> None:
    settings = project.settings
    warehouse = _digest(settings.warehouse_path)
    broken = sandbox_project.copy()
    records = broken.records
    famille = (records["redcap_event_name"] == "inclusion_arm_1") & (records["redcap_repeat_instrument"] == "")
    inclusion = records.index[famille]
    records.loc[inclusion[:2], "date_premier_contact"] = "2018-12-31"
    with SandboxServer(broken) as server, pytest.raises(GateFailed) as caught:
        pull_redcap(server.url, token=server.token, settings=settings, full=True, **FAST)
    error = caught.value
    pull_id = error.result.pull_id
    assert "2 row(s) broke staged.famille.date_premier_contact.between (famille)" in str(error)
    _assert_quarantined(settings, pull_id, "redcap", error, tables=["famille", "enfant", "suivi"])
    assert (quarantine_dir(settings, pull_id) / "redcap" / "tables" / "watermark.json").is_file()
    assert latest_pull(settings, "redcap") == GOOD
    assert not staged_dir(settings, "redcap", pull_id).exists()
    assert not list((settings.data_dir / STAGED / "redcap").glob(f".{pull_id}*"))
    manifest = json.loads((raw_dir(settings, "redcap", pull_id) / MANIFEST_NAME).read_text(encoding="utf-8"))
    assert manifest["staged"] is False and "quarantined" in manifest["error"]
    assert _digest(settings.warehouse_path) == warehouse
    assert server.token not in str(error)


def test_revalidating_a_committed_pull_copies_it_and_keeps_latest(project: Project) -> None:
    settings = project.settings
    committed = staged_dir(settings, "cost", GOOD)
    cost = pd.read_parquet(committed / "cost.parquet")
    cost.loc[0, "amount_cad"] = -1.0
    cost.to_parquet(committed / "cost.parquet", index=False)
    with pytest.raises(GateFailed, match=r"1 row\(s\) broke staged.cost.amount_cad.between \(cost\)"):
        gate_staged(settings, source="cost", pull_id=GOOD, staged_dir=committed)
    assert committed.is_dir() and latest_pull(settings, "cost") == GOOD  # LATEST never points at nothing
    assert (quarantine_dir(settings, GOOD) / "cost" / "tables" / "cost.parquet").is_file()


# ------------------------------------------------------------------------------ harmonised gate
def _plant_orphan_child(directory: Path) -> None:
    child = pd.read_parquet(directory / "child.parquet")
    child.loc[child.index[0], "family_id"] = "f" * 16
    child.to_parquet(directory / "child.parquet", index=False)


def _plant_duplicate_family(directory: Path) -> None:
    family = pd.read_parquet(directory / "family.parquet")
    pd.concat([family, family.iloc[[0]]], ignore_index=True).to_parquet(directory / "family.parquet", index=False)


@pytest.mark.parametrize(
    ("plant", "rule", "table"),
    [
        (_plant_orphan_child, "harmonised.child.family_exists", "child"),
        (_plant_duplicate_family, "harmonised.family.key_unique", "family"),
    ],
    ids=["orphan-child", "duplicate-family"],
)
def test_a_harmonised_defect_is_quarantined_and_the_warehouse_stays(project: Project, plant, rule: str, table: str) -> None:
    settings = project.settings
    warehouse = _digest(settings.warehouse_path)
    before = pipeline.warehouse_summary(settings)
    plant(project.harmonised_dir)
    with pytest.raises(GateFailed) as caught:
        pipeline.build_from_harmonised(settings, project.harmonised_dir)
    error = caught.value
    message = str(error)
    assert f"row(s) broke {rule} ({table})" in message
    assert f"harmonised tables {project.harmonised_dir.name}" in message
    assert "The last good warehouse stays in place" in message
    assert str(error.report_dir / "report.html") in message
    failures = _assert_quarantined(
        settings, project.harmonised_dir.name, "harmonised", error, tables=["family", "child", "assessment"]
    )
    assert rule in set(failures["rule_id"])
    assert ("f" * 16) not in message
    assert (quarantine_dir(settings, project.harmonised_dir.name) / "harmonised" / "tables" / "inputs.json").is_file()
    assert not project.harmonised_dir.exists()  # out of layer 03: nothing builds from it by mistake
    assert _digest(settings.warehouse_path) == warehouse
    assert pipeline.warehouse_summary(settings) == before
    assert _last_result(settings, "harmonised")["passed"] is False


def test_a_date_after_the_pull_is_refused_naming_the_record_and_field(project: Project, pseudonym_env: bytes) -> None:
    from proximite.cohort.pseudonym import pseudonymise
    from proximite.expectations.rules import ValidationConfig

    settings = project.settings
    family = pd.read_parquet(project.harmonised_dir / "family.parquet")
    exited = family.index[family["exit_date"].notna()][0]
    pull_day = dt.date.fromisoformat(ValidationConfig.from_settings(settings).as_of[:10])
    family.loc[exited, "exit_date"] = pd.Timestamp(pull_day + dt.timedelta(days=30))
    family.to_parquet(project.harmonised_dir / "family.parquet", index=False)
    with pytest.raises(GateFailed) as caught:
        pipeline.build_from_harmonised(settings, project.harmonised_dir)
    rule = "harmonised.family.exit_date.not_after_pull"
    message = " ".join(str(caught.value).split())
    assert f"1 row(s) broke {rule} (family)" in message
    failures = _assert_quarantined(settings, project.harmonised_dir.name, "harmonised", caught.value, tables=["family"])
    assert set(failures["rule_id"]) == {rule}
    (row,) = failures.loc[failures["rule_id"] == rule].to_dict("records")
    # The coordinator's REDCap record id (the pseudonym's, computed here with the test key) and the field.
    staged = pd.read_parquet(staged_dir(settings, "redcap", GOOD) / "famille.parquet", columns=["record_id"])
    pseudonyms = pseudonymise(staged["record_id"], key=pseudonym_env, project=settings.project_name,
                              length=int(settings["pseudonym"].get("id_length", 16)))
    record_id = dict(zip(pseudonyms, staged["record_id"]))[family.loc[exited, "family_id"]]
    assert (row["severity"], row["table"], row["column"]) == ("error", "family", "exit_date")
    assert row["record_id"] == record_id and row["key"] == f"family_id={family.loc[exited, 'family_id']}"
    assert row["value"] == (pull_day + dt.timedelta(days=30)).isoformat()


def test_validate_harmonised_is_a_step_that_returns_the_result_as_data(project: Project) -> None:
    outcome = pipeline.validate_harmonised(project.settings, project.harmonised_dir)
    assert outcome["passed"] is True and outcome["layer"] == "harmonised"
    assert outcome["pull_id"] == project.harmonised_dir.name and outcome["blocking"] == []
    json.dumps(outcome)
    _plant_orphan_child(project.harmonised_dir)
    with pytest.raises(GateFailed):
        pipeline.validate_harmonised(project.settings, project.harmonised_dir)


def test_build_without_validation_bypasses_the_gate(project: Project) -> None:
    _plant_orphan_child(project.harmonised_dir)
    info = pipeline.build_from_harmonised(project.settings, project.harmonised_dir, validate=False)
    assert info.build_id
    assert not (project.settings.data_dir / "quarantine").exists()


def test_a_warning_only_failure_does_not_block(project: Project) -> None:
    settings = project.settings
    activity = pd.read_parquet(project.harmonised_dir / "activity.parquet")
    implausible = activity.index[: max(len(activity) // 10, 2)]
    # 10 % of activities before their worker's tenure: beyond the 1 % a warning rule tolerates.
    activity.loc[implausible, "activity_date"] = pd.Timestamp("2001-01-01")
    activity.to_parquet(project.harmonised_dir / "activity.parquet", index=False)
    warehouse = _digest(settings.warehouse_path)
    info = pipeline.build_from_harmonised(settings, project.harmonised_dir)
    assert info.build_id
    assert _digest(settings.warehouse_path) != warehouse  # the build went through
    assert not (settings.data_dir / "quarantine").exists()
    last = _last_result(settings, "harmonised")
    assert last["passed"] is True and last["rules_failed"] >= 1 and last["blocking"] == []
    summary = pd.read_csv(settings.reporting_dir / "validation" / "harmonised.csv").set_index("rule_id")
    warned = summary.loc["harmonised.activity.within_tenure"]
    assert warned["severity"] == "warning" and not warned["passed"] and warned["failed"] == len(implausible)


def test_data_docs_can_be_turned_off(project: Project) -> None:
    root = project.settings.project_dir
    shutil.rmtree(root / "reporting" / "data_docs")
    (root / "proximite.toml").write_text("[validation]\ndata_docs = false\n", encoding="utf-8")
    settings = load_settings(root)
    result = gate_staged(settings, source="cost", pull_id=GOOD, staged_dir=staged_dir(settings, "cost", GOOD))
    assert result.passed
    assert not (root / "reporting" / "data_docs").exists()
    assert _last_result(settings, "staged-cost")["passed"] is True
