"""The yearly questionnaires of the synthetic cohort, with planted effects.

Both are answered each autumn (15 October to 15 December) of every survey year of
``surveys.yaml`` whose window closes before the end of the generated period:

- **partners**: each partner organisation of a territory answers with probability
  :data:`PARTNER_SURVEY` ``response_probability``; it names the territory's host, and each other
  organisation of its territory with a probability that is higher when the pair carries
  referrals that calendar year (either direction). Ties that carry referrals get higher trust
  and value items (the planted ``referral_tie_effect``, on the 1–4 scale before rounding);
- **PTP and managers**: each PTP in post on the territory's survey day answers with probability
  :data:`STAFF_SURVEY` ``ptp_response_probability``, and the territory's manager too. A PTP's
  supervision adequacy rises with the supervision hours the registry gives them in the 12
  months before (planted logistic slope); a PTP who leaves within a year of the survey
  (registry tenure) rarely intends to stay; heavy workload depends on the environment.

Every draw comes from its own named stream: the cohort's other tables are unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from proximite.cohort.sandbox._censor import Tables
from proximite.cohort.sandbox._context import Context
from proximite.cohort.sandbox._identities import fake_respondents
from proximite.cohort.sandbox._sampling import NO_DATE, categorical, day_number, stream

__all__ = ["PARTNER_SURVEY", "STAFF_SURVEY", "Surveys", "likert_items", "make_surveys", "survey_truth", "survey_years"]

#: The partner questionnaire's planted parameters (written to truth.json).
PARTNER_SURVEY: dict[str, Any] = {
    "response_probability": 0.7,
    "report_probability": {"with_referrals": 0.9, "without_referrals": 0.4, "host": 1.0},
    "collaboration_level": {
        "with_referrals": {"aucune": 0.0, "cooperation": 0.3, "coordination": 0.5, "integration": 0.2},
        "without_referrals": {"aucune": 0.15, "cooperation": 0.5, "coordination": 0.28, "integration": 0.07},
    },
    "frequency": {
        "with_referrals": {"annuelle": 0.0, "trimestrielle": 0.2, "mensuelle": 0.4, "hebdomadaire": 0.35, "quotidienne": 0.05},
        "without_referrals": {"annuelle": 0.3, "trimestrielle": 0.45, "mensuelle": 0.2, "hebdomadaire": 0.05, "quotidienne": 0.0},
    },
    "items": "round(base + effect * carries_referrals + u_org + N(0, item_sd^2)) clipped 1-4, u_org ~ N(0, org_sd^2)",
    "trust_base": 2.6,
    "value_base": 2.4,
    "referral_tie_effect": {"trust": 0.6, "value": 0.5},
    "org_sd": 0.3,
    "item_sd": 0.6,
    "positive_appreciation_probability": 0.8,
}

#: The PTP and manager questionnaire's planted parameters (written to truth.json).
STAFF_SURVEY: dict[str, Any] = {
    "ptp_response_probability": 0.8,
    "manager_response_probability": 0.9,
    "supervision_adequacy": "logit P(agree) = logit(0.6) + slope * (h - reference_hours), h = registry supervision "
    "hours per month of tenure in the 12 months before the survey",
    "supervision_adequacy_slope": 1.0,
    "supervision_reference_hours": 4.85,
    "manager_supervision_agree_probability": 0.6,
    "supervision_frequency": "PTP: clinical and organisational sessions per month in the registry times LogNormal(0, 0.6^2), "
    "cut at 0.75, 1.5 and 3; managers: manager_supervision_frequency",
    "manager_supervision_frequency": [0.05, 0.25, 0.4, 0.2, 0.1],
    "training_agree_probability": 0.65,
    "role_clear_agree_probability": 0.8,
    "partners_understand_agree_probability": 0.45,
    "mandate_misread_agree_probability": {"ptp": 0.45, "gestionnaire": 0.35},
    "heavy_workload_agree_probability": {"urbain": 0.35, "mixte": 0.45, "rural": 0.55},
    "intention_to_stay_agree_probability": {"ptp_leaving_within_a_year": 0.3, "ptp_staying": 0.75, "gestionnaire": 0.8},
    "likert": "agree = 4 (0.6) or 5 (0.4); otherwise 1 (0.1), 2 (0.4) or 3 (0.5)",
}

#: The survey window of every year (month, day).
WINDOW_START = (10, 15)
WINDOW_DAYS = 61


@dataclass(frozen=True)
class Surveys:
    """The generated questionnaires (day numbers), before censoring.

    Attributes
    ----------
    responses : DataFrame
        Partner responses: ``org_id``, ``territory_index``, ``year``, ``day``, ``network``,
        ``mission``, ``appreciation``, ``org_effect``.
    ties : DataFrame
        Ties named: ``org_id``, ``year``, ``to_org_id``, ``carries_referrals``, ``frequency``,
        ``level``, the six items (0 when not asked).
    staff : DataFrame
        PTP and manager responses: ``respondent``, ``role``, ``worker_id``, ``territory_index``,
        ``year``, ``day``, ``supervision_hours``, ``leaves_within_a_year`` and the items.
    """

    responses: pd.DataFrame
    ties: pd.DataFrame
    staff: pd.DataFrame


def survey_years(ctx: Context, horizon_end: int) -> list[int]:
    """The questionnaires' years (``surveys.yaml``) whose window closes before the period ends."""
    years = ctx.codebook.survey("partner_survey").years
    return [year for year in years if _window(year)[1] <= horizon_end and _window(year)[0] >= ctx.recruitment_start]


