"""One reader of the concurrent-readers journey: ``python concurrent_reader.py KIND PROJECT STOP_FILE OUT_DIR``.

Reads the project's warehouse in a loop until STOP_FILE exists, as one of DESIGN's readers
(``panel``: ``proximite.cohort.panel()``; ``query``: a DuckDB query of every table against the
row counts its build recorded; ``snapshot``: a snapshot written from the warehouse into OUT_DIR;
``status``: ``proximite status``), then prints one JSON line: its kind, the builds it saw, the
number of reads and every problem met (an exception, or a table whose rows disagree with its
build: a half-built warehouse).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path


def read_once(kind: str, project: str, out_dir: Path) -> str | None:
    """One read; the build id it saw (None where the read does not tell)."""
    from proximite.config import load_settings

    settings = load_settings(project)
    if kind == "panel":
        from proximite.cohort import panel

        frame = panel(settings=settings)
        families = frame.index.get_level_values("family_id")
        assert len(frame) > 0 and families.notna().all(), "an empty panel, or rows without their family"
        return str(frame.attrs.get("build_id")) if frame.attrs.get("build_id") else None
    if kind == "query":
        import duckdb

        with duckdb.connect(str(settings.warehouse_path), read_only=True) as connection:
            build_id, counts = connection.execute("SELECT build_id, row_counts FROM build ORDER BY built_at DESC LIMIT 1").fetchone()
            for name, expected in json.loads(counts).items():
                found = connection.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0]
                assert found == expected, f"table {name}: {found} rows, its build recorded {expected}"
        return str(build_id)
    if kind == "snapshot":
        from proximite.pipeline.snapshot import write_snapshot_from_warehouse

        folder = write_snapshot_from_warehouse(settings, out=out_dir / "snapshot")
        return json.loads((folder / "manifest.json").read_text(encoding="utf-8"))["data_version"]
    done = subprocess.run([str(Path(sys.executable).with_name("proximite")), "status", "--project-dir", project],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"proximite status exited {done.returncode}: {done.stdout[-300:]} {done.stderr[-300:]}"
    return None


def main() -> None:
    kind, project, stop_file, out_dir = sys.argv[1:5]
    builds: set[str] = set()
    reads, problems = 0, []
    deadline = time.time() + 900
    while not Path(stop_file).exists() and time.time() < deadline:
        try:
            seen = read_once(kind, project, Path(out_dir))
            if seen:
                builds.add(seen)
            reads += 1
        except Exception as error:  # noqa: BLE001 - every problem is reported, the loop goes on
            problems.append(f"{type(error).__name__}: {error}"[:400])
    print(json.dumps({"kind": kind, "reads": reads, "builds": sorted(builds), "problems": problems}))


if __name__ == "__main__":
    main()
