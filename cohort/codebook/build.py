"""Write the codebook's generated files: the REDCap project files and the registry templates.

``python -m proximite.cohort.codebook.build`` (re)writes, from :func:`load_codebook`:

- ``redcap/data_dictionary.csv``: REDCap's data dictionary with the UI's 18 headers, ready for
  *Project Setup → Data Dictionary → Upload*;
- ``redcap/events.csv``, ``arms.csv``, ``form_event_mapping.csv``, ``repeating_forms_events.csv``
  and ``dags.csv`` (one data access group per territory of ``reference/territories.csv``; skipped
  with a message while that file does not exist);
- ``registry/activity_template.csv`` and ``activity_template.xlsx`` (drop-down lists on the coded
  columns, formats, an "Explications" sheet in French), and the ``worker``, ``supervision`` and
  ``cost`` CSV templates.

Output bytes are stable: the same codebook gives the same files (the workbook's dates and the zip
entries' times are fixed), so a test can check that the shipped files are up to date.

Options: ``--out DIR`` writes elsewhere (the codebook folder by default); ``--check`` writes
nothing and exits with status 1 when a shipped file differs from a fresh build.
"""

from __future__ import annotations

import argparse
import io
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from proximite.cohort.stable_bytes import FIXED_TIME, stable_xlsx

from proximite.cohort.codebook import (
    REDCAP_DICTIONARY_HEADERS,
    REDCAP_METADATA_COLUMNS,
    Codebook,
    package_dir,
    load_codebook,
)

__all__ = [
    "build",
    "generated_files",
    "activity_workbook",
    "BuildReport",
    "ACTIVITY_SHEET",
    "CODES_SHEET",
    "EXPLANATIONS_SHEET",
    "main",
]

ACTIVITY_SHEET = "Activités"
CODES_SHEET = "Codes"
EXPLANATIONS_SHEET = "Explications"
#: Rows of the activity sheet that carry the drop-down lists and formats.
TEMPLATE_ROWS = 20_000
#: Fixed time stamps, so that a rebuild gives the same bytes.

_TYPE_FR = {"string": "texte", "int": "nombre entier", "float": "nombre décimal", "date": "date (AAAA-MM-JJ)"}
_NUMBER_FORMATS = {"date": "yyyy-mm-dd", "int": "0", "float": "0.0", "string": "@"}


@dataclass
class BuildReport:
    """What a build wrote (or would write) and what it skipped."""

    written: list[Path] = field(default_factory=list)
    unchanged: list[Path] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def _csv_bytes(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False, lineterminator="\n").encode("utf-8")


