"""A corpus of defective cohorts: one pure function per defect, applied to a copy of a clean input.

Each function takes a **copy** of a clean synthetic input directory (``docs/data-layout.md``),
plants exactly one defect in it, in place, and returns an :class:`Expected`: what should catch it.

- ``Expected(stage="ingest", file=..., column=..., row=..., rule=...)``: typing refuses the file
  with an :class:`~proximite.errors.InputError` naming that file (relative to the input
  directory), column and 1-based data row (``None`` when the error is about the whole file or
  column);
- ``Expected(stage="gate", layer="staged"|"harmonised", rule_id=..., keys=...)``: the file types,
  and the gate of that layer fails ``rule_id`` on exactly the planted rows, ``keys``:
  :class:`RedcapRow` (a staged REDCap row), :class:`FileRow` (a staged registry, reference or
  cost row) or the harmonised row that was planted (:class:`FamilyRow`, :class:`InstanceRow`,
  :class:`AssessmentRow`, :class:`ActivityRow`), which the test turns into the engine's key with
  the project's pseudonym key.

Files are read as strings (pandas ``dtype=str, keep_default_na=False``) and written back in their
own encoding, delimiter and line ending, so a clean file read and written back is byte for byte
the same and only the planted cell differs; SPSS files go through pyreadstat (value labels,
user-missing ranges and formats kept), XLSX through openpyxl. The rows chosen depend only on the
clean input, so a defect lands on the same row for a given seed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pandas as pd

__all__ = [
    "DEFECTS",
    "ActivityRow",
    "AssessmentRow",
    "Expected",
    "FamilyRow",
    "FileRow",
    "InstanceRow",
    "RedcapRow",
]

RECORDS = Path("redcap") / "records.csv"
ACTIVITIES = Path("registry") / "activities"
EVENT, INSTRUMENT, INSTANCE, DAG = (
    "redcap_event_name",
    "redcap_repeat_instrument",
    "redcap_repeat_instance",
    "redcap_data_access_group",
)
WAVE_EVENTS = {0: "t0_arm_1", 6: "t6_arm_1", 12: "t12_arm_1", 24: "t24_arm_1"}


# ------------------------------------------------------------------------------------ keys


@dataclass(frozen=True)
class RedcapRow:
    """A row of a staged REDCap form: record, event and repeat instance (None when not repeating)."""

    record_id: str
    event: str
    instance: int | None = None


@dataclass(frozen=True)
class FileRow:
    """A row of a staged file table: ``source_file`` as staged (relative to the source folder,
    ``activities/T03-01.csv``) and its 1-based ``source_row``."""

    source_file: str
    source_row: int


@dataclass(frozen=True)
class FamilyRow:
    """The harmonised ``family`` row of a REDCap record."""

    record_id: str


@dataclass(frozen=True)
class InstanceRow:
    """A harmonised row made from a repeat instance: ``child`` (form enfant), ``need`` (besoin),
    ``referral`` (reference)."""

    table: str
    form: str
    record_id: str
    instance: int


@dataclass(frozen=True)
class AssessmentRow:
    """The harmonised ``assessment`` row of a record at a wave."""

    record_id: str
    wave: int


@dataclass(frozen=True)
class ActivityRow:
    """A harmonised ``activity`` row (its key is activity_id and territory_id)."""

    activity_id: str
    territory_id: str


Key = RedcapRow | FileRow | FamilyRow | InstanceRow | AssessmentRow | ActivityRow


@dataclass(frozen=True)
class Expected:
    """What should catch a defect.

    Attributes
    ----------
    stage : {"ingest", "gate"}
    file : str, optional
        Ingest: the file the :class:`InputError` names, relative to the input directory.
    column, row : optional
        Ingest: the column and 1-based data row it names (None: not named).
    rule : str, optional
        Ingest: the error's rule (checked when given).
    layer : {"staged", "harmonised"}, optional
        Gate: which gate.
    source : str, optional
        Staged gate: the source whose gate fails.
    rule_id : str, optional
        Gate: the rule that must fail.
    keys : tuple
        Gate: exactly the rows planted.
    """

    stage: Literal["ingest", "gate"]
    file: str | None = None
    column: str | None = None
    row: int | None = None
    rule: str | None = None
    layer: Literal["staged", "harmonised"] | None = None
    source: str | None = None
    rule_id: str | None = None
    keys: tuple[Key, ...] = ()


# ------------------------------------------------------------------------------------ file helpers


def read_csv(path: Path, *, encoding: str = "utf-8", sep: str = ",") -> pd.DataFrame:
    """A CSV as strings, ``""`` for an empty cell (nothing parsed)."""
    return pd.read_csv(path, dtype=str, keep_default_na=False, encoding=encoding, sep=sep)


def write_csv(frame: pd.DataFrame, path: Path, *, encoding: str = "utf-8", sep: str = ",") -> None:
    """Write back as the generator writes (minimal quoting, ``\\n``); a clean frame round-trips byte for byte."""
    path.write_bytes(frame.to_csv(index=False, sep=sep, lineterminator="\n").encode(encoding))


def records(input_dir: Path) -> pd.DataFrame:
    return read_csv(input_dir / RECORDS)


def write_records(input_dir: Path, frame: pd.DataFrame) -> None:
    write_csv(frame, input_dir / RECORDS)


def template_activity_file(input_dir: Path) -> Path:
    """The first activity file in the registry's own template (a CSV with no mapping)."""
    files = sorted(
        path for path in (input_dir / ACTIVITIES).glob("*.csv")
        if not path.with_name(path.stem + ".mapping.yaml").exists()
    )
    assert files, f"no template activity CSV under {input_dir / ACTIVITIES}"
    return files[0]


