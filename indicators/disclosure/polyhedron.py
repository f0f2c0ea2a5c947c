"""The polyhedron of the attacker's unknowns and the hidden counts to bound over it (shared by :mod:`.bounding`
and :mod:`.lp`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.sparse.csgraph import connected_components

__all__ = ["TOLERANCE", "Problem", "Solution", "components_of"]

#: Slack of the solver's optima and of whole-number rounding.
TOLERANCE = 1e-6


@dataclass
class Problem:
    """The polyhedron and the hidden counts to bound.

    Attributes
    ----------
    a : csr_matrix, shape (lines, variables)
    equality : ndarray of bool
        Per line: ``=`` (else ``≤``).
    rhs, lower, upper : ndarray
    integral : ndarray of bool
        Unknowns that are whole numbers.
    targets : csr_matrix, shape (targets, variables)
    threshold : int
    need_low : ndarray of bool
        Counts whose lower bound is wanted even when they can reach the threshold.
    start : ndarray or None
        A value per unknown that may agree with the file (NaN: none): a first witness to try.
        The bounds do not depend on it, only the time spent finding them.
    """

    a: sparse.csr_matrix
    equality: np.ndarray
    rhs: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    integral: np.ndarray
    targets: sparse.csr_matrix
    threshold: int
    need_low: np.ndarray
    start: np.ndarray | None = None


@dataclass
class Solution:
    """Per hidden count: ``low``, ``high`` and whether its component is feasible.

    ``high`` is exact below the threshold and ``inf`` once some table puts the count at ≥ *t*;
    ``low`` is exact where the count could be a finding (and where ``need_low`` asks), else a
    value some table reaches (0) or a valid lower bound ≥ *t*. ``unresolved``: counts the solver
    could not settle (it gave up on their component: iteration limit, numerical trouble); nothing
    is claimed about them. ``programmes``: solver calls.
    """

    low: np.ndarray
    high: np.ndarray
    feasible: np.ndarray
    programmes: int = 0
    unresolved: np.ndarray | None = None


def components_of(a: sparse.csr_matrix, variables: int) -> np.ndarray:
    """Connected sets of unknowns (two unknowns are linked when a line holds both): a label per unknown."""
    coo = a.tocoo()
    lines = a.shape[0]
    graph = sparse.coo_matrix((np.ones(len(coo.row)), (coo.col, variables + coo.row)), shape=(variables + lines,) * 2)
    _, label = connected_components(graph, directed=False)
    return label[:variables]
