"""Referrals of the synthetic families, both directions, with destinations raked to the pilot's shares."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from proximite.cohort.sandbox._context import Context
from proximite.cohort.sandbox._sampling import (
    NO_DATE,
    categorical,
    categorical_rows,
    lognormal_median,
    ranks_uniform,
    round_or_none,
    segment_pick,
    stream,
    truncated_exponential,
    within_segment_cumulative,
)
from proximite.cohort.sandbox.geography import PARTNER_CLASSES

# Referrals of direction ptp_to_partner per family: P(0), P(1), P(2); the other half has 3 or
# more (3 + negative binomial), so "half the families with three referrals or more".
REFERRAL_COUNT_HEAD = (0.10, 0.18, 0.22)
REFERRAL_TAIL_NB = {"r": 1.2, "mean": 6.8}
PARTNER_TO_PTP_POISSON = 0.55

#: Destination classes (network, mission) of ptp_to_partner referrals: 81 % communautaire,
#: 38 % famille_enfance, 23 % aide_materielle_alimentation, every other category < 10 %.
REFERRAL_CLASS_SHARES: dict[tuple[str, str], float] = {
    ("communautaire", "famille_enfance"): 0.35,
    ("communautaire", "aide_materielle_alimentation"): 0.23,
    ("communautaire", "immigration"): 0.06,
    ("communautaire", "logement"): 0.05,
    ("communautaire", "sante_mentale"): 0.05,
    ("communautaire", "perinatalite"): 0.04,
    ("communautaire", "employabilite"): 0.02,
    ("communautaire", "autre"): 0.01,
    ("services_garde", "famille_enfance"): 0.03,
    ("public_sss", "perinatalite"): 0.03,
    ("public_sss", "sante_mentale"): 0.03,
    ("public_sss", "autre"): 0.02,
    ("protection_jeunesse", "autre"): 0.02,
    ("education", "autre"): 0.02,
    ("municipal", "autre"): 0.01,
    ("employabilite", "employabilite"): 0.01,
    ("logement", "logement"): 0.01,
    ("immigration", "immigration"): 0.01,
}
# How much more a need category is sent to a class than to others (odds multipliers kept by the
# raking that calibrates the destination shares).
_CATEGORY_CLASS_AFFINITY: dict[str, dict[tuple[str, str], float]] = {
    "logement": {("communautaire", "logement"): 8, ("logement", "logement"): 8},
    "alimentation": {("communautaire", "aide_materielle_alimentation"): 10},
    "materiel": {("communautaire", "aide_materielle_alimentation"): 8},
    "developpement_enfant": {
        ("communautaire", "famille_enfance"): 5,
        ("services_garde", "famille_enfance"): 2,
        ("education", "autre"): 2,
    },
    "relation_parent_enfant": {("communautaire", "famille_enfance"): 6},
    "reseau_soutien": {("communautaire", "famille_enfance"): 4, ("communautaire", "autre"): 3},
    "garde": {("services_garde", "famille_enfance"): 8, ("communautaire", "famille_enfance"): 3},
    "immigration_francisation": {("communautaire", "immigration"): 8, ("immigration", "immigration"): 8},
    "sante_mentale": {("communautaire", "sante_mentale"): 6, ("public_sss", "sante_mentale"): 6},
    "perinatalite": {("communautaire", "perinatalite"): 6, ("public_sss", "perinatalite"): 6},
    "revenu_emploi": {("communautaire", "employabilite"): 6, ("employabilite", "employabilite"): 6},
    "sante_physique": {("public_sss", "autre"): 6},
    "violence_securite": {("protection_jeunesse", "autre"): 4, ("public_sss", "autre"): 3},
    "demarches_administratives": {("communautaire", "autre"): 3, ("municipal", "autre"): 2},
    "transport": {("communautaire", "autre"): 3, ("municipal", "autre"): 3},
    "juridique": {("communautaire", "autre"): 3},
}


REFERRAL_OUTCOMES = {
    "no_gap": {
        "service_recu": 0.62,
        "contact_etabli": 0.15,
        "en_attente": 0.05,
        "liste_attente": 0.05,
        "refus": 0.05,
        "abandon": 0.08,
    },
    "gap": {
        "service_recu": 0.10,
        "contact_etabli": 0.15,
        "en_attente": 0.10,
        "liste_attente": 0.40,
        "refus": 0.12,
        "abandon": 0.13,
    },
}
REFERRAL_DELAY_MEAN_DAYS = 21.0
REFERRAL_OUTCOME_MEDIAN_DAYS = 12.0


# =============================================================================================
# Referrals
# =============================================================================================
def _class_table(ctx: Context) -> tuple[list[tuple[str, str]], np.ndarray, pd.DataFrame]:
    """Destination classes, their target shares, and partners with their class index."""
    classes = list(PARTNER_CLASSES)
    shares = np.array([REFERRAL_CLASS_SHARES.get(c, 0.0) for c in classes])
    partners = ctx.partners.copy()
    lookup = {c: i for i, c in enumerate(classes)}
    partners["class_index"] = [
        lookup.get((network, mission), -1) for network, mission in zip(partners["network"], partners["mission"])
    ]
    return classes, shares, partners


def partner_weights(ctx: Context) -> tuple[pd.DataFrame, np.ndarray]:
    """Partners and a within-territory cumulative weight giving each class its referral share.

    Used to draw the partner of concertation activities and of partner-to-PTP referrals.
    """
    classes, shares, partners = _class_table(ctx)
    territory = partners["territory_index"].to_numpy()
    class_index = partners["class_index"].to_numpy()
    per_class = (
        pd.Series(1, index=pd.MultiIndex.from_arrays([territory, class_index]))
        .groupby(level=[0, 1])
        .transform("sum")
        .to_numpy()
    )
    weight = np.where(class_index >= 0, np.take(np.r_[shares, 0.0], class_index) + 0.002, 0.002) / per_class
    return partners, within_segment_cumulative(territory, weight)


def _rake_destinations(
    ctx: Context,
    territory: np.ndarray,
    category: np.ndarray,
    n_categories: int,
    partners: pd.DataFrame,
    shares: np.ndarray,
    classes: list[tuple[str, str]],
    categories: list[str],
) -> np.ndarray:
    """P(class | territory, category), raked so that the overall class shares hit their targets.

    Notes
    -----
    Iterative proportional fitting of ``J[t, k, c]`` from the prior
    ``affinity[k, c] * partners[t, c]`` to the margins ``sum_c J = n_tk`` (referrals by
    territory and need category) and ``sum_tk J = share_c N``. The odds structure of the prior
    (which need goes to which kind of organisation, which classes a territory has) is kept.
    """
    n_classes = len(classes)
    present = np.zeros((ctx.n_territories, n_classes))
    valid = partners["class_index"].to_numpy() >= 0
    np.add.at(present, (partners["territory_index"].to_numpy()[valid], partners["class_index"].to_numpy()[valid]), 1.0)
    affinity = np.ones((n_categories, n_classes))
    for k, name in enumerate(categories):
        for klass, multiplier in _CATEGORY_CLASS_AFFINITY.get(name, {}).items():
            affinity[k, classes.index(klass)] = multiplier
    prior = affinity[None, :, :] * present[:, None, :]
    row_target = np.zeros((ctx.n_territories, n_categories))
    np.add.at(row_target, (territory, category), 1.0)
    available = present.sum(axis=0) > 0
    column_share = np.where(available, shares, 0.0)
    column_target = column_share / column_share.sum() * row_target.sum()
    joint = prior.copy()
    for _ in range(200):
        rows = joint.sum(axis=2)
        joint *= np.divide(row_target, rows, out=np.zeros_like(rows), where=rows > 0)[:, :, None]
        columns = joint.sum(axis=(0, 1))
        joint *= np.divide(column_target, columns, out=np.zeros_like(columns), where=columns > 0)[None, None, :]
    rows = joint.sum(axis=2, keepdims=True)
    conditional = np.divide(joint, rows, out=np.zeros_like(joint), where=rows > 0)
    # Cells with no referral keep the prior (never used, but proper distributions).
    empty = rows[..., 0] == 0
    prior_rows = prior.sum(axis=2, keepdims=True)
    conditional[empty] = np.divide(prior, prior_rows, out=np.zeros_like(prior), where=prior_rows > 0)[empty]
    return conditional


def make_referrals(ctx: Context, families: pd.DataFrame, needs: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Referrals of each family, both directions, complete data.

    Notes
    -----
    PTP-to-partner referrals per family: with ``u`` the evenly spread rank of
    ``0.5 s + 0.3 z(needs) + N(0, 1)``, 0 if ``u < 0.10``, 1 if ``u < 0.28``, 2 if ``u < 0.50``,
    else ``3 + NB(r = 1.2, mean 6.8)`` at quantile ``(u - 0.5) / 0.5``: exactly half the
    families have three or more. Partner-to-PTP referrals: one at the first contact for the
    families recruited through a partner, plus ``Poisson(0.55)`` (about 10 % of referrals);
    from a partner, to the host. Each referral serves one of the family's needs, dated a
    truncated exponential (mean 21 days) after the need's identification, within the
    accompaniment. The destination class is drawn from the raked ``P(class | territory,
    category)`` (see :func:`_rake_destinations`), then a partner of that class in the
    territory. Outcomes depend on whether the need met a service gap; an outcome after the
    accompaniment end is still pending (``en_attente``).
    """
    rng = stream(ctx.seed, "referrals")
    categories = ctx.codebook.codes("need_category")
    n = len(families)
    needs_per_family = np.bincount(needs["family_index"].to_numpy(), minlength=n)
    ptp_count = _ptp_to_partner_counts(rng, families, needs_per_family)
    via_partner = families["recruitment_channel"].to_numpy(dtype=object) == "reference_partenaire"
    back_count = via_partner.astype(np.int64) + rng.poisson(PARTNER_TO_PTP_POISSON, n)

    total_count = ptp_count + back_count
    family_index = np.repeat(np.arange(n), total_count)
    position = np.arange(len(family_index)) - np.repeat(np.cumsum(total_count) - total_count, total_count)
    is_back = position >= np.repeat(ptp_count, total_count)
    first_back = is_back & (position == np.repeat(ptp_count, total_count)) & via_partner[family_index]
    total = len(family_index)

    need_offset = np.r_[0, np.cumsum(needs_per_family)[:-1]]
    need_row = need_offset[family_index] + np.floor(rng.random(total) * needs_per_family[family_index]).astype(np.int64)
    category_index = needs["category_index"].to_numpy()[need_row]
    end = families["accompaniment_end"].to_numpy()[family_index]
    referral_date = _referral_dates(rng, needs["identified"].to_numpy()[need_row], end)
    referral_date[first_back] = families["first_contact"].to_numpy()[family_index][first_back]
    territory = families["territory_index"].to_numpy()[family_index]
    from_org, to_org = _organisations(ctx, rng, territory, category_index, is_back, categories)
    outcome, outcome_date = _referral_outcomes(rng, needs["gap"].to_numpy()[need_row], referral_date, end)

    order = np.lexsort((rng.random(total), referral_date, family_index))
    referrals = pd.DataFrame(
        {
            "family_index": family_index[order],
            "record_num": families["record_num"].to_numpy()[family_index[order]],
            "territory_index": territory[order],
            "direction": np.where(is_back, "partner_to_ptp", "ptp_to_partner").astype(object)[order],
            "from_org_id": from_org[order],
            "to_org_id": to_org[order],
            "need_category": np.array(categories, dtype=object)[category_index[order]],
            "referral_date": referral_date[order],
            "outcome": outcome[order],
            "outcome_date": outcome_date[order],
        }
    )
    referrals["instance"] = referrals.groupby("family_index", sort=False).cumcount() + 1
    return referrals, _referrals_truth(ctx, referrals, ptp_count)


