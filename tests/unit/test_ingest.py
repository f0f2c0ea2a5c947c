"""Ingest of a small, hand-written input directory: raw copies, manifests, staged types."""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ingest_inputs import (  # noqa: E402
    ACTIVITY_ROWS,
    CP1252_HEADER,
    CP1252_MAPPING,
    CP1252_ROWS,
    EXPECTED_ROWS,
    build_input_dir,
    redcap_records,
    write_csv,
)

from proximite.cohort.codebook import load_codebook  # noqa: E402
from proximite.errors import InputError  # noqa: E402
from proximite.cohort.ingest import MANIFEST_NAME  # noqa: E402
from proximite.pipeline import ingest  # noqa: E402
from proximite.cohort import layers  # noqa: E402
from proximite.cohort.layers import latest_pull, raw_dir, read_staged  # noqa: E402
from proximite.cohort.sources import SOURCES, Source, get_source  # noqa: E402
from proximite.cohort.sources.encodings import decode_to_utf8  # noqa: E402
from proximite.cohort.sources.stat_files import read_stat_strings  # noqa: E402
from proximite.cohort.redcap.project import RedcapProject  # noqa: E402
from proximite.cohort.redcap.records import stage_records  # noqa: E402
from proximite.cohort.privacy.encryption import is_encrypted  # noqa: E402
from proximite.cohort.raw_files import read_raw_file  # noqa: E402
from proximite.config import load_settings  # noqa: E402

PULL = "20240101T000000Z-aaaaaa"


@pytest.fixture(scope="module")
def cb():
    return load_codebook()


@pytest.fixture
def input_dir(tmp_path: Path, cb) -> Path:
    return build_input_dir(tmp_path / "input", cb)


@pytest.fixture
def settings(tmp_path: Path):
    return load_settings(tmp_path / "project")


@pytest.fixture
def ingested(input_dir: Path, settings):
    return ingest(input_dir, settings=settings, pull_id=PULL)


@pytest.fixture
def staged(ingested, settings) -> dict[str, dict[str, pd.DataFrame]]:
    return {source: read_staged(settings, source) for source in ingested.sources}


# ------------------------------------------------------------------------------ registry of sources


def test_sources_registry_holds_the_four_sources_the_questionnaires_and_the_qualitative_strand() -> None:
    optional = ("partner_survey", "staff_survey", "qual_register", "qual_coding")
    assert list(SOURCES) == ["reference", "redcap", "registry", "cost", *optional]
    assert list(layers.SOURCES) == ["reference", "redcap", "registry", "cost"]  # what a build needs
    assert layers.OPTIONAL_SOURCES == optional  # what a build uses when staged
    assert layers.ALL_SOURCES == (*layers.SOURCES, *optional)
    for name in SOURCES:
        source = get_source(name)
        assert isinstance(source, Source)
        assert source.name == name
    assert get_source("cost").folder == "costs"
    assert get_source("qual_register").folder == get_source("qual_coding").folder == "qualitative"
    with pytest.raises(KeyError, match="sources: reference, redcap"):
        get_source("pycap")


# ------------------------------------------------------------------------------ layer 01


def test_raw_copies_are_encrypted_as_received_and_the_manifest_records_them(input_dir: Path, ingested, settings) -> None:
    folders = {"reference": "reference", "redcap": "redcap", "registry": "registry", "cost": "costs"}
    for source, folder in folders.items():
        target = raw_dir(settings, source, PULL)
        manifest = json.loads((target / MANIFEST_NAME).read_text(encoding="utf-8"))
        assert manifest["source"] == source
        assert manifest["pull_id"] == PULL
        assert manifest["received_at"].endswith("Z")
        assert manifest["code_version"]
        assert manifest["staged"] is True
        originals = sorted(p for p in (input_dir / folder).rglob("*") if p.is_file())
        listed = {entry["path"]: entry for entry in manifest["files"]}
        assert sorted(listed) == sorted(p.relative_to(input_dir / folder).as_posix() for p in originals)
        for original in originals:
            relative = original.relative_to(input_dir / folder).as_posix()
            copy = target / relative
            assert is_encrypted(copy) and (original.stat().st_size == 0 or original.read_bytes()[:64] not in copy.read_bytes())
            assert read_raw_file(copy, settings=settings) == original.read_bytes()
            assert listed[relative]["sha256"] == hashlib.sha256(original.read_bytes()).hexdigest()
            assert listed[relative]["bytes"] == original.stat().st_size
    redcap_manifest = json.loads((raw_dir(settings, "redcap", PULL) / MANIFEST_NAME).read_text(encoding="utf-8"))
    rows = {entry["path"]: entry["rows"] for entry in redcap_manifest["files"]}
    assert rows["records.csv"] == len(redcap_records(load_codebook())[1])
    assert rows["project.json"] is None
    registry_manifest = json.loads((raw_dir(settings, "registry", PULL) / MANIFEST_NAME).read_text(encoding="utf-8"))
    rows = {entry["path"]: entry["rows"] for entry in registry_manifest["files"]}
    assert rows == {
        "activities/T03-02.csv": 2, "activities/T03-02.mapping.yaml": None, "activities/T06-01.csv": 3,
        "activities/T13-02.mapping.yaml": None, "activities/T13-02.xlsx": 3, "activities/T16-04.mapping.yaml": None,
        "activities/T16-04.sav": 3, "supervision.csv": 2, "workers.csv": 3,
    }


