"""The synthetic cohort generator on tiny cohorts: layout, REDCap export format, codes,
partner registry files, censoring and determinism."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyreadstat
import pytest
import yaml

from proximite.cohort.codebook import REDCAP_DICTIONARY_HEADERS, Codebook, load_codebook
from proximite.cohort.sandbox.geography import make_organisations, make_territories
from proximite.cohort.sandbox.synth import SynthSummary, generate_cohort, packaged_settings
from proximite.config import load_settings

PREFIX = [
    "record_id",
    "redcap_event_name",
    "redcap_repeat_instrument",
    "redcap_repeat_instance",
    "redcap_data_access_group",
]
TINY = {"families": 48, "territories": 5, "seed": 11}
#: The project's missing-data codes (project.json): a coded field may hold one instead of a choice.
MISSING_CODES = {"NSP", "REF"}


@pytest.fixture(scope="module")
def cb() -> Codebook:
    return load_codebook()


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> SynthSummary:
    return generate_cohort(tmp_path_factory.mktemp("tiny") / "input", **TINY)


@pytest.fixture(scope="module")
def tiny_again(tmp_path_factory: pytest.TempPathFactory) -> SynthSummary:
    return generate_cohort(tmp_path_factory.mktemp("tiny_again") / "input", **TINY)


@pytest.fixture(scope="module")
def records(tiny: SynthSummary) -> pd.DataFrame:
    return pd.read_csv(tiny.out_dir / "redcap" / "records.csv", dtype=str, keep_default_na=False)


def _hashes(root: Path) -> dict[str, str]:
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


# --------------------------------------------------------------------------------------- layout
def test_writes_the_documented_layout(tiny: SynthSummary) -> None:
    root = tiny.out_dir
    expected = [
        "redcap/data_dictionary.csv",
        "redcap/records.csv",
        "redcap/events.csv",
        "redcap/arms.csv",
        "redcap/form_event_mapping.csv",
        "redcap/repeating_forms_events.csv",
        "redcap/dags.csv",
        "redcap/project.json",
        "registry/workers.csv",
        "registry/supervision.csv",
        "reference/regions.csv",
        "reference/territories.csv",
        "reference/organisations.csv",
        "costs/costs.csv",
        "truth.json",
    ]
    for name in expected:
        assert (root / name).is_file(), name
    activity_files = sorted(
        p for p in (root / "registry" / "activities").iterdir() if not p.name.endswith(".mapping.yaml")
    )
    territories = pd.read_csv(root / "reference" / "territories.csv", dtype=str)
    assert [p.stem for p in activity_files] == sorted(territories["territory_id"])
    assert {p.suffix for p in activity_files} == {".csv", ".xlsx", ".sav"}
    assert tiny.counts["families"] == TINY["families"]
    assert tiny.registry_formats == {"csv": 2, "xlsx": 1, "sav": 1, "csv_cp1252": 1}


def test_metadata_files_have_redcap_shapes(tiny: SynthSummary, cb: Codebook) -> None:
    redcap = tiny.out_dir / "redcap"
    dictionary = pd.read_csv(redcap / "data_dictionary.csv", dtype=str, keep_default_na=False)
    assert list(dictionary.columns) == REDCAP_DICTIONARY_HEADERS
    assert dictionary["Variable / Field Name"].tolist() == cb.data_dictionary["field_name"].tolist()
    assert list(pd.read_csv(redcap / "events.csv").columns) == [
        "event_name",
        "arm_num",
        "unique_event_name",
        "custom_event_label",
        "day_offset",
        "offset_min",
        "offset_max",
    ]
    assert list(pd.read_csv(redcap / "arms.csv").columns) == ["arm_num", "name"]
    assert list(pd.read_csv(redcap / "form_event_mapping.csv").columns) == ["arm_num", "unique_event_name", "form"]
    assert list(pd.read_csv(redcap / "repeating_forms_events.csv").columns) == [
        "event_name",
        "form_name",
        "custom_form_label",
    ]
    dags = pd.read_csv(redcap / "dags.csv", dtype=str)
    assert list(dags.columns) == ["data_access_group_name", "unique_group_name", "data_access_group_id"]
    assert dags["unique_group_name"].str.fullmatch(r"[a-z0-9_]{1,18}").all()
    project = json.loads((redcap / "project.json").read_text(encoding="utf-8"))
    assert project["is_longitudinal"] == 1 and project["has_repeating_instruments_or_events"] == 1
    assert project["project_title"] == cb.project["title"]


# ------------------------------------------------------------------------------ records export
def test_records_columns_follow_the_redcap_layout(records: pd.DataFrame, cb: Codebook) -> None:
    expected = list(PREFIX)
    for form, fields in cb.forms.items():
        for name, spec in fields.items():
            if name == "record_id":
                continue
            if spec["type"] == "checkbox":
                expected += [f"{name}___{code}" for code in cb.codes(spec["enum"])]
            else:
                expected.append(name)
        expected.append(f"{form}_complete")
    assert list(records.columns) == expected


def test_record_ids_are_1_to_n_strings(records: pd.DataFrame) -> None:
    famille = records.loc[records["redcap_event_name"] == "inclusion_arm_1"]
    ids = famille.loc[famille["redcap_repeat_instrument"] == "", "record_id"]
    assert ids.tolist() == [str(i) for i in range(1, TINY["families"] + 1)]


def test_every_coded_value_is_an_allowed_code(records: pd.DataFrame, cb: Codebook) -> None:
    fields = cb.fields
    checked = 0
    for field in fields.itertuples(index=False):
        if field.field_type in {"dropdown", "radio", "yesno"}:
            allowed = set(cb.field_choices(field.field_name))
            values = set(records[field.field_name]) - {""} - MISSING_CODES
            assert values <= allowed, (field.field_name, sorted(values - allowed))
            checked += bool(values)
    assert checked >= 25  # the coded fields do carry values
    for form in cb.forms:
        rows = _rows_of_form(records, form, cb)
        assert set(rows[f"{form}_complete"]) <= {"0", "1", "2"}
        assert (rows[f"{form}_complete"] != "").all()


def _rows_of_form(records: pd.DataFrame, form: str, cb: Codebook) -> pd.DataFrame:
    if form in cb.repeating_forms:
        return records.loc[records["redcap_repeat_instrument"] == form]
    events = cb.events_of_form(form)
    return records.loc[records["redcap_event_name"].isin(events) & (records["redcap_repeat_instrument"] == "")]


def test_checkboxes_are_filled_only_where_the_form_is_collected(records: pd.DataFrame, cb: Codebook) -> None:
    checkbox_columns = [c for c in records.columns if "___" in c]
    suivi = records["redcap_event_name"].isin(cb.events_of_form("suivi")) & (records["redcap_repeat_instrument"] == "")
    on_suivi = records.loc[suivi, checkbox_columns]
    assert set(np.unique(on_suivi.to_numpy())) == {"0", "1"}
    assert (records.loc[~suivi, checkbox_columns] == "").all().all()
    # "aucune" is ticked exactly when no resource is.
    resources = [c for c in checkbox_columns if not c.endswith("___aucune")]
    used = (on_suivi[resources] == "1").sum(axis=1)
    assert ((used == 0) == (on_suivi["ressources_3m___aucune"] == "1")).all()


def test_rows_carry_only_their_own_forms_fields(records: pd.DataFrame, cb: Codebook) -> None:
    form_columns = {form: [c for c in cb.export_columns(form) if c != "record_id"] for form in cb.forms}
    for form, columns in form_columns.items():
        own = _rows_of_form(records, form, cb).index
        others = records.index.difference(own)
        assert (records.loc[others, columns] == "").all().all(), form
        if len(own):
            assert (records.loc[own, f"{form}_complete"] != "").all()


def test_repeat_instances_are_numbered_1_to_k(records: pd.DataFrame, cb: Codebook) -> None:
    repeating = records.loc[records["redcap_repeat_instrument"] != ""]
    assert set(repeating["redcap_repeat_instrument"]) == cb.repeating_forms
    for (_, _), group in repeating.groupby(["record_id", "redcap_repeat_instrument"]):
        assert group["redcap_repeat_instance"].astype(int).tolist() == list(range(1, len(group) + 1))
    assert (records.loc[records["redcap_repeat_instrument"] == "", "redcap_repeat_instance"] == "").all()


def test_rows_are_ordered_by_record_event_and_instance(records: pd.DataFrame, cb: Codebook) -> None:
    event_order = {event: i for i, event in enumerate(cb.event_names)}
    form_order = {form: i + 1 for i, form in enumerate(cb.forms)}
    keys = pd.DataFrame(
        {
            "record": records["record_id"].astype(int),
            "event": records["redcap_event_name"].map(event_order),
            "form": records["redcap_repeat_instrument"].map(form_order).fillna(0),
            "instance": pd.to_numeric(records["redcap_repeat_instance"], errors="coerce").fillna(0),
        }
    )
    assert keys["event"].notna().all()
    assert keys.equals(keys.sort_values(["record", "event", "form", "instance"], kind="stable"))


def test_each_rows_dag_is_a_declared_group(records: pd.DataFrame, tiny: SynthSummary) -> None:
    dags = pd.read_csv(tiny.out_dir / "redcap" / "dags.csv", dtype=str)
    assert set(records["redcap_data_access_group"]) <= set(dags["unique_group_name"])
    assert (records.groupby("record_id")["redcap_data_access_group"].nunique() == 1).all()


def test_identifiers_are_filled_with_fake_values(records: pd.DataFrame) -> None:
    famille = records.loc[
        (records["redcap_event_name"] == "inclusion_arm_1") & (records["redcap_repeat_instrument"] == "")
    ]
    assert famille["fam_telephone"].str.fullmatch(r"\(\d{3}\) 555-01\d\d").all()
    assert famille["fam_code_postal"].str.fullmatch(r"[A-Z]\d[A-Z] \d[A-Z]\d").all()
    emails = famille["fam_courriel"].loc[famille["fam_courriel"] != ""]
    assert len(emails) and emails.str.endswith("@courriel.example").all()
    assert (famille[["fam_nom_parent", "fam_prenom_parent", "fam_adresse", "parent_date_naissance"]] != "").all().all()
    children = records.loc[records["redcap_repeat_instrument"] == "enfant"]
    assert (children["enf_prenom"] != "").all()


def test_wave_dates_follow_the_schedule(records: pd.DataFrame) -> None:
    famille = records.loc[
        (records["redcap_event_name"] == "inclusion_arm_1") & (records["redcap_repeat_instrument"] == "")
    ]
    first_contact = pd.to_datetime(famille.set_index("record_id")["date_premier_contact"])
    waves = records.loc[records["redcap_event_name"].isin(["t0_arm_1", "t6_arm_1", "t12_arm_1", "t24_arm_1"])]
    dates = waves.pivot(index="record_id", columns="redcap_event_name", values="suivi_date").apply(pd.to_datetime)
    t0 = dates["t0_arm_1"]
    assert t0.notna().all()  # every family answers T0
    delay = (t0 - first_contact.reindex(t0.index)).dt.days
    assert delay.between(0, 30).all()
    for event, months in (("t6_arm_1", 6), ("t12_arm_1", 12), ("t24_arm_1", 24)):
        observed = dates[event].dropna()
        due = t0.reindex(observed.index) + pd.DateOffset(months=months)
        assert ((observed - due).dt.days.abs() <= 45).all(), event
    # Satisfaction is asked after T0 only.
    t0_rows = records.loc[records["redcap_event_name"] == "t0_arm_1"]
    assert (t0_rows[["satisf_relation", "satisf_aide", "satisf_recommande"]] == "").all().all()


def test_referrals_use_organisations_of_the_familys_territory(records: pd.DataFrame, tiny: SynthSummary) -> None:
    organisations = pd.read_csv(tiny.out_dir / "reference" / "organisations.csv", dtype=str).set_index("org_id")
    territories = pd.read_csv(tiny.out_dir / "reference" / "territories.csv", dtype=str).set_index("redcap_dag")
    referrals = records.loc[records["redcap_repeat_instrument"] == "reference"]
    territory = territories.loc[referrals["redcap_data_access_group"], "territory_id"].to_numpy()
    source = organisations.loc[referrals["ref_org_source"]]
    target = organisations.loc[referrals["ref_org_destination"]]
    assert (source["territory_id"].to_numpy() == territory).all()
    assert (target["territory_id"].to_numpy() == territory).all()
    forward = (referrals["ref_direction"] == "ptp_to_partner").to_numpy()
    assert (source["is_host"].to_numpy()[forward] == "1").all() and (target["is_host"].to_numpy()[forward] == "0").all()
    assert (source["is_host"].to_numpy()[~forward] == "0").all() and (
        target["is_host"].to_numpy()[~forward] == "1"
    ).all()
    outcome_dates = referrals.loc[referrals["ref_date_resultat"] != ""]
    assert (outcome_dates["ref_date_resultat"] >= outcome_dates["ref_date"]).all()


# -------------------------------------------------------------------------------------- registry
def _read_partner_file(path: Path, mapping: dict) -> pd.DataFrame:
    if path.suffix == ".xlsx":
        return pd.read_excel(path, sheet_name=mapping.get("sheet", 0), dtype=object)
    if path.suffix == ".sav":
        frame, _ = pyreadstat.read_sav(str(path), apply_value_formats=True)
        return frame
    return pd.read_csv(path, dtype=str, keep_default_na=False, encoding=mapping.get("encoding", "utf-8"))


def test_partner_files_match_their_mapping(tiny: SynthSummary, cb: Codebook) -> None:
    activities = tiny.out_dir / "registry" / "activities"
    canonical = list(cb.registry["activity"])
    mappings = sorted(activities.glob("*.mapping.yaml"))
    assert len(mappings) == 3
    seen_encodings = set()
    for mapping_path in mappings:
        mapping = yaml.safe_load(mapping_path.read_text(encoding="utf-8"))
        stem = mapping_path.name.removesuffix(".mapping.yaml")
        data_path = next(p for p in activities.iterdir() if p.name.startswith(stem + ".") and p != mapping_path)
        frame = _read_partner_file(data_path, mapping)
        assert mapping["table"] == "activity"
        assert set(mapping["columns"]) | set(mapping["constants"]) == set(canonical)
        assert mapping["constants"]["territory_id"] == stem
        assert set(mapping["columns"].values()) <= set(frame.columns)
        for column, codes in mapping["codes"].items():
            values = frame[mapping["columns"][column]].dropna().astype(str)
            values = values.loc[values != ""]
            unmapped = set(values) - set(codes)
            # Only the SPSS file's user-missing label is left unmapped.
            assert unmapped <= {"Non précisé"}, (data_path.name, column, unmapped)
            assert set(codes.values()) <= set(cb.codes(column))
        seen_encodings.add(mapping.get("encoding", "utf-8"))
        if data_path.suffix == ".csv":
            raw = data_path.read_bytes()
            with pytest.raises(UnicodeDecodeError):
                raw.decode("utf-8")
            assert "é" in raw.decode("cp1252").splitlines()[0]
    assert "cp1252" in seen_encodings


def test_spss_file_declares_a_user_missing_code(tiny: SynthSummary) -> None:
    path = next((tiny.out_dir / "registry" / "activities").glob("*.sav"))
    raw, meta = pyreadstat.read_sav(str(path), user_missing=True)
    assert meta.missing_ranges["lieu"] == [{"lo": 99.0, "hi": 99.0}]
    assert meta.variable_value_labels["lieu"][99.0] == "Non précisé"
    assert (raw["lieu"] == 99).any()
    labelled, _ = pyreadstat.read_sav(str(path), apply_value_formats=True)
    assert labelled["lieu"].isna().sum() == (raw["lieu"] == 99).sum()


def test_template_activity_files_have_the_canonical_columns(tiny: SynthSummary, cb: Codebook) -> None:
    activities = tiny.out_dir / "registry" / "activities"
    workers = pd.read_csv(tiny.out_dir / "registry" / "workers.csv", dtype=str, keep_default_na=False)
    assert list(workers.columns) == list(cb.registry["worker"])
    assert workers.groupby("territory_id").size().between(1, 4).all()
    templates = [p for p in activities.glob("*.csv") if not (activities / f"{p.stem}.mapping.yaml").exists()]
    assert templates
    for path in templates:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        assert list(frame.columns) == list(cb.registry["activity"])
        assert set(frame["action_type"]) <= set(cb.codes("action_type"))
        assert set(frame["place"]) <= set(cb.codes("place"))
        assert frame["minutes"].astype(int).between(5, 240).all()
        assert frame["activity_id"].is_unique
        # The worker of an activity is the one in tenure that day in that territory.
        tenure = workers.set_index("worker_id").loc[frame["worker_id"]]
        assert (tenure["territory_id"].to_numpy() == frame["territory_id"].to_numpy()).all()
        assert (tenure["start_date"].to_numpy() <= frame["activity_date"].to_numpy()).all()
        ends = tenure["end_date"].to_numpy()
        assert ((ends == "") | (frame["activity_date"].to_numpy() <= ends)).all()
        concertation = frame["action_type"].isin(["suivi_partenaires", "adaptation_pratiques", "espaces_dialogue"])
        assert (frame.loc[concertation, "org_id"] != "").all() and (
            frame.loc[concertation, "family_record_id"] == ""
        ).all()


# ---------------------------------------------------------------------------------- determinism
def test_same_seed_writes_the_same_bytes(tiny: SynthSummary, tiny_again: SynthSummary) -> None:
    first, second = _hashes(tiny.out_dir), _hashes(tiny_again.out_dir)
    assert first == second
    assert any(name.endswith(".xlsx") for name in first) and any(name.endswith(".sav") for name in first)


def test_different_seed_gives_different_records(tmp_path: Path, records: pd.DataFrame) -> None:
    other = generate_cohort(tmp_path / "other", **{**TINY, "seed": TINY["seed"] + 1})
    other_records = pd.read_csv(other.out_dir / "redcap" / "records.csv", dtype=str, keep_default_na=False)
    assert list(other_records.columns) == list(records.columns)
    assert not other_records.equals(records)
    assert other_records["date_premier_contact"].tolist() != records["date_premier_contact"].tolist()


def test_twenty_families_over_the_default_territories(tmp_path: Path) -> None:
    summary = generate_cohort(tmp_path / "twenty", families=20, seed=3)
    assert summary.counts["families"] == 20
    assert summary.counts["territories"] == 50
    truth = json.loads((tmp_path / "twenty" / "truth.json").read_text(encoding="utf-8"))
    assert truth["calibration"]["realised_as_written"]["families"] == 20


def test_as_of_censors_everything_later(tmp_path: Path) -> None:
    as_of = "2024-08-31"
    full = generate_cohort(tmp_path / "full", families=120, territories=4, seed=5)
    cut = generate_cohort(tmp_path / "cut", families=120, territories=4, seed=5, as_of=as_of)
    full_records = pd.read_csv(full.out_dir / "redcap" / "records.csv", dtype=str, keep_default_na=False)
    cut_records = pd.read_csv(cut.out_dir / "redcap" / "records.csv", dtype=str, keep_default_na=False)
    date_columns = [
        c for c in cut_records.columns if c.startswith(("date_", "suivi_date", "bes_date", "ref_date", "sortie_date"))
    ]
    for column in date_columns:
        values = cut_records[column].loc[cut_records[column] != ""]
        assert (values <= as_of).all(), column
    assert "t24_arm_1" not in set(cut_records["redcap_event_name"])  # not due yet
    # Records included by then are the first ones of the complete cohort, with the same data.
    cut_ids = cut_records["record_id"].astype(int).unique()
    assert 0 < len(cut_ids) < 120 and cut_ids.tolist() == list(range(1, len(cut_ids) + 1))
    famille = lambda r: r.loc[
        (r["redcap_event_name"] == "inclusion_arm_1") & (r["redcap_repeat_instrument"] == "")
    ]  # noqa: E731
    same = (
        famille(full_records)
        .set_index("record_id")
        .loc[famille(cut_records)["record_id"], ["date_premier_contact", "isole_contact"]]
    )
    assert (
        same.to_numpy().tolist() == famille(cut_records)[["date_premier_contact", "isole_contact"]].to_numpy().tolist()
    )
    needs = cut_records.loc[cut_records["redcap_repeat_instrument"] == "besoin"]
    assert {"en_cours", "identifie"} & set(needs["bes_statut"])  # open needs at the cut
    for path in (cut.out_dir / "registry").rglob("*.csv"):
        if path.name in {"workers.csv", "supervision.csv"} or (path.parent / f"{path.stem}.mapping.yaml").exists():
            continue
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        assert (frame["activity_date"] <= as_of).all()
    workers = pd.read_csv(cut.out_dir / "registry" / "workers.csv", dtype=str, keep_default_na=False)
    assert (workers["start_date"] <= as_of).all() and (
        (workers["end_date"] == "") | (workers["end_date"] <= as_of)
    ).all()
    supervision = pd.read_csv(cut.out_dir / "registry" / "supervision.csv", dtype=str)
    assert (supervision["session_date"] <= as_of).all()
    costs = pd.read_csv(cut.out_dir / "costs" / "costs.csv", dtype=str)
    assert costs["period"].max() == "2024-T3"
    # The qualitative register: no session after the cut, no parent interview of a wave not reached by
    # then (T6 from 2024-07-01); the complete cohort has later sessions and T12, T24 interviews.
    cut_register = pd.read_csv(cut.out_dir / "qualitative" / "register.csv", dtype=str, keep_default_na=False)
    full_register = pd.read_csv(full.out_dir / "qualitative" / "register.csv", dtype=str, keep_default_na=False)
    assert len(cut_register) > 0 and (cut_register["session_date"] <= as_of).all()
    assert (full_register["session_date"] > as_of).any()
    assert set(cut_register.loc[cut_register["wave"] != "", "wave"]) == {"0", "6"}
    assert {"12", "24"} <= set(full_register["wave"])
    for row in full_register.loc[full_register["wave"] != ""].itertuples(index=False):
        wave_start = (pd.Timestamp("2024-01-01") + pd.DateOffset(months=int(row.wave))).date().isoformat()
        assert row.session_date >= wave_start, (row.session_id, row.wave)
    assert cut.as_of == dt.date(2024, 8, 31)


def _dates_after(input_dir: Path, day: dt.date) -> dict[str, int]:
    """Per date field of the data dictionary (date validations), how many records' values are after ``day``."""
    dictionary = pd.read_csv(input_dir / "redcap" / "data_dictionary.csv", dtype=str, keep_default_na=False)
    dated = dictionary.loc[
        dictionary["Text Validation Type OR Show Slider Number"].str.startswith("date"), "Variable / Field Name"
    ]
    records = pd.read_csv(input_dir / "redcap" / "records.csv", dtype=str, keep_default_na=False)
    assert len(dated) >= 8 and set(dated) <= set(records.columns)
    after = {}
    for column in dated:
        values = records.loc[records[column] != "", column]
        assert len(values) > 0, column
        after[column] = int((values.map(dt.date.fromisoformat) > day).sum())
    return after


