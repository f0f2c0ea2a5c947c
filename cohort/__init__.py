"""The cohort data: codebook, sources, harmonisation, warehouse and panel.

Statisticians start with :func:`proximite.cohort.panel` (and :func:`proximite.cohort.regions`
to join the region names on its ``region_code``); coordinators with the ``proximite`` command
line.

``panel``, ``regions``, ``survival_table`` and ``load_codebook`` are the real functions of
:mod:`proximite.cohort.warehouse`, :mod:`proximite.cohort.survival` and
:mod:`proximite.cohort.codebook`, imported on first use: every module of the platform imports
this package, and the warehouse brings in DuckDB and pandas.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__all__ = ["panel", "regions", "survival_table", "load_codebook"]

if TYPE_CHECKING:  # pragma: no cover
    from proximite.cohort.codebook import load_codebook
    from proximite.cohort.survival import survival_table
    from proximite.cohort.warehouse import panel, regions

# Public name -> the module that defines it.
_LAZY = {
    "panel": "proximite.cohort.warehouse",
    "regions": "proximite.cohort.warehouse",
    "survival_table": "proximite.cohort.survival",
    "load_codebook": "proximite.cohort.codebook",
}


def __getattr__(name: str) -> Any:
    """Import ``panel``, ``regions``, ``survival_table`` or ``load_codebook`` from their module on first use."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
