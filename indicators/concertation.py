"""Concertation: active partners and the structure of each territory's referral network.

Indicators (ids of ``cohort/codebook/indicators.yaml``), per registry period and for the whole
follow-up (period ``all``):

- ``concertation.active_partners``: distinct partner organisations in the territory's referrals
  or concertation activities (a count, additive up the hierarchy);
- ``concertation.density``, ``concertation.reciprocity``, ``concertation.degree_centralisation``:
  the directed organisation → organisation referral graph of a territory and period, measured with
  networkx (Freeman's formula for the centralisation);
- ``concertation.blau_diversity``: 1 − Σ p² over the networks of the active partners;
- ``concertation.density_change``, ``concertation.reciprocity_change``,
  ``concertation.degree_centralisation_change``, ``concertation.blau_diversity_change``: the
  change since the previous period, and ``concertation.tie_stability``: the Jaccard index of the
  edge sets of two consecutive periods (registry periods only).

One public function per indicator (named after it), each over the harmonised tables;
:func:`compute` puts them together, building the shared :class:`ReferralNetworks` once.

A network measure belongs to a territory: at the region and Québec scopes (and their strata) the
value is the mean over the cell's territories with a t interval. The functions here do no I/O and
never modify their inputs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd
from scipy import stats

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
)

__all__ = [
    "INDICATORS",
    "ReferralNetworks",
    "active_partners",
    "blau_diversity",
    "blau_diversity_change",
    "compute",
    "degree_centralisation",
    "degree_centralisation_change",
    "density",
    "density_change",
    "freeman_centralisation",
    "mean_of_territories",
    "network_measures",
    "reciprocity",
    "reciprocity_change",
    "referral_edges",
    "referral_networks",
    "tie_stability",
]

#: The structure measures of the referral graph (each also has a ``_change`` indicator).
GRAPH_MEASURES = ("density", "reciprocity", "degree_centralisation")
#: Measures whose change between periods is an indicator.
CHANGE_MEASURES = (*GRAPH_MEASURES, "blau_diversity")

#: The indicator ids this module emits.
INDICATORS: tuple[str, ...] = (
    "concertation.active_partners",
    "concertation.density",
    "concertation.reciprocity",
    "concertation.degree_centralisation",
    "concertation.blau_diversity",
    "concertation.density_change",
    "concertation.reciprocity_change",
    "concertation.degree_centralisation_change",
    "concertation.blau_diversity_change",
    "concertation.tie_stability",
)
# Measure → its indicator id, and the id of its change between periods.
_MEASURE_IDS = {
    "density": "concertation.density",
    "reciprocity": "concertation.reciprocity",
    "degree_centralisation": "concertation.degree_centralisation",
    "blau_diversity": "concertation.blau_diversity",
}
_CHANGE_IDS = {
    "density": "concertation.density_change",
    "reciprocity": "concertation.reciprocity_change",
    "degree_centralisation": "concertation.degree_centralisation_change",
    "blau_diversity": "concertation.blau_diversity_change",
}

_PERIOD_KEYS = ["period", "period_start", "period_end"]

_TERRITORY_METHODS = {
    "density": "networkx density of the territory's directed org-org referral graph",
    "reciprocity": "networkx reciprocity of the territory's directed org-org referral graph",
    "degree_centralisation": "Freeman degree centralisation (undirected degree) of the territory's referral graph",
    "blau_diversity": "Blau index 1 - sum p^2 over the networks of the territory's active partners",
    "tie_stability": "Jaccard index of the referral-graph edges of this and the previous period",
}


# ---------------------------------------------------------------------------- graph measures
def freeman_centralisation(graph: nx.Graph) -> float:
    """Freeman's degree centralisation of a graph, on its undirected degrees.

    Parameters
    ----------
    graph : networkx.Graph or DiGraph
        A directed graph is first made undirected (u→v and v→u count as one tie).

    Returns
    -------
    float
        In [0, 1]; NaN with fewer than three nodes.

    Notes
    -----
    With :math:`n` nodes of undirected degrees :math:`d_i` and :math:`d_{max} = \\max_i d_i`,

    .. math:: C = \\frac{\\sum_i (d_{max} - d_i)}{(n - 1)(n - 2)}

    the denominator being the sum a star of :math:`n` nodes reaches (its centre has degree
    :math:`n - 1`, its leaves 1), so a star gives 1 and any regular graph (a cycle, a complete
    graph) gives 0. networkx has no such function.
    """
    undirected = graph.to_undirected(as_view=True) if graph.is_directed() else graph
    n = undirected.number_of_nodes()
    if n < 3:
        return float("nan")
    degrees = np.fromiter((degree for _, degree in undirected.degree()), dtype="float64", count=n)
    return float(np.sum(degrees.max() - degrees) / ((n - 1) * (n - 2)))


def network_measures(graph: nx.DiGraph) -> dict[str, float]:
    """Density, reciprocity and degree centralisation of a directed referral graph.

    Parameters
    ----------
    graph : networkx.DiGraph
        Nodes are organisations, an edge u→v says u referred a family to v (no self-loops).

    Returns
    -------
    dict
        ``nodes``, ``edges``, ``reciprocal_edges`` (edges whose reverse also exists),
        ``density``, ``reciprocity`` and ``degree_centralisation`` (NaN where undefined).

    Notes
    -----
    With :math:`n` nodes and :math:`m` edges, density :math:`= m / (n(n - 1))` (NaN when
    :math:`n < 2`; ``nx.density``), reciprocity = share of the edges whose reverse edge is
    present (NaN without edges; ``nx.reciprocity``), and the degree centralisation of
    :func:`freeman_centralisation`.
    """
    n = graph.number_of_nodes()
    m = graph.number_of_edges()
    reciprocal = sum(1 for u, v in graph.edges() if graph.has_edge(v, u))
    return {
        "nodes": float(n),
        "edges": float(m),
        "reciprocal_edges": float(reciprocal),
        "density": float(nx.density(graph)) if n >= 2 else float("nan"),
        "reciprocity": float(nx.reciprocity(graph)) if m > 0 else float("nan"),
        "degree_centralisation": freeman_centralisation(graph),
    }


# ---------------------------------------------------------------------------- roll-up
def mean_of_territories(
    values: pd.DataFrame,
    territory: pd.DataFrame,
    *,
    keys: list[str],
    strata: tuple[str, ...] | list[str],
    confidence: float,
    scopes: Sequence[str] = ("quebec", "region"),
) -> pd.DataFrame:
    """Mean of a territory-level measure over the territories of each region and Québec cell.

    Parameters
    ----------
    values : DataFrame
        One row per territory and ``keys``, with ``territory_id`` and ``value`` (NaN rows are
        left out of the mean).
    territory : DataFrame
        The harmonised territory table.
    keys : list of str, keyword-only
        Columns the mean is taken within besides the scope cell (period, indicator...).
    strata : sequence of str, keyword-only
    confidence : float, keyword-only
    scopes : sequence of {"quebec", "region"}, keyword-only
        The scope levels to compute (default both).

    Returns
    -------
    DataFrame
        ``scope``, ``scope_id``, ``stratum``, ``stratum_value``, ``keys``, ``value``,
        ``ci_low``, ``ci_high`` and ``n`` (territories), for the Québec and region scopes asked.

    Notes
    -----
    Over the :math:`n` territories of the cell with values :math:`x_j`, of mean :math:`\\bar x`
    and standard deviation :math:`s`, the interval is
    :math:`\\bar x \\pm t_{n-1}\\, s / \\sqrt{n}` (NaN when :math:`n < 2`).
    """
    kept = values.loc[values["value"].notna(), ["territory_id", *keys, "value"]]
    if "territory" in scopes:
        raise ValueError("mean_of_territories computes the Québec and region scopes; the territory scope is its input")
    if not scopes:
        return pd.DataFrame(columns=[*SCOPE_KEYS, *keys, "value", "ci_low", "ci_high", "n"])
    expanded = expand_scopes(kept, territory, strata=strata, scopes=scopes)
    if expanded.empty:
        return pd.DataFrame(columns=[*SCOPE_KEYS, *keys, "value", "ci_low", "ci_high", "n"])
    grouped = expanded.groupby([*SCOPE_KEYS, *keys], sort=False, observed=True, dropna=False)["value"]
    summary = grouped.agg(["mean", "std", "count"]).reset_index()
    n = summary["count"].to_numpy(dtype="float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(n >= 2, stats.t.ppf(0.5 + confidence / 2, np.maximum(n - 1, 1)), np.nan)
        half = t * summary["std"].to_numpy(dtype="float64") / np.sqrt(n)
    mean = summary["mean"].to_numpy(dtype="float64")
    return summary.drop(columns=["mean", "std", "count"]).assign(
        value=mean, ci_low=mean - half, ci_high=mean + half, n=n.astype("int64")
    )


# ---------------------------------------------------------------------------- inputs
def _host_of_territory(organisation: pd.DataFrame) -> pd.Series:
    """The host organisation of each territory (the first if a territory lists two)."""
    is_host = organisation["is_host"].astype("boolean").fillna(False).to_numpy(dtype=bool)
    hosts = organisation.loc[is_host, ["territory_id", "org_id"]]
    return hosts.astype("string").drop_duplicates("territory_id").set_index("territory_id")["org_id"]


def referral_edges(tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """``territory_id, date, source, target`` of every referral (organisations as strings).

    The territory is the family's (else the partner organisation's); a referral whose PTP end
    is not named goes from, or to, the territory's host organisation.
    """
    referral = tables["referral"]
    organisation = tables["organisation"]
    families = tables["family"][["family_id", "territory_id"]].astype("string").drop_duplicates("family_id")
    org_territory = organisation[["org_id", "territory_id"]].astype("string").drop_duplicates("org_id")
    org_territory = org_territory.set_index("org_id")["territory_id"]
    frame = pd.DataFrame(
        {
            "family_id": referral["family_id"].astype("string").to_numpy(),
            "direction": referral["direction"].astype("string").to_numpy(),
            "source": referral["from_org_id"].astype("string").to_numpy(),
            "target": referral["to_org_id"].astype("string").to_numpy(),
            "date": pd.to_datetime(referral["referral_date"]).to_numpy(dtype="datetime64[ns]"),
        }
    )
    frame = frame.merge(families, on="family_id", how="left").drop(columns="family_id")
    partner = frame["target"].where(frame["direction"] == "ptp_to_partner", frame["source"])
    frame["territory_id"] = frame["territory_id"].fillna(
        pd.Series(org_territory.reindex(partner).to_numpy(), index=frame.index, dtype="string")
    )
    hosts = _host_of_territory(organisation).reindex(frame["territory_id"]).to_numpy()
    host = pd.Series(hosts, index=frame.index, dtype="string")
    frame["source"] = frame["source"].mask(frame["source"].isna() & (frame["direction"] == "ptp_to_partner"), host)
    frame["target"] = frame["target"].mask(frame["target"].isna() & (frame["direction"] == "partner_to_ptp"), host)
    return frame.loc[frame["territory_id"].notna(), ["territory_id", "date", "source", "target"]]


def _partner_events(tables: Mapping[str, pd.DataFrame], edges: pd.DataFrame) -> pd.DataFrame:
    """``territory_id, date, org_id, network`` of each appearance of a partner organisation."""
    activity = tables["activity"]
    # Select the few concertation rows before converting anything (the table is large).
    concertation = activity["component"].eq("concertation").fillna(False).to_numpy(dtype=bool)
    concertation &= activity["org_id"].notna().to_numpy()
    chosen = activity.loc[concertation, ["territory_id", "activity_date", "org_id"]]
    from_activities = pd.DataFrame(
        {
            "territory_id": chosen["territory_id"].astype("string").to_numpy(),
            "date": pd.to_datetime(chosen["activity_date"]).to_numpy(dtype="datetime64[ns]"),
            "org_id": chosen["org_id"].astype("string").to_numpy(),
        }
    ).astype({"territory_id": "string", "org_id": "string"})
    pieces = [
        edges[["territory_id", "date", "source"]].rename(columns={"source": "org_id"}),
        edges[["territory_id", "date", "target"]].rename(columns={"target": "org_id"}),
        from_activities,
    ]
    pieces = [piece.dropna(subset=["org_id"]) for piece in pieces]
    appearances = pd.concat([piece for piece in pieces if len(piece)] or pieces[-1:], ignore_index=True)
    organisation = tables["organisation"]
    partners = organisation.loc[
        ~organisation["is_host"].astype("boolean").fillna(True).to_numpy(dtype=bool), ["org_id", "network"]
    ].astype("string").drop_duplicates("org_id")
    # Organisations missing from the organisation table are not known partners: left out.
    return appearances.merge(partners, on="org_id", how="inner")


def _with_period(frame: pd.DataFrame, periods: pd.DataFrame) -> pd.DataFrame:
    """``frame`` once with its registry period and once with period ``all`` (rows in the span only)."""
    labelled = frame.assign(period=assign_periods(frame["date"], periods))
    labelled = labelled.loc[labelled["period"].notna()]
    return pd.concat([labelled, labelled.assign(period=ALL)], ignore_index=True)


# ---------------------------------------------------------------------------- per territory
def _territory_graph_measures(edges: pd.DataFrame) -> pd.DataFrame:
    """Graph measures per ``territory_id`` and ``period`` from the labelled referral edges."""
    # Repeated referrals between the same organisations make one edge: deduplicate first.
    unique = edges[["territory_id", "period", "source", "target"]].drop_duplicates()
    nodes = pd.concat(
        [
            unique[["territory_id", "period", "source"]].rename(columns={"source": "org"}),
            unique[["territory_id", "period", "target"]].rename(columns={"target": "org"}),
        ],
        ignore_index=True,
    ).dropna(subset=["org"])
    nodes = nodes.drop_duplicates().sort_values(["territory_id", "period", "org"], kind="stable")
    links = unique.dropna(subset=["source", "target"])
    links = links.loc[links["source"] != links["target"]]
    # Positions of each group's rows, then one small graph per territory and period.
    keys = ["territory_id", "period"]
    orgs = nodes["org"].to_numpy(dtype=object)
    sources = links["source"].to_numpy(dtype=object)
    targets = links["target"].to_numpy(dtype=object)
    edge_rows = links.groupby(keys, sort=False, observed=True).indices
    rows = []
    for (territory_id, period), positions in nodes.groupby(keys, sort=False, observed=True).indices.items():
        graph = nx.DiGraph()
        graph.add_nodes_from(orgs[positions])
        found = edge_rows.get((territory_id, period))
        if found is not None:
            graph.add_edges_from(zip(sources[found], targets[found]))
        rows.append({"territory_id": territory_id, "period": period, **network_measures(graph)})
    return pd.DataFrame(rows)


def _blau(partners: pd.DataFrame) -> pd.DataFrame:
    """Active partners and Blau diversity of their networks per ``territory_id`` and ``period``."""
    distinct = partners.drop_duplicates(["territory_id", "period", "org_id"])
    counts = distinct.groupby(["territory_id", "period", "network"], observed=True, dropna=False).size()
    counts = counts.rename("count").reset_index()
    totals = counts.groupby(["territory_id", "period"], observed=True)["count"].transform("sum")
    counts["p2"] = (counts["count"] / totals) ** 2
    summary = counts.groupby(["territory_id", "period"], observed=True).agg(
        partners=("count", "sum"), sum_p2=("p2", "sum")
    )
    summary["blau_diversity"] = 1 - summary["sum_p2"]
    return summary.drop(columns="sum_p2").reset_index()


def _tie_stability(edges: pd.DataFrame, periods: pd.DataFrame) -> pd.DataFrame:
    """Jaccard index of the edge sets of consecutive registry periods, on the later period."""
    order = pd.Series(np.arange(len(periods)), index=periods["period"].astype(str))
    links = edges.loc[edges["period"] != ALL].dropna(subset=["source", "target"])
    links = links.loc[links["source"] != links["target"], ["territory_id", "period", "source", "target"]]
    links = links.drop_duplicates()
    links = links.assign(k=order.reindex(links["period"].astype(str)).to_numpy()).drop(columns="period")
    size = links.groupby(["territory_id", "k"]).size()
    # An edge present in period k and in k + 1 is common to the pair ending at k + 1.
    following = links.assign(k=links["k"] + 1)
    common = links.merge(following, on=["territory_id", "k", "source", "target"]).groupby(["territory_id", "k"]).size()
    territories = links["territory_id"].unique()
    grid = pd.MultiIndex.from_product([territories, np.arange(1, len(periods))], names=["territory_id", "k"])
    later = size.reindex(grid, fill_value=0).to_numpy()
    earlier = size.reindex(pd.MultiIndex.from_arrays([grid.get_level_values(0), grid.get_level_values(1) - 1]),
                           fill_value=0).to_numpy()
    inter = common.reindex(grid, fill_value=0).to_numpy()
    union = later + earlier - inter
    frame = pd.DataFrame(
        {
            "territory_id": grid.get_level_values(0),
            "period": periods["period"].astype(str).to_numpy()[grid.get_level_values(1)],
            "numerator": inter.astype("float64"),
            "denominator": union.astype("float64"),
        }
    )
    frame = frame.loc[frame["denominator"] > 0]
    return frame.assign(value=frame["numerator"] / frame["denominator"], n=frame["denominator"].astype("int64"))


def _changes(measures: pd.DataFrame, periods: pd.DataFrame) -> pd.DataFrame:
    """Per territory and registry period after the first, each measure minus the previous period's."""
    labels = periods["period"].astype(str).tolist()
    frame = measures.loc[measures["period"] != ALL].set_index(["territory_id", "period"])
    pieces = []
    for measure in CHANGE_MEASURES:
        wide = frame[measure].unstack("period").reindex(columns=labels)
        nodes = frame["partners" if measure == "blau_diversity" else "nodes"].unstack("period").reindex(columns=labels)
        diff = wide.diff(axis=1).iloc[:, 1:]
        long = diff.stack(future_stack=True).rename("value").reset_index()
        long["n"] = nodes.iloc[:, 1:].stack(future_stack=True).to_numpy()
        long["indicator"] = _CHANGE_IDS[measure]
        pieces.append(long.loc[long["value"].notna()])
    return pd.concat(pieces, ignore_index=True)


