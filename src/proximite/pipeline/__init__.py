"""The pipeline's steps as plain functions, one module per stage: what the CLI and the Prefect tasks call.

Each step reads from one named layer and writes the next, and passes on a path or an id rather
than large frames, so a Prefect task can call it and return something small.

- :mod:`~proximite.pipeline.stage`: 01 raw → 02 staged, an ingest or a REDCap pull with the
  staged validation gate;
- :mod:`~proximite.pipeline.harmonise`: 02 staged (latest good pull of every source) → 03
  harmonised Parquet;
- :mod:`~proximite.pipeline.build`: the harmonised gate, then 03 → the DuckDB warehouse (atomic
  swap); counts of the current warehouse;
- :mod:`~proximite.pipeline.indicators`: the current build → 04 indicators, sequentially or
  fanned out in parts that are then combined;
- :mod:`~proximite.pipeline.snapshot`: 04 → the decision-makers' snapshot (disclosure control);
- :mod:`~proximite.pipeline.economics`: the economic evaluation of the current build.

This layer sits above :mod:`proximite.cohort`, :mod:`proximite.expectations`,
:mod:`proximite.indicators` and :mod:`proximite.economics`, and under :mod:`proximite.flows` and
the CLI (``docs/architecture.md``). It never imports prefect.
"""

from __future__ import annotations

from proximite.cohort.layers import HARMONISED
from proximite.pipeline.build import build_from_harmonised, validate_harmonised, warehouse_summary
from proximite.pipeline.economics import economics_inputs, economics_parameter_files, psa_unit, run_economics
from proximite.pipeline.harmonise import harmonise_staged, harmonised_dir_for
from proximite.pipeline.indicators import (
    INDICATOR_PARTS_PREFIX,
    INDICATORS,
    INDICATORS_FILE,
    INDICATORS_MANIFEST,
    IndicatorPartsError,
    StaleBuildError,
    combine_indicator_parts,
    compute_indicator_part,
    compute_indicators,
    indicator_parts_dir,
    indicator_tables,
    reusable_indicators,
)
from proximite.pipeline.privacy import apply_raw_retention, withdraw_families
from proximite.pipeline.snapshot import write_snapshot_from_warehouse
from proximite.pipeline.stage import ingest, pull_redcap
from proximite.version import code_version

__all__ = [
    "apply_raw_retention",
    "withdraw_families",
    "HARMONISED",
    "INDICATORS",
    "INDICATORS_FILE",
    "INDICATORS_MANIFEST",
    "INDICATOR_PARTS_PREFIX",
    "IndicatorPartsError",
    "StaleBuildError",
    "build_from_harmonised",
    "code_version",
    "combine_indicator_parts",
    "compute_indicator_part",
    "compute_indicators",
    "economics_inputs",
    "economics_parameter_files",
    "harmonise_staged",
    "harmonised_dir_for",
    "indicator_parts_dir",
    "indicator_tables",
    "ingest",
    "psa_unit",
    "pull_redcap",
    "reusable_indicators",
    "run_economics",
    "validate_harmonised",
    "warehouse_summary",
    "write_snapshot_from_warehouse",
]
