"""Model specs in YAML, and the runner that fits them and writes their results.

A spec names a model kind (a key of :data:`~proximite.cohort.models.base.MODELS`), its formula,
the data it is fitted on and its options::

    name: fe_territory
    kind: panel_ols
    description: Family fixed effects, wave dummies, SE clustered by territory.
    formula: isolation_index ~ 1 + C(wave) + EntityEffects
    data:
      panel:
        waves: [0, 6, 12, 24]
    options:
      cluster: territory

A file holds one spec, or several under ``models:`` (fitted on the same data when they ask for
the same data, and compared)::

    description: Isolation index across waves
    data: panel                       # the default data of the models below
    compare: [fe, re]                 # optional (default: the models sharing a term but the intercept)
    models:
      - {name: fe, kind: panel_ols, formula: "isolation_index ~ 1 + C(wave) + EntityEffects"}
      - {name: re, kind: random_effects, formula: "isolation_index ~ 1 + C(wave)"}

:func:`load_specs` reads and checks a file (every error names the file, the spec and the key);
:func:`run_specs` loads each distinct data request once, fits every model, and writes per model
``<name>.summary.csv`` (and its other tables as ``<name>.<table>.csv``), ``<name>.html``,
``<name>.tex`` and ``<name>.png``, then ``comparison.csv`` (and ``comparison.png``) when models
share terms, and ``manifest.json`` (build id, code version, spec hash, files, rows used). The output directory is replaced atomically: a failed run
leaves the previous results in place.

Nothing written or raised here holds a family's row: tables hold estimates, the manifest counts.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import inspect
import json
import math
import re
import secrets
import shutil
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from proximite.cohort.models.base import MODELS, Comparison, Model, ModelError, ModelResults, compare, get_model
from proximite.cohort.survival import EVENTS as _SURVIVAL_EVENTS

if TYPE_CHECKING:  # pragma: no cover - typing only
    import pandas as pd

    from proximite.config import Settings

__all__ = [
    "DATA_SOURCES",
    "SURVIVAL_EVENTS",
    "DataRequest",
    "ModelSpec",
    "SpecError",
    "SpecFile",
    "SpecRun",
    "describe_kinds",
    "load_specs",
    "parse_specs",
    "project_spec_files",
    "run_specs",
    "spec_file_output",
    "spec_hash",
]

#: What ``data:`` can name: the long panel or the survival table.
DATA_SOURCES: tuple[str, ...] = ("panel", "survival")
#: The events of the survival table (``data: {survival: {event: ...}}``).
SURVIVAL_EVENTS: tuple[str, ...] = _SURVIVAL_EVENTS
#: Keys of one spec, and of a file holding several under ``models:``.
SPEC_KEYS: tuple[str, ...] = ("name", "kind", "description", "formula", "data", "options")
FILE_KEYS: tuple[str, ...] = ("description", "data", "compare", "models")
#: Terms that do not make two models comparable on their own.
INTERCEPTS: frozenset[str] = frozenset({"Intercept", "intercept", "const", "Const"})
#: Keys of each data request (those after the first three are passed on as they are).
PANEL_KEYS: tuple[str, ...] = ("waves", "columns", "weights", "ptp_minutes", "attrition_options")
SURVIVAL_KEYS: tuple[str, ...] = (
    "event", "time_varying", "as_of", "closed_unmet", "referral_directions", "dropout_reasons", "met_statuses", "closed_statuses",
)

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
MANIFEST_NAME = "manifest.json"


class SpecError(ModelError):
    """A spec file cannot be read, or one of its specs is wrong or fails to fit.

    The message names the file, the spec (its name and position) and the key at fault.
    """


# ----------------------------------------------------------------------------------- the specs
@dataclass(frozen=True)
class DataRequest:
    """The data a model is fitted on.

    Parameters
    ----------
    source : {"panel", "survival"}
        ``panel``: :func:`proximite.cohort.panel` (one row per family and wave);
        ``survival``: :func:`proximite.cohort.survival_table`.
    waves : tuple of int, optional
        Panel only: the waves to keep (default: all).
    columns : tuple of str, optional
        Panel only: the columns to keep (default: all).
    weights : str, optional
        Panel only: a weight column (``attrition_weight``) added to the panel and given to the
        models that take a ``weights`` option and do not set it.
    ptp_minutes : bool
        Panel only: add ``ptp_minutes`` (the PTP time received up to each assessment).
    event : str, optional
        Survival only: ``first_referral``, ``need_met`` or ``dropout``.
    time_varying : bool
        Survival only: start/stop rows (for ``cox_time_varying``) rather than one row per subject.
    options : tuple of (str, value) pairs
        Further keyword options of the loader, as given (panel: ``attrition_options``; survival:
        ``as_of``, ``closed_unmet``, ``referral_directions``, ``dropout_reasons``,
        ``met_statuses``, ``closed_statuses``); lists are kept as tuples so requests hash.
    """

    source: str = "panel"
    waves: tuple[int, ...] | None = None
    columns: tuple[str, ...] | None = None
    weights: str | None = None
    ptp_minutes: bool = False
    event: str | None = None
    time_varying: bool = False
    options: tuple[tuple[str, Any], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The request as plain JSON-able values (only the keys that apply to its source)."""
        extra = {name: _jsonable(_unfreeze(value)) for name, value in self.options}
        if self.source == "survival":
            return {"survival": {"event": self.event, "time_varying": self.time_varying, **extra}}
        options: dict[str, Any] = {}
        if self.waves is not None:
            options["waves"] = list(self.waves)
        if self.columns is not None:
            options["columns"] = list(self.columns)
        if self.weights is not None:
            options["weights"] = self.weights
        if self.ptp_minutes:
            options["ptp_minutes"] = True
        return {"panel": {**options, **extra}}

    def loader_options(self) -> dict[str, Any]:
        """Keyword arguments of :func:`~proximite.cohort.warehouse.panel` or :func:`~proximite.cohort.survival.survival_table`."""
        extra = {name: _unfreeze(value) for name, value in self.options}
        if self.source == "survival":
            return {"event": self.event, "time_varying": self.time_varying, **extra}
        columns = list(self.columns) if self.columns is not None else None
        wanted = set(columns or ()) | {self.weights}
        return {
            "columns": columns,
            "waves": list(self.waves) if self.waves is not None else None,
            "ptp_minutes": self.ptp_minutes or "ptp_minutes" in wanted,
            "attrition_weight": "attrition_weight" in wanted,
            **extra,
        }

    def describe(self) -> str:
        """One line: ``panel (waves 0, 12)`` or ``survival (event need_met)``."""
        if self.source == "survival":
            return f"survival (event {self.event}{', time-varying' if self.time_varying else ''})"
        parts = []
        if self.waves is not None:
            parts.append("waves " + ", ".join(str(wave) for wave in self.waves))
        if self.columns is not None:
            parts.append(f"{len(self.columns)} column(s)")
        if self.weights is not None:
            parts.append(f"weights {self.weights}")
        if self.ptp_minutes:
            parts.append("ptp_minutes")
        return "panel" + (f" ({'; '.join(parts)})" if parts else "")


