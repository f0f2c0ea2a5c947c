"""REDCap's project XML: the codebook's project and a synthetic cohort round-trip through it exactly."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pandas as pd
import pytest

from proximite.cohort.codebook import load_codebook
from proximite.cohort.redcap.loaders import (
    codebook_project,
    load_project,
    project_from_directory,
    write_codebook_project_xml,
)
from proximite.cohort.redcap.project import RedcapProject
from proximite.cohort.redcap.xml_layout import ODM_NS, REDCAP_NS
from proximite.cohort.redcap.xml_read import project_from_xml
from proximite.cohort.redcap.xml_write import project_to_xml
from proximite.errors import InputError
from proximite.cohort.sandbox.synth import generate_cohort

STRUCTURE = ("events", "arms", "form_event_mapping", "repeating_forms_events", "dags")
#: Project settings the XML carries (GlobalVariables), compared after a round trip.
INFO_KEYS = (
    "project_title",
    "is_longitudinal",
    "has_repeating_instruments_or_events",
    "missing_data_codes",
    "record_autonumbering_enabled",
    "custom_record_label",
    "secondary_unique_field",
    "scheduling_enabled",
    "surveys_enabled",
    "randomization_enabled",
    "display_today_now_button",
    "purpose",
    "purpose_other",
    "project_notes",
    "bypass_branching_erase_field_prompt",
    "creation_time",
)
ODM = f"{{{ODM_NS}}}"
RC = f"{{{REDCAP_NS}}}"


@pytest.fixture(scope="module")
def cb():
    return load_codebook()


@pytest.fixture(scope="module")
def cohort_project() -> RedcapProject:
    return codebook_project()


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> RedcapProject:
    out = tmp_path_factory.mktemp("synthetic") / "input"
    generate_cohort(out, families=40, territories=3)
    return project_from_directory(out)


@pytest.fixture(scope="module")
def synthetic_xml(synthetic: RedcapProject) -> bytes:
    return project_to_xml(synthetic)


@pytest.fixture(scope="module")
def synthetic_back(synthetic_xml: bytes) -> RedcapProject:
    return project_from_xml(synthetic_xml)


def _csv(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False, lineterminator="\n").encode("utf-8")


def _assert_same_project(expected: RedcapProject, actual: RedcapProject) -> None:
    pd.testing.assert_frame_equal(actual.metadata, expected.metadata)
    for name in STRUCTURE:
        pd.testing.assert_frame_equal(getattr(actual, name), getattr(expected, name), obj=name)
    assert list(actual.records.columns) == list(expected.records.columns)
    assert _csv(actual.records) == _csv(expected.records)
    for key in INFO_KEYS:
        if key in expected.info:
            assert actual.info[key] == expected.info[key], key


# ------------------------------------------------------------------------------ the cohort project
def test_codebook_project_round_trips_through_xml(cohort_project: RedcapProject, cb) -> None:
    xml = project_to_xml(cohort_project, include_data=False)
    back = project_from_xml(xml)
    _assert_same_project(cohort_project, back)
    # ... and equals the codebook's own frames, as strings.
    pd.testing.assert_frame_equal(back.events, cb.events.astype(str).astype(object))
    pd.testing.assert_frame_equal(back.arms, cb.arms.astype(str).astype(object))
    pd.testing.assert_frame_equal(back.form_event_mapping, cb.form_event_mapping.astype(str).astype(object))
    pd.testing.assert_frame_equal(back.repeating_forms_events, cb.repeating_forms_events.astype(str).astype(object))
    pd.testing.assert_frame_equal(back.dags, cb.dags().astype(str).astype(object))
    assert back.metadata["field_name"].tolist() == cb.data_dictionary["field_name"].tolist()
    assert back.records.empty
    assert back.records.columns[:5].tolist() == [
        "record_id",
        "redcap_event_name",
        "redcap_repeat_instrument",
        "redcap_repeat_instance",
        "redcap_data_access_group",
    ]
    assert b"<ClinicalData" not in xml


def test_codebook_project_matches_the_shipped_csv_files(cohort_project: RedcapProject, cb) -> None:
    shipped = project_from_directory(cb.directory / "redcap", records=False)
    pd.testing.assert_frame_equal(cohort_project.metadata, shipped.metadata)
    for name in STRUCTURE:
        pd.testing.assert_frame_equal(getattr(cohort_project, name), getattr(shipped, name), obj=name)


def test_write_codebook_project_xml_and_load_project(tmp_path: Path, cohort_project: RedcapProject) -> None:
    path = write_codebook_project_xml(tmp_path / "out" / "proximite.REDCap.xml")
    assert path.is_file()
    loaded = load_project(path)
    pd.testing.assert_frame_equal(loaded.metadata, cohort_project.metadata)
    assert loaded.is_longitudinal and loaded.has_repeating


# ------------------------------------------------------------------------------ a synthetic cohort
def test_synthetic_project_round_trips_exactly(synthetic: RedcapProject, synthetic_back: RedcapProject) -> None:
    assert len(synthetic.records) > 100
    _assert_same_project(synthetic, synthetic_back)


def test_checkboxes_and_repeat_instances_survive(synthetic: RedcapProject, synthetic_back: RedcapProject) -> None:
    checkboxes = [column for column in synthetic.records.columns if column.startswith("ressources_3m___")]
    assert checkboxes
    original, back = synthetic.records, synthetic_back.records
    assert set(original[checkboxes].stack()) >= {"0", "1", ""}
    pd.testing.assert_frame_equal(back[checkboxes], original[checkboxes])
    repeats = original["redcap_repeat_instance"].replace("", "0").astype(int)
    assert repeats.max() > 1
    keys = ["record_id", "redcap_event_name", "redcap_repeat_instrument", "redcap_repeat_instance"]
    pd.testing.assert_frame_equal(back[keys], original[keys])
    assert set(back["redcap_repeat_instrument"]) == {"", "enfant", "besoin", "reference"}


def test_bytes_are_deterministic(
    synthetic: RedcapProject, synthetic_xml: bytes, synthetic_back: RedcapProject
) -> None:
    assert project_to_xml(synthetic.copy()) == synthetic_xml
    assert project_to_xml(synthetic_back) == synthetic_xml  # XML → project → XML is the identity
    creation = synthetic.info["creation_time"].replace(" ", "T")
    assert f'CreationDateTime="{creation}"'.encode() in synthetic_xml


def test_the_xml_is_redcap_odm(synthetic_xml: bytes, synthetic: RedcapProject) -> None:
    assert synthetic_xml.startswith(
        b'<?xml version="1.0" encoding="UTF-8" ?>\n<ODM xmlns="http://www.cdisc.org/ns/odm/v1.3"'
    )
    assert b'xmlns:redcap="https://projectredcap.org"' in synthetic_xml
    root = ET.fromstring(synthetic_xml)
    assert root.tag == f"{ODM}ODM"
    assert root.get("ODMVersion") == "1.3.1" and root.get("FileType") == "Snapshot"
    for attribute in ("FileOID", "CreationDateTime", "SourceSystem"):
        assert root.get(attribute)
    globals_ = root.find(f"{ODM}Study/{ODM}GlobalVariables")
    assert globals_.findtext(f"{ODM}StudyName") == synthetic.info["project_title"]
    assert globals_.findtext(f"{RC}RecordAutonumberingEnabled") == "1"
    repeating = globals_.findall(f"{RC}RepeatingInstrumentsAndEvents/{RC}RepeatingInstruments/{RC}RepeatingInstrument")
    assert {item.get(f"{RC}RepeatInstrument") for item in repeating} == {"enfant", "besoin", "reference"}
    dags = globals_.findall(f"{RC}DataAccessGroupsGroup/{RC}DataAccessGroups")
    assert [item.get("group_name") for item in dags] == synthetic.dags["data_access_group_name"].tolist()

    metadata = root.find(f"{ODM}Study/{ODM}MetaDataVersion")
    assert metadata.get(f"{RC}RecordIdField") == "record_id"
    refs = metadata.findall(f"{ODM}Protocol/{ODM}StudyEventRef")
    assert [ref.get("StudyEventOID") for ref in refs] == [
        f"Event.{name}" for name in synthetic.events["unique_event_name"]
    ]
    inclusion = metadata.find(f"{ODM}StudyEventDef[@OID='Event.inclusion_arm_1']")
    assert inclusion.get(f"{RC}UniqueEventName") == "inclusion_arm_1" and inclusion.get(f"{RC}ArmNum") == "1"
    assert [ref.get(f"{RC}FormName") for ref in inclusion.findall(f"{ODM}FormRef")] == ["famille", "enfant"]
    assert metadata.find(f"{ODM}FormDef[@OID='Form.suivi']").get(f"{RC}FormName") == "suivi"
    checkbox = metadata.find(f"{ODM}ItemDef[@OID='ressources_3m___ocf']")
    assert checkbox.get(f"{RC}Variable") == "ressources_3m" and checkbox.get(f"{RC}FieldType") == "checkbox"
    assert checkbox.get("DataType") == "boolean"
    choices = metadata.find(f"{ODM}CodeList[@OID='ressources_3m___ocf.choices']")
    assert choices.get(f"{RC}CheckboxChoices").startswith("ocf, ")
    dropdown = metadata.find(f"{ODM}ItemDef[@OID='canal_recrutement']")
    assert dropdown.get(f"{RC}FieldType") == "select"  # REDCap's back-end name for dropdown
    assert dropdown.find(f"{ODM}CodeListRef").get("CodeListOID") == "canal_recrutement.choices"
    assert dropdown.findtext(f"{ODM}Question/{ODM}TranslatedText")
    dated = metadata.find(f"{ODM}ItemDef[@OID='date_premier_contact']")
    assert dated.get(f"{RC}TextValidationType") == "date_ymd" and dated.get(f"{RC}RequiredField") == "y"
    assert dated.find(f"{ODM}RangeCheck[@Comparator='GE']").findtext(f"{ODM}CheckValue") == "2022-01-01"
    assert metadata.find(f"{ODM}ItemDef[@OID='fam_nom_parent']").get(f"{RC}Identifier") == "y"
    assert metadata.find(f"{ODM}ItemDef[@OID='pa_1']").get(f"{RC}MatrixGroupName") == "pouvoir_agir"
    assert metadata.find(f"{ODM}ItemDef[@OID='famille_complete']").get(f"{RC}SectionHeader") == "Form Status"

    clinical = root.find(f"{ODM}ClinicalData")
    subject = clinical.find(f"{ODM}SubjectData")
    assert subject.get("SubjectKey") == "1"
    event = subject.find(f"{ODM}StudyEventData")
    assert event.get(f"{RC}UniqueEventName") == "inclusion_arm_1"
    first_group = event.find(f"{ODM}FormData/{ODM}ItemGroupData")
    items = {item.get("ItemOID"): item.get("Value") for item in first_group.findall(f"{ODM}ItemData")}
    assert items["record_id"] == "1" and items["redcap_data_access_group"]
    repeat_keys = [int(form.get("FormRepeatKey")) for form in clinical.iter(f"{ODM}FormData")]
    assert max(repeat_keys) > 1


def test_load_project_reads_an_xml_file(tmp_path: Path, synthetic_xml: bytes, synthetic: RedcapProject) -> None:
    path = tmp_path / "copy.REDCap.xml"
    path.write_bytes(synthetic_xml)
    loaded = load_project(path)
    assert _csv(loaded.records) == _csv(synthetic.records)


def test_awkward_values_and_a_record_off_its_first_form_survive(synthetic: RedcapProject) -> None:
    project = synthetic.copy()
    records = project.records
    first = records.index[
        (records["redcap_event_name"] == "inclusion_arm_1") & (records["redcap_repeat_instrument"] == "")
    ][0]
    records.loc[first, "fam_adresse"] = 'ligne 1\nligne 2\r\n\t"guillemets" & <chevrons> — é'
    # A record whose inclusion row is gone still keeps its data access group.
    lonely = records.loc[records.index[-1], "record_id"]
    records = records.drop(
        records.index[(records["record_id"] == lonely) & (records["redcap_event_name"] == "inclusion_arm_1")]
    )
    project.records = records.reset_index(drop=True)
    project.info["instrument_labels"] = {"famille": "Famille & parent", "reference": "Référence"}
    back = project_from_xml(project_to_xml(project))
    assert _csv(back.records) == _csv(project.records)
    assert back.info["instrument_labels"]["famille"] == "Famille & parent"
    assert back.info["instrument_labels"]["reference"] == "Référence"
    assert back.info["instrument_labels"]["suivi"] == "Suivi"
    assert back.records.loc[back.records["record_id"] == lonely, "redcap_data_access_group"].ne("").all()


# ------------------------------------------------------------------------------ REDCap's own files
REDCAP_EXPORT = """<?xml version="1.0" encoding="UTF-8" ?>
<ODM xmlns="http://www.cdisc.org/ns/odm/v1.3" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:redcap="https://projectredcap.org" xsi:schemaLocation="http://www.cdisc.org/ns/odm/v1.3 schema/odm/ODM1-3-1.xsd" ODMVersion="1.3.1" FileOID="000-00-0000" FileType="Snapshot" Description="Classic" AsOfDateTime="2020-06-18T12:04:54" CreationDateTime="2020-06-18T12:04:54" SourceSystem="REDCap" SourceSystemVersion="9.5.28">
<Study OID="Project.Classic">
<GlobalVariables>
\t<StudyName>Classic</StudyName>
\t<StudyDescription>This file contains the metadata, events, and data for REDCap project "Classic".</StudyDescription>
\t<ProtocolName>Classic</ProtocolName>
\t<redcap:RecordAutonumberingEnabled>0</redcap:RecordAutonumberingEnabled>
\t<redcap:Purpose>0</redcap:Purpose>
\t<redcap:RepeatingInstrumentsAndEvents>
\t\t<redcap:RepeatingInstruments>
\t\t\t<redcap:RepeatingInstrument redcap:UniqueEventName="event_1_arm_1" redcap:RepeatInstrument="weight" redcap:CustomLabel=""/>
\t\t</redcap:RepeatingInstruments>
\t</redcap:RepeatingInstrumentsAndEvents>
</GlobalVariables>
<MetaDataVersion OID="Metadata.Classic_2020-06-18_1204" Name="Classic" redcap:RecordIdField="record_id">
\t<FormDef OID="Form.registration" Name="Registration" Repeating="No" redcap:FormName="registration">
\t\t<ItemGroupRef ItemGroupOID="registration.record_id" Mandatory="No"/>
\t\t<ItemGroupRef ItemGroupOID="registration.notes" Mandatory="No"/>
\t\t<ItemGroupRef ItemGroupOID="registration.registration_complete" Mandatory="No"/>
\t</FormDef>
\t<FormDef OID="Form.weight" Name="Weight" Repeating="No" redcap:FormName="weight">
\t\t<ItemGroupRef ItemGroupOID="weight.weight_kg" Mandatory="No"/>
\t\t<ItemGroupRef ItemGroupOID="weight.weight_complete" Mandatory="No"/>
\t</FormDef>
\t<ItemGroupDef OID="registration.record_id" Name="Registration" Repeating="No">
\t\t<ItemRef ItemOID="record_id" Mandatory="No" redcap:Variable="record_id"/>
\t\t<ItemRef ItemOID="sex" Mandatory="Yes" redcap:Variable="sex"/>
\t\t<ItemRef ItemOID="race___0" Mandatory="No" redcap:Variable="race"/>
\t\t<ItemRef ItemOID="race___1" Mandatory="No" redcap:Variable="race"/>
\t</ItemGroupDef>
\t<ItemGroupDef OID="registration.notes" Name="General Comments" Repeating="No">
\t\t<ItemRef ItemOID="notes" Mandatory="No" redcap:Variable="notes"/>
\t</ItemGroupDef>
\t<ItemGroupDef OID="registration.registration_complete" Name="Form Status" Repeating="No">
\t\t<ItemRef ItemOID="registration_complete" Mandatory="No" redcap:Variable="registration_complete"/>
\t</ItemGroupDef>
\t<ItemGroupDef OID="weight.weight_kg" Name="Weight" Repeating="No">
\t\t<ItemRef ItemOID="weight_kg" Mandatory="No" redcap:Variable="weight_kg"/>
\t\t<ItemRef ItemOID="visits" Mandatory="No" redcap:Variable="visits"/>
\t</ItemGroupDef>
\t<ItemGroupDef OID="weight.weight_complete" Name="Form Status" Repeating="No">
\t\t<ItemRef ItemOID="weight_complete" Mandatory="No" redcap:Variable="weight_complete"/>
\t</ItemGroupDef>
\t<ItemDef OID="record_id" Name="record_id" DataType="text" Length="999" redcap:Variable="record_id" redcap:FieldType="text">
\t\t<Question><TranslatedText>Study ID</TranslatedText></Question>
\t</ItemDef>
\t<ItemDef OID="sex" Name="sex" DataType="text" Length="1" redcap:Variable="sex" redcap:FieldType="select" redcap:RequiredField="y">
\t\t<Question><TranslatedText>Sex</TranslatedText><redcap:FormattedTranslatedText>&lt;b&gt;Sex&lt;/b&gt;</redcap:FormattedTranslatedText></Question>
\t\t<CodeListRef CodeListOID="sex.choices"/>
\t</ItemDef>
\t<ItemDef OID="race___0" Name="race___0" DataType="boolean" Length="1" redcap:Variable="race" redcap:FieldType="checkbox">
\t\t<Question><TranslatedText>Race</TranslatedText></Question>
\t\t<CodeListRef CodeListOID="race___0.choices"/>
\t</ItemDef>
\t<ItemDef OID="race___1" Name="race___1" DataType="boolean" Length="1" redcap:Variable="race" redcap:FieldType="checkbox">
\t\t<Question><TranslatedText>Race</TranslatedText></Question>
\t\t<CodeListRef CodeListOID="race___1.choices"/>
\t</ItemDef>
\t<ItemDef OID="notes" Name="notes" DataType="text" Length="999" redcap:Variable="notes" redcap:FieldType="textarea" redcap:SectionHeader="General Comments">
\t\t<Question><TranslatedText>Comments</TranslatedText></Question>
\t</ItemDef>
\t<ItemDef OID="registration_complete" Name="registration_complete" DataType="text" Length="1" redcap:Variable="registration_complete" redcap:FieldType="select" redcap:SectionHeader="Form Status">
\t\t<Question><TranslatedText>Complete?</TranslatedText></Question>
\t\t<CodeListRef CodeListOID="registration_complete.choices"/>
\t</ItemDef>
\t<ItemDef OID="weight_kg" Name="weight_kg" DataType="float" Length="999" redcap:Variable="weight_kg" redcap:FieldType="text" redcap:TextValidationType="float">
\t\t<Question><TranslatedText>Weight (kg)</TranslatedText></Question>
\t\t<RangeCheck Comparator="GE" SoftHard="Soft"><CheckValue>0</CheckValue><ErrorMessage><TranslatedText>x</TranslatedText></ErrorMessage></RangeCheck>
\t\t<RangeCheck Comparator="LE" SoftHard="Soft"><CheckValue>500</CheckValue><ErrorMessage><TranslatedText>x</TranslatedText></ErrorMessage></RangeCheck>
\t</ItemDef>
\t<ItemDef OID="visits" Name="visits" DataType="integer" Length="999" redcap:Variable="visits" redcap:FieldType="text" redcap:TextValidationType="int">
\t\t<Question><TranslatedText>Visits</TranslatedText></Question>
\t</ItemDef>
\t<ItemDef OID="weight_complete" Name="weight_complete" DataType="text" Length="1" redcap:Variable="weight_complete" redcap:FieldType="select" redcap:SectionHeader="Form Status">
\t\t<Question><TranslatedText>Complete?</TranslatedText></Question>
\t\t<CodeListRef CodeListOID="weight_complete.choices"/>
\t</ItemDef>
\t<CodeList OID="sex.choices" Name="sex" DataType="text" redcap:Variable="sex">
\t\t<CodeListItem CodedValue="0"><Decode><TranslatedText>Female</TranslatedText></Decode></CodeListItem>
\t\t<CodeListItem CodedValue="1"><Decode><TranslatedText>Male</TranslatedText></Decode></CodeListItem>
\t</CodeList>
\t<CodeList OID="race___0.choices" Name="race___0" DataType="boolean" redcap:Variable="race" redcap:CheckboxChoices="0, Asian|1, White">
\t\t<CodeListItem CodedValue="1"><Decode><TranslatedText>Checked</TranslatedText></Decode></CodeListItem>
\t\t<CodeListItem CodedValue="0"><Decode><TranslatedText>Unchecked</TranslatedText></Decode></CodeListItem>
\t</CodeList>
</MetaDataVersion>
</Study>
<ClinicalData StudyOID="Project.Classic" MetaDataVersionOID="Metadata.Classic_2020-06-18_1204">
\t<SubjectData SubjectKey="1001" redcap:RecordIdField="record_id">
\t\t\t<FormData FormOID="Form.registration" FormRepeatKey="1">
\t\t\t\t<ItemGroupData ItemGroupOID="registration.record_id" ItemGroupRepeatKey="1">
\t\t\t\t\t<ItemData ItemOID="record_id" Value="1001"/>
\t\t\t\t\t<ItemData ItemOID="registration_timestamp" Value="2020-01-01 10:00:00"/>
\t\t\t\t\t<ItemData ItemOID="sex" Value="0"/>
\t\t\t\t\t<ItemData ItemOID="race___0" Value="0"/>
\t\t\t\t\t<ItemData ItemOID="race___1" Value="1"/>
\t\t\t\t</ItemGroupData>
\t\t\t\t<ItemGroupData ItemGroupOID="registration.notes" ItemGroupRepeatKey="1">
\t\t\t\t\t<ItemData ItemOID="notes" Value=""/>
\t\t\t\t</ItemGroupData>
\t\t\t\t<ItemGroupData ItemGroupOID="registration.registration_complete" ItemGroupRepeatKey="1">
\t\t\t\t\t<ItemData ItemOID="registration_complete" Value="2"/>
\t\t\t\t</ItemGroupData>
\t\t\t</FormData>
\t\t\t<FormData FormOID="Form.weight" FormRepeatKey="1">
\t\t\t\t<ItemGroupData ItemGroupOID="weight.weight_kg" ItemGroupRepeatKey="1">
\t\t\t\t\t<ItemData ItemOID="weight_kg" Value="78.3"/>
\t\t\t\t</ItemGroupData>
\t\t\t</FormData>
\t\t\t<FormData FormOID="Form.weight" FormRepeatKey="2">
\t\t\t\t<ItemGroupData ItemGroupOID="weight.weight_kg" ItemGroupRepeatKey="1">
\t\t\t\t\t<ItemData ItemOID="weight_kg" Value="77.1"/>
\t\t\t\t\t<ItemData ItemOID="visits" Value="3"/>
\t\t\t\t</ItemGroupData>
\t\t\t</FormData>
\t</SubjectData>
</ClinicalData>
</ODM>"""


def test_reads_a_project_xml_as_redcap_writes_it() -> None:
    """A classic project in REDCap's own layout: back-end type names, blank values, a survey timestamp.

    The survey timestamp makes ``registration`` a survey form (its columns are kept); the weight
    rows hold data without a stored status, so their status reads 0 as REDCap exports it.
    """
    project = project_from_xml(REDCAP_EXPORT.encode("utf-8"))
    metadata = project.metadata.set_index("field_name")
    assert metadata.index.tolist() == ["record_id", "sex", "race", "notes", "weight_kg", "visits"]
    assert metadata.loc["sex", "field_type"] == "dropdown" and metadata.loc["sex", "required_field"] == "y"
    assert metadata.loc["sex", "field_label"] == "<b>Sex</b>"
    assert metadata.loc["sex", "select_choices_or_calculations"] == "0, Female | 1, Male"
    assert metadata.loc["race", "select_choices_or_calculations"] == "0, Asian|1, White"
    assert (
        metadata.loc["notes", "field_type"] == "notes" and metadata.loc["notes", "section_header"] == "General Comments"
    )
    assert metadata.loc[
        "weight_kg", ["text_validation_type_or_show_slider_number", "text_validation_min", "text_validation_max"]
    ].tolist() == ["number", "0", "500"]
    assert metadata.loc["visits", "text_validation_type_or_show_slider_number"] == "integer"
    assert project.events.empty and not project.is_longitudinal and project.has_repeating
    assert project.repeating_forms_events.to_dict("records") == [{"event_name": "", "form_name": "weight", "custom_form_label": ""}]
    assert project.info["project_title"] == "Classic" and project.info["creation_time"] == "2020-06-18 12:04:54"
    assert project.info["instrument_labels"] == {"registration": "Registration", "weight": "Weight"}
    assert project.survey_forms == ["registration"] and project.info["surveys_enabled"] == 1
    records = project.records
    assert records.columns.tolist() == [
        "record_id",
        "redcap_repeat_instrument",
        "redcap_repeat_instance",
        "redcap_survey_identifier",
        "registration_timestamp",
        "sex",
        "race___0",
        "race___1",
        "notes",
        "registration_complete",
        "weight_kg",
        "visits",
        "weight_complete",
    ]
    assert records.to_dict("records") == [
        {
            "record_id": "1001",
            "redcap_repeat_instrument": "",
            "redcap_repeat_instance": "",
            "redcap_survey_identifier": "",
            "registration_timestamp": "2020-01-01 10:00:00",
            "sex": "0",
            "race___0": "0",
            "race___1": "1",
            "notes": "",
            "registration_complete": "2",
            "weight_kg": "",
            "visits": "",
            "weight_complete": "",
        },
        {
            "record_id": "1001",
            "redcap_repeat_instrument": "weight",
            "redcap_repeat_instance": "1",
            "redcap_survey_identifier": "",
            "registration_timestamp": "",
            "sex": "",
            "race___0": "",
            "race___1": "",
            "notes": "",
            "registration_complete": "",
            "weight_kg": "78.3",
            "visits": "",
            "weight_complete": "0",
        },
        {
            "record_id": "1001",
            "redcap_repeat_instrument": "weight",
            "redcap_repeat_instance": "2",
            "redcap_survey_identifier": "",
            "registration_timestamp": "",
            "sex": "",
            "race___0": "",
            "race___1": "",
            "notes": "",
            "registration_complete": "",
            "weight_kg": "77.1",
            "visits": "3",
            "weight_complete": "0",
        },
    ]
    # Written back, it reads the same.
    again = project_from_xml(project_to_xml(project))
    pd.testing.assert_frame_equal(again.metadata, project.metadata)
    assert _csv(again.records) == _csv(records)


# ------------------------------------------------------------------------------ bad files
@pytest.mark.parametrize(
    ("content", "rule"),
    [
        (b"record_id,name\n1,x\n", "not an XML file"),
        (b"", "not an XML file"),
        (b'<?xml version="1.0"?><html><body/></html>', "not a CDISC ODM file"),
        (b'<ODM ODMVersion="1.3.1"><Study/></ODM>', "not a CDISC ODM file"),
        (
            (
                b'<ODM xmlns="http://www.cdisc.org/ns/odm/v1.3"><Study OID="S"><GlobalVariables>'
                b"<StudyName>S</StudyName></GlobalVariables></Study></ODM>"
            ),
            "missing element <MetaDataVersion>",
        ),
        (
            b'<ODM xmlns="http://www.cdisc.org/ns/odm/v1.3"><ClinicalData StudyOID="S"/></ODM>',
            "missing element <MetaDataVersion>",
        ),
    ],
)
def test_bad_files_give_clear_errors(tmp_path: Path, content: bytes, rule: str) -> None:
    path = tmp_path / "export.xml"
    path.write_bytes(content)
    with pytest.raises(InputError) as caught:
        load_project(path)
    assert caught.value.rule == rule
    assert str(path) in str(caught.value)


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such"):
        project_from_xml(tmp_path / "absent.xml")
