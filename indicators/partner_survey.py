"""The yearly partner questionnaire: how partners see the collaboration, and the network they report.

Indicators (ids of ``cohort/codebook/indicators.yaml``) per territory and survey year (``period``
is the year, ``2024``, 1 January to 31 December), rolled up to regions, Québec and their strata:

- ``partner_survey.response_rate``: partner organisations that answered / the territory's partner
  organisations (organisation table, hosts excluded), in the territories where the survey ran;
- ``partner_survey.positive_collaboration_share``: answers rating the collaboration with the host
  3 or 4 (of 4) / answers that rate it;
- ``partner_survey.trust_dyad_mean`` and ``value_dyad_mean``: mean over the ties of each tie's
  score, the mean of its three trust (value) items (1–4), the PARTNER tool's dyad level;
- ``partner_survey.trust_org_mean`` and ``value_org_mean``: mean over the organisations named of
  the score each receives (the mean of the ties naming it), the organisation level;
- ``partner_survey.reported_density`` and ``reported_centralisation``: the network the answers
  report (a tie when a collaboration other than ``aucune`` is reported, either way), beside
  ``partner_survey.referral_density`` and ``referral_centralisation``, the referral network of the
  same calendar year measured the same way on the same organisations;
- ``partner_survey.tie_overlap``: Jaccard index of the reported and the referral ties;
- ``partner_survey.reported_density_change``, ``reported_centralisation_change`` and
  ``tie_overlap_change``: the change since the previous survey year.

A network measure belongs to a territory: above it, the mean over the cell's territories with a
t interval (:func:`~proximite.indicators.concertation.mean_of_territories`). The functions here do
no I/O and never modify their inputs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
import networkx as nx
import numpy as np
import pandas as pd

from proximite.cohort.codebook import load_codebook
from proximite.indicators.base import (
    IndicatorParameters,
    empty_indicator_frame,
    indicator_frame,
    summed_shares,
    year_periods,
)
from proximite.indicators.concertation import freeman_centralisation, mean_of_territories, referral_edges
from proximite.indicators.score_trajectory import clustered_means, scope_cells

__all__ = [
    "INDICATORS",
    "PartnerSurveyData",
    "compute",
    "partner_survey_data",
    "positive_collaboration_share",
    "referral_centralisation",
    "referral_density",
    "reported_centralisation",
    "reported_centralisation_change",
    "reported_density",
    "reported_density_change",
    "response_rate",
    "tie_overlap",
    "tie_overlap_change",
    "trust_dyad_mean",
    "trust_org_mean",
    "value_dyad_mean",
    "value_org_mean",
]

PREFIX = "partner_survey."
TRUST_ITEMS = ("trust_openness", "trust_reliability", "trust_shared_mission")
VALUE_ITEMS = ("value_influence", "value_resources", "value_involvement")
#: Appreciations of the collaboration with the host that count as positive (of 1–4).
POSITIVE = (3, 4)
#: The territory's network measures, and those whose change between years is an indicator.
NETWORK_MEASURES = ("reported_density", "reported_centralisation", "referral_density", "referral_centralisation",
                    "tie_overlap")
CHANGE_MEASURES = ("reported_density", "reported_centralisation", "tie_overlap")
#: The indicator ids this module emits, in the order :func:`compute` returns them.
INDICATORS: tuple[str, ...] = tuple(
    PREFIX + name
    for name in ("response_rate", "positive_collaboration_share", "trust_dyad_mean", "value_dyad_mean", "trust_org_mean",
                 "value_org_mean", *NETWORK_MEASURES, *(f"{measure}_change" for measure in CHANGE_MEASURES))
)
_METHODS = {
    "reported_density": "ties reported (level other than aucune, either way) / pairs of the organisations in "
    "either network of the territory and year",
    "reported_centralisation": "Freeman degree centralisation of the reported network (undirected)",
    "referral_density": "pairs of organisations with a referral that calendar year / pairs of the same organisations",
    "referral_centralisation": "Freeman degree centralisation of the referral network of the year (undirected)",
    "tie_overlap": "Jaccard index of the reported ties and the referral ties of the year",
}


@dataclass(frozen=True)
class PartnerSurveyData:
    """What the partner indicators share.

    Attributes
    ----------
    responses : DataFrame
        ``response_id``, ``org_id``, ``territory_id``, ``period``, ``collaboration_with_host``.
    ties : DataFrame
        ``response_id``, ``territory_id``, ``period``, ``from_org_id``, ``to_org_id``,
        ``collaboration_level``, ``trust`` and ``value`` (each the mean of its answered items).
    periods : DataFrame
        The survey years (:func:`~proximite.indicators.base.year_periods`).
    territory_values : DataFrame
        The territories' network rows (``territory_id``, ``period``, ``indicator``,
        ``numerator``, ``denominator``, ``value``, ``n``, ``method``).
    """

    responses: pd.DataFrame
    ties: pd.DataFrame
    periods: pd.DataFrame
    territory_values: pd.DataFrame


# ---------------------------------------------------------------------------- inputs
def _item_mean(frame: pd.DataFrame, items: tuple[str, ...]) -> np.ndarray:
    values = frame[list(items)].astype("Float64").to_numpy(dtype="float64", na_value=np.nan)
    answered = ~np.isnan(values)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(answered.any(axis=1), np.nansum(values, axis=1) / answered.sum(axis=1), np.nan)


def _responses(tables: Mapping[str, pd.DataFrame], parameters: IndicatorParameters) -> pd.DataFrame:
    response = tables["partner_response"]
    keep = response["year"].notna().to_numpy(dtype=bool) & response["territory_id"].notna().to_numpy(dtype=bool)
    if parameters.as_of is not None:
        keep &= (pd.to_datetime(response["response_date"]) <= pd.Timestamp(parameters.as_of)).fillna(True).to_numpy(dtype=bool)
    chosen = response.loc[keep]
    return pd.DataFrame(
        {
            "response_id": chosen["response_id"].astype("string").to_numpy(),
            "org_id": chosen["org_id"].astype("string").to_numpy(),
            "territory_id": chosen["territory_id"].astype("string").to_numpy(),
            "period": chosen["year"].astype("Int64").astype("string").to_numpy(),
            "collaboration_with_host": chosen["collaboration_with_host"].astype("Int64").to_numpy(),
        }
    ).astype({"response_id": "string", "org_id": "string", "territory_id": "string", "period": "string"})


def _ties(tables: Mapping[str, pd.DataFrame], responses: pd.DataFrame) -> pd.DataFrame:
    tie = tables["partner_tie"]
    frame = pd.DataFrame(
        {
            "response_id": tie["response_id"].astype("string").to_numpy(),
            "from_org_id": tie["from_org_id"].astype("string").to_numpy(),
            "to_org_id": tie["to_org_id"].astype("string").to_numpy(),
            "collaboration_level": tie["collaboration_level"].astype("string").to_numpy(),
            "trust": _item_mean(tie, TRUST_ITEMS),
            "value": _item_mean(tie, VALUE_ITEMS),
        }
    ).astype({"response_id": "string", "from_org_id": "string", "to_org_id": "string"})
    # A tie belongs to its response's territory and year (ties of unknown responses are left out).
    return frame.merge(responses[["response_id", "territory_id", "period"]], on="response_id", how="inner")


def _referral_pairs(tables: Mapping[str, pd.DataFrame], periods: pd.DataFrame) -> pd.DataFrame:
    """``territory_id, period, a, b`` of the referral ties of the survey years (pairs sorted, no self-loop)."""
    edges = referral_edges(tables).dropna(subset=["source", "target"])
    years = pd.to_datetime(edges["date"]).dt.year.astype("Int64").astype("string")
    edges = edges.assign(period=years.to_numpy()).loc[years.isin(periods["period"]).fillna(False).to_numpy(dtype=bool)]
    return _pairs(edges["territory_id"], edges["period"], edges["source"], edges["target"])


def _pairs(territory: pd.Series, period: pd.Series, one: pd.Series, other: pd.Series) -> pd.DataFrame:
    """Undirected ties as sorted pairs, one row each, without self-loops."""
    ends = np.sort(np.column_stack([one.astype(str).to_numpy(), other.astype(str).to_numpy()]), axis=1)
    frame = pd.DataFrame({"territory_id": territory.astype(str).to_numpy(), "period": period.astype(str).to_numpy(),
                          "a": ends[:, 0], "b": ends[:, 1]})
    return frame.loc[frame["a"] != frame["b"]].drop_duplicates().reset_index(drop=True)


def partner_survey_data(tables: Mapping[str, pd.DataFrame], *, parameters: IndicatorParameters) -> PartnerSurveyData | None:
    """The :class:`PartnerSurveyData` of the tables (None when nobody answered).

    Parameters
    ----------
    tables : mapping of str to DataFrame
        ``territory``, ``organisation``, ``partner_response``, ``partner_tie``, ``family`` and
        ``referral`` (not modified).
    parameters : IndicatorParameters, keyword-only
        ``as_of`` (answers after it are left out).

    Returns
    -------
    PartnerSurveyData or None
    """
    responses = _responses(tables, parameters)
    if responses.empty:
        return None
    periods = year_periods(responses["period"].astype(int))
    ties = _ties(tables, responses)
    values = _network_values(responses, ties, _referral_pairs(tables, periods))
    known = values["territory_id"].isin(tables["territory"]["territory_id"].astype(str)).to_numpy(dtype=bool)
    return PartnerSurveyData(responses, ties, periods, values.loc[known].reset_index(drop=True))


# ---------------------------------------------------------------------------- networks
def _territory_measures(
    nodes: np.ndarray, reported: set[tuple[str, str]], referrals: set[tuple[str, str]]
) -> dict[str, tuple[float, float, float, int]]:
    """``{measure: (numerator, denominator, value, n)}`` of one territory and year (defined measures only)."""
    n = len(nodes)
    measures: dict[str, tuple[float, float, float, int]] = {}
    if n >= 2:
        pairs = n * (n - 1) / 2
        measures["reported_density"] = (len(reported), pairs, len(reported) / pairs, n)
        measures["referral_density"] = (len(referrals), pairs, len(referrals) / pairs, n)
    if n >= 3:
        scale = (n - 1) * (n - 2)
        for name, ties in (("reported_centralisation", reported), ("referral_centralisation", referrals)):
            graph = nx.Graph()
            graph.add_nodes_from(nodes)
            graph.add_edges_from(ties)
            value = freeman_centralisation(graph)
            measures[name] = (value * scale, scale, value, n)
    union = reported | referrals
    if union:
        common = len(reported & referrals)
        measures["tie_overlap"] = (common, len(union), common / len(union), len(union))
    return measures


def _network_values(responses: pd.DataFrame, ties: pd.DataFrame, referrals: pd.DataFrame) -> pd.DataFrame:
    """Territory rows of the network measures, for every territory and year where the survey ran."""
    collaborating = ties.loc[(ties["collaboration_level"] != "aucune").fillna(False).to_numpy(dtype=bool)]
    collaborating = collaborating.dropna(subset=["from_org_id", "to_org_id"])
    reported = _pairs(collaborating["territory_id"], collaborating["period"], collaborating["from_org_id"],
                      collaborating["to_org_id"])
    keys = ["territory_id", "period"]
    pieces = [responses[[*keys, "org_id"]], ties[[*keys, "to_org_id"]].rename(columns={"to_org_id": "org_id"}),
              referrals[[*keys, "a"]].rename(columns={"a": "org_id"}), referrals[[*keys, "b"]].rename(columns={"b": "org_id"})]
    # The responses are never empty here: at least one piece.
    members = pd.concat([piece.dropna() for piece in pieces if len(piece)], ignore_index=True).astype(str).drop_duplicates()
    groups = {name: frame.groupby(keys, sort=False).indices for name, frame in
              (("members", members), ("reported", reported), ("referrals", referrals))}
    rows = []
    for key in responses[keys].astype(str).drop_duplicates().itertuples(index=False, name=None):
        nodes = members["org_id"].to_numpy()[groups["members"].get(key, [])]
        ties_of = {name: set(zip(frame["a"].to_numpy()[groups[name].get(key, [])],
                                 frame["b"].to_numpy()[groups[name].get(key, [])], strict=True))
                   for name, frame in (("reported", reported), ("referrals", referrals))}
        for measure, (numerator, denominator, value, n) in _territory_measures(nodes, *ties_of.values()).items():
            rows.append({"territory_id": key[0], "period": key[1], "indicator": PREFIX + measure, "numerator": numerator,
                         "denominator": denominator, "value": value, "n": n, "method": _METHODS[measure]})
    values = pd.DataFrame(rows, columns=[*keys, "indicator", "numerator", "denominator", "value", "n", "method"])
    return pd.concat([values, _changes(values)], ignore_index=True)


def _changes(values: pd.DataFrame) -> pd.DataFrame:
    """Each territory's change of a measure since the previous calendar year (both years surveyed)."""
    pieces = []
    for measure in CHANGE_MEASURES:
        rows = values.loc[values["indicator"] == PREFIX + measure, ["territory_id", "period", "value", "n"]]
        rows = rows.assign(year=rows["period"].astype(int))
        before = rows.assign(year=rows["year"] + 1).rename(columns={"value": "before"})[["territory_id", "year", "before"]]
        joined = rows.merge(before, on=["territory_id", "year"], how="inner")
        pieces.append(joined.assign(
            indicator=PREFIX + measure + "_change", value=joined["value"] - joined["before"], numerator=np.nan,
            denominator=np.nan, method="difference of the territory's values between consecutive survey years",
        ).drop(columns=["year", "before"]))
    changes = pd.concat(pieces, ignore_index=True)
    return changes.loc[changes["value"].notna()]


