"""The pipeline's Prefect tasks: each calls one package function and returns something small.

Pulls take no cache (the source changes under the same inputs) and retry; the deterministic
steps cache on their inputs and source (:mod:`proximite.flows.caching`) while their output is
still there. Large frames never travel through task results: a task returns a layer directory,
a build id or counts.

Secrets: a flow never takes a token as a parameter (Prefect stores parameters). It takes the
name of an environment variable or of a Prefect Secret block, and the task reads the token. The
raw layer's keys likewise: a task that writes 01 raw or the quarantine reads them from the
environment or the project's key file, or from the Secret block named in ``[privacy]
raw_key_secret`` (:func:`project_settings` hands it in).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from proximite import pipeline
from proximite.config import Settings, load_settings, pseudonym_key
from proximite.flows.artifacts import PULL_PROGRESS_KEY, PullProgress
from proximite.flows.caching import WhileOutputExists

DEFAULT_TOKEN_ENV = "PROXIMITE_REDCAP_TOKEN"


def _progress_artifact(description: str, *, steps_count: int) -> PullProgress:
    """A progress artifact of the current run, updated by the pull's progress callback."""
    from prefect.artifacts import create_progress_artifact, update_progress_artifact

    return PullProgress(
        lambda value: create_progress_artifact(value, key=PULL_PROGRESS_KEY, description=description),
        lambda artifact_id, value: update_progress_artifact(artifact_id, value),
        steps=steps_count,
    )


# ----------------------------------------------------------------------------------- pulls
@task(name="ingest", cache_policy=NO_CACHE, task_run_name="ingest-{source}")
def ingest_source(input_dir: str, project_dir: str, source: str) -> dict[str, Any]:
    """Copy one file source as received into 01 raw and stage it (02); returns its pull id and row counts."""
    from proximite.pipeline import ingest

    settings = project_settings(project_dir)
    result = ingest(input_dir, settings=settings, sources=[source])
    summary = result.summary()
    get_run_logger().info("ingested %s: %s", source, summary.get(source, {}).get("rows", {}))
    return summary


def project_settings(project_dir: str) -> Settings:
    """The project's settings, with the raw layer's keys from the Secret block ``[privacy] raw_key_secret`` when named.

    The block's value is handed in under the name of ``[privacy] raw_key_env``
    (:meth:`proximite.config.Settings.with_secrets`), never put in the environment or a parameter.
    """
    settings = load_settings(project_dir)
    privacy = settings.raw.get("privacy") or {}
    block = privacy.get("raw_key_secret")
    if not block:
        return settings
    from prefect.blocks.system import Secret

    return settings.with_secrets({str(privacy.get("raw_key_env") or "PROXIMITE_RAW_KEY"): str(Secret.load(block).get())})


def _redcap_token(token_env: str | None, token_secret: str | None) -> str:
    """The REDCap token from a Prefect Secret block (when named) or an environment variable."""
    from proximite.cohort.redcap.errors import token_from_env

    if token_secret:
        from prefect.blocks.system import Secret

        return str(Secret.load(token_secret).get())
    return token_from_env(token_env or DEFAULT_TOKEN_ENV)


def retry_unless_refused(task: Any, task_run: Any, state: Any) -> bool:
    """Retry a failed pull, but not one the staged gate refused: pulling again gives the same data."""
    from proximite.expectations.gates import GateFailed

    try:
        state.result()
    except GateFailed:
        return False
    except Exception:  # noqa: BLE001 - any other failure (network, server) is worth another try
        return True
    return True


# Each request already retries with backoff inside the pull; the task retry (with backoff)
# covers a pull that failed as a whole.
@task(
    name="pull-redcap",
    cache_policy=NO_CACHE,
    retries=2,
    retry_delay_seconds=[10, 60],
    retry_condition_fn=retry_unless_refused,
)
def pull_redcap(
    url: str,
    project_dir: str,
    token_env: str | None = DEFAULT_TOKEN_ENV,
    token_secret: str | None = None,
    full: bool = False,
    batch_size: int = 500,
) -> dict[str, Any]:
    """Pull the cohort through PyCap into 01 raw and 02 staged; returns the pull's summary.

    A progress artifact (``proximite-pull-progress``) follows the pull: project structure,
    records, staging.
    """
    from proximite.pipeline import pull_redcap as run_pull

    settings = project_settings(project_dir)
    progress = _progress_artifact("REDCap pull: project structure, records, staging", steps_count=3)
    result = run_pull(
        url, token=_redcap_token(token_env, token_secret), settings=settings, full=full, batch_size=batch_size, progress=progress
    )
    progress.finish()
    summary = result.summary()
    get_run_logger().info(
        "REDCap pull %s (%s): %s records, %s deleted", summary["pull_id"], summary["mode"], summary["records"], summary["deleted"]
    )
    return summary