def _ptp_to_partner_counts(
    rng: np.random.Generator, families: pd.DataFrame, needs_per_family: np.ndarray
) -> np.ndarray:
    """PTP-to-partner referrals per family: 0, 1, 2 or ``3 + NB`` at the family's evenly spread rank."""
    n = len(families)
    latent = 0.5 * families["severity"].to_numpy() + 0.3 * (needs_per_family - needs_per_family.mean()) / max(
        needs_per_family.std(), 1e-9
    )
    u = ranks_uniform(rng, latent + rng.standard_normal(n))
    p0, p1, p2 = REFERRAL_COUNT_HEAD
    tail_p = REFERRAL_TAIL_NB["r"] / (REFERRAL_TAIL_NB["r"] + REFERRAL_TAIL_NB["mean"])
    tail_q = np.clip((u - (p0 + p1 + p2)) / (1 - p0 - p1 - p2), 0.0, 1 - 1e-9)
    return np.select(
        [u < p0, u < p0 + p1, u < p0 + p1 + p2],
        [0, 1, 2],
        default=3 + stats.nbinom.ppf(tail_q, REFERRAL_TAIL_NB["r"], tail_p).astype(np.int64),
    ).astype(np.int64)


def _referral_dates(rng: np.random.Generator, identified: np.ndarray, end: np.ndarray) -> np.ndarray:
    """A truncated exponential (mean 21 days) after the need's identification, before ``end``."""
    delay = truncated_exponential(rng, REFERRAL_DELAY_MEAN_DAYS, end - identified)
    return identified + np.floor(delay).astype(np.int64)