# ---------------------------------------------------------------------------- the indicators
@dataclass(frozen=True)
class ReferralNetworks:
    """What the concertation indicators share: the territories' partners and network measures.

    Attributes
    ----------
    periods : DataFrame
        The registry periods (``period``, ``period_start``, ``period_end``).
    period_table : DataFrame
        The same with the period ``all`` (the whole span) last.
    partners : DataFrame
        Each appearance of a partner organisation (``territory_id``, ``period``, ``org_id``,
        ``network``), once with its period and once with ``all``.
    territory_values : DataFrame
        The territory-level rows of every network indicator (``territory_id``, ``period``,
        ``indicator``, ``numerator``, ``denominator``, ``value``, ``n``, ``method``), defined
        values of the territory table's territories only.
    units : dict
        Indicator id → unit (from the codebook).
    """

    periods: pd.DataFrame
    period_table: pd.DataFrame
    partners: pd.DataFrame
    territory_values: pd.DataFrame
    units: dict[str, Any]


def referral_networks(
    tables: Mapping[str, pd.DataFrame], *, parameters: IndicatorParameters
) -> ReferralNetworks | None:
    """The :class:`ReferralNetworks` of the registry's span (None when the registry has no span).

    Parameters
    ----------
    tables : mapping of str to DataFrame
        Harmonised tables; uses territory, organisation, family, referral and activity (not
        modified).
    parameters : IndicatorParameters, keyword-only
        ``periods``, ``as_of``.

    Returns
    -------
    ReferralNetworks or None
    """
    span = registry_span(tables, parameters)
    if span is None:
        return None
    periods, first, last = span
    codebook = load_codebook()
    period_table = pd.concat(
        [periods[_PERIOD_KEYS], pd.DataFrame({"period": [ALL], "period_start": [first], "period_end": [last]})],
        ignore_index=True,
    ).astype({"period": "string"})
    edges = _with_period(referral_edges(tables), periods)
    partners = _with_period(_partner_events(tables, edges.loc[edges["period"] != ALL]), periods)
    return ReferralNetworks(
        periods=periods,
        period_table=period_table,
        partners=partners,
        territory_values=_territory_values(edges, partners, periods, tables["territory"]),
        units={key: codebook.indicator(key)["unit"] for key in INDICATORS},
    )


