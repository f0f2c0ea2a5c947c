"""Disclosure benchmark: the public snapshot step and the disclosure audit at demo and pilot scale.

Scales: ``demo`` (300 families, 12 territories: ``proximite demo``'s cohort), ``pilot``
(5,305 families, 50 territories) and ``province`` (50,000 families, 300 territories). Each cohort is generated with complete follow-up, ingested
(gates off) and harmonised once into ``--work`` (kept, so a second run reuses it), and its
indicators are computed (outside the clock). Then, in a fresh process per scale:

- ``disclosure``: :func:`~proximite.indicators.disclosure.apply_disclosure` at the public level
  (complementary suppression, rounding, and the audit-driven repair, which audits the would-be
  public table at least once);
- ``snapshot``: :func:`~proximite.indicators.snapshot.write_snapshot` of Québec at the public
  level, the whole step: disclosure, the writer's own audit of what it publishes, every format;
  with the time spent writing the pages per audience (overview, one file per region and per
  territory, glossary, in both languages), their count and sizes, and the size of ``index.html``;
- ``audit``: ``proximite disclosure audit`` on the folder just written, as an outsider runs it
  (the published files only, with the public geography: each territory's region and strata), with
  its figures: published and
  hidden cells, hidden counts bounded, relations and unknowns, linear programmes, findings.

One JSON line per scale and stage::

    {"bench": "disclosure", "scale", "stage", "seconds", "cpu_seconds", "rows", "peak_rss_mb", ...}

Run as a script for the figures::

    .venv/bin/python tests/bench/test_disclosure_scale.py [--scales demo pilot] [--work DIR]

or through pytest with ``-m bench`` (the demo scale only; it checks the audit finds nothing).
Timings are printed, not asserted: on a shared 2-core machine they are not pass/fail criteria.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing as mp
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_validation import prepare  # noqa: E402

SCALES = {
    "demo": {"families": 300, "territories": 12},
    "pilot": {"families": 5305, "territories": 50},
    "province": {"families": 50000, "territories": 300},
}


def _peak_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _indicators(work: str, queue: mp.Queue) -> None:  # type: ignore[type-arg]
    """Compute the indicator table once and keep it (with the geography) beside the harmonised tables."""
    import pandas as pd

    from proximite.config import load_settings
    from proximite.indicators import compute_all
    from proximite.indicators.base import IndicatorParameters

    root = Path(work)
    settings = load_settings(root / "project")
    directory = Path((root / "harmonised_dir").read_text(encoding="utf-8"))
    tables = {path.stem: pd.read_parquet(path) for path in sorted(directory.glob("*.parquet"))}
    frame = compute_all(tables, parameters=IndicatorParameters.from_settings(settings))
    frame.to_parquet(root / "indicators.parquet")
    for name in ("territory", "region"):
        tables[name].to_parquet(root / f"{name}.parquet")
    queue.put(len(frame))


def _timed(stage: str, work: Any, *extra: Any) -> tuple[dict[str, Any], Any]:
    started, cpu = time.perf_counter(), time.process_time()
    result = work(*extra)
    line = {"stage": stage, "seconds": round(time.perf_counter() - started, 2),
            "cpu_seconds": round(time.process_time() - cpu, 2)}
    return line, result


def _measure(work: str, queue: mp.Queue) -> None:  # type: ignore[type-arg]
    """Disclosure, the snapshot step and the outsider's audit, timed in this fresh process."""
    import pandas as pd

    from proximite.cohort.codebook import load_codebook
    from proximite.indicators.disclosure import apply_disclosure
    from proximite.indicators.snapshot import write_snapshot

    root = Path(work)
    table = pd.read_parquet(root / "indicators.parquet")
    territory, region = pd.read_parquet(root / "territory.parquet"), pd.read_parquet(root / "region.parquet")
    codebook = load_codebook()
    lines = []
    line, disclosed = _timed("disclosure", lambda: apply_disclosure(table, level="public", territory=territory,
                                                                     codebook=codebook))
    lines.append({**line, "rows": len(disclosed), "hidden": int(disclosed["suppressed"].sum()),
                  "peak_rss_mb": _peak_mb()})
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch) / "snapshot"
        with _timing_transfer_pages() as transfer:
            line, _ = _timed("snapshot", lambda: write_snapshot(table, folder, territory=territory, region=region,
                                                                context={"level": "public", "scope": "quebec"},
                                                                codebook=codebook))
        lines.append({**line, "rows": len(table), **transfer, **_page_sizes(folder), "peak_rss_mb": _peak_mb()})
        lines.append(_outsider_audit(folder, territory, Path(scratch)))
    queue.put(lines)