def _window(year: int) -> tuple[int, int]:
    start = day_number(f"{year}-{WINDOW_START[0]:02d}-{WINDOW_START[1]:02d}")
    return start, start + WINDOW_DAYS - 1


def likert_items(rng: np.random.Generator, agree: np.ndarray) -> np.ndarray:
    """1–5 answers: 4 or 5 where ``agree``, 1 to 3 elsewhere (:data:`STAFF_SURVEY` ``likert``)."""
    n = len(agree)
    high = np.where(rng.random(n) < 0.6, 4, 5)
    low = 1 + categorical(rng, [0.1, 0.4, 0.5], n)
    return np.where(agree, high, low).astype(np.int64)


def make_surveys(ctx: Context, complete: Tables, horizon_end: int) -> Surveys:
    """Both questionnaires for every survey year (complete data: censoring comes later)."""
    years = survey_years(ctx, horizon_end)
    responses, ties = _partner_survey(ctx, complete.referrals, years)
    staff = _staff_survey(ctx, complete.workers, complete.supervision, years)
    return Surveys(responses=responses, ties=ties, staff=staff)


# ---------------------------------------------------------------------------------- partners
def _referral_pairs(referrals: pd.DataFrame) -> pd.DataFrame:
    """Distinct ``(year, org_a, org_b)`` of the referrals, the pair sorted (a tie has no direction)."""
    years = referrals["referral_date"].to_numpy().astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64) + 1970
    ends = np.sort(referrals[["from_org_id", "to_org_id"]].to_numpy(dtype=object).astype(str), axis=1)
    pairs = pd.DataFrame({"year": years, "org_a": ends[:, 0], "org_b": ends[:, 1]})
    return pairs.drop_duplicates().assign(carries_referrals=True)