# ------------------------------------------------------------------------ privacy steps
@task(name="consent-withdrawals", cache_policy=NO_CACHE)
def consent_withdrawals(project_dir: str) -> dict[str, Any]:
    """Destroy the rows of the families who withdrew their data, before anything is harmonised; counts only."""
    settings = load_settings(project_dir)
    key, _origin = pseudonym_key(settings)
    report = pipeline.withdraw_families(settings, key=key).to_dict()
    if report["families"]:
        get_run_logger().warning("consent withdrawal: %s family(ies) removed from every layer", report["families"])
    return report


@task(name="raw-retention", cache_policy=NO_CACHE)
def raw_retention(project_dir: str) -> dict[str, int]:
    """Reduce the raw pulls older than ``[privacy] raw_retention_days`` (after a good build); counts only."""
    _plan, counts = pipeline.apply_raw_retention(load_settings(project_dir))
    return counts


# ------------------------------------------------------------------------ deterministic steps
@task(name="staged-inputs", cache_policy=NO_CACHE)
def staged_inputs(project_dir: str) -> dict[str, Any]:
    """What the next steps depend on: the staged tables' content hashes, the configuration's hash, the code version.

    Content rather than pull ids: a pull of unchanged files gets a new pull id but the same
    tables, and must not rebuild anything.
    """
    from proximite.cohort import layers

    settings = load_settings(project_dir)
    return {"content": layers.staged_content(settings), "config": settings.fingerprint(), "code": pipeline.code_version()}


def _harmonised_exists(inputs: dict[str, Any]) -> bool:
    settings = load_settings(inputs["project_dir"])
    return pipeline.harmonised_dir_for(settings, inputs["inputs"]["content"]).is_dir()


@task(name="harmonise", cache_policy=WhileOutputExists(output_exists=_harmonised_exists), persist_result=True)
def harmonise(project_dir: str, inputs: dict[str, Any]) -> str:
    """Harmonise the staged pulls named in ``inputs`` into layer 03; returns the layer-03 directory."""
    settings = load_settings(project_dir)
    key, _origin = pseudonym_key(settings)
    directory = pipeline.harmonise_staged(settings, key=key)
    return str(directory)


def _directory_exists(inputs: dict[str, Any]) -> bool:
    return Path(inputs["harmonised_dir"]).is_dir()


@task(name="validate-harmonised", cache_policy=WhileOutputExists(output_exists=_directory_exists), persist_result=True)
def validate_harmonised(project_dir: str, harmonised_dir: str, inputs: dict[str, Any]) -> dict[str, Any]:
    """The harmonised gate: a refused batch is quarantined (its report encrypted) and the task fails (the warehouse stays)."""
    settings = project_settings(project_dir)
    outcome = pipeline.validate_harmonised(settings, harmonised_dir)
    get_run_logger().info("harmonised gate passed: %s rules, %s failed below threshold", outcome["rules"], outcome["rules_failed"])
    return outcome


def _warehouse_holds(inputs: dict[str, Any]) -> bool:
    """The current build was made from this layer-03 directory's pulls by this code."""
    import json

    from proximite.cohort.warehouse import current_build

    settings = load_settings(inputs["project_dir"])
    build = current_build(settings)
    if build is None:
        return False
    made_from = json.loads((Path(inputs["harmonised_dir"]) / "inputs.json").read_text(encoding="utf-8"))
    return build.inputs == made_from and build.code_version == inputs["inputs"]["code"]


@task(name="build", cache_policy=WhileOutputExists(output_exists=_warehouse_holds), persist_result=True)
def build(project_dir: str, harmonised_dir: str, inputs: dict[str, Any]) -> dict[str, Any]:
    """Build the warehouse from layer 03 (atomic swap); returns the build's id and row counts."""
    settings = load_settings(project_dir)
    # The validate-harmonised task has just gated this very directory.
    info = pipeline.build_from_harmonised(settings, harmonised_dir, validate=False)
    get_run_logger().info("warehouse build %s: %s", info.build_id, info.row_counts)
    return info.to_dict()


