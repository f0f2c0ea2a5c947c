"""Bad input stops an ingest with a clear error and leaves the last good state in place.

Each test ingests a good input directory once (pull ``good``), breaks one thing in a copy, and
checks that ingesting it (pull ``bad``):

- raises an :class:`InputError` naming the file, the row or column, and the rule;
- quotes no value of a person (names, dates) in the message;
- keeps the raw copy of the refused pull, with a manifest saying it was not staged;
- leaves no staged directory of the refused pull, and every ``LATEST`` on ``good``.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ingest_inputs import CP1252_HEADER, CP1252_ROWS, build_input_dir, write_csv  # noqa: E402

from proximite.cohort.codebook import load_codebook  # noqa: E402
from proximite.errors import InputError  # noqa: E402
from proximite.cohort.ingest import MANIFEST_NAME  # noqa: E402
from proximite.pipeline import ingest  # noqa: E402
from proximite.cohort.layers import STAGED, latest_pull, raw_dir  # noqa: E402
from proximite.cohort.layers import SOURCES  # noqa: E402  (the input's sources: no qualitative folder)
from proximite.cohort.privacy.encryption import is_encrypted  # noqa: E402
from proximite.cohort.raw_files import read_raw_file  # noqa: E402
from proximite.config import Settings, load_settings  # noqa: E402

GOOD, BAD = "20240101T000000Z-000001", "20240101T000000Z-000002"
#: Values of people in the good input: none may appear in an error message.
PERSONAL = ("Tremblay", "Hélène", "Côté", "Zoé", "514-555", "1990-05-17", "Bélanger", "Françoise", "2024-02-01")


@dataclass
class Project:
    settings: Settings
    input_dir: Path


@pytest.fixture(scope="module")
def cb():
    return load_codebook()


@pytest.fixture
def project(tmp_path: Path, cb) -> Project:
    good_input = build_input_dir(tmp_path / "good-input", cb)
    settings = load_settings(tmp_path / "project")
    ingest(good_input, settings=settings, pull_id=GOOD)
    bad_input = tmp_path / "bad-input"
    shutil.copytree(good_input, bad_input)
    return Project(settings, bad_input)


def refused(project: Project, *, sources: list[str] | None = None) -> InputError:
    """Ingest the (broken) input; check the error leaves the previous state intact."""
    with pytest.raises(InputError) as caught:
        ingest(project.input_dir, settings=project.settings, pull_id=BAD, sources=sources)
    error = caught.value
    message = str(error)
    if hasattr(error, "raw_path"):  # the error names the file as sent; its raw copy is kept
        assert Path(error.raw_path).exists()
        assert f"/{BAD}" in error.raw_path
    for value in PERSONAL:
        assert value not in message, f"the message quotes a person's value: {message}"
    for source in sources or SOURCES:
        assert latest_pull(project.settings, source) == GOOD
        staged_root = project.settings.data_dir / STAGED / source
        assert not (staged_root / BAD).exists()
        assert not list(staged_root.glob(f".{BAD}*"))
        raw = raw_dir(project.settings, source, BAD)
        assert raw.is_dir(), "the raw copy is the evidence: it must be kept"
        manifest = json.loads((raw / MANIFEST_NAME).read_text(encoding="utf-8"))
        assert manifest["staged"] is False
        assert manifest["error"]
    return error


def rewrite_csv(path: Path, change: Callable[[list[str], list[list[str]]], tuple[list[str], list[list[str]]]]) -> None:
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    header, body = change(rows[0], rows[1:])
    write_csv(path, header, body)


def set_cell(path: Path, row: int, column: str, value: str) -> None:
    """Set one cell (``row`` is the 1-based data row)."""

    def change(header: list[str], body: list[list[str]]) -> tuple[list[str], list[list[str]]]:
        body[row - 1][header.index(column)] = value
        return header, body

    rewrite_csv(path, change)


def records(project: Project) -> Path:
    return project.input_dir / "redcap" / "records.csv"


def template_csv(project: Project) -> Path:
    return project.input_dir / "registry" / "activities" / "T06-01.csv"


def raw_copy(project: Project, source: str, relative: str) -> Path:
    return raw_dir(project.settings, source, BAD) / relative


def as_received(project: Project, source: str, relative: str) -> bytes:
    """The raw copy's bytes as received (it is encrypted at rest)."""
    path = raw_copy(project, source, relative)
    assert is_encrypted(path)
    return read_raw_file(path, settings=project.settings)


# ------------------------------------------------------------------------------ missing columns


