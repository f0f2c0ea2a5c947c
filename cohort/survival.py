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

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd
from proximite.errors import ProximiteError

if TYPE_CHECKING:  # pragma: no cover
    from proximite.config import Settings

__all__ = [
    "DAYS_PER_MONTH",
    "DROPOUT_REASONS",
    "EVENTS",
    "SurvivalTableError",
    "build_survival_table",
    "survival_table",
]

log = logging.getLogger(__name__)

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
_REQUIRED_COLUMNS: dict[str, tuple[str, ...]] = {
    "family": ("family_id", "first_contact_date", "exit_date"),
    "referral": ("family_id", "referral_date", "direction"),
    "need": ("need_id", "family_id", "category", "identified_date", "status", "status_date"),
    "assessment": ("family_id", "wave", "assessment_date"),
    "activity": ("family_id", "activity_date", "minutes"),
}
_FAMILY_COVARIATES = ("territory_id", "isolated_at_contact", "single_parent", "immigration_status", "language", "recruitment_channel")
_TERRITORY_COVARIATES = ("region_code", "environment", "host_type")
_WAREHOUSE_TABLES = ("family", "territory", "assessment", "need", "referral", "child")

ClosedUnmet = Literal["at_risk", "censored", "competing"]


class SurvivalTableError(ProximiteError, ValueError):
    """The tables cannot give the asked survival table (an unknown event, a missing column)."""


# ------------------------------------------------------------------------------------ reading
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

    _check_event(event)
    settings = settings if settings is not None else load_settings(project_dir)
    schedule = FollowupSchedule.from_settings(settings)
    tables = {name: table(settings, name) for name in _WAREHOUSE_TABLES}
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


# ------------------------------------------------------------------------------------ building
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
        ``needs.time_to_met`` indicator), is censored at its status date, or is a competing
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
    _check_event(event)
    if closed_unmet not in ("at_risk", "censored", "competing"):
        raise SurvivalTableError(f"closed_unmet must be 'at_risk', 'censored' or 'competing', not {closed_unmet!r}")
    for name in REQUIRED_TABLES[event]:
        if name not in tables:
            raise SurvivalTableError(f"event {event!r} needs the table {name!r} (given: {', '.join(sorted(tables)) or 'none'})")
    for name, columns in _REQUIRED_COLUMNS.items():
        if name in tables:
            missing = [column for column in columns if column not in tables[name].columns]
            if missing and (name in REQUIRED_TABLES[event] or name == "activity" and time_varying):
                raise SurvivalTableError(f"table {name!r} lacks the column(s) {', '.join(missing)}")
    end = _data_end(tables, as_of)
    family = _family_frame(tables, end=end)
    if event == "first_referral":
        subjects = _first_referral(tables, family, end=end, directions=referral_directions)
    elif event == "need_met":
        subjects = _need_met(
            tables, family, end=end, met_statuses=met_statuses, closed_statuses=closed_statuses, closed_unmet=closed_unmet
        )
    else:
        subjects = _dropout(tables, family, end=end, wave_months=wave_months, window_days=window_days, reasons=dropout_reasons)
    subjects = subjects.astype({"id": "string", "family_id": "string"})
    subjects = subjects.merge(_covariates(tables, family), on="family_id", how="left")
    subjects = subjects.sort_values("id", kind="stable").reset_index(drop=True)
    counts = subjects["event_type"].value_counts()
    log.info(
        "survival table %s: %d subjects, %d events, %d competing, %d censored, %d interval-censored",
        event, len(subjects), int(counts.get(1, 0)), int(counts.get(2, 0)), int(counts.get(0, 0)),
        int(subjects["interval_censored"].sum()),
    )
    subjects.attrs.update({"event": event, "data_end": None if pd.isna(end) else str(end.date())})
    if not time_varying:
        return subjects
    return _time_varying(subjects, tables)


def _check_event(event: str) -> None:
    if event not in EVENTS:
        raise SurvivalTableError(f"unknown event {event!r}; the events are: {', '.join(EVENTS)}")


def _dates(frame: pd.DataFrame, column: str) -> pd.Series:
    """A date column as day-precision ``datetime64[ns]`` (DuckDB may give other units)."""
    return pd.to_datetime(frame[column]).astype("datetime64[ns]").dt.normalize()


