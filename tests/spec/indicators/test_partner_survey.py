"""The partner questionnaire's family as a whole: ids, units and columns of the catalogue, inputs
left alone, shares that add up the hierarchy, disclosure control on the answers' counts."""

from __future__ import annotations

import pandas as pd

from proximite.cohort.codebook import load_codebook
from proximite.indicators import FAMILIES, compute_family
from proximite.indicators.base import INDICATOR_COLUMNS
from proximite.indicators.disclosure import apply_disclosure
from proximite.indicators.partner_survey import INDICATORS, compute

from ._reach_isolation_tables import unchanged
from ._registry_tables import PARAMETERS
from ._survey_tables import partner_world


def test_every_id_of_the_catalogue_and_only_those() -> None:
    codebook = load_codebook()
    catalogue = {key for key, spec in codebook.indicators.items() if spec["family"] == "partner_survey"}
    assert set(INDICATORS) == catalogue and FAMILIES["partner_survey"] == "proximite.indicators.partner_survey"
    result = unchanged(compute, partner_world(), parameters=PARAMETERS)
    assert list(result.columns) == INDICATOR_COLUMNS and set(result["indicator"]) == catalogue
    for indicator, units in result.groupby("indicator")["unit"].unique().items():
        assert list(units) == [codebook.indicator(indicator)["unit"]]
    assert result["wave"].isna().all() and set(result["period"]) == {"2024", "2025"}
    pd.testing.assert_frame_equal(compute_family("partner_survey", partner_world(), parameters=PARAMETERS), result)


def test_shares_add_up_and_small_counts_of_respondents_are_hidden() -> None:
    tables = partner_world()
    result = compute(tables, parameters=PARAMETERS)
    shares = result[(result["unit"] == "share") & (result["stratum"] == "all")]
    sums = {scope: shares[shares["scope"] == scope].groupby(["indicator", "period"])[["numerator", "denominator"]].sum()
            for scope in ("quebec", "region", "territory")}
    pd.testing.assert_frame_equal(sums["territory"], sums["quebec"])
    pd.testing.assert_frame_equal(sums["region"], sums["quebec"])
    disclosed = apply_disclosure(result, level="internal", territory=tables["territory"])
    people = disclosed["indicator"].map(lambda i: load_codebook().indicator(i)["people"]).astype(bool)
    assert disclosed.loc[people, "suppressed"].all()  # three or four answers: every cell hides
    networks = disclosed.loc[~people]
    assert not networks["suppressed"].any() and networks["value"].notna().any()


def test_no_answer_no_row() -> None:
    tables = partner_world()
    tables["partner_response"] = tables["partner_response"].iloc[0:0]
    assert compute(tables, parameters=PARAMETERS).empty
