"""Small, valid exports of the two yearly questionnaires, written by hand for the tests.

They fit the hand-written input directory of :mod:`ingest_inputs` (territory T06-01, data
access group ``t06_01``, organisations ORG-06-01-1 (host), -2 and -3, PTP W06-01-1 and W06-01-2),
so :func:`write_surveys` can add them to it. Each folder holds the data dictionary, the records
and ``dags.csv``; the structure (events per year, the repeating partner form) comes from the
codebook, as for an export without its structure files.

Partner questionnaire (``partner_survey/records.csv``, data rows):

==== ====== ================ ========== ==============================================
row  record event             instance   what
==== ====== ================ ========== ==============================================
1    1      annee_2024_arm_1             ORG-06-01-2 answers (appreciation 3)
2    1      annee_2024_arm_1 partenaire 1 names ORG-06-01-1 (host), coordination, items 4 3 4 / 3 3 3
3    1      annee_2024_arm_1 partenaire 2 names ORG-06-01-3, aucune (items not asked)
4    2      annee_2024_arm_1             ORG-06-01-3 answers (appreciation 2)
5    2      annee_2024_arm_1 partenaire 1 names ORG-06-01-1, cooperation, items 2 2 3 / 2 1 2
6    1      annee_2025_arm_1             ORG-06-01-2 answers again the next year (4)
7    1      annee_2025_arm_1 partenaire 1 names ORG-06-01-1, integration, items 4 4 4 / 4 3 4
==== ====== ================ ========== ==============================================

PTP and manager questionnaire (``staff_survey/records.csv``): row 1 record 1 (PTP W06-01-1,
2024), row 2 record 2 (the manager, 2024), row 3 record 1 (PTP W06-01-1, 2025).
"""

from __future__ import annotations

import csv
from pathlib import Path

from proximite.cohort.codebook import REDCAP_DICTIONARY_HEADERS, REDCAP_METADATA_COLUMNS, Codebook

#: Values of people in these exports: none may appear in an error, a staged table or a report.
PERSONAL = ("Ginette Lavoie", "ginette.lavoie@organisme.example", "Robert Gagnon", "Très bonne collaboration")

PARTNER_META = ["record_id", "redcap_event_name", "redcap_repeat_instrument", "redcap_repeat_instance", "redcap_data_access_group"]
STAFF_META = ["record_id", "redcap_event_name", "redcap_data_access_group"]

_ITEMS = ("confiance_ouverture", "confiance_fiabilite", "confiance_mission", "valeur_influence", "valeur_ressources", "valeur_implication")


def _write(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _columns(cb: Codebook, name: str, meta: list[str]) -> list[str]:
    survey = cb.survey(name)
    return meta + [c for form in survey.forms for c in survey.export_columns(form) if c != survey.record_id_field]


def _row(columns: list[str], values: dict[str, str]) -> list[str]:
    unknown = set(values) - set(columns)
    assert not unknown, unknown
    return [values.get(column, "") for column in columns]


def _response(record: str, event: str, org: str, appreciation: str, *, person: str = "", comment: str = "") -> dict[str, str]:
    return {
        "record_id": record, "redcap_event_name": event, "redcap_data_access_group": "t06_01",
        "rep_nom": person, "rep_courriel": "ginette.lavoie@organisme.example" if person else "",
        "org_code": org, "org_reseau": "communautaire", "org_mission": "aide_materielle_alimentation",
        "date_reponse": event[6:10] + "-11-04", "appreciation_porteur": appreciation, "commentaires": comment,
        "organisme_complete": "2",
    }


def _tie(record: str, event: str, instance: str, partner: str, level: str, items: str = "") -> dict[str, str]:
    values = {
        "record_id": record, "redcap_event_name": event, "redcap_repeat_instrument": "partenaire",
        "redcap_repeat_instance": instance, "redcap_data_access_group": "t06_01", "lien_org": partner,
        "lien_frequence": "mensuelle", "lien_niveau": level, "partenaire_complete": "2",
    }
    values.update(dict(zip(_ITEMS, items.split(), strict=False)))
    return values


def partner_rows(cb: Codebook) -> tuple[list[str], list[list[str]]]:
    """The partner questionnaire's flat export (the table in the module docstring)."""
    columns = _columns(cb, "partner_survey", PARTNER_META)
    first, second = "annee_2024_arm_1", "annee_2025_arm_1"
    rows = [
        _response("1", first, "ORG-06-01-2", "3", person="Ginette Lavoie", comment="Très bonne collaboration"),
        _tie("1", first, "1", "ORG-06-01-1", "coordination", "4 3 4 3 3 3"),
        _tie("1", first, "2", "ORG-06-01-3", "aucune"),
        _response("2", first, "ORG-06-01-3", "2", person="Robert Gagnon"),
        _tie("2", first, "1", "ORG-06-01-1", "cooperation", "2 2 3 2 1 2"),
        _response("1", second, "ORG-06-01-2", "4"),
        _tie("1", second, "1", "ORG-06-01-1", "integration", "4 4 4 4 3 4"),
    ]
    return columns, [_row(columns, values) for values in rows]


def _staff(record: str, event: str, role: str, code: str, answers: str) -> dict[str, str]:
    items = ("sup_adequation", "form_adequation", "role_clair", "role_partenaires", "role_bouche_trou", "charge_lourde", "intention_rester")
    values = {
        "record_id": record, "redcap_event_name": event, "redcap_data_access_group": "t06_01",
        "rep_nom": "Robert Gagnon" if role == "gestionnaire" else "", "role": role, "ptp_code": code,
        "date_reponse": event[6:10] + "-10-20", "sup_frequence": "mensuelle", "form_heures": "12",
        "questionnaire_complete": "2",
    }
    values.update(dict(zip(items, answers.split(), strict=True)))
    return values


def staff_rows(cb: Codebook) -> tuple[list[str], list[list[str]]]:
    """The PTP and manager questionnaire's flat export (rows in the module docstring)."""
    columns = _columns(cb, "staff_survey", STAFF_META)
    rows = [
        _staff("1", "annee_2024_arm_1", "ptp", "W06-01-1", "4 3 5 2 4 4 5"),
        _staff("2", "annee_2024_arm_1", "gestionnaire", "", "5 4 4 3 2 3 4"),
        _staff("1", "annee_2025_arm_1", "ptp", "W06-01-1", "2 4 4 2 5 5 2"),
    ]
    return columns, [_row(columns, values) for values in rows]


def _dictionary(cb: Codebook, name: str) -> tuple[list[str], list[list[str]]]:
    frame = cb.survey(name).data_dictionary[REDCAP_METADATA_COLUMNS]
    return list(REDCAP_DICTIONARY_HEADERS), frame.astype(str).to_numpy().tolist()


def write_surveys(root: Path, cb: Codebook) -> Path:
    """Write ``partner_survey/`` and ``staff_survey/`` into the input directory ``root``; returns ``root``."""
    dags = (["data_access_group_name", "unique_group_name", "data_access_group_id"], [["Territoire T06-01", "t06_01", "1"]])
    for name, rows in (("partner_survey", partner_rows(cb)), ("staff_survey", staff_rows(cb))):
        folder = root / name
        _write(folder / "data_dictionary.csv", *_dictionary(cb, name))
        _write(folder / "records.csv", *rows)
        _write(folder / "dags.csv", *dags)
    return root
