"""The decision-makers' snapshot (layer 05): a self-contained HTML page plus the same numbers as CSV and JSON.

:func:`write_snapshot` takes an indicator table (``compute_all``'s output), the harmonised
territory and region tables and a context (language, disclosure level, scope, data and code
versions), applies disclosure control (:func:`proximite.indicators.disclosure.apply_disclosure`),
keeps the scope's rows, asks every format of :data:`FORMATS` to write its files into a temporary
directory, adds ``manifest.json``, and swaps the directory into place. The page, the CSV and the
JSON never contain a row per family: only the indicator table's aggregated cells. The one page
that lists families, by pseudonymous id, is the follow-ups page of an internal snapshot.

::

    snapshot-2025-11-21-public-quebec/   (snapshot_dir: date, level, scope)
        index.html        the page in the snapshot's language (French by default)
        index.en.html     the page in the other language (index.fr.html when --lang en)
        indicators.csv    the disclosed table (UTF-8 with BOM)
        indicators.json   the same rows
        manifest.json     data version, code version, parameters, disclosure, language, scope,
                          generated at, every file's size and SHA-256
        followups.html    internal snapshots given follow-up tables only: the families whose next
        followups.en.html wave is due, by pseudonymous id (:mod:`.followups`), linked from index.html
        economics.html    snapshots given the economics run of their build (:mod:`.economics`):
        economics.en.html costs, cost per outcome, NPV, BCR, P(BCR > 1), tornado (inline SVG),
                          CHEERS 2022; figures withheld from a public snapshot while parameters
                          are unsourced. Without a run, index.html says how to make one
                          (proximite economics run).

Formats follow the house rule "swappable parts get a folder, a base.py and a registry dict":
each is a :class:`~proximite.indicators.snapshot.base.SnapshotFormat` in :data:`FORMATS`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import secrets
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from proximite.cohort import layers
from proximite.indicators.snapshot.base import (
    LANGUAGES,
    LEVELS,
    FormatContext,
    Scope,
    SnapshotContext,
    SnapshotError,
    SnapshotFormat,
    check_formats,
    check_scope,
    parse_scope,
    scope_territories,
    select_scope,
)
from proximite.indicators.snapshot.data import CsvFormat, JsonFormat
from proximite.indicators.snapshot.economics import economics_page_name, render_economics_page
from proximite.indicators.snapshot.followups import FollowupTables, followups_page_name, render_followups_page
from proximite.indicators.snapshot.html import HtmlFormat, render_page

if TYPE_CHECKING:  # pragma: no cover
    from proximite.cohort.codebook import Codebook
    from proximite.economics.report import EconomicsSummary

__all__ = [
    "FORMATS",
    "LANGUAGES",
    "LEVELS",
    "MANIFEST",
    "FollowupTables",
    "FormatContext",
    "Scope",
    "SnapshotContext",
    "SnapshotError",
    "SnapshotFormat",
    "check_scope",
    "disclose",
    "economics_page_name",
    "followups_page_name",
    "parse_scope",
    "render_economics_page",
    "render_followups_page",
    "render_page",
    "scope_territories",
    "select_scope",
    "snapshot_dir",
    "write_snapshot",
]

#: Snapshot formats by name; each writes its files for the disclosed table.
FORMATS: dict[str, SnapshotFormat] = {"html": HtmlFormat(), "csv": CsvFormat(), "json": JsonFormat()}

MANIFEST = "manifest.json"
DISCLOSURE_COLUMNS = ("suppressed", "suppression")


def snapshot_dir(
    reporting_dir: str | Path, *, today: dt.date | None = None, level: str = "public", scope: str | Scope = "quebec"
) -> Path:
    """``<reporting_dir>/snapshot-<YYYY-MM-DD>-<level>-<scope>`` for ``today`` (the local date by default).

    One folder per day, disclosure level and scope, so an internal or regional snapshot never
    replaces the public Québec one nor mixes its files (the follow-ups page) into it. The scope
    is written ``quebec``, ``region-<code>`` or ``territory-<id>`` (characters other than
    letters, digits, ``_`` and ``-`` become ``-``), e.g. ``snapshot-2026-12-07-internal-region-06``.
    """
    day = today or dt.date.today()
    parsed = parse_scope(scope)
    label = "quebec" if parsed.kind == "quebec" else f"{parsed.kind}-{parsed.id}"
    # A territory id is the partner's text: keep the folder name one path component.
    label = re.sub(r"[^0-9A-Za-z_-]+", "-", label)
    return Path(reporting_dir) / f"snapshot-{day.isoformat()}-{level}-{label}"


def disclose(
    table: pd.DataFrame, *, context: SnapshotContext, territory: pd.DataFrame, codebook: Codebook | None = None
) -> pd.DataFrame:
    """The table after disclosure control at the context's level (unchanged when already disclosed).

    A table that already has the ``suppressed`` and ``suppression`` columns is taken as disclosed
    and returned as a copy: applying the rule twice would round counts that were already rounded.
    """
    return _disclose_audited(table, context=context, territory=territory, codebook=codebook)[0]


def _disclose_audited(
    table: pd.DataFrame, *, context: SnapshotContext, territory: pd.DataFrame, codebook: Codebook | None
) -> tuple[pd.DataFrame, Any]:
    """:func:`disclose`, and the table the disclosure control audited last (None when the input came disclosed)."""
    if all(column in table.columns for column in DISCLOSURE_COLUMNS):
        return table.copy(), None
    from proximite.indicators.disclosure import disclose_with_audit

    return disclose_with_audit(
        table,
        level=context.level,
        threshold=context.threshold,
        rounding_base=context.rounding_base,
        territory=territory,
        codebook=codebook,
        confidence=float(context.parameters.get("confidence", 0.95)),
    )


def _refuse_leaks(table: pd.DataFrame, snapshot: SnapshotContext, *, territory: pd.DataFrame, codebook: Any,
                  known: pd.DataFrame | None, audited: Any) -> None:
    """Run the disclosure audit on what is about to be published; refuse (SnapshotError) on a finding.

    ``audited``: the table the disclosure control audited last; when it holds exactly these cells
    (a Québec snapshot) and the audit found nothing, it is not run twice. ``known``: the same rows
    before disclosure (None when the input came disclosed), which only lets the solver start from
    a table that agrees with the file.
    """
    from proximite.indicators.disclosure.audit import DisclosureLeak, refuse_leaks

    settings = {"threshold": snapshot.threshold, "rounding_base": snapshot.rounding_base}
    if audited is not None and audited.result.clean and audited.covers(table, **settings):
        return
    try:
        refuse_leaks(table, codebook=codebook, territory=territory, known=known, **settings)
    except DisclosureLeak as leak:
        raise SnapshotError(str(leak)) from None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def write_snapshot(
    table: pd.DataFrame,
    out_dir: str | Path,
    *,
    territory: pd.DataFrame,
    region: pd.DataFrame,
    context: SnapshotContext | Mapping[str, Any] | None = None,
    formats: Sequence[str] | None = None,
    codebook: Codebook | None = None,
    followups: FollowupTables | None = None,
    economics: EconomicsSummary | None = None,
) -> Path:
    """Write a snapshot of an indicator table into ``out_dir`` (replacing it atomically).

    Parameters
    ----------
    table : DataFrame
        An indicator table (:data:`~proximite.indicators.base.INDICATOR_COLUMNS`), as
        :func:`~proximite.indicators.compute_all` returns it; disclosure control is applied here
        (a table that already has ``suppressed``/``suppression`` is taken as disclosed). Not
        modified.
    out_dir : str or Path
        The snapshot directory (``reporting/snapshot-<date>``, see :func:`snapshot_dir`); its
        parent is created when missing. An existing directory is replaced only once the new one
        is complete: a failure leaves the previous snapshot in place.
    territory, region : DataFrame, keyword-only
        The harmonised territory and region tables (names, regions, environment, host type).
    context : SnapshotContext or mapping, keyword-only
        Language, disclosure level, scope, threshold, rounding base, build id, code version,
        generated at, indicator parameters (see :class:`SnapshotContext`); a mapping of those
        fields is accepted.
    formats : sequence of str, keyword-only
        Keys of :data:`FORMATS` to write (default: all).
    codebook : Codebook, keyword-only
        Default: the packaged codebook.
    followups : FollowupTables, keyword-only
        The follow-ups due and completion by wave of the snapshot's scope
        (:func:`proximite.cohort.followups.followups_from_warehouse`); internal level only. The
        html format then also writes ``followups.html`` and ``followups.<lang>.html``, linked
        from the index pages.
    economics : EconomicsSummary, keyword-only
        The economics run of the snapshot's build
        (:meth:`proximite.economics.report.EconomicsSummary.latest`). The html format then also
        writes ``economics.html`` and ``economics.<lang>.html``, linked from the index pages;
        a run that is not publishable
        shows figures on an internal snapshot only (:mod:`.economics`). None: no economics
        page, and the index pages say how to produce one.

    Returns
    -------
    Path
        ``out_dir``, holding the formats' files and ``manifest.json``.

    Raises
    ------
    SnapshotError
        Unknown language, level, scope, region, territory or format; follow-up tables given
        for a snapshot that is not internal; an economics run of another build than the
        snapshot's; a public snapshot whose published cells let the disclosure audit
        (:func:`proximite.indicators.disclosure.audit.audit_published`) pin or narrow a hidden count.
    """
    if codebook is None:
        from proximite.cohort.codebook import load_codebook

        codebook = load_codebook()
    snapshot = SnapshotContext.coerce(context)
    chosen = check_formats(list(formats) if formats is not None else list(FORMATS), FORMATS)
    _check_extras(snapshot, followups=followups, economics=economics)
    disclosed, audited = _disclose_audited(table, context=snapshot, territory=territory, codebook=codebook)
    selected = select_scope(disclosed, snapshot.scope_obj, territory=territory)
    if snapshot.level == "public":
        undisclosed = not all(column in table.columns for column in DISCLOSURE_COLUMNS)
        known = select_scope(table, snapshot.scope_obj, territory=territory) if undisclosed else None
        _refuse_leaks(selected, snapshot, territory=territory, codebook=codebook, known=known, audited=audited)
    format_context = FormatContext(
        snapshot=snapshot, territory=territory, region=region, codebook=codebook, followups=followups,
        economics=economics,
    )
    target = Path(out_dir)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.tmp-{secrets.token_hex(4)}")
    temporary.mkdir()
    try:
        written: list[Path] = []
        for name in chosen:
            written.extend(FORMATS[name].write(selected, temporary, context=format_context))
        manifest = _manifest(snapshot, selected, written, temporary, formats=chosen)
        manifest.update(_extras_record(snapshot, followups=followups, economics=economics, formats=chosen))
        (temporary / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        layers.replace_directory(temporary, target)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    return target


def _check_extras(
    snapshot: SnapshotContext, *, followups: FollowupTables | None, economics: EconomicsSummary | None
) -> None:
    """Refuse follow-up lists on a snapshot that is not internal, and an economics run of another build."""
    if followups is not None and snapshot.level != "internal":
        raise SnapshotError(
            f"follow-up lists hold pseudonymous family ids: a {snapshot.level!r} snapshot cannot include them "
            "(use the internal level)"
        )
    if economics is not None and snapshot.build_id is not None and economics.build_id != snapshot.build_id:
        raise SnapshotError(
            f"the economics run is of warehouse build {economics.build_id!r}, the snapshot of build "
            f"{snapshot.build_id!r}: run `proximite economics run` on the current build"
        )


def _extras_record(
    snapshot: SnapshotContext,
    *,
    followups: FollowupTables | None,
    economics: EconomicsSummary | None,
    formats: Sequence[str],
) -> dict[str, Any]:
    """The manifest's ``followups`` and ``economics`` entries, for the extras the snapshot holds."""
    record: dict[str, Any] = {}
    if followups is not None:
        # When and with which horizon the follow-up lists were made (no count per family).
        record["followups"] = {"as_of": followups.as_of.isoformat(), "closing_days": int(followups.closing_days)}
    if economics is not None and "html" in formats:
        from proximite.indicators.snapshot.economics import shows_figures

        # Which economics run the page shows, and whether it shows its figures.
        record["economics"] = {
            "build_id": economics.build_id,
            "generated_at": economics.generated_at.isoformat(timespec="seconds"),
            "code_version": economics.code_version,
            "parameters_sha256": economics.parameters_sha256,
            "publishable": bool(economics.publishable),
            "figures_shown": shows_figures(economics, snapshot.level),
        }
    return record


