"""Censoring of the complete synthetic cohort at an ``as_of`` date: nothing after it exists."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from proximite.cohort.sandbox._sampling import NO_DATE


@dataclass(frozen=True)
class Tables:
    """The synthetic cohort's tables (day numbers; see the builders in ``_cohort``/``_registry``)."""

    families: pd.DataFrame
    children: pd.DataFrame
    assessments: pd.DataFrame
    needs: pd.DataFrame
    referrals: pd.DataFrame
    workers: pd.DataFrame
    activities: pd.DataFrame
    supervision: pd.DataFrame


def observed(tables: Tables) -> Tables:
    """Keep only the wave assessments that were answered (attrition applied)."""
    return replace(tables, assessments=tables.assessments.loc[tables.assessments["responded"]].reset_index(drop=True))


def censor(tables: Tables, as_of: int) -> Tables:
    """What the project would hold on day ``as_of``.

    Notes
    -----
    Families exist once they consented (REDCap creates the record at inclusion); their
    children with them. Assessments, needs, referrals, activities and supervision sessions
    dated after ``as_of`` are absent. A need whose status would change after ``as_of`` is
    ``en_cours`` (``identifie`` if identified less than 14 days before), dated ``as_of``; a
    referral outcome after ``as_of`` is pending (``en_attente``, no date); an exit after
    ``as_of`` has not happened; a tenure ending after ``as_of`` is open; activities of a family
    not yet included lose their family link (no record number exists yet).
    """
    families = tables.families
    included = families["consent"].to_numpy() <= as_of
    kept_family = np.flatnonzero(included)
    family_kept = np.zeros(len(families), dtype=bool)
    family_kept[kept_family] = True

    families = families.loc[included].copy()
    late_exit = families["exit_date"].to_numpy() > as_of
    families.loc[late_exit, "exit_date"] = NO_DATE
    families.loc[late_exit, "exit_reason"] = ""

    children = tables.children.loc[family_kept[tables.children["family_index"].to_numpy()]]
    assessments = tables.assessments
    assessments = assessments.loc[
        family_kept[assessments["family_index"].to_numpy()] & (assessments["due"].to_numpy() <= as_of)
    ]

    needs = tables.needs
    needs = needs.loc[family_kept[needs["family_index"].to_numpy()] & (needs["identified"].to_numpy() <= as_of)].copy()
    later = needs["status_date"].to_numpy() > as_of
    recent = (as_of - needs["identified"].to_numpy()) < 14
    needs.loc[later, "status"] = np.where(recent[later], "identifie", "en_cours")
    needs.loc[later, "status_date"] = as_of

    referrals = tables.referrals
    referrals = referrals.loc[
        family_kept[referrals["family_index"].to_numpy()] & (referrals["referral_date"].to_numpy() <= as_of)
    ].copy()
    pending = referrals["outcome_date"].to_numpy() > as_of
    referrals.loc[pending, "outcome"] = "en_attente"
    referrals.loc[pending, "outcome_date"] = NO_DATE

    workers = tables.workers.loc[tables.workers["start"].to_numpy() <= as_of].copy()
    workers.loc[workers["end"].to_numpy() > as_of, "end"] = NO_DATE

    activities = tables.activities.loc[tables.activities["day"].to_numpy() <= as_of].copy()
    unlinked = (activities["family_index"].to_numpy() >= 0) & ~family_kept[
        np.maximum(activities["family_index"].to_numpy(), 0)
    ]
    activities.loc[unlinked, "family_index"] = -1
    activities.loc[unlinked, "record_num"] = 0

    supervision = tables.supervision.loc[tables.supervision["day"].to_numpy() <= as_of]
    return Tables(
        families=families.reset_index(drop=True),
        children=children.reset_index(drop=True),
        assessments=assessments.reset_index(drop=True),
        needs=needs.reset_index(drop=True),
        referrals=referrals.reset_index(drop=True),
        workers=workers.reset_index(drop=True),
        activities=activities.reset_index(drop=True),
        supervision=supervision.reset_index(drop=True),
    )