def test_latest_marks_the_pull_and_every_table_is_staged(ingested, settings, staged) -> None:
    for source, tables in EXPECTED_ROWS.items():
        assert latest_pull(settings, source) == PULL
        assert {name: len(frame) for name, frame in staged[source].items()} == tables
        assert ingested[source].rows == tables
        assert ingested[source].staged_dir.is_dir()
        assert not list(ingested[source].staged_dir.parent.glob(".*partial"))
    summary = ingested.summary()
    assert summary["registry"]["rows"]["activity"] == 11
    json.dumps(summary)  # what the flow returns must be JSON-ready


def test_progress_reports_copies_stages_and_commit(input_dir: Path, settings) -> None:
    calls: list[tuple[str, int, int]] = []
    ingest(input_dir, settings=settings, progress=lambda step, done, total: calls.append((step, done, total)))
    steps = [step for step, _, _ in calls]
    assert steps[0] == "copy to 01 raw" and steps[-1] == "commit"
    copies = [call for call in calls if call[0] == "copy to 01 raw"]
    assert copies[-1][1] == copies[-1][2] == len(copies)
    assert [done for step, done, _ in calls if step == "stage to 02"] == [1, 2, 3, 4]


def test_a_second_pull_moves_latest_and_keeps_the_first(input_dir: Path, ingested, settings) -> None:
    second = ingest(input_dir, settings=settings, sources=["registry"], pull_id="20240102T000000Z-bbbbbb")
    assert list(second.sources) == ["registry"]
    assert latest_pull(settings, "registry") == "20240102T000000Z-bbbbbb"
    assert latest_pull(settings, "redcap") == PULL
    assert raw_dir(settings, "registry", PULL).is_dir()
    assert len(read_staged(settings, "registry", PULL)["activity"]) == 11


# ------------------------------------------------------------------------------ REDCap


def test_redcap_forms_are_typed_from_the_data_dictionary(staged) -> None:
    famille = staged["redcap"]["famille"]
    assert list(famille.columns[:6]) == [
        "record_id", "redcap_event_name", "redcap_repeat_instrument", "redcap_repeat_instance",
        "redcap_data_access_group", "source_row",
    ]
    dtypes = famille.dtypes.astype(str).to_dict()
    assert dtypes["record_id"].startswith("string")
    assert dtypes["redcap_repeat_instance"] == "Int64"
    assert dtypes["source_row"] == "Int64"
    assert dtypes["date_premier_contact"] == "datetime64[ns]"
    assert dtypes["isole_contact"] == "boolean"
    assert dtypes["canal_recrutement"].startswith("string")
    assert dtypes["famille_complete"] == "Int64"
    assert famille["source_row"].tolist() == [1, 9]
    assert famille["date_premier_contact"].tolist() == [pd.Timestamp("2024-02-01"), pd.Timestamp("2024-04-02")]
    assert famille["isole_contact"].tolist() == [True, False]
    assert famille["redcap_repeat_instrument"].isna().all()
    assert famille["monoparentale"].isna().tolist() == [False, True]
    assert famille["redcap_data_access_group"].tolist() == ["t06_01", "t13_02"]