def test_a_missing_required_column_of_the_template(project: Project) -> None:
    def drop_minutes(header: list[str], body: list[list[str]]) -> tuple[list[str], list[list[str]]]:
        position = header.index("minutes")
        return header[:position] + header[position + 1:], [row[:position] + row[position + 1:] for row in body]

    rewrite_csv(template_csv(project), drop_minutes)
    error = refused(project)
    assert error.path.endswith("activities/T06-01.csv")
    assert error.column == "minutes"
    assert error.rule == "required column missing"
    assert as_received(project, "registry", "activities/T06-01.csv") == template_csv(project).read_bytes()


def test_a_missing_column_of_the_redcap_export(project: Project) -> None:
    def drop(header: list[str], body: list[list[str]]) -> tuple[list[str], list[list[str]]]:
        position = header.index("suivi_date")
        return header[:position] + header[position + 1:], [row[:position] + row[position + 1:] for row in body]

    rewrite_csv(records(project), drop)
    error = refused(project)
    assert error.path.endswith("redcap/records.csv")
    assert (error.column, error.rule) == ("suivi_date", "required column missing")


def test_a_mapping_that_names_a_column_the_file_does_not_have(project: Project) -> None:
    mapping = project.input_dir / "registry" / "activities" / "T13-02.mapping.yaml"
    mapping.write_text(mapping.read_text(encoding="utf-8").replace("minutes: Duree_min", "minutes: Duree"), encoding="utf-8")
    error = refused(project)
    assert error.path.endswith("activities/T13-02.mapping.yaml")
    assert error.column == "Duree"
    assert error.rule == "mapping names a column the file does not have"
    assert "T13-02.xlsx" in str(error)


# ------------------------------------------------------------------------------ unknown codes


def test_an_unknown_redcap_event(project: Project) -> None:
    set_cell(records(project), 4, "redcap_event_name", "t3_arm_1")
    error = refused(project)
    assert error.path.endswith("redcap/records.csv")
    assert (error.row, error.column, error.rule) == (4, "redcap_event_name", "unknown event")
    assert "'t3_arm_1'" in str(error) and "events.csv" in str(error)


def test_an_unknown_action_type(project: Project) -> None:
    set_cell(template_csv(project), 2, "action_type", "visite_domicile")
    error = refused(project)
    assert error.path.endswith("activities/T06-01.csv")
    assert (error.row, error.column, error.rule) == (2, "action_type", "unknown code")
    assert "'visite_domicile'" in str(error) and "demarchage" in str(error)


def test_an_unmapped_partner_label_names_the_partner_column(project: Project) -> None:
    mapping = project.input_dir / "registry" / "activities" / "T13-02.mapping.yaml"
    mapping.write_text(mapping.read_text(encoding="utf-8").replace('    "Repérage": reperage\n', ""), encoding="utf-8")
    error = refused(project)
    assert error.path.endswith("activities/T13-02.xlsx")
    assert (error.row, error.rule) == (2, "unknown code")
    assert error.column == "Type → action_type"
    assert "'Repérage'" in str(error)


def test_an_unknown_need_category_in_redcap(project: Project) -> None:
    set_cell(records(project), 6, "bes_categorie", "loisirs")
    error = refused(project)
    assert error.path.endswith("redcap/records.csv")
    assert (error.row, error.column, error.rule) == (6, "bes_categorie", "unknown code")
    assert "'loisirs'" in str(error)


def test_a_data_access_group_not_in_dags_csv(project: Project) -> None:
    set_cell(records(project), 9, "redcap_data_access_group", "t99_01")
    error = refused(project)
    assert (error.row, error.column, error.rule) == (9, "redcap_data_access_group", "unknown data access group")
    assert "'t99_01'" in str(error) and "dags.csv" in str(error)


def test_an_unknown_code_in_a_reference_file(project: Project) -> None:
    set_cell(project.input_dir / "reference" / "territories.csv", 3, "host_type", "CLSC")
    error = refused(project)
    assert error.path.endswith("reference/territories.csv")
    assert (error.row, error.column, error.rule) == (3, "host_type", "unknown code")


def test_several_bad_rows_give_the_count_and_the_first(project: Project) -> None:
    for row in (3, 1):
        set_cell(template_csv(project), row, "place", "cuisine")
    error = refused(project)
    assert (error.row, error.count) == (1, 2)
    assert "(2 rows)" in str(error)


# ------------------------------------------------------------------------------ corrupt files


