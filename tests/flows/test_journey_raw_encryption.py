"""Journeys of the encryption at rest of layer 01 raw and of the quarantine's reports.

- An encrypted project stages and builds exactly what a project in clear does.
- After an ingest of the synthetic input, a REDCap pull through PyCap from the sandbox, a refused
  export and a build, no family's name, phone or address is in clear in any file of the project;
  the coordinator still opens the refusal's report (``open_report``).
- A key rotation killed with SIGKILL at several moments leaves every raw and quarantine file
  readable with the keys its key file holds (the old or the new one), and running it again
  finishes it.
"""

from __future__ import annotations

import csv
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from proximite import pipeline
from proximite.cli.privacy_keys import open_report, rotate_key
from proximite.cohort import layers
from proximite.cohort.privacy.encryption import RawKey, file_key_id, is_encrypted
from proximite.cohort.privacy.keys import raw_keyring, raw_keyring_from_file
from proximite.cohort.privacy.storage import protected_files, read_protected
from proximite.cohort.redcap.loaders import project_from_directory
from proximite.cohort.redcap.refusal import StagingRefused
from proximite.cohort.sandbox.server import SandboxServer
from proximite.config import Settings, load_settings
from tests.flows.conftest import fast_project

FAST = {"backoff_seconds": 0.001, "pause_seconds": 0.0, "timeout_seconds": 30, "batch_size": 25, "retries": 1}
#: The REDCap export's identifier fields: never in clear outside the input once pulled.
IDENTIFIERS = ("fam_nom_parent", "fam_prenom_parent", "fam_telephone", "fam_adresse", "enf_prenom")


def _cli(command) -> typer.Typer:  # noqa: ANN001 - a command function of proximite.cli.privacy_keys
    """A one-command app (the ``proximite privacy`` group registers these functions)."""
    app = typer.Typer()
    app.command()(command)
    return app


def _broken_export(flow_input: Path, root: Path) -> Path:
    """A copy of the input's REDCap export whose first row has an unknown language code."""
    shutil.copytree(flow_input / "redcap", root / "redcap")
    records = root / "redcap" / "records.csv"
    frame = pd.read_csv(records, dtype=str, keep_default_na=False)
    first = frame.index[frame["langue_principale"] != ""][0]
    frame.loc[first, "langue_principale"] = "xx"
    frame.to_csv(records, index=False, quoting=csv.QUOTE_MINIMAL)
    return root


def _refuse_an_export(flow_input: Path, root: Path, settings: Settings) -> StagingRefused:
    with pytest.raises(StagingRefused) as caught:
        pipeline.ingest(_broken_export(flow_input, root), settings=settings, sources=["redcap"])
    return caught.value


def _identifiers(flow_input: Path, *, per_field: int = 15) -> list[bytes]:
    """A sample of the families' names, phones and addresses, none of which any other input file holds."""
    records = pd.read_csv(flow_input / "redcap" / "records.csv", dtype=str, keep_default_na=False)
    others = b"".join(
        path.read_bytes() for path in flow_input.rglob("*") if path.is_file() and "redcap" not in path.relative_to(flow_input).parts
    )
    sample: list[bytes] = []
    for field in IDENTIFIERS:
        values = sorted({value for value in records[field] if len(value) >= 6 and value.encode() not in others})
        sample.extend(value.encode("utf-8") for value in values[:per_field])
    return sample


