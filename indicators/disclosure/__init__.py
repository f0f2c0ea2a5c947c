"""Disclosure control of indicator tables: what a decision-maker may see (DESIGN, "Disclosure control").

:func:`apply_disclosure` takes any indicator table (:data:`~proximite.indicators.base.INDICATOR_COLUMNS`)
and returns a new one with two more columns, ``suppressed`` and ``suppression``:

- **primary suppression**: a count of people (or of their needs or referrals) from 1 to
  ``threshold − 1`` is hidden, and so is a share whose numerator, denominator or
  denominator − numerator is such a count, and any row whose ``n`` is;
- **complementary suppression**: more cells are hidden until no hidden cell can be recomputed
  from the published ones through the additive relations of the table (territories → region →
  Québec, stratum values → all, breakdown values → all);
- **rounding** (``level="public"``): published counts are rounded to the nearest
  ``rounding_base`` (half up), shares are recomputed from the rounded counts and their Wilson
  interval too. ``level="internal"`` (the research team) suppresses but does not round.

Indicators whose catalogue entry says ``people: false`` (hours, network measures) are left as
they are. The wording of the rule printed by the snapshot is :func:`disclosure_statement` (French and
English).

One module per concern: :mod:`.settings` (options, configuration, wording), :mod:`.primary`
(small cells), :mod:`.groups` (the additive groups over the hierarchy, strata and breakdowns),
:mod:`.complementary` (the suppression search), :mod:`.recoverability` (the exact check that no
hidden quantity can be recomputed), :mod:`.rounding`, and the attacker: :mod:`.relations` (what a
published table carries), :mod:`.bounding`, :mod:`.lp` and :mod:`.polyhedron` (the solver),
:mod:`.audit` and :mod:`.repair` (hide more until the audit finds nothing); :func:`apply_disclosure`
puts them together.

The functions here do no I/O and never modify their inputs.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import pandas as pd

from proximite.indicators.base import INDICATOR_COLUMNS, INDICATOR_DTYPES
from proximite.indicators.disclosure.audit import AuditedTable
from proximite.indicators.disclosure.complementary import Cells
from proximite.indicators.disclosure.primary import check_aggregate
from proximite.indicators.disclosure.relations import counts_people
from proximite.indicators.disclosure.repair import protect_against_audit
from proximite.indicators.disclosure.rounding import round_half_up, round_published
from proximite.indicators.disclosure.settings import (
    LEVELS,
    DisclosureSettings,
    check_options,
    disclosure_statement,
)

__all__ = [
    "COMPLEMENTARY",
    "DISCLOSURE_COLUMNS",
    "LEVELS",
    "PRIMARY",
    "DisclosureSettings",
    "apply_disclosure",
    "disclose_with_audit",
    "disclosure_statement",
    "round_half_up",
]

PRIMARY = "primary"
COMPLEMENTARY = "complementary"
#: Columns of a table after disclosure control.
DISCLOSURE_COLUMNS: list[str] = [*INDICATOR_COLUMNS, "suppressed", "suppression"]


def apply_disclosure(
    table: pd.DataFrame,
    *,
    level: str = "public",
    threshold: int = 5,
    rounding_base: int = 5,
    codebook: Any = None,
    territory: pd.DataFrame | None = None,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Apply the disclosure rule to an indicator table.

    Parameters
    ----------
    table : DataFrame
        An indicator table with :data:`~proximite.indicators.base.INDICATOR_COLUMNS` (other columns
        are dropped). Not modified.
    level : {"public", "internal"}, keyword-only
        ``public`` suppresses and rounds; ``internal`` (research team) suppresses only.
    threshold : int, keyword-only
        Counts from 1 to ``threshold − 1`` are suppressed.
    rounding_base : int, keyword-only
        Public counts are rounded to the nearest multiple of this.
    codebook : Codebook, keyword-only
        Gives each indicator's ``unit``, ``people`` and ``additive`` (default: the packaged one).
    territory : DataFrame, keyword-only
        The harmonised territory table (``territory_id``, ``region_code`` and the stratum columns
        such as ``environment``, ``host_type``). Required when the table holds both territory and
        region rows: the region of a territory is not in the indicator table, and a territory id
        cannot be trusted to encode it.
    confidence : float, keyword-only
        Level of the Wilson intervals recomputed for public shares.

    Returns
    -------
    DataFrame
        :data:`DISCLOSURE_COLUMNS`, in the input's row order and index: ``suppressed`` (bool) and
        ``suppression`` (``""``, ``"primary"``, ``"complementary"``). A suppressed row has
        numerator, denominator, value, ci_low, ci_high and n missing.

    Raises
    ------
    ValueError
        A column is missing, a row is not an aggregate (unknown scope, a label that looks like a
        pseudonymous id), two rows describe the same cell, or ``territory`` is needed and missing
        or incomplete.

    Notes
    -----
    Only indicators with ``people: true`` are touched. Per row, with :math:`t` the threshold:

    - ``count``: :math:`c` = numerator (the value when it is missing); suppressed when
      :math:`0 < c < t`;
    - ``share``: numerator :math:`k`, denominator :math:`m`; suppressed when
      :math:`0 < k < t`, :math:`0 < m - k < t` or :math:`0 < m < t`;
    - any unit: suppressed when :math:`0 < n < t`.

    **Complementary suppression.** Cells form groups ``parent = Σ children`` within an indicator,
    wave and period: Québec ← its regions, a region ← its territories (for each stratum value
    too: region/rural ← its rural territories; Québec/rural ← regions/rural), a scope's ``all``
    stratum ← the values of each stratum, and a breakdown's ``all`` ← its values. A group is an
    equation for a quantity (numerator, denominator, n) when the catalogue says the indicator is
    additive (for ``n`` always: a mean's ``n`` still adds up) and the table agrees: the
    children's sum equals the parent, or falls short of it (a category whose row is absent).
    Then, until nothing changes:

    1. *group rule*: a group that hides exactly one non-zero value of one of its quantities
       (numerator, denominator, n, or a share's :math:`m − k`) gets a second hidden member: a
       published child with that quantity positive (the parent when no child has one),
       preferring the one in the most groups in need, then one with all quantities positive,
       then the smallest; a candidate that serves several groups is used for all of them;
    2. *exact check*: with the hidden non-zero quantities as unknowns (a hidden 0 is known: it
       cannot go below 0; a share with :math:`k = m` ties its two unknowns), a quantity is
       recoverable when no move :math:`z` with :math:`Az = 0` changes it
       (:func:`~proximite.indicators.disclosure.recoverability.null_moves`);
       for each such quantity one more published cell is hidden, from its own groups or, when
       they hide everything already, from the nearest groups beyond (deepest cells first).

    At the fixed point, for every hidden cell, its count (``n`` for means, points and days;
    for a share :math:`k`, :math:`m` and :math:`m − k`) and every hidden quantity from 1 to
    :math:`t − 1` can take more than one value given the published cells; the exact check
    works on equalities, and because every unknown is non-zero (so positive), a small move
    along :math:`z` keeps them all ≥ 0: the bounds do not pin anything either.

    **The attacker's audit.** The would-be public table (rounded at the public level, one mark
    for every hidden cell) carries more relations than these groups: partitions without an
    ``all`` row that share a denominator, a quantity equal across indicators, the rounding
    intervals. :func:`~proximite.indicators.disclosure.audit.audit_published` rebuilds them as an
    outsider would and bounds every hidden count by linear programming (starting from this table
    before disclosure, which agrees with the file); while it pins or narrows one, one more
    published cell linked to it is hidden and the groups are protected again
    (:mod:`.repair`). The table it read last is the one returned (:func:`disclose_with_audit`
    hands it over with what the audit found).

    **Rounding** (public): :math:`r(x) = b\\lfloor x/b + 1/2\\rfloor` of numerator, denominator
    and n; a share's value is :math:`r(k)/r(m)` (missing when :math:`r(m) = 0`, or when the
    table lacks :math:`k` or :math:`m`) with the Wilson interval of :math:`(r(k), r(m))`. A
    count's interval (it comes from the exact count) is not published. At both levels, the
    numerator and denominator of a mean, points or days row are withheld: only its n is
    checked, and numerator / value would give n exactly.
    """
    return disclose_with_audit(table, level=level, threshold=threshold, rounding_base=rounding_base, codebook=codebook,
                               territory=territory, confidence=confidence)[0]


