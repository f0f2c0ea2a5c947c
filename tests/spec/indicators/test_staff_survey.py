"""The PTP and manager questionnaire's family as a whole: ids and units of the catalogue, the role
breakdown adding up to ``all``, disclosure control on the respondents (staff are people too)."""

from __future__ import annotations

import pandas as pd

from proximite.cohort.codebook import load_codebook
from proximite.indicators import FAMILIES, compute_family
from proximite.indicators.base import INDICATOR_COLUMNS
from proximite.indicators.disclosure import apply_disclosure
from proximite.indicators.staff_survey import INDICATORS, compute

from ._reach_isolation_tables import unchanged
from ._registry_tables import PARAMETERS
from ._survey_tables import STAFF_REGISTRY, staff_world


def test_every_id_of_the_catalogue_and_only_those() -> None:
    codebook = load_codebook()
    catalogue = {key for key, spec in codebook.indicators.items() if spec["family"] == "staff_survey"}
    assert set(INDICATORS) == catalogue and FAMILIES["staff_survey"] == "proximite.indicators.staff_survey"
    tables = staff_world(**STAFF_REGISTRY)
    result = unchanged(compute, tables, parameters=PARAMETERS)
    assert list(result.columns) == INDICATOR_COLUMNS and set(result["indicator"]) == catalogue
    for indicator, units in result.groupby("indicator")["unit"].unique().items():
        assert list(units) == [codebook.indicator(indicator)["unit"]]
    pd.testing.assert_frame_equal(compute_family("staff_survey", tables, parameters=PARAMETERS), result)


def test_roles_add_up_to_all() -> None:
    result = compute(staff_world(), parameters=PARAMETERS)
    shares = result[result["unit"] == "share"]
    by_role = shares[shares["breakdown"] == "role"].groupby(
        ["indicator", "scope", "scope_id", "stratum", "stratum_value", "period"])[["numerator", "denominator"]].sum()
    total = shares[shares["breakdown"] == "all"].set_index(
        ["indicator", "scope", "scope_id", "stratum", "stratum_value", "period"])[["numerator", "denominator"]]
    pd.testing.assert_frame_equal(by_role.sort_index(), total.sort_index(), check_dtype=False)


def test_respondents_are_protected_like_families() -> None:
    tables = staff_world(**STAFF_REGISTRY)
    disclosed = apply_disclosure(compute(tables, parameters=PARAMETERS), level="public", territory=tables["territory"])
    answers = disclosed[disclosed["indicator"].str.startswith("staff_survey.") & ~disclosed["indicator"].str.contains("registry")]
    # Four respondents or fewer, or a share whose either side counts fewer than five: hidden.
    assert answers["suppressed"].sum() == len(answers) - 1 and answers.loc[answers["suppressed"], "value"].isna().all()
    published = answers.loc[~answers["suppressed"]].iloc[0]  # Québec 2024's clarity: a mean of five answers
    assert (published["indicator"], published["scope"], published["period"], published["n"]) == (
        "staff_survey.role_clarity_mean", "quebec", "2024", 5)
    assert pd.isna(published["numerator"])  # a mean's sum is withheld: it would give n back
    registry = disclosed[disclosed["indicator"].str.contains("registry")]
    assert not registry["suppressed"].any() and registry["value"].notna().all()
