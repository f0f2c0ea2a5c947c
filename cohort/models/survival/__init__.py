"""Time-to-event models on a survival table (:func:`proximite.cohort.survival_table`).

Registered kinds:

``kaplan_meier`` (:class:`KaplanMeier`)
    Product-limit survival, one curve per stratum; summary rows ``median`` (and ``survival(t=…)``),
    extra table ``survival_curve``. Interval-censored fit (Turnbull NPMLE) on ``lower``/``upper``.
``cox`` (:class:`CoxPH`)
    Cox proportional hazards (Efron ties), strata, cluster-robust SE, the proportional-hazards
    test as extra table ``proportional_hazards``.
``cox_time_varying`` (:class:`CoxTimeVarying`)
    Cox on start/stop rows, with cluster-bootstrap standard errors and percentile intervals.
``aalen_johansen`` (:class:`AalenJohansen`)
    Cumulative incidence of the event of interest with a competing event; rows ``cif(t=…)``.
``rmst`` (:class:`RMST`)
    Restricted mean survival time up to ``tau`` per stratum and differences between strata,
    with bootstrap intervals.

Summary row names put the stratum after a bar: ``median | environment=rural``. The helper
:func:`km_median` gives medians with their 95 % interval as a plain table (for simulation studies).
Results hold estimates and counts only.
"""

from __future__ import annotations

from proximite.cohort.models.survival.aalen_johansen import AalenJohansen
from proximite.cohort.models.survival.common import DAYS_PER_MONTH, DEFAULT_SEED
from proximite.cohort.models.survival.cox import CoxPH
from proximite.cohort.models.survival.cox_time_varying import CoxTimeVarying
from proximite.cohort.models.survival.kaplan_meier import KaplanMeier, km_median
from proximite.cohort.models.survival.results import SurvivalResults
from proximite.cohort.models.survival.rmst import RMST, rmst_area

__all__ = [
    "DAYS_PER_MONTH",
    "DEFAULT_SEED",
    "RMST",
    "AalenJohansen",
    "CoxPH",
    "CoxTimeVarying",
    "KaplanMeier",
    "SurvivalResults",
    "km_median",
    "rmst_area",
]
