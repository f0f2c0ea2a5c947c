"""Configuration layering and the pseudonym key."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from proximite.config import ConfigError, load_settings, pseudonym_key


def test_defaults_hold_designs_waves_and_grid(tmp_path: Path) -> None:
    settings = load_settings(tmp_path)
    assert settings.wave_months == [0, 6, 12, 24]
    assert settings.event_waves["t12_arm_1"] == 12
    assert settings["isolation"]["min_answered"] == 4
    assert settings["isolation"]["isolated_threshold"] == 50
    assert settings.warehouse_path == tmp_path.resolve() / "warehouse.duckdb"


def test_project_file_overrides_one_key_and_keeps_the_rest(tmp_path: Path) -> None:
    (tmp_path / "proximite.toml").write_text("[isolation]\nisolated_threshold = 60\n", encoding="utf-8")
    settings = load_settings(tmp_path)
    assert settings["isolation"]["isolated_threshold"] == 60
    assert settings["isolation"]["min_answered"] == 4
    assert tmp_path / "proximite.toml" in settings.sources


def test_malformed_toml_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "proximite.toml").write_text("[isolation\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="proximite.toml: not valid TOML"):
        load_settings(tmp_path)


def test_key_from_environment_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROXIMITE_PSEUDONYM_KEY", "abc")
    key, origin = pseudonym_key(load_settings(tmp_path))
    assert key == b"abc" and origin == "env:PROXIMITE_PSEUDONYM_KEY"


def test_key_file_is_created_private_only_on_request(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PROXIMITE_PSEUDONYM_KEY", raising=False)
    settings = load_settings(tmp_path)
    with pytest.raises(ConfigError, match="no pseudonym key"):
        pseudonym_key(settings)
    key, origin = pseudonym_key(settings, create=True)
    path = tmp_path / ".pseudonym_key"
    assert origin == f"file:{path.resolve()}"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert pseudonym_key(settings) == (key, origin)  # read back, not regenerated


def test_key_file_readable_by_others_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PROXIMITE_PSEUDONYM_KEY", raising=False)
    path = tmp_path / ".pseudonym_key"
    path.write_text("k", encoding="utf-8")
    path.chmod(0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        pseudonym_key(load_settings(tmp_path))
