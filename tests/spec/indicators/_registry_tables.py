"""Tiny registry tables for the concertation and implementation spec tests.

One small world, the same in every test: three territories, eleven organisations, one family per
territory; each test writes only the referrals, activities, tenures and supervision sessions it
needs, as short tuples, and reads back one indicator row with :func:`pick`. The periods are
calendar years (``PARAMETERS``), so they do not depend on first-contact dates.

==========  ======  ===========  =========  ==========================================
territory   region  environment  host type  organisations (host first)
==========  ======  ===========  =========  ==========================================
T1          01      urbain       OCF        H1; P1a, P1b communautaire; P1c public_sss;
                                            P1d services_garde; P1e education
T2          01      rural        CPSC       H2; P2a education
T3          02      urbain       OCF        H3; P3a communautaire; P3b immigration
==========  ======  ===========  =========  ==========================================
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd

from proximite.cohort.codebook import load_codebook
from proximite.indicators.base import IndicatorParameters

#: Calendar-year periods, 95 % intervals, both strata.
PARAMETERS = IndicatorParameters(periods="year")

TERRITORIES = [
    ("T1", "01", "urbain", "OCF"),
    ("T2", "01", "rural", "CPSC"),
    ("T3", "02", "urbain", "OCF"),
]
ORGANISATIONS = [
    ("H1", "T1", "communautaire", True),
    ("P1a", "T1", "communautaire", False),
    ("P1b", "T1", "communautaire", False),
    ("P1c", "T1", "public_sss", False),
    ("P1d", "T1", "services_garde", False),
    ("P1e", "T1", "education", False),
    ("H2", "T2", "communautaire", True),
    ("P2a", "T2", "education", False),
    ("H3", "T3", "communautaire", True),
    ("P3a", "T3", "communautaire", False),
    ("P3b", "T3", "immigration", False),
]

Referral = tuple[str, str, str | None, str | None, str]
"""(territory, direction, from_org_id, to_org_id, date)."""
Activity = tuple[str, str, str, int, str, int | None, str | None]
"""(territory, worker, date, minutes, action_type, travel_minutes, org_id)."""
Tenure = tuple[str, str, str, str | None]
"""(worker, territory, start_date, end_date or None)."""
Session = tuple[str, str, int]
"""(worker, session_date, minutes)."""


def _dates(values: Iterable[str | None]) -> pd.Series:
    return pd.Series(pd.to_datetime(list(values)), dtype="datetime64[ns]")


def registry_tables(
    *,
    referrals: Iterable[Referral] = (),
    activities: Iterable[Activity] = (),
    tenures: Iterable[Tenure] = (),
    sessions: Iterable[Session] = (),
) -> dict[str, pd.DataFrame]:
    """The harmonised tables of the tiny world with these registry rows (typed like the warehouse)."""
    codebook = load_codebook()
    referrals, activities, tenures, sessions = list(referrals), list(activities), list(tenures), list(sessions)
    territory = pd.DataFrame(TERRITORIES, columns=["territory_id", "region_code", "environment", "host_type"])
    territory["name"] = territory["territory_id"]
    territory["redcap_dag"] = territory["territory_id"].str.lower()
    territory = territory.astype("string")
    organisation = pd.DataFrame(ORGANISATIONS, columns=["org_id", "territory_id", "network", "is_host"])
    organisation = organisation.assign(name=organisation["org_id"], mission="famille_enfance").astype(
        {"org_id": "string", "territory_id": "string", "network": "string", "is_host": "boolean",
         "name": "string", "mission": "string"}
    )
    family = pd.DataFrame(
        {
            "family_id": pd.Series([f"F{t}" for t, *_ in TERRITORIES], dtype="string"),
            "territory_id": pd.Series([t for t, *_ in TERRITORIES], dtype="string"),
            "first_contact_date": _dates(["2024-01-01"] * len(TERRITORIES)),
        }
    )
    referral = pd.DataFrame(
        {
            "referral_id": pd.Series([f"R{i}" for i in range(len(referrals))], dtype="string"),
            "family_id": pd.Series([f"F{r[0]}" for r in referrals], dtype="string"),
            "direction": pd.Series([r[1] for r in referrals], dtype="string"),
            "from_org_id": pd.Series([r[2] for r in referrals], dtype="string"),
            "to_org_id": pd.Series([r[3] for r in referrals], dtype="string"),
            "need_category": pd.Series(["logement"] * len(referrals), dtype="string"),
            "referral_date": _dates([r[4] for r in referrals]),
        }
    )
    activity = pd.DataFrame(
        {
            "activity_id": pd.Series([f"A{i}" for i in range(len(activities))], dtype="string"),
            "worker_id": pd.Series([a[1] for a in activities], dtype="string"),
            "territory_id": pd.Series([a[0] for a in activities], dtype="string"),
            "activity_date": _dates([a[2] for a in activities]),
            "minutes": pd.Series([a[3] for a in activities], dtype="Int64"),
            "action_type": pd.Series([a[4] for a in activities], dtype="string"),
            "component": pd.Series([codebook.component_of(a[4]) for a in activities], dtype="string"),
            "family_id": pd.Series([None] * len(activities), dtype="string"),
            "org_id": pd.Series([a[6] for a in activities], dtype="string"),
            "travel_minutes": pd.Series([a[5] for a in activities], dtype="Int64"),
        }
    )
    worker = pd.DataFrame(
        {
            "worker_id": pd.Series([w[0] for w in tenures], dtype="string"),
            "territory_id": pd.Series([w[1] for w in tenures], dtype="string"),
            "start_date": _dates([w[2] for w in tenures]),
            "end_date": _dates([w[3] for w in tenures]),
            "weekly_hours": pd.Series([35.0] * len(tenures), dtype="Float64"),
        }
    )
    supervision = pd.DataFrame(
        {
            "worker_id": pd.Series([s[0] for s in sessions], dtype="string"),
            "session_date": _dates([s[1] for s in sessions]),
            "kind": pd.Series(["clinique"] * len(sessions), dtype="string"),
            "minutes": pd.Series([s[2] for s in sessions], dtype="Int64"),
        }
    )
    return {
        "territory": territory,
        "organisation": organisation,
        "family": family,
        "referral": referral,
        "activity": activity,
        "worker": worker,
        "supervision": supervision,
    }


def rows(frame: pd.DataFrame, indicator: str, **labels: Any) -> pd.DataFrame:
    """Rows of ``indicator`` matching ``labels`` (columns of the indicator table)."""
    mask = frame["indicator"] == indicator
    for column, value in labels.items():
        mask &= frame[column] == value
    return frame.loc[mask.fillna(False).astype(bool)]


def pick(
    frame: pd.DataFrame,
    indicator: str,
    *,
    period: str,
    scope: str = "quebec",
    scope_id: str = "QC",
    stratum: str = "all",
    stratum_value: str = "all",
    breakdown: str = "all",
    breakdown_value: str = "all",
) -> pd.Series:
    """The one row of ``indicator`` in this cell (fails if there is not exactly one)."""
    found = rows(
        frame,
        indicator,
        period=period,
        scope=scope,
        scope_id=scope_id,
        stratum=stratum,
        stratum_value=stratum_value,
        breakdown=breakdown,
        breakdown_value=breakdown_value,
    )
    where = f"{scope} {scope_id} {stratum}={stratum_value} {period} {breakdown}={breakdown_value}"
    assert len(found) == 1, f"{len(found)} rows of {indicator} for {where}"
    return found.iloc[0]


def unit_of(indicator: str) -> str:
    """The catalogue unit of an indicator id."""
    return str(load_codebook().indicator(indicator)["unit"])


# ---------------------------------------------------------------------------- shared worlds
#: Referrals of the concertation tests (see each test for the graph they make).
NETWORK_REFERRALS: list[Referral] = [
    # T1 2024: H1→P1a, H1→P1b, P1a→H1, H1→P1c (H1→P1a twice: one edge).
    ("T1", "ptp_to_partner", "H1", "P1a", "2024-01-01"),
    ("T1", "ptp_to_partner", "H1", "P1a", "2024-02-01"),
    ("T1", "ptp_to_partner", "H1", "P1b", "2024-03-01"),
    ("T1", "partner_to_ptp", "P1a", "H1", "2024-04-01"),
    ("T1", "ptp_to_partner", "H1", "P1c", "2024-05-01"),
    # T1 2025: H1→P1a (PTP end not named: the host), P1b→H1 (same), H1→P1b, P1a→P1b.
    ("T1", "ptp_to_partner", None, "P1a", "2025-01-15"),
    ("T1", "partner_to_ptp", "P1b", None, "2025-02-15"),
    ("T1", "ptp_to_partner", "H1", "P1b", "2025-03-15"),
    ("T1", "ptp_to_partner", "P1a", "P1b", "2025-04-15"),
    # T2 2024: H2→P2a, P2a→H2; nothing in 2025.
    ("T2", "ptp_to_partner", "H2", "P2a", "2024-06-01"),
    ("T2", "partner_to_ptp", "P2a", "H2", "2024-07-01"),
    # T3 2024: H3→P3a, H3→P3b; 2025: both ways with both partners.
    ("T3", "ptp_to_partner", "H3", "P3a", "2024-08-01"),
    ("T3", "ptp_to_partner", "H3", "P3b", "2024-09-01"),
    ("T3", "ptp_to_partner", "H3", "P3a", "2025-05-01"),
    ("T3", "partner_to_ptp", "P3a", "H3", "2025-06-01"),
    ("T3", "ptp_to_partner", "H3", "P3b", "2025-07-01"),
    ("T3", "partner_to_ptp", "P3b", "H3", "2025-12-31"),
]

#: Activities of the concertation tests: only concertation ones with a partner count.
NETWORK_ACTIVITIES: list[Activity] = [
    ("T1", "W1", "2024-06-01", 60, "suivi_partenaires", 0, "P1d"),  # a partner seen only here
    ("T1", "W1", "2024-06-02", 60, "accompagnement_ressources", 0, "P1e"),  # not concertation
    ("T1", "W1", "2024-06-03", 60, "espaces_dialogue", 0, "H1"),  # the host is no partner
    ("T1", "W1", "2024-06-04", 60, "adaptation_pratiques", 0, None),  # no organisation
]


def network_tables() -> dict[str, pd.DataFrame]:
    """The tiny world with :data:`NETWORK_REFERRALS` and :data:`NETWORK_ACTIVITIES`."""
    return registry_tables(referrals=NETWORK_REFERRALS, activities=NETWORK_ACTIVITIES)


#: Activities of the implementation tests (T3 has none).
WORK_ACTIVITIES: list[Activity] = [
    ("T1", "W1", "2024-01-01", 60, "demarchage", 30, None),
    ("T1", "W1", "2024-06-01", 90, "information", None, None),  # travel not logged: counts as 0
    ("T1", "W2", "2024-09-01", 30, "suivi_partenaires", 10, "P1d"),
    ("T1", "W2", "2025-12-31", 120, "information", 60, None),
    ("T2", "W3", "2024-05-01", 45, "lien_confiance", 15, None),
]

#: Tenures: W1 leaves T1 mid-2024, W2 succeeds; W3 leaves T2 for T3 in 2025.
WORK_TENURES: list[Tenure] = [
    ("W1", "T1", "2023-06-01", "2024-06-30"),
    ("W2", "T1", "2024-07-01", None),
    ("W3", "T2", "2024-01-01", "2025-03-31"),
    ("W3", "T3", "2025-04-01", None),
]

#: Supervision sessions (W3's two sessions fall in two tenures, two territories).
WORK_SESSIONS: list[Session] = [
    ("W1", "2024-02-10", 60),
    ("W2", "2024-08-15", 90),
    ("W3", "2024-05-01", 120),
    ("W3", "2025-05-01", 30),
]


def work_tables() -> dict[str, pd.DataFrame]:
    """The tiny world with the implementation activities, tenures and sessions."""
    return registry_tables(activities=WORK_ACTIVITIES, tenures=WORK_TENURES, sessions=WORK_SESSIONS)
