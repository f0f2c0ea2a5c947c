"""Checks that the codebook's files agree with one another (run when a codebook is loaded)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from proximite.cohort.codebook import Codebook

__all__ = ["consistency_problems"]


def consistency_problems(codebook: Codebook) -> list[str]:
    """Every contradiction between the codebook's files, one line each (empty when none).

    Indicators name known families and have every key; forms' fields name known enumerations
    and target known model columns (the questionnaires' too); model columns name known enumerations;
    the registry maps exactly the action types, to known components.
    """
    problems = []
    for indicator_id, spec in codebook.indicators.items():
        if spec.get("family") not in codebook.indicator_families:
            problems.append(f"indicators.yaml: {indicator_id} names unknown family {spec.get('family')!r}")
        missing = {"unit", "timing", "people", "additive", "fr", "en", "method"} - set(spec)
        if missing:
            problems.append(f"indicators.yaml: {indicator_id} lacks {', '.join(sorted(missing))}")
    for form, fields in codebook.forms.items():
        for name, spec in fields.items():
            enum = spec.get("enum")
            if enum and enum not in codebook.enumerations:
                problems.append(f"forms.yaml: {form}.{name} names unknown enumeration {enum!r}")
            target = spec.get("target")
            if target:
                table, _, column = target.partition(".")
                if table not in codebook.model or column not in codebook.model[table]["columns"]:
                    problems.append(f"forms.yaml: {form}.{name} targets unknown column {target!r}")
    for table, spec in codebook.model.items():
        for column, column_spec in spec["columns"].items():
            enum = column_spec.get("enum")
            if enum and enum not in codebook.enumerations:
                problems.append(f"model.yaml: {table}.{column} names unknown enumeration {enum!r}")
    for survey in getattr(codebook, "surveys", {}).values():
        problems.extend(survey.consistency_problems())
    if set(codebook.action_component) != set(codebook.enumerations["action_type"]):
        problems.append("registry.yaml: action_component must map exactly the action types")
    if set(codebook.action_component.values()) - set(codebook.enumerations["component"]):
        problems.append("registry.yaml: action_component names an unknown component")
    return problems
