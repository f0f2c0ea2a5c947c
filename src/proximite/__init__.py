"""Proximité: the data platform of the action research on outreach work with isolated families.

The platform's folders install under this namespace: ``proximite.cohort`` (codebook, sources,
harmonisation, warehouse, panel), ``proximite.indicators``, ``proximite.economics``,
``proximite.expectations`` and ``proximite.flows``.
"""

from __future__ import annotations

__all__ = ["__version__"]

from proximite.version import __version__