def _freeze(value: Any) -> Any:
    """Lists and mappings as tuples (hashable), recursively."""
    if isinstance(value, Mapping):
        return ("\0mapping", tuple((str(key), _freeze(item)) for key, item in value.items()))
    if isinstance(value, (list, tuple)):
        return tuple(_freeze(item) for item in value)
    return value


def _unfreeze(value: Any) -> Any:
    if isinstance(value, tuple) and len(value) == 2 and value[0] == "\0mapping":
        return {key: _unfreeze(item) for key, item in value[1]}
    if isinstance(value, tuple):
        return [_unfreeze(item) for item in value]
    return value


@dataclass(frozen=True)
class ModelSpec:
    """One model to fit: its kind, formula, data and options.

    Parameters
    ----------
    name : str
        Names the output files (``<name>.summary.csv``); letters, digits, ``_``, ``.``, ``-``.
    kind : str
        A key of :data:`~proximite.cohort.models.base.MODELS` (``panel_ols``, ``cox`` ...).
    data : DataRequest
    formula : str, optional
        For the kinds that take one (given to the model as its ``formula`` option).
    options : dict
        Given to the model's constructor through ``from_spec``.
    description : str
    source : Path, optional
        The file the spec was read from (for messages and the default output directory).
    position : int
        1-based position of the spec in its file.
    """

    name: str
    kind: str
    data: DataRequest = field(default_factory=DataRequest)
    formula: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""
    source: Path | None = field(default=None, compare=False)
    position: int = field(default=1, compare=False)

    @property
    def label(self) -> str:
        """Where the spec is, for messages: ``models/x.yaml: model 'fe' (#1)``."""
        where = f"{self.source}: " if self.source is not None else ""
        return f"{where}model {self.name!r} (#{self.position})"

    def to_dict(self) -> dict[str, Any]:
        """The spec as plain values; :func:`spec_hash` hashes its canonical JSON."""
        return {
            "name": self.name,
            "kind": self.kind,
            "description": self.description,
            "formula": self.formula,
            "data": self.data.to_dict(),
            "options": _jsonable(dict(self.options)),
        }

    @property
    def sha256(self) -> str:
        """SHA-256 of the canonical JSON of :meth:`to_dict`."""
        return spec_hash(self)

    def model_options(self) -> dict[str, Any]:
        """The options given to the model: ``formula`` (when set), the data's weights, ``options``."""
        options = dict(self.options)
        if self.formula is not None:
            options["formula"] = self.formula
        if self.data.weights is not None and "weights" in _parameters(get_model(self.kind)) and "weights" not in options:
            options["weights"] = self.data.weights
        return options

    def build(self) -> Model:
        """The model, built from :meth:`model_options`.

        Raises
        ------
        SpecError
            The model refuses an option (the message names the spec).
        """
        try:
            return get_model(self.kind).from_spec(self.model_options())
        except ModelError as error:
            raise SpecError(f"{self.label}: {error}") from None
        except (TypeError, ValueError) as error:
            raise SpecError(f"{self.label}: options: {error}") from None


