"""``proximite followups`` on a built warehouse: the table, filters, errors, the CSV, the internal snapshot page.

The project is a small synthetic cohort (60 families in 4 territories, data as of 2025-01-15)
ingested and built through the CLI once for the module. The expected lists are always
:func:`followups_due` and :func:`followup_completion` on the warehouse's own tables.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from proximite.cli import app
from proximite import pipeline
from proximite.cohort.pseudonym import pseudonym
from proximite.cohort.followups import FollowupSchedule, followup_completion, followups_due, followups_from_warehouse
from proximite.cohort.privacy.access_log import read_access_log
from proximite.cohort.warehouse import table
from proximite.config import load_settings
from proximite.cohort.codebook import load_codebook

CB_TEXT = load_codebook().snapshot_text

runner = CliRunner()
KEY = "followups-cli-test-key-0123456789abcdef"
DATA_AS_OF = "2025-01-15"
#: A day after the data's cut-off on which the cohort has open, closing and overdue follow-ups.
AS_OF = dt.date(2025, 3, 4)
#: A table row of the CLI: a pseudonymous id (16 hex characters) first, its record id (may be empty), then the wave.
ROW = re.compile(r"^\s*([0-9a-f]{16})\s+(?:(\S+)\s+)?T(\d+)\s", re.MULTILINE)


@pytest.fixture(autouse=True)
def key(monkeypatch: pytest.MonkeyPatch) -> None:
    """The coordinator's shell has the project's pseudonym key, as when the project was ingested."""
    monkeypatch.setenv("PROXIMITE_PSEUDONYM_KEY", KEY)


def _invoke(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, f"{args}: {result.output}"
    return result.output


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("followups")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PROXIMITE_PSEUDONYM_KEY", KEY)
        _invoke("synth", "--out", str(root / "input"), "--families", "60", "--territories", "4", "--seed", "7",
                "--as-of", DATA_AS_OF)
        _invoke("ingest", str(root / "input"), "--project-dir", str(root / "project"))
        _invoke("build", "--project-dir", str(root / "project"))
    return root / "project"


@pytest.fixture(scope="module")
def tables(project: Path) -> tuple[pd.DataFrame, pd.DataFrame, FollowupSchedule]:
    settings = load_settings(project)
    return table(settings, "family"), table(settings, "assessment"), FollowupSchedule.from_settings(settings)


@pytest.fixture(scope="module")
def expected(tables: tuple[pd.DataFrame, pd.DataFrame, FollowupSchedule]) -> pd.DataFrame:
    family, assessment, schedule = tables
    due = followups_due(family, assessment, as_of=AS_OF, schedule=schedule)
    # The fixture is only useful if every status and several territories occur.
    assert set(due["status"]) == {"open", "closing", "overdue"}
    assert due["territory_id"].nunique() >= 3
    return due


def _rows(output: str) -> list[tuple[str, int]]:
    return [(ident, int(wave)) for ident, _record, wave in ROW.findall(output)]


def _records_shown(output: str) -> dict[str, str]:
    return {ident: record for ident, record, _wave in ROW.findall(output)}


@pytest.fixture(scope="module")
def record_of(project: Path) -> dict[str, str]:
    """``{family_id: record_id}`` computed here from the synthetic REDCap export and the key."""
    records = pd.read_csv(project.parent / "input" / "redcap" / "records.csv", dtype=str, keep_default_na=False)
    settings = load_settings(project)
    return {pseudonym(record, key=KEY.encode(), project=settings.project_name): record
            for record in records["record_id"].unique()}


@pytest.mark.journey
def test_the_table_lists_every_due_family_with_its_record_id_most_urgent_first(
    project: Path, expected: pd.DataFrame, record_of: dict[str, str]
) -> None:
    output = _invoke("followups", "--project-dir", str(project), "--as-of", AS_OF.isoformat())
    # Same families, same waves, same order (territory, then most urgent first).
    assert _rows(output) == list(zip(expected["family_id"], expected["wave"].astype(int)))
    for status in ("open", "closing", "overdue"):
        assert re.search(rf"\s{status}\s", output), status
    counts = expected["status"].value_counts()
    assert f"{len(expected)} follow-up(s) due on {AS_OF.isoformat()}" in output
    assert f"{counts['overdue']} overdue, {counts['closing']} closing, {counts['open']} open" in output
    assert "Completion and attrition by wave" in output and re.search(r"^\s+record\s", output, re.MULTILINE)
    # Each family's REDCap record id is beside its pseudonym: the record the coordinator opens.
    shown = _records_shown(output)
    assert shown == {ident: record_of[ident] for ident in expected["family_id"]}
    assert "left empty" not in output


def test_without_the_key_the_record_ids_are_empty_and_the_list_says_so_once(
    project: Path, expected: pd.DataFrame, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("PROXIMITE_PSEUDONYM_KEY")
    target = tmp_path / "due.csv"
    output = _invoke("followups", "--project-dir", str(project), "--as-of", AS_OF.isoformat(), "--csv", str(target))
    assert _rows(output) == list(zip(expected["family_id"], expected["wave"].astype(int)))
    assert set(_records_shown(output).values()) == {""}
    flat = " ".join(output.split())
    assert flat.count("Record ids left empty") == 1 and "PROXIMITE_PSEUDONYM_KEY" in flat
    written = pd.read_csv(target, dtype=str, keep_default_na=False)
    assert len(written) == len(expected) and set(written["record_id"]) == {""}


def test_a_family_missing_from_the_latest_pull_has_an_empty_record_id(
    project: Path, expected: pd.DataFrame, record_of: dict[str, str], tmp_path: Path
) -> None:
    import shutil

    from proximite.cohort.layers import latest_pull, staged_dir

    copy = tmp_path / "project"
    shutil.copytree(project, copy)
    settings = load_settings(copy)
    # The family's record was deleted in REDCap since the warehouse was built: the next pull lacks it.
    gone = str(expected["family_id"].iloc[0])
    for path in staged_dir(settings, "redcap", latest_pull(settings, "redcap")).glob("*.parquet"):
        frame = pd.read_parquet(path)
        if "record_id" in frame.columns:
            frame[frame["record_id"] != record_of[gone]].to_parquet(path)
    output = _invoke("followups", "--project-dir", str(copy), "--as-of", AS_OF.isoformat())
    shown = _records_shown(output)
    assert shown[gone] == "" and all(shown[ident] == record_of[ident] for ident in shown if ident != gone)
    assert "1 family(ies) not found in the latest staged REDCap pull" in " ".join(output.split())


def test_a_list_with_record_ids_is_logged_with_counts_only(
    project: Path, expected: pd.DataFrame, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = load_settings(project)
    before = len(read_access_log(settings))
    target = tmp_path / "due.csv"
    _invoke("followups", "--project-dir", str(project), "--as-of", AS_OF.isoformat(), "--csv", str(target))
    entries = read_access_log(settings)
    assert len(entries) == before + 1
    entry = entries[-1]
    assert entry["command"] == "followups" and entry["detail"] == f"csv {target.resolve()}"
    assert entry["counts"] == {"rows": len(expected), "families": expected["family_id"].nunique(), "record_ids": len(expected)}
    assert set(entry) == {"time", "user", "uid", "command", "counts", "detail"}
    # Without the key no record id is read or shown: nothing to log.
    monkeypatch.delenv("PROXIMITE_PSEUDONYM_KEY")
    _invoke("followups", "--project-dir", str(project), "--as-of", AS_OF.isoformat())
    assert len(read_access_log(settings)) == before + 1


def test_territory_filter_and_status_filter(project: Path, expected: pd.DataFrame) -> None:
    chosen = sorted(expected["territory_id"].unique())[:2]
    output = _invoke("followups", "--project-dir", str(project), "--as-of", AS_OF.isoformat(),
                     "--territory", chosen[0], "-t", chosen[1])
    kept = expected[expected["territory_id"].isin(chosen)]
    assert _rows(output) == list(zip(kept["family_id"], kept["wave"].astype(int)))
    others = set(load_territories(project)) - set(chosen)
    assert others and not any(re.search(rf"^\s*{re.escape(other)}\b", output, re.MULTILINE) for other in others)

    output = _invoke("followups", "--project-dir", str(project), "--as-of", AS_OF.isoformat(), "--status", "overdue")
    overdue = expected[expected["status"] == "overdue"]
    assert _rows(output) == list(zip(overdue["family_id"], overdue["wave"].astype(int)))
    assert f"{len(overdue)} follow-up(s) due" in output and "closing," not in output


def load_territories(project: Path) -> list[str]:
    return table(load_settings(project), "territory")["territory_id"].astype(str).tolist()


def test_bad_territory_bad_date_bad_status_and_no_warehouse_fail_clearly(project: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["followups", "--project-dir", str(project), "--territory", "T99-99"])
    assert result.exit_code == 1
    message = " ".join(result.output.split())
    assert "T99-99" in message and "unknown territory" in message
    assert all(territory in message for territory in load_territories(project))
    result = runner.invoke(app, ["followups", "--project-dir", str(project), "--as-of", "2025-13-01"])
    assert result.exit_code == 1
    assert "--as-of" in result.output and "YYYY-MM-DD" in result.output and "2025-13-01" in result.output
    result = runner.invoke(app, ["followups", "--project-dir", str(project), "--status", "late"])
    assert result.exit_code == 2 and "open, closing or overdue" in result.output
    result = runner.invoke(app, ["followups", "--project-dir", str(tmp_path / "empty")])
    assert result.exit_code == 1 and "proximite build" in result.output


def test_csv_rows_equal_the_due_list_and_completion_is_written_beside_it(
    project: Path, tables: tuple[pd.DataFrame, pd.DataFrame, FollowupSchedule], expected: pd.DataFrame, tmp_path: Path,
    record_of: dict[str, str],
) -> None:
    target = tmp_path / "out" / "due.csv"
    output = _invoke("followups", "--project-dir", str(project), "--as-of", AS_OF.isoformat(), "--csv", str(target))
    completion_path = tmp_path / "out" / "due.completion.csv"
    flat = " ".join(output.split())
    assert str(target) in flat.replace(" ", "") or str(target) in flat
    assert target.is_file() and completion_path.is_file()

    written = pd.read_csv(target, dtype=str, keep_default_na=False)
    # The coordinator's CSV: the record id right after the pseudonym, the rest as followups_due gives it.
    assert list(written.columns) == ["territory_id", "family_id", "record_id", *expected.columns[2:]]
    assert written["record_id"].tolist() == [record_of[ident] for ident in expected["family_id"]]
    written = written.drop(columns="record_id")
    want = expected.astype(object).copy()
    for column in ("due_date", "window_start", "window_end"):
        want[column] = expected[column].dt.strftime("%Y-%m-%d")
    want = want.astype(str)
    pd.testing.assert_frame_equal(written, want.reset_index(drop=True), check_dtype=False)

    family, assessment, schedule = tables
    completion = followup_completion(family, assessment, as_of=AS_OF, schedule=schedule)
    read = pd.read_csv(completion_path, dtype={"territory_id": str})
    pd.testing.assert_frame_equal(read, completion.reset_index(drop=True), check_dtype=False)


def test_a_past_day_ignores_assessments_made_after_it(
    project: Path, tables: tuple[pd.DataFrame, pd.DataFrame, FollowupSchedule]
) -> None:
    family, assessment, schedule = tables
    day = dt.date(2024, 8, 1)
    report = followups_from_warehouse(load_settings(project), as_of=day, record_ids=False)
    assert "record_id" not in report.due.columns and report.record_ids_reason == "not_asked"
    before = assessment[assessment["assessment_date"] <= pd.Timestamp(day)]
    pd.testing.assert_frame_equal(report.due, followups_due(family, before, as_of=day, schedule=schedule))
    # Families later assessed for that wave were still due on the day.
    done_later = assessment.merge(report.due[["family_id", "wave"]], on=["family_id", "wave"])
    assert len(report.due) and (done_later["assessment_date"] > pd.Timestamp(day)).any()
    assert report.as_of == day and report.territories == tuple(sorted(load_territories(project)))
    assert report.status_counts() == {s: int((report.due["status"] == s).sum()) for s in ("overdue", "closing", "open")}


def _family_ids(project: Path) -> set[str]:
    return set(table(load_settings(project), "family")["family_id"].astype(str))


def test_internal_snapshot_has_the_followups_pages_and_a_public_one_has_no_id(
    project: Path, expected: pd.DataFrame, tmp_path: Path, record_of: dict[str, str]
) -> None:
    import shutil

    copy = tmp_path / "project"
    shutil.copytree(project, copy)
    settings = load_settings(copy)
    region = str(table(settings, "territory").set_index("territory_id").loc[expected["territory_id"].iloc[0], "region_code"])
    logged = len(read_access_log(settings))
    out = pipeline.write_snapshot_from_warehouse(settings, level="internal", scope=f"region:{region}", today=AS_OF)
    # The page shows record ids: the access log has its line (counts and the folder, no id).
    entry = read_access_log(settings)[-1]
    assert len(read_access_log(settings)) == logged + 1
    assert entry["command"] == "snapshot" and entry["detail"] == f"followups page {out.name}"
    names = {path.name for path in out.iterdir()}
    assert {"followups.html", "followups.en.html", "index.html", "index.en.html"} <= names
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert {"followups.html", "followups.en.html"} <= {entry["path"] for entry in manifest["files"]}
    assert manifest["followups"]["as_of"] == AS_OF.isoformat()

    members = set(table(settings, "territory").query("region_code == @region")["territory_id"].astype(str))
    in_scope = set(expected.loc[expected["territory_id"].isin(members), "family_id"])
    out_of_scope = set(expected["family_id"]) - in_scope
    assert out_of_scope
    for page, lang in (("followups.html", "fr"), ("followups.en.html", "en")):
        text = (out / page).read_text(encoding="utf-8")
        assert f'<html lang="{lang}">' in text
        assert in_scope and all(ident in text for ident in in_scope)
        assert not any(ident in text for ident in out_of_scope)
        assert "REDCap" in text and "<script" not in text and "http" not in text
        # The record to open in REDCap, in the cell right after the family's pseudonym.
        for ident in in_scope:
            assert f'<th scope="row">{ident}</th><td>{record_of[ident]}</td>' in text, (page, ident)
    assert 'href="followups.html"' in (out / "index.html").read_text(encoding="utf-8")
    assert 'href="followups.en.html"' in (out / "index.en.html").read_text(encoding="utf-8")

    assert entry["counts"]["families"] == len(in_scope) and entry["counts"]["record_ids"] == entry["counts"]["rows"]

    public = pipeline.write_snapshot_from_warehouse(settings, level="public", today=AS_OF + dt.timedelta(days=1))
    assert not list(public.glob("followups*"))
    assert len(read_access_log(settings)) == logged + 1  # a public snapshot shows no record id
    identifiers = _family_ids(copy)
    # Record ids here are small numbers that counts also show: the column and its cells are what must not leak.
    headers = [CB_TEXT("followups_col_record", lang=lang) for lang in ("fr", "en")]
    for path in (path for path in public.rglob("*") if path.is_file()):
        text = path.read_bytes().decode("utf-8", errors="replace")
        assert "followups" not in text, path.name
        assert not any(ident in text for ident in identifiers), path.name
        assert not any(header in text for header in headers), path.name
