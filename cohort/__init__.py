"""The cohort data: codebook, sources, harmonisation, warehouse and panel.

Statisticians start with :func:`proximite.cohort.panel`; coordinators with the ``proximite``
command line.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["panel", "survival_table", "load_codebook"]

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd


def load_codebook() -> Any:
    """Return the packaged :class:`~proximite.cohort.codebook.Codebook` (cached)."""
    from proximite.cohort.codebook import load_codebook as _load

    return _load()


def panel(*args: Any, **kwargs: Any) -> "pd.DataFrame":
    """Long panel indexed by (family_id, wave); see :func:`proximite.cohort.warehouse.panel`."""
    from proximite.cohort.warehouse import panel as _panel

    return _panel(*args, **kwargs)


def survival_table(*args: Any, **kwargs: Any) -> "pd.DataFrame":
    """Time-to-event data (one row per subject, or start/stop rows); see :func:`proximite.cohort.survival.survival_table`."""
    from proximite.cohort.survival import survival_table as _survival_table

    return _survival_table(*args, **kwargs)
