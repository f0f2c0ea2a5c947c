"""Checks that the codebook's files agree with one another (run when a codebook is loaded)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from proximite.cohort.codebook import Codebook

__all__ = ["MODEL_COLUMN_KEYS", "consistency_problems", "model_problems"]

#: The keys a column of ``model.yaml`` may have.
MODEL_COLUMN_KEYS = frozenset({"type", "enum", "key", "required", "min", "max", "description", "description_en"})


def consistency_problems(codebook: Codebook) -> list[str]:
    """Every contradiction between the codebook's files, one line each (empty when none).

    Indicators name known families and have every key; forms' fields name known enumerations,
    target known model columns and have an English label (the questionnaires' too:
    :meth:`SurveyProject.consistency_problems`); registry columns an English
    explanation; model tables and columns are described in French and English
    and name known enumerations (:func:`model_problems`); the registry maps exactly the action
    types, to known components.
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
            if not _is_text(spec.get("label_en")):
                problems.append(f"forms.yaml: {form}.{name} lacks its label_en (non-empty text)")
            target = spec.get("target")
            if target:
                table, _, column = target.partition(".")
                if table not in codebook.model or column not in codebook.model[table]["columns"]:
                    problems.append(f"forms.yaml: {form}.{name} targets unknown column {target!r}")
    problems += model_problems(codebook)
    for table, columns in codebook.registry.items():
        problems += [
            f"registry.yaml: {table}.{name} lacks its explanation_en (non-empty text)"
            for name, spec in columns.items() if not _is_text(spec.get("explanation_en"))
        ]
    for survey in getattr(codebook, "surveys", {}).values():
        problems.extend(survey.consistency_problems())
    if set(codebook.action_component) != set(codebook.enumerations["action_type"]):
        problems.append("registry.yaml: action_component must map exactly the action types")
    if set(codebook.action_component.values()) - set(codebook.enumerations["component"]):
        problems.append("registry.yaml: action_component names an unknown component")
    return problems


def model_problems(codebook: Codebook) -> list[str]:
    """Every problem of ``model.yaml``, one line each (empty when none).

    Each table has a ``grain`` and a ``grain_en``; each column a ``description`` and a
    ``description_en`` (non-empty text), only the keys of :data:`MODEL_COLUMN_KEYS`, and an
    ``enum`` that names a known enumeration.
    """
    problems = []
    for table, spec in codebook.model.items():
        for key in ("grain", "grain_en"):
            if not _is_text(spec.get(key)):
                problems.append(f"model.yaml: table {table} lacks its {key} (non-empty text)")
        for column, column_spec in spec["columns"].items():
            where = f"model.yaml: {table}.{column}"
            unknown = sorted(str(key) for key in set(column_spec) - MODEL_COLUMN_KEYS)
            if unknown:
                # An unquoted comma in a flow mapping splits a description into a stray key.
                problems.append(
                    f"{where} has unknown key(s) {', '.join(map(repr, unknown))} "
                    "(allowed: " + ", ".join(sorted(MODEL_COLUMN_KEYS)) + "; quote a description holding a comma)"
                )
            for key in ("description", "description_en"):
                if not _is_text(column_spec.get(key)):
                    problems.append(f"{where} lacks its {key} (non-empty text)")
            enum = column_spec.get("enum")
            if enum and enum not in codebook.enumerations:
                problems.append(f"{where} names unknown enumeration {enum!r}")
    return problems


def _is_text(value: object) -> bool:
    return isinstance(value, str) and bool(value.strip())