# ---------------------------------------------------------------------------- the indicators
def _finish(rows: pd.DataFrame, indicator: str, data: PartnerSurveyData) -> pd.DataFrame:
    """Indicator rows with the id, its unit and the year's dates (empty when there is no row)."""
    if rows is None or rows.empty:
        return empty_indicator_frame()
    rows = rows.drop(columns=[c for c in ("territory_id", "period_start", "period_end") if c in rows.columns])
    rows = rows.astype({"period": "string"}).merge(data.periods, on="period", how="left")
    return indicator_frame(rows.assign(indicator=indicator, unit=load_codebook().indicator(indicator)["unit"]))


def _data(tables: Mapping[str, pd.DataFrame], parameters: IndicatorParameters, data: PartnerSurveyData | None) -> PartnerSurveyData | None:
    return partner_survey_data(tables, parameters=parameters) if data is None else data


def response_rate(
    tables: Mapping[str, pd.DataFrame], *, parameters: IndicatorParameters, data: PartnerSurveyData | None = None
) -> pd.DataFrame:
    """``partner_survey.response_rate``: partner organisations that answered, where the survey ran.

    Parameters
    ----------
    tables : mapping of str to DataFrame
        ``territory``, ``organisation``, ``partner_response``, ``partner_tie``, ``family``,
        ``referral`` (not modified).
    parameters : IndicatorParameters, keyword-only
        ``strata``, ``scopes``, ``confidence``, ``as_of``.
    data : PartnerSurveyData, keyword-only
        :func:`partner_survey_data` of the same tables and parameters, when already computed.

    Returns
    -------
    DataFrame
        Indicator rows per scope cell and survey year, unit ``share``.

    Notes
    -----
    Per territory :math:`t` and year :math:`y` with at least one answer,
    :math:`k_{ty}` = distinct partner organisations of :math:`t` (organisation table, hosts
    excluded) that answered in :math:`y` and :math:`m_t` = partner organisations of :math:`t`;

    .. math:: \\text{rate} = \\sum_t k_{ty} / \\sum_t m_t

    over the cell's territories (Wilson interval, ``n`` = organisations invited). A host's answer,
    or an organisation of another territory, is not counted.
    """
    data = _data(tables, parameters, data)
    if data is None:
        return empty_indicator_frame()
    organisation = tables["organisation"]
    partner = ~organisation["is_host"].astype("boolean").fillna(True).to_numpy(dtype=bool)
    invited = organisation.loc[partner, ["territory_id", "org_id"]].astype(str).drop_duplicates()
    answered = data.responses[["territory_id", "period", "org_id"]].astype(str).drop_duplicates()
    counted = answered.merge(invited, on=["territory_id", "org_id"], how="inner")
    ran = answered[["territory_id", "period"]].drop_duplicates()
    counts = ran.merge(counted.groupby(["territory_id", "period"]).size().rename("numerator").reset_index(), how="left")
    counts = counts.merge(invited.groupby("territory_id").size().rename("denominator").reset_index(), how="left")
    counts = counts.fillna({"numerator": 0, "denominator": 0})
    rows = summed_shares(counts, tables["territory"], keys=["period"], parameters=parameters)
    method = "wilson; partner organisations that answered / the territory's partner organisations, where the survey ran"
    return _finish(rows.assign(method=method) if len(rows) else rows, PREFIX + "response_rate", data)