def test_identifier_fields_never_leave_layer_01(cb, staged, ingested) -> None:
    identifiers = set(cb.identifier_fields)
    assert identifiers >= {"fam_nom_parent", "fam_telephone", "parent_date_naissance", "enf_prenom"}
    for form, frame in staged["redcap"].items():
        assert not identifiers & set(frame.columns), form
    for path in ingested["redcap"].staged_dir.glob("*.parquet"):
        content = path.read_bytes()
        for value in ("Tremblay", "Hélène".encode(), "514-555-0101", "1990-05-17", "Léa".encode()):
            value = value if isinstance(value, bytes) else value.encode()
            assert value not in content, (path.name, value)


def test_checkboxes_expand_to_one_boolean_per_code(cb, staged) -> None:
    suivi = staged["redcap"]["suivi"]
    expected = [f"ressources_3m___{code}" for code in cb.codes("resource_type")]
    assert [c for c in suivi.columns if c.startswith("ressources_3m")] == expected
    assert all(str(suivi[c].dtype) == "boolean" for c in expected)
    t6 = suivi.loc[suivi["redcap_event_name"] == "t6_arm_1"].iloc[0]
    assert {c.split("___")[1] for c in expected if t6[c]} == {"ocf", "aide_alimentaire", "clsc"}
    assert suivi["iso_transport"].tolist() == ["2", "1", "3"]  # radio: string codes
    assert suivi["satisf_relation"].isna().tolist() == [True, False, True]


def test_repeating_forms_keep_their_instances(staged) -> None:
    enfant = staged["redcap"]["enfant"]
    assert enfant["redcap_repeat_instrument"].tolist() == ["enfant"] * 3
    assert enfant["redcap_repeat_instance"].tolist() == [1, 2, 1]
    assert enfant["enf_a_naitre"].tolist() == [False, True, False]
    # A child's exact birth date stays in layer 01: layer 02 keeps its year-month only.
    assert enfant["enf_date_naissance"].tolist() == ["2021-06", "2024-07", "2023-01"]
    assert not enfant["enf_date_naissance"].str.fullmatch(r"\d{4}-\d{2}-\d{2}").any()
    besoin = staged["redcap"]["besoin"]
    assert besoin[["bes_categorie", "bes_statut"]].iloc[0].tolist() == ["logement", "en_cours"]


def test_a_dictionary_with_api_column_names_is_accepted(tmp_path: Path, cb, settings) -> None:
    directory = build_input_dir(tmp_path / "api", cb, api_names=True)
    result = ingest(directory, settings=settings, sources=["redcap"])
    assert result["redcap"].rows == EXPECTED_ROWS["redcap"]


def test_redcap_typing_works_on_a_dataframe_of_strings(cb) -> None:
    """What a PyCap-based source will call: records as strings plus the project metadata."""
    columns, rows = redcap_records(cb)
    records = pd.DataFrame(rows, columns=columns).replace("", None)
    tables = stage_records(records, RedcapProject.from_codebook(cb), event_waves={"t0_arm_1": 0, "t6_arm_1": 6})
    assert {form: len(frame) for form, frame in tables.items()} == EXPECTED_ROWS["redcap"]
    assert str(tables["suivi"]["suivi_date"].dtype) == "datetime64[ns]"
    assert "fam_nom_parent" not in tables["famille"].columns


def test_a_project_from_api_frames_checks_dags(cb) -> None:
    columns, rows = redcap_records(cb)
    project = RedcapProject.from_frames(
        cb.data_dictionary,  # API names, as PyCap's export_metadata gives them
        events=cb.events, form_event_mapping=cb.form_event_mapping,
        repeating_forms_events=cb.repeating_forms_events,
        dags=pd.DataFrame({"unique_group_name": ["t06_01"]}), paths={"dags": "API dag export"},
    )
    assert project.dag_names == frozenset({"t06_01"})
    with pytest.raises(InputError, match="'t13_02' is not among the project's data access groups") as caught:
        stage_records(pd.DataFrame(rows, columns=columns), project, path="API record export")
    assert (caught.value.row, caught.value.column, caught.value.count) == (9, "redcap_data_access_group", 3)


# ------------------------------------------------------------------------------ registry


def test_activity_table_is_typed_with_its_provenance(staged) -> None:
    activity = staged["registry"]["activity"]
    dtypes = activity.dtypes.astype(str).to_dict()
    assert dtypes["activity_date"] == "datetime64[ns]"
    assert dtypes["minutes"] == "Int64"
    assert dtypes["travel_minutes"] == "Int64"
    assert dtypes["travel_km"] == "Float64"
    assert dtypes["action_type"].startswith("string")
    assert dtypes["source_file"].startswith("string") and dtypes["source_row"] == "Int64"
    template = activity.loc[activity["source_file"] == "activities/T06-01.csv"]
    assert template["activity_id"].tolist() == [row[0] for row in ACTIVITY_ROWS]
    assert template["source_row"].tolist() == [1, 2, 3]
    assert template["family_record_id"].tolist()[1] == "1001"
    assert template["travel_km"].tolist() == [2.5, 8.0, 0.0]
    assert set(activity["action_type"]) <= set(load_codebook().codes("action_type"))


