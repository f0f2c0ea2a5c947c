"""Needs of the synthetic families, their complete-data status and the planted service gaps."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from proximite.cohort.sandbox._context import Context
from proximite.cohort.sandbox._sampling import (
    lognormal_median,
    round_or_none,
    stream,
    top_k_mask,
    truncated_exponential,
)

# ---------------------------------------------------------------------------------------------
# Needs
# ---------------------------------------------------------------------------------------------
#: Relative frequency of need categories (focus groups: housing and food first, then child
#: development, parent-child relationship, childcare, transport, administrative procedures).
NEED_CATEGORY_WEIGHTS = {
    "logement": 16.0,
    "alimentation": 16.0,
    "developpement_enfant": 10.0,
    "relation_parent_enfant": 9.0,
    "garde": 8.0,
    "transport": 7.0,
    "demarches_administratives": 6.5,
    "materiel": 5.0,
    "revenu_emploi": 4.5,
    "sante_mentale": 4.0,
    "immigration_francisation": 2.0,
    "reseau_soutien": 3.0,
    "perinatalite": 1.5,
    "sante_physique": 2.0,
    "violence_securite": 1.5,
    "juridique": 1.5,
    "autre": 1.0,
}
_NEED_BOOSTS = {"immigration_francisation_if_immigrant": 5.0, "perinatalite_if_unborn": 8.0, "transport_if_rural": 2.0}
_BASIC_NEEDS = ("logement", "alimentation", "materiel")
NEED_IDENTIFICATION_MEAN_DAYS = {"basic": 15.0, "other": 75.0}
#: Time from identification to the need being met: log-normal with these medians (days).
NEED_MET_MEDIAN_DAYS = {
    "alimentation": 10,
    "materiel": 21,
    "transport": 45,
    "demarches_administratives": 30,
    "revenu_emploi": 60,
    "logement": 120,
    "garde": 150,
    "developpement_enfant": 75,
    "relation_parent_enfant": 60,
    "sante_mentale": 90,
    "sante_physique": 45,
    "immigration_francisation": 60,
    "perinatalite": 30,
    "violence_securite": 14,
    "reseau_soutien": 60,
    "juridique": 60,
    "autre": 30,
}
NEED_MET_SIGMA = 0.8
NEED_DECLINED = 0.08  # status non_repondu
NEED_PARTIAL = 0.10  # status partiellement_repondu, at 0.7 of the time to met
#: Service gaps: base probability that a need ends as aucune_ressource or liste_attente.
GAP_BASE = {"transport": 0.20, "logement": 0.18, "garde": 0.22, "sante_mentale": 0.15}
GAP_BASE_OTHER = 0.04
GAP_RURAL_TRANSPORT_MULTIPLIER = 1.6
PLANTED_GAP_PROBABILITY = 0.60
_PLANTED_GAP_CANDIDATES = {
    "logement": 3.0,
    "garde": 3.0,
    "transport": 3.0,
    "sante_mentale": 2.0,
    "alimentation": 1.5,
    "developpement_enfant": 1.5,
    "immigration_francisation": 1.0,
}
_WAITING_LIST_SHARE = {"garde": 0.75, "sante_mentale": 0.75, "developpement_enfant": 0.65}
_WAITING_LIST_SHARE_OTHER = 0.40


def _service_gaps(
    ctx: Context, categories: list[str], rng: np.random.Generator
) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """Probability (territory × category) that a need meets a service gap, and the planted pairs."""
    base = np.array([GAP_BASE.get(category, GAP_BASE_OTHER) for category in categories])
    probability = np.repeat(base[None, :], ctx.n_territories, axis=0)
    rural = ctx.environment == "rural"
    probability[rural, categories.index("transport")] *= GAP_RURAL_TRANSPORT_MULTIPLIER
    candidate_weights = np.array([_PLANTED_GAP_CANDIDATES.get(category, 0.0) for category in categories])
    log_weights = np.where(candidate_weights > 0, np.log(np.maximum(candidate_weights, 1e-12)), -np.inf)
    log_weights = np.repeat(log_weights[None, :], ctx.n_territories, axis=0)
    log_weights[rural, categories.index("transport")] += np.log(2.0)
    planted_count = 2 + (rng.random(ctx.n_territories) < 0.5).astype(np.int64)
    planted = top_k_mask(rng, log_weights, planted_count)
    probability[planted] = PLANTED_GAP_PROBABILITY
    territory_ids = ctx.territories["territory_id"].to_numpy(dtype=object)
    pairs = [
        {"territory_id": str(territory_ids[t]), "category": categories[k], "probability": PLANTED_GAP_PROBABILITY}
        for t, k in zip(*np.nonzero(planted))
    ]
    return probability, pairs


def make_needs(ctx: Context, families: pd.DataFrame, children: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Needs of each family with their complete-data status (censored at the accompaniment end).

    Notes
    -----
    Needs per family: ``min(1 + Poisson(1.4 + 0.5 max(s, 0) + 0.4 I), 8)``, distinct categories
    drawn with :data:`NEED_CATEGORY_WEIGHTS` (immigration needs ×5 for immigrant families,
    perinatal ×8 when a child is expected, transport ×2 in rural territories). Identified after
    the first contact: truncated exponential, mean 15 days for basic needs (housing, food,
    material), 75 otherwise, within the accompaniment. A need meets a service gap with
    probability ``gap[t, k]`` (status ``aucune_ressource`` or ``liste_attente``); otherwise
    8 % are declined (``non_repondu``), 10 % partly met at 0.7 T, and the rest met
    (``repondu``) after ``T ~ LogNormal(log median_k, 0.8^2)``. Events after the accompaniment
    end are censored: status ``en_cours`` (``identifie`` if under 14 days), dated at the
    censoring date.
    """
    rng = stream(ctx.seed, "needs")
    categories = ctx.codebook.codes("need_category")
    family_index, category_index = _choose_categories(rng, families, children, categories)
    end = families["accompaniment_end"].to_numpy()[family_index]
    category = np.array(categories, dtype=object)[category_index]
    identified = _identification_days(rng, families, family_index, category, end)
    gap_probability, planted_pairs = _service_gaps(ctx, categories, rng)
    territory_index = families["territory_index"].to_numpy()[family_index]
    gap_probability = gap_probability[territory_index, category_index]
    outcome = _need_outcomes(rng, categories, category_index, identified, gap_probability)
    censored = outcome["status_date"] > end
    outcome["status"][censored] = np.where(end[censored] - identified[censored] >= 14, "en_cours", "identifie")
    outcome["status_date"][censored] = end[censored]

    order = np.lexsort((category_index, identified, family_index))
    needs = pd.DataFrame(
        {
            "family_index": family_index[order],
            "record_num": families["record_num"].to_numpy()[family_index[order]],
            "territory_index": territory_index[order],
            "category": category[order],
            "category_index": category_index[order],
            "identified": identified[order],
            **{key: values[order] for key, values in outcome.items()},
        }
    )
    needs["instance"] = needs.groupby("family_index", sort=False).cumcount() + 1
    return needs, _needs_truth(needs, len(families), planted_pairs)


