"""Writers of the synthetic input directory (``docs/data-layout.md``), byte-stable for a seed.

REDCap files mimic an API export (flat CSV, raw codes); registry activity files come as the
published template or, for some territories, as a partner's own XLSX, SPSS or cp1252 CSV with
a mapping YAML. XLSX and SAV files embed timestamps; they are fixed here so the same seed
writes the same bytes.
"""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from proximite.cohort.codebook import REDCAP_DICTIONARY_HEADERS, Codebook
from proximite.cohort.sandbox._censor import Tables
from proximite.cohort.sandbox._context import Context
from proximite.cohort.sandbox._sampling import NO_DATE, concat_text, iso_dates, stream
from proximite.cohort.sandbox.geography import reference_frames
from proximite.cohort.stable_bytes import FIXED_TIME, stable_xlsx

REDCAP_PREFIX = [
    "record_id",
    "redcap_event_name",
    "redcap_repeat_instrument",
    "redcap_repeat_instance",
    "redcap_data_access_group",
]
#: Timestamp written into files that carry one (project.json, XLSX properties, SAV header).

#: The project's missing-data codes (REDCap project setting), written to project.json.
#: Share of answered isolation items recorded as "NSP" (ne sait pas): the index treats them as unanswered.
ISOLATION_NSP_SHARE = 0.01

# Optional fields left empty, as in a real project.
_OPTIONAL_MISSING = {"monoparentale": 0.02, "statut_immigration": 0.03, "langue_principale": 0.01}

# A partner's own labels (registry files kept outside the template).
PARTNER_ACTION_LABELS = {
    "demarchage": "Démarchage",
    "reperage": "Repérage",
    "lien_confiance": "Lien de confiance",
    "information": "Information",
    "pouvoir_agir": "Pouvoir d'agir",
    "accompagnement_ressources": "Accompagnement vers les ressources",
    "suivi_partenaires": "Suivi avec les partenaires",
    "adaptation_pratiques": "Adaptation des pratiques",
    "espaces_dialogue": "Espace de dialogue",
}
PARTNER_PLACE_LABELS = {
    "domicile": "Domicile",
    "organisme_porteur": "Organisme porteur",
    "organisme_partenaire": "Organisme partenaire",
    "parc": "Parc",
    "ecole_service_garde": "École ou service de garde",
    "commerce": "Commerce",
    "telephone_virtuel": "Téléphone ou virtuel",
    "autre": "Autre",
}
_XLSX_COLUMNS = (
    {
        "activity_id": "No activité",
        "worker_id": "Intervenante",
        "activity_date": "Date",
        "minutes": "Durée (min)",
        "action_type": "Type d'intervention",
        "family_record_id": "Dossier",
        "org_id": "Partenaire",
        "place": "Lieu",
        "travel_minutes": "Déplacement (min)",
        "travel_km": "Km parcourus",
    },
    {
        "activity_id": "Numéro",
        "worker_id": "PTP",
        "activity_date": "Date de l'activité",
        "minutes": "Minutes",
        "action_type": "Action",
        "family_record_id": "No dossier famille",
        "org_id": "Organisme visé",
        "place": "Endroit",
        "travel_minutes": "Temps de route",
        "travel_km": "Kilométrage",
    },
)
_SAV_COLUMNS = {
    "activity_id": ("no_act", "Numéro de l'activité"),
    "worker_id": ("ptp", "Code de la PTP"),
    "activity_date": ("date_act", "Date de l'activité"),
    "minutes": ("duree", "Durée en minutes"),
    "action_type": ("type_act", "Type d'action"),
    "family_record_id": ("dossier", "Dossier de la famille"),
    "org_id": ("partenaire", "Organisme partenaire"),
    "place": ("lieu", "Lieu de l'activité"),
    "travel_minutes": ("depl_min", "Déplacement (minutes)"),
    "travel_km": ("depl_km", "Déplacement (km)"),
}
SAV_USER_MISSING_CODE = 99
SAV_USER_MISSING_LABEL = "Non précisé"
SAV_USER_MISSING_SHARE = 0.03
_CP1252_COLUMNS = {
    "activity_id": "N° activité",
    "worker_id": "Intervenant(e)",
    "activity_date": "Date de l'activité",
    "minutes": "Durée (minutes)",
    "action_type": "Type d'action",
    "family_record_id": "N° dossier",
    "org_id": "Organisme",
    "place": "Lieu",
    "travel_minutes": "Déplacement (minutes)",
    "travel_km": "Déplacement (km)",
}
_CP1252_DATE_FORMAT = "%d/%m/%Y"


