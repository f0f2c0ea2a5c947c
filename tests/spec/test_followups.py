"""Follow-ups due and completion by wave, on tiny schedules worked out by hand."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from proximite.cohort.followups import FollowupSchedule, followup_completion, followups_due, wave_windows

SCHEDULE = FollowupSchedule(waves=(0, 6, 12), window_days=45, baseline_within_days=30, closing_days=14)


def _tables() -> tuple[pd.DataFrame, pd.DataFrame]:
    family = pd.DataFrame(
        {
            "family_id": ["fa", "fb", "fc", "fd", "fe"],
            "territory_id": ["T1", "T1", "T1", "T2", "T2"],
            "first_contact_date": pd.to_datetime(["2024-01-01", "2024-01-01", "2024-01-01", "2024-02-01", "2024-06-20"]),
            "exit_date": pd.to_datetime([None, None, "2024-05-01", None, None]),
        }
    )
    # T0 on 2024-01-10 for fa, fb, fc (T6 due 2024-07-10, window 2024-05-26 .. 2024-08-24);
    # fd's T0 on 2024-02-05 (T6 due 2024-08-05, window 2024-06-21 .. 2024-09-19), fd already did T6;
    # fe has no T0 yet: T0 window 2024-06-20 .. 2024-07-20.
    assessment = pd.DataFrame(
        {
            "family_id": ["fa", "fb", "fc", "fd", "fd"],
            "wave": [0, 0, 0, 0, 6],
            "assessment_date": pd.to_datetime(["2024-01-10", "2024-01-10", "2024-01-10", "2024-02-05", "2024-08-01"]),
        }
    )
    return family, assessment


def test_windows_follow_t0_and_the_first_contact() -> None:
    family, assessment = _tables()
    windows = wave_windows(family, assessment, schedule=SCHEDULE).set_index(["family_id", "wave"])
    assert windows.loc[("fa", 6), "due_date"] == pd.Timestamp("2024-07-10")
    assert windows.loc[("fa", 6), "window_start"] == pd.Timestamp("2024-05-26")
    assert windows.loc[("fa", 6), "window_end"] == pd.Timestamp("2024-08-24")
    # Without a T0 the schedule hangs on the first contact.
    assert windows.loc[("fe", 0), "window_end"] == pd.Timestamp("2024-07-20")
    assert windows.loc[("fe", 6), "due_date"] == pd.Timestamp("2024-12-20")
    assert bool(windows.loc[("fd", 6), "completed"]) and not bool(windows.loc[("fa", 6), "completed"])


@pytest.mark.parametrize(
    ("as_of", "expected"),
    [
        # fa, fb: T6 window open, 2024-08-24 - 2024-07-01 = 54 days left; fe: T0 closes in 19 days.
        ("2024-07-01", {"fa": ("open", 6, 54), "fb": ("open", 6, 54), "fe": ("open", 0, 19)}),
        # 2024-08-15: fa, fb close in 9 days; fe's T0 window closed 26 days ago.
        ("2024-08-15", {"fa": ("closing", 6, 9), "fb": ("closing", 6, 9), "fe": ("overdue", 0, -26)}),
        # 2024-05-01: nothing open yet for fa, fb (window opens 2024-05-26); fc exited that day; fe not contacted.
        ("2024-05-01", {}),
    ],
)
def test_next_follow_up_status(as_of: str, expected: dict[str, tuple[str, int, int]]) -> None:
    family, assessment = _tables()
    due = followups_due(family, assessment, as_of=dt.date.fromisoformat(as_of), schedule=SCHEDULE)
    got = {row.family_id: (row.status, row.wave, row.days_left) for row in due.itertuples()}
    assert got == expected
    assert set(due.columns) == {"territory_id", "family_id", "wave", "due_date", "window_start", "window_end", "status", "days_left"}


def test_a_missed_wave_is_superseded_once_the_next_window_opens() -> None:
    family, assessment = _tables()
    # 2025-01-01: fa's T12 window (due 2025-01-10) opened 2024-11-26; its missed T6 is not chased any more.
    due = followups_due(family, assessment, as_of=dt.date(2025, 1, 1), schedule=SCHEDULE)
    fa = due[due["family_id"] == "fa"].iloc[0]
    assert (fa["wave"], fa["status"], fa["days_left"]) == (12, "open", 54)


def test_filter_by_territory_and_urgency_order() -> None:
    family, assessment = _tables()
    due = followups_due(family, assessment, as_of=dt.date(2024, 8, 15), schedule=SCHEDULE, territories=["T2"])
    assert due["family_id"].tolist() == ["fe"]
    everyone = followups_due(family, assessment, as_of=dt.date(2024, 8, 15), schedule=SCHEDULE)
    assert everyone["territory_id"].tolist() == ["T1", "T1", "T2"]


def test_completion_and_attrition_by_wave() -> None:
    family, assessment = _tables()
    table = followup_completion(family, assessment, as_of=dt.date(2024, 10, 1), schedule=SCHEDULE)
    table = table.set_index(["territory_id", "wave"])
    # T6 windows closed by 2024-10-01 for fa, fb, fc (2024-08-24) and fd (2024-09-19, and assessed).
    row = table.loc[("all", 6)]
    assert (row["due"], row["completed"], row["missed"], row["exited"]) == (4, 1, 3, 1)
    assert row["completion_rate"] == pytest.approx(1 / 4)
    assert row["attrition_rate"] == pytest.approx(1 - 1 / 4)
    # T0: fa..fd assessed; fe's window closed 2024-07-20 without one.
    row = table.loc[("all", 0)]
    assert (row["due"], row["completed"], row["missed"]) == (5, 4, 1)
    assert table.loc[("T1", 6), "exited"] == 1  # fc left on 2024-05-01, before its T6 window closed


def test_inputs_are_not_modified() -> None:
    family, assessment = _tables()
    before = (family.copy(deep=True), assessment.copy(deep=True))
    followups_due(family, assessment, as_of=dt.date(2024, 8, 15), schedule=SCHEDULE)
    followup_completion(family, assessment, as_of=dt.date(2024, 8, 15), schedule=SCHEDULE)
    pd.testing.assert_frame_equal(family, before[0])
    pd.testing.assert_frame_equal(assessment, before[1])
