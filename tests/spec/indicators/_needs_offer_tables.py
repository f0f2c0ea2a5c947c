"""Tiny harmonised tables for the needs–offer spec tests, and helpers to read the results.

The scenario (data end ``AS_OF`` = 2025-03-31; waves 0, 6, 12, 24):

Territories: T1 (region 01, urbain, OCF), T2 (region 01, rural, CPSC), T3 (region 02, urbain, OCF).

Families (territory, first contact, exit):

- F1 T1 2024-01-01 (assessments 2024-01-05, 2024-07-03, 2025-01-03)
- F2 T1 2024-01-01, exit 2024-03-15
- F3 T2 2024-02-01 (no assessment)
- F4 T3 2024-03-01 (assessment 2024-03-05)
- F5 T3 2024-06-01 (no need, no referral)
- F6 T3 2025-05-01: after the data's end, left out

Needs (family, category, identified, status, status date):

- N1 F1 logement 2024-01-01 repondu 2024-03-01
- N2 F1 alimentation 2024-02-01 repondu 2024-09-01
- N3 F1 garde 2024-05-01 aucune_ressource 2024-06-01
- N4 F2 alimentation 2024-01-01 repondu 2024-01-01
- N5 F2 logement 2024-01-10 liste_attente 2024-02-01
- N6 F3 logement 2024-02-15 repondu 2024-05-15
- N7 F3 transport 2024-03-01 en_cours 2025-02-01
- N8 F4 alimentation 2024-03-01 repondu 2025-04-15: met after the end, so en_cours at the end
- N9 F4 logement 2025-04-10 en_cours 2025-04-20: identified after the end, left out

Organisations (org, territory, network, mission, host): O0 T1 communautaire famille_enfance host;
O1 T1 communautaire famille_enfance; O2 T1 public_sss sante_mentale; O3 T1 communautaire
aide_materielle_alimentation; O4 T2 communautaire famille_enfance; O5 T2 communautaire
famille_enfance host; O6 T3 education autre; O7 T3 municipal autre (never referred to).

Referrals (family, direction, from → to, date, outcome, outcome date); ptp = ptp_to_partner:

- R1 F1 ptp O0 → O1 2024-01-15 service_recu 2024-02-01
- R2 F1 ptp O0 → O2 2024-02-10 refus 2024-02-20
- R3 F1 ptp O0 → O1 2024-04-05 service_recu 2024-05-01
- R4 F1 ptp O0 → O3 2024-06-01 en_attente (no date)
- R5 F2 ptp O0 → O1 2024-01-20 service_recu 2024-03-01
- R6 F3 ptp O5 → O4 2024-02-20 service_recu 2025-05-01: outcome after the end, so en_attente
- R7 F3 partner_to_ptp O4 → O5 2024-02-01 service_recu 2024-02-10
- R8 F4 ptp → O6 2024-03-10 contact_etabli 2024-04-01
- R9 F4 ptp → O6 2025-04-05 service_recu 2025-04-20: after the end, left out
- R10 F1 partner_to_ptp O2 → O0 2024-01-01 contact_etabli 2024-01-02
- R11 F2 ptp → OX (not in the organisation table) 2024-02-15 abandon 2024-03-01
- R12 F4 ptp → O6 2024-05-01 service_recu 2024-06-01
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
from statsmodels.stats.proportion import proportion_confint

from proximite.indicators.base import IndicatorParameters

AS_OF = dt.date(2025, 3, 31)

#: Harmonised dtypes of the columns the scenario fills (model.yaml: dates are datetime64).
DTYPES: dict[str, str] = {
    "date": "datetime64[ns]",
    "string": "string",
    "bool": "boolean",
    "int": "Int64",
}


def typed_frame(columns: Mapping[str, str], rows: Sequence[Sequence[Any]]) -> pd.DataFrame:
    """A frame from tuples, typed like the harmonised tables (``columns``: name → date/string/bool/int)."""
    frame = pd.DataFrame(list(rows), columns=list(columns))
    for name, kind in columns.items():
        if kind == "date":
            frame[name] = pd.to_datetime(frame[name]).astype("datetime64[ns]")
        else:
            frame[name] = frame[name].astype(DTYPES[kind])
    return frame


def territory_table() -> pd.DataFrame:
    return typed_frame(
        {"territory_id": "string", "name": "string", "region_code": "string", "environment": "string",
         "host_type": "string", "redcap_dag": "string"},
        [
            ("T1", "Un", "01", "urbain", "OCF", "t1"),
            ("T2", "Deux", "01", "rural", "CPSC", "t2"),
            ("T3", "Trois", "02", "urbain", "OCF", "t3"),
        ],
    )


def organisation_table() -> pd.DataFrame:
    return typed_frame(
        {"org_id": "string", "name": "string", "territory_id": "string", "network": "string", "mission": "string",
         "is_host": "bool"},
        [
            ("O0", "Hôte 1", "T1", "communautaire", "famille_enfance", True),
            ("O1", "Maison 1", "T1", "communautaire", "famille_enfance", False),
            ("O2", "CLSC 1", "T1", "public_sss", "sante_mentale", False),
            ("O3", "Comptoir 1", "T1", "communautaire", "aide_materielle_alimentation", False),
            ("O4", "Maison 2", "T2", "communautaire", "famille_enfance", False),
            ("O5", "Hôte 2", "T2", "communautaire", "famille_enfance", True),
            ("O6", "École 3", "T3", "education", "autre", False),
            ("O7", "Ville 3", "T3", "municipal", "autre", False),
        ],
    )


def family_table() -> pd.DataFrame:
    return typed_frame(
        {"family_id": "string", "territory_id": "string", "first_contact_date": "date", "exit_date": "date",
         "isolated_at_contact": "bool"},
        [
            ("F1", "T1", "2024-01-01", None, True),
            ("F2", "T1", "2024-01-01", "2024-03-15", False),
            ("F3", "T2", "2024-02-01", None, True),
            ("F4", "T3", "2024-03-01", None, True),
            ("F5", "T3", "2024-06-01", None, False),
            ("F6", "T3", "2025-05-01", None, False),
        ],
    )


def assessment_table() -> pd.DataFrame:
    return typed_frame(
        {"family_id": "string", "wave": "int", "assessment_date": "date"},
        [
            ("F1", 0, "2024-01-05"),
            ("F1", 6, "2024-07-03"),
            ("F1", 12, "2025-01-03"),
            ("F4", 0, "2024-03-05"),
        ],
    )


def need_table() -> pd.DataFrame:
    return typed_frame(
        {"need_id": "string", "family_id": "string", "category": "string", "identified_date": "date",
         "status": "string", "status_date": "date"},
        [
            ("N1", "F1", "logement", "2024-01-01", "repondu", "2024-03-01"),
            ("N2", "F1", "alimentation", "2024-02-01", "repondu", "2024-09-01"),
            ("N3", "F1", "garde", "2024-05-01", "aucune_ressource", "2024-06-01"),
            ("N4", "F2", "alimentation", "2024-01-01", "repondu", "2024-01-01"),
            ("N5", "F2", "logement", "2024-01-10", "liste_attente", "2024-02-01"),
            ("N6", "F3", "logement", "2024-02-15", "repondu", "2024-05-15"),
            ("N7", "F3", "transport", "2024-03-01", "en_cours", "2025-02-01"),
            ("N8", "F4", "alimentation", "2024-03-01", "repondu", "2025-04-15"),
            ("N9", "F4", "logement", "2025-04-10", "en_cours", "2025-04-20"),
        ],
    )


def referral_table() -> pd.DataFrame:
    return typed_frame(
        {"referral_id": "string", "family_id": "string", "direction": "string", "from_org_id": "string",
         "to_org_id": "string", "need_category": "string", "referral_date": "date", "outcome": "string",
         "outcome_date": "date"},
        [
            ("R1", "F1", "ptp_to_partner", "O0", "O1", "logement", "2024-01-15", "service_recu", "2024-02-01"),
            ("R2", "F1", "ptp_to_partner", "O0", "O2", "alimentation", "2024-02-10", "refus", "2024-02-20"),
            ("R3", "F1", "ptp_to_partner", "O0", "O1", "garde", "2024-04-05", "service_recu", "2024-05-01"),
            ("R4", "F1", "ptp_to_partner", "O0", "O3", "alimentation", "2024-06-01", "en_attente", None),
            ("R5", "F2", "ptp_to_partner", "O0", "O1", "alimentation", "2024-01-20", "service_recu", "2024-03-01"),
            ("R6", "F3", "ptp_to_partner", "O5", "O4", "logement", "2024-02-20", "service_recu", "2025-05-01"),
            ("R7", "F3", "partner_to_ptp", "O4", "O5", "logement", "2024-02-01", "service_recu", "2024-02-10"),
            ("R8", "F4", "ptp_to_partner", None, "O6", "alimentation", "2024-03-10", "contact_etabli", "2024-04-01"),
            ("R9", "F4", "ptp_to_partner", None, "O6", "logement", "2025-04-05", "service_recu", "2025-04-20"),
            ("R10", "F1", "partner_to_ptp", "O2", "O0", "logement", "2024-01-01", "contact_etabli", "2024-01-02"),
            ("R11", "F2", "ptp_to_partner", "O0", "OX", "logement", "2024-02-15", "abandon", "2024-03-01"),
            ("R12", "F4", "ptp_to_partner", None, "O6", "alimentation", "2024-05-01", "service_recu", "2024-06-01"),
        ],
    )


def scenario() -> dict[str, pd.DataFrame]:
    """The tables of the module docstring, as ``{name: DataFrame}``."""
    return {
        "territory": territory_table(),
        "organisation": organisation_table(),
        "family": family_table(),
        "assessment": assessment_table(),
        "need": need_table(),
        "referral": referral_table(),
    }


def params(**overrides: Any) -> IndicatorParameters:
    """Default parameters with the scenario's data end."""
    return IndicatorParameters(**{"as_of": AS_OF, **overrides})


