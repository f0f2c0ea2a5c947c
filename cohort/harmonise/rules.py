"""Harmonisation's parameters and vocabulary: dtypes, the forms, the settings' rules, the result."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

from proximite.errors import HarmoniseError

if TYPE_CHECKING:  # pragma: no cover
    from proximite.cohort.codebook import Codebook
    from proximite.config import Settings

__all__ = [
    "ASSESSMENT_FORM",
    "CHILD_FORM",
    "EXIT_FORM",
    "FAMILY_FORM",
    "NEED_FORM",
    "NONE_CODES",
    "NON_RECOURS",
    "CHECK_ONLY_TABLES",
    "PANDAS_DTYPES",
    "RECORD_PSEUDONYMS",
    "REFERENCE_TABLES",
    "REFERRAL_FORM",
    "RESOURCES",
    "THRESHOLD_TOLERANCE",
    "Harmonised",
    "HarmoniseRules",
    "record_count",
    "resolve_codebook",
    "row_count",
]


#: Model type → pandas dtype of a harmonised column.
PANDAS_DTYPES: dict[str, str] = {
    "string": "string",
    "int": "Int64",
    "float": "Float64",
    "date": "datetime64[ns]",
    "month": "string",
    "bool": "boolean",
}

#: REDCap forms and the tables they feed (the codebook's ``target`` keys say which field goes where).
FAMILY_FORM = "famille"
EXIT_FORM = "sortie"
ASSESSMENT_FORM = "suivi"
CHILD_FORM = "enfant"
NEED_FORM = "besoin"
REFERRAL_FORM = "reference"

#: Staged sources and the model tables copied from them column for column.
REFERENCE_TABLES = {
    "region": ("reference", "region"),
    "territory": ("reference", "territory"),
    "organisation": ("reference", "organisation"),
    "worker": ("registry", "worker"),
    "supervision": ("registry", "supervision"),
    "cost": ("cost", "cost"),
}

#: Record ids harmonisation turns into pseudonyms (HMAC-SHA256 with the project's key; never the
#: id itself), by source and staged column: the model columns that hold the pseudonyms. The
#: privacy inventory reads it; ``tests/unit/test_privacy_inventory.py`` changes a record id in a
#: staged input and checks that exactly these columns change.
RECORD_PSEUDONYMS: dict[str, dict[str, tuple[str, ...]]] = {
    "redcap": {
        "record_id": (
            "family.family_id", "child.child_id", "child.family_id", "assessment.family_id", "need.need_id",
            "need.family_id", "referral.referral_id", "referral.family_id",
        ),
    },
    "registry": {"family_record_id": ("activity.family_id",)},
    "partner_survey": {"record_id": ("partner_response.response_id", "partner_tie.response_id")},
    "staff_survey": {"record_id": ("staff_survey.respondent_id",)},
}

#: Staged tables harmonisation reads for its checks only (by source): none of their columns reaches
#: layer 03 (``qual_document``: every QDA source must be a session of the register).
CHECK_ONLY_TABLES: dict[str, tuple[str, ...]] = {"qual_coding": ("qual_document",)}

#: Checkbox codes that mean "none of these": ticking them is an answer, not a resource.
NONE_CODES = ("aucune",)

#: The derived dimension: it has no REDCap field of its own.
NON_RECOURS = "non_recours"
RESOURCES = "resources_used_3m"

#: Tolerance of the threshold comparison, so that 50 computed as 49.999999999 still counts.
THRESHOLD_TOLERANCE = 1e-9


@dataclass(frozen=True)
class HarmoniseRules:
    """Parameters of harmonisation, read from the settings (never the key).

    Attributes
    ----------
    project : str
        Project name, the public salt of the pseudonyms.
    id_length : int
        Hex characters kept in a pseudonymous id.
    event_waves : dict
        REDCap unique event name → wave (months after T0).
    dimensions : tuple of str
        The isolation dimensions (assessment columns), in index order.
    weights : dict
        Dimension → weight in the index.
    max_score : float
        Highest score of a dimension (3).
    min_answered : int
        Dimensions needed for the index to be computed.
    isolated_threshold : float
        Index at or above which a family is isolated.
    non_recours_bands : tuple of (int, int)
        ``(upper bound of resources used, score)``, ascending bounds.
    non_recours_above : int
        Score above the last band.
    """

    project: str
    id_length: int
    event_waves: Mapping[str, int]
    dimensions: tuple[str, ...]
    weights: Mapping[str, float]
    max_score: float
    min_answered: int
    isolated_threshold: float
    non_recours_bands: tuple[tuple[int, int], ...]
    non_recours_above: int

    @classmethod
    def from_settings(cls, settings: Settings) -> HarmoniseRules:
        """Rules from ``[project]``, ``[pseudonym]``, ``[waves.events]`` and ``[isolation]``."""
        isolation = settings["isolation"]
        dimensions = tuple(str(name) for name in isolation["dimensions"])
        weights = {str(name): float(value) for name, value in isolation.get("weights", {}).items()}
        missing = [name for name in dimensions if name not in weights]
        if missing:
            raise HarmoniseError(f"[isolation] weights: no weight for dimension(s) {', '.join(missing)}")
        return cls(
            project=settings.project_name,
            id_length=int(settings["pseudonym"].get("id_length", 16)),
            event_waves=dict(settings.event_waves),
            dimensions=dimensions,
            weights=weights,
            max_score=float(isolation["max_score"]),
            min_answered=int(isolation["min_answered"]),
            isolated_threshold=float(isolation["isolated_threshold"]),
            non_recours_bands=tuple((int(upper), int(score)) for upper, score in isolation["non_recours_bands"]),
            non_recours_above=int(isolation["non_recours_above"]),
        )


class Harmonised(dict):  # type: ignore[type-arg]
    """``{table: frame}`` as :func:`harmonise` returns it, plus counts of what was set aside.

    Attributes
    ----------
    counts : dict of str to int
        Counts only (never values), e.g. ``activity_rows_unknown_family``.
    """

    def __init__(self, tables: Mapping[str, pd.DataFrame], counts: Mapping[str, int]) -> None:
        super().__init__(tables)
        self.counts: dict[str, int] = dict(counts)


def resolve_codebook(codebook: Codebook | None) -> Codebook:
    """The codebook given, or the packaged one (:func:`~proximite.cohort.codebook.load_codebook`)."""
    if codebook is not None:
        return codebook
    from proximite.cohort.codebook import load_codebook

    return load_codebook()


def row_count(count: int) -> str:
    """``1 row`` or ``n rows``, for messages."""
    return f"{count} row" if count == 1 else f"{count} rows"


def record_count(count: int) -> str:
    """``1 record`` or ``n records``, for messages."""
    return f"{count} record" if count == 1 else f"{count} records"
