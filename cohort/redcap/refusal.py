"""A refused REDCap staging: every defect of the records at once, in REDCap's terms, and its report.

:func:`~proximite.cohort.redcap.records.stage_records` types the whole export before it decides
(:func:`~proximite.cohort.sources.rows.collecting_defects`) and raises one
:class:`StagingRefused` that holds every defect: the REDCap record id, event, repeat instrument
and instance, the field, the rule, the values allowed, and the offending value for coded, numeric
and date fields (never free text, never an identifier: those are not typed, so they never fail).
:func:`quarantine_refusal` names each defect's batch file and row, and writes the report a
coordinator works from::

    data/quarantine/<pull_id>/redcap/
        report/failures.csv   one row per defect, sorted by record (UTF-8 with BOM: Excel)
        report/report.html    the same, with a link to each record's home page in REDCap (in French;
                              report.en.html in English)
        quarantine.json       counts by rule (no value)

The report holds record ids: it is encrypted at rest when the project encrypts its raw layer
(:mod:`proximite.cohort.privacy.storage`); ``quarantine.json`` stays in clear.

The error's message holds counts, rules and fields only (it reaches logs and Prefect's UI).
"""

from __future__ import annotations

import json
import re
import urllib.parse
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa

from proximite.cohort.redcap.dictionary import EVENT, INSTANCE, INSTRUMENT
from proximite.cohort.sources.rows import MAX_QUOTE, Defect
from proximite.errors import InputError

if TYPE_CHECKING:  # pragma: no cover
    from proximite.config import Settings

__all__ = [
    "DEFECT_COLUMNS",
    "StagingRefused",
    "defects_frame",
    "quarantine_refusal",
    "record_home_url",
    "record_order",
    "write_refusal_report",
]

#: Columns of a staging refusal's ``failures.csv``, in order.
DEFECT_COLUMNS = [
    "record_id", "event", "repeat_instrument", "instance", "field", "rule", "allowed", "value",
    "source_file", "source_row", "detail", "link",
]
FAILURES_CSV = "failures.csv"
REPORT_HTML = "report.html"
REFUSAL_MANIFEST = "quarantine.json"
_ARM = re.compile(r"_arm_(\d+)$")


def record_order(record_ids: pd.Series) -> pd.Series:
    """A sort key putting record ids in REDCap's order: numbers by value, then other ids as text."""
    numbers = pd.to_numeric(record_ids, errors="coerce")
    width = 20
    return np.where(
        numbers.notna(), "0" + numbers.fillna(0).astype("int64").astype(str).str.zfill(width), "1" + record_ids.astype(str)
    )


def defects_frame(
    defects: Sequence[Defect], meta: dict[str, pa.Array], *, rows: np.ndarray, record_field: str
) -> pd.DataFrame:
    """Every defect with its row's REDCap keys (:data:`DEFECT_COLUMNS` but ``link``), sorted by record.

    Parameters
    ----------
    defects : sequence of Defect
        As :func:`~proximite.cohort.sources.rows.collecting_defects` recorded them.
    meta : dict
        The export's key columns (``record_id``, event, repeat instrument, instance), one value per row.
    rows : ndarray, keyword-only
        The 1-based file row of each position of ``meta``.
    record_field : str, keyword-only
        The project's record id field (named for a row without one).
    """
    position = pd.Index(rows).get_indexer([defect.row for defect in defects])

    def key(name: str) -> list[Any]:
        values = meta[name].to_pylist()
        return [values[index] if index >= 0 else None for index in position]

    frame = pd.DataFrame(
        {
            "record_id": key("record_id"),
            "event": key(EVENT),
            "repeat_instrument": key(INSTRUMENT),
            "instance": pd.array(key(INSTANCE), dtype="Int64"),
            "field": [defect.column for defect in defects],
            "rule": [defect.rule for defect in defects],
            "allowed": [defect.allowed for defect in defects],
            "value": [defect.value for defect in defects],
            "source_file": [defect.file for defect in defects],
            "source_row": pd.array([defect.row for defect in defects], dtype="Int64"),
            "detail": [defect.detail for defect in defects],
        }
    )
    frame["event"] = frame["event"].replace("", None)
    frame["repeat_instrument"] = frame["repeat_instrument"].replace("", None)
    return _sorted(frame)


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    order = frame.assign(_record=record_order(frame["record_id"].fillna("")))
    return order.sort_values(["_record", "source_row", "field"], kind="stable").drop(columns="_record").reset_index(drop=True)


