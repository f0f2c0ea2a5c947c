"""The DuckDB warehouse: schema from model.yaml, the build table, atomic builds, the panel."""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import json
import pickle
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pytest

import proximite.cohort as cohort
from proximite.cohort import warehouse
from proximite.cohort.warehouse import build as warehouse_build
from proximite.cohort.codebook import CodebookError, load_codebook
from proximite.errors import BuildError
from proximite.cohort.harmonise import PANDAS_DTYPES, conform, model_dtypes
from proximite.cohort.warehouse import (
    DUCKDB_TYPES,
    BuildInfo,
    WarehouseNotFoundError,
    build_warehouse,
    connect,
    current_build,
    panel,
    table,
)
from proximite.config import Settings, load_settings

CB = load_codebook()
INPUTS = {"redcap": "20260101T000000Z-aaaaaa", "reference": "20260101T000000Z-bbbbbb", "registry": "r1", "cost": "c1"}


def _value(kind: str, column: str, i: int) -> Any:
    return {
        "string": f"{column}-{i}",
        "int": 1 + i,
        "float": 1.5 + i,
        "date": pd.Timestamp("2024-01-01") + pd.Timedelta(days=i),
        "month": "2024-01",
        "bool": i % 2 == 0,
    }[kind]


def generic_table(name: str, rows: int) -> pd.DataFrame:
    """Rows with distinct keys and a value of the right type in every column."""
    spec = CB.columns(name)
    columns = {column: [_value(s["type"], column, i) for i in range(rows)] for column, s in spec.items()}
    return conform({column: pd.Series(values) for column, values in columns.items()}, name, codebook=CB)


def model_tables() -> dict[str, pd.DataFrame]:
    """Tiny harmonised tables; family, child, territory and assessment are consistent for the panel.

    Family f1 (T01, 2 children) has waves 0, 6, 12; f2 (T02, no child) has waves 0 and 6, no
    index at baseline; f3 (T01, 1 child) only wave 6.
    """
    tables = {name: generic_table(name, 3) for name in CB.tables}
    tables["territory"] = conform(
        {
            "territory_id": pd.Series(["T01", "T02"]),
            "name": pd.Series(["Un", "Deux"]),
            "region_code": pd.Series(["01", "06"]),
            "environment": pd.Series(["rural", "urbain"]),
            "host_type": pd.Series(["OCF", "CPSC"]),
            "redcap_dag": pd.Series(["t01", "t02"]),
        },
        "territory",
    )
    family = generic_table("family", 3).assign(
        family_id=pd.Series(["f1", "f2", "f3"], dtype="string"),
        territory_id=pd.Series(["T01", "T02", "T01"], dtype="string"),
        isolated_at_contact=pd.Series([True, False, True], dtype="boolean"),
        single_parent=pd.Series([False, True, pd.NA], dtype="boolean"),
    )
    tables["family"] = family
    tables["child"] = generic_table("child", 3).assign(family_id=pd.Series(["f1", "f1", "f3"], dtype="string"))
    assessment = generic_table("assessment", 6).assign(
        family_id=pd.Series(["f2", "f1", "f1", "f2", "f1", "f3"], dtype="string"),
        wave=pd.Series([6, 0, 6, 0, 12, 6], dtype="Int64"),
        isolation_index=pd.Series([40.0, 60.0, 55.0, pd.NA, 50.0, 20.0], dtype="Float64"),
        transport=pd.Series([1, 2, pd.NA, 0, 3, 1], dtype="Int64"),
    )
    tables["assessment"] = assessment
    return tables


@pytest.fixture()
def settings(tmp_path: Path) -> Settings:
    return load_settings(tmp_path)


@pytest.fixture()
def built(settings: Settings) -> BuildInfo:
    return build_warehouse(model_tables(), settings=settings, inputs=INPUTS, code_version="0.1.0+test")


def leftovers(settings: Settings) -> list[str]:
    return sorted(path.name for path in settings.warehouse_path.parent.iterdir() if path.name != settings.warehouse_path.name)


