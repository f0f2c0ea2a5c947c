"""Journeys of `proximite privacy withdraw` and `proximite privacy retention` on a project ingested from files.

A coordinator receives a withdrawal by phone: the family's rows leave the REDCap export, the partner's
registry file (whatever its format) and the staged tables at once, the access log says so, and an
ingest of the same export afterwards (REDCap still holds the record) is cleared again. Retention
reduces old pulls to what the audit trail needs, and the project still builds.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from typer.testing import CliRunner

from proximite.cli import app
from proximite.cohort import layers
from proximite.cohort.privacy.access_log import read_access_log
from proximite.cohort.pseudonym import pseudonym
from proximite.cohort.raw_files import read_raw_file
from proximite.config import load_settings

runner = CliRunner()


def _invoke(*arguments: str) -> str:
    result = runner.invoke(app, list(arguments))
    assert result.exit_code == 0, result.output
    return result.output


def _plain(path: Path) -> bytes:
    """A raw file as received (decrypted with the project's key)."""
    return read_raw_file(path, settings=load_settings(path.parents[4]))


def _first_column(path: Path) -> set[str]:
    rows = list(csv.reader(io.StringIO(_plain(path).decode("utf-8-sig"), newline="")))
    return {row[0] for row in rows[1:] if row}


def _warehouse_families(settings) -> set[str]:
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as connection:
        return set(connection.execute("SELECT family_id FROM family").df()["family_id"])


def _chosen_family(settings) -> tuple[str, pd.DataFrame]:
    """A family whose activities come from a partner's XLSX or SPSS file when there is one (else any)."""
    activity = layers.read_staged(settings, "registry")["activity"]
    named = activity.dropna(subset=["family_record_id"])
    binary = named.loc[~named["source_file"].str.endswith(".csv")]
    record = str((binary if not binary.empty else named)["family_record_id"].iloc[0])
    return record, named.loc[named["family_record_id"] == record, ["source_file", "source_row"]]


@pytest.mark.journey
def test_a_withdrawal_by_command_clears_every_format_and_every_later_ingest(
    sandbox_project_dir: Path, tmp_path: Path, pseudonym_env: bytes
) -> None:
    project = tmp_path / "project"
    _invoke("ingest", str(sandbox_project_dir), "--project-dir", str(project))
    _invoke("build", "--project-dir", str(project))
    settings = load_settings(project)
    record, rows = _chosen_family(settings)
    name = pseudonym(record, key=pseudonym_env, project=settings.project_name, length=int(settings["pseudonym"]["id_length"]))
    assert name in _warehouse_families(settings)
    first_pull = layers.latest_pull(settings, "registry")

    output = _invoke("privacy", "withdraw", "--record", record, "--yes", "--project-dir", str(project))
    assert "1 family(ies) found and removed" in output and name not in output

    raw_redcap = layers.raw_dir(settings, "redcap", layers.latest_pull(settings, "redcap"))
    assert record not in _first_column(raw_redcap / "records.csv")
    manifest = json.loads((layers.raw_dir(settings, "registry", first_pull) / "manifest.json").read_text(encoding="utf-8"))
    changed = {change["path"]: change for change in manifest["redactions"][0]["files"]}
    expected = rows.groupby("source_file").size().to_dict()
    assert {path: change["rows_before"] - change["rows_after"] for path, change in changed.items()} == expected
    for table in [*layers.read_staged(settings, "redcap").values(), layers.read_staged(settings, "registry")["activity"]]:
        for column in ("record_id", "family_record_id"):
            if column in table.columns:
                assert record not in set(table[column].dropna().astype(str))
    entry = read_access_log(settings)[-1]
    assert entry["command"] == "privacy withdraw" and entry["counts"]["families"] == 1
    assert name not in json.dumps(read_access_log(settings))

    # The export still holds the record (REDCap does): the next ingest is cleared by the ledger.
    _invoke("ingest", str(sandbox_project_dir), "--project-dir", str(project))
    _invoke("build", "--project-dir", str(project))
    assert name not in _warehouse_families(settings)
    raw_redcap = layers.raw_dir(settings, "redcap", layers.latest_pull(settings, "redcap"))
    assert record not in _first_column(raw_redcap / "records.csv")
    assert "redactions" in json.loads((raw_redcap / "manifest.json").read_text(encoding="utf-8"))


def _age_manifests(settings, days: int) -> None:
    """Make every raw pull look received ``days`` ago (as a project would be after that long)."""
    stamp = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")
    for path in (settings.data_dir / "01_raw").glob("*/*/manifest.json"):
        manifest = json.loads(path.read_text(encoding="utf-8"))
        manifest["received_at"] = stamp
        path.chmod(0o644)
        path.write_text(json.dumps(manifest), encoding="utf-8")


@pytest.mark.journey
def test_retention_reduces_old_pulls_and_the_project_still_builds(
    sandbox_project_dir: Path, tmp_path: Path, pseudonym_env: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "project"
    _invoke("ingest", str(sandbox_project_dir), "--project-dir", str(project))
    settings = load_settings(project)
    records = pd.read_csv(sandbox_project_dir / "redcap" / "records.csv", dtype=str, keep_default_na=False)
    phones = [phone.encode() for phone in records["fam_telephone"] if phone][:20]
    raw_records = layers.raw_dir(settings, "redcap", layers.latest_pull(settings, "redcap")) / "records.csv"
    assert any(phone in _plain(raw_records) for phone in phones)

    assert "No raw pull older than 90 days" in _invoke("privacy", "retention", "--project-dir", str(project))
    _age_manifests(settings, days=120)
    before = _plain(raw_records)
    dry = _invoke("privacy", "retention", "--dry-run", "--project-dir", str(project))
    assert "dry run" in dry and "fam_telephone" in dry and _plain(raw_records) == before

    _invoke("privacy", "retention", "--project-dir", str(project))
    reduced = _plain(raw_records)
    assert not any(phone in reduced for phone in phones) and b"fam_nom_parent" not in reduced
    assert _first_column(raw_records) == set(records["record_id"])
    retention = json.loads((raw_records.parent / "manifest.json").read_text(encoding="utf-8"))["retention"]
    assert retention["raw_retention_days"] == 90 and retention["files"][0]["path"] == "records.csv"
    assert read_access_log(settings)[-1]["command"] == "privacy retention"
    _invoke("build", "--project-dir", str(project))
    assert "No raw pull older than 90 days holds identifier columns" in _invoke("privacy", "retention", "--project-dir", str(project))

    # The key rotates; the reduced pull reads the same with the new key, and the log says so.
    new_key = "ab" * 32
    monkeypatch.setenv("NEW_RAW_KEY", new_key)
    rotated = _invoke("privacy", "rotate-key", "--new-key-env", "NEW_RAW_KEY", "--project-dir", str(project))
    assert new_key not in rotated
    monkeypatch.setenv("PROXIMITE_RAW_KEY", new_key)
    assert _plain(raw_records) == reduced
    entry = read_access_log(settings)[-1]
    assert entry["command"] == "privacy rotate-key" and entry["counts"]["rewritten"] > 0
    assert "privacy rotate-key" in _invoke("privacy", "log", "--project-dir", str(project))
