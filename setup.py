"""Package discovery for the folders that install under ``proximite.<folder>``.

pyproject.toml holds the metadata; this file only says which folder is which import name. Every
subpackage (a folder with ``__init__.py``) under a mapped folder is found by setuptools'
``find_packages``, and every other file there (YAML, CSV, XLSX, templates, Markdown) ships as
package data, so adding a module or a data file never needs a list edited by hand.
"""

from __future__ import annotations

from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).resolve().parent

#: Import name → folder of the source tree (the design card's top-level folders).
FOLDERS = {
    "proximite": "src/proximite",
    "proximite.conf": "conf",
    "proximite.cohort": "cohort",
    "proximite.indicators": "indicators",
    "proximite.economics": "economics",
    "proximite.expectations": "expectations",
    "proximite.flows": "flows",
}

#: Files that are never package data.
SKIPPED_SUFFIXES = {".py", ".pyc", ".pyo"}


def discovered_packages() -> dict[str, Path]:
    """Every package under the mapped folders, with its folder."""
    packages: dict[str, Path] = {}
    for name, folder in FOLDERS.items():
        root = HERE / folder
        packages[name] = root
        for sub in find_packages(str(root)):
            packages[f"{name}.{sub}"] = root.joinpath(*sub.split("."))
    return packages


def data_files_of(packages: dict[str, Path]) -> dict[str, list[str]]:
    """Non-Python files, each assigned to the nearest package folder that holds it."""
    folders = {folder: name for name, folder in packages.items()}
    data: dict[str, list[str]] = {}
    for name, folder in packages.items():
        for path in sorted(folder.rglob("*")):
            if not path.is_file() or path.suffix in SKIPPED_SUFFIXES or "__pycache__" in path.parts:
                continue
            if any(part.startswith(".") for part in path.relative_to(folder).parts):
                continue
            owner = next(parent for parent in path.parents if parent in folders)
            if owner == folder:
                data.setdefault(name, []).append(path.relative_to(folder).as_posix())
    return data


PACKAGES = discovered_packages()

setup(
    packages=sorted(PACKAGES),
    package_dir=dict(FOLDERS),
    package_data=data_files_of(PACKAGES),
    include_package_data=False,
)
