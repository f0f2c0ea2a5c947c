"""Harmonisation: staged tables (layer 02) → the canonical model (layer 03).

:func:`harmonise` takes the staged tables of every source and returns one frame per table of
``model.yaml`` with exactly the model's columns, in model order, typed:

======== =======================================
model    pandas dtype
======== =======================================
string   ``"string"`` (``pd.StringDtype()``, one storage for all)
int      ``"Int64"``
float    ``"Float64"``
date     ``datetime64[ns]`` (normalised to midnight)
month    ``"string"`` ``YYYY-MM``
bool     ``"boolean"``
======== =======================================

It is made of small pure functions, one per rule or table, each tested on its own
(``tests/spec/test_harmonise.py``): events → waves, data access groups → territories, checkboxes
→ a count, the isolation grid, item means, repeat instances → rows, pseudonymous ids; the yearly
questionnaires' events → survey years (:mod:`~proximite.cohort.harmonise.surveys`). Which REDCap
field feeds which column is read from the codebook (``target`` in ``forms.yaml``), not written
here. Nothing here reads or writes files, and no input frame is modified.

Errors (:class:`~proximite.errors.HarmoniseError`) and log lines name rules, codes, column
names and counts, never a family's values.
"""

from __future__ import annotations

from proximite.cohort.harmonise.all_tables import harmonise
from proximite.cohort.harmonise.assessment import harmonise_assessment
from proximite.cohort.harmonise.columns import cast_column, check_keys, conform, model_dtypes
from proximite.cohort.harmonise.recoding import (
    birth_month,
    components_of,
    events_to_waves,
    form_columns,
    territories_of_dags,
    unmatched_family_records,
)
from proximite.cohort.harmonise.rules import PANDAS_DTYPES, Harmonised, HarmoniseRules
from proximite.cohort.harmonise.scores import (
    count_checked,
    dimensions_answered,
    isolated_flag,
    isolation_index,
    item_mean,
    non_recours_score,
)
from proximite.cohort.harmonise.surveys import event_years, harmonise_partner_survey, harmonise_staff_survey
from proximite.cohort.harmonise.tables import (
    harmonise_activity,
    harmonise_child,
    harmonise_family,
    harmonise_need,
    harmonise_reference,
    harmonise_referral,
)

__all__ = [
    "Harmonised",
    "HarmoniseRules",
    "PANDAS_DTYPES",
    "harmonise",
    "model_dtypes",
    "cast_column",
    "conform",
    "check_keys",
    "events_to_waves",
    "territories_of_dags",
    "count_checked",
    "non_recours_score",
    "dimensions_answered",
    "isolation_index",
    "isolated_flag",
    "item_mean",
    "birth_month",
    "components_of",
    "form_columns",
    "unmatched_family_records",
    "harmonise_reference",
    "harmonise_family",
    "harmonise_child",
    "harmonise_assessment",
    "harmonise_need",
    "harmonise_referral",
    "harmonise_activity",
    "harmonise_partner_survey",
    "harmonise_staff_survey",
    "event_years",
]
