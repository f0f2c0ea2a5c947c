"""The CHEERS 2022 reporting checklist, and where the platform's output answers each item.

CHEERS 2022 (Consolidated Health Economic Evaluation Reporting Standards; Husereau et al.,
*Value in Health* 2022;25(1):3–9) has 28 items in six sections. :data:`CHEERS_2022` holds them as
data (number, section, topic in French and English). :func:`cheers_table` says, for one
economics run (:class:`~proximite.economics.report.EconomicsSummary`), whether each item is
answered by the platform's output and where: a section of the snapshot's ``economics.html``
(by its anchor, :data:`PAGE_SECTIONS`), ``docs/economics.md`` and the parameter files, or
"à compléter par l'équipe de recherche" / "for the research team to complete" (the study's
context, its analysis plan, engagement, distributional effects, discussion, funding and
conflicts of interest are the research team's to write).

Pure: no I/O beyond the codebook's labels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:  # pragma: no cover - typing only
    from proximite.cohort.codebook import Codebook
    from proximite.economics.report import EconomicsSummary

__all__ = [
    "BENEFITS_FILE",
    "CHEERS_2022",
    "CHEERS_COLUMNS",
    "CHEERS_SECTIONS",
    "COSTING_FILE",
    "DOCS",
    "PAGE_SECTIONS",
    "PARAMETER_FILES",
    "CheersItem",
    "cheers_table",
]

#: Sections of CHEERS 2022: key → (French, English).
CHEERS_SECTIONS: dict[str, tuple[str, str]] = {
    "title": ("Titre", "Title"),
    "abstract": ("Résumé", "Abstract"),
    "introduction": ("Introduction", "Introduction"),
    "methods": ("Méthodes", "Methods"),
    "results": ("Résultats", "Results"),
    "discussion": ("Discussion", "Discussion"),
    "other": ("Autres renseignements pertinents", "Other relevant information"),
}

#: Anchors of the sections of ``economics.html`` (the page writer uses these ids; ``title`` is
#: the page's heading).
PAGE_SECTIONS: tuple[str, ...] = (
    "title",
    "summary",
    "design",
    "costs",
    "cost-per-outcome",
    "cost-benefit",
    "uncertainty",
    "discounting",
    "tornado",
    "funding",
    "parameters",
    "cheers",
)
#: The documentation page (its "Reporting (CHEERS 2022)" and method sections).
DOCS = "docs/economics.md"
#: The parameter files that carry every value with its source.
BENEFITS_FILE = "economics/params/benefits.yaml"
COSTING_FILE = "economics/params/costing.yaml"
PARAMETER_FILES = (BENEFITS_FILE, COSTING_FILE)
_B, _C, _BC = (BENEFITS_FILE,), (COSTING_FILE,), PARAMETER_FILES


@dataclass(frozen=True)
class CheersItem:
    """One CHEERS 2022 item.

    Attributes
    ----------
    number : int
        1 … 28.
    section : str
        A key of :data:`CHEERS_SECTIONS`.
    topic_fr, topic_en : str
    anchor : str or None
        The section of ``economics.html`` that answers it (None: the research team's to write).
    docs : bool
        Whether ``docs/economics.md`` also answers it (method, assumptions).
    parameters : tuple of str
        The parameter files that answer it too (values, ranges, sources).
    """

    number: int
    section: str
    topic_fr: str
    topic_en: str
    anchor: str | None = None
    docs: bool = False
    parameters: tuple[str, ...] = ()

    def topic(self, lang: str) -> str:
        return self.topic_en if lang == "en" else self.topic_fr


#: The 28 items, in order.
CHEERS_2022: tuple[CheersItem, ...] = (
    CheersItem(1, "title", "Titre", "Title", "title"),
    CheersItem(2, "abstract", "Résumé", "Abstract", "summary"),
    CheersItem(3, "introduction", "Contexte et objectifs", "Background and objectives"),
    CheersItem(4, "methods", "Plan d'analyse économique en santé", "Health economic analysis plan"),
    CheersItem(5, "methods", "Population à l'étude", "Study population", "design", docs=True),
    CheersItem(6, "methods", "Milieu et lieu", "Setting and location", "design"),
    CheersItem(7, "methods", "Comparateurs", "Comparators", "design", docs=True, parameters=_B),
    CheersItem(8, "methods", "Perspective", "Perspective", "design", parameters=_B),
    CheersItem(9, "methods", "Horizon temporel", "Time horizon", "design", parameters=_B),
    CheersItem(10, "methods", "Taux d'actualisation", "Discount rate", "discounting", parameters=_B),
    CheersItem(11, "methods", "Choix des résultats", "Selection of outcomes", "cost-benefit", docs=True, parameters=_B),
    CheersItem(12, "methods", "Mesure des résultats", "Measurement of outcomes", "cost-per-outcome", docs=True, parameters=_B),
    CheersItem(13, "methods", "Valorisation des résultats", "Valuation of outcomes", "parameters", docs=True, parameters=_B),
    CheersItem(14, "methods", "Mesure et valorisation des ressources et des coûts",
               "Measurement and valuation of resources and costs", "costs", docs=True, parameters=_C),
    CheersItem(15, "methods", "Devise, date des prix et conversion", "Currency, price date, and conversion", "design", docs=True,
               parameters=_BC),
    CheersItem(16, "methods", "Justification et description du modèle", "Rationale and description of model",
               "cost-benefit", docs=True),
    CheersItem(17, "methods", "Analyses et hypothèses", "Analytics and assumptions", "cost-benefit", docs=True, parameters=_BC),
    CheersItem(18, "methods", "Caractérisation de l'hétérogénéité", "Characterising heterogeneity", "cost-per-outcome", docs=True),
    CheersItem(19, "methods", "Caractérisation des effets distributifs", "Characterising distributional effects"),
    CheersItem(20, "methods", "Caractérisation de l'incertitude", "Characterising uncertainty", "uncertainty", docs=True,
               parameters=_B),
    CheersItem(21, "methods", "Mobilisation des personnes concernées par l'étude",
               "Approach to engagement with patients and others affected by the study"),
    CheersItem(22, "results", "Paramètres de l'étude", "Study parameters", "parameters", parameters=_BC),
    CheersItem(23, "results", "Synthèse des principaux résultats", "Summary of main results", "summary"),
    CheersItem(24, "results", "Effet de l'incertitude", "Effect of uncertainty", "uncertainty"),
    CheersItem(25, "results", "Effet de la mobilisation des personnes concernées par l'étude",
               "Effect of engagement with patients and others affected by the study"),
    CheersItem(26, "discussion", "Constats, limites, généralisabilité et état des connaissances",
               "Study findings, limitations, generalisability, and current knowledge"),
    CheersItem(27, "other", "Source de financement", "Source of funding"),
    CheersItem(28, "other", "Conflits d'intérêts", "Conflicts of interest"),
)

#: Columns of :func:`cheers_table`.
CHEERS_COLUMNS: list[str] = ["item", "section", "topic", "applicable", "answered_in", "anchor", "references"]

_TEAM = {"fr": "À compléter par l'équipe de recherche", "en": "For the research team to complete"}
_MISSING = {
    "fr": "Non produit par cette analyse : à compléter par l'équipe de recherche",
    "en": "Not produced by this run: for the research team to complete",
}


def _anchor_present(anchor: str, summary: EconomicsSummary) -> bool:
    """Whether the run has what the page section needs (otherwise the item falls to the team)."""
    if anchor == "cost-per-outcome":
        return bool(summary.cost_per_outcome)
    if anchor == "costs":
        return summary.costs.get("total") is not None or bool(summary.costs.get("by_category"))
    if anchor == "cost-benefit":
        return summary.cost_benefit.get("npv") is not None or summary.cost_benefit.get("bcr") is not None
    if anchor == "uncertainty":
        return summary.psa is not None or bool(summary.tornado) or bool(summary.discount_sensitivity)
    if anchor == "discounting":
        return True  # the base-case rate is always stated
    if anchor == "funding":
        return bool(summary.funding)
    return True


def _heterogeneity(summary: EconomicsSummary) -> bool:
    """Item 18 holds only when cost per outcome is given for more than one scope."""
    return len({str(row.get("scope")) for row in summary.cost_per_outcome}) > 1


def cheers_table(summary: EconomicsSummary, *, lang: str = "fr", codebook: Codebook | None = None) -> pd.DataFrame:
    """The CHEERS 2022 checklist for one economics run: where each item is answered.

    Parameters
    ----------
    summary : EconomicsSummary
        The run (what it holds decides whether a results item is answered).
    lang : {"fr", "en"}, keyword-only
    codebook : Codebook, keyword-only
        For the page's section headings (``snapshot.yaml``, keys ``economics_<anchor>_heading``);
        default: the packaged codebook.

    Returns
    -------
    DataFrame
        :data:`CHEERS_COLUMNS`, 28 rows in item order: ``item`` (1–28), ``section`` and
        ``topic`` (in ``lang``), ``applicable`` (True when the platform's output answers the
        item), ``answered_in`` (text: the page section's heading, then ``docs/economics.md`` and
        the parameter files where they apply; or the research team's note), ``anchor`` (the
        id of the section of ``economics.html``, or None), ``references`` (the files, ``; ``
        separated, or empty).

    Notes
    -----
    An item mapped to a page section falls to the research team when the run lacks what that
    section shows (no PSA and no tornado for items 20 and 24; no cost per outcome for 12 and 18;
    item 18 also needs cost per outcome for more than one scope).
    """
    if lang not in ("fr", "en"):
        raise ValueError(f"lang must be 'fr' or 'en', not {lang!r}")
    if codebook is None:
        from proximite.cohort.codebook import load_codebook

        codebook = load_codebook()
    page = "economics.html"
    rows = []
    for item in CHEERS_2022:
        anchor = item.anchor
        if anchor is not None and (not _anchor_present(anchor, summary) or (item.number == 18 and not _heterogeneity(summary))):
            anchor = None
            answered = _MISSING[lang]
        elif anchor is None:
            answered = _TEAM[lang]
        else:
            key = "economics_title" if anchor == "title" else f"economics_{anchor.replace('-', '_')}_heading"
            heading = codebook.snapshot_text(key, lang=lang)
            answered = f"{page} — {heading}"
        references = []
        if anchor is not None:
            if item.docs:
                references.append(DOCS)
            references.extend(item.parameters)
        if references:
            answered = f"{answered}; {'; '.join(references)}"
        rows.append(
            {
                "item": item.number,
                "section": CHEERS_SECTIONS[item.section][1 if lang == "en" else 0],
                "topic": item.topic(lang),
                "applicable": anchor is not None,
                "answered_in": answered,
                "anchor": anchor,
                "references": "; ".join(references),
            }
        )
    return pd.DataFrame(rows, columns=CHEERS_COLUMNS)
