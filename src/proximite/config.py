"""Configuration: packaged defaults, then local and per-project overrides.

Load order (later wins, tables merged key by key):

1. ``conf/proximite.toml`` shipped with the package;
2. ``conf/proximite.local.toml`` beside it (git-ignored, a machine's own settings);
3. ``<project-dir>/proximite.toml`` when a project directory is given;
4. the file named by ``PROXIMITE_CONFIG``.

Secrets never live in these files: the pseudonym key and the raw layer's keys come from the
environment (or a Prefect Secret block the flows read, see :attr:`Settings.secrets`), or from
the project's key files, created by ``proximite demo`` with mode 0600.
"""

from __future__ import annotations

import copy
import dataclasses
import os
import secrets
import stat
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

DEFAULT_CONFIG_NAME = "proximite.toml"
LOCAL_CONFIG_NAME = "proximite.local.toml"


class ConfigError(ValueError):
    """A configuration file or value is missing or malformed."""


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML ({error})") from error


def default_config_path() -> Path:
    """Path of the packaged defaults file."""
    return Path(str(resources.files("proximite.conf").joinpath(DEFAULT_CONFIG_NAME)))


@dataclass(frozen=True)
class Settings:
    """Merged configuration plus the project directory it applies to.

    Attributes
    ----------
    raw : dict
        The merged TOML tables.
    project_dir : Path
        Root of a project: ``data/`` layers, the warehouse and the reporting folder live here.
    sources : list of Path
        Files that contributed, in load order.
    secrets : Mapping of str to str
        Secret values handed in by the caller under the name of the environment variable they
        stand for (a flow reads a Prefect Secret block and passes it here): :meth:`secret` looks
        here before the environment. Never shown (``repr``), never in :meth:`fingerprint`.
    """

    raw: dict[str, Any]
    project_dir: Path
    sources: list[Path] = field(default_factory=list)
    secrets: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)

    def __getitem__(self, key: str) -> Any:
        return self.raw[key]

    @property
    def data_dir(self) -> Path:
        return self.project_dir / self.raw["project"]["data_dir"]

    @property
    def warehouse_path(self) -> Path:
        return self.project_dir / self.raw["project"]["warehouse"]

    @property
    def reporting_dir(self) -> Path:
        return self.project_dir / self.raw["project"]["reporting_dir"]

    @property
    def project_name(self) -> str:
        return str(self.raw["project"]["name"])

    def fingerprint(self) -> str:
        """SHA-256 of the merged configuration (a cache key: results change when it changes)."""
        import hashlib
        import json

        text = json.dumps(self.raw, sort_keys=True, default=str, ensure_ascii=False)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def secret(self, env_name: str) -> str | None:
        """A secret by the name of its environment variable: handed in (:attr:`secrets`) or from the environment."""
        return self.secrets.get(env_name) or os.environ.get(env_name) or None

    def with_secrets(self, values: Mapping[str, str]) -> Settings:
        """The same settings with more secrets handed in (never mutates ``self``)."""
        return dataclasses.replace(self, secrets={**self.secrets, **values})

    @property
    def wave_months(self) -> list[int]:
        return [int(month) for month in self.raw["waves"]["months"]]

    @property
    def event_waves(self) -> dict[str, int]:
        return {str(event): int(wave) for event, wave in self.raw["waves"]["events"].items()}


def load_settings(project_dir: str | Path | None = None) -> Settings:
    """Load the merged configuration.

    Parameters
    ----------
    project_dir : str or Path, optional
        Project directory; its ``proximite.toml`` (if any) overrides the defaults. Defaults to
        the current directory.

    Returns
    -------
    Settings
    """
    root = Path(project_dir) if project_dir is not None else Path.cwd()
    default_path = default_config_path()
    raw = _read_toml(default_path)
    used = [default_path]
    candidates = [default_path.with_name(LOCAL_CONFIG_NAME), root / DEFAULT_CONFIG_NAME]
    env_path = os.environ.get("PROXIMITE_CONFIG")
    if env_path:
        if not Path(env_path).is_file():
            raise ConfigError(f"PROXIMITE_CONFIG names {env_path}, which is not a file")
        candidates.append(Path(env_path))
    for candidate in candidates:
        if candidate.is_file() and candidate.resolve() != default_path.resolve():
            raw = _merge(raw, _read_toml(candidate))
            used.append(candidate)
    return Settings(raw=raw, project_dir=root.resolve(), sources=used)


def pseudonym_key(settings: Settings, *, create: bool = False) -> tuple[bytes, str]:
    """Return the pseudonymisation key and where it came from.

    Parameters
    ----------
    settings : Settings
    create : bool, keyword-only
        Create a random key file in the project directory (mode 0600) when neither the
        environment variable nor the file exists. Only the demo does this.

    Returns
    -------
    key : bytes
    origin : str
        ``"env:<NAME>"`` or ``"file:<path>"`` (the path, never the key).

    Raises
    ------
    ConfigError
        No key is available and ``create`` is false.
    """
    section = settings["pseudonym"]
    env_name = section["key_env"]
    from_env = os.environ.get(env_name)
    if from_env:
        return from_env.encode("utf-8"), f"env:{env_name}"
    key_path = settings.project_dir / section["key_file"]
    if key_path.is_file():
        mode = stat.S_IMODE(key_path.stat().st_mode)
        if mode & 0o077:
            raise ConfigError(
                f"{key_path}: the pseudonym key file is readable by others (mode {mode:o}); "
                "run `chmod 600` on it"
            )
        return key_path.read_text(encoding="utf-8").strip().encode("utf-8"), f"file:{key_path}"
    if not create:
        raise ConfigError(
            f"no pseudonym key: set {env_name} (or a Prefect Secret block) or create {key_path} "
            "with mode 0600"
        )
    key_path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(secrets.token_hex(32))
    return key_path.read_text(encoding="utf-8").strip().encode("utf-8"), f"file:{key_path}"
