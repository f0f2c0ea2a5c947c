"""The ``data:`` of a spec: the panel or the survival table, and the loader's options."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from proximite.cohort.models.specs.spec import DATA_SOURCES, PANEL_KEYS, SURVIVAL_EVENTS, SURVIVAL_KEYS, DataRequest, SpecError
from proximite.cohort.models.specs.values import freeze, type_name

__all__ = ["parse_data"]


def parse_data(raw: Any, *, label: str) -> DataRequest:
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
        raise SpecError(f"{label}.{source}: expected a mapping, got {type_name(options)}")
    allowed = PANEL_KEYS if source == "panel" else SURVIVAL_KEYS
    unknown = [str(key) for key in options if key not in allowed]
    if unknown:
        raise SpecError(f"{label}.{source}: unknown key(s) {', '.join(unknown)}; {source} takes {', '.join(allowed)}")
    extra = tuple(
        (str(key), freeze(value)) for key, value in options.items() if key in allowed[4 if source == "panel" else 2 :]
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
