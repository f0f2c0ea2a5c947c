"""End to end: synth → ingest → harmonise → build, through the CLI and through the Prefect flow."""

from __future__ import annotations

import html
import json
import os
import stat
import subprocess
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from typer.testing import CliRunner

from proximite.cli import app
from proximite.cohort.codebook import load_codebook
from proximite.cohort.privacy.encryption import is_encrypted
from proximite.cohort.raw_files import read_raw_file
from proximite.config import load_settings
from synth_dates import SYNTH_AS_OF
from tests.flows.server_processes import proximite_command

runner = CliRunner()


def _invoke(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, f"{args}: {result.output}"
    return result.output


@pytest.fixture(scope="module")
def synthetic_input(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("synth") / "input"
    _invoke("synth", "--out", str(out), "--families", "60", "--territories", "4", "--seed", "7", "--as-of", SYNTH_AS_OF)
    return out


@pytest.mark.journey
def test_cli_ingest_then_build_gives_designs_tables_with_every_record(
    synthetic_input: Path, tmp_path: Path, pseudonym_env: bytes
) -> None:
    project = tmp_path / "project"
    _invoke("ingest", str(synthetic_input), "--project-dir", str(project))
    output = _invoke("build", "--project-dir", str(project))
    assert "families" in output

    records = pd.read_csv(synthetic_input / "redcap" / "records.csv", dtype=str, keep_default_na=False)
    expected_families = records.loc[records["redcap_event_name"] == "inclusion_arm_1", "record_id"].nunique()
    expected_children = (records["redcap_repeat_instrument"] == "enfant").sum()
    expected_assessments = records["redcap_event_name"].isin(["t0_arm_1", "t6_arm_1", "t12_arm_1", "t24_arm_1"]).sum()
    expected_referrals = (records["redcap_repeat_instrument"] == "reference").sum()

    with duckdb.connect(str(project / "warehouse.duckdb"), read_only=True) as connection:
        tables = {row[0] for row in connection.execute("SELECT table_name FROM information_schema.tables").fetchall()}
        assert set(load_codebook().tables) | {"build"} <= tables
        count = lambda table: connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: E731
        assert count("family") == expected_families
        assert count("child") == expected_children
        assert count("assessment") == expected_assessments
        assert count("referral") == expected_referrals
        assert count("build") == 1
        # No identifier field of REDCap reaches the warehouse.
        columns = {row[0] for row in connection.execute("SELECT column_name FROM information_schema.columns").fetchall()}
        assert not columns & set(load_codebook().identifier_fields)

    from proximite.cohort import panel

    long_panel = panel(project)
    assert long_panel.index.names == ["family_id", "wave"]
    assert set(long_panel.index.get_level_values("wave")) <= {0, 6, 12, 24}
    assert len(long_panel) == expected_assessments


@pytest.mark.journey
def test_build_without_a_key_fails_clearly_and_keeps_the_warehouse(
    synthetic_input: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pseudonym_env: bytes
) -> None:
    project = tmp_path / "project"
    _invoke("ingest", str(synthetic_input), "--project-dir", str(project))
    _invoke("build", "--project-dir", str(project))
    before = (project / "warehouse.duckdb").read_bytes()
    monkeypatch.delenv("PROXIMITE_PSEUDONYM_KEY")
    result = runner.invoke(app, ["build", "--project-dir", str(project)])
    assert result.exit_code == 1
    assert "no pseudonym key" in result.output
    assert (project / "warehouse.duckdb").read_bytes() == before


@pytest.mark.journey
def test_demo_runs_the_pipeline_flow_in_prefects_ephemeral_mode(tmp_path: Path) -> None:
    # `proximite demo` as a user types it, in its own process: no API URL and no pseudonym or raw
    # key in the environment, so Prefect starts its ephemeral server and the demo writes its key files.
    # (In-process, a second Prefect test harness beside the session's hung draining its workers.)
    # As of a past day, so the data do not change with the calendar.
    env = {
        name: value for name, value in os.environ.items()
        if name not in {"PROXIMITE_PSEUDONYM_KEY", "PROXIMITE_RAW_KEY", "PREFECT_API_URL"}
    }
    env.update({"COLUMNS": "250", "NO_COLOR": "1", "TERM": "dumb"})
    project = tmp_path / "demo"
    done = subprocess.run(
        [*proximite_command(), "demo", "--project-dir", str(project), "--families", "40", "--territories", "3",
         "--as-of", SYNTH_AS_OF],
        env=env, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
    output = done.stdout
    key_file = project / ".pseudonym_key"
    assert key_file.is_file() and stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert json.loads((project / "input" / "truth.json").read_text(encoding="utf-8"))["generator"]["as_of"] == SYNTH_AS_OF
    assert "Pseudonym key" in output and "mode 0600" in output
    raw_key = project / ".raw_key"  # 01 raw is encrypted at rest with the demo's own key
    assert raw_key.is_file() and stat.S_IMODE(raw_key.stat().st_mode) == 0o600 and "Raw-layer key" in output
    assert raw_key.read_text(encoding="utf-8").split()[-1] not in output  # the key itself is never shown
    assert "assessments at T0" in output
    assert (project / "warehouse.duckdb").is_file()
    raw_manifests = list((project / "data" / "01_raw").glob("*/*/manifest.json"))
    assert {path.parts[-3] for path in raw_manifests} == {
        "reference", "redcap", "registry", "cost", "partner_survey", "staff_survey", "qual_register", "qual_coding"}
    raw_files = [path for path in (project / "data" / "01_raw").rglob("*") if path.is_file() and path.name != "manifest.json"]
    assert raw_files and all(is_encrypted(path) for path in raw_files)
    # The demo ends with the snapshot's path, and the page is there in both languages.
    last_line = [line for line in output.splitlines() if line.strip()][-1]
    assert last_line.startswith("Snapshot: ") and last_line.strip().endswith("index.html")
    snapshots = list((project / "reporting").glob("snapshot-*/index.html"))
    assert len(snapshots) == 1 and (snapshots[0].parent / "index.en.html").is_file()
    # Every territory's report, in both languages, has the joint display: the axes' indicators beside
    # the themes coded for them (the generator registers sessions in every territory).
    territory_pages = sorted((snapshots[0].parent / "territories").glob("*.html"))
    english = [page for page in territory_pages if page.name.endswith(".en.html")]
    french = [page for page in territory_pages if page not in english]
    assert french and len(french) == len(english), [page.name for page in territory_pages]
    codebook = load_codebook()
    # The yearly questionnaires' blocks are on the same snapshot (the generator writes both questionnaires).
    index = html.unescape(snapshots[0].read_text(encoding="utf-8"))
    for survey in ("partner_survey", "staff_survey"):
        assert f"<caption>{codebook.snapshot_text(f'{survey}_caption', lang='fr')}" in index, survey
    for lang, pages in (("fr", french), ("en", english)):
        caption_start = codebook.snapshot_text("joint_caption", lang=lang).split("{scope}")[0]
        for page in pages:
            text = html.unescape(page.read_text(encoding="utf-8"))
            assert f"<caption>{caption_start}" in text, page.name
            for axis in ("acceptabilite", "pertinence", "efficacite", "effets_systemiques"):
                assert codebook.label("qual_axis", axis, lang=lang) in text, (page.name, axis)


@pytest.mark.journey
def test_bad_input_through_the_cli_names_file_row_column_and_keeps_the_last_good_state(
    synthetic_input: Path, tmp_path: Path, pseudonym_env: bytes
) -> None:
    import shutil

    project = tmp_path / "project"
    _invoke("ingest", str(synthetic_input), "--project-dir", str(project))
    _invoke("build", "--project-dir", str(project))
    warehouse_before = (project / "warehouse.duckdb").read_bytes()
    latest_before = (project / "data" / "02_staged" / "registry" / "LATEST").read_text()

    broken = tmp_path / "broken"
    shutil.copytree(synthetic_input, broken)
    template_files = sorted(
        path for path in (broken / "registry" / "activities").glob("*.csv")
        if not path.with_suffix(".mapping.yaml").exists()
    )
    target = template_files[0]
    activities = pd.read_csv(target, dtype=str, keep_default_na=False)
    activities.loc[2, "action_type"] = "visite_libre"
    activities.to_csv(target, index=False)

    result = runner.invoke(app, ["ingest", str(broken), "--project-dir", str(project), "--source", "registry"])
    assert result.exit_code == 1
    message = " ".join(result.output.split())
    assert target.name in message and "row 3" in message and "action_type" in message
    assert (project / "data" / "02_staged" / "registry" / "LATEST").read_text() == latest_before
    assert (project / "warehouse.duckdb").read_bytes() == warehouse_before
    refused = [
        path for path in (project / "data" / "01_raw" / "registry").iterdir()
        if path.name != latest_before.strip()
    ]
    # The refused pull's raw copy is kept as evidence.
    assert len(refused) == 1
    kept = list(refused[0].rglob(target.name))
    assert all(is_encrypted(path) for path in kept)  # encrypted at rest, as received behind the key
    assert [read_raw_file(path, settings=load_settings(project)) for path in kept] == [target.read_bytes()]


@pytest.mark.journey
def test_validate_reruns_both_gates_and_prints_a_summary(synthetic_input: Path, tmp_path: Path, pseudonym_env: bytes) -> None:
    project = tmp_path / "project"
    _invoke("ingest", str(synthetic_input), "--project-dir", str(project))
    staged = _invoke("validate", "--project-dir", str(project), "--layer", "staged")
    harmonised = _invoke("validate", "--project-dir", str(project), "--layer", "harmonised")
    assert "staged" in staged and "harmonised" in harmonised
    for gate in ("staged-redcap", "staged-registry", "staged-reference", "staged-cost", "staged-partner_survey",
                 "staged-staff_survey", "staged-qual_register", "staged-qual_coding", "harmonised"):
        assert (project / "reporting" / "validation" / f"{gate}.json").is_file()
    refused = runner.invoke(app, ["validate", "--project-dir", str(project), "--layer", "everything"])
    assert refused.exit_code != 0
