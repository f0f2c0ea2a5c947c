"""The indicators' fan-out: units (family × scope level) add up to the all-at-once computation.

Pure part (:mod:`proximite.indicators.fanout`) on the small synthetic cohort, and the step
functions of :mod:`proximite.pipeline.indicators` (parts written, combined into layer 04) on a small
warehouse built from the same tables.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from proximite import pipeline
from proximite.cohort.codebook import load_codebook
from proximite.cohort.warehouse import build_warehouse
from proximite.config import Settings, load_settings
from proximite.indicators import FAMILIES, compute_all, compute_family, isolation, reach
from proximite.indicators.base import INDICATOR_COLUMNS, SCOPES, IndicatorParameters
from proximite.indicators.fanout import (
    ALL_LEVELS,
    FanoutUnit,
    canonical_order,
    combine_units,
    compute_unit,
    fanout_units,
)

#: Default parameters, and a second set that changes what the units share (quarterly registry
#: periods) and turns on the adjusted effects per territory (the isolation unit that skips them
#: by default).
PARAMETER_SETS = {
    "default": IndicatorParameters(),
    "quarters-territory-fits": IndicatorParameters(
        periods="quarter", extra={isolation.ADJUSTED_TERRITORIES: True}
    ),
}


# ---------------------------------------------------------------------------- pure part
@pytest.fixture(scope="module")
def computed(small_cohort: tuple[dict[str, pd.DataFrame], dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per parameter set: every family computed whole, and every unit computed alone."""
    tables, _ = small_cohort
    results: dict[str, dict[str, Any]] = {}
    for name, parameters in PARAMETER_SETS.items():
        results[name] = {
            "families": {family: compute_family(family, tables, parameters=parameters) for family in FAMILIES},
            "units": {unit: compute_unit(tables, unit, parameters=parameters) for unit in fanout_units()},
        }
    return results


def test_fanout_units_are_families_by_scope_levels_in_registry_order() -> None:
    units = fanout_units()
    assert len(units) == len(FAMILIES) * len(SCOPES)
    assert [unit.name for unit in units[:4]] == ["reach-quebec", "reach-region", "reach-territory", "isolation-quebec"]
    assert units[-1] == FanoutUnit(list(FAMILIES)[-1], "territory")
    # A subset comes out in the registries' order whatever the order asked.
    subset = fanout_units(families=["implementation", "reach"], scopes=["territory", "quebec"])
    assert [unit.name for unit in subset] == [
        "reach-quebec", "reach-territory", "implementation-quebec", "implementation-territory",
    ]
    with pytest.raises(ValueError, match="no indicator family 'economics'"):
        fanout_units(families=["economics"])
    with pytest.raises(ValueError, match="no scope level 'province'"):
        FanoutUnit("reach", "province")


@pytest.mark.parametrize("parameter_set", list(PARAMETER_SETS))
@pytest.mark.parametrize("family", list(FAMILIES))
def test_the_units_of_a_family_add_up_to_the_family(
    computed: dict[str, dict[str, Any]], family: str, parameter_set: str
) -> None:
    whole = computed[parameter_set]["families"][family]
    units = {unit: frame for unit, frame in computed[parameter_set]["units"].items() if unit.family == family}
    assert len(whole) > 0
    for unit, frame in units.items():
        # Only the unit's scope level, and every scope level has rows in this cohort.
        assert set(frame["scope"]) == {unit.scope}, unit.name
    together = canonical_order(pd.concat(list(units.values()), ignore_index=True))
    pd.testing.assert_frame_equal(together, canonical_order(whole))


def test_combining_the_units_gives_compute_all(small_cohort: tuple[dict[str, pd.DataFrame], dict[str, Any]],
                                               computed: dict[str, dict[str, Any]]) -> None:
    tables, _ = small_cohort
    expected = compute_all(tables, parameters=PARAMETER_SETS["default"])
    frames = list(computed["default"]["units"].values())
    # Whatever order the units finish in, and whatever row order a part comes in.
    shuffled = [frame.sample(frac=1.0, random_state=index) for index, frame in enumerate(reversed(frames))]
    combined = combine_units(shuffled + [frames[0].iloc[:0]])
    assert list(combined.columns) == INDICATOR_COLUMNS
    pd.testing.assert_frame_equal(combined, expected)
    # compute_all is in canonical order: families in registry order, then scope levels.
    family_of = {indicator: family for family in FAMILIES
                 for indicator in computed["default"]["families"][family]["indicator"].unique()}
    ranks = expected["indicator"].map(family_of).map(list(FAMILIES).index)
    assert ranks.is_monotonic_increasing
    assert combine_units([]).empty and list(combine_units([]).columns) == INDICATOR_COLUMNS


