"""Programme-funding tables: the 2019 Avenir d'enfants table against an independent computation."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pytest
from proximite.economics.costing_base import CostingError
from proximite.economics.funding import (
    DEFAULT_FUNDING_PATH,
    funding_summary,
    load_funding_table,
)

SIX_REGIONS = ["06", "05", "16", "03", "13", "08"]  # where several RLP deploy outreach (seed 002)


def csv_rows(path: Path = DEFAULT_FUNDING_PATH) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as handle:
        return list(csv.DictReader(line for line in handle if not line.startswith("#")))


def test_totals_and_ratios_match_an_independent_computation() -> None:
    rows = csv_rows()
    children = sum(int(r["children_0_5"]) for r in rows)
    resources = sum(float(r["resources"]) for r in rows)
    fte = sum(float(r["fte"]) for r in rows)
    funding = sum(float(r["funding_cad"]) for r in rows)
    summary = funding_summary(load_funding_table(), regions=SIX_REGIONS)
    totals = summary.totals
    assert totals["regions"] == len(rows) == 17
    assert totals["children_0_5"] == children
    assert totals["resources"] == pytest.approx(resources)
    assert totals["fte"] == pytest.approx(fte)
    assert totals["funding_cad"] == pytest.approx(funding)
    assert totals["funding_per_resource"] == pytest.approx(funding / resources)
    assert totals["funding_per_fte"] == pytest.approx(funding / fte)
    assert totals["funding_per_child"] == pytest.approx(funding / children)
    assert totals["regions_funded"] == sum(float(r["funding_cad"]) > 0 for r in rows)
    chosen = [r for r in rows if r["region_code"] in SIX_REGIONS]
    assert summary.selection["children_0_5"] == sum(int(r["children_0_5"]) for r in chosen)
    assert summary.selection["children_share"] == pytest.approx(sum(int(r["children_0_5"]) for r in chosen) / children)
    assert summary.selection["funding_share"] == pytest.approx(sum(float(r["funding_cad"]) for r in chosen) / funding)


def test_per_region_ratios() -> None:
    rows = {r["region_code"]: r for r in csv_rows()}
    table = funding_summary(load_funding_table()).table
    for code, r in rows.items():
        funding, resources, fte = float(r["funding_cad"]), float(r["resources"]), float(r["fte"])
        line = table.loc[code]
        assert line["funding_per_child"] == pytest.approx(funding / int(r["children_0_5"]))
        if resources > 0:
            assert line["funding_per_resource"] == pytest.approx(funding / resources)
            assert line["funding_per_fte"] == pytest.approx(funding / fte)
        else:
            assert math.isnan(line["funding_per_resource"]) and math.isnan(line["funding_per_fte"])
    assert table.loc["total", "children_share"] == 1.0
    assert table.drop(index="total")["children_share"].sum() == pytest.approx(1.0)


def test_regions_by_name_and_unknown_region() -> None:
    summary = funding_summary(load_funding_table(), regions=["Montréal", "5"])
    assert summary.selection["regions"] == ["06", "05"]
    with pytest.raises(CostingError, match="unknown region"):
        funding_summary(load_funding_table(), regions=["Atlantide"])


def test_a_new_programme_table_with_the_same_columns(tmp_path: Path) -> None:
    path = tmp_path / "programme.csv"
    path.write_text(
        "# a hypothetical programme\nregion_code,region,children_0_5,resources,fte,funding_cad\n"
        "6,Montréal,1000,4,3,300000\n16,Montérégie,500,0,0,0\n",
        encoding="utf-8",
    )
    summary = funding_summary(load_funding_table(path), regions=["06"])
    assert summary.totals["funding_per_fte"] == pytest.approx(100000.0)
    assert summary.totals["funding_per_child"] == pytest.approx(200.0)
    assert summary.selection["children_share"] == pytest.approx(1000 / 1500)
    assert "Montréal" in str(summary)


def test_bad_funding_tables(tmp_path: Path) -> None:
    missing = tmp_path / "missing.csv"
    missing.write_text("region_code,children_0_5,resources,fte\n06,1,1,1\n", encoding="utf-8")
    with pytest.raises(CostingError, match="funding_cad"):
        load_funding_table(missing)
    negative = tmp_path / "negative.csv"
    negative.write_text("region_code,children_0_5,resources,fte,funding_cad\n06,1,1,1,-5\n", encoding="utf-8")
    with pytest.raises(CostingError, match=r"negative.csv: column 'funding_cad'"):
        load_funding_table(negative)
    twice = tmp_path / "twice.csv"
    twice.write_text("region_code,children_0_5,resources,fte,funding_cad\n06,1,1,1,1\n6,1,1,1,1\n", encoding="utf-8")
    with pytest.raises(CostingError, match="twice"):
        load_funding_table(twice)