class SpecFile(list[ModelSpec]):
    """The specs of one file (a list of :class:`ModelSpec`) with the file's own keys.

    Attributes
    ----------
    source : Path or None
        The file.
    description : str
        The file's ``description`` (several models) or the one model's.
    compare : list of str, bool or None
        The file's ``compare``: the names of the models to compare, ``False`` for none, or
        ``None`` (the default) for every model sharing a term other than the intercept with another.
    """

    def __init__(
        self,
        specs: Iterable[ModelSpec] = (),
        *,
        source: Path | None = None,
        description: str = "",
        compare: list[str] | bool | None = None,
    ) -> None:
        super().__init__(specs)
        self.source = source
        self.description = description
        self.compare = compare

    def to_dict(self) -> dict[str, Any]:
        """``{"description", "compare", "models": [spec.to_dict() ...]}``."""
        return {"description": self.description, "compare": self.compare, "models": [spec.to_dict() for spec in self]}


def spec_hash(spec: ModelSpec | Sequence[ModelSpec]) -> str:
    """SHA-256 (hex) of the canonical JSON (sorted keys, no spaces) of one spec or a list of specs.

    Notes
    -----
    The hash covers every key of :meth:`ModelSpec.to_dict` (name, kind, description, formula,
    data, options) and, for a :class:`SpecFile`, the file's description and ``compare``; it does
    not depend on the file's layout, comments or key order.
    """
    if isinstance(spec, ModelSpec):
        value: Any = spec.to_dict()
    elif isinstance(spec, SpecFile):
        value = spec.to_dict()
    else:
        value = [item.to_dict() for item in spec]
    canonical = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