def _manifest(
    snapshot: SnapshotContext, table: pd.DataFrame, written: Sequence[Path], directory: Path, *, formats: Sequence[str]
) -> dict[str, Any]:
    from proximite.indicators.disclosure import disclosure_statement

    statements = {
        lang: disclosure_statement(snapshot.level, threshold=snapshot.threshold, rounding_base=snapshot.rounding_base, lang=lang)
        for lang in snapshot.languages
    }
    suppressed = int(table["suppressed"].fillna(False).astype(bool).sum()) if "suppressed" in table.columns else 0
    return {
        "kind": "proximite-snapshot",
        "data_version": snapshot.build_id,
        "code_version": snapshot.code_version,
        "generated_at": snapshot.generated_at.isoformat(timespec="seconds"),
        "language": snapshot.lang,
        "languages": list(snapshot.languages),
        "scope": snapshot.scope,
        "disclosure": {
            "level": snapshot.level,
            "threshold": snapshot.threshold,
            "rounding_base": snapshot.rounding_base,
            "statement": statements,
        },
        "parameters": dict(snapshot.parameters),
        "formats": list(formats),
        "rows": int(len(table)),
        "suppressed_cells": suppressed,
        "files": [
            {"path": path.relative_to(directory).as_posix(), "bytes": path.stat().st_size, "sha256": _sha256(path)}
            for path in written
        ],
    }