# ------------------------------------------------------------------------------ schema
def test_tables_and_columns_match_model_exactly(settings: Settings, built: BuildInfo) -> None:
    with connect(settings) as connection:
        names = [row[0] for row in connection.execute("SELECT table_name FROM information_schema.tables ORDER BY table_name").fetchall()]
        assert sorted(names) == sorted([*CB.tables, "build"])
        for name in CB.tables:
            described = connection.execute(
                "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = ? ORDER BY ordinal_position",
                [name],
            ).fetchall()
            expected = [(column, DUCKDB_TYPES[spec["type"]]) for column, spec in CB.columns(name).items()]
            assert described == expected, name


def test_primary_keys_follow_the_model_key_columns(settings: Settings, built: BuildInfo) -> None:
    with connect(settings) as connection:
        rows = connection.execute(
            "SELECT table_name, constraint_column_names FROM duckdb_constraints() WHERE constraint_type = 'PRIMARY KEY'"
        ).fetchall()
    keys = {name: list(columns) for name, columns in rows}
    for name in CB.tables:
        assert keys.get(name) == CB.key_columns(name), name


def test_rows_round_trip_with_model_dtypes(settings: Settings, built: BuildInfo) -> None:
    tables = model_tables()
    for name in CB.tables:
        frame = table(settings, name)
        assert dict(frame.dtypes.astype(str)) == model_dtypes(name), name
        pd.testing.assert_frame_equal(frame, tables[name], check_like=False, obj=name)


def test_table_refuses_a_name_outside_the_model(settings: Settings, built: BuildInfo) -> None:
    with pytest.raises(CodebookError):
        table(settings, "family; DROP TABLE family")


# ------------------------------------------------------------------------------ the build table
def test_build_row_describes_the_build(settings: Settings, built: BuildInfo) -> None:
    canonical = json.dumps(dict(sorted(INPUTS.items())), separators=(",", ":"), sort_keys=True)
    assert built.inputs_sha256 == hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    with connect(settings) as connection:
        rows = connection.execute("SELECT build_id, built_at, inputs_sha256, code_version, row_counts, inputs FROM build").fetchall()
    assert len(rows) == 1
    build_id, built_at, digest, code_version, row_counts, inputs = rows[0]
    assert build_id == built.build_id
    assert digest == built.inputs_sha256 and code_version == "0.1.0+test"
    assert json.loads(row_counts) == {name: len(frame) for name, frame in model_tables().items()}
    assert json.loads(inputs) == INPUTS
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    assert abs((now - built_at).total_seconds()) < 60  # stored in UTC
    assert current_build(settings) == built
    assert current_build(settings).built_at.tzinfo == dt.timezone.utc


def test_inputs_digest_ignores_order() -> None:
    reordered = dict(reversed(list(INPUTS.items())))
    assert warehouse.inputs_sha256(reordered) == warehouse.inputs_sha256(INPUTS)
    assert warehouse.inputs_sha256({**INPUTS, "cost": "c2"}) != warehouse.inputs_sha256(INPUTS)


def test_no_warehouse_yet(settings: Settings) -> None:
    assert current_build(settings) is None
    with pytest.raises(WarehouseNotFoundError):
        connect(settings)
    with pytest.raises(FileNotFoundError):  # also a FileNotFoundError
        panel(settings=settings)


def test_progress_is_reported_per_table(settings: Settings) -> None:
    seen: list[tuple[str, int, int]] = []
    build_warehouse(model_tables(), settings=settings, inputs=INPUTS, code_version="x", progress=lambda *a: seen.append(a))
    assert [name for name, _, _ in seen] == CB.tables
    assert seen[-1][1:] == (len(CB.tables), len(CB.tables))