def positive_collaboration_share(
    tables: Mapping[str, pd.DataFrame], *, parameters: IndicatorParameters, data: PartnerSurveyData | None = None
) -> pd.DataFrame:
    """``partner_survey.positive_collaboration_share``: answers rating the collaboration with the host 3 or 4.

    Parameters and returns as :func:`response_rate`.

    Notes
    -----
    .. math:: \\frac{\\#\\{\\text{answers with appreciation} \\in \\{3, 4\\}\\}}{\\#\\{\\text{answers with an appreciation}\\}}

    summed over the cell's territories; Wilson interval; ``n`` = answers that rate it.
    """
    data = _data(tables, parameters, data)
    if data is None:
        return empty_indicator_frame()
    rated = data.responses.loc[data.responses["collaboration_with_host"].notna()]
    counts = rated.assign(numerator=rated["collaboration_with_host"].isin(POSITIVE).astype("int64"), denominator=1)
    counts = counts.groupby(["territory_id", "period"], as_index=False)[["numerator", "denominator"]].sum()
    rows = summed_shares(counts, tables["territory"], keys=["period"], parameters=parameters)
    method = "wilson; answers rating the collaboration with the host 3 or 4 (of 4) / answers that rate it"
    return _finish(rows.assign(method=method) if len(rows) else rows, PREFIX + "positive_collaboration_share", data)


