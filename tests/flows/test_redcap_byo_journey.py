"""Bring your own REDCap project: a team's project whose every name differs from ours feeds the same warehouse.

The team's project is the cohort's own, renamed: every form, field, event, DAG and code. A third
of the fields get near names (``pa_1`` → ``pa_1x``), a third keep their label under a new name,
a third change both (the coordinator maps those by hand). The journey: ``redcap map --init``
against the sandbox, complete the draft, a pull that leaves a required field unmapped is
refused naming it, the pull with the whole mapping, build; the warehouse equals the one built
from the same cohort under our own names.
"""

from __future__ import annotations

import time
from pathlib import Path

import duckdb
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from proximite.cli import app
from proximite.cohort.redcap.dictionary import DAG, EVENT, INSTRUMENT, checkbox_column, parse_choices
from proximite.cohort.redcap.loaders import project_from_directory
from proximite.cohort.redcap.project import RedcapProject
from proximite.cohort.sandbox.server import SandboxServer
from synth_dates import SYNTH_AS_OF

runner = CliRunner()
KEY = "byo-journey-key-0123456789abcdef0123"


def _rename_project(ours: RedcapProject) -> tuple[RedcapProject, dict[str, dict[str, str]]]:
    """The cohort's project with every name changed; returns it and the renames by kind (ours → theirs)."""
    forms = {form: f"{form}_tm" if index % 2 else f"form_{index}" for index, form in enumerate(ours.forms)}
    events = {name: f"visit_{index}_arm_1" for index, name in enumerate(ours.event_names)}
    dags = {name: f"site_{index}" for index, name in enumerate(sorted(ours.dag_names or ()))}
    fields, labels, codes = {"record_id": "study_id"}, {}, {}
    for index, row in ours.metadata.iloc[1:].reset_index(drop=True).iterrows():
        name = row["field_name"]
        group = index % 3
        fields[name] = f"{name}x" if group == 0 else f"f{index:03d}"
        labels[name] = row["field_label"] if group == 1 else f"Item {index}"
        if row["field_type"] in {"radio", "dropdown", "checkbox"}:
            codes[name] = {code: f"k{j}" for j, code in enumerate(parse_choices(row["select_choices_or_calculations"]))}
    metadata = ours.metadata.copy()
    metadata["form_name"] = metadata["form_name"].map(forms)
    metadata["field_label"] = [labels.get(name, label) for name, label in zip(metadata["field_name"], metadata["field_label"])]
    metadata["select_choices_or_calculations"] = [
        " | ".join(f"{codes[name][part.split(',', 1)[0].strip()]}, {part.split(',', 1)[1].strip()}" for part in text.split("|"))
        if name in codes else text
        for name, text in zip(metadata["field_name"], metadata["select_choices_or_calculations"])
    ]
    metadata["field_name"] = metadata["field_name"].map(fields)
    team = ours.copy()
    team.metadata = metadata
    team.events = ours.events.assign(
        unique_event_name=ours.events["unique_event_name"].map(events),
        event_name=[f"Visit {index}" for index in range(len(ours.events))],
    )
    team.form_event_mapping = ours.form_event_mapping.assign(
        unique_event_name=ours.form_event_mapping["unique_event_name"].map(events), form=ours.form_event_mapping["form"].map(forms)
    )
    team.repeating_forms_events = ours.repeating_forms_events.assign(
        event_name=ours.repeating_forms_events["event_name"].map(events),
        form_name=ours.repeating_forms_events["form_name"].map(forms),
        custom_form_label="",
    )
    team.dags = ours.dags.assign(
        unique_group_name=ours.dags["unique_group_name"].map(dags), data_access_group_name=ours.dags["unique_group_name"].map(dags)
    )
    team.records = _rename_records(ours, fields=fields, forms=forms, events=events, dags=dags, codes=codes)
    return team, {"forms": forms, "events": events, "dags": dags, "fields": fields, "codes": codes}


def _rename_records(ours: RedcapProject, *, fields, forms, events, dags, codes) -> pd.DataFrame:
    records = ours.records.copy()
    records[EVENT] = records[EVENT].map(events)
    records[INSTRUMENT] = records[INSTRUMENT].map(lambda name: forms.get(name, ""))
    records[DAG] = records[DAG].map(lambda name: dags.get(name, ""))
    kinds = dict(zip(ours.metadata["field_name"], ours.metadata["field_type"]))
    renamed = {}
    for column in records.columns:
        name, _, code = column.partition("___")
        if column.endswith("_complete") and column[: -len("_complete")] in forms:
            renamed[column] = f"{forms[column[: -len('_complete')]]}_complete"
        elif code and kinds.get(name) == "checkbox":
            renamed[column] = checkbox_column(fields[name], codes[name][code])
        elif column in fields:
            renamed[column] = fields[column]
            if column in codes:
                records[column] = records[column].map(lambda value, table=codes[column]: table.get(value, value))
    return records.rename(columns=renamed)


