"""Writers of the yearly questionnaires' REDCap exports (``partner_survey/``, ``staff_survey/``).

Each folder is what REDCap's API gives for the questionnaire's survey project: the flat records
export (raw codes, data access groups) and the project's files. A record is a respondent (an
organisation, a PTP, a manager), numbered in the order it first answered, and keeps its number
from one year to the next; each year is its own event.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from proximite.cohort.codebook.survey_projects import year_event
from proximite.cohort.sandbox._context import Context
from proximite.cohort.sandbox._export import RecordsBuilder, Written, write_project_files
from proximite.cohort.sandbox._identities import fake_respondents
from proximite.cohort.sandbox._sampling import iso_dates, stream
from proximite.cohort.sandbox._surveys import Surveys

__all__ = ["censor_surveys", "write_surveys"]

#: Comments a few respondents leave (free text: it stays in layer 01).
_COMMENTS = np.array(
    [
        "Collaboration à consolider avec les nouveaux partenaires.",
        "La PTP est très présente auprès des familles du quartier.",
        "Les références vers notre organisme ont augmenté cette année.",
        "Nous aimerions mieux connaître le mandat de la PTP.",
    ],
    dtype=object,
)
_COMMENT_SHARE = 0.3
_NOTES = "Questionnaire synthétique généré par proximite.cohort.sandbox.synth (aucune personne réelle)."


def censor_surveys(surveys: Surveys, as_of: int | None) -> Surveys:
    """The answers given on or before day ``as_of`` (all of them when None)."""
    if as_of is None:
        return surveys
    responses = surveys.responses.loc[surveys.responses["day"].to_numpy() <= as_of].reset_index(drop=True)
    kept = responses[["org_id", "year"]]
    ties = surveys.ties.merge(kept, on=["org_id", "year"], how="inner")
    staff = surveys.staff.loc[surveys.staff["day"].to_numpy() <= as_of].reset_index(drop=True)
    return Surveys(responses=responses, ties=ties, staff=staff)


def _record_numbers(respondents: pd.Series, order: pd.DataFrame) -> np.ndarray:
    """1, 2, ... in the order each respondent first answers (``order`` sorts the answers)."""
    first = order.assign(respondent=respondents.to_numpy()).sort_values(list(order.columns), kind="stable")
    numbers = pd.Series(np.arange(1, first["respondent"].nunique() + 1), index=first["respondent"].drop_duplicates().to_numpy())
    return numbers.reindex(respondents.to_numpy()).to_numpy(dtype=np.int64)


def _text(values: np.ndarray, *, blank_zero: bool = False) -> np.ndarray:
    numbers = np.asarray(values, dtype=np.int64)
    text = numbers.astype(str).astype(object)
    if blank_zero:
        text[numbers == 0] = ""
    return text


def _comments(rng: np.random.Generator, n: int) -> np.ndarray:
    chosen = _COMMENTS[rng.integers(0, len(_COMMENTS), n)]
    return np.where(rng.random(n) < _COMMENT_SHARE, chosen, "").astype(object)


def write_surveys(out_dir: Path, ctx: Context, surveys: Surveys, written: Written) -> None:
    """Write ``partner_survey/`` and ``staff_survey/`` (records and project files) under ``out_dir``."""
    _write_partner_survey(out_dir / "partner_survey", ctx, surveys, written)
    _write_staff_survey(out_dir / "staff_survey", ctx, surveys.staff, written)


def _write_partner_survey(directory: Path, ctx: Context, surveys: Surveys, written: Written) -> None:
    survey = ctx.codebook.survey("partner_survey")
    rng = stream(ctx.seed, "export.partner_survey")
    responses = surveys.responses
    dags = ctx.territories["redcap_dag"].to_numpy(dtype=object)
    record = _record_numbers(responses["org_id"], responses[["year", "day"]].reset_index(drop=True))
    record_of = pd.Series(record, index=responses["org_id"].to_numpy())
    record_of = record_of[~record_of.index.duplicated()]
    dag_of = pd.Series(dags[responses["territory_index"].to_numpy(dtype=np.int64)], index=responses["org_id"].to_numpy())
    dag_of = dag_of[~dag_of.index.duplicated()]
    builder = RecordsBuilder(survey)
    names, emails = fake_respondents(rng, len(responses))
    for year in sorted(responses["year"].unique()):
        rows = responses["year"].to_numpy() == year
        chosen = responses.loc[rows]
        builder.add("organisme", year_event(year), record[rows], dag_of.reindex(chosen["org_id"]).to_numpy(), {
            "rep_nom": names[rows], "rep_courriel": emails[rows],
            "org_code": chosen["org_id"].to_numpy(dtype=object),
            "org_reseau": chosen["network"].to_numpy(dtype=object),
            "org_mission": chosen["mission"].to_numpy(dtype=object),
            "date_reponse": iso_dates(chosen["day"].to_numpy(dtype=np.int64)),
            "appreciation_porteur": _text(chosen["appreciation"].to_numpy()),
            "commentaires": _comments(rng, int(rows.sum())),
            "organisme_complete": np.full(int(rows.sum()), "2", dtype=object),
        })
        _add_ties(builder, surveys.ties.loc[surveys.ties["year"].to_numpy() == year], year, record_of, dag_of)
    directory.mkdir(parents=True, exist_ok=True)
    written.rows["partner_survey_records_rows"] = builder.write(directory / "records.csv")
    written.paths["partner_survey"] = directory
    write_project_files(directory, survey, ctx.territories, notes=_NOTES)


def _add_ties(builder: RecordsBuilder, ties: pd.DataFrame, year: int, record_of: pd.Series, dag_of: pd.Series) -> None:
    """The repeating ``partenaire`` rows of one year: an instance per partner named, in org order."""
    if ties.empty:
        return
    ties = ties.sort_values(["org_id", "to_org_id"], kind="stable")
    instance = ties.groupby("org_id", sort=False).cumcount().to_numpy() + 1
    asked = ties["level"].to_numpy(dtype=object) != "aucune"
    values = {
        "lien_org": ties["to_org_id"].to_numpy(dtype=object),
        "lien_frequence": ties["frequency"].to_numpy(dtype=object),
        "lien_niveau": ties["level"].to_numpy(dtype=object),
    }
    fields = {
        "confiance_ouverture": "trust_openness", "confiance_fiabilite": "trust_reliability",
        "confiance_mission": "trust_shared_mission", "valeur_influence": "value_influence",
        "valeur_ressources": "value_resources", "valeur_implication": "value_involvement",
    }
    for field, column in fields.items():
        values[field] = np.where(asked, _text(ties[column].to_numpy(), blank_zero=True), "").astype(object)
    values["partenaire_complete"] = np.full(len(ties), "2", dtype=object)
    builder.add(
        "partenaire", year_event(year), record_of.reindex(ties["org_id"]).to_numpy(dtype=np.int64),
        dag_of.reindex(ties["org_id"]).to_numpy(), values, instance=instance,
    )


def _write_staff_survey(directory: Path, ctx: Context, staff: pd.DataFrame, written: Written) -> None:
    survey = ctx.codebook.survey("staff_survey")
    rng = stream(ctx.seed, "export.staff_survey")
    dags = ctx.territories["redcap_dag"].to_numpy(dtype=object)
    record = _record_numbers(staff["respondent"], staff[["year", "day"]].reset_index(drop=True))
    builder = RecordsBuilder(survey, repeat_columns=False)
    items = {
        "sup_adequation": "supervision_adequacy", "form_adequation": "training_adequacy", "role_clair": "role_clear",
        "role_partenaires": "role_partners", "role_bouche_trou": "mandate_misread", "charge_lourde": "workload_heavy",
        "intention_rester": "intention_to_stay",
    }
    for year in sorted(staff["year"].unique()):
        rows = staff["year"].to_numpy() == year
        chosen = staff.loc[rows]
        values = {
            "rep_nom": chosen["respondent_name"].to_numpy(dtype=object),
            "rep_courriel": chosen["respondent_email"].to_numpy(dtype=object),
            "role": chosen["role"].to_numpy(dtype=object),
            "ptp_code": chosen["worker_id"].to_numpy(dtype=object),
            "date_reponse": iso_dates(chosen["day"].to_numpy(dtype=np.int64)),
            "sup_frequence": chosen["supervision_frequency"].to_numpy(dtype=object),
            "form_heures": _text(chosen["training_hours"].to_numpy()),
            **{field: _text(chosen[column].to_numpy()) for field, column in items.items()},
            "commentaires": _comments(rng, int(rows.sum())),
            "questionnaire_complete": np.full(int(rows.sum()), "2", dtype=object),
        }
        territory = chosen["territory_index"].to_numpy(dtype=np.int64)
        builder.add("questionnaire", year_event(year), record[rows], dags[territory], values)
    directory.mkdir(parents=True, exist_ok=True)
    written.rows["staff_survey_records_rows"] = builder.write(directory / "records.csv")
    written.paths["staff_survey"] = directory
    write_project_files(directory, survey, ctx.territories, notes=_NOTES)