def activity_workbook(codebook: Codebook, *, table: str = "activity") -> bytes:
    """The registry template as XLSX bytes.

    Sheets: ``Activités`` (the header row; a drop-down list on every coded column, fed from a
    named range of the hidden ``Codes`` sheet; date and number formats and checks), ``Codes``
    (hidden: codes and French labels) and ``Explications`` (each column in French, with its
    allowed codes and labels).
    """
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter
    from openpyxl.workbook.defined_name import DefinedName
    from openpyxl.worksheet.datavalidation import DataValidation

    spec: dict[str, dict[str, Any]] = codebook.registry[table]
    limits = codebook.columns(table) if table in codebook.model else {}
    workbook = Workbook()
    workbook.properties.creator = "Proximité"
    workbook.properties.lastModifiedBy = "Proximité"
    workbook.properties.title = "Registre des activités des PTP — gabarit"
    workbook.properties.created = FIXED_TIME
    workbook.properties.modified = FIXED_TIME

    sheet = workbook.active
    sheet.title = ACTIVITY_SHEET
    header_font = Font(bold=True, color="FFFFFF")
    header_fill = PatternFill("solid", fgColor="1F4E79")
    codes_sheet = workbook.create_sheet(CODES_SHEET)
    codes_sheet.sheet_state = "hidden"
    code_column = 1
    last_row = TEMPLATE_ROWS + 1
    for position, (name, column) in enumerate(spec.items(), start=1):
        letter = get_column_letter(position)
        cell = sheet.cell(row=1, column=position, value=name)
        cell.font, cell.fill = header_font, header_fill
        sheet.column_dimensions[letter].width = max(14, len(name) + 4)
        sheet.column_dimensions[letter].number_format = _NUMBER_FORMATS.get(column["type"], "General")
        cells = f"{letter}2:{letter}{last_row}"
        required = bool(column.get("required"))
        enum = column.get("enum")
        if enum:
            codes = codebook.codes(enum)
            labels = codebook.labels(enum)
            code_letter = get_column_letter(code_column)
            codes_sheet.cell(row=1, column=code_column, value=name).font = Font(bold=True)
            codes_sheet.cell(row=1, column=code_column + 1, value=f"{name} (libellé)").font = Font(bold=True)
            for row, code in enumerate(codes, start=2):
                codes_sheet.cell(row=row, column=code_column, value=code)
                codes_sheet.cell(row=row, column=code_column + 1, value=labels[code])
            range_name = f"codes_{name}"
            workbook.defined_names[range_name] = DefinedName(
                range_name, attr_text=f"{CODES_SHEET}!${code_letter}$2:${code_letter}${len(codes) + 1}"
            )
            # Excel stores list sources without a leading "=": a named range of the hidden sheet.
            validation = DataValidation(type="list", formula1=range_name, allow_blank=not required)
            validation.errorTitle = "Code inconnu"
            validation.error = f"Choisissez un code de la liste ({name}); voir la feuille « {EXPLANATIONS_SHEET} »."
            code_column += 2
        elif column["type"] == "date":
            validation = DataValidation(type="date", operator="greaterThan", formula1="DATE(2000,1,1)", allow_blank=not required)
            validation.errorTitle = "Date invalide"
            validation.error = "Inscrivez une date (AAAA-MM-JJ)."
        elif column["type"] in {"int", "float"}:
            low = limits.get(name, {}).get("min", 0)
            high = limits.get(name, {}).get("max")
            kind = "whole" if column["type"] == "int" else "decimal"
            if high is None:
                validation = DataValidation(type=kind, operator="greaterThanOrEqual", formula1=str(low), allow_blank=not required)
                validation.error = f"Inscrivez un nombre supérieur ou égal à {low}."
            else:
                validation = DataValidation(type=kind, operator="between", formula1=str(low), formula2=str(high), allow_blank=not required)
                validation.error = f"Inscrivez un nombre de {low} à {high}."
            validation.errorTitle = "Nombre invalide"
        else:
            continue
        validation.showErrorMessage = True
        validation.promptTitle = name
        validation.prompt = str(column.get("explanation", ""))[:255]
        validation.showInputMessage = True
        validation.add(cells)
        sheet.add_data_validation(validation)
    sheet.freeze_panes = "A2"
    for letter in ("A", "B", "C", "D", "E", "F"):
        codes_sheet.column_dimensions[letter].width = 28

    notes = workbook.create_sheet(EXPLANATIONS_SHEET)
    notes.append(["Registre des activités des PTP — comment remplir le gabarit"])
    notes["A1"].font = Font(bold=True, size=14)
    notes.append([
        "Une ligne par activité, dans la feuille « Activités ». Ne changez pas les noms de colonnes. "
        "Les colonnes à code ont une liste déroulante; n'inscrivez aucun nom de personne."
    ])
    notes.append([])
    notes.append(["Colonne", "Obligatoire", "Type", "Explication", "Codes permis (code — libellé)"])
    for cell in notes[4]:
        cell.font, cell.fill = header_font, header_fill
    for name, column in spec.items():
        enum = column.get("enum")
        allowed = "\n".join(f"{code} — {label}" for code, label in codebook.labels(enum).items()) if enum else ""
        notes.append([
            name, "oui" if column.get("required") else "non", _TYPE_FR.get(column["type"], column["type"]),
            column.get("explanation", ""), allowed,
        ])
    for name, column in spec.items():
        enum = column.get("enum")
        if not enum:
            continue
        notes.append([])
        notes.append([f"Codes de « {name} »"])
        notes.cell(row=notes.max_row, column=1).font = Font(bold=True)
        with_component = name == "action_type"
        notes.append(["Code", "Libellé", "Composante" if with_component else ""])
        for label_cell in notes[notes.max_row]:
            label_cell.font = Font(bold=True)
        for code, label in codebook.labels(enum).items():
            component = codebook.label("component", codebook.component_of(code)) if with_component else ""
            notes.append([code, label, component])
    for letter, width in zip("ABCDE", (26, 44, 22, 70, 70), strict=True):
        notes.column_dimensions[letter].width = width
    for row in notes.iter_rows(min_row=5):
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")

    buffer = io.BytesIO()
    workbook.save(buffer)
    return stable_xlsx(buffer.getvalue())


