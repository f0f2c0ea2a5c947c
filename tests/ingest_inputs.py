"""A small, valid input directory written by hand, for the ingest tests.

Every file is tiny and built here from the codebook (``cb.export_columns`` for the REDCap flat
layout), so each test can copy it and break one thing.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path

import pandas as pd

from proximite.cohort.codebook import REDCAP_DICTIONARY_HEADERS, REDCAP_METADATA_COLUMNS, Codebook

META = ["record_id", "redcap_event_name", "redcap_repeat_instrument", "redcap_repeat_instance", "redcap_data_access_group"]

#: Canonical registry template columns (registry.yaml `activity`), for the template CSV.
ACTIVITY_ROWS = [
    ["A-001", "W06-01-1", "T06-01", "2024-03-04", "45", "demarchage", "", "", "parc", "10", "2.5"],
    ["A-002", "W06-01-1", "T06-01", "2024-03-05", "60", "accompagnement_ressources", "1001", "ORG-06-01-2", "organisme_partenaire", "20", "8"],
    ["A-003", "W06-01-2", "T06-01", "2024-03-06", "30", "suivi_partenaires", "", "ORG-06-01-3", "telephone_virtuel", "0", "0"],
]


def write_csv(path: Path, header: list[str], rows: list[list[str]], *, encoding: str = "utf-8", delimiter: str = ",") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding=encoding, newline="") as handle:
        writer = csv.writer(handle, delimiter=delimiter, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    return path


def records_columns(cb: Codebook) -> list[str]:
    """The flat export's columns: record id and REDCap's columns, then every form's fields."""
    columns = list(META)
    for form in cb.forms:
        columns += [column for column in cb.export_columns(form) if column != "record_id"]
    return columns


def _row(columns: list[str], values: dict[str, str]) -> list[str]:
    unknown = set(values) - set(columns)
    assert not unknown, unknown
    return [values.get(column, "") for column in columns]


def _checkboxes(cb: Codebook, field: str, ticked: set[str]) -> dict[str, str]:
    return {f"{field}___{code}": "1" if code in ticked else "0" for code in cb.codes("resource_type")}


