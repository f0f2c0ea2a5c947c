"""Encryption at rest of layer 01 raw and of the quarantine: the format, the keys, the storage, the rotation."""

from __future__ import annotations

import hashlib
import json
import os
import re
import socket
import stat
import tracemalloc
from pathlib import Path

import pytest

from proximite.cohort.layers import QUARANTINE, RAW
from proximite.cohort.privacy.encryption import (
    HEADER_SIZE,
    MAGIC,
    EncryptedFileError,
    KeyRing,
    RawKey,
    decrypt_bytes,
    decrypt_file,
    encrypt_bytes,
    encrypt_file,
    file_key_id,
    is_encrypted,
)
from proximite.cohort.privacy.keys import parse_keys, raw_keyring
from proximite.cohort.privacy.rotation import encrypt_plain_files, rotate_raw_key
from proximite.cohort.privacy.storage import plain_view, protected_files, read_protected, write_protected
from proximite.cohort.raw_files import read_raw_file, write_raw_file
from proximite.cohort.redcap.refusal import StagingRefused, quarantine_refusal
from proximite.config import ConfigError, load_settings
from proximite.errors import ProximiteError

KEY = RawKey(bytes(range(32)))
OTHER = RawKey(bytes(range(1, 33)))


@pytest.fixture
def no_env_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """The project's keys come from its key file only (the test session sets PROXIMITE_RAW_KEY)."""
    monkeypatch.delenv("PROXIMITE_RAW_KEY", raising=False)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A project whose raw key is KEY, from the environment."""
    monkeypatch.setenv("PROXIMITE_RAW_KEY", KEY.hex())
    return load_settings(tmp_path / "project")


# ------------------------------------------------------------------------------ the format
@pytest.mark.parametrize("size", [0, 1, 15, 16, 17, 64, 1000])
@pytest.mark.parametrize("segment", [1, 16, 4096])
def test_bytes_round_trip_whatever_the_size_and_segment(size: int, segment: int) -> None:
    data = os.urandom(size)
    sealed = encrypt_bytes(data, KEY, segment_size=segment)
    assert sealed.startswith(MAGIC)
    if size >= 8:
        assert data[:8] not in sealed
    segments = size // segment + 1  # the last one holds the remainder (empty when none)
    assert len(sealed) == HEADER_SIZE + size + 16 * segments
    assert decrypt_bytes(sealed, KEY) == data
    assert decrypt_bytes(sealed, KeyRing((OTHER, KEY))) == data  # any key of the ring


def test_the_same_plaintext_encrypts_differently_each_time() -> None:
    assert encrypt_bytes(b"same", KEY) != encrypt_bytes(b"same", KEY)


def test_a_flipped_byte_anywhere_fails_with_the_files_name(tmp_path: Path) -> None:
    sealed = encrypt_bytes(b"record_id,nom\n1,Tremblay\n" * 50, KEY, segment_size=64)
    for position in [0, 8, 9, 13, 21, HEADER_SIZE, HEADER_SIZE + 70, len(sealed) - 1]:
        altered = bytearray(sealed)
        altered[position] ^= 0x01
        with pytest.raises(EncryptedFileError) as caught:
            decrypt_bytes(bytes(altered), KEY, path="data/01_raw/redcap/p1/records.csv")
        assert str(caught.value).startswith("data/01_raw/redcap/p1/records.csv: ")
    altered = bytearray(sealed)
    altered[HEADER_SIZE + 80 + 10] ^= 0x01  # segments of 64 bytes and their 16-byte tags
    with pytest.raises(EncryptedFileError, match="segment 2 fails its authentication check"):
        decrypt_bytes(bytes(altered), KEY, path="records.csv")


def test_a_file_cut_short_or_lengthened_or_with_segments_swapped_fails() -> None:
    sealed = encrypt_bytes(bytes(200), KEY, segment_size=64)
    block = 64 + 16
    for cut in range(HEADER_SIZE, len(sealed)):
        with pytest.raises(EncryptedFileError):
            decrypt_bytes(sealed[:cut], KEY)
    with pytest.raises(EncryptedFileError):
        decrypt_bytes(sealed + b"\0" * 16, KEY)
    body = sealed[HEADER_SIZE:]
    swapped = sealed[:HEADER_SIZE] + body[block : 2 * block] + body[:block] + body[2 * block :]
    with pytest.raises(EncryptedFileError, match="segment 1"):
        decrypt_bytes(swapped, KEY)


def test_the_wrong_key_is_named_by_its_id_never_by_its_value() -> None:
    sealed = encrypt_bytes(b"x", KEY)
    with pytest.raises(EncryptedFileError) as caught:
        decrypt_bytes(sealed, KeyRing((OTHER,), origin="env:PROXIMITE_RAW_KEY"), path="a.csv")
    message = str(caught.value)
    assert KEY.key_id in message and OTHER.key_id in message and "env:PROXIMITE_RAW_KEY" in message
    assert KEY.hex() not in message and OTHER.hex() not in message
    assert KEY.hex() not in repr(KEY) and KEY.key_id in repr(KEY)


def test_a_large_file_is_encrypted_and_decrypted_in_segments_in_constant_memory(tmp_path: Path) -> None:
    source, sealed, back = tmp_path / "big.csv", tmp_path / "big.enc", tmp_path / "big.back"
    size = 24 * (1 << 20) + 12345
    with source.open("wb") as handle:
        for _ in range(size // (1 << 20)):
            handle.write(os.urandom(1 << 20))
        handle.write(os.urandom(size % (1 << 20)))
    tracemalloc.start()
    try:
        written, digest = encrypt_file(source, sealed, KEY)
        _, peak_encrypt = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        assert decrypt_file(sealed, back, KEY) == size
        _, peak_decrypt = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert written == size and digest == hashlib.sha256(source.read_bytes()).hexdigest()
    assert sealed.stat().st_size == HEADER_SIZE + size + 16 * 25  # 24 full segments of 1 MiB and the rest
    assert back.read_bytes() == source.read_bytes()
    # A few segments in flight at most, never the file (24 MiB).
    assert peak_encrypt < 6 * (1 << 20) and peak_decrypt < 6 * (1 << 20), (peak_encrypt, peak_decrypt)


def test_decrypt_file_removes_its_output_when_the_file_is_altered(tmp_path: Path) -> None:
    sealed = bytearray(encrypt_bytes(b"a" * 100, KEY, segment_size=16))
    sealed[-1] ^= 1
    (tmp_path / "x.enc").write_bytes(bytes(sealed))
    with pytest.raises(EncryptedFileError, match="the user's name"):
        decrypt_file(tmp_path / "x.enc", tmp_path / "x.out", KEY, name="the user's name")
    assert not (tmp_path / "x.out").exists()


def test_is_encrypted_tells_a_plain_file_from_an_encrypted_one(tmp_path: Path) -> None:
    (tmp_path / "plain.csv").write_bytes(b"record_id\n1\n")
    (tmp_path / "empty.csv").write_bytes(b"")
    (tmp_path / "sealed.csv").write_bytes(encrypt_bytes(b"record_id\n1\n", KEY))
    assert not is_encrypted(tmp_path / "plain.csv") and not is_encrypted(tmp_path / "empty.csv")
    assert is_encrypted(tmp_path / "sealed.csv")
    assert file_key_id(tmp_path / "sealed.csv") == KEY.key_id and file_key_id(tmp_path / "plain.csv") is None


# ------------------------------------------------------------------------------ the keys
def test_keys_come_from_the_environment_current_first(project) -> None:
    ring = raw_keyring(project)
    assert ring.current == KEY and ring.origin == "env:PROXIMITE_RAW_KEY"
    both = parse_keys(f"# a comment\n{OTHER.hex()}, {KEY.hex()}\n{OTHER.hex()}", origin="x")
    assert both.keys == (OTHER, KEY)


def test_a_malformed_key_is_refused_without_being_shown(project, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROXIMITE_RAW_KEY", f"{KEY.hex()} not-a-key-secret")
    with pytest.raises(ConfigError, match="entry 2 is not a raw-layer key") as caught:
        raw_keyring(project)
    assert "not-a-key-secret" not in str(caught.value)


def test_a_secret_handed_in_by_a_flow_comes_before_the_environment(project) -> None:
    assert raw_keyring(project.with_secrets({"PROXIMITE_RAW_KEY": OTHER.hex()})).current == OTHER


def test_no_key_says_where_to_put_one_and_the_demo_creates_a_private_key_file(tmp_path: Path, no_env_key: None) -> None:
    settings = load_settings(tmp_path)
    with pytest.raises(ConfigError, match=r"no raw-layer key: set PROXIMITE_RAW_KEY .* or create .*\.raw_key"):
        raw_keyring(settings)
    ring = raw_keyring(settings, create=True)
    path = tmp_path / ".raw_key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and ring.origin == f"file:{path}"
    assert raw_keyring(settings).current == ring.current  # read back, not made again
    path.chmod(0o644)
    with pytest.raises(ConfigError, match="readable by others"):
        raw_keyring(settings)


# ------------------------------------------------------------------------------ raw files
def test_write_raw_file_encrypts_and_read_raw_file_decrypts(project) -> None:
    path = project.data_dir / RAW / "redcap" / "p1" / "records.csv"
    path.parent.mkdir(parents=True)
    write_raw_file(path, b"record_id,fam_nom_parent\n1,Tremblay\n", settings=project)
    assert is_encrypted(path) and b"Tremblay" not in path.read_bytes()
    assert not os.access(path, os.W_OK) or os.geteuid() == 0  # read-only like every raw file
    assert read_raw_file(path, settings=project) == b"record_id,fam_nom_parent\n1,Tremblay\n"
    write_raw_file(path, b"record_id,fam_nom_parent\n1,\n", settings=project)  # a rewrite (a withdrawal's)
    assert read_raw_file(path, settings=project) == b"record_id,fam_nom_parent\n1,\n"
    assert [item.name for item in path.parent.iterdir()] == ["records.csv"]  # no temporary left


def test_a_plain_raw_file_of_an_older_project_is_still_read(project) -> None:
    path = project.data_dir / RAW / "registry" / "p0" / "workers.csv"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"worker_id\nW1\n")
    assert read_raw_file(path, settings=project) == b"worker_id\nW1\n"


def test_with_encryption_off_raw_files_are_written_in_clear(tmp_path: Path, no_env_key: None) -> None:
    (tmp_path / "proximite.toml").write_text("[privacy]\nencrypt_raw = false\n", encoding="utf-8")
    settings = load_settings(tmp_path)
    path = settings.data_dir / RAW / "cost" / "p1" / "costs.csv"
    path.parent.mkdir(parents=True)
    write_raw_file(path, b"a,b\n", settings=settings)  # no key needed
    assert path.read_bytes() == b"a,b\n"


def test_a_tampered_raw_file_is_named_when_read(project) -> None:
    path = project.data_dir / RAW / "redcap" / "p1" / "records.csv"
    path.parent.mkdir(parents=True)
    write_raw_file(path, b"record_id\n1\n", settings=project)
    altered = bytearray(path.read_bytes())
    altered[-3] ^= 0x10
    path.chmod(0o644)
    path.write_bytes(bytes(altered))
    with pytest.raises(EncryptedFileError, match=rf"^{re.escape(str(path))}: the encrypted file is damaged or was altered"):
        read_raw_file(path, settings=project)


def test_plain_view_is_private_and_removed_even_on_error(project) -> None:
    folder = project.data_dir / RAW / "registry" / "p1"
    (folder / "activities").mkdir(parents=True)
    write_protected(folder / "activities" / "T01.csv", b"a\n1\n", key=KEY)
    (folder / "manifest.json").write_text("{}", encoding="utf-8")
    with pytest.raises(RuntimeError), plain_view(folder, settings=project) as view:
        assert view != folder and stat.S_IMODE(view.stat().st_mode) == 0o700
        assert (view / "activities" / "T01.csv").read_bytes() == b"a\n1\n"
        assert (view / "manifest.json").read_text(encoding="utf-8") == "{}"
        seen = view
        raise RuntimeError("a reader failed")
    assert not seen.exists()
    plain = project.data_dir / RAW / "registry" / "p0"
    plain.mkdir(parents=True)
    (plain / "workers.csv").write_bytes(b"w\n")
    with plain_view(plain, settings=project) as view:
        assert view == plain  # nothing to decrypt: read in place


# ------------------------------------------------------------------------------ quarantine
def _refusal() -> StagingRefused:
    import pandas as pd

    defects = pd.DataFrame(
        {
            "record_id": ["1017"], "event": ["t0_arm_1"], "repeat_instrument": [None], "instance": pd.array([None], dtype="Int64"),
            "field": ["langue"], "rule": ["unknown code"], "allowed": ["fr, en"], "value": ["xx"],
            "source_file": ["records.csv"], "source_row": pd.array([3], dtype="Int64"), "detail": [""],
        }
    )
    return StagingRefused("records.csv", defects)


def test_a_staging_refusals_report_is_encrypted_and_its_counts_stay_in_clear(project) -> None:
    refused = quarantine_refusal(_refusal(), settings=project, pull_id="p1")
    report = Path(refused.report_dir)
    for name in ("failures.csv", "report.html", "report.en.html"):
        assert is_encrypted(report / name) and b"1017" not in (report / name).read_bytes()
    assert b"1017" in read_protected(report / "failures.csv", settings=project)
    counts = json.loads((report.parent / "quarantine.json").read_text(encoding="utf-8"))
    assert counts["defects"] == 1
    assert sorted(path.name for path in protected_files(project)) == ["failures.csv", "report.en.html", "report.html"]


def test_a_report_copy_is_decrypted_for_the_coordinator_and_only_from_the_quarantine(project, tmp_path: Path) -> None:
    from proximite.cohort.privacy.storage import readable_report_copy

    refused = quarantine_refusal(_refusal(), settings=project, pull_id="p1")
    folder = Path(refused.report_dir).parent
    copies = readable_report_copy(project, folder, tmp_path / "copy")
    assert stat.S_IMODE((tmp_path / "copy").stat().st_mode) == 0o700
    page = tmp_path / "copy" / "report" / "report.html"
    assert page in copies and ">1017<" in page.read_text(encoding="utf-8")
    assert (tmp_path / "copy" / "quarantine.json").read_text(encoding="utf-8") == (folder / "quarantine.json").read_text(encoding="utf-8")
    raw = project.data_dir / RAW / "redcap" / "p1" / "records.csv"
    raw.parent.mkdir(parents=True)
    write_raw_file(raw, b"record_id\n1017\n", settings=project)
    with pytest.raises(ProximiteError, match="not a folder or file of the project's quarantine"):
        readable_report_copy(project, raw, tmp_path / "other")


# ------------------------------------------------------------------------------ rotation
def _plant(settings, key: RawKey | None) -> dict[Path, bytes]:
    """Raw and quarantine files (sealed with ``key``, plain when None), and clear manifests."""
    contents = {
        settings.data_dir / RAW / "redcap" / "p1" / "records.csv": b"record_id,fam_telephone\n1,514-555-0101\n" * 40,
        settings.data_dir / RAW / "registry" / "p1" / "activities" / "T01.csv": b"worker_id\nW1\n",
        settings.data_dir / QUARANTINE / "p1" / "redcap" / "report" / "failures.csv": b"record_id\n1017\n",
    }
    for path, data in contents.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        write_protected(path, data, key=key, read_only=RAW in path.parts)
    for folder in ("redcap", "registry"):
        (settings.data_dir / RAW / folder / "p1" / "manifest.json").write_text('{"staged": true}', encoding="utf-8")
    (settings.data_dir / QUARANTINE / "p1" / "redcap" / "quarantine.json").write_text("{}", encoding="utf-8")
    return contents


def test_rotation_seals_every_file_with_the_new_key_and_drops_the_old_one(tmp_path: Path, no_env_key: None) -> None:
    settings = load_settings(tmp_path)
    old = raw_keyring(settings, create=True).current
    contents = _plant(settings, old)
    result = rotate_raw_key(settings)
    new = raw_keyring(settings)
    assert new.keys == (new.current,) and new.current != old and result.key_id == new.current.key_id
    assert result.dropped == [old.key_id] and result.files == 3 and result.rewritten == 3
    for path, data in contents.items():
        assert file_key_id(path) == new.current.key_id and read_protected(path, settings=settings) == data
    assert not os.access(next(iter(contents)), os.W_OK) or os.geteuid() == 0  # raw files stay read-only
    assert (settings.data_dir / RAW / "redcap" / "p1" / "manifest.json").read_text(encoding="utf-8") == '{"staged": true}'
    assert stat.S_IMODE((tmp_path / ".raw_key").stat().st_mode) == 0o600


def test_an_unfinished_rotation_is_finished_with_the_same_new_key(tmp_path: Path, no_env_key: None) -> None:
    from proximite.cohort.privacy.keys import write_key_file
    from proximite.cohort.privacy.storage import reseal

    settings = load_settings(tmp_path)
    old = raw_keyring(settings, create=True).current
    contents = _plant(settings, old)
    new = RawKey.generate()
    write_key_file(tmp_path / ".raw_key", KeyRing((new, old)))  # as a rotation killed after step 1 and one file
    reseal(next(iter(contents)), keys=KeyRing((new, old)), key=new)
    result = rotate_raw_key(settings)  # no new key: finish
    assert result.key_id == new.key_id and raw_keyring(settings).keys == (new,)
    assert result.rewritten == 2
    assert all(read_protected(path, settings=settings) == data for path, data in contents.items())


def test_rotation_encrypts_the_plain_files_of_a_project_from_before_encryption(tmp_path: Path, no_env_key: None) -> None:
    settings = load_settings(tmp_path)
    contents = _plant(settings, None)
    rotate_raw_key(settings)  # no key yet: the key file is created
    ring = raw_keyring(settings)
    assert all(file_key_id(path) == ring.current.key_id for path in contents)
    assert all(read_protected(path, settings=settings) == data for path, data in contents.items())


def test_encrypt_plain_files_keeps_the_key(project) -> None:
    contents = _plant(project, None)
    sealed = project.data_dir / RAW / "redcap" / "p2" / "records.csv"
    sealed.parent.mkdir(parents=True)
    write_protected(sealed, b"x", key=KEY)
    before = sealed.read_bytes()
    result = encrypt_plain_files(project)
    assert result.rewritten == 3 and result.key_id == KEY.key_id
    assert all(file_key_id(path) == KEY.key_id for path in contents) and sealed.read_bytes() == before


def test_rotation_with_keys_from_the_environment_needs_the_new_key(project, monkeypatch: pytest.MonkeyPatch) -> None:
    contents = _plant(project, KEY)
    with pytest.raises(ConfigError, match="give the new key"):
        rotate_raw_key(project)
    result = rotate_raw_key(project, OTHER)
    assert result.key_id == OTHER.key_id and result.origin == "env:PROXIMITE_RAW_KEY"
    assert not (project.project_dir / ".raw_key").exists()  # the environment is the operator's to change
    monkeypatch.setenv("PROXIMITE_RAW_KEY", OTHER.hex())
    assert all(read_protected(path, settings=project) == data for path, data in contents.items())


def test_rotation_refuses_while_a_pull_is_in_progress(project) -> None:
    folder = project.data_dir / RAW / "redcap" / "p9"
    folder.mkdir(parents=True)
    manifest = {"in_progress": True, "process": {"pid": os.getpid(), "host": socket.gethostname()}}
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(ProximiteError, match="p9 of redcap is in progress"):
        rotate_raw_key(project, OTHER)