def _year_means(units: pd.DataFrame, tables: Mapping[str, pd.DataFrame], parameters: IndicatorParameters) -> pd.DataFrame:
    """Clustered means of ``value`` per scope cell and year: by territory, by ``unit`` within one territory."""
    units = units.dropna(subset=["value"])
    if units.empty:
        return pd.DataFrame()
    frame = pd.DataFrame({"family_id": units["unit"].to_numpy(), "territory_id": units["territory_id"].to_numpy(),
                          "wave": units["period"].astype(int).to_numpy(), "value": units["value"].to_numpy(dtype="float64")})
    expanded, cells = scope_cells(frame, tables["territory"], strata=parameters.strata, scopes=parameters.scopes)
    if expanded.empty:
        return pd.DataFrame()
    means = clustered_means(expanded, cells, "value", confidence=parameters.confidence)
    return means.assign(period=means["wave"].astype(int).astype(str)).drop(columns=["wave", "cluster_by"])


def _dyad_mean(score: str, tables: Mapping[str, pd.DataFrame], parameters: IndicatorParameters,
               data: PartnerSurveyData | None) -> pd.DataFrame:
    data = _data(tables, parameters, data)
    if data is None:
        return empty_indicator_frame()
    ties = data.ties
    units = pd.DataFrame({"unit": ties["response_id"].to_numpy(), "territory_id": ties["territory_id"].to_numpy(),
                          "period": ties["period"].to_numpy(), "value": ties[score].to_numpy()})
    rows = _year_means(units, tables, parameters)
    method = (f"mean over the ties of their {score} score (mean of the 3 items, 1-4); SE clustered by territory "
              "(by responding organisation within a territory)")
    return _finish(rows.assign(method=method) if len(rows) else rows, f"{PREFIX}{score}_dyad_mean", data)