# ------------------------------------------------------------------------- indicators (04)
@task(name="current-build", cache_policy=NO_CACHE)
def current_build_id(project_dir: str) -> str:
    """The current warehouse build's id (fails clearly when there is no warehouse yet)."""
    from proximite.cohort.warehouse import WarehouseNotFoundError, current_build

    settings = load_settings(project_dir)
    build_info = current_build(settings)
    if build_info is None:
        raise WarehouseNotFoundError(f"{settings.warehouse_path}: no warehouse yet; run the build or pipeline flow first")
    return build_info.build_id


@task(name="reusable-indicators", cache_policy=NO_CACHE)
def reusable_indicators(project_dir: str, build_id: str) -> str | None:
    """Layer 04 of this build computed with the current parameters, when it is there already."""
    directory = pipeline.reusable_indicators(load_settings(project_dir), build_id)
    return str(directory) if directory is not None else None


@task(name="indicator-unit", cache_policy=NO_CACHE, task_run_name="indicators-{family}-{scope}")
def indicator_unit(project_dir: str, build_id: str, family: str, scope: str) -> dict[str, Any]:
    """One unit of the fan-out: an indicator family at one scope level, written as a part file."""
    return pipeline.compute_indicator_part(load_settings(project_dir), build_id, family, scope)


def _indicators_exist(inputs: dict[str, Any]) -> bool:
    settings = load_settings(inputs["project_dir"])
    return (settings.data_dir / pipeline.INDICATORS / inputs["build_id"] / pipeline.INDICATORS_FILE).is_file()


@task(name="combine-indicators", cache_policy=WhileOutputExists(output_exists=_indicators_exist), persist_result=True)
def combine_indicators(project_dir: str, build_id: str, parts: list[dict[str, Any]], inputs: dict[str, Any]) -> str:
    """Combine the fan-out's parts into layer 04 (atomic); returns its directory."""
    directory = pipeline.combine_indicator_parts(load_settings(project_dir), build_id, parts)
    get_run_logger().info("indicators of build %s in %s", build_id, directory)
    return str(directory)


# ------------------------------------------------------------------------------- reporting
def _snapshot_exists(inputs: dict[str, Any]) -> bool:
    from proximite.indicators.disclosure import DisclosureSettings
    from proximite.indicators.snapshot import snapshot_dir

    settings = load_settings(inputs["project_dir"])
    day = dt.date.fromisoformat(inputs["day"])
    # The folder this task would write: named by its day, disclosure level and scope.
    level = inputs.get("level") or DisclosureSettings.from_settings(settings).level
    folder = snapshot_dir(settings.reporting_dir, today=day, level=level, scope=inputs.get("scope") or "quebec")
    return (folder / "index.html").is_file()


@task(name="snapshot", cache_policy=WhileOutputExists(output_exists=_snapshot_exists), persist_result=True)
def snapshot(
    project_dir: str,
    indicators_dir: str,
    lang: str = "fr",
    level: str | None = None,
    scope: str = "quebec",
    day: str | None = None,
    inputs: dict[str, Any] | None = None,
    economics_dir: str | None = None,  # only in the cache key: a new economics run means a new page
) -> str:
    """Write the decision-makers' snapshot of ``day`` from layer 04 (disclosure applied); returns its directory."""
    settings = load_settings(project_dir)
    directory = pipeline.write_snapshot_from_warehouse(
        settings,
        lang=lang,
        level=level,
        scope=scope,
        indicators_dir=indicators_dir,
        today=dt.date.fromisoformat(day) if day else None,
    )
    get_run_logger().info("snapshot written to %s", directory)
    return str(directory)


@task(name="headline-indicators", cache_policy=NO_CACHE)
def headline_indicators(project_dir: str, indicators_dir: str, lang: str = "fr") -> list[dict[str, Any]]:
    """The Québec headline of layer 04 after the public disclosure rule, formatted for people in ``lang``."""
    import pandas as pd

    from proximite.cohort.codebook import load_codebook
    from proximite.flows.artifacts import headline_rows
    from proximite.indicators.disclosure import DisclosureSettings, apply_disclosure

    from proximite.cohort.warehouse import table as warehouse_table

    settings = load_settings(project_dir)
    indicators = pd.read_parquet(Path(indicators_dir) / pipeline.INDICATORS_FILE)
    disclosure = DisclosureSettings.from_settings(settings, level="public")
    codebook = load_codebook()
    confidence = float(settings.raw.get("indicators", {}).get("confidence", 0.95))
    # The same rule as the public snapshot, over the whole hierarchy, before keeping Québec's rows.
    disclosed = apply_disclosure(
        indicators,
        level="public",
        threshold=disclosure.threshold,
        rounding_base=disclosure.rounding_base,
        codebook=codebook,
        territory=warehouse_table(settings, "territory"),
        confidence=confidence,
    )
    return headline_rows(
        disclosed,
        lang=lang,
        confidence=confidence,
        label=lambda indicator: codebook.indicator_label(indicator, lang=lang),
        text=lambda key, **values: codebook.snapshot_text(key, lang=lang, **values),
    )


