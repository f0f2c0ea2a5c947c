"""``themes.yaml``: which codes of the team's QDA codebook make each theme, and the axis it speaks to.

The team's codebook names vary from one project to the next (``Confiance envers la PTP``,
``Relation > Confiance``); this small file, beside the ``.qdpx`` files, says which of their codes
count for which theme, and which axis of the evaluation each theme informs::

    themes:
      Confiance envers la PTP:            # the theme, as the outputs name it
        axis: acceptabilite               # acceptabilite, pertinence, efficacite, effets_systemiques, autre
        codes:                            # codes of the QDA codebook(s): a name, or a path "parent > code"
          - Confiance envers la PTP
          - Relation > Confiance
      Transport:
        axis: pertinence                  # no codes: the code named like the theme

A code counts for the theme of the nearest listed code at or above it in the code tree (a listed
sub-code belongs to its own theme, the other sub-codes to their parent's). Codes under no listed
code count for no theme. Names are compared without regard to case or repeated spaces.
"""

from __future__ import annotations

import difflib
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from proximite.cohort.sources.qdpx import QdaCode, QdaProject
from proximite.errors import InputError

__all__ = ["PATH_SEPARATOR", "THEMES_FILE", "Theme", "ThemeMapping", "assign_themes", "load_themes", "normalise_name"]

#: The mapping file's name, beside the ``.qdpx`` files.
THEMES_FILE = "themes.yaml"
#: Separator of a code's path in ``codes:`` entries.
PATH_SEPARATOR = ">"
_THEME_KEYS = {"axis", "codes"}
_EXAMPLE = "themes:\n  Transport:\n    axis: pertinence\n    codes: [Transport, Obstacles > Transport]"


@dataclass(frozen=True)
class Theme:
    """One theme of ``themes.yaml``: its name, its axis, the code names or paths it gathers."""

    name: str
    axis: str
    codes: tuple[str, ...]


@dataclass(frozen=True)
class ThemeMapping:
    """The themes of one ``themes.yaml``, in file order."""

    path: Path
    themes: tuple[Theme, ...]


def normalise_name(name: str) -> str:
    """A code or theme name as compared: NFC, single spaces, case folded."""
    return unicodedata.normalize("NFC", " ".join(str(name).split())).casefold()


def load_themes(path: str | Path, *, axes: Sequence[str], label: str | None = None) -> ThemeMapping:
    """Read and check ``themes.yaml``.

    Parameters
    ----------
    path : str or Path
    axes : sequence of str, keyword-only
        The allowed axes (the codebook's ``qual_axis`` codes).
    label : str, optional, keyword-only
        How errors name the file.

    Raises
    ------
    InputError
        Not YAML, no ``themes:`` mapping, an empty theme name, an unknown key, an axis missing or
        not among ``axes``, ``codes`` not a list of names, the same code listed twice.
    """
    where = label or str(path)
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        mark = getattr(error, "problem_mark", None)
        line = f" at line {mark.line + 1}" if mark is not None else ""
        raise InputError(where, "not a readable YAML file", detail=f"It cannot be read{line}; save it as UTF-8 YAML") from None
    if not isinstance(raw, Mapping) or not isinstance(raw.get("themes"), Mapping) or not raw["themes"]:
        raise InputError(where, "no themes", column="themes", detail=f"Write one entry per theme, e.g.\n{_EXAMPLE}")
    unknown = sorted(set(raw) - {"themes"})
    if unknown:
        raise InputError(where, "unknown key", column=str(unknown[0]), detail="The file has one key, `themes:`")
    themes = [_theme(str(name), spec, axes=axes, where=where) for name, spec in raw["themes"].items()]
    _check_listed_once(themes, where)
    return ThemeMapping(path=Path(path), themes=tuple(themes))


def _theme(name: str, spec: Any, *, axes: Sequence[str], where: str) -> Theme:
    """One theme entry, checked."""
    field = f"themes.{name}"
    if not name.strip():
        raise InputError(where, "a theme without a name", column="themes")
    if not isinstance(spec, Mapping):
        raise InputError(where, "a theme needs its axis", column=field, detail=f"e.g.\n{_EXAMPLE}")
    unknown = sorted(set(spec) - _THEME_KEYS)
    if unknown:
        raise InputError(where, "unknown key", column=f"{field}.{unknown[0]}", detail="A theme has `axis:` and `codes:`")
    axis = spec.get("axis")
    if axis is None or str(axis) not in axes:
        rule = "axis missing" if axis is None else "unknown axis"
        raise InputError(where, rule, column=f"{field}.axis", detail=f"Allowed: {', '.join(axes)}")
    codes = spec.get("codes", [name])
    if isinstance(codes, str):
        codes = [codes]
    if not isinstance(codes, list) or not codes or not all(isinstance(code, str) and code.strip() for code in codes):
        raise InputError(where, "codes must be a list of code names", column=f"{field}.codes",
                         detail='A name, or a path "parent > code", per line')
    return Theme(name=" ".join(name.split()), axis=str(axis), codes=tuple(" ".join(code.split()) for code in codes))


