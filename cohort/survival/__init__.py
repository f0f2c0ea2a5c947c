"""Time-to-event data from the warehouse: one row per subject, or start/stop rows.

:func:`survival_table` reads the current warehouse and calls :func:`build_survival_table`, a pure
function of the harmonised tables (tests pass tiny frames). Three events are defined:

``first_referral``
    Per family, from the first contact to the first referral (direction ``ptp_to_partner`` by
    default). Competing event: the family leaves the accompaniment (``exit_date``) first.
``need_met``
    Per need, from its identification to its status ``repondu``. Competing event: the family
    leaves the accompaniment before the need is met (a need met after the exit counts as the
    competing event at the exit date).
``dropout``
    Per family, from inclusion (consent) to leaving the research follow-up: an exit for a
    drop-out reason (``perte_contact``, ``retrait_consentement``), known to the day, or a wave
    missed for good, known only to fall between the last assessment and the missed wave's due
    date (``lower``/``upper``). Censored at the last assessment.

The tables hold one row per family or need: they are analysis data, not for logs. Logs and
errors carry counts and column names only.
"""

from __future__ import annotations

from proximite.cohort.survival.rules import (
    CLOSED_STATUSES,
    DAYS_PER_MONTH,
    DROPOUT_REASONS,
    EVENTS,
    MET_STATUSES,
    REQUIRED_TABLES,
    ClosedUnmet,
    SurvivalTableError,
)
from proximite.cohort.survival.table import build_survival_table, survival_table

__all__ = [
    "CLOSED_STATUSES",
    "DAYS_PER_MONTH",
    "DROPOUT_REASONS",
    "EVENTS",
    "MET_STATUSES",
    "REQUIRED_TABLES",
    "ClosedUnmet",
    "SurvivalTableError",
    "build_survival_table",
    "survival_table",
]