def _data_end(tables: Mapping[str, pd.DataFrame], as_of: str | pd.Timestamp | None) -> pd.Timestamp:
    if as_of is not None:
        return pd.Timestamp(as_of).normalize()
    columns = {
        "family": ("first_contact_date", "consent_date", "exit_date"),
        "assessment": ("assessment_date",),
        "need": ("identified_date", "status_date"),
        "referral": ("referral_date", "outcome_date"),
        "activity": ("activity_date",),
    }
    latest = [
        _dates(tables[name], column).max()
        for name, names in columns.items()
        if name in tables
        for column in names
        if column in tables[name].columns
    ]
    latest = [value for value in latest if not pd.isna(value)]
    if not latest:
        raise SurvivalTableError("no dated row in the tables: the data end cannot be set (give as_of)")
    return pd.Timestamp(max(latest))


def _family_frame(tables: Mapping[str, pd.DataFrame], *, end: pd.Timestamp) -> pd.DataFrame:
    """family_id, first contact, consent, exit (known by the end), exit reason, last observation."""
    family = tables["family"].reset_index(drop=True)
    frame = pd.DataFrame({"family_id": family["family_id"].astype("string")})
    frame["first_contact_date"] = _dates(family, "first_contact_date")
    frame["consent_date"] = _dates(family, "consent_date") if "consent_date" in family.columns else pd.NaT
    exit_date = _dates(family, "exit_date")
    known = (exit_date <= end).fillna(False).to_numpy(dtype=bool)
    frame["exit_date"] = exit_date.where(known)
    reason = family["exit_reason"].astype("string") if "exit_reason" in family.columns else pd.Series(pd.NA, index=family.index, dtype="string")
    frame["exit_reason"] = reason.where(known)
    if frame["family_id"].duplicated().any():
        raise SurvivalTableError(f"table 'family' has {int(frame['family_id'].duplicated().sum())} duplicated family_id")
    dated = [frame[["family_id", "first_contact_date"]].rename(columns={"first_contact_date": "date"})]
    sources = {
        "assessment": ("assessment_date",),
        "need": ("identified_date", "status_date"),
        "referral": ("referral_date", "outcome_date"),
        "activity": ("activity_date",),
    }
    for name, columns in sources.items():
        if name not in tables or "family_id" not in tables[name].columns:
            continue
        for column in columns:
            if column in tables[name].columns:
                piece = pd.DataFrame({"family_id": tables[name]["family_id"].astype("string"), "date": _dates(tables[name], column)})
                dated.append(piece.dropna())
    dates = pd.concat(dated, ignore_index=True)
    dates = dates.loc[(dates["date"] <= end).fillna(False).to_numpy(dtype=bool)]
    last_seen = dates.groupby("family_id", sort=False)["date"].max()
    frame["last_seen"] = frame["exit_date"].fillna(frame["family_id"].map(last_seen)).fillna(frame["first_contact_date"])
    return frame


def _finish(frame: pd.DataFrame, *, origin: pd.Series, stop: pd.Series, event_type: np.ndarray) -> pd.DataFrame:
    """Add origin_date, end_date, duration, duration_months, event, event_type, lower, upper."""
    duration = (stop - origin).dt.days.astype("float64").clip(lower=0).to_numpy()
    frame = frame.assign(origin_date=origin.to_numpy(), end_date=stop.to_numpy())
    frame["duration"] = duration
    frame["duration_months"] = duration / DAYS_PER_MONTH
    frame["event"] = (event_type == 1).astype("int64")
    frame["event_type"] = event_type.astype("int64")
    frame["lower"] = duration
    frame["upper"] = np.where(event_type == 1, duration, np.inf)
    frame["interval_censored"] = False
    return frame