# ------------------------------------------------------------------------------ atomic builds
def test_failed_build_leaves_previous_warehouse_intact(settings: Settings, built: BuildInfo, monkeypatch: pytest.MonkeyPatch) -> None:
    before = settings.warehouse_path.read_bytes()
    real = warehouse_build._write_table
    written: list[str] = []

    def failing(connection: duckdb.DuckDBPyConnection, name: str, frame: pd.DataFrame, **kwargs: Any) -> int:
        written.append(name)
        if len(written) == 5:
            raise OSError("disk full (simulated)")
        return real(connection, name, frame, **kwargs)

    monkeypatch.setattr(warehouse_build, "_write_table", failing)
    with pytest.raises(BuildError, match="previous warehouse") as error:
        build_warehouse(model_tables(), settings=settings, inputs={"redcap": "newer"}, code_version="0.2.0")
    assert isinstance(error.value.__cause__, OSError)
    assert f"'{CB.tables[4]}'" in str(error.value)
    assert settings.warehouse_path.read_bytes() == before
    assert current_build(settings).build_id == built.build_id
    assert leftovers(settings) == []


def test_failed_first_build_leaves_nothing(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(warehouse_build, "_write_table", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("boom")))
    with pytest.raises(BuildError):
        build_warehouse(model_tables(), settings=settings, inputs=INPUTS, code_version="x")
    assert not settings.warehouse_path.exists()
    assert leftovers(settings) == []


def test_duplicate_key_fails_the_build_not_the_warehouse(settings: Settings, built: BuildInfo) -> None:
    tables = model_tables()
    tables["family"] = pd.concat([tables["family"], tables["family"].iloc[:1]], ignore_index=True)
    with pytest.raises(BuildError, match="family"):
        build_warehouse(tables, settings=settings, inputs=INPUTS, code_version="x")
    assert current_build(settings).build_id == built.build_id
    assert leftovers(settings) == []


def test_tables_outside_the_model_are_refused(settings: Settings) -> None:
    tables = model_tables()
    tables["family"] = tables["family"].assign(record_id="1001")
    del tables["cost"]
    with pytest.raises(BuildError, match=r"missing table\(s\) cost.*family: columns outside the model record_id"):
        build_warehouse(tables, settings=settings, inputs=INPUTS, code_version="x")
    assert not settings.warehouse_path.exists()


def test_a_rebuild_replaces_the_warehouse(settings: Settings, built: BuildInfo) -> None:
    again = build_warehouse(model_tables(), settings=settings, inputs={**INPUTS, "redcap": "later"}, code_version="x")
    assert again.build_id != built.build_id
    assert current_build(settings).build_id == again.build_id
    assert leftovers(settings) == []


def test_columns_may_come_in_any_order(settings: Settings) -> None:
    tables = model_tables()
    tables["family"] = tables["family"][list(reversed(tables["family"].columns))]
    build_warehouse(tables, settings=settings, inputs=INPUTS, code_version="x")
    assert list(table(settings, "family").columns) == list(CB.columns("family"))


# ------------------------------------------------------------------------------ the panel
def test_panel_index_columns_and_dtypes(settings: Settings, built: BuildInfo) -> None:
    frame = panel(settings=settings)
    assert frame.index.names == ["family_id", "wave"]
    assert frame.index.get_level_values("wave").dtype == "int64"
    assert frame.index.is_unique and frame.index.is_monotonic_increasing
    assert list(frame.index) == [("f1", 0), ("f1", 6), ("f1", 12), ("f2", 0), ("f2", 6), ("f3", 6)]
    measures = [c for c in CB.columns("assessment") if c not in {"family_id", "wave"}]
    covariates = ["territory_id", "region_code", "environment", "host_type", "isolated_at_contact", "single_parent",
                  "baseline_isolation_index", "n_children"]
    assert list(frame.columns) == measures + covariates
    dtypes = model_dtypes("assessment")
    for column in measures:
        assert str(frame[column].dtype) == dtypes[column], column
    assert str(frame["territory_id"].dtype) == "string" and str(frame["isolated_at_contact"].dtype) == "boolean"
    assert str(frame["baseline_isolation_index"].dtype) == "Float64" and str(frame["n_children"].dtype) == "Int64"


