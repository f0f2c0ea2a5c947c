"""Effectiveness: empowerment and parental stress across waves (the parents' power to act).

Two 1–5 scores of the harmonised ``assessment`` table (means of their answered items), each a
score trajectory of :mod:`proximite.indicators.score_trajectory`, the same indicators as the
isolation index's:

- ``effectiveness.empowerment_mean`` / ``effectiveness.parental_stress_mean``: mean score per
  scope cell and wave (SE clustered by territory; by family at territory scope);
- ``..._change``: mean within-family change T0 → Tk (paired, same clustering);
- ``..._meaningful_change``: share of paired families whose score moved by at least δ in the good
  direction: up for empowerment (``pa_1``–``pa_4``), down for parental stress
  (``stress_1``–``stress_4``); δ from ``[indicators.meaningful_change]`` (default 0.5 point);
- ``..._adjusted_effect``: PanelOLS of the score on wave dummies with family effects, SE
  clustered by territory;
- ``..._adjusted_effect_ipw``: the same weighted by the inverse probability of the score being
  observed (logit on the T0 score, isolated at contact, environment and the previous wave).

The adjusted effects are estimated at the Québec scope (and its strata) and per region; per
territory only when ``parameters.extra[ADJUSTED_TERRITORIES]`` is true (as for isolation).
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from proximite.indicators import score_trajectory as trajectory
from proximite.indicators.base import IndicatorParameters, empty_indicator_frame, indicator_frame
from proximite.indicators.score_trajectory import KINDS, ScoreData, ScoreSpec

__all__ = [
    "ADJUSTED_TERRITORIES",
    "DIRECTIONS",
    "INDICATORS",
    "compute",
    "empowerment_adjusted_effect",
    "empowerment_adjusted_effect_ipw",
    "empowerment_change",
    "empowerment_mean",
    "empowerment_meaningful_change",
    "parental_stress_adjusted_effect",
    "parental_stress_adjusted_effect_ipw",
    "parental_stress_change",
    "parental_stress_mean",
    "parental_stress_meaningful_change",
    "score_spec",
]

#: Score (column of ``assessment``) → direction of a good change (1 up, −1 down).
DIRECTIONS: dict[str, int] = {"empowerment": 1, "parental_stress": -1}

#: Indicator id suffix of each kind of :data:`~proximite.indicators.score_trajectory.KINDS`.
_SUFFIXES = {
    "mean": "mean",
    "change": "change",
    "meaningful": "meaningful_change",
    "adjusted": "adjusted_effect",
    "adjusted_ipw": "adjusted_effect_ipw",
}

#: The indicator ids this module emits, per score in :data:`DIRECTIONS` order.
INDICATORS: tuple[str, ...] = tuple(
    f"effectiveness.{score}_{_SUFFIXES[kind]}" for score in DIRECTIONS for kind in KINDS
)

#: Key of ``parameters.extra`` that turns on the adjusted effects at territory scope (off by
#: default: two PanelOLS fits per territory and score).
ADJUSTED_TERRITORIES = "effectiveness.adjusted_effect_territories"


def score_spec(score: str, *, parameters: IndicatorParameters) -> ScoreSpec:
    """The score trajectory of ``empowerment`` or ``parental_stress`` (1–5, δ from the parameters)."""
    return ScoreSpec(
        column=score,
        ids={kind: f"effectiveness.{score}_{suffix}" for kind, suffix in _SUFFIXES.items()},
        direction=DIRECTIONS[score],
        delta=parameters.meaningful_change_of(score),
        bounds=(1.0, 5.0),
        territory_fits=ADJUSTED_TERRITORIES,
    )


def _data(
    score: str, tables: Mapping[str, pd.DataFrame], parameters: IndicatorParameters, data: ScoreData | None
) -> ScoreData:
    if data is not None:
        return data
    return ScoreData(tables, score_spec(score, parameters=parameters), parameters=parameters)


def _indicator(score: str, kind: str):
    """The public function of one id: ``(tables, *, parameters, data=None) -> rows``."""
    make = {
        "mean": trajectory.mean_by_wave,
        "change": trajectory.change_from_baseline,
        "meaningful": trajectory.meaningful_change,
        "adjusted": lambda data: trajectory.adjusted_effect(data, weighted=False),
        "adjusted_ipw": lambda data: trajectory.adjusted_effect(data, weighted=True),
    }[kind]
    direction = "rise" if DIRECTIONS[score] > 0 else "fall"

    def indicator(
        tables: Mapping[str, pd.DataFrame], *, parameters: IndicatorParameters, data: ScoreData | None = None
    ) -> pd.DataFrame:
        return make(_data(score, tables, parameters, data))

    indicator.__name__ = indicator.__qualname__ = f"{score}_{_SUFFIXES[kind]}"
    indicator.__doc__ = f"""``effectiveness.{score}_{_SUFFIXES[kind]}``: {_KIND_TEXT[kind]} of ``{score}`` (1–5).

    Parameters
    ----------
    tables : mapping of str to DataFrame
        The harmonised tables; uses ``assessment``, ``family`` and ``territory`` (not modified).
    parameters : IndicatorParameters, keyword-only
    data : ScoreData, keyword-only
        The shared intermediate results of the same tables, parameters and score, when made.

    Returns
    -------
    DataFrame
        Indicator rows (:data:`~proximite.indicators.base.INDICATOR_COLUMNS`).

    Notes
    -----
    :func:`proximite.indicators.score_trajectory.{make.__name__ if kind in ("mean", "change", "meaningful")
    else "adjusted_effect"}` with :func:`score_spec` (a {direction} is good).
    """
    return indicator


_KIND_TEXT = {
    "mean": "mean score per scope cell and wave, SE clustered by territory",
    "change": "mean within-family change T0 → Tk, SE clustered by territory",
    "meaningful": "share of paired families whose score moved by at least δ in the good direction",
    "adjusted": "PanelOLS wave effects vs T0 with family effects, SE clustered by territory",
    "adjusted_ipw": "PanelOLS wave effects weighted by the inverse probability of being observed",
}

empowerment_mean = _indicator("empowerment", "mean")
empowerment_change = _indicator("empowerment", "change")
empowerment_meaningful_change = _indicator("empowerment", "meaningful")
empowerment_adjusted_effect = _indicator("empowerment", "adjusted")
empowerment_adjusted_effect_ipw = _indicator("empowerment", "adjusted_ipw")
parental_stress_mean = _indicator("parental_stress", "mean")
parental_stress_change = _indicator("parental_stress", "change")
parental_stress_meaningful_change = _indicator("parental_stress", "meaningful")
parental_stress_adjusted_effect = _indicator("parental_stress", "adjusted")
parental_stress_adjusted_effect_ipw = _indicator("parental_stress", "adjusted_ipw")


def compute(tables: Mapping[str, pd.DataFrame], *, parameters: IndicatorParameters) -> pd.DataFrame:
    """Effectiveness indicators per scope cell and wave, for each score of :data:`DIRECTIONS`.

    Parameters
    ----------
    tables : mapping of str to DataFrame
        The harmonised tables; uses ``assessment`` (``empowerment``, ``parental_stress``),
        ``family`` and ``territory`` (not modified).
    parameters : IndicatorParameters, keyword-only
        ``waves``, ``score_meaningful_change`` (δ per score), ``confidence``, ``strata``,
        ``scopes``.

    Returns
    -------
    DataFrame
        The tidy indicator table with the ids of :data:`INDICATORS`; ``period`` is ``all``.

    Notes
    -----
    Per score, with :math:`y_{fw}` the score of family :math:`f` at wave :math:`w`, :math:`d`
    its good direction and :math:`P_k` the families observed at T0 and Tk:

    .. math::

        \\text{mean}_w = \\bar y_{\\cdot w}, \\qquad
        \\text{change}_k = \\frac{1}{|P_k|}\\sum_{f \\in P_k} (y_{fk} - y_{f0}), \\qquad
        \\text{meaningful}_k = \\frac{|\\{f \\in P_k : d\\,(y_{fk} - y_{f0}) \\ge \\delta\\}|}{|P_k|}

        y_{fw} = \\alpha_f + \\sum_{k > 0} \\beta_k [w = k] + \\varepsilon_{fw}
        \\quad \\text{(PanelOLS, plain and attrition-weighted)}

    A table without the score's column gives no rows for it.
    """
    frames = []
    for score in DIRECTIONS:
        if score not in tables["assessment"].columns:
            continue
        frames += trajectory.compute(ScoreData(tables, score_spec(score, parameters=parameters), parameters=parameters))
    if not frames:
        return empty_indicator_frame()
    return indicator_frame(pd.concat(frames, ignore_index=True))
