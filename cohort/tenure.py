"""A PTP's tenures: which territory a worker served on a given day."""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["session_territories"]


def session_territories(supervision: pd.DataFrame, worker: pd.DataFrame) -> pd.DataFrame:
    """Each supervision session with the territory of the worker's tenure covering its date.

    Returns
    -------
    DataFrame
        ``territory_id``, ``worker_id``, ``session_date``, ``kind``, ``minutes`` (float, NaN
        when missing); a session no tenure covers takes the worker's nearest tenure; a worker
        absent from ``worker`` is dropped.
    """
    sessions = pd.DataFrame(
        {
            "session": np.arange(len(supervision)),
            "worker_id": supervision["worker_id"].astype("string").to_numpy(),
            "session_date": pd.to_datetime(supervision["session_date"]).to_numpy(dtype="datetime64[ns]"),
            "kind": supervision["kind"].astype("string").to_numpy(),
            "minutes": pd.to_numeric(supervision["minutes"], errors="coerce").to_numpy(dtype="float64"),
        }
    ).astype({"worker_id": "string", "kind": "string"})
    tenures = pd.DataFrame(
        {
            "worker_id": worker["worker_id"].astype("string").to_numpy(),
            "territory_id": worker["territory_id"].astype("string").to_numpy(),
            "start": pd.to_datetime(worker["start_date"]).to_numpy(dtype="datetime64[ns]"),
            "end": pd.to_datetime(worker["end_date"]).to_numpy(dtype="datetime64[ns]"),
        }
    ).astype({"worker_id": "string", "territory_id": "string"})
    matched = sessions.merge(tenures, on="worker_id", how="inner")
    before = (matched["start"] - matched["session_date"]).dt.days.clip(lower=0)
    after = (matched["session_date"] - matched["end"]).dt.days.clip(lower=0).fillna(0)
    matched["distance"] = before + after  # 0 when a tenure covers the date
    matched = matched.sort_values(["session", "distance"], kind="stable").drop_duplicates("session")
    return matched[["territory_id", "worker_id", "session_date", "kind", "minutes"]].reset_index(drop=True)