def _first_referral(
    tables: Mapping[str, pd.DataFrame], family: pd.DataFrame, *, end: pd.Timestamp, directions: Sequence[str]
) -> pd.DataFrame:
    referral = tables["referral"]
    chosen = referral["direction"].astype("string").isin(list(directions)).fillna(False).to_numpy(dtype=bool)
    dates = pd.DataFrame({"family_id": referral["family_id"].astype("string"), "date": _dates(referral, "referral_date")})
    dates = dates.loc[chosen & (dates["date"] <= end).fillna(False).to_numpy(dtype=bool)]
    first = family["family_id"].map(dates.groupby("family_id")["date"].min())
    exit_date = family["exit_date"]
    has_exit = exit_date.notna().to_numpy()
    is_event = (first.notna() & (~exit_date.notna() | (first <= exit_date))).fillna(False).to_numpy(dtype=bool)
    competing = ~is_event & has_exit
    stop = first.where(is_event, exit_date.where(competing, family["last_seen"]))
    event_type = np.where(is_event, 1, np.where(competing, 2, 0))
    origin = family["first_contact_date"]
    stop = stop.where(stop >= origin, origin)
    frame = pd.DataFrame({"id": family["family_id"].to_numpy(), "family_id": family["family_id"].to_numpy()})
    return _finish(frame, origin=origin.reset_index(drop=True), stop=stop.reset_index(drop=True), event_type=event_type)


def _need_met(
    tables: Mapping[str, pd.DataFrame],
    family: pd.DataFrame,
    *,
    end: pd.Timestamp,
    met_statuses: Sequence[str],
    closed_statuses: Sequence[str],
    closed_unmet: ClosedUnmet,
) -> pd.DataFrame:
    need = tables["need"]
    frame = pd.DataFrame(
        {
            "id": need["need_id"].astype("string").to_numpy(),
            "family_id": need["family_id"].astype("string").to_numpy(),
            "need_id": need["need_id"].astype("string").to_numpy(),
            "category": need["category"].astype("string").to_numpy(),
            "status": need["status"].astype("string").to_numpy(),
        }
    )
    unknown = int((~frame["family_id"].isin(family["family_id"])).sum())
    if unknown:
        raise SurvivalTableError(f"{unknown} need row(s) have a family_id absent from the table 'family'")
    identified = _dates(need, "identified_date").reset_index(drop=True)
    status_date = _dates(need, "status_date").reset_index(drop=True)
    known_status = (status_date <= end).fillna(False).to_numpy(dtype=bool)
    by_family = family.set_index("family_id")
    exit_date = frame["family_id"].map(by_family["exit_date"])
    last_seen = frame["family_id"].map(by_family["last_seen"])
    has_exit = exit_date.notna().to_numpy()
    before_exit = (~exit_date.notna() | (status_date <= exit_date)).fillna(False).to_numpy(dtype=bool)
    status = frame["status"]
    met = status.isin(list(met_statuses)).fillna(False).to_numpy(dtype=bool) & known_status
    closed = status.isin(list(closed_statuses)).fillna(False).to_numpy(dtype=bool) & known_status & ~met
    is_event = met & before_exit
    closes = closed & before_exit & (closed_unmet != "at_risk")
    competing = ~is_event & ~closes & has_exit
    censored_at = pd.concat([status_date.where(known_status), last_seen], axis=1).max(axis=1).clip(upper=end)
    stop = censored_at.copy()
    stop[competing] = exit_date[competing]
    stop[closes] = status_date[closes]
    stop[is_event] = status_date[is_event]
    stop = stop.fillna(identified)
    event_type = np.zeros(len(frame), dtype=np.int64)
    event_type[is_event] = 1
    event_type[competing] = 2
    if closed_unmet == "competing":
        event_type[closes] = 2
    late = int((stop < identified).sum())
    if late:
        log.info("need_met: %d need(s) end before their identification (duration set to 0)", late)
    stop = stop.where(stop >= identified, identified)
    return _finish(frame, origin=identified, stop=stop, event_type=event_type)