def test_a_truncated_sav_file(project: Project) -> None:
    path = project.input_dir / "registry" / "activities" / "T16-04.sav"
    content = path.read_bytes()
    path.write_bytes(content[: len(content) // 2])
    error = refused(project)
    assert error.path.endswith("activities/T16-04.sav")
    assert error.rule == "not a readable SPSS file"
    assert "corrupt or truncated" in str(error)
    assert as_received(project, "registry", "activities/T16-04.sav") == path.read_bytes()


def test_a_truncated_xlsx_file(project: Project) -> None:
    path = project.input_dir / "registry" / "activities" / "T13-02.xlsx"
    content = path.read_bytes()
    path.write_bytes(content[: len(content) * 2 // 3])
    error = refused(project)
    assert error.path.endswith("activities/T13-02.xlsx")
    assert error.rule == "not a readable XLSX workbook"


# ------------------------------------------------------------------------------ encodings


def _partner_csv(project: Project, encoding: str) -> Path:
    path = project.input_dir / "registry" / "activities" / "T03-02.csv"
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\n")
    writer.writerow(CP1252_HEADER)
    writer.writerows(CP1252_ROWS)
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


def test_a_utf16_file_without_declared_encoding(project: Project) -> None:
    _partner_csv(project, "utf-16")
    error = refused(project)
    assert error.path.endswith("activities/T03-02.csv")
    assert error.rule == "encoding undeclared or unrecognised"
    assert "`encoding:`" in str(error) and "T03-02.mapping.yaml" in str(error)


def test_a_mac_roman_file_with_accented_french_names(project: Project) -> None:
    _partner_csv(project, "mac_roman")
    error = refused(project)
    assert error.path.endswith("activities/T03-02.csv")
    assert error.rule == "encoding undeclared or unrecognised"
    assert error.row is None and "header" in str(error)  # the header already has "Numéro"
    assert "`encoding:`" in str(error)


def test_a_mac_roman_file_is_read_once_declared(project: Project) -> None:
    _partner_csv(project, "mac_roman")
    mapping = project.input_dir / "registry" / "activities" / "T03-02.mapping.yaml"
    mapping.write_text("encoding: mac_roman\n" + mapping.read_text(encoding="utf-8"), encoding="utf-8")
    result = ingest(project.input_dir, settings=project.settings, pull_id=BAD)
    assert result["registry"].rows["activity"] == 11


# ------------------------------------------------------------------------------ duplicates


def _duplicate_row(path: Path, row: int) -> None:
    def change(header: list[str], body: list[list[str]]) -> tuple[list[str], list[list[str]]]:
        return header, body[:row] + [list(body[row - 1])] + body[row:]

    rewrite_csv(path, change)


def test_a_duplicate_redcap_row(project: Project) -> None:
    _duplicate_row(records(project), 3)  # enfant instance 2 of record 1001, twice
    error = refused(project)
    assert error.path.endswith("redcap/records.csv")
    assert (error.row, error.rule) == (4, "duplicate row")
    assert "row 3" in str(error)


def test_a_duplicate_family_and_wave(project: Project) -> None:
    _duplicate_row(records(project), 5)  # the T6 suivi row of record 1001, twice
    error = refused(project)
    assert error.path.endswith("redcap/records.csv")
    assert (error.row, error.column, error.rule) == (6, "redcap_event_name", "duplicate (family, wave)")
    assert "row 5" in str(error)


# ------------------------------------------------------------------------------ dates


def test_a_redcap_date_that_cannot_be_parsed(project: Project) -> None:
    set_cell(records(project), 5, "suivi_date", "2024-02-30")
    error = refused(project)
    assert (error.row, error.column, error.rule) == (5, "suivi_date", "date cannot be parsed")
    assert "2024-02-30" not in str(error)


def test_a_partner_date_that_cannot_be_parsed(project: Project) -> None:
    path = project.input_dir / "registry" / "activities" / "T03-02.csv"
    rows = [list(row) for row in CP1252_ROWS]
    rows[1][2] = "32/01/2024"
    write_csv(path, CP1252_HEADER, rows, encoding="cp1252", delimiter=";")
    error = refused(project)
    assert error.path.endswith("activities/T03-02.csv")
    assert (error.row, error.rule) == (2, "date cannot be parsed")
    assert error.column == "Date → activity_date"
    assert "%d/%m/%Y" in str(error) and "32/01" not in str(error)


# ------------------------------------------------------------------------------ empty files


def test_a_zero_byte_file(project: Project) -> None:
    template_csv(project).write_bytes(b"")
    error = refused(project)
    assert error.path.endswith("activities/T06-01.csv")
    assert error.rule == "empty file"
    assert as_received(project, "registry", "activities/T06-01.csv") == b""


def test_a_records_export_with_a_header_only(project: Project) -> None:
    rewrite_csv(records(project), lambda header, body: (header, []))
    error = refused(project)
    assert error.path.endswith("redcap/records.csv")
    assert error.rule == "no data rows"


def test_a_header_only_cost_file(project: Project) -> None:
    rewrite_csv(project.input_dir / "costs" / "costs.csv", lambda header, body: (header, []))
    error = refused(project)
    assert error.path.endswith("costs/costs.csv")
    assert error.rule == "no data rows"


# ------------------------------------------------------------------------------ other rules


def test_a_row_with_too_many_fields(project: Project) -> None:
    path = template_csv(project)
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[2] += ",extra"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    error = refused(project)
    assert (error.row, error.rule) == (2, "wrong number of fields")


def test_a_value_that_is_not_a_number(project: Project) -> None:
    set_cell(template_csv(project), 3, "minutes", "une heure")
    error = refused(project)
    assert (error.row, error.column, error.rule) == (3, "minutes", "not a whole number")
    assert "une heure" not in str(error)


def test_a_bad_pull_of_one_source_only_touches_that_source(project: Project) -> None:
    set_cell(template_csv(project), 1, "action_type", "inconnu")
    refused(project, sources=["registry"])
    assert not raw_dir(project.settings, "redcap", BAD).exists()


def test_a_value_on_an_event_where_its_form_is_not_collected(project: Project) -> None:
    set_cell(records(project), 4, "sortie_raison", "autre")  # the T0 row of record 1001
    error = refused(project)
    assert (error.row, error.column) == (4, "sortie_raison")
    assert error.rule == "value on an event where its form is not collected"


def test_an_unknown_repeating_instrument(project: Project) -> None:
    set_cell(records(project), 2, "redcap_repeat_instrument", "enfants")
    error = refused(project)
    assert (error.row, error.column, error.rule) == (2, "redcap_repeat_instrument", "unknown repeating instrument")
    assert "'enfants'" in str(error)


# ------------------------------------------------------------------------ structure of the export


def test_a_longitudinal_export_without_its_form_event_mapping(project: Project) -> None:
    (project.input_dir / "redcap" / "form_event_mapping.csv").unlink()
    error = refused(project, sources=["redcap"])
    assert error.path.endswith("redcap/form_event_mapping.csv")
    assert error.rule == "required file missing"
    message = str(error)
    assert "longitudinal" in message and "content=formEventMapping" in message
    assert "Designate instruments for my events" in message


def test_repeat_columns_without_the_repeating_setup(project: Project) -> None:
    (project.input_dir / "redcap" / "repeating_forms_events.csv").unlink()
    error = refused(project, sources=["redcap"])
    assert error.path.endswith("redcap/repeating_forms_events.csv")
    message = str(error)
    assert "records.csv has redcap_repeat_instrument and redcap_repeat_instance" in message
    assert "repeat key would be lost" in message and "content=repeatingFormsEvents" in message


def test_an_empty_form_event_mapping_and_no_repeating_setup_are_both_named(project: Project) -> None:
    mapping = project.input_dir / "redcap" / "form_event_mapping.csv"
    mapping.write_text(mapping.read_text(encoding="utf-8").splitlines()[0] + "\n", encoding="utf-8")
    (project.input_dir / "redcap" / "repeating_forms_events.csv").unlink()
    error = refused(project, sources=["redcap"])
    assert error.path.endswith("redcap/form_event_mapping.csv") and error.rule == "required file empty"
    message = str(error)
    assert "2 structure files are missing" in message
    assert "add form_event_mapping.csv" in message and "add repeating_forms_events.csv" in message


def test_without_any_structure_file_the_cohort_structure_of_the_codebook_applies(project: Project) -> None:
    for name in ("events.csv", "form_event_mapping.csv", "repeating_forms_events.csv"):
        (project.input_dir / "redcap" / name).unlink()
    ingest(project.input_dir, settings=project.settings, pull_id=BAD, sources=["redcap"])
    assert latest_pull(project.settings, "redcap") == BAD


def test_a_missing_reference_file(project: Project) -> None:
    (project.input_dir / "reference" / "organisations.csv").unlink()
    error = refused(project)
    assert error.path.endswith("reference/organisations.csv")
    assert error.rule == "required file missing"


def test_a_mapping_without_its_data_file(project: Project) -> None:
    activities = project.input_dir / "registry" / "activities"
    (activities / "T13-02.xlsx").rename(activities / "T13-02 (copie).xlsx")
    error = refused(project)
    assert error.path.endswith("activities/T13-02.mapping.yaml")
    assert error.rule == "mapping without its data file"


def test_a_mapping_that_is_not_valid_yaml(project: Project) -> None:
    mapping = project.input_dir / "registry" / "activities" / "T16-04.mapping.yaml"
    mapping.write_text("columns:\n  activity_id: ID\n   worker_id: [PTP\n", encoding="utf-8")
    error = refused(project)
    assert error.path.endswith("activities/T16-04.mapping.yaml")
    assert error.rule == "mapping is not valid YAML"
    assert "line" in str(error)
