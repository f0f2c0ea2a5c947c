"""Economics: costing, cost per outcome, programme funding, cost–benefit and sensitivity analysis.

Costing, cost per outcome and programme funding (issue 8, part 1):

- :mod:`~proximite.economics.costing`: activity-based costs from the registry (PTP time × loaded
  wage, travel, supervision and training: :mod:`~proximite.economics.activity_costs`) by
  territory and quarter, reconciled with the programme budgets (``cost`` table:
  :mod:`~proximite.economics.budget_reconciliation`); :func:`cost` returns
  :class:`CostingResults`; parameters in ``economics/params/costing.yaml``
  (:mod:`~proximite.economics.costing_parameters`, :func:`load_costing_parameters`);
  :func:`inflate` with the CPI table of ``economics/data`` (:mod:`~proximite.economics.inflation`,
  :func:`load_cpi`); the shared vocabulary and error in :mod:`~proximite.economics.costing_base`;
- :mod:`~proximite.economics.outcomes`: :func:`cost_per_outcome` (per family reached, isolated
  family reached, need met, meaningful isolation reduction) with the indicators' intervals;
- :mod:`~proximite.economics.funding`: :func:`load_funding_table` (the 2019 Avenir d'enfants
  table) and :func:`funding_summary` (per resource, per FTE, per child, coverage).

Cost–benefit and uncertainty (issue 8, part 2):

- :mod:`~proximite.economics.parameters`: the parameter file ``economics/params/benefits.yaml``
  (unit values, effects, SROI shares, each with its distribution, source and year; placeholders
  by default), :func:`load_benefit_parameters`, read into
  :mod:`~proximite.economics.benefit_parameters` (:class:`BenefitParameters`, ``publishable()``)
  of :mod:`~proximite.economics.uncertain_values` (one sourced value and its distribution);
  :mod:`~proximite.economics.publication` says whether results may be published;
  :mod:`~proximite.economics.parameter_labels` names every parameter and blocking reason in
  French and English (the keys stay in English in files, CSV and JSON);
- :mod:`~proximite.economics.benefit`: :class:`CostBenefit` → :class:`CostBenefitResults` (PV
  of costs and benefits, NPV, BCR, discount-rate sensitivity, ``require_publishable()``);
- :mod:`~proximite.economics.psa`: :func:`run_psa` (vectorised, chunked by seed sequence:
  :func:`plan_chunks`, :func:`psa_chunk`, :func:`combine_chunks`) → :class:`PSAResults`
  with P(BCR > 1); :func:`one_way` → :class:`OneWayResults` with ``plot_tornado``.
"""

from proximite.economics.benefit import (
    CostBenefit,
    CostBenefitError,
    CostBenefitResults,
    compare_results,
    discount_factors,
    present_value,
)
from proximite.economics.benefit_parameters import BenefitParameters
from proximite.economics.budget_reconciliation import reconcile
from proximite.economics.costing import CostingResults, cost
from proximite.economics.costing_base import CostingError
from proximite.economics.costing_parameters import CostingParameters, load_costing_parameters
from proximite.economics.funding import (
    FundingSummary,
    funding_summary,
    load_funding_table,
)
from proximite.economics.inflation import inflate, load_cpi
from proximite.economics.outcomes import CostPerOutcome, cost_per_outcome
from proximite.economics.parameters import load_benefit_parameters, parse_benefit_parameters
from proximite.economics.psa import (
    OneWayResults,
    PSAChunk,
    PSAResults,
    combine_chunks,
    one_way,
    plan_chunks,
    psa_chunk,
    run_psa,
)
from proximite.economics.publication import PublicationError
from proximite.economics.uncertain_values import ParameterError

__all__ = [
    # costing, cost per outcome, funding (issue 8, part 1)
    "CostPerOutcome",
    "CostingError",
    "CostingParameters",
    "CostingResults",
    "FundingSummary",
    "cost",
    "cost_per_outcome",
    "funding_summary",
    "inflate",
    "load_costing_parameters",
    "load_cpi",
    "load_funding_table",
    "reconcile",
    # cost–benefit, PSA, one-way sensitivity (issue 8, part 2)
    "BenefitParameters",
    "CostBenefit",
    "CostBenefitError",
    "CostBenefitResults",
    "OneWayResults",
    "PSAChunk",
    "PSAResults",
    "ParameterError",
    "PublicationError",
    "combine_chunks",
    "compare_results",
    "discount_factors",
    "load_benefit_parameters",
    "one_way",
    "parse_benefit_parameters",
    "plan_chunks",
    "present_value",
    "psa_chunk",
    "run_psa",
]
