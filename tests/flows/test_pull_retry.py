"""The pull task retries a failed pull, but not one the staged gate refused."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from proximite.expectations.base import FAILURE_COLUMNS, SUMMARY_COLUMNS, ValidationResult
from proximite.expectations.gates import GateFailed
from proximite.flows.tasks import retry_unless_refused as _retry_unless_refused


class _FailedState:
    def __init__(self, error: BaseException) -> None:
        self.error = error

    def result(self) -> None:
        raise self.error


def _refusal(tmp_path: Path) -> GateFailed:
    summary = pd.DataFrame(
        [["staged", "registry", "activity", "staged.activity.minutes.between", "plausibility", "error", 0.0, 10, 1, 0.1, False, "great_expectations", ""]],
        columns=SUMMARY_COLUMNS,
    )
    result = ValidationResult("staged", "registry", "p1", summary, pd.DataFrame(columns=FAILURE_COLUMNS))
    return GateFailed(result, tmp_path / "report")


def test_a_refused_pull_is_not_retried(tmp_path: Path) -> None:
    assert _retry_unless_refused(None, None, _FailedState(_refusal(tmp_path))) is False


def test_a_network_failure_is_retried() -> None:
    assert _retry_unless_refused(None, None, _FailedState(ConnectionError("reset"))) is True
