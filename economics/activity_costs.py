"""Activity-based costs: the PTP registry priced per territory, quarter and component.

Components of the activity-based cost (column ``component`` of the lines), each booked to a
cost category of the codebook (``cost_category``):

======================  =================================================  =====================
component               amount                                             category
======================  =================================================  =====================
``ptp_activity``        activity minutes / 60 × loaded PTP wage            salaire_ptp
``ptp_travel``          travel minutes / 60 × loaded PTP wage              salaire_ptp
``travel_km``           km × km rate                                       mobilite
``ptp_session``         session minutes / 60 × loaded PTP wage             the kind's
                                                                           ``ptp_time_category``
``supervisor_session``  session minutes × ratio / 60 × loaded              the kind's
                        supervisor wage                                    ``category``
``session_fee``         sessions × fee per session                         the kind's
                                                                           ``category``
======================  =================================================  =====================

Besides the logged time, the worker table gives each PTP's *contracted* time (tenure days ×
weekly hours / 7); priced at the loaded PTP wage it is a second estimate of ``salaire_ptp``
(:func:`contracted_costs`), which the budget should match when it pays the PTP's whole time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from proximite.cohort.tenure import session_territories
from proximite.economics.costing_base import COMPONENTS, CostingError, as_numbers, quarter_label, require_table
from proximite.economics.costing_parameters import CostingParameters

__all__ = ["LINE_KEYS", "LINE_VALUES", "activity_costs", "contracted_costs"]

#: Key columns of the activity-based cost lines.
LINE_KEYS: list[str] = ["territory_id", "period", "component", "category", "action_component", "kind"]
#: Value columns of the activity-based cost lines.
LINE_VALUES: list[str] = ["hours", "km", "sessions", "amount_cad"]


def _empty_lines() -> pd.DataFrame:
    frame = pd.DataFrame({column: pd.Series(dtype="string") for column in LINE_KEYS})
    for column in LINE_VALUES:
        frame[column] = pd.Series(dtype="float64")
    return frame


def activity_costs(tables: Mapping[str, pd.DataFrame], parameters: CostingParameters) -> pd.DataFrame:
    """Activity-based cost lines per territory, quarter and component.

    Parameters
    ----------
    tables : mapping of str to DataFrame
        The harmonised tables; ``activity``, ``supervision`` and ``worker`` are read (not modified).
    parameters : CostingParameters

    Returns
    -------
    DataFrame
        One row per (``territory_id``, ``period``, ``component``, ``category``,
        ``action_component``, ``kind``) with ``hours``, ``km``, ``sessions`` and ``amount_cad``
        (dollars of ``parameters.price_year``). ``action_component`` is the activity's component
        (proximite, soutien, concertation) for activity and travel lines, ``kind`` the session
        kind for session lines; the other is ``"all"``. ``sessions`` counts the sessions a
        ``ptp_session`` or ``session_fee`` line prices (sum it over one of them, not both).

    Notes
    -----
    With :math:`w_P, w_S` the loaded PTP and supervisor wages (:meth:`CostingParameters.loaded_wage`),
    :math:`r` the km rate, and, for a session kind :math:`k`, :math:`\\rho_k` its supervisor
    ratio and :math:`f_k` its fee, a territory-quarter's lines are

    .. math::
        C_{\\text{ptp\\_activity}} = w_P \\sum_a m_a / 60,\\quad
        C_{\\text{ptp\\_travel}} = w_P \\sum_a t_a / 60,\\quad
        C_{\\text{travel\\_km}} = r \\sum_a d_a,

        C_{\\text{ptp\\_session},k} = w_P \\sum_{s \\in k} m_s / 60,\\quad
        C_{\\text{supervisor\\_session},k} = w_S\\,\\rho_k \\sum_{s \\in k} m_s / 60,\\quad
        C_{\\text{session\\_fee},k} = f_k\\,n_k

    over activities :math:`a` (minutes :math:`m_a`, travel minutes :math:`t_a`, km :math:`d_a`;
    missing travel counts as 0) and sessions :math:`s` (minutes :math:`m_s`). An activity's
    quarter is that of its date; a session belongs to the territory of the worker's tenure
    covering its date (else the worker's nearest tenure; sessions of a worker absent from the
    worker table are left out and counted in :func:`cost`'s statistics).
    """
    activity = require_table(tables, "activity", ["territory_id", "activity_date", "minutes", "component", "travel_minutes", "travel_km"])
    supervision = require_table(tables, "supervision", ["worker_id", "session_date", "kind", "minutes"])
    worker = require_table(tables, "worker", ["worker_id", "territory_id", "start_date", "end_date"])
    w_ptp = parameters.loaded_wage("ptp")
    w_sup = parameters.loaded_wage("supervisor")
    pieces: list[pd.DataFrame] = []
    if len(activity):
        pieces += _activity_lines(activity, parameters, w_ptp=w_ptp)
    sessions = session_territories(supervision, worker)
    if len(sessions):
        pieces += _session_lines(sessions, parameters, w_ptp=w_ptp, w_sup=w_sup)
    if not pieces:
        return _empty_lines()
    return _ordered_lines(pieces)


def _activity_lines(activity: pd.DataFrame, parameters: CostingParameters, *, w_ptp: float) -> list[pd.DataFrame]:
    """PTP time, travel time and km of the activities, per territory, quarter and action component."""
    pieces: list[pd.DataFrame] = []
    base = pd.DataFrame(
        {
            "territory_id": activity["territory_id"].astype("string").to_numpy(),
            "period": quarter_label(activity["activity_date"]).to_numpy(),
            "action_component": activity["component"].astype("string").fillna("all").to_numpy(),
            "minutes": np.nan_to_num(as_numbers(activity["minutes"])),
            "travel_minutes": np.nan_to_num(as_numbers(activity["travel_minutes"])),
            "travel_km": np.nan_to_num(as_numbers(activity["travel_km"])),
        }
    )
    base = base[base["period"].notna()]
    grouped = base.groupby(["territory_id", "period", "action_component"], sort=True, observed=True, dropna=False)[
        ["minutes", "travel_minutes", "travel_km"]
    ].sum().reset_index()
    for component, category, hours, km, amount in (
        ("ptp_activity", "salaire_ptp", grouped["minutes"] / 60, 0.0, grouped["minutes"] / 60 * w_ptp),
        ("ptp_travel", "salaire_ptp", grouped["travel_minutes"] / 60, 0.0, grouped["travel_minutes"] / 60 * w_ptp),
        ("travel_km", "mobilite", 0.0, grouped["travel_km"], grouped["travel_km"] * parameters.km_rate.value),
    ):
        pieces.append(
            pd.DataFrame(
                {
                    "territory_id": grouped["territory_id"], "period": grouped["period"], "component": component,
                    "category": category, "action_component": grouped["action_component"], "kind": "all",
                    "hours": hours, "km": km, "sessions": 0.0, "amount_cad": amount,
                }
            )
        )
    return pieces


def _session_lines(
    sessions: pd.DataFrame, parameters: CostingParameters, *, w_ptp: float, w_sup: float
) -> list[pd.DataFrame]:
    """PTP time, supervisor time and fees of the sessions (placed in territories), per quarter and kind."""
    pieces: list[pd.DataFrame] = []
    sessions = sessions.assign(
        period=quarter_label(sessions["session_date"]).to_numpy(), minutes=np.nan_to_num(sessions["minutes"].to_numpy(dtype="float64"))
    )
    grouped = sessions.groupby(["territory_id", "period", "kind"], sort=True, observed=True)["minutes"].agg(
        ["sum", "count"]
    ).reset_index()
    kind = grouped["kind"].astype(str)
    unknown = sorted(set(kind) - set(parameters.supervision_kinds))
    if unknown:
        raise CostingError(f"table 'supervision', column 'kind': no costing for the kind(s) {', '.join(unknown)}")
    spec = parameters.supervision_kinds
    hours = grouped["sum"].to_numpy(dtype="float64") / 60
    count = grouped["count"].to_numpy(dtype="float64")
    ratio = kind.map(lambda k: spec[k].supervisor_ratio.value).to_numpy(dtype="float64")
    fee = kind.map(lambda k: spec[k].fee_per_session.value).to_numpy(dtype="float64")
    for component, category, line_hours, line_sessions, amount in (
        ("ptp_session", kind.map(lambda k: spec[k].ptp_time_category), hours, count, hours * w_ptp),
        ("supervisor_session", kind.map(lambda k: spec[k].category), hours * ratio, 0.0, hours * ratio * w_sup),
        ("session_fee", kind.map(lambda k: spec[k].category), 0.0, count, count * fee),
    ):
        pieces.append(
            pd.DataFrame(
                {
                    "territory_id": grouped["territory_id"], "period": grouped["period"], "component": component,
                    "category": category, "action_component": "all", "kind": grouped["kind"],
                    "hours": line_hours, "km": 0.0, "sessions": line_sessions, "amount_cad": amount,
                }
            )
        )
    return pieces


def _ordered_lines(pieces: list[pd.DataFrame]) -> pd.DataFrame:
    """The lines typed and sorted by territory, quarter and component (in :data:`COMPONENTS` order)."""
    lines = pd.concat(pieces, ignore_index=True)
    lines = lines.astype({column: "string" for column in LINE_KEYS} | {column: "float64" for column in LINE_VALUES})
    order = lines["component"].map({name: rank for rank, name in enumerate(COMPONENTS)})
    lines = (
        lines.assign(_order=order)
        .sort_values(["territory_id", "period", "_order", "action_component", "kind"], kind="stable")
        .drop(columns="_order")
        .reset_index(drop=True)
    )
    return lines[LINE_KEYS + LINE_VALUES]


def contracted_costs(
    worker: pd.DataFrame, parameters: CostingParameters, *, periods: Sequence[str], end: Any
) -> pd.DataFrame:
    """Contracted PTP time per territory and quarter, priced at the loaded PTP wage.

    Parameters
    ----------
    worker : DataFrame
        The harmonised worker table (``territory_id``, ``start_date``, ``end_date``, ``weekly_hours``).
    parameters : CostingParameters
    periods : sequence of str, keyword-only
        Quarter labels (``2024-T1``) to cover.
    end : date-like, keyword-only
        End date of tenures still open, and the last day counted.

    Returns
    -------
    DataFrame
        ``territory_id``, ``period``, ``hours``, ``contracted_cad``.

    Notes
    -----
    For a tenure :math:`[s, e]` (:math:`e` = ``end`` when open) with weekly hours :math:`h` and a
    quarter :math:`[Q_s, Q_e]` (:math:`Q_e` at most ``end``):

    .. math:: C = w_P\\,\\frac{h}{7}\\,\\max\\big(0, \\min(e, Q_e) - \\max(s, Q_s) + 1\\big)
    """
    labels = sorted({str(period) for period in periods})
    columns = {"territory_id": pd.Series(dtype="string"), "period": pd.Series(dtype="string"),
               "hours": pd.Series(dtype="float64"), "contracted_cad": pd.Series(dtype="float64")}
    if not labels or not len(worker):
        return pd.DataFrame(columns)
    last = pd.Timestamp(end).normalize()
    starts = pd.PeriodIndex([label.replace("-T", "Q") for label in labels], freq="Q")
    q_start = starts.start_time.to_numpy(dtype="datetime64[ns]")
    q_end = np.minimum(starts.end_time.normalize().to_numpy(dtype="datetime64[ns]"), np.datetime64(last.to_datetime64()))
    start = pd.to_datetime(worker["start_date"]).to_numpy(dtype="datetime64[ns]")[:, None]
    stop = pd.to_datetime(worker["end_date"]).to_numpy(dtype="datetime64[ns]")
    stop = np.where(pd.isna(stop), np.datetime64(last.to_datetime64()), stop)[:, None]
    days = (np.minimum(stop, q_end[None, :]) - np.maximum(start, q_start[None, :])) / np.timedelta64(1, "D") + 1
    days = np.clip(days, 0, None)
    hours = days * (np.nan_to_num(as_numbers(worker["weekly_hours"])) / 7.0)[:, None]
    frame = pd.DataFrame(
        {
            "territory_id": np.repeat(worker["territory_id"].astype("string").to_numpy(), len(labels)),
            "period": np.tile(np.array(labels, dtype=object), len(worker)),
            "hours": hours.reshape(-1),
        }
    ).astype({"territory_id": "string", "period": "string"})
    frame = frame.groupby(["territory_id", "period"], sort=True, observed=True)["hours"].sum().reset_index()
    frame = frame[frame["hours"] > 0].reset_index(drop=True)
    frame["contracted_cad"] = frame["hours"] * parameters.loaded_wage("ptp")
    return frame