def _choose_categories(
    rng: np.random.Generator, families: pd.DataFrame, children: pd.DataFrame, categories: list[str]
) -> tuple[np.ndarray, np.ndarray]:
    """How many needs each family has and which distinct categories: (family index, category index)."""
    n = len(families)
    severity = families["severity"].to_numpy()
    isolated = families["isolated_at_contact"].to_numpy()
    count = np.minimum(1 + rng.poisson(1.4 + 0.5 * np.maximum(severity, 0) + 0.4 * isolated), 8)
    log_weights = np.repeat(np.log([NEED_CATEGORY_WEIGHTS[c] for c in categories])[None, :], n, axis=0)
    log_weights[families["immigrant"].to_numpy(), categories.index("immigration_francisation")] += np.log(
        _NEED_BOOSTS["immigration_francisation_if_immigrant"]
    )
    expecting = np.zeros(n, dtype=bool)
    expecting[children.loc[children["unborn"], "family_index"].to_numpy()] = True
    log_weights[expecting, categories.index("perinatalite")] += np.log(_NEED_BOOSTS["perinatalite_if_unborn"])
    log_weights[families["environment"].to_numpy(dtype=object) == "rural", categories.index("transport")] += np.log(
        _NEED_BOOSTS["transport_if_rural"]
    )
    chosen = top_k_mask(rng, log_weights, count)
    return np.nonzero(chosen)


def _identification_days(
    rng: np.random.Generator, families: pd.DataFrame, family_index: np.ndarray, category: np.ndarray, end: np.ndarray
) -> np.ndarray:
    """Day each need is identified: a truncated exponential after the first contact, before ``end``."""
    first_contact = families["first_contact"].to_numpy()[family_index]
    basic = np.isin(category, _BASIC_NEEDS)
    mean = np.where(basic, NEED_IDENTIFICATION_MEAN_DAYS["basic"], NEED_IDENTIFICATION_MEAN_DAYS["other"])
    return first_contact + np.floor(truncated_exponential(rng, mean, end - first_contact)).astype(np.int64)


