"""A refused REDCap staging lists every defect at once, in REDCap's terms (record, event, instance)."""

from __future__ import annotations

import io
import pickle
import sys
from pathlib import Path

import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ingest_inputs import redcap_records  # noqa: E402

from proximite.cohort.codebook import load_codebook  # noqa: E402
from proximite.cohort.redcap.project import RedcapProject  # noqa: E402
from proximite.cohort.redcap.records import stage_records  # noqa: E402
from proximite.cohort.redcap.refusal import (  # noqa: E402
    DEFECT_COLUMNS,
    StagingRefused,
    in_batches,
    quarantine_refusal,
    record_home_url,
)
from proximite.cohort.privacy.encryption import is_encrypted  # noqa: E402
from proximite.cohort.privacy.storage import read_protected  # noqa: E402
from proximite.config import load_settings  # noqa: E402


@pytest.fixture(scope="module")
def cb():
    return load_codebook()


def _records(cb, edits: dict[tuple[int, str], str]) -> pd.DataFrame:
    columns, rows = redcap_records(cb)
    frame = pd.DataFrame(rows, columns=columns)
    for (row, column), value in edits.items():
        frame.loc[row, column] = value
    return frame


# Rows of the fixture: 0 record 1001 inclusion; 2 its second child; 3 its T0; 9 record 1002's child; 10 its T0.
DEFECTS = {
    (3, "iso_transport"): "9",  # coded: unknown code
    (2, "enf_date_naissance"): "2021-02-30",  # date: not a calendar date
    (10, "suivi_date"): "hier",  # date
    (0, "monoparentale"): "peut-être",  # yes/no
    (8, "redcap_event_name"): "t3_arm_1",  # an unknown event: the row's values are not reported again
}


def test_every_defect_of_an_export_is_listed_with_its_redcap_keys(cb) -> None:
    with pytest.raises(StagingRefused) as caught:
        stage_records(_records(cb, DEFECTS), RedcapProject.from_codebook(cb))
    defects = caught.value.defects
    assert len(defects) == 5, defects[["record_id", "field", "rule"]]
    assert defects["record_id"].tolist() == ["1001", "1001", "1001", "1002", "1002"]  # sorted by record, then row
    child = defects[defects["field"] == "enf_date_naissance"].iloc[0]
    assert (child["event"], child["repeat_instrument"], int(child["instance"]), int(child["source_row"])) == (
        "inclusion_arm_1", "enfant", 2, 3,
    )
    assert child["rule"] == "date cannot be parsed" and child["value"] == "2021-02-30"
    code = defects[defects["field"] == "iso_transport"].iloc[0]
    assert code["rule"] == "unknown code" and code["value"] == "9" and "0" in code["allowed"].split(", ")
    event = defects[defects["field"] == "redcap_event_name"].iloc[0]
    assert event["rule"] == "unknown event" and event["value"] == "t3_arm_1" and "t0_arm_1" in event["allowed"]
    message = str(caught.value)
    assert "5 defect(s) in 2 record(s)" in message
    for value in ("2021-02-30", "hier"):  # dates and numbers are in the report, never in the message
        assert value not in message
    assert "First: records.csv, row 1, column 'monoparentale' (record 1001): not a yes/no value" in message


def test_one_defect_keeps_the_row_column_and_rule_of_a_plain_input_error(cb) -> None:
    with pytest.raises(StagingRefused) as caught:
        stage_records(_records(cb, {(3, "iso_transport"): "9"}), RedcapProject.from_codebook(cb))
    error = caught.value
    assert (error.row, error.column, error.rule, error.count) == (4, "iso_transport", "unknown code", 1)
    restored = pickle.loads(pickle.dumps(error))  # Prefect pickles task errors
    assert str(restored) == str(error) and len(restored.defects) == 1


def test_the_report_locates_batch_files_and_links_each_record(cb, tmp_path: Path) -> None:
    with pytest.raises(StagingRefused) as caught:
        stage_records(_records(cb, DEFECTS), RedcapProject.from_codebook(cb), path=tmp_path / "records_*.csv")
    settings = load_settings(tmp_path / "project")
    template = record_home_url("https://redcap.example.org/api/", version="14.5.2", project_id="77")
    refused = quarantine_refusal(
        caught.value, settings=settings, pull_id="P1", names=["records_0001.csv", "records_0002.csv"], offsets=[0, 8],
        record_url=template,
    )
    report = settings.data_dir / "quarantine" / "P1" / "redcap" / "report"
    # Record ids: the report is encrypted at rest, and read through the project's keys.
    assert all(is_encrypted(report / name) for name in ("failures.csv", "report.html", "report.en.html"))
    failures = pd.read_csv(io.BytesIO(read_protected(report / "failures.csv", settings=settings)), dtype=str, encoding="utf-8-sig")
    assert list(failures.columns) == DEFECT_COLUMNS
    assert failures["source_file"].tolist() == ["records_0001.csv"] * 3 + ["records_0002.csv"] * 2
    assert failures["source_row"].tolist() == ["1", "3", "4", "1", "3"]
    assert failures["link"].iloc[0] == (
        "https://redcap.example.org/redcap_v14.5.2/DataEntry/record_home.php?pid=77&id=1001&arm=1"
    )
    assert str(report / "failures.csv") in str(refused)
    french = read_protected(report / "report.html", settings=settings).decode("utf-8")
    english = read_protected(report / "report.en.html", settings=settings).decode("utf-8")
    for page in (french, english):
        assert 'href="https://redcap.example.org/redcap_v14.5.2/' in page
    # One language per page: the rules named in the page's language, no English in parentheses.
    assert '<html lang="fr">' in french and "Dossiers refusés" in french and "(records refused" not in french
    assert "code inconnu" in french and "unknown code" not in french
    assert '<html lang="en">' in english and "Records refused" in english and "unknown code" in english
    assert 'href="report.en.html"' in french and 'href="report.html"' in english


def test_record_home_url_needs_the_url_the_version_and_the_project_id() -> None:
    assert record_home_url("https://h/redcap/api/", version="", project_id="3") is None
    assert record_home_url("https://h/redcap/api/", version="13.1.0", project_id="3").startswith(
        "https://h/redcap/redcap_v13.1.0/DataEntry/record_home.php?pid=3&id="
    )


def test_in_batches_counts_rows_from_each_file() -> None:
    defects = pd.DataFrame({"source_row": pd.array([1, 5, 6, 12], dtype="Int64"), "source_file": ["x"] * 4})
    located = in_batches(defects, names=["a.csv", "b.csv", "c.csv"], offsets=[0, 5, 10])
    assert located["source_file"].tolist() == ["a.csv", "a.csv", "b.csv", "c.csv"]
    assert located["source_row"].tolist() == [1, 5, 1, 2]
