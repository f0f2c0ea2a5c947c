"""Stages 01 → 02: an ingest or a REDCap pull, with the project's staged validation gate.

The data layer (:mod:`proximite.cohort`) copies, types and commits; the checks live above it in
:mod:`proximite.expectations`. These two steps join them: what the CLI, the flows and the tests
call to stage data the way a coordinator's run does.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Any

from proximite.cohort import ingest as cohort_ingest
from proximite.cohort.redcap import pull as redcap
from proximite.config import Settings
from proximite.cohort.redcap.mapping import mapping_from_settings, unmapped_required
from proximite.expectations.gates import staged_gate
from proximite.expectations.mapping_gate import require_mapped
from proximite.pipeline.access import logging_refusals

if TYPE_CHECKING:  # pragma: no cover
    from proximite.cohort.codebook import Codebook

__all__ = ["ingest", "pull_redcap", "with_mapping"]


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
    StagingRefused
        REDCap records do not fit the data dictionary: the report is in the quarantine.

    Notes
    -----
    A refusal report that names REDCap records adds a line to the access log
    (:func:`~proximite.pipeline.access.log_refusal`).
    """
    gate = staged_gate(settings, codebook=codebook, progress=progress) if validate else None
    with logging_refusals(settings, command="ingest"):
        return cohort_ingest.ingest(input_dir, settings=settings, codebook=codebook, progress=progress, gate=gate, **options)


def pull_redcap(
    url: str,
    *,
    token: str,
    settings: Settings,
    validate: bool = True,
    codebook: Codebook | None = None,
    mapping: str | Path | None = None,
    **options: Any,
) -> redcap.PullResult:
    """:func:`proximite.cohort.redcap.pull.pull_redcap` with the staged gate (unless ``validate=False``).

    Parameters
    ----------
    url : str
    token, settings : keyword-only
    validate : bool, keyword-only
        Run the staged validation gate on the new staged state before the commit (default).
    mapping : str or Path, optional, keyword-only
        A team's own project: its mapping YAML (``docs/redcap-mapping.md``), instead of
        ``[redcap] mapping`` of the project's ``proximite.toml``. The gate then first refuses a
        mapping that leaves a field the cohort requires unmapped.
    codebook, **options
        Passed to :func:`proximite.cohort.redcap.pull.pull_redcap` (``full``, ``batch_size``,
        retries, progress, ``source`` to pull a yearly questionnaire's project ...).

    Raises
    ------
    GateFailed, StagingRefused
        The pull was refused: quarantined with its report; ``LATEST`` is unchanged. A report
        that names REDCap records adds a line to the access log
        (:func:`~proximite.pipeline.access.log_refusal`).
    """
    if mapping is not None:
        settings = with_mapping(settings, mapping)
    gate = staged_gate(settings, codebook=codebook) if validate else None
    # A mapping maps a team's own cohort project; the questionnaires are pulled as the codebook defines them.
    chosen = mapping_from_settings(settings, codebook=codebook) if options.get("source", "redcap") == "redcap" else None
    if chosen is not None and validate:
        gate = require_mapped(gate, chosen, unmapped_required(chosen, codebook=codebook))
    with logging_refusals(settings, command="pull redcap"):
        return redcap.pull_redcap(url, token=token, settings=settings, codebook=codebook, gate=gate, **options)


def with_mapping(settings: Settings, mapping: str | Path) -> Settings:
    """The settings with ``[redcap] mapping`` set to ``mapping`` (an absolute path); never mutates ``settings``."""
    redcap_section = {**(settings.raw.get("redcap") or {}), "mapping": str(Path(mapping).resolve())}
    return dataclasses.replace(settings, raw={**settings.raw, "redcap": redcap_section})
