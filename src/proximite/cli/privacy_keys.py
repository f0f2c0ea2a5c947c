"""The raw layer's keys from the command line: rotate them, encrypt an older project's plain
files, and open a quarantine report (encrypted at rest) for a coordinator.

The ``proximite privacy`` command group registers these functions; no key is ever printed, only
key ids (fingerprints) and where the keys live.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Optional

import typer

from proximite.cli.common import ProjectDir, console, user_errors

__all__ = ["encrypt_existing", "open_report", "rotate_key"]


def rotate_key(
    project_dir: ProjectDir = Path("."),
    new_key_env: Annotated[
        Optional[str],
        typer.Option(
            "--new-key-env",
            help="Environment variable holding the new key (64 hexadecimal characters). Default: a random key "
            "in the project's key file; or, when the keys still list a previous one, finish that rotation.",
        ),
    ] = None,
) -> None:
    """Encrypt every raw and quarantine file with a new key, then forget the old one.

    Safe to interrupt (even with kill -9): every file stays readable with the old or the new key,
    and running the command again finishes the rotation. A project without a key gets its key
    file (mode 0600) and its plain files encrypted. Refused while a pull is running.
    """
    from proximite.cohort.privacy.encryption import RawKey
    from proximite.cohort.privacy.access_log import record_key_rotation
    from proximite.cohort.privacy.rotation import rotate_raw_key
    from proximite.config import ConfigError, load_settings

    with user_errors():
        settings = load_settings(project_dir)
        new_key = None
        if new_key_env:
            text = os.environ.get(new_key_env)
            if not text:
                raise ConfigError(f"{new_key_env} is not set: it should hold the new key")
            try:
                new_key = RawKey.from_hex(text)
            except ValueError as error:
                raise ConfigError(f"{new_key_env}: {error} (the value is not shown)") from None
        result = rotate_raw_key(settings, new_key)
        record_key_rotation(settings, {"files": result.files, "rewritten": result.rewritten})
    console.print(
        f"Raw-layer key rotated: {result.rewritten:,} of {result.files:,} file(s) sealed again; current key "
        f"{result.key_id} ({result.origin}).",
        highlight=False,
        soft_wrap=True,
    )
    if result.origin.startswith("env:") and result.dropped:
        console.print(
            f"Keep the new key alone in {result.origin[4:]} now (key(s) {', '.join(result.dropped)} no longer needed).",
            highlight=False,
        )


def encrypt_existing(project_dir: ProjectDir = Path(".")) -> None:
    """Encrypt with the current key the raw and quarantine files still in clear (a project from before encryption)."""
    from proximite.cohort.privacy.access_log import record_key_rotation
    from proximite.cohort.privacy.rotation import encrypt_plain_files
    from proximite.config import load_settings

    with user_errors():
        settings = load_settings(project_dir)
        result = encrypt_plain_files(settings)
        record_key_rotation(settings, {"files": result.files, "rewritten": result.rewritten}, detail="encrypt-existing")
    console.print(f"{result.rewritten:,} plain file(s) encrypted with key {result.key_id} ({result.origin}).", highlight=False)


def open_report(
    path: Annotated[Path, typer.Argument(help="A quarantine folder (data/quarantine/<batch>/<source>), its report/ or a file of it.")],
    project_dir: ProjectDir = Path("."),
    out: Annotated[
        Optional[Path], typer.Option("--out", help="Folder for the decrypted copies (default: a new private temporary folder).")
    ] = None,
) -> None:
    """Decrypt a quarantine report into a private folder (mode 0700) and print where its page is.

    The report names REDCap record ids, so it is encrypted at rest; the copies are the
    coordinator's to read, then delete.
    """
    import tempfile

    from proximite.cohort.privacy.access_log import OPEN_REPORT, record_access
    from proximite.cohort.privacy.storage import readable_report_copy
    from proximite.config import load_settings

    with user_errors():
        settings = load_settings(project_dir)
        target = out if out is not None else Path(tempfile.mkdtemp(prefix="proximite-report-"))
        copies = readable_report_copy(settings, path, target)
        # The report names REDCap record ids: reading it is logged like writing it.
        record_access(settings, OPEN_REPORT, {"files": len(copies)})
    pages = [copy for copy in copies if copy.name == "report.html"] or copies
    console.print(f"Decrypted {len(copies)} file(s) into {target} (delete it once read).", highlight=False, soft_wrap=True)
    if pages:
        console.print(f"Report: {pages[0]}", highlight=False, soft_wrap=True)