def test_an_encrypted_project_builds_the_same_warehouse_as_one_in_clear(flow_input: Path, tmp_path: Path, pseudonym_env: bytes) -> None:
    projects = {
        "clear": load_settings(fast_project(tmp_path / "clear", "[privacy]\nencrypt_raw = false\n")),
        "encrypted": load_settings(fast_project(tmp_path / "encrypted")),
    }
    for settings in projects.values():
        pipeline.ingest(flow_input, settings=settings, validate=False)
        pipeline.build_from_harmonised(settings, pipeline.harmonise_staged(settings, key=pseudonym_env), validate=False)
    clear, encrypted = projects["clear"], projects["encrypted"]
    raw = [path for path in protected_files(encrypted)]
    assert raw and all(is_encrypted(path) for path in raw)
    assert not any(is_encrypted(path) for path in protected_files(clear))
    # The staged tables are the same bytes, so the harmonised layer and the warehouse are made of the same.
    assert layers.staged_content(encrypted) == layers.staged_content(clear)
    with duckdb.connect(str(clear.warehouse_path), read_only=True) as one, duckdb.connect(str(encrypted.warehouse_path), read_only=True) as other:
        tables = sorted(name for (name,) in one.execute("SELECT table_name FROM information_schema.tables").fetchall())
        assert tables == sorted(name for (name,) in other.execute("SELECT table_name FROM information_schema.tables").fetchall())
        for table in tables:
            if table == "build":
                continue  # its build time differs
            query = f'SELECT * FROM "{table}" ORDER BY ALL'
            pd.testing.assert_frame_equal(one.execute(query).df(), other.execute(query).df(), obj=table)


def test_no_identifier_is_in_clear_anywhere_in_the_project_after_a_pull(
    flow_input: Path, tmp_path: Path, pseudonym_env: bytes
) -> None:
    settings = load_settings(fast_project(tmp_path / "project"))
    plain_views_before = set(Path(tempfile.gettempdir()).glob("proximite-plain-*"))
    pipeline.ingest(flow_input, settings=settings)  # every source, the REDCap export files included
    with SandboxServer(project_from_directory(flow_input)) as server:
        pulled = pipeline.pull_redcap(server.url, token=server.token, settings=settings, full=True, **FAST)
    refused = _refuse_an_export(flow_input, tmp_path / "broken", settings)
    pipeline.build_from_harmonised(settings, pipeline.harmonise_staged(settings, key=pseudonym_env))

    assert any(path.name.startswith("records_") for path in pulled.raw_dir.iterdir())
    assert Path(refused.path).is_relative_to(tmp_path / "broken")  # the error names the file sent
    identifiers = _identifiers(flow_input)
    assert len(identifiers) >= 40 and any(b"514" in value or b"-" in value for value in identifiers)
    scanned = 0
    for path in sorted(settings.project_dir.rglob("*")):
        if path.is_file():
            content = path.read_bytes()
            found = [value.decode() for value in identifiers if value in content]
            assert not found, f"{path} holds {len(found)} identifier(s) in clear"
            scanned += 1
    assert scanned > 50
    # ... while the raw layer still holds them as received, behind the key.
    records = read_protected(next(pulled.raw_dir.glob("records_*.csv")), settings=settings)
    assert any(value in records for value in identifiers)
    assert set(Path(tempfile.gettempdir()).glob("proximite-plain-*")) == plain_views_before  # decrypted views removed

    # The coordinator opens the refusal's report: decrypted copies in a private folder.
    report_dir = Path(refused.report_dir)
    assert all(is_encrypted(path) for path in report_dir.iterdir())
    out = tmp_path / "report-copy"
    result = CliRunner().invoke(_cli(open_report), [str(report_dir.parent), "--project-dir", str(settings.project_dir), "--out", str(out)])
    assert result.exit_code == 0, result.output
    page = out / "report" / "report.html"
    assert str(page) in result.output.replace("\n", "")
    record = str(refused.defects["record_id"].iloc[0])
    assert f">{record}<" in page.read_text(encoding="utf-8")


# ------------------------------------------------------------------------------ rotation
_ROTATE = """
import sys, time
from proximite.config import load_settings
from proximite.cohort.privacy.rotation import rotate_raw_key

def progress(done, total):
    print(done, total, flush=True)
    time.sleep(0.02)  # room for the test's kill between and within files

rotate_raw_key(load_settings(sys.argv[1]), progress=progress)
print("finished", flush=True)
"""


