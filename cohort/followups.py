"""Follow-ups due: which families' next wave window is open, closing soon, or overdue.

Coordinators chase these families inside REDCap: their lists (``proximite followups``, the
internal snapshot's follow-up page) carry the REDCap record id beside the pseudonymous id,
resolved with the pseudonym key over the latest staged REDCap pull
(:func:`proximite.cohort.record_lookup.record_ids_for`). Public and decision-maker outputs never
list families. Pure functions over the harmonised ``family`` and ``assessment`` tables.

The schedule (DESIGN, *Waves*): T0 is due within ``baseline_within_days`` of the first contact;
wave *k* is due at T0 + *k* months (from the T0 assessment's date, or from the first contact while
T0 is missing), give or take ``window_days``.

:func:`followups_from_warehouse` is the step the CLI (``proximite followups``) and the internal
snapshot call: it reads the two tables from the warehouse and returns a :class:`FollowupReport`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from proximite.errors import ProximiteError

if TYPE_CHECKING:  # pragma: no cover
    from proximite.config import Settings

__all__ = [
    "FOLLOWUP_STATUSES",
    "FollowupError",
    "FollowupReport",
    "FollowupSchedule",
    "followup_completion",
    "followups_due",
    "followups_from_warehouse",
    "wave_windows",
]

#: Statuses of a due follow-up, most urgent last.
FOLLOWUP_STATUSES: tuple[str, ...] = ("open", "closing", "overdue")


@dataclass(frozen=True)
class FollowupSchedule:
    """The wave schedule and the coordinators' warning horizon.

    Attributes
    ----------
    waves : tuple of int
        Wave months, T0 first.
    window_days : int
        Half-width of a later wave's window around its due date.
    baseline_within_days : int
        T0's window: from the first contact to this many days after it.
    closing_days : int
        A window closing within this many days is flagged ``closing``.
    """

    waves: tuple[int, ...] = (0, 6, 12, 24)
    window_days: int = 45
    baseline_within_days: int = 30
    closing_days: int = 14

    @classmethod
    def from_settings(cls, settings, *, closing_days: int = 14) -> FollowupSchedule:  # noqa: ANN001
        """The schedule of a project's ``[waves]`` settings."""
        waves = settings.raw.get("waves", {})
        return cls(
            waves=tuple(int(month) for month in waves.get("months", cls.waves)),
            window_days=int(waves.get("window_days", cls.window_days)),
            baseline_within_days=int(waves.get("baseline_within_days", cls.baseline_within_days)),
            closing_days=closing_days,
        )


def wave_windows(family: pd.DataFrame, assessment: pd.DataFrame, *, schedule: FollowupSchedule) -> pd.DataFrame:
    """Every family's window for every wave, and whether the wave was completed.

    Returns
    -------
    DataFrame
        One row per (family, wave): ``family_id``, ``territory_id``, ``wave``, ``due_date``,
        ``window_start``, ``window_end`` (inclusive), ``completed`` (an assessment exists),
        ``exit_date``.

    Notes
    -----
    T0: due on the first contact, window ``[contact, contact + baseline_within_days]``. Wave
    :math:`k > 0`: due :math:`d_k = t_0 + k` months where :math:`t_0` is the T0 assessment's
    date (the first contact while T0 is missing), window :math:`[d_k - w, d_k + w]`.
    """
    families = family[["family_id", "territory_id", "first_contact_date", "exit_date"]].copy()
    assessed = assessment[["family_id", "wave", "assessment_date"]].copy()
    t0 = assessed.loc[assessed["wave"] == 0, ["family_id", "assessment_date"]].rename(columns={"assessment_date": "t0_date"})
    families = families.merge(t0.drop_duplicates("family_id"), on="family_id", how="left")
    anchor = pd.to_datetime(families["t0_date"]).fillna(pd.to_datetime(families["first_contact_date"]))
    contact = pd.to_datetime(families["first_contact_date"])
    pieces = []
    for wave in schedule.waves:
        piece = families[["family_id", "territory_id", "exit_date"]].copy()
        piece["wave"] = wave
        if wave == 0:
            piece["due_date"] = contact
            piece["window_start"] = contact
            piece["window_end"] = contact + pd.Timedelta(days=schedule.baseline_within_days)
        else:
            due = anchor + pd.DateOffset(months=wave)
            piece["due_date"] = due
            piece["window_start"] = due - pd.Timedelta(days=schedule.window_days)
            piece["window_end"] = due + pd.Timedelta(days=schedule.window_days)
        pieces.append(piece)
    windows = pd.concat(pieces, ignore_index=True)
    done = assessed[["family_id", "wave"]].drop_duplicates().assign(completed=True)
    windows = windows.merge(done, on=["family_id", "wave"], how="left")
    windows["completed"] = windows["completed"].eq(True)
    windows["wave"] = windows["wave"].astype("int64")
    columns = ["family_id", "territory_id", "wave", "due_date", "window_start", "window_end", "completed", "exit_date"]
    return windows[columns].sort_values(["territory_id", "family_id", "wave"], kind="stable").reset_index(drop=True)


