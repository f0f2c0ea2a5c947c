"""The registered model kinds and their options, as spec files name them."""

from __future__ import annotations

import inspect
from typing import Any

from proximite.cohort.models.base import MODELS, Model

__all__ = ["describe_kinds", "model_parameters", "option_list", "register_all"]


def register_all() -> None:
    """Import every module of :mod:`proximite.cohort.models` (each registers its kinds)."""
    import importlib
    import pkgutil

    import proximite.cohort.models as package

    for module in pkgutil.iter_modules(package.__path__):
        if not module.name.startswith("_"):
            importlib.import_module(f"{package.__name__}.{module.name}")


def model_parameters(cls: type[Model]) -> dict[str, inspect.Parameter]:
    """The options of a model kind: its constructor's named parameters."""
    return {
        name: parameter
        for name, parameter in inspect.signature(cls).parameters.items()
        if parameter.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    }


def option_list(cls: type[Model]) -> str:
    """A model kind's options as ``a, b, c`` (``none`` when it takes none), for messages."""
    names = list(model_parameters(cls))
    return ", ".join(names) if names else "none"


def describe_kinds() -> list[dict[str, Any]]:
    """Every registered model kind with its one-line description and its options.

    Returns
    -------
    list of dict
        ``{"kind", "class", "summary", "options": [{"name", "default", "required"}]}``, by kind.
    """
    register_all()
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
            for name, parameter in model_parameters(cls).items()
        ]
        kinds.append({"kind": kind, "class": cls.__name__, "summary": doc.splitlines()[0] if doc else "", "options": options})
    return kinds
