"""The follow-ups page of an internal snapshot: ``followups.html`` and ``followups.<lang>.html``.

For the research team, not for decision-makers: it lists, per territory of the snapshot's scope,
the families whose next wave window is open, closing soon or overdue (by **pseudonymous id**,
with the **REDCap record id** beside it when the tables carry a ``record_id`` column: the
coordinators open that record in REDCap), and completion and attrition by wave. It is written only when the snapshot's disclosure level is ``internal``; a public snapshot
has no such page, no link to it and no family id anywhere.

The tables come from :func:`proximite.cohort.followups.followups_from_warehouse` (any object with
the attributes of :class:`FollowupTables` will do). The page reuses the snapshot's stylesheet
and table macro: inline CSS, no script, nothing loaded from anywhere; every string comes from
``snapshot.yaml`` (keys ``followups_*``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import pandas as pd

from proximite.indicators.snapshot.base import FormatContext, SnapshotContext, SnapshotError
from proximite.indicators.snapshot.formatting import format_datetime, format_number, format_percent, is_missing
from proximite.indicators.snapshot.html import Cell, HtmlTable, PageBuilder, template_environment

__all__ = ["FOLLOWUPS_PAGE", "FollowupTables", "followups_page_name", "render_followups_page", "write_followup_pages"]

#: File name of the follow-ups page in the snapshot's language.
FOLLOWUPS_PAGE = "followups.html"
#: Status order on the page: most urgent first.
STATUS_ORDER = ("overdue", "closing", "open")
ALL_TERRITORIES = "all"


class FollowupTables(Protocol):
    """What the page needs (:class:`proximite.cohort.followups.FollowupReport` has it)."""

    due: pd.DataFrame
    completion: pd.DataFrame
    as_of: dt.date
    territories: tuple[str, ...]
    closing_days: int
    # Optional: ``due["record_id"]`` (shown beside the pseudonym) and ``record_ids_reason`` (why
    # some of its cells are empty, as FollowupReport has them).


def followups_page_name(snapshot: SnapshotContext, lang: str) -> str:
    """``followups.html`` in the snapshot's language, ``followups.<lang>.html`` in the others."""
    return FOLLOWUPS_PAGE if lang == snapshot.lang else f"followups.{lang}.html"


