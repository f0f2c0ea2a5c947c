"""Plain values for spec files, manifests and messages: JSON-able, hashable, short."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["freeze", "jsonable", "plain_number", "short_message", "type_name", "unfreeze"]


def plain_number(value: Any) -> Any:
    """A numpy scalar as its Python value; a whole float as an int (for counts in messages)."""
    item = getattr(value, "item", None)
    value = item() if callable(item) and not isinstance(value, (str, bytes)) else value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def jsonable(value: Any) -> Any:
    """Plain JSON values: numpy scalars as numbers, NaN/inf as None, tuples as lists."""
    if isinstance(value, Mapping):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items: Iterable[Any] = sorted(value, key=str) if isinstance(value, (set, frozenset)) else value
        return [jsonable(item) for item in items]
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


def freeze(value: Any) -> Any:
    """Lists and mappings as tuples (hashable), recursively."""
    if isinstance(value, Mapping):
        return ("\0mapping", tuple((str(key), freeze(item)) for key, item in value.items()))
    if isinstance(value, (list, tuple)):
        return tuple(freeze(item) for item in value)
    return value


def unfreeze(value: Any) -> Any:
    """Undo :func:`freeze`: tuples back to lists, frozen mappings back to dicts."""
    if isinstance(value, tuple) and len(value) == 2 and value[0] == "\0mapping":
        return {key: unfreeze(item) for key, item in value[1]}
    if isinstance(value, tuple):
        return [unfreeze(item) for item in value]
    return value


def type_name(value: Any) -> str:
    """The kind of a YAML value in words (``text``, ``a list``, ``a mapping`` ...), for messages."""
    if value is None:
        return "nothing"
    return {"str": "text", "list": "a list", "dict": "a mapping", "int": "a number", "float": "a number", "bool": "true/false"}.get(
        type(value).__name__, type(value).__name__
    )


def short_message(error: BaseException, limit: int = 300) -> str:
    """An error's text on one line, cut to ``limit`` characters (for messages that name a spec)."""
    text = " ".join(str(error).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
