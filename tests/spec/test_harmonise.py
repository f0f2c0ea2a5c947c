"""Spec tests of harmonisation (02 staged → 03 harmonised).

Each test writes a few staged rows by hand, as ingest stages them (docs/data-layout.md), and
states the harmonised output computed by hand. They double as the documentation of each rule.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pandas.testing as pdt
import pytest

from proximite.cohort.codebook import load_codebook
from proximite.errors import HarmoniseError
from proximite.cohort.harmonise import (
    PANDAS_DTYPES,
    HarmoniseRules,
    count_checked,
    dimensions_answered,
    events_to_waves,
    harmonise,
    isolated_flag,
    isolation_index,
    item_mean,
    non_recours_score,
    territories_of_dags,
)
from proximite.cohort.pseudonym import pseudonym, pseudonymise, pseudonymise_instances
from proximite.config import Settings, load_settings

KEY = b"spec-test-key"
CB = load_codebook()
DIMENSIONS = [
    "non_recours",
    "transport",
    "contraintes_economiques",
    "reseau_soutien",
    "barrieres_linguistiques_culturelles",
    "mefiance_institutions",
]


# ------------------------------------------------------------------------------ staged builders
def settings_with(tmp_path: Path, **isolation: Any) -> Settings:
    """Default settings, with some [isolation] (or [waves.events] via ``events``) overridden."""
    base = load_settings(tmp_path)
    raw = copy.deepcopy(base.raw)
    events = isolation.pop("events", None)
    if events is not None:
        raw["waves"]["events"] = events
    raw["isolation"].update(isolation)
    return Settings(raw=raw, project_dir=tmp_path, sources=base.sources)


@pytest.fixture()
def settings(tmp_path: Path) -> Settings:
    return settings_with(tmp_path)


def project(settings: Settings) -> str:
    return settings.project_name


def expected_id(settings: Settings, text: str) -> str:
    """Independent computation of a pseudonym: HMAC-SHA256(key, project + text), 16 hex chars."""
    return hmac.new(KEY, (settings.project_name + text).encode("utf-8"), hashlib.sha256).hexdigest()[:16]


def _field_dtype(field_type: str, validation: str) -> str:
    if field_type == "text" and validation == "date_ymd":
        return "datetime64[ns]"
    if field_type == "yesno":
        return "boolean"
    return "string"


def staged_form(form: str, rows: list[dict[str, Any]]) -> pd.DataFrame:
    """A staged REDCap form: the leading REDCap columns, then every non-identifier field typed as
    ingest types it (dates datetime64, yes/no boolean, codes string, checkbox one boolean column
    per code), then ``<form>_complete``. Fields a row does not give are missing."""
    fields = CB.fields.loc[(CB.fields["form_name"] == form) & ~CB.fields["identifier"]]
    repeating = form in CB.repeating_forms
    columns: dict[str, pd.Series] = {
        "record_id": pd.Series([row["record_id"] for row in rows], dtype="string"),
        "redcap_event_name": pd.Series([row.get("event") for row in rows], dtype="string"),
        "redcap_repeat_instrument": pd.Series([form if repeating else None for _ in rows], dtype="string"),
        "redcap_repeat_instance": pd.Series([row.get("instance") if repeating else None for row in rows], dtype="Int64"),
        "redcap_data_access_group": pd.Series([row.get("dag", "t01_01") for row in rows], dtype="string"),
        "source_row": pd.Series([row.get("source_row", i + 2) for i, row in enumerate(rows)], dtype="Int64"),
    }
    for name, kind, validation, enum in zip(fields["field_name"], fields["field_type"], fields["validation"], fields["enum"]):
        if name == "record_id":
            continue
        if kind == "checkbox":
            for code in CB.codes(enum):
                ticked = [(code in row[name]) if row.get(name) is not None else False for row in rows]
                columns[f"{name}___{code}"] = pd.Series(ticked, dtype="boolean")
            continue
        dtype = _field_dtype(kind, validation)
        values = [row.get(name) for row in rows]
        columns[name] = pd.Series(pd.to_datetime(values) if dtype.startswith("datetime") else values, dtype=dtype)
    columns[f"{form}_complete"] = pd.Series([2] * len(rows), dtype="Int64")
    return pd.DataFrame(columns)


def reference_tables() -> dict[str, pd.DataFrame]:
    return {
        "region": pd.DataFrame(
            {
                "region_code": pd.Series(["01", "06"], dtype="string"),
                "name_fr": pd.Series(["Bas-Saint-Laurent", "Montréal"], dtype="string"),
                "name_en": pd.Series(["Bas-Saint-Laurent", "Montréal"], dtype="string"),
                "children_0_5": pd.Series([11095, 120000], dtype="Int64"),
            }
        ),
        "territory": pd.DataFrame(
            {
                "territory_id": pd.Series(["T01-01", "T06-01"], dtype="string"),
                "name": pd.Series(["Rimouski", "Centre-Sud"], dtype="string"),
                "region_code": pd.Series(["01", "06"], dtype="string"),
                "environment": pd.Series(["rural", "urbain"], dtype="string"),
                "host_type": pd.Series(["OCF", "CPSC"], dtype="string"),
                "redcap_dag": pd.Series(["t01_01", "t06_01"], dtype="string"),
            }
        ),
        "organisation": pd.DataFrame(
            {
                "org_id": pd.Series(["O1", "O2"], dtype="string"),
                "name": pd.Series(["Maison de la famille", "CLSC"], dtype="string"),
                "territory_id": pd.Series(["T01-01", "T01-01"], dtype="string"),
                "network": pd.Series(["communautaire", "public_sss"], dtype="string"),
                "mission": pd.Series(["famille_enfance", "autre"], dtype="string"),
                "is_host": pd.Series([True, False], dtype="boolean"),
            }
        ),
    }


def registry_tables(activity_rows: list[dict[str, Any]] | None = None) -> dict[str, pd.DataFrame]:
    rows = activity_rows if activity_rows is not None else [
        {"activity_id": "A1", "action_type": "demarchage", "family_record_id": None},
        {"activity_id": "A2", "action_type": "information", "family_record_id": "1001"},
        {"activity_id": "A3", "action_type": "espaces_dialogue", "family_record_id": "9999"},
        {"activity_id": "A4", "action_type": "accompagnement_ressources", "family_record_id": "1002"},
    ]
    activity = pd.DataFrame(
        {
            "activity_id": pd.Series([r["activity_id"] for r in rows], dtype="string"),
            "worker_id": pd.Series(["W1"] * len(rows), dtype="string"),
            "territory_id": pd.Series([r.get("territory_id", "T01-01") for r in rows], dtype="string"),
            "activity_date": pd.Series(pd.to_datetime(["2024-03-01"] * len(rows))),
            "minutes": pd.Series([60] * len(rows), dtype="Int64"),
            "action_type": pd.Series([r["action_type"] for r in rows], dtype="string"),
            "family_record_id": pd.Series([r.get("family_record_id") for r in rows], dtype="string"),
            "org_id": pd.Series([None] * len(rows), dtype="string"),
            "place": pd.Series(["domicile"] * len(rows), dtype="string"),
            "travel_minutes": pd.Series([10] * len(rows), dtype="Int64"),
            "travel_km": pd.Series([4.5] * len(rows), dtype="Float64"),
            "source_file": pd.Series([r.get("source_file", "T01-01.csv") for r in rows], dtype="string"),
            "source_row": pd.Series(range(1, len(rows) + 1), dtype="Int64"),
        }
    )
    worker = pd.DataFrame(
        {
            "worker_id": pd.Series(["W1"], dtype="string"),
            "territory_id": pd.Series(["T01-01"], dtype="string"),
            "start_date": pd.to_datetime(["2023-09-01"]),
            "end_date": pd.Series([pd.NaT], dtype="datetime64[ns]"),
            "weekly_hours": pd.Series([35.0], dtype="Float64"),
        }
    )
    supervision = pd.DataFrame(
        {
            "worker_id": pd.Series(["W1"], dtype="string"),
            "session_date": pd.to_datetime(["2024-01-10"]),
            "minutes": pd.Series([90], dtype="Int64"),
            "kind": pd.Series(["clinique"], dtype="string"),
        }
    )
    return {"activity": activity, "worker": worker, "supervision": supervision}


def cost_tables() -> dict[str, pd.DataFrame]:
    return {
        "cost": pd.DataFrame(
            {
                "territory_id": pd.Series(["T01-01"], dtype="string"),
                "period": pd.Series(["2024-T1"], dtype="string"),
                "category": pd.Series(["salaire_ptp"], dtype="string"),
                "amount_cad": pd.Series([18500.0], dtype="Float64"),
            }
        )
    }


FAMILIES = [
    {
        "record_id": "1001",
        "event": "inclusion_arm_1",
        "dag": "t01_01",
        "date_premier_contact": "2024-01-15",
        "canal_recrutement": "parc",
        "isole_contact": True,
        "monoparentale": False,
        "statut_immigration": "ne_canada",
        "langue_principale": "francais",
        "date_consentement": "2024-01-20",
        "ptp_code": "W1",
    },
    {
        "record_id": "1002",
        "event": "inclusion_arm_1",
        "dag": "t06_01",
        "date_premier_contact": "2024-02-01",
        "canal_recrutement": "hlm",
        "isole_contact": False,
        "monoparentale": True,
        "date_consentement": "2024-02-03",
    },
]

CHILDREN = [
    {"record_id": "1001", "event": "inclusion_arm_1", "instance": 1, "enf_date_naissance": "2021-11-30", "enf_a_naitre": False},
    {"record_id": "1001", "event": "inclusion_arm_1", "instance": 2, "enf_date_naissance": "2024-05-17", "enf_a_naitre": True},
    {"record_id": "1002", "event": "inclusion_arm_1", "instance": 1, "enf_date_naissance": "2020-02-29", "enf_a_naitre": False},
]


def isolation_items(transport=None, eco=None, reseau=None, ling=None, mef=None) -> dict[str, Any]:
    return {
        "iso_transport": transport,
        "iso_contraintes_eco": eco,
        "iso_reseau_soutien": reseau,
        "iso_barrieres_ling": ling,
        "iso_mefiance": mef,
    }


# Assessments: the comments give the hand computation of the isolation grid.
ASSESSMENTS = [
    # 1001 at T0: only "aucune" ticked -> 0 resources -> non_recours 3; dims 3,3,2,1,0,3 (6 answered)
    # index = 100 * 12 / (3 * 6) = 66.67 -> isolated
    {"record_id": "1001", "event": "t0_arm_1", "suivi_date": "2024-01-25", "ressources_3m": ["aucune"],
     **isolation_items("3", "2", "1", "0", "3"),
     "pa_1": "4", "pa_2": "5", "pa_3": None, "pa_4": "3", "stress_1": "2", "stress_2": "2", "stress_3": "3"},
    # 1001 at T6: no box ticked -> resources missing -> non_recours missing; dims 3,3,0,0,3 (5 answered)
    # index = 100 * 9 / (3 * 5) = 60 -> isolated
    {"record_id": "1001", "event": "t6_arm_1", "suivi_date": "2024-07-20", "ressources_3m": [],
     **isolation_items("3", "3", "0", "0", "3"), "satisf_relation": "5", "satisf_aide": "4", "satisf_recommande": "5"},
    # 1001 at T12: 1 resource -> non_recours 2; transport 1, eco 0, mef 3 (4 answered)
    # index = 100 * (2 + 1 + 0 + 3) / (3 * 4) = 50 exactly -> isolated (threshold edge)
    {"record_id": "1001", "event": "t12_arm_1", "suivi_date": "2025-01-18", "ressources_3m": ["clsc"],
     **isolation_items("1", "0", None, None, "3")},
    # 1002 at T0: 2 resources -> non_recours 1; transport 0, eco 1 (3 answered) -> index missing
    {"record_id": "1002", "event": "t0_arm_1", "suivi_date": "2024-02-10", "ressources_3m": ["ocf", "clsc"],
     **isolation_items("0", "1", None, None, None)},
    # 1002 at T6: 3 resources -> non_recours 1; all dims 0 -> index 100 * 1 / 18 = 5.56 -> not isolated
    {"record_id": "1002", "event": "t6_arm_1", "suivi_date": "2024-08-01", "ressources_3m": ["ocf", "clsc", "friperie"],
     **isolation_items("0", "0", "0", "0", "0")},
    # 1002 at T12: 4 resources -> non_recours 0; all dims 0 -> index 0 -> not isolated
    {"record_id": "1002", "event": "t12_arm_1", "suivi_date": "2025-02-01", "ressources_3m": ["ocf", "clsc", "friperie", "cpsc"],
     **isolation_items("0", "0", "0", "0", "0")},
]

NEEDS = [
    {"record_id": "1001", "event": "accompagnement_arm_1", "instance": 1, "bes_categorie": "logement",
     "bes_date_identification": "2024-01-25", "bes_statut": "repondu", "bes_date_statut": "2024-03-01"},
    {"record_id": "1001", "event": "accompagnement_arm_1", "instance": 2, "bes_categorie": "garde",
     "bes_date_identification": "2024-02-01", "bes_statut": "aucune_ressource"},
]

REFERRALS = [
    {"record_id": "1001", "event": "accompagnement_arm_1", "instance": 1, "ref_direction": "ptp_to_partner",
     "ref_org_destination": "O2", "ref_categorie_besoin": "logement", "ref_date": "2024-02-02",
     "ref_resultat": "service_recu", "ref_date_resultat": "2024-02-20"},
    {"record_id": "1002", "event": "accompagnement_arm_1", "instance": 1, "ref_direction": "partner_to_ptp",
     "ref_org_source": "O2", "ref_categorie_besoin": "alimentation", "ref_date": "2024-02-05"},
]

EXITS = [
    {"record_id": "1002", "event": "sortie_arm_1", "sortie_date": "2025-03-01", "sortie_raison": "demenagement"},
]


def staged_example(**overrides: list[dict[str, Any]]) -> dict[str, dict[str, pd.DataFrame]]:
    forms = {
        "famille": FAMILIES,
        "enfant": CHILDREN,
        "suivi": ASSESSMENTS,
        "besoin": NEEDS,
        "reference": REFERRALS,
        "sortie": EXITS,
    }
    forms.update(overrides)
    return {
        "reference": reference_tables(),
        "redcap": {form: staged_form(form, rows) for form, rows in forms.items()},
        "registry": registry_tables(),
        "cost": cost_tables(),
    }


def by_wave(assessment: pd.DataFrame, settings: Settings, record: str) -> pd.DataFrame:
    rows = assessment.loc[assessment["family_id"] == expected_id(settings, record)]
    return rows.set_index("wave").sort_index()


# ------------------------------------------------------------------------------ the whole model
def test_every_model_table_with_exact_columns_and_dtypes(settings: Settings) -> None:
    tables = harmonise(staged_example(), key=KEY, settings=settings)
    assert list(tables) == CB.tables
    for name, frame in tables.items():
        spec = CB.columns(name)
        assert list(frame.columns) == list(spec), name
        for column, column_spec in spec.items():
            assert str(frame[column].dtype) == PANDAS_DTYPES[column_spec["type"]], (name, column)
    assert len(tables["family"]) == 2
    assert len(tables["child"]) == 3
    assert len(tables["assessment"]) == 6
    assert len(tables["need"]) == 2 and len(tables["referral"]) == 2
    assert len(tables["activity"]) == 4
    assert len(tables["region"]) == 2 and len(tables["territory"]) == 2 and len(tables["organisation"]) == 2
    assert len(tables["worker"]) == 1 and len(tables["supervision"]) == 1 and len(tables["cost"]) == 1


def test_no_identifier_nor_staging_column_leaks(settings: Settings) -> None:
    tables = harmonise(staged_example(), key=KEY, settings=settings)
    model_columns = {column for name in CB.tables for column in CB.columns(name)}
    leaked = {column for frame in tables.values() for column in frame.columns} - model_columns
    assert leaked == set()
    for frame in tables.values():
        for column in ("record_id", "redcap_event_name", "redcap_data_access_group", "source_row", "family_record_id"):
            assert column not in frame.columns
    # Record ids never appear as values either: only their pseudonyms.
    values = pd.concat([frame.astype("string").stack() for frame in tables.values() if not frame.empty])
    assert not values.isin(["1001", "1002"]).any()


def test_staged_identifier_field_is_refused(settings: Settings) -> None:
    staged = staged_example()
    staged["redcap"]["famille"] = staged["redcap"]["famille"].assign(fam_telephone=pd.Series(["x", "y"], dtype="string"))
    with pytest.raises(HarmoniseError, match=r"famille\.fam_telephone"):
        harmonise(staged, key=KEY, settings=settings)


def test_inputs_are_not_mutated(settings: Settings) -> None:
    staged = staged_example()
    before = copy.deepcopy(staged)
    tables = harmonise(staged, key=KEY, settings=settings)
    # The outputs share no memory with the inputs: changing them in place leaves the inputs alone.
    for frame in tables.values():
        for column in frame.columns:
            if len(frame):
                frame.loc[0, column] = pd.NA
    assert staged.keys() == before.keys()
    for source, tables in before.items():
        assert staged[source].keys() == tables.keys()
        for name, frame in tables.items():
            pdt.assert_frame_equal(staged[source][name], frame, check_exact=True)


def test_pyarrow_backed_strings_give_the_same_tables(settings: Settings) -> None:
    """Ingest stages strings backed by pyarrow; the harmonised tables are the same."""
    staged = staged_example()
    arrow = {
        source: {
            name: frame.astype({c: "string[pyarrow]" for c in frame.columns if isinstance(frame[c].dtype, pd.StringDtype)})
            for name, frame in tables.items()
        }
        for source, tables in staged.items()
    }
    plain, from_arrow = harmonise(staged, key=KEY, settings=settings), harmonise(arrow, key=KEY, settings=settings)
    for name in CB.tables:
        pdt.assert_frame_equal(from_arrow[name], plain[name], obj=name)
        for column in from_arrow[name].columns:
            if isinstance(from_arrow[name][column].dtype, pd.StringDtype):
                assert from_arrow[name][column].dtype == pd.StringDtype(), (name, column)


# ------------------------------------------------------------------------------ events, DAGs
def test_events_map_to_integer_waves(settings: Settings) -> None:
    events = pd.Series(["t0_arm_1", "t6_arm_1", "t12_arm_1", "t24_arm_1", "t6_arm_1"], dtype="string")
    waves = events_to_waves(events, event_waves=settings.event_waves)
    assert waves.dtype == "Int64"
    assert waves.tolist() == [0, 6, 12, 24, 6]

    tables = harmonise(staged_example(), key=KEY, settings=settings)
    assert sorted(tables["assessment"]["wave"].unique().tolist()) == [0, 6, 12]


def test_unknown_event_names_the_event_and_row_count(settings: Settings) -> None:
    rows = ASSESSMENTS + [{"record_id": "1002", "event": "t36_arm_1", "suivi_date": "2027-02-01", **isolation_items("1")}]
    with pytest.raises(HarmoniseError) as error:
        harmonise(staged_example(suivi=rows), key=KEY, settings=settings)
    message = str(error.value)
    assert "'t36_arm_1'" in message and "1 row" in message and "[waves.events]" in message
    assert "1002" not in message and "2027" not in message


def test_dags_map_to_territories(settings: Settings) -> None:
    territory = reference_tables()["territory"]
    dags = pd.Series(["t06_01", "t01_01", "t06_01"], dtype="string")
    assert territories_of_dags(dags, territory=territory).tolist() == ["T06-01", "T01-01", "T06-01"]

    family = harmonise(staged_example(), key=KEY, settings=settings)["family"].set_index("family_id")
    assert family.loc[expected_id(settings, "1001"), "territory_id"] == "T01-01"
    assert family.loc[expected_id(settings, "1002"), "territory_id"] == "T06-01"


def test_unknown_dag_names_the_group_and_record_count(settings: Settings) -> None:
    families = FAMILIES + [
        {**FAMILIES[0], "record_id": "2001", "dag": "t99_99"},
        {**FAMILIES[0], "record_id": "2002", "dag": "t99_99"},
    ]
    with pytest.raises(HarmoniseError) as error:
        harmonise(staged_example(famille=families), key=KEY, settings=settings)
    message = str(error.value)
    assert "'t99_99'" in message and "2 records" in message
    assert "2001" not in message and "2002" not in message


def test_record_without_dag_is_refused(settings: Settings) -> None:
    families = FAMILIES + [{**FAMILIES[0], "record_id": "2001", "dag": None}]
    with pytest.raises(HarmoniseError, match=r"no data access group \(1 record\)"):
        harmonise(staged_example(famille=families), key=KEY, settings=settings)


def test_a_record_twice_in_famille_or_sortie_is_refused(settings: Settings) -> None:
    with pytest.raises(HarmoniseError, match=r"famille: a record appears on more than one row \(1 row too many\)"):
        harmonise(staged_example(famille=FAMILIES + [FAMILIES[0]]), key=KEY, settings=settings)
    with pytest.raises(HarmoniseError, match=r"sortie: a record has more than one exit row \(1 row too many\)"):
        harmonise(staged_example(sortie=EXITS + EXITS), key=KEY, settings=settings)


# ------------------------------------------------------------------------------ the isolation grid
def test_checkboxes_count_resources_without_aucune() -> None:
    boxes = pd.DataFrame(
        {
            "ressources_3m___ocf": [True, False, False, True, False],
            "ressources_3m___clsc": [True, False, False, False, False],
            "ressources_3m___aucune": [False, True, False, False, pd.NA],
        },
        dtype="boolean",
    )
    counted = count_checked(boxes, field="ressources_3m")
    assert counted.dtype == "Int64"
    # two ticked; only "aucune" -> 0; nothing ticked -> missing; one; nothing (null) -> missing
    assert counted.tolist() == [2, 0, pd.NA, 1, pd.NA]


@pytest.mark.parametrize(("resources", "score"), [(0, 3), (1, 2), (2, 1), (3, 1), (4, 0), (9, 0)])
def test_non_recours_band_edges(resources: int, score: int, settings: Settings) -> None:
    rules = HarmoniseRules.from_settings(settings)
    scored = non_recours_score(pd.Series([resources], dtype="Int64"), bands=rules.non_recours_bands, above=rules.non_recours_above)
    assert scored.tolist() == [score]


def test_non_recours_missing_when_resources_missing(settings: Settings) -> None:
    rules = HarmoniseRules.from_settings(settings)
    scored = non_recours_score(pd.Series([pd.NA, 1], dtype="Int64"), bands=rules.non_recours_bands, above=rules.non_recours_above)
    assert scored.dtype == "Int64" and scored.tolist() == [pd.NA, 2]


def test_assessment_resources_and_non_recours_from_checkboxes(settings: Settings) -> None:
    assessment = harmonise(staged_example(), key=KEY, settings=settings)["assessment"]
    first, second = by_wave(assessment, settings, "1001"), by_wave(assessment, settings, "1002")
    # 1001: aucune only, none ticked, one resource. 1002: 2, 3, 4 resources.
    assert first["resources_used_3m"].tolist() == [0, pd.NA, 1]
    assert first["non_recours"].tolist() == [3, pd.NA, 2]
    assert second["resources_used_3m"].tolist() == [2, 3, 4]
    assert second["non_recours"].tolist() == [1, 1, 0]


def test_isolation_index_with_six_five_four_and_three_dimensions(settings: Settings) -> None:
    assessment = harmonise(staged_example(), key=KEY, settings=settings)["assessment"]
    first, second = by_wave(assessment, settings, "1001"), by_wave(assessment, settings, "1002")
    assert first["dimensions_answered"].tolist() == [6, 5, 4]
    assert first["isolation_index"].tolist() == pytest.approx([100 * 12 / 18, 60.0, 50.0])
    assert first["isolated"].tolist() == [True, True, True]  # 50 exactly is isolated
    assert second["dimensions_answered"].tolist() == [3, 6, 6]
    assert second["isolation_index"].isna().tolist() == [True, False, False]  # 3 answered -> missing
    assert second["isolation_index"].iloc[1:].tolist() == pytest.approx([100 * 1 / 18, 0.0])
    assert second["isolated"].tolist() == [pd.NA, False, False]
    assert first[DIMENSIONS].iloc[0].tolist() == [3, 3, 2, 1, 0, 3]


def test_isolation_index_function_matches_hand_computation() -> None:
    dims = pd.DataFrame(
        {
            "a": [3, 3, 2, 0],
            "b": [3, pd.NA, 1, pd.NA],
            "c": [0, 0, 0, pd.NA],
            "d": [0, 3, 3, pd.NA],
        },
        dtype="Int64",
    )
    weights = {"a": 1, "b": 1, "c": 1, "d": 1}
    index = isolation_index(dims, weights=weights, max_score=3, min_answered=3)
    assert dimensions_answered(dims).tolist() == [4, 3, 4, 1]
    assert index.tolist()[:3] == pytest.approx([50.0, 100 * 6 / 9, 50.0])
    assert index.isna().tolist() == [False, False, False, True]


def test_isolation_weights_come_from_settings(tmp_path: Path) -> None:
    weights = dict.fromkeys(DIMENSIONS, 1)
    weights["non_recours"] = 2
    settings = settings_with(tmp_path, weights=weights)
    assessment = harmonise(staged_example(), key=KEY, settings=settings)["assessment"]
    first = by_wave(assessment, settings, "1001")
    # T0: (2*3 + 3 + 2 + 1 + 0 + 3) / (3 * 7); T6: non_recours missing, so the plain 60;
    # T12: (2*2 + 1 + 0 + 3) / (3 * 5)
    assert first["isolation_index"].tolist() == pytest.approx([100 * 15 / 21, 60.0, 100 * 8 / 15])
    assert first["isolated"].tolist() == [True, True, True]


def test_isolated_threshold_edge_and_setting(tmp_path: Path) -> None:
    index = pd.Series([50.0, 49.999, 50.0000001, pd.NA], dtype="Float64")
    assert isolated_flag(index, threshold=50).tolist() == [True, False, True, pd.NA]
    # 100 * (2/3 + 1/3) / 2 is 50 in exact arithmetic, whatever the rounding
    assert isolated_flag(pd.Series([100 * (2 / 3 + 1 / 3) / 2]), threshold=50).tolist() == [True]

    settings = settings_with(tmp_path, isolated_threshold=60, min_answered=5)
    first = by_wave(harmonise(staged_example(), key=KEY, settings=settings)["assessment"], settings, "1001")
    # min_answered 5: the T12 row (4 answered) has no index; 66.67 and 60 reach 60
    assert first["isolated"].tolist() == [True, True, pd.NA]
    assert first["isolation_index"].isna().tolist() == [False, False, True]


def test_scales_are_means_of_answered_items(settings: Settings) -> None:
    first = by_wave(harmonise(staged_example(), key=KEY, settings=settings)["assessment"], settings, "1001")
    assert first["empowerment"].iloc[0] == pytest.approx((4 + 5 + 3) / 3)
    assert first["parental_stress"].iloc[0] == pytest.approx((2 + 2 + 3) / 3)
    assert first["empowerment"].isna().tolist() == [False, True, True]
    assert first["satisfaction_relation"].tolist() == [pd.NA, 5, pd.NA]
    assert first["satisfaction_help"].tolist() == [pd.NA, 4, pd.NA]
    assert first["satisfaction_recommend"].tolist() == [pd.NA, 5, pd.NA]
    assert first["assessment_date"].tolist() == list(pd.to_datetime(["2024-01-25", "2024-07-20", "2025-01-18"]))
    items = pd.DataFrame({"x": ["1", None], "y": ["4", None]}, dtype="string")
    assert item_mean(items).tolist() == [2.5, pd.NA]


def test_empty_followup_form_is_left_out_and_counted(settings: Settings) -> None:
    rows = ASSESSMENTS + [{"record_id": "1002", "event": "t24_arm_1", "ressources_3m": []}]
    tables = harmonise(staged_example(suivi=rows), key=KEY, settings=settings)
    assert len(tables["assessment"]) == 6
    assert tables.counts["assessment_rows_empty"] == 1


def test_duplicate_family_wave_names_count_and_event(tmp_path: Path) -> None:
    events = {"t0_arm_1": 0, "t6_arm_1": 6, "t6b_arm_1": 6, "t12_arm_1": 12, "t24_arm_1": 24}
    settings = settings_with(tmp_path, events=events)
    rows = ASSESSMENTS + [{**ASSESSMENTS[1], "event": "t6b_arm_1"}]
    with pytest.raises(HarmoniseError) as error:
        harmonise(staged_example(suivi=rows), key=KEY, settings=settings)
    message = str(error.value)
    assert "1 row" in message and "'t6b_arm_1'" in message and "(family_id, wave)" in message
    assert "1001" not in message and expected_id(settings, "1001") not in message and "2024-07-20" not in message


# ------------------------------------------------------------------------------ family, children, needs, referrals
def test_family_from_famille_and_sortie(settings: Settings) -> None:
    family = harmonise(staged_example(), key=KEY, settings=settings)["family"].set_index("family_id")
    first, second = family.loc[expected_id(settings, "1001")], family.loc[expected_id(settings, "1002")]
    assert first["first_contact_date"] == pd.Timestamp("2024-01-15")
    assert first["recruitment_channel"] == "parc" and first["worker_id"] == "W1"
    assert bool(first["isolated_at_contact"]) is True and bool(first["single_parent"]) is False
    assert first["immigration_status"] == "ne_canada" and first["language"] == "francais"
    assert first["consent_date"] == pd.Timestamp("2024-01-20")
    assert pd.isna(first["exit_date"]) and pd.isna(first["exit_reason"])
    assert second["exit_date"] == pd.Timestamp("2025-03-01") and second["exit_reason"] == "demenagement"
    assert pd.isna(second["immigration_status"]) and pd.isna(second["worker_id"])


def test_children_birth_month_and_unborn_flag(settings: Settings) -> None:
    child = harmonise(staged_example(), key=KEY, settings=settings)["child"]
    expected = pd.DataFrame(
        {
            "child_id": pd.Series(
                [expected_id(settings, "1001:enfant:1"), expected_id(settings, "1001:enfant:2"), expected_id(settings, "1002:enfant:1")],
                dtype="string",
            ),
            "family_id": pd.Series([expected_id(settings, "1001")] * 2 + [expected_id(settings, "1002")], dtype="string"),
            "birth_month": pd.Series(["2021-11", "2024-05", "2020-02"], dtype="string"),
            "unborn_at_contact": pd.Series([False, True, False], dtype="boolean"),
        }
    )
    pdt.assert_frame_equal(child, expected)
    # The exact birth date is nowhere in the output.
    assert "enf_date_naissance" not in child.columns
    assert not child.astype("string").stack().str.contains("-30|-17|-29").any()


def test_needs_and_referrals_from_repeating_forms(settings: Settings) -> None:
    tables = harmonise(staged_example(), key=KEY, settings=settings)
    need = tables["need"]
    assert need["need_id"].tolist() == [expected_id(settings, "1001:besoin:1"), expected_id(settings, "1001:besoin:2")]
    assert need["category"].tolist() == ["logement", "garde"]
    assert need["status"].tolist() == ["repondu", "aucune_ressource"]
    assert need["status_date"].tolist()[0] == pd.Timestamp("2024-03-01") and pd.isna(need["status_date"].iloc[1])
    referral = tables["referral"]
    assert referral["referral_id"].tolist() == [expected_id(settings, "1001:reference:1"), expected_id(settings, "1002:reference:1")]
    assert referral["direction"].tolist() == ["ptp_to_partner", "partner_to_ptp"]
    assert referral["from_org_id"].tolist() == [pd.NA, "O2"] and referral["to_org_id"].tolist() == ["O2", pd.NA]
    assert referral["outcome"].tolist() == ["service_recu", pd.NA]
    assert referral["family_id"].tolist() == [expected_id(settings, "1001"), expected_id(settings, "1002")]
    # A need's id and a referral's id of the same record and instance differ.
    assert need["need_id"].iloc[0] != referral["referral_id"].iloc[0]


# ------------------------------------------------------------------------------ activity
def test_activity_component_from_action_type(settings: Settings) -> None:
    activity = harmonise(staged_example(), key=KEY, settings=settings)["activity"]
    assert activity["action_type"].tolist() == ["demarchage", "information", "espaces_dialogue", "accompagnement_ressources"]
    assert activity["component"].tolist() == ["proximite", "soutien", "concertation", "soutien"]


def test_activity_family_id_joins_family_and_unknown_records_are_counted(settings: Settings) -> None:
    tables = harmonise(staged_example(), key=KEY, settings=settings)
    activity, family = tables["activity"], tables["family"]
    assert pd.isna(activity["family_id"].iloc[0])  # no family named: stays null
    joined = activity.merge(family[["family_id", "territory_id"]], on="family_id", how="inner", suffixes=("", "_family"))
    assert joined["activity_id"].tolist() == ["A2", "A4"]
    # 9999 is not a REDCap record: kept (with its pseudonym), counted, never named.
    assert activity["family_id"].iloc[2] == expected_id(settings, "9999")
    assert tables.counts["activity_rows_unknown_family"] == 1
    assert tables.counts["activity_records_unknown_family"] == 1


def test_unknown_action_type_is_refused(settings: Settings) -> None:
    staged = staged_example()
    staged["registry"] = registry_tables([{"activity_id": "A1", "action_type": "tricot"}])
    with pytest.raises(HarmoniseError, match=r"'tricot' \(1 row\)"):
        harmonise(staged, key=KEY, settings=settings)


def test_activity_id_used_twice_is_refused_naming_files(settings: Settings) -> None:
    staged = staged_example()
    staged["registry"] = registry_tables(
        [
            {"activity_id": "A1", "action_type": "demarchage", "source_file": "T01-01.csv"},
            {"activity_id": "A1", "action_type": "reperage", "source_file": "T01-01b.xlsx"},
        ]
    )
    with pytest.raises(
        HarmoniseError,
        match=r"activity: the key \(activity_id, territory_id\) is repeated on 1 row \(in file\(s\) T01-01\.csv, T01-01b\.xlsx\)",
    ):
        harmonise(staged, key=KEY, settings=settings)


def test_the_same_activity_id_in_two_territories_is_two_activities(settings: Settings) -> None:
    # Partners number their activities on their own: ids are unique within a territory.
    staged = staged_example()
    staged["registry"] = registry_tables(
        [
            {"activity_id": "A1", "action_type": "demarchage", "territory_id": "T01-01"},
            {"activity_id": "A1", "action_type": "reperage", "territory_id": "T06-01"},
        ]
    )
    activity = harmonise(staged, key=KEY, settings=settings)["activity"]
    assert activity[["activity_id", "territory_id"]].values.tolist() == [["A1", "T01-01"], ["A1", "T06-01"]]


# ------------------------------------------------------------------------------ pseudonyms
def test_pseudonyms_equal_an_independent_hmac(settings: Settings) -> None:
    ids = pseudonymise(pd.Series(["1001", None, "1002", "1001"]), key=KEY, project=project(settings))
    assert ids.dtype == "string"
    assert ids.tolist() == [expected_id(settings, "1001"), pd.NA, expected_id(settings, "1002"), expected_id(settings, "1001")]
    assert pseudonym("1001", key=KEY, project=project(settings)) == expected_id(settings, "1001")
    short = pseudonymise(pd.Series(["1001"]), key=KEY, project="p", length=8)
    assert short.iloc[0] == hmac.new(KEY, b"p1001", hashlib.sha256).hexdigest()[:8]
    instances = pseudonymise_instances(
        pd.Series(["1001", "1001"]), pd.Series([1, 2], dtype="Int64"), form="enfant", key=KEY, project=project(settings)
    )
    assert instances.tolist() == [expected_id(settings, "1001:enfant:1"), expected_id(settings, "1001:enfant:2")]


def test_pseudonyms_stable_across_calls_and_change_with_the_key(settings: Settings) -> None:
    first = harmonise(staged_example(), key=KEY, settings=settings)
    again = harmonise(staged_example(), key=KEY, settings=settings)
    other = harmonise(staged_example(), key=b"another-key", settings=settings)
    for table, column in [("family", "family_id"), ("child", "child_id"), ("need", "need_id"), ("referral", "referral_id")]:
        pdt.assert_series_equal(first[table][column], again[table][column])
        assert not set(first[table][column]) & set(other[table][column])
    assert len(first["family"]["family_id"].iloc[0]) == settings["pseudonym"]["id_length"]


def test_pseudonymise_hashes_each_distinct_value_once(monkeypatch: pytest.MonkeyPatch) -> None:
    import proximite.cohort.pseudonym as module

    hashed: list[int] = []
    real = module._digests

    def counting(messages: list[object], **kwargs: Any) -> list[str | None]:
        hashed.append(sum(message is not None for message in messages))
        return real(messages, **kwargs)

    monkeypatch.setattr(module, "_digests", counting)
    values = pd.Series(np.array(["a", "b", None, "c"] * 1000, dtype=object))
    ids = pseudonymise(values, key=KEY, project="p")
    assert hashed == [3]
    assert ids.iloc[0] == hmac.new(KEY, b"pa", hashlib.sha256).hexdigest()[:16] and pd.isna(ids.iloc[2])


def test_pseudonymise_refuses_an_empty_key() -> None:
    with pytest.raises(ValueError, match="non-empty"):
        pseudonymise(pd.Series(["1"]), key=b"", project="p")
