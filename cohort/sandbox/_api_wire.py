"""The REDCap API on the wire: form-encoded requests in, CSV / JSON / XML bodies and errors out.

REDCap takes every parameter as a form field of a POST. Lists arrive two ways and both are
accepted: ``fields[0]=a&fields[1]=b`` (PyCap, PHP style) and ``fields=a,b`` (REDCapR). Flags are
``true``/``True``/``1``. Errors are written in the format that ``returnFormat`` asks for, else
``format``, else XML, as REDCap does:

=======  ===================================================================
format   error body
=======  ===================================================================
json     ``{"error":"<message>"}``
csv      ``ERROR: <message>``
xml      ``<?xml version="1.0" encoding="UTF-8" ?><hash><error><message></error></hash>``
=======  ===================================================================
"""

from __future__ import annotations

import email.parser
import email.policy
import io
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape

import pandas as pd

__all__ = [
    "ApiRequest",
    "ApiResponse",
    "ApiError",
    "parse_request",
    "error_format",
    "error_body",
    "render_table",
    "render_object",
    "render_text",
    "FORMATS",
]

#: Formats the sandbox writes (REDCap's ``odm`` is not served).
FORMATS = ("json", "csv", "xml")
#: Parameters that hold a list (``name[i]=value`` or ``name=a,b``).
LIST_PARAMETERS = frozenset({"records", "fields", "forms", "events", "arms", "dags"})
#: Content types of the bodies.
CONTENT_TYPES = {
    "json": "application/json; charset=utf-8",
    "csv": "text/csv; charset=utf-8",
    "xml": "text/xml; charset=utf-8",
    "text": "text/plain; charset=utf-8",
    "html": "text/html; charset=utf-8",
}
_INDEXED = re.compile(r"^(?P<name>[A-Za-z_]+)\[(?P<index>\d*)\]$")
_TRUE = frozenset({"true", "1"})


class ApiError(Exception):
    """An answer REDCap gives as an error: an HTTP status and REDCap's message.

    Parameters
    ----------
    status : int
        HTTP status (400 bad request, 403 forbidden, 501 not implemented ...).
    message : str
        REDCap's message, without the ``ERROR:`` prefix (added for CSV bodies).
    """

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class ApiRequest:
    """The parameters of one API request.

    Attributes
    ----------
    scalars : mapping
        Single-valued parameters (the last one wins when a name repeats).
    lists : mapping
        List parameters (:data:`LIST_PARAMETERS`), in index order, comma lists split.
    """

    scalars: Mapping[str, str] = field(default_factory=dict)
    lists: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def get(self, name: str, default: str = "") -> str:
        """A scalar parameter, stripped; ``default`` when absent."""
        value = self.scalars.get(name)
        return default if value is None else value.strip()

    def raw(self, name: str) -> str | None:
        """A scalar parameter exactly as sent (``data`` keeps its whitespace), None when absent."""
        return self.scalars.get(name)

    def flag(self, name: str) -> bool:
        """A REDCap flag: ``true``, ``True`` or ``1`` (any case) is true, anything else false."""
        return self.get(name).lower() in _TRUE

    def list(self, name: str) -> list[str]:
        """A list parameter (empty when absent), blanks dropped."""
        return [value for value in self.lists.get(name, ()) if value]

    def has(self, name: str) -> bool:
        return name in self.scalars or name in self.lists


@dataclass(frozen=True)
class ApiResponse:
    """An HTTP answer: status, body and content type."""

    status: int
    body: bytes
    content_type: str


def parse_request(body: bytes, content_type: str = "") -> ApiRequest:
    """Parse a POST body (``application/x-www-form-urlencoded`` or ``multipart/form-data``).

    Raises
    ------
    ApiError
        The body is not valid UTF-8 form data.
    """
    try:
        if content_type.lower().startswith("multipart/form-data"):
            pairs = _multipart_pairs(body, content_type)
        else:
            pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except (UnicodeDecodeError, ValueError):
        raise ApiError(400, "The request body could not be read as form data (UTF-8)") from None
    scalars: dict[str, str] = {}
    indexed: dict[str, list[tuple[int, int, str]]] = {}
    for position, (key, value) in enumerate(pairs):
        match = _INDEXED.match(key)
        if match:
            # records[3]=x: ordered by index; records[]=x: by arrival.
            index = int(match["index"]) if match["index"] else position
            indexed.setdefault(match["name"], []).append((index, position, value.strip()))
        elif key in LIST_PARAMETERS:
            for offset, part in enumerate(value.split(",")):
                indexed.setdefault(key, []).append((position, offset, part.strip()))
        else:
            scalars[key] = value
    lists = {name: tuple(value for _, _, value in sorted(items)) for name, items in indexed.items()}
    return ApiRequest(scalars=scalars, lists=lists)


def _multipart_pairs(body: bytes, content_type: str) -> list[tuple[str, str]]:
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1")
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    pairs = []
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if name is None:
            continue
        payload = part.get_payload(decode=True) or b""
        pairs.append((str(name), payload.decode("utf-8")))
    return pairs


