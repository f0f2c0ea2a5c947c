"""The qualitative strand's tables: ``qual_session`` (the register), ``qual_code`` and ``qual_coding``.

The register and the coding are staged by two sources that may be ingested at different times;
here they meet, with the reference territories:

- every session of the register names a known territory;
- every source of every ``.qdpx`` project is a session of the register (the register is the
  record of consent: a transcript without its register row is not used);
- the codings of a session whose consent is no longer in force (``consent`` false) are left out
  (counted in the log, never listed).

A broken rule stops harmonisation with a :class:`~proximite.errors.HarmoniseError` naming the
file, the row or source and the field: the register's rows keep their file and row from staging.
Pure functions: no I/O, inputs never modified.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import pandas as pd

from proximite.cohort.harmonise.columns import check_keys, conform
from proximite.cohort.harmonise.rules import resolve_codebook
from proximite.cohort.harmonise.tables import empty_table
from proximite.errors import HarmoniseError

if TYPE_CHECKING:  # pragma: no cover
    from proximite.cohort.codebook import Codebook

__all__ = ["QUALITATIVE_TABLES", "harmonise_qualitative"]

#: The harmonised tables of the qualitative strand.
QUALITATIVE_TABLES = ("qual_session", "qual_code", "qual_coding")
_FOLDER = "qualitative"


def harmonise_qualitative(
    register: Mapping[str, pd.DataFrame] | None,
    coding: Mapping[str, pd.DataFrame] | None,
    *,
    territory: pd.DataFrame,
    codebook: Codebook | None = None,
) -> tuple[dict[str, pd.DataFrame], dict[str, int]]:
    """The three qualitative tables from the staged register and coding (empty when absent).

    Parameters
    ----------
    register : mapping or None
        The staged ``qual_register`` source (``qual_session`` with ``source_file``, ``source_row``).
    coding : mapping or None
        The staged ``qual_coding`` source (``qual_code``, ``qual_coding``, ``qual_document``).
    territory : DataFrame, keyword-only
        The harmonised territory table.
    codebook : Codebook, optional, keyword-only

    Returns
    -------
    tables : dict
        ``qual_session``, ``qual_code``, ``qual_coding`` with exactly the model's columns.
    counts : dict
        ``qual_coding_rows_without_consent``: coding rows left out because consent is not in force.

    Raises
    ------
    HarmoniseError
        A session of an unknown territory (file, row, field named); a QDA source that is not in
        the register (project file and source named); coding staged without any register.
    """
    book = resolve_codebook(codebook)
    sessions = _sessions(register, territory, book)
    if coding is None:
        return {**{name: empty_table(name, book) for name in QUALITATIVE_TABLES}, "qual_session": sessions}, {}
    _check_registered(coding["qual_document"], sessions, register)
    codes = conform({name: coding["qual_code"][name] for name in book.columns("qual_code")}, "qual_code", codebook=book)
    check_keys(codes, "qual_code", codebook=book)
    applied = coding["qual_coding"]
    refused = set(sessions.loc[~sessions["consent"].fillna(False).astype(bool), "session_id"].astype(str))
    without_consent = applied["session_id"].astype("string").isin(refused).fillna(False).to_numpy(dtype=bool)
    kept = applied.loc[~without_consent]
    codings = conform({name: kept[name] for name in book.columns("qual_coding")}, "qual_coding", codebook=book)
    check_keys(codings, "qual_coding", codebook=book)
    tables = {"qual_session": sessions, "qual_code": codes, "qual_coding": codings.reset_index(drop=True)}
    return tables, {"qual_coding_rows_without_consent": int(without_consent.sum())}


def _sessions(register: Mapping[str, pd.DataFrame] | None, territory: pd.DataFrame, book: Codebook) -> pd.DataFrame:
    """The register as ``qual_session``, every territory known."""
    if register is None or "qual_session" not in register:
        return empty_table("qual_session", book)
    staged = register["qual_session"]
    known = set(territory["territory_id"].dropna().astype(str))
    unknown = staged["territory_id"].notna() & ~staged["territory_id"].astype("string").isin(known).fillna(False)
    if unknown.any():
        first = int(unknown.to_numpy(dtype=bool).argmax())
        raise HarmoniseError(
            f"{_FOLDER}/{staged['source_file'].iloc[first]}, row {int(staged['source_row'].iloc[first])}, column "
            f"'territory_id': unknown territory '{staged['territory_id'].iloc[first]}' ({int(unknown.sum())} row(s)). "
            "The register names territories of reference/territories.csv; correct the row or add the territory"
        )
    sessions = conform({name: staged[name] for name in book.columns("qual_session")}, "qual_session", codebook=book)
    check_keys(sessions, "qual_session", codebook=book)
    return sessions


def _check_registered(
    documents: pd.DataFrame, sessions: pd.DataFrame, register: Mapping[str, pd.DataFrame] | None
) -> None:
    """Every source of every project is a session of the register."""
    if register is None:
        raise HarmoniseError(
            f"the QDA projects ({_FOLDER}/*.qdpx) are staged but no register: ingest the register of interviews "
            f"and focus groups ({_FOLDER}/register.csv) before building"
        )
    registered = set(sessions["session_id"].dropna().astype(str))
    missing = ~documents["session_id"].astype("string").isin(registered).fillna(False).to_numpy(dtype=bool)
    if not missing.any():
        return
    first = int(missing.argmax())
    files = ", ".join(sorted({f"{_FOLDER}/{name}" for name in register["qual_session"]["source_file"].dropna().astype(str)}))
    raise HarmoniseError(
        f"{_FOLDER}/{documents['project'].iloc[first]}: source '{documents['session_id'].iloc[first]}' is not in the "
        f"qualitative register ({files or 'empty'}; {int(missing.sum())} source(s) missing). Each source of a QDA "
        "project is named by its session id; add the session to the register (with its consent) or remove the source "
        "from the project and export it again"
    )