def _dropout(
    tables: Mapping[str, pd.DataFrame],
    family: pd.DataFrame,
    *,
    end: pd.Timestamp,
    wave_months: Sequence[int],
    window_days: int,
    reasons: Sequence[str],
) -> pd.DataFrame:
    from proximite.cohort.followups import FollowupSchedule, wave_windows

    assessment = tables["assessment"]
    assessed = pd.DataFrame(
        {
            "family_id": assessment["family_id"].astype("string"),
            "wave": pd.to_numeric(assessment["wave"]).astype("int64"),
            "assessment_date": _dates(assessment, "assessment_date"),
        }
    )
    assessed = assessed.loc[(assessed["assessment_date"] <= end).fillna(False).to_numpy(dtype=bool)]
    origin = family["consent_date"].fillna(family["first_contact_date"]).reset_index(drop=True)
    last = assessed.sort_values("assessment_date").groupby("family_id").tail(1).set_index("family_id")
    last_date = family["family_id"].map(last["assessment_date"]).reset_index(drop=True)
    last_wave = family["family_id"].map(last["wave"]).reset_index(drop=True)

    # The first wave after the last one answered whose window closed by the end is missed for good.
    schedule = FollowupSchedule(waves=tuple(int(month) for month in wave_months), window_days=int(window_days))
    base = pd.DataFrame(
        {
            "family_id": family["family_id"].to_numpy(),
            "territory_id": "",
            "first_contact_date": family["first_contact_date"].to_numpy(),
            "exit_date": family["exit_date"].to_numpy(),
        }
    )
    windows = wave_windows(base, assessed, schedule=schedule)
    windows["last_wave"] = windows["family_id"].map(dict(zip(family["family_id"], last_wave, strict=True)))
    later = windows["wave"] > windows["last_wave"].fillna(-1)
    following = windows.loc[later].sort_values(["family_id", "wave"]).groupby("family_id").head(1).set_index("family_id")
    missed = following["window_end"] < end
    missed_due = family["family_id"].map(following.loc[missed, "due_date"]).reset_index(drop=True)

    exit_date = family["exit_date"].reset_index(drop=True)
    reason = family["exit_reason"].reset_index(drop=True)
    exact = (exit_date.notna() & reason.isin(list(reasons))).fillna(False).to_numpy(dtype=bool)
    interval = ~exact & missed_due.notna().to_numpy()
    lower_date = last_date.fillna(origin)
    frame = pd.DataFrame({"id": family["family_id"].to_numpy(), "family_id": family["family_id"].to_numpy()})
    lower_days = (lower_date - origin).dt.days.astype("float64").clip(lower=0)
    upper_days = (missed_due - origin).dt.days.astype("float64").clip(lower=0)
    upper_days = np.maximum(upper_days, lower_days)
    middle = origin + pd.to_timedelta(np.floor((lower_days + upper_days) / 2), unit="D")
    stop = lower_date.copy()
    stop[interval] = middle[interval]
    stop[exact] = exit_date[exact]
    stop = stop.where(stop >= origin, origin)
    event_type = np.where(exact | interval, 1, 0)
    result = _finish(frame, origin=origin, stop=stop, event_type=event_type)
    result.loc[interval, "lower"] = lower_days[interval].to_numpy()
    result.loc[interval, "upper"] = upper_days[interval].to_numpy()
    result["interval_censored"] = interval & (result["lower"] < result["upper"]).to_numpy()
    return result


def _covariates(tables: Mapping[str, pd.DataFrame], family: pd.DataFrame) -> pd.DataFrame:
    source = tables["family"].reset_index(drop=True)
    covariates = pd.DataFrame({"family_id": source["family_id"].astype("string")})
    for column in _FAMILY_COVARIATES:
        if column in source.columns:
            covariates[column] = source[column].array
    if "territory" in tables and "territory_id" in covariates.columns:
        territory = tables["territory"]
        keep = ["territory_id", *[column for column in _TERRITORY_COVARIATES if column in territory.columns]]
        territory = territory[keep].astype({"territory_id": "string"}).drop_duplicates("territory_id")
        covariates = covariates.astype({"territory_id": "string"}).merge(territory, on="territory_id", how="left")
    if "assessment" in tables and {"wave", "isolation_index"} <= set(tables["assessment"].columns):
        assessment = tables["assessment"]
        waves = pd.to_numeric(assessment["wave"])
        baseline = assessment.loc[(waves == waves.min()).fillna(False).to_numpy(dtype=bool)]
        index = pd.Series(
            pd.to_numeric(baseline["isolation_index"]).astype("float64").to_numpy(),
            index=baseline["family_id"].astype("string").to_numpy(),
        )
        index = index[~index.index.duplicated()]
        covariates["baseline_isolation_index"] = covariates["family_id"].map(index).astype("Float64")
    if "child" in tables and "family_id" in tables["child"].columns:
        counts = tables["child"]["family_id"].astype("string").value_counts()
        covariates["n_children"] = covariates["family_id"].map(counts).fillna(0).astype("int64")
    return covariates