# ---------------------------------------------------------------------------------- reading
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
        raise SpecError(f"{where}: expected a mapping (kind: ..., or models: [...]), got {_type_name(document)}")
    _register_all()
    if "models" in document:
        unknown = [str(key) for key in document if key not in FILE_KEYS]
        if unknown:
            raise SpecError(
                f"{where}: unknown key(s) {', '.join(unknown)} beside models:; a file with models: takes "
                f"{', '.join(FILE_KEYS)} (each model's own keys go in its entry)"
            )
        entries = document["models"]
        if not isinstance(entries, list) or not entries:
            raise SpecError(f"{where}: models: must be a non-empty list of specs, got {_type_name(entries)}")
        default_data = document.get("data")
        if default_data is not None:
            _parse_data(default_data, label=f"{where}: data")
        description = document.get("description", "") or ""
        if not isinstance(description, str):
            raise SpecError(f"{where}: description: expected text, got {_type_name(description)}")
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
        raise SpecError(f"{where}: model #{position}: expected a mapping (kind: ..., formula: ...), got {_type_name(entry)}")
    raw_name = entry.get("name")
    label = f"{where}: model {raw_name!r} (#{position})" if raw_name is not None else f"{where}: model #{position}"
    unknown = [str(key) for key in entry if key not in SPEC_KEYS]
    if unknown:
        raise SpecError(f"{label}: unknown key(s) {', '.join(unknown)}; a spec takes {', '.join(SPEC_KEYS)} (model options go under options:)")
    kind = entry.get("kind")
    if not isinstance(kind, str) or not kind:
        raise SpecError(f"{label}: kind: required (one of {', '.join(sorted(MODELS))})")
    if kind not in MODELS:
        raise SpecError(f"{label}: kind: unknown model kind {kind!r}; the kinds are: {', '.join(sorted(MODELS))}")
    cls = MODELS[kind]
    if raw_name is None:
        name = kind
        while name in taken:
            used[kind] = used.get(kind, 1) + 1
            name = f"{kind}_{used[kind]}"
        label = f"{where}: model {name!r} (#{position})"
    else:
        if not isinstance(raw_name, str) or not _NAME.match(raw_name):
            raise SpecError(f"{label}: name: letters, digits, '_', '.' and '-' only (it names the output files)")
        name = raw_name
    if name in taken:
        raise SpecError(f"{label}: name: another model of this file is already named {name!r}")
    taken.add(name)
    description = entry.get("description", "") or ""
    if not isinstance(description, str):
        raise SpecError(f"{label}: description: expected text, got {_type_name(description)}")
    parameters = _parameters(cls)
    formula = entry.get("formula")
    options = entry.get("options", {}) or {}
    if not isinstance(options, Mapping):
        raise SpecError(f"{label}: options: expected a mapping (option: value), got {_type_name(options)}")
    bad_keys = [key for key in options if not isinstance(key, str)]
    if bad_keys:
        raise SpecError(f"{label}: options: option names must be text")
    if formula is not None:
        if not isinstance(formula, str) or not formula.strip():
            raise SpecError(f"{label}: formula: expected text such as 'isolation_index ~ 1 + C(wave)'")
        if "formula" not in parameters:
            raise SpecError(f"{label}: formula: {kind} takes no formula; its options are: {_option_list(cls)}")
        if "formula" in options:
            raise SpecError(f"{label}: options.formula: give the formula once, as formula: beside kind:")
        formula = formula.strip()
    unknown_options = sorted(set(options) - set(parameters))
    if unknown_options:
        keys = ", ".join(f"options.{key}" for key in unknown_options)
        raise SpecError(f"{label}: {keys}: unknown option(s) of {kind}; its options are: {_option_list(cls)}")
    raw_data = entry.get("data", default_data)
    data = _parse_data(raw_data if raw_data is not None else "panel", label=f"{label}: data")
    given = set(options) | ({"formula"} if formula is not None else set()) | ({"weights"} if data.weights else set())
    missing = [
        parameter
        for parameter, info in parameters.items()
        if info.default is inspect.Parameter.empty and parameter not in given
    ]
    if missing:
        keys = ", ".join("formula" if item == "formula" else f"options.{item}" for item in missing)
        raise SpecError(f"{label}: {keys}: required by {kind}")
    try:
        json.dumps(_jsonable(dict(options)), allow_nan=False)
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