def test_spss_value_labels_are_mapped_and_user_missing_keeps_its_reason(staged) -> None:
    activity = staged["registry"]["activity"]
    sav = activity.loc[activity["source_file"] == "activities/T16-04.sav"].set_index("activity_id")
    # "Démarchage" and "Accompagner ..." by value label, code 3 by its raw code.
    assert sav["action_type"].tolist() == ["demarchage", "accompagnement_ressources", "espaces_dialogue"]
    assert sav["activity_date"].tolist() == [pd.Timestamp("2024-01-08"), pd.Timestamp("2024-01-09"), pd.Timestamp("2024-01-10")]
    assert sav["minutes"].tolist() == [30, 45, 20]
    assert sav["territory_id"].unique().tolist() == ["T16-04"]
    assert pd.isna(sav.loc["S-2", "travel_km"])
    assert sav.loc["S-2", "travel_km__missing_reason"] == "Ne sait pas"
    assert sav.loc["S-1", "travel_km"] == 4.0 and pd.isna(sav.loc["S-1", "travel_km__missing_reason"])


def test_xlsx_with_mapping_reads_dates_codes_and_constants(staged) -> None:
    activity = staged["registry"]["activity"]
    xlsx = activity.loc[activity["source_file"] == "activities/T13-02.xlsx"]
    assert xlsx["activity_id"].tolist() == ["X-1", "X-2", "X-3"]
    assert xlsx["source_row"].tolist() == [1, 2, 4]  # the empty sheet line keeps its place
    assert xlsx["action_type"].tolist() == ["demarchage", "reperage", "information"]
    assert xlsx["place"].tolist() == ["parc", "domicile", "parc"]
    assert xlsx["minutes"].tolist() == [50, 25, 90]
    assert xlsx["activity_date"].dt.strftime("%Y-%m-%d").tolist() == ["2024-05-06", "2024-05-07", "2024-05-09"]
    assert xlsx["territory_id"].unique().tolist() == ["T13-02"]


def test_cp1252_csv_is_detected_and_mapped(staged) -> None:
    activity = staged["registry"]["activity"]
    cp = activity.loc[activity["source_file"] == "activities/T03-02.csv"]
    assert cp["action_type"].tolist() == ["lien_confiance", "pouvoir_agir"]
    assert cp["activity_date"].dt.strftime("%Y-%m-%d").tolist() == ["2024-01-15", "2024-01-16"]
    assert cp["travel_km"].tolist() == [2.5, 0.0]  # decimal comma
    assert "Commentaire" not in activity.columns  # unmapped columns (names!) are left out


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1252"])
def test_declared_or_detected_encodings_read_the_same(tmp_path: Path, cb, settings, encoding: str) -> None:
    directory = tmp_path / "enc"
    activities = directory / "registry" / "activities"
    write_csv(activities / "T03-02.csv", CP1252_HEADER, CP1252_ROWS, encoding=encoding, delimiter=";")
    (activities / "T03-02.mapping.yaml").write_text(CP1252_MAPPING, encoding="utf-8")
    write_csv(activities / "T03-03.csv", CP1252_HEADER, CP1252_ROWS, encoding=encoding, delimiter=";")
    (activities / "T03-03.mapping.yaml").write_text(f"encoding: {encoding}\n" + CP1252_MAPPING, encoding="utf-8")
    # The same rows twice in one territory, on purpose: the staged gate would refuse the duplicate keys.
    result = ingest(directory, settings=settings, sources=["registry"], validate=False)
    activity = read_staged(settings, "registry", result.pull_id)["activity"]
    assert activity["action_type"].tolist() == ["lien_confiance", "pouvoir_agir"] * 2