def _territory_values(
    edges: pd.DataFrame, partners: pd.DataFrame, periods: pd.DataFrame, territory: pd.DataFrame
) -> pd.DataFrame:
    """Territory-level rows of the graph measures, Blau diversity, their changes and tie stability."""
    graph = _territory_graph_measures(edges) if len(edges) else pd.DataFrame(
        columns=["territory_id", "period", "nodes", "edges", "reciprocal_edges", *GRAPH_MEASURES]
    )
    blau = _blau(partners) if len(partners) else pd.DataFrame(
        columns=["territory_id", "period", "partners", "blau_diversity"]
    )
    measures = graph.merge(blau, on=["territory_id", "period"], how="outer")
    territory_rows = [_graph_territory_rows(measures)]
    if len(periods) > 1 and len(measures):
        changes = _changes(measures, periods)
        territory_rows.append(changes.assign(method="difference of the territory's values between periods"))
    if len(periods) > 1 and len(edges):
        stability = _tie_stability(edges, periods)
        territory_rows.append(
            stability.assign(indicator="concertation.tie_stability", method=_TERRITORY_METHODS["tie_stability"])
        )
    territory_rows = [frame for frame in territory_rows if len(frame)]
    if not territory_rows:
        return pd.DataFrame(columns=["territory_id", "period", "indicator", "value"])
    per_territory = pd.concat(territory_rows, ignore_index=True)
    per_territory = per_territory.loc[per_territory["value"].notna()]
    return per_territory.loc[per_territory["territory_id"].isin(territory["territory_id"].astype("string"))]


