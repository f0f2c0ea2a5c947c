"""The codebook as a readable page (Markdown or self-contained HTML), for ``proximite codebook``.

Everything on the page comes from :func:`~proximite.cohort.codebook.load_codebook` and the
configuration, so the page can never disagree with what harmonisation and validation use.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from pathlib import Path

from proximite.cohort.codebook import Codebook, SurveyProject, load_codebook
from proximite.config import Settings, load_settings

TEXT = {
    "fr": {
        "title": "Proximité — dictionnaire des données",
        "model": "Modèle harmonisé (couche 03)",
        "grain": "Grain :",
        "column": "Colonne",
        "type": "Type",
        "key": "Clé",
        "required": "Obligatoire",
        "range": "Plage",
        "codes": "Codes",
        "description": "Description",
        "enumerations": "Listes de codes",
        "code": "Code",
        "label_fr": "Libellé (français)",
        "label_en": "Libellé (anglais)",
        "redcap": "Projet REDCap de la cohorte",
        "redcap_note": "",
        "events": "Événements",
        "event": "Événement",
        "wave": "Vague (mois)",
        "forms": "Formulaires",
        "repeating": "répétable",
        "field": "Champ",
        "label": "Libellé",
        "identifier": "Identifiant (reste dans REDCap)",
        "target": "Alimente",
        "registry": "Registre des activités (gabarit)",
        "explanation": "Explication",
        "isolation": "Grille d'isolement",
        "isolation_text": (
            "Six dimensions notées de 0 (aucune difficulté) à 3 (difficulté forte). Indice = 100 × moyenne "
            "pondérée des dimensions répondues / {max_score}, calculé lorsque au moins {min_answered} des 6 "
            "dimensions sont répondues. Une famille est isolée à une vague lorsque l'indice ≥ {threshold}. "
            "Non-recours selon le nombre de ressources utilisées au cours des 3 derniers mois : {bands}."
        ),
        "regions": "Régions administratives",
        "survey": "Questionnaire annuel : {title}",
        "survey_text": (
            "Projet REDCap d'enquête : un événement par année ({years}); un dossier par personne ou organisme "
            "répondant, conservé d'une année à l'autre; un groupe d'accès aux données par territoire."
        ),
        "yes": "oui",
    },
    "en": {
        "title": "Proximité — codebook",
        "model": "Harmonised model (layer 03)",
        "grain": "Grain:",
        "column": "Column",
        "type": "Type",
        "key": "Key",
        "required": "Required",
        "range": "Range",
        "codes": "Codes",
        "description": "Description",
        "enumerations": "Code lists",
        "code": "Code",
        "label_fr": "Label (French)",
        "label_en": "Label (English)",
        "redcap": "The cohort's REDCap project",
        "redcap_note": "The questionnaire is in French: field labels here are English translations of REDCap's French labels.",
        "events": "Events",
        "event": "Event",
        "wave": "Wave (months)",
        "forms": "Forms",
        "repeating": "repeating",
        "field": "Field",
        "label": "Label",
        "identifier": "Identifier (stays in REDCap)",
        "target": "Feeds",
        "registry": "Activity registry (template)",
        "explanation": "Explanation",
        "isolation": "Isolation grid",
        "isolation_text": (
            "Six dimensions scored 0 (no difficulty) to 3 (strong difficulty). Index = 100 × weighted mean of "
            "the answered dimensions / {max_score}, computed when at least {min_answered} of the 6 are "
            "answered. A family is isolated at a wave when the index ≥ {threshold}. Non-use of services from "
            "the number of resources used in the last 3 months: {bands}."
        ),
        "regions": "Administrative regions",
        "survey": "Yearly questionnaire: {title}",
        "survey_text": (
            "A REDCap survey project: one event per year ({years}); a record per responding person or "
            "organisation, kept from one year to the next; one data access group per territory."
        ),
        "yes": "yes",
    },
}


@dataclass
class Section:
    """A heading, an optional paragraph and tables (header row + rows)."""

    title: str
    level: int = 2
    text: str = ""
    tables: list[tuple[list[str], list[list[str]]]] = field(default_factory=list)


def codebook_sections(codebook: Codebook, settings: Settings, *, lang: str = "fr") -> list[Section]:
    """The page's content as sections, independent of the output format.

    In English (``lang="en"``), column descriptions, table grains, REDCap field labels and
    registry explanations are the codebook's English texts; code lists show both languages.
    """
    words = TEXT[lang]
    sections = [Section(words["isolation"], text=_isolation_text(settings, words))]
    sections += _model_sections(codebook, words, lang=lang)
    sections.append(Section(words["enumerations"]))
    for name, codes in codebook.enumerations.items():
        rows = [[code, label.fr, label.en] for code, label in codes.items()]
        sections.append(
            Section(f"`{name}`", level=3, tables=[([words["code"], words["label_fr"], words["label_en"]], rows)])
        )
    sections += _redcap_sections(codebook, settings, words, lang=lang)
    sections += _registry_sections(codebook, words, lang=lang)
    sections += _survey_sections(codebook, words, lang=lang)
    regions = codebook.regions
    label_column = "name_en" if lang == "en" else "name_fr"
    sections.append(
        Section(
            words["regions"],
            tables=[([words["code"], words["label"]], regions[["region_code", label_column]].astype(str).values.tolist())],
        )
    )
    return sections


def _model_sections(codebook: Codebook, words: dict[str, str], *, lang: str) -> list[Section]:
    """The harmonised tables: one section per table, its grain and its columns."""
    sections = [Section(words["model"])]
    header = [words[k] for k in ("column", "type", "key", "required", "range", "codes", "description")]
    for table in codebook.tables:
        rows = []
        for name, column in codebook.columns(table).items():
            bounds = ""
            if "min" in column or "max" in column:
                bounds = f"{column.get('min', '')} – {column.get('max', '')}"
            rows.append(
                [
                    name,
                    column["type"],
                    words["yes"] if column.get("key") else "",
                    words["yes"] if column.get("required") else "",
                    bounds,
                    column.get("enum", ""),
                    codebook.description(table, name, lang=lang),
                ]
            )
        text = f"{words['grain']} {codebook.grain(table, lang=lang)}"
        sections.append(Section(f"`{table}`", level=3, text=text, tables=[(header, rows)]))
    return sections


def _redcap_sections(codebook: Codebook, settings: Settings, words: dict[str, str], *, lang: str) -> list[Section]:
    """The REDCap project: its events, then one section per form with its fields."""
    waves = settings.event_waves
    event_rows = [
        [event["unique"], event["name"], str(waves.get(event["unique"], "")), ", ".join(event["forms"])]
        for event in codebook.project["events"]
    ]
    sections = [
        Section(words["redcap"], text=words["redcap_note"]),
        Section(words["events"], level=3, tables=[([words["event"], words["label"], words["wave"], words["forms"]], event_rows)]),
    ]
    return sections + _form_sections(codebook, words, lang=lang)


def _registry_sections(codebook: Codebook, words: dict[str, str], *, lang: str) -> list[Section]:
    """The activity registry's templates: one section per table with its columns."""
    explanation = "explanation_en" if lang == "en" else "explanation"
    header = [words["column"], words["type"], words["required"], words["codes"], words["explanation"]]
    sections = [Section(words["registry"])]
    for table, columns in codebook.registry.items():
        rows = [
            [name, spec["type"], words["yes"] if spec.get("required") else "", spec.get("enum", ""), spec[explanation]]
            for name, spec in columns.items()
        ]
        sections.append(Section(f"`{table}`", level=3, tables=[(header, rows)]))
    return sections


