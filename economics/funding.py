"""Programme-funding tables: funding per resource, per FTE, per child aged 0–5, and coverage.

The shipped table is Avenir d'enfants' 2019 regional table of outreach resources (seed 002,
``economics/data/funding_2019.csv``, see ``economics/data/SOURCE.md``); a new programme's budget
table with the same columns goes through the same functions. Every figure is computed from the
table's rows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from proximite.economics.costing_base import CostingError

if TYPE_CHECKING:  # pragma: no cover - typing only
    from matplotlib.axes import Axes

__all__ = ["DEFAULT_FUNDING_PATH", "FUNDING_COLUMNS", "FundingSummary", "funding_summary", "load_funding_table"]

#: The shipped 2019 table.
DEFAULT_FUNDING_PATH: Path = Path(__file__).parent / "data" / "funding_2019.csv"
#: Required columns of a funding table (``region`` and ``deployment`` are optional labels).
FUNDING_COLUMNS: tuple[str, ...] = ("region_code", "children_0_5", "resources", "fte", "funding_cad")


def load_funding_table(path: str | Path | None = None) -> pd.DataFrame:
    """Read a funding table (CSV, ``#`` lines are comments); default the shipped 2019 table.

    Parameters
    ----------
    path : str or Path, optional

    Returns
    -------
    DataFrame
        ``region_code`` (string, two digits), ``region``, ``deployment`` (when present),
        ``children_0_5`` (int), ``resources`` (float), ``fte`` (float), ``funding_cad`` (float).

    Raises
    ------
    CostingError
        A missing file or column, a repeated region, a negative or non-numeric figure (the
        message names the file, the column and the rule).
    """
    source = Path(path) if path is not None else DEFAULT_FUNDING_PATH
    try:
        frame = pd.read_csv(source, comment="#", dtype={"region_code": str})
    except (OSError, pd.errors.ParserError) as error:
        raise CostingError(f"{source}: cannot read the funding table ({error.__class__.__name__})") from None
    missing = [column for column in FUNDING_COLUMNS if column not in frame.columns]
    if missing:
        raise CostingError(f"{source}: column(s) {', '.join(missing)} missing; a funding table has {', '.join(FUNDING_COLUMNS)}")
    frame["region_code"] = frame["region_code"].astype("string").str.strip().str.zfill(2)
    if frame["region_code"].duplicated().any():
        raise CostingError(f"{source}: column 'region_code': a region appears twice")
    for column in ("children_0_5", "resources", "fte", "funding_cad"):
        values = pd.to_numeric(frame[column], errors="coerce")
        if values.isna().any():
            raise CostingError(f"{source}: column '{column}': every value must be a number ({int(values.isna().sum())} are not)")
        if (values < 0).any():
            raise CostingError(f"{source}: column '{column}': values must be >= 0")
        frame[column] = values.astype("int64" if column == "children_0_5" else "float64")
    if "region" not in frame.columns:
        frame["region"] = frame["region_code"]
    return frame.reset_index(drop=True)


@dataclass
class FundingSummary:
    """What :func:`funding_summary` returns.

    Attributes
    ----------
    table : DataFrame
        One row per region then a ``total`` row (index ``region_code``): ``region``,
        ``children_0_5``, ``resources``, ``fte``, ``funding_cad``, ``funding_per_resource``,
        ``funding_per_fte``, ``funding_per_child``, ``children_share``, ``selected``.
    totals : dict
        Overall figures: children, resources, FTE, funding, the three ratios, ``regions``,
        ``regions_funded`` (regions with funding > 0), ``regions_with_resources``.
    selection : dict
        For the chosen regions: ``regions`` (codes), ``children_0_5``, ``children_share``,
        ``resources``, ``fte``, ``funding_cad``, ``funding_share``, ``funding_per_child``.
    """

    table: pd.DataFrame
    totals: dict[str, Any]
    selection: dict[str, Any] = field(default_factory=dict)

    @property
    def summary(self) -> pd.DataFrame:
        """The table (regions and total)."""
        return self.table

    def __str__(self) -> str:
        lines = [self.table.to_string(float_format=lambda value: f"{value:,.2f}")]
        if self.selection:
            lines.append(
                f"selected regions {', '.join(self.selection['regions'])}: "
                f"{self.selection['children_0_5']:,} children ({100 * self.selection['children_share']:.1f} %)"
            )
        return "\n".join(lines)

    def plot(self, ax: Axes | None = None) -> Axes:
        """Funding per child aged 0–5 by region (bars)."""
        import matplotlib.pyplot as plt

        rows = self.table.drop(index="total", errors="ignore")
        if ax is None:
            _, ax = plt.subplots(figsize=(7, 0.6 + 0.35 * len(rows)))
        positions = np.arange(len(rows))
        ax.barh(positions, rows["funding_per_child"].fillna(0).to_numpy())
        ax.set_yticks(positions, rows["region"].astype(str).tolist())
        ax.invert_yaxis()
        ax.set_xlabel("CAD per child aged 0-5")
        return ax


def _ratio(numerator: Any, denominator: Any) -> Any:
    numerator = np.asarray(numerator, dtype="float64")
    denominator = np.asarray(denominator, dtype="float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denominator > 0, numerator / np.where(denominator > 0, denominator, 1.0), np.nan)


def funding_summary(table: pd.DataFrame, *, regions: Sequence[str] | None = None) -> FundingSummary:
    """Totals and ratios of a funding table, per region and overall, and the chosen regions' share.

    Parameters
    ----------
    table : DataFrame
        A funding table (:func:`load_funding_table`), not modified.
    regions : sequence of str, optional, keyword-only
        Region codes (``"06"``) or names as in the table's ``region`` column; their share of the
        children (and of the funding) is reported in ``selection``.

    Returns
    -------
    FundingSummary

    Raises
    ------
    CostingError
        A missing column or an unknown region.

    Notes
    -----
    With :math:`F_r` the funding, :math:`R_r` the resources, :math:`E_r` the FTE and :math:`N_r`
    the children aged 0–5 of region :math:`r`, and :math:`F = \\sum_r F_r` (likewise :math:`R, E, N`):

    .. math:: \\frac{F_r}{R_r},\\ \\frac{F_r}{E_r},\\ \\frac{F_r}{N_r},\\ \\frac{N_r}{N};\\qquad
              \\frac{F}{R},\\ \\frac{F}{E},\\ \\frac{F}{N};\\qquad
              \\text{share}(S) = \\frac{\\sum_{r \\in S} N_r}{N}

    A ratio whose denominator is 0 is missing (a region without resources has no funding per
    resource). The overall funding per child spreads the funding over every child of the table,
    funded regions or not.
    """
    missing = [column for column in FUNDING_COLUMNS if column not in table.columns]
    if missing:
        raise CostingError(f"the funding table lacks the column(s) {', '.join(missing)}")
    frame = table.copy()
    frame["region_code"] = frame["region_code"].astype("string")
    if "region" not in frame.columns:
        frame["region"] = frame["region_code"]
    per_region = _per_region(frame)
    chosen = _chosen_regions(frame, regions) if regions is not None else []
    per_region["selected"] = per_region.index.isin(chosen)
    totals = _totals(per_region)
    result = pd.concat([per_region, _total_row(totals)])
    result.index.name = "region_code"
    selection = _selection(per_region, chosen, totals) if regions is not None else {}
    return FundingSummary(table=result, totals=totals, selection=selection)


def _per_region(frame: pd.DataFrame) -> pd.DataFrame:
    """Each region's figures and ratios (index ``region_code``)."""
    children = frame["children_0_5"].to_numpy(dtype="float64")
    funding = frame["funding_cad"].to_numpy(dtype="float64")
    total_children = float(children.sum())
    return pd.DataFrame(
        {
            "region": frame["region"].astype("string").to_numpy(),
            "children_0_5": frame["children_0_5"].to_numpy(dtype="int64"),
            "resources": frame["resources"].to_numpy(dtype="float64"),
            "fte": frame["fte"].to_numpy(dtype="float64"),
            "funding_cad": funding,
            "funding_per_resource": _ratio(funding, frame["resources"]),
            "funding_per_fte": _ratio(funding, frame["fte"]),
            "funding_per_child": _ratio(funding, children),
            "children_share": _ratio(children, np.full(len(frame), total_children)),
        },
        index=pd.Index(frame["region_code"].to_numpy(dtype=object), name="region_code"),
    )


def _chosen_regions(frame: pd.DataFrame, regions: Sequence[str]) -> list[str]:
    """The codes of ``regions`` (given by code, by name, or by code without its leading zero), once each."""
    chosen: list[str] = []
    by_name = {str(name): str(code) for code, name in zip(frame["region_code"], frame["region"])}
    codes = set(map(str, frame["region_code"]))
    for region in regions:
        key = str(region)
        if key in codes:
            chosen.append(key)
        elif key in by_name:
            chosen.append(by_name[key])
        elif key.zfill(2) in codes:
            chosen.append(key.zfill(2))
        else:
            raise CostingError(f"unknown region {key!r}; the table's regions are {', '.join(sorted(codes))}")
    return list(dict.fromkeys(chosen))


def _totals(per_region: pd.DataFrame) -> dict[str, Any]:
    """The overall figures and ratios of the table."""
    resources = float(per_region["resources"].sum())
    fte = float(per_region["fte"].sum())
    total_funding = float(per_region["funding_cad"].to_numpy(dtype="float64").sum())
    total_children = float(per_region["children_0_5"].to_numpy(dtype="float64").sum())
    return {
        "regions": len(per_region),
        "regions_funded": int((per_region["funding_cad"] > 0).sum()),
        "regions_with_resources": int((per_region["resources"] > 0).sum()),
        "children_0_5": int(per_region["children_0_5"].sum()),
        "resources": resources,
        "fte": fte,
        "funding_cad": total_funding,
        "funding_per_resource": float(_ratio(total_funding, resources)),
        "funding_per_fte": float(_ratio(total_funding, fte)),
        "funding_per_child": float(_ratio(total_funding, total_children)),
    }


def _total_row(totals: Mapping[str, Any]) -> pd.DataFrame:
    """The ``total`` row of the table."""
    return pd.DataFrame(
        {
            "region": ["total"],
            "children_0_5": [totals["children_0_5"]],
            "resources": [totals["resources"]],
            "fte": [totals["fte"]],
            "funding_cad": [totals["funding_cad"]],
            "funding_per_resource": [totals["funding_per_resource"]],
            "funding_per_fte": [totals["funding_per_fte"]],
            "funding_per_child": [totals["funding_per_child"]],
            "children_share": [1.0 if totals["children_0_5"] > 0 else np.nan],
            "selected": [False],
        },
        index=pd.Index(["total"], name="region_code"),
    )


def _selection(per_region: pd.DataFrame, chosen: list[str], totals: Mapping[str, Any]) -> dict[str, Any]:
    """The chosen regions' figures and shares."""
    picked = per_region[per_region["selected"]]
    selected_children = int(picked["children_0_5"].sum())
    selected_funding = float(picked["funding_cad"].sum())
    return {
        "regions": chosen,
        "children_0_5": selected_children,
        "children_share": float(_ratio(selected_children, float(totals["children_0_5"]))),
        "resources": float(picked["resources"].sum()),
        "fte": float(picked["fte"].sum()),
        "funding_cad": selected_funding,
        "funding_share": float(_ratio(selected_funding, totals["funding_cad"])),
        "funding_per_child": float(_ratio(selected_funding, selected_children)),
    }
