"""A byte stream over a project XML that keeps the line breaks REDCap writes inside attribute values.

REDCap writes a value with ``htmlspecialchars``: quotes and ``&<>`` become entities, but a line
break stays a raw line break inside ``Value="…"``. An XML parser must normalise such an attribute
(XML 1.0, §3.3.3): each raw line break or tab becomes a space, so a notes field's two lines would
read back as one. :class:`AttributeBreaksEscaped` rewrites those raw characters as character
references (``&#10;``, ``&#13;``, ``&#9;``) while the parser reads, which the parser keeps as they
are; outside attribute values (text, comments, CDATA) nothing changes.
"""

from __future__ import annotations

import re
from typing import IO

__all__ = ["AttributeBreaksEscaped"]

_TEXT, _TAG, _COMMENT, _CDATA = "text", "tag", "comment", "cdata"
_BREAK_REFERENCES = {b"\n": b"&#10;", b"\r": b"&#13;", b"\t": b"&#9;"}
_TAG_STOP = re.compile(rb"[\"'>]")
_VALUE_STOP = {b'"': re.compile(rb'["\n\r\t]'), b"'": re.compile(rb"['\n\r\t]")}
_ENDS = {_COMMENT: b"-->", _CDATA: b"]]>"}
#: The longest marker that decides a state after ``<`` (``<![CDATA[``), less one.
_LOOKAHEAD = 8


class AttributeBreaksEscaped:
    """A read-only binary stream: ``source`` with raw breaks in attribute values as references.

    Parameters
    ----------
    source : binary file
        The project XML (UTF-8: every byte the scanner looks at is ASCII, so multi-byte
        characters pass through untouched).
    chunk_size : int, keyword-only
        Bytes read from ``source`` at a time.

    Notes
    -----
    A small state machine (text, tag, quoted value, comment, CDATA) runs over each chunk with
    regular-expression jumps, so its cost grows with the number of tags, not of bytes. Bytes
    that cannot be classified yet (a ``<`` at the end of a chunk) wait for the next chunk.
    """

    def __init__(self, source: IO[bytes], *, chunk_size: int = 1 << 20) -> None:
        self.source = source
        self.chunk_size = chunk_size
        self.state = _TEXT
        self.quote = b""
        self.pending = b""
        self.done = False

    def read(self, size: int = -1) -> bytes:
        """Up to ``size`` bytes of the rewritten stream (all of it when ``size`` < 0)."""
        if size is None or size < 0:
            parts = []
            while not self.done:
                parts.append(self._next_chunk())
            return b"".join(parts)
        out = b""
        while not out and not self.done:
            out = self._next_chunk(max(size, 1))
        return out

    def close(self) -> None:
        self.source.close()

    def __enter__(self) -> AttributeBreaksEscaped:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------------------ scanning
    def _next_chunk(self, size: int | None = None) -> bytes:
        data = self.source.read(size or self.chunk_size)
        if not data:
            self.done = True
            tail, self.pending = self.pending, b""
            return self._scan(tail, final=True)[0]
        data = self.pending + data
        out, self.pending = self._scan(data)
        return out

    def _scan(self, data: bytes, *, final: bool = False) -> tuple[bytes, bytes]:
        """The rewritten bytes of ``data`` it can decide now, and the bytes left for later."""
        out: list[bytes] = []
        position, end = 0, len(data)
        while position < end:
            if self.state == _TEXT:
                opening = data.find(b"<", position)
                if opening < 0:
                    out.append(data[position:])
                    return b"".join(out), b""
                if not final and end - opening <= _LOOKAHEAD:
                    out.append(data[position:opening])
                    return b"".join(out), data[opening:]
                self.state = _COMMENT if data.startswith(b"<!--", opening) else (
                    _CDATA if data.startswith(b"<![CDATA[", opening) else _TAG
                )
                out.append(data[position : opening + 1])
                position = opening + 1
            elif self.state in _ENDS:
                marker = _ENDS[self.state]
                closing = data.find(marker, position)
                if closing < 0:  # keep what could be the start of the marker
                    keep = end if final else max(position, end - len(marker) + 1)
                    out.append(data[position:keep])
                    return b"".join(out), data[keep:]
                out.append(data[position : closing + len(marker)])
                position, self.state = closing + len(marker), _TEXT
            elif self.quote:
                position = self._in_value(data, position, out)
            else:
                match = _TAG_STOP.search(data, position)
                if match is None:
                    out.append(data[position:])
                    return b"".join(out), b""
                out.append(data[position : match.end()])
                position = match.end()
                if match.group() == b">":
                    self.state = _TEXT
                else:
                    self.quote = match.group()
        return b"".join(out), b""

    def _in_value(self, data: bytes, position: int, out: list[bytes]) -> int:
        """Copy a quoted value from ``position``, breaks as references; the position after it."""
        stop = _VALUE_STOP[self.quote]
        while True:
            match = stop.search(data, position)
            if match is None:
                out.append(data[position:])
                return len(data)
            out.append(data[position : match.start()])
            found = match.group()
            if found == self.quote:
                out.append(found)
                self.quote = b""
                return match.end()
            out.append(_BREAK_REFERENCES[found])
            position = match.end()
