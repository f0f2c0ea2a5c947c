"""Data Docs built once per batch of gates: at the batch's end, whatever its outcome; at once outside a batch."""

from __future__ import annotations

from pathlib import Path

import pytest

from proximite.expectations import data_docs_batch
from proximite.expectations.data_docs_batch import one_data_docs_build, site_changed


@pytest.fixture
def builds(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    built: list[Path] = []
    monkeypatch.setattr(data_docs_batch, "_build", built.append)
    return built


def test_outside_a_batch_each_gate_builds_its_site(builds: list[Path], tmp_path: Path) -> None:
    site_changed(tmp_path / "a")
    site_changed(tmp_path / "a")
    assert builds == [tmp_path / "a", tmp_path / "a"]


def test_a_batch_builds_each_site_once_when_the_outermost_block_ends(builds: list[Path], tmp_path: Path) -> None:
    with one_data_docs_build():
        for _ in range(10):
            site_changed(tmp_path / "a")
        with one_data_docs_build():
            site_changed(tmp_path / "b")
        assert builds == []  # the inner block's end builds nothing
    assert builds == [tmp_path / "a", tmp_path / "b"]
    site_changed(tmp_path / "a")
    assert builds[-1] == tmp_path / "a" and len(builds) == 3


def test_a_refused_batch_still_builds_and_a_failed_build_never_hides_the_refusal(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    attempts: list[Path] = []

    def broken(directory: Path) -> None:
        attempts.append(directory)
        raise OSError("disk full")

    monkeypatch.setattr(data_docs_batch, "_build", broken)
    with pytest.raises(ValueError, match="refused"):
        with one_data_docs_build():
            site_changed(tmp_path / "site")
            raise ValueError("refused")
    assert attempts == [tmp_path / "site"]
    assert "could not be built" in caplog.text and str(tmp_path / "site") in caplog.text
