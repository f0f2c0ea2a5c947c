"""The joint display: each evaluation axis's indicators beside the qualitative themes coded for it.

The standard integration device of mixed-methods evaluation, on a region's or territory's
transfer page: one band of rows per axis (acceptability, relevance, effectiveness, systemic
effects, then the themes outside the four axes), the quantitative indicators of the axis's family
on the left (their latest published wave, or the whole follow-up), the themes the team coded for
that axis on the right (sessions in which each was coded, over every period, and by participant
type). Every number comes from the disclosed table: a theme coded in fewer sessions than the
threshold shows the suppression mark, like any small count.
"""

from __future__ import annotations

from typing import Any

from proximite.indicators.base import ALL
from proximite.indicators.qualitative import AXES, AXIS_FAMILY, PARTICIPANT_TYPE
from proximite.indicators.snapshot.html import AXES_TABLES, Cell, HtmlTable, PageBuilder, Row, by_wave, has_value, overall

__all__ = ["AXIS_INDICATORS", "joint_display"]

#: Effectiveness's headline indicators (its page block draws the scores by wave).
_EFFECTIVENESS = ("effectiveness.empowerment_change", "effectiveness.parental_stress_change")
#: The quantitative indicators shown for each axis: its family's table on the page (none for ``autre``).
AXIS_INDICATORS: dict[str, tuple[str, ...]] = {
    **{axis: AXES_TABLES.get(family, _EFFECTIVENESS) for axis, family in AXIS_FAMILY.items()},
    "autre": (),
}
SESSIONS_ID = "qualitative.sessions"
THEME_ID = "qualitative.theme_sessions"


def _latest(rows: Any, indicator: str) -> Row | None:
    """The row a reader compares: the last published wave, else the whole follow-up."""
    waves = by_wave(rows.rows(indicator))
    if waves:
        published = [wave for wave in waves if has_value(waves[wave])]
        return waves[max(published)] if published else waves[max(waves)]
    return overall(rows.rows(indicator))


def _themes(rows: Any, axis: str) -> list[Row]:
    """The axis's theme rows over every period: published first (most sessions first), then hidden."""
    found = [row for row in rows.rows(THEME_ID, breakdown=axis, breakdown_value=None) if row.get("period") == ALL]
    return sorted(found, key=lambda row: (not has_value(row), -(row.get("value") or 0), str(row["breakdown_value"])))


def _by_type(b: PageBuilder, rows: Any, theme: Row) -> str:
    """``Parent 10 · Gestionnaire 5``: the theme's sessions per participant type, published cells only."""
    parts = []
    for code in b.cb.codes("qual_participant_type"):
        found = rows.rows(THEME_ID, stratum=PARTICIPANT_TYPE, stratum_value=code, breakdown=theme["breakdown"],
                          breakdown_value=theme["breakdown_value"])
        row = next((r for r in found if r.get("period") == ALL), None)
        if has_value(row):
            parts.append(f"{b.code_label('qual_participant_type', code)} {b.fmt.value(row)}")
    return " · ".join(parts)


def _band(b: PageBuilder, rows: Any, axis: str) -> list[list[Cell]]:
    """The rows of one axis: indicator columns beside theme columns, as many rows as the longer side."""
    indicators = [(ind, _latest(rows, ind)) for ind in AXIS_INDICATORS[axis]]
    indicators = [(ind, row) for ind, row in indicators if row is not None]
    themes = _themes(rows, axis)
    if axis == "autre" and not themes:  # the four axes always show; "outside the axes" only when used
        return []
    band = []
    for index in range(max(len(indicators), len(themes), 1)):
        cells = [Cell(b.code_label("qual_axis", axis) if index == 0 else "", header=True)]
        if index < len(indicators):
            indicator, row = indicators[index]
            cells += [Cell(b.label(indicator)), b.value_cell(row), Cell(b.when(row))]
        else:
            cells += [Cell(""), Cell(""), Cell("")]
        if index < len(themes):
            theme = themes[index]
            cells += [Cell(str(theme["breakdown_value"])), b.value_cell(theme), Cell(_by_type(b, rows, theme))]
        else:
            cells += [Cell(b.text("joint_no_theme") if index == 0 else ""), Cell(""), Cell("")]
        band.append(cells)
    return band


def joint_display(b: PageBuilder, scope: tuple[str, str]) -> tuple[HtmlTable | None, str]:
    """The joint display of one scope and its note, or ``(None, "")`` when no session was analysed there.

    Parameters
    ----------
    b : PageBuilder
        The page builder of the transfer page's language.
    scope : tuple of str
        ``(kind, scope id)``.

    Returns
    -------
    (HtmlTable or None, str)
        The table (columns: axis, indicator, value, when, theme, sessions, by participant type)
        and the method note (sessions analysed, how themes are counted, the suppression mark).
    """
    rows = b.scopes.get(scope)
    sessions = [row for row in rows.rows(SESSIONS_ID) if row.get("period") == ALL] if rows else []
    if not sessions:
        return None, ""
    table_rows = [cells for axis in AXES for cells in _band(b, rows, axis)]
    columns = [b.text(key) for key in ("col_axis", "col_indicator", "col_value", "col_period", "col_theme",
                                       "col_sessions", "col_by_participant_type")]
    table = HtmlTable(b.text("joint_caption", scope=b.scope_name(*scope)), columns, table_rows)
    note = b.text("joint_note", sessions=b.fmt.value(sessions[0]), symbol=b.fmt.suppressed_symbol,
                  threshold=b.fmt.count(b.snapshot.threshold))
    return table, note
