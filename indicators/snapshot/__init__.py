"""The decision-makers' snapshot (layer 05): a self-contained HTML page plus the same numbers as CSV and JSON.

:func:`write_snapshot` takes an indicator table (``compute_all``'s output), the harmonised
territory and region tables and a context (language, disclosure level, scope, data and code
versions), applies disclosure control (:func:`proximite.indicators.disclosure.apply_disclosure`),
keeps the scope's rows, asks every format of :data:`FORMATS` to write its files into a temporary
directory, adds ``manifest.json``, and swaps the directory into place. The page, the CSV and the
JSON never contain a row per family: only the indicator table's aggregated cells.

::

    snapshot-2025-11-21/
        index.html        the page in the snapshot's language (French by default)
        index.en.html     the page in the other language (index.fr.html when --lang en)
        indicators.csv    the disclosed table (UTF-8 with BOM)
        indicators.json   the same rows
        manifest.json     data version, code version, parameters, disclosure, language, scope,
                          generated at, every file's size and SHA-256

Formats follow the house rule "swappable parts get a folder, a base.py and a registry dict":
each is a :class:`~proximite.indicators.snapshot.base.SnapshotFormat` in :data:`FORMATS`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
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
    select_scope,
)
from proximite.indicators.snapshot.data import CsvFormat, JsonFormat
from proximite.indicators.snapshot.html import HtmlFormat, render_page

if TYPE_CHECKING:  # pragma: no cover
    from proximite.cohort.codebook import Codebook

__all__ = [
    "FORMATS",
    "LANGUAGES",
    "LEVELS",
    "MANIFEST",
    "FormatContext",
    "Scope",
    "SnapshotContext",
    "SnapshotError",
    "SnapshotFormat",
    "check_scope",
    "disclose",
    "parse_scope",
    "render_page",
    "select_scope",
    "snapshot_dir",
    "write_snapshot",
]

#: Snapshot formats by name; each writes its files for the disclosed table.
FORMATS: dict[str, SnapshotFormat] = {"html": HtmlFormat(), "csv": CsvFormat(), "json": JsonFormat()}

MANIFEST = "manifest.json"
DISCLOSURE_COLUMNS = ("suppressed", "suppression")


def snapshot_dir(reporting_dir: str | Path, *, today: dt.date | None = None) -> Path:
    """``<reporting_dir>/snapshot-<YYYY-MM-DD>`` for ``today`` (the local date by default)."""
    day = today or dt.date.today()
    return Path(reporting_dir) / f"snapshot-{day.isoformat()}"


def disclose(
    table: pd.DataFrame, *, context: SnapshotContext, territory: pd.DataFrame, codebook: Codebook | None = None
) -> pd.DataFrame:
    """The table after disclosure control at the context's level (unchanged when already disclosed).

    A table that already has the ``suppressed`` and ``suppression`` columns is taken as disclosed
    and returned as a copy: applying the rule twice would round counts that were already rounded.
    """
    if all(column in table.columns for column in DISCLOSURE_COLUMNS):
        return table.copy()
    from proximite.indicators.disclosure import apply_disclosure

    return apply_disclosure(
        table,
        level=context.level,
        threshold=context.threshold,
        rounding_base=context.rounding_base,
        territory=territory,
        codebook=codebook,
        confidence=float(context.parameters.get("confidence", 0.95)),
    )


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

    Returns
    -------
    Path
        ``out_dir``, holding the formats' files and ``manifest.json``.

    Raises
    ------
    SnapshotError
        Unknown language, level, scope, region, territory or format.
    """
    if codebook is None:
        from proximite.cohort.codebook import load_codebook

        codebook = load_codebook()
    snapshot = SnapshotContext.coerce(context)
    chosen = check_formats(list(formats) if formats is not None else list(FORMATS), FORMATS)
    disclosed = disclose(table, context=snapshot, territory=territory, codebook=codebook)
    selected = select_scope(disclosed, snapshot.scope_obj, territory=territory)
    format_context = FormatContext(snapshot=snapshot, territory=territory, region=region, codebook=codebook)

    target = Path(out_dir)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.tmp-{secrets.token_hex(4)}")
    temporary.mkdir()
    try:
        written: list[Path] = []
        for name in chosen:
            written.extend(FORMATS[name].write(selected, temporary, context=format_context))
        manifest = _manifest(snapshot, selected, written, temporary, formats=chosen)
        (temporary / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        layers.replace_directory(temporary, target)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    return target


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