def error_format(request: ApiRequest) -> str:
    """The format of an error body: ``returnFormat``, else ``format``, else XML (REDCap's rule)."""
    for name in ("returnFormat", "format"):
        value = request.get(name).lower()
        if value in FORMATS:
            return value
    return "xml"


def error_body(message: str, fmt: str) -> tuple[bytes, str]:
    """An error message as REDCap writes it in ``fmt``; returns (body, content type)."""
    if fmt == "json":
        return json.dumps({"error": message}, ensure_ascii=False).encode("utf-8"), CONTENT_TYPES["json"]
    if fmt == "csv":
        return f"ERROR: {message}".encode(), CONTENT_TYPES["csv"]
    text = f'<?xml version="1.0" encoding="UTF-8" ?><hash><error>{escape(message)}</error></hash>'
    return text.encode("utf-8"), CONTENT_TYPES["xml"]


def _delimiter(name: str) -> str:
    """REDCap's ``csvDelimiter`` values (``tab`` spelled out)."""
    choices = {"": ",", ",": ",", "tab": "\t", "\t": "\t", ";": ";", "|": "|", "^": "^"}
    if name not in choices:
        raise ApiError(400, f"The value of the parameter 'csvDelimiter' is not valid: '{name}'")
    return choices[name]


def render_table(
    frame: pd.DataFrame,
    fmt: str,
    *,
    delimiter: str = "",
    integer_columns: Iterable[str] = (),
    headers: Sequence[str] | None = None,
) -> ApiResponse:
    """A table as REDCap exports it.

    Parameters
    ----------
    frame : DataFrame
        Strings only (``""`` when missing).
    fmt : {"json", "csv", "xml"}
        Output format.
    delimiter : str, keyword-only
        ``csvDelimiter`` (CSV only): ``,`` (default), ``tab``, ``;``, ``|``, ``^``.
    integer_columns : iterable of str, keyword-only
        Columns REDCap writes as JSON numbers (``arm_num``, ``data_access_group_id`` ...); their
        digit strings become numbers, other cells stay strings.
    headers : sequence of str, optional, keyword-only
        CSV header row to write instead of the column names (``rawOrLabelHeaders=label``).
    """
    if fmt == "csv":
        buffer = io.StringIO()
        frame.to_csv(
            buffer, index=False, sep=_delimiter(delimiter), lineterminator="\n", header=list(headers or frame.columns)
        )
        return ApiResponse(200, buffer.getvalue().encode("utf-8"), CONTENT_TYPES["csv"])
    if fmt == "json":
        numeric = [column for column in integer_columns if column in frame.columns]
        if not numeric:
            # pandas' writer is the fast path for large record exports; strings stay strings.
            text = frame.to_json(orient="records", force_ascii=False) if len(frame) else "[]"
            return ApiResponse(200, text.encode("utf-8"), CONTENT_TYPES["json"])
        rows = frame.to_dict(orient="records")
        for row in rows:
            for column in numeric:
                row[column] = _as_number(row[column])
        return ApiResponse(200, json.dumps(rows, ensure_ascii=False).encode("utf-8"), CONTENT_TYPES["json"])
    if fmt == "xml":
        return ApiResponse(200, _xml_records(frame).encode("utf-8"), CONTENT_TYPES["xml"])
    raise ApiError(400, "The value of the parameter 'format' is not valid")


def render_object(values: Mapping[str, Any], fmt: str, *, root: str = "project") -> ApiResponse:
    """One object (``content=project``): a JSON object, a one-row CSV, or ``<project>`` XML."""
    if fmt == "json":
        return ApiResponse(200, json.dumps(dict(values), ensure_ascii=False).encode("utf-8"), CONTENT_TYPES["json"])
    if fmt == "csv":
        frame = pd.DataFrame([{key: "" if value is None else str(value) for key, value in values.items()}])
        return render_table(frame, "csv")
    if fmt == "xml":
        cells = "".join(f"<{key}>{_cdata(value)}</{key}>" for key, value in values.items())
        text = f'<?xml version="1.0" encoding="UTF-8" ?>\n<{root}>{cells}</{root}>\n'
        return ApiResponse(200, text.encode("utf-8"), CONTENT_TYPES["xml"])
    raise ApiError(400, "The value of the parameter 'format' is not valid")


def render_text(text: str, *, content_type: str = CONTENT_TYPES["text"]) -> ApiResponse:
    return ApiResponse(200, text.encode("utf-8"), content_type)


def _as_number(value: Any) -> Any:
    text = str(value)
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    return value


def _cdata(value: Any) -> str:
    text = "" if value is None else str(value)
    if not text:
        return ""
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def _xml_records(frame: pd.DataFrame) -> str:
    columns = [str(column) for column in frame.columns]
    parts = ['<?xml version="1.0" encoding="UTF-8" ?>\n<records>\n']
    for row in frame.itertuples(index=False, name=None):
        cells = "".join(f"<{name}>{_cdata(value)}</{name}>" for name, value in zip(columns, row, strict=True))
        parts.append(f"<item>{cells}</item>\n")
    parts.append("</records>\n")
    return "".join(parts)
