"""The contract every source kind fulfils (layers 01 raw and 02 staged).

A source knows which files of an input directory are its own (:meth:`Source.discover`), and how
to read its raw copy into typed tables (:meth:`Source.stage`). :func:`proximite.cohort.ingest.ingest`
does the rest for every source alike: copy as received into 01 raw with a manifest, stage into a
temporary directory, then move it into 02 staged and mark it ``LATEST``.

A new source kind (the REDCap API through PyCap, a partner's database) subclasses
:class:`Source` and is added to :data:`proximite.cohort.sources.SOURCES`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import pandas as pd

if TYPE_CHECKING:  # pragma: no cover
    from proximite.cohort.codebook import Codebook
    from proximite.config import Settings

__all__ = ["Source", "Staged", "DATA_SUFFIXES"]

#: File suffixes read as data (others, such as mapping YAML or project.json, are copied only).
DATA_SUFFIXES = (".csv", ".xlsx", ".sav", ".zsav", ".dta")


class Staged(dict[str, pd.DataFrame]):
    """Typed tables of one pull, ``{table name: frame}``, plus the rows read from each file.

    It is a plain ``dict`` for callers that only want the tables; ingest also reads
    :attr:`file_rows` to record row counts in the raw manifest.

    Parameters
    ----------
    tables : mapping of str to DataFrame
    file_rows : mapping of str to int, optional
        Data rows read from each file, by path relative to the pull's raw directory.
    """

    def __init__(
        self,
        tables: dict[str, pd.DataFrame] | None = None,
        *,
        file_rows: dict[str, int] | None = None,
    ) -> None:
        super().__init__(tables or {})
        self.file_rows: dict[str, int] = dict(file_rows or {})


class Source(ABC):
    """One kind of input: what it is called, which files it owns and how it types them.

    Subclasses set :attr:`name` (the layer folder, one of ``reference``, ``redcap``,
    ``registry``, ``cost``) and :attr:`folder` (its folder in an input directory).
    """

    #: The source's name in the data layers (``data/01_raw/<name>/``).
    name: ClassVar[str]
    #: Its folder in an input directory (``costs`` for the ``cost`` source).
    folder: ClassVar[str]

    def source_dir(self, input_dir: Path) -> Path:
        """The source's folder inside an input directory."""
        return Path(input_dir) / self.folder

    def discover(self, input_dir: Path) -> list[Path]:
        """Every file of this source in ``input_dir``, sorted; empty when its folder is absent.

        All files are returned (mappings, notes, project settings), since the raw layer keeps
        everything as received; :meth:`stage` decides which ones hold data.
        """
        folder = self.source_dir(input_dir)
        if not folder.is_dir():
            return []
        return sorted(path for path in folder.rglob("*") if path.is_file())

    @abstractmethod
    def stage(self, raw_dir: Path, *, codebook: Codebook, settings: Settings) -> Staged:
        """Read the raw copy of one pull and return its typed tables.

        Parameters
        ----------
        raw_dir : Path
            ``data/01_raw/<source>/<pull_id>/``: the files as received (never modified).
        codebook : Codebook
        settings : Settings

        Returns
        -------
        Staged
            ``{table: DataFrame}`` with nullable dtypes, plus rows read per file.

        Raises
        ------
        InputError
            A file breaks a rule; the message names the file, the row or column and the rule.
        """

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, folder={self.folder!r})"
