"""Write the codebook's generated files: the REDCap project files and the registry templates.

``python -m proximite.cohort.codebook.build`` (re)writes, from :func:`load_codebook`:

- ``redcap/data_dictionary.csv``: REDCap's data dictionary with the UI's 18 headers, ready for
  *Project Setup → Data Dictionary → Upload*;
- ``redcap/events.csv``, ``arms.csv``, ``form_event_mapping.csv``, ``repeating_forms_events.csv``
  and ``dags.csv`` (one data access group per territory of ``reference/territories.csv``; skipped
  with a message while that file does not exist);
- ``registry/activity_template.csv`` and ``activity_template.xlsx`` (drop-down lists on the coded
  columns, formats, an "Explications" sheet in French), and the ``worker``, ``supervision`` and
  ``cost`` CSV templates;
- ``surveys/<name>/``: the same REDCap files for each yearly questionnaire of ``surveys.yaml``
  (``partner_survey``, ``staff_survey``).

Output bytes are stable: the same codebook gives the same files (the workbook's dates and the zip
entries' times are fixed), so a test can check that the shipped files are up to date.

Options: ``--out DIR`` writes elsewhere (the codebook folder by default); ``--check`` writes
nothing and exits with status 1 when a shipped file differs from a fresh build.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from proximite.cohort.codebook import (
    REDCAP_DICTIONARY_HEADERS,
    REDCAP_METADATA_COLUMNS,
    Codebook,
    SurveyProject,
    load_codebook,
    package_dir,
)
from proximite.cohort.codebook.workbook import activity_workbook

__all__ = ["BuildReport", "build", "generated_files", "main"]


@dataclass
class BuildReport:
    """What a build wrote (or would write) and what it skipped."""

    written: list[Path] = field(default_factory=list)
    unchanged: list[Path] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def _csv_bytes(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False, lineterminator="\n").encode("utf-8")


def _project_files(project: Codebook | SurveyProject, folder: str, *, territories: Path) -> tuple[dict[str, bytes], list[str]]:
    """A REDCap project's files under ``folder``: data dictionary (UI headers), events, arms, mapping, repeating, DAGs."""
    dictionary = project.data_dictionary.rename(
        columns=dict(zip(REDCAP_METADATA_COLUMNS, REDCAP_DICTIONARY_HEADERS, strict=True))
    )
    files: dict[str, bytes] = {
        f"{folder}/data_dictionary.csv": _csv_bytes(dictionary),
        f"{folder}/events.csv": _csv_bytes(project.events),
        f"{folder}/arms.csv": _csv_bytes(project.arms),
        f"{folder}/form_event_mapping.csv": _csv_bytes(project.form_event_mapping),
        f"{folder}/repeating_forms_events.csv": _csv_bytes(project.repeating_forms_events),
    }
    if territories.is_file():
        files[f"{folder}/dags.csv"] = _csv_bytes(project.dags())
        return files, []
    return files, [f"{folder}/dags.csv: skipped, {territories} does not exist yet (one DAG per territory)"]


def generated_files(codebook: Codebook | None = None) -> tuple[dict[str, bytes], list[str]]:
    """Every generated file's bytes by path relative to the codebook folder, and what was skipped."""
    cb = codebook or load_codebook()
    territories = Path(cb.directory) / "reference" / "territories.csv"
    files, skipped = _project_files(cb, "redcap", territories=territories)
    for name, survey in cb.surveys.items():
        survey_files, survey_skipped = _project_files(survey, f"surveys/{name}", territories=territories)
        files.update(survey_files)
        skipped.extend(survey_skipped)
    for table in ("activity", "worker", "supervision", "cost"):
        files[f"registry/{table}_template.csv"] = _csv_bytes(pd.DataFrame(columns=list(cb.registry[table])))
    files["registry/activity_template.xlsx"] = activity_workbook(cb)
    return files, skipped


def build(output_dir: str | Path | None = None, *, codebook: Codebook | None = None, check: bool = False) -> BuildReport:
    """Write the generated files under ``output_dir`` (default: the codebook's own folder).

    Parameters
    ----------
    output_dir : str or Path, optional
    codebook : Codebook, optional
    check : bool, keyword-only
        Write nothing; report in :attr:`BuildReport.written` the files that would change.

    Returns
    -------
    BuildReport
    """
    root = Path(output_dir) if output_dir is not None else package_dir()
    files, skipped = generated_files(codebook)
    report = BuildReport(skipped=skipped)
    for relative, content in files.items():
        path = root / relative
        if path.is_file() and path.read_bytes() == content:
            report.unchanged.append(path)
            continue
        report.written.append(path)
        if not check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
    return report


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``python -m proximite.cohort.codebook.build [--out DIR] [--check]``."""
    parser = argparse.ArgumentParser(description="Write the codebook's REDCap files and registry templates.")
    parser.add_argument("--out", type=Path, default=None, help="output folder (default: the codebook folder)")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if a file is out of date")
    args = parser.parse_args(argv)
    report = build(args.out, check=args.check)
    for message in report.skipped:
        print(message, file=sys.stderr)
    verb = "out of date" if args.check else "written"
    for path in report.written:
        print(f"{verb}: {path}")
    print(f"{len(report.written)} file(s) {verb}, {len(report.unchanged)} unchanged, {len(report.skipped)} skipped")
    return 1 if args.check and report.written else 0


if __name__ == "__main__":
    raise SystemExit(main())