def _org_mean(score: str, tables: Mapping[str, pd.DataFrame], parameters: IndicatorParameters,
              data: PartnerSurveyData | None) -> pd.DataFrame:
    data = _data(tables, parameters, data)
    if data is None:
        return empty_indicator_frame()
    received = data.ties.dropna(subset=[score, "to_org_id"]).groupby(["territory_id", "period", "to_org_id"], as_index=False)
    units = received[score].mean().rename(columns={"to_org_id": "unit", score: "value"})
    rows = _year_means(units, tables, parameters)
    method = (f"mean over the organisations named of the {score} score they receive (mean of the ties naming them); "
              "SE clustered by territory")
    return _finish(rows.assign(method=method) if len(rows) else rows, f"{PREFIX}{score}_org_mean", data)


def trust_dyad_mean(
    tables: Mapping[str, pd.DataFrame], *, parameters: IndicatorParameters, data: PartnerSurveyData | None = None
) -> pd.DataFrame:
    """``partner_survey.trust_dyad_mean``: mean trust score of the ties reported (dyad level).

    Parameters and returns as :func:`response_rate` (unit ``mean``).

    Notes
    -----
    A tie's trust score :math:`s_i` is the mean of its answered trust items (openness to
    communication, reliability, shared mission; 1–4; ties at level ``aucune`` have none). The
    indicator is :math:`\\bar s` over the cell's ties with
    :func:`~proximite.indicators.base.clustered_mean`'s interval: clusters are the territories, or
    the responses (one organisation's answer) within a single territory; ``n`` = ties.
    """
    return _dyad_mean("trust", tables, parameters, data)