# ------------------------------------------------------------------------------- models
@task(name="model-spec-files", cache_policy=NO_CACHE)
def model_spec_files(project_dir: str) -> list[str]:
    """The project's model specs (``models/*.yaml``)."""
    from proximite.cohort.models.specs import project_spec_files

    return [str(path) for path in project_spec_files(load_settings(project_dir))]


@task(name="model-spec-output", cache_policy=NO_CACHE)
def model_spec_output(project_dir: str, spec_file: str, build_id: str) -> dict[str, str]:
    """Where a spec file's results go for this build, and the file's hash (the cache key's inputs)."""
    from proximite.cohort.models.specs import spec_file_output

    directory, digest = spec_file_output(load_settings(project_dir), spec_file, build_id)
    return {"out_dir": str(directory), "spec_sha256": digest}


def _models_written(inputs: dict[str, Any]) -> bool:
    import json

    manifest = Path(inputs["output"]["out_dir"]) / "manifest.json"
    return manifest.is_file() and json.loads(manifest.read_text(encoding="utf-8")).get("spec_sha256") == inputs["output"]["spec_sha256"]


@task(name="run-model-spec", cache_policy=WhileOutputExists(output_exists=_models_written), persist_result=True,
      task_run_name="models-{build_id}")
def run_model_spec(project_dir: str, spec_file: str, build_id: str, output: dict[str, str]) -> dict[str, Any]:
    """Fit one spec file's models on the current build; returns counts and paths (never a family's row)."""
    from proximite.cohort.models.specs import load_specs, run_specs

    logger = get_run_logger()
    run = run_specs(load_specs(spec_file), load_settings(project_dir), output["out_dir"], echo=logger.info)
    return {"spec_file": spec_file, "out_dir": str(run.out_dir), "manifest": str(run.manifest_path),
            "models": len(run.results), "build_id": build_id}


# ------------------------------------------------------------------------------- economics
@task(name="economics-inputs", cache_policy=NO_CACHE)
def economics_inputs(project_dir: str, params: str | None, costing_params: str | None, cost_basis: str) -> dict[str, Any]:
    """The cost–benefit's inputs of the current build: parameter files, programme costs per quarter, families per year."""
    return pipeline.economics_inputs(load_settings(project_dir), params=params, costing_params=costing_params, cost_basis=cost_basis)


@task(name="psa-chunk", cache_policy=NO_CACHE, task_run_name="psa-chunk-{index}")
def psa_chunk(params: str | None, inputs: dict[str, Any], draws: int, chunk: int, seed: int, index: int) -> Any:
    """One chunk of the PSA's draws (a seeded unit: the same draws on any worker)."""
    return pipeline.psa_unit(params, inputs, draws=draws, chunk=chunk, seed=seed, index=index)


@task(name="economics-report", cache_policy=NO_CACHE)
def economics_report(
    project_dir: str, params: str | None, costing_params: str | None, cost_basis: str, draws: int, chunk: int, seed: int,
    chunks: list[Any], lang: str,
) -> dict[str, Any]:
    """Cost, cost per outcome, cost–benefit with the PSA's chunks, tornado; writes the run directory.

    Returns ``{"economics_dir": str, "summary": dict}`` (the report's aggregates, for the artifact).
    """
    from proximite.economics.report import EconomicsSummary

    directory = pipeline.run_economics(
        load_settings(project_dir), params=params, costing_params=costing_params, cost_basis=cost_basis,
        draws=draws, seed=seed, chunk=chunk, psa_chunks=chunks, lang=lang,
    )
    get_run_logger().info("economics of the current build in %s", directory)
    return {"economics_dir": str(directory), "summary": EconomicsSummary.read(directory).to_dict()}