class StagingRefused(InputError):
    """REDCap records that do not fit the data dictionary: every defect, one error.

    Parameters
    ----------
    path : str or Path
        The export (``records_*.csv`` of a pull's raw directory, or the file ingested).
    defects : DataFrame
        :func:`defects_frame`.
    report_dir : Path, optional, keyword-only
        Where :func:`write_refusal_report` wrote the report.

    Notes
    -----
    The message says how many defects, in how many records, by rule and field, and where the
    report is: never a value.
    """

    def __init__(self, path: str | Path, defects: pd.DataFrame, *, report_dir: Path | None = None) -> None:
        self.defects = defects
        self.report_dir = report_dir
        records = int(defects["record_id"].nunique(dropna=True))
        # row, column and rule are the first defect in the file (as a one-defect InputError says them).
        first = defects.sort_values("source_row", kind="stable").iloc[0] if len(defects) else None
        super().__init__(
            path,
            str(first["rule"]) if first is not None else "records refused at staging",
            row=int(first["source_row"]) if first is not None and pd.notna(first["source_row"]) else None,
            column=str(first["field"]) if first is not None and pd.notna(first["field"]) else None,
            count=len(defects),
            detail=_summary(defects, records, report_dir),
        )

    def _message(self) -> str:
        return f"{self.path}: REDCap records refused at staging: {self.detail}"

    def __reduce__(self) -> tuple[Any, ...]:
        # Exceptions pickle as cls(*args); ours takes other arguments (Prefect pickles task errors).
        return (_restore, (self.path, self.defects, self.report_dir))


def _restore(path: str, defects: pd.DataFrame, report_dir: Path | None) -> StagingRefused:
    return StagingRefused(path, defects, report_dir=report_dir)


def _summary(defects: pd.DataFrame, records: int, report_dir: Path | None, *, top: int = 4) -> str:
    """``12 defect(s) in 5 record(s): 7 unknown code (sexe, langue); ...; report: ...``."""
    by_rule = Counter(defects["rule"])
    parts = []
    for rule, count in by_rule.most_common(top):
        fields = sorted({str(name) for name in defects.loc[defects["rule"] == rule, "field"].dropna()})
        shown = ", ".join(fields[:4]) + (", …" if len(fields) > 4 else "")
        parts.append(f"{count} {rule} ({shown})")
    if len(by_rule) > top:
        parts.append(f"{sum(count for _, count in by_rule.most_common()[top:])} more of {len(by_rule) - top} other rule(s)")
    text = f"{len(defects)} defect(s) in {records} record(s): " + "; ".join(parts)
    if len(defects):
        text += ". First: " + _first_defect(defects)
    if report_dir is not None:
        text += f". Every defect, with its record id, event and instance: {report_dir / FAILURES_CSV} ({report_dir / REPORT_HTML})"
    return text + ". Correct them in REDCap, then pull again; LATEST and the warehouse are unchanged"


#: Rules whose offending value is a code (an event, a group, a choice): the message may quote it.
_CODE_RULES = ("unknown code", "not a yes/no value", "unknown event", "unknown data access group", "unknown repeating instrument")


def _first_defect(defects: pd.DataFrame) -> str:
    """The first defect in file order, as a one-defect error says it (a code quoted, never a date or number)."""
    first = defects.sort_values("source_row", kind="stable").iloc[0]
    where = [Path(str(first["source_file"])).name]
    if pd.notna(first["source_row"]):
        where.append(f"row {int(first['source_row'])}")
    if pd.notna(first["field"]):
        where.append(f"column '{first['field']}'")
    detail = str(first["detail"] or "")
    value = first["value"]
    if first["rule"] in _CODE_RULES and isinstance(value, str) and value:
        shown = value if len(value) <= MAX_QUOTE else value[:MAX_QUOTE] + "…"
        detail = f"'{shown}' {detail}"
    record = f" (record {first['record_id']})" if pd.notna(first["record_id"]) else ""
    return f"{', '.join(where)}{record}: {first['rule']}" + (f". {detail}" if detail else "")


def record_home_url(api_url: str, *, version: str, project_id: str) -> str | None:
    """The template of a record's home page in REDCap (``{record}`` and ``{arm}`` to fill), or None.

    Parameters
    ----------
    api_url : str
        The project's API URL (``https://redcap.example.org/api/``).
    version : str
        The REDCap version (``exportVersion``, e.g. ``14.5.2``).
    project_id : str
        The project id (``pid``, from the project information).

    Notes
    -----
    REDCap's record home page is ``<base>/redcap_v<version>/DataEntry/record_home.php?pid=<pid>&id=<record>``
    (``&arm=<n>`` in a project with several arms), where ``<base>`` is the API URL without ``api/``.
    """
    if not (api_url and version and project_id):
        return None
    base = re.sub(r"api/?$", "", api_url.strip())
    if not base.endswith("/"):
        base += "/"
    return f"{base}redcap_v{version}/DataEntry/record_home.php?pid={project_id}&id={{record}}{{arm}}"