def followups_due(
    family: pd.DataFrame,
    assessment: pd.DataFrame,
    *,
    as_of: dt.date,
    schedule: FollowupSchedule | None = None,
    territories: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Families whose next follow-up is open, closing soon or overdue on ``as_of``.

    Parameters
    ----------
    family, assessment : DataFrame
        Harmonised tables (not modified).
    as_of : date, keyword-only
        The day the list is for.
    schedule : FollowupSchedule, keyword-only
    territories : sequence of str, keyword-only
        Keep these territories only (default: all).

    Returns
    -------
    DataFrame
        One row per family with a follow-up to chase: ``territory_id``, ``family_id``
        (pseudonymous), ``wave``, ``due_date``, ``window_start``, ``window_end``, ``status``
        (``open``, ``closing``, ``overdue``) and ``days_left`` (negative when overdue), sorted by
        territory, then most urgent first.

    Notes
    -----
    A family's *next* wave is its first wave without an assessment whose window has opened by
    ``as_of`` and is not superseded: once the following wave's window opens, an earlier missed
    wave is no longer chased (it counts as missed in :func:`followup_completion`). With
    :math:`e` the window's end and :math:`c` ``closing_days``: ``open`` when
    :math:`e - \\text{as\\_of} > c`, ``closing`` when :math:`0 \\le e - \\text{as\\_of} \\le c`,
    ``overdue`` when :math:`\\text{as\\_of} > e`. Families whose accompaniment ended (an exit
    date on or before ``as_of``) are not chased.
    """
    schedule = schedule or FollowupSchedule()
    windows = wave_windows(family, assessment, schedule=schedule)
    day = pd.Timestamp(as_of)
    if territories is not None:
        windows = windows[windows["territory_id"].isin(list(territories))]
    active = windows["exit_date"].isna() | (pd.to_datetime(windows["exit_date"]) > day)
    windows = windows[active]
    # The wave whose window opened most recently is the one to chase; earlier ones are superseded.
    opened = windows[windows["window_start"] <= day]
    current = opened.sort_values(["family_id", "wave"]).groupby("family_id", sort=False).tail(1)
    pending = current[~current["completed"]].copy()
    pending["days_left"] = (pending["window_end"] - day).dt.days.astype("int64")
    pending["status"] = np.select(
        [pending["days_left"] < 0, pending["days_left"] <= schedule.closing_days],
        ["overdue", "closing"],
        default="open",
    )
    urgency = pending["status"].map({status: rank for rank, status in enumerate(reversed(FOLLOWUP_STATUSES))})
    pending = pending.assign(_urgency=urgency).sort_values(
        ["territory_id", "_urgency", "days_left", "family_id"], kind="stable"
    )
    columns = ["territory_id", "family_id", "wave", "due_date", "window_start", "window_end", "status", "days_left"]
    result = pending[columns].reset_index(drop=True)
    result["status"] = result["status"].astype("string")
    return result


def followup_completion(
    family: pd.DataFrame,
    assessment: pd.DataFrame,
    *,
    as_of: dt.date,
    schedule: FollowupSchedule | None = None,
) -> pd.DataFrame:
    """Completion and attrition by territory and wave on ``as_of``.

    Returns
    -------
    DataFrame
        One row per (territory_id, wave) plus ``territory_id = "all"``: ``due`` (families whose
        window has closed by ``as_of``, or who were assessed), ``completed``, ``missed``
        (due but not assessed), ``exited`` (of the missed, those whose accompaniment ended before
        the window closed), ``completion_rate`` (completed / due) and ``attrition_rate``
        (1 − completed at the wave / completed at T0, among families due at that wave).

    Notes
    -----
    Counts only: the table never lists a family.
    """
    schedule = schedule or FollowupSchedule()
    windows = wave_windows(family, assessment, schedule=schedule)
    day = pd.Timestamp(as_of)
    due = windows[(windows["window_end"] < day) | windows["completed"]].copy()
    baseline = windows.loc[windows["wave"] == 0, ["family_id", "completed"]].rename(columns={"completed": "t0_done"})
    due = due.merge(baseline, on="family_id", how="left")
    due["exited"] = ~due["completed"] & due["exit_date"].notna() & (pd.to_datetime(due["exit_date"]) <= due["window_end"])
    both = pd.concat([due, due.assign(territory_id="all")], ignore_index=True)
    grouped = both.groupby(["territory_id", "wave"], sort=True)
    table = grouped.agg(
        due=("family_id", "size"),
        completed=("completed", "sum"),
        exited=("exited", "sum"),
        t0_completed=("t0_done", "sum"),
    ).reset_index()
    table["missed"] = table["due"] - table["completed"]
    with np.errstate(divide="ignore", invalid="ignore"):
        table["completion_rate"] = table["completed"] / table["due"]
        table["attrition_rate"] = np.where(table["wave"] == 0, 0.0, 1 - table["completed"] / table["t0_completed"])
    columns = ["territory_id", "wave", "due", "completed", "missed", "exited", "completion_rate", "attrition_rate"]
    return table[columns].astype({"due": "int64", "completed": "int64", "missed": "int64", "exited": "int64"})


# ------------------------------------------------------------------------------ the step
class FollowupError(ProximiteError, ValueError):
    """A follow-up list cannot be made as asked (an unknown territory, a malformed date)."""


@dataclass(frozen=True)
class FollowupReport:
    """The follow-ups due and the completion by wave of a project's warehouse on one day.

    Attributes
    ----------
    due : DataFrame
        :func:`followups_due`'s table (pseudonymous family ids; most urgent first per territory).
    completion : DataFrame
        :func:`followup_completion`'s table for the territories asked (``"all"`` is their total);
        a rate that has no denominator is missing (NaN), never infinite.
    as_of : date
        The day the lists are for.
    build_id : str or None
        The warehouse build they were computed from.
    territories : tuple of str
        The territories covered (every territory of the warehouse when none was asked).
    territory_names : mapping of str to str
        ``territory_id`` → the territory's name, for display.
    closing_days : int
        The horizon of the ``closing`` status.
    record_ids_reason : str or None
        Why some ``record_id`` cells of ``due`` are empty: ``"no_key"``, ``"no_pull"``,
        ``"not_found"`` (:class:`~proximite.cohort.record_lookup.RecordIds`), ``"not_asked"`` when
        the report was made without record ids, ``None`` when every family has its record id.
    record_ids_detail : str
        The configuration error behind ``"no_key"`` (where the key was looked for).
    """

    due: pd.DataFrame
    completion: pd.DataFrame
    as_of: dt.date
    build_id: str | None
    territories: tuple[str, ...]
    territory_names: Mapping[str, str] = field(default_factory=dict)
    closing_days: int = 14
    record_ids_reason: str | None = None
    record_ids_detail: str = ""

    @property
    def missing_record_ids(self) -> int:
        """Due families shown without a REDCap record id (all of them when the column is absent)."""
        if "record_id" not in self.due.columns:
            return len(self.due)
        return int(self.due["record_id"].isna().sum())

    def status_counts(self) -> dict[str, int]:
        """Follow-ups due per status, most urgent first (every status, zeros included)."""
        counts = self.due["status"].value_counts()
        return {status: int(counts.get(status, 0)) for status in reversed(FOLLOWUP_STATUSES)}


def followups_from_warehouse(
    settings: Settings,
    *,
    as_of: dt.date | None = None,
    territories: Sequence[str] | None = None,
    closing_days: int = 14,
    record_ids: bool = True,
) -> FollowupReport:
    """Follow-ups due and completion by wave, from the project's current warehouse.

    Parameters
    ----------
    settings : Settings
        The project (its warehouse and its ``[waves]`` schedule).
    as_of : date, keyword-only
        The day the lists are for (default: today). Assessments dated after it are ignored, so
        a past date gives the lists as they stood that day.
    territories : sequence of str, keyword-only
        Keep these territory ids only (default: every territory).
    closing_days : int, keyword-only
        A window closing within this many days is ``closing`` (default 14).
    record_ids : bool, keyword-only
        Put each due family's REDCap record id beside its pseudonym (column ``record_id``, empty
        where it cannot be resolved: the report's ``record_ids_reason`` says why). Default true:
        the report is for coordinators, who see record ids in REDCap anyway.

    Returns
    -------
    FollowupReport

    Raises
    ------
    WarehouseNotFoundError
        The project has no warehouse yet.
    FollowupError
        A territory id the warehouse does not have (the message lists the known ones).

    Notes
    -----
    Reads the ``territory``, ``family`` and ``assessment`` tables, then applies
    :func:`followups_due` and :func:`followup_completion` with the schedule of
    :meth:`FollowupSchedule.from_settings`. With territories asked, the families of the
    other territories are left out before computing, so completion's ``"all"`` row is the total
    of the territories asked.
    """
    from proximite.cohort.warehouse import WarehouseNotFoundError, current_build, table

    build = current_build(settings)
    if build is None:
        raise WarehouseNotFoundError(f"no warehouse at {settings.warehouse_path}; run `proximite build` first")
    day = as_of or dt.date.today()
    territory = table(settings, "territory")
    known = territory["territory_id"].astype(str).tolist()
    chosen = _check_territories(territories, known=known)
    family = table(settings, "family")
    assessment = table(settings, "assessment")
    family = family[family["territory_id"].astype(str).isin(chosen)]
    # An assessment dated after the day had not happened yet on that day.
    dated = pd.to_datetime(assessment["assessment_date"])
    assessment = assessment[dated.isna() | (dated <= pd.Timestamp(day))]
    schedule = FollowupSchedule.from_settings(settings, closing_days=closing_days)
    due = followups_due(family, assessment, as_of=day, schedule=schedule)
    completion = followup_completion(family, assessment, as_of=day, schedule=schedule)
    rates = ["completion_rate", "attrition_rate"]
    # No family completed T0 among those due at a later wave: the rate has no denominator.
    completion[rates] = completion[rates].replace([np.inf, -np.inf], np.nan)
    names = dict(zip(known, territory["name"].astype(str))) if "name" in territory.columns else {}
    due, reason, detail = _with_record_ids(settings, due) if record_ids else (due, "not_asked", "")
    return FollowupReport(
        due=due,
        completion=completion,
        as_of=day,
        build_id=build.build_id,
        territories=tuple(chosen),
        territory_names=names,
        closing_days=closing_days,
        record_ids_reason=reason,
        record_ids_detail=detail,
    )


def _with_record_ids(settings: Settings, due: pd.DataFrame) -> tuple[pd.DataFrame, str | None, str]:
    """``due`` with a ``record_id`` column right after ``family_id``, and why cells are empty."""
    from proximite.cohort.record_lookup import record_ids_for

    found = record_ids_for(settings, due["family_id"])
    result = due.copy()
    result.insert(result.columns.get_loc("family_id") + 1, "record_id", found.record_id)
    return result, found.reason, found.detail


def _check_territories(asked: Sequence[str] | None, *, known: Sequence[str]) -> list[str]:
    """The territory ids asked, sorted and without repeats (every known id when none was asked)."""
    if not asked:
        return sorted(known)
    unknown = sorted(set(asked) - set(known))
    if unknown:
        raise FollowupError(
            f"unknown territory id(s) {', '.join(repr(ident) for ident in unknown)}: the warehouse's territory table "
            f"has {', '.join(sorted(known))}; `proximite followups` without --territory lists every territory"
        )
    return sorted(set(asked))