def _invoke(*arguments: str) -> str:
    result = runner.invoke(app, list(arguments))
    assert result.exit_code == 0, result.output
    return result.output


def _warehouse(project: Path) -> dict[str, pd.DataFrame]:
    with duckdb.connect(str(project / "warehouse.duckdb"), read_only=True) as connection:
        names = [row[0] for row in connection.execute("select table_name from information_schema.tables where table_schema = 'main'").fetchall()]
        tables = {}
        for name in sorted(names):
            frame = connection.execute(f'select * from "{name}"').df()
            tables[name] = frame.sort_values(list(frame.columns)).reset_index(drop=True) if len(frame) else frame
        return tables


@pytest.fixture(scope="module")
def cohort_input(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from proximite.cohort.sandbox.synth import generate_cohort

    out = tmp_path_factory.mktemp("byo") / "input"
    generate_cohort(out, families=24, territories=2, seed=23, as_of=SYNTH_AS_OF)
    return out


@pytest.mark.journey
def test_a_team_project_with_other_names_builds_the_same_warehouse(
    cohort_input: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started = time.monotonic()
    monkeypatch.setenv("PROXIMITE_PSEUDONYM_KEY", KEY)
    ours = project_from_directory(cohort_input)
    team, renames = _rename_project(ours)
    ours_dir, team_dir, mapping = tmp_path / "ours", tmp_path / "team", tmp_path / "mapping.yaml"
    for project in (ours_dir, team_dir):
        _invoke("ingest", str(cohort_input), "-s", "reference", "-s", "registry", "-s", "cost", "--project-dir", str(project))

    with SandboxServer(ours.copy()) as own, SandboxServer(team) as theirs:
        monkeypatch.setenv("OWN_TOKEN", own.token)
        monkeypatch.setenv("TEAM_TOKEN", theirs.token)
        _invoke("pull", "redcap", "--url", own.url, "--token-env", "OWN_TOKEN", "--project-dir", str(ours_dir))

        # 1. Draft the mapping from the team's project through the API.
        output = _invoke("redcap", "map", "--init", "--url", theirs.url, "--token-env", "TEAM_TOKEN", "--out", str(mapping))
        draft = yaml.safe_load(mapping.read_text(encoding="utf-8"))
        by_group = {0: [], 1: [], 2: []}
        for index, name in enumerate(ours.metadata["field_name"].iloc[1:]):
            by_group[index % 3].append(name)
        assert draft["record_id"] == "study_id"
        for name in by_group[0] + by_group[1]:  # near names, and new names with our labels
            assert draft["fields"].get(name) == renames["fields"][name], name
        for name in by_group[2]:  # new name and new label: listed, never guessed
            assert name not in draft["fields"]
            assert f"unmatched field of yours: {renames['fields'][name]}" in output
            assert f"# unmatched field of yours: {renames['fields'][name]}" in mapping.read_text(encoding="utf-8")
        for name, table in draft["codes"].items():  # codes matched on their labels
            assert table == {theirs_code: ours_code for ours_code, theirs_code in renames["codes"][name].items()}

        # 2. Complete the draft by hand, but forget one required field: the staged gate names it.
        completed = {**draft}
        completed["forms"] = {ours_form: theirs_form for ours_form, theirs_form in renames["forms"].items()}
        completed["events"] = {name.rsplit("_arm_", 1)[0]: value for name, value in renames["events"].items()}
        completed["dags"] = dict(renames["dags"])
        completed["fields"] = {name: value for name, value in renames["fields"].items() if name != "record_id"}
        completed["codes"] = {name: {t: o for o, t in table.items()} for name, table in renames["codes"].items()}
        forgotten = {key: value for key, value in completed["fields"].items() if key != "suivi_date"}
        mapping.write_text(yaml.safe_dump({**completed, "fields": forgotten}, allow_unicode=True), encoding="utf-8")
        pull = ["pull", "redcap", "--url", theirs.url, "--token-env", "TEAM_TOKEN", "--project-dir", str(team_dir), "--mapping", str(mapping)]
        refused = runner.invoke(app, pull)
        assert refused.exit_code == 1
        assert "field `suivi_date` of form `suivi`" in refused.output and "required by the cohort and not mapped" in refused.output
        assert not (team_dir / "data" / "02_staged" / "redcap" / "LATEST").exists()

        # 3. The whole mapping: pull, build.
        mapping.write_text(yaml.safe_dump(completed, allow_unicode=True), encoding="utf-8")
        _invoke(*pull)
    for project in (ours_dir, team_dir):
        _invoke("build", "--project-dir", str(project))

    mine, yours = _warehouse(ours_dir), _warehouse(team_dir)
    assert sorted(mine) == sorted(yours) and "family" in mine
    assert len(mine["family"]) == ours.records["record_id"].nunique()
    for name in sorted(set(mine) - {"build"}):  # the build's own row: its id and time differ by construction
        pd.testing.assert_frame_equal(mine[name], yours[name], check_dtype=False, obj=name)
    print(f"journey: {time.monotonic() - started:.1f} s")