def _links(defects: pd.DataFrame, template: str | None) -> list[str | None]:
    if template is None:
        return [None] * len(defects)
    links: list[str | None] = []
    for record, event in zip(defects["record_id"], defects["event"], strict=True):
        if record is None or pd.isna(record):
            links.append(None)
            continue
        arm = _ARM.search(str(event or ""))
        links.append(
            template.format(record=urllib.parse.quote(str(record), safe=""), arm=f"&arm={arm.group(1)}" if arm else "")
        )
    return links


def in_batches(defects: pd.DataFrame, *, names: Sequence[str], offsets: Sequence[int]) -> pd.DataFrame:
    """The defects located in the batch files they came from (rows counted across the batches before).

    Parameters
    ----------
    defects : DataFrame
        ``source_row`` counts the rows of every batch, in order.
    names : sequence of str
        The batch files, in order.
    offsets : sequence of int
        Rows before each batch (``offsets[0] == 0``).
    """
    if not names or defects.empty:
        return defects
    rows = defects["source_row"].astype("Int64").fillna(1).to_numpy(dtype=np.int64)
    index = np.clip(np.searchsorted(np.asarray(offsets[: len(names)]), rows - 1, side="right") - 1, 0, len(names) - 1)
    out = defects.copy()
    out["source_file"] = [str(names[i]) for i in index]
    out["source_row"] = pd.array(rows - np.asarray(offsets)[index], dtype="Int64")
    return out


def write_refusal_report(
    defects: pd.DataFrame,
    directory: Path,
    *,
    record_url: str | None = None,
    write: Callable[[Path, bytes], None] | None = None,
) -> Path:
    """Write ``failures.csv``, ``report.html`` (French) and ``report.en.html`` of a refused staging.

    Parameters
    ----------
    defects : DataFrame
    directory : Path
    record_url : str, optional, keyword-only
    write : callable, optional, keyword-only
        ``write(path, data)``: how each file is written (the quarantine's passes
        :func:`~proximite.cohort.privacy.storage.protected_writer`, which encrypts); default:
        in clear.

    Returns
    -------
    Path
        ``directory``.
    """
    from jinja2 import Environment

    put = write or (lambda path, data: path.write_bytes(data))
    directory.mkdir(parents=True, exist_ok=True)
    frame = defects.assign(link=_links(defects, record_url))[DEFECT_COLUMNS]
    put(directory / FAILURES_CSV, ("\ufeff" + frame.to_csv(index=False, lineterminator="\n")).encode("utf-8"))
    rows = [
        {column: ("" if value is None or (not isinstance(value, str) and pd.isna(value)) else str(value)) for column, value in row.items()}
        for row in frame.to_dict("records")
    ]
    records = int(frame["record_id"].nunique(dropna=True))
    for lang, page in REFUSAL_PAGES.items():
        shown = rows if lang == "en" else [{**row, "rule": _RULES_FR.get(row["rule"], row["rule"])} for row in rows]
        other = "en" if lang == "fr" else "fr"
        html = Environment(autoescape=True).from_string(_TEMPLATE).render(
            rows=shown, count=len(frame), records=records, w=_WORDS[lang], lang=lang,
            other_lang=other, other_page=REFUSAL_PAGES[other],
        )
        put(directory / page, html.encode("utf-8"))
    return directory


