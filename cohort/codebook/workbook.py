"""The activity registry's XLSX template: drop-down lists of codes, formats, checks, explanations."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

from proximite.cohort.stable_bytes import FIXED_TIME, stable_xlsx

if TYPE_CHECKING:  # pragma: no cover
    from openpyxl.workbook import Workbook
    from openpyxl.worksheet.datavalidation import DataValidation
    from openpyxl.worksheet.worksheet import Worksheet

    from proximite.cohort.codebook import Codebook

__all__ = ["ACTIVITY_SHEET", "CODES_SHEET", "EXPLANATIONS_SHEET", "TEMPLATE_ROWS", "activity_workbook"]

#: The template's sheets: the one to fill, the hidden code lists, the explanations.
ACTIVITY_SHEET = "Activités"
CODES_SHEET = "Codes"
EXPLANATIONS_SHEET = "Explications"
#: Rows of the activity sheet that carry the checks and drop-down lists.
TEMPLATE_ROWS = 20_000

_TYPE_FR = {"string": "texte", "int": "nombre entier", "float": "nombre décimal", "date": "date (AAAA-MM-JJ)"}
_NUMBER_FORMATS = {"date": "yyyy-mm-dd", "int": "0", "float": "0.0", "string": "@"}


def activity_workbook(codebook: Codebook, *, table: str = "activity") -> bytes:
    """The registry template as XLSX bytes.

    Sheets: ``Activités`` (the header row; a drop-down list on every coded column, fed from a
    named range of the hidden ``Codes`` sheet; date and number formats and checks), ``Codes``
    (hidden: codes and French labels) and ``Explications`` (each column in French, with its
    allowed codes and labels).
    """
    from openpyxl import Workbook

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
    codes_sheet = workbook.create_sheet(CODES_SHEET)
    codes_sheet.sheet_state = "hidden"
    code_column = 1
    for position, (name, column) in enumerate(spec.items(), start=1):
        _header(sheet, position, name, column)
        if column.get("enum"):
            validation: DataValidation | None = _code_list(workbook, codes_sheet, codebook, name, column, code_column)
            code_column += 2
        else:
            validation = _value_check(name, column, limits)
        if validation is not None:
            _add_validation(sheet, validation, position, name, column)
    sheet.freeze_panes = "A2"
    for letter in ("A", "B", "C", "D", "E", "F"):
        codes_sheet.column_dimensions[letter].width = 28
    _explanations(workbook.create_sheet(EXPLANATIONS_SHEET), codebook, spec)

    buffer = io.BytesIO()
    workbook.save(buffer)
    return stable_xlsx(buffer.getvalue())


def _header_style() -> tuple[Any, Any]:
    """Font and fill of a header row (white bold on dark blue)."""
    from openpyxl.styles import Font, PatternFill

    return Font(bold=True, color="FFFFFF"), PatternFill("solid", fgColor="1F4E79")


def _header(sheet: Worksheet, position: int, name: str, column: dict[str, Any]) -> None:
    """The column's header cell, width and number format."""
    from openpyxl.utils import get_column_letter

    letter = get_column_letter(position)
    cell = sheet.cell(row=1, column=position, value=name)
    cell.font, cell.fill = _header_style()
    sheet.column_dimensions[letter].width = max(14, len(name) + 4)
    sheet.column_dimensions[letter].number_format = _NUMBER_FORMATS.get(column["type"], "General")


def _code_list(
    workbook: Workbook, codes_sheet: Worksheet, codebook: Codebook, name: str, column: dict[str, Any], code_column: int
) -> DataValidation:
    """Write a coded column's codes and labels on the hidden sheet, name their range, and return
    the drop-down list that reads it."""
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter
    from openpyxl.workbook.defined_name import DefinedName
    from openpyxl.worksheet.datavalidation import DataValidation

    enum = column["enum"]
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
    validation = DataValidation(type="list", formula1=range_name, allow_blank=not column.get("required"))
    validation.errorTitle = "Code inconnu"
    validation.error = f"Choisissez un code de la liste ({name}); voir la feuille « {EXPLANATIONS_SHEET} »."
    return validation


def _value_check(name: str, column: dict[str, Any], limits: dict[str, dict[str, Any]]) -> DataValidation | None:
    """The check of a date or number column (within the model's bounds); None for free text."""
    from openpyxl.worksheet.datavalidation import DataValidation

    required = bool(column.get("required"))
    if column["type"] == "date":
        validation = DataValidation(type="date", operator="greaterThan", formula1="DATE(2000,1,1)", allow_blank=not required)
        validation.errorTitle = "Date invalide"
        validation.error = "Inscrivez une date (AAAA-MM-JJ)."
        return validation
    if column["type"] not in {"int", "float"}:
        return None
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
    return validation


def _add_validation(sheet: Worksheet, validation: DataValidation, position: int, name: str, column: dict[str, Any]) -> None:
    """Show the check's message and the column's explanation on the template's rows."""
    from openpyxl.utils import get_column_letter

    letter = get_column_letter(position)
    validation.showErrorMessage = True
    validation.promptTitle = name
    validation.prompt = str(column.get("explanation", ""))[:255]
    validation.showInputMessage = True
    validation.add(f"{letter}2:{letter}{TEMPLATE_ROWS + 1}")
    sheet.add_data_validation(validation)


def _explanations(notes: Worksheet, codebook: Codebook, spec: dict[str, dict[str, Any]]) -> None:
    """The ``Explications`` sheet: how to fill the template, each column, each coded column's codes."""
    from openpyxl.styles import Alignment, Font

    notes.append(["Registre des activités des PTP — comment remplir le gabarit"])
    notes["A1"].font = Font(bold=True, size=14)
    notes.append([
        "Une ligne par activité, dans la feuille « Activités ». Ne changez pas les noms de colonnes. "
        "Les colonnes à code ont une liste déroulante; n'inscrivez aucun nom de personne."
    ])
    notes.append([])
    notes.append(["Colonne", "Obligatoire", "Type", "Explication", "Codes permis (code — libellé)"])
    for cell in notes[4]:
        cell.font, cell.fill = _header_style()
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