def test_panel_with_numpy_dtypes_is_formula_input(settings: Settings, built: BuildInfo) -> None:
    import statsmodels.formula.api as smf

    nullable = panel(settings=settings)
    plain = panel(settings=settings, dtypes="numpy")
    assert list(plain.index) == list(nullable.index) and list(plain.columns) == list(nullable.columns)
    assert plain.attrs["codebook"] == nullable.attrs["codebook"] and plain.attrs["build_id"] == built.build_id
    for column in plain.columns:
        dtype = str(nullable[column].dtype)
        expected = {"boolean": "float64", "Float64": "float64", "Int64": "float64", "string": "object"}.get(dtype, dtype)
        assert str(plain[column].dtype) == expected, column
        # Same values, a missing one missing (NaN), True/False as 1/0.
        same = nullable[column].astype(object).where(nullable[column].notna(), None).tolist()
        got = [None if pd.isna(value) else value for value in plain[column].tolist()]
        assert got == [None if v is None else (float(v) if expected == "float64" else v) for v in same], column
    fit = smf.ols("isolation_index ~ C(wave) + isolated_at_contact", data=plain.reset_index()).fit()
    assert fit.nobs == plain[["isolation_index", "isolated_at_contact"]].dropna().shape[0]
    with pytest.raises(ValueError, match="dtypes must be one of 'pandas', 'numpy', not 'numpi'"):
        panel(settings=settings, dtypes="numpi")


def test_panel_covariates(settings: Settings, built: BuildInfo) -> None:
    frame = panel(settings=settings)
    f1, f2, f3 = frame.loc["f1"], frame.loc["f2"], frame.loc["f3"]
    assert f1["baseline_isolation_index"].tolist() == [60.0, 60.0, 60.0]
    assert f2["baseline_isolation_index"].isna().all()  # index missing at T0
    assert f3["baseline_isolation_index"].isna().all()  # no T0 at all
    assert f1["n_children"].tolist() == [2, 2, 2] and f2["n_children"].tolist() == [0, 0] and f3["n_children"].tolist() == [1]
    assert f1["region_code"].iloc[0] == "01" and f2["environment"].iloc[0] == "urbain" and f2["host_type"].iloc[0] == "CPSC"
    assert f1["isolated_at_contact"].tolist() == [True] * 3 and f3["single_parent"].isna().all()
    assert f1["isolation_index"].tolist() == [60.0, 55.0, 50.0]


def test_panel_selects_columns_and_waves(settings: Settings, built: BuildInfo) -> None:
    frame = panel(settings=settings, columns=["isolation_index", "n_children"], waves=[0, 12])
    assert list(frame.columns) == ["isolation_index", "n_children"]
    assert list(frame.index) == [("f1", 0), ("f1", 12), ("f2", 0)]
    assert set(frame.attrs["codebook"]) == {"family_id", "wave", "isolation_index", "n_children"}
    with pytest.raises(ValueError, match="not panel columns: record_id"):
        panel(settings=settings, columns=["record_id"])


def test_panel_codebook_attrs_are_plain_and_copyable(settings: Settings, built: BuildInfo) -> None:
    frame = panel(settings=settings)
    book = frame.attrs["codebook"]
    assert set(book) == {"family_id", "wave", *frame.columns}
    assert book["wave"]["type"] == "int" and book["isolation_index"]["type"] == "float"
    assert book["transport"]["labels"]["3"] == "Difficulté forte" and book["transport"]["labels_en"]["3"] == "Strong difficulty"
    assert book["environment"]["labels"] == CB.labels("environment")
    assert book["n_children"]["description_en"] == "Number of children in the family"
    assert frame.attrs["build_id"] == built.build_id
    assert copy.deepcopy(frame.attrs) == frame.attrs
    restored = pickle.loads(pickle.dumps(frame))
    assert restored.attrs == frame.attrs
    assert frame.copy().attrs["codebook"] == book
    assert frame[["isolation_index"]].attrs["codebook"] == book  # pandas deep-copies attrs on selection


