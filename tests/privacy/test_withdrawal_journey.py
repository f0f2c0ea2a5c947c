"""Journey: a family withdraws its consent and its data in REDCap; the coordinator pulls and builds.

Its REDCap record id and its pseudonym then appear in no file of the project directory (raw pulls
included: the exports, the project log, the partner's registry file), the indicators are exactly
those of a project that never had it, the raw manifests record the redaction, and the snapshot
written before is listed as superseded.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
import redcap
from typer.testing import CliRunner

from proximite.cli import app
from proximite.cohort.privacy.storage import protected_files
from proximite.cohort.privacy.superseded import read_superseded
from proximite.cohort.pseudonym import pseudonym
from proximite.cohort.raw_files import read_raw_file
from proximite.config import load_settings

runner = CliRunner()
#: A record id no other value of the project can contain.
WITHDRAWN = "RETRAIT-4242"
FILE_SOURCES = ["--source", "reference", "--source", "registry", "--source", "cost"]


def _invoke(*arguments: str) -> str:
    result = runner.invoke(app, list(arguments))
    assert result.exit_code == 0, result.output
    return result.output


def _partner_csvs(input_dir: Path) -> dict[Path, pd.DataFrame]:
    """The partners' UTF-8, comma-separated activity files (the others differ only in their dialect)."""
    frames = {}
    for path in sorted((input_dir / "registry" / "activities").glob("*.csv")):
        try:
            frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
        except (UnicodeDecodeError, pd.errors.ParserError):
            continue
        if "family_record_id" in frame.columns:
            frames[path] = frame
    return frames


def _template_family(input_dir: Path) -> str:
    """A family with activities in a partner's CSV file (so the registry names it)."""
    for frame in _partner_csvs(input_dir).values():
        named = frame.loc[frame["family_record_id"] != "", "family_record_id"]
        if not named.empty:
            return str(named.iloc[0])
    raise AssertionError("no partner CSV names a family")


def _add_family(server, input_dir: Path, template: str) -> None:
    """The family WITHDRAWN: the template's REDCap rows and partner activities under a new record id."""
    project = redcap.Project(server.url, server.token)
    rows = project.export_records(format_type="json", records=[template], export_data_access_groups=True)
    for row in rows:
        row["record_id"] = WITHDRAWN
    project.import_records(rows)
    for path, frame in _partner_csvs(input_dir).items():
        copies = frame.loc[frame["family_record_id"] == template].copy()
        if copies.empty:
            continue
        copies["family_record_id"] = WITHDRAWN
        copies["activity_id"] = copies["activity_id"] + "R"
        with path.open("a", encoding="utf-8", newline="") as handle:
            csv.writer(handle, lineterminator="\n").writerows(copies.to_numpy().tolist())


def _withdraw_in_redcap(server) -> None:
    """The coordinator fills the exit form: consent withdrawn, participation and data."""
    project = redcap.Project(server.url, server.token)
    project.import_records([{
        "record_id": WITHDRAWN, "redcap_event_name": "sortie_arm_1", "sortie_date": "2025-01-15",
        "sortie_raison": "retrait_consentement", "sortie_retrait": "participation_donnees", "sortie_complete": "2",
    }])


def _run(project: Path, input_dir: Path, server) -> pd.DataFrame:
    """Pull, ingest the partner files, build, write the snapshot; the indicators of this build."""
    _invoke("pull", "redcap", "--url", server.url, "--token-env", "SANDBOX_TOKEN", "--project-dir", str(project))
    _invoke("ingest", str(input_dir), "--project-dir", str(project), *FILE_SOURCES)
    _invoke("build", "--project-dir", str(project))
    _invoke("snapshot", "--project-dir", str(project))
    newest = max((project / "data" / "04_indicators").glob("*/indicators.parquet"), key=lambda path: path.stat().st_mtime)
    return pd.read_parquet(newest)


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.drop(columns=[name for name in ("build_id", "computed_at") if name in frame.columns])
    return frame.sort_values(list(frame.columns), kind="stable").reset_index(drop=True)


def _files_holding(project: Path, needles: list[bytes]) -> list[str]:
    """Files of the project holding a needle; raw and quarantine files are read decrypted."""
    settings = load_settings(project)
    protected = set(protected_files(settings))
    found = []
    for path in sorted(project.rglob("*")):
        if path.is_file():
            data = read_raw_file(path, settings=settings) if path in protected else path.read_bytes()
            if any(needle in data for needle in needles):
                found.append(str(path.relative_to(project)))
    return found


@pytest.mark.journey
def test_a_withdrawal_in_redcap_destroys_the_family_in_every_layer(
    redcap_sandbox, sandbox_project_dir: Path, tmp_path: Path, pseudonym_env: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SANDBOX_TOKEN", redcap_sandbox.token)
    baseline = _run(tmp_path / "never", sandbox_project_dir, redcap_sandbox)

    input_dir = tmp_path / "input"
    shutil.copytree(sandbox_project_dir, input_dir)
    _add_family(redcap_sandbox, input_dir, _template_family(input_dir))
    project = tmp_path / "project"
    with_family = _run(project, input_dir, redcap_sandbox)
    settings = load_settings(project)
    name = pseudonym(WITHDRAWN, key=pseudonym_env, project=settings.project_name, length=int(settings["pseudonym"]["id_length"]))
    needles = [WITHDRAWN.encode(), name.encode()]
    before = _files_holding(project, needles)
    assert any(path.startswith("data/01_raw/redcap") for path in before)
    assert b"fam_telephone" not in next((project / "data/01_raw/redcap").glob("*/records_0001.csv")).read_bytes()  # sealed
    assert any(path.startswith("data/01_raw/registry") for path in before)
    assert not _sorted(with_family).equals(_sorted(baseline))
    first_snapshot = sorted(path.name for path in (project / "reporting").glob("snapshot-*"))

    _withdraw_in_redcap(redcap_sandbox)
    after = _run(project, input_dir, redcap_sandbox)

    assert _files_holding(project, needles) == []
    pd.testing.assert_frame_equal(_sorted(after), _sorted(baseline))
    redactions = [
        redaction for manifest in (project / "data" / "01_raw").glob("*/*/manifest.json")
        for redaction in json.loads(manifest.read_text(encoding="utf-8")).get("redactions", [])
    ]
    assert redactions and all(change["rows_after"] < change["rows_before"] for entry in redactions for change in entry["files"])
    assert all(change["sha256_before"] != change["sha256_after"] for entry in redactions for change in entry["files"])
    assert {entry["snapshot"] for entry in read_superseded(settings)} == set(first_snapshot)
    ledger = (project / "privacy" / "withdrawals.json").read_text(encoding="utf-8")
    assert WITHDRAWN not in ledger and name not in ledger and '"via": "redcap"' in ledger