def _partner_survey(ctx: Context, referrals: pd.DataFrame, years: list[int]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Responses of the partner organisations and the ties they name, every year."""
    rng = stream(ctx.seed, "surveys.partners")
    spec = PARTNER_SURVEY
    organisations = ctx.organisations
    partners = ctx.partners
    org_effect = pd.Series(rng.normal(0.0, spec["org_sd"], len(organisations)), index=organisations["org_id"].to_numpy())
    pairs = _referral_pairs(referrals)
    responses, ties = [], []
    for year in years:
        answered = rng.random(len(partners)) < spec["response_probability"]
        chosen = partners.loc[answered]
        start, _end = _window(year)
        response = pd.DataFrame(
            {
                "org_id": chosen["org_id"].to_numpy(dtype=object),
                "territory_index": chosen["territory_index"].to_numpy(),
                "year": year,
                "day": start + rng.integers(0, WINDOW_DAYS, len(chosen)),
                "network": chosen["network"].to_numpy(dtype=object),
                "mission": chosen["mission"].to_numpy(dtype=object),
                "appreciation": _appreciation(rng, len(chosen), spec["positive_appreciation_probability"]),
            }
        )
        response["org_effect"] = org_effect.reindex(response["org_id"]).to_numpy()
        responses.append(response)
        ties.append(_ties_of(rng, response, organisations, pairs.loc[pairs["year"] == year]))
    return (
        pd.concat(responses, ignore_index=True) if responses else _empty_responses(),
        pd.concat(ties, ignore_index=True) if ties else _empty_ties(),
    )


def _appreciation(rng: np.random.Generator, n: int, positive: float) -> np.ndarray:
    """1–4: 3 or 4 with probability ``positive``, else 1 or 2."""
    good = rng.random(n) < positive
    high = np.where(rng.random(n) < 0.55, 3, 4)
    low = np.where(rng.random(n) < 0.3, 1, 2)
    return np.where(good, high, low).astype(np.int64)


def _ties_of(
    rng: np.random.Generator, response: pd.DataFrame, organisations: pd.DataFrame, pairs: pd.DataFrame
) -> pd.DataFrame:
    """The organisations each response names among its territory's, with level, frequency and items."""
    spec = PARTNER_SURVEY
    others = organisations[["org_id", "territory_index", "is_host"]].rename(columns={"org_id": "to_org_id"})
    candidates = response[["org_id", "year", "territory_index", "org_effect"]].merge(others, on="territory_index")
    candidates = candidates.loc[candidates["org_id"] != candidates["to_org_id"]].reset_index(drop=True)
    ends = np.sort(candidates[["org_id", "to_org_id"]].to_numpy(dtype=object).astype(str), axis=1)
    keyed = pd.DataFrame({"year": candidates["year"].to_numpy(), "org_a": ends[:, 0], "org_b": ends[:, 1]})
    carries = keyed.merge(pairs, on=["year", "org_a", "org_b"], how="left")["carries_referrals"].eq(True).to_numpy(dtype=bool)
    host = candidates["is_host"].astype(bool).to_numpy()
    report = spec["report_probability"]
    probability = np.where(host, report["host"], np.where(carries, report["with_referrals"], report["without_referrals"]))
    named = rng.random(len(candidates)) < probability
    ties = candidates.loc[named, ["org_id", "year", "to_org_id", "org_effect"]].reset_index(drop=True)
    carries = carries[named]
    ties["carries_referrals"] = carries
    ties["level"] = _by_class(rng, carries, spec["collaboration_level"])
    ties["frequency"] = _by_class(rng, carries, spec["frequency"])
    asked = ties["level"].to_numpy(dtype=object) != "aucune"
    for group, items in (("trust", ("openness", "reliability", "shared_mission")), ("value", ("influence", "resources", "involvement"))):
        centre = spec[f"{group}_base"] + spec["referral_tie_effect"][group] * carries + ties["org_effect"].to_numpy()
        for item in items:
            score = np.clip(np.round(centre + rng.normal(0.0, spec["item_sd"], len(ties))), 1, 4).astype(np.int64)
            ties[f"{group}_{item}"] = np.where(asked, score, 0)
    return ties.drop(columns="org_effect")


def _by_class(rng: np.random.Generator, carries: np.ndarray, table: dict[str, dict[str, float]]) -> np.ndarray:
    """A code per row from the ``with_referrals`` or ``without_referrals`` distribution."""
    codes = np.array(list(table["with_referrals"]), dtype=object)
    with_draw = codes[categorical(rng, list(table["with_referrals"].values()), len(carries))]
    without_draw = codes[categorical(rng, [table["without_referrals"][code] for code in codes], len(carries))]
    return np.where(carries, with_draw, without_draw).astype(object)


def _empty_responses() -> pd.DataFrame:
    columns = ["org_id", "territory_index", "year", "day", "network", "mission", "appreciation", "org_effect"]
    return pd.DataFrame({column: pd.Series([], dtype=object) for column in columns})


def _empty_ties() -> pd.DataFrame:
    columns = ["org_id", "year", "to_org_id", "carries_referrals", "level", "frequency"]
    items = [f"trust_{i}" for i in ("openness", "reliability", "shared_mission")]
    items += [f"value_{i}" for i in ("influence", "resources", "involvement")]
    return pd.DataFrame({column: pd.Series([], dtype=object) for column in columns + items})


# ---------------------------------------------------------------------------------- staff
def _staff_survey(ctx: Context, workers: pd.DataFrame, supervision: pd.DataFrame, years: list[int]) -> pd.DataFrame:
    """The PTP in post and the manager of each territory, every survey year (those who answer)."""
    rng = stream(ctx.seed, "surveys.staff")
    spec = STAFF_SURVEY
    frames = []
    for year in years:
        start, _end = _window(year)
        day = start + rng.integers(0, WINDOW_DAYS, ctx.n_territories)
        ptp = _ptp_in_post(workers, day)
        ptp = ptp.loc[rng.random(len(ptp)) < spec["ptp_response_probability"]].reset_index(drop=True)
        ptp = ptp.assign(year=year, **_supervision_received(ptp, supervision))
        managers = pd.DataFrame({"territory_index": np.arange(ctx.n_territories), "day": day})
        managers = managers.loc[rng.random(len(managers)) < spec["manager_response_probability"]].reset_index(drop=True)
        managers = managers.assign(
            respondent=[f"G{index}" for index in managers["territory_index"]], role="gestionnaire", worker_id="",
            year=year, supervision_hours=np.nan, sessions_per_month=np.nan, training_hours=0.0, leaves_within_a_year=False,
        )
        frames.append(pd.concat([ptp, managers], ignore_index=True))
    staff = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["respondent", "role", "day", "year"])
    return _staff_items(rng, ctx, staff)


