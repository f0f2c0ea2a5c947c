"""The installed wheel as a user gets it: no source tree on the path.

Run with the Python of a clean environment where the built wheel is installed (``make
wheel-check`` does it all). From a temporary directory outside the checkout, it checks that every
``proximite`` package imports from that environment's site-packages, runs the given test folders
on a copy of the tests, and runs a small demo with the installed ``proximite`` command.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parent.parent

#: Every package the wheel must carry, imported in a fresh interpreter.
IMPORT_CHECK = """
import importlib, pkgutil, sys
import proximite
site = sys.argv[1]
assert proximite.__file__.startswith(site), f"proximite imported from {proximite.__file__}, not {site}"
names = [m.name for m in pkgutil.walk_packages(proximite.__path__, "proximite.")]
names = [n for n in names if not n.startswith("proximite.flows")]  # flows import prefect: checked by the demo
for name in names:
    importlib.import_module(name)
import proximite.cohort.models, proximite.indicators.isolation
print(f"{len(names)} modules import from {site}")
"""


def clean_environment() -> dict[str, str]:
    """This process's environment without anything that would put the checkout on the path."""
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP"}}
    env.update({"PREFECT_SERVER_ANALYTICS_ENABLED": "false", "GX_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1"})
    return env


def run(command: list[str], *, cwd: Path, env: dict[str, str]) -> None:
    print("+", " ".join(command), flush=True)
    subprocess.run(command, cwd=cwd, env=env, check=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tests", nargs="*", default=["tests/spec"], help="test folders, relative to the checkout")
    parser.add_argument("--families", type=int, default=60, help="families of the demo (0: no demo)")
    args = parser.parse_args(argv)
    site = sysconfig.get_paths()["purelib"]
    if str(CHECKOUT) in site:
        print(f"run this with the clean environment's Python, not {sys.executable}", file=sys.stderr)
    env = clean_environment()
    with tempfile.TemporaryDirectory(prefix="proximite-wheel-") as temporary:
        root = Path(temporary)
        run([sys.executable, "-I", "-c", IMPORT_CHECK, site], cwd=root, env=env)
        if args.tests:
            # A copy of the tests (helpers and conftest included) and the pytest options, nothing else.
            shutil.copytree(CHECKOUT / "tests", root / "tests", ignore=shutil.ignore_patterns("__pycache__"))
            shutil.copy2(CHECKOUT / "pyproject.toml", root / "pyproject.toml")
            run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args.tests], cwd=root, env=env)
        if args.families:
            command = Path(sys.executable).with_name("proximite")
            run([str(command), "demo", "--project-dir", str(root / "demo"), "--families", str(args.families)],
                cwd=root, env=env)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
