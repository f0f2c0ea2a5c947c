"""Truth recovery on the pilot-sized synthetic cohort: the yearly questionnaires' planted effects.

The generator (``cohort/sandbox/_surveys.py``; ``truth["surveys"]``) plants:

- partners: ties that carry referrals in the calendar year (either way) get trust items
  ``+0.6`` and value items ``+0.5`` higher before rounding to the 1–4 scale; organisations answer
  with probability 0.7 and rate the collaboration with the host positively with probability 0.8;
- PTP and managers: a PTP's supervision adequacy follows ``logit P(agree) = logit(0.6) + 1.0
  (h − 4.85)``, ``h`` the registry's supervision hours per month of tenure in the year before the
  answer; a PTP who leaves within a year of answering agrees to stay with probability 0.3
  (0.75 otherwise); heavy workload is agreed with probability 0.35 / 0.45 / 0.55 in urban, mixed
  and rural territories.

Each test recomputes the effect from the harmonised tables (what a statistician would do with the
warehouse), checks it is the value the truth records for the written answers, and that it is
the planted effect's size: a generator that lost an effect fails here.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from proximite.indicators.base import IndicatorParameters
from proximite.indicators.concertation import referral_edges
from proximite.indicators.partner_survey import compute as partner_compute
from proximite.indicators.staff_survey import compute as staff_compute

Cohort = tuple[dict[str, pd.DataFrame], dict[str, Any]]
TRUST = ["trust_openness", "trust_reliability", "trust_shared_mission"]
VALUE = ["value_influence", "value_resources", "value_involvement"]


@pytest.fixture(scope="module")
def cohort(pilot_cohort: Cohort) -> Cohort:
    return pilot_cohort


def _ties_with_referrals(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """The reported ties asked their items, each with whether its pair had a referral that year."""
    ties = tables["partner_tie"].merge(tables["partner_response"][["response_id", "year"]], on="response_id")
    ties = ties.loc[ties["collaboration_level"] != "aucune"]
    edges = referral_edges(tables).dropna(subset=["source", "target"])
    ends = np.sort(edges[["source", "target"]].astype(str).to_numpy(), axis=1)
    pairs = {(year, a, b) for year, a, b in zip(pd.to_datetime(edges["date"]).dt.year, ends[:, 0], ends[:, 1], strict=True)}
    named = np.sort(ties[["from_org_id", "to_org_id"]].astype(str).to_numpy(), axis=1)
    carries = [(int(year), a, b) in pairs for year, a, b in zip(ties["year"], named[:, 0], named[:, 1], strict=True)]
    return ties.assign(carries=carries, trust=ties[TRUST].astype(float).mean(axis=1), value=ties[VALUE].astype(float).mean(axis=1))


@pytest.mark.parametrize("score", ["trust", "value"])
def test_ties_that_carry_referrals_are_trusted_and_valued_more(cohort: Cohort, score: str) -> None:
    tables, truth = cohort
    partner = truth["surveys"]["partner_survey"]
    ties = _ties_with_referrals(tables)
    assert int(ties["carries"].sum()) == partner["realised"]["ties_carrying_referrals"]
    with_, without = ties.loc[ties["carries"], score].mean(), ties.loc[~ties["carries"], score].mean()
    realised = partner["realised"][f"{score}_dyad_mean"]
    assert (with_, without) == (pytest.approx(realised["with_referrals"], abs=1e-6), pytest.approx(realised["without_referrals"], abs=1e-6))
    planted = partner["planted"]["referral_tie_effect"][score]
    # Rounding to 1–4 and clipping shrink the effect a little: most of it must survive.
    assert 0.6 * planted < with_ - without < 1.2 * planted
    fit = sm.OLS(ties[score].to_numpy(), sm.add_constant(ties["carries"].astype(float).to_numpy())).fit(
        cov_type="cluster", cov_kwds={"groups": pd.factorize(ties["response_id"])[0]})
    low, high = fit.conf_int()[1]
    assert low > 0.3 and fit.params[1] == pytest.approx(with_ - without)


def test_the_indicators_add_up_to_the_realised_rates(cohort: Cohort) -> None:
    tables, truth = cohort
    realised = truth["surveys"]["partner_survey"]["realised"]
    frame = partner_compute(tables, parameters=IndicatorParameters())
    quebec = frame[(frame["scope"] == "quebec") & (frame["stratum"] == "all")]
    rate = quebec[quebec["indicator"] == "partner_survey.response_rate"]
    assert (rate["numerator"].sum(), rate["denominator"].sum()) == (
        realised["responses"], realised["partner_organisations_where_the_survey_ran"])
    assert rate["numerator"].sum() / rate["denominator"].sum() == pytest.approx(
        truth["surveys"]["partner_survey"]["planted"]["response_probability"], abs=0.05)
    positive = quebec[quebec["indicator"] == "partner_survey.positive_collaboration_share"]
    assert positive["numerator"].sum() / positive["denominator"].sum() == pytest.approx(realised["positive_appreciation_share"], abs=1e-6)
    trust = quebec[quebec["indicator"] == "partner_survey.trust_dyad_mean"]
    assert (trust["value"] * trust["n"]).sum() / trust["n"].sum() == pytest.approx(realised["trust_dyad_mean"]["all"], abs=1e-6)


def _ptp_answers(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """The PTP answers with the registry's tenure and supervision of the year before each answer."""
    answers = tables["staff_survey"].loc[tables["staff_survey"]["role"] == "ptp"]
    answers = answers.merge(tables["worker"][["worker_id", "start_date", "end_date"]], on="worker_id")
    day = pd.to_datetime(answers["response_date"])
    end = pd.to_datetime(answers["end_date"])
    leaves = (end.notna() & (end <= day + pd.Timedelta(days=365))).to_numpy(dtype=bool)
    sessions = tables["supervision"].merge(answers[["worker_id", "response_date"]], on="worker_id")
    inside = (sessions["session_date"] <= sessions["response_date"]) & (
        sessions["session_date"] > sessions["response_date"] - pd.Timedelta(days=365))
    hours = sessions.loc[inside].groupby(["worker_id", "response_date"])["minutes"].sum() / 60
    hours = hours.reindex(pd.MultiIndex.from_frame(answers[["worker_id", "response_date"]]), fill_value=0).to_numpy()
    since = np.maximum(pd.to_datetime(answers["start_date"]), day - pd.Timedelta(days=365))
    months = np.clip((day - since).dt.days.to_numpy() / (365.25 / 12), 1, 12)
    return answers.assign(leaves=leaves, hours=hours / months)