def _time_varying(subjects: pd.DataFrame, tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Split each subject at its family's assessment days; add the time-varying covariates."""
    stop_all = subjects["duration"].to_numpy(dtype="float64")
    stop_all = np.where(stop_all <= 0, 0.5, stop_all)
    base = subjects.assign(_stop=stop_all)
    if "assessment" in tables:
        assessment = tables["assessment"]
        visits = pd.DataFrame(
            {
                "family_id": assessment["family_id"].astype("string"),
                "date": _dates(assessment, "assessment_date"),
                "isolation_index": pd.to_numeric(assessment["isolation_index"]).astype("float64")
                if "isolation_index" in assessment.columns
                else np.nan,
            }
        ).dropna(subset=["date"])
    else:
        visits = pd.DataFrame({"family_id": pd.Series(dtype="string"), "date": pd.Series(dtype="datetime64[ns]"), "isolation_index": pd.Series(dtype="float64")})
    cuts = base[["id", "family_id", "origin_date", "_stop"]].merge(visits[["family_id", "date"]], on="family_id", how="inner")
    cuts["day"] = (cuts["date"] - cuts["origin_date"]).dt.days.astype("float64")
    cuts = cuts.loc[(cuts["day"] > 0) & (cuts["day"] < cuts["_stop"]), ["id", "day"]].drop_duplicates()
    starts = pd.concat([pd.DataFrame({"id": base["id"], "day": 0.0}), cuts], ignore_index=True)
    starts = starts.sort_values(["id", "day"], kind="stable").reset_index(drop=True)
    rows = starts.merge(base, on="id", how="left", validate="many_to_one")
    rows = rows.rename(columns={"day": "start"})
    rows["stop"] = rows.groupby("id", sort=False)["start"].shift(-1)
    last = rows["stop"].isna()
    rows["stop"] = rows["stop"].fillna(rows["_stop"])
    rows["event"] = np.where(last, rows["event"], 0).astype("int64")
    rows["event_type"] = np.where(last, rows["event_type"], 0).astype("int64")
    rows["at"] = rows["origin_date"] + pd.to_timedelta(rows["start"], unit="D")

    # Cumulative minutes strictly before the row's start date.
    if "activity" in tables and "family_id" in tables["activity"].columns:
        activity = tables["activity"]
        minutes = pd.DataFrame(
            {
                "family_id": activity["family_id"].astype("string"),
                "date": _dates(activity, "activity_date"),
                "minutes": pd.to_numeric(activity["minutes"]).astype("float64"),
            }
        ).dropna(subset=["family_id", "date"])
        minutes = minutes.groupby(["family_id", "date"], as_index=False)["minutes"].sum().sort_values(["family_id", "date"])
        minutes["ptp_minutes_cum"] = minutes.groupby("family_id")["minutes"].cumsum()
        rows["ptp_minutes_cum"] = _asof(rows, minutes, "ptp_minutes_cum", strict=True).fillna(0.0)
    else:
        rows["ptp_minutes_cum"] = np.nan
    indexed = visits.dropna(subset=["isolation_index"])
    latest = _asof(rows, indexed, "isolation_index", strict=False)
    first_index = indexed.sort_values("date", kind="stable").groupby("family_id")["isolation_index"].first()
    rows["isolation_index_latest"] = latest.fillna(rows["family_id"].map(first_index)).astype("float64")
    drop = ["_stop", "at", "lower", "upper", "interval_censored", "end_date", "duration", "duration_months"]
    ordered = ["id", "family_id", "start", "stop", "event", "event_type"]
    rows = rows.drop(columns=drop)
    rows = rows[ordered + [column for column in rows.columns if column not in ordered]]
    rows.attrs.update(subjects.attrs)
    log.info("survival table (start/stop): %d rows for %d subjects", len(rows), int(rows["id"].nunique()))
    return rows.reset_index(drop=True)


def _asof(rows: pd.DataFrame, values: pd.DataFrame, column: str, *, strict: bool) -> pd.Series:
    """For each row, ``column`` of the family's latest ``values`` dated before (strict) or on ``at``."""
    left = rows[["family_id", "at"]].rename_axis("_row").reset_index().rename(columns={"at": "date"})
    left = left.astype({"family_id": "string"}).sort_values("date", kind="stable")
    right = values[["family_id", "date", column]].astype({"family_id": "string"}).sort_values("date", kind="stable")
    if right.empty:
        return pd.Series(np.nan, index=rows.index)
    merged = pd.merge_asof(left, right, on="date", by="family_id", allow_exact_matches=not strict)
    return merged.set_index("_row")[column].reindex(rows.index).astype("float64")