def _rotate_until_killed(project: Path, env: dict[str, str], *, after_files: int, extra_seconds: float) -> int:
    """Run a rotation in its own process; SIGKILL it once ``after_files`` files are done (plus a moment)."""
    process = subprocess.Popen(
        [sys.executable, "-c", _ROTATE, str(project)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    done = 0
    try:
        assert process.stdout is not None
        for line in process.stdout:
            if line.startswith("finished"):
                break
            done = int(line.split()[0])
            if done >= after_files:
                time.sleep(extra_seconds)
                process.send_signal(signal.SIGKILL)
                break
    finally:
        if process.poll() is None and done < after_files:
            process.kill()
        process.wait(timeout=120)
    assert process.returncode == -signal.SIGKILL, f"the rotation ended on its own: {process.stderr.read() if process.stderr else ''}"
    return done


def _assert_readable(settings: Settings, plaintexts: dict[Path, bytes], allowed: set[str]) -> dict[str, int]:
    """Every file opens with the key file's keys, is one of ``allowed`` and holds what it held; files per key."""
    ring = raw_keyring_from_file(settings.project_dir / ".raw_key")
    assert set(ring.ids()) <= allowed
    per_key: dict[str, int] = {}
    for path, data in plaintexts.items():
        key_id = file_key_id(path)
        assert key_id in ring.ids(), f"{path} is sealed with a key the key file no longer holds"
        assert read_protected(path, settings=settings) == data, path
        per_key[key_id] = per_key.get(key_id, 0) + 1
    return per_key


def test_a_rotation_killed_at_several_moments_leaves_every_file_readable_and_a_rerun_finishes_it(
    flow_input: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PROXIMITE_RAW_KEY")  # the keys live in the project's key file
    project = fast_project(tmp_path / "project")
    settings = load_settings(project)
    old = raw_keyring(settings, create=True).current
    pipeline.ingest(flow_input, settings=settings, validate=False)
    _refuse_an_export(flow_input, tmp_path / "broken", settings)
    plaintexts = {path: read_protected(path, settings=settings) for path in protected_files(settings)}
    total = len(plaintexts)
    assert total > 20 and any(layers.QUARANTINE in path.parts for path in plaintexts)
    env = {name: value for name, value in os.environ.items() if name != "PROXIMITE_RAW_KEY"}

    # Rotation 1, killed three times further on each time (a kill may land inside a file's rewrite).
    chooser = random.Random(20240101)
    new: RawKey | None = None
    for fraction in (0.1, 0.45, 0.8):
        _rotate_until_killed(project, env, after_files=max(1, int(total * fraction)), extra_seconds=chooser.uniform(0, 0.03))
        ring = raw_keyring_from_file(project / ".raw_key")
        assert ring.keys[1:] == (old,), "the key file must hold the old key until the rotation has finished"
        new = ring.current if new is None else new
        assert ring.current == new, "a rerun finishes the same rotation, it does not start another"
        per_key = _assert_readable(settings, plaintexts, {old.key_id, new.key_id})
        assert per_key.get(new.key_id, 0) >= int(total * fraction) - 1
    result = CliRunner().invoke(_cli(rotate_key), ["--project-dir", str(project)])
    assert result.exit_code == 0, result.output
    assert raw_keyring_from_file(project / ".raw_key").keys == (new,)
    assert _assert_readable(settings, plaintexts, {new.key_id}) == {new.key_id: total}
    assert old.hex() not in result.output and new.hex() not in result.output and new.key_id in result.output

    # Rotation 2, killed at a random moment, then finished by running it again.
    _rotate_until_killed(project, env, after_files=chooser.randint(1, total - 1), extra_seconds=chooser.uniform(0, 0.03))
    second = raw_keyring_from_file(project / ".raw_key").current
    assert second != new
    _assert_readable(settings, plaintexts, {new.key_id, second.key_id})
    finished = subprocess.run([sys.executable, "-c", _ROTATE, str(project)], env=env, capture_output=True, text=True, timeout=600)
    assert finished.returncode == 0 and "finished" in finished.stdout, finished.stderr
    assert raw_keyring_from_file(project / ".raw_key").keys == (second,)
    assert _assert_readable(settings, plaintexts, {second.key_id}) == {second.key_id: total}
    assert not list(project.rglob("*.pxtmp")), "a killed rotation's temporaries are removed by the next one"
    # The project goes on: an ingest after the rotations stages with the new key.
    pipeline.ingest(flow_input, settings=settings, validate=False)
    assert all(file_key_id(path) == second.key_id for path in protected_files(settings))
