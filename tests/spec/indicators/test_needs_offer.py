"""The needs–offer family as a whole: ids, units and columns of the catalogue, no row-level data,
inputs left alone, additive counts that add up, on the tiny scenario and on a small synthetic cohort."""

from __future__ import annotations

import pandas as pd
import pytest

from proximite.cohort.codebook import load_codebook
from proximite.indicators import compute_family
from proximite.indicators.base import INDICATOR_COLUMNS, INDICATOR_DTYPES, IndicatorParameters
from proximite.indicators.needs_offer import compute, data_end

from ._needs_offer_tables import assert_unchanged, copies, params, scenario

IDS = {
    "needs_offer.match_rate",
    "needs_offer.referral_completion",
    "needs_offer.time_to_met",
    "needs_offer.service_gaps",
    "needs_offer.families_3plus_referrals",
    "needs_offer.referral_destination_network",
    "needs_offer.referral_destination_mission",
    "needs_offer.partner_to_ptp_share",
}


def check_contract(result: pd.DataFrame, tables: dict[str, pd.DataFrame]) -> None:
    codebook = load_codebook()
    assert list(result.columns) == INDICATOR_COLUMNS
    assert {column: str(dtype) for column, dtype in result.dtypes.items()} == {
        column: str(pd.Series(dtype=dtype).dtype) for column, dtype in INDICATOR_DTYPES.items()
    }
    assert set(result["indicator"]) == IDS
    for indicator, unit in result.groupby("indicator")["unit"].unique().items():
        assert list(unit) == [codebook.indicator(indicator)["unit"]]
        assert codebook.indicator(indicator)["family"] == "needs_offer"
    shares = result[result["unit"] == "share"]
    assert shares["value"].between(0, 1).all()
    assert (shares["ci_low"] <= shares["value"] + 1e-12).all() and (shares["value"] <= shares["ci_high"] + 1e-12).all()
    days = result[result["unit"] == "days"]
    assert (days["value"].dropna() >= 0).all()
    # No identifier of a family, need, referral or organisation anywhere in the output.
    identifiers = set()
    for name, column in (("family", "family_id"), ("need", "need_id"), ("referral", "referral_id")):
        identifiers |= set(tables[name][column].dropna().astype(str))
    text = set()
    for column in ("scope_id", "stratum_value", "breakdown_value", "period", "method"):
        text |= set(result[column].dropna().astype(str))
    assert not identifiers & text
    key = ["scope", "scope_id", "stratum", "stratum_value", "wave", "period", "breakdown", "breakdown_value",
           "indicator"]
    assert not result.duplicated(key).any()


def check_additive(result: pd.DataFrame) -> None:
    """Numerators and denominators of the share indicators add up territory → region → Québec."""
    shares = result[(result["unit"] == "share") & (result["stratum"] == "all")]
    key = ["indicator", "wave", "period", "breakdown", "breakdown_value"]
    by_scope = {
        scope: shares[shares["scope"] == scope].groupby(key, dropna=False)[["numerator", "denominator"]].sum()
        for scope in ("quebec", "region", "territory")
    }
    pd.testing.assert_frame_equal(by_scope["region"], by_scope["quebec"])
    pd.testing.assert_frame_equal(by_scope["territory"], by_scope["quebec"])


def test_compute_on_the_scenario() -> None:
    tables = scenario()
    before = copies(tables)
    result = compute(tables, parameters=params())
    assert_unchanged(tables, before)
    check_contract(result, tables)
    check_additive(result)
    # The registry dispatches the family to this module.
    pd.testing.assert_frame_equal(compute_family("needs_offer", tables, parameters=params()), result)


def test_data_end() -> None:
    tables = scenario()
    assert data_end(tables, parameters=params()) == pd.Timestamp("2025-03-31")
    # The latest date of the tables: F6's first contact and R6's outcome, 2025-05-01.
    assert data_end(tables, parameters=params(as_of=None)) == pd.Timestamp("2025-05-01")


@pytest.mark.parametrize("strata", [("environment", "host_type"), ()])
def test_compute_on_a_small_cohort(small_cohort, strata) -> None:
    tables, _ = small_cohort
    before = copies(tables)
    result = compute(tables, parameters=IndicatorParameters(strata=strata))
    assert_unchanged(tables, before)
    check_contract(result, tables)
    check_additive(result)
    assert set(result["stratum"]) == ({"all", *strata} if strata else {"all"})
    assert set(result["scope"]) == {"quebec", "region", "territory"}


def test_empty_tables() -> None:
    tables = scenario()
    # No need: the need indicators have no row, the referral ones are unchanged.
    without_needs = compute({**tables, "need": tables["need"].iloc[0:0]}, parameters=params())
    assert set(without_needs["indicator"]) == IDS - {"needs_offer.match_rate", "needs_offer.time_to_met", "needs_offer.service_gaps"}
    # Nothing at all: an empty table with the right columns.
    empty = {name: frame.iloc[0:0] for name, frame in tables.items() if name != "territory"}
    result = compute({**empty, "territory": tables["territory"]}, parameters=params(as_of=None))
    assert result.empty and list(result.columns) == INDICATOR_COLUMNS
