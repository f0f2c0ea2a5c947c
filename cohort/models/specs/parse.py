"""Reading spec files: YAML without repeated keys, one spec or several under ``models:``."""

from __future__ import annotations

import inspect
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from proximite.cohort.models.base import MODELS, Model
from proximite.cohort.models.specs.kinds import model_parameters, option_list, register_all
from proximite.cohort.models.specs.parse_data import parse_data
from proximite.cohort.models.specs.spec import FILE_KEYS, NAME_PATTERN, SPEC_KEYS, ModelSpec, SpecError, SpecFile
from proximite.cohort.models.specs.values import jsonable, type_name

__all__ = ["load_specs", "parse_specs"]


class _UniqueKeyLoader(yaml.SafeLoader):
    """A safe loader that refuses a key given twice in one mapping (PyYAML keeps the last)."""


def _construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _value in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"the key {key!r} is given twice", key_node.start_mark
            )
        seen.add(key)
    return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_specs(path: str | Path) -> SpecFile:
    """Read and check the model specs of a YAML file.

    Parameters
    ----------
    path : str or Path
        A file holding one spec (``kind``, ``formula``, ``data``, ``options``, ``name``,
        ``description``) or several under ``models:`` (with an optional ``description`` and a
        default ``data`` for the models that give none).

    Returns
    -------
    SpecFile
        The specs in file order (a list); names are unique (a missing name is the kind,
        numbered when repeated). A file with ``models:`` may also say which to ``compare``.

    Raises
    ------
    SpecError
        Not a file, not valid YAML (the message gives the line and column), or a spec that is
        wrong: an unknown key, an unknown kind (the message lists the kinds), an option the model
        does not take (the message lists its options), a missing formula, bad data. Each message
        names the file, the spec and the key.
    """
    path = Path(path)
    if not path.is_file():
        raise SpecError(f"{path}: no such spec file")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise SpecError(f"{path}: cannot be read ({error})") from None
    try:
        document = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as error:
        raise SpecError(f"{path}: {_yaml_problem(error)}") from None
    return parse_specs(document, source=path)


def _yaml_problem(error: yaml.YAMLError) -> str:
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    problem = getattr(error, "problem", None) or str(error).splitlines()[0]
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    return f"{where}not valid YAML ({problem})"


def parse_specs(document: Any, *, source: str | Path | None = None) -> SpecFile:
    """Check a parsed YAML document (a mapping) and return its specs; see :func:`load_specs`."""
    where = f"{source}" if source is not None else "spec"
    source_path = Path(source) if source is not None else None
    if document is None:
        raise SpecError(f"{where}: the file is empty; write a spec (kind, formula, data, options) or a list under models:")
    if not isinstance(document, Mapping):
        raise SpecError(f"{where}: expected a mapping (kind: ..., or models: [...]), got {type_name(document)}")
    register_all()
    if "models" in document:
        unknown = [str(key) for key in document if key not in FILE_KEYS]
        if unknown:
            raise SpecError(
                f"{where}: unknown key(s) {', '.join(unknown)} beside models:; a file with models: takes "
                f"{', '.join(FILE_KEYS)} (each model's own keys go in its entry)"
            )
        entries = document["models"]
        if not isinstance(entries, list) or not entries:
            raise SpecError(f"{where}: models: must be a non-empty list of specs, got {type_name(entries)}")
        default_data = document.get("data")
        if default_data is not None:
            parse_data(default_data, label=f"{where}: data")
        description = document.get("description", "") or ""
        if not isinstance(description, str):
            raise SpecError(f"{where}: description: expected text, got {type_name(description)}")
        chosen = document.get("compare")
    else:
        entries = [document]
        default_data = None
        description = ""
        chosen = None
    specs = SpecFile(source=source_path, description=description.strip())
    used: dict[str, int] = {}
    taken: set[str] = set()
    for position, entry in enumerate(entries, start=1):
        spec = _parse_one(
            entry, position=position, source=source_path, where=where, default_data=default_data, used=used, taken=taken
        )
        specs.append(spec)
    if not specs.description:
        specs.description = specs[0].description
    if chosen is not None and not isinstance(chosen, bool):
        names = [spec.name for spec in specs]
        if not isinstance(chosen, list) or not all(isinstance(name, str) for name in chosen) or len(set(chosen)) < 2:
            raise SpecError(f"{where}: compare: expected true, false or a list of two or more model names")
        unknown = [name for name in chosen if name not in names]
        if unknown:
            raise SpecError(f"{where}: compare: no model named {', '.join(unknown)}; the models are: {', '.join(names)}")
        chosen = list(dict.fromkeys(chosen))
    specs.compare = chosen
    return specs


