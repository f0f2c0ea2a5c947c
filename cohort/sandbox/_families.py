"""Families and children of the synthetic cohort, calibrated to the pilot's figures.

Every function returns complete data on day numbers; censoring at an ``as_of`` date is applied
afterwards by :mod:`._censor`, so the same seed gives the same families whatever ``as_of`` is.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from proximite.cohort.sandbox._context import Context
from proximite.cohort.sandbox._sampling import categorical, ranks_uniform, stream

# ---------------------------------------------------------------------------------------------
# Calibration targets (evaluation report of the pilot, 2024-01 to 2025-03)
# ---------------------------------------------------------------------------------------------
ISOLATED_AT_CONTACT_SHARE = 3242 / 5305  # 61.1 %: the pilot's 3,242 of 5,305
CHILD_COUNT_PMF = {1: 0.44, 2: 0.33, 3: 0.148, 4: 0.062, 5: 0.02}  # mean 1.892 (10,036 / 5,305)
UNBORN_SHARE = 0.07
AGED_FIVE_OR_LESS_SHARE = 0.52

# ---------------------------------------------------------------------------------------------
# Family characteristics
# ---------------------------------------------------------------------------------------------
_TERRITORY_SIZE_BY_ENVIRONMENT = {"urbain": 1.25, "mixte": 1.0, "rural": 0.75}
RECRUITMENT_CHANNEL_WEIGHTS = {
    "organisme_communautaire": 0.18,
    "activite_collective": 0.11,
    "bouche_a_oreille": 0.14,
    "reseau_public": 0.08,
    "parc": 0.08,
    "reseaux_sociaux": 0.05,
    "ecole_service_garde": 0.07,
    "aide_alimentaire_friperie": 0.10,
    "hlm": 0.06,
    "lieu_public": 0.05,
    "reference_partenaire": 0.06,
    "autre": 0.02,
}
_IMMIGRATION_WEIGHTS = {
    # urban core regions (Montréal, Laval) / elsewhere
    "urban_core": {
        "ne_canada": 0.45,
        "resident_permanent": 0.25,
        "refugie_demandeur_asile": 0.12,
        "statut_temporaire": 0.10,
        "sans_statut": 0.03,
        "ne_sait_pas": 0.05,
    },
    "other": {
        "ne_canada": 0.80,
        "resident_permanent": 0.08,
        "refugie_demandeur_asile": 0.04,
        "statut_temporaire": 0.04,
        "sans_statut": 0.01,
        "ne_sait_pas": 0.03,
    },
}
_LANGUAGE_WEIGHTS = {
    "born": {
        "francais": 0.92,
        "anglais": 0.06,
        "espagnol": 0.0,
        "arabe": 0.0,
        "langue_autochtone": 0.015,
        "autre": 0.005,
    },
    "immigrant": {
        "francais": 0.35,
        "anglais": 0.12,
        "espagnol": 0.20,
        "arabe": 0.20,
        "langue_autochtone": 0.0,
        "autre": 0.13,
    },
}
#: Children's first names (common in Québec).
_CHILD_NAMES = np.array(
    [
        "Léa",
        "Emma",
        "Olivia",
        "Alice",
        "Florence",
        "Charlotte",
        "Rosalie",
        "Béatrice",
        "Mila",
        "Zoé",
        "Livia",
        "Chloé",
        "Juliette",
        "Maëlle",
        "Inès",
        "Aya",
        "Sofia",
        "Layla",
        "Noah",
        "William",
        "Thomas",
        "Liam",
        "Jacob",
        "Léo",
        "Nathan",
        "Édouard",
        "Louis",
        "Arthur",
        "Adam",
        "Félix",
        "Elijah",
        "Mohamed",
        "Gabriel",
        "Raphaël",
        "Hugo",
        "Jules",
        "Antoine",
        "Éli",
        "Mateo",
        "Ayoub",
    ],
    dtype=object,
)


def _region_kind(region_codes: np.ndarray) -> np.ndarray:
    return np.where(np.isin(region_codes, ["06", "13"]), "urban_core", "other")


# =============================================================================================
# Families
# =============================================================================================
def make_families(ctx: Context, n_families: int) -> pd.DataFrame:
    """One row per family, complete data, ordered by record number (consent order).

    Notes
    -----
    Territories receive families in proportion to ``exp(0.35 Z_t)`` times 1.25 (urban), 1.0
    (mixed) or 0.75 (rural). First contacts are uniform over the recruitment window; T0 falls
    0–30 days later and consent between first contact and T0; record numbers follow consent
    (REDCap creates the record at inclusion). A latent severity ``s ~ N(0, 1)`` drives
    isolation, needs and referrals; the pilot's criterion "isolated at contact" is the top
    61.1 % of ``0.6 s + 0.8 e`` (exactly ``round(3242 / 5305 n)`` families, so 3,242 of 5,305).
    """
    rng = stream(ctx.seed, "families")
    n = int(n_families)
    environment = ctx.environment
    size = np.exp(0.35 * rng.standard_normal(ctx.n_territories)) * np.array(
        [_TERRITORY_SIZE_BY_ENVIRONMENT[e] for e in environment]
    )
    territory_index = rng.choice(ctx.n_territories, size=n, p=size / size.sum())
    window = ctx.recruitment_end - ctx.recruitment_start
    first_contact = ctx.recruitment_start + rng.integers(0, window + 1, size=n)
    t0_offset = rng.integers(0, 31, size=n)
    consent = first_contact + np.floor(rng.random(n) * (t0_offset + 1)).astype(np.int64)
    tiebreak = rng.random(n)
    severity = rng.standard_normal(n)
    isolation_latent = 0.6 * severity + 0.8 * rng.standard_normal(n)

    order = np.lexsort((tiebreak, consent))
    territory_index, first_contact, t0_offset, consent = (
        territory_index[order],
        first_contact[order],
        t0_offset[order],
        consent[order],
    )
    severity, isolation_latent = severity[order], isolation_latent[order]

    n_isolated = int(round(ISOLATED_AT_CONTACT_SHARE * n))
    ranks = np.empty(n, dtype=np.int64)
    ranks[np.argsort(isolation_latent, kind="stable")] = np.arange(n)
    isolated = ranks >= n - n_isolated

    region_codes = ctx.territories["region_code"].to_numpy(dtype=object)[territory_index]
    immigration, immigrant, language = _immigration_and_language(rng, region_codes)
    channels = np.array(list(RECRUITMENT_CHANNEL_WEIGHTS), dtype=object)
    channel = channels[categorical(rng, list(RECRUITMENT_CHANNEL_WEIGHTS.values()), n)]
    single_parent = rng.random(n) < 0.33 + 0.12 * isolated

    return pd.DataFrame(
        {
            "record_num": np.arange(1, n + 1, dtype=np.int64),
            "territory_index": territory_index.astype(np.int64),
            "territory_id": ctx.territories["territory_id"].to_numpy(dtype=object)[territory_index],
            "environment": environment[territory_index],
            "region_code": region_codes,
            "first_contact": first_contact.astype(np.int64),
            "t0_offset": t0_offset.astype(np.int64),
            "consent": consent.astype(np.int64),
            "severity": severity,
            "isolated_at_contact": isolated,
            "single_parent": single_parent,
            "immigration_status": immigration,
            "immigrant": immigrant,
            "language": language,
            "recruitment_channel": channel,
        }
    )


def _immigration_and_language(
    rng: np.random.Generator, region_codes: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Immigration status (more immigrants in Montréal and Laval), immigrant flag, main language."""
    n = len(region_codes)
    kinds = _region_kind(region_codes)
    statuses = list(_IMMIGRATION_WEIGHTS["other"])
    immigration = np.empty(n, dtype=object)
    for kind in ("urban_core", "other"):
        rows = kinds == kind
        immigration[rows] = np.array(statuses, dtype=object)[
            categorical(rng, list(_IMMIGRATION_WEIGHTS[kind].values()), int(rows.sum()))
        ]
    immigrant = ~np.isin(immigration, ["ne_canada", "ne_sait_pas"])
    languages = np.array(list(_LANGUAGE_WEIGHTS["born"]), dtype=object)
    # Both draws are made for every family (immigrant first), so the stream stays in step.
    language = np.where(
        immigrant,
        languages[categorical(rng, list(_LANGUAGE_WEIGHTS["immigrant"].values()), n)],
        languages[categorical(rng, list(_LANGUAGE_WEIGHTS["born"].values()), n)],
    )
    return immigration, immigrant, language


