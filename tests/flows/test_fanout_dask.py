"""The indicators' fan-out gives the same layer 04 on a two-worker Dask cluster as on the thread pool."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from proximite.cli import app
from tests.flows.conftest import fast_project

pytestmark = pytest.mark.usefixtures("prefect_api")


@pytest.fixture(scope="module")
def built_project(flow_input: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project with a warehouse built from the flow tests' synthetic input (through the CLI)."""
    mp = pytest.MonkeyPatch()
    mp.setenv("PROXIMITE_PSEUDONYM_KEY", "test-key-not-secret-0123456789abcdef")
    try:
        project = fast_project(tmp_path_factory.mktemp("fanout") / "project")
        runner = CliRunner()
        for args in (["ingest", str(flow_input), "--project-dir", str(project)], ["build", "--project-dir", str(project)]):
            result = runner.invoke(app, args)
            assert result.exit_code == 0, result.output
        return project
    finally:
        mp.undo()


@pytest.mark.journey
def test_the_fanout_on_a_dask_local_cluster_equals_the_thread_pool(built_project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from distributed import Client, LocalCluster, get_task_stream

    from proximite import pipeline
    from proximite.config import load_settings
    from proximite.flows.indicators import indicators
    from proximite.flows.runners import DASK_ADDRESS_ENV
    from proximite.indicators.fanout import fanout_units

    monkeypatch.delenv(DASK_ADDRESS_ENV, raising=False)
    threaded = indicators(str(built_project), publish=False)
    assert threaded["units"] == len(fanout_units(split_scopes=False))  # on this machine: a unit per family
    directory = Path(threaded["indicators_dir"])
    on_threads = pd.read_parquet(directory / pipeline.INDICATORS_FILE)
    shutil.rmtree(directory)

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, Client(cluster) as client:
        monkeypatch.setenv(DASK_ADDRESS_ENV, cluster.scheduler_address)
        with get_task_stream(client) as stream:
            on_dask_run = indicators(str(built_project), publish=False)
    # Every unit (a family at one scope level) ran on the cluster's workers (both of them), not in this process.
    units = [task for task in stream.data if "indicator_unit" in task["key"] or "indicator-unit" in task["key"]]
    assert len(units) == len(fanout_units()) == on_dask_run["units"]
    assert len({task["worker"] for task in units}) == 2
    on_dask = pd.read_parquet(Path(on_dask_run["indicators_dir"]) / pipeline.INDICATORS_FILE)
    assert len(on_dask) > 100
    pd.testing.assert_frame_equal(on_dask, on_threads)
    # And both equal the sequential computation of the CLI.
    sequential = pd.read_parquet(pipeline.compute_indicators(load_settings(built_project), force=True) / pipeline.INDICATORS_FILE)
    pd.testing.assert_frame_equal(sequential, on_threads)
