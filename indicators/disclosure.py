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
they are. The wording of the rule printed by the snapshot is :func:`disclosure_statement` (in this
module, French and English).

The functions here do no I/O and never modify their inputs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import pairwise
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from proximite.indicators.base import (
    ALL,
    INDICATOR_COLUMNS,
    INDICATOR_DTYPES,
    QUEBEC,
    SCOPES,
    wilson_interval,
)
from scipy import sparse
from scipy.sparse.csgraph import connected_components

if TYPE_CHECKING:  # pragma: no cover
    from proximite.config import Settings

__all__ = [
    "COMPLEMENTARY",
    "DISCLOSURE_COLUMNS",
    "LEVELS",
    "PRIMARY",
    "DisclosureSettings",
    "apply_disclosure",
    "disclosure_statement",
    "round_half_up",
]

LEVELS: tuple[str, ...] = ("public", "internal")
PRIMARY = "primary"
COMPLEMENTARY = "complementary"
#: Columns of a table after disclosure control.
DISCLOSURE_COLUMNS: list[str] = [*INDICATOR_COLUMNS, "suppressed", "suppression"]

# A label that looks like a pseudonymous id (HMAC hex digest, 16 characters by default): such a
# value has no business in an aggregate table.
_PSEUDONYM = re.compile(r"^[0-9a-fA-F]{12,}$")
_LABEL_COLUMNS = (
    "scope", "scope_id", "stratum", "stratum_value", "period", "breakdown", "breakdown_value", "indicator",
)

# The quantities a cell may carry, as rows of a (3, cells) array.
_NUM, _DEN, _N = 0, 1, 2
# Denominator − numerator of a share, in leak reports.
_COMPLEMENT = 3
# Kinds of additive groups.
_GEO, _STRATUM, _BREAKDOWN = 0, 1, 2
_NA_LABEL = "\x00<NA>"
# A move below this is numerical noise (moves are O(1); the solver leaves ≲ 1e-10).
_MOVE_TOLERANCE = 1e-7
_MOVE_SEED = 20240101
# Safety net of the fixed point: more rounds than this means a bug, not a hard table.
_MAX_ROUNDS = 10_000


# ---------------------------------------------------------------------------- settings
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
        _check_options(self.level, self.threshold, self.rounding_base)

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
        """Keyword arguments of :func:`apply_disclosure` (``level``, ``threshold``, ``rounding_base``)."""
        return {"level": self.level, "threshold": self.threshold, "rounding_base": self.rounding_base}

    def statement(self, *, lang: str = "fr") -> str:
        """The rule in one sentence (see :func:`disclosure_statement`)."""
        return disclosure_statement(self.level, threshold=self.threshold, rounding_base=self.rounding_base, lang=lang)

    def to_dict(self) -> dict[str, Any]:
        """Plain-Python form (for manifests)."""
        return self.options()


def _check_options(level: str, threshold: int, rounding_base: int) -> None:
    if level not in LEVELS:
        raise ValueError(f"disclosure level must be one of {', '.join(LEVELS)}, not {level!r}")
    if isinstance(threshold, bool) or not isinstance(threshold, (int, np.integer)) or threshold < 1:
        raise ValueError(f"disclosure threshold must be an integer ≥ 1, not {threshold!r}")
    if isinstance(rounding_base, bool) or not isinstance(rounding_base, (int, np.integer)) or rounding_base < 1:
        raise ValueError(f"rounding base must be an integer ≥ 1, not {rounding_base!r}")


# ---------------------------------------------------------------------------- statement
def disclosure_statement(level: str = "public", *, threshold: int = 5, rounding_base: int = 5, lang: str = "fr") -> str:
    """The disclosure rule in one sentence, as the snapshot prints it.

    Parameters
    ----------
    level : {"public", "internal"}
    threshold, rounding_base : int, keyword-only
        As given to :func:`apply_disclosure`.
    lang : {"fr", "en"}, keyword-only

    Returns
    -------
    str
    """
    _check_options(level, threshold, rounding_base)
    if lang not in {"fr", "en"}:
        raise ValueError(f"lang must be 'fr' or 'en', not {lang!r}")
    fr = lang == "fr"
    small = threshold - 1
    if small < 1:
        suppression = "aucun effectif n'est supprimé" if fr else "no count is suppressed"
    else:
        if fr:
            counts = "les effectifs égaux à 1" if small == 1 else f"les effectifs de 1 à {small}"
            suppression = (
                f"{counts} sont supprimés, de même que les cellules qui permettraient de les retrouver "
                "par soustraction"
            )
        else:
            counts = "counts of 1" if small == 1 else f"counts from 1 to {small}"
            suppression = f"{counts} are suppressed, as are the cells from which they could be recovered by subtraction"
    if level == "internal" or rounding_base == 1:
        rounding = "les effectifs ne sont pas arrondis" if fr else "counts are not rounded"
    elif fr:
        rounding = (
            f"les effectifs publiés sont arrondis au multiple de {rounding_base} le plus proche et les taux "
            "sont calculés à partir des effectifs arrondis"
        )
    else:
        rounding = (
            f"published counts are rounded to the nearest multiple of {rounding_base} and rates are computed "
            "from the rounded counts"
        )
    if fr:
        internal = " (version interne, équipe de recherche)" if level == "internal" else ""
        head = f"Contrôle de la divulgation{internal}"
        return f"{head} : {suppression} ; {rounding}."
    head = "Disclosure control" + (" (internal version, research team)" if level == "internal" else "")
    return f"{head}: {suppression}; {rounding}."


