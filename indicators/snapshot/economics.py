"""The economics page of a snapshot: ``economics.html`` and ``economics.<lang>.html``.

Written when the snapshot is given the economics run of its build
(:class:`~proximite.economics.report.EconomicsSummary`, found by
:meth:`EconomicsSummary.latest <proximite.economics.report.EconomicsSummary.latest>`), linked from
the index pages. Its sections (anchors of :data:`proximite.economics.cheers.PAGE_SECTIONS`):
main results, the analysis frame, programme costs by category, cost per outcome with its
interval, cost–benefit (PV of costs and benefits, NPV, BCR, PV by outcome), uncertainty (PSA
mean and interval, P(BCR > 1), P(NPV > 0)), discount-rate sensitivity, the tornado chart
(drawn as inline SVG in the page's language, :func:`.charts.tornado_chart`, from the run's
``tornado`` records) with its table, programme funding when the run has it, parameters and
version, and the CHEERS 2022 checklist (:func:`proximite.economics.cheers.cheers_table`).

Parameters are named in the page's language: the tornado's ``label_<lang>``, and for the list of
what blocks publication the run's ``parameter_labels`` (else
:func:`proximite.economics.parameter_labels.parameter_label` with the outcomes the run names),
each reason through :func:`~proximite.economics.parameter_labels.reason_label`. The English keys
(``discount_rate``, ``dpj.unit_value``) stay in the run's CSV and JSON; a key no label table knows
is shown as code. The run's own ``tornado.png`` (the research team's, with those keys) is neither
embedded nor copied.

Publication rule: when the run is not ``publishable`` (some parameter is a placeholder or has no
source), a **public** snapshot's page shows only the notice "Résultats économiques en attente de
paramètres sourcés" / "Economic results pending sourced parameters" and the list of what blocks,
never a figure; an **internal** snapshot shows the figures under
a banner "Valeurs provisoires (paramètres non validés)". A public page leaves out cost per outcome
of single territories (a small territory's interval could reveal its counts).

Money is formatted as the snapshot formats numbers (:func:`.formatting.format_money`): ``1 234 $``
in French, ``$1,234`` in English. Every string comes from ``snapshot.yaml`` (keys
``economics_*``); the page loads nothing from anywhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from proximite.indicators.snapshot import charts
from proximite.indicators.snapshot.base import (
    FormatContext,
    SnapshotContext,
    SnapshotError,
    parse_scope,
)
from proximite.indicators.snapshot.formatting import (
    format_datetime,
    format_money,
    format_number,
    format_percent,
)
from proximite.indicators.snapshot.html import (
    Cell,
    HtmlTable,
    PageBuilder,
    template_environment,
)

if TYPE_CHECKING:  # pragma: no cover - typing only
    from proximite.economics.report import EconomicsSummary

__all__ = [
    "ECONOMICS_PAGE",
    "blocking_items",
    "economics_page_name",
    "render_economics_page",
    "shows_figures",
    "write_economics_pages",
]

#: File name of the economics page in the snapshot's language.
ECONOMICS_PAGE = "economics.html"
_PSA_INTERVAL = 0.95


def economics_page_name(snapshot: SnapshotContext, lang: str) -> str:
    """``economics.html`` in the snapshot's language, ``economics.<lang>.html`` in the others."""
    return ECONOMICS_PAGE if lang == snapshot.lang else f"economics.{lang}.html"


def shows_figures(summary: EconomicsSummary, level: str) -> bool:
    """Whether a snapshot of ``level`` shows the run's figures: publishable runs, or internal snapshots."""
    return bool(summary.publishable) or level == "internal"


