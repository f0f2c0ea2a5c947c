"""Flow ``models``: the project's YAML model specs fitted on the current warehouse build."""

from __future__ import annotations

from typing import Any

from prefect import flow

from proximite.flows import artifacts, tasks
from proximite.flows.caching import call_cached
from proximite.flows.failure import ends_with_reason, source_version
from proximite.flows.notify import notify_failure


@flow(name="models", on_failure=[notify_failure], version=source_version(__file__))
@ends_with_reason
def models(project_dir: str = ".", spec_files: list[str] | None = None, publish: bool = True) -> dict[str, Any]:
    """Fit the model specs on the current build (``reporting/models/<spec>-<build>/``).

    Parameters
    ----------
    project_dir : str
    spec_files : list of str, optional
        YAML spec files (default: every ``models/*.yaml`` of the project).
    publish : bool
        Publish the ``proximite-models`` table artifact.

    Returns
    -------
    dict
        ``{"build_id": str, "runs": [{"spec_file", "out_dir", "manifest", "models", "build_id"}],
        "cached": [spec files reused]}``. A spec file whose results for this build and this
        version of the file are already written is not fitted again.
    """
    build_id = tasks.current_build_id(project_dir)
    files = spec_files if spec_files is not None else tasks.model_spec_files(project_dir)
    runs = []
    reused: list[str] = []
    for spec_file in files:
        output = tasks.model_spec_output(project_dir, spec_file, build_id)
        cached: list[str] = []
        runs.append(call_cached(tasks.run_model_spec, project_dir, spec_file, build_id, output, cached=cached))
        if cached:
            reused.append(spec_file)
    if publish:
        artifacts.publish(models=artifacts.model_rows(runs, cached=reused))
    return {"build_id": build_id, "runs": runs, "cached": reused}
