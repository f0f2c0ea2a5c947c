"""The watermark of a pull: the server's time when it began, and what the next incremental pull needs.

The HTTP ``Date`` header of a pull's first answer is its **watermark**: server time, taken
before any record is read. A good pull writes it into its staged directory
(:data:`WATERMARK_NAME`) with the project's structure fingerprint; the next pull is incremental
from there when the URL, the project and the structure are unchanged.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import hashlib
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from proximite.cohort.layers import latest_pull, staged_dir
from proximite.cohort.redcap.errors import RedcapPullError

if TYPE_CHECKING:  # pragma: no cover
    from proximite.config import Settings

__all__ = [
    "SOURCE",
    "WATERMARK_NAME",
    "Watermark",
    "iso_utc",
    "parse_server_date",
    "read_watermark",
    "server_clock",
    "server_timezone",
    "structure_fingerprint",
]

log = logging.getLogger(__name__)

#: The source's name in the data layers.
SOURCE = "redcap"
#: Written into each staged REDCap pull: the watermark and what the next incremental pull needs.
WATERMARK_NAME = "watermark.json"


def parse_server_date(value: str | None) -> dt.datetime | None:
    """An HTTP ``Date`` header (``Wed, 21 Jan 2026 06:00:00 GMT``) as an aware UTC datetime."""
    if not value:
        return None
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return moment.astimezone(dt.timezone.utc)


def structure_fingerprint(parts: Mapping[str, bytes | str]) -> str:
    """SHA-256 over the project's structure (dictionary, events, mapping, repeating, missing codes).

    When it differs from the previous pull's, an incremental pull becomes a full one: the
    previous staged rows were typed under another dictionary.
    """
    digest = hashlib.sha256()
    for name in sorted(parts):
        value = parts[name]
        data = value.encode("utf-8") if isinstance(value, str) else value
        digest.update(name.encode("utf-8") + b"\0" + hashlib.sha256(data.replace(b"\r\n", b"\n")).digest())
    return digest.hexdigest()


@dataclass(frozen=True)


class Watermark:
    """What a good pull leaves for the next incremental one (``watermark.json`` of a staged pull).

    Attributes
    ----------
    pull_id : str
    server_time : datetime
        The server's time when the pull began (its HTTP ``Date``), aware UTC.
    url : str
        The API URL (without credentials).
    project_id : str
    structure : str
        :func:`structure_fingerprint` of the project's structure.
    records : int
        Records in the staged state.
    """

    pull_id: str
    server_time: dt.datetime
    url: str
    project_id: str
    structure: str
    records: int

    def to_json(self, *, mode: str, previous_pull: str | None) -> dict[str, Any]:
        return {
            "pull_id": self.pull_id,
            "mode": mode,
            "watermark": iso_utc(self.server_time),
            "url": self.url,
            "project_id": self.project_id,
            "structure": self.structure,
            "records": self.records,
            "previous_pull": previous_pull,
        }


def iso_utc(moment: dt.datetime) -> str:
    """A moment as UTC ISO 8601 to the second (``2026-01-21T06:00:00Z``), as the watermark keeps it."""
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def read_watermark(settings: Settings, pull_id: str | None = None, *, source: str = SOURCE) -> Watermark | None:
    """The watermark of a staged REDCap pull (the latest by default), or None.

    None when there is no staged pull, or when it came from files (a REDCap export ingested
    with ``proximite ingest``), which have no watermark. ``source`` is the data layer: the
    cohort's (``redcap``) or a yearly questionnaire's (``partner_survey``, ``staff_survey``).
    """
    pull_id = pull_id or latest_pull(settings, source)
    if pull_id is None:
        return None
    path = staged_dir(settings, source, pull_id) / WATERMARK_NAME
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        moment = dt.datetime.strptime(data["watermark"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc)
        return Watermark(
            pull_id=str(data["pull_id"]), server_time=moment, url=str(data["url"]),
            project_id=str(data.get("project_id", "")), structure=str(data["structure"]), records=int(data.get("records", 0)),
        )
    except (ValueError, KeyError, TypeError):
        log.warning("staged REDCap pull %s: unreadable %s; the next pull is full", pull_id, WATERMARK_NAME)
        return None


def server_clock(moment: dt.datetime, *, timezone: str = "local") -> dt.datetime:
    """A UTC moment on the REDCap server's wall clock (naive), as ``dateRangeBegin`` expects it.

    Parameters
    ----------
    moment : datetime
        Aware (UTC from the HTTP ``Date`` header).
    timezone : str, keyword-only
        The server's IANA time zone (``America/Toronto``), or ``local`` for this machine's zone
        (``[redcap] server_timezone``).

    Raises
    ------
    RedcapPullError
        The zone is unknown.
    """
    if timezone in {"", "local"}:
        return moment.astimezone().replace(tzinfo=None)
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise RedcapPullError(f"[redcap] server_timezone: unknown time zone '{timezone}' (e.g. America/Toronto or local)") from None
    return moment.astimezone(zone).replace(tzinfo=None)


def server_timezone(settings: Settings) -> str:
    """``[redcap] server_timezone`` (REDCap compares ``dateRangeBegin`` with its own clock)."""
    return str(settings.raw.get("redcap", {}).get("server_timezone", "local") or "local")

