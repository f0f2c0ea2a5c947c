"""Stages 01 → 02: an ingest or a REDCap pull, with the project's staged validation gate.

The data layer (:mod:`proximite.cohort`) copies, types and commits; the checks live above it in
:mod:`proximite.expectations`. These two steps join them: what the CLI, the flows and the tests
call to stage data the way a coordinator's run does.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from proximite.cohort import ingest as cohort_ingest
from proximite.cohort.redcap import pull as redcap
from proximite.config import Settings
from proximite.expectations.gates import staged_gate

if TYPE_CHECKING:  # pragma: no cover
    from proximite.cohort.codebook import Codebook

__all__ = ["ingest", "pull_redcap"]


def ingest(
    input_dir: str | Path,
    *,
    settings: Settings,
    validate: bool = True,
    codebook: Codebook | None = None,
    progress: Any = None,
    **options: Any,
) -> cohort_ingest.IngestResult:
    """:func:`proximite.cohort.ingest.ingest` with the staged gate on every source (unless ``validate=False``).

    Parameters
    ----------
    input_dir : str or Path
    settings : Settings, keyword-only
    validate : bool, keyword-only
        Run the staged validation gate before the commit (default). Only tests that need to
        stage data the gate would refuse turn it off.
    codebook, progress, **options
        Passed to :func:`proximite.cohort.ingest.ingest` (``sources``, ``pull_id``).

    Raises
    ------
    GateFailed
        One source or more was refused: each is quarantined with its report, nothing is staged.
    """
    gate = staged_gate(settings, codebook=codebook, progress=progress) if validate else None
    return cohort_ingest.ingest(input_dir, settings=settings, codebook=codebook, progress=progress, gate=gate, **options)


def pull_redcap(
    url: str,
    *,
    token: str,
    settings: Settings,
    validate: bool = True,
    codebook: Codebook | None = None,
    **options: Any,
) -> redcap.PullResult:
    """:func:`proximite.cohort.redcap.pull.pull_redcap` with the staged gate (unless ``validate=False``).

    Parameters
    ----------
    url : str
    token, settings : keyword-only
    validate : bool, keyword-only
        Run the staged validation gate on the new staged state before the commit (default).
    codebook, **options
        Passed to :func:`proximite.cohort.redcap.pull.pull_redcap` (``full``, ``batch_size``,
        retries, progress ...).

    Raises
    ------
    GateFailed
        The pull was refused: quarantined with its report; ``LATEST`` is unchanged.
    """
    gate = staged_gate(settings, codebook=codebook) if validate else None
    return redcap.pull_redcap(url, token=token, settings=settings, codebook=codebook, gate=gate, **options)