def test_synth_command_writes_no_date_after_the_day_it_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from proximite.cli import app

    monkeypatch.chdir(tmp_path)  # the command reads the working directory's settings: none here
    arguments = ["synth", "--families", "120", "--territories", "4", "--seed", "5"]
    result = CliRunner().invoke(app, [*arguments, "--out", str(tmp_path / "today")])
    assert result.exit_code == 0, result.output
    today = dt.date.today()
    after = _dates_after(tmp_path / "today", today)
    assert sum(after.values()) == 0, {column: count for column, count in after.items() if count}
    register = pd.read_csv(tmp_path / "today" / "qualitative" / "register.csv", dtype=str, keep_default_na=False)
    assert len(register) > 0 and (register["session_date"] <= today.isoformat()).all()  # interviews held by today
    truth = json.loads((tmp_path / "today" / "truth.json").read_text(encoding="utf-8"))
    assert today - dt.timedelta(days=1) <= dt.date.fromisoformat(truth["generator"]["as_of"]) <= today
    # Complete follow-up, asked for, runs past the end of recruitment's T24 (2027-03-31 at the latest).
    result = CliRunner().invoke(app, [*arguments, "--out", str(tmp_path / "complete"), "--complete-follow-up"])
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "complete" / "truth.json").read_text(encoding="utf-8"))["generator"]["as_of"] is None
    assert _dates_after(tmp_path / "complete", dt.date(2026, 6, 30))["suivi_date"] > 0