def active_partners(
    tables: Mapping[str, pd.DataFrame], *, parameters: IndicatorParameters, networks: ReferralNetworks | None = None
) -> pd.DataFrame:
    """``concertation.active_partners``: distinct partner organisations per scope cell and period.

    Parameters
    ----------
    tables : mapping of str to DataFrame
        Harmonised tables; uses territory, organisation, family, referral and activity (not
        modified).
    parameters : IndicatorParameters, keyword-only
        ``periods``, ``strata``, ``confidence``, ``as_of``, ``scopes``.
    networks : ReferralNetworks, keyword-only
        :func:`referral_networks` of the same tables and parameters, when already computed.

    Returns
    -------
    DataFrame
        Indicator rows (:data:`~proximite.indicators.base.INDICATOR_COLUMNS`), a count.

    Notes
    -----
    Distinct non-host organisations named in the territory's referrals (either end) or in its
    concertation activities (``org_id`` set), counted within each scope cell (an organisation
    belongs to one territory, so it adds up); no interval.
    """
    networks = referral_networks(tables, parameters=parameters) if networks is None else networks
    if networks is None:
        return empty_indicator_frame()
    rows = _active_partners(networks.partners, tables["territory"], parameters, networks.units)
    return _finish([rows], networks)


def density(
    tables: Mapping[str, pd.DataFrame], *, parameters: IndicatorParameters, networks: ReferralNetworks | None = None
) -> pd.DataFrame:
    """``concertation.density``: density of the territory's directed referral graph.

    Parameters and returns as :func:`active_partners`.

    Notes
    -----
    :math:`m / (n(n-1))` for :math:`n` organisations and :math:`m` distinct referral edges
    (:func:`network_measures`); a mean of territories above the territory scope.
    """
    return _network_indicator("concertation.density", tables, parameters, networks)


