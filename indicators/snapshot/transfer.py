"""Transfer tools per audience: the Québec overview, one page per region and territory, the glossary.

The full page (``index.html``) holds every scope; a ministry reads the overview, a regional
board its region's page, and a host organisation prints its territory's report for its partners
(two to four letter pages). Every page is self-contained (inline CSS and SVG, no script) and
exists in each language of the snapshot::

    overview.html            Québec: the three key indicators with their trend, the tile map of the
                             17 regions (one map per key indicator), each tile linking to its region
    regions/06.html          the region beside Québec; "what this means"; trends with CIs
    territories/T06-01.html  the territory beside its region and Québec (the printed report)
    glossary.html            every technical term the pages use, in plain words

Pages in the snapshot's other language end in ``.<lang>.html``. Ranks and map colours use only
published cells that rounding moved by at most :data:`~.html.MAX_ROUNDING_SHIFT`
(:func:`~.html.rankable`).
"""

from __future__ import annotations

import math
from html import escape
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from proximite.indicators.base import ALL, QUEBEC
from proximite.indicators.snapshot import charts
from proximite.indicators.snapshot.base import FormatContext
from proximite.indicators.snapshot.formatting import format_percent
from proximite.indicators.snapshot.glossary import glossary_entries
from proximite.indicators.snapshot.html import (
    MAX_ROUNDING_SHIFT,
    NEED_CATEGORY,
    Cell,
    HtmlTable,
    PageBuilder,
    Row,
    by_period,
    by_wave,
    has_value,
    overall,
    rankable,
    template_environment,
    top_service_gaps,
)
from proximite.indicators.snapshot.meaning import meaning_paragraph
from proximite.indicators.snapshot.tilemap import Tile, tile_map

__all__ = ["KEY_INDICATORS", "TransferPage", "page_file", "write_transfer_pages"]

#: The three key indicators of the overview and the map, with the row each shows.
KEY_INDICATORS = ("isolation.change_from_baseline", "needs_offer.match_rate", "concertation.density")
#: Rows of a scope's comparison table: (indicator, which row: overall, first or last wave).
COMPARISON = (
    ("reach.families_reached", "overall"),
    ("reach.isolated_at_contact_share", "overall"),
    ("isolation.mean_index", "first"),
    ("isolation.mean_index", "last"),
    ("isolation.change_from_baseline", "last"),
    ("isolation.meaningful_reduction", "last"),
    ("needs_offer.match_rate", "overall"),
    ("needs_offer.referral_completion", "overall"),
    ("concertation.active_partners", "overall"),
    ("concertation.density", "overall"),
    ("concertation.degree_centralisation", "overall"),
    ("concertation.blau_diversity", "overall"),
    ("concertation.tie_stability", "overall"),
)
Key = tuple[str, str]


@dataclass
class TransferPage:
    """The model of one transfer page (rendered by ``transfer.html.j2``)."""

    kind: str
    lang: str
    title: str
    heading: str
    subheading: str = ""
    meaning: str = ""
    tables: list[HtmlTable] = field(default_factory=list)
    charts: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    links: list[dict[str, str]] = field(default_factory=list)
    glossary: list[dict[str, str]] = field(default_factory=list)


def page_file(kind: str, scope_id: str, *, lang: str, default_lang: str) -> str:
    """Path of a page inside the snapshot: ``overview.html``, ``regions/06.en.html``…"""
    suffix = ".html" if lang == default_lang else f".{lang}.html"
    folder = {"region": "regions/", "territory": "territories/"}.get(kind, "")
    stem = scope_id if folder else kind
    return f"{folder}{stem}{suffix}"


def _row_of(rows: Any, indicator: str, which: str) -> Row | None:
    """The overall row of an indicator, or its first or last published wave."""
    found = rows.rows(indicator)
    if which == "overall":
        return overall(found)
    waves = by_wave(found)
    if which == "first":
        return waves[min(waves)] if waves else None
    published = [wave for wave in waves if has_value(waves[wave])]
    return waves[max(published)] if published else (waves[max(waves)] if waves else None)


