"""The day the tests' synthetic cohorts are censored at (``generate_cohort(as_of=...)``, ``--as-of``).

A fixed day in the past: the data do not change with the calendar, and no REDCap date is after
the pull (the harmonised gate refuses one, ``harmonised.<table>.<column>.not_after_pull``).
Tests that need complete follow-up for their own purpose (recovering a planted T24 effect) and
do not go through the gate generate without it.
"""

from __future__ import annotations

#: Half-way through the T24 wave (recruitment ran 2024-01-01 to 2025-03-31).
SYNTH_AS_OF = "2026-06-30"