def _organisations(
    ctx: Context,
    rng: np.random.Generator,
    territory: np.ndarray,
    category_index: np.ndarray,
    is_back: np.ndarray,
    categories: list[str],
) -> tuple[np.ndarray, np.ndarray]:
    """Source and destination org_id of each referral.

    PTP to partner: from the host to a partner of the class drawn from the raked
    ``P(class | territory, category)``; partner to PTP: from a partner (weighted by class) to
    the host.
    """
    classes, shares, partners = _class_table(ctx)
    host = ctx.host_org_ids[territory]
    from_org = host.copy()
    to_org = np.empty(len(territory), dtype=object)

    forward = ~is_back
    conditional = _rake_destinations(
        ctx, territory[forward], category_index[forward], len(categories), partners, shares, classes, categories
    )
    klass = categorical_rows(rng, conditional[territory[forward], category_index[forward]])
    ordered = partners.loc[partners["class_index"] >= 0].sort_values(
        ["territory_index", "class_index", "org_id"], kind="stable"
    )
    segment = ordered["territory_index"].to_numpy() * len(classes) + ordered["class_index"].to_numpy()
    cumulative = within_segment_cumulative(segment, np.ones(len(ordered)))
    picked = segment_pick(
        segment, cumulative, territory[forward] * len(classes) + klass, rng.random(int(forward.sum()))
    )
    to_org[forward] = ordered["org_id"].to_numpy(dtype=object)[picked]

    back_partners, back_cumulative = partner_weights(ctx)
    picked_back = segment_pick(
        back_partners["territory_index"].to_numpy(), back_cumulative, territory[is_back], rng.random(int(is_back.sum()))
    )
    from_org[is_back] = back_partners["org_id"].to_numpy(dtype=object)[picked_back]
    to_org[is_back] = host[is_back]
    return from_org, to_org


