"""Cache policies of the deterministic tasks: their inputs and source, refreshed when their output is gone.

Prefect's ``INPUTS + TASK_SOURCE`` policy reuses a task's result when it is called again with the
same inputs and the same task code. The tasks here pass content identities as inputs (the
staged pull ids, the layer-03 directory, the build id, a hash of the configuration and the code
version), so unchanged inputs are not recomputed. One guard more: a cached result names a
directory or a build, and when that output is gone (a layer cleaned by hand, the warehouse
rebuilt from other data) the cache must not answer with it. :class:`WhileOutputExists` carries
the check and :func:`call_cached` runs the task with ``refresh_cache`` when it fails, so the
task runs again and its new result replaces the stale one under the same key.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from prefect.cache_policies import INPUTS, TASK_SOURCE, CachePolicy

__all__ = ["LAYER_INPUTS", "WhileOutputExists", "call_cached"]

#: The house policy of deterministic steps (the issue's ``INPUTS + TASK_SOURCE``).
LAYER_INPUTS = INPUTS + TASK_SOURCE


@dataclass
class WhileOutputExists(CachePolicy):
    """``policy``'s key, with a check that the cached output is still there.

    Parameters
    ----------
    output_exists : callable
        ``output_exists(inputs) -> bool`` with the task's bound inputs; cheap (it runs before
        every call through :func:`call_cached`). A check that raises counts as missing.
    policy : CachePolicy
        The key (default :data:`LAYER_INPUTS`).
    """

    output_exists: Callable[[dict[str, Any]], bool] = lambda inputs: True  # noqa: E731
    policy: CachePolicy = field(default_factory=lambda: LAYER_INPUTS)

    def compute_key(self, task_ctx: Any, inputs: dict[str, Any], flow_parameters: dict[str, Any], **kwargs: Any) -> str | None:
        """The wrapped policy's key."""
        return self.policy.compute_key(task_ctx=task_ctx, inputs=inputs, flow_parameters=flow_parameters, **kwargs)

    def output_present(self, inputs: dict[str, Any]) -> bool:
        """Whether the output a cached result would name is still there."""
        try:
            return bool(self.output_exists(inputs))
        except Exception:  # noqa: BLE001 - a check that cannot decide must not serve a stale result
            return False


def call_cached(task: Any, *args: Any, cached: list[str], **kwargs: Any) -> Any:
    """Call ``task`` and return its result; append its name to ``cached`` when the cache answered.

    When the task's policy is a :class:`WhileOutputExists` whose output is missing, the task runs
    with ``refresh_cache=True``. A failed task raises here exactly as a direct call would.
    """
    policy = task.cache_policy
    if isinstance(policy, WhileOutputExists):
        bound = inspect.signature(task.fn).bind(*args, **kwargs)
        bound.apply_defaults()
        if not policy.output_present(dict(bound.arguments)):
            task = task.with_options(refresh_cache=True)
    state = task(*args, return_state=True, **kwargs)
    result = state.result()
    if state.name == "Cached":
        cached.append(task.name)
    return result