def _check_listed_once(themes: Sequence[Theme], where: str) -> None:
    """A theme name once; a code entry in one theme only."""
    owner: dict[str, str] = {}
    names: set[str] = set()
    for theme in themes:
        if normalise_name(theme.name) in names:
            raise InputError(where, "theme listed twice", column=f"themes.{theme.name}")
        names.add(normalise_name(theme.name))
        for entry in theme.codes:
            key = _entry_key(entry)
            if key in owner and owner[key] != theme.name:
                raise InputError(
                    where, "code listed in two themes", column=f"themes.{theme.name}.codes",
                    detail=f"'{entry}' is also in theme '{owner[key]}'; a code counts for one theme",
                )
            owner[key] = theme.name


def _entry_key(entry: str) -> tuple[str, ...]:
    return tuple(normalise_name(part) for part in entry.split(PATH_SEPARATOR))


def _matches(entry: tuple[str, ...], code: QdaCode) -> bool:
    """A name matches a code of that name; a path matches the end of the code's path."""
    path = tuple(normalise_name(part) for part in code.path)
    return len(entry) <= len(path) and path[-len(entry):] == entry


def _listed_codes(mapping: ThemeMapping, project: QdaProject, where: str) -> tuple[dict[str, Theme], set[tuple[str, ...]]]:
    """Code GUID → theme for the codes an entry names directly in one project, and the entries found."""
    listed: dict[str, Theme] = {}
    found_entries: set[tuple[str, ...]] = set()
    for theme in mapping.themes:
        for entry in theme.codes:
            found = [code for code in project.codes if _matches(_entry_key(entry), code)]
            if len(found) > 1:
                paths = "; ".join(f" {PATH_SEPARATOR} ".join(code.path) for code in found[:4])
                raise InputError(
                    where, "ambiguous code name", column=f"themes.{theme.name}.codes",
                    detail=f"'{entry}' names {len(found)} codes of {project.path.name} ({paths}): write its path",
                )
            if found:
                found_entries.add(_entry_key(entry))
            listed.update({code.code_id: theme for code in found})
    return listed, found_entries


def assign_themes(mapping: ThemeMapping, projects: Sequence[QdaProject], *, label: str | None = None) -> dict[tuple[str, str], Theme]:
    """The theme of every code of every project, ``{(project file name, code GUID): theme}``.

    Parameters
    ----------
    mapping : ThemeMapping
    projects : sequence of QdaProject
    label : str, optional, keyword-only
        How errors name ``themes.yaml``.

    Returns
    -------
    dict
        Only codes with a theme: the theme of the nearest listed code at or above each code.

    Raises
    ------
    InputError
        An entry of ``codes:`` names no code of any project (the nearest names are suggested), or
        names several codes of one project.
    """
    where = label or str(mapping.path)
    assigned: dict[tuple[str, str], Theme] = {}
    used: set[tuple[str, ...]] = set()
    for project in projects:
        listed, found = _listed_codes(mapping, project, where)
        used |= found
        parents = {code.code_id: code.parent_id for code in project.codes}
        for code in project.codes:
            ancestor: str | None = code.code_id
            while ancestor is not None and ancestor not in listed:
                ancestor = parents.get(ancestor)
            if ancestor is not None:
                assigned[(project.path.name, code.code_id)] = listed[ancestor]
    _check_every_entry_used(mapping, projects, used, where)
    return assigned


def _check_every_entry_used(
    mapping: ThemeMapping, projects: Sequence[QdaProject], used: set[tuple[str, ...]], where: str
) -> None:
    """An entry that names no code anywhere is a typo or a renamed code: say which, with look-alikes."""
    names = sorted({code.name for project in projects for code in project.codes})
    for theme in mapping.themes:
        for entry in theme.codes:
            if _entry_key(entry) in used:
                continue
            close = difflib.get_close_matches(entry.split(PATH_SEPARATOR)[-1].strip(), names, n=3, cutoff=0.6)
            hint = f"; close names: {', '.join(close)}" if close else ""
            raise InputError(
                where, "code not found in the QDA projects", column=f"themes.{theme.name}.codes",
                detail=f"No code of the .qdpx files is named '{entry}'{hint}",
            )
