"""The survival table: origins, events, competing events and censoring on tiny hand-written tables.

Every expected duration is counted by hand from the dates written in the test (2024 is a leap
year: 1 January → 1 March is 60 days).
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest
from proximite.cohort.survival import DAYS_PER_MONTH, SurvivalTableError, build_survival_table

D = pd.Timestamp


def _family(rows: list[dict]) -> pd.DataFrame:
    defaults = {
        "territory_id": "T1",
        "first_contact_date": D("2024-01-01"),
        "consent_date": D("2024-01-01"),
        "exit_date": pd.NaT,
        "exit_reason": pd.NA,
        "isolated_at_contact": True,
        "single_parent": False,
    }
    frame = pd.DataFrame([{**defaults, **row} for row in rows])
    return frame.astype({"family_id": "string", "territory_id": "string", "exit_reason": "string",
                         "isolated_at_contact": "boolean", "single_parent": "boolean"})


TERRITORY = pd.DataFrame(
    {"territory_id": ["T1"], "region_code": ["06"], "environment": ["urbain"], "host_type": ["OCF"]}
).astype("string")


def _row(table: pd.DataFrame, subject: str) -> pd.Series:
    return table.set_index("id").loc[subject]


# ------------------------------------------------------------------------------ first referral
@pytest.fixture()
def referral_tables() -> dict[str, pd.DataFrame]:
    family = _family(
        [
            {"family_id": "A"},  # referred on day 10
            {"family_id": "B"},  # never referred, still followed: censored at its last assessment
            {"family_id": "C", "exit_date": D("2024-02-01"), "exit_reason": "demenagement"},  # left first
            {"family_id": "D"},  # only a partner -> PTP referral: does not count
            {"family_id": "E", "exit_date": D("2024-01-21"), "exit_reason": "autre"},  # referred, then left
        ]
    )
    referral = pd.DataFrame(
        {
            "referral_id": ["r1", "r2", "r3", "r4", "r5"],
            "family_id": ["A", "A", "D", "E", "C"],
            "direction": ["ptp_to_partner", "ptp_to_partner", "partner_to_ptp", "ptp_to_partner", "ptp_to_partner"],
            "referral_date": [D("2024-01-11"), D("2024-01-05") + pd.Timedelta(days=30), D("2024-01-15"), D("2024-01-16"), D("2024-03-01")],
            "outcome_date": pd.NaT,
        }
    )
    assessment = pd.DataFrame(
        {
            "family_id": ["A", "B", "B", "D"],
            "wave": [0, 0, 6, 0],
            "assessment_date": [D("2024-01-20"), D("2024-01-20"), D("2024-03-01"), D("2024-01-25")],
            "isolation_index": [60.0, 40.0, 30.0, 50.0],
        }
    )
    return {"family": family, "referral": referral, "assessment": assessment, "territory": TERRITORY}


def test_first_referral_events_competing_exits_and_censoring(referral_tables: dict[str, pd.DataFrame]) -> None:
    table = build_survival_table(referral_tables, event="first_referral")
    assert list(table["id"]) == ["A", "B", "C", "D", "E"]
    a, b, c, d, e = (_row(table, key) for key in "ABCDE")
    assert (a["duration"], a["event"], a["event_type"]) == (10, 1, 1)  # the earliest of two referrals
    # B: never referred, no exit: censored at its last observation, the T6 assessment (60 days).
    assert (b["duration"], b["event"], b["event_type"]) == (60, 0, 0)
    assert b["upper"] == np.inf and b["lower"] == 60
    # C: left on 1 February before any referral (its referral after the exit is ignored): competing.
    assert (c["duration"], c["event"], c["event_type"]) == (31, 0, 2)
    # D: its only referral came from a partner: censored at its last observation (T0, day 24).
    assert (d["duration"], d["event_type"]) == (24, 0)
    assert (e["duration"], e["event_type"]) == (15, 1)
    assert a["duration_months"] == pytest.approx(10 / DAYS_PER_MONTH)
    assert a["lower"] == a["upper"] == 10
    # Covariates from family and territory, and T0's isolation index.
    assert a["environment"] == "urbain" and a["region_code"] == "06"
    assert a["baseline_isolation_index"] == 60.0
    assert pd.isna(c["baseline_isolation_index"])


def test_both_directions_when_asked(referral_tables: dict[str, pd.DataFrame]) -> None:
    table = build_survival_table(referral_tables, event="first_referral", referral_directions=("ptp_to_partner", "partner_to_ptp"))
    d = _row(table, "D")
    assert (d["duration"], d["event_type"]) == (14, 1)


def test_as_of_ignores_what_comes_after(referral_tables: dict[str, pd.DataFrame]) -> None:
    table = build_survival_table(referral_tables, event="first_referral", as_of="2024-01-08")
    a, c = _row(table, "A"), _row(table, "C")
    # On 8 January A's referral (11 January) and C's exit (1 February) are in the future.
    assert a["event_type"] == 0 and a["duration"] == 0  # last seen: its first contact
    assert c["event_type"] == 0


def test_inputs_are_not_modified(referral_tables: dict[str, pd.DataFrame]) -> None:
    copies = {name: frame.copy(deep=True) for name, frame in referral_tables.items()}
    build_survival_table(referral_tables, event="first_referral", time_varying=True)
    for name, frame in referral_tables.items():
        pd.testing.assert_frame_equal(frame, copies[name])


# ------------------------------------------------------------------------------ need met
@pytest.fixture()
def need_tables() -> dict[str, pd.DataFrame]:
    family = _family(
        [
            {"family_id": "F1", "exit_date": D("2024-03-01"), "exit_reason": "perte_contact"},
            {"family_id": "F2"},
        ]
    )
    need = pd.DataFrame(
        {
            "need_id": ["n1", "n2", "n3", "n4", "n5"],
            "family_id": ["F1", "F1", "F2", "F2", "F1"],
            "category": ["logement", "alimentation", "garde", "transport", "garde"],
            "identified_date": [D("2024-01-10"), D("2024-01-10"), D("2024-01-05"), D("2024-01-05"), D("2024-01-31")],
            "status": ["repondu", "repondu", "en_cours", "aucune_ressource", "en_cours"],
            # n2 is met on 11 March, after its family's exit on 1 March.
            "status_date": [D("2024-02-09"), D("2024-03-11"), D("2024-02-04"), D("2024-01-25"), D("2024-02-10")],
        }
    )
    assessment = pd.DataFrame(
        {"family_id": ["F2", "F2"], "wave": [0, 6], "assessment_date": [D("2024-01-15"), D("2024-04-04")],
         "isolation_index": [70.0, 50.0]}
    )
    return {"family": family, "need": need, "assessment": assessment, "territory": TERRITORY}


def test_need_met_events_and_the_competing_exit(need_tables: dict[str, pd.DataFrame]) -> None:
    table = build_survival_table(need_tables, event="need_met")
    n1, n2, n3, n4, n5 = (_row(table, f"n{k}") for k in range(1, 6))
    assert (n1["duration"], n1["event"], n1["event_type"]) == (30, 1, 1)
    # Met after the family's exit: the exit (1 March, 51 days after identification) competes.
    assert (n2["duration"], n2["event"], n2["event_type"]) == (51, 0, 2)
    # Open need of a family still followed: censored at its last observation (T6 on 4 April = day 90).
    assert (n3["duration"], n3["event"], n3["event_type"]) == (90, 0, 0)
    # Closed for lack of resources: at risk until the last observation by default.
    assert (n4["duration"], n4["event_type"]) == (90, 0)
    # Open need of a family that left: competing at the exit, 30 days after identification.
    assert (n5["duration"], n5["event_type"]) == (30, 2)
    assert set(table.columns) >= {"need_id", "family_id", "category", "status", "event", "event_type", "lower", "upper"}
    assert n1["family_id"] == "F1" and n1["category"] == "logement"


@pytest.mark.parametrize(("mode", "expected_type"), [("censored", 0), ("competing", 2)])
def test_closed_unmet_needs_end_at_their_status_date(need_tables: dict[str, pd.DataFrame], mode: str, expected_type: int) -> None:
    table = build_survival_table(need_tables, event="need_met", closed_unmet=mode)  # type: ignore[arg-type]
    n4 = _row(table, "n4")
    assert (n4["duration"], n4["event"], n4["event_type"]) == (20, 0, expected_type)


def test_need_met_start_stop_rows(need_tables: dict[str, pd.DataFrame]) -> None:
    activity = pd.DataFrame(
        {
            "family_id": ["F2", "F2", "F2", None],
            "activity_date": [D("2024-01-01"), D("2024-01-15"), D("2024-02-01"), D("2024-01-02")],
            "minutes": [60, 30, 45, 999],
        }
    )
    tables = {**need_tables, "activity": activity}
    long = build_survival_table(tables, event="need_met", time_varying=True)
    n3 = long.loc[long["id"] == "n3"].reset_index(drop=True)
    # n3: identified 5 January, censored on day 90 (4 April); split at T0 (15 January = day 10);
    # the T6 assessment falls on day 90 itself, so no split there.
    assert list(n3["start"]) == [0, 10] and list(n3["stop"]) == [10, 90]
    assert list(n3["event"]) == [0, 0]
    # Minutes strictly before each row's start date: 60 (1 Jan) then 60 (the 15 Jan visit is that day).
    assert list(n3["ptp_minutes_cum"]) == [60, 60]
    # Before the first assessment: the first index; from T0 on: T0's.
    assert list(n3["isolation_index_latest"]) == [70, 70]
    n1 = long.loc[long["id"] == "n1"]
    assert list(n1["event"]) == [1] and list(n1["stop"]) == [30]
    assert list(long.columns[:6]) == ["id", "family_id", "start", "stop", "event", "event_type"]
    assert (long["stop"] > long["start"]).all()


# ------------------------------------------------------------------------------ dropout
@pytest.fixture()
def dropout_tables() -> dict[str, pd.DataFrame]:
    family = _family(
        [
            # Lost to contact, exit recorded.
            {"family_id": "P", "exit_date": D("2024-05-01"), "exit_reason": "perte_contact"},
            {"family_id": "Q"},  # answered T0 and T6, then missed T12
            {"family_id": "R"},  # answered every wave: censored at its last assessment
            # Included later; answered T0, its T6 is not due yet.
            {"family_id": "S", "first_contact_date": D("2024-11-01"), "consent_date": D("2024-11-05")},
        ]
    )
    assessment = pd.DataFrame(
        {
            "family_id": ["P", "Q", "Q", "R", "R", "R", "S"],
            "wave": [0, 0, 6, 0, 6, 12, 0],
            "assessment_date": [D("2024-01-11"), D("2024-01-11"), D("2024-07-15"), D("2024-01-11"), D("2024-07-11"),
                                D("2025-01-20"), D("2024-11-10")],
            "isolation_index": [50.0, 60.0, 55.0, 40.0, 35.0, 30.0, 80.0],
        }
    )
    return {"family": family, "assessment": assessment, "territory": TERRITORY}


def test_dropout_exact_interval_and_censored(dropout_tables: dict[str, pd.DataFrame]) -> None:
    table = build_survival_table(dropout_tables, event="dropout", as_of="2025-02-01", wave_months=(0, 6, 12), window_days=45)
    p, q, r, s = (_row(table, key) for key in "PQRS")
    # P: exit for loss of contact on 1 May 2024, 121 days after consent: known to the day.
    assert (p["duration"], p["event"], p["lower"], p["upper"], p["interval_censored"]) == (121, 1, 121, 121, False)
    # Q: last seen at T6 (15 July = day 196). T12 is due on 11 January 2025 (T0 + 12 months,
    # day 376) and its window closes on 25 February: on 1 February Q is still censored.
    assert (q["event"], q["duration"]) == (0, 196)
    # R: answered every wave: censored at T12 (20 January 2025 = day 385).
    assert (r["event"], r["duration"], r["upper"]) == (0, 385, np.inf)
    assert (s["event"], s["duration"]) == (0, 5)

    later = build_survival_table(dropout_tables, event="dropout", as_of="2025-03-01", wave_months=(0, 6, 12), window_days=45)
    q = _row(later, "Q")
    # Now T12's window (11 January ± 45 days) has closed: a drop-out between day 196 and day 376.
    assert (q["event"], q["event_type"], q["lower"], q["upper"], q["interval_censored"]) == (1, 1, 196, 376, True)
    assert q["duration"] == (196 + 376) // 2
    # S: consented 5 November; T6 due 10 May 2025 is not yet due on 1 March: censored at T0.
    assert _row(later, "S")["event"] == 0


def test_dropout_origin_is_inclusion(dropout_tables: dict[str, pd.DataFrame]) -> None:
    table = build_survival_table(dropout_tables, event="dropout", as_of="2025-02-01")
    s = _row(table, "S")
    assert s["origin_date"] == D("2024-11-05")


# ------------------------------------------------------------------------------ errors, logs
def test_errors_name_the_rule_and_never_a_row(referral_tables: dict[str, pd.DataFrame], caplog: pytest.LogCaptureFixture) -> None:
    with pytest.raises(SurvivalTableError, match="unknown event 'death'.*first_referral, need_met, dropout"):
        build_survival_table(referral_tables, event="death")
    with pytest.raises(SurvivalTableError, match="needs the table 'need'"):
        build_survival_table(referral_tables, event="need_met")
    broken = {**referral_tables, "referral": referral_tables["referral"].drop(columns=["direction"])}
    with pytest.raises(SurvivalTableError, match="lacks the column.*direction") as caught:
        build_survival_table(broken, event="first_referral")
    with pytest.raises(SurvivalTableError, match="closed_unmet"):
        build_survival_table(referral_tables, event="first_referral", closed_unmet="drop")  # type: ignore[arg-type]
    orphan = {
        "family": referral_tables["family"],
        "need": pd.DataFrame({"need_id": ["x"], "family_id": ["ZZZ-secret"], "category": ["garde"],
                              "identified_date": [D("2024-01-01")], "status": ["en_cours"], "status_date": [pd.NaT]}),
    }
    with pytest.raises(SurvivalTableError, match="1 need row") as orphan_error:
        build_survival_table(orphan, event="need_met")
    assert "ZZZ-secret" not in str(orphan_error.value)
    assert "r1" not in str(caught.value)
    with caplog.at_level(logging.INFO, logger="proximite.cohort.survival"):
        build_survival_table(referral_tables, event="first_referral")
    text = caplog.text
    assert "5 subjects, 2 events, 1 competing, 2 censored" in text
    for family_id in "ABCDE":
        assert f" {family_id} " not in text and f"'{family_id}'" not in text


def test_cohort_survival_table_is_the_real_function_with_its_real_signature() -> None:
    import inspect

    import proximite.cohort as cohort
    from proximite.cohort import survival

    assert cohort.survival_table is survival.survival_table
    assert inspect.signature(cohort.survival_table) == inspect.signature(survival.survival_table)
    assert "event" in inspect.signature(cohort.survival_table).parameters
