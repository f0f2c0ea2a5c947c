"""``proximite lookup`` resolves pseudonyms to REDCap record ids; an oversized CSV cell is named."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from proximite.cli import app
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


def test_a_cell_over_the_limit_is_named_by_file_row_and_column(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    text = "notes \n" * (2 * MAX_FIELD_BYTES // 7)
    path.write_text(f'a,notes,b\n1,x,2\n3,"{text}",4\n', encoding="utf-8")
    with pytest.raises(InputError) as caught:
        read_csv_strings(path)
    error = caught.value
    assert (error.row, error.column, error.rule) == (2, "notes", "field larger than the limit")
    assert "notes \n" not in str(error)
