"""Labels of the economics parameters, and of the reasons one blocks publication, in French and English.

A parameter keeps its English key everywhere a machine reads it (``discount_rate``,
``dpj.unit_value``, ``costing.wages.ptp`` in the parameter files, the run's CSV and JSON); a
page shows its label in the page's language. The keys are:

- the model's own values: ``discount_rate``, ``discount_sensitivity``, ``cost_multiplier``;
- an outcome's value, ``<outcome>.<field>`` or ``<outcome>.unit_value.<perspective>``
  (``emploi.unit_value.society``): the outcome's label (from the benefits file) and the field's;
- a costing value, ``costing.<key>`` (:meth:`CostingParameters.placeholders
  <proximite.economics.costing_parameters.CostingParameters.placeholders>`): a wage, a loading,
  the km rate, or a supervision kind's ratio or fee (the kind's label from the codebook's
  ``supervision_kind``).

A blocker (:meth:`Value.blocker <proximite.economics.uncertain_values.Value.blocker>`) is written
``name: reason, reason``; :func:`split_blocker` reads it back and :func:`reason_label` names
each reason.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

__all__ = [
    "COSTING_LABELS",
    "FIELD_LABELS",
    "REASON_LABELS",
    "parameter_label",
    "parameter_labels",
    "reason_label",
    "split_blocker",
]

#: Labels of the value fields and perspectives, and of the model's own values, by language.
FIELD_LABELS: dict[str, dict[str, str]] = {
    "en": {
        "unit_value": "unit value", "baseline_probability": "baseline probability", "effect": "effect",
        "timing": "timing", "drop_off": "drop-off", "deadweight": "deadweight", "attribution": "attribution",
        "displacement": "displacement", "government": "government", "society": "society",
        "cost_multiplier": "Programme cost multiplier", "discount_rate": "Discount rate",
        "discount_sensitivity": "Discount rates (sensitivity)",
    },
    "fr": {
        "unit_value": "valeur unitaire", "baseline_probability": "probabilité de base", "effect": "effet",
        "timing": "calendrier", "drop_off": "atténuation annuelle", "deadweight": "poids mort",
        "attribution": "attribution", "displacement": "déplacement", "government": "gouvernement",
        "society": "société", "cost_multiplier": "Multiplicateur des coûts du programme",
        "discount_rate": "Taux d'actualisation", "discount_sensitivity": "Taux d'actualisation (sensibilité)",
    },
}

#: Labels of the costing values (``economics/params/costing.yaml``), French then English.
COSTING_LABELS: dict[str, tuple[str, str]] = {
    "wages.ptp": ("Salaire horaire de base des PTP", "PTP base hourly wage"),
    "wages.supervisor": ("Salaire horaire de base de la supervision", "Supervisor base hourly wage"),
    "wages": ("Salaire horaire de base", "Base hourly wage"),
    "loading.benefits": ("Avantages sociaux (part du salaire de base)", "Benefits (share of the base wage)"),
    "loading.overhead": ("Frais généraux (part du salaire de base)", "Overhead (share of the base wage)"),
    "km_rate": ("Taux de remboursement par kilomètre", "Reimbursement rate per kilometre"),
    "supervisor_ratio": ("minutes de supervision par minute de PTP", "supervisor minutes per PTP minute"),
    "fee_per_session": ("frais par séance et par PTP", "fee per session and PTP"),
}

#: Why a value blocks publication (:meth:`Value.blocker`), French then English.
REASON_LABELS: dict[str, tuple[str, str]] = {
    "placeholder": ("valeur provisoire", "placeholder value"),
    "source is a placeholder": ("source provisoire", "placeholder source"),
    "no source": ("sans source", "no source"),
    "no year": ("sans année", "no year"),
    "not marked (placeholder: false missing)": ("non validée (« placeholder: false » absent)",
                                                "not signed off (“placeholder: false” missing)"),
}


def _pick(pair: tuple[str, str], lang: str) -> str:
    return pair[0] if lang == "fr" else pair[1]


def _colon(lang: str) -> str:
    return "\u00a0: " if lang == "fr" else ": "


def split_blocker(blocker: str) -> tuple[str, list[str]]:
    """``"dpj.effect: placeholder, no year"`` → ``("dpj.effect", ["placeholder", "no year"])``."""
    name, _, reasons = str(blocker).partition(": ")
    return name.strip(), [reason.strip() for reason in reasons.split(", ") if reason.strip()]


def reason_label(reason: str, *, lang: str) -> str:
    """A blocking reason in ``lang`` (the reason itself when it is not in :data:`REASON_LABELS`)."""
    pair = REASON_LABELS.get(reason)
    return _pick(pair, lang) if pair else reason


def _costing_label(key: str, *, lang: str, codebook: Any = None) -> str | None:
    if key in COSTING_LABELS:
        return _pick(COSTING_LABELS[key], lang)
    head, _, rest = key.partition(".")
    if head == "wages" and rest:
        return f"{_pick(COSTING_LABELS['wages'], lang)} ({rest})"
    if head == "supervision_kinds" and rest:
        kind, _, field_name = rest.partition(".")
        name = kind
        if codebook is not None and kind in codebook.enumerations.get("supervision_kind", {}):
            name = codebook.label("supervision_kind", kind, lang=lang)
        field_label = _pick(COSTING_LABELS[field_name], lang) if field_name in COSTING_LABELS else field_name
        return f"{name}{_colon(lang)}{field_label}"
    return None


def parameter_label(
    name: str,
    *,
    lang: str = "en",
    outcomes: Mapping[str, tuple[str, str]] | None = None,
    codebook: Any = None,
) -> str:
    """A readable label for the parameter ``name`` in ``lang`` (``name`` itself when unknown).

    Parameters
    ----------
    name : str
        ``discount_rate``, ``dpj.effect``, ``emploi.unit_value.society``, ``costing.km_rate``...
    lang : {"fr", "en"}, keyword-only
    outcomes : mapping of str to (str, str), keyword-only
        The outcomes' labels, French then English, by key (``dpj``).
    codebook : Codebook, keyword-only
        For the supervision kinds' labels (default: their codes).

    Examples
    --------
    >>> parameter_label("dpj.effect", lang="fr", outcomes={"dpj": ("DPJ évitée", "DPJ avoided")})
    'DPJ évitée\\xa0: effet'
    >>> parameter_label("costing.km_rate", lang="en")
    'Reimbursement rate per kilometre'
    """
    words = FIELD_LABELS["fr" if lang == "fr" else "en"]
    if name in words:
        return words[name]
    if name.startswith("costing."):
        return _costing_label(name.removeprefix("costing."), lang=lang, codebook=codebook) or name
    key, _, rest = name.partition(".")
    labels = (outcomes or {}).get(key)
    if labels is None or not rest:
        return name
    field_name, _, perspective = rest.partition(".")
    text = f"{_pick(labels, lang)}{_colon(lang)}{words.get(field_name, field_name)}"
    if perspective:
        text += f" ({words.get(perspective, perspective)})"
    return text


def parameter_labels(
    names: Iterable[str], *, outcomes: Mapping[str, tuple[str, str]] | None = None, codebook: Any = None
) -> dict[str, dict[str, str]]:
    """``{name: {"fr": label, "en": label}}`` for each of ``names`` (what a run records for its pages)."""
    return {
        name: {lang: parameter_label(name, lang=lang, outcomes=outcomes, codebook=codebook) for lang in ("fr", "en")}
        for name in dict.fromkeys(names)
    }
