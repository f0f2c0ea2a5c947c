"""What a spec file holds: the data request, the model spec, the file, and their hash."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from proximite.cohort.models.base import Model, ModelError, get_model
from proximite.cohort.models.specs.kinds import model_parameters
from proximite.cohort.models.specs.values import jsonable, unfreeze
from proximite.cohort.survival import EVENTS

__all__ = [
    "DATA_SOURCES",
    "FILE_KEYS",
    "INTERCEPTS",
    "MANIFEST_NAME",
    "NAME_PATTERN",
    "PANEL_KEYS",
    "SPEC_KEYS",
    "SURVIVAL_EVENTS",
    "SURVIVAL_KEYS",
    "DataRequest",
    "ModelSpec",
    "SpecError",
    "SpecFile",
    "spec_hash",
]

#: What ``data:`` can name: the long panel or the survival table.
DATA_SOURCES: tuple[str, ...] = ("panel", "survival")

#: The events of the survival table (``data: {survival: {event: ...}}``).
SURVIVAL_EVENTS: tuple[str, ...] = EVENTS

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

#: What a spec's name may hold (it names the output files).
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
#: The run's manifest, beside the results.
MANIFEST_NAME = "manifest.json"


class SpecError(ModelError):
    """A spec file cannot be read, or one of its specs is wrong or fails to fit.

    The message names the file, the spec (its name and position) and the key at fault.
    """


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
        extra = {name: jsonable(unfreeze(value)) for name, value in self.options}
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
        extra = {name: unfreeze(value) for name, value in self.options}
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
            "options": jsonable(dict(self.options)),
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
        if self.data.weights is not None and "weights" in model_parameters(get_model(self.kind)) and "weights" not in options:
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