def _referral_outcomes(
    rng: np.random.Generator, gap: np.ndarray, referral_date: np.ndarray, end: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Outcome (by whether the need met a service gap) and its day; pending after ``end``."""
    total = len(gap)
    outcomes_no_gap = np.array(list(REFERRAL_OUTCOMES["no_gap"]), dtype=object)
    outcomes_gap = np.array(list(REFERRAL_OUTCOMES["gap"]), dtype=object)
    outcome = np.where(
        gap,
        outcomes_gap[categorical(rng, list(REFERRAL_OUTCOMES["gap"].values()), total)],
        outcomes_no_gap[categorical(rng, list(REFERRAL_OUTCOMES["no_gap"].values()), total)],
    )
    outcome_date = referral_date + np.maximum(
        np.round(lognormal_median(rng, REFERRAL_OUTCOME_MEDIAN_DAYS, 0.7, total)), 1
    ).astype(np.int64)
    pending = (outcome == "en_attente") | (outcome_date > end)
    outcome[pending] = "en_attente"
    outcome_date[pending] = NO_DATE
    return outcome, outcome_date


def _referrals_truth(ctx: Context, referrals: pd.DataFrame, ptp_count: np.ndarray) -> dict[str, Any]:
    """The planted referral model and its complete-data values."""
    total = len(referrals)
    is_back = referrals["direction"].to_numpy(dtype=object) == "partner_to_ptp"
    p0, p1, p2 = REFERRAL_COUNT_HEAD
    organisations = ctx.organisations.set_index("org_id")
    forward_rows = referrals.loc[referrals["direction"] == "ptp_to_partner"]
    network = organisations.loc[forward_rows["to_org_id"], "network"].value_counts(normalize=True)
    mission = organisations.loc[forward_rows["to_org_id"], "mission"].value_counts(normalize=True)
    return {
        "ptp_to_partner_count_model": {
            "P(0)": p0,
            "P(1)": p1,
            "P(2)": p2,
            "tail": "3 + negative binomial at quantile (u - 0.5) / 0.5",
            "tail_negative_binomial": REFERRAL_TAIL_NB,
            "latent": "rank of 0.5 severity + 0.3 z(number of needs) + N(0, 1)",
        },
        "partner_to_ptp_model": "1 at first contact if recruited through a partner, plus Poisson(0.55); from a partner of the territory to its host",
        "destination_class_target_shares": {f"{k[0]}/{k[1]}": v for k, v in REFERRAL_CLASS_SHARES.items()},
        "category_class_affinity": {
            k: {f"{c[0]}/{c[1]}": m for c, m in v.items()} for k, v in _CATEGORY_CLASS_AFFINITY.items()
        },
        "outcome_probabilities": REFERRAL_OUTCOMES,
        "delay_after_need_mean_days": REFERRAL_DELAY_MEAN_DAYS,
        "outcome_median_days": REFERRAL_OUTCOME_MEDIAN_DAYS,
        "realised_complete": {
            "referrals": int(total),
            "ptp_to_partner": int((~is_back).sum()),
            "partner_to_ptp": int(is_back.sum()),
            "share_partner_to_ptp": round_or_none(float(is_back.mean())) if total else None,
            "share_families_3_or_more_ptp_to_partner": (
                round_or_none(float((ptp_count >= 3).mean())) if len(ptp_count) else None
            ),
            "ptp_to_partner_destination_network_shares": _shares(network),
            "ptp_to_partner_destination_mission_shares": _shares(mission),
        },
    }


def _shares(shares: pd.Series) -> dict[str, float | None]:
    """Shares by label, sorted by label, rounded for truth.json."""
    return {k: round_or_none(float(v)) for k, v in shares.sort_index().items()}