def reciprocity(
    tables: Mapping[str, pd.DataFrame], *, parameters: IndicatorParameters, networks: ReferralNetworks | None = None
) -> pd.DataFrame:
    """``concertation.reciprocity``: share of the referral edges whose reverse edge exists.

    Parameters and returns as :func:`active_partners`.

    Notes
    -----
    :math:`|\\{(u, v) \\in E : (v, u) \\in E\\}| / |E|` (:func:`network_measures`); a mean of
    territories above the territory scope.
    """
    return _network_indicator("concertation.reciprocity", tables, parameters, networks)


def degree_centralisation(
    tables: Mapping[str, pd.DataFrame], *, parameters: IndicatorParameters, networks: ReferralNetworks | None = None
) -> pd.DataFrame:
    """``concertation.degree_centralisation``: Freeman degree centralisation of the referral graph.

    Parameters and returns as :func:`active_partners`.

    Notes
    -----
    :math:`\\sum_i (d_{max} - d_i) / ((n-1)(n-2))` on undirected degrees
    (:func:`freeman_centralisation`); a mean of territories above the territory scope.
    """
    return _network_indicator("concertation.degree_centralisation", tables, parameters, networks)


def blau_diversity(
    tables: Mapping[str, pd.DataFrame], *, parameters: IndicatorParameters, networks: ReferralNetworks | None = None
) -> pd.DataFrame:
    """``concertation.blau_diversity``: diversity of the networks the active partners belong to.

    Parameters and returns as :func:`active_partners`.

    Notes
    -----
    :math:`1 - \\sum_k p_k^2`, :math:`p_k` the share of the territory's active partners in
    network :math:`k`; a mean of territories above the territory scope.
    """
    return _network_indicator("concertation.blau_diversity", tables, parameters, networks)


