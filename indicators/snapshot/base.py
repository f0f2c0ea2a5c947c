"""What every snapshot format shares: the context of a snapshot, its scope, the format contract.

A snapshot format (HTML page, CSV, JSON ...) is an object with a ``name`` and
``write(table, out_dir, *, context) -> list[Path]``: it writes its files for an indicator table
that disclosure control has already been applied to (:func:`proximite.indicators.disclosure.apply_disclosure`)
and that :func:`select_scope` has cut to the snapshot's scope, and returns the paths it wrote.
The registry of formats is :data:`proximite.indicators.snapshot.FORMATS`.

Nothing here writes files; :func:`proximite.indicators.snapshot.write_snapshot` does.
"""

from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from proximite.errors import ProximiteError
from proximite.indicators.base import QUEBEC

if TYPE_CHECKING:  # pragma: no cover
    from proximite.cohort.codebook import Codebook

__all__ = [
    "LANGUAGES",
    "LEVELS",
    "FormatContext",
    "Scope",
    "SnapshotContext",
    "SnapshotError",
    "SnapshotFormat",
    "check_scope",
    "parse_scope",
    "scope_territories",
    "select_scope",
]

LANGUAGES: tuple[str, ...] = ("fr", "en")
LEVELS: tuple[str, ...] = ("public", "internal")


class SnapshotError(ProximiteError, ValueError):
    """A snapshot cannot be written as asked (unknown scope, language, level or format)."""


# ---------------------------------------------------------------------------- scope
@dataclass(frozen=True)
class Scope:
    """What a snapshot covers: all of Québec, one region (and its territories), or one territory.

    Attributes
    ----------
    kind : str
        ``quebec``, ``region`` or ``territory``.
    id : str
        ``QC``, a region code (``06``) or a territory id.
    """

    kind: str = "quebec"
    id: str = QUEBEC

    def __str__(self) -> str:
        return "quebec" if self.kind == "quebec" else f"{self.kind}:{self.id}"


def parse_scope(text: str | Scope) -> Scope:
    """Parse ``quebec``, ``region:<code>`` or ``territory:<id>``.

    Raises
    ------
    SnapshotError
        Any other form.
    """
    if isinstance(text, Scope):
        return text
    value = str(text).strip()
    if value.lower() in {"quebec", "québec", "qc"}:
        return Scope()
    kind, _, ident = value.partition(":")
    kind = kind.strip().lower()
    if kind in {"region", "territory"} and ident.strip():
        return Scope(kind, ident.strip())
    raise SnapshotError(f"scope must be quebec, region:<code> or territory:<id>, not {value!r}")


def select_scope(table: pd.DataFrame, scope: Scope | str, *, territory: pd.DataFrame) -> pd.DataFrame:
    """The rows of an indicator table that a snapshot of ``scope`` shows (a new frame).

    Parameters
    ----------
    table : DataFrame
        An indicator table (disclosed or not).
    scope : Scope or str
        ``quebec`` keeps every row; ``region:<code>`` keeps the region's rows (every stratum) and
        its territories' rows; ``territory:<id>`` keeps that territory's rows.
    territory : DataFrame, keyword-only
        The harmonised territory table (which territory lies in which region).

    Raises
    ------
    SnapshotError
        The region or territory is not in the territory table.
    """
    scope = check_scope(scope, territory=territory)
    if scope.kind == "quebec":
        return table.reset_index(drop=True).copy()
    regions = territory["region_code"].astype(str)
    territories = territory["territory_id"].astype(str)
    if scope.kind == "region":
        members = set(territories[regions == scope.id])
        keep = ((table["scope"] == "region") & (table["scope_id"] == scope.id)) | (
            (table["scope"] == "territory") & table["scope_id"].isin(members)
        )
    else:
        keep = (table["scope"] == "territory") & (table["scope_id"] == scope.id)
    return table.loc[keep.fillna(False).astype(bool)].reset_index(drop=True)


def scope_territories(scope: Scope | str, *, territory: pd.DataFrame) -> list[str] | None:
    """The territory ids a scope covers: None for Québec (every territory), else a sorted list.

    Raises
    ------
    SnapshotError
        A malformed scope, or a region or territory the territory table does not have.
    """
    scope = check_scope(scope, territory=territory)
    if scope.kind == "quebec":
        return None
    if scope.kind == "territory":
        return [scope.id]
    members = territory.loc[territory["region_code"].astype(str) == scope.id, "territory_id"]
    return sorted(members.astype(str))


def check_scope(scope: Scope | str, *, territory: pd.DataFrame) -> Scope:
    """The parsed scope, once its region or territory is known to the territory table.

    Raises
    ------
    SnapshotError
        A malformed scope, or a region or territory the territory table does not have.
    """
    scope = parse_scope(scope)
    if scope.kind == "region":
        regions = set(territory["region_code"].astype(str))
        if scope.id not in regions:
            raise SnapshotError(f"no territory lies in region {scope.id!r} (regions: {', '.join(sorted(regions))})")
    elif scope.kind == "territory" and scope.id not in set(territory["territory_id"].astype(str)):
        raise SnapshotError(f"no territory {scope.id!r} in the territory table")
    return scope


# ---------------------------------------------------------------------------- context
def _now() -> dt.datetime:
    return dt.datetime.now().astimezone()


