"""What a reader of a snapshot page sees: its text nodes, and the numbers not written their language's way.

A French page writes ``1 234,5`` and ``61,2 %`` (decimal comma, a narrow no-break space U+202F
between thousands and before ``%``); an English page writes ``1,234.5`` and ``61.2%``. These
helpers read the text nodes of a page (SVG ``<text>`` included, ``<style>`` left out) and list
every number that breaks its page's rule, with the text it is in.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from html.parser import HTMLParser

NNBSP = "\u202f"
NBSP = "\u00a0"

_FRENCH_FAULTS = (
    (re.compile(r"\d\.\d"), "decimal point"),
    (re.compile(r"\d(?:[ \u00a0]?)%"), "% without a narrow no-break space"),
    (re.compile(r"\d[ \u00a0,]\d{3}(?!\d)(?![,.]\d)"), "thousands not separated by a narrow no-break space"),
)
_ENGLISH_FAULTS = (
    (re.compile(r"(?<![\d,])\d{1,3},\d{1,2}(?!\d)"), "decimal comma"),
    (re.compile(r"\d[\u00a0\u202f]"), "French space after a digit"),
)


class _Texts(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.texts: list[str] = []
        self._style = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._style += tag == "style"

    def handle_endtag(self, tag: str) -> None:
        self._style -= tag == "style"

    def handle_data(self, data: str) -> None:
        if not self._style and data.strip():
            self.texts.append(data.strip())


def visible_texts(page: str) -> list[str]:
    """The text nodes of an HTML page, entities decoded (SVG text included, CSS left out)."""
    parser = _Texts()
    parser.feed(page)
    return parser.texts


def number_faults(page: str, lang: str, *, ignore: Iterable[str] = ()) -> list[str]:
    """Every text of ``page`` holding a number not written the ``lang`` way (``fault: text``).

    ``ignore`` lists strings that are not numbers to read (a code version ``0.1.0``, a build id)
    and are removed from the text first.
    """
    rules = _FRENCH_FAULTS if lang == "fr" else _ENGLISH_FAULTS
    faults = []
    for text in visible_texts(page):
        for word in ignore:
            text = text.replace(word, " ")
        faults.extend(f"{name}: {text[:160]}" for pattern, name in rules if pattern.search(text))
    return faults