class _FollowupsBuilder:
    """The page model of one language."""

    def __init__(self, followups: FollowupTables, *, context: FormatContext, lang: str) -> None:
        self.followups = followups
        self.context = context
        self.snapshot = context.snapshot
        self.lang = lang
        # Scope and territory names, region names and every string: as the index page has them.
        self.base = PageBuilder((), context=context, lang=lang)
        self.as_of = followups.as_of.isoformat()

    def text(self, key: str, **values: Any) -> str:
        return self.base.text(key, **values)

    def status(self, status: str) -> str:
        return self.text(f"followups_status_{status}")

    def count(self, value: Any) -> str:
        return format_number(int(value), lang=self.lang)

    def percent(self, value: Any) -> str:
        return self.text("missing_symbol") if is_missing(value) else format_percent(float(value), decimals=1, lang=self.lang)

    def territory_name(self, territory_id: str) -> str:
        return self.base.scope_name("territory", territory_id)

    # -------------------------------------------------------------- tables
    def due_table(self, rows: pd.DataFrame) -> HtmlTable:
        table_rows = []
        with_records = "record_id" in rows.columns
        for row in rows.itertuples(index=False):
            window = self.text("date_range", start=f"{row.window_start:%Y-%m-%d}", end=f"{row.window_end:%Y-%m-%d}")
            record = [Cell("" if is_missing(row.record_id) else str(row.record_id))] if with_records else []
            table_rows.append(
                [
                    Cell(str(row.family_id), header=True),
                    *record,
                    Cell(self.base.wave_label(int(row.wave))),
                    Cell(f"{row.due_date:%Y-%m-%d}"),
                    Cell(window),
                    Cell(self.status(str(row.status)), css=f"status status-{row.status}"),
                    Cell(format_number(int(row.days_left), lang=self.lang), numeric=True),
                ]
            )
        columns = [
            self.text("followups_col_family"),
            *([self.text("followups_col_record")] if with_records else []),
            self.text("col_wave"),
            self.text("followups_col_due_date"),
            self.text("followups_col_window"),
            self.text("followups_col_status"),
            self.text("followups_col_days_left"),
        ]
        return HtmlTable(self.text("followups_due_caption"), columns, table_rows)

    def completion_table(self, rows: pd.DataFrame) -> HtmlTable | None:
        if rows.empty:
            return None
        table_rows = [
            [
                Cell(self.base.wave_label(int(row.wave)), header=True),
                Cell(self.count(row.due), numeric=True),
                Cell(self.count(row.completed), numeric=True),
                Cell(self.count(row.missed), numeric=True),
                Cell(self.count(row.exited), numeric=True),
                Cell(self.percent(row.completion_rate), numeric=True),
                Cell(self.percent(row.attrition_rate), numeric=True),
            ]
            for row in rows.sort_values("wave").itertuples(index=False)
        ]
        columns = [
            self.text("col_wave"),
            *(
                self.text(f"followups_col_{name}")
                for name in ("due", "completed", "missed", "exited", "completion_rate", "attrition_rate")
            ),
        ]
        return HtmlTable(self.text("followups_completion_caption", date=self.as_of), columns, table_rows)

    def summary_table(self, territories: Sequence[str]) -> HtmlTable:
        due = self.followups.due
        counts = due.groupby(["territory_id", "status"]).size() if len(due) else pd.Series(dtype="int64")
        table_rows = []
        for territory_id in territories:
            values = [int(counts.get((territory_id, status), 0)) for status in STATUS_ORDER]
            table_rows.append(
                [Cell(self.territory_name(territory_id), header=True)]
                + [Cell(self.count(value), numeric=True) for value in (*values, sum(values))]
            )
        totals = [int((due["status"] == status).sum()) for status in STATUS_ORDER]
        table_rows.append(
            [Cell(self.text("followups_all_territories"), header=True)]
            + [Cell(self.count(value), numeric=True) for value in (*totals, sum(totals))]
        )
        columns = [self.text("followups_col_territory"), *(self.status(status) for status in STATUS_ORDER), self.text("col_total")]
        return HtmlTable(self.text("followups_summary_caption", date=self.as_of), columns, table_rows)

    def record_ids_note(self) -> str:
        """Once on the page: why some record id cells are empty (empty text when none is)."""
        due = self.followups.due
        if "record_id" not in due.columns:
            return ""
        missing = int(due["record_id"].isna().sum())
        reason = getattr(self.followups, "record_ids_reason", None)
        if missing == 0 or reason not in {"no_key", "no_pull", "not_found"}:
            return ""
        return self.text(f"followups_record_ids_{reason}", count=self.count(missing))

    # -------------------------------------------------------------- page
    def sections(self, territories: Sequence[str]) -> list[dict[str, Any]]:
        due = self.followups.due
        completion = self.followups.completion
        sections = []
        for territory_id in territories:
            info = self.base.territories.get(territory_id)
            subheading = ""
            if info:
                code = str(info["region_code"])
                subheading = self.text("territory_in_region", region=f"{code} – {self.base.regions.get(code, code)}")
            rows = due[due["territory_id"] == territory_id]
            sections.append(
                {
                    "anchor": f"territory-{territory_id}",
                    "heading": f"{self.territory_name(territory_id)} ({territory_id})",
                    "subheading": subheading,
                    "due": self.due_table(rows) if len(rows) else None,
                    "completion": self.completion_table(completion[completion["territory_id"] == territory_id]),
                }
            )
        if len(territories) > 1:
            sections.append(
                {
                    "anchor": "all-territories",
                    "heading": self.text("followups_all_territories"),
                    "subheading": "",
                    "due": None,
                    "completion": self.completion_table(completion[completion["territory_id"] == ALL_TERRITORIES]),
                }
            )
        return sections

    def page(self) -> dict[str, Any]:
        snapshot = self.snapshot
        scope = snapshot.scope_obj
        scope_name = self.base.scope_name(scope.kind, scope.id)
        territories = list(self.followups.territories)
        days = self.followups.closing_days
        generated = format_datetime(snapshot.generated_at)
        return {
            "lang": self.lang,
            "title": self.text("followups_title"),
            "subtitle": self.text("followups_subtitle", scope=scope_name, date=self.as_of),
            "generated": self.text("generated_on", date=generated),
            "other_languages": [
                {
                    "lang": lang,
                    "href": followups_page_name(snapshot, lang),
                    "label": self.context.codebook.snapshot_text("other_language", lang=self.lang),
                }
                for lang in snapshot.languages
                if lang != self.lang
            ],
            "index": {"href": snapshot.page_name(self.lang), "label": self.text("followups_back_to_index")},
            "about_heading": self.text("followups_about_heading"),
            "internal": self.text("followups_internal"),
            "pseudonymous": self.text("followups_pseudonymous"),
            "record_ids_note": self.record_ids_note(),
            "rule": self.text("followups_rule"),
            "legend": [self.text(f"followups_legend_{status}", days=days) for status in STATUS_ORDER],
            "completion_note": self.text("followups_completion_note"),
            "data_version": self.text(
                "data_version",
                # The build the lists were read from (the indicators' build unless the warehouse moved on).
                build_id=getattr(self.followups, "build_id", None) or snapshot.build_id or self.text("missing_symbol"),
                code_version=snapshot.code_version or self.text("missing_symbol"),
                generated_at=generated,
            ),
            "summary_heading": self.text("followups_summary_heading"),
            "summary": self.summary_table(territories),
            "toc_heading": self.text("toc_heading"),
            "back": self.text("back_to_contents"),
            "completion_heading": self.text("followups_completion_heading"),
            "none_due": self.text("followups_none_due"),
            "no_completion": self.text("followups_no_completion"),
            "footer": self.text("followups_footer"),
            "sections": self.sections(territories),
        }