def _survey_sections(codebook: Codebook, words: dict[str, str], *, lang: str) -> list[Section]:
    """The yearly questionnaires: per project, its years, then one section per form with its fields."""
    sections = []
    for survey in codebook.surveys.values():
        years = ", ".join(str(year) for year in survey.years)
        sections.append(Section(words["survey"].format(title=survey.project["title"]), text=words["survey_text"].format(years=years)))
        sections += _form_sections(survey, words, lang=lang)
    return sections


def _form_sections(project: Codebook | SurveyProject, words: dict[str, str], *, lang: str) -> list[Section]:
    """One section per REDCap form of a project (the cohort's or a questionnaire's): its fields."""
    header = [words["field"], words["type"], words["label"], words["codes"], words["identifier"], words["target"]]
    sections = []
    for form in project.forms:
        fields = project.fields[project.fields["form_name"] == form]
        rows = [
            [
                row.field_name,
                row.field_type,
                row.label_en if lang == "en" else row.label,
                row.enum,
                words["yes"] if row.identifier else "",
                f"{row.target_table}.{row.target_column}" if row.target_table else "",
            ]
            for row in fields.itertuples()
        ]
        title = f"`{form}`" + (f" ({words['repeating']})" if form in project.repeating_forms else "")
        sections.append(Section(title, level=3, tables=[(header, rows)]))
    return sections


