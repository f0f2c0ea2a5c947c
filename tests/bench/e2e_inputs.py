"""The end-to-end benchmark's inputs: scales, the generated cohorts' cache, the incremental run's changes.

A generated cohort is kept in ``<cache>/<scale>/input`` with a JSON stamp of its parameters
(``<cache>/<scale>/stamp.json``): a later run with the same parameters reuses it. The
incremental run works on a copy of the input whose unchanged files are hard links (a plain copy
across file systems), so the cached cohort itself is never edited.
"""

from __future__ import annotations

import json
import math
import os
import shutil
from pathlib import Path
from typing import Any

import pandas as pd

#: name → families and territories. pilot: the pilot's calibration; province and x5: DESIGN's
#: performance section (x5 keeps Québec's 300 territories, with five times the families).
SCALES: dict[str, dict[str, int]] = {
    "demo": {"families": 300, "territories": 12},
    "pilot": {"families": 5305, "territories": 50},
    "province": {"families": 50_000, "territories": 300},
    "x5": {"families": 250_000, "territories": 300},
}
SEED = 20240101
#: DESIGN: an incremental run follows a change of 1 % of the REDCap records.
CHANGED_SHARE = 0.01
STAMP = "stamp.json"


def cohort_parameters(scale: dict[str, int], as_of: str) -> dict[str, Any]:
    """What a generated cohort depends on: written to, and compared with, its stamp."""
    return {"families": scale["families"], "territories": scale["territories"], "seed": SEED, "as_of": as_of}


def cached_input(folder: Path, parameters: dict[str, Any]) -> Path | None:
    """``folder/input`` when its stamp holds exactly ``parameters`` (a reusable cohort), else None."""
    stamp = folder / STAMP
    if not (stamp.is_file() and (folder / "input" / "redcap" / "records.csv").is_file()):
        return None
    try:
        written = json.loads(stamp.read_text(encoding="utf-8"))
    except ValueError:
        return None
    return folder / "input" if written == parameters else None


def write_stamp(folder: Path, parameters: dict[str, Any]) -> None:
    """Record the parameters of the cohort just generated in ``folder/input``."""
    (folder / STAMP).write_text(json.dumps(parameters, indent=2) + "\n", encoding="utf-8")


def _link_or_copy(source: str, target: str) -> str:
    try:
        os.link(source, target)
    except OSError:  # another file system, or links not allowed
        shutil.copy2(source, target)
    return target


def linked_copy(source: Path, target: Path) -> Path:
    """A copy of the directory ``source`` at ``target`` whose files are hard links where possible.

    Files changed afterwards must be replaced (written to a new file), never edited in place:
    :func:`_replace_csv` does so.
    """
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(source, target, copy_function=_link_or_copy)
    return target


def _replace_csv(frame: pd.DataFrame, path: Path) -> None:
    """Write ``frame`` over ``path`` as the generator writes CSV files, without touching a linked original."""
    temporary = path.with_name(path.name + ".new")
    frame.to_csv(temporary, index=False, lineterminator="\n")
    os.replace(temporary, path)


