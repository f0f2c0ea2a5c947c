"""The yearly questionnaires as REDCap exports: ``partner_survey/`` and ``staff_survey/``.

Each folder of an input directory holds a REDCap export of one questionnaire's survey project
(``surveys.yaml``), as ``redcap/`` holds the cohort's: ``data_dictionary.csv`` and the flat
``records.csv`` (``rawOrLabel=raw``, ``exportDataAccessGroups=true``), and optionally
``events.csv``, ``form_event_mapping.csv``, ``repeating_forms_events.csv``, ``dags.csv`` and
``project.json``; a folder with none of the three structure files takes the questionnaire's
structure from the codebook. The records are checked and typed by the same code as the cohort's
(:func:`proximite.cohort.redcap.records.stage_records`): an unknown event, data access group or
code, an item out of its choices, a duplicate row are refused with the record, row and field.
Identifier fields (the respondent's name and e-mail, free-text comments) stay in layer 01.

Staged tables, one per form: ``organisme`` and ``partenaire`` (partner questionnaire),
``questionnaire`` (PTP and manager questionnaire).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, ClassVar

from proximite.cohort.sources.files import RedcapExportSource

if TYPE_CHECKING:  # pragma: no cover
    from proximite.cohort.codebook import Codebook, SurveyProject
    from proximite.config import Settings

__all__ = ["PartnerSurveySource", "StaffSurveySource", "SurveyExportSource"]


class SurveyExportSource(RedcapExportSource):
    """A yearly questionnaire's REDCap export; :attr:`name` is its ``surveys.yaml`` entry and its folder."""

    name: ClassVar[str]
    folder: ClassVar[str]

    def project_spec(self, codebook: Codebook) -> SurveyProject:
        """The questionnaire's project: the structure a folder without structure files takes."""
        return codebook.survey(self.name)

    def event_waves(self, settings: Settings) -> Mapping[str, int] | None:
        """None: a questionnaire's events are years, not the cohort's waves."""
        return None


class PartnerSurveySource(SurveyExportSource):
    """The partner questionnaire (``partner_survey/``): tables ``organisme`` and ``partenaire``."""

    name = "partner_survey"
    folder = "partner_survey"


class StaffSurveySource(SurveyExportSource):
    """The PTP and manager questionnaire (``staff_survey/``): table ``questionnaire``."""

    name = "staff_survey"
    folder = "staff_survey"
