"""Validation reports: the row-level report for coordinators and the one-screen CLI summary.

:func:`write_report` writes, into one directory:

- ``failures.csv``: every failing row of every rule, with the columns of
  :data:`~proximite.expectations.base.FAILURE_COLUMNS` and no other (keys, the rule, and the
  offending value only for coded, numeric and date fields);
- ``summary.csv``: one row per rule evaluated (:data:`~proximite.expectations.base.SUMMARY_COLUMNS`);
- ``summary.json``: :meth:`ValidationResult.to_dict` (counts only, for a flow artifact);
- ``report.html`` (French) and ``report.en.html`` (English), each linking to the other: a
  self-contained page in one language, one table per failing rule (its id, category, severity, threshold, failed/checked, description,
  then the failing rows' keys and safe values, capped per rule; the CSV has them all).

:func:`summary_lines` gives the lines of the one-screen summary the CLI prints: counts per rule,
blocking rules first, and where the report is.

The report is for coordinators and stays with the data (in ``data/quarantine/``, encrypted at
rest there like layer 01 raw: :mod:`proximite.cohort.privacy.storage`): it names record ids,
events and instances so a coordinator can find the row in REDCap or in a partner's file. It never holds free text or identifiers: the engine leaves ``value`` empty for those
fields, and this module refuses a failures frame with any column outside ``FAILURE_COLUMNS``.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from proximite.expectations.base import FAILURE_COLUMNS, SUMMARY_COLUMNS, ValidationResult
from proximite.expectations.descriptions import in_french

__all__ = ["ReportPaths", "REPORT_PAGES", "write_report", "summary_lines", "safe_failures", "ordered_summary", "HTML_ROWS_PER_RULE"]

#: Failing rows shown per rule in ``report.html`` (``failures.csv`` has them all).
HTML_ROWS_PER_RULE = 200

FAILURES_CSV = "failures.csv"
SUMMARY_CSV = "summary.csv"
SUMMARY_JSON = "summary.json"
REPORT_HTML = "report.html"

# The page's words, one language per page (``report.html`` in French, ``report.en.html`` in English).
_WORDS: dict[str, dict[str, str]] = {
    "fr": {
        "title": "Rapport de validation", "layer": "Couche", "source": "Source", "batch": "Lot",
        "generated_at": "Produit le", "seconds": "Durée",
        "refused": "Lot refusé : {blocking} règle(s) bloquante(s) en échec ; le lot est mis en quarantaine, le dernier "
        "entrepôt valide reste en place.",
        "todo": "Que faire : corrigez les lignes ci-dessous à la source (REDCap ou fichier du partenaire), puis relancez "
        "la collecte.",
        "warned": "Lot accepté avec {warned} avertissement(s) ; un avertissement ne bloque jamais.",
        "passed": "Lot accepté : toutes les règles sont respectées.",
        "summary": "Sommaire",
        "counts": "{n_rules} règle(s) vérifiée(s), {n_failed} en échec au-delà de leur seuil, {blocking} bloquante(s).",
        "rule": "Règle", "table": "Table", "category": "Catégorie", "severity": "Gravité",
        "failed_checked": "En échec / vérifiées", "threshold": "Seuil toléré", "outcome": "Résultat",
        "description": "Description", "checked": "Vérifiées", "passed_rules": "Règles respectées : {n}",
        "more": "… et {n} autre(s) ligne(s) : voir failures.csv.",
        "no_rows": "Aucune ligne détaillée pour cette règle (elle vérifie la table entière).",
        "footer": "Ce rapport nomme des dossiers, des événements et des champs, jamais de texte libre ni d'identifiant "
        "personnel ; la valeur fautive n'est montrée que pour les champs codés, numériques et les dates. Conservez-le "
        "avec les données.",
        "other": "English version", "blocks": "bloque", "reported": "signalée", "tolerated": "tolérée, sous le seuil",
    },
    "en": {
        "title": "Validation report", "layer": "Layer", "source": "Source", "batch": "Batch",
        "generated_at": "Generated at", "seconds": "Time taken",
        "refused": "Batch refused: {blocking} blocking rule(s) failed; the batch is quarantined and the last good "
        "warehouse stays in place.",
        "todo": "What to do: fix the rows below at the source, in REDCap or the partner's file, then pull again.",
        "warned": "Batch accepted with {warned} warning(s); warnings never block.",
        "passed": "Batch accepted: every rule passed.",
        "summary": "Summary",
        "counts": "{n_rules} rule(s) checked, {n_failed} failed beyond their threshold, {blocking} blocking.",
        "rule": "Rule", "table": "Table", "category": "Category", "severity": "Severity",
        "failed_checked": "Failed / checked", "threshold": "Threshold", "outcome": "Outcome",
        "description": "Description", "checked": "Checked", "passed_rules": "Rules passed: {n}",
        "more": "… and {n} more row(s): see failures.csv.",
        "no_rows": "No row-level detail for this rule: it checks the table as a whole.",
        "footer": "This report names records, events and fields, never free text or personal identifiers; the "
        "offending value is shown for coded, numeric and date fields only. Keep it with the data.",
        "other": "Version française", "blocks": "blocks", "reported": "reported", "tolerated": "tolerated, within threshold",
    },
}
_CATEGORY_LABELS = {
    "fr": {"conformance": "conformité", "completeness": "complétude", "plausibility": "plausibilité"},
    "en": {"conformance": "conformance", "completeness": "completeness", "plausibility": "plausibility"},
}
_SEVERITY_LABELS = {"fr": {"error": "bloquante", "warning": "avertissement"}, "en": {"error": "error", "warning": "warning"}}
#: The page of each language, and the other language's page it links to.
REPORT_PAGES = {"fr": REPORT_HTML, "en": "report.en.html"}

# Columns of a rule's table in the HTML page, with their headings. The rule, category, severity,
# layer and table are the same on every row of a rule: they are in the rule's heading instead.
_ROW_COLUMNS = [
    ("record_id", {"fr": "Dossier", "en": "Record id"}),
    ("event", {"fr": "Événement", "en": "Event"}),
    ("instance", {"fr": "Instance", "en": "Instance"}),
    ("column", {"fr": "Champ", "en": "Field"}),
    ("key", {"fr": "Clé", "en": "Key"}),
    ("value", {"fr": "Valeur", "en": "Value"}),
    ("source_file", {"fr": "Fichier", "en": "Source file"}),
    ("source_row", {"fr": "Ligne", "en": "Source row"}),
]


@dataclass(frozen=True)
class ReportPaths:
    """Where :func:`write_report` wrote a report.

    Attributes
    ----------
    directory : Path
    failures_csv, summary_csv, summary_json : Path
    html, html_en : Path
        The page in French and in English.
    """

    directory: Path
    failures_csv: Path
    summary_csv: Path
    summary_json: Path
    html: Path
    html_en: Path

    def to_dict(self) -> dict[str, str]:
        """The paths as text (JSON-ready)."""
        return {
            "directory": str(self.directory),
            "failures_csv": str(self.failures_csv),
            "summary_csv": str(self.summary_csv),
            "summary_json": str(self.summary_json),
            "html": str(self.html),
            "html_en": str(self.html_en),
        }


# --------------------------------------------------------------------------------------- frames
def safe_failures(failures: pd.DataFrame) -> pd.DataFrame:
    """The failures frame reduced to :data:`FAILURE_COLUMNS`, in that order.

    Parameters
    ----------
    failures : DataFrame
        :attr:`ValidationResult.failures`.

    Returns
    -------
    DataFrame
        A new frame with exactly the columns of :data:`FAILURE_COLUMNS` (a missing one is added
        empty).

    Raises
    ------
    ValueError
        The frame has a column outside :data:`FAILURE_COLUMNS`: it might carry a family's free
        text or identifiers, so nothing is written (a bug in whoever built the frame).
    """
    extra = [str(column) for column in failures.columns if column not in FAILURE_COLUMNS]
    if extra:
        raise ValueError(
            f"validation failures carry column(s) outside FAILURE_COLUMNS ({', '.join(sorted(extra))}); "
            "refusing to write them: a report holds keys, rules and safe values only"
        )
    frame = failures.copy()
    for column in FAILURE_COLUMNS:
        if column not in frame.columns:
            frame[column] = pd.Series([None] * len(frame), index=frame.index, dtype="object")
    return frame[FAILURE_COLUMNS].reset_index(drop=True)


def ordered_summary(summary: pd.DataFrame) -> pd.DataFrame:
    """Rules in reading order: blocking first, then failed warnings, then tolerated failures, then passed.

    Within each group, the most failing rows first, then by rule id.
    """
    frame = summary.copy()
    for column in SUMMARY_COLUMNS:
        if column not in frame.columns:
            frame[column] = None
    failed = pd.to_numeric(frame["failed"], errors="coerce").fillna(0)
    passed = frame["passed"].astype(bool)
    error = frame["severity"].astype(str) == "error"
    group = pd.Series(3, index=frame.index)
    group[failed > 0] = 2  # failures within the rule's threshold
    group[~passed & ~error] = 1  # warnings beyond their threshold
    group[~passed & error] = 0  # blocking
    frame = frame.assign(_group=group, _failed=failed)
    frame = frame.sort_values(["_group", "_failed", "rule_id"], ascending=[True, False, True], kind="stable")
    return frame.drop(columns=["_group", "_failed"]).reset_index(drop=True)


# --------------------------------------------------------------------------------------- writing
def _write_text(path: Path, text: str, write: Callable[[Path, bytes], None] | None = None) -> None:
    """Write a file whole or not at all (a reader never sees half a report); ``write`` when given."""
    if write is not None:
        write(path, text.encode("utf-8"))
        return
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


def write_report(
    result: ValidationResult,
    directory: str | Path,
    *,
    max_rows_per_rule: int = HTML_ROWS_PER_RULE,
    title: str | None = None,
    write: Callable[[Path, bytes], None] | None = None,
) -> ReportPaths:
    """Write the validation report of one gate into ``directory``.

    Parameters
    ----------
    result : ValidationResult
        What the gate found.
    directory : str or Path
        Created when missing; the five files in it are replaced.
    max_rows_per_rule : int, keyword-only
        Failing rows shown per rule in the HTML page (the CSV has them all).
    title : str, optional, keyword-only
        The page's title (default: the layer, source and batch id).
    write : callable, optional, keyword-only
        ``write(path, data)``, how each file is written whole: the quarantine passes
        :func:`proximite.cohort.privacy.storage.protected_writer` (encrypted at rest, the report
        holding record ids). Default: in clear, through a temporary file and a rename.

    Returns
    -------
    ReportPaths

    Raises
    ------
    ValueError
        ``result.failures`` has a column outside :data:`FAILURE_COLUMNS` (see :func:`safe_failures`).

    Notes
    -----
    ``failures.csv`` is UTF-8 with a byte-order mark so that Excel opens its accents correctly.
    """
    target = Path(directory)
    failures = safe_failures(result.failures)
    # The guard in executable form: whatever happens above, only these columns reach the disk.
    if list(failures.columns) != FAILURE_COLUMNS:  # pragma: no cover - safe_failures guarantees it
        raise ValueError("failures columns differ from FAILURE_COLUMNS")
    summary = ordered_summary(result.summary)[SUMMARY_COLUMNS]
    target.mkdir(parents=True, exist_ok=True)
    paths = ReportPaths(
        directory=target,
        failures_csv=target / FAILURES_CSV,
        summary_csv=target / SUMMARY_CSV,
        summary_json=target / SUMMARY_JSON,
        html=target / REPORT_PAGES["fr"],
        html_en=target / REPORT_PAGES["en"],
    )
    _write_text(paths.failures_csv, "\ufeff" + failures.to_csv(index=False, lineterminator="\n"), write)
    _write_text(paths.summary_csv, summary.to_csv(index=False, lineterminator="\n"), write)
    _write_text(paths.summary_json, json.dumps(result.to_dict(), indent=2, ensure_ascii=False) + "\n", write)
    for lang, page in REPORT_PAGES.items():
        html = render_html(
            result, failures=failures, summary=summary, max_rows_per_rule=max_rows_per_rule, title=title, lang=lang
        )
        _write_text(paths.html if lang == "fr" else paths.html_en, html, write)
    return paths


# --------------------------------------------------------------------------------------- HTML
_TEMPLATE = """<!DOCTYPE html>
<html lang="{{ lang }}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }}</title>
<style>
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 2rem; color: #1d1d1f; max-width: 80rem; }
h1 { font-size: 1.5rem; margin-bottom: .25rem; }
h2 { font-size: 1.2rem; margin-top: 2rem; border-bottom: 1px solid #ccc; padding-bottom: .2rem; }
h3 { font-size: 1rem; margin: 1.5rem 0 .3rem; font-family: ui-monospace, SFMono-Regular, Menlo, monospace; }
p.other { float: right; margin: 0; }
.status { padding: .6rem 1rem; border-radius: .3rem; margin: 1rem 0; font-weight: 600; }
.refused { background: #fde8e8; border-left: .4rem solid #c81e1e; }
.passed { background: #e6f4ea; border-left: .4rem solid #137333; }
.warned { background: #fef7e0; border-left: .4rem solid #b06000; }
table { border-collapse: collapse; margin: .4rem 0 1rem; font-size: .9rem; }
th, td { border: 1px solid #ddd; padding: .25rem .5rem; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
dl.meta { display: grid; grid-template-columns: max-content auto; gap: .15rem 1rem; margin: .3rem 0; }
dl.meta dt { font-weight: 600; }
dl.meta dd { margin: 0; }
.sev-error { color: #c81e1e; font-weight: 600; }
.sev-warning { color: #b06000; font-weight: 600; }
.note { color: #555; font-style: italic; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; }
</style>
</head>
<body>
<p class="other"><a href="{{ other_page }}" hreflang="{{ other_lang }}">{{ w.other }}</a></p>
<h1>{{ w.title }}</h1>
<dl class="meta">
<dt>{{ w.layer }}</dt><dd>{{ layer }}</dd>
{% if source %}<dt>{{ w.source }}</dt><dd>{{ source }}</dd>{% endif %}
<dt>{{ w.batch }}</dt><dd><code>{{ pull_id or "—" }}</code></dd>
<dt>{{ w.generated_at }}</dt><dd>{{ generated_at }}</dd>
<dt>{{ w.seconds }}</dt><dd>{{ seconds }} s</dd>
</dl>
{% if blocking %}
<div class="status refused">{{ w.refused.format(blocking=blocking) }}</div>
<p>{{ w.todo }}</p>
{% elif warned %}
<div class="status warned">{{ w.warned.format(warned=warned) }}</div>
{% else %}
<div class="status passed">{{ w.passed }}</div>
{% endif %}

<h2>{{ w.summary }}</h2>
<p>{{ w.counts.format(n_rules=n_rules, n_failed=n_failed, blocking=blocking) }}</p>
{% if failing_rules %}
<table>
<thead><tr>
<th>{{ w.rule }}</th><th>{{ w.table }}</th><th>{{ w.category }}</th><th>{{ w.severity }}</th>
<th>{{ w.failed_checked }}</th><th>{{ w.threshold }}</th><th>{{ w.outcome }}</th>
</tr></thead>
<tbody>
{% for rule in failing_rules %}<tr>
<td><a href="#{{ rule.anchor }}"><code>{{ rule.rule_id }}</code></a></td><td>{{ rule.table }}</td>
<td>{{ rule.category_label }}</td><td class="sev-{{ rule.severity }}">{{ rule.severity_label }}</td>
<td class="num">{{ rule.failed_text }} / {{ rule.checked_text }}</td><td class="num">{{ rule.threshold_text }}</td>
<td>{{ rule.outcome }}</td>
</tr>{% endfor %}
</tbody>
</table>
{% endif %}

{% for rule in failing_rules %}
<h3 id="{{ rule.anchor }}">{{ rule.rule_id }}</h3>
<dl class="meta">
<dt>{{ w.description }}</dt><dd>{{ rule.description or "—" }}</dd>
<dt>{{ w.table }}</dt><dd>{{ rule.table }}</dd>
<dt>{{ w.category }}</dt><dd>{{ rule.category_label }}</dd>
<dt>{{ w.severity }}</dt><dd class="sev-{{ rule.severity }}">{{ rule.severity_label }}</dd>
<dt>{{ w.threshold }}</dt><dd>{{ rule.threshold_text }}</dd>
<dt>{{ w.failed_checked }}</dt><dd>{{ rule.failed_text }} / {{ rule.checked_text }} ({{ rule.share_text }})</dd>
</dl>
{% if rule.rows %}
<table>
<thead><tr>{% for heading in rule.headings %}<th>{{ heading }}</th>{% endfor %}</tr></thead>
<tbody>
{% for row in rule.rows %}<tr>{% for cell in row %}<td>{{ cell }}</td>{% endfor %}</tr>
{% endfor %}</tbody>
</table>
{% if rule.more %}<p class="note">{{ w.more.format(n=rule.more_text) }}</p>{% endif %}
{% else %}
<p class="note">{{ w.no_rows }}</p>
{% endif %}
{% endfor %}

{% if passed_rules %}
<details>
<summary>{{ w.passed_rules.format(n=passed_rules|length) }}</summary>
<table>
<thead><tr><th>{{ w.rule }}</th><th>{{ w.table }}</th><th>{{ w.category }}</th><th>{{ w.severity }}</th>
<th>{{ w.checked }}</th><th>{{ w.description }}</th></tr></thead>
<tbody>
{% for rule in passed_rules %}<tr><td><code>{{ rule.rule_id }}</code></td><td>{{ rule.table }}</td><td>{{ rule.category_label }}</td>
<td>{{ rule.severity_label }}</td><td class="num">{{ rule.checked_text }}</td><td>{{ rule.description }}</td></tr>
{% endfor %}</tbody>
</table>
</details>
{% endif %}

<p class="note">{{ w.footer }}</p>
</body>
</html>
"""


def _count(value: Any) -> str:
    """An integer with a thin space between thousands (French style), or an em dash."""
    number = pd.to_numeric(value, errors="coerce")
    if number is None or pd.isna(number):
        return "—"
    return f"{int(number):,}".replace(",", "\u202f")


def _int(value: Any) -> int:
    number = pd.to_numeric(value, errors="coerce")
    return 0 if number is None or pd.isna(number) else int(number)


def _share(value: Any, lang: str = "fr") -> str:
    """A share as a percentage with two decimals (a decimal comma in French)."""
    number = pd.to_numeric(value, errors="coerce")
    if number is None or pd.isna(number):
        return "—"
    text = f"{100 * float(number):.2f} %"
    return text.replace(".", ",") if lang == "fr" else text


def _cell(value: Any) -> str:
    """A cell as text: missing is empty, whole floats lose their ``.0``, dates lose a midnight time."""
    if value is None:
        return ""
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, pd.Timestamp):
        return value.date().isoformat() if value == value.normalize() else value.isoformat()
    try:
        if pd.isna(value):
            return ""
    except (TypeError, ValueError):
        pass
    return str(value)


def _what(result: ValidationResult) -> str:
    """``Validation staged · redcap · <pull id>``: what a report or a summary is about."""
    parts = [f"Validation {result.layer}", result.source, result.pull_id]
    return " · ".join(str(part) for part in parts if part)


def _anchor(index: int) -> str:
    return f"regle-{index}"


def _rule_entry(row: Any, index: int, rows: pd.DataFrame | None, *, lang: str, max_rows: int) -> dict[str, Any]:
    """One rule of the page: its labels in the page's language and, when it failed, its rows."""
    failed = _int(row.failed)
    severity = str(row.severity)
    description = _cell(row.description)
    rule: dict[str, Any] = {
        "rule_id": str(row.rule_id),
        "anchor": _anchor(index),
        "table": _cell(row.table),
        "severity": severity,
        "severity_label": _SEVERITY_LABELS[lang].get(severity, severity),
        "category_label": _CATEGORY_LABELS[lang].get(str(row.category), str(row.category)),
        "threshold_text": _share(row.threshold, lang),
        "checked_text": _count(row.checked),
        "failed_text": _count(failed),
        "share_text": _share(row.failed_share, lang),
        "description": in_french(description) if lang == "fr" else description,
        "passed": bool(row.passed) and failed == 0,
    }
    words = _WORDS[lang]
    if not bool(row.passed):
        rule["outcome"] = words["blocks"] if severity == "error" else words["reported"]
    else:
        rule["outcome"] = words["tolerated"]
    if rows is None or rows.empty:
        return {**rule, "rows": [], "headings": [], "more": 0}
    # Only the columns that say something for this rule (a registry rule has no event).
    shown = [(column, heading) for column, heading in _ROW_COLUMNS if rows[column].map(_cell).ne("").any()]
    head = rows.head(max_rows)
    cells = head[[column for column, _ in shown]]
    more = len(rows) - len(head)
    return {
        **rule,
        "headings": [heading[lang] for _, heading in shown],
        "rows": [[_cell(value) for value in values] for values in cells.itertuples(index=False)],
        "more": more,
        "more_text": _count(more),
    }


def render_html(
    result: ValidationResult,
    *,
    failures: pd.DataFrame | None = None,
    summary: pd.DataFrame | None = None,
    max_rows_per_rule: int = HTML_ROWS_PER_RULE,
    title: str | None = None,
    lang: str = "fr",
) -> str:
    """The report page in one language, as HTML text (self-contained: inline style, no script, no network).

    Parameters
    ----------
    result : ValidationResult
    failures, summary : DataFrame, optional, keyword-only
        Already reduced by :func:`safe_failures` and ordered by :func:`ordered_summary`
        (computed from ``result`` when not given).
    max_rows_per_rule : int, keyword-only
    title : str, optional, keyword-only
    lang : {"fr", "en"}, keyword-only
        The page's language; it links to the page in the other one (:data:`REPORT_PAGES`).

    Returns
    -------
    str
        Every value is HTML-escaped (Jinja2 autoescape).
    """
    from jinja2 import Environment

    if lang not in _WORDS:
        raise ValueError(f"lang must be one of {', '.join(_WORDS)} (got {lang!r})")
    failures = safe_failures(result.failures) if failures is None else failures
    summary = ordered_summary(result.summary) if summary is None else summary
    by_rule = dict(tuple(failures.groupby("rule_id", sort=False, dropna=False))) if len(failures) else {}
    rules = [
        _rule_entry(row, index, by_rule.get(row.rule_id), lang=lang, max_rows=max_rows_per_rule)
        for index, row in enumerate(summary.itertuples(index=False))
    ]
    blocking = int(len(result.blocking))
    not_passed = int((~summary["passed"].astype(bool)).sum()) if len(summary) else 0
    other = "en" if lang == "fr" else "fr"
    environment = Environment(autoescape=True, trim_blocks=False, lstrip_blocks=False)
    return environment.from_string(_TEMPLATE).render(
        w=_WORDS[lang],
        lang=lang,
        other_lang=other,
        other_page=REPORT_PAGES[other],
        title=title or _what(result),
        layer=str(result.layer),
        source=result.source,
        pull_id=result.pull_id,
        generated_at=dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        seconds=f"{result.seconds:.1f}",
        blocking=blocking,
        warned=not_passed - blocking,
        n_rules=len(summary),
        n_failed=not_passed,
        failing_rules=[rule for rule in rules if not rule["passed"]],
        passed_rules=[rule for rule in rules if rule["passed"]],
    )


# --------------------------------------------------------------------------------------- CLI lines
#: The summary's words, one language per output (French by default).
SUMMARY_WORDS: dict[str, dict[str, str]] = {
    "fr": {
        "refused": "REFUSÉ : {n} règle(s) bloquante(s)",
        "warned": "accepté avec {n} avertissement(s)",
        "passed": "accepté",
        "rules_passed": "{passed} / {total} règles respectées",
        "blocking": "BLOQUANT",
        "warning": "avert.  ",
        "tolerated": "toléré  ",
        "rows": "lignes",
        "more": "… {n} autre(s) règle(s) en échec : voir le rapport",
        "report": "Rapport : {path}",
    },
    "en": {
        "refused": "REFUSED: {n} blocking rule(s)",
        "warned": "passed with {n} warning(s)",
        "passed": "passed",
        "rules_passed": "{passed} / {total} rules passed",
        "blocking": "BLOCKING",
        "warning": "warning ",
        "tolerated": "allowed ",
        "rows": "rows",
        "more": "… {n} more failing rule(s): see the report",
        "report": "Report: {path}",
    },
}


def summary_lines(
    result: ValidationResult,
    report_dir: str | Path | None = None,
    *,
    max_rules: int = 12,
    lang: str = "fr",
) -> list[str]:
    """The one-screen summary of a gate, as plain text lines (no markup, no row-level data).

    Parameters
    ----------
    result : ValidationResult
    report_dir : str or Path, optional
        Where the report was written (named on the last line).
    max_rules : int, keyword-only
        Failing rules listed; the rest are counted on one line.
    lang : {"fr", "en"}, keyword-only
        The lines' language (one language per output; French by default).

    Returns
    -------
    list of str
        A heading line (layer, source, batch, outcome, rule counts), one line per failing rule
        (blocking first: severity, rule id, table, failed / checked rows), then the report path.
    """
    if lang not in SUMMARY_WORDS:
        raise ValueError(f"lang must be one of {', '.join(SUMMARY_WORDS)} (got {lang!r})")
    words = SUMMARY_WORDS[lang]
    summary = ordered_summary(result.summary)
    failed = pd.to_numeric(summary["failed"], errors="coerce").fillna(0).astype(int)
    failing = summary[(failed > 0) | ~summary["passed"].astype(bool)]
    blocking = int(len(result.blocking))
    beyond = int((~summary["passed"].astype(bool)).sum())
    if blocking:
        outcome = words["refused"].format(n=blocking)
    elif beyond:
        outcome = words["warned"].format(n=beyond)
    else:
        outcome = words["passed"]
    counts = words["rules_passed"].format(passed=len(summary) - beyond, total=len(summary))
    lines = [f"{_what(result)}: {outcome}; {counts}"]
    lines.extend(_failing_rule_lines(failing, words, max_rules=max_rules))
    if report_dir is not None:
        directory = Path(report_dir)
        html = directory / REPORT_HTML if directory.suffix != ".html" else directory
        lines.append(words["report"].format(path=html))
    return lines


def _failing_rule_lines(failing: pd.DataFrame, words: dict[str, str], *, max_rules: int) -> list[str]:
    """One line per failing rule (its tag, id, table, failed / checked rows), then what was left out."""
    lines: list[str] = []
    if not len(failing):
        return lines
    width = min(max((len(str(rule_id)) for rule_id in failing["rule_id"].head(max_rules)), default=0), 60)
    for row in failing.head(max_rules).itertuples(index=False):
        if not bool(row.passed):
            tag = words["blocking"] if row.severity == "error" else words["warning"]
        else:
            tag = words["tolerated"]
        lines.append(
            f"  {tag} {str(row.rule_id):<{width}}  {str(row.table):<14} "
            f"{_count(row.failed):>9} / {_count(row.checked):<9} {words['rows']}"
        )
    if len(failing) > max_rules:
        lines.append("  " + words["more"].format(n=len(failing) - max_rules))
    return lines