def value_dyad_mean(
    tables: Mapping[str, pd.DataFrame], *, parameters: IndicatorParameters, data: PartnerSurveyData | None = None
) -> pd.DataFrame:
    """``partner_survey.value_dyad_mean``: mean value score of the ties reported (dyad level).

    Parameters and returns as :func:`response_rate` (unit ``mean``); as :func:`trust_dyad_mean`
    with the value items (power and influence, resource contribution, level of involvement).
    """
    return _dyad_mean("value", tables, parameters, data)


def trust_org_mean(
    tables: Mapping[str, pd.DataFrame], *, parameters: IndicatorParameters, data: PartnerSurveyData | None = None
) -> pd.DataFrame:
    """``partner_survey.trust_org_mean``: mean over organisations of the trust they receive (organisation level).

    Parameters and returns as :func:`response_rate` (unit ``mean``).

    Notes
    -----
    Organisation :math:`j`'s score in its territory and year is :math:`\\bar s_j`, the mean of
    the trust scores of the ties naming it (the PARTNER tool's organisation-level score); the
    indicator is the mean of :math:`\\bar s_j` over the cell's organisations, SE clustered by
    territory (an organisation is its own cluster within a territory); ``n`` = organisations.
    """
    return _org_mean("trust", tables, parameters, data)


def value_org_mean(
    tables: Mapping[str, pd.DataFrame], *, parameters: IndicatorParameters, data: PartnerSurveyData | None = None
) -> pd.DataFrame:
    """``partner_survey.value_org_mean``: mean over organisations of the value they receive.

    Parameters and returns as :func:`response_rate`; as :func:`trust_org_mean` with the value items.
    """
    return _org_mean("value", tables, parameters, data)