@dataclass(frozen=True)
class SnapshotContext:
    """What a snapshot states about itself: language, level, scope, data and code versions.

    Attributes
    ----------
    lang : str
        Language of ``index.html`` (``fr`` by default); every language of ``languages`` is
        written, the others as ``index.<lang>.html``.
    level : str
        Disclosure level, ``public`` (suppressed and rounded) or ``internal`` (suppressed only).
    scope : str
        ``quebec``, ``region:<code>`` or ``territory:<id>``.
    threshold, rounding_base : int
        The disclosure rule's parameters.
    build_id : str or None
        The warehouse build the indicators were computed from (the data version).
    code_version : str
    generated_at : datetime
        Timezone-aware.
    parameters : mapping
        The indicator parameters (:meth:`IndicatorParameters.to_dict`).
    languages : tuple of str
        Languages of the pages written.
    """

    lang: str = "fr"
    level: str = "public"
    scope: str = "quebec"
    threshold: int = 5
    rounding_base: int = 5
    build_id: str | None = None
    code_version: str = ""
    generated_at: dt.datetime = field(default_factory=_now)
    parameters: Mapping[str, Any] = field(default_factory=dict)
    languages: tuple[str, ...] = LANGUAGES

    def __post_init__(self) -> None:
        if self.lang not in LANGUAGES:
            raise SnapshotError(f"language must be one of {', '.join(LANGUAGES)}, not {self.lang!r}")
        if self.level not in LEVELS:
            raise SnapshotError(f"disclosure level must be one of {', '.join(LEVELS)}, not {self.level!r}")
        unknown = set(self.languages) - set(LANGUAGES)
        if unknown:
            raise SnapshotError(f"unknown language(s) {sorted(unknown)}")
        if self.lang not in self.languages:
            object.__setattr__(self, "languages", (self.lang, *self.languages))
        object.__setattr__(self, "scope", str(parse_scope(self.scope)))
        if self.generated_at.tzinfo is None:
            object.__setattr__(self, "generated_at", self.generated_at.astimezone())

    @classmethod
    def coerce(cls, context: SnapshotContext | Mapping[str, Any] | None) -> SnapshotContext:
        """A context from itself, a mapping of its fields (unknown keys refused), or None (defaults)."""
        if context is None:
            return cls()
        if isinstance(context, SnapshotContext):
            return context
        names = {item.name for item in fields(cls)}
        unknown = set(context) - names
        if unknown:
            raise SnapshotError(f"unknown snapshot context key(s) {sorted(unknown)}; allowed: {', '.join(sorted(names))}")
        values = dict(context)
        if "languages" in values:
            values["languages"] = tuple(values["languages"])
        if isinstance(values.get("generated_at"), str):
            values["generated_at"] = dt.datetime.fromisoformat(values["generated_at"])
        return cls(**values)

    def with_lang(self, lang: str) -> SnapshotContext:
        """The same context in another language."""
        return replace(self, lang=lang)

    @property
    def scope_obj(self) -> Scope:
        return parse_scope(self.scope)

    def page_name(self, lang: str) -> str:
        """File name of the page in ``lang``: ``index.html`` for :attr:`lang`, else ``index.<lang>.html``."""
        return "index.html" if lang == self.lang else f"index.{lang}.html"

    def to_dict(self) -> dict[str, Any]:
        """Plain-Python form (for the manifest)."""
        return {
            "lang": self.lang,
            "languages": list(self.languages),
            "level": self.level,
            "scope": self.scope,
            "threshold": self.threshold,
            "rounding_base": self.rounding_base,
            "build_id": self.build_id,
            "code_version": self.code_version,
            "generated_at": self.generated_at.isoformat(timespec="seconds"),
            "parameters": dict(self.parameters),
        }


@dataclass(frozen=True)
class FormatContext:
    """Everything a format needs beside the table: the snapshot's context and the reference frames.

    Attributes
    ----------
    snapshot : SnapshotContext
    territory : DataFrame
        The harmonised territory table (names, regions, environment, host type).
    region : DataFrame
        The harmonised region table (``region_code``, ``name_fr``, ``name_en``).
    codebook : Codebook
        Labels of indicators, families, codes and every UI string (``snapshot.yaml``).
    followups : FollowupTables or None
        The follow-ups due and completion by wave of the snapshot's scope
        (:class:`~proximite.indicators.snapshot.followups.FollowupTables`); internal snapshots
        only, None otherwise.
    economics : EconomicsSummary or None
        The economics run of the snapshot's build
        (:class:`~proximite.economics.report.EconomicsSummary`): the html format then writes
        ``economics.html`` (:mod:`.economics`); None: no page, and the index says how to make one.
    """

    snapshot: SnapshotContext
    territory: pd.DataFrame
    region: pd.DataFrame
    codebook: Codebook
    followups: Any = None
    economics: Any = None


# ---------------------------------------------------------------------------- formats
class SnapshotFormat(ABC):
    """A snapshot format: writes its files for a disclosed, scope-selected indicator table."""

    #: Key of the format in the registry.
    name: str = ""

    @abstractmethod
    def write(self, table: pd.DataFrame, out_dir: Path, *, context: FormatContext) -> list[Path]:
        """Write this format's files into ``out_dir`` (which exists) and return their paths.

        Parameters
        ----------
        table : DataFrame
            The indicator table after disclosure control (columns ``suppressed`` and
            ``suppression`` added) and scope selection; not modified.
        out_dir : Path
        context : FormatContext, keyword-only
        """


def check_formats(names: Sequence[str], registry: Mapping[str, SnapshotFormat]) -> list[str]:
    """The format names, checked against the registry (``SnapshotError`` on an unknown one)."""
    unknown = [name for name in names if name not in registry]
    if unknown:
        raise SnapshotError(f"unknown snapshot format(s) {', '.join(unknown)} (formats: {', '.join(registry)})")
    return list(names)