def generated_files(codebook: Codebook | None = None) -> tuple[dict[str, bytes], list[str]]:
    """Every generated file's bytes by path relative to the codebook folder, and what was skipped."""
    cb = codebook or load_codebook()
    dictionary = cb.data_dictionary.rename(
        columns=dict(zip(REDCAP_METADATA_COLUMNS, REDCAP_DICTIONARY_HEADERS, strict=True))
    )
    files: dict[str, bytes] = {
        "redcap/data_dictionary.csv": _csv_bytes(dictionary),
        "redcap/events.csv": _csv_bytes(cb.events),
        "redcap/arms.csv": _csv_bytes(cb.arms),
        "redcap/form_event_mapping.csv": _csv_bytes(cb.form_event_mapping),
        "redcap/repeating_forms_events.csv": _csv_bytes(cb.repeating_forms_events),
    }
    skipped: list[str] = []
    territories = Path(cb.directory) / "reference" / "territories.csv"
    if territories.is_file():
        files["redcap/dags.csv"] = _csv_bytes(cb.dags())
    else:
        skipped.append(f"redcap/dags.csv: skipped, {territories} does not exist yet (one DAG per territory)")
    for table in ("activity", "worker", "supervision", "cost"):
        files[f"registry/{table}_template.csv"] = _csv_bytes(pd.DataFrame(columns=list(cb.registry[table])))
    files["registry/activity_template.xlsx"] = activity_workbook(cb)
    return files, skipped


def build(output_dir: str | Path | None = None, *, codebook: Codebook | None = None, check: bool = False) -> BuildReport:
    """Write the generated files under ``output_dir`` (default: the codebook's own folder).

    Parameters
    ----------
    output_dir : str or Path, optional
    codebook : Codebook, optional
    check : bool, keyword-only
        Write nothing; report in :attr:`BuildReport.written` the files that would change.

    Returns
    -------
    BuildReport
    """
    root = Path(output_dir) if output_dir is not None else package_dir()
    files, skipped = generated_files(codebook)
    report = BuildReport(skipped=skipped)
    for relative, content in files.items():
        path = root / relative
        if path.is_file() and path.read_bytes() == content:
            report.unchanged.append(path)
            continue
        report.written.append(path)
        if not check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
    return report


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``python -m proximite.cohort.codebook.build [--out DIR] [--check]``."""
    parser = argparse.ArgumentParser(description="Write the codebook's REDCap files and registry templates.")
    parser.add_argument("--out", type=Path, default=None, help="output folder (default: the codebook folder)")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if a file is out of date")
    args = parser.parse_args(argv)
    report = build(args.out, check=args.check)
    for message in report.skipped:
        print(message, file=sys.stderr)
    verb = "out of date" if args.check else "written"
    for path in report.written:
        print(f"{verb}: {path}")
    print(f"{len(report.written)} file(s) {verb}, {len(report.unchanged)} unchanged, {len(report.skipped)} skipped")
    return 1 if args.check and report.written else 0


if __name__ == "__main__":
    raise SystemExit(main())