def _parse_one(
    entry: Any,
    *,
    position: int,
    source: Path | None,
    where: str,
    default_data: Any,
    used: dict[str, int],
    taken: set[str],
) -> ModelSpec:
    if not isinstance(entry, Mapping):
        raise SpecError(f"{where}: model #{position}: expected a mapping (kind: ..., formula: ...), got {type_name(entry)}")
    raw_name = entry.get("name")
    label = f"{where}: model {raw_name!r} (#{position})" if raw_name is not None else f"{where}: model #{position}"
    unknown = [str(key) for key in entry if key not in SPEC_KEYS]
    if unknown:
        raise SpecError(f"{label}: unknown key(s) {', '.join(unknown)}; a spec takes {', '.join(SPEC_KEYS)} (model options go under options:)")
    kind = _kind(entry, label=label)
    name = _spec_name(raw_name, kind=kind, label=label, used=used, taken=taken)
    label = f"{where}: model {name!r} (#{position})"
    if name in taken:
        raise SpecError(f"{label}: name: another model of this file is already named {name!r}")
    taken.add(name)
    description = entry.get("description", "") or ""
    if not isinstance(description, str):
        raise SpecError(f"{label}: description: expected text, got {type_name(description)}")
    cls = MODELS[kind]
    options, formula = _options_and_formula(entry, label=label, kind=kind, cls=cls)
    raw_data = entry.get("data", default_data)
    data = parse_data(raw_data if raw_data is not None else "panel", label=f"{label}: data")
    _check_required(cls, options, formula=formula, weights=data.weights, label=label, kind=kind)
    try:
        json.dumps(jsonable(dict(options)), allow_nan=False)
    except (TypeError, ValueError):
        raise SpecError(f"{label}: options: values must be numbers, text, true/false, lists or mappings") from None
    return ModelSpec(
        name=name,
        kind=kind,
        data=data,
        formula=formula,
        options=dict(options),
        description=description.strip(),
        source=source,
        position=position,
    )


def _kind(entry: Mapping[str, Any], *, label: str) -> str:
    """The spec's ``kind:``, a registered model kind."""
    kind = entry.get("kind")
    if not isinstance(kind, str) or not kind:
        raise SpecError(f"{label}: kind: required (one of {', '.join(sorted(MODELS))})")
    if kind not in MODELS:
        raise SpecError(f"{label}: kind: unknown model kind {kind!r}; the kinds are: {', '.join(sorted(MODELS))}")
    return kind


def _spec_name(raw_name: Any, *, kind: str, label: str, used: dict[str, int], taken: set[str]) -> str:
    """The spec's ``name:``, or its kind (numbered when the file already has one so named)."""
    if raw_name is None:
        name = kind
        while name in taken:
            used[kind] = used.get(kind, 1) + 1
            name = f"{kind}_{used[kind]}"
        return name
    if not isinstance(raw_name, str) or not NAME_PATTERN.match(raw_name):
        raise SpecError(f"{label}: name: letters, digits, '_', '.' and '-' only (it names the output files)")
    return raw_name


def _options_and_formula(
    entry: Mapping[str, Any], *, label: str, kind: str, cls: type[Model]
) -> tuple[Mapping[str, Any], str | None]:
    """The spec's ``options:`` and ``formula:``, checked against the options the model takes."""
    parameters = model_parameters(cls)
    formula = entry.get("formula")
    options = entry.get("options", {}) or {}
    if not isinstance(options, Mapping):
        raise SpecError(f"{label}: options: expected a mapping (option: value), got {type_name(options)}")
    bad_keys = [key for key in options if not isinstance(key, str)]
    if bad_keys:
        raise SpecError(f"{label}: options: option names must be text")
    if formula is not None:
        if not isinstance(formula, str) or not formula.strip():
            raise SpecError(f"{label}: formula: expected text such as 'isolation_index ~ 1 + C(wave)'")
        if "formula" not in parameters:
            raise SpecError(f"{label}: formula: {kind} takes no formula; its options are: {option_list(cls)}")
        if "formula" in options:
            raise SpecError(f"{label}: options.formula: give the formula once, as formula: beside kind:")
        formula = formula.strip()
    unknown_options = sorted(set(options) - set(parameters))
    if unknown_options:
        keys = ", ".join(f"options.{key}" for key in unknown_options)
        raise SpecError(f"{label}: {keys}: unknown option(s) of {kind}; its options are: {option_list(cls)}")
    return options, formula


def _check_required(
    cls: type[Model], options: Mapping[str, Any], *, formula: str | None, weights: str | None, label: str, kind: str
) -> None:
    """Every option the model requires is given (the data's weights count as ``weights``)."""
    given = set(options) | ({"formula"} if formula is not None else set()) | ({"weights"} if weights else set())
    missing = [
        parameter
        for parameter, info in model_parameters(cls).items()
        if info.default is inspect.Parameter.empty and parameter not in given
    ]
    if missing:
        keys = ", ".join("formula" if item == "formula" else f"options.{item}" for item in missing)
        raise SpecError(f"{label}: {keys}: required by {kind}")