def test_every_panel_column_has_its_english_description(settings: Settings, built: BuildInfo) -> None:
    every = ["family_id", "wave", *(c for c in CB.columns("assessment") if c not in {"family_id", "wave"})]
    every += [*warehouse.PANEL_COVARIATES, *warehouse.PANEL_DERIVED]
    book = warehouse.panel_codebook(every, codebook=CB)
    assert list(book) == every
    missing = [name for name, entry in book.items() if not entry["description_en"].strip() or not entry["description"].strip()]
    assert missing == []
    assert book["wave"]["description_en"] == "Wave (months after T0)"
    assert book["empowerment"]["description_en"] == "Empowerment (mean of the items, 1 to 5)"
    assert book["region_code"]["description_en"] == "Administrative region of the territory"
    # The panel read from the warehouse carries the same English texts in its attrs.
    attrs = panel(settings=settings).attrs["codebook"]
    assert {name: entry["description_en"] for name, entry in attrs.items()} == {
        name: book[name]["description_en"] for name in attrs
    }


def test_panel_from_project_dir_through_the_package(settings: Settings, built: BuildInfo) -> None:
    frame = cohort.panel(settings.project_dir)
    assert len(frame) == 6 and frame.attrs["build_id"] == built.build_id


def with_activities(tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Activities of f1 (2 Jan 30 min, 4 Jan 45, 10 Jan 60), of f2 (1 Jan 20) and one without a family.

    Assessment dates (from ``generic_table``): f2 T6 1 Jan, f1 T0 2 Jan, f1 T6 3 Jan, f2 T0 4 Jan,
    f1 T12 5 Jan, f3 T6 6 Jan.
    """
    activity = generic_table("activity", 5).assign(
        family_id=pd.Series(["f1", "f1", "f1", "f2", pd.NA], dtype="string"),
        activity_date=pd.to_datetime(["2024-01-02", "2024-01-04", "2024-01-10", "2024-01-01", "2024-01-01"]),
        minutes=pd.Series([30, 45, 60, 20, 100], dtype="Int64"),
        travel_minutes=pd.Series([500, 500, 500, 500, 500], dtype="Int64"),
    )
    return {**tables, "activity": activity}


def test_panel_ptp_minutes_sum_the_familys_activity_up_to_the_assessment(settings: Settings) -> None:
    tables = with_activities(model_tables())
    tables["assessment"] = tables["assessment"].assign(
        assessment_date=tables["assessment"]["assessment_date"].where(pd.Series([True] * 5 + [False]))
    )
    build_warehouse(tables, settings=settings, inputs=INPUTS, code_version="x")
    frame = panel(settings=settings, ptp_minutes=True)
    assert list(frame.columns)[-1] == "ptp_minutes" and str(frame["ptp_minutes"].dtype) == "Int64"
    expected = {("f1", 0): 30, ("f1", 6): 30, ("f1", 12): 75, ("f2", 0): 20, ("f2", 6): 20}
    assert {key: int(value) for key, value in frame["ptp_minutes"].dropna().items()} == expected
    assert pd.isna(frame.loc[("f3", 6), "ptp_minutes"])  # no assessment date: no cut-off
    book = frame.attrs["codebook"]["ptp_minutes"]
    assert book["type"] == "int" and book["description"].startswith("Temps de PTP")
    assert book["description_en"].startswith("PTP time received")
    # Named among the columns, with a wave filter.
    chosen = panel(settings=settings, columns=["ptp_minutes"], waves=[12])
    assert list(chosen.columns) == ["ptp_minutes"] and chosen["ptp_minutes"].tolist() == [75]
    assert set(panel(settings=settings).columns).isdisjoint({"ptp_minutes", "attrition_weight"})


def test_panel_attrition_weight_is_the_attrition_models(settings: Settings) -> None:
    from proximite.cohort.models import attrition_weights

    built_tables = model_tables()
    # Twelve more families with a T0 index; the more isolated leave after T0.
    extra = [f"g{i:02d}" for i in range(12)]
    family = pd.concat([built_tables["family"], generic_table("family", 15).iloc[3:].assign(
        family_id=pd.Series(extra, dtype="string", index=range(3, 15)),
        territory_id=pd.Series(["T01"] * 12, dtype="string", index=range(3, 15)),
        isolated_at_contact=pd.Series([i % 2 == 0 for i in range(12)], dtype="boolean", index=range(3, 15)),
    )], ignore_index=True)
    rows = []
    for i, name in enumerate(extra):
        level = 20.0 + 6 * i
        rows.append((name, 0, level))
        if i in {0, 1, 2, 3, 4, 5, 6, 8, 10}:  # mostly the less isolated stay
            rows.append((name, 6, level - 5))
    more = generic_table("assessment", 6 + len(rows)).iloc[6:].reset_index(drop=True).assign(
        family_id=pd.Series([r[0] for r in rows], dtype="string"),
        wave=pd.Series([r[1] for r in rows], dtype="Int64"),
        isolation_index=pd.Series([r[2] for r in rows], dtype="Float64"),
        # T0 on 1 Jan, T6 on 20 Aug 2024: the data's horizon is past every T6 window (it ends on
        # 15 Aug), so a family without T6 was lost there, not still due.
        assessment_date=pd.to_datetime(["2024-01-01" if r[1] == 0 else "2024-08-20" for r in rows]),
    )
    built_tables["family"] = family
    built_tables["assessment"] = pd.concat([built_tables["assessment"], more], ignore_index=True)
    build_warehouse(built_tables, settings=settings, inputs=INPUTS, code_version="x")

    frame = panel(settings=settings, attrition_weight=True)
    assert str(frame["attrition_weight"].dtype) == "Float64"
    reference = attrition_weights(panel(settings=settings, columns=["isolation_index", "baseline_isolation_index", "isolated_at_contact"]))
    pd.testing.assert_series_equal(frame["attrition_weight"].astype("float64"), reference, check_names=False)
    assert (frame["attrition_weight"].xs(0, level="wave") == 1).all()
    assert frame.loc[("f2", 6), "attrition_weight"] is pd.NA  # no T0 index: no weight
    assert frame["attrition_weight"].xs(6, level="wave").drop(["f2", "f3"]).std() > 0
    # Weights come from every wave even when the panel keeps fewer.
    kept = panel(settings=settings, columns=["isolation_index", "attrition_weight"], waves=[6])
    pd.testing.assert_series_equal(kept["attrition_weight"], frame["attrition_weight"].xs(6, level="wave", drop_level=False))
    book = kept.attrs["codebook"]["attrition_weight"]
    assert book["description"].startswith("Poids stabilisé") and book["description_en"].startswith("Stabilised attrition weight")
    options = panel(settings=settings, attrition_weight=True, attrition_options={"covariates": ["baseline_isolation_index"]})
    assert not np.allclose(options["attrition_weight"].astype("float64").fillna(0), frame["attrition_weight"].astype("float64").fillna(0))
    with pytest.raises(ValueError, match="attrition_options: unknown option\\(s\\) covariate;"):
        panel(settings=settings, attrition_weight=True, attrition_options={"covariate": ["n_children"]})


def test_types_cover_every_model_type() -> None:
    assert set(DUCKDB_TYPES) == set(PANDAS_DTYPES)


def test_primary_keys_can_be_left_out(settings: Settings) -> None:
    build_warehouse(model_tables(), settings=settings, inputs=INPUTS, code_version="x", primary_keys=False)
    with connect(settings) as connection:
        count = connection.execute("SELECT count(*) FROM duckdb_constraints() WHERE constraint_type = 'PRIMARY KEY'").fetchone()[0]
    assert count == 1  # the build table's own key only


def test_panel_says_which_waves_were_not_due_at_the_datas_horizon(settings: Settings, built: BuildInfo) -> None:
    # The assessments end on 6 Jan 2024 (the data's horizon): every family's T12 and T24 windows
    # (a year and two after its T0) are still open, so no family can have been lost there yet.
    frame = panel(settings=settings)
    not_due = frame.attrs["waves_not_due"]
    families = set(model_tables()["family"]["family_id"].astype(str))
    assert set(not_due[12]) == families and set(not_due[24]) == families
    assert all(isinstance(family, str) for ids in not_due.values() for family in ids)
    # Plain lists of ids: frames carrying them still concatenate and copy.
    assert pd.concat([frame, frame]).attrs["waves_not_due"] == not_due


def test_cohort_panel_is_the_warehouse_panel_with_its_real_signature() -> None:
    import inspect

    assert cohort.panel is warehouse.panel
    assert inspect.signature(cohort.panel) == inspect.signature(warehouse.panel)
    assert "ptp_minutes" in inspect.signature(cohort.panel).parameters


# ------------------------------------------------------------------------------ regions
def with_regions(tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The tables with Québec's 17 regions as the reference source gives them (codebook's regions.csv)."""
    regions = CB.regions
    return {**tables, "region": conform({name: regions[name] for name in regions.columns}, "region")}


def test_regions_name_every_panel_row_on_region_code(settings: Settings) -> None:
    build_warehouse(with_regions(model_tables()), settings=settings, inputs=INPUTS, code_version="0.1.0+test")
    regions = cohort.regions(settings.project_dir)
    assert regions["region_code"].tolist() == [f"{n:02d}" for n in range(1, 18)]
    assert list(regions.columns) == ["region_code", "name_fr", "name_en", "children_0_5"]
    assert isinstance(regions.index, pd.RangeIndex)
    assert regions.attrs["codebook"]["name_en"]["description_en"] == "English name"
    for dtypes in ("pandas", "numpy"):
        frame = panel(settings=settings, dtypes=dtypes)
        names = cohort.regions(settings=settings, dtypes=dtypes)
        assert frame["region_code"].dtype == names["region_code"].dtype
        named = frame.reset_index().merge(names, on="region_code", how="left", validate="many_to_one")
        assert len(named) == len(frame) and named["name_fr"].notna().all(), dtypes
        assert dict(zip(named["family_id"], named["name_en"])) == {"f1": "Bas-Saint-Laurent", "f2": "Montreal", "f3": "Bas-Saint-Laurent"}
    with pytest.raises(ValueError, match="regions dtypes must be one of"):
        cohort.regions(settings=settings, dtypes="arrow")


def test_regions_of_a_built_synthetic_cohort_name_every_panel_row(harmonised_cohort: Any, settings: Settings) -> None:
    tables, _ = harmonised_cohort(families=60, territories=4, seed=7)
    build_warehouse(tables, settings=settings, inputs={"synthetic": "seed-7"}, code_version="test")
    frame = panel(settings=settings, columns=["region_code"])
    regions = cohort.regions(settings=settings)
    assert frame["region_code"].dtype == regions["region_code"].dtype == "string"
    assert regions["region_code"].str.fullmatch(r"\d{2}").all()
    named = frame.reset_index().merge(regions, on="region_code", how="left", validate="many_to_one")
    assert len(named) == len(frame) > 0
    assert named["name_fr"].notna().all() and named["name_en"].notna().all()
    reference = CB.regions.set_index("region_code")
    assert (named["name_fr"].astype(str) == reference.loc[named["region_code"].astype(str), "name_fr"].to_numpy()).all()
    # The survival tables carry the same region_code and join the same way.
    needs = cohort.survival_table(settings=settings, event="need_met")
    assert needs["region_code"].dtype == regions["region_code"].dtype
    named_needs = needs.merge(regions, on="region_code", how="left", validate="many_to_one")
    assert len(named_needs) == len(needs) > 0 and named_needs["name_en"].notna().all()


def test_cohort_regions_is_the_warehouse_regions() -> None:
    import inspect

    assert cohort.regions is warehouse.regions
    assert "regions" in cohort.__all__ and "regions" in dir(cohort)
    assert inspect.signature(cohort.regions).parameters["dtypes"].default == "pandas"


def test_regions_without_a_warehouse_say_so(settings: Settings) -> None:
    with pytest.raises(WarehouseNotFoundError, match="run `proximite build` first"):
        cohort.regions(settings=settings)