def _isolation_text(settings: Settings, words: dict[str, str]) -> str:
    grid = settings["isolation"]
    bands = []
    lower = 0
    for upper, score in grid["non_recours_bands"]:
        bands.append(f"{lower}–{upper} → {score}" if upper != lower else f"{upper} → {score}")
        lower = upper + 1
    bands.append(f"≥ {lower} → {grid['non_recours_above']}")
    return words["isolation_text"].format(
        max_score=grid["max_score"],
        min_answered=grid["min_answered"],
        threshold=grid["isolated_threshold"],
        bands=", ".join(bands),
    )


def render_markdown(sections: list[Section], *, title: str) -> str:
    """Render sections as Markdown (pipes in cells escaped)."""
    lines = [f"# {title}", ""]
    for section in sections:
        lines += ["#" * section.level + " " + section.title, ""]
        if section.text:
            lines += [section.text, ""]
        for header, rows in section.tables:
            lines.append("| " + " | ".join(header) + " |")
            lines.append("|" + "---|" * len(header))
            for row in rows:
                lines.append("| " + " | ".join(str(cell).replace("|", "\\|") for cell in row) + " |")
            lines.append("")
    return "\n".join(lines)


def render_html(sections: list[Section], *, title: str, lang: str) -> str:
    """Render sections as one self-contained HTML page (no network needed to open it)."""
    parts = [
        f"<!doctype html><html lang='{lang}'><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
        "<style>body{font-family:system-ui,sans-serif;margin:2rem;max-width:75rem}"
        "table{border-collapse:collapse;margin:0.5rem 0 1.5rem}th,td{border:1px solid #ccc;padding:0.25rem 0.5rem;"
        "text-align:left;vertical-align:top}th{background:#f0f0f0}code{background:#f6f6f6}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
    ]
    for section in sections:
        heading = html.escape(section.title).replace("`", "")
        parts.append(f"<h{section.level}>{heading}</h{section.level}>")
        if section.text:
            parts.append(f"<p>{html.escape(section.text)}</p>")
        for header, rows in section.tables:
            parts.append("<table><thead><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in header) + "</tr></thead><tbody>")
            for row in rows:
                parts.append("<tr>" + "".join(f"<td>{html.escape(str(cell))}</td>" for cell in row) + "</tr>")
            parts.append("</tbody></table>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_codebook_page(out: str | Path, *, lang: str = "fr", settings: Settings | None = None) -> Path:
    """Write the codebook page; the format follows the suffix (``.md`` or ``.html``).

    Parameters
    ----------
    out : str or Path
        Output file.
    lang : {"fr", "en"}, keyword-only
        Language of headings and labels.
    settings : Settings, optional
        Configuration (waves, isolation grid); the defaults when omitted.

    Returns
    -------
    Path
        The file written.
    """
    path = Path(out)
    settings = settings or load_settings()
    sections = codebook_sections(load_codebook(), settings, lang=lang)
    title = TEXT[lang]["title"]
    if path.suffix.lower() == ".md":
        content = render_markdown(sections, title=title)
    else:
        content = render_html(sections, title=title, lang=lang)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content, encoding="utf-8")
    return path