def density_change(
    tables: Mapping[str, pd.DataFrame], *, parameters: IndicatorParameters, networks: ReferralNetworks | None = None
) -> pd.DataFrame:
    """``concertation.density_change``: :func:`density` minus the previous registry period's.

    Parameters and returns as :func:`active_partners`.

    Notes
    -----
    value(period) − value(previous period) per territory (registry periods only; a territory
    without a value in either period has no change); a mean of territories above.
    """
    return _network_indicator("concertation.density_change", tables, parameters, networks)


def reciprocity_change(
    tables: Mapping[str, pd.DataFrame], *, parameters: IndicatorParameters, networks: ReferralNetworks | None = None
) -> pd.DataFrame:
    """``concertation.reciprocity_change``: :func:`reciprocity` minus the previous registry period's.

    Parameters and returns as :func:`active_partners`; formula as :func:`density_change`.
    """
    return _network_indicator("concertation.reciprocity_change", tables, parameters, networks)


def degree_centralisation_change(
    tables: Mapping[str, pd.DataFrame], *, parameters: IndicatorParameters, networks: ReferralNetworks | None = None
) -> pd.DataFrame:
    """``concertation.degree_centralisation_change``: :func:`degree_centralisation` minus the previous period's.

    Parameters and returns as :func:`active_partners`; formula as :func:`density_change`.
    """
    return _network_indicator("concertation.degree_centralisation_change", tables, parameters, networks)


