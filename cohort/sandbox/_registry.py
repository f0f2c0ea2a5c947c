"""The registry side of the synthetic cohort: PTP tenures, activities, supervision and costs."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from proximite.cohort.sandbox._destinations import partner_weights
from proximite.cohort.sandbox._context import Context
from proximite.cohort.sandbox._sampling import (
    NO_DATE,
    categorical,
    categorical_rows,
    concat_text,
    day_number,
    lognormal_median,
    month_start,
    segment_pick,
    stream,
    to_date,
    truncated_exponential,
    zero_pad,
)

# ---------------------------------------------------------------------------------------------
# Workers (PTP) and turnover
# ---------------------------------------------------------------------------------------------
#: Annual hazard of a PTP leaving, by environment (focus groups: turnover, rural posts harder).
TURNOVER_ANNUAL_HAZARD = {"urbain": 0.30, "mixte": 0.35, "rural": 0.45}
MAX_WORKERS_PER_TERRITORY = 4
FIRST_TENURE_START = "2023-05-01"
FIRST_TENURE_SPREAD_DAYS = 200
WEEKLY_HOURS = {30.0: 0.5, 32.0: 0.2, 35.0: 0.3}

# ---------------------------------------------------------------------------------------------
# Activities
# ---------------------------------------------------------------------------------------------
#: Accompaniment activities of one family: 1 at first contact + Poisson(mu), with
#: mu = base * exp(0.2 s) * (days accompanied / 365)^0.5 * (1 + 0.04 referrals).
FAMILY_ACTIVITY_BASE = 21.0
FAMILY_ACTION_MIX = {
    "lien_confiance": 0.25,
    "information": 0.25,
    "pouvoir_agir": 0.20,
    "accompagnement_ressources": 0.30,
}
FAMILY_ACTIVITY_EARLY_SHARE = 0.65
FAMILY_ACTIVITY_EARLY_MEAN_DAYS = 100.0
REPERAGE_WITH_FAMILY_SHARE = 0.30
ACCOMPANIMENT_WITH_ORG_SHARE = 0.40
#: Activities without a family, per family of the territory and per month of the period.
TERRITORY_ACTIVITY_RATES: dict[str, dict[str, float]] = {
    "demarchage": {"per_family": 3.0, "per_month": 2.0},
    "reperage": {"per_family": 1.0, "per_month": 0.5},
    "information": {"per_family": 0.8, "per_month": 0.0},
    "pouvoir_agir": {"per_family": 0.4, "per_month": 0.0},
    "suivi_partenaires": {"per_family": 1.2, "per_month": 1.5},
    "adaptation_pratiques": {"per_family": 0.4, "per_month": 0.4},
    "espaces_dialogue": {"per_family": 0.4, "per_month": 0.6},
}
#: Share of outreach (demarchage, reperage) during the recruitment window.
OUTREACH_IN_RECRUITMENT_SHARE = 0.85
MINUTES_MEDIAN = {
    "demarchage": 90,
    "reperage": 45,
    "lien_confiance": 40,
    "information": 20,
    "pouvoir_agir": 50,
    "accompagnement_ressources": 75,
    "suivi_partenaires": 30,
    "adaptation_pratiques": 60,
    "espaces_dialogue": 105,
}
MINUTES_SIGMA = 0.5
MINUTES_RANGE = (5, 240)
PLACE_BY_ACTION: dict[str, dict[str, float]] = {
    "demarchage": {
        "parc": 0.35,
        "commerce": 0.20,
        "ecole_service_garde": 0.15,
        "organisme_partenaire": 0.15,
        "autre": 0.15,
    },
    "reperage": {
        "parc": 0.25,
        "organisme_partenaire": 0.25,
        "commerce": 0.15,
        "ecole_service_garde": 0.15,
        "organisme_porteur": 0.10,
        "autre": 0.10,
    },
    "lien_confiance": {
        "domicile": 0.35,
        "telephone_virtuel": 0.25,
        "organisme_porteur": 0.20,
        "parc": 0.10,
        "commerce": 0.05,
        "autre": 0.05,
    },
    "information": {
        "telephone_virtuel": 0.45,
        "organisme_porteur": 0.25,
        "domicile": 0.20,
        "organisme_partenaire": 0.10,
    },
    "pouvoir_agir": {
        "domicile": 0.40,
        "organisme_porteur": 0.30,
        "telephone_virtuel": 0.20,
        "organisme_partenaire": 0.10,
    },
    "accompagnement_ressources": {
        "organisme_partenaire": 0.55,
        "domicile": 0.15,
        "telephone_virtuel": 0.15,
        "autre": 0.15,
    },
    "suivi_partenaires": {"telephone_virtuel": 0.50, "organisme_partenaire": 0.40, "organisme_porteur": 0.10},
    "adaptation_pratiques": {"organisme_partenaire": 0.70, "organisme_porteur": 0.20, "telephone_virtuel": 0.10},
    "espaces_dialogue": {"organisme_partenaire": 0.45, "organisme_porteur": 0.45, "autre": 0.10},
}
NO_TRAVEL_PLACES = ("telephone_virtuel", "organisme_porteur")
#: Round-trip km: log-normal with these medians; minutes = km * pace * LogNormal(0, 0.2^2).
TRAVEL_KM_MEDIAN = {"urbain": 3.0, "mixte": 10.0, "rural": 22.0}
TRAVEL_KM_SIGMA = 0.6
TRAVEL_MINUTES_PER_KM = {"urbain": 3.0, "mixte": 1.5, "rural": 1.3}

# ---------------------------------------------------------------------------------------------
# Supervision and costs
# ---------------------------------------------------------------------------------------------
#: P(a session of this kind in a month of tenure), median minutes.
SUPERVISION_KINDS = {
    "clinique": {"monthly_probability": 0.90, "median_minutes": 75},
    "organisationnelle": {"monthly_probability": 0.60, "median_minutes": 60},
    "codeveloppement": {"monthly_probability": 0.45, "median_minutes": 150},
    "formation": {"monthly_probability": 0.30, "median_minutes": 240},
    "communaute_pratique": {"monthly_probability": 0.40, "median_minutes": 120},
}
COST_RATES = {
    "ptp_hourly_loaded_cad": 30.0,
    "supervisor_hourly_loaded_cad": 45.0,
    "km_rate_cad": 0.55,
    "training_fee_per_session_cad": 120.0,
    "concrete_support_probability_per_accompaniment": 0.15,
    "concrete_support_median_cad": 40.0,
    "coordination_per_quarter_cad": 2400.0,
    "other_per_quarter_cad": 350.0,
}


# =============================================================================================
# Workers
# =============================================================================================
def _territory_stems(ctx: Context) -> np.ndarray:
    """``06-01`` for territory T06-01 (worker and activity ids embed it)."""
    return np.array([str(tid)[1:] for tid in ctx.territories["territory_id"]], dtype=object)


def make_workers(ctx: Context, horizon_end: int) -> tuple[pd.DataFrame, dict[str, Any]]:
    """PTP tenures: one to four workers in sequence per territory.

    Notes
    -----
    The first PTP starts between 2023-05-01 and 200 days later. Departures follow a Poisson
    process of annual hazard 0.30 (urban), 0.35 (mixed) or 0.45 (rural), at most three, each at
    least 60 days before the end of the period; the successor starts the next day. The last
    tenure is open (no end date).
    """
    rng = stream(ctx.seed, "workers")
    n_territories = ctx.n_territories
    hazard = np.array([TURNOVER_ANNUAL_HAZARD[e] for e in ctx.environment])
    first_start = day_number(FIRST_TENURE_START) + rng.integers(0, FIRST_TENURE_SPREAD_DAYS + 1, n_territories)
    gaps = rng.exponential(365.25 / hazard[:, None], size=(n_territories, MAX_WORKERS_PER_TERRITORY - 1))
    departures = first_start[:, None] + np.floor(np.cumsum(gaps, axis=1)).astype(np.int64)
    departs = departures < horizon_end - 60
    n_workers = 1 + departs.sum(axis=1)
    hours_values = np.array(list(WEEKLY_HOURS))

    territory_index = np.repeat(np.arange(n_territories), n_workers)
    sequence = np.arange(len(territory_index)) - np.repeat(np.cumsum(n_workers) - n_workers, n_workers)
    padded = np.concatenate([departures, np.full((n_territories, 1), NO_DATE)], axis=1)
    end = padded[territory_index, sequence]
    last = sequence == n_workers[territory_index] - 1
    end[last] = NO_DATE
    start = np.where(
        sequence == 0, first_start[territory_index], padded[territory_index, np.maximum(sequence - 1, 0)] + 1
    )
    territory_ids = ctx.territories["territory_id"].to_numpy(dtype=object)[territory_index]
    workers = pd.DataFrame(
        {
            "worker_id": concat_text("W", _territory_stems(ctx)[territory_index], "-", (sequence + 1).astype(str)),
            "territory_index": territory_index,
            "territory_id": territory_ids,
            "sequence": sequence + 1,
            "start": start.astype(np.int64),
            "end": end.astype(np.int64),
            "weekly_hours": hours_values[categorical(rng, list(WEEKLY_HOURS.values()), len(territory_index))],
        }
    )
    worker_years = (np.where(workers["end"] == NO_DATE, horizon_end, workers["end"]) - workers["start"]).sum() / 365.25
    departures_count = int((workers["end"] != NO_DATE).sum())
    truth = {
        "model": "Poisson departures at the annual hazard by environment, at most 3 (1 to 4 PTP in sequence), successor starts the next day",
        "annual_hazard": TURNOVER_ANNUAL_HAZARD,
        "max_workers_per_territory": MAX_WORKERS_PER_TERRITORY,
        "realised": {
            "workers": int(len(workers)),
            "departures": departures_count,
            "departures_per_worker_year": round(departures_count / worker_years, 6) if worker_years > 0 else None,
            "territories_by_worker_count": {
                str(k): int(v) for k, v in pd.Series(n_workers).value_counts().sort_index().items()
            },
        },
    }
    return workers, truth


def worker_at(workers: pd.DataFrame, territory_index: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Row of the worker in tenure in a territory on a day (vectorised lookup)."""
    keys = workers["territory_index"].to_numpy() * (1 << 22) + workers["start"].to_numpy()
    order = np.argsort(keys, kind="stable")
    query = territory_index.astype(np.int64) * (1 << 22) + day.astype(np.int64)
    position = np.searchsorted(keys[order], query, side="right") - 1
    return order[np.maximum(position, 0)]


