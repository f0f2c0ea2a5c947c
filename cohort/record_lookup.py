"""From a family's pseudonym back to its REDCap record id, for the coordinator's own outputs.

``family_id = HMAC-SHA256(key, project + record_id)`` (:mod:`proximite.cohort.pseudonym`) cannot be
reversed without the key; with it, hashing every record id of the latest staged REDCap pull gives
the table from pseudonym to record. Coordinators see record ids in REDCap anyway, so their own
outputs (refusal reports, follow-ups due, the internal follow-up page, ``proximite lookup``) put
the record id beside the pseudonym; public and decision-maker outputs never call this module.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

from proximite.cohort.layers import latest_pull, staged_dir
from proximite.cohort.pseudonym import pseudonymise

if TYPE_CHECKING:  # pragma: no cover
    from proximite.config import Settings

__all__ = [
    "REDCAP",
    "RecordIds",
    "lookup_records",
    "record_ids_by_pseudonym",
    "record_ids_for",
    "staged_record_ids",
]

REDCAP = "redcap"


def staged_record_ids(settings: Settings, *, pull_id: str | None = None) -> pd.Series:
    """Every distinct REDCap record id of a staged pull (the latest by default); empty when there is none."""
    pull_id = pull_id or latest_pull(settings, REDCAP)
    if pull_id is None:
        return pd.Series([], dtype="string", name="record_id")
    ids: list[pd.Series] = []
    for path in sorted(staged_dir(settings, REDCAP, pull_id).glob("*.parquet")):
        frame = pd.read_parquet(path, columns=["record_id"]) if _has_record_id(path) else None
        if frame is not None:
            ids.append(frame["record_id"].dropna().astype("string"))
    if not ids:
        return pd.Series([], dtype="string", name="record_id")
    return pd.Series(pd.concat(ids).unique(), dtype="string", name="record_id")


def _has_record_id(path: object) -> bool:
    import pyarrow.parquet as pq

    return "record_id" in pq.read_schema(path).names


def record_ids_by_pseudonym(
    settings: Settings, *, key: bytes | None = None, pull_id: str | None = None
) -> dict[str, str]:
    """``{family_id: record_id}`` for every record of the latest staged REDCap pull.

    Parameters
    ----------
    settings : Settings
        The project name (the pseudonyms' salt), ``[pseudonym] id_length`` and the data folder.
    key : bytes, optional, keyword-only
        The pseudonym key (default: :func:`proximite.config.pseudonym_key`, which raises a
        ``ConfigError`` naming where it looked when there is none).
    pull_id : str, optional, keyword-only
        A staged pull other than ``LATEST``.

    Notes
    -----
    .. math:: \\mathrm{family\\_id}(r) = \\mathrm{hex}\\big(\\mathrm{HMAC\\text{-}SHA256}(key,\\ project \\Vert r)\\big)_{[0:length]}

    for each record id :math:`r` of the pull; the map is its inverse.
    """
    if key is None:
        from proximite.config import pseudonym_key

        key, _ = pseudonym_key(settings)
    records = staged_record_ids(settings, pull_id=pull_id)
    if records.empty:
        return {}
    length = int(settings["pseudonym"].get("id_length", 16))
    families = pseudonymise(records, key=key, project=settings.project_name, length=length)
    return dict(zip(families.tolist(), records.tolist(), strict=True))


def lookup_records(family_ids: Iterable[str], by_pseudonym: Mapping[str, str]) -> dict[str, str | None]:
    """Each asked family id with its record id (None when no record of the pull hashes to it)."""
    return {str(family).strip(): by_pseudonym.get(str(family).strip()) for family in family_ids}


@dataclass(frozen=True)
class RecordIds:
    """The REDCap record id of each family asked, and why some could not be given.

    Attributes
    ----------
    record_id : Series
        Aligned with the family ids asked (same index); missing (``<NA>``) where no record id
        could be given.
    reason : str or None
        ``None`` when every family was found; ``"no_key"`` (no pseudonym key: none can be
        resolved), ``"no_pull"`` (no staged REDCap pull to hash) or ``"not_found"`` (some
        families hash to no record of the latest pull: another source, another key, a record
        deleted since).
    detail : str
        For ``no_key``, the configuration error (where the key was looked for, never the key).
    """

    record_id: pd.Series
    reason: str | None = None
    detail: str = ""

    @property
    def missing(self) -> int:
        """How many families have no record id."""
        return int(self.record_id.isna().sum())


def record_ids_for(settings: Settings, family_ids: pd.Series, *, key: bytes | None = None) -> RecordIds:
    """The REDCap record id beside each pseudonymous family id, for a coordinator's own output.

    Parameters
    ----------
    settings : Settings
    family_ids : Series
        Pseudonymous family ids (not modified).
    key : bytes, optional, keyword-only
        The pseudonym key (default: the project's, as :func:`record_ids_by_pseudonym` finds it).

    Returns
    -------
    RecordIds
        Never raises for a missing key or pull: the column is then empty and ``reason`` says why,
        so the output is still written and says once why the cells are empty.
    """
    from proximite.config import ConfigError

    empty = pd.Series(pd.NA, index=family_ids.index, dtype="string", name="record_id")
    if latest_pull(settings, REDCAP) is None:
        return RecordIds(empty, reason="no_pull" if len(family_ids) else None)
    try:
        by_pseudonym = record_ids_by_pseudonym(settings, key=key)
    except ConfigError as error:
        return RecordIds(empty, reason="no_key" if len(family_ids) else None, detail=str(error))
    found = family_ids.astype("string").map(by_pseudonym).astype("string").rename("record_id")
    return RecordIds(found, reason="not_found" if found.isna().any() else None)
