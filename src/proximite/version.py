"""The code version written into every manifest (layer 01 pulls, layer 04, economics runs, model outputs)."""

from __future__ import annotations

import subprocess
from pathlib import Path

__version__ = "0.1.0"


def code_version() -> str:
    """Package version, plus the git commit when running from a checkout."""
    version = __version__
    try:
        # From a checkout, src/proximite/version.py sits two folders under the repository.
        root = Path(__file__).resolve().parent.parent.parent
        commit = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return f"{version}+{commit}" if commit else version
