"""The project's own spec files (``<project>/models/``) and where their results go."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from proximite.cohort.models.specs.parse import load_specs
from proximite.cohort.models.specs.spec import spec_hash

if TYPE_CHECKING:  # pragma: no cover - typing only
    from proximite.config import Settings

__all__ = ["PROJECT_SPECS_DIR", "project_spec_files", "spec_file_output"]

#: Where a project keeps its model specs.
PROJECT_SPECS_DIR = "models"


def project_spec_files(settings: Settings) -> list[Path]:
    """The project's spec files: ``<project>/models/*.yaml`` and ``*.yml``, sorted by name."""
    directory = Path(settings.project_dir) / PROJECT_SPECS_DIR
    if not directory.is_dir():
        return []
    return sorted(path for path in directory.iterdir() if path.suffix in {".yaml", ".yml"} and path.is_file())


def spec_file_output(settings: Settings, path: str | Path, build_id: str) -> tuple[Path, str]:
    """Where :func:`run_specs` writes a file's results for a build by default, and the file's hash.

    Returns
    -------
    (Path, str)
        ``<project>/reporting/models/<stem>-<build id>/`` and :func:`spec_hash` of the file's
        specs: a flow runs the file again only when either changed.
    """
    specs = load_specs(path)
    return settings.reporting_dir / "models" / f"{Path(path).stem}-{build_id}", spec_hash(specs)