def render_followups_page(followups: FollowupTables, *, context: FormatContext, lang: str | None = None) -> str:
    """The follow-ups page of an internal snapshot, as HTML text.

    Parameters
    ----------
    followups : FollowupTables
        The due list and completion table of the snapshot's scope (not modified).
    context : FormatContext, keyword-only
        The snapshot's context; its level must be ``internal``.
    lang : str, keyword-only
        ``fr`` or ``en`` (default: the snapshot's language).

    Returns
    -------
    str
        A complete HTML document with inline CSS and no external reference.

    Raises
    ------
    SnapshotError
        The snapshot's level is not ``internal``: family ids never go into a public snapshot.
    """
    _check_internal(context.snapshot)
    builder = _FollowupsBuilder(followups, context=context, lang=lang or context.snapshot.lang)
    return template_environment().get_template("followups.html.j2").render(page=builder.page())


def write_followup_pages(out_dir: Path, *, context: FormatContext) -> list[Path]:
    """Write ``context.followups`` as the follow-ups page in every language of the snapshot.

    Returns
    -------
    list of Path
        ``followups.html`` (the snapshot's language) and ``followups.<lang>.html`` for the others.

    Raises
    ------
    SnapshotError
        The snapshot's level is not ``internal``, or the context has no follow-up tables.
    """
    if context.followups is None:
        raise SnapshotError("no follow-up tables to write")
    _check_internal(context.snapshot)
    paths = []
    for lang in context.snapshot.languages:
        path = Path(out_dir) / followups_page_name(context.snapshot, lang)
        path.write_text(render_followups_page(context.followups, context=context, lang=lang), encoding="utf-8")
        paths.append(path)
    return paths


def _check_internal(snapshot: SnapshotContext) -> None:
    if snapshot.level != "internal":
        raise SnapshotError(
            f"the follow-ups page lists families by pseudonymous id: it is written at the internal level only, "
            f"not {snapshot.level!r}"
        )
