"""Scale check: ingest (01 raw + 02 staged) at province size.

A REDCap flat export of ~800,000 rows × 70 columns (50,000 families over every form) and an
activity registry of 2,000,000 rows in 300 template CSV files, written directly with numpy (not
through the generator) so the figures are ingest's alone. Target on a 2-core machine: well under
30 s for the whole ingest.

Run as a script for the figures (one JSON line, as the benchmarks print them)::

    .venv/bin/python tests/bench/test_ingest_scale.py [--families 50000] [--activities 2000000] [--files 300]

or through pytest with ``-m slow`` (it runs the script in a fresh process).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pv
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _write(frame: pd.DataFrame, path: Path) -> None:
    pv.write_csv(pa.Table.from_pandas(frame, preserve_index=False), path, pv.WriteOptions(quoting_style="needed"))


def make_input(root: Path, *, families: int, activities: int, files: int, seed: int = 1) -> dict[str, int]:
    """Write a large valid input directory under ``root``; return its row counts."""
    from ingest_inputs import records_columns, write_costs, write_csv, write_redcap, write_reference

    from proximite.cohort.codebook import load_codebook

    cb = load_codebook()
    rng = np.random.default_rng(seed)
    write_redcap(root / "redcap", cb)
    write_reference(root / "reference", cb)
    write_costs(root / "costs")
    columns = records_columns(cb)
    ids = np.char.add("R", np.arange(families).astype("U8")).astype(object)
    dags = np.array(["t06_01", "t13_02"], dtype=object)[rng.integers(0, 2, families)]
    days = pd.date_range("2023-01-01", periods=700).strftime("%Y-%m-%d").to_numpy(dtype=object)

    def dates(n: int) -> np.ndarray:
        return days[rng.integers(0, len(days), n)]

    def const(value: str, n: int) -> np.ndarray:
        return np.full(n, value, dtype=object)

    def codes(enum: str, n: int) -> np.ndarray:
        return np.array(cb.codes(enum), dtype=object)[rng.integers(0, len(cb.codes(enum)), n)]

    blocks: list[dict[str, np.ndarray]] = []

    def add(n: int, values: dict[str, np.ndarray]) -> None:
        block = {"record_id": ids[:n], "redcap_data_access_group": dags[:n]}
        block.update(values)
        blocks.append(block)

    add(families, {"redcap_event_name": const("inclusion_arm_1", families), "fam_nom_parent": const("Nom", families),
                   "date_premier_contact": dates(families), "canal_recrutement": codes("recruitment_channel", families),
                   "isole_contact": codes("isolation_score", families) > "1", "date_consentement": dates(families),
                   "famille_complete": const("2", families)})
    blocks[-1]["isole_contact"] = np.where(blocks[-1]["isole_contact"], "1", "0").astype(object)
    for instance, n in ((1, families), (2, families * 9 // 10)):
        add(n, {"redcap_event_name": const("inclusion_arm_1", n), "redcap_repeat_instrument": const("enfant", n),
                "redcap_repeat_instance": const(str(instance), n), "enf_date_naissance": dates(n),
                "enf_a_naitre": const("0", n), "enfant_complete": const("2", n)})
    for event in ("t0_arm_1", "t6_arm_1", "t12_arm_1", "t24_arm_1"):
        values = {"redcap_event_name": const(event, families), "suivi_date": dates(families), "suivi_complete": const("2", families)}
        for code in cb.codes("resource_type"):
            values[f"ressources_3m___{code}"] = np.where(rng.random(families) < 0.3, "1", "0").astype(object)
        for field in ("iso_transport", "iso_contraintes_eco", "iso_reseau_soutien", "iso_barrieres_ling", "iso_mefiance"):
            values[field] = codes("isolation_score", families)
        for field in ("pa_1", "pa_2", "pa_3", "pa_4", "stress_1", "stress_2", "stress_3", "stress_4"):
            values[field] = codes("likert5", families)
        add(families, values)
    for form, count, fields in (
        ("besoin", 3, lambda n: {"bes_categorie": codes("need_category", n), "bes_date_identification": dates(n),
                                 "bes_statut": codes("need_status", n), "besoin_complete": const("2", n)}),
        ("reference", 6, lambda n: {"ref_direction": codes("referral_direction", n), "ref_categorie_besoin": codes("need_category", n),
                                    "ref_date": dates(n), "ref_org_destination": const("ORG-06-01-2", n), "reference_complete": const("2", n)}),
    ):
        for instance in range(1, count + 1):
            add(families, {"redcap_event_name": const("accompagnement_arm_1", families), "redcap_repeat_instrument": const(form, families),
                           "redcap_repeat_instance": const(str(instance), families), **fields(families)})
    exits = families // 5
    add(exits, {"redcap_event_name": const("sortie_arm_1", exits), "sortie_date": dates(exits),
                "sortie_raison": codes("exit_reason", exits), "sortie_complete": const("2", exits)})
    records = pd.concat([pd.DataFrame(block) for block in blocks], ignore_index=True).reindex(columns=columns, fill_value="")
    records = records.fillna("").sort_values("record_id", kind="stable")
    _write(records, root / "redcap" / "records.csv")

    registry = root / "registry"
    write_csv(registry / "workers.csv", list(cb.registry["worker"]), [["W06-01-1", "T06-01", "2023-09-01", "", "35"]])
    write_csv(registry / "supervision.csv", list(cb.registry["supervision"]), [["W06-01-1", "2024-03-01", "90", "clinique"]])
    (registry / "activities").mkdir(parents=True)
    sizes = np.full(files, activities // files)
    sizes[: activities - sizes.sum()] += 1
    for number, n in enumerate(sizes):
        frame = pd.DataFrame({
            "activity_id": np.char.add(f"A{number:03d}-", np.arange(n).astype("U7")),
            "worker_id": f"W{number:03d}-1", "territory_id": f"T{number:03d}", "activity_date": dates(n),
            "minutes": rng.integers(5, 240, n).astype("U3"), "action_type": codes("action_type", n),
            "family_record_id": np.where(rng.random(n) < 0.6, ids[rng.integers(0, families, n)], ""),
            "org_id": "", "place": codes("place", n), "travel_minutes": rng.integers(0, 60, n).astype("U2"),
            "travel_km": np.round(rng.random(n) * 30, 1).astype("U5"),
        })
        _write(frame, registry / "activities" / f"T{number:03d}.csv")
    return {"redcap_rows": len(records), "redcap_columns": len(columns), "activities": int(sizes.sum()), "activity_files": files}


def run(families: int, activities: int, files: int, workdir: Path) -> dict[str, object]:
    from proximite.pipeline import ingest
    from proximite.config import load_settings

    os.environ.setdefault("PROXIMITE_RAW_KEY", "5f" * 32)  # 01 raw is encrypted at rest (a bench key)
    started = time.perf_counter()
    counts = make_input(workdir / "input", families=families, activities=activities, files=files)
    generated = time.perf_counter() - started
    started = time.perf_counter()
    result = ingest(workdir / "input", settings=load_settings(workdir / "project"))
    seconds = time.perf_counter() - started
    rows = sum(sum(source.rows.values()) for source in result.sources.values())
    return {
        "stage": "ingest", **counts, "seconds": round(seconds, 2), "rows_per_s": round(rows / seconds),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024), "generate_seconds": round(generated, 2),
        "staged_rows": {name: source.rows for name, source in result.sources.items()},
    }


@pytest.mark.slow
def test_ingest_at_province_scale_stages_every_row(tmp_path: Path) -> None:
    completed = subprocess.run(
        [sys.executable, __file__, "--workdir", str(tmp_path)], capture_output=True, text=True, check=True, timeout=900
    )
    figures = json.loads(completed.stdout.strip().splitlines()[-1])
    assert figures["staged_rows"]["registry"]["activity"] == 2_000_000
    print(json.dumps(figures))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--families", type=int, default=50_000)
    parser.add_argument("--activities", type=int, default=2_000_000)
    parser.add_argument("--files", type=int, default=300)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.workdir is None:
        with tempfile.TemporaryDirectory(prefix="proximite-ingest-bench-") as directory:
            figures = run(args.families, args.activities, args.files, Path(directory))
    else:
        figures = run(args.families, args.activities, args.files, args.workdir)
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
