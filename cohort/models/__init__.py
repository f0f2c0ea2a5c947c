"""Models for statisticians, in the estimator style (:mod:`proximite.cohort.models.base`).

``Model(options).fit(data)`` returns :class:`~proximite.cohort.models.base.ModelResults`;
:func:`~proximite.cohort.models.base.compare` puts results side by side. Importing this package
registers every model kind in :data:`~proximite.cohort.models.base.MODELS`.
"""

from __future__ import annotations

from proximite.cohort.models.base import MODELS, Comparison, Model, ModelError, ModelResults, compare, get_model, register
from proximite.cohort.models import attrition, growth, panel  # noqa: F401 - registers the kinds
from proximite.cohort.models.attrition import Attrition, attrition_weights
from proximite.cohort.models.growth import GEE, GrowthCurve
from proximite.cohort.models import group_trajectory  # noqa: F401 - registers the kind
from proximite.cohort.models.group_trajectory import GroupTrajectory, GroupTrajectoryResults
from proximite.cohort.models.group_trajectory_membership import membership_model
from proximite.cohort.models.group_trajectory_stats import adjusted_rand_index, match_groups
from proximite.cohort.models.panel import FirstDifference, PanelOLS, PooledOLS, RandomEffects
from proximite.cohort.models import survival  # noqa: F401 - registers the kinds
from proximite.cohort.models.survival import RMST, AalenJohansen, CoxPH, CoxTimeVarying, KaplanMeier, km_median

__all__ = [
    "GEE",
    "MODELS",
    "RMST",
    "AalenJohansen",
    "Attrition",
    "Comparison",
    "CoxPH",
    "CoxTimeVarying",
    "FirstDifference",
    "GroupTrajectory",
    "GroupTrajectoryResults",
    "GrowthCurve",
    "KaplanMeier",
    "Model",
    "ModelError",
    "ModelResults",
    "PanelOLS",
    "PooledOLS",
    "RandomEffects",
    "adjusted_rand_index",
    "attrition_weights",
    "compare",
    "get_model",
    "km_median",
    "match_groups",
    "membership_model",
    "register",
]