def _network_indicator(measure: str, tables: Mapping[str, pd.DataFrame], parameters: IndicatorParameters,
                       data: PartnerSurveyData | None) -> pd.DataFrame:
    """The territories' own values of a network measure, and their means above the territory scope."""
    data = _data(tables, parameters, data)
    if data is None:
        return empty_indicator_frame()
    indicator = PREFIX + measure
    values = data.territory_values.loc[data.territory_values["indicator"] == indicator]
    if values.empty:
        return empty_indicator_frame()
    pieces = []
    if "territory" in parameters.scopes:
        pieces.append(values.assign(scope="territory", scope_id=values["territory_id"]).drop(columns="indicator"))
    upper = [scope for scope in parameters.scopes if scope != "territory"]
    if upper:
        means = mean_of_territories(values[["territory_id", "period", "value"]], tables["territory"], keys=["period"],
                                    strata=parameters.strata, confidence=parameters.confidence, scopes=upper)
        floor = -1.0 if measure.endswith("_change") else 0.0
        pieces.append(means.assign(ci_low=np.maximum(means["ci_low"].to_numpy(dtype="float64"), floor),
                                   ci_high=np.minimum(means["ci_high"].to_numpy(dtype="float64"), 1.0),
                                   method="mean of territories, t interval"))
    pieces = [piece for piece in pieces if len(piece)]
    return _finish(pd.concat(pieces, ignore_index=True) if pieces else None, indicator, data)


def reported_density(
    tables: Mapping[str, pd.DataFrame], *, parameters: IndicatorParameters, data: PartnerSurveyData | None = None
) -> pd.DataFrame:
    """``partner_survey.reported_density``: density of the network the answers report.

    Parameters and returns as :func:`response_rate` (unit ``ratio``).

    Notes
    -----
    For a territory and year, the organisations :math:`V` are those answering, those they name
    and those of the year's referrals; the reported ties :math:`R` are the pairs with a
    collaboration other than ``aucune`` reported by either side (undirected, self-ties dropped).
    Density :math:`= |R| / \\binom{|V|}{2}` (``n`` = :math:`|V|`; undefined below 2
    organisations). Above the territory scope, the mean of the territories' densities with a t
    interval cut to [0, 1] (:func:`~proximite.indicators.concertation.mean_of_territories`).
    """
    return _network_indicator("reported_density", tables, parameters, data)


def reported_centralisation(
    tables: Mapping[str, pd.DataFrame], *, parameters: IndicatorParameters, data: PartnerSurveyData | None = None
) -> pd.DataFrame:
    """``partner_survey.reported_centralisation``: Freeman degree centralisation of the reported network.

    Parameters and returns as :func:`response_rate` (unit ``ratio``).

    Notes
    -----
    :math:`\\sum_i (d_{max} - d_i) / ((|V| - 1)(|V| - 2))` on the undirected reported network over
    the organisations :math:`V` of :func:`reported_density`
    (:func:`~proximite.indicators.concertation.freeman_centralisation`; undefined below 3).
    """
    return _network_indicator("reported_centralisation", tables, parameters, data)


def referral_density(
    tables: Mapping[str, pd.DataFrame], *, parameters: IndicatorParameters, data: PartnerSurveyData | None = None
) -> pd.DataFrame:
    """``partner_survey.referral_density``: density of the year's referral network, beside the reported one.

    Parameters and returns as :func:`response_rate` (unit ``ratio``).

    Notes
    -----
    :math:`|F| / \\binom{|V|}{2}` with :math:`F` the pairs of organisations with a referral (either
    way) in the calendar year, the territory the family's and an unnamed PTP end the host
    (:func:`~proximite.indicators.concertation.referral_edges`), over the same organisations
    :math:`V` as :func:`reported_density`: the two densities compare directly.
    """
    return _network_indicator("referral_density", tables, parameters, data)


