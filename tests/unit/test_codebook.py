"""The codebook API: enumerations, REDCap layout, harmonised model, consistency checks."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from proximite.cohort.codebook import (
    REDCAP_METADATA_COLUMNS,
    Codebook,
    CodebookError,
    load_codebook,
    package_dir,
)


@pytest.fixture(scope="module")
def cb() -> Codebook:
    return load_codebook()


def test_design_enumerations_are_complete(cb: Codebook) -> None:
    assert cb.codes("action_type") == [
        "demarchage", "reperage", "lien_confiance",
        "information", "pouvoir_agir", "accompagnement_ressources",
        "suivi_partenaires", "adaptation_pratiques", "espaces_dialogue",
    ]
    assert len(cb.codes("need_category")) == 17
    assert cb.codes("need_status") == [
        "identifie", "en_cours", "repondu", "partiellement_repondu", "non_repondu", "aucune_ressource", "liste_attente",
    ]
    assert cb.codes("referral_outcome") == ["en_attente", "contact_etabli", "service_recu", "refus", "abandon", "liste_attente"]
    assert len(cb.codes("recruitment_channel")) == 12
    assert len(cb.codes("network")) == 11 and len(cb.codes("mission")) == 8
    assert cb.codes("host_type") == ["OCF", "CPSC", "OCF_CPSC"]


def test_every_code_has_french_and_english_labels(cb: Codebook) -> None:
    for name, codes in cb.enumerations.items():
        for code, label in codes.items():
            assert label.fr.strip() and label.en.strip(), f"{name}.{code}"
    assert cb.label("need_status", "aucune_ressource", lang="en") == "No resource available or reachable"
    with pytest.raises(CodebookError, match="not a code of action_type"):
        cb.label("action_type", "inconnu")


def test_components_follow_the_integrated_model(cb: Codebook) -> None:
    by_component: dict[str, list[str]] = {}
    for action in cb.codes("action_type"):
        by_component.setdefault(cb.component_of(action), []).append(action)
    assert by_component == {
        "proximite": ["demarchage", "reperage", "lien_confiance"],
        "soutien": ["information", "pouvoir_agir", "accompagnement_ressources"],
        "concertation": ["suivi_partenaires", "adaptation_pratiques", "espaces_dialogue"],
    }


def test_data_dictionary_has_redcaps_18_columns_and_identifier_flags(cb: Codebook) -> None:
    dd = cb.data_dictionary
    assert list(dd.columns) == REDCAP_METADATA_COLUMNS and len(REDCAP_METADATA_COLUMNS) == 18
    assert dd.iloc[0]["field_name"] == "record_id"
    assert set(dd["form_name"]) == {"famille", "enfant", "suivi", "besoin", "reference", "sortie"}
    flagged = set(dd.loc[dd["identifier"] == "y", "field_name"])
    assert {"fam_nom_parent", "fam_telephone", "fam_courriel", "fam_adresse", "parent_date_naissance"} <= flagged
    # Coded fields carry REDCap's "code, label | code, label" choices.
    choices = dd.set_index("field_name").loc["bes_statut", "select_choices_or_calculations"]
    assert choices.split(" | ")[0] == "identifie, Identifié"


def test_export_columns_expand_checkboxes_and_close_with_complete(cb: Codebook) -> None:
    columns = cb.export_columns("suivi")
    assert columns[0] == "suivi_date"
    assert "ressources_3m___aucune" in columns and "ressources_3m" not in columns
    assert columns[-1] == "suivi_complete"


def test_events_mapping_and_repeating_instruments(cb: Codebook) -> None:
    assert cb.event_names == [
        "inclusion_arm_1", "t0_arm_1", "t6_arm_1", "t12_arm_1", "t24_arm_1", "accompagnement_arm_1", "sortie_arm_1",
    ]
    assert cb.events_of_form("suivi") == ["t0_arm_1", "t6_arm_1", "t12_arm_1", "t24_arm_1"]
    assert cb.repeating_forms == {"enfant", "besoin", "reference"}
    assert set(cb.form_event_mapping.columns) == {"arm_num", "unique_event_name", "form"}


def test_harmonised_model_has_designs_tables(cb: Codebook) -> None:
    assert cb.tables == [
        "region", "territory", "organisation", "worker", "family", "child",
        "assessment", "need", "referral", "activity", "supervision", "cost",
        "qual_session", "qual_code", "qual_coding",
    ]
    assert cb.key_columns("assessment") == ["family_id", "wave"]
    assert "isolation_index" in cb.columns("assessment")
    with pytest.raises(CodebookError, match="no harmonised table"):
        cb.columns("famille")


def test_regions_are_quebecs_17(cb: Codebook) -> None:
    regions = cb.regions
    assert len(regions) == 17
    assert regions["region_code"].tolist() == [f"{n:02d}" for n in range(1, 18)]
    assert regions.set_index("region_code").loc["06", "name_fr"] == "Montréal"


def test_inconsistent_codebook_is_refused(cb: Codebook, monkeypatch: pytest.MonkeyPatch) -> None:
    broken = Codebook.__new__(Codebook)
    broken.enumerations = cb.enumerations
    broken.forms = {"famille": {"x": {"type": "dropdown", "label": "x", "enum": "nope", "target": "family.nope"}}}
    broken.model = cb.model
    broken.registry = cb.registry
    broken.action_component = cb.action_component
    broken.indicator_families = cb.indicator_families
    broken.indicators = {"reach.x": {"family": "nowhere", "fr": "x"}}
    with pytest.raises(CodebookError, match="unknown enumeration 'nope'") as error:
        broken._check_consistency()
    assert "unknown column 'family.nope'" in str(error.value)
    assert "reach.x names unknown family 'nowhere'" in str(error.value)
    assert "reach.x lacks additive, en, method, people, timing, unit" in str(error.value)


def codebook_copy(tmp_path: Path) -> Path:
    """A copy of the packaged codebook's files, to edit."""
    copy = tmp_path / "codebook"
    shutil.copytree(package_dir(), copy, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    return copy


def test_codebook_reads_the_directory_it_is_given(tmp_path: Path) -> None:
    copy = codebook_copy(tmp_path)
    enumerations = copy / "enumerations.yaml"
    text = enumerations.read_text(encoding="utf-8")
    assert text.count("No resource available or reachable") == 1
    enumerations.write_text(text.replace("No resource available or reachable", "Nothing to offer"), encoding="utf-8")

    edited = Codebook(copy)
    assert edited.directory == copy
    assert edited.label("need_status", "aucune_ressource", lang="en") == "Nothing to offer"
    assert Codebook().label("need_status", "aucune_ressource", lang="en") == "No resource available or reachable"


# ------------------------------------------------------------------------------ English texts
def test_every_model_table_and_column_is_described_in_french_and_english(cb: Codebook) -> None:
    described = 0
    for table in cb.tables:
        assert cb.grain(table).strip() and cb.grain(table, lang="en").strip(), table
        for column in cb.columns(table):
            french, english = cb.description(table, column), cb.description(table, column, lang="en")
            assert french.strip() and english.strip(), f"{table}.{column}"
            described += 1
    assert described == sum(len(spec["columns"]) for spec in cb.model.values()) >= 90
    assert cb.description("assessment", "wave", lang="en") == "Wave (months after T0)"
    assert cb.description("assessment", "wave") == "Vague (mois après T0)"
    assert cb.grain("assessment", lang="en") == "a family at a wave"
    # A description holding a comma is read whole (an unquoted one was cut at the comma).
    assert cb.description("cost", "period") == "Période (AAAA-Tn, un trimestre)"
    with pytest.raises(CodebookError, match="no column 'nope' in table 'assessment'"):
        cb.description("assessment", "nope")


def test_every_redcap_field_and_registry_column_has_its_english_text(cb: Codebook) -> None:
    assert (cb.fields["label_en"].str.strip() != "").all()
    assert cb.fields.set_index("field_name").loc["iso_mefiance", "label_en"] == "Distrust of institutions"
    for table, columns in cb.registry.items():
        for name, spec in columns.items():
            assert str(spec.get("explanation_en", "")).strip(), f"{table}.{name}"


def _edit_model(copy: Path, edit) -> None:
    path = copy / "model.yaml"
    model = yaml.safe_load(path.read_text(encoding="utf-8"))
    edit(model)
    path.write_text(yaml.safe_dump(model, allow_unicode=True, sort_keys=False), encoding="utf-8")


def test_a_model_column_without_its_english_description_is_refused(tmp_path: Path) -> None:
    copy = codebook_copy(tmp_path)
    _edit_model(copy, lambda model: model["assessment"]["columns"]["isolation_index"].pop("description_en"))
    with pytest.raises(CodebookError, match=r"model.yaml: assessment.isolation_index lacks its description_en"):
        Codebook(copy)


def test_a_model_table_without_its_english_grain_is_refused(tmp_path: Path) -> None:
    copy = codebook_copy(tmp_path)
    _edit_model(copy, lambda model: model["need"].pop("grain_en"))
    with pytest.raises(CodebookError, match=r"model.yaml: table need lacks its grain_en"):
        Codebook(copy)


def test_an_unquoted_comma_in_a_model_description_is_refused(tmp_path: Path) -> None:
    copy = codebook_copy(tmp_path)
    path = copy / "model.yaml"
    text = path.read_text(encoding="utf-8")
    quoted = 'description_en: "Period (YYYY-Tn, a quarter)"'
    assert text.count(quoted) == 1
    path.write_text(text.replace(quoted, "description_en: Period (YYYY-Tn, a quarter)"), encoding="utf-8")
    with pytest.raises(CodebookError, match=r"model.yaml: cost.period has unknown key\(s\) 'a quarter\)'") as error:
        Codebook(copy)
    assert "quote a description holding a comma" in str(error.value)


def test_a_redcap_field_without_its_english_label_is_refused(tmp_path: Path) -> None:
    copy = codebook_copy(tmp_path)
    path = copy / "forms.yaml"
    text = path.read_text(encoding="utf-8")
    label = ', label_en: "Distrust of institutions"'
    assert text.count(label) == 1
    path.write_text(text.replace(label, ""), encoding="utf-8")
    with pytest.raises(CodebookError, match=r"forms.yaml: suivi.iso_mefiance lacks its label_en"):
        Codebook(copy)