def blau_diversity_change(
    tables: Mapping[str, pd.DataFrame], *, parameters: IndicatorParameters, networks: ReferralNetworks | None = None
) -> pd.DataFrame:
    """``concertation.blau_diversity_change``: :func:`blau_diversity` minus the previous registry period's.

    Parameters and returns as :func:`active_partners`; formula as :func:`density_change`.
    """
    return _network_indicator("concertation.blau_diversity_change", tables, parameters, networks)


def tie_stability(
    tables: Mapping[str, pd.DataFrame], *, parameters: IndicatorParameters, networks: ReferralNetworks | None = None
) -> pd.DataFrame:
    """``concertation.tie_stability``: Jaccard index of the referral edges of two consecutive periods.

    Parameters and returns as :func:`active_partners`.

    Notes
    -----
    :math:`|E_1 \\cap E_2| / |E_1 \\cup E_2|` over the edge sets of two consecutive registry
    periods, on the later one; ``n`` = edges of either period; a mean of territories above.
    """
    return _network_indicator("concertation.tie_stability", tables, parameters, networks)


def _network_indicator(
    indicator: str,
    tables: Mapping[str, pd.DataFrame],
    parameters: IndicatorParameters,
    networks: ReferralNetworks | None,
) -> pd.DataFrame:
    """One network indicator: the territories' own values, and their means above the territory scope."""
    networks = referral_networks(tables, parameters=parameters) if networks is None else networks
    if networks is None:
        return empty_indicator_frame()
    values = networks.territory_values
    values = values.loc[values["indicator"] == indicator]
    if values.empty:
        return empty_indicator_frame()
    rows = []
    if "territory" in parameters.scopes:
        rows.append(values.assign(scope="territory", scope_id=values["territory_id"]))
    # Region and Québec values are means of the territories' own, so those are computed whatever the scopes.
    upper_scopes = [scope for scope in parameters.scopes if scope != "territory"]
    if upper_scopes:
        means = mean_of_territories(
            values[["territory_id", "period", "indicator", "value"]],
            tables["territory"],
            keys=["period", "indicator"],
            strata=parameters.strata,
            confidence=parameters.confidence,
            scopes=upper_scopes,
        )
        # The measures live in [0, 1] and their changes in [-1, 1]: the t interval is cut to that range.
        floor = np.where(means["indicator"].astype(str).str.endswith("_change"), -1.0, 0.0)
        means = means.assign(ci_low=np.maximum(means["ci_low"], floor), ci_high=np.minimum(means["ci_high"], 1.0))
        rows.append(means.assign(method="mean of territories, t interval"))
    return _finish(rows, networks)


def _finish(rows: list[pd.DataFrame], networks: ReferralNetworks) -> pd.DataFrame:
    """Indicator rows with the period dates and the unit (empty pieces dropped)."""
    rows = [piece for piece in rows if len(piece)]
    if not rows:
        return empty_indicator_frame()
    frame = pd.concat(rows, ignore_index=True)
    frame = frame.drop(columns=[c for c in ("period_start", "period_end") if c in frame.columns])
    frame["period"] = frame["period"].astype("string")
    frame = frame.merge(networks.period_table, on="period", how="left")
    frame["unit"] = frame["indicator"].map(networks.units)
    keep = [c for c in frame.columns if c in set(_OUTPUT)]
    return indicator_frame(frame[keep])