@dataclass
class Written:
    """Paths written and row counts, filled as files are written."""

    paths: dict[str, Path]
    rows: dict[str, int]


def _write_csv(frame: pd.DataFrame, path: Path, **options: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False, lineterminator="\n", **options)


def _yes_no(values: np.ndarray) -> np.ndarray:
    return np.where(np.asarray(values, dtype=bool), "1", "0").astype(object)


def _int_text(values: np.ndarray, *, empty_when: int | None = None) -> np.ndarray:
    values = np.asarray(values, dtype=np.int64)
    text = values.astype(str).astype(object)
    if empty_when is not None:
        text[values == empty_when] = ""
    return text


# =============================================================================================
# REDCap
# =============================================================================================
def redcap_columns(codebook: Codebook) -> list[str]:
    """Columns of the flat records export, in REDCap's order."""
    record_id = codebook.record_id_field
    return REDCAP_PREFIX + [c for form in codebook.forms for c in codebook.export_columns(form) if c != record_id]


class RecordsBuilder:
    """Collects the rows of ``records.csv`` form by form, then writes them in REDCap's order."""

    def __init__(self, codebook: Codebook, *, repeat_columns: bool = True) -> None:
        self.codebook = codebook
        # A project without repeating instruments exports no redcap_repeat_* column.
        self.prefix = REDCAP_PREFIX if repeat_columns else [c for c in REDCAP_PREFIX if "repeat" not in c]
        self.form_columns = {
            form: [c for c in codebook.export_columns(form) if c != codebook.record_id_field] for form in codebook.forms
        }
        self.all_form_columns = [c for form in codebook.forms for c in self.form_columns[form]]
        self.event_order = {name: i for i, name in enumerate(codebook.event_names)}
        self.form_order = {name: i for i, name in enumerate(codebook.forms)}
        self.lines: list[np.ndarray] = []
        self.keys: list[np.ndarray] = []

    def add(
        self,
        form: str,
        event: str,
        record_num: np.ndarray,
        dag: np.ndarray,
        values: dict[str, np.ndarray],
        instance: np.ndarray | None = None,
    ) -> None:
        """Add one block: the rows of ``form`` at ``event`` (``instance`` for repeating forms)."""
        columns = self.form_columns[form]
        if set(values) != set(columns):
            missing, extra = sorted(set(columns) - set(values)), sorted(set(values) - set(columns))
            raise ValueError(f"form {form}: columns missing {missing}, unexpected {extra}")
        n = len(record_num)
        if n == 0:
            return
        repeating = instance is not None
        prefix = pd.DataFrame(
            {
                "record_id": np.asarray(record_num).astype(str).astype(object),
                "redcap_event_name": np.full(n, event, dtype=object),
                "redcap_repeat_instrument": np.full(n, form if repeating else "", dtype=object),
                "redcap_repeat_instance": _int_text(instance) if repeating else np.full(n, "", dtype=object),
                "redcap_data_access_group": np.asarray(dag, dtype=object),
            }
        )[self.prefix]
        body = pd.DataFrame({column: values[column] for column in columns}, columns=columns)
        prefix_lines = prefix.to_csv(index=False, header=False, lineterminator="\n").split("\n")[:-1]
        body_lines = body.to_csv(index=False, header=False, lineterminator="\n").split("\n")[:-1]
        if len(prefix_lines) != n or len(body_lines) != n:
            raise ValueError(f"form {form}: a value holds a line break")
        before = self.all_form_columns.index(columns[0])
        after = len(self.all_form_columns) - before - len(columns)
        left, right = "," * (1 + before), "," * after
        self.lines.append(
            concat_text(np.array(prefix_lines, dtype=object), left, np.array(body_lines, dtype=object), right)
        )
        self.keys.append(
            np.column_stack(
                [
                    np.asarray(record_num, dtype=np.int64),
                    np.full(n, self.event_order[event]),
                    np.full(n, self.form_order[form]),
                    np.asarray(instance, dtype=np.int64) if repeating else np.zeros(n, dtype=np.int64),
                ]
            )
        )

    def write(self, path: Path) -> int:
        """Write the header and the rows ordered by record, event, form, instance."""
        header = ",".join(self.prefix + self.all_form_columns)
        if self.lines:
            lines = np.concatenate(self.lines)
            keys = np.concatenate(self.keys)
            order = np.lexsort((keys[:, 3], keys[:, 2], keys[:, 1], keys[:, 0]))
            body = "\n".join(lines[order].tolist())
            text = header + "\n" + body + "\n"
        else:
            lines, text = np.array([]), header + "\n"
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        return int(len(lines))


