"""Rule descriptions in French, for the report page that speaks one language.

The rules describe themselves in English (``Rule.description``, in ``summary.csv`` and the Data
Docs). The French report page shows the French of each: generated rules follow a handful of
sentence templates (filled in, typed, one of, between, matches, identifies one row) and the
hand-written rules have fixed sentences, so a template table translates every rule the gates
make. A description no template knows stays in English rather than being mistranslated;
``tests/unit/test_validation_report.py`` holds that every rule of the demo's gates has its French.
"""

from __future__ import annotations

import re

__all__ = ["in_french", "has_french"]

# What the staged REDCap rules call their technical columns (``what=`` in rules.py).
_LABELS = {
    "the record id": "le numéro de dossier",
    "the event": "l'événement",
    "the repeat instance": "l'instance répétée",
    "the data access group": "le groupe d'accès (DAG)",
    "the form status": "le statut du formulaire",
}

_FIXED = {
    "an assessment is not before the family's first contact": "une évaluation n'est pas antérieure au premier contact de la famille",
    "a family's assessments are in date order of their waves": "les évaluations d'une famille suivent l'ordre de leurs vagues",
    "every assessment has its family": "chaque évaluation a sa famille",
    "every need has its family": "chaque besoin a sa famille",
    "a need's status date is not before its identification": "la date du statut d'un besoin n'est pas antérieure à son identification",
    "every referral has its family": "chaque référence a sa famille",
    "every organisation named in a referral exists": "chaque organisme nommé dans une référence existe",
    "a referral's outcome date is not before the referral": "la date de l'issue d'une référence n'est pas antérieure à la référence",
    "every child has its family": "chaque enfant a sa famille",
    "a child unborn at contact has a birth month after the first contact":
        "un enfant à naître au contact a un mois de naissance postérieur au premier contact",
    "a child born (not unborn) at contact is born before the family's assessments":
        "un enfant déjà né au contact est né avant les évaluations de la famille",
    "a family belongs to one territory": "une famille appartient à un seul territoire",
    "every activity is by a known worker": "chaque activité est faite par un·e PTP connu·e",
    "a worker's activities fall inside their tenure in the territory":
        "les activités d'un·e PTP tombent dans sa période en poste sur le territoire",
    "an activity that names a family names one of the cohort's families (a record deleted in REDCap leaves its "
    "activities orphaned)": "une activité qui nomme une famille nomme une famille de la cohorte (un dossier supprimé "
    "dans REDCap laisse ses activités orphelines)",
    "the row is in its record's data access group (the group of most of the record's rows, all forms together): "
    "a family belongs to one territory": "la ligne est dans le groupe d'accès (DAG) de son dossier (celui de la plupart "
    "des lignes du dossier, tous formulaires confondus) : une famille appartient à un seul territoire",
}

# (English pattern, French template), first match wins: the specific before the general.
_TEMPLATES: list[tuple[re.Pattern[str], str]] = [
    (r"an assessment falls in its wave's window: T0 within (?P<a>\S+) of the first contact, Tk within ±(?P<b>\S+) "
     r"of T0 \+ k months", "une évaluation tombe dans la fenêtre de sa vague : T0 dans les {a} jours du premier "
     "contact, Tk à ±{b} jours de T0 + k mois"),
    (r"a child's birth month is plausible for the family's first contact \(born at most (?P<a>\d+) years before it; "
     r"an unborn child expected within (?P<b>\d+) months after it\)", "le mois de naissance d'un enfant est plausible "
     "au premier contact de la famille (né au plus {a} ans avant ; un enfant à naître attendu dans les {b} mois après)"),
    (r"an activity lasts (?P<a>\S+) to (?P<b>\S+) minutes", "une activité dure de {a} à {b} minutes"),
    (r"travel kilometres are between (?P<a>\S+) and (?P<b>\S+)", "les kilomètres parcourus sont entre {a} et {b}"),
    (r"(?P<label>\S+) is not after the REDCap pull's time \(a date in the future is a typo\)",
     "{label} n'est pas postérieur à l'heure de la collecte REDCap (une date future est une erreur de saisie)"),
    (r"wave is one of the configured waves \((?P<v>.+)\)", "la vague est l'une des vagues configurées ({v})"),
    (r"(?P<label>.+?) is filled in when (?P<others>.+) is", "{label} est rempli quand {others} l'est"),
    (r"(?P<label>.+?) is filled in", "{label} est rempli"),
    (r"(?P<label>.+?) is typed (?P<type>\w+)", "{label} est de type {type}"),
    (r"(?P<label>.+?) is one of (?P<n>\d+) codes", "{label} est l'un des {n} codes"),
    (r"(?P<label>.+?) is one of (?P<v>.+)", "{label} est l'une des valeurs {v}"),
    (r"(?P<label>.+?) is (?P<bounds>[≥≤].*)", "{label} est {bounds}"),
    (r"(?P<label>.+?) matches (?P<regex>.+)", "{label} suit le motif {regex}"),
    (r"\((?P<columns>.+)\) identifies one row", "({columns}) identifie une seule ligne"),
]
_COMPILED = [(re.compile(rf"^{pattern}$", re.DOTALL), french) for pattern, french in _TEMPLATES]


def _french_parts(parts: dict[str, str]) -> dict[str, str]:
    """Labels in French, and the ``and`` of a range."""
    translated = dict(parts)
    if "label" in translated:
        translated["label"] = _LABELS.get(translated["label"], translated["label"])
    if "bounds" in translated:
        translated["bounds"] = translated["bounds"].replace(" and ", " et ")
    if "others" in translated:
        translated["others"] = translated["others"].replace(" or ", " ou ")
    return translated


def _translate(description: str) -> str | None:
    """The French of a description, or None when no sentence or template knows it."""
    text = description.strip()
    if text in _FIXED:
        return _capitalised(_FIXED[text])
    for pattern, french in _COMPILED:
        match = pattern.match(text)
        if match:
            parts = match.groupdict()
            sentence = french.format(**_french_parts(parts))
            # A sentence that opens on a column's name keeps the name as it is spelled.
            opens_on_name = french.startswith("{label}") and parts["label"] not in _LABELS
            return sentence if opens_on_name else _capitalised(sentence)
    return None


def _capitalised(sentence: str) -> str:
    return sentence[:1].upper() + sentence[1:]


def has_french(description: str) -> bool:
    """Whether :func:`in_french` knows this description (the rest stays in English)."""
    return _translate(description) is not None


def in_french(description: str) -> str:
    """A rule's description in French, or as written when no template knows it.

    Parameters
    ----------
    description : str
        ``Rule.description`` (English).

    Returns
    -------
    str
        The French sentence (capitalised), or ``description`` unchanged.
    """
    if not description:
        return description
    return _translate(description) or description