# ---------------------------------------------------------------------------- rounding
def round_half_up(values: Any, base: int) -> np.ndarray:
    """Round to the nearest multiple of ``base``, ties away from zero's floor (12.5 → 15 for base 5).

    Parameters
    ----------
    values : array-like of float
        Missing values stay missing.
    base : int

    Returns
    -------
    ndarray of float

    Notes
    -----
    .. math:: r(x) = b \\left\\lfloor \\frac{x}{b} + \\frac{1}{2} \\right\\rfloor

    NumPy's ``round`` sends ties to the even multiple (12.5 → 10), which would bias sums of many
    small counts; this does not.
    """
    x = np.asarray(values, dtype="float64")
    if base == 1:
        return np.floor(x + 0.5)
    return np.floor(x / base + 0.5) * base


# ---------------------------------------------------------------------------- main entry
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
       recoverable when no move :math:`z` with :math:`Az = 0` changes it (:func:`_null_moves`);
       for each such quantity one more published cell is hidden, from its own groups or, when
       they hide everything already, from the nearest groups beyond (deepest cells first).

    At the fixed point, for every hidden cell, its count (``n`` for means, points and days;
    for a share :math:`k`, :math:`m` and :math:`m − k`) and every hidden quantity from 1 to
    :math:`t − 1` can take more than one value given the published cells; the exact check
    works on equalities, and because every unknown is non-zero (so positive), a small move
    along :math:`z` keeps them all ≥ 0: the bounds do not pin anything either.

    **Rounding** (public): :math:`r(x) = b\\lfloor x/b + 1/2\\rfloor` of numerator, denominator
    and n; a share's value is :math:`r(k)/r(m)` (missing when :math:`r(m) = 0`, or when the
    table lacks :math:`k` or :math:`m`) with the Wilson interval of :math:`(r(k), r(m))`. A
    count's interval (it comes from the exact count) is not published. At both levels, the
    numerator and denominator of a mean, points or days row are withheld: only its n is
    checked, and numerator / value would give n exactly.
    """
    _check_options(level, threshold, rounding_base)
    missing = [column for column in INDICATOR_COLUMNS if column not in table.columns]
    if missing:
        raise ValueError(f"indicator table lacks column(s) {', '.join(missing)}")
    frame = table[INDICATOR_COLUMNS].copy(deep=True)
    frame = frame.astype({c: d for c, d in INDICATOR_DTYPES.items() if "datetime" not in d})
    _check_aggregate(frame)
    if codebook is None:
        from proximite.cohort.codebook import load_codebook

        codebook = load_codebook()

    rows = len(frame)
    suppressed = np.zeros(rows, dtype=bool)
    reason = np.full(rows, "", dtype=object)
    specs = {indicator: codebook.indicator(indicator) for indicator in pd.unique(frame["indicator"].astype(object))}
    people = frame["indicator"].map(lambda i: bool(specs[i].get("people"))).to_numpy(dtype=bool)
    unit = frame["indicator"].map(lambda i: str(specs[i].get("unit"))).to_numpy(dtype=object)
    additive = frame["indicator"].map(lambda i: bool(specs[i].get("additive"))).to_numpy(dtype=bool)

    positions = np.flatnonzero(people)
    if len(positions):
        cells = _Cells(frame.iloc[positions], unit[positions], additive[positions], threshold=threshold)
        cells.build_groups(territory)
        cells.protect()
        suppressed[positions] = cells.suppressed
        reason[positions] = np.where(cells.primary, PRIMARY, np.where(cells.suppressed, COMPLEMENTARY, ""))

    out = frame
    if level == "public":
        out = _round(out, people & ~suppressed, unit, rounding_base, confidence)
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
    return out[DISCLOSURE_COLUMNS]


def _check_aggregate(frame: pd.DataFrame) -> None:
    """Refuse a table that holds anything but aggregates (DESIGN rule 8: no row-level data)."""
    scopes = set(frame["scope"].dropna().astype(str))
    if scopes - set(SCOPES):
        raise ValueError(
            f"rows of scope(s) {sorted(scopes - set(SCOPES))} are not aggregates; allowed: {', '.join(SCOPES)}"
        )
    for column in _LABEL_COLUMNS:
        values = pd.unique(frame[column].dropna().astype(str))
        if any(_PSEUDONYM.match(value) for value in values):
            raise ValueError(f"column {column} holds a value that looks like a pseudonymous id: not an aggregate table")


def _round(frame: pd.DataFrame, published: np.ndarray, unit: np.ndarray, base: int, confidence: float) -> pd.DataFrame:
    """Public rounding of the published people rows (a new frame)."""
    out = frame.copy()
    numerator = out["numerator"].to_numpy(dtype="float64", na_value=np.nan)
    denominator = out["denominator"].to_numpy(dtype="float64", na_value=np.nan)
    value = out["value"].to_numpy(dtype="float64", na_value=np.nan)
    ci_low = out["ci_low"].to_numpy(dtype="float64", na_value=np.nan)
    ci_high = out["ci_high"].to_numpy(dtype="float64", na_value=np.nan)
    n = out["n"].to_numpy(dtype="float64", na_value=np.nan)

    count = published & (unit == "count")
    share = published & (unit == "share")
    rounded_numerator = round_half_up(numerator, base)
    rounded_denominator = round_half_up(denominator, base)

    numerator = np.where(count | share, rounded_numerator, numerator)
    denominator = np.where(count | share, rounded_denominator, denominator)
    value = np.where(count, np.where(np.isnan(rounded_numerator), round_half_up(value, base), rounded_numerator), value)
    # A count's interval comes from the exact count, so it would give the count away.
    ci_low = np.where(count, np.nan, ci_low)
    ci_high = np.where(count, np.nan, ci_high)

    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(rounded_denominator > 0, rounded_numerator / rounded_denominator, np.nan)
    low, high = wilson_interval(
        np.nan_to_num(rounded_numerator), np.nan_to_num(rounded_denominator), confidence=confidence
    )
    # A share without both counts cannot be recomputed from rounded counts: not published.
    has_counts = ~np.isnan(rounded_numerator) & ~np.isnan(rounded_denominator)
    value = np.where(share, np.where(has_counts, rate, np.nan), value)
    ci_low = np.where(share, np.where(has_counts, low, np.nan), ci_low)
    ci_high = np.where(share, np.where(has_counts, high, np.nan), ci_high)

    n = np.where(published, round_half_up(n, base), n)

    out["numerator"] = numerator
    out["denominator"] = denominator
    out["value"] = value
    out["ci_low"] = ci_low
    out["ci_high"] = ci_high
    out["n"] = pd.Series(n, index=out.index).round().astype("Int64")
    return out


# ---------------------------------------------------------------------------- the cells
def _labels(series: pd.Series) -> np.ndarray:
    return series.astype("string").fillna(_NA_LABEL).to_numpy(dtype=object)


class _Cells:
    """The people rows of a table: their quantities, additive groups and suppression state."""

    def __init__(self, frame: pd.DataFrame, unit: np.ndarray, additive: np.ndarray, *, threshold: int) -> None:
        self.frame = frame
        self.m = len(frame)
        self.threshold = threshold
        self.additive_indicator = additive
        numerator = frame["numerator"].to_numpy(dtype="float64", na_value=np.nan)
        denominator = frame["denominator"].to_numpy(dtype="float64", na_value=np.nan)
        value = frame["value"].to_numpy(dtype="float64", na_value=np.nan)
        n = frame["n"].to_numpy(dtype="float64", na_value=np.nan)
        count = unit == "count"
        share = unit == "share"
        # A count's count is its numerator (its value when the numerator is missing).
        numerator = np.where(count & np.isnan(numerator), value, numerator)
        self.q = np.vstack([numerator, denominator, n])
        # Which quantity must stay hidden in every suppressed cell.
        self.main_q = np.where(count | share, _NUM, _N)
        self.main = self.q[self.main_q, np.arange(self.m)]
        complement = np.where(share, denominator - numerator, np.nan)
        self.share = share
        self.complement = complement

        t = threshold
        small = (self.q > 0) & (self.q < t)
        primary = small[_N].copy()
        primary |= (count | share) & small[_NUM]
        primary |= share & (small[_DEN] | ((complement > 0) & (complement < t)))
        self.primary = primary
        self.suppressed = primary.copy()
        self.level = frame["scope"].map({scope: rank for rank, scope in enumerate(SCOPES)}).to_numpy(dtype="int64")
        # Hidden cells as of the last exact check.
        self._checked = np.zeros(self.m, dtype=bool)
        with np.errstate(invalid="ignore"):
            # A complementary cell is best with every quantity positive (no zero to pin it).
            positive = np.where(np.isnan(self.q), True, self.q > 0).all(axis=0)
            self.all_positive = positive & np.where(share, ~(complement <= 0), True)

    # ------------------------------------------------------------------ groups
    def build_groups(self, territory: pd.DataFrame | None) -> None:
        """Find every additive group ``parent = Σ children`` among the cells."""
        f = self.frame
        labels = {c: _labels(f[c]) for c in ("indicator", "wave", "period", "scope", "scope_id", "stratum",
                                             "stratum_value", "breakdown", "breakdown_value")}
        scope = labels["scope"]
        territory_rows = (scope == "territory") & (labels["stratum"] == ALL)
        # A territory's parent is its region, or Québec itself when the table has no region rows.
        above = "region" if (scope == "region").any() else "quebec"
        strata = sorted(set(labels["stratum"][scope == above]) - {ALL})
        has_parent = bool((scope == above).any())

        region_of = attributes = None
        if territory_rows.any() and has_parent and (above == "region" or strata):
            if territory is None:
                raise ValueError(
                    f"the table holds territory and {above} rows: pass territory= (the harmonised territory table) so "
                    "that complementary suppression knows each territory's region and strata"
                )
            needed = ["territory_id", "region_code", *strata]
            absent = [c for c in needed if c not in territory.columns]
            if absent:
                raise ValueError(f"territory table lacks column(s) {', '.join(absent)}")
            lookup = territory[needed].astype("string").drop_duplicates("territory_id")
            known = pd.Index(lookup["territory_id"].to_numpy(dtype=object))
            where = known.get_indexer(labels["scope_id"][territory_rows])
            if (where < 0).any():
                unknown = sorted(set(labels["scope_id"][territory_rows][where < 0]))
                raise ValueError(
                    f"territory table lacks {len(unknown)} territory id(s) of the table, e.g. {unknown[:3]}"
                )
            region_of = lookup["region_code"].fillna(_NA_LABEL).to_numpy(dtype=object)[where]
            attributes = {s: lookup[s].fillna(_NA_LABEL).to_numpy(dtype=object)[where] for s in strata}

        extras = {
            "scope": list(SCOPES),
            "scope_id": [QUEBEC] + ([] if region_of is None else list(pd.unique(region_of))),
            "stratum": [ALL],
            "stratum_value": [ALL] + sorted({str(v) for values in (attributes or {}).values() for v in values}),
            "breakdown": [ALL],
            "breakdown_value": [ALL],
        }
        keyer = _Keyer(labels, extras)
        codes = keyer.codes
        self.slice_of_row = codes["slice"]
        if not keyer.index.is_unique:
            raise ValueError(
                "two rows of the table describe the same cell (indicator, wave, period, scope, stratum, breakdown)"
            )

        rows = np.arange(self.m)
        children: list[np.ndarray] = []
        parents: list[np.ndarray] = []
        kinds: list[np.ndarray] = []
        subs: list[np.ndarray] = []

        def add(selection: np.ndarray, parent: np.ndarray, kind: int, sub: np.ndarray | int) -> None:
            found = parent >= 0
            children.append(rows[selection][found])
            parents.append(parent[found])
            kinds.append(np.full(int(found.sum()), kind))
            subs.append(np.full(int(found.sum()), sub) if np.isscalar(sub) else np.asarray(sub)[found])

        code = keyer.code
        # (a) Québec ← regions, within each stratum value.
        sel = scope == "region"
        parent = keyer.find(codes["slice"][sel], code("scope", "quebec"), code("scope_id", QUEBEC),
                            codes["stratum"][sel], codes["stratum_value"][sel], codes["breakdown"][sel],
                            codes["breakdown_value"][sel])
        add(sel, parent, _GEO, 0)
        # (b) a region ← its territories; region/stratum value ← its territories with that value
        # (Québec and Québec/stratum value when the table has no region rows).
        if territory_rows.any() and has_parent:
            sel = territory_rows
            if above == "region":
                parent_ids: np.ndarray | int = keyer.encode("scope_id", region_of)  # type: ignore[arg-type]
            else:
                parent_ids = code("scope_id", QUEBEC)
            for stratum in [ALL, *strata]:
                if stratum == ALL:
                    value_codes: np.ndarray | int = code("stratum_value", ALL)
                else:
                    value_codes = keyer.encode("stratum_value", attributes[stratum])  # type: ignore[index]
                parent = keyer.find(codes["slice"][sel], code("scope", above), parent_ids, code("stratum", stratum),
                                    value_codes, codes["breakdown"][sel], codes["breakdown_value"][sel])
                add(sel, parent, _GEO, 0)
        # (c) a scope's stratum "all" ← the values of each stratum.
        sel = labels["stratum"] != ALL
        add(sel, keyer.find(codes["slice"][sel], codes["scope"][sel], codes["scope_id"][sel], code("stratum", ALL),
                            code("stratum_value", ALL), codes["breakdown"][sel], codes["breakdown_value"][sel]),
            _STRATUM, codes["stratum"][sel])
        # (d) breakdown "all" ← its values.
        sel = labels["breakdown"] != ALL
        add(sel, keyer.find(codes["slice"][sel], codes["scope"][sel], codes["scope_id"][sel], codes["stratum"][sel],
                            codes["stratum_value"][sel], code("breakdown", ALL), code("breakdown_value", ALL)),
            _BREAKDOWN, codes["breakdown"][sel])

        child = np.concatenate(children)
        parent = np.concatenate(parents)
        kind = np.concatenate(kinds)
        sub = np.concatenate(subs).astype("int64")
        width = int(sub.max()) + 1 if len(sub) else 1
        key = (parent.astype("int64") * 3 + kind) * width + sub
        group_of_child, unique_keys = pd.factorize(key)
        group_parent = (np.asarray(unique_keys) // (3 * width)).astype("int64")
        self.G = len(group_parent)
        self.group_parent = group_parent
        # Memberships: children (role 1) then the parent of each group (role 0).
        self.mrow = np.concatenate([child, group_parent]).astype("int64")
        self.mgid = np.concatenate([group_of_child, np.arange(self.G)]).astype("int64")
        self.mrole = np.concatenate([np.ones(len(child), dtype="int64"), np.zeros(self.G, dtype="int64")])
        # Memberships by group and by row (CSR-like: positions, and where each group / row starts).
        self.by_group = np.argsort(self.mgid, kind="stable")
        self.group_starts = np.searchsorted(self.mgid[self.by_group], np.arange(self.G + 1))
        self.by_row = np.argsort(self.mrow, kind="stable")
        self.row_starts = np.searchsorted(self.mrow[self.by_row], np.arange(self.m + 1))
        self._additivity()
        # Hidden non-zero values of each quantity per group (and of a share's m − k, which adds up
        # where k and m do), kept up to date by _suppress.
        self.q4 = np.vstack([self.q, self.complement])
        self.additive4 = np.vstack([self.additive, self.additive[_NUM] & self.additive[_DEN]])
        self.nonzero = np.nan_to_num(self.q4) != 0
        self.hidden_count = np.zeros((4, self.G))
        self.hidden_any = np.zeros(self.G)
        hidden_now = np.flatnonzero(self.suppressed)
        self.suppressed[:] = False
        self._suppress(hidden_now)

    def _additivity(self) -> None:
        """Which groups are equations for which quantity: catalogue says so and the numbers agree."""
        G = self.G
        gate = np.vstack([self.additive_indicator, self.additive_indicator, np.ones(self.m, dtype=bool)])
        self.additive = np.zeros((3, G), dtype=bool)
        if G == 0:
            self.active = np.zeros(0, dtype=bool)
            self.n_repeats = np.zeros(0, dtype=bool)
            return
        is_child = self.mrole == 1
        for q in range(3):
            values = self.q[q, self.mrow]
            has_nan = np.bincount(self.mgid, weights=np.isnan(values), minlength=G) > 0
            negative = np.bincount(self.mgid, weights=np.nan_to_num(values) < 0, minlength=G) > 0
            children_sum = np.bincount(self.mgid[is_child], weights=np.nan_to_num(values[is_child]), minlength=G)
            parent_value = self.q[q, self.group_parent]
            tolerance = 1e-9 * np.maximum(1.0, np.abs(np.nan_to_num(parent_value)))
            with np.errstate(invalid="ignore"):
                exact = np.abs(children_sum - parent_value) <= tolerance
                at_most = children_sum <= parent_value + tolerance
            self.additive[q] = gate[q, self.group_parent] & ~has_nan & np.where(negative, exact, at_most)
        self.active = self.additive.any(axis=0)
        # Groups whose n repeats, member by member, the count or the share's denominator.
        twin = np.where(self.main_q == _NUM, np.where(self.share, self.q[_DEN], self.q[_NUM]), np.nan)
        with np.errstate(invalid="ignore"):
            differs = ~(twin == self.q[_N])[self.mrow]
        twin_quantity = np.where(self.share, _DEN, _NUM)[self.group_parent]
        self.n_repeats = (np.bincount(self.mgid, weights=differs, minlength=G) == 0) & self.additive[
            twin_quantity, np.arange(G)]

    # ------------------------------------------------------------------ protection
    def protect(self) -> None:
        """Complementary suppression to a fixed point (group rule, then the exact check)."""
        if self.G == 0:
            return
        for _ in range(_MAX_ROUNDS):
            self._group_rule()
            leaks = self._recoverable()
            if not leaks:
                return
            if not self._repair(leaks):
                raise RuntimeError("disclosure control could not protect every suppressed cell")  # pragma: no cover
        raise RuntimeError("disclosure control did not reach a fixed point")  # pragma: no cover

    def _suppress(self, rows: np.ndarray) -> None:
        rows = np.unique(rows)
        rows = rows[~self.suppressed[rows]]
        self.suppressed[rows] = True
        if self.G == 0 or not len(rows):
            return
        memberships = self.by_row[_ranges(self.row_starts, rows)]
        groups, members = self.mgid[memberships], self.mrow[memberships]
        for quantity in range(4):
            np.add.at(self.hidden_count[quantity], groups, self.nonzero[quantity, members])
        np.add.at(self.hidden_any, groups, 1.0)

    def _group_rule(self) -> None:
        """No group may hide exactly one non-zero value of a quantity it adds up: add a published member.

        The quantities: numerator, denominator, n, and a share's m − k.

        Among the group's published members with that quantity positive: children before the
        parent, then the one in the most groups in need, then all quantities positive, then the
        smallest. Repeated until no group is in need (or none can be helped).
        """
        G = self.G
        stuck = np.zeros((4, G), dtype=bool)
        for _ in range(_MAX_ROUNDS):
            needy = self.additive4 & (self.hidden_count == 1) & ~stuck
            if not needy.any():
                return
            any_needy = np.flatnonzero(needy.any(axis=0))
            memberships = self.by_group[_ranges(self.group_starts, any_needy)]
            rows, groups = self.mrow[memberships], self.mgid[memberships]
            coverage = np.bincount(rows, minlength=self.m)
            published = ~self.suppressed[rows]
            picks = []
            for quantity in range(4):
                if not needy[quantity].any():
                    continue
                with np.errstate(invalid="ignore"):
                    candidates = np.flatnonzero(needy[quantity, groups] & published & (self.q4[quantity, rows] > 0))
                r = rows[candidates]
                main = np.where(self.main[r] > 0, self.main[r], np.inf)
                order = np.lexsort((r, main, ~self.all_positive[r], -coverage[r], -self.mrole[memberships[candidates]],
                                    groups[candidates]))
                candidates = candidates[order]
                g = groups[candidates]
                first = np.r_[True, g[1:] != g[:-1]] if len(g) else np.zeros(0, dtype=bool)
                served = np.zeros(G, dtype=bool)
                served[g[first]] = True
                stuck[quantity] |= needy[quantity] & ~served
                picks.append(rows[candidates[first]])
            self._suppress(self._fewest(np.concatenate(picks), needy.any(axis=0), coverage))
        raise RuntimeError("complementary suppression did not converge")  # pragma: no cover

    def _fewest(self, picks: np.ndarray, needy: np.ndarray, coverage: np.ndarray) -> np.ndarray:
        """Drop the picks whose groups another pick already serves (greedy, most groups first).

        Each group in need chose its own candidate; a candidate that sits in several of these
        groups serves them all, so the others' choices would hide cells for nothing.
        """
        picks = np.unique(picks)
        if len(picks) < 2:
            return picks
        picks = picks[np.lexsort((picks, -coverage[picks]))]
        served = np.zeros(self.G, dtype=bool)
        kept = []
        for row in picks:
            groups = self.mgid[self.by_row[self.row_starts[row]:self.row_starts[row + 1]]]
            groups = groups[needy[groups]]
            if len(groups) and served[groups].all():
                continue
            served[groups] = True
            kept.append(row)
        return np.asarray(kept, dtype="int64")

    def _recoverable(self) -> list[tuple[int, int]]:
        """Hidden quantities the published cells pin down: ``(row, quantity)``.

        Unknowns are the hidden quantities that are not 0. A hidden 0 is treated as known: it can
        only grow, so it may block every move of its neighbours (the attacker's bound ≥ 0), and a
        share hidden with numerator = denominator ties the two (k ≤ m). What is left is a linear
        system in which a small move along any null-space direction stays feasible, so an unknown
        is safe exactly when some null-space direction moves it.
        """
        m, G = self.m, self.G
        q = self.q
        # Only what changed since the last check needs a new one: first the slices (indicator,
        # wave, period: no equation crosses them), then the connected sets of unknowns.
        dirty_rows = self.suppressed & ~self._checked
        self._checked = self.suppressed.copy()
        dirty_slices = np.zeros(int(self.slice_of_row.max(initial=0)) + 1, dtype=bool)
        dirty_slices[self.slice_of_row[dirty_rows]] = True
        in_play = self.suppressed & dirty_slices[self.slice_of_row]
        with np.errstate(invalid="ignore"):
            unknown = in_play[None, :] & ~np.isnan(q) & (q != 0)
            required = (q > 0) & (q < self.threshold)
            required[self.main_q, np.arange(m)] |= self.main > 0
            # A share: its numerator, denominator and denominator − numerator all stay hidden.
            required[_DEN] |= self.share & (q[_DEN] > 0)
            complement_required = in_play & self.share & (self.complement > 0)
        required &= unknown

        # Equations: (quantity, group) for additive groups, with their hidden non-zero members. An
        # n equal to the count (or to the share's denominator) in every member of a group gives
        # the same equation again: left out (its unknowns stand or fall with the count's).
        equations = self.additive.copy()
        equations[_N] &= ~self.n_repeats
        eq, var, coef = [], [], []
        for quantity in range(3):
            keep = unknown[quantity, self.mrow] & equations[quantity, self.mgid]
            eq.append(quantity * G + self.mgid[keep])
            var.append(quantity * m + self.mrow[keep])
            coef.append(np.where(self.mrole[keep] == 0, 1.0, -1.0))
        with np.errstate(invalid="ignore"):
            tied = np.flatnonzero(unknown[_NUM] & unknown[_DEN] & (q[_NUM] == q[_DEN]))
        if len(tied):  # k = m: one more equation k − m = 0 per such share
            ids = 3 * G + np.arange(len(tied))
            eq += [ids, ids]
            var += [_NUM * m + tied, _DEN * m + tied]
            coef += [np.ones(len(tied)), -np.ones(len(tied))]
        eq_a, var_a, coef_a = np.concatenate(eq), np.concatenate(var), np.concatenate(coef)
        if not len(eq_a):
            return []
        eq_i, eq_codes = _factorize(eq_a)
        var_i, var_codes = _factorize(var_a)
        graph = sparse.coo_matrix((np.ones(len(eq_i)), (var_i, len(var_codes) + eq_i)),
                                  shape=(len(var_codes) + len(eq_codes),) * 2)
        _, label = connected_components(graph, directed=False)
        dirty = np.zeros(label.max() + 1, dtype=bool)
        dirty[label[: len(var_codes)][dirty_rows[var_codes % m]]] = True
        keep = dirty[label[var_i]]
        eq_a, var_a, coef_a = eq_a[keep], var_a[keep], coef_a[keep]
        if not len(eq_a):
            return []
        eq_i, eq_codes = _factorize(eq_a)
        var_i, var_codes = _factorize(var_a)
        nv = len(var_codes)
        var_quantity, var_row = np.divmod(var_codes, m)
        moves = _null_moves(eq_i, var_i, coef_a, len(eq_codes), nv)
        movable = np.abs(moves) > _MOVE_TOLERANCE

        # An unknown that no move changes is pinned down.
        pinned_var = required[var_quantity, var_row] & ~movable.any(axis=1)
        leaks = [(int(var_row[v]), int(var_quantity[v])) for v in np.flatnonzero(pinned_var)]
        # Denominator − numerator: e_m − e_k (e_m alone when k is a known 0; nothing when m is).
        rows = np.flatnonzero(complement_required)
        den = _position(var_codes, _DEN * m + rows)
        num = _position(var_codes, _NUM * m + rows)
        # Skipped: m free or a known 0; k hidden, non-zero and in no equation (then k is free).
        keep = (den >= 0) & ~(unknown[_NUM, rows] & (num < 0))
        rows, den, num = rows[keep], den[keep], num[keep]
        change = moves[den] - np.where((num >= 0)[:, None], moves[np.maximum(num, 0)], 0.0)
        leaks += [(int(row), _COMPLEMENT) for row in rows[~(np.abs(change) > _MOVE_TOLERANCE).any(axis=1)]]
        return leaks

    def _repair(self, leaks: list[tuple[int, int]]) -> bool:
        """Hide one more published cell for each pinned quantity, as close to it as possible.

        The candidates are the published members of the pinned cell's groups; when all are hidden,
        those of the groups of the hidden members, and so on outwards (breadth first).
        """
        by_group, group_starts, by_row, row_starts = self.by_group, self.group_starts, self.by_row, self.row_starts
        if_complement = self.additive[_NUM] | self.additive[_DEN]
        # A candidate whose other groups already hide something closes a loop at once instead of
        # needing partners of its own: prefer the ones with most such groups.
        self._connected = np.bincount(self.mrow, weights=(self.hidden_any > 0)[self.mgid] & self.active[self.mgid],
                                      minlength=self.m)

        def groups_of(row: int, quantity: int) -> np.ndarray:
            mine = self.mgid[by_row[row_starts[row]:row_starts[row + 1]]]
            return mine[if_complement[mine] if quantity == _COMPLEMENT else self.additive[quantity, mine]]

        chosen = np.zeros(self.m, dtype=bool)
        stranded: list[int] = []
        # Deepest cells first (territories, then regions, then Québec): a parent is often pinned
        # only because its children are, and then repairing the children frees it too.
        level = self.level
        for cell, quantity in sorted(leaks, key=lambda leak: (-level[leak[0]], leak)):
            seen_groups: set[int] = set()
            seen_rows = {cell}
            frontier = [int(g) for g in groups_of(cell, quantity)]
            while frontier:
                seen_groups.update(frontier)
                members = np.unique(np.concatenate(
                    [self.mrow[by_group[group_starts[g]:group_starts[g + 1]]] for g in frontier]))
                pick = self._best_candidate(members, quantity, exclude=chosen)
                if pick is not None:
                    chosen[pick] = True
                    break
                hidden = [int(r) for r in members if int(r) not in seen_rows]
                seen_rows.update(hidden)
                frontier = sorted({int(g) for r in hidden for g in groups_of(r, quantity)} - seen_groups)
            else:
                stranded.append(cell)
        if stranded:
            # Nothing published is left around the cell (possible only when a group's children
            # fall short of their parent): hide every non-zero cell of its slice.
            slices = np.unique(self.slice_of_row[stranded])
            chosen |= np.isin(self.slice_of_row, slices) & self.nonzero.any(axis=0) & ~self.suppressed
        if not chosen.any():
            return False
        self._suppress(np.flatnonzero(chosen))
        return True

    def _best_candidate(self, rows: np.ndarray, quantity: int, *, exclude: np.ndarray) -> int | None:
        """The published row with the quantity positive: all quantities positive first, then smallest.

        A row already chosen this round counts as hidden (so two leaks of a group share it).
        """
        amount = self.complement[rows] if quantity == _COMPLEMENT else self.q[quantity, rows]
        with np.errstate(invalid="ignore"):
            ok = ~self.suppressed[rows] & (amount > 0)
        taken = exclude[rows] & ok
        if taken.any():
            return int(rows[taken][0])
        rows = rows[ok]
        if not len(rows):
            return None
        main = np.where(self.main[rows] > 0, self.main[rows], np.inf)
        return int(rows[np.lexsort((rows, main, ~self.all_positive[rows], -self._connected[rows]))[0]])


def _factorize(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Codes and sorted uniques (``np.unique(return_inverse=True)`` by hashing, faster on big arrays)."""
    codes, uniques = pd.factorize(values, sort=True)
    return codes.astype("int64"), np.asarray(uniques)


def _ranges(starts: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Concatenation of ``arange(starts[k], starts[k + 1])`` for each k in ``keys`` (vectorised)."""
    begin, end = starts[keys], starts[keys + 1]
    lengths = end - begin
    total = int(lengths.sum())
    if not total:
        return np.zeros(0, dtype="int64")
    offsets = np.repeat(begin - np.cumsum(np.r_[0, lengths[:-1]]), lengths)
    return np.arange(total, dtype="int64") + offsets


def _position(sorted_codes: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Index of each code in ``sorted_codes`` (−1 when absent)."""
    if not len(sorted_codes):
        return np.full(len(codes), -1)
    where = np.minimum(np.searchsorted(sorted_codes, codes), len(sorted_codes) - 1)
    found = sorted_codes[where] == codes
    return np.where(found, where, -1)


def _null_moves(eq: np.ndarray, var: np.ndarray, coefficient: np.ndarray, lines: int, columns: int) -> np.ndarray:
    """A random move of the unknowns that keeps every equation (columns × 1).

    Notes
    -----
    A move :math:`z` keeps the equations when :math:`Az = 0`. The orthogonal projection of a
    random :math:`r` on the null space, :math:`z = r - A^\\top y` with
    :math:`y = \\arg\\min \\lVert A^\\top y - r \\rVert` (conjugate gradients on the sparse
    system, :func:`_cgls`), is almost surely non-zero on every coordinate that some move
    changes, and 0 on the others; likewise for any linear function :math:`f^\\top z`. The
    random seed is fixed, so the same table gives the same output. The projection is repeated
    while :math:`\\lVert Az \\rVert_\\infty > 10^{-10}`; after three passes each connected set
    of unknowns is solved exactly instead (Gauss–Jordan, :func:`_null_space`).
    """
    rng = np.random.default_rng(_MOVE_SEED)
    # Unit-length equations: the same null space and projection, in about half the iterations.
    row_norms = np.sqrt(np.bincount(eq, weights=coefficient**2, minlength=lines))
    matrix = sparse.csr_matrix((coefficient / row_norms[eq], (eq, var)), shape=(lines, columns))
    transposed = matrix.T.tocsr()
    move = rng.standard_normal(columns)
    for _ in range(3):  # a further pass removes what the previous one left in the row space
        move = _cgls(matrix, transposed, move, maxiter=max(1000, 4 * columns))
        if np.abs(matrix @ move).max(initial=0.0) <= 1e-10:
            return move[:, None]
    # Exact fallback, one connected set at a time.
    graph = sparse.coo_matrix((np.ones(len(eq)), (var, columns + eq)), shape=(columns + lines,) * 2)
    _, label = connected_components(graph, directed=False)
    moves = np.zeros((columns, 1))
    order = np.argsort(label[var], kind="stable")
    eq, var, coefficient = eq[order], var[order], coefficient[order]
    component = label[var]
    bounds = np.flatnonzero(np.r_[True, component[1:] != component[:-1], True])
    for begin, end in pairwise(bounds):
        variables = np.unique(var[begin:end])
        equations, line = np.unique(eq[begin:end], return_inverse=True)
        column = np.searchsorted(variables, var[begin:end])
        basis = _null_space(line, column, coefficient[begin:end], len(equations), len(variables))
        moves[variables] = basis @ rng.standard_normal((basis.shape[1], 1))
    return moves


def _cgls(matrix: sparse.csr_matrix, transposed: sparse.csr_matrix, start: np.ndarray, *, maxiter: int) -> np.ndarray:
    """The residual :math:`z = r - A^\\top y` of :math:`\\min_y \\lVert A^\\top y - r \\rVert` (CGLS).

    Notes
    -----
    Conjugate gradients on the normal equations :math:`AA^\\top y = Ar` (Hestenes–Stiefel
    CGLS), stopped when :math:`\\lVert Az \\rVert_\\infty \\le 10^{-12}`. Inner products are
    plain NumPy sums, not BLAS: on a busy machine a threaded BLAS spends more time waiting
    than computing on vectors of this size.
    """
    z = start.copy()
    s = matrix @ z
    p = s.copy()
    gamma = float((s * s).sum())
    for _ in range(maxiter):
        if np.abs(s).max(initial=0.0) <= 1e-12:
            break
        q = transposed @ p
        alpha = gamma / float((q * q).sum())
        z -= alpha * q
        s = matrix @ z
        gamma_next = float((s * s).sum())
        p = s + (gamma_next / gamma) * p
        gamma = gamma_next
    return z


def _null_space(line: np.ndarray, column: np.ndarray, coefficient: np.ndarray, lines: int, columns: int) -> np.ndarray:
    """A basis (unknowns × dimension) of the moves of the unknowns that keep every equation.

    Notes
    -----
    Gauss–Jordan elimination with partial pivoting of :math:`A` (the equations restricted to
    the unknowns: parent +1, children −1) gives :math:`R = \\mathrm{rref}(A)`; each free column
    :math:`c` yields the null vector :math:`v` with :math:`v_c = 1`, :math:`v_{p(r)} = -R_{rc}`
    at the pivot of row :math:`r`, 0 elsewhere. A linear function :math:`f^\\top x` of the unknowns
    is pinned down by the published cells exactly when :math:`N^\\top f = 0`. (Plain NumPy
    rather than LAPACK: the systems are small and many, and threaded BLAS only adds overhead.)
    """
    a = np.zeros((lines, columns))
    np.add.at(a, (line, column), coefficient)
    pivots: list[int] = []
    r = 0
    for c in range(columns):
        if r == lines:
            break
        p = r + int(np.argmax(np.abs(a[r:, c])))
        if abs(a[p, c]) < 1e-9:
            continue
        if p != r:
            a[[r, p]] = a[[p, r]]
        a[r] /= a[r, c]
        factors = a[:, c].copy()
        factors[r] = 0.0
        nonzero = np.flatnonzero(factors)
        if len(nonzero):
            a[nonzero] -= factors[nonzero, None] * a[r]
        pivots.append(c)
        r += 1
    free = np.setdiff1d(np.arange(columns), pivots)
    basis = np.zeros((columns, len(free)))
    basis[free, np.arange(len(free))] = 1.0
    if pivots:
        basis[pivots] = -a[: len(pivots)][:, free]
    return basis


class _Keyer:
    """Integer codes of the cells' keys, so a parent cell is found with one index lookup."""

    _COLUMNS = ("slice", "scope", "scope_id", "stratum", "stratum_value", "breakdown", "breakdown_value")

    def __init__(self, labels: Mapping[str, np.ndarray], extras: Mapping[str, list[str]]) -> None:
        slice_key = pd.MultiIndex.from_arrays([labels["indicator"], labels["wave"], labels["period"]])
        slice_codes, _ = pd.factorize(slice_key)
        slices = int(slice_codes.max()) + 1 if len(slice_codes) else 1
        self.categories: dict[str, pd.Index] = {"slice": pd.RangeIndex(slices)}
        self.codes: dict[str, np.ndarray] = {"slice": slice_codes.astype("int64")}
        for column in self._COLUMNS[1:]:
            values = np.concatenate([labels[column], np.asarray(extras.get(column, []), dtype=object)])
            categories = pd.Index(pd.unique(values))
            self.categories[column] = categories
            self.codes[column] = categories.get_indexer(labels[column]).astype("int64")
        self.radix = {column: len(self.categories[column]) for column in self._COLUMNS}
        if np.prod([float(r) for r in self.radix.values()]) >= 2.0**62:
            raise ValueError("indicator table too large to key its cells on 64 bits")  # pragma: no cover
        self.index = pd.Index(self._compose([self.codes[c] for c in self._COLUMNS]))

    def code(self, column: str, label: str) -> int:
        return int(self.categories[column].get_indexer([label])[0])

    def encode(self, column: str, labels: np.ndarray) -> np.ndarray:
        return self.categories[column].get_indexer(np.asarray(labels, dtype=object)).astype("int64")

    def _compose(self, parts: list[Any]) -> np.ndarray:
        key = np.zeros(np.broadcast(*parts).shape, dtype="int64")
        for column, part in zip(self._COLUMNS, parts):
            key = key * self.radix[column] + np.asarray(part, dtype="int64")
        return key

    def find(self, *parts: Any) -> np.ndarray:
        """Row of each key (−1 when the cell is absent)."""
        arrays = [np.asarray(p, dtype="int64") for p in parts]
        unknown = np.zeros(np.broadcast(*arrays).shape, dtype=bool)
        for part in arrays:
            unknown |= part < 0
        found = self.index.get_indexer(self._compose(arrays))
        return np.where(unknown, -1, found)
