"""The privacy inventory as documents: Markdown and self-contained HTML, in French and English.

Pure functions over an :class:`~proximite.cohort.privacy.inventory.Inventory`: the sections
(:class:`~proximite.cohort.codebook.docs.Section`) are rendered by the codebook page's own
renderers. The documents describe fields, layers, keys and rules; they never hold a value.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from proximite.cohort.codebook.docs import Section, render_html, render_markdown
from proximite.cohort.privacy.inventory import LAYERS, Inventory

__all__ = ["INVENTORY_LANGS", "TEXT", "document_name", "inventory_documents", "inventory_sections", "render_inventory"]

#: The inventory's languages.
INVENTORY_LANGS = ("fr", "en")

TEXT: dict[str, dict[str, Any]] = {
    "fr": {
        "title": "Inventaire des renseignements personnels — {project}",
        "intro": (
            "Généré par `proximite privacy inventory` le {date} (version du code {version}) à partir du codebook "
            "(formulaires REDCap, questionnaires, modèle harmonisé, gabarits) et des colonnes que déclarent les "
            "sources, pour l'évaluation des facteurs relatifs à la vie privée (ÉFVP). Il décrit les champs, où ils "
            "sont conservés, qui les voit et combien de temps; jamais une valeur. Un projet REDCap propre à une "
            "équipe (fichier de correspondance) suit les mêmes règles : ses champs marqués identifiants restent "
            "dans la couche 01."
        ),
        "summary": "Résumé",
        "what": "Quoi", "count": "Nombre",
        "n_sources": "Sources", "n_fields": "Champs et colonnes des sources", "n_identifiers": "Dont identifiants (restent dans la couche 01)",
        "n_derived": "Colonnes dérivées à l'harmonisation",
        "layers": "Couches de données",
        "layer": "Couche", "folder": "Dossier (dans le projet)", "content": "Contenu", "who": "Qui y a accès", "retention": "Conservation",
        "layer_rows": {
            "01": ("Fichiers tels que reçus, avec leur manifeste : la seule couche qui contient les identifiants", "coordination",
                   "{days} jours, puis réduite par la règle de conservation à ce que la piste de vérification exige "
                   "(manifeste, comptes, empreintes, colonnes dépersonnalisées)"),
            "02": ("Tables typées par source : identifiants retirés, numéros de dossier REDCap conservés", "coordination (et le pipeline)", "project"),
            "03": ("Modèle harmonisé et entrepôt : familles, réponses et personnes sous pseudonyme (HMAC-SHA256)", "statistique", "project"),
            "04": ("Indicateurs agrégés par territoire, région et Québec, sans contrôle de divulgation", "statistique", "project"),
            "05": ("Portraits et rapports : agrégats sous contrôle de divulgation; au niveau interne, la page des suivis "
                   "(pseudonyme et numéro de dossier)", "décision (public); équipe de recherche (interne)", "project"),
            "quarantine": ("Lots refusés et leurs rapports : numéros de dossier REDCap, valeur fautive des champs codés, "
                           "numériques et des dates (jamais le texte libre ni les identifiants)", "coordination",
                           "gardés avec le lot refusé"),
        },
        "project_life": "durée du projet; un retrait avec destruction des données efface la famille des couches 02 à 05",
        "keys": "Clés et journal des accès",
        "key": "Élément", "where": "Où",
        "pseudonym_key": "Clé des pseudonymes",
        "pseudonym_key_where": "variable d'environnement {env}, sinon le fichier {file} du projet (mode 0600); jamais dans la configuration",
        "raw_key": "Clé de chiffrement de la couche 01",
        "raw_key_where": "variable d'environnement {env}, sinon le fichier {file} du projet",
        "planned": " (emplacement prévu)",
        "access_log": "Journal des accès",
        "access_log_where": (
            "{path} (mode 0600, ajout seulement) : une ligne JSON par lecture de données identifiantes ou sortie "
            "destinée à la coordination avec des numéros de dossier (qui, quand, commande, comptes; jamais une "
            "valeur); `proximite privacy log` l'affiche"
        ),
        "disclosure": "Règle des petites cellules",
        "disclosure_text": (
            "Dans tout ce que voit un·e décideur·euse, les comptes de personnes (familles, enfants, besoins, références, "
            "personnel) de 1 à {below} sont supprimés (seuil {threshold}); dans les portraits publics, les comptes sont "
            "arrondis au multiple de {base} le plus proche et les taux calculés à partir des comptes arrondis; une "
            "suppression complémentaire couvre les totaux et les dénominateurs partagés. Niveau par défaut d'un portrait : "
            "{level}. Un portrait ne contient jamais une ligne par famille."
        ),
        "fields": "Inventaire champ par champ",
        "fields_text": (
            "Couches : 01 brute, 02 mise en forme, 03 harmonisée (et entrepôt), 04 indicateurs, 05 diffusion. "
            "« — » : la couche ne contient pas le champ."
        ),
        "header": ["Table", "Champ", "Libellé", "Identifiant", "01", "02", "03", "04", "05", "Colonne harmonisée",
                   "Aussi dans", "Qui le voit", "Conservation"],
        "sources": {
            "reference": "Tables de référence (régions, territoires, organismes)",
            "redcap": "Projet REDCap de la cohorte",
            "registry": "Registre des activités (activités, PTP, supervision)",
            "cost": "Coûts du programme",
            "partner_survey": "Questionnaire annuel des partenaires (REDCap)",
            "staff_survey": "Questionnaire annuel des PTP et des gestionnaires (REDCap)",
            "qual_register": "Registre qualitatif (entrevues et groupes de discussion)",
            "qual_coding": "Codage qualitatif (projets REFI-QDA)",
            "harmonisation": "Colonnes dérivées à l'harmonisation",
        },
        "cells": {
            "received": "reçu", "typed": "typé", "month": "année-mois", "choices": "une colonne par choix", "value": "valeur",
            "count": "compte", "mean": "moyenne des items", "pseudonym": "pseudonyme", "derived": "dérivé",
            "aggregate": "agrégats", "reference": "tel quel",
        },
        "elsewhere": {
            "refusal_reports": "rapports de refus (numéro de dossier; journalisé)",
            "followups_lookup": "listes des suivis et `proximite lookup` (numéro de dossier; journalisé)",
            "refusal_value": "rapport de refus (valeur fautive)",
            "withdrawal_step": "lu par l'étape de retrait du consentement (jamais harmonisé)",
        },
        "audience": {"coordinator": "coordination", "statistician": "statistique", "decision_maker": "décision"},
        "layer_names": {"quarantine": "quarantaine"},
        "retention_cells": {
            "raw_removed": "01 seulement : retiré après {days} jours",
            "raw_reduced": "01 : {days} jours, puis réduit; 02 à 05 : durée du projet",
            "project": "durée du projet",
        },
        "yes": "oui",
    },
    "en": {
        "title": "Privacy inventory — {project}",
        "intro": (
            "Generated by `proximite privacy inventory` on {date} (code version {version}) from the codebook (REDCap "
            "forms, questionnaires, harmonised model, templates) and the columns the sources declare, for the privacy "
            "impact assessment (PIA). It describes the fields, where they are kept, who sees them and for how long; "
            "never a value. A team's own REDCap project (mapping file) follows the same rules: its fields flagged as "
            "identifiers stay in layer 01."
        ),
        "summary": "Summary",
        "what": "What", "count": "Count",
        "n_sources": "Sources", "n_fields": "Fields and columns of the sources", "n_identifiers": "Of which identifiers (stay in layer 01)",
        "n_derived": "Columns derived in harmonisation",
        "layers": "Data layers",
        "layer": "Layer", "folder": "Folder (in the project)", "content": "Content", "who": "Who has access", "retention": "Retention",
        "layer_rows": {
            "01": ("Files as received, with their manifest: the only layer holding identifiers", "coordinator",
                   "{days} days, then reduced by the retention rule to what the audit trail needs (manifest, counts, "
                   "hashes, de-identified columns)"),
            "02": ("Typed tables per source: identifiers dropped, REDCap record ids kept", "coordinator (and the pipeline)", "project"),
            "03": ("Harmonised model and warehouse: families, answers and people under pseudonyms (HMAC-SHA256)", "statistician", "project"),
            "04": ("Indicators aggregated by territory, region and Québec, without disclosure control", "statistician", "project"),
            "05": ("Snapshots and reports: aggregates under disclosure control; at the internal level, the follow-up page "
                   "(pseudonym and record id)", "decision-maker (public); research team (internal)", "project"),
            "quarantine": ("Refused batches and their reports: REDCap record ids, the offending value of coded, numeric and "
                           "date fields (never free text or identifiers)", "coordinator", "kept with the refused batch"),
        },
        "project_life": "the project's life; a withdrawal with data destruction removes the family from layers 02 to 05",
        "keys": "Keys and access log",
        "key": "Item", "where": "Where",
        "pseudonym_key": "Pseudonym key",
        "pseudonym_key_where": "environment variable {env}, else the project's file {file} (mode 0600); never in the configuration",
        "raw_key": "Layer 01 encryption key",
        "raw_key_where": "environment variable {env}, else the project's file {file}",
        "planned": " (planned location)",
        "access_log": "Access log",
        "access_log_where": (
            "{path} (mode 0600, append-only): one JSON line per read of identifying data or coordinator output with "
            "record ids (who, when, command, counts; never a value); `proximite privacy log` shows it"
        ),
        "disclosure": "Small-cell rule",
        "disclosure_text": (
            "In anything a decision-maker sees, counts of people (families, children, needs, referrals, staff) from 1 "
            "to {below} are suppressed (threshold {threshold}); in public snapshots counts are rounded to the nearest "
            "multiple of {base} and rates computed from the rounded counts; complementary suppression covers totals "
            "and shared denominators. Default level of a snapshot: {level}. A snapshot never holds a row per family."
        ),
        "fields": "Field-by-field inventory",
        "fields_text": (
            "Layers: 01 raw, 02 staged, 03 harmonised (and warehouse), 04 indicators, 05 reporting. "
            "\"—\": the layer does not hold the field."
        ),
        "header": ["Table", "Field", "Label", "Identifier", "01", "02", "03", "04", "05", "Harmonised column",
                   "Also in", "Who sees it", "Retention"],
        "sources": {
            "reference": "Reference tables (regions, territories, organisations)",
            "redcap": "The cohort's REDCap project",
            "registry": "Activity registry (activities, PTPs, supervision)",
            "cost": "Program costs",
            "partner_survey": "Yearly partner questionnaire (REDCap)",
            "staff_survey": "Yearly PTP and manager questionnaire (REDCap)",
            "qual_register": "Qualitative register (interviews and focus groups)",
            "qual_coding": "Qualitative coding (REFI-QDA projects)",
            "harmonisation": "Columns derived in harmonisation",
        },
        "cells": {
            "received": "as received", "typed": "typed", "month": "year-month", "choices": "one column per choice",
            "value": "value", "count": "count", "mean": "item mean", "pseudonym": "pseudonym", "derived": "derived",
            "aggregate": "aggregates", "reference": "as is",
        },
        "elsewhere": {
            "refusal_reports": "refusal reports (record id; logged)",
            "followups_lookup": "follow-up lists and `proximite lookup` (record id; logged)",
            "refusal_value": "refusal report (offending value)",
            "withdrawal_step": "read by the consent-withdrawal step (never harmonised)",
        },
        "audience": {"coordinator": "coordinator", "statistician": "statistician", "decision_maker": "decision-maker"},
        "layer_names": {},
        "retention_cells": {
            "raw_removed": "01 only: removed after {days} days",
            "raw_reduced": "01: {days} days, then reduced; 02 to 05: the project's life",
            "project": "the project's life",
        },
        "yes": "yes",
    },
}


def document_name(lang: str, suffix: str) -> str:
    """``privacy-inventory.<lang>.<suffix>`` (``md`` or ``html``)."""
    return f"privacy-inventory.{lang}.{suffix}"


def _words(lang: str) -> dict[str, Any]:
    if lang not in TEXT:
        raise ValueError(f"unknown language {lang!r} (languages: {', '.join(INVENTORY_LANGS)})")
    return TEXT[lang]


def inventory_sections(inventory: Inventory, *, lang: str, generated: dt.date, code_version: str) -> list[Section]:
    """The document's sections: summary, layers, keys and log, small-cell rule, then the fields by source.

    Parameters
    ----------
    inventory : Inventory
    lang : {"fr", "en"}, keyword-only
    generated : datetime.date, keyword-only
        The day stated in the introduction (the caller's clock: the library never reads it).
    code_version : str, keyword-only
    """
    words = _words(lang)
    facts = inventory.facts
    rows = inventory.rows
    intro = words["intro"].format(date=generated.isoformat(), version=code_version)
    sources = [source for source in rows["source"].unique() if source != "harmonisation"]
    from_sources = rows[rows["source"] != "harmonisation"]
    summary = [
        [words["n_sources"], str(len(sources))],
        [words["n_fields"], str(len(from_sources))],
        [words["n_identifiers"], str(int(from_sources["identifier"].sum()))],
        [words["n_derived"], str(int((rows["source"] == "harmonisation").sum()))],
    ]
    sections = [
        Section(words["summary"], text=intro, tables=[([words["what"], words["count"]], summary)]),
        _layer_section(facts, words),
        _keys_section(facts, words),
        _disclosure_section(facts, words),
        Section(words["fields"], text=words["fields_text"]),
    ]
    for source, group in rows.groupby("source", sort=False):
        title = f"{words['sources'].get(source, source)} (`{source}`)"
        cells = [_field_cells(row, words, lang=lang, days=facts["raw_retention_days"]) for row in group.to_dict("records")]
        sections.append(Section(title, level=3, tables=[(words["header"], cells)]))
    return sections


def _layer_section(facts: dict[str, Any], words: dict[str, Any]) -> Section:
    days = facts["raw_retention_days"]
    rows = []
    for layer, (content, who, retention) in words["layer_rows"].items():
        kept = words["project_life"] if retention == "project" else retention.format(days=days)
        folders = ", ".join(f"`{folder}`" for folder in facts["folders"][layer])
        rows.append([words["layer_names"].get(layer, layer), folders, content, who, kept])
    header = [words["layer"], words["folder"], words["content"], words["who"], words["retention"]]
    return Section(words["layers"], tables=[(header, rows)])


def _keys_section(facts: dict[str, Any], words: dict[str, Any]) -> Section:
    pseudonym, raw = facts["pseudonym_key"], facts["raw_key"]
    rows = [
        [words["pseudonym_key"], words["pseudonym_key_where"].format(env=f"`{pseudonym['env']}`", file=f"`{pseudonym['file']}`")],
        [words["raw_key"], words["raw_key_where"].format(env=f"`{raw['env']}`", file=f"`{raw['file']}`")
         + (words["planned"] if raw["planned"] else "")],
        [words["access_log"], words["access_log_where"].format(path=f"`{facts['access_log']}`")],
    ]
    return Section(words["keys"], tables=[([words["key"], words["where"]], rows)])


def _disclosure_section(facts: dict[str, Any], words: dict[str, Any]) -> Section:
    rule = facts["disclosure"]
    text = words["disclosure_text"].format(
        below=rule["threshold"] - 1, threshold=rule["threshold"], base=rule["rounding_base"], level=rule["level"]
    )
    return Section(words["disclosure"], text=text)


def _field_cells(row: dict[str, Any], words: dict[str, Any], *, lang: str, days: int) -> list[str]:
    """One field's table row, its codes in words (``—`` for a layer that does not hold it)."""
    label = row["label_en"] if lang == "en" else row["label_fr"]
    layers = [words["cells"].get(row[f"layer_{layer}"], row[f"layer_{layer}"]) or "—" for layer in LAYERS]
    elsewhere = "; ".join(words["elsewhere"][code.strip()] for code in str(row["elsewhere"]).split(";") if code.strip())
    audience = ", ".join(words["audience"][code] for code in str(row["audience"]).split(";") if code)
    return [
        str(row["table"]), f"`{row['field']}`", str(label) or "—", words["yes"] if row["identifier"] else "",
        *layers, str(row["harmonised"]).replace("; ", ", ") or "—", elsewhere, audience,
        words["retention_cells"][row["retention"]].format(days=days),
    ]


def _without_backticks(section: Section) -> Section:
    """The section with Markdown's code quotes removed (HTML shows the text as it is)."""
    tables = [(header, [[cell.replace("`", "") for cell in row] for row in rows]) for header, rows in section.tables]
    return Section(section.title.replace("`", ""), level=section.level, text=section.text.replace("`", ""), tables=tables)


def render_inventory(inventory: Inventory, *, lang: str, fmt: str, generated: dt.date, code_version: str) -> str:
    """The inventory as one Markdown (``fmt="md"``) or self-contained HTML (``fmt="html"``) document."""
    sections = inventory_sections(inventory, lang=lang, generated=generated, code_version=code_version)
    title = _words(lang)["title"].format(project=inventory.facts["project"])
    if fmt == "md":
        return render_markdown(sections, title=title) + "\n"
    if fmt == "html":
        return render_html([_without_backticks(section) for section in sections], title=title, lang=lang)
    raise ValueError(f"unknown format {fmt!r} (md or html)")


def inventory_documents(
    inventory: Inventory, *, langs: tuple[str, ...] = INVENTORY_LANGS, generated: dt.date, code_version: str
) -> dict[str, str]:
    """``{file name: text}``: the Markdown and HTML documents in each language asked."""
    return {
        document_name(lang, fmt): render_inventory(inventory, lang=lang, fmt=fmt, generated=generated, code_version=code_version)
        for lang in langs
        for fmt in ("md", "html")
    }