@pytest.mark.parametrize("value", ["2026-02-30", "30/06/2026", ""])
def test_synth_command_refuses_a_bad_as_of_naming_the_option(tmp_path: Path, value: str) -> None:
    from typer.testing import CliRunner

    from proximite.cli import app

    result = CliRunner().invoke(app, ["synth", "--out", str(tmp_path / "bad"), "--families", "5", "--as-of", value])
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.replace("│", " ").split())
    assert "--as-of" in text and "YYYY-MM-DD" in text and repr(value) in text
    assert not (tmp_path / "bad").exists()
    both = CliRunner().invoke(
        app, ["synth", "--out", str(tmp_path / "bad"), "--as-of", "2026-06-30", "--complete-follow-up"]
    )
    assert both.exit_code == 2 and "not both" in " ".join(both.output.replace("│", " ").split())


def test_rejects_waves_without_an_event(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no REDCap event"):
        generate_cohort(tmp_path / "bad", families=20, territories=2, waves=(0, 18))
    with pytest.raises(ValueError, match="starting with 0"):
        generate_cohort(tmp_path / "bad", families=20, territories=2, waves=(6, 12))



def test_reads_the_packaged_settings_not_the_working_directory(
    tiny: SynthSummary, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "proximite.toml").write_text("[isolation]\nisolated_threshold = 40\n", encoding="utf-8")
    monkeypatch.chdir(project)
    # A project's configuration in the working directory changes nothing: same bytes as elsewhere.
    here = generate_cohort(tmp_path / "here", **TINY)
    assert _hashes(here.out_dir) == _hashes(tiny.out_dir)
    assert _isolation(here)["index_definition"]["isolated_threshold"] == 50
    # A project's settings are used when passed.
    own = generate_cohort(tmp_path / "own", **TINY, settings=load_settings(project))
    assert _isolation(own)["index_definition"]["isolated_threshold"] == 40
    assert packaged_settings()["isolation"]["isolated_threshold"] == 50

def test_progress_reports_every_step(tmp_path: Path) -> None:
    calls: list[tuple[str, int, int]] = []
    generate_cohort(tmp_path / "progress", families=20, territories=2, seed=1, progress=lambda *a: calls.append(a))
    assert [done for _, done, _ in calls] == list(range(1, len(calls) + 1))
    assert calls[-1][1] == calls[-1][2]


def test_truth_records_the_planted_effects(tiny: SynthSummary) -> None:
    truth = json.loads((tiny.out_dir / "truth.json").read_text(encoding="utf-8"))
    for key in (
        "isolation",
        "attrition",
        "service_gaps",
        "time_to_need_met",
        "turnover",
        "travel",
        "referrals",
        "calibration",
    ):
        assert key in truth, key
    assert set(truth["isolation"]["latent_wave_shift"]) == {"0", "6", "12", "24"}
    assert truth["attrition"]["beta_per_10_index_points"] > 0
    assert truth["service_gaps"]["planted_pairs"]
    assert set(truth["time_to_need_met"]["median_days"]) == set(load_codebook().codes("need_category"))
    assert truth["generator"]["seed"] == TINY["seed"]


def test_truth_holds_the_scales_complete_data_means_with_the_planted_directions(tmp_path: Path) -> None:
    generate_cohort(tmp_path / "scales", families=400, territories=4, seed=7)
    scales = json.loads((tmp_path / "scales" / "truth.json").read_text(encoding="utf-8"))["empowerment_and_stress"]
    for scale, direction in (("empowerment", 1), ("parental_stress", -1)):
        complete = scales["complete_data"][scale]
        assert set(complete["mean_by_wave"]) == set(complete["mean_change_from_t0_by_wave"]) == {"0", "6", "12", "24"}
        assert complete["mean_change_from_t0_by_wave"]["0"] == 0
        # Planted: 0.55 (empowerment) and -0.4 (stress) points times F(24) = 0.91, times h (mean about 1),
        # shrunk a little by the 1-5 clipping.
        assert 0.2 < direction * complete["mean_change_from_t0_by_wave"]["24"] < 0.6
        assert all(1 <= mean <= 5 for mean in complete["mean_by_wave"].values())


def test_scale_scores_are_the_means_of_the_answered_items() -> None:
    from proximite.cohort.sandbox._scale_truth import complete_means, scale_scores

    items = ("a", "b", "c")
    frame = pd.DataFrame(
        {"family_index": [0, 0, 1, 1], "wave": [0, 6, 0, 6], "a": [1, 2, 0, 0], "b": [3, 0, 0, 5], "c": [2, 4, 0, 5]}
    )
    np.testing.assert_allclose(scale_scores(frame, items), [2.0, 3.0, np.nan, 5.0])
    means = complete_means(frame, items)
    # Wave 0: only family 0 scored (2.0); wave 6: (3 + 5) / 2; change: family 0 only, 3 - 2.
    assert means == {"mean_by_wave": {"0": 2.0, "6": 4.0}, "mean_change_from_t0_by_wave": {"0": 0.0, "6": 1.0}}


# ------------------------------------------------------------------------------------ geography
def test_pilot_geography() -> None:
    territories = make_territories(50, seed=20240101)
    assert len(territories) == 50 and territories["region_code"].nunique() == 13
    assert territories["host_type"].value_counts().to_dict() == {"OCF": 41, "CPSC": 7, "OCF_CPSC": 2}
    assert territories["territory_id"].str.fullmatch(r"T\d\d-\d\d").all()
    assert (territories["redcap_dag"] == "t" + territories["territory_id"].str[1:].str.replace("-", "_")).all()
    assert territories["territory_id"].is_unique and territories["name"].is_unique
    organisations = make_organisations(territories, seed=20240101)
    hosts = organisations.loc[organisations["is_host"]]
    assert len(hosts) == 50 and hosts["org_id"].str.endswith("-00").all()
    assert (hosts["network"] == "communautaire").all() and (hosts["mission"] == "famille_enfance").all()
    partners = organisations.loc[~organisations["is_host"]].groupby("territory_id").size()
    assert partners.between(8, 15).all()
    environment = territories.set_index("territory_id")["environment"]
    assert partners.groupby(environment).mean()["rural"] < partners.groupby(environment).mean()["urbain"]
    cb = load_codebook()
    assert set(organisations["network"]) <= set(cb.codes("network")) and set(organisations["mission"]) <= set(
        cb.codes("mission")
    )
    # The codebook's reference files are this output.
    assert cb.territories.equals(territories.astype(str))
    assert cb.organisations["org_id"].tolist() == organisations["org_id"].tolist()


def test_province_geography() -> None:
    territories = make_territories(300, seed=1)
    assert territories["region_code"].nunique() == 17
    assert territories["host_type"].value_counts().to_dict() == {"OCF": 246, "CPSC": 42, "OCF_CPSC": 12}
    by_region = territories.groupby("region_code")["environment"]
    assert (by_region.apply(lambda s: (s == "urbain").mean()).loc[["06", "13"]] > 0.7).all()
    remote = territories.loc[territories["region_code"].isin(["01", "08", "09", "10", "11"]), "environment"]
    assert (remote == "rural").mean() > 0.5
    assert territories["redcap_dag"].str.len().max() <= 18
    size = territories.groupby("region_code").size()
    assert size["06"] == size.max()  # Montréal has the most children aged 0-5


# ------------------------------------------------------------------------- other sizes and seeds
@pytest.mark.parametrize(
    ("families", "territories", "seed", "as_of"),
    [(20, 50, 1, None), (7, 2, 2, None), (150, 9, 3, "2024-05-15"), (60, 17, 4, None)],
)
def test_invariants_hold_across_sizes(
    tmp_path: Path, cb: Codebook, families: int, territories: int, seed: int, as_of: str | None
) -> None:
    summary = generate_cohort(tmp_path / "input", families=families, territories=territories, seed=seed, as_of=as_of)
    records = pd.read_csv(summary.out_dir / "redcap" / "records.csv", dtype=str, keep_default_na=False)
    for field in cb.fields.itertuples(index=False):
        if field.field_type in {"dropdown", "radio", "yesno"}:
            assert set(records[field.field_name]) - {""} - MISSING_CODES <= set(cb.field_choices(field.field_name)), field.field_name
    repeating = records.loc[records["redcap_repeat_instrument"] != ""]
    numbered = repeating.groupby(["record_id", "redcap_repeat_instrument"])["redcap_repeat_instance"]
    assert numbered.apply(lambda s: s.astype(int).tolist() == list(range(1, len(s) + 1))).all()
    dags = pd.read_csv(summary.out_dir / "redcap" / "dags.csv", dtype=str)
    assert set(records["redcap_data_access_group"]) <= set(dags["unique_group_name"])
    territories_frame = pd.read_csv(summary.out_dir / "reference" / "territories.csv", dtype=str)
    assert len(territories_frame) == territories
    # The pilot's 50 territories cover 13 regions; otherwise one region per territory up to all 17.
    assert territories_frame["region_code"].nunique() == (13 if territories == 50 else min(territories, 17))
    organisations = pd.read_csv(summary.out_dir / "reference" / "organisations.csv", dtype=str).set_index("org_id")
    referrals = records.loc[records["redcap_repeat_instrument"] == "reference"]
    territory = (
        territories_frame.set_index("redcap_dag").loc[referrals["redcap_data_access_group"], "territory_id"].to_numpy()
    )
    for column in ("ref_org_source", "ref_org_destination"):
        assert (organisations.loc[referrals[column], "territory_id"].to_numpy() == territory).all()
    famille = records.loc[
        (records["redcap_event_name"] == "inclusion_arm_1") & (records["redcap_repeat_instrument"] == "")
    ]
    assert famille["record_id"].tolist() == [str(i) for i in range(1, len(famille) + 1)]
    if as_of is None:
        assert len(famille) == families


# ------------------------------------------------------------------------ wave-shift calibration
#: Four territories, as the validity unit study's 400 families: the reference is built once.
REFERENCE = {"families": 60, "territories": 4}


def _isolation(summary: SynthSummary) -> dict:
    return json.loads((summary.out_dir / "truth.json").read_text(encoding="utf-8"))["isolation"]


def test_default_calibration_is_the_sample_and_is_not_recorded(tiny: SynthSummary) -> None:
    # The default writes the same truth.json as before the option existed: no calibration key.
    assert "wave_shift_calibration" not in _isolation(tiny)


def test_reference_calibration_plants_a_population_change(tmp_path: Path) -> None:
    from proximite.cohort.sandbox import _isolation as isolation_model

    first = generate_cohort(tmp_path / "a", **REFERENCE, seed=11, calibration="reference")
    second = generate_cohort(tmp_path / "b", **REFERENCE, seed=12, calibration="reference")
    sample = generate_cohort(tmp_path / "c", **REFERENCE, seed=11)
    a, b, c = _isolation(first), _isolation(second), _isolation(sample)
    recorded = a["wave_shift_calibration"]
    target = a["target_mean_index_change"]["by_wave"]
    assert recorded["method"] == "reference"
    assert recorded["population_target_mean_index_change_by_wave"] == target == c["target_mean_index_change"]["by_wave"]
    population = recorded["reference_population"]
    assert population["territories_per_block"] == 4
    assert population["families"] == isolation_model.REFERENCE_POPULATION["blocks"] * isolation_model.REFERENCE_POPULATION["families_per_block"]
    # Solved once on the reference: the same shifts whatever the cohort, not the sample's own.
    assert a["latent_wave_shift"] == b["latent_wave_shift"] != c["latent_wave_shift"]
    # Each cohort's expected change varies around the population target instead of sitting on it.
    mine, theirs = recorded["cohort_expected_mean_index_change_by_wave"], b["wave_shift_calibration"]["cohort_expected_mean_index_change_by_wave"]
    assert mine["0"] == theirs["0"] == 0.0
    for wave in ("6", "12", "24"):
        assert mine[wave] != pytest.approx(theirs[wave], abs=1e-3)
        assert abs(mine[wave] - target[wave]) < 10 and abs(theirs[wave] - target[wave]) < 10
    # The random draws are those of the sample calibration: the T0 scores (no shift) are the same.
    assert a["complete_data"]["mean_index_by_wave"]["0"] == c["complete_data"]["mean_index_by_wave"]["0"]
    assert a["complete_data"]["mean_index_by_wave"]["24"] != c["complete_data"]["mean_index_by_wave"]["24"]
    # And the reference calibration is itself deterministic.
    again = generate_cohort(tmp_path / "d", **REFERENCE, seed=11, calibration="reference")
    assert _hashes(first.out_dir) == _hashes(again.out_dir)


def test_reference_shifts_give_the_target_on_the_population_they_are_solved_on() -> None:
    """The solver of the reference: on the population it is solved on, the expected change is the
    planted one (Brent's method agrees with the sample calibration's bisection)."""
    from proximite.cohort.sandbox import _isolation as isolation_model

    rng = np.random.default_rng(3)
    base = rng.normal(0.2, 0.8, size=(2000, 6))
    modifier = np.maximum(1 + 0.4 * rng.standard_normal(2000), 0.0)
    shifts = isolation_model.solve_wave_shifts(base, modifier, (0, 6, 12, 24))
    change = isolation_model.expected_change(base, modifier, shifts)
    for months in (6, 12, 24):
        assert change[months] == pytest.approx(-20 * (1 - np.exp(-months / 10)), abs=1e-6)
    bisection = isolation_model.calibrate_wave_shifts(base, modifier, (0, 6, 12, 24))
    assert shifts == pytest.approx(bisection, abs=1e-7)


def test_rejects_an_unknown_calibration(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="calibration"):
        generate_cohort(tmp_path / "x", families=10, territories=2, seed=1, calibration="population")