class TransferBuilder:
    """Builds the transfer pages of one language on a :class:`~.html.PageBuilder`."""

    def __init__(self, builder: PageBuilder) -> None:
        self.b = builder
        self.lang = builder.lang
        self.default = builder.snapshot.lang

    # -------------------------------------------------------------- helpers
    def href(self, kind: str, scope_id: str, *, depth: int) -> str:
        return "../" * depth + page_file(kind, scope_id, lang=self.lang, default_lang=self.default)

    def rows_of(self, key: Key) -> Any:
        return self.b.scopes.get(key)

    def when(self, row: Row | None) -> str:
        return self.b.when(row)

    def comparison(self, keys: Sequence[Key]) -> HtmlTable:
        """Indicator rows × scopes: value with its CI and when, one column pair per scope."""
        names = [self.b.scope_name(kind, sid) for kind, sid in keys]
        columns = [self.b.text("col_indicator")]
        for name in names:
            columns += [name, self.b.ci_header]
        columns.append(self.b.text("col_period"))
        table_rows = []
        for indicator, which in COMPARISON:
            found = [_row_of(self.rows_of(key), indicator, which) if self.rows_of(key) else None for key in keys]
            if all(row is None for row in found):
                continue
            label = self.b.label(indicator)
            cells = [Cell(label, header=True)]
            for row in found:
                cells += [self.b.value_cell(row), self.b.ci_cell(row)]
            cells.append(Cell(self.when(next((row for row in found if row is not None), None))))
            table_rows.append(cells)
        return HtmlTable(self.b.text("transfer_comparison_caption"), columns, table_rows)

    def trend_chart(self, indicator: str, keys: Sequence[Key], *, chart_id: str, unit: str, y_range: Any, y_title: str) -> str:
        """The indicator by wave (or registry period), one line per scope, with CI whiskers and axis
        titles naming what the ticks are (waves, or the periods' kind)."""
        series: list[tuple[str, list[charts.Point]]] = []
        timed = [by_wave(self.rows_of(key).rows(indicator)) if self.rows_of(key) else {} for key in keys]
        if any(timed):
            steps = sorted({wave for column in timed for wave in column})
            labels = [self.b.wave_label(wave) for wave in steps]
            x_title = self.b.text("wave_axis")
        else:
            timed = [by_period(self.rows_of(key).rows(indicator)) if self.rows_of(key) else {} for key in keys]
            steps = [period for period, _s, _e in self.b.periods if period != ALL and any(period in c for c in timed)]
            labels = [self.b.period_label(period) for period in steps]
            x_title = self.b.period_axis(steps)
        for key, column in zip(keys, timed):
            points = [self.b.point(label, column.get(step)) for label, step in zip(labels, steps)]
            series.append((self.b.scope_name(*key), points))
        if not steps or not any(charts.any_drawable(points) for _name, points in series):
            return ""
        return charts.line_chart(
            series,
            chart_id=chart_id,
            title=self.b.text("chart_label", caption=self.b.label(indicator)),
            unit=unit,
            fmt=self.b.fmt,
            y_range=y_range,
            x_title=x_title,
            y_title=y_title,
        )

    def key_charts(self, keys: Sequence[Key], prefix: str) -> list[str]:
        specs = (
            ("isolation.mean_index", "mean", (0.0, 100.0), "axis_index"),
            ("needs_offer.match_rate", "share", (0.0, 1.0), "axis_needs_met"),
            ("concertation.density", "ratio", (0.0, 1.0), "axis_density"),
        )
        drawn = [
            self.trend_chart(ind, keys, chart_id=f"{prefix}-{ind.replace('.', '-')}", unit=u, y_range=r, y_title=self.b.text(t))
            for ind, u, r, t in specs
        ]
        return [chart for chart in drawn if chart]

    def gaps_table(self, key: Key) -> tuple[HtmlTable | None, str]:
        """The top 3 published, non-zero, rankable service gaps, or the sentence saying there is none."""
        rows = self.rows_of(key)
        found = rows.rows("needs_offer.service_gaps", breakdown=NEED_CATEGORY, breakdown_value=None) if rows else []
        gaps = [row for row in found if row.get("period") == ALL or row.get("wave") is None]
        top = top_service_gaps(gaps, rounding_base=self.b.rounding_base)
        if not top:
            return None, self.b.text("no_gaps")
        table = HtmlTable(
            self.b.text("gaps_caption"),
            [self.b.text("col_rank"), self.b.text("col_category"), self.b.label("needs_offer.service_gaps"), self.b.ci_header],
            [
                [Cell(self.b.fmt.count(rank), header=True), Cell(self.b.code_label(NEED_CATEGORY, str(row["breakdown_value"]))),
                 self.b.value_cell(row), self.b.ci_cell(row)]
                for rank, row in enumerate(top, start=1)
            ],
        )
        return table, ""

    def notes(self) -> list[str]:
        """The suppression note (why a cell is hidden, not which rule hid it) and the rounding note."""
        notes = [self.b.text("transfer_suppressed_note", symbol=self.b.fmt.suppressed_symbol)]
        base = self.b.rounding_base
        if base > 1:
            smallest = math.ceil(base / (2 * MAX_ROUNDING_SHIFT))
            notes.append(
                self.b.text(
                    "transfer_rounding_note",
                    base=self.b.fmt.count(base),
                    shift_10=self.b.fmt.number(base / 20, unit="share"),
                    shift_100=self.b.fmt.number(base / 200, unit="share"),
                    # A rate on 10 families read after rounding (every number goes through the formatter).
                    example=format_percent(0.6, decimals=0, lang=self.lang),
                    example_low=format_percent(0.5, decimals=0, lang=self.lang),
                    example_high=format_percent(0.7, decimals=0, lang=self.lang),
                    smallest=self.b.fmt.count(smallest),
                    max_shift=self.b.fmt.number(MAX_ROUNDING_SHIFT, unit="share"),
                )
            )
        notes.append(self.b.text("confidence_note", level=self.b.confidence))
        return notes

    def common_links(self, depth: int) -> list[dict[str, str]]:
        links = [{"href": self.href("overview", "", depth=depth), "label": self.b.text("transfer_overview_link")}]
        links.append({"href": self.href("glossary", "", depth=depth), "label": self.b.text("glossary_link")})
        links.append({"href": "../" * depth + self.b.snapshot.page_name(self.lang), "label": self.b.text("transfer_full_link")})
        return links

    # -------------------------------------------------------------- pages
    def overview(self) -> TransferPage:
        keys = [("quebec", QUEBEC)]
        page = TransferPage("overview", self.lang, self.b.text("page_title"), self.b.text("transfer_overview_heading"))
        page.meaning = meaning_paragraph(self.b, ("quebec", QUEBEC), reference=None)
        page.tables.append(self.comparison(keys))
        page.charts = self.key_charts(keys, "quebec")
        page.charts += [self.region_map(indicator) for indicator in KEY_INDICATORS]
        page.notes = [self.b.text("transfer_map_note"), *self.notes()]
        page.links = self.common_links(0)
        return page

    def region_map(self, indicator: str) -> str:
        """The tile map of the regions coloured by ``indicator`` (rankable cells only)."""
        tiles = []
        for code, name in sorted(self.b.regions.items()):
            rows = self.rows_of(("region", code))
            which = "last" if indicator == "isolation.change_from_baseline" else "overall"
            row = _row_of(rows, indicator, which) if rows else None
            value = float(row["value"]) if rankable(row, rounding_base=self.b.rounding_base) else None  # type: ignore[index]
            href = self.href("region", code, depth=0) if rows else "#"
            tiles.append(Tile(code, f"{code} – {name}", self.b.fmt.value(row), value, href))
        unit = "share" if indicator == "needs_offer.match_rate" else ("points" if "change" in indicator else "ratio")
        title = self.b.text("transfer_map_title", indicator=self.b.label(indicator))
        svg = tile_map(
            tiles,
            chart_id=f"map-{indicator.replace('.', '-')}",
            title=title,
            legend={"not_shown": self.b.text("transfer_map_not_shown"), "range": self.b.text("transfer_map_range")},
            format_value=lambda value: self.b.fmt.number(value, unit=unit),
        )
        return f'<figure class="map"><figcaption>{escape(title)}</figcaption>{svg}</figure>'

    def scope_page(self, kind: str, scope_id: str) -> TransferPage:
        """A region's or territory's page: beside its region (territory) and Québec."""
        keys: list[Key] = [(kind, scope_id)]
        region_code = ""
        if kind == "territory":
            info = self.b.territories.get(scope_id)
            region_code = str(info["region_code"]) if info else ""
            if region_code and ("region", region_code) in self.b.scopes:
                keys.append(("region", region_code))
        if ("quebec", QUEBEC) in self.b.scopes:
            keys.append(("quebec", QUEBEC))
        name = self.b.scope_name(kind, scope_id)
        page = TransferPage(kind, self.lang, self.b.text("page_title"), name)
        page.subheading = self.b.text("transfer_beside", others=", ".join(self.b.scope_name(*key) for key in keys[1:]))
        page.meaning = meaning_paragraph(self.b, (kind, scope_id), reference=keys[-1] if len(keys) > 1 else None)
        page.tables.append(self.comparison(keys))
        page.charts = self.key_charts(keys, f"{kind}-{scope_id}")
        gaps, sentence = self.gaps_table((kind, scope_id))
        if gaps is not None:
            page.tables.append(gaps)
        page.notes = ([sentence] if sentence else []) + self.notes()
        page.links = self.common_links(1)
        if region_code:
            page.links.insert(1, {"href": self.href("region", region_code, depth=1), "label": self.b.scope_name("region", region_code)})
        return page

    def glossary(self) -> TransferPage:
        page = TransferPage("glossary", self.lang, self.b.text("page_title"), self.b.text("glossary_heading"))
        page.glossary = glossary_entries(self.b.cb, lang=self.lang)
        page.links = self.common_links(0)[::2]
        return page


