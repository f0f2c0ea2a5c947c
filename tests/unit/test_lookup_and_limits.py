"""``proximite lookup`` resolves pseudonyms to REDCap record ids (and logs it); an oversized CSV cell is named."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from proximite.cli import app
from proximite.cohort.privacy.access_log import access_log_path, read_access_log
from proximite.cohort.layers import mark_latest, staged_dir
from proximite.cohort.pseudonym import pseudonym
from proximite.cohort.record_lookup import record_ids_by_pseudonym
from proximite.cohort.sources.tabular import MAX_FIELD_BYTES, read_csv_strings
from proximite.config import load_settings
from proximite.errors import InputError

KEY = "une-clé-de-test"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PROXIMITE_PSEUDONYM_KEY", KEY)
    settings = load_settings(tmp_path)
    directory = staged_dir(settings, "redcap", "P1")
    directory.mkdir(parents=True)
    pd.DataFrame({"record_id": ["1001", "1002", "A-7"], "x": [1, 2, 3]}).to_parquet(directory / "famille.parquet")
    pd.DataFrame({"record_id": ["1001", "1001"]}).to_parquet(directory / "enfant.parquet")
    mark_latest(settings, "redcap", "P1")
    return tmp_path


def test_every_record_of_the_latest_pull_is_found_from_its_pseudonym(project: Path) -> None:
    settings = load_settings(project)
    found = record_ids_by_pseudonym(settings)
    expected = {pseudonym(r, key=KEY.encode(), project=settings.project_name): r for r in ("1001", "1002", "A-7")}
    assert found == expected


def test_lookup_prints_record_ids_and_fails_on_an_unknown_id(project: Path) -> None:
    settings = load_settings(project)
    family = pseudonym("A-7", key=KEY.encode(), project=settings.project_name)
    known = CliRunner().invoke(app, ["lookup", family, "--project-dir", str(project)])
    assert known.exit_code == 0, known.output
    assert family in known.output and "A-7" in known.output
    unknown = CliRunner().invoke(app, ["lookup", family, "0000000000000000", "--project-dir", str(project)])
    assert unknown.exit_code == 1 and "1 id(s) not found" in unknown.output


def test_a_lookup_appends_one_access_log_line_with_counts_and_no_record_id(project: Path) -> None:
    settings = load_settings(project)
    found = pseudonym("A-7", key=KEY.encode(), project=settings.project_name)
    result = CliRunner().invoke(app, ["lookup", found, "0000000000000000", "--project-dir", str(project)])
    assert result.exit_code == 1 and "A-7" in result.output
    (entry,) = read_access_log(settings)
    assert entry["command"] == "lookup"
    assert entry["counts"] == {"asked": 2, "found": 1, "not_found": 1}
    text = access_log_path(settings).read_text(encoding="utf-8")
    assert "A-7" not in text and found not in text  # neither the record id nor the pseudonym asked

    shown = CliRunner().invoke(app, ["privacy", "log", "--project-dir", str(project)])
    assert shown.exit_code == 0, shown.output
    assert "lookup" in shown.output
    assert all(f" {name} {value} " in shown.output for name, value in (("asked", 2), ("found", 1), ("not_found", 1)))
    assert entry["user"] in shown.output and entry["time"][:10] in shown.output
    as_json = CliRunner().invoke(app, ["privacy", "log", "--project-dir", str(project), "--json", "--last", "1"])
    assert as_json.exit_code == 0 and json.loads(as_json.output) == [entry]


def test_a_lookup_without_a_key_logs_nothing(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PROXIMITE_PSEUDONYM_KEY")
    result = CliRunner().invoke(app, ["lookup", "0000000000000000", "--project-dir", str(project)])
    assert result.exit_code == 1 and "pseudonym key" in result.output
    assert read_access_log(load_settings(project)) == []
    empty = CliRunner().invoke(app, ["privacy", "log", "--project-dir", str(project)])
    assert empty.exit_code == 0 and "No access recorded yet" in empty.output


def test_a_cell_over_the_limit_is_named_by_file_row_and_column(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    text = "notes \n" * (2 * MAX_FIELD_BYTES // 7)
    path.write_text(f'a,notes,b\n1,x,2\n3,"{text}",4\n', encoding="utf-8")
    with pytest.raises(InputError) as caught:
        read_csv_strings(path)
    error = caught.value
    assert (error.row, error.column, error.rule) == (2, "notes", "field larger than the limit")
    assert "notes \n" not in str(error)
