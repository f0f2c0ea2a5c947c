"""Spec: the yearly questionnaires' staged forms → ``partner_response``, ``partner_tie``, ``staff_survey``.

The staged forms are those of the hand-written exports of ``tests/survey_inputs.py`` (see its
docstring for every row), ingested without the gates.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ingest_inputs import write_reference  # noqa: E402
from survey_inputs import write_surveys  # noqa: E402

from proximite.cohort.codebook import load_codebook  # noqa: E402
from proximite.cohort.harmonise import HarmoniseRules, event_years, harmonise_partner_survey, harmonise_staff_survey  # noqa: E402
from proximite.cohort.harmonise.all_tables import harmonise  # noqa: E402
from proximite.cohort.harmonise.columns import model_dtypes  # noqa: E402
from proximite.cohort.layers import read_staged  # noqa: E402
from proximite.cohort.pseudonym import pseudonym  # noqa: E402
from proximite.config import Settings, load_settings  # noqa: E402
from proximite.errors import HarmoniseError  # noqa: E402
from proximite.pipeline import ingest  # noqa: E402

KEY = b"survey-spec-key-0123456789abcdef"


@pytest.fixture(scope="module")
def staged(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, dict[str, pd.DataFrame]], HarmoniseRules, Settings]:
    root = tmp_path_factory.mktemp("surveys")
    cb = load_codebook()
    write_surveys(root / "input", cb)
    write_reference(root / "input" / "reference", cb)
    settings = load_settings(root / "project")
    ingest(root / "input", settings=settings, validate=False)
    sources = ("reference", "partner_survey", "staff_survey")
    return {source: read_staged(settings, source) for source in sources}, HarmoniseRules.from_settings(settings), settings


def _territory(staged: dict) -> pd.DataFrame:
    return staged["reference"]["territory"]


def test_partner_responses_and_ties(staged) -> None:
    tables, rules, _settings = staged
    result = harmonise_partner_survey(tables["partner_survey"], territory=_territory(tables), rules=rules, key=KEY,
                                      codebook=load_codebook())
    response, tie = result["partner_response"], result["partner_tie"]
    assert {k: str(v) for k, v in response.dtypes.items()} == model_dtypes("partner_response")
    assert response[["org_id", "territory_id", "year", "collaboration_with_host"]].astype(object).values.tolist() == [
        ["ORG-06-01-2", "T06-01", 2024, 3], ["ORG-06-01-3", "T06-01", 2024, 2], ["ORG-06-01-2", "T06-01", 2025, 4]]
    # A response is the pseudonym of questionnaire, record and event: the same record answers each year anew.
    expected = pseudonym("partner_survey:1:annee_2024_arm_1", key=KEY, project=rules.project, length=rules.id_length)
    assert response["response_id"].iloc[0] == expected != response["response_id"].iloc[2]
    assert tie["response_id"].tolist() == [expected, expected, response["response_id"].iloc[1], response["response_id"].iloc[2]]
    assert tie["from_org_id"].tolist() == ["ORG-06-01-2", "ORG-06-01-2", "ORG-06-01-3", "ORG-06-01-2"]
    assert tie["to_org_id"].tolist() == ["ORG-06-01-1", "ORG-06-01-3", "ORG-06-01-1", "ORG-06-01-1"]
    assert tie["trust_openness"].tolist()[0] == 4 and tie.iloc[1][["trust_openness", "value_involvement"]].isna().all()
    assert tie["collaboration_level"].tolist() == ["coordination", "aucune", "cooperation", "integration"]


def test_staff_answers_keep_one_respondent_across_years(staged) -> None:
    tables, rules, _settings = staged
    staff = harmonise_staff_survey(tables["staff_survey"]["questionnaire"], territory=_territory(tables), rules=rules,
                                   key=KEY, codebook=load_codebook())
    assert {k: str(v) for k, v in staff.dtypes.items()} == model_dtypes("staff_survey")
    assert staff["respondent_id"].iloc[0] == staff["respondent_id"].iloc[2] != staff["respondent_id"].iloc[1]
    assert staff["year"].tolist() == [2024, 2024, 2025] and staff["role"].tolist() == ["ptp", "gestionnaire", "ptp"]
    assert staff["worker_id"].tolist()[0] == "W06-01-1" and pd.isna(staff["worker_id"].iloc[1])
    # Clarity: the mean of the two clarity items (5, 2 → 3.5; 4, 3 → 3.5; 4, 2 → 3.0).
    assert staff["role_clarity"].tolist() == [3.5, 3.5, 3.0]
    assert staff["mandate_misread"].tolist() == [4, 2, 5] and staff["intention_to_stay"].tolist() == [5, 4, 2]


def test_a_managers_ptp_code_is_not_kept(staged) -> None:
    tables, rules, _settings = staged
    questionnaire = tables["staff_survey"]["questionnaire"].copy()
    questionnaire.loc[1, "ptp_code"] = "W06-01-2"
    staff = harmonise_staff_survey(questionnaire, territory=_territory(tables), rules=rules, key=KEY, codebook=load_codebook())
    assert pd.isna(staff["worker_id"].iloc[1])


def test_an_event_that_is_not_a_survey_year_is_named() -> None:
    survey = load_codebook().survey("partner_survey")
    assert event_years(pd.Series(["annee_2025_arm_1", ""]), survey=survey).tolist() == [2025, pd.NA]
    with pytest.raises(HarmoniseError, match="'t0_arm_1' are not survey years \\(1 row\\)"):
        event_years(pd.Series(["annee_2025_arm_1", "t0_arm_1"]), survey=survey)


def test_the_whole_model_has_the_questionnaires_and_refuses_a_staged_identifier(staged) -> None:
    tables, _rules, settings = staged
    result = harmonise(tables, key=KEY, settings=settings)
    assert (len(result["partner_response"]), len(result["partner_tie"]), len(result["staff_survey"])) == (3, 4, 3)
    assert result["family"].empty  # the cohort's tables are empty without its sources
    leaked = {**tables, "staff_survey": {"questionnaire": tables["staff_survey"]["questionnaire"].assign(rep_nom="x")}}
    with pytest.raises(HarmoniseError, match="staff_survey.questionnaire.rep_nom"):
        harmonise(leaked, key=KEY, settings=settings)
