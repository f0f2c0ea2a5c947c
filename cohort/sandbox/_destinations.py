"""Where referrals go and come from: partner classes, their target shares and the raking.

PTP-to-partner referrals go to a partner of a (network, mission) class drawn from
``P(class | territory, need category)``, raked so the overall class shares are the pilot's;
partner-to-PTP referrals and concertation activities come from a partner weighted by class.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from proximite.cohort.sandbox._context import Context
from proximite.cohort.sandbox._sampling import categorical_rows, segment_pick, within_segment_cumulative
from proximite.cohort.sandbox.geography import PARTNER_CLASSES

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
CATEGORY_CLASS_AFFINITY: dict[str, dict[tuple[str, str], float]] = {
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
        for klass, multiplier in CATEGORY_CLASS_AFFINITY.get(name, {}).items():
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


def referral_organisations(
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
