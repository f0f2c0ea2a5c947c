"""Stage 05: layer 04 indicators → the decision-makers' snapshot in ``reporting/``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from proximite.config import Settings
from proximite.pipeline.indicators import INDICATORS_FILE, INDICATORS_MANIFEST, compute_indicators
from proximite.version import code_version

__all__ = ["write_snapshot_from_warehouse"]


def write_snapshot_from_warehouse(
    settings: Settings,
    *,
    lang: str = "fr",
    level: str | None = None,
    scope: str = "quebec",
    indicators_dir: str | Path | None = None,
    today: Any = None,
    progress: Any = None,
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

    Returns
    -------
    Path
        ``reporting/snapshot-<date>/`` (see :func:`proximite.indicators.snapshot.write_snapshot`);
        a snapshot written earlier the same day is replaced atomically. At the internal level it
        also holds the follow-ups page (``followups.html``) of the scope's territories as of
        ``today`` (:func:`proximite.cohort.followups.followups_from_warehouse`). When
        ``reporting/economics/`` holds an economics run of the indicators' build
        (:meth:`proximite.economics.report.EconomicsSummary.latest`), the snapshot has its
        economics page (``economics.html``); otherwise the index says how to produce one.
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

    # The newest economics run of the build the indicators were computed from (None: no page, a hint).
    economics = EconomicsSummary.latest(settings, build_id=manifest["build_id"])
    return write_snapshot(
        indicators,
        snapshot_dir(settings.reporting_dir, today=today),
        territory=territory,
        region=table(settings, "region"),
        context=context,
        followups=followups,
        economics=economics,
    )