# =============================================================================================
# Activities
# =============================================================================================
def _family_activities(
    ctx: Context, families: pd.DataFrame, referral_counts: np.ndarray, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Accompaniment activities tied to a family (and the reperage of some first contacts)."""
    n = len(families)
    first_contact = families["first_contact"].to_numpy()
    duration = np.maximum(families["accompaniment_end"].to_numpy() - first_contact, 0)
    mean = (
        FAMILY_ACTIVITY_BASE
        * np.exp(0.2 * families["severity"].to_numpy())
        * np.sqrt(np.maximum(duration, 1) / 365.0)
        * (1 + 0.04 * referral_counts)
    )
    extra = rng.poisson(mean)
    family_index = np.repeat(np.arange(n), extra)
    total = len(family_index)
    upper = duration[family_index]
    early = rng.random(total) < FAMILY_ACTIVITY_EARLY_SHARE
    offset = np.where(
        early,
        truncated_exponential(rng, FAMILY_ACTIVITY_EARLY_MEAN_DAYS, upper),
        rng.random(total) * (upper + 1),
    )
    offset = np.minimum(np.floor(offset).astype(np.int64), upper)
    actions = np.array(list(FAMILY_ACTION_MIX), dtype=object)
    action = actions[categorical(rng, list(FAMILY_ACTION_MIX.values()), total)]

    # Every family: a lien_confiance activity on the first contact; some also a reperage.
    reperage = rng.random(n) < REPERAGE_WITH_FAMILY_SHARE
    reperage_index = np.nonzero(reperage)[0]
    family_all = np.concatenate([np.arange(n), reperage_index, family_index])
    day_all = np.concatenate([first_contact, first_contact[reperage_index], first_contact[family_index] + offset])
    action_all = np.concatenate(
        [np.full(n, "lien_confiance", dtype=object), np.full(len(reperage_index), "reperage", dtype=object), action]
    )
    return {
        "family_index": family_all,
        "territory_index": families["territory_index"].to_numpy()[family_all],
        "day": day_all,
        "action_type": action_all,
    }


def _territory_activities(
    ctx: Context, families: pd.DataFrame, horizon_end: int, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Activities without a family: outreach, group sessions and concertation."""
    families_per_territory = np.bincount(families["territory_index"].to_numpy(), minlength=ctx.n_territories)
    study_start = ctx.recruitment_start
    months = max((horizon_end - study_start) / 30.4375, 1.0)
    parts_territory, parts_day, parts_action = [], [], []
    for action, rates in TERRITORY_ACTIVITY_RATES.items():
        counts = rng.poisson(rates["per_family"] * families_per_territory + rates["per_month"] * months)
        territory_index = np.repeat(np.arange(ctx.n_territories), counts)
        total = len(territory_index)
        whole_period = study_start + np.floor(rng.random(total) * (horizon_end - study_start + 1)).astype(np.int64)
        if action in ("demarchage", "reperage"):
            recruitment = ctx.recruitment_start + np.floor(
                rng.random(total) * (ctx.recruitment_end - ctx.recruitment_start + 1)
            ).astype(np.int64)
            day = np.where(rng.random(total) < OUTREACH_IN_RECRUITMENT_SHARE, recruitment, whole_period)
        else:
            day = whole_period
        parts_territory.append(territory_index)
        parts_day.append(day)
        parts_action.append(np.full(total, action, dtype=object))
    territory_index = np.concatenate(parts_territory)
    return {
        "family_index": np.full(len(territory_index), -1, dtype=np.int64),
        "territory_index": territory_index,
        "day": np.concatenate(parts_day),
        "action_type": np.concatenate(parts_action),
    }


def make_activities(
    ctx: Context, families: pd.DataFrame, referrals: pd.DataFrame, workers: pd.DataFrame, horizon_end: int
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Every logged PTP activity, complete data, ordered by territory then date.

    Returns
    -------
    activities : DataFrame
        ``activity_id``, ``worker_id``, ``territory_index``, ``territory_id``, ``day``,
        ``minutes``, ``action_type``, ``component``, ``family_index`` (-1 if none),
        ``record_num`` (0 if none), ``org_id`` ("" if none), ``place``, ``travel_minutes``,
        ``travel_km``.
    truth : dict

    Notes
    -----
    A family's accompaniment activities: one ``lien_confiance`` at the first contact, then
    ``Poisson(mu)`` more with ``mu = 21 exp(0.2 s) sqrt(days / 365) (1 + 0.04 referrals)``,
    dated within the accompaniment (65 % early: truncated exponential of mean 100 days; 35 %
    uniform). Activities without a family scale with the territory's families and months
    (:data:`TERRITORY_ACTIVITY_RATES`). Concertation activities and 40 % of
    ``accompagnement_ressources`` name a partner. The worker is the PTP in tenure at the
    activity's date. Minutes: log-normal by action type (median :data:`MINUTES_MEDIAN`,
    sigma 0.5), rounded to 5, within 5–240. Travel (not for phone or host-office activities):
    km ~ LogNormal(log median_env, 0.6^2), minutes = km × pace_env × LogNormal(0, 0.2^2).
    """
    rng = stream(ctx.seed, "activities")
    referral_counts = np.bincount(
        referrals.loc[referrals["direction"] == "ptp_to_partner", "family_index"].to_numpy(), minlength=len(families)
    )
    family_part = _family_activities(ctx, families, referral_counts, rng)
    territory_part = _territory_activities(ctx, families, horizon_end, rng)
    columns = {key: np.concatenate([family_part[key], territory_part[key]]) for key in family_part}
    total = len(columns["day"])
    territory_index = columns["territory_index"].astype(np.int64)
    day = columns["day"].astype(np.int64)
    action = columns["action_type"]
    family_index = columns["family_index"].astype(np.int64)

    org_id = _named_organisations(ctx, rng, action, territory_index)
    action_codes = ctx.codebook.codes("action_type")
    action_index = pd.Categorical(action, categories=action_codes).codes.astype(np.int64)
    minutes, place = _minutes_and_places(ctx, rng, action_index)
    km, travel_minutes = _travel(ctx, rng, territory_index, place)

    worker_row = worker_at(workers, territory_index, day)
    tiebreak = rng.random(total)
    order = np.lexsort((tiebreak, day, territory_index))
    territory_ids = ctx.territories["territory_id"].to_numpy(dtype=object)
    ordered_territory = territory_index[order]
    sequence = np.arange(total) - np.searchsorted(ordered_territory, ordered_territory, side="left")
    record_num = np.where(family_index >= 0, families["record_num"].to_numpy()[np.maximum(family_index, 0)], 0)
    component_of = np.array([ctx.codebook.component_of(a) for a in action_codes], dtype=object)
    activities = pd.DataFrame(
        {
            "activity_id": concat_text("A", _territory_stems(ctx)[ordered_territory], "-", zero_pad(sequence + 1, 6)),
            "worker_id": workers["worker_id"].to_numpy(dtype=object)[worker_row[order]],
            "territory_index": ordered_territory,
            "territory_id": territory_ids[ordered_territory],
            "day": day[order],
            "minutes": minutes[order],
            "action_type": action[order],
            "component": component_of[action_index[order]],
            "family_index": family_index[order],
            "record_num": record_num[order],
            "org_id": org_id[order],
            "place": place[order],
            "travel_minutes": travel_minutes[order],
            "travel_km": km[order],
        }
    )
    truth = _activity_truth(ctx, activities, len(families))
    return activities, truth


def _named_organisations(
    ctx: Context, rng: np.random.Generator, action: np.ndarray, territory_index: np.ndarray
) -> np.ndarray:
    """Partner org_id named by concertation activities and 40 % of accompaniments to resources ("" otherwise)."""
    total = len(action)
    partners, cumulative = partner_weights(ctx)
    concertation = np.isin(action, ["suivi_partenaires", "adaptation_pratiques", "espaces_dialogue"])
    with_org = concertation | (
        (action == "accompagnement_ressources") & (rng.random(total) < ACCOMPANIMENT_WITH_ORG_SHARE)
    )
    org_id = np.full(total, "", dtype=object)
    picked = segment_pick(
        partners["territory_index"].to_numpy(), cumulative, territory_index[with_org], rng.random(int(with_org.sum()))
    )
    org_id[with_org] = partners["org_id"].to_numpy(dtype=object)[picked]
    return org_id


def _minutes_and_places(
    ctx: Context, rng: np.random.Generator, action_index: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Minutes (log-normal by action type, rounded to 5, within 5–240) and place of each activity."""
    total = len(action_index)
    action_codes = ctx.codebook.codes("action_type")
    medians = np.array([MINUTES_MEDIAN[a] for a in action_codes], dtype=float)[action_index]
    minutes = np.round(lognormal_median(rng, medians, MINUTES_SIGMA, total) / 5) * 5
    minutes = np.clip(minutes, *MINUTES_RANGE).astype(np.int64)
    place_codes = ctx.codebook.codes("place")
    place_matrix = np.array([[PLACE_BY_ACTION[a].get(p, 0.0) for p in place_codes] for a in action_codes])
    place = np.array(place_codes, dtype=object)[categorical_rows(rng, place_matrix[action_index])]
    return minutes, place


def _travel(
    ctx: Context, rng: np.random.Generator, territory_index: np.ndarray, place: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Travel km and minutes by the territory's environment; none for phone or host-office places."""
    total = len(territory_index)
    environment = ctx.environment[territory_index]
    km_median = np.array([TRAVEL_KM_MEDIAN[e] for e in ("urbain", "mixte", "rural")])
    pace = np.array([TRAVEL_MINUTES_PER_KM[e] for e in ("urbain", "mixte", "rural")])
    environment_index = pd.Categorical(environment, categories=["urbain", "mixte", "rural"]).codes.astype(np.int64)
    travels = ~np.isin(place, NO_TRAVEL_PLACES)
    km = np.round(lognormal_median(rng, km_median[environment_index], TRAVEL_KM_SIGMA, total), 1)
    km = np.clip(km, 0.5, 300.0)
    travel_minutes = np.clip(
        np.round(km * pace[environment_index] * np.exp(0.2 * rng.standard_normal(total))), 1, 600
    ).astype(np.int64)
    return np.where(travels, km, 0.0), np.where(travels, travel_minutes, 0)


def _activity_truth(ctx: Context, activities: pd.DataFrame, n_families: int) -> dict[str, Any]:
    environment = ctx.environment[activities["territory_index"].to_numpy()]
    travelled = activities["travel_km"].to_numpy() > 0
    by_environment: dict[str, dict[str, float | None]] = {}
    for name in ("urbain", "mixte", "rural"):
        rows = environment == name
        moving = rows & travelled
        by_environment[name] = {
            "mean_travel_minutes_all_activities": (
                round(float(activities["travel_minutes"].to_numpy()[rows].mean()), 6) if rows.any() else None
            ),
            "mean_travel_km_all_activities": (
                round(float(activities["travel_km"].to_numpy()[rows].mean()), 6) if rows.any() else None
            ),
            "mean_travel_minutes_when_travelling": (
                round(float(activities["travel_minutes"].to_numpy()[moving].mean()), 6) if moving.any() else None
            ),
            "mean_travel_km_when_travelling": (
                round(float(activities["travel_km"].to_numpy()[moving].mean()), 6) if moving.any() else None
            ),
        }
    return {
        "activities": {
            "family_activity_model": "1 lien_confiance at first contact + Poisson(21 exp(0.2 severity) sqrt(days accompanied / 365) (1 + 0.04 referrals))",
            "family_action_mix": FAMILY_ACTION_MIX,
            "reperage_with_family_share": REPERAGE_WITH_FAMILY_SHARE,
            "accompaniment_with_org_share": ACCOMPANIMENT_WITH_ORG_SHARE,
            "territory_activity_rates": TERRITORY_ACTIVITY_RATES,
            "minutes_median": MINUTES_MEDIAN,
            "minutes_sigma": MINUTES_SIGMA,
            "place_by_action": PLACE_BY_ACTION,
            "realised_complete": {
                "activities": int(len(activities)),
                "per_family": round(len(activities) / n_families, 6) if n_families else None,
                "by_action_type": {k: int(v) for k, v in activities["action_type"].value_counts().sort_index().items()},
                "with_family": int((activities["family_index"] >= 0).sum()),
            },
        },
        "travel": {
            "model": "km ~ LogNormal(log median_env, 0.6^2) clipped 0.5-300; minutes = km * pace_env * LogNormal(0, 0.2^2); none for phone/virtual or at the host",
            "km_median": TRAVEL_KM_MEDIAN,
            "km_sigma": TRAVEL_KM_SIGMA,
            "minutes_per_km": TRAVEL_MINUTES_PER_KM,
            "no_travel_places": list(NO_TRAVEL_PLACES),
            "realised_complete_by_environment": by_environment,
        },
    }


# =============================================================================================
# Supervision
# =============================================================================================
def _month_number(days: np.ndarray) -> np.ndarray:
    """Months since 1970-01 of day numbers."""
    return days.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)


def make_supervision(ctx: Context, workers: pd.DataFrame, horizon_end: int) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Supervision and training sessions: for each month of each tenure, each kind at most once.

    Notes
    -----
    From the study start (2024-01-01) to the end of the period, each month of tenure holds a
    session of each kind with probability :data:`SUPERVISION_KINDS` (clinical 0.9,
    organisational 0.6, co-development 0.45, training 0.3, community of practice 0.4), dated
    uniformly within the month's days of tenure; minutes are log-normal around the kind's
    median (sigma 0.3), rounded to 15, within 15–480.
    """
    rng = stream(ctx.seed, "supervision")
    start = np.maximum(workers["start"].to_numpy(), ctx.recruitment_start)
    end = np.where(
        workers["end"].to_numpy() == NO_DATE, horizon_end, np.minimum(workers["end"].to_numpy(), horizon_end)
    )
    first_month = month_start(start)
    last_month = month_start(np.maximum(end, start))
    n_months = np.where(end >= start, _month_number(last_month) - _month_number(first_month) + 1, 0)
    worker_row = np.repeat(np.arange(len(workers)), n_months)
    offset = np.arange(len(worker_row)) - np.repeat(np.cumsum(n_months) - n_months, n_months)
    months = (_month_number(first_month)[worker_row] + offset).astype("datetime64[M]")
    month_first = months.astype("datetime64[D]").astype(np.int64)
    month_last = (months + 1).astype("datetime64[D]").astype(np.int64) - 1
    low = np.maximum(month_first, start[worker_row])
    high = np.minimum(month_last, end[worker_row])

    kinds = list(SUPERVISION_KINDS)
    rows = []
    for kind in kinds:
        spec = SUPERVISION_KINDS[kind]
        held = rng.random(len(worker_row)) < spec["monthly_probability"]
        day = low + np.floor(rng.random(len(worker_row)) * (high - low + 1)).astype(np.int64)
        minutes = np.clip(
            np.round(lognormal_median(rng, spec["median_minutes"], 0.3, len(worker_row)) / 15) * 15, 15, 480
        ).astype(np.int64)
        rows.append(
            pd.DataFrame({"worker_row": worker_row[held], "day": day[held], "kind": kind, "minutes": minutes[held]})
        )
    sessions = pd.concat(rows, ignore_index=True)
    sessions["worker_id"] = workers["worker_id"].to_numpy(dtype=object)[sessions["worker_row"].to_numpy()]
    sessions["territory_index"] = workers["territory_index"].to_numpy()[sessions["worker_row"].to_numpy()]
    sessions["kind_order"] = pd.Categorical(sessions["kind"], categories=kinds).codes
    sessions = sessions.sort_values(["territory_index", "worker_row", "day", "kind_order"], kind="stable").reset_index(
        drop=True
    )
    truth = {
        "model": "each kind at most once per month of tenure, with the monthly probability; minutes LogNormal(log median, 0.3^2) rounded to 15",
        "kinds": SUPERVISION_KINDS,
        "realised": {
            "sessions": int(len(sessions)),
            "by_kind": {k: int(v) for k, v in sessions["kind"].value_counts().sort_index().items()},
        },
    }
    return sessions[["worker_id", "territory_index", "day", "kind", "minutes"]], truth


# =============================================================================================
# Costs
# =============================================================================================
def _quarter_starts(first_day: int, last_day: int) -> list[tuple[str, int, int]]:
    """(label ``AAAA-Tn``, first day, last day) of each quarter from first_day to last_day."""
    quarters = []
    date = to_date(first_day)
    year, quarter = date.year, (date.month - 1) // 3 + 1
    while True:
        begin = day_number(f"{year}-{3 * (quarter - 1) + 1:02d}-01")
        if begin > last_day:
            break
        next_year, next_quarter = (year + 1, 1) if quarter == 4 else (year, quarter + 1)
        end = day_number(f"{next_year}-{3 * (next_quarter - 1) + 1:02d}-01") - 1
        quarters.append((f"{year}-T{quarter}", begin, end))
        year, quarter = next_year, next_quarter
    return quarters


def make_costs(
    ctx: Context, workers: pd.DataFrame, supervision: pd.DataFrame, activities: pd.DataFrame, end_day: int
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Program costs per territory, quarter and category, from the (censored) registry.

    Notes
    -----
    - ``salaire_ptp`` = days of tenure in the quarter × weekly hours / 7 × 30 $/h (loaded);
    - ``supervision`` = minutes of clinical, organisational, co-development and community-of-
      practice sessions / 60 × 45 $/h (the supervisor's time);
    - ``formation`` = training minutes / 60 × 30 $/h + 120 $ per session;
    - ``mobilite`` = km × 0.55 $;
    - ``soutien_concret`` = for 15 % of accompaniments to resources, LogNormal(log 40, 0.6^2) $;
    - ``coordination`` = 2,400 $ and ``autre`` = 350 $ per quarter, times U(0.8, 1.2) per territory.
    Quarters run from 2024-T1 to the quarter of ``end_day``; the last one may be partial.
    """
    rng = stream(ctx.seed, "costs")
    quarters = _quarter_starts(ctx.recruitment_start, end_day)
    n_q, n_t, rates = len(quarters), ctx.n_territories, COST_RATES
    begins = np.array([begin for _, begin, _ in quarters])
    ends = np.minimum(np.array([end for _, _, end in quarters]), end_day)
    categories = ctx.codebook.codes("cost_category")
    amounts = {category: np.zeros((n_t, n_q)) for category in categories}
    _add_salaries(amounts["salaire_ptp"], workers, begins, ends, end_day)
    _add_sessions(amounts, supervision.loc[supervision["day"].to_numpy() <= end_day], begins)
    _add_activity_costs(amounts, activities, begins, rng)
    # Share of each quarter's days in the period (the last quarter may be partial).
    days_in_quarter = (ends - begins + 1) / np.array([end - begin + 1 for _, begin, end in quarters])
    territory_factor = 0.8 + 0.4 * rng.random((n_t, 2))
    amounts["coordination"] += (
        territory_factor[:, :1] * rates["coordination_per_quarter_cad"] * days_in_quarter[None, :]
    )
    amounts["autre"] += territory_factor[:, 1:] * rates["other_per_quarter_cad"] * days_in_quarter[None, :]

    labels = [label for label, _, _ in quarters]
    territory_ids = ctx.territories["territory_id"].to_numpy(dtype=object)
    stacked = np.stack([amounts[c] for c in categories], axis=2)  # territory × quarter × category
    costs = pd.DataFrame(
        {
            "territory_id": np.repeat(territory_ids, n_q * len(categories)),
            "period": np.tile(np.repeat(np.array(labels, dtype=object), len(categories)), n_t),
            "category": np.tile(np.array(categories, dtype=object), n_t * n_q),
            "amount_cad": np.round(stacked.reshape(-1), 2),
        }
    )
    truth = {
        "rates": rates,
        "model": "salaire_ptp = tenure days * weekly_hours / 7 * ptp rate; supervision = non-training session hours * supervisor rate; "
        "formation = training hours * ptp rate + fee; mobilite = km * km rate; soutien_concret on some accompaniments; "
        "coordination and autre per quarter (prorated) * U(0.8, 1.2) per territory",
        "realised": {
            "total_cad": round(float(costs["amount_cad"].sum()), 2),
            "by_category_cad": {c: round(float(amounts[c].sum()), 2) for c in categories},
        },
    }
    return costs, truth


def _quarter_of(begins: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Index of the quarter (by its first day) each day falls in."""
    return np.searchsorted(begins, day, side="right") - 1


def _add_salaries(
    salaries: np.ndarray, workers: pd.DataFrame, begins: np.ndarray, ends: np.ndarray, end_day: int
) -> None:
    """PTP salaries: days of tenure in each quarter × weekly hours / 7 × the loaded hourly rate."""
    worker_start = workers["start"].to_numpy()
    worker_end = np.where(workers["end"].to_numpy() == NO_DATE, end_day, workers["end"].to_numpy())
    overlap = np.minimum(worker_end[:, None], ends[None, :]) - np.maximum(worker_start[:, None], begins[None, :]) + 1
    hours = np.maximum(overlap, 0) * (workers["weekly_hours"].to_numpy()[:, None] / 7.0)
    np.add.at(salaries, workers["territory_index"].to_numpy(), hours * COST_RATES["ptp_hourly_loaded_cad"])


def _add_sessions(amounts: dict[str, np.ndarray], sessions: pd.DataFrame, begins: np.ndarray) -> None:
    """Supervision (the supervisor's hours) and training (the PTP's hours plus a fee per session)."""
    q = _quarter_of(begins, sessions["day"].to_numpy())
    training = sessions["kind"].to_numpy() == "formation"
    t_index = sessions["territory_index"].to_numpy()
    hours = sessions["minutes"].to_numpy() / 60.0
    np.add.at(
        amounts["supervision"],
        (t_index[~training], q[~training]),
        hours[~training] * COST_RATES["supervisor_hourly_loaded_cad"],
    )
    np.add.at(
        amounts["formation"],
        (t_index[training], q[training]),
        hours[training] * COST_RATES["ptp_hourly_loaded_cad"] + COST_RATES["training_fee_per_session_cad"],
    )


def _add_activity_costs(
    amounts: dict[str, np.ndarray], activities: pd.DataFrame, begins: np.ndarray, rng: np.random.Generator
) -> None:
    """Mileage of every activity, and concrete support on some accompaniments to resources."""
    rates = COST_RATES
    q_a = _quarter_of(begins, activities["day"].to_numpy())
    t_a = activities["territory_index"].to_numpy()
    np.add.at(amounts["mobilite"], (t_a, q_a), activities["travel_km"].to_numpy() * rates["km_rate_cad"])
    supported = (activities["action_type"].to_numpy(dtype=object) == "accompagnement_ressources") & (
        activities["family_index"].to_numpy() >= 0
    )
    supported &= rng.random(len(activities)) < rates["concrete_support_probability_per_accompaniment"]
    support = lognormal_median(rng, rates["concrete_support_median_cad"], 0.6, int(supported.sum()))
    np.add.at(amounts["soutien_concret"], (t_a[supported], q_a[supported]), support)