def partner_file(input_dir: Path, suffix: str, *, declares: str | None = None) -> Path:
    """The first partner activity file with this suffix (and a mapping declaring ``declares:`` when given)."""
    for path in sorted((input_dir / ACTIVITIES).glob(f"*{suffix}")):
        mapping = path.with_name(path.stem + ".mapping.yaml")
        if mapping.exists() and (declares is None or f"\n{declares}:" in "\n" + mapping.read_text(encoding="utf-8")):
            return path
    raise AssertionError(f"no partner {suffix} file{' declaring ' + declares if declares else ''} under {input_dir / ACTIVITIES}")


def relative(input_dir: Path, path: Path) -> str:
    return path.relative_to(input_dir).as_posix()


def staged_name(input_dir: Path, path: Path) -> str:
    """``source_file`` as staged: relative to the registry folder."""
    return path.relative_to(input_dir / "registry").as_posix()


def _row(frame: pd.DataFrame, mask: pd.Series) -> int:
    """Index of the first row where ``mask`` holds."""
    hits = frame.index[mask.to_numpy()]
    assert len(hits), "the clean cohort has no row fit for this defect"
    return int(hits[0])


def _date(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def _mid_row(frame: pd.DataFrame, mask: pd.Series | None = None) -> int:
    """A row in the middle of the frame (of the rows where ``mask`` holds): not the first nor the last."""
    index = frame.index if mask is None else frame.index[mask.to_numpy()]
    assert len(index) >= 3, "the clean cohort has too few rows fit for this defect"
    return int(index[len(index) // 2])


def _edit_yaml_line(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{path.name}: expected one {old!r}"
    path.write_text(text.replace(old, new), encoding="utf-8")


# ------------------------------------------------------------------------------------ what typing refuses


def missing_template_column(input_dir: Path) -> Expected:
    """The template activity CSV without its required ``minutes`` column."""
    path = template_activity_file(input_dir)
    frame = read_csv(path)
    write_csv(frame.drop(columns=["minutes"]), path)
    return Expected("ingest", file=relative(input_dir, path), column="minutes", rule="required column missing")


def missing_redcap_column(input_dir: Path) -> Expected:
    """The REDCap export without the ``suivi_date`` field the dictionary defines."""
    frame = records(input_dir)
    write_records(input_dir, frame.drop(columns=["suivi_date"]))
    return Expected("ingest", file=RECORDS.as_posix(), column="suivi_date", rule="required column missing")


def unknown_event(input_dir: Path) -> Expected:
    """A REDCap row at an event the project does not have (``t3_arm_1``)."""
    frame = records(input_dir)
    row = _mid_row(frame, frame[EVENT] == WAVE_EVENTS[6])
    frame.loc[row, EVENT] = "t3_arm_1"
    write_records(input_dir, frame)
    return Expected("ingest", file=RECORDS.as_posix(), column=EVENT, row=row + 1, rule="unknown event")


def unknown_dag(input_dir: Path) -> Expected:
    """A REDCap row in a data access group that ``dags.csv`` does not declare."""
    frame = records(input_dir)
    row = _mid_row(frame, frame[EVENT] == "inclusion_arm_1")
    frame.loc[row, DAG] = "t99_99"
    write_records(input_dir, frame)
    return Expected("ingest", file=RECORDS.as_posix(), column=DAG, row=row + 1, rule="unknown data access group")


def unknown_action_type(input_dir: Path) -> Expected:
    """An activity of the template CSV with an action type outside the codebook."""
    path = template_activity_file(input_dir)
    frame = read_csv(path)
    row = _mid_row(frame)
    frame.loc[row, "action_type"] = "visite_libre"
    write_csv(frame, path)
    return Expected("ingest", file=relative(input_dir, path), column="action_type", row=row + 1, rule="unknown code")


def unknown_partner_action_label(input_dir: Path) -> Expected:
    """A partner's XLSX with an action label its mapping does not map (edited with openpyxl)."""
    import openpyxl
    import yaml

    path = partner_file(input_dir, ".xlsx")
    mapping = yaml.safe_load(path.with_name(path.stem + ".mapping.yaml").read_text(encoding="utf-8"))
    partner_column = mapping["columns"]["action_type"]
    book = openpyxl.load_workbook(path)
    sheet = book[mapping["sheet"]] if mapping.get("sheet") else book.worksheets[0]
    header = [cell.value for cell in sheet[1]]
    column = header.index(partner_column) + 1
    line = (sheet.max_row + 2) // 2  # a sheet line in the middle; data row = line - 1
    sheet.cell(row=line, column=column).value = "Visite libre au parc"
    book.save(path)
    return Expected(
        "ingest", file=relative(input_dir, path), column=f"{partner_column} → action_type", row=line - 1, rule="unknown code"
    )


def unknown_need_category(input_dir: Path) -> Expected:
    """A need (besoin form) in a category the dictionary does not list."""
    frame = records(input_dir)
    row = _mid_row(frame, frame[INSTRUMENT] == "besoin")
    frame.loc[row, "bes_categorie"] = "loisirs"
    write_records(input_dir, frame)
    return Expected("ingest", file=RECORDS.as_posix(), column="bes_categorie", row=row + 1, rule="unknown code")


def truncated_sav(input_dir: Path) -> Expected:
    """A partner's SPSS file cut in half."""
    path = partner_file(input_dir, ".sav")
    content = path.read_bytes()
    path.write_bytes(content[: len(content) // 2])
    return Expected("ingest", file=relative(input_dir, path), rule="not a readable SPSS file")


def truncated_xlsx(input_dir: Path) -> Expected:
    """A partner's XLSX workbook cut at two thirds."""
    path = partner_file(input_dir, ".xlsx")
    content = path.read_bytes()
    path.write_bytes(content[: len(content) * 2 // 3])
    return Expected("ingest", file=relative(input_dir, path), rule="not a readable XLSX workbook")


def corrupt_xlsx(input_dir: Path) -> Expected:
    """A partner's XLSX whose bytes are overwritten in the middle (the zip is whole but damaged)."""
    path = partner_file(input_dir, ".xlsx")
    content = bytearray(path.read_bytes())
    middle = len(content) // 2
    content[middle: middle + 512] = b"\x00" * 512
    path.write_bytes(bytes(content))
    return Expected("ingest", file=relative(input_dir, path), rule="not a readable XLSX workbook")


def undeclared_encoding(input_dir: Path) -> Expected:
    """A partner CSV with accented French names sent in Mac-Roman, its mapping declaring no encoding."""
    path = partner_file(input_dir, ".csv", declares="encoding")
    mapping = path.with_name(path.stem + ".mapping.yaml")
    lines = mapping.read_text(encoding="utf-8").splitlines(keepends=True)
    declared = [line for line in lines if line.startswith("encoding:")]
    encoding = declared[0].split(":", 1)[1].strip().strip("'\"")
    mapping.write_text("".join(line for line in lines if not line.startswith("encoding:")), encoding="utf-8")
    text = path.read_bytes().decode(encoding)
    assert any(letter in text for letter in "éèêàç"), "the partner file should hold accented French text"
    path.write_bytes(text.encode("mac_roman"))
    # The header already has accented letters (N° activité, Durée): no data row is named.
    return Expected("ingest", file=relative(input_dir, path), rule="encoding undeclared or unrecognised")


def duplicate_family_wave(input_dir: Path) -> Expected:
    """A family's T6 follow-up row sent twice (the copy right after the original)."""
    frame = records(input_dir)
    row = _mid_row(frame, frame[EVENT] == WAVE_EVENTS[6])
    doubled = pd.concat([frame.loc[:row], frame.loc[[row]], frame.loc[row + 1:]], ignore_index=True)
    write_records(input_dir, doubled)
    return Expected("ingest", file=RECORDS.as_posix(), column=EVENT, row=row + 2, rule="duplicate (family, wave)")


def unparseable_redcap_date(input_dir: Path) -> Expected:
    """A follow-up date that does not exist (30 February)."""
    frame = records(input_dir)
    row = _mid_row(frame, frame[EVENT] == WAVE_EVENTS[12])
    frame.loc[row, "suivi_date"] = frame.loc[row, "suivi_date"][:4] + "-02-30"
    write_records(input_dir, frame)
    return Expected("ingest", file=RECORDS.as_posix(), column="suivi_date", row=row + 1, rule="date cannot be parsed")


def unparseable_partner_date(input_dir: Path) -> Expected:
    """A partner's cp1252 CSV (day/month/year dates) with a 32nd day; written back in cp1252."""
    import yaml

    path = partner_file(input_dir, ".csv", declares="date_format")
    mapping = yaml.safe_load(path.with_name(path.stem + ".mapping.yaml").read_text(encoding="utf-8"))
    encoding = mapping.get("encoding", "utf-8")
    sep = mapping.get("delimiter", ",")
    date_column = mapping["columns"]["activity_date"]
    frame = read_csv(path, encoding=encoding, sep=sep)
    row = _mid_row(frame)
    _day, month, year = frame.loc[row, date_column].split("/")
    frame.loc[row, date_column] = f"32/{month}/{year}"
    write_csv(frame, path, encoding=encoding, sep=sep)
    return Expected(
        "ingest", file=relative(input_dir, path), column=f"{date_column} → activity_date", row=row + 1,
        rule="date cannot be parsed",
    )


def empty_file(input_dir: Path) -> Expected:
    """The template activity CSV sent as a zero-byte file."""
    path = template_activity_file(input_dir)
    path.write_bytes(b"")
    return Expected("ingest", file=relative(input_dir, path), rule="empty file")


def header_only_records(input_dir: Path) -> Expected:
    """The REDCap export with its header and no record."""
    frame = records(input_dir)
    write_records(input_dir, frame.iloc[0:0])
    return Expected("ingest", file=RECORDS.as_posix(), rule="no data rows")


def mapping_names_absent_column(input_dir: Path) -> Expected:
    """A partner's mapping naming a minutes column its XLSX does not have."""
    import yaml

    path = partner_file(input_dir, ".xlsx")
    mapping_path = path.with_name(path.stem + ".mapping.yaml")
    partner_column = yaml.safe_load(mapping_path.read_text(encoding="utf-8"))["columns"]["minutes"]
    absent = f"{partner_column} totales"
    _edit_yaml_line(mapping_path, f"  minutes: {partner_column}\n", f"  minutes: {absent}\n")
    return Expected(
        "ingest", file=relative(input_dir, mapping_path), column=absent, rule="mapping names a column the file does not have"
    )


def isolation_item_out_of_range(input_dir: Path) -> Expected:
    """An isolation item scored 7 on a 0–3 scale (a radio code the dictionary does not have)."""
    frame = records(input_dir)
    row = _mid_row(frame, (frame[EVENT] == WAVE_EVENTS[0]) & (frame["iso_transport"] != ""))
    frame.loc[row, "iso_transport"] = "7"
    write_records(input_dir, frame)
    return Expected("ingest", file=RECORDS.as_posix(), column="iso_transport", row=row + 1, rule="unknown code")


def isolation_item_negative(input_dir: Path) -> Expected:
    """An isolation item scored -1 on a 0–3 scale."""
    frame = records(input_dir)
    row = _mid_row(frame, (frame[EVENT] == WAVE_EVENTS[6]) & (frame["iso_mefiance"] != ""))
    frame.loc[row, "iso_mefiance"] = "-1"
    write_records(input_dir, frame)
    return Expected("ingest", file=RECORDS.as_posix(), column="iso_mefiance", row=row + 1, rule="unknown code")


def checkbox_undeclared_code(input_dir: Path) -> Expected:
    """A checkbox exported with a code the dictionary does not declare (``ressources_3m___piscine``)."""
    frame = records(input_dir)
    boxes = [column for column in frame.columns if column.startswith("ressources_3m___")]
    new = "ressources_3m___piscine"
    filled = frame[boxes[0]] != ""
    values = pd.Series("", index=frame.index)
    values[filled] = "0"
    values[_mid_row(frame, filled)] = "1"
    frame.insert(frame.columns.get_loc(boxes[-1]) + 1, new, values)
    write_records(input_dir, frame)
    return Expected("ingest", file=RECORDS.as_posix(), column=new, rule="column not in the data dictionary")


# ------------------------------------------------------------------------------------ what the staged gate catches


def required_value_missing(input_dir: Path) -> Expected:
    """A referral without its date (``ref_date``, required in the data dictionary); typing
    accepts an empty cell, the staged gate does not."""
    frame = records(input_dir)
    row = _mid_row(frame, frame[INSTRUMENT] == "reference")
    frame.loc[row, "ref_date"] = ""
    write_records(input_dir, frame)
    planted = RedcapRow(frame.loc[row, "record_id"], frame.loc[row, EVENT], int(frame.loc[row, INSTANCE]))
    return Expected("gate", layer="staged", source="redcap", rule_id="staged.reference.ref_date.required", keys=(planted,))


def date_before_dictionary_minimum(input_dir: Path) -> Expected:
    """A first contact in 2021, before the data dictionary's validation minimum (2022-01-01)."""
    frame = records(input_dir)
    row = _mid_row(frame, (frame[EVENT] == "inclusion_arm_1") & (frame[INSTRUMENT] == ""))
    frame.loc[row, "date_premier_contact"] = "2021-06-15"
    write_records(input_dir, frame)
    planted = RedcapRow(frame.loc[row, "record_id"], "inclusion_arm_1", None)
    return Expected(
        "gate", layer="staged", source="redcap", rule_id="staged.famille.date_premier_contact.between", keys=(planted,)
    )


def negative_duration(input_dir: Path) -> Expected:
    """An activity of the template CSV lasting -30 minutes (a whole number: typing accepts it)."""
    path = template_activity_file(input_dir)
    frame = read_csv(path)
    row = _mid_row(frame)
    frame.loc[row, "minutes"] = "-30"
    write_csv(frame, path)
    # The registry template has no bounds of its own; the model's (1 to 720) apply at staging.
    return Expected(
        "gate", layer="staged", source="registry", rule_id="staged.activity.minutes.between",
        keys=(FileRow(staged_name(input_dir, path), row + 1),),
    )


def negative_duration_spss(input_dir: Path) -> Expected:
    """An activity of a partner's SPSS file lasting -45 minutes (rewritten with pyreadstat)."""
    import pyreadstat
    import yaml

    path = partner_file(input_dir, ".sav")
    mapping = yaml.safe_load(path.with_name(path.stem + ".mapping.yaml").read_text(encoding="utf-8"))
    minutes = mapping["columns"]["minutes"]
    frame, meta = pyreadstat.read_sav(path, apply_value_formats=False, user_missing=True)
    row = _mid_row(frame)
    frame.loc[row, minutes] = -45
    pyreadstat.write_sav(
        frame, path, column_labels=meta.column_labels, variable_value_labels=meta.variable_value_labels,
        missing_ranges=meta.missing_ranges, variable_format=meta.original_variable_types,
    )
    return Expected(
        "gate", layer="staged", source="registry", rule_id="staged.activity.minutes.between",
        keys=(FileRow(staged_name(input_dir, path), row + 1),),
    )


# ------------------------------------------------------------------------------------ what the harmonised gate catches


def _t0_dates(frame: pd.DataFrame) -> pd.Series:
    """T0 date of each record (records without a T0 left out)."""
    t0 = frame[(frame[EVENT] == WAVE_EVENTS[0]) & (frame["suivi_date"] != "")]
    return t0.set_index("record_id")["suivi_date"]


def wave_outside_window(input_dir: Path) -> Expected:
    """A T6 follow-up dated 100 days after T0 (the window is T0 + 6 months ± 45 days), still
    after T0 and before the family's T12, so only the window rule is broken."""
    frame = records(input_dir)
    t0 = _t0_dates(frame)
    dated = frame["suivi_date"] != ""
    t6 = (frame[EVENT] == WAVE_EVENTS[6]) & dated & frame["record_id"].isin(t0.index)
    row = _mid_row(frame, t6)
    record = frame.loc[row, "record_id"]
    moved = _date(t0[record]) + dt.timedelta(days=100)
    frame.loc[row, "suivi_date"] = moved.isoformat()
    later = frame[(frame["record_id"] == record) & frame[EVENT].isin([WAVE_EVENTS[12], WAVE_EVENTS[24]]) & dated]
    assert all(_date(value) > moved for value in later["suivi_date"])
    write_records(input_dir, frame)
    return Expected(
        "gate", layer="harmonised", rule_id="harmonised.assessment.in_wave_window", keys=(AssessmentRow(record, 6),)
    )


def orphan_referral(input_dir: Path) -> Expected:
    """A referral (reference form, instance 1) of a record that has no famille row: a copy of a
    clean referral row under a record id no family has, appended after the last record."""
    frame = records(input_dir)
    row = _mid_row(frame, frame[INSTRUMENT] == "reference")
    numeric = pd.to_numeric(frame["record_id"], errors="coerce")
    orphan = str(int(numeric.max()) + 1000)
    copy = frame.loc[[row]].copy()
    copy["record_id"] = orphan
    copy[INSTANCE] = "1"
    write_records(input_dir, pd.concat([frame, copy], ignore_index=True))
    return Expected(
        "gate", layer="harmonised", rule_id="harmonised.referral.family_exists",
        keys=(InstanceRow("referral", "reference", orphan, 1),),
    )


def _record_with_template_activities(input_dir: Path, frame: pd.DataFrame) -> str:
    """A record (in the middle) that activities of the template CSV name, with a T0 follow-up."""
    activities = read_csv(template_activity_file(input_dir))
    named = set(activities.loc[activities["family_record_id"] != "", "family_record_id"])
    t0 = frame[(frame[EVENT] == WAVE_EVENTS[0]) & (frame["suivi_date"] != "")]
    candidates = [record for record in dict.fromkeys(t0["record_id"]) if record in named]
    assert candidates, "no family of the template CSV's territory has activities and a T0"
    return candidates[len(candidates) // 2]


def family_in_two_territories(input_dir: Path) -> Expected:
    """A family whose famille row is filed under another territory's data access group than its
    other rows (the same record id under two DAGs); its activities stay in its own territory's
    file, so the harmonised family and its activities name two territories."""
    frame = records(input_dir)
    record = _record_with_template_activities(input_dir, frame)
    row = _row(frame, (frame["record_id"] == record) & (frame[EVENT] == "inclusion_arm_1") & (frame[INSTRUMENT] == ""))
    group = frame.loc[row, DAG]
    frame.loc[row, DAG] = min(set(frame[DAG]) - {group, ""})
    write_records(input_dir, frame)
    # Caught as early as it can be: at the staged REDCap gate, on the row under the odd group.
    return Expected(
        "gate", layer="staged", source="redcap", rule_id="staged.famille.one_territory",
        keys=(RedcapRow(record, "inclusion_arm_1", None),),
    )


def family_in_two_territories_followup_row(input_dir: Path) -> Expected:
    """A family whose T0 follow-up row is filed under another territory's data access group than
    its famille row and its other rows (the same record id under two DAGs)."""
    frame = records(input_dir)
    record = _record_with_template_activities(input_dir, frame)
    row = _row(frame, (frame["record_id"] == record) & (frame[EVENT] == WAVE_EVENTS[0]))
    group = frame.loc[row, DAG]
    frame.loc[row, DAG] = min(set(frame[DAG]) - {group, ""})
    write_records(input_dir, frame)
    # Harmonised tables keep only the famille row's group: only the staged gate can see this one.
    return Expected(
        "gate", layer="staged", source="redcap", rule_id="staged.suivi.one_territory",
        keys=(RedcapRow(record, WAVE_EVENTS[0], None),),
    )


def activity_by_unknown_worker(input_dir: Path) -> Expected:
    """An activity of the template CSV by a worker code that ``workers.csv`` does not list."""
    path = template_activity_file(input_dir)
    frame = read_csv(path)
    row = _mid_row(frame)
    workers = set(read_csv(input_dir / "registry" / "workers.csv")["worker_id"])
    unknown = "W99-99-9"
    assert unknown not in workers
    frame.loc[row, "worker_id"] = unknown
    write_csv(frame, path)
    return Expected(
        "gate", layer="harmonised", rule_id="harmonised.activity.worker_known",
        keys=(ActivityRow(frame.loc[row, "activity_id"], frame.loc[row, "territory_id"]),),
    )


def child_born_after_assessment(input_dir: Path) -> Expected:
    """A child said born at contact (``enf_a_naitre = 0``) whose birth date is two months after
    the family's T0 assessment."""
    frame = records(input_dir)
    t0 = _t0_dates(frame)
    born = (frame[INSTRUMENT] == "enfant") & (frame["enf_a_naitre"] == "0") & frame["record_id"].isin(t0.index)
    row = _mid_row(frame, born)
    record = frame.loc[row, "record_id"]
    birth = _date(t0[record]) + dt.timedelta(days=62)
    frame.loc[row, "enf_date_naissance"] = birth.isoformat()
    write_records(input_dir, frame)
    instance = int(frame.loc[row, INSTANCE])
    return Expected(
        "gate", layer="harmonised", rule_id="harmonised.child.born_before_assessment",
        keys=(InstanceRow("child", "enfant", record, instance),),
    )


#: Every defect of the corpus, by name (the test's parameter ids).
DEFECTS: dict[str, Callable[[Path], Expected]] = {
    function.__name__: function
    for function in (
        # the foundation issue's list
        missing_template_column,
        missing_redcap_column,
        unknown_event,
        unknown_dag,
        unknown_action_type,
        unknown_partner_action_label,
        unknown_need_category,
        truncated_sav,
        truncated_xlsx,
        corrupt_xlsx,
        undeclared_encoding,
        duplicate_family_wave,
        unparseable_redcap_date,
        unparseable_partner_date,
        empty_file,
        header_only_records,
        mapping_names_absent_column,
        # the validation issue's list
        isolation_item_out_of_range,
        isolation_item_negative,
        checkbox_undeclared_code,
        wave_outside_window,
        orphan_referral,
        family_in_two_territories,
        family_in_two_territories_followup_row,
        activity_by_unknown_worker,
        child_born_after_assessment,
        negative_duration,
        negative_duration_spss,
        # more of what typing lets through and the staged gate stops
        required_value_missing,
        date_before_dictionary_minimum,
    )
}
