"""Whether economics results may be published: every parameter sourced, dated and signed off.

:class:`PublicationCheck` lists what blocks publication; :class:`PublicationStatus` is what every
economics results object says about it; :class:`PublicationError` is raised when results are
asked for publication while something blocks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Self

from proximite.errors import ProximiteError

__all__ = ["PublicationCheck", "PublicationError", "PublicationStatus"]


class PublicationError(ProximiteError):
    """Results were asked for publication while some parameters are placeholders or unsourced.

    ``blockers`` lists each value at fault with the reason.
    """

    def __init__(self, blockers: Sequence[str]) -> None:
        self.blockers = list(blockers)
        listing = "\n".join(f"  - {blocker}" for blocker in self.blockers)
        super().__init__(
            f"these results cannot be published: {len(self.blockers)} parameter value(s) are placeholders, "
            f"unsourced or not signed off (set a source, a year and placeholder: false):\n{listing}"
        )


@dataclass(frozen=True)
class PublicationCheck:
    """Whether results may be published; truthy when they may. ``blockers`` says what prevents it."""

    blockers: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return not self.blockers

    def require(self) -> None:
        """Raise :class:`PublicationError` when anything blocks publication."""
        if self.blockers:
            raise PublicationError(self.blockers)


class PublicationStatus:
    """What every economics results object says about publication (it has a ``publication`` check)."""

    publication: PublicationCheck

    @property
    def publishable(self) -> bool:
        """Whether every parameter is sourced, dated and signed off (``placeholder: false``)."""
        return bool(self.publication)

    @property
    def blockers(self) -> list[str]:
        """The parameter values that block publication, with the reasons."""
        return list(self.publication.blockers)

    def require_publishable(self) -> Self:
        """Return self, or raise :class:`PublicationError` listing what blocks."""
        self.publication.require()
        return self
