"""A partner file's mapping to the canonical template: column names, codes, constants, reading options."""

from __future__ import annotations

import codecs
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from proximite.errors import InputError

__all__ = ["MAPPING_SUFFIXES", "FileMapping", "load_mapping", "mapping_path_for"]


#: A data file's mapping sits beside it: ``<stem>.mapping.yaml``.
MAPPING_SUFFIXES = (".mapping.yaml", ".mapping.yml")


@dataclass(frozen=True)
class FileMapping:
    """A partner file's mapping to the canonical template (``<stem>.mapping.yaml``).

    Attributes
    ----------
    path : Path
    table : str, optional
        ``activity``, ``worker``, ``supervision`` or ``cost``; None when the YAML does not say
        (the file's place decides, ``activity`` under ``activities/``).
    encoding, sheet, date_format, delimiter : str, optional
        Reading options (``delimiter`` is an addition to the documented keys: ``;`` for French
        Excel CSV; sniffed when absent).
    columns : dict, optional
        Canonical column → the file's column; None means the file already uses canonical names.
    codes : dict
        Canonical column → {the file's code or value label → canonical code}.
    constants : dict
        Canonical column → one value for the whole file.
    """

    path: Path
    table: str | None = None
    encoding: str | None = None
    sheet: str | None = None
    date_format: str | None = None
    delimiter: str | None = None
    columns: dict[str, str] | None = None
    codes: dict[str, dict[str, str]] = field(default_factory=dict)
    constants: dict[str, str] = field(default_factory=dict)


_MAPPING_KEYS = ("table", "encoding", "sheet", "date_format", "delimiter", "columns", "codes", "constants")


def _scalar_text(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def load_mapping(path: Path) -> FileMapping:
    """Read and check a mapping YAML (its shape; the columns are checked against the file later).

    Raises
    ------
    InputError
        Not valid YAML, an unknown key, a wrongly shaped section, an unknown encoding.
    """
    path = Path(path)
    try:
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise InputError(path, "mapping is not UTF-8", detail="Save the mapping YAML as UTF-8") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" near line {mark.line + 1}" if mark is not None else ""
        raise InputError(path, "mapping is not valid YAML", detail=f"Syntax error{where}") from None
    if spec is None:
        raise InputError(path, "empty file", detail="The mapping YAML is empty")
    if not isinstance(spec, dict):
        raise InputError(path, "mapping is not a YAML mapping", detail="Write `key: value` lines (see docs/data-layout.md)")
    unknown = [str(key) for key in spec if key not in _MAPPING_KEYS]
    if unknown:
        raise InputError(path, "unknown mapping key", column=unknown[0], detail=f"Allowed keys: {', '.join(_MAPPING_KEYS)}")

    def section(name: str) -> dict[str, Any]:
        value = spec.get(name) or {}
        if not isinstance(value, dict):
            raise InputError(path, "mapping section is not a mapping", column=name, detail="Write `canonical: value` lines")
        return value

    columns = {str(key): _scalar_text(value).strip() for key, value in section("columns").items()} if "columns" in spec else None
    codes: dict[str, dict[str, str]] = {}
    for column, pairs in section("codes").items():
        if not isinstance(pairs, dict):
            raise InputError(path, "mapping section is not a mapping", column=f"codes.{column}", detail="Write `'partner code': canonical_code` lines")
        codes[str(column)] = {_scalar_text(key): _scalar_text(value) for key, value in pairs.items()}
    constants = {str(key): _scalar_text(value) for key, value in section("constants").items()}
    encoding = spec.get("encoding")
    if encoding is not None:
        try:
            codecs.lookup(str(encoding))
        except LookupError:
            raise InputError(path, "unknown encoding", column="encoding", detail=f"'{encoding}' is not an encoding name (utf-8, utf-8-sig, cp1252, ...)") from None
    delimiter = spec.get("delimiter")
    if delimiter is not None and len(str(delimiter)) != 1:
        raise InputError(path, "delimiter must be one character", column="delimiter")
    date_format = spec.get("date_format")
    if date_format is not None and "%" not in str(date_format):
        raise InputError(path, "date_format is not a strptime format", column="date_format", detail="For example \"%d/%m/%Y\"")
    return FileMapping(
        path=path,
        table=str(spec["table"]) if spec.get("table") is not None else None,
        encoding=str(encoding) if encoding is not None else None,
        sheet=str(spec["sheet"]) if spec.get("sheet") is not None else None,
        date_format=str(date_format) if date_format is not None else None,
        delimiter=str(delimiter) if delimiter is not None else None,
        columns=columns,
        codes=codes,
        constants=constants,
    )


def mapping_path_for(path: Path) -> Path | None:
    """The ``<stem>.mapping.yaml`` (or ``.yml``) beside a data file, if any."""
    for suffix in MAPPING_SUFFIXES:
        candidate = path.with_name(path.stem + suffix)
        if candidate.is_file():
            return candidate
    return None
