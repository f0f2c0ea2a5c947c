"""The glossary of the snapshot's pages: every technical term in plain words, French and English.

Terms live in ``cohort/codebook/glossary.yaml`` (``term`` and ``definition`` in each language);
the glossary page lists them in the page's language, sorted as a reader looks them up.
"""

from __future__ import annotations

import unicodedata
from functools import cache
from pathlib import Path
from typing import Any

__all__ = ["glossary_entries", "read_glossary"]

GLOSSARY = "glossary.yaml"


@cache
def read_glossary(directory: Path) -> dict[str, Any]:
    """The glossary file of a codebook directory, keyed by term id."""
    import yaml

    with (Path(directory) / GLOSSARY).open(encoding="utf-8") as handle:
        return dict(yaml.safe_load(handle)["terms"])


def _sort_key(text: str) -> str:
    # "Écart" sorts with E, as a reader expects; symbols (δ, Tk) keep their letter.
    return "".join(ch for ch in unicodedata.normalize("NFKD", text.casefold()) if not unicodedata.combining(ch))


def glossary_entries(codebook: Any, *, lang: str) -> list[dict[str, str]]:
    """``[{"id", "term", "definition"}]`` in ``lang``, sorted by term."""
    entries = [
        {"id": key, "term": str(value["term"][lang]), "definition": str(value["definition"][lang])}
        for key, value in read_glossary(Path(codebook.directory)).items()
    ]
    return sorted(entries, key=lambda entry: _sort_key(entry["term"]))