def referral_centralisation(
    tables: Mapping[str, pd.DataFrame], *, parameters: IndicatorParameters, data: PartnerSurveyData | None = None
) -> pd.DataFrame:
    """``partner_survey.referral_centralisation``: Freeman centralisation of the year's referral network.

    Parameters and returns as :func:`response_rate` (unit ``ratio``); formula as
    :func:`reported_centralisation` on the referral ties :math:`F` of :func:`referral_density`.
    """
    return _network_indicator("referral_centralisation", tables, parameters, data)


def tie_overlap(
    tables: Mapping[str, pd.DataFrame], *, parameters: IndicatorParameters, data: PartnerSurveyData | None = None
) -> pd.DataFrame:
    """``partner_survey.tie_overlap``: how far the reported ties and the referral ties coincide.

    Parameters and returns as :func:`response_rate` (unit ``ratio``).

    Notes
    -----
    Jaccard index :math:`|R \\cap F| / |R \\cup F|` of the reported ties :math:`R` and the
    referral ties :math:`F` of the territory and year (undirected pairs; ``n`` =
    :math:`|R \\cup F|`; undefined when both are empty).
    """
    return _network_indicator("tie_overlap", tables, parameters, data)


def reported_density_change(
    tables: Mapping[str, pd.DataFrame], *, parameters: IndicatorParameters, data: PartnerSurveyData | None = None
) -> pd.DataFrame:
    """``partner_survey.reported_density_change``: :func:`reported_density` minus the previous year's.

    Parameters and returns as :func:`response_rate` (unit ``ratio``).

    Notes
    -----
    value(year) − value(year − 1) per territory, when both years were surveyed and the measure is
    defined in both; ``n`` = the later year's organisations. Above the territory scope, the mean
    of the territories' changes, t interval cut to [−1, 1].
    """
    return _network_indicator("reported_density_change", tables, parameters, data)


def reported_centralisation_change(
    tables: Mapping[str, pd.DataFrame], *, parameters: IndicatorParameters, data: PartnerSurveyData | None = None
) -> pd.DataFrame:
    """``partner_survey.reported_centralisation_change``: :func:`reported_centralisation` minus the previous year's.

    Parameters and returns as :func:`response_rate`; formula as :func:`reported_density_change`.
    """
    return _network_indicator("reported_centralisation_change", tables, parameters, data)


def tie_overlap_change(
    tables: Mapping[str, pd.DataFrame], *, parameters: IndicatorParameters, data: PartnerSurveyData | None = None
) -> pd.DataFrame:
    """``partner_survey.tie_overlap_change``: :func:`tie_overlap` minus the previous year's.

    Parameters and returns as :func:`response_rate`; formula as :func:`reported_density_change`.
    """
    return _network_indicator("tie_overlap_change", tables, parameters, data)


def compute(tables: Mapping[str, pd.DataFrame], *, parameters: IndicatorParameters) -> pd.DataFrame:
    """Every partner-questionnaire indicator, in one tidy table.

    Parameters
    ----------
    tables : mapping of str to DataFrame
        ``territory``, ``organisation``, ``partner_response``, ``partner_tie``, ``family`` and
        ``referral`` (not modified).
    parameters : IndicatorParameters, keyword-only

    Returns
    -------
    DataFrame
        The rows of each indicator function (:data:`INDICATORS`), built from one
        :func:`partner_survey_data`; empty when nobody answered.

    Notes
    -----
    Shares add counts up the hierarchy (Wilson); means are clustered means of ties or
    organisations; network measures are per territory and averaged above it. See each function.
    """
    data = partner_survey_data(tables, parameters=parameters)
    if data is None:
        return empty_indicator_frame()
    functions = (response_rate, positive_collaboration_share, trust_dyad_mean, value_dyad_mean, trust_org_mean,
                 value_org_mean, reported_density, reported_centralisation, referral_density, referral_centralisation,
                 tie_overlap, reported_density_change, reported_centralisation_change, tie_overlap_change)
    frames = [function(tables, parameters=parameters, data=data) for function in functions]
    frames = [frame for frame in frames if len(frame)]
    return indicator_frame(pd.concat(frames, ignore_index=True)) if frames else empty_indicator_frame()