def record_changes(records: pd.DataFrame, share: float = CHANGED_SHARE) -> list[dict[str, str]]:
    """New answers for ``share`` of the families, as rows to import (record, event, one field).

    Each chosen family gets a new answer on its inclusion form (``monoparentale``) and, when it
    has one, on its T0 follow-up (``iso_mefiance``): the forms a coordinator's week of data entry
    touches most (``bench_redcap_pull.py`` imports them through PyCap).

    Parameters
    ----------
    records : DataFrame
        The REDCap flat export (``records.csv``), as strings.
    share : float
        Share of the families to change.

    Returns
    -------
    list of dict
        ``{"record_id", "redcap_event_name", field: new value}`` rows.
    """
    inclusion = records.loc[(records["redcap_event_name"] == "inclusion_arm_1") & (records["redcap_repeat_instrument"] == "")]
    count = max(1, math.ceil(share * inclusion["record_id"].nunique()))
    chosen = inclusion.iloc[:: max(1, len(inclusion) // count)].head(count)
    rows = [
        {"record_id": record, "redcap_event_name": "inclusion_arm_1", "monoparentale": "0" if value == "1" else "1"}
        for record, value in zip(chosen["record_id"], chosen["monoparentale"], strict=True)
    ]
    t0 = records.loc[
        (records["redcap_event_name"] == "t0_arm_1")
        & (records["redcap_repeat_instrument"] == "")
        & records["record_id"].isin(set(chosen["record_id"]))
    ]
    rows += [
        {"record_id": record, "redcap_event_name": "t0_arm_1", "iso_mefiance": "0" if value == "3" else "3"}
        for record, value in zip(t0["record_id"], t0["iso_mefiance"], strict=True)
    ]
    return rows


def read_records(input_dir: Path) -> pd.DataFrame:
    """The REDCap flat export of ``input_dir`` as strings (empty cells stay empty)."""
    return pd.read_csv(input_dir / "redcap" / "records.csv", dtype=str, keep_default_na=False)


def change_records_file(input_dir: Path, changes: list[dict[str, str]]) -> int:
    """Apply ``changes`` (:func:`record_changes`) to ``input_dir``'s ``records.csv``; returns the families changed."""
    records = read_records(input_dir)
    for change in changes:
        field = next(name for name in change if name not in ("record_id", "redcap_event_name"))
        row = (
            (records["record_id"] == change["record_id"])
            & (records["redcap_event_name"] == change["redcap_event_name"])
            & (records["redcap_repeat_instrument"] == "")
        )
        records.loc[row, field] = change[field]
    _replace_csv(records, input_dir / "redcap" / "records.csv")
    return len({change["record_id"] for change in changes})


def change_registry_file(input_dir: Path) -> tuple[str, int]:
    """One partner re-sends its activity file with corrected durations (every 100th activity + 5 min).

    The partner is the first whose file is a plain CSV in the registry's own columns (no
    mapping file). Returns the file's name and the activities changed.
    """
    folder = input_dir / "registry" / "activities"
    path = next(path for path in sorted(folder.glob("*.csv")) if not path.with_suffix(".mapping.yaml").exists())
    activities = pd.read_csv(path, dtype=str, keep_default_na=False)
    chosen = activities.index[::100]
    activities.loc[chosen, "minutes"] = [str(int(value) + 5) for value in activities.loc[chosen, "minutes"]]
    _replace_csv(activities, path)
    return path.name, len(chosen)


def declared_encoding(path: Path) -> str:
    """The encoding a file's mapping (``<name>.mapping.yaml`` beside it) declares; UTF-8 without one."""
    import yaml

    mapping = path.with_suffix(".mapping.yaml")
    declared = yaml.safe_load(mapping.read_text(encoding="utf-8")).get("encoding") if mapping.is_file() else None
    return str(declared or "utf-8")


def scan_inputs(input_dir: Path) -> dict[str, list[Path]]:
    """The tabular files of ``input_dir`` the DuckDB scan reads, by kind.

    ``csv``: every UTF-8 CSV (the REDCap export and its metadata, the registry, reference, cost,
    survey and qualitative register files), scanned as they are; ``csv_recoded`` (CSV files
    whose mapping declares another encoding, such as cp1252), ``xlsx`` and ``sav`` (partners'
    activity files): written out as UTF-8 CSV before the clock starts and scanned as such. The
    QDPX projects (qualitative coding, zipped XML) are not scanned.
    """
    csv = sorted(input_dir.rglob("*.csv"))
    recoded = [path for path in csv if declared_encoding(path).lower().replace("-", "") not in ("utf8", "utf8sig")]
    found = {"csv": [path for path in csv if path not in recoded], "csv_recoded": recoded}
    return found | {kind: sorted(input_dir.rglob(f"*.{kind}")) for kind in ("xlsx", "sav")}