def test_ptp_who_leave_within_a_year_rarely_intend_to_stay(cohort: Cohort) -> None:
    tables, truth = cohort
    staff = truth["surveys"]["staff_survey"]
    answers = _ptp_answers(tables)
    agree = answers["intention_to_stay"].astype(float) >= 4
    leaving, staying = agree[answers["leaves"]].mean(), agree[~answers["leaves"]].mean()
    realised = staff["realised"]["intention_to_stay_agree_share"]
    assert (leaving, staying) == (pytest.approx(realised["ptp_leaving_within_a_year"], abs=1e-6),
                                  pytest.approx(realised["ptp_staying"], abs=1e-6))
    assert staying - leaving > 0.2  # planted: 0.75 against 0.3


def test_supervision_adequacy_rises_with_the_registrys_supervision_hours(cohort: Cohort) -> None:
    tables, truth = cohort
    staff = truth["surveys"]["staff_survey"]
    answers = _ptp_answers(tables)
    agree = (answers["supervision_adequacy"].astype(float) >= 4).to_numpy(dtype=float)
    reference = staff["planted"]["supervision_reference_hours"]
    above = answers["hours"].to_numpy() >= reference
    realised = staff["realised"]["supervision_adequacy_agree_share"]
    assert agree[above].mean() == pytest.approx(realised["ptp_at_or_above_reference_hours"], abs=1e-6)
    assert agree[~above].mean() == pytest.approx(realised["ptp_below_reference_hours"], abs=1e-6)
    fit = sm.Logit(agree, sm.add_constant(answers["hours"].to_numpy() - reference)).fit(disp=0)
    low, high = fit.conf_int()[1]
    assert low > 0.2 and low < staff["planted"]["supervision_adequacy_slope"] < high


def test_heavy_workload_by_environment_through_the_indicator(cohort: Cohort) -> None:
    tables, truth = cohort
    realised = truth["surveys"]["staff_survey"]["realised"]["heavy_workload_agree_share"]
    frame = staff_compute(tables, parameters=IndicatorParameters())
    cells = frame[(frame["indicator"] == "staff_survey.heavy_workload_share") & (frame["scope"] == "quebec")
                  & (frame["stratum"] == "environment") & (frame["breakdown"] == "all")]
    summed = cells.groupby("stratum_value")[["numerator", "denominator"]].sum()
    shares = summed["numerator"] / summed["denominator"]
    for environment, share in realised.items():
        assert shares[environment] == pytest.approx(share, abs=1e-6)
    assert shares["rural"] - shares["urbain"] > 0.1  # planted: 0.55 against 0.35