def select(
    result: pd.DataFrame,
    indicator: str,
    *,
    scope: str = "quebec",
    scope_id: str = "QC",
    stratum: str = "all",
    stratum_value: str = "all",
    **labels: Any,
) -> pd.DataFrame:
    """Rows of one indicator in one scope cell; ``labels`` filter further (``wave=None`` = missing)."""
    mask = (
        (result["indicator"] == indicator)
        & (result["scope"] == scope)
        & (result["scope_id"] == scope_id)
        & (result["stratum"] == stratum)
        & (result["stratum_value"] == stratum_value)
    )
    for column, value in labels.items():
        mask &= result[column].isna() if value is None else (result[column] == value)
    return result.loc[mask.fillna(False).to_numpy(dtype=bool)]


def one(result: pd.DataFrame, indicator: str, **labels: Any) -> pd.Series:
    """The single row of ``indicator`` matching ``labels`` (breakdown ``all`` and period ``all`` by default)."""
    labels = {"breakdown": "all", "breakdown_value": "all", "period": "all", **labels}
    rows = select(result, indicator, **labels)
    assert len(rows) == 1, f"expected one row of {indicator} for {labels}, found {len(rows)}"
    return rows.iloc[0]


def wilson_reference(successes: int, trials: int, *, confidence: float = 0.95) -> tuple[float, float]:
    """The Wilson interval as statsmodels computes it (an independent reference)."""
    low, high = proportion_confint(successes, trials, alpha=1 - confidence, method="wilson")
    return float(low), float(high)


def assert_share(row: pd.Series, numerator: int, denominator: int, *, confidence: float = 0.95) -> None:
    """A share row has these counts, their ratio, and statsmodels' Wilson interval."""
    assert (row["numerator"], row["denominator"], row["n"]) == (numerator, denominator, denominator)
    assert row["value"] == numerator / denominator
    low, high = wilson_reference(numerator, denominator, confidence=confidence)
    assert abs(row["ci_low"] - low) < 1e-12 and abs(row["ci_high"] - high) < 1e-12
    assert row["unit"] == "share"
    assert row["method"] == "wilson"


def copies(tables: Mapping[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Deep copies, to check later that a computation left its inputs alone."""
    return {name: frame.copy(deep=True) for name, frame in tables.items()}


def assert_unchanged(tables: Mapping[str, pd.DataFrame], before: Mapping[str, pd.DataFrame]) -> None:
    for name, frame in before.items():
        pd.testing.assert_frame_equal(tables[name], frame)
