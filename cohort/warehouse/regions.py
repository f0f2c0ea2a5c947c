"""The administrative regions of the current warehouse, to name the panel's ``region_code``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from proximite.cohort.harmonise.rules import resolve_codebook
from proximite.cohort.warehouse.panel import DTYPES, numpy_dtypes
from proximite.cohort.warehouse.read import table

if TYPE_CHECKING:  # pragma: no cover
    from proximite.cohort.codebook import Codebook
    from proximite.config import Settings

__all__ = ["regions"]


def regions(
    project_dir: str | Path | None = None,
    *,
    settings: Settings | None = None,
    codebook: Codebook | None = None,
    dtypes: str = "pandas",
) -> pd.DataFrame:
    """The administrative regions of the current warehouse, one row per region.

    Join them to the long panel (or a survival table) on ``region_code`` to name each row's
    region::

        panel = cohort.panel("my-project")
        named = panel.reset_index().merge(cohort.regions("my-project"), on="region_code", how="left")

    Parameters
    ----------
    project_dir : str or Path, optional
        Project directory (its settings are loaded); ignored when ``settings`` is given.
        Defaults to the current directory.
    settings : Settings, optional, keyword-only
    codebook : Codebook, optional, keyword-only
    dtypes : {"pandas", "numpy"}, keyword-only
        As :func:`~proximite.cohort.warehouse.panel`'s: give the same value to both, so that
        ``region_code`` has the same dtype on both sides of the join.

    Returns
    -------
    DataFrame
        Columns ``region_code`` (two digits, ``"01"`` to ``"17"``: the codes and dtype of the
        panel's ``region_code``), ``name_fr``, ``name_en`` and ``children_0_5`` (children aged 0
        to 5, 2017 portrait), sorted by code, with a plain range index. ``attrs["codebook"]``
        describes the columns as the panel's does (French and English descriptions, type).

    Raises
    ------
    WarehouseNotFoundError
        The project has no warehouse yet.
    ValueError
        An unknown ``dtypes``.
    """
    from proximite.config import load_settings

    if dtypes not in DTYPES:
        raise ValueError(f"regions dtypes must be one of {', '.join(map(repr, DTYPES))}, not {dtypes!r}")
    settings = settings if settings is not None else load_settings(project_dir)
    book = resolve_codebook(codebook)
    frame = table(settings, "region", codebook=book).sort_values("region_code", ignore_index=True)
    frame.attrs["codebook"] = {
        name: {"description": str(spec["description"]), "description_en": str(spec["description_en"]), "type": str(spec["type"])}
        for name, spec in book.columns("region").items()
    }
    return numpy_dtypes(frame) if dtypes == "numpy" else frame