def write_redcap(directory: Path, ctx: Context, tables: Tables, written: Written) -> None:
    """Write ``redcap/``: the records export and the project's metadata files."""
    directory.mkdir(parents=True, exist_ok=True)
    dags = ctx.territories["redcap_dag"].to_numpy(dtype=object)
    families = tables.families
    family_dag = dags[families["territory_index"].to_numpy()]
    dag_by_record = pd.Series(family_dag, index=families["record_num"].to_numpy())

    def dag_of(record_num: np.ndarray) -> np.ndarray:
        return dag_by_record.reindex(record_num).to_numpy(dtype=object)

    event_of = {
        name: ctx.codebook.events_of_form(name)[0] for name in ("famille", "enfant", "besoin", "reference", "sortie")
    }
    builder = RecordsBuilder(ctx.codebook)
    famille = _famille_values(ctx, families)
    builder.add("famille", event_of["famille"], families["record_num"].to_numpy(), family_dag, famille)
    _add_repeating(builder, "enfant", event_of["enfant"], tables.children, dag_of, _enfant_values(tables.children))
    _add_suivi(builder, ctx, tables.assessments, dag_of)
    _add_repeating(builder, "besoin", event_of["besoin"], tables.needs, dag_of, _besoin_values(tables.needs))
    referrals = tables.referrals
    _add_repeating(builder, "reference", event_of["reference"], referrals, dag_of, _reference_values(referrals))
    exits = families.loc[families["exit_date"].to_numpy() != NO_DATE]
    builder.add(
        "sortie",
        event_of["sortie"],
        exits["record_num"].to_numpy(),
        dags[exits["territory_index"].to_numpy()],
        {
            "sortie_date": iso_dates(exits["exit_date"].to_numpy()),
            "sortie_raison": exits["exit_reason"].to_numpy(dtype=object),
            # The synthetic families who withdraw keep their data: destruction is a coordinator's test.
            "sortie_retrait": np.where(exits["exit_reason"].to_numpy(dtype=object) == "retrait_consentement", "participation", ""),
            "sortie_complete": np.full(len(exits), "2", dtype=object),
        },
    )
    written.rows["redcap_records_rows"] = builder.write(directory / "records.csv")
    written.paths["records"] = directory / "records.csv"
    written.rows["exits"] = int(len(exits))
    _write_redcap_metadata(directory, ctx, written)


def _add_repeating(
    builder: RecordsBuilder, form: str, event: str, rows: pd.DataFrame, dag_of: Any, values: dict[str, np.ndarray]
) -> None:
    """Add a repeating form's block: one row per ``rows`` row, its ``instance`` as the instance."""
    records = rows["record_num"].to_numpy()
    builder.add(form, event, records, dag_of(records), values, instance=rows["instance"].to_numpy())


