"""Complementary suppression driven by the attacker: hide more cells until :func:`.audit.audit_published` finds nothing.

The groups of :mod:`.complementary` cover the hierarchy, strata and breakdowns with an ``all``
row. The published table carries more relations (partitions without an ``all`` row, a quantity
shared across indicators, rounding intervals): the audit rebuilds them from the would-be public
table exactly as an outsider would, and each hidden count it pins or narrows gets one more
published cell hidden among the cells linked to it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from proximite.indicators.disclosure.audit import AuditedTable, audit_published
from proximite.indicators.disclosure.complementary import Cells
from proximite.indicators.disclosure.rounding import round_published

__all__ = ["MAX_AUDIT_ROUNDS", "protect_against_audit", "protecting_cell", "public_view"]

#: Rounds of audit and repair before giving up (each hides at least one cell).
MAX_AUDIT_ROUNDS = 50
#: The single mark every hidden cell carries in public files.
SUPPRESSED_MARK = "suppressed"


def public_view(frame: pd.DataFrame, hidden: np.ndarray, people: np.ndarray, unit: np.ndarray, *, base: int,
                confidence: float) -> pd.DataFrame:
    """What the public files would show: rounded, hidden cells blanked, one mark for all of them."""
    out = round_published(frame, people & ~hidden, unit, base=base, confidence=confidence)
    mask = pd.Series(hidden, index=out.index)
    for column in ("numerator", "denominator", "value", "ci_low", "ci_high", "n"):
        out[column] = out[column].mask(mask)
    other = pd.Series(people & ~np.isin(unit, ["count", "share"]), index=out.index)
    for column in ("numerator", "denominator"):
        out[column] = out[column].mask(other)
    out["suppressed"] = hidden
    out["suppression"] = np.where(hidden, SUPPRESSED_MARK, "")
    return out


def protect_against_audit(
    cells: Cells, frame: pd.DataFrame, positions: np.ndarray, unit: np.ndarray, *, base: int, confidence: float,
    codebook: Any, territory: pd.DataFrame | None,
) -> AuditedTable:
    """Hide cells until the audit of the public view finds nothing; that view and what the audit said of it.

    Parameters
    ----------
    cells : Cells
        The people rows (``frame.iloc[positions]``), already protected by the group rule and the
        exact check; updated in place.
    frame : DataFrame
        The whole table; ``unit`` its rows' units (staff rates as shares).

    Raises
    ------
    RuntimeError
        Still a finding after :data:`MAX_AUDIT_ROUNDS` rounds.
    """
    people = np.zeros(len(frame), dtype=bool)
    people[positions] = True
    local = np.full(len(frame), -1)
    local[positions] = np.arange(len(positions))
    for _ in range(MAX_AUDIT_ROUNDS):
        hidden = np.zeros(len(frame), dtype=bool)
        hidden[positions] = cells.suppressed
        view = public_view(frame, hidden, people, unit, base=base, confidence=confidence)
        # The table before rounding and suppression agrees with the file: the solver starts from it.
        result = audit_published(view, threshold=cells.threshold, rounding_base=base, codebook=codebook,
                                 territory=territory, known=frame)
        if result.clean:
            return AuditedTable(view, result, cells.threshold, base)
        picks = [protecting_cell(cells, local, row, result.related.get(row, np.zeros(0, dtype="int64")), frame)
                 for row in np.unique(result.rows)]
        picks = [p for p in picks if p is not None]
        if not picks:
            raise RuntimeError("disclosure control could not protect a cell the audit pins down")
        cells.suppress_more(np.asarray(picks, dtype="int64"))
    raise RuntimeError("disclosure control did not satisfy the audit")  # pragma: no cover


def protecting_cell(cells: Cells, local: np.ndarray, row: int, related: np.ndarray, frame: pd.DataFrame) -> int | None:
    """A published people cell linked to ``row``: same indicator first, then the smallest positive count.

    When every linked cell with a positive count is hidden already, a published cell whose count is
    0 is taken: hiding it still hides its denominator and n, which can be what pins ``row``'s
    (a region's referrals are the total less the other regions' published denominators).
    """
    candidates = local[related]
    candidates = candidates[candidates >= 0]
    candidates = candidates[~cells.suppressed[candidates]]
    with np.errstate(invalid="ignore"):
        positive = candidates[np.nan_to_num(cells.main[candidates]) > 0]
    candidates = positive if len(positive) else candidates
    if not len(candidates):
        return None
    indicator = frame["indicator"].to_numpy(dtype=object)
    positions = np.flatnonzero(local >= 0)
    other = indicator[positions[candidates]] != indicator[row]
    return int(candidates[np.lexsort((candidates, cells.main[candidates], other))[0]])
