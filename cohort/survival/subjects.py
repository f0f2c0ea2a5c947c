"""One row per subject for each event: its origin, its end, and how it ended."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from proximite.cohort.survival.rules import DAYS_PER_MONTH, ClosedUnmet, SurvivalTableError

log = logging.getLogger(__name__)

__all__ = [
    "data_end",
    "day_dates",
    "dropout_subjects",
    "family_frame",
    "finish_subjects",
    "first_referral_subjects",
    "need_met_subjects",
]


def day_dates(frame: pd.DataFrame, column: str) -> pd.Series:
    """A date column as day-precision ``datetime64[ns]`` (DuckDB may give other units)."""
    return pd.to_datetime(frame[column]).astype("datetime64[ns]").dt.normalize()


def data_end(tables: Mapping[str, pd.DataFrame], as_of: str | pd.Timestamp | None) -> pd.Timestamp:
    """The end of the data: ``as_of``, else the latest date of the tables."""
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
        day_dates(tables[name], column).max()
        for name, names in columns.items()
        if name in tables
        for column in names
        if column in tables[name].columns
    ]
    latest = [value for value in latest if not pd.isna(value)]
    if not latest:
        raise SurvivalTableError("no dated row in the tables: the data end cannot be set (give as_of)")
    return pd.Timestamp(max(latest))


def family_frame(tables: Mapping[str, pd.DataFrame], *, end: pd.Timestamp) -> pd.DataFrame:
    """family_id, first contact, consent, exit (known by the end), exit reason, last observation."""
    family = tables["family"].reset_index(drop=True)
    frame = pd.DataFrame({"family_id": family["family_id"].astype("string")})
    frame["first_contact_date"] = day_dates(family, "first_contact_date")
    frame["consent_date"] = day_dates(family, "consent_date") if "consent_date" in family.columns else pd.NaT
    exit_date = day_dates(family, "exit_date")
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
                piece = pd.DataFrame({"family_id": tables[name]["family_id"].astype("string"), "date": day_dates(tables[name], column)})
                dated.append(piece.dropna())
    dates = pd.concat(dated, ignore_index=True)
    dates = dates.loc[(dates["date"] <= end).fillna(False).to_numpy(dtype=bool)]
    last_seen = dates.groupby("family_id", sort=False)["date"].max()
    frame["last_seen"] = frame["exit_date"].fillna(frame["family_id"].map(last_seen)).fillna(frame["first_contact_date"])
    return frame


def finish_subjects(frame: pd.DataFrame, *, origin: pd.Series, stop: pd.Series, event_type: np.ndarray) -> pd.DataFrame:
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


def first_referral_subjects(
    tables: Mapping[str, pd.DataFrame], family: pd.DataFrame, *, end: pd.Timestamp, directions: Sequence[str]
) -> pd.DataFrame:
    """One row per family: first contact to its first referral (competing: its exit)."""
    referral = tables["referral"]
    chosen = referral["direction"].astype("string").isin(list(directions)).fillna(False).to_numpy(dtype=bool)
    dates = pd.DataFrame({"family_id": referral["family_id"].astype("string"), "date": day_dates(referral, "referral_date")})
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
    return finish_subjects(frame, origin=origin.reset_index(drop=True), stop=stop.reset_index(drop=True), event_type=event_type)


def need_met_subjects(
    tables: Mapping[str, pd.DataFrame],
    family: pd.DataFrame,
    *,
    end: pd.Timestamp,
    met_statuses: Sequence[str],
    closed_statuses: Sequence[str],
    closed_unmet: ClosedUnmet,
) -> pd.DataFrame:
    """One row per need: identification to its status met (competing: the family exits first)."""
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
    identified = day_dates(need, "identified_date").reset_index(drop=True)
    status_date = day_dates(need, "status_date").reset_index(drop=True)
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
    return finish_subjects(frame, origin=identified, stop=stop, event_type=event_type)


def dropout_subjects(
    tables: Mapping[str, pd.DataFrame],
    family: pd.DataFrame,
    *,
    end: pd.Timestamp,
    wave_months: Sequence[int],
    window_days: int,
    reasons: Sequence[str],
) -> pd.DataFrame:
    """One row per family: consent to leaving the follow-up (exact exit, or a missed wave as an interval)."""
    from proximite.cohort.followups import FollowupSchedule, wave_windows

    assessment = tables["assessment"]
    assessed = pd.DataFrame(
        {
            "family_id": assessment["family_id"].astype("string"),
            "wave": pd.to_numeric(assessment["wave"]).astype("int64"),
            "assessment_date": day_dates(assessment, "assessment_date"),
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
    result = finish_subjects(frame, origin=origin, stop=stop, event_type=event_type)
    result.loc[interval, "lower"] = lower_days[interval].to_numpy()
    result.loc[interval, "upper"] = upper_days[interval].to_numpy()
    result["interval_censored"] = interval & (result["lower"] < result["upper"]).to_numpy()
    return result