def _need_outcomes(
    rng: np.random.Generator,
    categories: list[str],
    category_index: np.ndarray,
    identified: np.ndarray,
    gap_probability: np.ndarray,
) -> dict[str, np.ndarray]:
    """Complete-data status of each need: a service gap, declined, partly met or met (uncensored).

    Returns ``status``, ``status_date``, ``gap``, ``time_to_met`` and ``met_eligible`` (met,
    neither gap, declined nor partly met), in the needs' order.
    """
    total = len(category_index)
    gap = rng.random(total) < gap_probability
    waiting_share = np.array([_WAITING_LIST_SHARE.get(c, _WAITING_LIST_SHARE_OTHER) for c in categories])[
        category_index
    ]
    gap_status = np.where(rng.random(total) < waiting_share, "liste_attente", "aucune_ressource").astype(object)
    gap_date = identified + rng.integers(7, 61, total)

    medians = np.array([NEED_MET_MEDIAN_DAYS[c] for c in categories], dtype=float)[category_index]
    time_to_met = np.maximum(np.round(lognormal_median(rng, medians, NEED_MET_SIGMA, total)), 1).astype(np.int64)
    path = rng.random(total)
    declined = ~gap & (path < NEED_DECLINED)
    partial = ~gap & ~declined & (path < NEED_DECLINED + NEED_PARTIAL)
    met = ~gap & ~declined & ~partial

    status = np.empty(total, dtype=object)
    status_date = np.empty(total, dtype=np.int64)
    status[gap], status_date[gap] = gap_status[gap], gap_date[gap]
    status[declined], status_date[declined] = "non_repondu", (identified + rng.integers(30, 121, total))[declined]
    status[partial], status_date[partial] = (
        "partiellement_repondu",
        (identified + np.round(0.7 * time_to_met).astype(np.int64))[partial],
    )
    status[met], status_date[met] = "repondu", (identified + time_to_met)[met]
    return {"status": status, "status_date": status_date, "gap": gap, "time_to_met": time_to_met, "met_eligible": met}


def _needs_truth(needs: pd.DataFrame, n_families: int, planted_pairs: list[dict[str, Any]]) -> dict[str, Any]:
    """The planted needs model, service gaps and time to met, and their complete-data values."""
    total = len(needs)
    realised_median = needs.loc[needs["met_eligible"]].groupby("category")["time_to_met"].median()
    met_share = needs.assign(met=needs["status"] == "repondu").groupby("category")["met"].mean()
    return {
        "count_model": "min(1 + Poisson(1.4 + 0.5 max(severity, 0) + 0.4 isolated_at_contact), 8), distinct categories",
        "category_weights": NEED_CATEGORY_WEIGHTS,
        "category_boosts": _NEED_BOOSTS,
        "identification_mean_days": NEED_IDENTIFICATION_MEAN_DAYS,
        "time_to_met": {
            "distribution": "lognormal among needs neither in a service gap, declined nor partly met",
            "sigma": NEED_MET_SIGMA,
            "median_days": NEED_MET_MEDIAN_DAYS,
            "realised_median_days_complete": {k: round_or_none(float(v)) for k, v in realised_median.items()},
            "declined_probability": NEED_DECLINED,
            "partly_met_probability": NEED_PARTIAL,
            "censoring": "at the accompaniment end (exit or last due wave), or as_of; censored needs are en_cours (identifie if < 14 days) dated at the censoring date",
        },
        "service_gaps": {
            "status": "aucune_ressource or liste_attente",
            "base_probability": GAP_BASE,
            "base_probability_other_categories": GAP_BASE_OTHER,
            "rural_transport_multiplier": GAP_RURAL_TRANSPORT_MULTIPLIER,
            "waiting_list_share": _WAITING_LIST_SHARE,
            "waiting_list_share_other": _WAITING_LIST_SHARE_OTHER,
            "planted_pairs": planted_pairs,
        },
        "realised_complete": {
            "needs": int(total),
            "needs_per_family": round_or_none(total / n_families) if n_families else None,
            "share_by_category": {
                k: round_or_none(v) for k, v in (needs["category"].value_counts(normalize=True).sort_index()).items()
            },
            "share_met_by_category": {k: round_or_none(float(v)) for k, v in met_share.items()},
            "status_counts": {k: int(v) for k, v in needs["status"].value_counts().sort_index().items()},
        },
    }