def _parse_data(raw: Any, *, label: str) -> DataRequest:
    """``panel``, ``survival`` or a one-key mapping ``{panel: {...}}`` / ``{survival: {...}}``."""
    if isinstance(raw, str):
        if raw == "panel":
            return DataRequest("panel")
        if raw == "survival":
            raise SpecError(f"{label}: survival needs an event: data: {{survival: {{event: {'|'.join(SURVIVAL_EVENTS)}}}}}")
        raise SpecError(f"{label}: unknown data {raw!r}; the data are: {', '.join(DATA_SOURCES)}")
    if not isinstance(raw, Mapping) or len(raw) != 1:
        raise SpecError(f"{label}: expected panel, {{panel: {{waves, columns, weights}}}} or {{survival: {{event, time_varying}}}}")
    (source, options), = raw.items()
    if source not in DATA_SOURCES:
        raise SpecError(f"{label}: unknown data {source!r}; the data are: {', '.join(DATA_SOURCES)}")
    options = options or {}
    if not isinstance(options, Mapping):
        raise SpecError(f"{label}.{source}: expected a mapping, got {_type_name(options)}")
    allowed = PANEL_KEYS if source == "panel" else SURVIVAL_KEYS
    unknown = [str(key) for key in options if key not in allowed]
    if unknown:
        raise SpecError(f"{label}.{source}: unknown key(s) {', '.join(unknown)}; {source} takes {', '.join(allowed)}")
    extra = tuple(
        (str(key), _freeze(value)) for key, value in options.items() if key in allowed[4 if source == "panel" else 2 :]
    )
    if source == "survival":
        event = options.get("event")
        if event not in SURVIVAL_EVENTS:
            raise SpecError(f"{label}.survival.event: expected one of {', '.join(SURVIVAL_EVENTS)}, got {event!r}")
        time_varying = options.get("time_varying", False)
        if not isinstance(time_varying, bool):
            raise SpecError(f"{label}.survival.time_varying: expected true or false")
        return DataRequest("survival", event=event, time_varying=time_varying, options=extra)
    waves = options.get("waves")
    if waves is not None:
        if not isinstance(waves, list) or not waves or not all(isinstance(wave, int) and not isinstance(wave, bool) for wave in waves):
            raise SpecError(f"{label}.panel.waves: expected a list of months, e.g. [0, 6, 12, 24]")
        waves = tuple(sorted(set(waves)))
    columns = options.get("columns")
    if columns is not None:
        if not isinstance(columns, list) or not columns or not all(isinstance(column, str) for column in columns):
            raise SpecError(f"{label}.panel.columns: expected a list of column names")
        columns = tuple(dict.fromkeys(columns))
    weights = options.get("weights")
    if weights is not None and (not isinstance(weights, str) or not weights):
        raise SpecError(f"{label}.panel.weights: expected a column name, e.g. attrition_weight")
    if weights is not None and columns is not None and weights not in columns:
        columns = (*columns, weights)
    ptp_minutes = options.get("ptp_minutes", False)
    if not isinstance(ptp_minutes, bool):
        raise SpecError(f"{label}.panel.ptp_minutes: expected true or false")
    attrition_options = options.get("attrition_options")
    if attrition_options is not None and not isinstance(attrition_options, Mapping):
        raise SpecError(f"{label}.panel.attrition_options: expected a mapping (outcome, covariates, previous, numerator)")
    return DataRequest("panel", waves=waves, columns=columns, weights=weights, ptp_minutes=ptp_minutes, options=extra)


def _register_all() -> None:
    """Import every module of :mod:`proximite.cohort.models` (each registers its kinds)."""
    import importlib
    import pkgutil

    import proximite.cohort.models as package

    for module in pkgutil.iter_modules(package.__path__):
        if not module.name.startswith("_"):
            importlib.import_module(f"{package.__name__}.{module.name}")


def _type_name(value: Any) -> str:
    if value is None:
        return "nothing"
    return {"str": "text", "list": "a list", "dict": "a mapping", "int": "a number", "float": "a number", "bool": "true/false"}.get(
        type(value).__name__, type(value).__name__
    )


def _parameters(cls: type[Model]) -> dict[str, inspect.Parameter]:
    return {
        name: parameter
        for name, parameter in inspect.signature(cls).parameters.items()
        if parameter.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    }


def _option_list(cls: type[Model]) -> str:
    names = list(_parameters(cls))
    return ", ".join(names) if names else "none"