def test_decode_to_utf8_detects_bom_and_cp1252(tmp_path: Path) -> None:
    text = "nom,ville\nBélanger,Trois-Rivières\n"
    assert decode_to_utf8(text.encode("utf-8"), path=tmp_path) == (text.encode("utf-8"), "utf-8")
    assert decode_to_utf8(text.encode("utf-8-sig"), path=tmp_path) == (text.encode("utf-8"), "utf-8-sig")
    assert decode_to_utf8(text.encode("cp1252"), path=tmp_path) == (text.encode("utf-8"), "cp1252")
    assert decode_to_utf8(text.encode("mac_roman"), path=tmp_path, declared="mac_roman")[0] == text.encode("utf-8")
    with pytest.raises(InputError, match="encoding undeclared or unrecognised"):
        decode_to_utf8(text.encode("utf-16"), path=tmp_path)


def test_stata_extended_missing_values_keep_their_reason(tmp_path: Path) -> None:
    import pyreadstat

    frame = pd.DataFrame({"ID": ["D-1", "D-2", "D-3"], "KM": [3.5, "b", 2.0], "TYPE": [1, 2, "a"]})
    path = tmp_path / "partner.dta"
    pyreadstat.write_dta(
        frame, str(path), variable_value_labels={"TYPE": {1: "Démarchage", 2: "Repérage"}},
        missing_user_values={"KM": ["b"], "TYPE": ["a"]},
    )
    raw = read_stat_strings(path)
    assert raw.table["KM"].to_pylist() == ["3.5", "", "2"]
    assert raw.missing_reasons["KM"].to_pylist() == [None, ".b", None]
    assert raw.table["TYPE"].to_pylist() == ["Démarchage", "Repérage", ""]
    assert raw.missing_reasons["TYPE"].to_pylist() == [None, None, ".a"]
    assert raw.codes["TYPE"].to_pylist() == ["1", "2", ""]


# ------------------------------------------------------------------------------ reference, costs


def test_reference_and_cost_tables_follow_the_model(staged) -> None:
    region = staged["reference"]["region"]
    assert region["region_code"].tolist()[:2] == ["01", "02"]  # leading zeros kept
    assert str(region["children_0_5"].dtype) == "Int64"
    organisation = staged["reference"]["organisation"]
    assert str(organisation["is_host"].dtype) == "boolean"
    assert organisation["is_host"].tolist() == [True, False, False]
    territory = staged["reference"]["territory"]
    assert list(territory.columns) == list(load_codebook().columns("territory"))
    cost = staged["cost"]["cost"]
    assert str(cost["amount_cad"].dtype) == "Float64"
    assert cost["amount_cad"].tolist() == [18250.5, 820.0, 17900.0]


def test_the_published_xlsx_template_filled_in_is_ingested(tmp_path: Path, settings) -> None:
    from openpyxl import load_workbook

    from proximite.cohort.codebook import package_dir

    template = package_dir() / "registry" / "activity_template.xlsx"
    workbook = load_workbook(template)
    sheet = workbook["Activités"]
    assert [cell.value for cell in sheet[1]] == list(load_codebook().registry["activity"])
    sheet.append(["T-1", "W06-01-1", "T06-01", pd.Timestamp("2024-06-03").to_pydatetime(), 40, "reperage", "1001", None, "parc", 5, 1.2])
    sheet.append(["T-2", "W06-01-1", "T06-01", pd.Timestamp("2024-06-04").to_pydatetime(), 20, "information", None, None, None, 0, 0])
    directory = tmp_path / "filled"
    (directory / "registry" / "activities").mkdir(parents=True)
    workbook.save(directory / "registry" / "activities" / "T06-01.xlsx")
    result = ingest(directory, settings=settings, sources=["registry"])
    activity = read_staged(settings, "registry", result.pull_id)["activity"]
    assert activity["action_type"].tolist() == ["reperage", "information"]
    assert activity["territory_id"].tolist() == ["T06-01", "T06-01"]
    assert activity["minutes"].tolist() == [40, 20]
    assert activity["travel_km"].tolist() == [1.2, 0.0]
    assert activity["family_record_id"].tolist()[0] == "1001"


def test_a_missing_optional_registry_table_is_staged_empty(tmp_path: Path, input_dir: Path, settings) -> None:
    directory = tmp_path / "only-activities"
    shutil.copytree(input_dir / "registry" / "activities", directory / "registry" / "activities")
    result = ingest(directory, settings=settings)
    assert result["registry"].rows == {"activity": 11, "worker": 0, "supervision": 0}
    worker = read_staged(settings, "registry", result.pull_id)["worker"]
    assert str(worker["start_date"].dtype) == "datetime64[ns]"
    assert np.all(worker.columns[:5] == list(load_codebook().registry["worker"]))