def disclose_with_audit(
    table: pd.DataFrame,
    *,
    level: str = "public",
    threshold: int = 5,
    rounding_base: int = 5,
    codebook: Any = None,
    territory: pd.DataFrame | None = None,
    confidence: float = 0.95,
) -> tuple[pd.DataFrame, AuditedTable | None]:
    """:func:`apply_disclosure`, and the last table its audit read with what it found (None: no people rows).

    At the public level that table holds the cells the public files will show, one mark for every
    hidden cell: a caller about to publish them (the snapshot writer) need not audit them again
    (:meth:`~proximite.indicators.disclosure.audit.AuditedTable.covers`).

    The last few results are kept, keyed by the content of ``table`` and ``territory`` and by the
    options (:func:`_memo_key`): the pipeline's public snapshot and its headline artifact, or the
    snapshots of several scopes written by one process, disclose the same table once. A result
    is handed out as a new frame each time.
    """
    check_options(level, threshold, rounding_base)
    missing = [column for column in INDICATOR_COLUMNS if column not in table.columns]
    if missing:
        raise ValueError(f"indicator table lacks column(s) {', '.join(missing)}")
    if codebook is None:
        from proximite.cohort.codebook import load_codebook

        codebook = load_codebook()
    key = _memo_key(table, territory, codebook, level=level, threshold=threshold, rounding_base=rounding_base,
                    confidence=confidence)
    if key not in _RECENT:
        _RECENT[key] = _disclose(table, level=level, threshold=threshold, rounding_base=rounding_base,
                                 codebook=codebook, territory=territory, confidence=confidence)
        while len(_RECENT) > _RECENT_SIZE:
            _RECENT.pop(next(iter(_RECENT)))
    disclosed, audited = _RECENT[key]
    return disclosed.copy(), audited


