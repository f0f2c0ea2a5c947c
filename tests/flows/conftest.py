"""Fixtures of the flow tests: one Prefect test harness for the session, a small synthetic input."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from synth_dates import SYNTH_AS_OF


@pytest.fixture(scope="session")
def prefect_api() -> Iterator[None]:
    """A throwaway Prefect API (temporary database) for the flow tests that need one (~10 s to start)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture(scope="session")
def flow_input(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A synthetic input directory (60 families, 4 territories, as of :data:`SYNTH_AS_OF`): REDCap
    export, registry, reference, costs."""
    from proximite.cohort.sandbox.synth import generate_cohort

    out = tmp_path_factory.mktemp("flow-input") / "input"
    generate_cohort(out, families=60, territories=4, seed=7, as_of=SYNTH_AS_OF)
    return out


def fast_project(directory: Path, extra: str = "") -> Path:
    """A project directory whose gates skip Great Expectations' Data Docs (most of a small gate's time)."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "proximite.toml").write_text("[validation]\ndata_docs = false\n" + extra, encoding="utf-8")
    return directory
