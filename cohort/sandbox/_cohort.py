"""The cohort side of the synthetic cohort: families, children, wave assessments, exits, needs
and referrals, with the planted effects of DESIGN ("Synthetic cohort generator").

Every function returns complete data (every due wave, every outcome as it would happen) on day
numbers; censoring at an ``as_of`` date is applied afterwards by :mod:`._censor`, so the same
seed gives the same families whatever ``as_of`` is.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pandas as pd
from scipy import special, stats

from proximite.cohort.sandbox._context import Context
from proximite.cohort.sandbox._sampling import (
    NO_DATE,
    add_months,
    categorical,
    categorical_rows,
    concat_text,
    lognormal_median,
    ranks_uniform,
    segment_pick,
    stream,
    top_k_mask,
    truncated_exponential,
    within_segment_cumulative,
    zero_pad,
)
from proximite.cohort.sandbox.geography import PARTNER_CLASSES, ascii_slug, make_territories

# ---------------------------------------------------------------------------------------------
# Calibration targets (evaluation report of the pilot, 2024-01 to 2025-03)
# ---------------------------------------------------------------------------------------------
ISOLATED_AT_CONTACT_SHARE = 3242 / 5305  # 61.1 %: the pilot's 3,242 of 5,305
CHILD_COUNT_PMF = {1: 0.44, 2: 0.33, 3: 0.148, 4: 0.062, 5: 0.02}  # mean 1.892 (10,036 / 5,305)
UNBORN_SHARE = 0.07
AGED_FIVE_OR_LESS_SHARE = 0.52
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

# ---------------------------------------------------------------------------------------------
# The isolation grid
# ---------------------------------------------------------------------------------------------
#: Latent model per dimension: intercept, loading on severity, shift when isolated at contact,
#: multiplier of the wave effect. Scores are the latent cut at ``ISOLATION_CUTS``.
ISOLATION_DIMENSIONS: dict[str, dict[str, float]] = {
    "non_recours": {"intercept": -0.65, "severity": 0.45, "isolated_at_contact": 1.50, "wave_effect": 1.5},
    "transport": {"intercept": -0.20, "severity": 0.45, "isolated_at_contact": 0.20, "wave_effect": 0.8},
    "contraintes_economiques": {"intercept": 0.35, "severity": 0.55, "isolated_at_contact": 0.20, "wave_effect": 0.6},
    "reseau_soutien": {"intercept": 0.10, "severity": 0.55, "isolated_at_contact": 0.35, "wave_effect": 1.1},
    "barrieres_linguistiques_culturelles": {
        "intercept": -0.60,
        "severity": 0.30,
        "isolated_at_contact": 0.10,
        "wave_effect": 0.9,
    },
    "mefiance_institutions": {"intercept": -0.35, "severity": 0.45, "isolated_at_contact": 0.30, "wave_effect": 1.0},
}
ISOLATION_CUTS = (-0.75, 0.05, 0.85)
ISOLATION_NOISE = {"family_dimension_sd": 0.35, "occasion_sd": 0.55, "territory_sd": 0.25}
#: Covariate shifts of the latent: rural transport, language barriers, single parents.
ISOLATION_COVARIATES = {
    "transport_by_environment": {"urbain": -0.20, "mixte": 0.25, "rural": 0.60},
    "barrieres_non_francophone": 1.20,
    "barrieres_immigrant_francophone": 0.40,
    "reseau_soutien_single_parent": 0.30,
    "contraintes_single_parent": 0.20,
}
#: Target mean change of the isolation index from T0 (points): -20 (1 - exp(-months / 10)),
#: i.e. about -9, -14 and -18 at T6, T12 and T24.
WAVE_EFFECT_POINTS = {"asymptote": -20.0, "time_constant_months": 10.0}
#: Heterogeneity of the wave effect: multiplier (1 + v_territory)(1 + b_family), clipped at 0.
WAVE_EFFECT_HETEROGENEITY = {"territory_sd": 0.30, "family_sd": 0.40}
#: How the latent wave shifts are solved: on the cohort's own families (``"sample"``, the
#: default: every cohort's expected change is the planted one exactly) or once on a fixed
#: reference population drawn by the same process (``"reference"``: the planted change is a
#: population parameter and each cohort's expected change varies around it).
WAVE_SHIFT_CALIBRATIONS = ("sample", "reference")
#: The reference population of ``calibration="reference"``: ``blocks`` cohorts of
#: ``families_per_block`` families, each with the cohort's number of territories drawn afresh
#: (:func:`make_territories`), cohort ``b`` from seed ``seed + b`` (independent of any cohort's
#: seed). Many blocks, because the territories' wave-effect multipliers (SD 0.30) are what varies
#: most between cohorts: 2,000 blocks of 14 territories leave a Monte Carlo error of about 0.04
#: point on the T24 change.
REFERENCE_POPULATION = {"seed": 2**40, "blocks": 2000, "families_per_block": 100}
#: Probability that an isolation item is left unanswered at a wave.
ITEM_MISSING = {
    "transport": 0.03,
    "contraintes_economiques": 0.03,
    "reseau_soutien": 0.03,
    "barrieres_linguistiques_culturelles": 0.04,
    "mefiance_institutions": 0.06,
}
LIKERT_ITEM_MISSING = 0.02
RESOURCE_WEIGHTS = {
    "ocf": 0.18,
    "cpsc": 0.05,
    "aide_alimentaire": 0.16,
    "halte_garderie": 0.10,
    "clsc": 0.14,
    "bibliotheque_loisirs": 0.08,
    "francisation": 0.05,
    "friperie": 0.09,
    "groupe_parents": 0.10,
    "autre_ressource": 0.05,
}

# ---------------------------------------------------------------------------------------------
# Attrition and exits
# ---------------------------------------------------------------------------------------------
#: logit P(drop out before wave k | present at the previous wave) = alpha_k + beta z, with
#: z = (T0 isolation index - 50) / 10 (complete data).
ATTRITION = {
    "base_dropout": {6: 0.09, 12: 0.08, 24: 0.12},
    "base_dropout_per_month_other": 0.018,
    "beta_per_10_points": 0.30,
}
INTERMITTENT_MISS = 0.04
COMPLETER_EXIT_PROBABILITY = 0.35
COMPLETER_EXIT_REASONS = {
    "objectifs_atteints": 0.70,
    "services_autre_organisme": 0.15,
    "demenagement": 0.10,
    "autre": 0.05,
}

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

# Fake identities: first names and surnames common in Québec, and streets.
_FIRST_NAMES = np.array(
    [
        "Marie",
        "Julie",
        "Sophie",
        "Isabelle",
        "Mélanie",
        "Stéphanie",
        "Karine",
        "Émilie",
        "Valérie",
        "Annie",
        "Catherine",
        "Geneviève",
        "Audrey",
        "Jessica",
        "Amélie",
        "Vanessa",
        "Fatima",
        "Amina",
        "Maria",
        "Ana",
        "Sarah",
        "Nadia",
        "Samira",
        "Yasmine",
        "Claudia",
        "Nathalie",
        "Kim",
        "Josée",
        "Caroline",
        "Mireille",
        "Mathieu",
        "Jonathan",
        "Patrick",
        "Samuel",
        "Mohamed",
        "Carlos",
        "David",
        "Kevin",
        "Maxime",
        "Alexandre",
    ],
    dtype=object,
)
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
_SURNAMES = np.array(
    [
        "Tremblay",
        "Gagnon",
        "Roy",
        "Côté",
        "Bouchard",
        "Gauthier",
        "Morin",
        "Lavoie",
        "Fortin",
        "Gagné",
        "Ouellet",
        "Pelletier",
        "Bélanger",
        "Lévesque",
        "Bergeron",
        "Leblanc",
        "Paquette",
        "Girard",
        "Simard",
        "Boucher",
        "Caron",
        "Beaulieu",
        "Cloutier",
        "Dubé",
        "Poirier",
        "Fournier",
        "Lapointe",
        "Leclerc",
        "Lefebvre",
        "Poulin",
        "Nguyen",
        "Diallo",
        "Traoré",
        "Rodriguez",
        "Haddad",
        "Benali",
        "Joseph",
        "Pierre",
        "Santos",
        "Kaur",
    ],
    dtype=object,
)
_STREETS = np.array(
    [
        "rue des Érables",
        "rue Principale",
        "avenue du Parc",
        "rue Saint-Jean",
        "boulevard des Laurentides",
        "rue de l'Église",
        "rue des Pins",
        "avenue des Cèdres",
        "rue Notre-Dame",
        "chemin du Lac",
        "rue Sainte-Catherine",
        "rue des Bouleaux",
        "avenue Laurier",
        "rue du Moulin",
        "rang Saint-Joseph",
    ],
    dtype=object,
)
_REGION_CODES = [f"{code:02d}" for code in range(1, 18)]
# Telephone area code and first letter of the postal code by region (418/G in the east,
# 514/H in Montréal, 450/J around it, 819 in the west and north).
_AREA_BY_REGION = np.array(
    [
        "418",
        "418",
        "418",
        "819",
        "819",
        "514",
        "819",
        "819",
        "418",
        "819",
        "418",
        "418",
        "450",
        "450",
        "450",
        "450",
        "819",
    ],
    dtype=object,
)
_POSTAL_BY_REGION = np.array(
    ["G", "G", "G", "G", "J", "H", "J", "J", "G", "J", "G", "G", "H", "J", "J", "J", "J"], dtype=object
)
_POSTAL_LETTERS = np.array(list("ABCEGHJKLMNPRSTVWXYZ"), dtype=object)


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
    language = np.where(
        immigrant,
        languages[categorical(rng, list(_LANGUAGE_WEIGHTS["immigrant"].values()), n)],
        languages[categorical(rng, list(_LANGUAGE_WEIGHTS["born"].values()), n)],
    )
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


def add_identities(ctx: Context, families: pd.DataFrame, children: pd.DataFrame) -> pd.DataFrame:
    """Fake identifier fields (names, phone, e-mail, address, postal code, parent's birth date).

    The values are drawn from short lists and reserved ranges (555-01xx phone numbers, the
    ``.example`` mail domain), so they can never be a real person's.
    """
    rng = stream(ctx.seed, "identities")
    n = len(families)
    first_index = rng.integers(0, len(_FIRST_NAMES), n)
    last_index = rng.integers(0, len(_SURNAMES), n)
    first, last = _FIRST_NAMES[first_index], _SURNAMES[last_index]
    region = pd.Categorical(families["region_code"].to_numpy(dtype=object), categories=_REGION_CODES)
    area = _AREA_BY_REGION[region.codes]
    phone = concat_text("(", area, ") 555-01", zero_pad(rng.integers(0, 100, n), 2))
    first_slug = np.array([ascii_slug(name) for name in _FIRST_NAMES], dtype=object)[first_index]
    last_slug = np.array([ascii_slug(name) for name in _SURNAMES], dtype=object)[last_index]
    email = concat_text(first_slug, ".", last_slug, rng.integers(1, 100, n).astype(str), "@courriel.example")
    email[rng.random(n) >= 0.7] = ""
    place = ctx.territories["name"].to_numpy(dtype=object)[families["territory_index"].to_numpy()]
    street = _STREETS[rng.integers(0, len(_STREETS), n)]
    address = concat_text(rng.integers(10, 9999, n).astype(str), ", ", street, ", ", place)
    letters = _POSTAL_LETTERS[rng.integers(0, len(_POSTAL_LETTERS), (n, 2))]
    digits = rng.integers(0, 10, (n, 3)).astype(str)
    postal = concat_text(
        _POSTAL_BY_REGION[region.codes], digits[:, 0], letters[:, 0], " ", digits[:, 1], letters[:, 1], digits[:, 2]
    )
    # The parent is at least 17 years older than the eldest child, and 18 to 50 years old.
    eldest_age = np.zeros(n)
    ages = (
        families["first_contact"].to_numpy()[children["family_index"].to_numpy()] - children["birth"].to_numpy()
    ) / 365.25
    np.maximum.at(eldest_age, children["family_index"].to_numpy(), ages)
    parent_age = np.clip(np.maximum(18 + 14 * rng.random(n), eldest_age + 17 + 8 * rng.random(n)), 18, 55)
    parent_birth = families["first_contact"].to_numpy() - np.round(parent_age * 365.25).astype(np.int64)
    return families.assign(
        parent_first_name=first,
        parent_last_name=last,
        phone=phone,
        email=email,
        address=address,
        postal_code=postal,
        parent_birth=parent_birth,
    )


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


# =============================================================================================
# Wave assessments
# =============================================================================================
def _wave_fraction(months: np.ndarray | float) -> np.ndarray:
    return 1.0 - np.exp(-np.asarray(months, dtype=float) / WAVE_EFFECT_POINTS["time_constant_months"])


def _isolation_base(
    ctx: Context, families: pd.DataFrame, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Latent mean of each family on each dimension (before the wave effect and occasion noise)."""
    n = len(families)
    dimensions = list(ctx.isolation["dimensions"])
    territory_effect = ISOLATION_NOISE["territory_sd"] * rng.standard_normal(ctx.n_territories)
    territory_index = families["territory_index"].to_numpy()
    severity = families["severity"].to_numpy()
    isolated = families["isolated_at_contact"].to_numpy().astype(float)
    environment = families["environment"].to_numpy(dtype=object)
    non_francophone = (families["language"].to_numpy(dtype=object) != "francais").astype(float)
    immigrant_francophone = (families["immigrant"].to_numpy() & (non_francophone == 0)).astype(float)
    single = families["single_parent"].to_numpy().astype(float)
    base = np.empty((n, len(dimensions)))
    for j, dimension in enumerate(dimensions):
        params = ISOLATION_DIMENSIONS[dimension]
        column = params["intercept"] + params["severity"] * severity + params["isolated_at_contact"] * isolated
        if dimension == "transport":
            column = column + pd.Series(environment).map(ISOLATION_COVARIATES["transport_by_environment"]).to_numpy(
                dtype=float
            )
        elif dimension == "barrieres_linguistiques_culturelles":
            column = column + ISOLATION_COVARIATES["barrieres_non_francophone"] * non_francophone
            column = column + ISOLATION_COVARIATES["barrieres_immigrant_francophone"] * immigrant_francophone
        elif dimension == "reseau_soutien":
            column = column + ISOLATION_COVARIATES["reseau_soutien_single_parent"] * single
        elif dimension == "contraintes_economiques":
            column = column + ISOLATION_COVARIATES["contraintes_single_parent"] * single
        base[:, j] = column
    base += ISOLATION_NOISE["family_dimension_sd"] * rng.standard_normal((n, len(dimensions)))
    base += territory_effect[territory_index][:, None]
    territory_modifier = np.maximum(
        1 + WAVE_EFFECT_HETEROGENEITY["territory_sd"] * rng.standard_normal(ctx.n_territories), 0.0
    )
    family_modifier = np.maximum(1 + WAVE_EFFECT_HETEROGENEITY["family_sd"] * rng.standard_normal(n), 0.0)
    modifier = territory_modifier[territory_index] * family_modifier
    effects = {
        "territory_effect": territory_effect,
        "territory_wave_effect_multiplier": territory_modifier,
    }
    return base, modifier, effects


def _expected_index(base: np.ndarray, shift: float, modifier: np.ndarray, weights: np.ndarray) -> float:
    """Expected mean isolation index given a latent shift (occasion noise integrated out)."""
    sd = ISOLATION_NOISE["occasion_sd"]
    location = base + shift * modifier[:, None] * weights[None, :]
    expected_score = sum(special.ndtr((location - cut) / sd) for cut in ISOLATION_CUTS)
    return float(100.0 * expected_score.mean() / 3.0)


def _calibrate_wave_shifts(base: np.ndarray, modifier: np.ndarray, waves: tuple[int, ...]) -> dict[int, float]:
    """Latent shift of each wave that gives the target mean index change (bisection).

    Notes
    -----
    With ``y = m + delta w_d h + e``, ``e ~ N(0, s^2)``, the expected index is
    ``100 / (3 D) sum_d sum_k Phi((m + delta w_d h - c_k) / s)``, monotone in ``delta``; the
    shift is solved so that its mean over the families equals the T0 mean plus
    ``-20 (1 - exp(-months / 10))``. Calibrated on the generated families themselves (at most
    10,000 of them), so the realised change is on target at any scale.
    """
    sample = slice(0, min(len(base), 10_000))
    base_sample, modifier_sample = base[sample], modifier[sample]
    weights = np.array([ISOLATION_DIMENSIONS[d]["wave_effect"] for d in ISOLATION_DIMENSIONS])
    baseline = _expected_index(base_sample, 0.0, modifier_sample, weights)
    shifts: dict[int, float] = {}
    for months in waves:
        if months == 0 or len(base_sample) == 0:
            shifts[months] = 0.0
            continue
        target = baseline + WAVE_EFFECT_POINTS["asymptote"] * float(_wave_fraction(months))
        low, high = -6.0, 0.0
        for _ in range(32):
            middle = (low + high) / 2
            if _expected_index(base_sample, middle, modifier_sample, weights) > target:
                high = middle
            else:
                low = middle
        shifts[months] = (low + high) / 2
    return shifts


_REFERENCE_CACHE: dict[tuple[Any, ...], dict[str, Any]] = {}


def _reference_calibration(ctx: Context) -> dict[str, Any]:
    """Wave shifts solved once on the reference population (:data:`REFERENCE_POPULATION`).

    Notes
    -----
    The reference is ``blocks`` cohorts drawn by the generator's own process, each with
    ``ctx.n_territories`` territories (:func:`make_territories`), ``families_per_block``
    families (:func:`make_families`: severity, the isolated-at-contact rule, covariates) and
    the latent isolation model (:func:`_isolation_base`: territory random effects, territory
    and family wave-effect multipliers), block ``b`` from the seed ``seed + b``. The shifts are
    solved on all of its families together, so the planted change is the expected change of
    the population of cohorts of this design, not of one cohort. Cached per process by the
    number of territories, the waves and the isolation dimensions.

    Returns
    -------
    dict
        ``shifts`` (month -> latent shift), ``families`` and ``territories`` (drawn in all).
    """
    dimensions = tuple(ctx.isolation["dimensions"])
    key = (ctx.n_territories, tuple(ctx.waves), dimensions, ctx.recruitment_start, ctx.recruitment_end)
    if key not in _REFERENCE_CACHE:
        seed = int(REFERENCE_POPULATION["seed"])
        bases, modifiers = [], []
        for block in range(int(REFERENCE_POPULATION["blocks"])):
            block_seed = seed + block
            block_ctx = dataclasses.replace(
                ctx, seed=block_seed, territories=make_territories(ctx.n_territories, seed=block_seed)
            )
            block_families = make_families(block_ctx, int(REFERENCE_POPULATION["families_per_block"]))
            base, modifier, _ = _isolation_base(block_ctx, block_families, stream(block_seed, "assessments"))
            bases.append(base)
            modifiers.append(modifier)
        base, modifier = np.concatenate(bases), np.concatenate(modifiers)
        _REFERENCE_CACHE[key] = {
            "shifts": _solve_wave_shifts(base, modifier, tuple(ctx.waves)),
            "families": len(base),
            "territories": int(REFERENCE_POPULATION["blocks"]) * ctx.n_territories,
        }
    return _REFERENCE_CACHE[key]


def _solve_wave_shifts(base: np.ndarray, modifier: np.ndarray, waves: tuple[int, ...]) -> dict[int, float]:
    """The shifts of :func:`_calibrate_wave_shifts` on all of ``base``, by Brent's method (a
    dozen evaluations of the expected index per wave instead of 32: the reference is large)."""
    from scipy import optimize

    weights = np.array([ISOLATION_DIMENSIONS[d]["wave_effect"] for d in ISOLATION_DIMENSIONS])
    baseline = _expected_index(base, 0.0, modifier, weights)
    shifts: dict[int, float] = {}
    for months in waves:
        if months == 0 or len(base) == 0:
            shifts[months] = 0.0
            continue
        target = baseline + WAVE_EFFECT_POINTS["asymptote"] * float(_wave_fraction(months))
        shifts[months] = float(
            optimize.brentq(
                lambda shift, goal=target: _expected_index(base, shift, modifier, weights) - goal, -6.0, 0.0, xtol=1e-10
            )
        )
    return shifts


def _expected_change(base: np.ndarray, modifier: np.ndarray, shifts: dict[int, float]) -> dict[int, float]:
    """Expected mean index change from T0 of these families under ``shifts`` (noise integrated out)."""
    weights = np.array([ISOLATION_DIMENSIONS[d]["wave_effect"] for d in ISOLATION_DIMENSIONS])
    baseline = _expected_index(base, 0.0, modifier, weights)
    return {months: _expected_index(base, shift, modifier, weights) - baseline for months, shift in shifts.items()}


def _resource_count_bands(isolation: dict[str, Any], n_types: int) -> dict[int, tuple[int, int]]:
    """Range of resources used (inclusive) that gives each non_recours score, from the config bands."""
    bands = [(int(upper), int(score)) for upper, score in isolation["non_recours_bands"]]
    ranges: dict[int, tuple[int, int]] = {}
    lower = 0
    for upper, score in bands:
        ranges[score] = (lower, upper)
        lower = upper + 1
    ranges[int(isolation["non_recours_above"])] = (lower, n_types)
    return ranges


def make_assessments(
    ctx: Context, families: pd.DataFrame, *, calibration: str = "sample"
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Complete-data assessments: one row per family and wave, before attrition.

    ``calibration`` (:data:`WAVE_SHIFT_CALIBRATIONS`): the latent wave shifts are solved on
    these families (``"sample"``) or on the reference population (``"reference"``, see
    :func:`_reference_calibration`); the random draws are the same either way.

    Returns
    -------
    assessments : DataFrame
        ``family_index``, ``record_num``, ``wave``, ``wave_position``, ``due`` (day), the six
        complete scores (``score_<dimension>``), the answered flags (``answered_<dimension>``),
        ``resources_used`` and one ``resource_<code>`` flag per resource type, the Likert items
        (``pa_1``.. ``stress_4``, ``satisf_*``; 0 when unanswered or not asked) and
        ``complete_index`` (index from the complete scores).
    truth : dict
        Planted parameters and the complete-data means per wave.

    Notes
    -----
    Latent ``y_{f,d,w} = a_d + b_d s_f + g_d I_f + x_{f,d} + u_t + e_{f,d} + delta_w w_d h_f + eps``
    with severity ``s``, isolated-at-contact ``I``, covariates ``x`` (rural transport, language,
    single parent), territory ``u_t ~ N(0, 0.25^2)``, family-dimension ``e ~ N(0, 0.35^2)``,
    occasion ``eps ~ N(0, 0.55^2)``, effect heterogeneity ``h_f = (1 + v_t)(1 + b_f)`` clipped at
    0. Score = number of cuts (-0.75, 0.05, 0.85) below ``y``. ``non_recours`` is written as the
    resources ticked in ``ressources_3m``: score 3 -> none (``aucune``), 2 -> 1, 1 -> 2–3,
    0 -> 4 or more, which the DESIGN bands turn back into the same score.
    Empowerment items: ``round(3.1 - 0.45 s + 0.3 a_f + 0.55 F(m) h_f + N(0, 0.75^2))``; stress
    items ``round(3.3 + 0.4 s + 0.3 c_f - 0.4 F(m) h_f + N(0, 0.75^2))``; satisfaction (after T0)
    ``round(4.2 + 0.3 F(m) + 0.3 q_f + N(0, 0.65^2))``, all clipped to 1–5, with
    ``F(m) = 1 - exp(-m / 10)``.
    """
    rng = stream(ctx.seed, "assessments")
    n = len(families)
    waves = ctx.waves
    dimensions = list(ctx.isolation["dimensions"])
    base, modifier, effects = _isolation_base(ctx, families, rng)
    if calibration == "sample":
        shifts = _calibrate_wave_shifts(base, modifier, waves)
        calibration_truth = None
    elif calibration == "reference":
        reference = _reference_calibration(ctx)
        shifts = dict(reference["shifts"])
        calibration_truth = {
            "method": "reference",
            "note": (
                "latent wave shifts solved once on a fixed reference population drawn by the same process; "
                "target_mean_index_change.by_wave is its (population) expected change, and this cohort's "
                "expected change varies around it"
            ),
            "reference_population": {
                **REFERENCE_POPULATION,
                "territories_per_block": ctx.n_territories,
                "families": reference["families"],
                "territories": reference["territories"],
            },
            "population_target_mean_index_change_by_wave": {
                str(m): _round(WAVE_EFFECT_POINTS["asymptote"] * float(_wave_fraction(m))) for m in waves
            },
            "cohort_expected_mean_index_change_by_wave": {
                str(m): _round(v) for m, v in _expected_change(base, modifier, shifts).items()
            },
        }
    else:
        raise ValueError(f"calibration must be one of {', '.join(WAVE_SHIFT_CALIBRATIONS)} (got {calibration!r})")
    effect_weights = np.array([ISOLATION_DIMENSIONS[d]["wave_effect"] for d in dimensions])

    t0 = families["first_contact"].to_numpy() + families["t0_offset"].to_numpy()
    frames = []
    severity = families["severity"].to_numpy()
    empowerment_trait = rng.standard_normal(n)
    stress_trait = rng.standard_normal(n)
    satisfaction_trait = rng.standard_normal(n)
    resource_codes = [code for code in ctx.codebook.codes("resource_type") if code != "aucune"]
    resource_log_weights = np.log([RESOURCE_WEIGHTS[code] for code in resource_codes])
    francisation = resource_codes.index("francisation")
    bands = _resource_count_bands(ctx.isolation, len(resource_codes))
    immigrant = families["immigrant"].to_numpy()
    for position, months in enumerate(waves):
        if months == 0:
            due = t0.copy()
        else:
            jitter = np.clip(np.round(12 * rng.standard_normal(n)), -45, 45).astype(np.int64)
            due = add_months(t0, months) + jitter
        latent = base + shifts[months] * modifier[:, None] * effect_weights[None, :]
        latent = latent + ISOLATION_NOISE["occasion_sd"] * rng.standard_normal((n, len(dimensions)))
        scores = sum((latent > cut).astype(np.int64) for cut in ISOLATION_CUTS)
        answered = np.ones((n, len(dimensions)), dtype=bool)
        for j, dimension in enumerate(dimensions):
            if dimension in ITEM_MISSING:
                answered[:, j] = rng.random(n) >= ITEM_MISSING[dimension]

        nr = dimensions.index("non_recours")
        resources = np.zeros(n, dtype=np.int64)
        for score, (low, high) in bands.items():
            rows = scores[:, nr] == score
            if high == low:
                resources[rows] = low
            elif score == int(ctx.isolation["non_recours_above"]):
                # "4 or more": mostly 4 to 6.
                resources[rows] = np.minimum(low + rng.binomial(high - low, 0.2, int(rows.sum())), high)
            else:
                resources[rows] = rng.integers(low, high + 1, int(rows.sum()))
        log_weights = np.repeat(resource_log_weights[None, :], n, axis=0)
        log_weights[immigrant, francisation] += np.log(4.0)
        used = top_k_mask(rng, log_weights, resources)

        fraction = float(_wave_fraction(months))
        frame = {
            "family_index": np.arange(n),
            "record_num": families["record_num"].to_numpy(),
            "wave": np.full(n, months, dtype=np.int64),
            "wave_position": np.full(n, position, dtype=np.int64),
            "due": due.astype(np.int64),
            "resources_used": resources,
        }
        for j, dimension in enumerate(dimensions):
            frame[f"score_{dimension}"] = scores[:, j]
            frame[f"answered_{dimension}"] = answered[:, j]
        for k, code in enumerate(resource_codes):
            frame[f"resource_{code}"] = used[:, k]
        frame["resource_aucune"] = resources == 0
        for item in range(1, 5):
            value = (
                3.1
                - 0.45 * severity
                + 0.3 * empowerment_trait
                + 0.55 * fraction * modifier
                + 0.75 * rng.standard_normal(n)
            )
            frame[f"pa_{item}"] = _likert(value, rng)
        for item in range(1, 5):
            value = (
                3.3 + 0.4 * severity + 0.3 * stress_trait - 0.4 * fraction * modifier + 0.75 * rng.standard_normal(n)
            )
            frame[f"stress_{item}"] = _likert(value, rng)
        for item in ("satisf_relation", "satisf_aide", "satisf_recommande"):
            value = 4.2 + 0.3 * fraction + 0.3 * satisfaction_trait + 0.65 * rng.standard_normal(n)
            frame[item] = _likert(value, rng) if months > 0 else np.zeros(n, dtype=np.int64)
        frames.append(pd.DataFrame(frame))

    assessments = pd.concat(frames, ignore_index=True)
    assessments = assessments.sort_values(["family_index", "wave_position"], kind="stable").reset_index(drop=True)
    score_columns = [f"score_{d}" for d in dimensions]
    weights = np.array([float(ctx.isolation["weights"][d]) for d in dimensions])
    max_score = float(ctx.isolation["max_score"])
    assessments["complete_index"] = (
        100.0 * (assessments[score_columns].to_numpy() * weights).sum(axis=1) / (weights.sum() * max_score)
    )

    truth = _isolation_truth(ctx, families, assessments, shifts, effects)
    if calibration_truth is not None:
        # Only with "reference": the default writes the same truth.json as before the option.
        truth["wave_shift_calibration"] = calibration_truth
    return assessments, truth


def _likert(value: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Round to a 1–5 Likert answer; about 2 % left unanswered (0)."""
    answer = np.clip(np.round(value), 1, 5).astype(np.int64)
    answer[rng.random(len(value)) < LIKERT_ITEM_MISSING] = 0
    return answer


def _isolation_truth(
    ctx: Context, families: pd.DataFrame, assessments: pd.DataFrame, shifts: dict[int, float], effects: dict[str, Any]
) -> dict[str, Any]:
    threshold = float(ctx.isolation["isolated_threshold"])
    by_wave = assessments.groupby("wave")["complete_index"].mean()
    t0 = assessments.loc[assessments["wave"] == 0].set_index("family_index")["complete_index"]
    change = {}
    for months in ctx.waves:
        later = assessments.loc[assessments["wave"] == months].set_index("family_index")["complete_index"]
        change[str(months)] = _round(float((later - t0).mean()))
    isolated_contact = families["isolated_at_contact"].to_numpy()
    by_group = {}
    for label, mask in (("isolated_at_contact", isolated_contact), ("not_isolated_at_contact", ~isolated_contact)):
        rows = assessments.loc[mask[assessments["family_index"].to_numpy()]]
        by_group[label] = {str(k): _round(v) for k, v in rows.groupby("wave")["complete_index"].mean().items()}
    by_environment = {}
    for environment in ("urbain", "mixte", "rural"):
        mask = families["environment"].to_numpy(dtype=object) == environment
        rows = assessments.loc[mask[assessments["family_index"].to_numpy()]]
        if len(rows):
            by_environment[environment] = {
                str(k): _round(v) for k, v in rows.groupby("wave")["complete_index"].mean().items()
            }
    share_isolated = (
        assessments.assign(isolated=assessments["complete_index"] >= threshold).groupby("wave")["isolated"].mean()
    )
    t0_rows = assessments.loc[assessments["wave"] == 0]
    iso_t0 = t0_rows.loc[isolated_contact[t0_rows["family_index"].to_numpy()], "resources_used"]
    return {
        "model": (
            "y[f,d,w] = a_d + b_d*severity_f + g_d*isolated_at_contact_f + covariates + u_t + e_fd "
            "+ shift_w * wave_weight_d * h_f + eps; score = number of cut points below y; "
            "h_f = max(1 + v_t, 0) * max(1 + b_f, 0)"
        ),
        "dimensions": ISOLATION_DIMENSIONS,
        "cut_points": list(ISOLATION_CUTS),
        "noise": ISOLATION_NOISE,
        "covariates": ISOLATION_COVARIATES,
        "target_mean_index_change": {
            "formula": "asymptote * (1 - exp(-months / time_constant_months))",
            **WAVE_EFFECT_POINTS,
            "by_wave": {str(m): _round(WAVE_EFFECT_POINTS["asymptote"] * float(_wave_fraction(m))) for m in ctx.waves},
        },
        "wave_effect_heterogeneity": WAVE_EFFECT_HETEROGENEITY,
        "latent_wave_shift": {str(m): _round(v) for m, v in shifts.items()},
        "territory_effect_sd_realised": _round(float(np.std(effects["territory_effect"]))),
        "territory_effects": {
            str(territory_id): {
                "isolation_latent_shift": _round(float(level)),
                "wave_effect_multiplier": _round(float(multiplier)),
            }
            for territory_id, level, multiplier in zip(
                ctx.territories["territory_id"],
                effects["territory_effect"],
                effects["territory_wave_effect_multiplier"],
            )
        },
        "item_missing_probability": ITEM_MISSING,
        "likert_item_missing_probability": LIKERT_ITEM_MISSING,
        "complete_data": {
            "mean_index_by_wave": {str(k): _round(v) for k, v in by_wave.items()},
            "mean_change_from_t0_by_wave": change,
            "share_isolated_by_wave": {str(k): _round(v) for k, v in share_isolated.items()},
            "mean_index_by_wave_and_isolated_at_contact": by_group,
            "mean_index_by_wave_and_environment": by_environment,
            "t0_share_of_isolated_at_contact_using_0_or_1_resource": (
                _round(float((iso_t0 <= 1).mean())) if len(iso_t0) else None
            ),
        },
        "index_definition": {
            "formula": "100 * weighted mean of answered dimension scores / max_score, if at least min_answered answered",
            "weights": ctx.isolation["weights"],
            "max_score": ctx.isolation["max_score"],
            "min_answered": ctx.isolation["min_answered"],
            "isolated_threshold": ctx.isolation["isolated_threshold"],
        },
    }


def apply_attrition(
    ctx: Context, families: pd.DataFrame, assessments: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """Decide who answers each wave and who leaves the accompaniment (sortie).

    Returns
    -------
    assessments : DataFrame
        With ``responded`` (bool) added.
    families : DataFrame
        With ``exit_date`` (day or NO_DATE), ``exit_reason`` (code or ""), ``dropout_wave``
        (first wave missed for good, -1 if none) and ``accompaniment_end`` (day).
    truth : dict

    Notes
    -----
    Monotone dropout: ``logit P(drop before wave k | present at wave k-1) = alpha_k + beta z``
    with ``z = (complete T0 index - 50) / 10``, ``alpha_k = logit(base_k)``; the more isolated at
    T0, the likelier to drop. Families still present miss a wave at random with probability
    0.04 (intermittent). A family that drops out leaves the accompaniment with ``perte_contact``
    between its last wave and the wave it misses. 35 % of the others leave with another reason
    (goals reached, another organisation, moved, other) after T0 + 120 days and keep answering
    the research waves. The accompaniment ends at the exit, else at the last due wave.
    """
    rng = stream(ctx.seed, "attrition")
    n = len(families)
    waves = ctx.waves
    wide_due = assessments["due"].to_numpy().reshape(n, len(waves))
    t0_index = assessments["complete_index"].to_numpy().reshape(n, len(waves))[:, 0]
    z = (t0_index - 50.0) / 10.0
    beta = ATTRITION["beta_per_10_points"]
    alive = np.ones((n, len(waves)), dtype=bool)
    alphas: dict[str, float] = {}
    previous_months = 0
    for position, months in enumerate(waves):
        if position == 0:
            previous_months = months
            continue
        base = ATTRITION["base_dropout"].get(
            months, min(0.5, ATTRITION["base_dropout_per_month_other"] * (months - previous_months))
        )
        alpha = float(np.log(base / (1 - base)))
        alphas[str(months)] = _round(alpha)
        drop = rng.random(n) < special.expit(alpha + beta * z)
        alive[:, position] = alive[:, position - 1] & ~drop
        previous_months = months
    intermittent = rng.random((n, len(waves))) < INTERMITTENT_MISS
    intermittent[:, 0] = False
    responded = alive & ~intermittent

    dropped = ~alive[:, -1]
    dropout_position = np.where(dropped, np.argmin(alive, axis=1), -1)
    last_alive_due = wide_due[np.arange(n), np.where(dropped, dropout_position - 1, len(waves) - 1)]
    missed_due = wide_due[np.arange(n), np.where(dropped, dropout_position, len(waves) - 1)]
    gap = np.maximum(missed_due - last_alive_due, 2)
    dropout_exit = last_alive_due + 1 + np.floor(rng.random(n) * (gap - 1)).astype(np.int64)

    end_of_schedule = wide_due[:, -1]
    t0 = wide_due[:, 0]
    completer_exits = ~dropped & (rng.random(n) < COMPLETER_EXIT_PROBABILITY)
    earliest = t0 + 120
    completer_exit = earliest + np.floor(rng.random(n) * np.maximum(end_of_schedule - earliest, 1)).astype(np.int64)
    reasons = np.array(list(COMPLETER_EXIT_REASONS), dtype=object)[
        categorical(rng, list(COMPLETER_EXIT_REASONS.values()), n)
    ]

    exit_date = np.full(n, NO_DATE, dtype=np.int64)
    exit_reason = np.full(n, "", dtype=object)
    exit_date[dropped] = dropout_exit[dropped]
    exit_reason[dropped] = "perte_contact"
    exit_date[completer_exits] = np.minimum(completer_exit[completer_exits], end_of_schedule[completer_exits])
    exit_reason[completer_exits] = reasons[completer_exits]
    accompaniment_end = np.where(exit_date != NO_DATE, exit_date, end_of_schedule)

    assessments = assessments.assign(responded=responded.reshape(-1))
    families = families.assign(
        exit_date=exit_date,
        exit_reason=exit_reason,
        dropout_wave=np.where(dropped, np.asarray(waves)[np.maximum(dropout_position, 0)], -1),
        accompaniment_end=accompaniment_end,
        t0_complete_index=t0_index,
    )

    threshold = float(ctx.isolation["isolated_threshold"])
    baseline_isolated = t0_index >= threshold
    response = {}
    by_status: dict[str, dict[str, float | None]] = {"isolated_at_t0": {}, "not_isolated_at_t0": {}}
    by_contact: dict[str, dict[str, float | None]] = {"isolated_at_contact": {}, "not_isolated_at_contact": {}}
    contact = families["isolated_at_contact"].to_numpy()
    for position, months in enumerate(waves):
        response[str(months)] = _round(float(responded[:, position].mean())) if n else None
        for label, mask in (("isolated_at_t0", baseline_isolated), ("not_isolated_at_t0", ~baseline_isolated)):
            by_status[label][str(months)] = _round(float(responded[mask, position].mean())) if mask.any() else None
        for label, mask in (("isolated_at_contact", contact), ("not_isolated_at_contact", ~contact)):
            by_contact[label][str(months)] = _round(float(responded[mask, position].mean())) if mask.any() else None
    truth = {
        "model": "logit P(drop out before wave k | present at wave k-1) = alpha_k + beta * (T0 complete index - 50) / 10; monotone",
        "alpha": alphas,
        "base_dropout_probability": {str(k): v for k, v in ATTRITION["base_dropout"].items()},
        "beta_per_10_index_points": beta,
        "intermittent_miss_probability": INTERMITTENT_MISS,
        "dropout_exit_reason": "perte_contact",
        "completer_exit_probability": COMPLETER_EXIT_PROBABILITY,
        "completer_exit_reasons": COMPLETER_EXIT_REASONS,
        "realised_response_rate_by_wave": response,
        "realised_response_rate_by_wave_and_t0_isolated": by_status,
        "realised_response_rate_by_wave_and_isolated_at_contact": by_contact,
        "families_dropped_out": int(dropped.sum()),
    }
    return assessments, families, truth


# =============================================================================================
# Needs
# =============================================================================================
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
    family_index, category_index = np.nonzero(chosen)

    first_contact = families["first_contact"].to_numpy()[family_index]
    end = families["accompaniment_end"].to_numpy()[family_index]
    basic = np.isin(np.array(categories, dtype=object)[category_index], _BASIC_NEEDS)
    mean = np.where(basic, NEED_IDENTIFICATION_MEAN_DAYS["basic"], NEED_IDENTIFICATION_MEAN_DAYS["other"])
    identified = first_contact + np.floor(truncated_exponential(rng, mean, end - first_contact)).astype(np.int64)

    gap_probability, planted_pairs = _service_gaps(ctx, categories, rng)
    territory_index = families["territory_index"].to_numpy()[family_index]
    total = len(family_index)
    gap = rng.random(total) < gap_probability[territory_index, category_index]
    category_names = np.array(categories, dtype=object)[category_index]
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
    censored = status_date > end
    status[censored] = np.where(end[censored] - identified[censored] >= 14, "en_cours", "identifie")
    status_date[censored] = end[censored]

    order = np.lexsort((category_index, identified, family_index))
    needs = pd.DataFrame(
        {
            "family_index": family_index[order],
            "record_num": families["record_num"].to_numpy()[family_index[order]],
            "territory_index": territory_index[order],
            "category": category_names[order],
            "category_index": category_index[order],
            "identified": identified[order],
            "status": status[order],
            "status_date": status_date[order],
            "gap": gap[order],
            "time_to_met": time_to_met[order],
            "met_eligible": met[order],
        }
    )
    needs["instance"] = needs.groupby("family_index", sort=False).cumcount() + 1

    realised_median = needs.loc[needs["met_eligible"]].groupby("category")["time_to_met"].median()
    met_share = needs.assign(met=needs["status"] == "repondu").groupby("category")["met"].mean()
    truth = {
        "count_model": "min(1 + Poisson(1.4 + 0.5 max(severity, 0) + 0.4 isolated_at_contact), 8), distinct categories",
        "category_weights": NEED_CATEGORY_WEIGHTS,
        "category_boosts": _NEED_BOOSTS,
        "identification_mean_days": NEED_IDENTIFICATION_MEAN_DAYS,
        "time_to_met": {
            "distribution": "lognormal among needs neither in a service gap, declined nor partly met",
            "sigma": NEED_MET_SIGMA,
            "median_days": NEED_MET_MEDIAN_DAYS,
            "realised_median_days_complete": {k: _round(float(v)) for k, v in realised_median.items()},
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
            "needs_per_family": _round(total / n) if n else None,
            "share_by_category": {
                k: _round(v) for k, v in (needs["category"].value_counts(normalize=True).sort_index()).items()
            },
            "share_met_by_category": {k: _round(float(v)) for k, v in met_share.items()},
            "status_counts": {k: int(v) for k, v in needs["status"].value_counts().sort_index().items()},
        },
    }
    return needs, truth


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
    need_offset = np.r_[0, np.cumsum(needs_per_family)[:-1]]
    latent = 0.5 * families["severity"].to_numpy() + 0.3 * (needs_per_family - needs_per_family.mean()) / max(
        needs_per_family.std(), 1e-9
    )
    u = ranks_uniform(rng, latent + rng.standard_normal(n))
    p0, p1, p2 = REFERRAL_COUNT_HEAD
    tail_p = REFERRAL_TAIL_NB["r"] / (REFERRAL_TAIL_NB["r"] + REFERRAL_TAIL_NB["mean"])
    tail_q = np.clip((u - (p0 + p1 + p2)) / (1 - p0 - p1 - p2), 0.0, 1 - 1e-9)
    ptp_count = np.select(
        [u < p0, u < p0 + p1, u < p0 + p1 + p2],
        [0, 1, 2],
        default=3 + stats.nbinom.ppf(tail_q, REFERRAL_TAIL_NB["r"], tail_p).astype(np.int64),
    ).astype(np.int64)
    via_partner = families["recruitment_channel"].to_numpy(dtype=object) == "reference_partenaire"
    back_count = via_partner.astype(np.int64) + rng.poisson(PARTNER_TO_PTP_POISSON, n)

    total_count = ptp_count + back_count
    family_index = np.repeat(np.arange(n), total_count)
    position = np.arange(len(family_index)) - np.repeat(np.cumsum(total_count) - total_count, total_count)
    is_back = position >= np.repeat(ptp_count, total_count)
    first_back = is_back & (position == np.repeat(ptp_count, total_count)) & via_partner[family_index]
    total = len(family_index)

    need_row = need_offset[family_index] + np.floor(rng.random(total) * needs_per_family[family_index]).astype(np.int64)
    identified = needs["identified"].to_numpy()[need_row]
    category_index = needs["category_index"].to_numpy()[need_row]
    gap = needs["gap"].to_numpy()[need_row]
    end = families["accompaniment_end"].to_numpy()[family_index]
    first_contact = families["first_contact"].to_numpy()[family_index]
    referral_date = identified + np.floor(
        truncated_exponential(rng, REFERRAL_DELAY_MEAN_DAYS, end - identified)
    ).astype(np.int64)
    referral_date[first_back] = first_contact[first_back]

    territory = families["territory_index"].to_numpy()[family_index]
    classes, shares, partners = _class_table(ctx)
    host = ctx.host_org_ids[territory]
    from_org = host.copy()
    to_org = np.empty(total, dtype=object)

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

    organisations = ctx.organisations.set_index("org_id")
    forward_rows = referrals.loc[referrals["direction"] == "ptp_to_partner"]
    network = organisations.loc[forward_rows["to_org_id"], "network"].value_counts(normalize=True)
    mission = organisations.loc[forward_rows["to_org_id"], "mission"].value_counts(normalize=True)
    truth = {
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
            "ptp_to_partner": int(forward.sum()),
            "partner_to_ptp": int(is_back.sum()),
            "share_partner_to_ptp": _round(float(is_back.mean())) if total else None,
            "share_families_3_or_more_ptp_to_partner": _round(float((ptp_count >= 3).mean())) if n else None,
            "ptp_to_partner_destination_network_shares": {k: _round(float(v)) for k, v in network.sort_index().items()},
            "ptp_to_partner_destination_mission_shares": {k: _round(float(v)) for k, v in mission.sort_index().items()},
        },
    }
    return referrals, truth


def _round(value: float | None, digits: int = 6) -> float | None:
    if value is None:
        return None
    value = float(value)
    if not np.isfinite(value):
        return None
    return round(value, digits)