def test_canonical_order_does_not_depend_on_the_input_order(computed: dict[str, dict[str, Any]]) -> None:
    frame = computed["default"]["families"]["needs_offer"]
    shuffled = frame.sample(frac=1.0, random_state=3).reset_index(drop=True)
    original = shuffled.copy()
    ordered = canonical_order(shuffled)
    pd.testing.assert_frame_equal(shuffled, original)  # not modified
    pd.testing.assert_frame_equal(ordered, canonical_order(frame))
    assert ordered.index.equals(pd.RangeIndex(len(frame)))


def test_compute_family_keeps_only_the_scopes_asked_for(
    small_cohort: tuple[dict[str, pd.DataFrame], dict[str, Any]],
    computed: dict[str, dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tables, _ = small_cohort
    original = reach.compute

    def leaky(tables: Any, *, parameters: IndicatorParameters) -> pd.DataFrame:
        # A family that ignores parameters.scopes and emits every level.
        return original(tables, parameters=dataclasses.replace(parameters, scopes=SCOPES))

    monkeypatch.setattr(reach, "compute", leaky)
    region = compute_family("reach", tables, parameters=IndicatorParameters(scopes=("region",)))
    assert set(region["scope"]) == {"region"}
    pd.testing.assert_frame_equal(region, computed["default"]["units"][FanoutUnit("reach", "region")])
    assert compute_family("reach", tables, parameters=IndicatorParameters(scopes=())).empty


def test_the_isolation_territory_unit_fits_no_panel_model_unless_asked(
    small_cohort: tuple[dict[str, pd.DataFrame], dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    tables, _ = small_cohort
    calls = {"fits": 0, "weights": 0}
    fit, weigh = isolation.adjusted_effects, isolation.attrition_weights

    def counted_fit(*args: Any, **kwargs: Any) -> Any:
        calls["fits"] += 1
        return fit(*args, **kwargs)

    def counted_weights(*args: Any, **kwargs: Any) -> Any:
        calls["weights"] += 1
        return weigh(*args, **kwargs)

    monkeypatch.setattr(isolation, "adjusted_effects", counted_fit)
    monkeypatch.setattr(isolation, "attrition_weights", counted_weights)
    unit = FanoutUnit("isolation", "territory")
    frame = compute_unit(tables, unit, parameters=IndicatorParameters())
    assert calls == {"fits": 0, "weights": 0}
    assert "isolation.mean_index" in set(frame["indicator"])
    compute_unit(tables, unit, parameters=PARAMETER_SETS["quarters-territory-fits"])
    # Two fits (plain and weighted) per territory of the cohort.
    assert calls == {"fits": 2 * tables["territory"]["territory_id"].nunique(), "weights": 1}


# ---------------------------------------------------------------------------- step functions
def _build(tables: dict[str, pd.DataFrame], settings: Settings) -> str:
    return build_warehouse(tables, settings=settings, inputs={}, code_version="test", primary_keys=False).build_id


@pytest.fixture(scope="module")
def project(small_cohort: tuple[dict[str, pd.DataFrame], dict[str, Any]],
            tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, str]:
    """A project whose warehouse holds the small cohort; returns its settings and build id."""
    tables, _ = small_cohort
    settings = load_settings(tmp_path_factory.mktemp("fanout-steps"))
    return settings, _build(tables, settings)


def _layer_state(settings: Settings) -> dict[str, bytes]:
    """Every file under layer 04 and its bytes."""
    root = settings.data_dir / pipeline.INDICATORS
    return {str(path.relative_to(root)): path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file()}


def test_parts_combined_equal_the_sequential_layer(project: tuple[Settings, str], monkeypatch: pytest.MonkeyPatch) -> None:
    settings, build_id = project
    sequential_dir = pipeline.compute_indicators(settings, force=True)
    sequential = pd.read_parquet(sequential_dir / pipeline.INDICATORS_FILE)
    sequential_manifest = json.loads((sequential_dir / pipeline.INDICATORS_MANIFEST).read_text(encoding="utf-8"))

    # The units on a thread pool, as the flow's default runner runs them: one read of the tables.
    reads = []
    read = pipeline.indicators._read_indicator_tables
    monkeypatch.setattr(pipeline.indicators, "_read_indicator_tables", lambda s: reads.append(1) or read(s))
    monkeypatch.setattr(pipeline.indicators, "_TABLES_MEMO", None)
    with ThreadPoolExecutor(max_workers=2) as pool:
        parts = list(pool.map(lambda unit: pipeline.compute_indicator_part(settings, build_id, unit.family, unit.scope),
                              fanout_units()))
    assert len(reads) == 1
    for unit, part in zip(fanout_units(), parts):
        assert set(part) == {"family", "scope", "path", "rows", "seconds"}
        assert (part["family"], part["scope"]) == (unit.family, unit.scope)
        assert json.loads(json.dumps(part)) == part  # plain types only
        path = Path(part["path"])
        assert path.is_absolute() and path.parent == pipeline.indicator_parts_dir(settings, build_id).resolve()
        assert path.name == f"{unit.name}.parquet"
        stored = pd.read_parquet(path)
        assert len(stored) == part["rows"] > 0 and set(stored["scope"]) == {unit.scope}
    assert not list(pipeline.indicator_parts_dir(settings, build_id).glob(".*tmp*"))

    directory = pipeline.combine_indicator_parts(settings, build_id, list(reversed(parts)))
    assert directory == sequential_dir
    pd.testing.assert_frame_equal(pd.read_parquet(directory / pipeline.INDICATORS_FILE), sequential)
    manifest = json.loads((directory / pipeline.INDICATORS_MANIFEST).read_text(encoding="utf-8"))
    assert set(manifest) == set(sequential_manifest) | {"fanout"}
    for key in ("build_id", "parameters", "rows", "indicators"):
        assert manifest[key] == sequential_manifest[key], key
    assert manifest["fanout"]["units"] == len(FAMILIES) * len(SCOPES)
    assert set(manifest["fanout"]["seconds"]) == {unit.name for unit in fanout_units()}
    assert set(FAMILIES) <= set(manifest["seconds"])
    assert not pipeline.indicator_parts_dir(settings, build_id).exists()
    assert pipeline.indicators._TABLES_MEMO is None  # the build's tables are released once combined
    # The CLI's path now reuses what the fan-out wrote.
    assert pipeline.reusable_indicators(settings, build_id) == directory
    assert pipeline.compute_indicators(settings) == directory
    assert "fanout" in json.loads((directory / pipeline.INDICATORS_MANIFEST).read_text(encoding="utf-8"))


def test_family_units_at_every_level_combine_into_the_sequential_layer(project: tuple[Settings, str]) -> None:
    """One machine's units: a family at every scope level each; mixed with level units, each pair counted once."""
    settings, build_id = project
    sequential = pd.read_parquet(pipeline.compute_indicators(settings, force=True) / pipeline.INDICATORS_FILE)
    units = fanout_units(split_scopes=False)
    assert [unit.name for unit in units] == [f"{family}-{ALL_LEVELS}" for family in FAMILIES]
    parts = [pipeline.compute_indicator_part(settings, build_id, unit.family, unit.scope) for unit in units]
    assert {frozenset(pd.read_parquet(part["path"])["scope"]) for part in parts if part["rows"]} == {frozenset(SCOPES)}
    # reach at every level given beside one of its level units: reach-region twice.
    level_part = pipeline.compute_indicator_part(settings, build_id, "reach", "region")
    with pytest.raises(pipeline.IndicatorPartsError, match="reach-region given more than once"):
        pipeline.combine_indicator_parts(settings, build_id, parts + [level_part])
    with pytest.raises(pipeline.IndicatorPartsError, match="no part for unit\\(s\\) isolation-quebec, isolation-region"):
        pipeline.combine_indicator_parts(settings, build_id, [part for part in parts if part["family"] != "isolation"])
    directory = pipeline.combine_indicator_parts(settings, build_id, list(reversed(parts)))
    pd.testing.assert_frame_equal(pd.read_parquet(directory / pipeline.INDICATORS_FILE), sequential)
    manifest = json.loads((directory / pipeline.INDICATORS_MANIFEST).read_text(encoding="utf-8"))
    assert manifest["fanout"]["units"] == len(FAMILIES)


def test_reusable_indicators_needs_the_same_build_and_parameters(project: tuple[Settings, str]) -> None:
    settings, build_id = project
    directory = pipeline.compute_indicators(settings)
    assert pipeline.reusable_indicators(settings, build_id) == directory
    raw = dict(settings.raw)
    raw["indicators"] = {**raw.get("indicators", {}), "confidence": 0.9}
    assert pipeline.reusable_indicators(dataclasses.replace(settings, raw=raw), build_id) is None
    assert pipeline.reusable_indicators(settings, "20000101T000000Z-000000") is None
    with pytest.raises(ValueError, match="not a warehouse build id"):
        pipeline.reusable_indicators(settings, "../elsewhere")


def _fake_parts(settings: Settings, build_id: str, frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Part files cut from a layer-04 table, as compute_indicator_part would write them."""
    directory = pipeline.indicator_parts_dir(settings, build_id)
    directory.mkdir(parents=True, exist_ok=True)
    family_of = {indicator: spec["family"] for indicator, spec in load_codebook().indicators.items()}
    parts = []
    for unit in fanout_units():
        rows = frame.loc[frame["indicator"].map(family_of).eq(unit.family) & frame["scope"].eq(unit.scope)]
        path = directory / f"{unit.name}.parquet"
        rows.to_parquet(path, index=False)
        parts.append({"family": unit.family, "scope": unit.scope, "path": str(path), "rows": len(rows), "seconds": 0.0})
    assert sum(part["rows"] for part in parts) == len(frame)
    return parts


def test_a_failed_combine_leaves_the_last_good_layer(project: tuple[Settings, str], monkeypatch: pytest.MonkeyPatch) -> None:
    settings, build_id = project
    directory = pipeline.compute_indicators(settings)
    frame = pd.read_parquet(directory / pipeline.INDICATORS_FILE)
    before = _layer_state(settings)
    parts = _fake_parts(settings, build_id, frame)
    with_parts = _layer_state(settings)

    # A part file gone.
    Path(parts[4]["path"]).unlink()
    with pytest.raises(pipeline.IndicatorPartsError, match="isolation-region.*missing"):
        pipeline.combine_indicator_parts(settings, build_id, parts)
    # A unit without a part, and a unit given twice.
    with pytest.raises(pipeline.IndicatorPartsError, match="no part for unit\\(s\\) reach-quebec"):
        pipeline.combine_indicator_parts(settings, build_id, parts[1:])
    with pytest.raises(pipeline.IndicatorPartsError, match="reach-region given more than once"):
        pipeline.combine_indicator_parts(settings, build_id, parts + [parts[1]])
    assert _layer_state(settings) == {k: v for k, v in with_parts.items() if not k.endswith("isolation-region.parquet")}

    # Writing fails at the last step: the previous directory stays, no temporary remains.
    parts = _fake_parts(settings, build_id, frame)

    def broken(temporary: Path, target: Path) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(pipeline.indicators.layers, "replace_directory", broken)
    with pytest.raises(OSError, match="disk full"):
        pipeline.combine_indicator_parts(settings, build_id, parts)
    state = _layer_state(settings)
    assert {k: v for k, v in state.items() if k in before} == before
    assert not [name for name in state if ".tmp-" in name]
    assert not [path for path in (settings.data_dir / pipeline.INDICATORS).iterdir() if ".tmp-" in path.name]
    shutil.rmtree(pipeline.indicator_parts_dir(settings, build_id))
    assert _layer_state(settings) == before


def test_indicator_tables_are_memoised_and_refuse_a_stale_build(
    small_cohort: tuple[dict[str, pd.DataFrame], dict[str, Any]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tables, _ = small_cohort
    settings = load_settings(tmp_path)
    monkeypatch.setattr(pipeline.indicators, "_TABLES_MEMO", None)
    with pytest.raises(FileNotFoundError, match="no warehouse"):
        pipeline.indicator_tables(settings, "20000101T000000Z-000000")
    first = _build(tables, settings)
    one, two = pipeline.indicator_tables(settings, first), pipeline.indicator_tables(settings, first)
    assert one is not two and all(one[name] is two[name] for name in one)  # read once, shared
    assert len(one["family"]) == len(tables["family"])

    second = _build(tables, settings)
    assert second != first
    with pytest.raises(pipeline.StaleBuildError, match=f"asked for build {first}, but the current build is {second}"):
        pipeline.indicator_tables(settings, first)
    with pytest.raises(pipeline.StaleBuildError):
        pipeline.compute_indicator_part(settings, first, "reach", "quebec")
    assert not pipeline.indicator_parts_dir(settings, first).exists()
    fresh = pipeline.indicator_tables(settings, second)
    assert fresh["family"] is not one["family"]  # the new build is read, and replaces the old copy
    assert pipeline.indicators._TABLES_MEMO is not None and pipeline.indicators._TABLES_MEMO[0][1] == second
