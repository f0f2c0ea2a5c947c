"""Spec of the disclosure audit (the attacker) and of the public snapshot it guards.

The worked example of issue 16: ``isolation.transition`` at T6, non-isolated → isolated, is 4 in
Québec, 1 in regions 01–04 and 0 in the eight other regions. Each cell from 1 to 4 is hidden.
Published with the rule's label (``primary`` = "1 to 4"), Québec = Σ regions pins every region at
1 and Québec at 4. Published with one mark for every hidden cell, nothing is pinned.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from proximite.cli import app
from proximite.indicators.base import indicator_frame, wilson_interval
from proximite.indicators.disclosure import apply_disclosure, disclose_with_audit
from proximite.indicators.disclosure.audit import DisclosureLeak, audit_published, classify, refuse_leaks
from typer.testing import CliRunner

TRANSITION = "isolation.transition"
VALUES = ["isole_isole", "isole_non_isole", "non_isole_isole", "non_isole_non_isole"]
REGIONS = [f"{r:02d}" for r in range(1, 13)]


def transition_row(scope: str, sid: str, value: str, k: int, m: int) -> dict:
    low, high = wilson_interval(k, m)
    return {"scope": scope, "scope_id": sid, "indicator": TRANSITION, "wave": 6, "breakdown": "transition",
            "breakdown_value": value, "numerator": k, "denominator": m, "value": k / m, "ci_low": float(low),
            "ci_high": float(high), "n": m, "unit": "share", "method": "wilson"}


def worked_example() -> pd.DataFrame:
    counts = {r: {"isole_isole": 10 + i, "isole_non_isole": 8 + i % 3, "non_isole_isole": 1 if i < 4 else 0,
                  "non_isole_non_isole": 12 + 2 * i} for i, r in enumerate(REGIONS)}
    counts["QC"] = {v: sum(counts[r][v] for r in REGIONS) for v in VALUES}
    rows = []
    for sid, c in counts.items():
        for v in VALUES:
            rows.append(transition_row("quebec" if sid == "QC" else "region", sid, v, c[v], sum(c.values())))
    return indicator_frame(rows)


def test_the_worked_example_is_pinned_with_the_rules_label_and_safe_with_one_mark() -> None:
    disclosed = apply_disclosure(worked_example())
    hidden = disclosed.loc[disclosed["suppressed"]]
    assert sorted(hidden["scope_id"]) == ["01", "02", "03", "04", "QC"]
    assert set(hidden["breakdown_value"]) == {"non_isole_isole"}
    # Before: the label "primary" is published.
    before = audit_published(disclosed)
    pinned = before.findings[before.findings["quantity"] == "numerator"]
    assert dict(zip(pinned["scope_id"], pinned["low"])) == {"QC": 4.0, "01": 1.0, "02": 1.0, "03": 1.0, "04": 1.0}
    assert (pinned["low"] == pinned["high"]).all() and set(pinned["finding"]) == {"pinned"}
    # After: one mark for every hidden cell.
    after = disclosed.assign(suppression=np.where(disclosed["suppressed"], "suppressed", ""))
    result = audit_published(after)
    assert result.clean and result.hidden_counts == 5 * 4  # k, m, m − k, n of each hidden share
    assert refuse_leaks(disclosed, threshold=5, rounding_base=5).clean


def test_the_findings_hold_cell_keys_and_bounds_only() -> None:
    before = audit_published(apply_disclosure(worked_example()))
    assert list(before.findings.columns) == ["indicator", "wave", "period", "scope", "scope_id", "stratum",
                                             "stratum_value", "breakdown", "breakdown_value", "quantity", "low",
                                             "high", "finding"]


def test_what_counts_as_a_finding() -> None:
    assert classify(1.0, 1.0, 5) == "pinned"
    assert classify(7.0, 7.0, 5) is None  # known, but not a small group
    assert classify(0.0, 0.0, 5) is None  # a hidden 0 names nobody
    assert classify(1.0, 3.0, 5) == "narrowed"
    assert classify(2.0, 4.0, 5) == "narrowed"
    assert classify(1.0, 4.0, 5) is None  # what the rule itself says
    assert classify(0.0, 4.0, 5) is None
    assert classify(1.0, np.inf, 5) is None
    assert classify(0.9999999, 1.0000001, 5) == "pinned"


def test_a_partition_without_an_all_row_is_protected_against_its_shared_denominator() -> None:
    # One region's transitions: 20 + 9 + 3 + 13 = 45, no "all" row. Hiding only the 3 leaves it
    # 45 − 20 − 9 − 13 up to rounding: the audit sees that and a second cell is hidden.
    rows = [transition_row("quebec", "QC", v, k, 45) for v, k in zip(VALUES, [20, 9, 3, 13])]
    table = indicator_frame(rows)
    internal = apply_disclosure(table, level="internal")
    assert internal["suppressed"].sum() >= 2
    assert audit_published(internal.assign(suppression="suppressed"), rounding_base=1).clean


def test_an_unrounded_mean_is_a_finding_and_public_means_are_rounded() -> None:
    row = {"scope": "quebec", "scope_id": "QC", "indicator": "isolation.mean_index", "wave": 0, "numerator": np.nan,
           "denominator": np.nan, "value": 7.123456, "n": 35, "unit": "mean", "method": "mean"}
    table = indicator_frame([row])
    published = table.assign(suppressed=False, suppression="")
    found = audit_published(published).findings
    assert list(found["finding"]) == ["unrounded mean"]
    public = apply_disclosure(table)
    assert public["value"].iloc[0] == pytest.approx(7.1)
    assert audit_published(public).clean


def test_staff_counts_fall_under_the_rule() -> None:
    row = {"scope": "quebec", "scope_id": "QC", "indicator": "implementation.worker_turnover", "period": "2025-Q1",
           "numerator": 1, "denominator": 2, "value": 0.5, "n": 2, "unit": "rate", "method": "ratio"}
    out = apply_disclosure(indicator_frame([row]))
    assert bool(out["suppressed"].iloc[0]) and pd.isna(out["value"].iloc[0])


def test_the_cli_audits_a_snapshot_folder_and_exits_1_on_a_finding(tmp_path: Path) -> None:
    runner = CliRunner()
    disclosed = apply_disclosure(worked_example())
    for name, frame in {"before": disclosed,
                        "after": disclosed.assign(suppression=np.where(disclosed["suppressed"], "suppressed", ""))}.items():
        folder = tmp_path / name
        folder.mkdir()
        frame.to_csv(folder / "indicators.csv", index=False)
        (folder / "manifest.json").write_text(json.dumps({"disclosure": {"level": "public", "threshold": 5,
                                                                          "rounding_base": 5}}))
    started = time.perf_counter()
    result = runner.invoke(app, ["disclosure", "audit", str(tmp_path / "before")])
    assert result.exit_code == 1, result.output
    assert "5 finding(s)" in result.output and "scope_id=QC" in result.output
    report = pd.read_csv(tmp_path / "before.audit.csv", dtype={"scope_id": str})
    assert sorted(report.loc[report["quantity"] == "numerator", "scope_id"]) == ["01", "02", "03", "04", "QC"]
    result = runner.invoke(app, ["disclosure", "audit", str(tmp_path / "after"), "--report", str(tmp_path / "r.csv")])
    assert result.exit_code == 0, result.output
    assert "0 finding(s)" in result.output and pd.read_csv(tmp_path / "r.csv").empty
    assert time.perf_counter() - started < 60
    missing = runner.invoke(app, ["disclosure", "audit", str(tmp_path / "nowhere")])
    assert missing.exit_code == 1 and "manifest.json" in missing.output


def test_refuse_leaks_names_the_cells() -> None:
    # Every cell published exactly but region 01's non-isolated → isolated (1), hidden alone.
    leaky = worked_example().assign(suppressed=False, suppression="")
    target = (leaky["scope_id"] == "01") & (leaky["breakdown_value"] == "non_isole_isole")
    leaky.loc[target, "suppressed"] = True
    for column in ("numerator", "denominator", "value", "n"):
        leaky.loc[target, column] = np.nan
    with pytest.raises(DisclosureLeak, match=r"scope_id=01 .*numerator pinned in \[1, 1\]"):
        refuse_leaks(leaky, threshold=5, rounding_base=1)


def test_the_table_before_disclosure_speeds_the_audit_up_and_changes_nothing() -> None:
    # The disclosure control and the snapshot writer know the table the file was made from; the
    # solver starts from it. The findings are the attacker's, with or without it.
    table = worked_example()
    disclosed = apply_disclosure(table)
    for published in (disclosed, disclosed.assign(suppression=np.where(disclosed["suppressed"], "suppressed", ""))):
        alone, helped = audit_published(published), audit_published(published, known=table)
        pd.testing.assert_frame_equal(alone.findings, helped.findings)
    with pytest.raises(ValueError, match="same rows"):
        audit_published(disclosed, known=table.iloc[:-1])


def test_the_disclosure_control_hands_over_the_table_its_audit_read() -> None:
    out, audited = disclose_with_audit(worked_example())
    assert audited.result.clean and audited.result.hidden_counts == 5 * 4
    assert audited.result.relations > 0 and audited.result.unknowns > 0
    # The cells about to be published, with the rule's labels or one mark: the same cells.
    assert audited.covers(out, threshold=5, rounding_base=5)
    assert audited.covers(out.assign(suppression=np.where(out["suppressed"], "suppressed", "")), threshold=5,
                          rounding_base=5)
    # Another rounding, a changed count, a row less: not what the audit read.
    assert not audited.covers(out, threshold=5, rounding_base=1)
    changed = out.copy()
    changed.loc[changed.index[~changed["suppressed"]][0], "numerator"] += 5
    assert not audited.covers(changed, threshold=5, rounding_base=5)
    assert not audited.covers(out.iloc[:-1], threshold=5, rounding_base=5)


def test_empty_cells_are_no_evidence_of_a_shared_denominator() -> None:
    # Needs met / needs identified by category: region 01 has no need (0 and 0 published), region
    # 02 has 1 housing need and 2 food needs (hidden), Québec 3 in all. Taking 0 = 0 as a shared
    # denominator made every category's denominator equal in every partition: "Québec food = 1"
    # (it is 2). Only equal non-zero denominators are evidence.
    def row(sid: str, value: str, m: int) -> dict:
        return {"scope": "quebec" if sid == "QC" else "region", "scope_id": sid, "indicator": "needs_offer.match_rate",
                "period": "all", "breakdown": "all" if value == "all" else "need_category", "breakdown_value": value,
                "numerator": 0, "denominator": m, "value": 0.0 if m else np.nan, "n": m, "unit": "share",
                "method": "wilson"}

    needs = {"01": {"logement": 0, "alimentation": 0}, "02": {"logement": 1, "alimentation": 2},
             "QC": {"logement": 1, "alimentation": 2}}
    table = indicator_frame([row(sid, value, m) for sid, d in needs.items()
                             for value, m in [("all", sum(d.values())), *d.items()]])
    hidden = ((table["scope_id"] == "02") | ((table["scope_id"] == "QC") & (table["breakdown_value"] != "all")))
    published = table.assign(suppressed=hidden.to_numpy(), suppression=np.where(hidden, "suppressed", ""))
    for column in ("numerator", "denominator", "value", "ci_low", "ci_high", "n"):
        published[column] = published[column].mask(hidden)
    result = audit_published(published, threshold=3, rounding_base=3)
    truth = table.reset_index(drop=True)
    for row_number, (_, finding) in zip(result.rows, result.findings.iterrows()):
        k, m = truth.at[row_number, "numerator"], truth.at[row_number, "denominator"]
        value = {"numerator": k, "denominator": m, "n": m, "denominator - numerator": m - k}[finding["quantity"]]
        assert finding["low"] <= value <= finding["high"], finding.to_dict()
    assert result.clean
