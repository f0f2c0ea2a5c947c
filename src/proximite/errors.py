"""Errors raised on bad input: each names the file, the row or column, and the rule broken.

Messages never carry a family's values: a coded value (an event name, an action type) may be
quoted because it is not about a person; dates, free text and identifiers are not.
"""

from __future__ import annotations

from pathlib import Path


class ProximiteError(Exception):
    """Base of the platform's errors that a user can act on (the CLI prints them and exits 1)."""


class InputError(ProximiteError):
    """An input file breaks a rule.

    Parameters
    ----------
    path : str or Path
        The file (as received, in layer 01 or where the user pointed).
    rule : str
        The rule broken, in plain words ("required column missing", "unknown code").
    row : int, optional
        1-based data row (the header is row 0), when one row is at fault.
    column : str, optional
        The column or field at fault.
    detail : str, optional
        What to fix; may quote a coded value, never a person's data.
    count : int, optional
        How many rows break the rule, when several do.
    """

    def __init__(
        self,
        path: str | Path,
        rule: str,
        *,
        row: int | None = None,
        column: str | None = None,
        detail: str = "",
        count: int | None = None,
    ) -> None:
        self.path = str(path)
        self.rule = rule
        self.row = row
        self.column = column
        self.detail = detail
        self.count = count
        super().__init__(self._message())

    def _message(self) -> str:
        where = [self.path]
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column is not None:
            where.append(f"column '{self.column}'")
        message = f"{', '.join(where)}: {self.rule}"
        if self.count is not None and self.count > 1:
            message += f" ({self.count} rows)"
        if self.detail:
            message += f". {self.detail}"
        return message


class HarmoniseError(ProximiteError):
    """Staged tables cannot be turned into the harmonised model (a broken cross-table rule)."""


class BuildError(ProximiteError):
    """The warehouse could not be built; the previous warehouse is left in place."""