class _EconomicsBuilder:
    """The page model of one language."""

    def __init__(self, summary: EconomicsSummary, *, context: FormatContext, lang: str) -> None:
        self.summary = summary
        self.context = context
        self.snapshot = context.snapshot
        self.lang = lang
        self.base = PageBuilder((), context=context, lang=lang)
        self.missing = self.text("missing_symbol")
        self.figures = shows_figures(summary, self.snapshot.level)

    # -------------------------------------------------------------- formatting
    def text(self, key: str, **values: Any) -> str:
        return self.base.text(key, **values)

    def money(self, value: Any) -> str:
        """Whole dollars, or cents below 100 $ (funding per child: 4,34 $, not 4 $)."""
        if value is None:
            return self.missing
        decimals = 2 if abs(float(value)) < 100 and float(value) != 0 else 0
        return format_money(float(value), decimals=decimals, lang=self.lang, currency=self.summary.currency)

    def ratio(self, value: Any) -> str:
        return self.missing if value is None else format_number(float(value), decimals=2, lang=self.lang)

    def percent(self, value: Any, decimals: int = 1) -> str:
        return self.missing if value is None else format_percent(float(value), decimals=decimals, lang=self.lang)

    def metric(self, metric: str, value: Any) -> str:
        return self.ratio(value) if metric == "bcr" else self.money(value)

    def interval(self, low: Any, high: Any, fmt: Any) -> str:
        if low is None or high is None:
            return self.missing
        return self.text("ci_range", low=fmt(low), high=fmt(high))

    def label(self, row: dict[str, Any]) -> str:
        """A row's label in the page's language: its own ``label_<lang>``, else the run's label of its parameter."""
        recorded = self.summary.parameter_labels.get(str(row.get("parameter")), {}).get(self.lang)
        return str(row.get(f"label_{self.lang}") or recorded or row.get("label") or row.get("outcome") or row.get("parameter"))

    def scope_name(self, scope: str) -> str:
        try:
            parsed = parse_scope(scope)
        except SnapshotError:
            return scope
        return self.base.scope_name(parsed.kind, parsed.id)

    def level(self) -> str:
        psa = self.summary.psa or {}
        level = float(psa.get("interval") or _PSA_INTERVAL)
        return format_percent(level, decimals=0 if (100 * level).is_integer() else 1, lang=self.lang)

    @staticmethod
    def row(header: str, *cells: str) -> list[Cell]:
        return [Cell(header, header=True), *(Cell(text, numeric=True) for text in cells)]

    # -------------------------------------------------------------- sections
    def section(self, anchor: str, *, tables: Sequence[HtmlTable] = (), notes: Sequence[str] = (),
                chart: str = "") -> dict[str, Any]:
        heading = self.text(f"economics_{anchor.replace('-', '_')}_heading")
        return {"anchor": anchor, "heading": heading, "tables": list(tables), "notes": [n for n in notes if n],
                "chart": chart, "cheers": None, "blocking": []}

    def summary_section(self) -> dict[str, Any]:
        s, psa, cb = self.summary, self.summary.psa or {}, self.summary.cost_benefit
        level = self.level()
        rows = [self.row(self.text("economics_total_costs"), self.money(s.costs.get("total")), self.missing)]
        rows.append(self.row(self.text("economics_pv_costs"), self.money(cb.get("pv_costs")), self.missing))
        rows.append(self.row(self.text("economics_pv_benefits"), self.money(cb.get("pv_benefits")), self.missing))
        rows.append(self.row(self.text("economics_npv"), self.money(cb.get("npv")),
                             self.interval(psa.get("npv_low"), psa.get("npv_high"), self.money)))
        rows.append(self.row(self.text("economics_bcr"), self.ratio(cb.get("bcr")),
                             self.interval(psa.get("bcr_low"), psa.get("bcr_high"), self.ratio)))
        if "p_bcr_gt_1" in psa:
            rows.append(self.row(self.text("economics_p_bcr_gt_1"), self.percent(psa["p_bcr_gt_1"]), self.missing))
        columns = [self.text("economics_col_item"), self.text("col_value"), self.text("economics_col_interval", level=level)]
        return self.section("summary", tables=[HtmlTable(self.text("economics_summary_caption"), columns, rows)])

    def design_section(self) -> dict[str, Any]:
        s = self.summary
        perspective_key = f"economics_perspective_{s.perspective}"
        perspective = self.text(perspective_key) if perspective_key in self.context.codebook.snapshot_strings else s.perspective
        rows = [
            [Cell(self.text("economics_row_population"), header=True), Cell(self.text("economics_population", build_id=s.build_id))],
            [Cell(self.text("economics_row_setting"), header=True), Cell(self.scope_name(s.scope))],
            [Cell(self.text("economics_row_comparator"), header=True), Cell(self.text("economics_comparator"))],
            [Cell(self.text("economics_row_perspective"), header=True), Cell(perspective)],
            [Cell(self.text("economics_row_horizon"), header=True), Cell(self.text("economics_horizon", years=s.horizon_years))],
            [Cell(self.text("economics_row_discount_rate"), header=True), Cell(self.percent(s.discount_rate))],
            [Cell(self.text("economics_row_currency"), header=True),
             Cell(self.text("economics_currency", currency=s.currency, year=s.price_year))],
        ]
        columns = [self.text("economics_col_item"), self.text("col_value")]
        return self.section("design", tables=[HtmlTable(self.text("economics_design_caption"), columns, rows)])

    def costs_section(self) -> dict[str, Any]:
        costs = self.summary.costs
        total = costs.get("total")
        by_category = costs.get("by_category") or {}
        cb = self.context.codebook
        known = cb.codes("cost_category") if "cost_category" in cb.enumerations else []
        order = [code for code in known if code in by_category] + sorted(set(by_category) - set(known))
        rows = []
        for code in order:
            amount = by_category[code]
            share = amount / total if total and amount is not None else None
            rows.append(self.row(self.base.code_label("cost_category", code), self.money(amount), self.percent(share)))
        rows.append(self.row(self.text("col_total"), self.money(total), self.percent(1.0) if total else self.missing))
        columns = [self.text("economics_col_category"), self.text("economics_col_amount"), self.text("economics_col_share")]
        notes = []
        if costs.get("basis"):
            notes.append(self.text("economics_costs_basis", basis=self.basis(str(costs["basis"]))))
        return self.section("costs", tables=[HtmlTable(self.text("economics_costs_caption"), columns, rows)], notes=notes)

    def basis(self, basis: str) -> str:
        key = f"economics_basis_{basis}"
        return self.text(key) if key in self.context.codebook.snapshot_strings else basis

    def cost_per_outcome_section(self) -> dict[str, Any]:
        rows_in = list(self.summary.cost_per_outcome)
        notes = []
        if self.snapshot.level == "public":
            kept = [row for row in rows_in if not str(row.get("scope", "")).startswith("territory")]
            if len(kept) < len(rows_in):
                notes.append(self.text("economics_cost_per_outcome_public_note"))
            rows_in = kept
        with_basis = any(row.get("basis") for row in rows_in)
        rows = []
        for row in rows_in:
            cells = [Cell(self.label(row), header=True), Cell(self.scope_name(str(row.get("scope"))))]
            if with_basis:
                cells.append(Cell(self.basis(str(row["basis"])) if row.get("basis") else self.missing))
            cells.append(Cell(self.money(row.get("value")), numeric=True))
            cells.append(Cell(self.interval(row.get("ci_lower"), row.get("ci_upper"), self.money), numeric=True))
            rows.append(cells)
        columns = [self.text("economics_col_outcome"), self.text("economics_col_scope")]
        if with_basis:
            columns.append(self.text("economics_col_basis"))
        columns += [self.text("economics_col_cost_per_outcome"), self.base.ci_header]
        if not rows:
            return self.section("cost-per-outcome", notes=[*notes, self.text("no_data")])
        return self.section("cost-per-outcome", tables=[HtmlTable(self.text("economics_cost_per_outcome_caption"), columns, rows)],
                            notes=notes)

    def cost_benefit_section(self) -> dict[str, Any]:
        cb = self.summary.cost_benefit
        rows = [
            self.row(self.text("economics_pv_costs"), self.money(cb.get("pv_costs"))),
            self.row(self.text("economics_pv_benefits"), self.money(cb.get("pv_benefits"))),
            self.row(self.text("economics_npv"), self.money(cb.get("npv"))),
            self.row(self.text("economics_bcr"), self.ratio(cb.get("bcr"))),
        ]
        tables = [HtmlTable(self.text("economics_cost_benefit_caption"), [self.text("economics_col_item"), self.text("col_value")], rows)]
        by_outcome = cb.get("by_outcome") or []
        if by_outcome:
            tables.append(
                HtmlTable(
                    self.text("economics_by_outcome_caption"),
                    [self.text("economics_col_outcome"), self.text("economics_col_pv")],
                    [self.row(self.label(row), self.money(row.get("pv"))) for row in by_outcome],
                )
            )
        return self.section("cost-benefit", tables=tables, notes=[self.text("economics_cost_benefit_note")])

    def uncertainty_section(self) -> dict[str, Any]:
        psa = self.summary.psa
        if psa is None:
            return self.section("uncertainty", notes=[self.text("economics_no_psa")])
        level = self.level()
        rows = [
            self.row(self.text("economics_npv"), self.money(psa.get("npv_mean")),
                     self.interval(psa.get("npv_low"), psa.get("npv_high"), self.money)),
            self.row(self.text("economics_bcr"), self.ratio(psa.get("bcr_mean")),
                     self.interval(psa.get("bcr_low"), psa.get("bcr_high"), self.ratio)),
            self.row(self.text("economics_p_bcr_gt_1"), self.percent(psa.get("p_bcr_gt_1")), self.missing),
            self.row(self.text("economics_p_npv_gt_0"), self.percent(psa.get("p_npv_gt_0")), self.missing),
        ]
        columns = [self.text("economics_col_item"), self.text("col_value"), self.text("economics_col_interval", level=level)]
        draws = format_number(psa["draws"], lang=self.lang) if psa.get("draws") is not None else self.missing
        seed = str(psa["seed"]) if psa.get("seed") is not None else self.missing
        note = self.text("economics_psa_note", draws=draws, seed=seed, level=level)
        return self.section("uncertainty", tables=[HtmlTable(self.text("economics_uncertainty_caption"), columns, rows)], notes=[note])

    def discounting_section(self) -> dict[str, Any]:
        s = self.summary
        entries = [(s.discount_rate, s.cost_benefit.get("npv"), s.cost_benefit.get("bcr"), True)]
        entries += [(row["rate"], row.get("npv"), row.get("bcr"), False) for row in s.discount_sensitivity
                    if row.get("rate") != s.discount_rate]
        entries.sort(key=lambda entry: entry[0] if entry[0] is not None else float("inf"))
        rows = []
        for rate, npv, bcr, base in entries:
            label = self.text("economics_base_case", rate=self.percent(rate)) if base else self.percent(rate)
            rows.append(self.row(label, self.money(npv), self.ratio(bcr)))
        columns = [self.text("economics_col_rate"), self.text("economics_metric_npv"), self.text("economics_metric_bcr")]
        return self.section("discounting", tables=[HtmlTable(self.text("economics_discounting_caption"), columns, rows)])

    def tornado_section(self) -> dict[str, Any]:
        s = self.summary
        metric_name = self.text(f"economics_metric_{s.tornado_metric}")
        ordered = sorted(s.tornado, key=lambda row: -(row.get("swing") or 0.0))
        rows = [
            self.row(self.label(row), self.metric(s.tornado_metric, row.get("low")), self.metric(s.tornado_metric, row.get("high")),
                     self.metric(s.tornado_metric, row.get("swing")))
            for row in ordered
        ]
        if not rows:
            return self.section("tornado", notes=[self.text("no_data")])
        columns = [self.text("economics_col_parameter"), self.text("economics_col_low", metric=metric_name),
                   self.text("economics_col_high", metric=metric_name), self.text("economics_col_swing")]
        table = HtmlTable(self.text("economics_tornado_caption", metric=metric_name), columns, rows)
        return self.section("tornado", tables=[table], chart=self.tornado_chart(ordered, metric_name))

    def tornado_chart(self, ordered: Sequence[dict[str, Any]], metric_name: str) -> str:
        """The tornado as inline SVG: parameters in the page's language, ticks formatted as its numbers."""
        s = self.summary
        base = s.cost_benefit.get(s.tornado_metric)
        if base is None:
            return ""
        npv = s.tornado_metric == "npv"
        bars = [charts.TornadoBar(self.label(row), row.get("low"), row.get("high")) for row in ordered]
        axis = self.text("economics_tornado_axis_npv", metric=metric_name, year=s.price_year) if npv else metric_name
        return charts.tornado_chart(
            bars, chart_id="tornado-chart", title=self.text("economics_tornado_alt", metric=metric_name), base=float(base),
            tick=(lambda v: format_money(v, lang=self.lang, currency=s.currency)) if npv else self.ratio,
            x_title=axis, legend=(self.text("economics_tornado_low"), self.text("economics_tornado_high")),
        )

    def funding_section(self) -> dict[str, Any] | None:
        funding = self.summary.funding
        if not funding:
            return None
        spec = [
            ("funding_cad", "economics_funding_total", self.money),
            ("fte", "economics_funding_fte", lambda v: format_number(float(v), decimals=1, lang=self.lang)),
            ("resources", "economics_funding_resources", lambda v: format_number(float(v), lang=self.lang)),
            ("children_0_5", "economics_funding_children", lambda v: format_number(float(v), lang=self.lang)),
            ("funding_per_fte", "economics_funding_per_fte", self.money),
            ("funding_per_resource", "economics_funding_per_resource", self.money),
            ("funding_per_child", "economics_funding_per_child", self.money),
        ]
        rows = [self.row(self.text(key), fmt(funding[name])) for name, key, fmt in spec if funding.get(name) is not None]
        if not rows:
            return None
        year = funding.get("year") or self.missing
        columns = [self.text("economics_col_item"), self.text("col_value")]
        return self.section("funding", tables=[HtmlTable(self.text("economics_funding_caption", year=year), columns, rows)])

    def parameters_section(self) -> dict[str, Any]:
        s = self.summary
        notes = [self.text("economics_parameters_note")]
        if s.parameters_sha256:
            notes.append(self.text("economics_parameters_sha", sha=s.parameters_sha256))
        if s.publishable:
            notes.append(self.text("economics_all_sourced"))
        section = self.section("parameters", notes=notes)
        section["blocking"] = blocking_items(s, lang=self.lang, codebook=self.context.codebook)
        return section

    def cheers_section(self) -> dict[str, Any]:
        from proximite.economics.cheers import cheers_table

        table = cheers_table(self.summary, lang=self.lang, codebook=self.context.codebook)
        section = self.section("cheers", notes=[self.text("economics_cheers_note")])
        section["cheers"] = {
            "caption": self.text("economics_cheers_caption"),
            "columns": [self.text(f"economics_col_cheers_{name}") for name in ("item", "section", "topic", "where")],
            "rows": [
                {"item": int(row.item), "section": row.section, "topic": row.topic, "where": row.answered_in,
                 "anchor": row.anchor, "applicable": bool(row.applicable)}
                for row in table.itertuples(index=False)
            ],
        }
        return section

    def sections(self) -> list[dict[str, Any]]:
        if not self.figures:
            return []
        built = [
            self.summary_section(),
            self.design_section(),
            self.costs_section(),
            self.cost_per_outcome_section(),
            self.cost_benefit_section(),
            self.uncertainty_section(),
            self.discounting_section(),
            self.tornado_section(),
            self.funding_section(),
            self.parameters_section(),
            self.cheers_section(),
        ]
        return [section for section in built if section is not None]

    # -------------------------------------------------------------- page
    def page(self) -> dict[str, Any]:
        s, snapshot = self.summary, self.snapshot
        scope = snapshot.scope_obj
        generated = format_datetime(snapshot.generated_at)
        pending = None
        banner = None
        if not s.publishable and not self.figures:
            pending = {"notice": self.text("economics_pending_notice"), "detail": self.text("economics_pending_detail"),
                       "blocking": blocking_items(s, lang=self.lang, codebook=self.context.codebook)}
        elif not s.publishable:
            # The list itself is in the parameters section (it can run to dozens of values).
            banner = {"heading": self.text("economics_provisional_banner"), "detail": self.text("economics_provisional_detail"),
                      "count": self.text("economics_provisional_count", count=format_number(len(s.blocking), lang=self.lang)),
                      "href": "#parameters"}
        return {
            "lang": self.lang,
            "title": self.text("economics_title"),
            "subtitle": self.text("economics_subtitle", scope=self.base.scope_name(scope.kind, scope.id), price_year=s.price_year),
            "generated": self.text("generated_on", date=generated),
            "other_languages": [
                {"lang": lang, "href": economics_page_name(snapshot, lang),
                 "label": self.context.codebook.snapshot_text("other_language", lang=self.lang)}
                for lang in snapshot.languages
                if lang != self.lang
            ],
            "index": {"href": snapshot.page_name(self.lang), "label": self.text("economics_back_to_index")},
            "about_heading": self.text("economics_about_heading"),
            "run_version": self.text(
                "economics_run_version",
                generated_at=format_datetime(s.generated_at),
                code_version=s.code_version or self.missing,
                build_id=s.build_id,
            ),
            "aggregates_note": self.text("economics_aggregates_note"),
            "blocking_lead": self.text("economics_blocking_lead"),
            "level": self.text("level_sentence", level=self.text(f"level_{snapshot.level}")),
            "pending": pending,
            "banner": banner,
            "toc_heading": self.text("toc_heading"),
            "back": self.text("back_to_contents"),
            "sections": self.sections(),
            "footer": self.text("economics_footer"),
        }