def _famille_values(ctx: Context, families: pd.DataFrame) -> dict[str, np.ndarray]:
    """The ``famille`` form, with a few optional fields left empty as in a real project."""
    rng = stream(ctx.seed, "export.redcap")
    n = len(families)
    famille = {
        "fam_nom_parent": families["parent_last_name"].to_numpy(dtype=object),
        "fam_prenom_parent": families["parent_first_name"].to_numpy(dtype=object),
        "fam_telephone": families["phone"].to_numpy(dtype=object),
        "fam_courriel": families["email"].to_numpy(dtype=object),
        "fam_adresse": families["address"].to_numpy(dtype=object),
        "fam_code_postal": families["postal_code"].to_numpy(dtype=object),
        "parent_date_naissance": iso_dates(families["parent_birth"].to_numpy()),
        "date_premier_contact": iso_dates(families["first_contact"].to_numpy()),
        "canal_recrutement": families["recruitment_channel"].to_numpy(dtype=object),
        "isole_contact": _yes_no(families["isolated_at_contact"].to_numpy()),
        "monoparentale": _yes_no(families["single_parent"].to_numpy()),
        "statut_immigration": families["immigration_status"].to_numpy(dtype=object).copy(),
        "langue_principale": families["language"].to_numpy(dtype=object).copy(),
        "date_consentement": iso_dates(families["consent"].to_numpy()),
        "ptp_code": families["worker_id"].to_numpy(dtype=object),
        "famille_complete": np.full(n, "2", dtype=object),
    }
    for field, share in _OPTIONAL_MISSING.items():
        blank = rng.random(n) < share
        famille[field] = np.where(blank, "", famille[field]).astype(object)
    return famille


def _enfant_values(children: pd.DataFrame) -> dict[str, np.ndarray]:
    return {
        "enf_prenom": children["first_name"].to_numpy(dtype=object),
        "enf_date_naissance": iso_dates(children["birth"].to_numpy()),
        "enf_a_naitre": _yes_no(children["unborn"].to_numpy()),
        "enfant_complete": np.full(len(children), "2", dtype=object),
    }


def _besoin_values(needs: pd.DataFrame) -> dict[str, np.ndarray]:
    return {
        "bes_categorie": needs["category"].to_numpy(dtype=object),
        "bes_date_identification": iso_dates(needs["identified"].to_numpy()),
        "bes_statut": needs["status"].to_numpy(dtype=object),
        "bes_date_statut": iso_dates(needs["status_date"].to_numpy()),
        "besoin_complete": np.full(len(needs), "2", dtype=object),
    }


def _reference_values(referrals: pd.DataFrame) -> dict[str, np.ndarray]:
    return {
        "ref_direction": referrals["direction"].to_numpy(dtype=object),
        "ref_org_source": referrals["from_org_id"].to_numpy(dtype=object),
        "ref_org_destination": referrals["to_org_id"].to_numpy(dtype=object),
        "ref_categorie_besoin": referrals["need_category"].to_numpy(dtype=object),
        "ref_date": iso_dates(referrals["referral_date"].to_numpy()),
        "ref_resultat": referrals["outcome"].to_numpy(dtype=object),
        "ref_date_resultat": iso_dates(referrals["outcome_date"].to_numpy()),
        "reference_complete": np.full(len(referrals), "2", dtype=object),
    }


def _add_suivi(builder: RecordsBuilder, ctx: Context, assessments: pd.DataFrame, dag_of: Any) -> None:
    cb = ctx.codebook
    fields = cb.fields
    suivi = fields.loc[fields["form_name"] == "suivi"]
    dimension_field = {
        row.target_column: row.field_name
        for row in suivi.itertuples(index=False)
        if row.field_type == "radio" and row.target_column in ctx.isolation["dimensions"]
    }
    resource_codes = cb.codes("resource_type")
    # Its own stream, so the missing-data codes never shift another draw.
    nsp = stream(ctx.seed, "export.redcap.missing_codes")
    for months in ctx.waves:
        rows = assessments.loc[assessments["wave"].to_numpy() == months]
        n = len(rows)
        values: dict[str, np.ndarray] = {"suivi_date": iso_dates(rows["due"].to_numpy())}
        for code in resource_codes:
            values[f"ressources_3m___{code}"] = _yes_no(rows[f"resource_{code}"].to_numpy())
        complete = np.ones(n, dtype=bool)
        for dimension, field in dimension_field.items():
            answered = rows[f"answered_{dimension}"].to_numpy()
            complete &= answered
            text = _int_text(rows[f"score_{dimension}"].to_numpy())
            text[~answered] = ""
            text[answered & (nsp.random(n) < ISOLATION_NSP_SHARE)] = "NSP"
            values[field] = text
        for item in (
            "pa_1",
            "pa_2",
            "pa_3",
            "pa_4",
            "stress_1",
            "stress_2",
            "stress_3",
            "stress_4",
            "satisf_relation",
            "satisf_aide",
            "satisf_recommande",
        ):
            values[item] = _int_text(rows[item].to_numpy(), empty_when=0)
        values["suivi_complete"] = np.where(complete, "2", "1").astype(object)
        builder.add(
            "suivi",
            ctx.wave_events[months],
            rows["record_num"].to_numpy(),
            dag_of(rows["record_num"].to_numpy()),
            values,
        )


