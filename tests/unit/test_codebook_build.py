"""The codebook's generated files: in step with the codebook, stable, and usable as shipped."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import load_workbook
from openpyxl.utils import get_column_letter

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ingest_inputs import EXPECTED_ROWS, build_input_dir  # noqa: E402

from proximite.cohort.codebook import package_dir, load_codebook  # noqa: E402
from proximite.cohort.codebook.build import build, generated_files, main  # noqa: E402
from proximite.cohort.codebook.workbook import (  # noqa: E402
    ACTIVITY_SHEET,
    CODES_SHEET,
    EXPLANATIONS_SHEET,
    activity_workbook,
)
from proximite.pipeline import ingest  # noqa: E402
from proximite.cohort.redcap.dictionary import normalise_metadata  # noqa: E402
from proximite.config import load_settings  # noqa: E402

SHIPPED = package_dir()
TEMPLATE = SHIPPED / "registry" / "activity_template.xlsx"


@pytest.fixture(scope="module")
def cb():
    return load_codebook()


def test_shipped_files_equal_a_fresh_build(cb) -> None:
    files, skipped = generated_files(cb)
    stale = [relative for relative, content in files.items() if (SHIPPED / relative).read_bytes() != content]
    assert not stale, f"run `python -m proximite.cohort.codebook.build`: out of date: {stale}"
    shipped = {
        path.relative_to(SHIPPED).as_posix()
        for folder in ("redcap", "registry", "surveys")
        for path in (SHIPPED / folder).rglob("*")
        if path.is_file()
    }
    assert shipped == set(files), "a shipped file is no longer generated (or a generated one is missing)"
    assert all("dags.csv" in message for message in skipped)


def test_a_rebuild_gives_the_same_bytes(cb, tmp_path: Path) -> None:
    assert activity_workbook(cb) == activity_workbook(cb)
    report = build(tmp_path, codebook=cb)
    again = build(tmp_path, codebook=cb)
    assert report.written and not again.written and len(again.unchanged) == len(report.written)
    assert main(["--check"]) == 0


def test_shipped_data_dictionary_has_the_ui_headers_and_reads_back(cb) -> None:
    frame = pd.read_csv(SHIPPED / "redcap" / "data_dictionary.csv", dtype=str, keep_default_na=False)
    assert len(frame.columns) == 18
    assert frame.columns[0] == "Variable / Field Name"
    metadata = normalise_metadata(frame, path="data_dictionary.csv")
    pd.testing.assert_frame_equal(metadata, cb.data_dictionary.astype(str))


def test_the_xlsx_template_has_a_drop_down_on_every_coded_column(cb) -> None:
    workbook = load_workbook(TEMPLATE)
    assert workbook.sheetnames == [ACTIVITY_SHEET, CODES_SHEET, EXPLANATIONS_SHEET]
    assert workbook[CODES_SHEET].sheet_state == "hidden"
    sheet = workbook[ACTIVITY_SHEET]
    columns = list(cb.registry["activity"])
    assert [cell.value for cell in sheet[1]] == columns
    lists = [dv for dv in sheet.data_validations.dataValidation if dv.type == "list"]
    coded = {name: spec["enum"] for name, spec in cb.registry["activity"].items() if spec.get("enum")}
    assert set(coded) == {"action_type", "place"}
    for name, enum in coded.items():
        letter = get_column_letter(columns.index(name) + 1)
        matching = [dv for dv in lists if f"{letter}2" in dv.sqref and f"{letter}1000" in dv.sqref]
        assert len(matching) == 1, name
        validation = matching[0]
        assert validation.showErrorMessage
        # The list comes from a named range of the hidden sheet: resolve it and compare codes.
        defined = workbook.defined_names[validation.formula1.lstrip("=")]
        (sheet_name, cells), = list(defined.destinations)
        assert sheet_name == CODES_SHEET
        values = [row[0].value for row in workbook[sheet_name][cells.replace("$", "")]]
        assert values == cb.codes(enum)
    formats = {name: sheet.column_dimensions[get_column_letter(i + 1)].number_format for i, name in enumerate(columns)}
    assert formats["activity_date"] == "yyyy-mm-dd"
    assert formats["minutes"] == "0"
    assert formats["travel_km"] == "0.0"
    others = {dv.type for dv in sheet.data_validations.dataValidation}
    assert {"date", "whole", "decimal"} <= others


def test_the_xlsx_template_explains_every_column_and_code_in_french(cb) -> None:
    notes = load_workbook(TEMPLATE)[EXPLANATIONS_SHEET]
    text = "\n".join(str(cell.value) for row in notes.iter_rows() for cell in row if cell.value is not None)
    for name, spec in cb.registry["activity"].items():
        assert name in text
        assert spec["explanation"] in text
    for code, label in cb.labels("action_type").items():
        assert f"{code} — {label}" in text
    for code, label in cb.labels("place").items():
        assert label in text
    assert "Composante" in text and cb.label("component", "concertation") in text


def test_the_shipped_redcap_files_ingest_with_an_export(cb, tmp_path: Path) -> None:
    directory = build_input_dir(tmp_path / "input", cb)
    for name in ("data_dictionary.csv", "events.csv", "arms.csv", "form_event_mapping.csv", "repeating_forms_events.csv"):
        shutil.copyfile(SHIPPED / "redcap" / name, directory / "redcap" / name)
    result = ingest(directory, settings=load_settings(tmp_path / "project"), sources=["redcap"])
    assert result["redcap"].rows == EXPECTED_ROWS["redcap"]


def test_the_csv_templates_hold_the_canonical_headers(cb) -> None:
    for table in ("activity", "worker", "supervision", "cost"):
        header = (SHIPPED / "registry" / f"{table}_template.csv").read_text(encoding="utf-8")
        assert header == ",".join(cb.registry[table]) + "\n"