# =============================================================================================
# Children
# =============================================================================================
def make_children(ctx: Context, families: pd.DataFrame) -> pd.DataFrame:
    """One row per child, ordered by family then birth date (instance 1 = eldest).

    Notes
    -----
    Children per family follow ``CHILD_COUNT_PMF`` (mean 1.892), drawn from evenly spread
    uniforms so the realised mean is the pmf's. Exactly
    ``round(0.07 N_children)`` families expect a child (``enf_a_naitre``; expected 35–270 days
    after the first contact). Among born children exactly ``round(0.52 N_children)`` are aged
    five or less at the first contact, chosen by ``U + 0.7 [youngest born child]`` so that the
    youngest is usually the young one; the others are 6–17. Ages stay 35 days away from the
    6- and 18-year boundaries so the share is the same from a year-month birth date.
    """
    rng = stream(ctx.seed, "children")
    n = len(families)
    # Evenly spread uniforms: the realised shares of each family size are the pmf's (± 1/n).
    cumulative = np.cumsum(list(CHILD_COUNT_PMF.values()))
    spread = ranks_uniform(rng, rng.random(n))
    counts = np.array(list(CHILD_COUNT_PMF))[
        np.minimum(np.searchsorted(cumulative, spread, side="right"), len(cumulative) - 1)
    ]
    total = int(counts.sum())
    family_index = np.repeat(np.arange(n), counts)
    position = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
    youngest = position == np.repeat(counts - 1, counts)

    n_unborn = min(int(round(UNBORN_SHARE * total)), n)
    expecting = np.zeros(n, dtype=bool)
    expecting[rng.permutation(n)[:n_unborn]] = True
    unborn = youngest & expecting[family_index]
    youngest_born = (position == np.repeat(counts - 1 - expecting.astype(np.int64), counts)) & ~unborn

    born = ~unborn
    n_young = min(int(round(AGED_FIVE_OR_LESS_SHARE * total)), int(born.sum()))
    key = rng.random(total) + 0.7 * youngest_born
    key[unborn] = -np.inf
    young = np.zeros(total, dtype=bool)
    young[np.argsort(-key, kind="stable")[:n_young]] = True

    year = 365.25
    age_days = np.where(
        young,
        rng.random(total) * (6 * year - 70),
        6 * year + 35 + rng.random(total) * (12 * year - 70),
    )
    first_contact = families["first_contact"].to_numpy()[family_index]
    birth = first_contact - np.floor(age_days).astype(np.int64)
    birth[unborn] = first_contact[unborn] + rng.integers(35, 271, size=int(unborn.sum()))
    names = _CHILD_NAMES[rng.integers(0, len(_CHILD_NAMES), total)]

    order = np.lexsort((birth, family_index))
    frame = pd.DataFrame(
        {
            "family_index": family_index[order],
            "record_num": families["record_num"].to_numpy()[family_index[order]],
            "birth": birth[order],
            "unborn": unborn[order],
            "aged_five_or_less": young[order],
            "first_name": names[order],
        }
    )
    frame["instance"] = frame.groupby("family_index", sort=False).cumcount() + 1
    return frame

