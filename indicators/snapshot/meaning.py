""""What this means": a short paragraph in plain words, generated from a scope's published numbers.

Three sentences, one per key indicator, each said only when its cells are published: how the mean
isolation index moved since first contact (and whether the CI of the change excludes 0), the
share of needs met, and how many partners were active in the referral network, each beside the
reference scope (the territory's region or Québec). A suppressed or missing cell is never
described: the sentence says that the figure cannot be published.
"""

from __future__ import annotations

from typing import Any

from proximite.indicators.snapshot.html import PageBuilder, by_wave, has_value, overall

__all__ = ["change_direction", "meaning_paragraph"]


def change_direction(row: dict[str, Any]) -> str:
    """``down``, ``up`` or ``unclear``: whether the change's CI lies below 0, above 0, or spans 0.

    Notes
    -----
    A change :math:`\\delta` with interval :math:`[l, h]` is a clear decrease when :math:`h < 0`,
    a clear increase when :math:`l > 0`; otherwise the data cannot tell it from no change. A
    change without interval is judged on its sign alone.
    """
    low, high, value = row.get("ci_low"), row.get("ci_high"), float(row["value"])
    if low is None or high is None:
        return "down" if value < 0 else ("up" if value > 0 else "unclear")
    if float(high) < 0:
        return "down"
    if float(low) > 0:
        return "up"
    return "unclear"


def _last_published(rows: Any, indicator: str) -> dict[str, Any] | None:
    waves = {wave: row for wave, row in by_wave(rows.rows(indicator)).items() if has_value(row)}
    return waves[max(waves)] if waves else None


def _isolation(b: PageBuilder, rows: Any, reference: Any) -> str:
    change = _last_published(rows, "isolation.change_from_baseline")
    if change is None:
        return b.text("meaning_isolation_hidden")
    sentence = b.text(
        f"meaning_isolation_{change_direction(change)}",
        wave=b.wave_label(int(change["wave"])),
        change=b.fmt.value(change),
        ci=b.fmt.ci(change, b.text("ci_range", low="{low}", high="{high}")),
    )
    other = _last_published(reference, "isolation.change_from_baseline") if reference else None
    if other is not None:
        sentence += " " + b.text("meaning_reference", value=b.fmt.value(other))
    return sentence


def _share_sentence(b: PageBuilder, rows: Any, reference: Any, *, indicator: str, key: str) -> str:
    row = overall(rows.rows(indicator))
    if not has_value(row):
        return b.text(f"{key}_hidden")
    sentence = b.text(key, value=b.fmt.value(row))
    other = overall(reference.rows(indicator)) if reference else None
    if has_value(other):
        sentence += " " + b.text("meaning_reference", value=b.fmt.value(other))
    return sentence


def meaning_paragraph(b: PageBuilder, key: tuple[str, str], *, reference: tuple[str, str] | None) -> str:
    """The paragraph for scope ``key`` beside ``reference`` (None: no comparison), in ``b``'s language."""
    rows = b.scopes.get(key)
    if not rows:
        return b.text("no_data")
    other = b.scopes.get(reference) if reference else None
    parts = [
        _isolation(b, rows, other),
        _share_sentence(b, rows, other, indicator="needs_offer.match_rate", key="meaning_needs"),
        _share_sentence(b, rows, other, indicator="concertation.active_partners", key="meaning_partners"),
    ]
    if other is not None:
        parts.append(b.text("meaning_reference_scope", scope=b.scope_name(*reference)))  # type: ignore[misc]
    return " ".join(parts)
