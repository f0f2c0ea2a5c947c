"""The REDCap mapping of a team's project: every defect named at once, drafting offline, the transformation."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from proximite.cli import app
from proximite.cohort.redcap.mapping import (
    RedcapMapping, check_against_project, load_mapping, map_records, cohort_project, unmapped_required,
)
from proximite.cohort.redcap.mapping_draft import draft_mapping, similarity
from proximite.cohort.redcap.project import RedcapProject
from proximite.errors import InputError

COLUMNS = ["field_name", "form_name", "field_type", "field_label", "select_choices_or_calculations", "identifier"]
EXTRA = ["text_validation_type_or_show_slider_number", "required_field"]


def _team() -> RedcapProject:
    metadata = pd.DataFrame(
        [
            ["study_id", "intake", "text", "Study ID", "", ""],
            ["first_contact", "intake", "text", "Date du premier contact avec la PTP", "", ""],
            ["canal_recrutment", "intake", "dropdown", "Recruitment", "1, Bouche-à-oreille | 2, Parc | 9, Autre chose", ""],
            ["parent_name", "intake", "text", "Name", "", "y"],
        ],
        columns=COLUMNS,
    ).assign(**{column: "" for column in EXTRA})
    from proximite.cohort.redcap.dictionary import normalise_metadata

    return RedcapProject(
        metadata=normalise_metadata(metadata, path="team.csv"),
        events=pd.DataFrame({"unique_event_name": ["enrol_arm_1"], "event_name": ["Enrol"]}),
        dags=pd.DataFrame({"unique_group_name": ["north", "south"], "data_access_group_name": ["North", "South"]}),
    )


def test_every_defect_of_a_mapping_is_named_with_its_key(tmp_path: Path) -> None:
    path = tmp_path / "mapping.yaml"
    path.write_text(
        "colums: {}\nforms: {famile: intake}\nevents: {t7: x}\nfields: {date_premier_contact: first_contact, nope: x}\n"
        "codes: {canal_recrutement: {'1': not_a_code}}\n",
        encoding="utf-8",
    )
    with pytest.raises(InputError) as caught:
        load_mapping(path)
    message = str(caught.value)
    for expected in ("`colums`: unknown key", "`forms.famile`", "`events.t7`", "`fields.nope`", "`codes.canal_recrutement.1`"):
        assert expected in message
    assert str(path) in message and "invalid REDCap mapping" in message


def test_a_mapping_that_does_not_fit_the_project_lists_every_gap(tmp_path: Path) -> None:
    mapping = RedcapMapping(
        path=tmp_path / "m.yaml", forms={"famille": "intake"}, events={"inclusion_arm_1": ("enrol_arm_1", "gone_arm_1")},
        dags={"t02_01": ("north",)}, fields={"date_premier_contact": "first_contact", "ptp_code": "parent_name", "langue_principale": "x"},
        codes={"canal_recrutement": {"7": "parc"}},
    )
    with pytest.raises(InputError) as caught:
        check_against_project(mapping, _team())
    message = str(caught.value)
    assert "no event `gone_arm_1`" in message and "no field `x`" in message
    assert "data access group `south` is mapped to no territory" in message
    assert "`parent_name` is flagged as an identifier" in message


def test_unmapped_required_fields_are_named_in_cohort_terms(tmp_path: Path) -> None:
    gaps = unmapped_required(RedcapMapping(path=tmp_path / "m.yaml", forms={"famille": "intake"}, fields={"date_premier_contact": "a"}))
    names = {gap.field for gap in gaps}
    assert "date_premier_contact" not in names and {"suivi_date", "isole_contact"} <= names
    described = next(gap for gap in gaps if gap.field == "isole_contact").describe()
    assert described.startswith("field `isole_contact` of form `famille` (your form `intake`) is required by the cohort and not mapped")


def test_records_take_the_cohort_names_codes_and_territories(tmp_path: Path) -> None:
    team = _team()
    mapping = RedcapMapping(
        path=tmp_path / "m.yaml", forms={"famille": "intake"}, events={"inclusion_arm_1": ("enrol_arm_1",)},
        dags={"t02_01": ("north",), "t02_02": ("south",)},
        fields={"date_premier_contact": "first_contact", "canal_recrutement": "canal_recrutment"},
        codes={"canal_recrutement": {"1": "bouche_a_oreille", "2": "parc"}},
    )
    records = pd.DataFrame(
        {"study_id": ["A", "B", "C"], "redcap_event_name": ["enrol_arm_1", "enrol_arm_1", "other_arm_1"],
         "redcap_data_access_group": ["north", "south", "north"], "first_contact": ["2024-01-02", "", "2024-03-04"],
         "canal_recrutment": ["1", "2", "1"], "parent_name": ["x", "y", "z"], "intake_complete": ["2", "1", "0"]}
    )
    mapped = map_records(records, team, mapping, cohort_project(team, mapping)).to_pandas()
    assert mapped["record_id"].tolist() == ["A", "B"]  # the unmapped event's row is left out
    assert mapped["redcap_event_name"].tolist() == ["inclusion_arm_1"] * 2
    assert mapped["redcap_data_access_group"].tolist() == ["t02_01", "t02_02"]
    assert mapped["canal_recrutement"].tolist() == ["bouche_a_oreille", "parc"]
    assert mapped["famille_complete"].tolist() == ["2", "1"] and (mapped["fam_nom_parent"] == "").all()
    assert "first_contact" not in mapped.columns and "parent_name" not in mapped.columns


def test_draft_offline_from_a_dictionary_matches_names_labels_and_codes(tmp_path: Path) -> None:
    draft = draft_mapping(_team())
    by_ours = {match.ours: match for match in draft.fields}
    assert by_ours["date_premier_contact"].yours == "first_contact" and by_ours["date_premier_contact"].how == "exact label"
    assert "parent_name" in draft.unmatched_fields
    assert draft.codes["canal_recrutement"] == {"1": "bouche_a_oreille", "2": "parc"}
    assert draft.unmatched_codes["canal_recrutement"] == ["9"]
    assert similarity("pa_1x", "pa_1") >= 0.8 > similarity("site_02_01", "t02_01")

    dictionary = tmp_path / "dictionary.csv"
    _team().metadata.to_csv(dictionary, index=False)
    out = tmp_path / "mapping.yaml"
    result = CliRunner().invoke(app, ["redcap", "map", "--init", "--dictionary", str(dictionary), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "first_contact" in out.read_text(encoding="utf-8")
    assert "unmatched field of yours" in result.output
    again = CliRunner().invoke(app, ["redcap", "map", "--init", "--dictionary", str(dictionary), "--out", str(out)])
    assert again.exit_code == 1 and "already exists" in again.output