def describe_kinds() -> list[dict[str, Any]]:
    """Every registered model kind with its one-line description and its options.

    Returns
    -------
    list of dict
        ``{"kind", "class", "summary", "options": [{"name", "default", "required"}]}``, by kind.
    """
    _register_all()
    kinds = []
    for kind in sorted(MODELS):
        cls = MODELS[kind]
        doc = inspect.getdoc(cls) or ""
        options = [
            {
                "name": name,
                "required": parameter.default is inspect.Parameter.empty,
                "default": None if parameter.default is inspect.Parameter.empty else parameter.default,
            }
            for name, parameter in _parameters(cls).items()
        ]
        kinds.append({"kind": kind, "class": cls.__name__, "summary": doc.splitlines()[0] if doc else "", "options": options})
    return kinds


# ----------------------------------------------------------------------------------- running
@dataclass
class SpecRun:
    """What :func:`run_specs` fitted and wrote.

    Attributes
    ----------
    out_dir : Path
        The output directory (complete: it replaced any previous one at the end of the run).
    manifest_path : Path
    manifest : dict
        What ``manifest.json`` holds.
    results : dict of str to ModelResults
        By spec name, in spec order.
    comparison : Comparison or None
        The models that share terms, side by side (None when no two do).
    """

    out_dir: Path
    manifest_path: Path
    manifest: dict[str, Any]
    results: dict[str, ModelResults]
    comparison: Comparison | None = None


