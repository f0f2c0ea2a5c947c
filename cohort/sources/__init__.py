"""Sources: one module per source kind, a base class and a registry dict.

======================  ==============================================  ========================
source (layer folder)   what it reads                                   class
======================  ==============================================  ========================
``reference``           ``reference/`` regions, territories, orgs      :class:`~.files.ReferenceFilesSource`
``redcap``              ``redcap/`` a REDCap export (dictionary, flat   :class:`~.files.RedcapExportSource`
                        records, events, mapping, DAGs)
``registry``            ``registry/`` the activity registry (CSV,       :class:`~.files.RegistryFilesSource`
                        XLSX, SPSS, Stata + mapping YAML)
``cost``                ``costs/`` program costs                        :class:`~.files.CostFilesSource`
``partner_survey``      ``partner_survey/`` the yearly partner          :class:`~.surveys.PartnerSurveySource`
                        questionnaire (a REDCap export)
``staff_survey``        ``staff_survey/`` the yearly PTP and manager    :class:`~.surveys.StaffSurveySource`
                        questionnaire (a REDCap export)
``qual_register``       ``qualitative/`` the register of interviews     :class:`~.qualitative.QualRegisterSource`
                        and focus groups (CSV, XLSX + mapping YAML)
``qual_coding``         ``qualitative/`` the team's coding (``.qdpx``   :class:`~.qualitative.QualCodingSource`
                        REFI-QDA projects) and ``themes.yaml``
======================  ==============================================  ========================

:data:`SOURCES` maps a source name to its class (the file sources that ``ingest`` discovers).
The REDCap API is pulled by :func:`proximite.cohort.redcap.pull.pull_redcap` (PyCap, batched by
record id, incremental); it writes the same ``redcap`` layers and types the records with
:func:`proximite.cohort.redcap.records.stage_records`, as the REDCap file source does.
"""

from __future__ import annotations

from proximite.cohort.sources.base import Source, Staged
from proximite.cohort.sources.files import (
    CostFilesSource,
    RedcapExportSource,
    ReferenceFilesSource,
    RegistryFilesSource,
)
from proximite.cohort.sources.surveys import PartnerSurveySource, StaffSurveySource
from proximite.cohort.sources.qualitative import QualCodingSource, QualRegisterSource

__all__ = ["SOURCES", "Source", "Staged", "get_source"]

#: Source name → class, in the order a pipeline ingests them (reference first).
SOURCES: dict[str, type[Source]] = {
    "reference": ReferenceFilesSource,
    "redcap": RedcapExportSource,
    "registry": RegistryFilesSource,
    "cost": CostFilesSource,
    # The yearly questionnaires: optional, a build uses them when they have been staged.
    "partner_survey": PartnerSurveySource,
    "staff_survey": StaffSurveySource,
    # The qualitative strand (optional: a project without it has empty qualitative tables).
    "qual_register": QualRegisterSource,
    "qual_coding": QualCodingSource,
}


def get_source(name: str) -> Source:
    """An instance of the registered source ``name``.

    Raises
    ------
    KeyError
        No source of that name (the message lists the registered ones).
    """
    try:
        return SOURCES[name]()
    except KeyError:
        raise KeyError(f"no source named {name!r} (sources: {', '.join(SOURCES)})") from None