#: The last results of :func:`disclose_with_audit` (oldest first); a disclosure takes seconds, a
#: key a few milliseconds per ten thousand rows.
_RECENT: dict[tuple[Any, ...], tuple[pd.DataFrame, AuditedTable | None]] = {}
_RECENT_SIZE = 2


def _memo_key(table: pd.DataFrame, territory: pd.DataFrame | None, codebook: Any, **options: Any) -> tuple[Any, ...]:
    """What a disclosure depends on: the indicator rows and territories (hashed), the codebook and the options."""
    rows = pd.util.hash_pandas_object(table[INDICATOR_COLUMNS], index=False).to_numpy()
    places = () if territory is None else tuple(pd.util.hash_pandas_object(territory, index=False).to_numpy())
    return (len(rows), hashlib.sha256(rows.tobytes()).hexdigest(), places, id(codebook), tuple(sorted(options.items())))


def _disclose(
    table: pd.DataFrame,
    *,
    level: str,
    threshold: int,
    rounding_base: int,
    codebook: Any,
    territory: pd.DataFrame | None,
    confidence: float,
) -> tuple[pd.DataFrame, AuditedTable | None]:
    """:func:`disclose_with_audit` without the memo (the options checked, the codebook given)."""
    frame = table[INDICATOR_COLUMNS].copy(deep=True)
    frame = frame.astype({c: d for c, d in INDICATOR_DTYPES.items() if "datetime" not in d})
    check_aggregate(frame)
    rows = len(frame)
    suppressed = np.zeros(rows, dtype=bool)
    reason = np.full(rows, "", dtype=object)
    specs = {indicator: codebook.indicator(indicator) for indicator in pd.unique(frame["indicator"].astype(object))}
    people = frame["indicator"].map(lambda i: counts_people(specs[i], i)).to_numpy(dtype=bool)
    unit = frame["indicator"].map(lambda i: str(specs[i].get("unit"))).to_numpy(dtype=object)
    # Staff rates (departures / PTP in post) are shares of people for the rule.
    unit = np.where(people & (unit == "rate"), "share", unit)
    additive = frame["indicator"].map(lambda i: bool(specs[i].get("additive"))).to_numpy(dtype=bool)

    positions = np.flatnonzero(people)
    audited = None
    if len(positions):
        cells = Cells(frame.iloc[positions], unit[positions], additive[positions], threshold=threshold,
                      territory=territory)
        cells.protect()
        audited = protect_against_audit(cells, frame, positions, unit, base=rounding_base if level == "public" else 1,
                                        confidence=confidence, codebook=codebook, territory=territory)
        suppressed[positions] = cells.suppressed
        reason[positions] = np.where(cells.primary, PRIMARY, np.where(cells.suppressed, COMPLEMENTARY, ""))

    out = frame
    if level == "public":
        out = round_published(out, people & ~suppressed, unit, base=rounding_base, confidence=confidence)
    # Mean, points, days: only n is checked. Their numerator and denominator are either a sum of
    # scores (numerator / value gives n exactly, defeating its rounding) or counts the rule has
    # not checked (the events of a Kaplan–Meier median): withheld at both levels.
    other = pd.Series(people & ~np.isin(unit, ["count", "share"]), index=out.index)
    for column in ("numerator", "denominator"):
        out[column] = out[column].mask(other)
    hidden = pd.Series(suppressed, index=out.index)
    for column in ("numerator", "denominator", "value", "ci_low", "ci_high"):
        out[column] = out[column].mask(hidden)
    out["n"] = out["n"].mask(hidden)
    out["suppressed"] = suppressed
    out["suppression"] = pd.array(reason, dtype="string")
    return out[DISCLOSURE_COLUMNS], audited
