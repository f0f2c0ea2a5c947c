"""The ``models`` flow fits the project's specs on the current build, once per build and spec version."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from proximite.cli import app
from tests.flows.conftest import fast_project

pytestmark = pytest.mark.usefixtures("prefect_api")

EXAMPLES = Path(__file__).resolve().parents[2] / "cohort" / "models" / "examples"
SPEC = """\
description: Wave effects, two ways
data:
  panel: {}
models:
  - name: fe
    kind: panel_ols
    formula: isolation_index ~ 1 + C(wave) + EntityEffects
    options: {cluster: family}
  - name: pooled
    kind: pooled_ols
    formula: isolation_index ~ 1 + C(wave)
"""


@pytest.fixture(scope="module")
def project(flow_input: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    mp = pytest.MonkeyPatch()
    mp.setenv("PROXIMITE_PSEUDONYM_KEY", "test-key-not-secret-0123456789abcdef")
    try:
        directory = fast_project(tmp_path_factory.mktemp("models-flow") / "project")
        for args in (["ingest", str(flow_input), "--project-dir", str(directory)], ["build", "--project-dir", str(directory)]):
            result = CliRunner().invoke(app, args)
            assert result.exit_code == 0, result.output
        (directory / "models").mkdir()
        (directory / "models" / "waves.yaml").write_text(SPEC, encoding="utf-8")
        return directory
    finally:
        mp.undo()


def _artifact_rows(flow_run_id: Any) -> list[dict[str, Any]]:
    import httpx
    from prefect.settings import PREFECT_API_URL

    response = httpx.post(
        f"{PREFECT_API_URL.value()}/artifacts/filter", json={"artifacts": {"flow_run_id": {"any_": [str(flow_run_id)]}}}, timeout=30
    )
    response.raise_for_status()
    [table] = [artifact for artifact in response.json() if artifact["key"] == "proximite-models"]
    return json.loads(table["data"]) if isinstance(table["data"], str) else table["data"]


@pytest.mark.journey
def test_the_models_flow_fits_each_spec_once_per_build_and_spec_version(project: Path) -> None:
    from proximite.flows.models import models

    state = models(str(project), return_state=True)
    first = state.result()
    [run] = first["runs"]
    manifest = json.loads(Path(run["manifest"]).read_text(encoding="utf-8"))
    assert run["models"] == 2 and manifest["build_id"] == first["build_id"] and first["cached"] == []
    assert Path(run["out_dir"]) == project / "reporting" / "models" / f"waves-{first['build_id']}"
    assert (Path(run["out_dir"]) / "fe.summary.csv").is_file()
    rows = _artifact_rows(state.state_details.flow_run_id)
    assert rows == [{"spec": "waves.yaml", "models": 2, "build_id": first["build_id"], "out_dir": run["out_dir"], "outcome": "fitted"}]

    # Same build, same spec: reused, the files untouched.
    written = Path(run["manifest"]).stat().st_mtime_ns
    again = models(str(project))
    assert again["cached"] == [str(project / "models" / "waves.yaml")]
    assert Path(run["manifest"]).stat().st_mtime_ns == written

    # The spec changes: fitted again (a new hash), in the same folder.
    (project / "models" / "waves.yaml").write_text(SPEC.replace("cluster: family", "cluster: territory"), encoding="utf-8")
    changed = models(str(project))
    assert changed["cached"] == []
    refit = json.loads(Path(changed["runs"][0]["manifest"]).read_text(encoding="utf-8"))
    assert refit["spec_sha256"] != manifest["spec_sha256"]

    # Results deleted: fitted again rather than reported from the cache.
    shutil.rmtree(run["out_dir"])
    assert models(str(project))["cached"] == [] and Path(run["manifest"]).is_file()


def test_a_failing_spec_fails_the_run_and_keeps_the_previous_results(project: Path) -> None:
    from proximite.cohort.models.specs import SpecError
    from proximite.flows.models import models

    models(str(project))
    bad = project / "models" / "broken.yaml"
    bad.write_text(SPEC.replace("isolation_index ~ 1 + C(wave)\n", "no_such_column ~ 1 + C(wave)\n"), encoding="utf-8")
    try:
        with pytest.raises(SpecError, match="pooled"):
            models(str(project), spec_files=[str(bad)])
        assert not any(path.name.startswith("broken-") for path in (project / "reporting" / "models").iterdir())
        assert any(path.name.startswith("waves-") for path in (project / "reporting" / "models").iterdir())
    finally:
        bad.unlink()
