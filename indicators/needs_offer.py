"""Needs–offer indicators: are the families' needs met, and where do the PTP's referrals go?

Eight indicators of the catalogue (``cohort/codebook/indicators.yaml``), family ``needs_offer``:

- ``needs_offer.match_rate``: needs met / needs identified, by wave and need category;
- ``needs_offer.referral_completion``: PTP-to-partner referrals with a service received, by registry period;
- ``needs_offer.time_to_met``: Kaplan–Meier median time from a need's identification to its being met;
- ``needs_offer.service_gaps``: needs with no resource or on a waiting list, by need category;
- ``needs_offer.families_3plus_referrals``: families with three or more PTP-to-partner referrals;
- ``needs_offer.referral_destination_network`` / ``needs_offer.referral_destination_mission``: where the
  PTP-to-partner referrals go (network and mission of the receiving organisation);
- ``needs_offer.partner_to_ptp_share``: referrals from a partner to the PTP (two-way referral).

Needs and referrals take their territory from their family. One public function per indicator id
takes the harmonised tables and :class:`~proximite.indicators.base.IndicatorParameters`, does no
I/O, never modifies its inputs, and returns that id's rows in a tidy table with
:data:`~proximite.indicators.base.INDICATOR_COLUMNS`; the four referral-intensity functions may be
given the :func:`referral_flows` they share.

The data's end is ``parameters.as_of`` or, when it is ``None``, the latest date in the family,
assessment, need and referral tables. Rows dated after the end are left out (families by first
contact, needs by identification, referrals by referral date), and a status or outcome dated
after the end is read as not known yet: a need is then ``en_cours`` at the end, a referral
``en_attente``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from proximite.cohort.codebook import load_codebook
from proximite.cohort.models.survival.kaplan_meier import median_with_interval
from proximite.indicators.base import (
    ALL,
    SCOPE_KEYS,
    IndicatorParameters,
    empty_indicator_frame,
    expand_scopes,
    indicator_frame,
    iter_scopes,
    registry_periods,
    assign_periods,
    wave_window_close,
    wave_window_note,
    wilson_interval,
)

__all__ = [
    "GAP_STATUSES",
    "MET_STATUS",
    "ReferralFlows",
    "compute",
    "data_end",
    "families_3plus_referrals",
    "match_rate",
    "partner_to_ptp_share",
    "referral_completion",
    "referral_destination_mission",
    "referral_destination_network",
    "referral_flows",
    "service_gaps",
    "time_to_met",
]

MET_STATUS = "repondu"
#: Need statuses that mark a service gap.
GAP_STATUSES: tuple[str, ...] = ("aucune_ressource", "liste_attente")
SERVICE_RECEIVED = "service_recu"
FORWARD = "ptp_to_partner"
BACKWARD = "partner_to_ptp"
#: A family with at least this many PTP-to-partner referrals counts in families_3plus_referrals.
MANY_REFERRALS = 3
CATEGORY = "need_category"
WILSON = "wilson"


# ---------------------------------------------------------------------------- public API
def compute(tables: Mapping[str, pd.DataFrame], *, parameters: IndicatorParameters) -> pd.DataFrame:
    """Every needs–offer indicator, in one tidy table.

    Parameters
    ----------
    tables : mapping of str to DataFrame
        Harmonised tables: ``territory``, ``family``, ``need``, ``referral``, ``organisation``
        and (optional, for censoring) ``assessment``. Not modified.
    parameters : IndicatorParameters, keyword-only
        ``parameters.scopes`` chooses the scope levels computed (the data's end, periods and
        wave due dates are still taken over the whole cohort).

    Returns
    -------
    DataFrame
        The rows of :func:`match_rate`, :func:`referral_completion`, :func:`time_to_met`,
        :func:`service_gaps`, :func:`families_3plus_referrals`, :func:`referral_destination_network`,
        :func:`referral_destination_mission` and :func:`partner_to_ptp_share`, with
        :data:`~proximite.indicators.base.INDICATOR_COLUMNS`.

    Notes
    -----
    See each function for its formula; all share :func:`data_end`, and the last four the
    :func:`referral_flows` built once here.
    """
    frames = [
        builder(tables, parameters=parameters)
        for builder in (match_rate, referral_completion, time_to_met, service_gaps)
    ]
    flows = referral_flows(tables, parameters=parameters)
    frames += [
        indicator(tables, parameters=parameters, flows=flows)
        for indicator in (families_3plus_referrals, referral_destination_network, referral_destination_mission,
                          partner_to_ptp_share)
    ]
    frames = [frame for frame in frames if len(frame)]
    if not frames:
        return empty_indicator_frame()
    return indicator_frame(pd.concat(frames, ignore_index=True))


def data_end(tables: Mapping[str, pd.DataFrame], *, parameters: IndicatorParameters) -> pd.Timestamp:
    """End of the data: ``parameters.as_of``, else the latest date of the cohort tables.

    Parameters
    ----------
    tables : mapping of str to DataFrame
    parameters : IndicatorParameters, keyword-only

    Returns
    -------
    Timestamp
        Normalised to midnight; ``NaT`` when no table holds a date.

    Notes
    -----
    Without ``as_of``: the maximum of ``family.first_contact_date``, ``family.exit_date``,
    ``assessment.assessment_date``, ``need.identified_date``, ``need.status_date``,
    ``referral.referral_date`` and ``referral.outcome_date`` (tables that are absent are skipped).
    """
    if parameters.as_of is not None:
        return pd.Timestamp(parameters.as_of).normalize()
    columns = {
        "family": ("first_contact_date", "exit_date"),
        "assessment": ("assessment_date",),
        "need": ("identified_date", "status_date"),
        "referral": ("referral_date", "outcome_date"),
    }
    latest = [
        pd.to_datetime(tables[name][column]).max()
        for name, names in columns.items()
        if name in tables
        for column in names
        if column in tables[name].columns
    ]
    latest = [value for value in latest if not pd.isna(value)]
    return pd.Timestamp(max(latest)).normalize() if latest else pd.NaT


def match_rate(tables: Mapping[str, pd.DataFrame], *, parameters: IndicatorParameters) -> pd.DataFrame:
    """``needs_offer.match_rate``: needs met / needs identified, by wave and need category.

    Parameters
    ----------
    tables : mapping of str to DataFrame
        ``territory``, ``family``, ``need`` (not modified).
    parameters : IndicatorParameters, keyword-only
        ``waves``, ``confidence``, ``strata``, ``as_of``.

    Returns
    -------
    DataFrame
        Indicator rows, breakdowns ``all`` and ``need_category``, one set per wave plus one with
        ``wave`` missing (final status).

    Notes
    -----
    With :math:`a_k` the close of the family's wave-:math:`k` assessment window
    (:func:`~proximite.indicators.base.wave_window_close`: T0 = first contact + ``baseline_days``,
    Tk = first contact + :math:`k` months + ``window_days``, as DESIGN's waves) and :math:`E` the
    data's end (:func:`data_end`), wave :math:`k` counts the families whose window has closed
    (:math:`a_k \\le E`) and who had not left the accompaniment before their previous wave's
    window closed (no exit date before :math:`a_{k^-}`; at T0 every family), and of them the
    needs with identification :math:`\\le a_k`:

    .. math:: \\text{match}_k = \\frac{\\#\\{\\text{status} = \\text{repondu},\\
              \\text{status date} \\le a_k\\}}{\\#\\{\\text{identified} \\le a_k\\}}

    The row with ``wave`` missing uses every need and its final status (as of :math:`E`).
    Interval: Wilson at ``parameters.confidence``; ``n`` = needs. The ``method`` column says how
    the waves are anchored (:func:`~proximite.indicators.base.wave_window_note`).
    """
    territory = tables["territory"]
    end = data_end(tables, parameters=parameters)
    needs = _needs(tables, end=end)
    if needs.empty:
        return empty_indicator_frame()
    met = needs["status"].eq(MET_STATUS).fillna(False).to_numpy(dtype=bool)
    identified = needs["identified_date"]
    contact = needs["first_contact_date"]
    exit_date = needs["exit_date"]
    pieces = [_count_by(needs, numerator=met, denominator=np.ones(len(needs), dtype=bool), wave=None)]
    previous_due = None
    for wave in parameters.waves:
        # The status at the close of the wave's assessment window, not on its due day: T0 on the
        # contact day alone would count only the needs met that very day.
        due = wave_window_close(contact, int(wave), parameters=parameters)
        eligible = due <= end
        if previous_due is not None:
            # Families that left before the previous wave's window closed are no longer followed.
            eligible &= exit_date.isna() | (exit_date >= previous_due)
        counted = (eligible & (identified <= due)).to_numpy(dtype=bool)
        met_by_due = counted & met & (needs["status_date"] <= due).fillna(False).to_numpy(dtype=bool)
        pieces.append(_count_by(needs, numerator=met_by_due, denominator=counted, wave=int(wave)))
        previous_due = due
    counts = _with_all_breakdown(pd.concat(pieces, ignore_index=True), keys=["wave"])
    rows = _rollup(counts, territory, keys=["wave"], parameters=parameters)
    finished = _finish(rows, "needs_offer.match_rate", method=WILSON)
    # The wave rows say how their waves are anchored; the final-status row is plain Wilson.
    finished.loc[finished["wave"].notna(), "method"] = f"{WILSON}; {wave_window_note(parameters)}"
    return finished


def referral_completion(tables: Mapping[str, pd.DataFrame], *, parameters: IndicatorParameters) -> pd.DataFrame:
    """``needs_offer.referral_completion``: PTP-to-partner referrals that led to a service received.

    Parameters
    ----------
    tables : mapping of str to DataFrame
        ``territory``, ``family``, ``referral`` (not modified).
    parameters : IndicatorParameters, keyword-only
        ``periods``, ``waves``, ``confidence``, ``strata``, ``as_of``.

    Returns
    -------
    DataFrame
        Indicator rows per registry period (:func:`~proximite.indicators.base.registry_periods`
        over the referral dates up to the data's end) and for the period ``all``.

    Notes
    -----
    .. math:: \\text{completion} = \\frac{\\#\\{\\text{outcome} = \\text{service\\_recu}\\}}
              {\\#\\{\\text{referrals ptp\\_to\\_partner made in the period}\\}}

    A referral belongs to the period of its referral date; an outcome dated after the data's end
    is not known yet (``en_attente``), a missing outcome counts in the denominator only.
    Partner-to-PTP referrals are left out: their "service" is the PTP's own accompaniment.
    Interval: Wilson; ``n`` = referrals.
    """
    territory = tables["territory"]
    end = data_end(tables, parameters=parameters)
    referrals = _referrals(tables, end=end)
    referrals = referrals.loc[referrals["direction"].eq(FORWARD).fillna(False).to_numpy(dtype=bool)]
    if referrals.empty:
        return empty_indicator_frame()
    dates = referrals["referral_date"]
    start = dates.min().normalize()
    families = _families(tables, end=end)
    periods = registry_periods(families, parameters=parameters, first_date=start, last_date=end)
    labels = assign_periods(dates, periods)
    received = referrals["outcome"].eq(SERVICE_RECEIVED).fillna(False).to_numpy(dtype=bool)
    frame = pd.DataFrame(
        {"territory_id": referrals["territory_id"].to_numpy(), "period": labels.to_numpy(), "numerator": received,
         "denominator": True}
    )
    by_period = frame.dropna(subset=["period"])
    overall = frame.assign(period=ALL)
    counts = (
        pd.concat([by_period, overall], ignore_index=True)
        .astype({"period": "string", "numerator": "int64", "denominator": "int64"})
        .groupby(["territory_id", "period"], sort=False, observed=True)[["numerator", "denominator"]]
        .sum()
        .reset_index()
    )
    rows = _rollup(counts, territory, keys=["period"], parameters=parameters)
    spans = pd.concat(
        [
            periods[["period", "period_start", "period_end"]],
            pd.DataFrame({"period": [ALL], "period_start": [start], "period_end": [end]}),
        ],
        ignore_index=True,
    ).astype({"period": "string"})
    rows = rows.merge(spans, on="period", how="left")
    return _finish(rows, "needs_offer.referral_completion", method=WILSON)


def time_to_met(tables: Mapping[str, pd.DataFrame], *, parameters: IndicatorParameters) -> pd.DataFrame:
    """``needs_offer.time_to_met``: Kaplan–Meier median days from a need's identification to its being met.

    Parameters
    ----------
    tables : mapping of str to DataFrame
        ``territory``, ``family``, ``need``; ``assessment`` and ``referral`` when present (they
        date the family's last observation). Not modified.
    parameters : IndicatorParameters, keyword-only
        ``confidence``, ``strata``, ``as_of``.

    Returns
    -------
    DataFrame
        Indicator rows, period ``all``: breakdown ``all`` in every scope cell, and breakdown
        ``need_category`` in the cells of stratum ``all`` at the Québec and region scopes.
        ``value`` = median (NaN when the survival curve does not fall to one half: the method
        says "median not reached"), ``ci_low``/``ci_high`` its interval (NaN where a bound is not
        reached), ``numerator`` = needs met (events), ``denominator`` = ``n`` = needs.

    Notes
    -----
    Each need is followed from its identification date :math:`t_0`. A need met (status
    ``repondu``) has its event at its status date. Any other need is censored at its last
    observation :math:`c = \\max(\\text{status date}, L)`, where :math:`L` is the family's exit
    date if it left the accompaniment, else the latest of its assessment dates, need status dates
    and referral and outcome dates; :math:`c` is capped at the data's end. Duration
    :math:`\\max(t - t_0, 0)` days. The product-limit estimate

    .. math:: \\hat S(t) = \\prod_{t_i \\le t} \\Big(1 - \\frac{d_i}{n_i}\\Big)

    is computed by :func:`~proximite.cohort.models.survival.kaplan_meier.median_with_interval`
    (lifelines' numbers, in numpy); the median is the first :math:`t` with :math:`\\hat S(t) \\le 0.5` and its interval is
    where the log(−log) Greenwood bounds cross 0.5.

    Needs that are never met (gaps, declined, partly met) stay at risk until the family's last
    observation, so :math:`\\hat S` tends to one minus the share eventually met and the median
    exists only when more than half the needs are met. The category breakdown is left out of the
    stratum cells and of the territory scope to keep the number of fits (one per cell and
    category) small.
    """
    territory = tables["territory"]
    end = data_end(tables, parameters=parameters)
    needs = _needs(tables, end=end)
    if needs.empty:
        return empty_indicator_frame()
    spells = _need_spells(needs, tables, end=end)
    rows: list[dict[str, object]] = []
    confidence = parameters.confidence
    for labels, subset in iter_scopes(spells, territory, strata=parameters.strata, scopes=parameters.scopes):
        rows.append({**labels, **_km_row(subset, confidence=confidence)})
        if labels["scope"] == "territory" or labels["stratum"] != ALL:
            continue
        for category, group in subset.groupby("category", sort=True, observed=True):
            labels_category = {**labels, "breakdown": CATEGORY, "breakdown_value": str(category)}
            rows.append({**labels_category, **_km_row(group, confidence=confidence)})
    if not rows:
        return empty_indicator_frame()
    frame = pd.DataFrame(rows)
    frame["period_start"] = spells["identified_date"].min()
    frame["period_end"] = end
    return _finish(frame, "needs_offer.time_to_met", method=None)


def service_gaps(tables: Mapping[str, pd.DataFrame], *, parameters: IndicatorParameters) -> pd.DataFrame:
    """``needs_offer.service_gaps``: share of needs with no resource or on a waiting list.

    Parameters
    ----------
    tables : mapping of str to DataFrame
        ``territory``, ``family``, ``need`` (not modified).
    parameters : IndicatorParameters, keyword-only

    Returns
    -------
    DataFrame
        Indicator rows, period ``all``, breakdowns ``all`` and ``need_category`` at every scope
        (the snapshot ranks the categories of each territory).

    Notes
    -----
    .. math:: \\text{gaps} = \\frac{\\#\\{\\text{status} \\in \\{\\text{aucune\\_ressource},
              \\text{liste\\_attente}\\}\\}}{\\#\\{\\text{needs identified}\\}}

    with statuses as of the data's end. Interval: Wilson; ``n`` = needs.
    """
    territory = tables["territory"]
    end = data_end(tables, parameters=parameters)
    needs = _needs(tables, end=end)
    if needs.empty:
        return empty_indicator_frame()
    gap = needs["status"].isin(GAP_STATUSES).fillna(False).to_numpy(dtype=bool)
    counts = _count_by(needs, numerator=gap, denominator=np.ones(len(needs), dtype=bool), wave=None)
    counts = _with_all_breakdown(counts.drop(columns="wave"), keys=[])
    rows = _rollup(counts, territory, keys=[], parameters=parameters)
    rows["period_start"] = needs["identified_date"].min()
    rows["period_end"] = end
    return _finish(rows, "needs_offer.service_gaps", method=WILSON)


@dataclass(frozen=True)
class ReferralFlows:
    """What the referral-intensity indicators share: the families and referrals up to the data's end.

    Attributes
    ----------
    end : Timestamp
        The data's end (:func:`data_end`).
    families : DataFrame
        Families first contacted on or before the end (``family_id``, ``territory_id``,
        ``first_contact_date``, ``exit_date``).
    referrals : DataFrame
        Referrals made by the end, with their family's ``territory_id`` and outcomes as of the end.
    forward : DataFrame
        The ``ptp_to_partner`` rows of ``referrals``.
    first : Timestamp
        The earliest first contact or referral date (``NaT`` when there is none): the rows'
        ``period_start``.
    """

    end: pd.Timestamp
    families: pd.DataFrame
    referrals: pd.DataFrame
    forward: pd.DataFrame
    first: pd.Timestamp


def referral_flows(tables: Mapping[str, pd.DataFrame], *, parameters: IndicatorParameters) -> ReferralFlows:
    """The :class:`ReferralFlows` of the tables.

    Parameters
    ----------
    tables : mapping of str to DataFrame
        ``family``, ``referral`` and the tables :func:`data_end` reads (not modified).
    parameters : IndicatorParameters, keyword-only
        ``as_of``.

    Returns
    -------
    ReferralFlows
    """
    end = data_end(tables, parameters=parameters)
    referrals = _referrals(tables, end=end)
    families = _families(tables, end=end)
    forward = referrals.loc[referrals["direction"].eq(FORWARD).fillna(False).to_numpy(dtype=bool)]
    first = min(families["first_contact_date"].min(), referrals["referral_date"].min())
    return ReferralFlows(
        end=end,
        families=families,
        referrals=referrals,
        forward=forward,
        first=pd.Timestamp(first) if not pd.isna(first) else pd.NaT,
    )


def families_3plus_referrals(
    tables: Mapping[str, pd.DataFrame], *, parameters: IndicatorParameters, flows: ReferralFlows | None = None
) -> pd.DataFrame:
    """``needs_offer.families_3plus_referrals``: families with three PTP-to-partner referrals or more.

    Parameters
    ----------
    tables : mapping of str to DataFrame
        ``territory``, ``family``, ``referral`` (not modified).
    parameters : IndicatorParameters, keyword-only
    flows : ReferralFlows, keyword-only
        :func:`referral_flows` of the same tables and parameters, when already computed.

    Returns
    -------
    DataFrame
        Indicator rows, breakdown ``all``, period ``all`` (from the earliest first contact or
        referral to the data's end).

    Notes
    -----
    .. math:: \\text{3+} = \\frac{\\#\\{\\text{families with} \\ge 3 \\text{ ptp\\_to\\_partner
              referrals}\\}}{\\#\\{\\text{families}\\}}

    over every family of the family table (each has at least one accompaniment) whose first
    contact is on or before the data's end. Interval: Wilson; ``n`` = families.
    """
    flows = referral_flows(tables, parameters=parameters) if flows is None else flows
    families = flows.families
    per_family = flows.forward.groupby("family_id", sort=False, observed=True).size()
    counts = per_family.reindex(families["family_id"].to_numpy(), fill_value=0).to_numpy()
    family_counts = _sum_by_territory(families["territory_id"].to_numpy(), counts >= MANY_REFERRALS)
    rows = _rollup(family_counts, tables["territory"], keys=[], parameters=parameters)
    return _over_the_flows(_finish(rows, "needs_offer.families_3plus_referrals", method=WILSON), flows)


def referral_destination_network(
    tables: Mapping[str, pd.DataFrame], *, parameters: IndicatorParameters, flows: ReferralFlows | None = None
) -> pd.DataFrame:
    """``needs_offer.referral_destination_network``: where the PTP-to-partner referrals go, by network.

    Parameters
    ----------
    tables : mapping of str to DataFrame
        ``territory``, ``family``, ``referral``, ``organisation`` (not modified).
    parameters : IndicatorParameters, keyword-only
    flows : ReferralFlows, keyword-only
        :func:`referral_flows` of the same tables and parameters, when already computed.

    Returns
    -------
    DataFrame
        Indicator rows, breakdown ``network`` (one row per network), period ``all``.

    Notes
    -----
    .. math:: \\text{destination}_c = \\frac{\\#\\{\\text{ptp\\_to\\_partner referrals to an
              organisation of class } c\\}}{\\#\\{\\text{ptp\\_to\\_partner referrals}\\}}

    for each network :math:`c` of the receiving organisation (``to_org_id``); a referral to an
    organisation missing from the organisation table counts in the denominator only, so the
    shares of a cell may sum to less than one. Each class seen anywhere gets a row in every cell
    with referrals (zero counts included). Interval: Wilson; ``n`` = referrals.
    """
    return _destination_share(tables, parameters, flows, "network", "needs_offer.referral_destination_network")


def referral_destination_mission(
    tables: Mapping[str, pd.DataFrame], *, parameters: IndicatorParameters, flows: ReferralFlows | None = None
) -> pd.DataFrame:
    """``needs_offer.referral_destination_mission``: where the PTP-to-partner referrals go, by mission.

    Parameters and returns as :func:`referral_destination_network` (breakdown ``mission``).

    Notes
    -----
    The formula of :func:`referral_destination_network`, with :math:`c` each mission of the
    receiving organisation.
    """
    return _destination_share(tables, parameters, flows, "mission", "needs_offer.referral_destination_mission")


def partner_to_ptp_share(
    tables: Mapping[str, pd.DataFrame], *, parameters: IndicatorParameters, flows: ReferralFlows | None = None
) -> pd.DataFrame:
    """``needs_offer.partner_to_ptp_share``: referrals from a partner to the PTP (two-way referral).

    Parameters and returns as :func:`families_3plus_referrals`.

    Notes
    -----
    .. math:: \\text{two-way} = \\frac{\\#\\{\\text{partner\\_to\\_ptp referrals}\\}}{\\#\\{\\text{referrals}\\}}

    over the referrals made by the data's end. Interval: Wilson; ``n`` = referrals.
    """
    flows = referral_flows(tables, parameters=parameters) if flows is None else flows
    referrals = flows.referrals
    backward = referrals["direction"].eq(BACKWARD).fillna(False).to_numpy(dtype=bool)
    two_way = _sum_by_territory(referrals["territory_id"].to_numpy(), backward)
    rows = _rollup(two_way, tables["territory"], keys=[], parameters=parameters)
    return _over_the_flows(_finish(rows, "needs_offer.partner_to_ptp_share", method=WILSON), flows)


def _destination_share(
    tables: Mapping[str, pd.DataFrame],
    parameters: IndicatorParameters,
    flows: ReferralFlows | None,
    attribute: str,
    indicator: str,
) -> pd.DataFrame:
    """Rows of one destination indicator: the receiving organisations' ``attribute``."""
    flows = referral_flows(tables, parameters=parameters) if flows is None else flows
    organisations = tables["organisation"].drop_duplicates("org_id").set_index("org_id")
    destination = organisations[attribute].reindex(flows.forward["to_org_id"].to_numpy())
    rows = _destinations(flows.forward, destination, attribute, tables["territory"], parameters=parameters)
    return _over_the_flows(_finish(rows, indicator, method=WILSON), flows)


def _over_the_flows(frame: pd.DataFrame, flows: ReferralFlows) -> pd.DataFrame:
    """The rows dated from the earliest first contact or referral to the data's end."""
    if frame.empty:
        return frame
    return indicator_frame(frame.assign(period_start=flows.first, period_end=flows.end))


# ---------------------------------------------------------------------------- the units
def _families(tables: Mapping[str, pd.DataFrame], *, end: pd.Timestamp) -> pd.DataFrame:
    """Families first contacted on or before the end (new frame)."""
    family = tables["family"]
    keep = (family["first_contact_date"] <= end).fillna(False).to_numpy(dtype=bool) if not pd.isna(end) else slice(None)
    return family.loc[keep, ["family_id", "territory_id", "first_contact_date", "exit_date"]].reset_index(drop=True)


def _needs(tables: Mapping[str, pd.DataFrame], *, end: pd.Timestamp) -> pd.DataFrame:
    """Needs identified by the end, with their family's territory, contact and exit, statuses as of the end."""
    family = tables["family"][["family_id", "territory_id", "first_contact_date", "exit_date"]]
    need = tables["need"][["family_id", "category", "identified_date", "status", "status_date"]]
    needs = need.merge(family, on="family_id", how="inner", validate="many_to_one")
    needs = needs.loc[(needs["identified_date"] <= end).fillna(False).to_numpy(dtype=bool)].reset_index(drop=True)
    later = (needs["status_date"] > end).fillna(False).to_numpy(dtype=bool)
    if later.any():
        # What happens after the end is not known yet: the need is still open at the end.
        needs["status"] = needs["status"].mask(later, "en_cours")
        needs["status_date"] = needs["status_date"].mask(later, end)
    return needs


def _referrals(tables: Mapping[str, pd.DataFrame], *, end: pd.Timestamp) -> pd.DataFrame:
    """Referrals made by the end, with their family's territory, outcomes as of the end."""
    family = tables["family"][["family_id", "territory_id"]]
    columns = ["family_id", "direction", "to_org_id", "referral_date", "outcome", "outcome_date"]
    referrals = tables["referral"][columns].merge(family, on="family_id", how="inner", validate="many_to_one")
    referrals = referrals.loc[(referrals["referral_date"] <= end).fillna(False).to_numpy(dtype=bool)]
    referrals = referrals.reset_index(drop=True)
    later = (referrals["outcome_date"] > end).fillna(False).to_numpy(dtype=bool)
    if later.any():
        referrals["outcome"] = referrals["outcome"].mask(later, "en_attente")
        referrals["outcome_date"] = referrals["outcome_date"].mask(later, pd.NaT)
    return referrals


def _need_spells(needs: pd.DataFrame, tables: Mapping[str, pd.DataFrame], *, end: pd.Timestamp) -> pd.DataFrame:
    """``territory_id, category, identified_date, duration, event`` of each need (new frame)."""
    dated = [needs[["family_id", "status_date"]].rename(columns={"status_date": "date"})]
    if "assessment" in tables:
        dated.append(tables["assessment"][["family_id", "assessment_date"]].rename(columns={"assessment_date": "date"}))
    if "referral" in tables:
        referral = tables["referral"]
        dated += [referral[["family_id", column]].rename(columns={column: "date"})
                  for column in ("referral_date", "outcome_date")]
    dated = pd.concat(dated, ignore_index=True)
    # Only what is known by the end dates the last observation.
    dated = dated.loc[(dated["date"] <= end).fillna(False).to_numpy(dtype=bool)]
    last_seen = dated.groupby("family_id", sort=False, observed=True)["date"].max()
    last = needs["exit_date"].fillna(needs["family_id"].map(last_seen))
    event = needs["status"].eq(MET_STATUS).fillna(False) & needs["status_date"].notna()
    censored_at = pd.concat([needs["status_date"], last], axis=1).max(axis=1)
    stop = needs["status_date"].where(event, censored_at).clip(upper=end)
    # A need with no date after its identification is at risk for zero days.
    stop = stop.fillna(needs["identified_date"])
    duration = (stop - needs["identified_date"]).dt.days.clip(lower=0)
    return pd.DataFrame(
        {
            "territory_id": needs["territory_id"],
            "category": needs["category"],
            "identified_date": needs["identified_date"],
            "duration": duration.astype("float64"),
            "event": event.to_numpy(dtype=bool),
        }
    )


# ---------------------------------------------------------------------------- estimators
def _km_row(spells: pd.DataFrame, *, confidence: float) -> dict[str, object]:
    """Kaplan–Meier median and its interval for one cell (lifelines' numbers, computed in numpy)."""
    median, low, high = median_with_interval(spells["duration"].to_numpy(), spells["event"].to_numpy(), confidence=confidence)
    method = "Kaplan-Meier median (lifelines), log(-log) Greenwood CI, censored at last observation"
    if not np.isfinite(median):
        method += "; median not reached"
    elif not np.isfinite(high):
        method += "; upper bound not reached"
    events = int(spells["event"].sum())
    return {
        "value": median if np.isfinite(median) else np.nan,
        "ci_low": low if np.isfinite(low) else np.nan,
        "ci_high": high if np.isfinite(high) else np.nan,
        "numerator": float(events),
        "denominator": float(len(spells)),
        "n": len(spells),
        "method": method,
    }


def _destinations(
    forward: pd.DataFrame,
    destination: pd.Series,
    attribute: str,
    territory: pd.DataFrame,
    *,
    parameters: IndicatorParameters,
) -> pd.DataFrame:
    """Share of the PTP-to-partner referrals of each cell going to each class of ``attribute``."""
    if forward.empty:
        return pd.DataFrame()
    classes = sorted(str(value) for value in pd.unique(destination.dropna()))
    frame = pd.DataFrame({"territory_id": forward["territory_id"].to_numpy(), "klass": destination.to_numpy()})
    totals = frame.groupby("territory_id", sort=True, observed=True).size()
    by_class = frame.dropna(subset=["klass"]).groupby(["territory_id", "klass"], observed=True).size()
    # Every class in every territory with referrals, so that zero counts get a row too.
    grid = pd.MultiIndex.from_product([totals.index, classes], names=["territory_id", "klass"])
    counts = by_class.reindex(grid, fill_value=0).rename("numerator").reset_index()
    counts["denominator"] = counts["territory_id"].map(totals).to_numpy()
    counts = counts.rename(columns={"klass": "breakdown_value"}).assign(breakdown=attribute)
    return _rollup(counts, territory, keys=["breakdown", "breakdown_value"], parameters=parameters)


# ---------------------------------------------------------------------------- aggregation
def _count_by(needs: pd.DataFrame, *, numerator: np.ndarray, denominator: np.ndarray, wave: int | None) -> pd.DataFrame:
    """Needs counted per territory × category (breakdown ``need_category``)."""
    frame = pd.DataFrame(
        {
            "territory_id": needs["territory_id"].to_numpy(),
            "breakdown_value": needs["category"].to_numpy(),
            "numerator": numerator.astype("int64"),
            "denominator": denominator.astype("int64"),
        }
    )
    counts = (
        frame.loc[denominator]
        .groupby(["territory_id", "breakdown_value"], sort=False, observed=True)[["numerator", "denominator"]]
        .sum()
        .reset_index()
    )
    counts["breakdown"] = CATEGORY
    counts["wave"] = pd.array([wave] * len(counts), dtype="Int64")
    return counts


def _with_all_breakdown(counts: pd.DataFrame, *, keys: Sequence[str]) -> pd.DataFrame:
    """Add the breakdown ``all`` rows (the sum over the breakdown values) to territory counts."""
    group = ["territory_id", *keys]
    totals = counts.groupby(group, sort=False, observed=True, dropna=False)[["numerator", "denominator"]].sum()
    totals = totals.reset_index().assign(breakdown=ALL, breakdown_value=ALL)
    return pd.concat([counts, totals], ignore_index=True)


def _sum_by_territory(territory_ids: np.ndarray, numerator: np.ndarray) -> pd.DataFrame:
    """Units per territory (denominator) and those flagged by ``numerator``."""
    frame = pd.DataFrame(
        {"territory_id": territory_ids, "numerator": np.asarray(numerator, dtype="int64"), "denominator": 1}
    )
    return frame.groupby("territory_id", sort=False, observed=True)[["numerator", "denominator"]].sum().reset_index()


def _rollup(
    counts: pd.DataFrame, territory: pd.DataFrame, *, keys: Sequence[str], parameters: IndicatorParameters
) -> pd.DataFrame:
    """Sum territory counts into every scope cell and attach the Wilson interval.

    ``counts`` holds ``territory_id``, the ``keys`` (and optionally ``breakdown`` /
    ``breakdown_value``), ``numerator`` and ``denominator``; cells with a zero denominator are
    dropped.
    """
    if counts.empty:
        return pd.DataFrame()
    extra = [column for column in ("breakdown", "breakdown_value") if column in counts.columns and column not in keys]
    group = [*SCOPE_KEYS, *keys, *extra]
    expanded = expand_scopes(counts, territory, strata=parameters.strata, scopes=parameters.scopes)
    summed = (
        expanded.groupby(group, sort=False, observed=True, dropna=False)[["numerator", "denominator"]]
        .sum()
        .reset_index()
    )
    summed = summed.loc[summed["denominator"] > 0].reset_index(drop=True)
    numerator = summed["numerator"].to_numpy(dtype="float64")
    denominator = summed["denominator"].to_numpy(dtype="float64")
    low, high = wilson_interval(numerator, denominator, confidence=parameters.confidence)
    return summed.assign(
        numerator=numerator,
        denominator=denominator,
        value=numerator / denominator,
        ci_low=low,
        ci_high=high,
        n=summed["denominator"].astype("int64"),
    )


def _finish(rows: pd.DataFrame, indicator: str, *, method: str | None) -> pd.DataFrame:
    """Label the rows with the indicator, its catalogue unit and the method; tidy them."""
    if rows.empty:
        return empty_indicator_frame()
    labelled = rows.assign(indicator=indicator, unit=load_codebook().indicator(indicator)["unit"])
    if method is not None:
        labelled["method"] = method
    return indicator_frame(labelled)
