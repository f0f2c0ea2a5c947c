"""Shared fixtures of the indicator tests: harmonised tables of a synthetic cohort, made once.

``harmonised_cohort(families=..., territories=..., seed=...)`` generates a synthetic cohort,
ingests it without the gates, harmonises it, and returns ``(tables, truth)``: the harmonised
tables as ``{name: DataFrame}`` (what :func:`proximite.cohort.warehouse.table` returns) and the
generator's ``truth.json``. Each size is made once per test session; treat the frames as
read-only (the indicator functions never modify their inputs, and a test checks that).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from proximite.cohort.harmonise import harmonise
from proximite.pipeline import ingest
from proximite.cohort.layers import ALL_SOURCES, latest_pull, read_staged
from proximite.cohort.sandbox.synth import generate_cohort
from proximite.config import load_settings

KEY = b"indicator-tests-key-0123456789abcdef"

#: The pilot's size: large enough for the truth-recovery tests.
PILOT = {"families": 5305, "territories": 50, "seed": 20240101}
#: A small cohort for tests that only need every table filled.
SMALL = {"families": 300, "territories": 6, "seed": 7}

HarmonisedCohort = Callable[..., tuple[dict[str, pd.DataFrame], dict[str, Any]]]


def make_harmonised_cohort(root: Path, *, families: int, territories: int, seed: int) -> tuple[dict[str, pd.DataFrame], dict[str, Any]]:
    """Generate, ingest (no gates) and harmonise a synthetic cohort under ``root``."""
    input_dir = root / "input"
    generate_cohort(input_dir, families=families, territories=territories, seed=seed)
    settings = load_settings(root / "project")
    ingest(input_dir, settings=settings, validate=False)
    staged = {source: read_staged(settings, source) for source in ALL_SOURCES if latest_pull(settings, source)}
    tables = harmonise(staged, key=KEY, settings=settings)
    truth = json.loads((input_dir / "truth.json").read_text(encoding="utf-8"))
    return tables, truth


@pytest.fixture(scope="session")
def harmonised_cohort(tmp_path_factory: pytest.TempPathFactory) -> HarmonisedCohort:
    """Factory of harmonised synthetic cohorts, cached by size and seed for the session."""
    cache: dict[tuple[int, int, int], tuple[dict[str, pd.DataFrame], dict[str, Any]]] = {}

    def make(*, families: int, territories: int, seed: int) -> tuple[dict[str, pd.DataFrame], dict[str, Any]]:
        key = (families, territories, seed)
        if key not in cache:
            root = tmp_path_factory.mktemp(f"cohort-{families}-{territories}-{seed}")
            cache[key] = make_harmonised_cohort(root, families=families, territories=territories, seed=seed)
        return cache[key]

    return make


@pytest.fixture(scope="session")
def pilot_cohort(harmonised_cohort: HarmonisedCohort) -> tuple[dict[str, pd.DataFrame], dict[str, Any]]:
    """The pilot-sized cohort (5,305 families, 50 territories) and its truth."""
    return harmonised_cohort(**PILOT)


@pytest.fixture(scope="session")
def small_cohort(harmonised_cohort: HarmonisedCohort) -> tuple[dict[str, pd.DataFrame], dict[str, Any]]:
    """A small cohort (300 families, 6 territories) and its truth."""
    return harmonised_cohort(**SMALL)
