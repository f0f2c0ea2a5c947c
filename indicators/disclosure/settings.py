"""The disclosure options: their check, the ``[disclosure]`` configuration section and the rule's wording."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from proximite.config import Settings

__all__ = ["LEVELS", "DisclosureSettings", "check_options", "disclosure_statement"]

LEVELS: tuple[str, ...] = ("public", "internal")


def check_options(level: str, threshold: int, rounding_base: int) -> None:
    """Refuse an unknown level, or a threshold or rounding base that is not an integer ≥ 1.

    Raises
    ------
    ValueError
        Saying which option is wrong.
    """
    if level not in LEVELS:
        raise ValueError(f"disclosure level must be one of {', '.join(LEVELS)}, not {level!r}")
    if isinstance(threshold, bool) or not isinstance(threshold, (int, np.integer)) or threshold < 1:
        raise ValueError(f"disclosure threshold must be an integer ≥ 1, not {threshold!r}")
    if isinstance(rounding_base, bool) or not isinstance(rounding_base, (int, np.integer)) or rounding_base < 1:
        raise ValueError(f"rounding base must be an integer ≥ 1, not {rounding_base!r}")


@dataclass(frozen=True)
class DisclosureSettings:
    """The ``[disclosure]`` section of the configuration.

    Attributes
    ----------
    threshold : int
        Counts from 1 to ``threshold − 1`` are suppressed.
    rounding_base : int
        Public counts are rounded to the nearest multiple of this (1: no rounding).
    level : str
        ``"public"`` (suppressed and rounded) or ``"internal"`` (suppressed only).
    """

    threshold: int = 5
    rounding_base: int = 5
    level: str = "public"

    def __post_init__(self) -> None:
        check_options(self.level, self.threshold, self.rounding_base)

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> DisclosureSettings:
        """Settings from a project's configuration; keyword arguments override them."""
        section = dict(settings.raw.get("disclosure", {}))
        values: dict[str, Any] = {
            "threshold": int(section.get("threshold", cls.threshold)),
            "rounding_base": int(section.get("rounding_base", cls.rounding_base)),
            "level": str(section.get("level", cls.level)),
        }
        values.update(overrides)
        return cls(**values)

    def options(self) -> dict[str, Any]:
        """Keyword arguments of :func:`~proximite.indicators.disclosure.apply_disclosure`."""
        return {"level": self.level, "threshold": self.threshold, "rounding_base": self.rounding_base}

    def statement(self, *, lang: str = "fr") -> str:
        """The rule in one sentence (see :func:`disclosure_statement`)."""
        return disclosure_statement(self.level, threshold=self.threshold, rounding_base=self.rounding_base, lang=lang)

    def to_dict(self) -> dict[str, Any]:
        """Plain-Python form (for manifests)."""
        return self.options()


def disclosure_statement(level: str = "public", *, threshold: int = 5, rounding_base: int = 5, lang: str = "fr") -> str:
    """The disclosure rule in one sentence, as the snapshot prints it.

    Parameters
    ----------
    level : {"public", "internal"}
    threshold, rounding_base : int, keyword-only
        As given to :func:`~proximite.indicators.disclosure.apply_disclosure`.
    lang : {"fr", "en"}, keyword-only

    Returns
    -------
    str
    """
    check_options(level, threshold, rounding_base)
    if lang not in {"fr", "en"}:
        raise ValueError(f"lang must be 'fr' or 'en', not {lang!r}")
    fr = lang == "fr"
    suppression = _suppression_clause(threshold - 1, fr=fr)
    rounding = _rounding_clause(level, rounding_base, fr=fr)
    if fr:
        internal = " (version interne, équipe de recherche)" if level == "internal" else ""
        head = f"Contrôle de la divulgation{internal}"
        return f"{head} : {suppression} ; {rounding}."
    head = "Disclosure control" + (" (internal version, research team)" if level == "internal" else "")
    return f"{head}: {suppression}; {rounding}."


def _suppression_clause(small: int, *, fr: bool) -> str:
    """What is suppressed: counts from 1 to ``small`` and the cells that would give them away."""
    if small < 1:
        return "aucun effectif n'est supprimé" if fr else "no count is suppressed"
    if fr:
        counts = "les effectifs égaux à 1" if small == 1 else f"les effectifs de 1 à {small}"
        return (
            f"{counts} sont supprimés, de même que les cellules qui permettraient de les retrouver "
            "par soustraction"
        )
    counts = "counts of 1" if small == 1 else f"counts from 1 to {small}"
    return f"{counts} are suppressed, as are the cells from which they could be recovered by subtraction"


def _rounding_clause(level: str, rounding_base: int, *, fr: bool) -> str:
    """How published counts are rounded (not at all for the internal level or a base of 1)."""
    if level == "internal" or rounding_base == 1:
        return "les effectifs ne sont pas arrondis" if fr else "counts are not rounded"
    if fr:
        return (
            f"les effectifs publiés sont arrondis au multiple de {rounding_base} le plus proche et les taux "
            "sont calculés à partir des effectifs arrondis"
        )
    return (
        f"published counts are rounded to the nearest multiple of {rounding_base} and rates are computed "
        "from the rounded counts"
    )
