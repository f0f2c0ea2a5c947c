"""The survival table: read from the warehouse, or built from harmonised tables (pure)."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from proximite.cohort.survival.covariates import subject_covariates, time_varying_rows
from proximite.cohort.survival.rules import (
    CLOSED_STATUSES,
    DROPOUT_REASONS,
    MET_STATUSES,
    REQUIRED_COLUMNS,
    REQUIRED_TABLES,
    WAREHOUSE_TABLES,
    ClosedUnmet,
    SurvivalTableError,
    check_event,
)
from proximite.cohort.survival.subjects import (
    data_end,
    dropout_subjects,
    family_frame,
    first_referral_subjects,
    need_met_subjects,
)

if TYPE_CHECKING:  # pragma: no cover
    from proximite.config import Settings

log = logging.getLogger(__name__)

__all__ = ["build_survival_table", "survival_table"]


def survival_table(
    project_dir: str | Path | None = None,
    *,
    settings: Settings | None = None,
    event: str,
    as_of: str | pd.Timestamp | None = None,
    time_varying: bool = False,
    referral_directions: Sequence[str] = ("ptp_to_partner",),
    dropout_reasons: Sequence[str] = DROPOUT_REASONS,
    met_statuses: Sequence[str] = MET_STATUSES,
    closed_statuses: Sequence[str] = CLOSED_STATUSES,
    closed_unmet: ClosedUnmet = "at_risk",
) -> pd.DataFrame:
    """Time-to-event table of the current warehouse (see :func:`build_survival_table`).

    Parameters
    ----------
    project_dir : str or Path, optional
        Project directory (its settings are loaded); ignored when ``settings`` is given.
    settings : Settings, optional, keyword-only
    event : {"first_referral", "need_met", "dropout"}, keyword-only
    as_of, time_varying, referral_directions, dropout_reasons, met_statuses, closed_statuses, closed_unmet
        As :func:`build_survival_table`; the wave schedule comes from the project's ``[waves]``.

    Returns
    -------
    DataFrame
        ``attrs["build_id"]`` names the warehouse build.

    Raises
    ------
    WarehouseNotFoundError
        The project has no warehouse yet.
    SurvivalTableError
        An unknown event or option.

    Notes
    -----
    Durations are :math:`t_{\\text{stop}} - t_{\\text{origin}}` in days; see
    :func:`build_survival_table` for each event's origin, event and censoring rules.
    """
    from proximite.cohort.followups import FollowupSchedule
    from proximite.cohort.warehouse import connect, current_build, table

    from proximite.config import load_settings

    check_event(event)
    settings = settings if settings is not None else load_settings(project_dir)
    schedule = FollowupSchedule.from_settings(settings)
    tables = {name: table(settings, name) for name in WAREHOUSE_TABLES}
    # The registry is the largest table: only the family activities' dates and minutes are read.
    with connect(settings) as connection:
        tables["activity"] = connection.execute(
            "SELECT family_id, activity_date, minutes FROM activity WHERE family_id IS NOT NULL"
        ).df()
    frame = build_survival_table(
        tables,
        event=event,
        as_of=as_of,
        time_varying=time_varying,
        wave_months=schedule.waves,
        window_days=schedule.window_days,
        referral_directions=referral_directions,
        dropout_reasons=dropout_reasons,
        met_statuses=met_statuses,
        closed_statuses=closed_statuses,
        closed_unmet=closed_unmet,
    )
    build = current_build(settings)
    frame.attrs["build_id"] = build.build_id if build is not None else None
    return frame


def build_survival_table(
    tables: Mapping[str, pd.DataFrame],
    *,
    event: str,
    as_of: str | pd.Timestamp | None = None,
    time_varying: bool = False,
    wave_months: Sequence[int] = (0, 6, 12, 24),
    window_days: int = 45,
    referral_directions: Sequence[str] = ("ptp_to_partner",),
    dropout_reasons: Sequence[str] = DROPOUT_REASONS,
    met_statuses: Sequence[str] = MET_STATUSES,
    closed_statuses: Sequence[str] = CLOSED_STATUSES,
    closed_unmet: ClosedUnmet = "at_risk",
) -> pd.DataFrame:
    """Time-to-event table from harmonised tables (pure: the tables are not modified).

    Parameters
    ----------
    tables : mapping of str to DataFrame
        Harmonised tables by name: ``family`` always; ``referral`` (first_referral), ``need``
        (need_met), ``assessment`` (dropout). ``territory``, ``assessment``, ``need``,
        ``referral``, ``activity`` and ``child`` are used when present (covariates, last
        observation, time-varying covariates).
    event : {"first_referral", "need_met", "dropout"}, keyword-only
    as_of : date, optional, keyword-only
        End of the data (administrative censoring); default: the latest date of the tables.
        Anything dated after it is ignored.
    time_varying : bool, keyword-only
        Start/stop rows split at the family's assessment dates (see Notes) instead of one row
        per subject.
    wave_months : sequence of int, keyword-only
        The wave schedule (months after T0, T0 first), for the dropout event.
    window_days : int, keyword-only
        Half-width of a later wave's window: a wave is missed once its window has closed.
    referral_directions : sequence of str, keyword-only
        Directions of the referrals that count for ``first_referral``.
    dropout_reasons : sequence of str, keyword-only
        Exit reasons that are a drop-out (event known to the day).
    met_statuses : sequence of str, keyword-only
        Need statuses that are the ``need_met`` event.
    closed_statuses : sequence of str, keyword-only
        Need statuses that close a need unmet (see ``closed_unmet``).
    closed_unmet : {"at_risk", "censored", "competing"}, keyword-only
        A need closed unmet stays at risk until the family's last observation (default, as the
        ``needs_offer.time_to_met`` indicator), is censored at its status date, or is a competing
        event (``event_type`` 2) at its status date.

    Returns
    -------
    DataFrame
        One row per subject (family, or need for ``need_met``): ``id`` (the subject),
        ``family_id`` (and ``need_id``, ``category``, ``status`` for needs), ``origin_date``,
        ``end_date``, ``duration`` (days, float), ``duration_months``, ``event`` (0/1: the
        event of interest), ``event_type`` (0 censored, 1 event, 2 competing event), ``lower``
        and ``upper`` (days; equal for an exact event, ``upper = inf`` when right-censored,
        ``lower < upper`` for a dropout known between two waves), ``interval_censored``, then
        the covariates ``territory_id``, ``region_code``, ``environment``, ``host_type``,
        ``isolated_at_contact``, ``single_parent``, ``immigration_status``, ``language``,
        ``recruitment_channel``, ``baseline_isolation_index`` and ``n_children`` (those whose
        tables are present).

        With ``time_varying=True``: rows ``id, family_id, start, stop, event, event_type`` (the
        lifelines long format; ``event`` only on a subject's last row), the same covariates,
        plus ``ptp_minutes_cum`` and ``isolation_index_latest``.

    Raises
    ------
    SurvivalTableError
        An unknown event or option, a missing table or column (named, with no values).

    Notes
    -----
    Let :math:`o` be the origin, :math:`e` the family's exit date (if any, and not after the
    data end :math:`T`), and :math:`L` its last observation: :math:`e` if it exited, else the
    latest date (up to :math:`T`) among its assessments, needs' dates, referrals' dates and
    activities. The duration is :math:`\\max(t - o, 0)` days, where :math:`t` is:

    - ``first_referral``: :math:`o` = first contact; :math:`t` = first referral :math:`r` if
      :math:`r \\le e` (event 1); else :math:`e` (competing, 2); else :math:`L` (censored, 0).
    - ``need_met``: :math:`o` = identification; :math:`t` = status date :math:`s` of a met need
      if :math:`s \\le e` (event 1); a need closed unmet per ``closed_unmet``; else :math:`e`
      (competing, 2, including a need met after the exit); else :math:`\\max(s, L)` (censored).
    - ``dropout``: :math:`o` = consent date (first contact when missing); :math:`t = e` for an
      exit for a drop-out reason (exact event); else, when the wave after the last one
      answered has its window closed by :math:`T`, an event in :math:`(a, d]` with :math:`a`
      the last assessment date and :math:`d` that wave's due date (T0 date + months): ``lower``
      :math:`= a - o`, ``upper`` :math:`= d - o`, and the duration is the midpoint; else
      censored at :math:`a`.

    ``duration_months = duration / (365.25 / 12)``. Time-varying rows split
    :math:`(0, \\text{duration}]` at the days of the family's assessments strictly inside it;
    on a row starting at day :math:`s`, ``ptp_minutes_cum`` is the sum of the family's activity
    minutes dated before :math:`o + s`, and ``isolation_index_latest`` the index of its latest
    assessment dated on or before :math:`o + s` (before the first assessment, the first one's).
    A subject whose duration is 0 gets ``stop = 0.5`` so that start < stop.
    """
    _check_inputs(tables, event=event, time_varying=time_varying, closed_unmet=closed_unmet)
    end = data_end(tables, as_of)
    family = family_frame(tables, end=end)
    if event == "first_referral":
        subjects = first_referral_subjects(tables, family, end=end, directions=referral_directions)
    elif event == "need_met":
        subjects = need_met_subjects(
            tables, family, end=end, met_statuses=met_statuses, closed_statuses=closed_statuses, closed_unmet=closed_unmet
        )
    else:
        subjects = dropout_subjects(tables, family, end=end, wave_months=wave_months, window_days=window_days, reasons=dropout_reasons)
    subjects = subjects.astype({"id": "string", "family_id": "string"})
    subjects = subjects.merge(subject_covariates(tables, family), on="family_id", how="left")
    subjects = subjects.sort_values("id", kind="stable").reset_index(drop=True)
    _log_counts(subjects, event)
    subjects.attrs.update({"event": event, "data_end": None if pd.isna(end) else str(end.date())})
    if not time_varying:
        return subjects
    return time_varying_rows(subjects, tables)


def _check_inputs(tables: Mapping[str, pd.DataFrame], *, event: str, time_varying: bool, closed_unmet: str) -> None:
    """The event and option are known; the tables and columns the event reads are there."""
    check_event(event)
    if closed_unmet not in ("at_risk", "censored", "competing"):
        raise SurvivalTableError(f"closed_unmet must be 'at_risk', 'censored' or 'competing', not {closed_unmet!r}")
    for name in REQUIRED_TABLES[event]:
        if name not in tables:
            raise SurvivalTableError(f"event {event!r} needs the table {name!r} (given: {', '.join(sorted(tables)) or 'none'})")
    for name, columns in REQUIRED_COLUMNS.items():
        if name in tables:
            missing = [column for column in columns if column not in tables[name].columns]
            if missing and (name in REQUIRED_TABLES[event] or name == "activity" and time_varying):
                raise SurvivalTableError(f"table {name!r} lacks the column(s) {', '.join(missing)}")


def _log_counts(subjects: pd.DataFrame, event: str) -> None:
    """Counts of subjects by how they ended (never a subject's values)."""
    counts = subjects["event_type"].value_counts()
    log.info(
        "survival table %s: %d subjects, %d events, %d competing, %d censored, %d interval-censored",
        event, len(subjects), int(counts.get(1, 0)), int(counts.get(2, 0)), int(counts.get(0, 0)),
        int(subjects["interval_censored"].sum()),
    )
