"""Numbers as a reader of each language expects them, and the display of one indicator cell.

French: decimal comma, a narrow no-break space (U+202F) between thousands and before ``%``
(``1 234,5``, ``61,2 %``), a no-break space (U+00A0) before ``$`` (``1 234 $``), as the
French typographic rule and Unicode CLDR's ``fr`` locale write them. English: decimal point, comma
between thousands, ``%`` attached (``1,234.5``, ``61.2%``). Negative numbers take the minus sign
U+2212.

Every page of the snapshot (index, overview, regions, territories, glossary, economics,
follow-ups) and every generated sentence ("what this means") writes its numbers through these
functions: a number is never put into a page with ``str()`` or an f-string format.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import pandas as pd

__all__ = ["NBSP", "NNBSP", "MINUS", "Formatter", "format_datetime", "format_money", "format_number", "format_percent", "is_missing"]

#: No-break space: before a currency symbol or code in French.
NBSP = "\u00a0"
#: Narrow no-break space: the French thousands separator and the space before ``%``.
NNBSP = "\u202f"
MINUS = "\u2212"

#: Decimals shown per indicator unit (``share`` is shown in percent).
UNIT_DECIMALS: dict[str, int] = {
    "count": 0,
    "share": 1,
    "mean": 1,
    "points": 1,
    "days": 0,
    "hours": 0,
    "ratio": 2,
    "rate": 2,
}


def is_missing(value: Any) -> bool:
    """True for None, NaN, NA and NaT."""
    if value is None:
        return True
    if isinstance(value, float):
        return value != value  # NaN; the common case, without pandas' dispatch
    if isinstance(value, (int, str)):
        return False
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def format_number(value: float, *, decimals: int = 0, lang: str = "fr", signed: bool = False) -> str:
    """``value`` with ``decimals`` decimals in the conventions of ``lang``.

    Examples
    --------
    >>> format_number(12345.678, decimals=1, lang="fr")
    '12\\u202f345,7'
    >>> format_number(12345.678, decimals=1, lang="en")
    '12,345.7'
    """
    number = float(value)
    rounded = round(number, decimals)
    if rounded == 0:
        rounded = 0.0  # no "-0"
    text = f"{abs(rounded):,.{decimals}f}"
    if lang == "fr":
        text = text.replace(",", NNBSP).replace(".", ",")
    if rounded < 0:
        text = MINUS + text
    elif signed and rounded > 0:
        text = "+" + text
    return text


def format_percent(share: float, *, decimals: int = 1, lang: str = "fr") -> str:
    """A share in [0, 1] as a percentage: ``61,2 %`` (fr, narrow no-break space) or ``61.2%`` (en).

    Examples
    --------
    >>> format_percent(0.6112, lang="fr")
    '61,1\\u202f%'
    >>> format_percent(0.6112, lang="en")
    '61.1%'
    """
    text = format_number(100 * float(share), decimals=decimals, lang=lang)
    return f"{text}{NNBSP}%" if lang == "fr" else f"{text}%"


def format_money(value: float, *, decimals: int = 0, lang: str = "fr", currency: str = "CAD") -> str:
    """An amount of Canadian dollars: ``1 234 567 $`` (fr) or ``$1,234,567`` (en).

    In French the thousands are separated by narrow no-break spaces and the ``$`` follows a
    no-break space.

    Negative amounts take the minus sign U+2212 in front (``−1 234 $``, ``−$1,234``). A currency
    other than CAD is written as its code after the number in both languages.

    Examples
    --------
    >>> format_money(1234567.4, lang="fr")
    '1\\u202f234\\u202f567\\xa0$'
    >>> format_money(-1234.5, decimals=2, lang="en")
    '−$1,234.50'
    """
    text = format_number(value, decimals=decimals, lang=lang)
    sign = ""
    if text.startswith(MINUS):
        sign, text = MINUS, text[1:]
    if currency != "CAD":
        return f"{sign}{text}{NBSP}{currency}"
    return f"{sign}{text}{NBSP}$" if lang == "fr" else f"{sign}${text}"


class Formatter:
    """Formats the cells of an indicator table in one language, with the page's symbols.

    Parameters
    ----------
    lang : str
    suppressed_symbol, missing_symbol : str
        What a suppressed cell and a cell without value show.
    """

    def __init__(self, lang: str, *, suppressed_symbol: str = "x", missing_symbol: str = "–") -> None:
        self.lang = lang
        self.suppressed_symbol = suppressed_symbol
        self.missing_symbol = missing_symbol

    def number(self, value: Any, *, unit: str = "count", signed: bool = False) -> str:
        """One number of ``unit`` (or the missing symbol)."""
        if is_missing(value):
            return self.missing_symbol
        if unit == "share":
            return format_percent(float(value), lang=self.lang)
        decimals = UNIT_DECIMALS.get(unit, 1)
        if unit == "hours" and abs(float(value)) < 10:
            decimals = 1  # supervision hours per month: 3.5 h, not 4
        return format_number(float(value), decimals=decimals, lang=self.lang, signed=signed or unit == "points")

    def count(self, value: Any) -> str:
        return self.number(value, unit="count")

    def value(self, row: Mapping[str, Any] | None) -> str:
        """The value of an indicator row, the suppressed symbol, or the missing symbol."""
        if row is None:
            return self.missing_symbol
        if bool(row.get("suppressed", False)):
            return self.suppressed_symbol
        return self.number(row.get("value"), unit=str(row.get("unit", "count")))

    def bound(self, row: Mapping[str, Any], column: str) -> str:
        if bool(row.get("suppressed", False)):
            return self.suppressed_symbol
        unit = str(row.get("unit", "count"))
        value = row.get(column)
        if is_missing(value):
            return self.missing_symbol
        if unit == "share":
            return format_percent(float(value), lang=self.lang)
        # A count's interval (Poisson, or a mean count) keeps one decimal; other units as their value.
        decimals = 1 if unit == "count" else UNIT_DECIMALS.get(unit, 1)
        if unit == "hours" and abs(float(value)) < 10:
            decimals = 1
        return format_number(float(value), decimals=decimals, lang=self.lang, signed=unit == "points")

    def ci(self, row: Mapping[str, Any] | None, frame: str) -> str:
        """``low à high`` (through ``frame``, the language's ``{low} … {high}``), or a symbol."""
        if row is None:
            return self.missing_symbol
        if bool(row.get("suppressed", False)):
            return self.suppressed_symbol
        low, high = row.get("ci_low"), row.get("ci_high")
        if is_missing(low) or is_missing(high):
            return self.missing_symbol
        return frame.format(low=self.bound(row, "ci_low"), high=self.bound(row, "ci_high"))

    def n(self, row: Mapping[str, Any] | None) -> str:
        if row is None:
            return self.missing_symbol
        if bool(row.get("suppressed", False)):
            return self.suppressed_symbol
        return self.count(row.get("n"))

    def tick(self, value: float, *, unit: str) -> str:
        """An axis tick: shares in percent without decimals, other numbers as short as they go."""
        if unit == "share":
            return format_percent(value, decimals=0, lang=self.lang)
        decimals = 0 if float(value).is_integer() else (1 if abs(value) >= 1 else 2)
        if math.isfinite(value) and abs(value) >= 10:
            decimals = 0
        return format_number(value, decimals=decimals, lang=self.lang)


#: The research's time zone: every time a reader sees is Québec's local time.
LOCAL_ZONE = "America/Montreal"


def format_datetime(moment: Any) -> str:
    """ISO 8601 date and minute in Québec's local time (America/Montreal) with its UTC offset.

    ``2025-11-21 14:24 UTC−05:00`` in both languages; a moment without time zone is taken as
    already local.
    """
    from zoneinfo import ZoneInfo

    if getattr(moment, "tzinfo", None) is not None:
        moment = moment.astimezone(ZoneInfo(LOCAL_ZONE))
    offset = moment.strftime("%z")
    zone = f"UTC{offset[0].replace('-', chr(0x2212))}{offset[1:3]}:{offset[3:5]}" if offset else ""
    return f"{moment.strftime('%Y-%m-%d %H:%M')} {zone}".strip()