@contextlib.contextmanager
def _timing_transfer_pages() -> Iterator[dict[str, Any]]:
    """Time :func:`~proximite.indicators.snapshot.transfer.write_transfer_pages` inside the snapshot step."""
    from proximite.indicators.snapshot import transfer

    figures: dict[str, Any] = {"transfer_pages_seconds": 0.0}
    original = transfer.write_transfer_pages

    def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        paths = original(*args, **kwargs)
        figures["transfer_pages_seconds"] = round(figures["transfer_pages_seconds"] + time.perf_counter() - started, 2)
        return paths

    transfer.write_transfer_pages = timed
    try:
        yield figures
    finally:
        transfer.write_transfer_pages = original


def _page_sizes(folder: Path) -> dict[str, Any]:
    """How many region and territory files the snapshot holds, and the pages' sizes in kB."""
    def kilobytes(paths: list[Path]) -> list[int]:
        return sorted(round(path.stat().st_size / 1024) for path in paths)

    regions, territories = kilobytes(list(folder.glob("regions/*.html"))), kilobytes(list(folder.glob("territories/*.html")))
    return {"region_files": len(regions), "territory_files": len(territories),
            "territory_file_kb_max": territories[-1] if territories else 0,
            "region_file_kb_max": regions[-1] if regions else 0,
            "overview_kb": kilobytes([folder / "overview.html"])[0] if (folder / "overview.html").is_file() else 0,
            "index_kb": kilobytes([folder / "index.html"])[0] if (folder / "index.html").is_file() else 0}


def _outsider_audit(folder: Path, territory: Any, scratch: Path) -> dict[str, Any]:
    """``proximite disclosure audit`` on the published folder (what it reads, timed as the command runs it)."""
    import pandas as pd

    from proximite.cli.disclosure import read_published
    from proximite.indicators.disclosure.audit import audit_published

    geography = scratch / "territories.csv"
    territory[["territory_id", "region_code", "environment", "host_type"]].to_csv(geography, index=False)
    started = time.perf_counter()
    completed = subprocess.run([sys.executable, "-m", "proximite.cli", "disclosure", "audit", str(folder),
                                "--territory", str(geography), "--report", str(scratch / "findings.csv")],
                               capture_output=True, text=True)
    command_seconds = time.perf_counter() - started
    published, manifest = read_published(folder)
    base = int(manifest["disclosure"]["rounding_base"])
    public_geography = pd.read_csv(geography, dtype="string")
    line, result = _timed("audit", lambda: audit_published(published, threshold=int(manifest["disclosure"]["threshold"]),
                                                           rounding_base=base, territory=public_geography))
    return {**line, "command_seconds": round(command_seconds, 2), "command_exit": completed.returncode,
            "rows": len(published), "hidden": int(published["suppressed"].sum()), "hidden_counts": result.hidden_counts,
            "relations": result.relations, "unknowns": result.unknowns, "programmes": result.programmes,
            "findings": len(result.findings), "peak_rss_mb": _peak_mb()}


def _in_fresh_process(target: Any, work: Path) -> Any:
    context = mp.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=target, args=(str(work), queue))
    process.start()
    result = queue.get()
    process.join()
    return result


def run(scale: str, work: Path) -> list[dict[str, Any]]:
    """Prepare the cohort of ``scale`` under ``work`` and return its figures (one dict per stage)."""
    work.mkdir(parents=True, exist_ok=True)
    prepare(work, SCALES[scale])
    rows = _in_fresh_process(_indicators, work)
    lines = _in_fresh_process(_measure, work)
    return [{"bench": "disclosure", "scale": scale, **SCALES[scale], "indicator_rows": rows, **line} for line in lines]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", nargs="+", choices=list(SCALES), default=list(SCALES))
    parser.add_argument("--work", type=Path, default=Path("bench-output") / "disclosure")
    args = parser.parse_args(argv)
    for scale in args.scales:
        for line in run(scale, args.work / scale):
            print(json.dumps(line), flush=True)
    return 0


@pytest.mark.bench
def test_the_demo_snapshot_step_prints_its_figures_and_the_audit_finds_nothing(tmp_path: Path) -> None:
    lines = run("demo", tmp_path)
    for line in lines:
        print(json.dumps(line))
    audit = lines[-1]
    assert [line["stage"] for line in lines] == ["disclosure", "snapshot", "audit"]
    assert audit["findings"] == 0 and audit["command_exit"] == 0
    assert audit["hidden"] > 0 and audit["hidden_counts"] > audit["hidden"]


if __name__ == "__main__":
    sys.exit(main())
