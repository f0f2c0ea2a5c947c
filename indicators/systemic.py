"""Systemic effects: does the PTP break down the silos between networks ("décloisonnement")?

Two indicators of the catalogue, family ``systemic``, per registry period
(:func:`~proximite.indicators.base.registry_span`: the waves' calendar windows, quarters or years
over the referral and activity dates) and for the whole follow-up (period ``all``):

- ``systemic.cross_network_referral_share``: referrals whose two organisations belong to
  different networks (``organisation.network``: communautaire ↔ public_sss, education,
  services_garde, ...) as a share of the referrals whose two networks are known;
- ``systemic.partner_networks``: the number of distinct networks of the partner organisations a
  territory's PTP reach (named in a referral, either end, or in a concertation activity).

A referral belongs to its family's territory; a referral whose PTP end is not named goes from
(``ptp_to_partner``) or to (``partner_to_ptp``) the territory's host organisation, as in the
concertation family. The functions here do no I/O and never modify their inputs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from proximite.cohort.codebook import load_codebook
from proximite.indicators.base import (
    ALL,
    SCOPE_KEYS,
    IndicatorParameters,
    assign_periods,
    empty_indicator_frame,
    expand_scopes,
    indicator_frame,
    registry_span,
    wilson_interval,
)
from proximite.indicators.concertation import mean_of_territories

__all__ = [
    "INDICATORS",
    "RegistryLinks",
    "compute",
    "cross_network_referral_share",
    "partner_networks",
    "registry_links",
]

CROSS_ID = "systemic.cross_network_referral_share"
NETWORKS_ID = "systemic.partner_networks"
#: The indicator ids this module emits.
INDICATORS: tuple[str, ...] = (CROSS_ID, NETWORKS_ID)
_PERIOD_KEYS = ["period", "period_start", "period_end"]


@dataclass(frozen=True)
class RegistryLinks:
    """What the systemic indicators share, each row once with its period and once with ``all``.

    Attributes
    ----------
    period_table : DataFrame
        ``period``, ``period_start``, ``period_end`` of the registry periods and ``all``.
    referrals : DataFrame
        ``territory_id``, ``period``, ``from_network``, ``to_network`` of every referral in the span.
    partners : DataFrame
        ``territory_id``, ``period``, ``org_id``, ``network`` of each appearance of a partner
        (non-host) organisation in a referral or a concertation activity.
    active : DataFrame
        ``territory_id``, ``period`` of the territories with a referral or an activity in the period.
    """

    period_table: pd.DataFrame
    referrals: pd.DataFrame
    partners: pd.DataFrame
    active: pd.DataFrame


def _labelled(frame: pd.DataFrame, periods: pd.DataFrame) -> pd.DataFrame:
    """``frame`` (with a ``date``) once with its period and once with ``all``; rows outside the span dropped."""
    labelled = frame.assign(period=assign_periods(frame["date"], periods))
    labelled = labelled.loc[labelled["period"].notna()].drop(columns="date")
    return pd.concat([labelled, labelled.assign(period=ALL)], ignore_index=True).astype({"period": "string"})


def _referral_ends(tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """``territory_id, date, from_org, to_org`` of every referral, the unnamed PTP end filled with the host."""
    referral = tables["referral"]
    organisation = tables["organisation"]
    families = tables["family"][["family_id", "territory_id"]].astype("string").drop_duplicates("family_id")
    frame = pd.DataFrame(
        {
            "family_id": referral["family_id"].astype("string").to_numpy(),
            "direction": referral["direction"].astype("string").to_numpy(),
            "from_org": referral["from_org_id"].astype("string").to_numpy(),
            "to_org": referral["to_org_id"].astype("string").to_numpy(),
            "date": pd.to_datetime(referral["referral_date"]).to_numpy(dtype="datetime64[ns]"),
        }
    ).merge(families, on="family_id", how="inner")
    is_host = organisation["is_host"].astype("boolean").fillna(False).to_numpy(dtype=bool)
    hosts = organisation.loc[is_host, ["territory_id", "org_id"]].astype("string").drop_duplicates("territory_id")
    host = pd.Series(hosts.set_index("territory_id")["org_id"].reindex(frame["territory_id"]).to_numpy(),
                     index=frame.index, dtype="string")
    forward = (frame["direction"] == "ptp_to_partner").fillna(False)
    backward = (frame["direction"] == "partner_to_ptp").fillna(False)
    frame["from_org"] = frame["from_org"].mask(frame["from_org"].isna() & forward, host)
    frame["to_org"] = frame["to_org"].mask(frame["to_org"].isna() & backward, host)
    return frame[["territory_id", "date", "from_org", "to_org"]]


def _partner_appearances(tables: Mapping[str, pd.DataFrame], ends: pd.DataFrame) -> pd.DataFrame:
    """``territory_id, date, org_id, network`` of each partner organisation named in a referral or concertation."""
    activity = tables["activity"]
    chosen = activity["component"].eq("concertation").fillna(False).to_numpy(dtype=bool)
    chosen &= activity["org_id"].notna().to_numpy()
    concertation = pd.DataFrame(
        {
            "territory_id": activity.loc[chosen, "territory_id"].astype("string").to_numpy(),
            "date": pd.to_datetime(activity.loc[chosen, "activity_date"]).to_numpy(dtype="datetime64[ns]"),
            "org_id": activity.loc[chosen, "org_id"].astype("string").to_numpy(),
        }
    )
    pieces = [ends[["territory_id", "date", end]].rename(columns={end: "org_id"}) for end in ("from_org", "to_org")]
    appearances = pd.concat([*pieces, concertation], ignore_index=True).dropna(subset=["org_id"])
    organisation = tables["organisation"]
    partner = ~organisation["is_host"].astype("boolean").fillna(True).to_numpy(dtype=bool)
    networks = organisation.loc[partner, ["org_id", "network"]].astype("string").drop_duplicates("org_id")
    # Organisations missing from the organisation table are not known partners: left out.
    return appearances.astype({"territory_id": "string", "org_id": "string"}).merge(networks, on="org_id")


def registry_links(tables: Mapping[str, pd.DataFrame], *, parameters: IndicatorParameters) -> RegistryLinks | None:
    """The :class:`RegistryLinks` of the registry's span (None when nothing is dated).

    Parameters
    ----------
    tables : mapping of str to DataFrame
        ``territory``, ``organisation``, ``family``, ``referral``, ``activity`` (not modified).
    parameters : IndicatorParameters, keyword-only
        ``periods``, ``as_of``.

    Returns
    -------
    RegistryLinks or None
    """
    span = registry_span(tables, parameters)
    if span is None:
        return None
    periods, first, last = span
    period_table = pd.concat(
        [periods[_PERIOD_KEYS], pd.DataFrame({"period": [ALL], "period_start": [first], "period_end": [last]})],
        ignore_index=True,
    ).astype({"period": "string"})
    ends = _referral_ends(tables)
    network = tables["organisation"][["org_id", "network"]].astype("string").drop_duplicates("org_id")
    network = network.set_index("org_id")["network"]
    referrals = ends.assign(
        from_network=network.reindex(ends["from_org"]).to_numpy(), to_network=network.reindex(ends["to_org"]).to_numpy()
    )[["territory_id", "date", "from_network", "to_network"]]
    activity = tables["activity"]
    dated = pd.concat(
        [ends[["territory_id", "date"]],
         pd.DataFrame({"territory_id": activity["territory_id"].astype("string").to_numpy(),
                       "date": pd.to_datetime(activity["activity_date"]).to_numpy(dtype="datetime64[ns]")})],
        ignore_index=True,
    )
    return RegistryLinks(
        period_table=period_table,
        referrals=_labelled(referrals, periods),
        partners=_labelled(_partner_appearances(tables, ends), periods),
        active=_labelled(dated, periods).drop_duplicates(),
    )


def _with_periods(rows: pd.DataFrame, links: RegistryLinks, indicator: str) -> pd.DataFrame:
    """Label the rows with the indicator, its unit and the period dates; tidy them."""
    if rows.empty:
        return empty_indicator_frame()
    rows = rows.astype({"period": "string"}).merge(links.period_table, on="period", how="left")
    return indicator_frame(rows.assign(indicator=indicator, unit=load_codebook().indicator(indicator)["unit"]))


def cross_network_referral_share(
    tables: Mapping[str, pd.DataFrame], *, parameters: IndicatorParameters, links: RegistryLinks | None = None
) -> pd.DataFrame:
    """``systemic.cross_network_referral_share``: referrals between organisations of different networks.

    Parameters
    ----------
    tables : mapping of str to DataFrame
        ``territory``, ``organisation``, ``family``, ``referral``, ``activity`` (not modified).
    parameters : IndicatorParameters, keyword-only
        ``periods``, ``confidence``, ``strata``, ``as_of``, ``scopes``.
    links : RegistryLinks, keyword-only
        :func:`registry_links` of the same tables and parameters, when already computed.

    Returns
    -------
    DataFrame
        Indicator rows per scope cell and registry period (and ``all``), unit ``share``.

    Notes
    -----
    .. math:: \\text{cross} = \\frac{\\#\\{\\text{referrals with network(from)} \\ne
              \\text{network(to)}\\}}{\\#\\{\\text{referrals with both networks known}\\}}

    Counts summed over the cell's territories (a referral belongs to one territory, so the share
    adds up); a referral with an end missing from the organisation table (or an unnamed partner
    end) is left out of both. Wilson interval; ``n`` = referrals.
    """
    links = registry_links(tables, parameters=parameters) if links is None else links
    if links is None:
        return empty_indicator_frame()
    referrals = links.referrals.dropna(subset=["from_network", "to_network"])
    counts = referrals.assign(
        numerator=(referrals["from_network"] != referrals["to_network"]).to_numpy(dtype="int64"), denominator=1
    ).groupby(["territory_id", "period"], sort=False, observed=True)[["numerator", "denominator"]].sum().reset_index()
    expanded = expand_scopes(counts, tables["territory"], strata=parameters.strata, scopes=parameters.scopes)
    if expanded.empty:
        return empty_indicator_frame()
    summed = expanded.groupby([*SCOPE_KEYS, "period"], sort=False, observed=True)[["numerator", "denominator"]]
    summed = summed.sum().reset_index()
    k = summed["numerator"].to_numpy(dtype="float64")
    m = summed["denominator"].to_numpy(dtype="float64")
    low, high = wilson_interval(k, m, confidence=parameters.confidence)
    rows = summed.assign(numerator=k, denominator=m, value=k / m, ci_low=low, ci_high=high, n=m.astype("int64"),
                         method="wilson; from-organisation network != to-organisation network, over the referrals "
                         "whose two networks are known (unnamed PTP end = the territory's host)")
    return _with_periods(rows, links, CROSS_ID)


def partner_networks(
    tables: Mapping[str, pd.DataFrame], *, parameters: IndicatorParameters, links: RegistryLinks | None = None
) -> pd.DataFrame:
    """``systemic.partner_networks``: distinct networks of the partners a territory's PTP reach.

    Parameters and returns as :func:`cross_network_referral_share` (unit ``mean``).

    Notes
    -----
    Per territory and period, :math:`K_t` = the number of distinct ``network`` values of the
    non-host organisations named in the territory's referrals (either end) or concertation
    activities (``org_id`` set); a territory with a referral or an activity in the period but no
    partner has :math:`K_t = 0`. Territory rows: :math:`K_t`, ``n`` = partner organisations.
    Region and Québec rows (and their strata): the **mean over the cell's active territories**
    (not the distinct networks of the whole cell, which would grow with its size),
    :math:`\\bar K \\pm t_{n-1} s/\\sqrt n` cut at 0, ``n`` = territories
    (:func:`~proximite.indicators.concertation.mean_of_territories`).
    """
    links = registry_links(tables, parameters=parameters) if links is None else links
    if links is None:
        return empty_indicator_frame()
    partners = links.partners.drop_duplicates(["territory_id", "period", "org_id"])
    per_territory = partners.groupby(["territory_id", "period"], observed=True).agg(
        value=("network", "nunique"), n=("org_id", "size")
    )
    active = links.active.set_index(["territory_id", "period"]).index
    values = per_territory.reindex(active.union(per_territory.index), fill_value=0).reset_index()
    known = values["territory_id"].isin(tables["territory"]["territory_id"].astype("string"))
    values = values.loc[known.to_numpy(dtype=bool)].astype({"value": "float64"})
    pieces = []
    if "territory" in parameters.scopes:
        pieces.append(values.assign(scope="territory", scope_id=values["territory_id"], numerator=values["value"],
                                    method="distinct networks of the partner organisations in referrals or "
                                    "concertation activities"))
    upper = [scope for scope in parameters.scopes if scope != "territory"]
    if upper and len(values):
        means = mean_of_territories(values[["territory_id", "period", "value"]], tables["territory"], keys=["period"],
                                    strata=parameters.strata, confidence=parameters.confidence, scopes=upper)
        means = means.assign(ci_low=np.maximum(means["ci_low"].to_numpy(dtype="float64"), 0.0),
                             method="mean over the active territories of their distinct partner networks, "
                             "t interval")
        pieces.append(means)
    pieces = [piece for piece in pieces if len(piece)]
    if not pieces:
        return empty_indicator_frame()
    return _with_periods(pd.concat(pieces, ignore_index=True).drop(columns="territory_id", errors="ignore"), links,
                         NETWORKS_ID)


def compute(tables: Mapping[str, pd.DataFrame], *, parameters: IndicatorParameters) -> pd.DataFrame:
    """Every systemic indicator, in one tidy table.

    Parameters
    ----------
    tables : mapping of str to DataFrame
        ``territory``, ``organisation``, ``family``, ``referral``, ``activity`` (not modified).
    parameters : IndicatorParameters, keyword-only

    Returns
    -------
    DataFrame
        The rows of :func:`cross_network_referral_share` and :func:`partner_networks`.

    Notes
    -----
    See each function: the cross-network share sums referrals up the hierarchy (Wilson); the
    partner networks are counted per territory and averaged over territories above it.
    """
    links = registry_links(tables, parameters=parameters)
    if links is None:
        return empty_indicator_frame()
    frames = [indicator(tables, parameters=parameters, links=links)
              for indicator in (cross_network_referral_share, partner_networks)]
    frames = [frame for frame in frames if len(frame)]
    if not frames:
        return empty_indicator_frame()
    return indicator_frame(pd.concat(frames, ignore_index=True))
