"""The codebook's labels and errors: a code's French and English labels, an unknown code."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["YESNO_CHOICES", "CodebookError", "Label"]


class CodebookError(ValueError):
    """A code, field or table is not in the codebook."""


@dataclass(frozen=True)
class Label:
    """French and English labels of one code."""

    fr: str
    en: str

    def in_language(self, lang: str) -> str:
        """Return the label in ``lang`` (``"fr"`` or ``"en"``)."""
        return self.en if lang == "en" else self.fr


#: The choices of a REDCap yes/no field.
YESNO_CHOICES = {"1": ("Oui", "Yes"), "0": ("Non", "No")}