def run_specs(
    specs: Sequence[ModelSpec],
    settings: Settings,
    out_dir: str | Path | None = None,
    *,
    echo: Callable[[str], None] | None = None,
) -> SpecRun:
    """Fit every spec on the current warehouse and write the results, the comparison and a manifest.

    Parameters
    ----------
    specs : sequence of ModelSpec
        From :func:`load_specs` (names unique).
    settings : Settings
        The project (its warehouse).
    out_dir : str or Path, optional
        Where to write; default ``<project>/reporting/models/<spec file stem>-<build id>/``.
        Replaced as a whole at the end of a successful run.
    echo : callable, optional, keyword-only
        Called with one line per model fitted (name, kind, rows, seconds).

    Returns
    -------
    SpecRun

    Raises
    ------
    SpecError
        The data cannot be loaded or a model fails; the message names the spec. Nothing is
        written then: a previous output directory stays as it was.
    WarehouseNotFoundError
        The project has no warehouse yet.

    Notes
    -----
    Each distinct data request (``panel`` with the same waves, columns and weights;
    ``survival`` with the same event) is loaded once and shared by the models that ask for it;
    no model modifies it. Every model is built before any data is read, so a bad option value
    fails first. Per model the manifest records its spec and its hash

    ``spec_sha256 = sha256(json.dumps(spec.to_dict(), sort_keys=True, separators=(",", ":")))``;

    the rows it was given and its fit statistics (counts and fit measures, never a family's
    values); ``spec_sha256`` at the top hashes the whole file (:func:`spec_hash` of the
    :class:`SpecFile`: its description, ``compare`` and specs). Compared are the models of the
    file's ``compare`` or, by default, those sharing a term other than the intercept.
    """
    specs_given = specs
    specs = list(specs)
    if not specs:
        raise SpecError("no model spec to run")
    names = [spec.name for spec in specs]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise SpecError(f"model names must be unique in a run; repeated: {', '.join(repeated)}")
    say = echo or (lambda line: None)
    started = _now()
    clock = time.perf_counter()

    # 0. every model built first: a bad option value fails before any data is read
    models = {spec.name: spec.build() for spec in specs}

    # 1. the data, once per distinct request
    frames: dict[DataRequest, pd.DataFrame] = {}
    data_records: list[dict[str, Any]] = []
    build_ids: set[str] = set()
    for spec in specs:
        if spec.data in frames:
            continue
        frame = _load_data(spec, settings)
        frames[spec.data] = frame
        build_id = frame.attrs.get("build_id") or _current_build_id(settings)
        if build_id:
            build_ids.add(str(build_id))
        data_records.append({"request": spec.data.to_dict(), "rows": len(frame), **_entity_count(frame)})
    if not build_ids:
        build_ids.add(_current_build_id(settings) or "unknown")
    if len(build_ids) > 1:  # pragma: no cover - a build landed between two loads
        raise SpecError(f"the warehouse was rebuilt during the run (builds {', '.join(sorted(build_ids))}); run again")
    (build_id,) = build_ids

    stem = specs[0].source.stem if specs[0].source is not None else "models"
    target = Path(out_dir) if out_dir is not None else settings.reporting_dir / "models" / f"{stem}-{build_id}"
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.tmp-{secrets.token_hex(4)}")
    temporary.mkdir()
    try:
        results: dict[str, ModelResults] = {}
        model_records: list[dict[str, Any]] = []
        for spec in specs:
            model = models[spec.name]
            data = frames[spec.data]
            fit_clock = time.perf_counter()
            try:
                result = model.fit(data)
            except ModelError as error:
                raise SpecError(f"{spec.label}: {spec.kind} failed: {error}") from None
            except Exception as error:  # noqa: BLE001 - any library failure names the spec
                raise SpecError(f"{spec.label}: {spec.kind} failed: {type(error).__name__}: {_short(error)}") from None
            seconds = time.perf_counter() - fit_clock
            files = _write_result(result, temporary, spec.name)
            results[spec.name] = result
            nobs = result.statistics.get("nobs")
            model_records.append(
                {
                    "name": spec.name,
                    "kind": spec.kind,
                    "title": result.title,
                    "spec": spec.to_dict(),
                    "spec_sha256": spec.sha256,
                    "rows": len(data),
                    "terms": len(result.summary),
                    "statistics": _jsonable(result.statistics),
                    "seconds": round(seconds, 3),
                    "files": files,
                }
            )
            rows_used = f"{_plain_number(nobs):,} observations" if isinstance(_plain_number(nobs), int) else f"{len(data):,} rows"
            say(f"fitted {spec.name} ({spec.kind}) on {spec.data.describe()}: {rows_used}, {seconds:.1f} s")

        comparison, comparison_files = _write_comparison(results, temporary, chosen=getattr(specs_given, "compare", None))
        finished = _now()
        manifest: dict[str, Any] = {
            "spec_file": str(specs[0].source) if specs[0].source is not None else None,
            "spec_sha256": spec_hash(specs_given),
            "build_id": build_id,
            "code_version": _code_version(),
            "started_at": started,
            "finished_at": finished,
            "seconds": round(time.perf_counter() - clock, 3),
            "data": data_records,
            "models": model_records,
            "comparison": comparison_files,
        }
        manifest["files"] = _file_list(temporary)
        manifest_path = temporary / MANIFEST_NAME
        manifest_path.write_text(json.dumps(manifest, indent=2, ensure_ascii=False, allow_nan=False) + "\n", encoding="utf-8")
        from proximite.cohort.layers import replace_directory

        replace_directory(temporary, target)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    return SpecRun(
        out_dir=target,
        manifest_path=target / MANIFEST_NAME,
        manifest=manifest,
        results=results,
        comparison=comparison,
    )


def _load_data(spec: ModelSpec, settings: Settings) -> pd.DataFrame:
    request = spec.data
    options = request.loader_options()
    if request.source == "survival":
        from proximite.cohort.survival import survival_table

        try:
            return survival_table(settings=settings, **options)
        except (ValueError, TypeError, KeyError) as error:
            raise SpecError(f"{spec.label}: data.survival: {_short(error)}") from None
    from proximite.cohort.warehouse import panel

    try:
        return panel(settings=settings, **options)
    except (ValueError, TypeError, KeyError) as error:
        key = "columns" if request.columns is not None and "not panel columns" in str(error) else "panel"
        raise SpecError(f"{spec.label}: data.{'panel.' + key if key != 'panel' else 'panel'}: {_short(error)}") from None


def _current_build_id(settings: Settings) -> str | None:
    from proximite.cohort.warehouse import current_build

    build = current_build(settings)
    return build.build_id if build is not None else None


def _entity_count(frame: pd.DataFrame) -> dict[str, int]:
    """How many families (or subjects) the data holds: a count, never an identifier."""
    if "family_id" in (frame.index.names or []):
        return {"families": int(frame.index.get_level_values("family_id").nunique())}
    if "family_id" in frame.columns:
        return {"families": int(frame["family_id"].nunique())}
    return {}


