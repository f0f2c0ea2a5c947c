"""The panel's columns described: covariates, derived columns, and their codebook entries."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from proximite.cohort.harmonise.rules import resolve_codebook

if TYPE_CHECKING:  # pragma: no cover
    from proximite.cohort.codebook import Codebook

__all__ = ["PANEL_COVARIATES", "PANEL_DERIVED", "panel_codebook"]


#: Covariates the panel adds to the assessment columns: name → (type, French, English description).
PANEL_COVARIATES: dict[str, tuple[str, str, str]] = {
    "territory_id": ("string", "Territoire de la famille", "Family's territory"),
    "region_code": ("string", "Région administrative du territoire", "Administrative region of the territory"),
    "environment": ("string", "Milieu du territoire", "Territory's environment (urban, rural, mixed)"),
    "host_type": ("string", "Type d'organisme porteur du territoire", "Territory's host organisation type"),
    "isolated_at_contact": ("bool", "Isolée au premier contact (critère du projet pilote)", "Isolated at first contact (pilot's criterion)"),
    "single_parent": ("bool", "Famille monoparentale", "Single-parent family"),
    "baseline_isolation_index": ("float", "Indice d'isolement à la vague de référence (T0)", "Isolation index at baseline (T0)"),
    "n_children": ("int", "Nombre d'enfants de la famille", "Number of children in the family"),
}

#: Columns the panel derives on request (``ptp_minutes=True``, ``attrition_weight=True``):
#: name → (type, French, English description).
PANEL_DERIVED: dict[str, tuple[str, str, str]] = {
    "ptp_minutes": (
        "int",
        "Temps de PTP reçu par la famille jusqu'à la date d'évaluation de la vague (minutes d'activité liées à la famille)",
        "PTP time received by the family up to the wave's assessment date (minutes of activities linked to the family)",
    ),
    "attrition_weight": (
        "float",
        "Poids stabilisé d'attrition : inverse de la probabilité d'être encore suivie à la vague (1 à T0)",
        "Stabilised attrition weight: inverse probability of still being followed at the wave (1 at T0)",
    ),
}

#: The harmonised table each covariate is copied from (its codebook entry comes from there).
_COVARIATE_SOURCE = {
    "territory_id": "family",
    "region_code": "territory",
    "environment": "territory",
    "host_type": "territory",
    "isolated_at_contact": "family",
    "single_parent": "family",
}


def panel_codebook(columns: Iterable[str], *, codebook: Codebook | None = None) -> dict[str, dict[str, Any]]:
    """Plain-dict codebook of panel columns: description (FR/EN), type, enumeration, labels and the
    REDCap fields a column comes from.

    A column without an enumeration of its own that copies one coded REDCap item (a 0–3 isolation
    score, a 1–5 Likert item) gets that item's labels.

    Only strings, lists and dicts, so it survives ``copy.deepcopy`` and pickling in ``DataFrame.attrs``.
    """
    book = resolve_codebook(codebook)
    assessment = book.columns("assessment")
    result: dict[str, dict[str, Any]] = {}
    for column in columns:
        if column in assessment:
            spec = assessment[column]
        elif column in PANEL_COVARIATES:
            kind, fr, en = PANEL_COVARIATES[column]
            source = _COVARIATE_SOURCE.get(column)
            spec = dict(book.columns(source)[column]) if source else {"type": kind}
            spec.update({"type": kind, "description": fr, "description_en": en})
        elif column in PANEL_DERIVED:
            kind, fr, en = PANEL_DERIVED[column]
            spec = {"type": kind, "description": fr, "description_en": en}
        else:  # pragma: no cover - guarded by panel()
            continue
        fields = book.fields
        table_name = "assessment" if column in assessment else _COVARIATE_SOURCE.get(column, "")
        feeding = fields.loc[(fields["target_table"] == table_name) & (fields["target_column"] == column)]
        enum = str(spec.get("enum", ""))
        if not enum and len(feeding) == 1 and feeding["field_type"].iloc[0] in {"radio", "dropdown"}:
            # A coded REDCap item kept as is (a 0-3 score, a 1-5 Likert item): its labels apply.
            enum = str(feeding["enum"].iloc[0])
        entry: dict[str, Any] = {
            "description": str(spec.get("description", "")),
            "description_en": str(spec.get("description_en", "")),
            "type": str(spec["type"]),
            "enum": enum or None,
            "labels": {},
            "labels_en": {},
            "source_fields": [str(name) for name in feeding["field_name"] if name != book.record_id_field],
        }
        for bound in ("min", "max"):
            if bound in spec:
                entry[bound] = spec[bound]
        if entry["enum"]:
            entry["labels"] = dict(book.labels(entry["enum"], lang="fr"))
            entry["labels_en"] = dict(book.labels(entry["enum"], lang="en"))
        result[column] = entry
    return result
