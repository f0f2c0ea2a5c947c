"""The survival table's covariates, and its start/stop rows with time-varying covariates."""

from __future__ import annotations

import logging
from collections.abc import Mapping

import numpy as np
import pandas as pd

from proximite.cohort.survival.rules import FAMILY_COVARIATES, TERRITORY_COVARIATES
from proximite.cohort.survival.subjects import day_dates

log = logging.getLogger(__name__)

__all__ = ["subject_covariates", "time_varying_rows"]


def subject_covariates(tables: Mapping[str, pd.DataFrame], family: pd.DataFrame) -> pd.DataFrame:
    """Per family, the covariates of the survival table (those whose tables are present)."""
    source = tables["family"].reset_index(drop=True)
    covariates = pd.DataFrame({"family_id": source["family_id"].astype("string")})
    for column in FAMILY_COVARIATES:
        if column in source.columns:
            covariates[column] = source[column].array
    if "territory" in tables and "territory_id" in covariates.columns:
        territory = tables["territory"]
        keep = ["territory_id", *[column for column in TERRITORY_COVARIATES if column in territory.columns]]
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


def time_varying_rows(subjects: pd.DataFrame, tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Split each subject at its family's assessment days; add the time-varying covariates."""
    stop_all = subjects["duration"].to_numpy(dtype="float64")
    stop_all = np.where(stop_all <= 0, 0.5, stop_all)
    base = subjects.assign(_stop=stop_all)
    if "assessment" in tables:
        assessment = tables["assessment"]
        visits = pd.DataFrame(
            {
                "family_id": assessment["family_id"].astype("string"),
                "date": day_dates(assessment, "assessment_date"),
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
                "date": day_dates(activity, "activity_date"),
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