# ---------------------------------------------------------------------------- compute
def compute(tables: Mapping[str, pd.DataFrame], *, parameters: IndicatorParameters) -> pd.DataFrame:
    """The concertation indicators of every scope, stratum and registry period.

    Parameters
    ----------
    tables : mapping of str to DataFrame
        Harmonised tables; uses territory, organisation, family, referral and activity (not
        modified).
    parameters : IndicatorParameters, keyword-only
        ``periods``, ``strata``, ``confidence``, ``as_of``, ``scopes`` (the scope levels
        computed; the territories' networks are built for any of them).

    Returns
    -------
    DataFrame
        Indicator rows (:data:`~proximite.indicators.base.INDICATOR_COLUMNS`).

    Notes
    -----
    The referral graph of a territory and period has the organisations named in its referrals
    (the family's territory) as nodes and an edge u→v when a referral goes from u to v; a
    referral whose PTP end is not named is from (or to) the territory's host organisation;
    duplicate referrals make one edge and self-loops are dropped.

    - active partners = distinct non-host organisations named in the territory's referrals
      (either end) or in its concertation activities (``org_id`` set); the count is distinct
      within each scope cell (an organisation belongs to one territory, so it adds up);
    - density :math:`= m / (n(n-1))`, reciprocity = share of edges whose reverse exists,
      degree centralisation :math:`= \\sum_i (d_{max} - d_i) / ((n-1)(n-2))` on undirected
      degrees (see :func:`network_measures`, :func:`freeman_centralisation`);
    - Blau diversity :math:`= 1 - \\sum_k p_k^2`, :math:`p_k` the share of the active partners
      in network :math:`k`;
    - change = value(period) − value(previous period) per territory (registry periods only; a
      territory without a value in either period has no change);
    - tie stability = :math:`|E_1 \\cap E_2| / |E_1 \\cup E_2|` over the edge sets of two
      consecutive periods, on the later one.

    At territory scope a row is the territory's own measure, ``n`` = nodes (active partners for
    Blau, edges of either period for tie stability), no interval. At the region and Québec
    scopes (and strata) the value is the mean over the cell's territories with a value,
    ``n`` = territories, interval :math:`\\bar x \\pm t_{n-1} s/\\sqrt n`
    (:func:`mean_of_territories`) cut to the measure's range ([0, 1], or [-1, 1] for a change).
    Active partners, a count, has no interval. Undefined values (a graph of fewer than 2 or 3
    nodes, no edges, no partners) give no row.
    """
    networks = referral_networks(tables, parameters=parameters)
    if networks is None:
        return empty_indicator_frame()
    frames = [
        indicator(tables, parameters=parameters, networks=networks)
        for indicator in (active_partners, density, reciprocity, degree_centralisation, blau_diversity,
                          density_change, reciprocity_change, degree_centralisation_change,
                          blau_diversity_change, tie_stability)
    ]
    frames = [frame for frame in frames if len(frame)]
    if not frames:
        return empty_indicator_frame()
    return indicator_frame(pd.concat(frames, ignore_index=True))


_OUTPUT = (
    "scope", "scope_id", "stratum", "stratum_value", "period", "period_start", "period_end", "indicator",
    "numerator", "denominator", "value", "ci_low", "ci_high", "n", "unit", "method",
)


def _active_partners(
    partners: pd.DataFrame, territory: pd.DataFrame, parameters: IndicatorParameters, unit: dict[str, Any]
) -> pd.DataFrame:
    """Distinct partners per scope cell and period (counted within the cell: no double count)."""
    distinct = partners[["territory_id", "period", "org_id"]].drop_duplicates()
    expanded = expand_scopes(distinct, territory, strata=parameters.strata, scopes=parameters.scopes)
    if expanded.empty:
        return pd.DataFrame()
    counts = (
        expanded.groupby([*SCOPE_KEYS, "period"], observed=True, sort=False)["org_id"]
        .nunique()
        .rename("value")
        .reset_index()
    )
    counts["value"] = counts["value"].astype("float64")
    return counts.assign(
        numerator=counts["value"],
        n=counts["value"].astype("int64"),
        indicator="concertation.active_partners",
        method="distinct partner organisations in referrals or concertation activities",
    )


def _graph_territory_rows(measures: pd.DataFrame) -> pd.DataFrame:
    """Territory-scope rows of the graph measures and Blau diversity (one per territory and period)."""
    if measures.empty:
        return pd.DataFrame()
    with np.errstate(divide="ignore", invalid="ignore"):
        nodes = measures["nodes"].to_numpy(dtype="float64")
        spec = {
            "density": (measures["edges"], nodes * (nodes - 1), nodes),
            "reciprocity": (measures["reciprocal_edges"], measures["edges"], nodes),
            "degree_centralisation": (
                measures["degree_centralisation"] * (nodes - 1) * (nodes - 2),
                (nodes - 1) * (nodes - 2),
                nodes,
            ),
            "blau_diversity": (np.nan, np.nan, measures["partners"].to_numpy(dtype="float64")),
        }
    pieces = []
    for measure, (numerator, denominator, n) in spec.items():
        piece = pd.DataFrame(
            {
                "territory_id": measures["territory_id"].to_numpy(),
                "period": measures["period"].to_numpy(),
                "indicator": _MEASURE_IDS[measure],
                "numerator": np.asarray(numerator, dtype="float64") * np.ones(len(measures)),
                "denominator": np.asarray(denominator, dtype="float64") * np.ones(len(measures)),
                "value": measures[measure].to_numpy(dtype="float64"),
                "n": n,
                "method": _TERRITORY_METHODS[measure],
            }
        )
        pieces.append(piece)
    frame = pd.concat(pieces, ignore_index=True)
    frame["n"] = frame["n"].round().astype("Int64")
    return frame