def _ptp_in_post(workers: pd.DataFrame, day: np.ndarray) -> pd.DataFrame:
    """Each territory's PTP in post on its survey day, with whether they leave within a year."""
    on_day = day[workers["territory_index"].to_numpy()]
    end = workers["end"].to_numpy()
    in_post = (workers["start"].to_numpy() <= on_day) & ((end == NO_DATE) | (end >= on_day))
    chosen = workers.loc[in_post]
    on_day = on_day[in_post]
    leaves = (chosen["end"].to_numpy() != NO_DATE) & (chosen["end"].to_numpy() <= on_day + 365)
    return pd.DataFrame(
        {
            "respondent": chosen["worker_id"].to_numpy(dtype=object),
            "role": "ptp",
            "worker_id": chosen["worker_id"].to_numpy(dtype=object),
            "territory_index": chosen["territory_index"].to_numpy(),
            "day": on_day,
            "start": chosen["start"].to_numpy(),
            "leaves_within_a_year": leaves,
        }
    )


def _supervision_received(ptp: pd.DataFrame, supervision: pd.DataFrame) -> dict[str, np.ndarray]:
    """Registry supervision hours per month of tenure, sessions per month and training hours, in the year before."""
    sessions = supervision[["worker_id", "day", "kind", "minutes"]].merge(
        ptp[["worker_id", "day", "start"]].rename(columns={"day": "survey_day"}), on="worker_id"
    )
    inside = (sessions["day"] <= sessions["survey_day"]) & (sessions["day"] > sessions["survey_day"] - 365)
    sessions = sessions.loc[inside]
    key = ["worker_id", "survey_day"]
    hours = sessions.groupby(key)["minutes"].sum() / 60.0
    counted = sessions.loc[sessions["kind"].isin(["clinique", "organisationnelle"])].groupby(key).size()
    training = sessions.loc[sessions["kind"] == "formation"].groupby(key)["minutes"].sum() / 60.0
    index = pd.MultiIndex.from_arrays([ptp["worker_id"], ptp["day"]])
    months = np.clip((ptp["day"] - np.maximum(ptp["start"], ptp["day"] - 365)).to_numpy() / (365.25 / 12), 1.0, 12.0)
    return {
        "supervision_hours": hours.reindex(index, fill_value=0.0).to_numpy() / months,
        "sessions_per_month": counted.reindex(index, fill_value=0).to_numpy() / months,
        "training_hours": training.reindex(index, fill_value=0.0).to_numpy(),
    }


