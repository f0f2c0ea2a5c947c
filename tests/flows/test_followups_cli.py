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
from proximite.cohort.followups import FollowupSchedule, followup_completion, followups_due, followups_from_warehouse
from proximite.cohort.warehouse import table
from proximite.config import load_settings

runner = CliRunner()
KEY = "followups-cli-test-key-0123456789abcdef"
DATA_AS_OF = "2025-01-15"
#: A day after the data's cut-off on which the cohort has open, closing and overdue follow-ups.
AS_OF = dt.date(2025, 3, 4)
#: A table row of the CLI: a pseudonymous id (16 hex characters) first, then the wave.
ROW = re.compile(r"^\s*([0-9a-f]{16})\s+T(\d+)\s", re.MULTILINE)


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
    return [(ident, int(wave)) for ident, wave in ROW.findall(output)]


def test_the_table_lists_every_due_family_by_pseudonymous_id_most_urgent_first(
    project: Path, expected: pd.DataFrame
) -> None:
    output = _invoke("followups", "--project-dir", str(project), "--as-of", AS_OF.isoformat())
    # Same families, same waves, same order (territory, then most urgent first).
    assert _rows(output) == list(zip(expected["family_id"], expected["wave"].astype(int)))
    for status in ("open", "closing", "overdue"):
        assert re.search(rf"\s{status}\s", output), status
    counts = expected["status"].value_counts()
    assert f"{len(expected)} follow-up(s) due on {AS_OF.isoformat()}" in output
    assert f"{counts['overdue']} overdue, {counts['closing']} closing, {counts['open']} open" in output
    assert "Completion and attrition by wave" in output and "pseudonymous" in output
    # Never a REDCap record id: every id shown is a warehouse family id, none is a record id.
    records = pd.read_csv(project.parent / "input" / "redcap" / "records.csv", dtype=str, keep_default_na=False)
    shown = {ident for ident, _wave in _rows(output)}
    assert not shown & set(records["record_id"])
    assert "record_id" not in output


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
    project: Path, tables: tuple[pd.DataFrame, pd.DataFrame, FollowupSchedule], expected: pd.DataFrame, tmp_path: Path
) -> None:
    target = tmp_path / "out" / "due.csv"
    output = _invoke("followups", "--project-dir", str(project), "--as-of", AS_OF.isoformat(), "--csv", str(target))
    completion_path = tmp_path / "out" / "due.completion.csv"
    flat = " ".join(output.split())
    assert str(target) in flat.replace(" ", "") or str(target) in flat
    assert target.is_file() and completion_path.is_file()

    written = pd.read_csv(target, dtype=str, keep_default_na=False)
    assert list(written.columns) == list(expected.columns)
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
    report = followups_from_warehouse(load_settings(project), as_of=day)
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
    project: Path, expected: pd.DataFrame, tmp_path: Path
) -> None:
    import shutil

    copy = tmp_path / "project"
    shutil.copytree(project, copy)
    settings = load_settings(copy)
    region = str(table(settings, "territory").set_index("territory_id").loc[expected["territory_id"].iloc[0], "region_code"])
    out = pipeline.write_snapshot_from_warehouse(settings, level="internal", scope=f"region:{region}", today=AS_OF)
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
    assert 'href="followups.html"' in (out / "index.html").read_text(encoding="utf-8")
    assert 'href="followups.en.html"' in (out / "index.en.html").read_text(encoding="utf-8")

    public = pipeline.write_snapshot_from_warehouse(settings, level="public", today=AS_OF + dt.timedelta(days=1))
    assert not list(public.glob("followups*"))
    identifiers = _family_ids(copy)
    for path in public.iterdir():
        text = path.read_text(encoding="utf-8")
        assert "followups" not in text, path.name
        assert not any(ident in text for ident in identifiers), path.name
