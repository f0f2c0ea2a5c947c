"""The staged gate's rule for a team's own REDCap project: every field the cohort requires is mapped.

A mapping (:mod:`proximite.cohort.redcap.mapping`) that leaves a required cohort field unmapped
would stage an empty column; the row-level rules would then refuse every record for it, which
says nothing about the cause. This rule refuses the pull first and names each such field.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from proximite.errors import ProximiteError

if TYPE_CHECKING:  # pragma: no cover
    from proximite.cohort.layers import StagedGate
    from proximite.cohort.redcap.mapping import RedcapMapping, UnmappedField

__all__ = ["RULE_ID", "UnmappedRequired", "require_mapped"]

#: The rule's id, as the reports name rules.
RULE_ID = "staged.redcap.mapping.required_field_mapped"


class UnmappedRequired(ProximiteError):
    """The staged gate refused a pull: the mapping leaves fields the cohort requires unmapped.

    Attributes
    ----------
    mapping : Path
    fields : list of UnmappedField
    """

    def __init__(self, mapping: Path, fields: Sequence[UnmappedField]) -> None:
        self.mapping = mapping
        self.fields = list(fields)
        listed = "; ".join(item.describe() for item in self.fields)
        super().__init__(
            f"{mapping}: {RULE_ID}: {len(self.fields)} field(s) the cohort requires are not mapped: {listed}. "
            "Map each under `fields:` (cohort field: your field); nothing was staged and LATEST is unchanged"
        )


def require_mapped(gate: StagedGate | None, mapping: RedcapMapping, unmapped: Sequence[UnmappedField]) -> StagedGate:
    """The staged gate, preceded by the rule "every field the cohort requires is mapped".

    Parameters
    ----------
    gate : callable or None
        The project's staged gate (:func:`~proximite.expectations.gates.staged_gate`), run when the rule passes.
    mapping : RedcapMapping
    unmapped : sequence of UnmappedField
        :func:`~proximite.cohort.redcap.mapping.unmapped_required` of the mapping.

    Returns
    -------
    callable
        A :data:`~proximite.cohort.layers.StagedGate` that raises :class:`UnmappedRequired`
        (every unmapped field named) before the other rules run.
    """

    def mapped_gate(candidates: Mapping[str, Path], pull_id: str) -> None:
        if unmapped and "redcap" in candidates:
            raise UnmappedRequired(mapping.path, unmapped)
        if gate is not None:
            gate(candidates, pull_id)

    return mapped_gate