def redcap_records(cb: Codebook) -> tuple[list[str], list[list[str]]]:
    """Two families over the cohort's events, in REDCap's order (record, event, instance)."""
    columns = records_columns(cb)
    suivi_scores = {
        "iso_transport": "2", "iso_contraintes_eco": "3", "iso_reseau_soutien": "1", "iso_barrieres_ling": "0",
        "iso_mefiance": "1", "pa_1": "3", "pa_2": "4", "pa_3": "2", "pa_4": "5",
        "stress_1": "4", "stress_2": "4", "stress_3": "3", "stress_4": "5", "suivi_complete": "2",
    }
    rows = [
        {
            "record_id": "1001", "redcap_event_name": "inclusion_arm_1", "redcap_data_access_group": "t06_01",
            "fam_nom_parent": "Tremblay", "fam_prenom_parent": "Hélène", "fam_telephone": "514-555-0101",
            "fam_courriel": "helene@example.org", "fam_adresse": "12, rue des Érables\nApp. 3",
            "fam_code_postal": "H2X 1Y4", "parent_date_naissance": "1990-05-17",
            "date_premier_contact": "2024-02-01", "canal_recrutement": "parc", "isole_contact": "1",
            "monoparentale": "0", "statut_immigration": "resident_permanent", "langue_principale": "francais",
            "date_consentement": "2024-02-03", "ptp_code": "W06-01-1", "famille_complete": "2",
        },
        {
            "record_id": "1001", "redcap_event_name": "inclusion_arm_1", "redcap_repeat_instrument": "enfant",
            "redcap_repeat_instance": "1", "redcap_data_access_group": "t06_01", "enf_prenom": "Léa",
            "enf_date_naissance": "2021-06-10", "enf_a_naitre": "0", "enfant_complete": "2",
        },
        {
            "record_id": "1001", "redcap_event_name": "inclusion_arm_1", "redcap_repeat_instrument": "enfant",
            "redcap_repeat_instance": "2", "redcap_data_access_group": "t06_01", "enf_prenom": "",
            "enf_date_naissance": "2024-07-01", "enf_a_naitre": "1", "enfant_complete": "1",
        },
        {
            "record_id": "1001", "redcap_event_name": "t0_arm_1", "redcap_data_access_group": "t06_01",
            "suivi_date": "2024-02-10", **_checkboxes(cb, "ressources_3m", {"ocf"}), **suivi_scores,
        },
        {
            "record_id": "1001", "redcap_event_name": "t6_arm_1", "redcap_data_access_group": "t06_01",
            "suivi_date": "2024-08-12", **_checkboxes(cb, "ressources_3m", {"ocf", "aide_alimentaire", "clsc"}),
            **suivi_scores, "iso_transport": "1", "satisf_relation": "5", "satisf_aide": "4", "satisf_recommande": "5",
        },
        {
            "record_id": "1001", "redcap_event_name": "accompagnement_arm_1", "redcap_repeat_instrument": "besoin",
            "redcap_repeat_instance": "1", "redcap_data_access_group": "t06_01", "bes_categorie": "logement",
            "bes_date_identification": "2024-02-10", "bes_statut": "en_cours", "bes_date_statut": "2024-03-01",
            "besoin_complete": "2",
        },
        {
            "record_id": "1001", "redcap_event_name": "accompagnement_arm_1", "redcap_repeat_instrument": "reference",
            "redcap_repeat_instance": "1", "redcap_data_access_group": "t06_01", "ref_direction": "ptp_to_partner",
            "ref_org_source": "ORG-06-01-1", "ref_org_destination": "ORG-06-01-2", "ref_categorie_besoin": "logement",
            "ref_date": "2024-02-15", "ref_resultat": "contact_etabli", "ref_date_resultat": "2024-02-20",
            "reference_complete": "2",
        },
        {
            "record_id": "1001", "redcap_event_name": "sortie_arm_1", "redcap_data_access_group": "t06_01",
            "sortie_date": "2024-09-30", "sortie_raison": "objectifs_atteints", "sortie_complete": "2",
        },
        {
            "record_id": "1002", "redcap_event_name": "inclusion_arm_1", "redcap_data_access_group": "t13_02",
            "fam_nom_parent": "Côté", "fam_prenom_parent": "Zoé", "date_premier_contact": "2024-04-02",
            "canal_recrutement": "bouche_a_oreille", "isole_contact": "0", "date_consentement": "2024-04-02",
            "famille_complete": "1",
        },
        {
            "record_id": "1002", "redcap_event_name": "inclusion_arm_1", "redcap_repeat_instrument": "enfant",
            "redcap_repeat_instance": "1", "redcap_data_access_group": "t13_02", "enf_date_naissance": "2023-01-20",
            "enf_a_naitre": "0", "enfant_complete": "2",
        },
        {
            "record_id": "1002", "redcap_event_name": "t0_arm_1", "redcap_data_access_group": "t13_02",
            "suivi_date": "2024-04-20", **_checkboxes(cb, "ressources_3m", set()), "iso_transport": "3",
            "suivi_complete": "0",
        },
    ]
    return columns, [_row(columns, values) for values in rows]


def write_redcap(folder: Path, cb: Codebook, *, api_names: bool = False) -> None:
    dictionary = cb.data_dictionary
    if not api_names:
        dictionary = dictionary.rename(columns=dict(zip(REDCAP_METADATA_COLUMNS, REDCAP_DICTIONARY_HEADERS, strict=True)))
    folder.mkdir(parents=True, exist_ok=True)
    dictionary.to_csv(folder / "data_dictionary.csv", index=False, lineterminator="\n")
    cb.events.to_csv(folder / "events.csv", index=False, lineterminator="\n")
    cb.arms.to_csv(folder / "arms.csv", index=False, lineterminator="\n")
    cb.form_event_mapping.to_csv(folder / "form_event_mapping.csv", index=False, lineterminator="\n")
    cb.repeating_forms_events.to_csv(folder / "repeating_forms_events.csv", index=False, lineterminator="\n")
    write_csv(
        folder / "dags.csv", ["data_access_group_name", "unique_group_name", "data_access_group_id"],
        [["Territoire T06-01", "t06_01", "1"], ["Territoire T13-02", "t13_02", "2"]],
    )
    (folder / "project.json").write_text(
        json.dumps({"project_title": cb.project["title"], "is_longitudinal": 1, "has_repeating_instruments_or_events": 1}),
        encoding="utf-8",
    )
    columns, rows = redcap_records(cb)
    write_csv(folder / "records.csv", columns, rows)


