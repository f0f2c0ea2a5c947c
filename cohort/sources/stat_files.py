"""SPSS (``.sav``) and Stata (``.dta``) files read as strings: value labels applied, user-missing values blanked."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from proximite.errors import InputError
from proximite.cohort.sources.tabular import RawTable, cell_text, check_header, require_rows

__all__ = ["read_stat_strings"]


def _label_text(labels: dict[Any, str], value: Any) -> str | None:
    if value in labels:
        return labels[value]
    if isinstance(value, float) and value.is_integer() and int(value) in labels:
        return labels[int(value)]
    return None


def _user_missing_mask(series: pd.Series, column: str, meta: Any) -> np.ndarray:
    """Cells that hold a user-missing code (SPSS missing values or ranges, Stata ``.a``–``.z``)."""
    mask = np.zeros(len(series), dtype=bool)
    for missing_range in (getattr(meta, "missing_ranges", None) or {}).get(column, []):
        low, high = missing_range["lo"], missing_range["hi"]
        if isinstance(low, str) or isinstance(high, str):
            mask |= (series.astype(object) == low).to_numpy()
        else:
            numeric = pd.to_numeric(series, errors="coerce")
            mask |= ((numeric >= low) & (numeric <= high)).fillna(False).to_numpy(dtype=bool)
    letters = (getattr(meta, "missing_user_values", None) or {}).get(column, [])
    if letters:
        mask |= series.isin(list(letters)).to_numpy()
    return mask


def read_stat_strings(path: Path, *, encoding: str | None = None, rows_required: bool = True) -> RawTable:
    """Read an SPSS ``.sav``/``.zsav`` or Stata ``.dta`` file as strings, through pyreadstat.

    Value labels are applied (the raw codes are kept in :attr:`RawTable.codes` so a mapping may
    name either); user-missing cells become ``""`` and their reason is kept in
    :attr:`RawTable.missing_reasons`: the missing code's value label, else ``code 99`` or ``.a``.

    Raises
    ------
    InputError
        The file is empty, corrupt or truncated, or has no rows.
    """
    import pyreadstat

    path = Path(path)
    if path.stat().st_size == 0:
        raise InputError(path, "empty file", detail="0 bytes; send the complete file")
    kind = "Stata" if path.suffix.lower() == ".dta" else "SPSS"
    reader = pyreadstat.read_dta if kind == "Stata" else pyreadstat.read_sav
    options: dict[str, Any] = {"user_missing": True, "apply_value_formats": False}
    if encoding:
        options["encoding"] = encoding
    try:
        frame, meta = reader(str(path), **options)
    except Exception as error:  # pyreadstat raises ReadstatError/PyreadstatError and others
        raise InputError(
            path, f"not a readable {kind} file",
            detail=f"The file is corrupt or truncated ({type(error).__name__}); export it again from {kind}",
        ) from None
    if frame.shape[1] == 0:
        raise InputError(path, "empty file", detail="No variables")
    names = check_header(list(frame.columns), path=path)
    frame.columns = names
    value_labels: dict[str, dict[Any, str]] = getattr(meta, "variable_value_labels", None) or {}
    columns: dict[str, pa.Array] = {}
    reasons: dict[str, pa.Array] = {}
    codes: dict[str, pa.Array] = {}
    for name in names:
        series = frame[name]
        labels = value_labels.get(name, {})
        missing = _user_missing_mask(series, name, meta)
        # Per-cell Python here: statistical files from partners are small (the CSV path is the fast one).
        raw_text = series.map(cell_text)
        if missing.any():
            why = [
                (_label_text(labels, value) or (f".{value}" if isinstance(value, str) and kind == "Stata" else f"code {cell_text(value)}"))
                if is_missing else None
                for value, is_missing in zip(series.tolist(), missing, strict=True)
            ]
            reasons[name] = pa.array(why, pa.string())
            raw_text = raw_text.where(~missing, "")
        if labels:
            label_of = {text: _label_text(labels, value) for value, text in zip(series.tolist(), raw_text.tolist(), strict=True) if text}
            labelled = raw_text.map(lambda text: label_of.get(text) or text)
            codes[name] = pa.array(raw_text.to_numpy(dtype=object), pa.string())
            raw_text = labelled
        columns[name] = pa.array(raw_text.astype(str).to_numpy(dtype=object), pa.string())
    raw = RawTable(
        path=path, table=pa.table(columns), source_rows=np.arange(1, len(frame) + 1, dtype=np.int64),
        encoding=getattr(meta, "file_encoding", None), missing_reasons=reasons, codes=codes,
    )
    return require_rows(raw, rows_required=rows_required)