def quarantine_refusal(
    error: StagingRefused,
    *,
    settings: Settings,
    pull_id: str,
    source: str = "redcap",
    names: Sequence[str] = (),
    offsets: Sequence[int] = (),
    record_url: str | None = None,
) -> StagingRefused:
    """Write a refused staging's report under ``data/quarantine/<pull_id>/<source>/``; the error to raise.

    Parameters
    ----------
    error : StagingRefused
    settings : Settings, keyword-only
    pull_id : str, keyword-only
    source : str, keyword-only
    names, offsets : sequence, keyword-only
        The pull's batch files and the rows before each (:func:`in_batches`); empty for one file.
    record_url : str, optional, keyword-only
        :func:`record_home_url`: each defect then links to its record in REDCap.

    Returns
    -------
    StagingRefused
        The same defects, located in their batch files, whose message names the report.
    """
    from proximite.cohort.layers import quarantine_dir
    from proximite.cohort.privacy.storage import protected_writer

    defects = in_batches(error.defects, names=names, offsets=offsets)
    target = quarantine_dir(settings, pull_id) / source
    report = write_refusal_report(defects, target / "report", record_url=record_url, write=protected_writer(settings))
    manifest = {
        "stage": "staging (typing from the data dictionary)",
        "source": source,
        "pull_id": pull_id,
        "defects": len(defects),
        "records": int(defects["record_id"].nunique(dropna=True)),
        "by_rule": dict(Counter(defects["rule"])),
        "report": f"report/{REPORT_HTML}",
    }
    (target / REFUSAL_MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    files = defects["source_file"].dropna().unique()
    path = Path(error.path).parent / str(files[0]) if names and len(files) == 1 else error.path
    return StagingRefused(path, defects, report_dir=report)


# The page's words, one language per page (``report.html`` in French, ``report.en.html`` in English).
_WORDS = {
    "fr": {
        "title": "Dossiers refusés à la mise en forme",
        "count": "{count} défaut(s) dans {records} dossier(s). Corrigez-les dans REDCap, puis relancez la collecte.",
        "headings": ["Dossier", "Événement", "Instrument répété", "Instance", "Champ", "Règle", "Valeurs permises",
                     "Valeur", "Fichier, ligne"],
        "note": "Valeur montrée pour les champs codés, numériques et les dates seulement, jamais pour le texte libre "
        "ni les identifiants.",
        "other": "English version",
    },
    "en": {
        "title": "Records refused at staging",
        "count": "{count} defect(s) in {records} record(s). Correct them in REDCap, then pull again.",
        "headings": ["Record", "Event", "Repeat instrument", "Instance", "Field", "Rule", "Allowed", "Value",
                     "File, row"],
        "note": "Value shown for coded, numeric and date fields only; never free text or identifiers.",
        "other": "Version française",
    },
}
#: Each page, and the other language's page it links to.
REFUSAL_PAGES = {"fr": REPORT_HTML, "en": "report.en.html"}
# The staging rules' names in French (a rule not listed shows as written).
_RULES_FR = {
    "unknown code": "code inconnu",
    "not a yes/no value": "pas une valeur oui/non",
    "not a number": "pas un nombre",
    "not a whole number": "pas un nombre entier",
    "date cannot be parsed": "date illisible",
    "required value missing": "valeur obligatoire manquante",
    "instance out of range": "instance hors limites",
    "form not repeating at this event": "formulaire non répétable à cet événement",
    "duplicate (family, wave)": "doublon (famille, vague)",
    "duplicate row": "ligne en double",
    "value on an event where its form is not collected": "valeur à un événement où son formulaire n'est pas recueilli",
    "unknown event": "événement inconnu",
    "unknown data access group": "groupe d'accès (DAG) inconnu",
    "unknown repeating instrument": "instrument répété inconnu",
}

_TEMPLATE = """<!DOCTYPE html>
<html lang="{{ lang }}"><head><meta charset="utf-8"><title>{{ w.title }}</title>
<style>body{font-family:system-ui,sans-serif;margin:2rem}table{border-collapse:collapse;font-size:.9rem}
th,td{border:1px solid #ddd;padding:.25rem .5rem;text-align:left}th{background:#f3f3f3}.other{float:right}
.note{color:#555}</style></head>
<body><p class="other"><a href="{{ other_page }}" hreflang="{{ other_lang }}">{{ w.other }}</a></p>
<h1>{{ w.title }}</h1>
<p>{{ w.count.format(count=count, records=records) }}</p>
<table><thead><tr>{% for heading in w.headings %}<th>{{ heading }}</th>{% endfor %}</tr></thead><tbody>
{% for row in rows %}<tr><td>{% if row.link %}<a href="{{ row.link }}">{{ row.record_id }}</a>{% else %}{{ row.record_id }}{% endif %}</td>
<td>{{ row.event }}</td><td>{{ row.repeat_instrument }}</td><td>{{ row.instance }}</td><td>{{ row.field }}</td>
<td>{{ row.rule }}</td><td>{{ row.allowed }}</td><td>{{ row.value }}</td><td>{{ row.source_file }}, {{ row.source_row }}</td></tr>
{% endfor %}</tbody></table>
<p class="note">{{ w.note }}</p></body></html>
"""