def blocking_items(summary: EconomicsSummary, *, lang: str, codebook: Any) -> list[dict[str, Any]]:
    """What blocks publication, one item per parameter, in ``lang``: ``{"label", "known", "reasons"}``.

    ``label`` names the parameter (``Taux d'actualisation``) and ``reasons`` follows it
    (`` — valeur provisoire``); ``known`` is False when no label table knows the key, which the
    page then shows as code rather than pass it off as words.
    """
    from proximite.economics.parameter_labels import parameter_label, reason_label, split_blocker

    outcomes = {str(row["outcome"]): (str(row["label_fr"]), str(row["label_en"]))
                for row in summary.cost_benefit.get("by_outcome") or []}
    items = []
    for blocker in summary.blocking:
        name, reasons = split_blocker(blocker)
        recorded = summary.parameter_labels.get(name, {}).get(lang)
        label = recorded or parameter_label(name, lang=lang, outcomes=outcomes, codebook=codebook)
        why = ", ".join(reason_label(reason, lang=lang) for reason in reasons)
        items.append({"label": label, "known": label != name, "reasons": f" — {why}" if why else ""})
    return items


def render_economics_page(summary: EconomicsSummary, *, context: FormatContext, lang: str | None = None) -> str:
    """The economics page of a snapshot, as HTML text.

    Parameters
    ----------
    summary : EconomicsSummary
        The economics run of the snapshot's build (not modified).
    context : FormatContext, keyword-only
        The snapshot's context (its level decides what a run that is not publishable shows).
    lang : str, keyword-only
        ``fr`` or ``en`` (default: the snapshot's language).

    Returns
    -------
    str
        A complete HTML document with inline CSS and no external reference.

    Raises
    ------
    SnapshotError
        The run's aggregates cover another scope than the snapshot's (a Québec run under a
        region's title would mislead its reader).
    """
    if parse_scope(summary.scope) != context.snapshot.scope_obj:
        raise SnapshotError(
            f"the economics run covers {summary.scope}, the snapshot {context.snapshot.scope}: "
            "a snapshot shows only the economics run of its own scope"
        )
    builder = _EconomicsBuilder(summary, context=context, lang=lang or context.snapshot.lang)
    from markupsafe import Markup

    return template_environment().get_template("economics.html.j2").render(page=builder.page(), Markup=Markup)


def write_economics_pages(out_dir: Path, *, context: FormatContext) -> list[Path]:
    """Write ``context.economics`` as the economics page in every language of the snapshot.

    Returns
    -------
    list of Path
        ``economics.html`` (the snapshot's language), then ``economics.<lang>.html`` for the others.

    Raises
    ------
    SnapshotError
        The context has no economics summary.
    """
    summary = context.economics
    if summary is None:
        raise SnapshotError("no economics summary to write")
    paths = []
    for lang in context.snapshot.languages:
        path = Path(out_dir) / economics_page_name(context.snapshot, lang)
        path.write_text(render_economics_page(summary, context=context, lang=lang), encoding="utf-8")
        paths.append(path)
    return paths
