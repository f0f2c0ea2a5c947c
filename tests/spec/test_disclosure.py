"""Spec of the disclosure rule (DESIGN, "Disclosure control") on tables written by hand.

Each test builds a tiny indicator table, applies :func:`apply_disclosure` and checks every cell
against the expected output worked out in the comments.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from proximite.indicators.base import (
    INDICATOR_COLUMNS,
    indicator_frame,
    wilson_interval,
)
from proximite.indicators.disclosure import (
    DISCLOSURE_COLUMNS,
    DisclosureSettings,
    apply_disclosure,
    disclosure_statement,
    round_half_up,
)
from statsmodels.stats.proportion import proportion_confint

from proximite.config import load_settings

COUNT = "reach.families_reached"  # unit count, people, additive
SHARE = "needs_offer.match_rate"  # unit share, people, additive
MEAN = "isolation.mean_index"  # unit mean, people, not additive
HOURS = "implementation.ptp_hours"  # people: false
PARTNERS = "concertation.active_partners"  # count, people: false


# ---------------------------------------------------------------------------- tiny tables
def count(scope: str, scope_id: str, c: float, **labels: Any) -> dict[str, Any]:
    return {"scope": scope, "scope_id": scope_id, "indicator": labels.pop("indicator", COUNT), "numerator": c,
            "value": c, "n": c, "unit": "count", "method": "count", **labels}


def share(scope: str, scope_id: str, k: float, m: float, **labels: Any) -> dict[str, Any]:
    low, high = wilson_interval(k, m)
    return {"scope": scope, "scope_id": scope_id, "indicator": SHARE, "numerator": k, "denominator": m,
            "value": k / m if m else np.nan, "ci_low": float(low), "ci_high": float(high), "n": m, "unit": "share",
            "method": "wilson", **labels}


def territories(*rows: tuple[str, str, str]) -> pd.DataFrame:
    """(territory_id, region_code, environment) → a territory table."""
    return pd.DataFrame(
        [{"territory_id": t, "region_code": r, "environment": e, "host_type": "OCF"} for t, r, e in rows]
    ).astype("string")


def status(out: pd.DataFrame) -> dict[str, str]:
    """scope_id (+ breakdown value / stratum value when not "all") → suppression."""
    keys = out["scope_id"].astype(str)
    for column in ("stratum_value", "breakdown_value"):
        keys = keys.where(out[column] == "all", keys + "/" + out[column].astype(str))
    return dict(zip(keys, out["suppression"].astype(str)))


def by_id(out: pd.DataFrame) -> pd.DataFrame:
    return out.set_index(out["scope_id"].astype(str))


# ---------------------------------------------------------------------------- primary suppression
def test_counts_from_1_to_4_are_suppressed_and_0_and_5_published() -> None:
    # Territories only: no parent, so no complementary suppression.
    table = indicator_frame([count("territory", f"T{c}", c) for c in (0, 1, 2, 4, 5, 7)])
    out = apply_disclosure(table, level="internal")
    assert status(out) == {"T0": "", "T1": "primary", "T2": "primary", "T4": "primary", "T5": "", "T7": ""}
    hidden = out.loc[out["suppressed"], ["numerator", "denominator", "value", "ci_low", "ci_high", "n"]]
    assert hidden.isna().all().all() and len(hidden) == 3
    assert by_id(out).loc[["T0", "T5", "T7"], "value"].tolist() == [0, 5, 7]


def test_output_columns_and_types() -> None:
    table = indicator_frame([count("territory", "T1", 3), count("territory", "T2", 8)]).assign(family_id="x")
    out = apply_disclosure(table)
    assert list(out.columns) == DISCLOSURE_COLUMNS == [*INDICATOR_COLUMNS, "suppressed", "suppression"]
    assert out["suppressed"].dtype == bool and out["suppression"].dtype == "string"
    assert str(out["n"].dtype) == "Int64"
    assert out["suppressed"].tolist() == [True, False]


# ---------------------------------------------------------------------------- rounding
def test_public_counts_are_rounded_to_the_nearest_5() -> None:
    # 7 → 5, 8 → 10, 12 → 10, 13 → 15, 0 stays 0.
    table = indicator_frame([count("territory", f"T{c:02d}", c) for c in (0, 7, 8, 12, 13)])
    out = by_id(apply_disclosure(table))
    assert out["numerator"].tolist() == [0, 5, 10, 10, 15]
    assert out["value"].tolist() == [0, 5, 10, 10, 15]
    assert out["n"].tolist() == [0, 5, 10, 10, 15]


def test_ties_round_half_up_not_to_even() -> None:
    # 12.5 / 5 = 2.5 → 3 → 15 (NumPy's round gives 2 → 10); 17.5 → 20; 2.5 → 5.
    assert round_half_up([12.5, 17.5, 2.5, 7.4999], 5).tolist() == [15, 20, 5, 5]
    assert np.round(np.array([12.5]) / 5).tolist() == [2.0]  # what half-to-even would do
    # In a table, with base 10: 25 → 30 (not 20), 15 → 20, 35 → 40.
    table = indicator_frame([count("territory", f"T{c}", c) for c in (15, 25, 35)])
    assert apply_disclosure(table, rounding_base=10)["numerator"].tolist() == [20, 30, 40]


def test_rates_are_computed_from_the_rounded_counts() -> None:
    # 7 / 18 → 5 / 20 = 0.25 with the Wilson interval of (5, 20); 0 / 12 → 0 / 10 = 0.
    table = indicator_frame([share("territory", "T1", 7, 18), share("territory", "T2", 0, 12)])
    out = by_id(apply_disclosure(table))
    t1 = out.loc["T1"]
    assert (t1["numerator"], t1["denominator"], t1["value"], t1["n"]) == (5, 20, 0.25, 20)
    low, high = proportion_confint(5, 20, alpha=0.05, method="wilson")
    assert t1["ci_low"] == pytest.approx(low) and t1["ci_high"] == pytest.approx(high)
    assert (out.loc["T2", "numerator"], out.loc["T2", "denominator"], out.loc["T2", "value"]) == (0, 10, 0)
    # The internal version keeps the exact rate.
    internal = by_id(apply_disclosure(table, level="internal"))
    assert internal.loc["T1", "value"] == pytest.approx(7 / 18) and internal.loc["T1", "numerator"] == 7


def test_a_share_is_suppressed_when_numerator_complement_or_denominator_is_small() -> None:
    # 3/40: numerator 3; 38/40: complement 2; 0/3: denominator 3; 0/40 and 40/40 are fine.
    table = indicator_frame([share("territory", "A", 3, 40), share("territory", "B", 38, 40),
                             share("territory", "C", 0, 3), share("territory", "D", 0, 40),
                             share("territory", "E", 40, 40)])
    assert status(apply_disclosure(table)) == {"A": "primary", "B": "primary", "C": "primary", "D": "", "E": ""}


def test_a_mean_is_suppressed_on_n_and_its_n_rounded() -> None:
    rows = [
        {"scope": "territory", "scope_id": "T1", "indicator": MEAN, "numerator": 4 * 41.0, "denominator": 4,
         "value": 41.0, "ci_low": 30.0, "ci_high": 52.0, "n": 4, "unit": "mean", "method": "mean"},
        {"scope": "territory", "scope_id": "T2", "indicator": MEAN, "numerator": 23 * 41.2, "denominator": 23,
         "value": 41.2, "ci_low": 38.0, "ci_high": 44.4, "n": 23, "unit": "mean", "method": "mean"},
    ]
    out = by_id(apply_disclosure(indicator_frame(rows)))
    assert status(out.reset_index(drop=True)) == {"T1": "primary", "T2": ""}
    t2 = out.loc["T2"]
    # n 23 → 25; the mean and its interval are estimates, kept; numerator / value would give the
    # exact n back (and only n is checked), so numerator and denominator are withheld.
    assert (t2["n"], t2["value"], t2["ci_low"], t2["ci_high"]) == (25, 41.2, 38.0, 44.4)
    assert np.isnan(t2["numerator"]) and np.isnan(t2["denominator"])
    internal = by_id(apply_disclosure(indicator_frame(rows), level="internal"))
    assert (internal.loc["T2", "n"], internal.loc["T2", "value"]) == (23, 41.2)
    assert np.isnan(internal.loc["T2", "numerator"]) and np.isnan(internal.loc["T2", "denominator"])


def test_indicators_that_do_not_count_people_are_untouched() -> None:
    rows = [
        {"scope": "territory", "scope_id": "T1", "indicator": HOURS, "numerator": 210.0, "value": 3.5, "n": 2,
         "unit": "hours", "method": "sum"},
        {**count("territory", "T1", 3, indicator=PARTNERS)},
    ]
    table = indicator_frame(rows)
    out = apply_disclosure(table)
    assert not out["suppressed"].any()
    pd.testing.assert_frame_equal(out[INDICATOR_COLUMNS], table)


# ---------------------------------------------------------------------------- complementary suppression
def test_complementary_suppression_of_a_sibling() -> None:
    # Region R = T1 + T2 + T3 + T4 = 3 + 10 + 7 + 20 = 40. T1 (3) is primary; alone, it would be
    # 40 − 10 − 7 − 20. The smallest non-zero published sibling, T3 (7), is hidden too: then
    # T1 + T3 = 10 and T1 could be anything from 0 to 10.
    terr = territories(("T1", "R", "rural"), ("T2", "R", "rural"), ("T3", "R", "rural"), ("T4", "R", "rural"))
    table = indicator_frame([count("quebec", "QC", 40), count("region", "R", 40), count("territory", "T1", 3),
                             count("territory", "T2", 10), count("territory", "T3", 7), count("territory", "T4", 20)])
    out = apply_disclosure(table, territory=terr, level="internal")
    assert status(out) == {"QC": "", "R": "", "T1": "primary", "T2": "", "T3": "complementary", "T4": ""}
    # Public: the same cells, the published ones rounded (40, 40, 10, 20).
    public = apply_disclosure(table, territory=terr)
    assert status(public) == status(out)
    assert public.loc[~public["suppressed"], "numerator"].tolist() == [40, 40, 10, 20]
    # Without region rows, Québec is the territories' parent (no territory table needed).
    no_region = table.loc[table["scope"] != "region"]
    assert status(apply_disclosure(no_region, level="internal")) == {"QC": "", "T1": "primary", "T2": "",
                                                                     "T3": "complementary", "T4": ""}


def test_region_territory_hierarchy() -> None:
    # Québec 24 = R1 12 + R2 3 + R3 9; R1 = T11 12; R2 = T21 3; R3 = T31 6 + T32 3.
    # Primary: R2, T21, T32 (3 each). Québec ← regions has one hidden cell (R2): R3 is hidden
    # rather than R1 because R3 also closes its own group (R3 ← T31, T32, where T32 is alone).
    # Left: R2 + R3 = 12, R2 = T21, R3 = 6 + T32, so R2 can be anything from 0 to 6.
    terr = territories(("T11", "1", "rural"), ("T21", "2", "rural"), ("T31", "3", "rural"), ("T32", "3", "urbain"))
    table = indicator_frame([count("quebec", "QC", 24), count("region", "1", 12), count("region", "2", 3),
                             count("region", "3", 9), count("territory", "T11", 12), count("territory", "T21", 3),
                             count("territory", "T31", 6), count("territory", "T32", 3)])
    out = apply_disclosure(table, territory=terr, level="internal")
    assert status(out) == {"QC": "", "1": "", "2": "primary", "3": "complementary", "T11": "",
                           "T21": "primary", "T31": "", "T32": "primary"}
    # The region of a territory is not in the table: without the territory table, refuse.
    with pytest.raises(ValueError, match="territory="):
        apply_disclosure(table)
    with pytest.raises(ValueError, match="lacks 1 territory"):
        apply_disclosure(table, territory=terr.iloc[:3])


def test_the_stratum_of_a_region_is_a_group_of_its_territories() -> None:
    # Region R: T1 rural 3, T2 rural 25, T3 urbain 20; R/rural = 28, R/urbain = 20, R = 48.
    # T1 is primary and alone in two groups: R ← T1..T3 and R/rural ← T1, T2. T2 (25) closes both,
    # T3 (20, smaller) only the first, so T2 is hidden, and nothing else: hiding T3 would publish
    # R/rural − T2 = T1.
    terr = territories(("T1", "R", "rural"), ("T2", "R", "rural"), ("T3", "R", "urbain"))
    rows = [count("territory", "T1", 3), count("territory", "T2", 25), count("territory", "T3", 20)]
    for scope, scope_id in (("quebec", "QC"), ("region", "R")):
        rows += [count(scope, scope_id, 48), count(scope, scope_id, 28, stratum="environment", stratum_value="rural"),
                 count(scope, scope_id, 20, stratum="environment", stratum_value="urbain")]
    out = apply_disclosure(indicator_frame(rows), territory=terr, level="internal")
    assert status(out) == {"QC": "", "QC/rural": "", "QC/urbain": "", "R": "", "R/rural": "", "R/urbain": "",
                           "T1": "primary", "T2": "complementary", "T3": ""}


def test_breakdown_partition() -> None:
    # T1: all 17 = logement 2 + alimentation 6 + sante 9. logement is primary; alimentation (6),
    # the smallest other category, is hidden with it.
    rows = [count("territory", "T1", 17)] + [
        count("territory", "T1", c, breakdown="need_category", breakdown_value=v)
        for v, c in (("logement", 2), ("alimentation", 6), ("sante", 9))
    ]
    out = apply_disclosure(indicator_frame(rows), level="internal")
    assert status(out) == {"T1": "", "T1/alimentation": "complementary", "T1/logement": "primary", "T1/sante": ""}


def test_complementary_suppression_of_shares() -> None:
    # Québec = R1 + R2 + R3: numerators 16 + 30 + 20 = 66, denominators 18 + 50 + 40 = 108.
    # R1 is primary (18 − 16 = 2 needs not met). R3 (numerator 20) is the smallest sibling.
    terr = territories(("T1", "1", "rural"), ("T2", "2", "rural"), ("T3", "3", "rural"))
    table = indicator_frame([share("quebec", "QC", 66, 108), share("region", "1", 16, 18),
                             share("region", "2", 30, 50), share("region", "3", 20, 40)])
    out = apply_disclosure(table, territory=terr)
    assert status(out) == {"QC": "", "1": "primary", "2": "", "3": "complementary"}
    qc = by_id(out).loc["QC"]
    assert (qc["numerator"], qc["denominator"], qc["value"]) == (65, 110, pytest.approx(65 / 110))


def test_the_n_of_a_mean_is_protected_like_a_count() -> None:
    # A mean is not additive, but its n is: R's n 9 = T1 4 + T2 5. T1 (n 4) is primary; R's
    # n − T2's n would give it back (and R's mean × 9 − T2's mean × 5 its mean), so T2 is hidden.
    terr = territories(("T1", "R", "rural"), ("T2", "R", "rural"))
    rows = [{"scope": s, "scope_id": i, "indicator": MEAN, "value": v, "n": n, "unit": "mean", "method": "mean"}
            for s, i, v, n in (("quebec", "QC", 40.0, 9), ("region", "R", 40.0, 9), ("territory", "T1", 38.0, 4),
                               ("territory", "T2", 41.6, 5))]
    out = apply_disclosure(indicator_frame(rows), territory=terr, level="internal")
    assert status(out) == {"QC": "", "R": "", "T1": "primary", "T2": "complementary"}


def shares_of(cells: dict[tuple[str, str], tuple[int, int]], geography: list[tuple[str, str, tuple[str, ...]]],
              categories: tuple[str, ...]) -> pd.DataFrame:
    """Share rows of every geographic cell × (all + categories), summed from the leaf cells."""
    rows = []
    for scope, scope_id, members in geography:
        for category in ("all", *categories):
            picked = [v for (t, c), v in cells.items() if t in members and category in ("all", c)]
            labels = {} if category == "all" else {"breakdown": "need_category", "breakdown_value": category}
            rows.append(share(scope, scope_id, sum(k for k, _ in picked), sum(m for _, m in picked), **labels))
    return indicator_frame(rows)


def test_the_exact_check_catches_what_the_group_rule_misses() -> None:
    # Needs met / needs identified in region R (= Québec): T1 alimentation 0/5, logement 0/0;
    # T2 alimentation 4/4, logement 1/1. Primary: T2's two categories (4 and 1 met), and R's
    # (4/9 and 1/1). Every group then has two hidden cells, yet T2's total (5 of 5 met) says
    # that no need of T2 is unmet, so R/alimentation's unmet needs are T1/alimentation's: 5,
    # recovered. Hiding T1/alimentation is not enough (T1's total gives it back), nor T1 (R's total
    # minus T2's), nor T2 (R and Québec's totals): every non-zero cell ends up hidden; only
    # T1/logement (0 of 0) stays.
    terr = territories(("T1", "R", "rural"), ("T2", "R", "rural"))
    cells = {("T1", "alimentation"): (0, 5), ("T1", "logement"): (0, 0),
             ("T2", "alimentation"): (4, 4), ("T2", "logement"): (1, 1)}
    geography = [("quebec", "QC", ("T1", "T2")), ("region", "R", ("T1", "T2")), ("territory", "T1", ("T1",)),
                 ("territory", "T2", ("T2",))]
    out = apply_disclosure(shares_of(cells, geography, ("alimentation", "logement")), territory=terr,
                           level="internal")
    expected = {key: "complementary" for key in ("QC", "R", "T1", "T1/alimentation", "T2")}
    expected.update({key: "primary" for key in ("QC/alimentation", "QC/logement", "R/alimentation", "R/logement",
                                                "T2/alimentation", "T2/logement")})
    expected["T1/logement"] = ""
    assert status(out) == expected


# ---------------------------------------------------------------------------- levels, options, input
def test_internal_level_suppresses_the_same_cells_without_rounding() -> None:
    terr = territories(("T1", "R", "rural"), ("T2", "R", "rural"), ("T3", "R", "rural"))
    table = indicator_frame([count("quebec", "QC", 24), count("region", "R", 24), count("territory", "T1", 3),
                             count("territory", "T2", 8), count("territory", "T3", 13)])
    internal = apply_disclosure(table, territory=terr, level="internal")
    public = apply_disclosure(table, territory=terr, level="public")
    assert status(internal) == status(public) == {"QC": "", "R": "", "T1": "primary", "T2": "complementary", "T3": ""}
    # Internal: exact 24, 24, 13; public: 25, 25, 15.
    assert internal.loc[~internal["suppressed"], "numerator"].tolist() == [24, 24, 13]
    assert public.loc[~public["suppressed"], "numerator"].tolist() == [25, 25, 15]


def test_threshold_is_configurable() -> None:
    table = indicator_frame([count("territory", f"T{c}", c) for c in (2, 3, 7, 9)])
    # threshold 3: counts 1..2 hidden; 10: 1..9 hidden; 1: nothing hidden.
    assert status(apply_disclosure(table, threshold=3)) == {"T2": "primary", "T3": "", "T7": "", "T9": ""}
    assert set(status(apply_disclosure(table, threshold=10)).values()) == {"primary"}
    assert not apply_disclosure(table, threshold=1)["suppressed"].any()
    with pytest.raises(ValueError, match="threshold"):
        apply_disclosure(table, threshold=0)
    with pytest.raises(ValueError, match="level"):
        apply_disclosure(table, level="secret")


def test_the_input_is_not_modified() -> None:
    terr = territories(("T1", "R", "rural"), ("T2", "R", "rural"))
    table = indicator_frame([share("region", "R", 9, 30), share("territory", "T1", 2, 12),
                             share("territory", "T2", 7, 18)]).assign(extra="kept in the input")
    before, terr_before = table.copy(deep=True), terr.copy(deep=True)
    out = apply_disclosure(table, territory=terr)
    pd.testing.assert_frame_equal(table, before)
    pd.testing.assert_frame_equal(terr, terr_before)
    assert out["suppressed"].tolist() == [False, True, True] and "extra" not in out.columns


def test_rows_that_are_not_aggregates_are_refused() -> None:
    good = count("territory", "T1", 8)
    with pytest.raises(ValueError, match="pseudonymous"):
        apply_disclosure(indicator_frame([good, count("territory", "e31c85db9c9cf3cf", 8)]))
    family_row = indicator_frame([good]).assign(scope="family")
    with pytest.raises(ValueError, match="not aggregates"):
        apply_disclosure(family_row)
    with pytest.raises(ValueError, match="lacks column"):
        apply_disclosure(indicator_frame([good]).drop(columns="n"))
    with pytest.raises(ValueError, match="same cell"):
        apply_disclosure(indicator_frame([good, good]))


def test_settings_from_the_configuration(tmp_path: Any) -> None:
    defaults = DisclosureSettings.from_settings(load_settings(tmp_path))
    assert (defaults.threshold, defaults.rounding_base, defaults.level) == (5, 5, "public")
    (tmp_path / "proximite.toml").write_text('[disclosure]\nthreshold = 10\nlevel = "internal"\n', encoding="utf-8")
    project = DisclosureSettings.from_settings(load_settings(tmp_path))
    assert project.options() == {"level": "internal", "threshold": 10, "rounding_base": 5}
    with pytest.raises(ValueError):
        DisclosureSettings(level="everyone")


def test_the_statement_in_french_and_english() -> None:
    fr = disclosure_statement("public", threshold=5, rounding_base=5, lang="fr")
    en = disclosure_statement("public", threshold=5, rounding_base=5, lang="en")
    assert fr == ("Contrôle de la divulgation : les effectifs de 1 à 4 sont supprimés, de même que les cellules "
                  "qui permettraient de les retrouver par soustraction ; les effectifs publiés sont arrondis au "
                  "multiple de 5 le plus proche et les taux sont calculés à partir des effectifs arrondis.")
    assert en == ("Disclosure control: counts from 1 to 4 are suppressed, as are the cells from which they could be "
                  "recovered by subtraction; published counts are rounded to the nearest multiple of 5 and rates are "
                  "computed from the rounded counts.")
    internal = disclosure_statement("internal", threshold=11, rounding_base=5, lang="en")
    assert "from 1 to 10" in internal and "not rounded" in internal and "internal" in internal
    assert "ne sont pas arrondis" in DisclosureSettings(level="internal").statement(lang="fr")
    assert "counts of 1 are" in disclosure_statement(threshold=2, lang="en")


# ---------------------------------------------------------------------------- memo
def test_a_table_disclosed_again_comes_from_the_memo_and_any_change_discloses_anew(monkeypatch: pytest.MonkeyPatch) -> None:
    import proximite.indicators.disclosure as disclosure

    calls: list[int] = []
    real = disclosure._disclose
    monkeypatch.setattr(disclosure, "_disclose", lambda table, **options: calls.append(len(table)) or real(table, **options))
    table = indicator_frame([count("territory", f"T{c}", c) for c in (2, 7, 8)])
    first = apply_disclosure(table)
    first.loc[0, "value"] = 999.0  # a caller's change to its copy never reaches the memo
    again = apply_disclosure(table.copy())
    assert len(calls) == 1
    assert again["value"].tolist()[1:] == [5, 10] and pd.isna(again["value"].iloc[0])
    changed = table.copy()
    changed.loc[2, ["numerator", "value", "n"]] = 13
    assert apply_disclosure(changed)["value"].tolist()[2] == 15
    apply_disclosure(table, rounding_base=10)
    assert len(calls) == 3
