"""The survival table's vocabulary: its events, the statuses and reasons that define them, its errors."""

from __future__ import annotations

from typing import Literal

from proximite.errors import ProximiteError

__all__ = [
    "CLOSED_STATUSES",
    "DAYS_PER_MONTH",
    "DROPOUT_REASONS",
    "EVENTS",
    "FAMILY_COVARIATES",
    "MET_STATUSES",
    "REQUIRED_COLUMNS",
    "REQUIRED_TABLES",
    "TERRITORY_COVARIATES",
    "WAREHOUSE_TABLES",
    "ClosedUnmet",
    "SurvivalTableError",
    "check_event",
]


#: The events a survival table can follow.
EVENTS: tuple[str, ...] = ("first_referral", "need_met", "dropout")

#: Days in a month (365.25 / 12): ``duration_months = duration / DAYS_PER_MONTH``.
DAYS_PER_MONTH: float = 365.25 / 12

#: Exit reasons that mean the family left the research follow-up (a drop-out).
DROPOUT_REASONS: tuple[str, ...] = ("perte_contact", "retrait_consentement")

#: Need statuses that count as met.
MET_STATUSES: tuple[str, ...] = ("repondu",)

#: Need statuses that close a need without it being met (see ``closed_unmet``).
CLOSED_STATUSES: tuple[str, ...] = ("non_repondu", "aucune_ressource")

#: Tables each event reads (``territory``, ``assessment``, ``need``, ``referral``, ``activity`` and
#: ``child`` add covariates and last-observation dates when present).
REQUIRED_TABLES: dict[str, tuple[str, ...]] = {
    "first_referral": ("family", "referral"),
    "need_met": ("family", "need"),
    "dropout": ("family", "assessment"),
}
#: Columns each table must have when an event reads it.
REQUIRED_COLUMNS: dict[str, tuple[str, ...]] = {
    "family": ("family_id", "first_contact_date", "exit_date"),
    "referral": ("family_id", "referral_date", "direction"),
    "need": ("need_id", "family_id", "category", "identified_date", "status", "status_date"),
    "assessment": ("family_id", "wave", "assessment_date"),
    "activity": ("family_id", "activity_date", "minutes"),
}
#: Covariates copied from the family and its territory.
FAMILY_COVARIATES = ("territory_id", "isolated_at_contact", "single_parent", "immigration_status", "language", "recruitment_channel")
TERRITORY_COVARIATES = ("region_code", "environment", "host_type")
#: Warehouse tables :func:`~proximite.cohort.survival.survival_table` reads whole.
WAREHOUSE_TABLES = ("family", "territory", "assessment", "need", "referral", "child")

#: What a need closed unmet is (``closed_unmet``).
ClosedUnmet = Literal["at_risk", "censored", "competing"]


class SurvivalTableError(ProximiteError, ValueError):
    """The tables cannot give the asked survival table (an unknown event, a missing column)."""


def check_event(event: str) -> None:
    """Raise :class:`SurvivalTableError` unless ``event`` is one of :data:`EVENTS`."""
    if event not in EVENTS:
        raise SurvivalTableError(f"unknown event {event!r}; the events are: {', '.join(EVENTS)}")