def _staff_items(rng: np.random.Generator, ctx: Context, staff: pd.DataFrame) -> pd.DataFrame:
    """The 1–5 items, supervision frequency and training hours of each answer."""
    spec = STAFF_SURVEY
    n = len(staff)
    is_ptp = staff["role"].to_numpy(dtype=object) == "ptp"
    hours = staff["supervision_hours"].to_numpy(dtype=float)
    logit = np.log(0.6 / 0.4) + spec["supervision_adequacy_slope"] * (np.nan_to_num(hours) - spec["supervision_reference_hours"])
    p_supervision = np.where(is_ptp, 1 / (1 + np.exp(-logit)), spec["manager_supervision_agree_probability"])
    environment = ctx.environment[staff["territory_index"].to_numpy(dtype=np.int64)] if n else np.array([], dtype=object)
    heavy = np.array([spec["heavy_workload_agree_probability"][e] for e in environment], dtype=float)
    stay = spec["intention_to_stay_agree_probability"]
    leaves = staff["leaves_within_a_year"].to_numpy(dtype=bool)
    p_stay = np.where(is_ptp, np.where(leaves, stay["ptp_leaving_within_a_year"], stay["ptp_staying"]), stay["gestionnaire"])
    misread = spec["mandate_misread_agree_probability"]
    probabilities = {
        "supervision_adequacy": p_supervision,
        "training_adequacy": np.full(n, spec["training_agree_probability"]),
        "role_clear": np.full(n, spec["role_clear_agree_probability"]),
        "role_partners": np.full(n, spec["partners_understand_agree_probability"]),
        "mandate_misread": np.where(is_ptp, misread["ptp"], misread["gestionnaire"]),
        "workload_heavy": heavy,
        "intention_to_stay": p_stay,
    }
    items = {name: likert_items(rng, rng.random(n) < p) for name, p in probabilities.items()}
    # A PTP reports the registry's sessions as they remember them; a manager's come from elsewhere.
    codes = np.array(["jamais", "moins_mensuelle", "mensuelle", "bimensuelle", "hebdomadaire"], dtype=object)
    remembered = staff["sessions_per_month"].to_numpy(dtype=float) * rng.lognormal(0.0, 0.6, n)
    from_registry = codes[np.searchsorted([1e-9, 0.75, 1.5, 3.0], np.nan_to_num(remembered), side="left")]
    frequency = np.where(is_ptp, from_registry, codes[categorical(rng, spec["manager_supervision_frequency"], n)]).astype(object)
    training = np.round(staff["training_hours"].to_numpy(dtype=float) * rng.uniform(0.9, 1.1, n)).astype(np.int64)
    # One name per person, whatever the year.
    people, position = np.unique(staff["respondent"].to_numpy(dtype=str), return_inverse=True)
    names, emails = fake_respondents(rng, len(people))
    return staff.assign(
        supervision_frequency=frequency, training_hours=training, respondent_name=names[position],
        respondent_email=emails[position], **items,
    )


# ---------------------------------------------------------------------------------- truth
def _share(mask: np.ndarray) -> float | None:
    return round(float(np.mean(mask)), 6) if len(mask) else None


def _mean(values: np.ndarray) -> float | None:
    return round(float(np.mean(values)), 6) if len(values) else None