def write_xlsx(path: Path) -> None:
    """A partner's XLSX: own column names, French labels, real Excel dates."""
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Activités"
    sheet.append(["No_activite", "Intervenante", "Date", "Duree_min", "Type", "Lieu", "Km"])
    sheet.append(["X-1", "W13-02-1", dt.datetime(2024, 5, 6), 50, "Démarchage", "Parc", 3.5])
    sheet.append(["X-2", "W13-02-1", dt.datetime(2024, 5, 7), 25, "Repérage", "Domicile", None])
    sheet.append([None] * 7)  # an empty line inside the sheet
    sheet.append(["X-3", "W13-02-2", dt.date(2024, 5, 9), 90.0, "Informer", "Parc", 0])
    workbook.save(path)


XLSX_MAPPING = """\
table: activity
sheet: Activités
columns:
  activity_id: No_activite
  worker_id: Intervenante
  activity_date: Date
  minutes: Duree_min
  action_type: Type
  place: Lieu
  travel_km: Km
codes:
  action_type:
    "Démarchage": demarchage
    "Repérage": reperage
    "Informer": information
  place:
    Parc: parc
    Domicile: domicile
constants:
  territory_id: T13-02
"""


def write_sav(path: Path) -> None:
    """SPSS with value labels and user-missing codes (99 on TYPE, -9 on KM)."""
    import pyreadstat

    frame = pd.DataFrame(
        {
            "ID": ["S-1", "S-2", "S-3"],
            "PTP": ["W16-04-1", "W16-04-1", "W16-04-2"],
            "DATE": [dt.date(2024, 1, 8), dt.date(2024, 1, 9), dt.date(2024, 1, 10)],
            "DUREE": [30.0, 45.0, 20.0],
            "TYPE": [1.0, 2.0, 3.0],
            "KM": [4.0, -9.0, 1.5],
        }
    )
    pyreadstat.write_sav(
        frame,
        str(path),
        variable_value_labels={
            "TYPE": {1: "Démarchage", 2: "Accompagner vers les ressources", 3: "Espaces de dialogue", 99: "Refus"},
            "KM": {-9: "Ne sait pas"},
        },
        missing_ranges={"TYPE": [99], "KM": [-9]},
    )


SAV_MAPPING = """\
table: activity
columns:
  activity_id: ID
  worker_id: PTP
  activity_date: DATE
  minutes: DUREE
  action_type: TYPE
  travel_km: KM
codes:
  action_type:
    "Démarchage": demarchage
    "Accompagner vers les ressources": accompagnement_ressources
    "3": espaces_dialogue
constants:
  territory_id: T16-04
"""

#: A partner's cp1252 CSV: semicolons, day-first dates, decimal commas, French names in a free column.
CP1252_HEADER = ["Numéro", "Intervenante", "Date", "Durée", "Type d'action", "Déplacement (km)", "Commentaire"]
CP1252_ROWS = [
    ["C-1", "W03-02-1", "15/01/2024", "40", "Lien de confiance", "2,5", "Visite chez Mme Bélanger"],
    ["C-2", "W03-02-1", "16/01/2024", "35", "Pouvoir d'agir", "0", "Appel à Françoise"],
]
CP1252_MAPPING = """\
date_format: "%d/%m/%Y"
columns:
  activity_id: Numéro
  worker_id: Intervenante
  activity_date: Date
  minutes: Durée
  action_type: Type d'action
  travel_km: Déplacement (km)
codes:
  action_type:
    "Lien de confiance": lien_confiance
    "Pouvoir d'agir": pouvoir_agir
constants:
  territory_id: T03-02
"""