def _write_redcap_metadata(directory: Path, ctx: Context, written: Written) -> None:
    notes = "Cohorte synthétique générée par proximite.cohort.sandbox.synth (aucune personne réelle)."
    written.paths.update(write_project_files(directory, ctx.codebook, ctx.territories, notes=notes))


def write_project_files(directory: Path, project: Any, territories: pd.DataFrame, *, notes: str) -> dict[str, Path]:
    """A REDCap project's files as an export folder holds them; the paths written, by key.

    ``project`` is the cohort's codebook or a questionnaire's
    :class:`~proximite.cohort.codebook.survey_projects.SurveyProject`: data dictionary (UI
    headers), events, arms, form–event mapping, repeating instruments, one data access group per
    territory, and ``project.json`` (REDCap's project information).
    """
    dictionary = project.data_dictionary.copy()
    dictionary.columns = REDCAP_DICTIONARY_HEADERS
    files = {
        "data_dictionary": (dictionary, "data_dictionary.csv"),
        "events": (project.events, "events.csv"),
        "arms": (project.arms, "arms.csv"),
        "form_event_mapping": (project.form_event_mapping, "form_event_mapping.csv"),
        "repeating_forms_events": (project.repeating_forms_events, "repeating_forms_events.csv"),
        "dags": (project.dags(territories), "dags.csv"),
    }
    paths: dict[str, Path] = {}
    for key, (frame, name) in files.items():
        _write_csv(frame, directory / name)
        paths[key] = directory / name
    path = directory / "project.json"
    path.write_text(json.dumps(project.project_info(notes=notes), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    paths["project"] = path
    return paths


# =============================================================================================
# Registry
# =============================================================================================
def canonical_activities(ctx: Context, activities: pd.DataFrame) -> pd.DataFrame:
    """Activities with the template's canonical columns (registry.yaml ``activity``), in order."""
    columns = list(ctx.codebook.registry["activity"])
    record = activities["record_num"].to_numpy()
    frame = pd.DataFrame(
        {
            "activity_id": activities["activity_id"].to_numpy(dtype=object),
            "worker_id": activities["worker_id"].to_numpy(dtype=object),
            "territory_id": activities["territory_id"].to_numpy(dtype=object),
            "activity_date": iso_dates(activities["day"].to_numpy()),
            "minutes": activities["minutes"].to_numpy(),
            "action_type": activities["action_type"].to_numpy(dtype=object),
            "family_record_id": np.where(record > 0, record.astype(str), "").astype(object),
            "org_id": activities["org_id"].to_numpy(dtype=object),
            "place": activities["place"].to_numpy(dtype=object),
            "travel_minutes": activities["travel_minutes"].to_numpy(),
            "travel_km": activities["travel_km"].to_numpy(),
        }
    )
    return frame[columns]


def choose_registry_formats(ctx: Context, families: pd.DataFrame) -> dict[str, str]:
    """Format of each territory's activity file: csv (template), xlsx, sav or csv_cp1252.

    Roughly 10 % XLSX, 5 % SPSS and exactly one cp1252 CSV (at least one of each from four
    territories up), drawn among the fifth of territories with the fewest families (or more
    when needed): small partners are the ones keeping their own files, and it keeps the slow
    XLSX files small.
    """
    rng = stream(ctx.seed, "export.formats")
    territory_ids = ctx.territories["territory_id"].to_numpy(dtype=object)
    n = len(territory_ids)
    formats = {str(t): "csv" for t in territory_ids}
    n_cp1252 = 1 if n >= 2 else 0
    n_xlsx = max(int(0.10 * n + 0.5), 1 if n >= 4 else 0)
    n_sav = max(int(0.05 * n + 0.5), 1 if n >= 4 else 0)
    special = n_xlsx + n_sav + n_cp1252
    if special == 0:
        return formats
    sizes = np.bincount(families["territory_index"].to_numpy(), minlength=n)
    smallest = np.argsort(sizes + rng.random(n), kind="stable")[: max(special, -(-n // 5))]
    picked = rng.permutation(smallest)[:special]
    kinds = ["xlsx"] * n_xlsx + ["sav"] * n_sav + ["csv_cp1252"] * n_cp1252
    for index, kind in zip(picked, kinds):
        formats[str(territory_ids[index])] = kind
    return formats


def write_registry(
    directory: Path, ctx: Context, tables: Tables, formats: dict[str, str], written: Written
) -> dict[str, int]:
    """Write ``registry/``: workers, supervision and one activity file per territory.

    Returns the number of activity files per format.
    """
    cb = ctx.codebook
    directory.mkdir(parents=True, exist_ok=True)
    workers = tables.workers
    worker_frame = pd.DataFrame(
        {
            "worker_id": workers["worker_id"].to_numpy(dtype=object),
            "territory_id": workers["territory_id"].to_numpy(dtype=object),
            "start_date": iso_dates(workers["start"].to_numpy()),
            "end_date": iso_dates(workers["end"].to_numpy()),
            "weekly_hours": workers["weekly_hours"].to_numpy(dtype=float),
        }
    )[list(cb.registry["worker"])]
    _write_csv(worker_frame, directory / "workers.csv", float_format="%.1f")
    written.paths["workers"] = directory / "workers.csv"

    sessions = tables.supervision
    supervision_frame = pd.DataFrame(
        {
            "worker_id": sessions["worker_id"].to_numpy(dtype=object),
            "session_date": iso_dates(sessions["day"].to_numpy()),
            "minutes": sessions["minutes"].to_numpy(),
            "kind": sessions["kind"].to_numpy(dtype=object),
        }
    )[list(cb.registry["supervision"])]
    _write_csv(supervision_frame, directory / "supervision.csv")
    written.paths["supervision"] = directory / "supervision.csv"

    activities_dir = directory / "activities"
    activities_dir.mkdir(parents=True, exist_ok=True)
    canonical = canonical_activities(ctx, tables.activities)
    territory = tables.activities["territory_index"].to_numpy()
    bounds = np.searchsorted(territory, np.arange(ctx.n_territories + 1), side="left")
    rng = stream(ctx.seed, "export.registry")
    counts = {"csv": 0, "xlsx": 0, "sav": 0, "csv_cp1252": 0}
    territory_ids = ctx.territories["territory_id"].to_numpy(dtype=object)
    for index, territory_id in enumerate(territory_ids):
        rows = canonical.iloc[bounds[index] : bounds[index + 1]]
        # Draws happen for every territory so one territory's format never shifts another's.
        variant = int(rng.integers(0, len(_XLSX_COLUMNS)))
        user_missing = rng.random(len(rows)) < SAV_USER_MISSING_SHARE
        if rows.empty:
            continue
        kind = formats[str(territory_id)]
        stem = activities_dir / str(territory_id)
        if kind == "csv":
            _write_csv(rows, stem.with_suffix(".csv"), float_format="%.1f")
        elif kind == "xlsx":
            _write_partner_xlsx(rows, stem, str(territory_id), variant, cb)
        elif kind == "sav":
            _write_partner_sav(rows, stem, str(territory_id), user_missing)
        else:
            _write_partner_cp1252(rows, stem, str(territory_id))
        counts[kind] += 1
    written.paths["activities"] = activities_dir
    return counts


def _write_mapping(path: Path, mapping: dict[str, Any]) -> None:
    text = yaml.safe_dump(mapping, allow_unicode=True, sort_keys=False, width=200)
    path.write_text(text, encoding="utf-8")


def _partner_rows(rows: pd.DataFrame, names: dict[str, str], codes: dict[str, dict[str, str]]) -> pd.DataFrame:
    """The canonical rows under a partner's column names and codes (territory_id dropped)."""
    frame = rows.drop(columns=["territory_id"]).copy()
    for column, mapping in codes.items():
        frame[column] = frame[column].map(mapping).fillna("").astype(object)
    return frame.rename(columns=names)[[names[c] for c in frame.columns]]


def _write_partner_xlsx(rows: pd.DataFrame, stem: Path, territory_id: str, variant: int, cb: Codebook) -> None:
    from openpyxl import Workbook

    names = _XLSX_COLUMNS[variant]
    action_labels = PARTNER_ACTION_LABELS if variant == 0 else cb.labels("action_type")
    place_labels = PARTNER_PLACE_LABELS if variant == 0 else cb.labels("place")
    frame = _partner_rows(rows, names, {"action_type": action_labels, "place": place_labels})
    date_column = names["activity_date"]
    frame[date_column] = pd.to_datetime(frame[date_column]).dt.date
    workbook = Workbook(write_only=True)
    workbook.properties.creator = "Proximité (synthétique)"
    workbook.properties.created = FIXED_TIME
    sheet = workbook.create_sheet("Activités")
    sheet.append(list(frame.columns))
    for record in frame.itertuples(index=False, name=None):
        sheet.append([None if value == "" else value for value in record])
    buffer = io.BytesIO()
    workbook.save(buffer)
    stem.with_suffix(".xlsx").write_bytes(stable_xlsx(buffer.getvalue()))
    _write_mapping(
        stem.with_suffix(".mapping.yaml"),
        {
            "table": "activity",
            "sheet": "Activités",
            "columns": {canonical: names[canonical] for canonical in names},
            "codes": {
                "action_type": {label: code for code, label in action_labels.items()},
                "place": {label: code for code, label in place_labels.items()},
            },
            "constants": {"territory_id": territory_id},
        },
    )


def _write_partner_sav(rows: pd.DataFrame, stem: Path, territory_id: str, user_missing: np.ndarray) -> None:
    import pyreadstat

    action_codes = list(PARTNER_ACTION_LABELS)
    place_codes = list(PARTNER_PLACE_LABELS)
    names = {canonical: spss for canonical, (spss, _) in _SAV_COLUMNS.items()}
    frame = pd.DataFrame(
        {
            names["activity_id"]: rows["activity_id"].to_numpy(dtype=object),
            names["worker_id"]: rows["worker_id"].to_numpy(dtype=object),
            names["activity_date"]: pd.to_datetime(rows["activity_date"]).dt.date.to_numpy(),
            names["minutes"]: rows["minutes"].to_numpy(dtype=float),
            names["action_type"]: (pd.Categorical(rows["action_type"], categories=action_codes).codes + 1).astype(
                float
            ),
            names["family_record_id"]: rows["family_record_id"].to_numpy(dtype=object),
            names["org_id"]: rows["org_id"].to_numpy(dtype=object),
            names["place"]: np.where(
                user_missing, SAV_USER_MISSING_CODE, pd.Categorical(rows["place"], categories=place_codes).codes + 1
            ).astype(float),
            names["travel_minutes"]: rows["travel_minutes"].to_numpy(dtype=float),
            names["travel_km"]: rows["travel_km"].to_numpy(dtype=float),
        }
    )
    action_value_labels = {float(i + 1): PARTNER_ACTION_LABELS[code] for i, code in enumerate(action_codes)}
    place_value_labels = {float(i + 1): PARTNER_PLACE_LABELS[code] for i, code in enumerate(place_codes)}
    place_value_labels[float(SAV_USER_MISSING_CODE)] = SAV_USER_MISSING_LABEL
    path = stem.with_suffix(".sav")
    pyreadstat.write_sav(
        frame,
        str(path),
        column_labels=[label for _, label in _SAV_COLUMNS.values()],
        variable_value_labels={names["action_type"]: action_value_labels, names["place"]: place_value_labels},
        missing_ranges={names["place"]: [float(SAV_USER_MISSING_CODE)]},
    )
    path.write_bytes(stable_sav(path.read_bytes()))
    _write_mapping(
        stem.with_suffix(".mapping.yaml"),
        {
            "table": "activity",
            "columns": {canonical: names[canonical] for canonical in _SAV_COLUMNS},
            "codes": {
                "action_type": {label: code for code, label in PARTNER_ACTION_LABELS.items()},
                "place": {label: code for code, label in PARTNER_PLACE_LABELS.items()},
            },
            "constants": {"territory_id": territory_id},
        },
    )


_SAV_DATE_SLICE = slice(92, 101)
_SAV_TIME_SLICE = slice(101, 109)


def stable_sav(data: bytes) -> bytes:
    """Fix the creation date and time of an SPSS ``.sav`` header ("01 Jan 24", "00:00:00").

    The header record stores them as text at bytes 92–100 and 101–108 (after the 4-byte
    record type, 60-byte product name, five 4-byte integers and the 8-byte compression bias).
    """
    date, time = data[_SAV_DATE_SLICE], data[_SAV_TIME_SLICE]
    if not (re.fullmatch(rb"[ 0-9]\d [A-Z][a-z]{2} \d\d", date) and re.fullmatch(rb"\d\d:\d\d:\d\d", time)):
        raise ValueError("unexpected .sav header: cannot fix its creation time")
    return data[:92] + b"01 Jan 24" + b"00:00:00" + data[109:]


def _write_partner_cp1252(rows: pd.DataFrame, stem: Path, territory_id: str) -> None:
    frame = _partner_rows(rows, _CP1252_COLUMNS, {"action_type": PARTNER_ACTION_LABELS, "place": PARTNER_PLACE_LABELS})
    date_column = _CP1252_COLUMNS["activity_date"]
    frame[date_column] = pd.to_datetime(frame[date_column]).dt.strftime(_CP1252_DATE_FORMAT)
    _write_csv(frame, stem.with_suffix(".csv"), encoding="cp1252", float_format="%.1f")
    _write_mapping(
        stem.with_suffix(".mapping.yaml"),
        {
            "table": "activity",
            "encoding": "cp1252",
            "date_format": _CP1252_DATE_FORMAT,
            "columns": {canonical: _CP1252_COLUMNS[canonical] for canonical in _CP1252_COLUMNS},
            "codes": {
                "action_type": {label: code for code, label in PARTNER_ACTION_LABELS.items()},
                "place": {label: code for code, label in PARTNER_PLACE_LABELS.items()},
            },
            "constants": {"territory_id": territory_id},
        },
    )


# =============================================================================================
# Reference, costs, truth
# =============================================================================================
def write_reference(directory: Path, ctx: Context, written: Written) -> None:
    """Write ``reference/``: regions, territories and organisations (``is_host`` 1/0)."""
    directory.mkdir(parents=True, exist_ok=True)
    regions = ctx.codebook.regions[["region_code", "name_fr", "name_en", "children_0_5"]]
    organisations = ctx.organisations.drop(columns=["territory_index"])
    territories, organisations = reference_frames(ctx.territories, organisations)
    for key, frame in (("regions", regions), ("territories", territories), ("organisations", organisations)):
        _write_csv(frame, directory / f"{key}.csv", encoding="utf-8")
        written.paths[key] = directory / f"{key}.csv"


def write_costs(directory: Path, costs: pd.DataFrame, written: Written) -> None:
    """Write ``costs/costs.csv``."""
    _write_csv(costs, directory / "costs.csv", float_format="%.2f")
    written.paths["costs"] = directory / "costs.csv"


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k) if not isinstance(k, tuple) else "/".join(map(str, k)): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        value = float(value)
        return round(value, 6) if np.isfinite(value) else None
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, Path):
        return str(value)
    return value


def write_truth(path: Path, truth: dict[str, Any]) -> None:
    """Write ``truth.json`` (stable key order, floats rounded to 6 decimals)."""
    path.write_text(json.dumps(_jsonable(truth), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