def _code_version() -> str:
    from proximite.version import code_version

    return code_version()


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", str(name)).strip("_") or "table"


def _write_result(result: ModelResults, directory: Path, name: str) -> list[str]:
    """``<name>.<table>.csv`` per table, ``<name>.html``, ``<name>.tex``, ``<name>.png``."""
    written: list[str] = []
    for table_name, table in result.tables().items():
        path = directory / f"{name}.{_safe_name(table_name)}.csv"
        table.to_csv(path, lineterminator="\n")
        written.append(path.name)
    result.to_html(directory / f"{name}.html")
    result.to_latex(directory / f"{name}.tex")
    written.extend([f"{name}.html", f"{name}.tex"])
    # the forest plot leaves the intercept out (its scale dwarfs the effects); the tables keep it
    slopes = [term for term in result.summary.index if term not in INTERCEPTS]
    terms = slopes if slopes and len(slopes) < len(result.summary) else None
    shown = len(terms) if terms is not None else len(result.summary)
    _save_plot(lambda ax: result.plot(ax=ax, terms=terms), directory / f"{name}.png", height=0.6 + 0.4 * max(1, shown))
    written.append(f"{name}.png")
    return written


def _save_plot(draw: Callable[[Any], Any], path: Path, *, height: float) -> None:
    """Draw on a figure rendered by Agg outside pyplot and save it (:func:`proximite.cohort.figures.save_figure`)."""
    from proximite.cohort.figures import save_figure

    save_figure(draw, path, height=height)


def _write_comparison(
    results: Mapping[str, ModelResults], directory: Path, *, chosen: list[str] | bool | None = None
) -> tuple[Comparison | None, dict[str, Any] | None]:
    """``comparison.csv`` (and ``.statistics.csv``, ``.png``) of the chosen models.

    By default, the models sharing a term other than the intercept with another model.
    """
    terms = {name: set(result.summary.index) for name, result in results.items()}
    if chosen is False:
        return None, None
    if isinstance(chosen, list):
        shared = [name for name in chosen if name in results]
    else:
        slopes = {name: found - INTERCEPTS for name, found in terms.items()}
        shared = [name for name in results if any(slopes[name] & slopes[other] for other in results if other != name)]
    if len(shared) < 2:
        return None, None
    comparison = compare(*(results[name] for name in shared), names=shared)
    comparison.to_csv(directory / "comparison.csv")
    common = [term for term in comparison.summary.index if sum(term in terms[name] for name in shared) >= 2]
    # the plot leaves the intercept out (its scale dwarfs the effects); comparison.csv keeps it
    plotted = [term for term in common if term not in INTERCEPTS] or common
    _save_plot(
        lambda ax: comparison.plot(ax=ax, terms=plotted or None), directory / "comparison.png", height=0.5 + 0.45 * len(plotted) * len(shared)
    )
    return comparison, {
        "models": shared,
        "terms": len(comparison.summary),
        "shared_terms": common,
        "files": ["comparison.csv", "comparison.statistics.csv", "comparison.png"],
    }


def _file_list(directory: Path) -> list[dict[str, Any]]:
    files = []
    for path in sorted(directory.iterdir()):
        if path.is_file() and path.name != MANIFEST_NAME:
            data = path.read_bytes()
            files.append({"path": path.name, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()})
    return files


def _now() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _short(error: BaseException, limit: int = 300) -> str:
    text = " ".join(str(error).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _plain_number(value: Any) -> Any:
    item = getattr(value, "item", None)
    value = item() if callable(item) and not isinstance(value, (str, bytes)) else value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _jsonable(value: Any) -> Any:
    """Plain JSON values: numpy scalars as numbers, NaN/inf as None, tuples as lists."""
    if isinstance(value, Mapping):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items: Iterable[Any] = sorted(value, key=str) if isinstance(value, (set, frozenset)) else value
        return [_jsonable(item) for item in items]
    item = getattr(value, "item", None)
    if callable(item) and not isinstance(value, (str, bytes)):
        try:
            value = item()
        except (TypeError, ValueError):
            return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


# ------------------------------------------------------------------------------ the project's specs
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
