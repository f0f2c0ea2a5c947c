"""Stage 03: the latest staged pull of every source → layer 03 harmonised Parquet."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

from proximite.cohort import layers
from proximite.cohort.layers import HARMONISED
from proximite.config import Settings

__all__ = ["harmonise_staged", "harmonised_dir_for"]


def harmonise_staged(settings: Settings, *, key: bytes) -> Path:
    """Harmonise the latest staged pull of every source and write layer 03 as Parquet.

    Parameters
    ----------
    settings : Settings
    key : bytes, keyword-only
        The pseudonymisation key.

    Returns
    -------
    Path
        ``data/03_harmonised/<id>/``, one Parquet file per harmonised table plus ``inputs.json``
        (the staged pull ids it was made from). The id is derived from what those pulls hold, so
        the same staged inputs give the same directory. The optional sources
        (:data:`~proximite.cohort.layers.OPTIONAL_SOURCES`: the yearly questionnaires, the
        qualitative strand) are used when they have a staged pull.

    Raises
    ------
    FileNotFoundError
        A source has no staged pull yet.
    """
    from proximite.cohort.harmonise import harmonise

    inputs = layers.staged_fingerprint(settings)
    missing = [source for source in layers.SOURCES if source not in inputs]
    if missing:
        raise FileNotFoundError(
            f"no staged pull for source(s) {', '.join(missing)} under {settings.data_dir / layers.STAGED}; "
            "run `proximite ingest` on an input directory that has them"
        )
    staged = {source: layers.read_staged(settings, source, pull_id) for source, pull_id in inputs.items()}
    tables = harmonise(staged, key=key, settings=settings)
    target = harmonised_dir_for(settings, layers.staged_content(settings))
    temporary = target.with_name(target.name + ".tmp")
    shutil.rmtree(temporary, ignore_errors=True)
    temporary.mkdir(parents=True)
    for name, frame in tables.items():
        frame.to_parquet(temporary / f"{name}.parquet", index=False)
    (temporary / "inputs.json").write_text(json.dumps(inputs, indent=2, sort_keys=True), encoding="utf-8")
    shutil.rmtree(target, ignore_errors=True)
    os.replace(temporary, target)
    return target


def harmonised_dir_for(settings: Settings, content: dict[str, str]) -> Path:
    """The layer-03 directory that :func:`harmonise_staged` writes for staged tables of this content.

    Parameters
    ----------
    settings : Settings
    content : dict
        ``{source: SHA-256}`` of every source's staged tables (:func:`layers.staged_content`): the
        directory is named by what it was made from, so identical pulls share it. The optional
        sources (the yearly questionnaires, the qualitative strand) count when present.
    """
    harmonised_id = "-".join(content[source] for source in layers.SOURCES)
    # Optional sources join the name only when staged, so a project without them keeps its ids.
    harmonised_id += "".join(f"-{source}:{content[source]}" for source in layers.OPTIONAL_SOURCES if source in content)
    return settings.data_dir / HARMONISED / _short_id(harmonised_id)


def _short_id(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
