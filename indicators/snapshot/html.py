"""The snapshot page: one self-contained HTML file per language.

The page opens with the Québec headline (or the region's, or the territory's, for a narrower
scope), a table of contents, a box stating the data version and the disclosure rule, then one
section per scope (Québec, each region followed by its territories). Each section has its key
figures and five blocks: reach; the isolation trajectory across waves with CI error bars; needs
met and the top 3 service gaps; the referral network's structure and its change between
periods; PTP time by component. Every chart (inline SVG, :mod:`.charts`) has an HTML table of the
same numbers beside it.

Every word comes from the codebook: indicator and family labels (``indicators.yaml``), code
labels (``enumerations.yaml``), region and territory names from their tables, and every other
string from ``snapshot.yaml``. The CSS is inlined; the page loads nothing (no script, font, image
or stylesheet from anywhere), so it opens offline and prints with a page break per section.

:func:`render_page` builds the text and does no I/O beyond reading its packaged templates;
:class:`HtmlFormat` writes it.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from proximite.indicators.base import ALL, QUEBEC
from proximite.indicators.snapshot import charts
from proximite.indicators.snapshot.base import FormatContext, SnapshotFormat
from proximite.indicators.snapshot.charts import Point
from proximite.indicators.snapshot.formatting import (
    Formatter,
    format_datetime,
    format_number,
    format_percent,
    is_missing,
)

__all__ = [
    "Cell",
    "HtmlFormat",
    "HtmlTable",
    "PageBuilder",
    "by_period",
    "by_wave",
    "has_value",
    "overall",
    "page_records",
    "rankable",
    "render_page",
    "rounding_shift",
    "template_environment",
    "top_service_gaps",
]

Row = dict[str, Any]

#: Network measures drawn in the network chart (all lie in [0, 1]).
NETWORK_MEASURES = (
    "concertation.density",
    "concertation.reciprocity",
    "concertation.degree_centralisation",
    "concertation.blau_diversity",
)
#: Rows of the network table: the measures, tie stability, their changes and active partners.
NETWORK_TABLE = (
    "concertation.active_partners",
    *NETWORK_MEASURES,
    "concertation.tie_stability",
    "concertation.density_change",
    "concertation.reciprocity_change",
    "concertation.degree_centralisation_change",
    "concertation.blau_diversity_change",
)
REACH_TABLE = (
    "reach.families_reached",
    "reach.isolated_at_contact_share",
    "reach.children",
    "reach.children_unborn_share",
    "reach.children_0_5_share",
)
#: The evaluation's axes: family → the indicators of its table, by wave or by period.
AXES_TABLES: dict[str, tuple[str, ...]] = {
    "acceptability": ("acceptability.trust_agree_share", "acceptability.help_agree_share",
                      "acceptability.recommend_agree_share"),
    "relevance": ("relevance.non_recours_mean", "relevance.non_recours_change", "relevance.resources_used_mean",
                  "relevance.resources_used_change", "relevance.no_resource_share"),
    "systemic": ("systemic.cross_network_referral_share", "systemic.partner_networks"),
}
ISOLATION_TABLE = (
    "isolation.share_isolated",
    "isolation.change_from_baseline",
    "isolation.meaningful_reduction",
    "isolation.leaving_isolation",
    "isolation.adjusted_effect",
)
#: The effectiveness block: each score's mean by wave (chart and table) and its paired indicators.
EFFECTIVENESS_SCORES = ("empowerment", "parental_stress")
EFFECTIVENESS_TABLE = ("change", "meaningful_change", "adjusted_effect_ipw")
IMPLEMENTATION_OTHER = (
    "implementation.travel_share",
    "implementation.supervision_hours_per_month",
    "implementation.worker_turnover",
)
#: Breakdown of PTP hours drawn by component.
COMPONENT = "component"
NEED_CATEGORY = "need_category"


# ---------------------------------------------------------------------------- page model
@dataclass
class Cell:
    """One cell of an HTML table: its text, and whether it is a header, a number, suppressed."""

    text: str
    header: bool = False
    numeric: bool = False
    suppressed: bool = False
    #: Extra CSS class of a data cell (e.g. a follow-up's status).
    css: str = ""


@dataclass
class HtmlTable:
    """A table of the page: caption, column headers and rows of :class:`Cell`."""

    caption: str
    columns: list[str]
    rows: list[list[Cell]]


@dataclass
class Block:
    key: str
    heading: str
    chart: str = ""
    tables: list[HtmlTable] = field(default_factory=list)
    note: str = ""


@dataclass
class Section:
    anchor: str
    heading: str
    subheading: str
    key_figures: HtmlTable
    blocks: list[Block]
    strata: HtmlTable | None = None
    children: list[Section] = field(default_factory=list)


class _ScopeRows:
    """The rows of one scope cell, indexed by indicator, for the section builders."""

    def __init__(self, rows: Iterable[Row]) -> None:
        self.by_indicator: dict[str, list[Row]] = defaultdict(list)
        for row in rows:
            self.by_indicator[row["indicator"]].append(row)

    def __bool__(self) -> bool:
        return bool(self.by_indicator)

    def rows(
        self,
        indicator: str,
        *,
        stratum: str = ALL,
        stratum_value: str = ALL,
        breakdown: str = ALL,
        breakdown_value: str | None = ALL,
    ) -> list[Row]:
        return [
            row
            for row in self.by_indicator.get(indicator, ())
            if row["stratum"] == stratum
            and row["stratum_value"] == stratum_value
            and row["breakdown"] == breakdown
            and (breakdown_value is None or row["breakdown_value"] == breakdown_value)
        ]


def has_value(row: Row | None) -> bool:
    return row is not None and not row.get("suppressed", False) and not is_missing(row.get("value"))


def _wave_key(row: Row) -> tuple[int, int]:
    wave = row.get("wave")
    return (1, 0) if is_missing(wave) else (0, int(wave))


def _period_key(row: Row) -> tuple[int, Any, str]:
    start = row.get("period_start")
    if row.get("period") == ALL:
        return (2, pd.Timestamp.max, ALL)
    return (0 if not is_missing(start) else 1, start if not is_missing(start) else pd.Timestamp.max, str(row.get("period")))


#: The kinds of registry period (:func:`proximite.indicators.base.registry_periods`), by label.
_PERIOD_KINDS = (("wave", re.compile(r"T\d+")), ("quarter", re.compile(r"\d{4}-T[1-4]")), ("year", re.compile(r"\d{4}")))


def period_kind(period: str) -> str | None:
    """``wave`` (a wave's calendar window, ``T6``), ``quarter`` (``2024-T1``), ``year`` (``2024``) or None."""
    return next((kind for kind, pattern in _PERIOD_KINDS if pattern.fullmatch(period)), None)


def overall(rows: Sequence[Row]) -> Row | None:
    """The whole-follow-up row of an indicator (period ``all``, no wave), else its latest row."""
    for row in rows:
        if row.get("period") == ALL and is_missing(row.get("wave")):
            return row
    if not rows:
        return None
    return max(rows, key=lambda row: (_period_key(row)[:2], _wave_key(row)))


#: Largest move of a published rate that rounding may cause and still let it be ranked or coloured.
MAX_ROUNDING_SHIFT = 0.05


def rounding_shift(row: Row, *, rounding_base: int) -> float:
    """The most that rounding the counts may have moved a published share (0 when nothing is rounded).

    Notes
    -----
    A share is computed from counts rounded to the nearest ``b`` (``rounding_base``), so its
    numerator moved by at most :math:`b/2`; over a denominator :math:`d` the share moves by at
    most :math:`b / (2d)` (60 % of 10 families can read 50 % or 70 %). A share without a known
    denominator is taken as moved by the most a share can move (1).
    """
    if rounding_base <= 1 or str(row.get("unit")) != "share":
        return 0.0
    denominator = row.get("denominator")
    if is_missing(denominator) or float(denominator) <= 0:
        denominator = row.get("n")
    if is_missing(denominator) or float(denominator) <= 0:
        return 1.0
    return min(1.0, rounding_base / (2.0 * float(denominator)))


def rankable(row: Row | None, *, rounding_base: int) -> bool:
    """Whether a cell may be ranked or coloured: published, with a value, and not moved by rounding
    by more than :data:`MAX_ROUNDING_SHIFT` (a small rounded cell is shown but never ranked)."""
    return has_value(row) and rounding_shift(row, rounding_base=rounding_base) <= MAX_ROUNDING_SHIFT  # type: ignore[arg-type]


def top_service_gaps(rows: Sequence[Row], *, rounding_base: int, count: int = 3) -> list[Row]:
    """The ``count`` highest service-gap shares among the published, non-zero, rankable cells.

    A zero share is no gap, and a suppressed or small rounded share has no rank to publish: an
    empty list means no gap can be published (the page then says so).
    """
    eligible = [row for row in rows if rankable(row, rounding_base=rounding_base) and float(row["value"]) > 0]
    return sorted(eligible, key=lambda row: (-float(row["value"]), str(row["breakdown_value"])))[:count]


def by_wave(rows: Sequence[Row]) -> dict[int, Row]:
    """Rows of a wave-timed indicator keyed by wave (rows without a wave left out)."""
    return {int(row["wave"]): row for row in rows if not is_missing(row.get("wave"))}


def by_period(rows: Sequence[Row]) -> dict[str, Row]:
    return {str(row["period"]): row for row in rows}


# ---------------------------------------------------------------------------- builder
class PageBuilder:
    """Builds the page model of one language from a disclosed, scope-selected table.

    The follow-ups and economics pages build on one (given no records) for its codebook
    wording, number formatting and scope names.

    Parameters
    ----------
    records : sequence of dict
        The page's rows (:func:`page_records`).
    context : FormatContext, keyword-only
    lang : str, keyword-only
        ``fr`` or ``en``.
    """

    def __init__(self, records: Sequence[Row], *, context: FormatContext, lang: str) -> None:
        self.context = context
        self.snapshot = context.snapshot
        self.lang = lang
        self.cb = context.codebook
        self.fmt = Formatter(
            lang,
            suppressed_symbol=self.text("suppressed_symbol"),
            missing_symbol=self.text("missing_symbol"),
        )
        confidence = float(self.snapshot.parameters.get("confidence", 0.95))
        self.confidence = format_percent(confidence, decimals=0 if (100 * confidence).is_integer() else 1, lang=lang)
        self.ci_header = self.text("col_ci", level=self.confidence)
        self.regions = self._region_names(context.region)
        self.territories = {
            str(row["territory_id"]): row for row in context.territory.astype(object).to_dict("records")
        }
        buckets: dict[tuple[str, str], list[Row]] = defaultdict(list)
        for row in records:
            buckets[(row["scope"], row["scope_id"])].append(row)
        self.scopes = {key: _ScopeRows(rows) for key, rows in buckets.items()}
        self.periods = self._periods(records)
        self.waves = sorted({int(row["wave"]) for row in records if not is_missing(row.get("wave"))})
        # Internal snapshots are suppressed only: nothing is rounded there.
        self.rounding_base = int(self.snapshot.rounding_base) if self.snapshot.level == "public" else 1

    # -------------------------------------------------------------- text helpers
    def text(self, key: str, **values: Any) -> str:
        return self.cb.snapshot_text(key, lang=self.lang, **values)

    def label(self, indicator: str) -> str:
        return self.cb.indicator_label(indicator, lang=self.lang)

    def code_label(self, enumeration: str, code: str) -> str:
        if enumeration in self.cb.enumerations and code in self.cb.enumerations[enumeration]:
            return self.cb.label(enumeration, code, lang=self.lang)
        return code

    def wave_label(self, wave: int) -> str:
        return self.text("wave_label", wave=wave)

    def period_label(self, period: str) -> str:
        return self.text("period_all") if period == ALL else period

    def period_axis(self, periods: Sequence[str]) -> str:
        """The title of an axis whose ticks are these registry periods, saying what they are.

        Registry periods labelled ``T0``, ``T6``… are the waves' calendar windows, not the waves:
        the title says so, where a chart by wave says "wave". Quarters and years are named as such;
        a mix, or the whole follow-up alone, is "period".
        """
        kinds = {period_kind(period) for period in periods if period != ALL}
        kind = kinds.pop() if len(kinds) == 1 else None
        return self.text(f"period_axis_{kind}") if kind else self.text("period_axis")

    def _region_names(self, region: pd.DataFrame) -> dict[str, str]:
        column = "name_en" if self.lang == "en" else "name_fr"
        names = {}
        source = region if len(region) and column in region.columns else self.cb.regions
        for row in source.astype(object).to_dict("records"):
            names[str(row["region_code"])] = str(row[column])
        return names

    def _periods(self, records: Sequence[Row]) -> list[tuple[str, Any, Any]]:
        """Registry periods in time order (``all`` last): ``(label, start, end)``."""
        seen: dict[str, Row] = {}
        for row in records:
            if is_missing(row.get("wave")) or row.get("period") != ALL:
                period = str(row.get("period"))
                if period not in seen or (is_missing(seen[period].get("period_start")) and not is_missing(row.get("period_start"))):
                    seen[period] = row
        ordered = sorted(seen.values(), key=_period_key)
        return [(str(row["period"]), row.get("period_start"), row.get("period_end")) for row in ordered]

    def scope_name(self, scope: str, scope_id: str) -> str:
        if scope == "quebec":
            return self.text("scope_quebec")
        if scope == "region":
            return self.text("scope_region", code=scope_id, name=self.regions.get(scope_id, scope_id))
        info = self.territories.get(scope_id)
        return self.text("scope_territory", name=str(info["name"]) if info else scope_id)

    # -------------------------------------------------------------- cells
    def value_cell(self, row: Row | None) -> Cell:
        return Cell(self.fmt.value(row), numeric=True, suppressed=bool(row and row.get("suppressed")))

    def ci_cell(self, row: Row | None) -> Cell:
        return Cell(self.fmt.ci(row, self.text("ci_range", low="{low}", high="{high}")), numeric=True,
                    suppressed=bool(row and row.get("suppressed")))

    def n_cell(self, row: Row | None) -> Cell:
        return Cell(self.fmt.n(row), numeric=True, suppressed=bool(row and row.get("suppressed")))

    def point(self, label: str, row: Row | None) -> Point:
        if row is None:
            return Point(label)
        if row.get("suppressed"):
            return Point(label, suppressed=True)
        value = None if is_missing(row.get("value")) else float(row["value"])
        low = None if is_missing(row.get("ci_low")) else float(row["ci_low"])
        high = None if is_missing(row.get("ci_high")) else float(row["ci_high"])
        return Point(label, value, low, high)

    # -------------------------------------------------------------- sections
    def build(self) -> list[Section]:
        scope = self.snapshot.scope_obj
        region_ids = sorted({sid for kind, sid in self.scopes if kind == "region"})
        territory_ids = sorted({sid for kind, sid in self.scopes if kind == "territory"})
        by_region: dict[str, list[str]] = defaultdict(list)
        for territory_id in territory_ids:
            info = self.territories.get(territory_id)
            by_region[str(info["region_code"]) if info else ""].append(territory_id)
        sections: list[Section] = []
        if scope.kind == "territory":
            return [self.section("territory", territory_id) for territory_id in territory_ids]
        if scope.kind == "quebec" and ("quebec", QUEBEC) in self.scopes:
            sections.append(self.section("quebec", QUEBEC))
        for region_id in sorted(set(region_ids) | {code for code in by_region if code}):
            region = self.section("region", region_id)
            region.children = [self.section("territory", territory_id) for territory_id in by_region.get(region_id, [])]
            sections.append(region)
        orphans = by_region.get("", [])
        sections.extend(self.section("territory", territory_id) for territory_id in orphans)
        return sections

    def section(self, scope: str, scope_id: str) -> Section:
        rows = self.scopes.get((scope, scope_id), _ScopeRows(()))
        anchor = "quebec" if scope == "quebec" else f"{scope}-{scope_id}"
        name = self.scope_name(scope, scope_id)
        heading = self.text("scope_quebec_heading") if scope == "quebec" else name
        subheading = ""
        if scope == "territory":
            info = self.territories.get(scope_id)
            if info:
                region_code = str(info["region_code"])
                subheading = " · ".join(
                    [
                        self.text("territory_in_region", region=f"{region_code} – {self.regions.get(region_code, region_code)}"),
                        self.text(
                            "territory_attributes",
                            environment=self.code_label("environment", str(info["environment"])),
                            host_type=self.code_label("host_type", str(info["host_type"])),
                        ),
                    ]
                )
        blocks = [
            self.reach_block(rows, anchor),
            self.isolation_block(rows, anchor),
            self.effectiveness_block(rows, anchor),
            self.needs_block(rows, anchor),
            self.network_block(rows, anchor),
            self.ptp_block(rows, anchor),
            *(self.axis_block(rows, family) for family in AXES_TABLES),
        ]
        strata = self.strata_table(rows, name) if scope != "territory" else None
        return Section(anchor, heading, subheading, self.key_figures(rows, name), blocks, strata)

    # -------------------------------------------------------------- key figures
    def key_figures(self, rows: _ScopeRows, name: str) -> HtmlTable:
        table_rows: list[list[Cell]] = []

        def add(indicator: str, row: Row | None, when: str) -> None:
            if row is None:
                return
            table_rows.append(
                [Cell(self.label(indicator), header=True), self.value_cell(row), self.ci_cell(row), Cell(when)]
            )

        for indicator in ("reach.families_reached", "reach.isolated_at_contact_share", "reach.children"):
            row = overall(rows.rows(indicator))
            add(indicator, row, self.when(row))
        waves = by_wave(rows.rows("isolation.mean_index"))
        if waves:
            first = min(waves)
            add("isolation.mean_index", waves[first], self.wave_label(first))
            shown = [wave for wave in sorted(waves) if wave != first and has_value(waves[wave])]
            if shown:
                add("isolation.mean_index", waves[shown[-1]], self.wave_label(shown[-1]))
        for indicator in ("isolation.leaving_isolation", "isolation.change_from_baseline"):
            later = {wave: row for wave, row in by_wave(rows.rows(indicator)).items() if has_value(row)}
            if later:
                add(indicator, later[max(later)], self.wave_label(max(later)))
        for indicator in (
            "needs_offer.match_rate",
            "needs_offer.time_to_met",
            "needs_offer.referral_completion",
            "concertation.active_partners",
            "implementation.ptp_hours",
        ):
            row = overall(rows.rows(indicator))
            add(indicator, row, self.when(row))
        columns = [self.text("col_indicator"), self.text("col_value"), self.ci_header, self.text("col_period")]
        return HtmlTable(self.text("key_figures_caption", scope=name), columns, table_rows)

    def when(self, row: Row | None) -> str:
        if row is None:
            return ""
        if not is_missing(row.get("wave")):
            return self.wave_label(int(row["wave"]))
        return self.period_label(str(row.get("period", ALL)))

    # -------------------------------------------------------------- blocks
    def reach_block(self, rows: _ScopeRows, anchor: str) -> Block:
        block = Block("reach", self.cb.indicator_family_label("reach", lang=self.lang))
        columns = {indicator: by_period(rows.rows(indicator)) for indicator in REACH_TABLE}
        periods = [period for period, _s, _e in self.periods if any(period in c for c in columns.values())]
        if not periods:
            block.note = self.text("no_data")
            return block
        reached = columns["reach.families_reached"]
        drawn = [period for period in periods if period != ALL] or periods
        points = [self.point(self.period_label(period), reached.get(period)) for period in drawn]
        if charts.any_drawable(points):
            block.chart = charts.bar_chart(
                points,
                chart_id=f"{anchor}-reach",
                title=self.text("chart_label", caption=self.text("reach_chart")),
                unit="count",
                fmt=self.fmt,
                x_title=self.period_axis(drawn),
                y_title=self.text("axis_families"),
                error_bars=False,
            )
        present = [indicator for indicator in REACH_TABLE if columns[indicator]]
        table_rows = [
            [Cell(self.period_label(period), header=True)] + [self.value_cell(columns[i].get(period)) for i in present]
            for period in periods
        ]
        block.tables.append(
            HtmlTable(self.text("reach_caption"), [self.text("col_period")] + [self.label(i) for i in present], table_rows)
        )
        return block

    def isolation_block(self, rows: _ScopeRows, anchor: str) -> Block:
        block = Block("isolation", self.text("isolation_heading"))
        mean = by_wave(rows.rows("isolation.mean_index"))
        others = {indicator: by_wave(rows.rows(indicator)) for indicator in ISOLATION_TABLE}
        waves = sorted(set(mean) | {wave for column in others.values() for wave in column})
        if not waves:
            block.note = self.text("no_data")
            return block
        points = [self.point(self.wave_label(wave), mean.get(wave)) for wave in waves]
        if charts.any_drawable(points):
            block.chart = charts.line_chart(
                [(self.label("isolation.mean_index"), points)],
                chart_id=f"{anchor}-isolation",
                title=self.text("chart_label", caption=self.text("isolation_chart")),
                unit="mean",
                fmt=self.fmt,
                y_range=(0.0, 100.0),
                x_title=self.text("wave_axis"),
                y_title=self.text("axis_index"),
            )
        present = [indicator for indicator in ISOLATION_TABLE if others[indicator]]
        columns = [self.text("col_wave"), self.label("isolation.mean_index"), self.ci_header, self.text("col_n")]
        columns += [self.label(indicator) for indicator in present]
        table_rows = []
        for wave in waves:
            row = mean.get(wave)
            cells = [Cell(self.wave_label(wave), header=True), self.value_cell(row), self.ci_cell(row), self.n_cell(row)]
            cells += [self.value_cell(others[indicator].get(wave)) for indicator in present]
            table_rows.append(cells)
        block.tables.append(HtmlTable(self.text("isolation_caption"), columns, table_rows))
        return block

    def effectiveness_block(self, rows: _ScopeRows, anchor: str) -> Block:
        """Empowerment and parental stress: means by wave (chart), change, meaningful change, weighted effect."""
        block = Block("effectiveness", self.text("effectiveness_heading"))
        shown = [
            (f"effectiveness.{score}_mean", [f"effectiveness.{score}_{kind}" for kind in EFFECTIVENESS_TABLE])
            for score in EFFECTIVENESS_SCORES
        ]
        series = {indicator: by_wave(rows.rows(indicator)) for mean, others in shown for indicator in (mean, *others)}
        waves = sorted({wave for column in series.values() for wave in column})
        if not waves:
            block.note = self.text("no_data")
            return block
        lines = [(self.label(mean), [self.point(self.wave_label(w), series[mean].get(w)) for w in waves])
                 for mean, _ in shown]
        if any(charts.any_drawable(points) for _, points in lines):
            block.chart = charts.line_chart(
                lines, chart_id=f"{anchor}-effectiveness",
                title=self.text("chart_label", caption=self.text("effectiveness_chart")),
                unit="mean", fmt=self.fmt, y_range=(1.0, 5.0), x_title=self.text("wave_axis"),
                y_title=self.text("axis_score"),
            )
        for mean, others in shown:
            present = [indicator for indicator in others if series[indicator]]
            columns = [self.text("col_wave"), self.label(mean), self.ci_header, self.text("col_n")]
            columns += [self.label(indicator) for indicator in present]
            table_rows = []
            for wave in waves:
                row = series[mean].get(wave)
                cells = [Cell(self.wave_label(wave), header=True), self.value_cell(row), self.ci_cell(row),
                         self.n_cell(row)]
                table_rows.append(cells + [self.value_cell(series[indicator].get(wave)) for indicator in present])
            block.tables.append(HtmlTable(self.text("effectiveness_caption", score=self.label(mean)), columns,
                                          table_rows))
        return block

    def needs_block(self, rows: _ScopeRows, anchor: str) -> Block:
        block = Block("needs", self.cb.indicator_family_label("needs_offer", lang=self.lang))
        met = by_wave(rows.rows("needs_offer.match_rate"))
        charts_svg = []
        if met:
            waves = sorted(met)
            points = [self.point(self.wave_label(wave), met[wave]) for wave in waves]
            if charts.any_drawable(points):
                charts_svg.append(
                    charts.bar_chart(
                        points,
                        chart_id=f"{anchor}-needs",
                        title=self.text("chart_label", caption=self.text("needs_chart")),
                        unit="share",
                        fmt=self.fmt,
                        x_title=self.text("wave_axis"),
                        y_title=self.text("axis_needs_met"),
                        y_max=1.0,
                    )
                )
            block.tables.append(
                HtmlTable(
                    self.text("needs_caption"),
                    [self.text("col_wave"), self.label("needs_offer.match_rate"), self.ci_header, self.text("col_n")],
                    [
                        [Cell(self.wave_label(wave), header=True), self.value_cell(met[wave]), self.ci_cell(met[wave]),
                         self.n_cell(met[wave])]
                        for wave in waves
                    ],
                )
            )
        gaps = [
            row
            for row in rows.rows("needs_offer.service_gaps", breakdown=NEED_CATEGORY, breakdown_value=None)
            if row.get("period") == ALL or is_missing(row.get("wave"))
        ]
        top = top_service_gaps(gaps, rounding_base=self.rounding_base)
        if top:
            labels = [self.code_label(NEED_CATEGORY, str(row["breakdown_value"])) for row in top]
            charts_svg.append(
                charts.hbar_chart(
                    [self.point(label, row) for label, row in zip(labels, top)],
                    chart_id=f"{anchor}-gaps",
                    title=self.text("chart_label", caption=self.text("gaps_chart")),
                    unit="share",
                    fmt=self.fmt,
                )
            )
            block.tables.append(
                HtmlTable(
                    self.text("gaps_caption"),
                    [self.text("col_rank"), self.text("col_category"), self.label("needs_offer.service_gaps"), self.ci_header,
                     self.text("col_n")],
                    [
                        [Cell(format_number(rank, lang=self.lang), header=True), Cell(label), self.value_cell(row),
                         self.ci_cell(row), self.n_cell(row)]
                        for rank, (label, row) in enumerate(zip(labels, top), start=1)
                    ],
                )
            )
        elif gaps or met:
            block.note = self.text("no_gaps")
        if not met and not gaps:
            block.note = self.text("no_data")
        block.chart = "".join(charts_svg)
        return block

    def network_block(self, rows: _ScopeRows, anchor: str) -> Block:
        block = Block("network", self.text("network_heading"))
        columns = {indicator: by_period(rows.rows(indicator)) for indicator in NETWORK_TABLE}
        periods = [period for period, _s, _e in self.periods if any(period in c for c in columns.values())]
        if not periods:
            block.note = self.text("no_data")
            return block
        drawn = [period for period in periods if period != ALL] or periods
        series = [
            (self.label(indicator), [self.point(self.period_label(period), columns[indicator].get(period)) for period in drawn])
            for indicator in NETWORK_MEASURES
            if columns[indicator]
        ]
        if any(charts.any_drawable(points) for _name, points in series):
            block.chart = charts.line_chart(
                series,
                chart_id=f"{anchor}-network",
                title=self.text("chart_label", caption=self.text("network_chart")),
                unit="ratio",
                fmt=self.fmt,
                x_title=self.period_axis(drawn),
                y_title=self.text("axis_measure"),
                y_range=(0.0, 1.0),
                error_bars=False,
            )
        present = [indicator for indicator in NETWORK_TABLE if columns[indicator]]
        block.tables.append(
            HtmlTable(
                self.text("network_caption"),
                [self.text("col_measure")] + [self.period_label(period) for period in periods],
                [
                    [Cell(self.label(indicator), header=True)] + [self.value_cell(columns[indicator].get(p)) for p in periods]
                    for indicator in present
                ],
            )
        )
        return block

    def axis_block(self, rows: _ScopeRows, family: str) -> Block:
        """One of the evaluation's axes: a table of its indicators by wave (cohort) or by period (registry)."""
        block = Block(family, self.cb.indicator_family_label(family, lang=self.lang))
        indicators = AXES_TABLES[family]
        by_wave_rows = family != "systemic"
        columns = {
            indicator: (by_wave if by_wave_rows else by_period)(rows.rows(indicator)) for indicator in indicators
        }
        if by_wave_rows:
            keys = sorted({wave for column in columns.values() for wave in column})
            labels = [self.wave_label(wave) for wave in keys]
        else:
            keys = [period for period, _s, _e in self.periods if any(period in c for c in columns.values())]
            labels = [self.period_label(period) for period in keys]
        present = [indicator for indicator in indicators if columns[indicator]]
        if not keys or not present:
            block.note = self.text("no_data")
            return block
        block.tables.append(
            HtmlTable(
                self.text(f"{family}_caption"),
                [self.text("col_measure"), *labels],
                [
                    [Cell(self.label(indicator), header=True)] + [self.value_cell(columns[indicator].get(k)) for k in keys]
                    for indicator in present
                ],
            )
        )
        return block

    def ptp_block(self, rows: _ScopeRows, anchor: str) -> Block:
        block = Block("ptp", self.text("ptp_heading"))
        by_component = rows.rows("implementation.ptp_hours", breakdown=COMPONENT, breakdown_value=None)
        totals = by_period(rows.rows("implementation.ptp_hours"))
        others = {indicator: by_period(rows.rows(indicator)) for indicator in IMPLEMENTATION_OTHER}
        cells: dict[str, dict[str, Row]] = defaultdict(dict)
        for row in by_component:
            cells[str(row["breakdown_value"])][str(row["period"])] = row
        known = self.cb.codes(COMPONENT) if COMPONENT in self.cb.enumerations else []
        components = [code for code in known if code in cells] + sorted(set(cells) - set(known))
        periods = [
            period
            for period, _s, _e in self.periods
            if period in totals or any(period in c for c in cells.values()) or any(period in c for c in others.values())
        ]
        if not periods:
            block.note = self.text("no_data")
            return block
        drawn = [period for period in periods if period != ALL] or periods
        if components:
            stacks = [
                (self.code_label(COMPONENT, component), [self.point(period, cells[component].get(period)) for period in drawn])
                for component in components
            ]
            if any(charts.any_drawable(points) for _name, points in stacks):
                block.chart = charts.stacked_bar_chart(
                    [self.period_label(period) for period in drawn],
                    stacks,
                    chart_id=f"{anchor}-ptp",
                    title=self.text("chart_label", caption=self.text("ptp_chart")),
                    unit="hours",
                    fmt=self.fmt,
                    x_title=self.period_axis(drawn),
                    y_title=self.text("axis_hours"),
                )
            table_rows = [
                [Cell(self.code_label(COMPONENT, component), header=True)]
                + [self.value_cell(cells[component].get(period)) for period in periods]
                for component in components
            ]
            if totals:
                table_rows.append([Cell(self.text("col_total"), header=True)] + [self.value_cell(totals.get(p)) for p in periods])
            block.tables.append(
                HtmlTable(self.text("ptp_caption"), [self.text("col_component")] + [self.period_label(p) for p in periods], table_rows)
            )
        present = [indicator for indicator in IMPLEMENTATION_OTHER if others[indicator]]
        if present:
            block.tables.append(
                HtmlTable(
                    self.text("ptp_other_caption"),
                    [self.text("col_indicator")] + [self.period_label(p) for p in periods],
                    [
                        [Cell(self.label(indicator), header=True)] + [self.value_cell(others[indicator].get(p)) for p in periods]
                        for indicator in present
                    ],
                )
            )
        return block

    def stratum_name(self, stratum: str) -> str:
        key = f"stratum_{stratum}"
        return self.text(key) if key in self.cb.snapshot_strings else stratum

    def strata_table(self, rows: _ScopeRows, name: str) -> HtmlTable | None:
        strata = [str(s) for s in self.snapshot.parameters.get("strata", ("environment", "host_type"))]
        columns_spec: list[tuple[str, str | None]] = [
            ("reach.families_reached", None),
            ("reach.isolated_at_contact_share", None),
            ("isolation.mean_index", "first"),
            ("isolation.mean_index", "last"),
            ("needs_offer.match_rate", None),
        ]
        table_rows = []
        # French typography puts a non-breaking space before a colon.
        colon = "\u00a0: " if self.lang == "fr" else ": "
        for stratum in strata:
            values = sorted(
                {row["stratum_value"] for rows_ in rows.by_indicator.values() for row in rows_ if row["stratum"] == stratum}
            )
            known = self.cb.codes(stratum) if stratum in self.cb.enumerations else []
            values = [code for code in known if code in values] + [code for code in values if code not in known]
            for value in values:
                cells = [Cell(f"{self.stratum_name(stratum)}{colon}{self.code_label(stratum, value)}", header=True)]
                for indicator, which in columns_spec:
                    found = rows.rows(indicator, stratum=stratum, stratum_value=value)
                    if which is None:
                        cells.append(self.value_cell(overall(found)))
                        continue
                    waves = by_wave(found)
                    wave = (min(waves) if which == "first" else max(waves)) if waves else None
                    cells.append(self.value_cell(waves.get(wave) if wave is not None else None))
                table_rows.append(cells)
        if not table_rows:
            return None
        first_wave, last_wave = (self.waves[0], self.waves[-1]) if self.waves else (0, 0)
        headers = [
            self.text("col_stratum"),
            self.label("reach.families_reached"),
            self.label("reach.isolated_at_contact_share"),
            f"{self.label('isolation.mean_index')} ({self.wave_label(first_wave)})",
            f"{self.label('isolation.mean_index')} ({self.wave_label(last_wave)})",
            self.label("needs_offer.match_rate"),
        ]
        return HtmlTable(self.text("strata_caption"), headers, table_rows)

    # -------------------------------------------------------------- page
    def page(self, statement: str) -> dict[str, Any]:
        snapshot = self.snapshot
        scope = snapshot.scope_obj
        scope_name = self.scope_name(scope.kind, scope.id)
        generated = format_datetime(snapshot.generated_at)
        other = [lang for lang in snapshot.languages if lang != self.lang]
        level_name = self.text(f"level_{snapshot.level}")
        return {
            "lang": self.lang,
            "title": self.text("page_title"),
            "subtitle": self.text("page_subtitle", scope=scope_name),
            "generated": self.text("generated_on", date=generated),
            "other_languages": [
                {"lang": lang, "href": snapshot.page_name(lang), "label": self.cb.snapshot_text("other_language", lang=self.lang)}
                for lang in other
            ],
            "about_heading": self.text("about_heading"),
            "data_version": self.text(
                "data_version",
                build_id=snapshot.build_id or self.text("missing_symbol"),
                code_version=snapshot.code_version or self.text("missing_symbol"),
                generated_at=generated,
            ),
            "level": self.text("level_sentence", level=level_name),
            "disclosure": statement,
            "confidence_note": self.text("confidence_note", level=self.confidence),
            "legend": [
                self.text("suppressed_legend", symbol=self.fmt.suppressed_symbol, threshold=snapshot.threshold),
                self.text("missing_legend", symbol=self.fmt.missing_symbol),
            ],
            "periods_note": self.text("periods_note"),
            "files_note": self.text("files_note"),
            "toc_heading": self.text("toc_heading"),
            "back": self.text("back_to_contents"),
            "key_figures": self.text("key_figures"),
            "strata_heading": self.text("strata_heading"),
            "footer": self.text("footer"),
            "links": self.links(),
            "economics_note": self.economics_note(),
            "sections": self.build(),
        }

    def links(self) -> list[dict[str, str]]:
        """Links to the snapshot's other pages in this language: the economics page when the
        snapshot has an economics run, the follow-ups on an internal snapshot only."""
        links = []
        if self.context.economics is not None:
            from proximite.indicators.snapshot.economics import economics_page_name

            links.append({"href": economics_page_name(self.snapshot, self.lang), "label": self.text("economics_link")})
        if self.context.followups is not None and self.snapshot.level == "internal":
            from proximite.indicators.snapshot.followups import followups_page_name

            links.append({"href": followups_page_name(self.snapshot, self.lang), "label": self.text("followups_link")})
        return links

    def economics_note(self) -> str:
        """Without an economics run: how to produce one, or, on a region or territory snapshot, that
        the analysis is Québec's and where it is (else empty)."""
        if self.context.economics is not None:
            return ""
        scope = self.snapshot.scope_obj
        if scope.kind != "quebec":  # the economic evaluation is run for Québec only: say so, name whose it is
            return self.text("economics_quebec_only", scope=self.scope_name(scope.kind, scope.id))
        return self.text("economics_missing", build_id=self.snapshot.build_id or self.text("missing_symbol"))


#: Indicators the page shows (the CSV and JSON hold every row).
PAGE_INDICATORS = frozenset(
    {
        *REACH_TABLE,
        "isolation.mean_index",
        *ISOLATION_TABLE,
        *(f"effectiveness.{score}_{kind}" for score in EFFECTIVENESS_SCORES for kind in ("mean", *EFFECTIVENESS_TABLE)),
        "needs_offer.match_rate",
        "needs_offer.service_gaps",
        "needs_offer.time_to_met",
        "needs_offer.referral_completion",
        *NETWORK_TABLE,
        "implementation.ptp_hours",
        *IMPLEMENTATION_OTHER,
        *(indicator for table in AXES_TABLES.values() for indicator in table),
    }
)
PAGE_BREAKDOWNS = frozenset({ALL, COMPONENT, NEED_CATEGORY})
_LABELS = ("scope", "scope_id", "stratum", "stratum_value", "period", "breakdown", "breakdown_value", "indicator", "unit")
_NUMBERS = ("numerator", "denominator", "value", "ci_low", "ci_high")


def page_records(table: pd.DataFrame) -> list[Row]:
    """The rows the page shows, as plain dicts (labels as str, missing numbers as None).

    Built column by column: ``DataFrame.to_dict("records")`` boxes every cell and takes seconds
    on a province table.
    """
    keep = table["indicator"].isin(PAGE_INDICATORS) & table["breakdown"].fillna(ALL).isin(PAGE_BREAKDOWNS)
    frame = table.loc[keep.to_numpy(dtype=bool)]
    columns: dict[str, list[Any]] = {}
    for column in _LABELS:
        default = "count" if column == "unit" else ALL
        columns[column] = frame[column].astype(object).where(frame[column].notna(), default).astype(str).tolist()
    for column in _NUMBERS:
        values = frame[column].to_numpy(dtype="float64", na_value=np.nan)
        columns[column] = [None if math.isnan(value) else value for value in values.tolist()]
    for column in ("wave", "n"):
        values = frame[column].astype("Float64").to_numpy(dtype="float64", na_value=np.nan)
        columns[column] = [None if math.isnan(value) else int(value) for value in values.tolist()]
    for column in ("period_start", "period_end"):
        dates = pd.to_datetime(frame[column])
        columns[column] = [None if pd.isna(value) else value for value in dates.tolist()]
    suppressed = frame["suppressed"].fillna(False).astype(bool) if "suppressed" in frame.columns else pd.Series(False, index=frame.index)
    columns["suppressed"] = suppressed.tolist()
    names = list(columns)
    return [dict(zip(names, values)) for values in zip(*columns.values())]


# ---------------------------------------------------------------------------- rendering
@cache
def template_environment() -> Any:
    """The Jinja environment of the snapshot's packaged templates (autoescaped, strict undefined)."""
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

    return Environment(
        loader=PackageLoader("proximite.indicators.snapshot", "templates"),
        autoescape=select_autoescape(["html", "j2"], default_for_string=True, default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_page(table: pd.DataFrame, *, context: FormatContext, lang: str | None = None) -> str:
    """The snapshot page of a disclosed, scope-selected indicator table, as HTML text.

    Parameters
    ----------
    table : DataFrame
        After :func:`~proximite.indicators.disclosure.apply_disclosure` (``suppressed`` column)
        and :func:`~proximite.indicators.snapshot.base.select_scope`; not modified.
    context : FormatContext, keyword-only
    lang : str, keyword-only
        ``fr`` or ``en`` (default: the context's language).

    Returns
    -------
    str
        A complete HTML document with inline CSS and SVG and no external reference.
    """
    return _render(page_records(table), context=context, lang=lang or context.snapshot.lang)


def _render(records: Sequence[Row], *, context: FormatContext, lang: str) -> str:
    from markupsafe import Markup

    from proximite.indicators.disclosure import disclosure_statement

    builder = PageBuilder(records, context=context, lang=lang)
    statement = disclosure_statement(
        context.snapshot.level,
        threshold=context.snapshot.threshold,
        rounding_base=context.snapshot.rounding_base,
        lang=lang,
    )
    template = template_environment().get_template("page.html.j2")
    return template.render(page=builder.page(statement), Markup=Markup)


class HtmlFormat(SnapshotFormat):
    """``index.html`` in the snapshot's language, plus ``index.<lang>.html`` for each other language.

    An internal snapshot given follow-up tables (``context.followups``) also gets the
    follow-ups page in every language (:mod:`.followups`), and a snapshot given an economics run
    (``context.economics``) the economics page (:mod:`.economics`), both linked from the index
    pages.
    """

    name = "html"

    def write(self, table: pd.DataFrame, out_dir: Path, *, context: FormatContext) -> list[Path]:
        records = page_records(table)
        paths = []
        for lang in context.snapshot.languages:
            path = out_dir / context.snapshot.page_name(lang)
            path.write_text(_render(records, context=context, lang=lang), encoding="utf-8")
            paths.append(path)
        from proximite.indicators.snapshot.transfer import write_transfer_pages

        # The pages per audience: the overview, one per region and territory, the glossary.
        paths.extend(write_transfer_pages(records, out_dir, context=context))
        if context.followups is not None:
            from proximite.indicators.snapshot.followups import write_followup_pages

            paths.extend(write_followup_pages(out_dir, context=context))
        if context.economics is not None:
            from proximite.indicators.snapshot.economics import write_economics_pages

            paths.extend(write_economics_pages(out_dir, context=context))
        return paths
