"""Pytest fixtures: a running REDCap sandbox over a small synthetic cohort.

Loaded for every test through ``pytest_plugins`` in ``tests/conftest.py``.

- ``sandbox_project_dir`` (session): the synthetic input directory (40 families, 3 territories,
  seed 11, as of :data:`SYNTH_AS_OF`), generated once; its ``redcap/`` folder is the project.
- ``sandbox_project`` (session): that project loaded once; never mutate it (take ``.copy()``).
- ``redcap_sandbox`` (function): a started :class:`SandboxServer` over a fresh copy of the
  project, stopped after the test; imports and deletes made by one test never leak into another.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from proximite.cohort.redcap.loaders import project_from_directory
from proximite.cohort.redcap.project import RedcapProject
from proximite.cohort.sandbox.server import SandboxServer
from synth_dates import SYNTH_AS_OF

#: The synthetic cohort the sandbox fixtures serve (as of a past day: it goes through the gates).
SANDBOX_COHORT = {"families": 40, "territories": 3, "seed": 11, "as_of": SYNTH_AS_OF}


@pytest.fixture(scope="session")
def sandbox_project_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The synthetic input directory served by ``redcap_sandbox`` (generated once per session)."""
    from proximite.cohort.sandbox.synth import generate_cohort

    out_dir = tmp_path_factory.mktemp("redcap-sandbox") / "input"
    generate_cohort(out_dir, **SANDBOX_COHORT)
    return out_dir


@pytest.fixture(scope="session")
def sandbox_project(sandbox_project_dir: Path) -> RedcapProject:
    """The project as loaded from ``sandbox_project_dir``; read-only, copy it to change it."""
    return project_from_directory(sandbox_project_dir)


@pytest.fixture
def redcap_sandbox(sandbox_project: RedcapProject) -> Iterator[SandboxServer]:
    """A started sandbox over a fresh copy of the synthetic project; stopped after the test."""
    with SandboxServer(sandbox_project.copy()) as server:
        yield server