def _dyad_means(ties: pd.DataFrame) -> dict[str, Any]:
    """Mean trust and value over the ties asked (level ≠ aucune), with and without referrals."""
    asked = ties.loc[ties["level"].to_numpy(dtype=object) != "aucune"]
    carries = asked["carries_referrals"].to_numpy(dtype=bool)
    result: dict[str, Any] = {}
    for group, items in (("trust", ("openness", "reliability", "shared_mission")), ("value", ("influence", "resources", "involvement"))):
        score = asked[[f"{group}_{item}" for item in items]].to_numpy(dtype=float).mean(axis=1)
        with_, without = _mean(score[carries]), _mean(score[~carries])
        result[f"{group}_dyad_mean"] = {
            "all": _mean(score), "with_referrals": with_, "without_referrals": without,
            "difference": None if with_ is None or without is None else round(with_ - without, 6),
        }
    return result


def survey_truth(ctx: Context, surveys: Surveys) -> dict[str, Any]:
    """``truth.json``'s ``surveys``: the planted parameters and what the written answers realise."""
    responses, ties, staff = surveys.responses, surveys.ties, surveys.staff
    partners = ctx.partners.groupby("territory_index").size()
    ran = responses.groupby(["year", "territory_index"]).size().reset_index()[["year", "territory_index"]]
    invited = int(partners.reindex(ran["territory_index"]).fillna(0).sum())
    is_ptp = staff["role"].to_numpy(dtype=object) == "ptp"
    ptp = staff.loc[is_ptp]
    agree = {name: staff[name].to_numpy() >= 4 for name in ("intention_to_stay", "supervision_adequacy", "mandate_misread", "workload_heavy")}
    leaves = ptp["leaves_within_a_year"].to_numpy(dtype=bool)
    above = ptp["supervision_hours"].to_numpy(dtype=float) >= STAFF_SURVEY["supervision_reference_hours"]
    environment = ctx.environment[staff["territory_index"].to_numpy(dtype=np.int64)] if len(staff) else np.array([], dtype=object)
    return {
        "years": sorted(int(year) for year in pd.unique(responses["year"])),
        "window": {"starts": f"{WINDOW_START[0]:02d}-{WINDOW_START[1]:02d}", "days": WINDOW_DAYS},
        "partner_survey": {
            "planted": PARTNER_SURVEY,
            "realised": {
                "responses": int(len(responses)),
                "partner_organisations_where_the_survey_ran": invited,
                "response_rate": round(len(responses) / invited, 6) if invited else None,
                "ties": int(len(ties)),
                "ties_carrying_referrals": int(ties["carries_referrals"].astype(bool).sum()),
                "positive_appreciation_share": _share(responses["appreciation"].to_numpy() >= 3),
                **_dyad_means(ties),
            },
        },
        "staff_survey": {
            "planted": STAFF_SURVEY,
            "realised": {
                "responses": {"ptp": int(is_ptp.sum()), "gestionnaire": int((~is_ptp).sum())},
                "intention_to_stay_agree_share": {
                    "ptp_leaving_within_a_year": _share(agree["intention_to_stay"][is_ptp][leaves]),
                    "ptp_staying": _share(agree["intention_to_stay"][is_ptp][~leaves]),
                    "gestionnaire": _share(agree["intention_to_stay"][~is_ptp]),
                },
                "supervision_adequacy_agree_share": {
                    "ptp_at_or_above_reference_hours": _share(agree["supervision_adequacy"][is_ptp][above]),
                    "ptp_below_reference_hours": _share(agree["supervision_adequacy"][is_ptp][~above]),
                    "ptp_mean_hours_per_month": _mean(ptp["supervision_hours"].to_numpy(dtype=float)),
                },
                "mandate_misread_agree_share": {
                    "ptp": _share(agree["mandate_misread"][is_ptp]), "gestionnaire": _share(agree["mandate_misread"][~is_ptp]),
                },
                "heavy_workload_agree_share": {
                    str(code): _share(agree["workload_heavy"][environment == code]) for code in ("urbain", "mixte", "rural")
                },
            },
        },
    }
