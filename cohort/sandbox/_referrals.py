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
    lognormal_median,
    ranks_uniform,
    round_or_none,
    stream,
    truncated_exponential,
)
from proximite.cohort.sandbox._destinations import (
    CATEGORY_CLASS_AFFINITY,
    REFERRAL_CLASS_SHARES,
    referral_organisations,
)

# Referrals of direction ptp_to_partner per family: P(0), P(1), P(2); the other half has 3 or
# more (3 + negative binomial), so "half the families with three referrals or more".
REFERRAL_COUNT_HEAD = (0.10, 0.18, 0.22)
REFERRAL_TAIL_NB = {"r": 1.2, "mean": 6.8}
PARTNER_TO_PTP_POISSON = 0.55

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
    category)`` (see :func:`._destinations.referral_organisations`), then a partner of that class in the
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
    from_org, to_org = referral_organisations(ctx, rng, territory, category_index, is_back, categories)
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
            k: {f"{c[0]}/{c[1]}": m for c, m in v.items()} for k, v in CATEGORY_CLASS_AFFINITY.items()
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