def write_registry(folder: Path, cb: Codebook) -> None:
    write_csv(
        folder / "workers.csv", list(cb.registry["worker"]),
        [["W06-01-1", "T06-01", "2023-09-01", "", "35"], ["W06-01-2", "T06-01", "2023-09-01", "2024-06-30", "28"],
         ["W13-02-1", "T13-02", "2023-10-01", "", "35"]],
    )
    write_csv(
        folder / "supervision.csv", list(cb.registry["supervision"]),
        [["W06-01-1", "2024-03-01", "90", "clinique"], ["W06-01-2", "2024-03-08", "120", "formation"]],
    )
    activities = folder / "activities"
    write_csv(activities / "T06-01.csv", list(cb.registry["activity"]), ACTIVITY_ROWS)
    write_xlsx(activities / "T13-02.xlsx")
    (activities / "T13-02.mapping.yaml").write_text(XLSX_MAPPING, encoding="utf-8")
    write_sav(activities / "T16-04.sav")
    (activities / "T16-04.mapping.yaml").write_text(SAV_MAPPING, encoding="utf-8")
    write_csv(activities / "T03-02.csv", CP1252_HEADER, CP1252_ROWS, encoding="cp1252", delimiter=";")
    (activities / "T03-02.mapping.yaml").write_text(CP1252_MAPPING, encoding="utf-8")


def write_reference(folder: Path, cb: Codebook) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    cb.regions.to_csv(folder / "regions.csv", index=False, lineterminator="\n")
    write_csv(
        folder / "territories.csv", ["territory_id", "name", "region_code", "environment", "host_type", "redcap_dag"],
        [["T06-01", "Montréal-Nord", "06", "urbain", "OCF", "t06_01"],
         ["T13-02", "Laval-des-Rapides", "13", "urbain", "CPSC", "t13_02"],
         ["T16-04", "Haut-Richelieu", "16", "mixte", "OCF", "t16_04"],
         ["T03-02", "Charlevoix", "03", "rural", "OCF_CPSC", "t03_02"]],
    )
    write_csv(
        folder / "organisations.csv", ["org_id", "name", "territory_id", "network", "mission", "is_host"],
        [["ORG-06-01-1", "Maison de la famille", "T06-01", "communautaire", "famille_enfance", "1"],
         ["ORG-06-01-2", "Comptoir alimentaire", "T06-01", "communautaire", "aide_materielle_alimentation", "0"],
         ["ORG-06-01-3", "CLSC du quartier", "T06-01", "public_sss", "autre", "0"]],
    )


def write_costs(folder: Path) -> None:
    write_csv(
        folder / "costs.csv", ["territory_id", "period", "category", "amount_cad"],
        [["T06-01", "2024-T1", "salaire_ptp", "18250.50"], ["T06-01", "2024-T1", "mobilite", "820"],
         ["T13-02", "2024-T1", "salaire_ptp", "17900"]],
    )


def build_input_dir(root: Path, cb: Codebook, *, api_names: bool = False) -> Path:
    """Write the whole valid input directory under ``root`` and return it."""
    write_redcap(root / "redcap", cb, api_names=api_names)
    write_registry(root / "registry", cb)
    write_reference(root / "reference", cb)
    write_costs(root / "costs")
    return root


#: Rows each staged table holds for :func:`build_input_dir`.
EXPECTED_ROWS = {
    "redcap": {"famille": 2, "enfant": 3, "suivi": 3, "besoin": 1, "reference": 1, "sortie": 1},
    "registry": {"activity": 3 + 3 + 3 + 2, "worker": 3, "supervision": 2},
    "reference": {"region": 17, "territory": 4, "organisation": 3},
    "cost": {"cost": 3},
}
