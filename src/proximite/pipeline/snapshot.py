"""Stage 05: layer 04 indicators → the decision-makers' snapshot in ``reporting/``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from proximite.config import Settings
from proximite.pipeline.indicators import INDICATORS_FILE, INDICATORS_MANIFEST, compute_indicators
from proximite.version import code_version

__all__ = ["check_snapshot_folder", "write_snapshot_from_warehouse"]


def check_snapshot_folder(folder: str | Path, *, level: str, scope: str) -> None:
    """Refuse to write a snapshot of ``level`` and ``scope`` into a folder that holds something else.

    Writing replaces the folder: it may hold nothing, or a snapshot of the same disclosure level
    and scope (``manifest.json``). Levels never mix in one folder: a public folder must not gain
    an internal snapshot's follow-ups page, nor an internal one be swapped for a public one.

    Raises
    ------
    SnapshotError
        The folder is a file, holds files but no readable snapshot manifest, or holds a snapshot
        of another level or scope.
    """
    from proximite.indicators.snapshot import SnapshotError

    path = Path(folder)
    if not path.exists():
        return
    if not path.is_dir():
        raise SnapshotError(f"{path} is a file, not a snapshot folder: choose another --out")
    if not any(path.iterdir()):
        return
    try:
        manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        raise SnapshotError(
            f"{path} holds files but no snapshot manifest.json; a snapshot replaces its folder: choose another --out"
        ) from None
    found_level = (manifest.get("disclosure") or {}).get("level")
    found_scope = manifest.get("scope")
    if (found_level, found_scope) != (level, scope):
        raise SnapshotError(
            f"{path} holds the {found_level} snapshot of {found_scope}; a {level} snapshot of {scope} "
            "goes in its own folder (levels and scopes never share one): choose another --out"
        )


def write_snapshot_from_warehouse(
    settings: Settings,
    *,
    lang: str = "fr",
    level: str | None = None,
    scope: str = "quebec",
    indicators_dir: str | Path | None = None,
    today: Any = None,
    progress: Any = None,
    out: str | Path | None = None,
) -> Path:
    """Write the decision-makers' snapshot of the current warehouse build into ``reporting/``.

    Parameters
    ----------
    settings : Settings
    lang : {"fr", "en"}, keyword-only
        Language of ``index.html``; the other language is written beside it as
        ``index.<lang>.html``.
    level : {"public", "internal"}, keyword-only
        Disclosure level (default: ``[disclosure] level`` of the configuration).
    scope : str, keyword-only
        ``quebec``, ``region:<code>`` or ``territory:<id>``.
    indicators_dir : str or Path, keyword-only
        A layer-04 directory (default: :func:`compute_indicators`, which computes it when the
        current build has none).
    today : datetime.date, keyword-only
        Date of the snapshot's folder name (default: today, local time).
    progress : callable, keyword-only
        Passed to :func:`compute_indicators`.
    out : str or Path, keyword-only
        The snapshot's folder (default: :func:`proximite.indicators.snapshot.snapshot_dir`).
        A folder that already holds anything but a snapshot of the same level and scope is refused.

    Returns
    -------
    Path
        ``reporting/snapshot-<date>-<level>-<scope>/`` or ``out`` (see
        :func:`proximite.indicators.snapshot.write_snapshot`); a snapshot of the same day, level
        and scope written earlier is replaced atomically, one of another level or scope is never
        touched. At the internal level it
        also holds the follow-ups page (``followups.html``) of the scope's territories as of
        ``today`` (:func:`proximite.cohort.followups.followups_from_warehouse`). When
        ``reporting/economics/`` holds an economics run of the indicators' build and of the
        snapshot's scope (:meth:`proximite.economics.report.EconomicsSummary.latest`, whether or
        not this pipeline run computed one), the snapshot has its economics page
        (``economics.html``); otherwise the index says how to produce one. A follow-up page with
        REDCap record ids adds a line to the access log before it is written
        (:func:`~proximite.pipeline.access.log_followups`).

    Raises
    ------
    SnapshotError
        ``out`` holds another level's or scope's snapshot, or files that are not a snapshot.
    AccessLogError
        The follow-up page's line cannot be written to the access log: nothing is written.
    """
    from proximite.cohort.warehouse import table
    from proximite.indicators.disclosure import DisclosureSettings
    from proximite.indicators.snapshot import SnapshotContext, snapshot_dir, write_snapshot

    directory = Path(indicators_dir) if indicators_dir is not None else compute_indicators(settings, progress=progress)
    manifest = json.loads((directory / INDICATORS_MANIFEST).read_text(encoding="utf-8"))
    indicators = pd.read_parquet(directory / INDICATORS_FILE)
    disclosure = DisclosureSettings.from_settings(settings, **({"level": level} if level else {}))
    context = SnapshotContext(
        lang=lang,
        level=disclosure.level,
        scope=scope,
        threshold=disclosure.threshold,
        rounding_base=disclosure.rounding_base,
        build_id=manifest["build_id"],
        # The code that computed the numbers (layer 04), which may predate this process's.
        code_version=manifest.get("code_version") or code_version(),
        parameters=manifest["parameters"],
    )
    territory = table(settings, "territory")
    followups = None
    if disclosure.level == "internal":
        # The research team's follow-ups page (pseudonymous ids), for the scope's territories on the snapshot's day.
        from proximite.cohort.followups import followups_from_warehouse
        from proximite.indicators.snapshot import scope_territories

        followups = followups_from_warehouse(settings, as_of=today, territories=scope_territories(scope, territory=territory))
    from proximite.economics.report import EconomicsSummary

    # The newest economics run of the build the indicators were computed from, for this scope
    # (None: no page, a hint): a Québec run never appears under a region's title.
    economics = EconomicsSummary.latest(settings, build_id=manifest["build_id"], scope=context.scope)
    folder = Path(out) if out is not None else snapshot_dir(settings.reporting_dir, today=today, level=context.level, scope=scope)
    check_snapshot_folder(folder, level=context.level, scope=context.scope)
    if followups is not None:  # the follow-up page shows record ids: logged before it is written
        from proximite.pipeline.access import log_followups

        log_followups(settings, followups.due, reason=followups.record_ids_reason, command="snapshot",
                      detail=f"followups page {folder.name}")
    return write_snapshot(
        indicators,
        folder,
        territory=territory,
        region=table(settings, "region"),
        context=context,
        followups=followups,
        economics=economics,
    )