def _render(page: TransferPage, builder: PageBuilder, *, depth: int, other_href: str) -> str:
    from markupsafe import Markup

    from proximite.indicators.snapshot.formatting import format_datetime

    model = {
        "page": page,
        "generated": builder.text("generated_on", date=format_datetime(builder.snapshot.generated_at)),
        "other": {"href": other_href, "label": builder.text("other_language")} if other_href else None,
        "meaning_heading": builder.text("transfer_meaning_heading"),
        "notes_heading": builder.text("transfer_notes_heading"),
        "footer": builder.text("footer"),
        "depth": depth,
    }
    return template_environment().get_template("transfer.html.j2").render(model=model, Markup=Markup)


def _pages(transfer: TransferBuilder) -> list[tuple[str, str, TransferPage]]:
    """(kind, scope id, page model) of every transfer page of one language."""
    pages = [("overview", "", transfer.overview()), ("glossary", "", transfer.glossary())]
    for kind, scope_id in sorted(transfer.b.scopes):
        if kind in ("region", "territory"):
            pages.append((kind, scope_id, transfer.scope_page(kind, scope_id)))
    return pages


def write_transfer_pages(records: Sequence[Row], out_dir: Path, *, context: FormatContext) -> list[Path]:
    """Write the overview, the region and territory pages and the glossary in every language.

    Parameters
    ----------
    records : sequence of dict
        The page rows (:func:`~.html.page_records`) of the disclosed, scope-selected table.
    out_dir : Path
        The snapshot's (temporary) directory; ``regions/`` and ``territories/`` are created.
    context : FormatContext, keyword-only

    Returns
    -------
    list of Path
        Every file written.
    """
    snapshot = context.snapshot
    written: list[Path] = []
    for lang in snapshot.languages:
        transfer = TransferBuilder(PageBuilder(records, context=context, lang=lang))
        others = [other for other in snapshot.languages if other != lang]
        for kind, scope_id, page in _pages(transfer):
            depth = 1 if kind in ("region", "territory") else 0
            name = page_file(kind, scope_id, lang=lang, default_lang=snapshot.lang)
            other_href = ""
            if others:
                other_href = "../" * depth + page_file(kind, scope_id, lang=others[0], default_lang=snapshot.lang)
            path = out_dir / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(_render(page, transfer.b, depth=depth, other_href=other_href), encoding="utf-8")
            written.append(path)
    return written
