"""Benchmark: the cost of encrypting layer 01 raw, on a pilot-scale ingest.

The same synthetic input (pilot scale by default: 5,305 families, 50 territories) is ingested
into a project in clear (``[privacy] encrypt_raw = false``) and into an encrypted one, in turns
(``--rounds`` times each, so that the shared machine's noise falls on both), without the staged
gate (its cost does not change with encryption). One JSON line::

    {"bench": "raw_encryption", "families", "territories", "raw_files", "raw_mb",
     "clear_seconds", "encrypted_seconds", "clear_copy_seconds", "encrypted_copy_seconds",
     "overhead_seconds", "overhead_pct", "copy_all_files_clear_seconds",
     "copy_all_files_encrypted_seconds", "decrypted_view_seconds"}

with the medians over the rounds (``*_copy_seconds``: the copy into 01 raw alone; the rest of
an ingest is staging, which reads the decrypted view in the encrypted project), then the work
encryption adds, measured alone (fastest of 5): every input file copied in clear and encrypted,
and the decrypted view of all of them (what staging reads).

    .venv/bin/python tests/bench/bench_raw_encryption.py [--families 5305] [--territories 50] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from synth_dates import SYNTH_AS_OF  # noqa: E402

BENCH_RAW_KEY = "5f" * 32


def _ingest_once(input_dir: Path, project: Path, *, encrypted: bool) -> tuple[float, float]:
    """Ingest into a new project; (total seconds, seconds until the copy into 01 raw was done)."""
    from proximite import pipeline
    from proximite.cohort.ingest import STEP_COPY
    from proximite.config import load_settings

    project.mkdir(parents=True)
    if not encrypted:
        (project / "proximite.toml").write_text("[privacy]\nencrypt_raw = false\n", encoding="utf-8")
    settings = load_settings(project)
    copied: list[float] = []
    started = time.perf_counter()

    def progress(step: str, done: int, total: int) -> None:
        if step == STEP_COPY and done == total:
            copied.append(time.perf_counter() - started)

    pipeline.ingest(input_dir, settings=settings, validate=False, progress=progress)
    return time.perf_counter() - started, copied[-1]


def _added_work(input_dir: Path, work: Path, *, repeats: int = 5) -> dict[str, float]:
    """The work encryption adds, alone (fastest of ``repeats``): copying in clear or encrypted, and the decrypted view."""
    from proximite.cohort.privacy.encryption import RawKey
    from proximite.cohort.privacy.storage import copy_protected, plain_view
    from proximite.config import load_settings

    key = RawKey.from_hex(BENCH_RAW_KEY)
    files = [path for path in input_dir.rglob("*") if path.is_file()]
    best: dict[str, float] = {}
    for repeat in range(repeats):
        for mode, chosen in (("clear", None), ("encrypted", key)):
            target = work / f"{mode}-{repeat}"
            started = time.perf_counter()
            for path in files:
                copy = target / path.relative_to(input_dir)
                copy.parent.mkdir(parents=True, exist_ok=True)
                copy_protected(path, copy, key=chosen)
            best[f"{mode}_copy"] = min(best.get(f"{mode}_copy", float("inf")), time.perf_counter() - started)
        started = time.perf_counter()
        with plain_view(work / f"encrypted-{repeat}", settings=load_settings(work)):
            pass
        best["decrypted_view"] = min(best.get("decrypted_view", float("inf")), time.perf_counter() - started)
    return {name: round(seconds, 3) for name, seconds in best.items()}


def run(*, families: int, territories: int, rounds: int) -> dict[str, Any]:
    """Generate once, ingest ``rounds`` times in clear and encrypted (alternating); the medians."""
    os.environ.setdefault("PROXIMITE_RAW_KEY", BENCH_RAW_KEY)
    from proximite.cohort.sandbox.synth import generate_cohort

    with tempfile.TemporaryDirectory(prefix="proximite-bench-crypt-") as temporary:
        root = Path(temporary)
        generate_cohort(root / "input", families=families, territories=territories, seed=20240101, as_of=SYNTH_AS_OF)
        inputs = [path.stat().st_size for path in (root / "input").rglob("*") if path.is_file()]
        added = _added_work(root / "input", root / "added")
        times: dict[str, list[tuple[float, float]]] = {"clear": [], "encrypted": []}
        for round_ in range(rounds):
            for mode in ("clear", "encrypted") if round_ % 2 == 0 else ("encrypted", "clear"):
                times[mode].append(_ingest_once(root / "input", root / f"{mode}-{round_}", encrypted=mode == "encrypted"))
    median = {mode: statistics.median(total for total, _ in values) for mode, values in times.items()}
    copy = {mode: statistics.median(part for _, part in values) for mode, values in times.items()}
    return {
        "bench": "raw_encryption",
        "families": families,
        "territories": territories,
        "raw_files": len(inputs),
        "raw_mb": round(sum(inputs) / 1e6, 1),
        "clear_seconds": round(median["clear"], 2),
        "encrypted_seconds": round(median["encrypted"], 2),
        "clear_copy_seconds": round(copy["clear"], 2),
        "encrypted_copy_seconds": round(copy["encrypted"], 2),
        "overhead_seconds": round(median["encrypted"] - median["clear"], 2),
        "overhead_pct": round(100 * (median["encrypted"] - median["clear"]) / median["clear"], 1),
        "copy_all_files_clear_seconds": added["clear_copy"],
        "copy_all_files_encrypted_seconds": added["encrypted_copy"],
        "decrypted_view_seconds": added["decrypted_view"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--families", type=int, default=5305)
    parser.add_argument("--territories", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    arguments = parser.parse_args()
    print(json.dumps(run(families=arguments.families, territories=arguments.territories, rounds=arguments.rounds)))


if __name__ == "__main__":
    main()
