"""Seeded synthetic cohort generator, calibrated to the pilot, with planted effects.

:func:`generate_cohort` writes an input directory exactly as ``docs/data-layout.md`` describes
(REDCap export, activity registry in several partner formats, reference and cost files) plus
``truth.json``, which records every planted parameter and the complete-data values before
attrition, so estimators and indicators can be checked against what was planted.

Defaults reproduce the pilot's published figures (DESIGN, "Synthetic cohort generator"):
50 territories in 13 regions (41 OCF, 7 CPSC, 2 OCF+CPSC); 5,305 families first met over
15 months (2024-01-01 to 2025-03-31), 61 % isolated at contact; about 10,036 children
(7 % unborn, 52 % aged five or less); half the families with three or more referrals;
81 % of referrals to community organisations, 38 % to family/childhood and 23 % to
material-aid/food missions; about 10 % of referrals from partners back to the PTP.

Examples
--------
>>> from proximite.cohort.sandbox.synth import generate_cohort
>>> summary = generate_cohort("cohort-input", families=300, territories=12, seed=1)  # doctest: +SKIP
>>> summary.counts["families"]  # doctest: +SKIP
300
"""

from __future__ import annotations

import datetime as dt
import logging
import shutil
import time
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from proximite.cohort.codebook import load_codebook
from proximite.cohort.sandbox import _export, _qualitative, _registry
from proximite.cohort.sandbox._assessments import make_assessments
from proximite.cohort.sandbox._scale_truth import scale_truth
from proximite.cohort.sandbox._attrition import apply_attrition
from proximite.cohort.sandbox._censor import Tables, censor, observed
from proximite.cohort.sandbox._context import RECRUITMENT_END, RECRUITMENT_START, Context
from proximite.cohort.sandbox._families import (
    AGED_FIVE_OR_LESS_SHARE,
    CHILD_COUNT_PMF,
    ISOLATED_AT_CONTACT_SHARE,
    RECRUITMENT_CHANNEL_WEIGHTS,
    UNBORN_SHARE,
    make_children,
    make_families,
)
from proximite.cohort.sandbox._identities import add_identities
from proximite.cohort.sandbox._isolation import WAVE_SHIFT_CALIBRATIONS
from proximite.cohort.sandbox._needs import make_needs
from proximite.cohort.sandbox._referrals import make_referrals
from proximite.cohort.sandbox._sampling import NO_DATE, day_number, to_date
from proximite.cohort.sandbox._survey_export import censor_surveys, write_surveys
from proximite.cohort.sandbox._surveys import make_surveys, survey_truth
from proximite.cohort.sandbox.geography import (
    PILOT_HOST_TYPES,
    PILOT_REGIONS,
    PILOT_TERRITORIES,
    make_organisations,
    make_territories,
)
from proximite.config import Settings, default_config_path

__all__ = [
    "generate_cohort",
    "packaged_settings",
    "SynthSummary",
    "DEFAULT_FAMILIES",
    "DEFAULT_TERRITORIES",
    "DEFAULT_SEED",
    "DEFAULT_WAVES",
]

log = logging.getLogger(__name__)

DEFAULT_FAMILIES = 5305
DEFAULT_TERRITORIES = PILOT_TERRITORIES
DEFAULT_SEED = 20240101
DEFAULT_WAVES = (0, 6, 12, 24)
GENERATOR_VERSION = 1

#: Steps reported to ``progress`` (French: the CLI shows them).
STEPS = (
    "territoires",
    "familles",
    "enfants",
    "suivis",
    "besoins",
    "références",
    "intervenantes",
    "activités",
    "supervision",
    "coûts",
    "écriture REDCap",
    "registre",
    "références et coûts",
    "questionnaires",
    "vérité",
)

ProgressCallback = Callable[[str, int, int], None]


@dataclass(frozen=True)
class SynthSummary:
    """What :func:`generate_cohort` wrote.

    Attributes
    ----------
    out_dir : Path
        The input directory.
    seed : int
    as_of : date or None
        Censoring date (None: complete follow-up).
    counts : dict
        Rows per table as written (families, children, assessments, needs, referrals, exits,
        workers, activities, supervision, costs, territories, organisations,
        redcap_records_rows, activity_files).
    paths : dict
        Every file or folder written, by key (``records``, ``data_dictionary``, ``activities``,
        ``truth``, ...).
    registry_formats : dict
        Number of activity files per format (csv, xlsx, sav, csv_cp1252).
    seconds : float
        Wall time of the generation.
    """

    out_dir: Path
    seed: int
    as_of: dt.date | None
    counts: dict[str, int]
    paths: dict[str, Path]
    registry_formats: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


def _parse_as_of(as_of: dt.date | dt.datetime | str | None) -> int | None:
    if as_of is None:
        return None
    if isinstance(as_of, dt.datetime):
        as_of = as_of.date()
    if isinstance(as_of, str):
        try:
            as_of = dt.date.fromisoformat(as_of)
        except ValueError:
            raise ValueError(f"as_of must be an ISO date YYYY-MM-DD (got {as_of!r})") from None
    return day_number(as_of)


def _check_waves(waves: Sequence[int], event_waves: dict[str, int]) -> tuple[tuple[int, ...], dict[int, str]]:
    months = tuple(int(w) for w in waves)
    if not months or months[0] != 0 or list(months) != sorted(set(months)):
        raise ValueError(f"waves must be increasing months starting with 0 (got {list(months)})")
    by_month = {month: event for event, month in event_waves.items()}
    unknown = [m for m in months if m not in by_month]
    if unknown:
        raise ValueError(
            f"waves {unknown} have no REDCap event; configured waves are {sorted(by_month)} ([waves.events] in proximite.toml)"
        )
    return months, {m: by_month[m] for m in months}


def _clear_stale_outputs(out_dir: Path) -> None:
    """Remove activity files of an earlier run so territories that no longer exist leave no file."""
    activities = out_dir / "registry" / "activities"
    if activities.is_dir():
        for path in sorted(activities.iterdir()):
            if path.is_file() and path.name.startswith("T") and path.suffix in {".csv", ".xlsx", ".sav", ".yaml"}:
                path.unlink()


def generate_cohort(
    out_dir: str | Path,
    *,
    families: int = DEFAULT_FAMILIES,
    territories: int = DEFAULT_TERRITORIES,
    waves: Sequence[int] = DEFAULT_WAVES,
    seed: int = DEFAULT_SEED,
    as_of: dt.date | str | None = None,
    progress: ProgressCallback | None = None,
    calibration: str = "sample",
    trajectory_groups: bool = False,
    settings: Settings | None = None,
) -> SynthSummary:
    """Generate a synthetic cohort input directory.

    Parameters
    ----------
    out_dir : str or Path
        Input directory to write (created; files of an earlier run are replaced).
    families : int, keyword-only
        Families (REDCap records "1".."N" in order of consent). Default 5,305 (the pilot).
    territories : int, keyword-only
        Territories (default 50: the pilot's 13 regions and 41/7/2 host types).
    waves : sequence of int, keyword-only
        Wave months, starting with 0; each must have a REDCap event in the configuration.
    seed : int, keyword-only
        Seed: the same arguments and seed write byte-identical files.
    as_of : date or ISO str, optional, keyword-only
        Censoring date: nothing after it exists (records not yet included, waves not yet due,
        later needs, referrals, activities...); pending statuses stay open. Default (None):
        complete follow-up, every due wave generated (less attrition), so dates run past today
        (recruitment ends 2025-03-31, T24 two years later): what simulation studies need. The
        library never reads the clock: ``proximite synth`` and ``proximite demo`` pass the day
        they run, as the harmonised gate refuses a REDCap date after the pull.
    progress : callable, optional, keyword-only
        ``progress(step, done, total)``, called as steps complete (for a progress bar).
    calibration : {"sample", "reference"}, keyword-only
        How the latent wave shift of the isolation model is solved. ``"sample"`` (default): on
        this cohort's own families, so its expected mean index change (occasion noise
        integrated out) is the planted one exactly. ``"reference"``: once per process on a fixed
        reference population drawn by the same process (``_isolation.REFERENCE_POPULATION``), so
        the planted change is a population parameter and this cohort's expected change varies
        around it, as a real cohort's would (for simulation studies of interval coverage);
        ``truth.json`` then records it under ``isolation.wave_shift_calibration``. The random
        draws are the same; only the shifts, hence the scores, differ.
    trajectory_groups : bool, keyword-only
        Plant three trajectory groups of the isolation index (rapid improvement, gradual
        improvement, persistent isolation; :mod:`~proximite.cohort.sandbox._trajectory_groups`),
        for group-based trajectory models to recover. Off by default (the cohort is then the same
        as without the option). When on, a family's group replaces its persistent terms in the
        isolation latent (isolation at contact and its territory act on the group instead), the
        mean index still changes by the planted amount, and ``truth.json`` has a
        ``trajectory_groups`` part: the groups, their planted shares, their expected mean index by
        wave and each family's group by REDCap record id.
    settings : Settings, optional, keyword-only
        Configuration read for the waves' REDCap events (``[waves.events]``) and the isolation
        grid (``[isolation]``). Default: the packaged defaults (:func:`packaged_settings`), never
        the working directory's; pass a project's settings to generate for that project.

    Returns
    -------
    SynthSummary

    Notes
    -----
    The cohort is generated complete (every wave, every outcome), then attrition is applied,
    then censoring at ``as_of``, so a later ``as_of`` only adds data (and settles statuses
    that were still open). Planted effects and
    their realised complete-data values are written to ``truth.json``:

    - isolation: six 0–3 dimensions from a latent ordered model (severity, isolation at
      contact, territory and family effects) whose wave shift is calibrated so that the mean
      index changes by ``-20 (1 - exp(-months / 10))`` points from T0 (with
      ``trajectory_groups``, three planted groups of trajectories instead of the family terms);
    - attrition: ``logit P(drop before wave k) = alpha_k + 0.3 (T0 index - 50) / 10``;
    - service gaps per territory × need category, time to a need being met (log-normal by
      category), PTP turnover (1–4 workers per territory), rural travel time;
    - the yearly questionnaires (``partner_survey/``, ``staff_survey/``): ties that carry
      referrals get higher trust and value, a PTP's supervision adequacy rises with the
      registry's supervision hours, a PTP who leaves within a year rarely intends to stay
      (:mod:`~proximite.cohort.sandbox._surveys`; truth.json ``surveys``).

    Every step is vectorised with numpy (loops run over waves or territories, never over
    families or activities).
    """
    started = time.perf_counter()
    out_dir = Path(out_dir)
    _check_arguments(
        families=families, territories=territories, seed=seed, calibration=calibration, trajectory_groups=trajectory_groups
    )
    settings = settings if settings is not None else packaged_settings()
    months, wave_events = _check_waves(waves, settings.event_waves)
    as_of_day = _parse_as_of(as_of)
    report = _reporter(progress)

    ctx = _make_context(seed, territories, months, wave_events, settings["isolation"])
    report(0)
    complete, parts, horizon_end = _simulate(ctx, families, calibration, trajectory_groups, report)
    tables, costs, parts["costs"] = _observe(ctx, complete, as_of_day, horizon_end)
    report(9)
    written, formats, format_counts = _write_inputs(out_dir, ctx, tables, costs, complete.families, report)
    surveys = censor_surveys(make_surveys(ctx, complete, horizon_end), as_of_day)
    write_surveys(out_dir, ctx, surveys, written)
    parts["surveys"] = survey_truth(ctx, surveys)
    report(13)
    last_day = horizon_end if as_of_day is None else min(as_of_day, horizon_end)
    parts["qualitative"] = _write_qualitative(out_dir, ctx, last_day, written)

    counts = _counts(ctx, tables, costs, written, format_counts)
    truth = _truth(
        ctx,
        arguments={
            "families": families,
            "territories": territories,
            "waves": list(months),
            "seed": seed,
            "as_of": None if as_of_day is None else to_date(as_of_day).isoformat(),
            # Only when on: a default cohort's truth.json is the same as before the option.
            **({"trajectory_groups": True} if trajectory_groups else {}),
        },
        horizon_end=horizon_end,
        tables=tables,
        complete=complete,
        parts=parts,
        formats=formats,
        counts=counts,
    )
    truth_path = out_dir / "truth.json"
    _export.write_truth(truth_path, truth)
    written.paths["truth"] = truth_path
    report(14)

    seconds = time.perf_counter() - started
    log.info(
        "synthetic cohort written: %d families, %d activities, %d referrals in %.1f s",
        counts["families"],
        counts["activities"],
        counts["referrals"],
        seconds,
    )
    return SynthSummary(
        out_dir=out_dir,
        seed=seed,
        as_of=None if as_of_day is None else to_date(as_of_day),
        counts=counts,
        paths=dict(written.paths),
        registry_formats=format_counts,
        seconds=seconds,
    )


def packaged_settings() -> Settings:
    """The packaged default configuration, without any project's, local or environment override.

    What :func:`generate_cohort` reads when no ``settings`` are given, so a cohort never depends
    on the working directory.

    Returns
    -------
    Settings
        The defaults file's tables; ``project_dir`` is the folder of that file.
    """
    path = default_config_path()
    with path.open("rb") as handle:
        raw = tomllib.load(handle)
    return Settings(raw=raw, project_dir=path.parent, sources=[path])


def _check_arguments(*, families: int, territories: int, seed: int, calibration: str, trajectory_groups: bool) -> None:
    if families < 1:
        raise ValueError(f"families must be at least 1 (got {families})")
    if territories < 1:
        raise ValueError(f"territories must be at least 1 (got {territories})")
    if seed < 0:
        raise ValueError(f"seed must be a non-negative integer (got {seed})")
    if calibration not in WAVE_SHIFT_CALIBRATIONS:
        raise ValueError(f"calibration must be one of {', '.join(WAVE_SHIFT_CALIBRATIONS)} (got {calibration!r})")
    if not isinstance(trajectory_groups, bool):
        raise ValueError(f"trajectory_groups must be True or False (got {trajectory_groups!r})")


def _reporter(progress: ProgressCallback | None) -> Callable[[int], None]:
    """``report(step)``: tell ``progress`` (if any) that step number ``step`` of :data:`STEPS` is done."""

    def report(step: int) -> None:
        if progress is not None:
            progress(STEPS[step], step + 1, len(STEPS))

    return report


def _make_context(
    seed: int, territories: int, months: tuple[int, ...], wave_events: dict[int, str], isolation: dict[str, Any]
) -> Context:
    """Territories, their organisations (with their territory's index) and the generator's inputs."""
    territory_frame = make_territories(territories, seed=seed)
    organisations = make_organisations(territory_frame, seed=seed)
    territory_position = pd.Series(np.arange(len(territory_frame)), index=territory_frame["territory_id"])
    organisations = organisations.assign(
        territory_index=territory_position.reindex(organisations["territory_id"]).to_numpy()
    )
    return Context(
        seed=seed,
        codebook=load_codebook(),
        territories=territory_frame,
        organisations=organisations,
        waves=months,
        wave_events=wave_events,
        isolation=isolation,
        recruitment_start=day_number(RECRUITMENT_START),
        recruitment_end=day_number(RECRUITMENT_END),
    )


def _simulate(
    ctx: Context, n_families: int, calibration: str, trajectory_groups: bool, report: Callable[[int], None]
) -> tuple[Tables, dict[str, Any], int]:
    """Complete data (before censoring): every table, the planted parts of truth.json, the last day."""
    family_frame = make_families(ctx, n_families)
    report(1)
    children = make_children(ctx, family_frame)
    report(2)
    assessments, isolation_truth = make_assessments(
        ctx, family_frame, calibration=calibration, trajectory_groups=trajectory_groups
    )
    groups_truth = isolation_truth.pop("trajectory_groups", None)
    scales_truth = scale_truth(assessments)
    assessments, family_frame, attrition_truth = apply_attrition(ctx, family_frame, assessments)
    report(3)
    needs, needs_truth = make_needs(ctx, family_frame, children)
    report(4)
    referrals, referrals_truth = make_referrals(ctx, family_frame, needs)
    report(5)

    horizon_end = int(max(assessments["due"].max(), ctx.recruitment_end))
    workers, workers_truth = _registry.make_workers(ctx, horizon_end)
    worker_row = _registry.worker_at(
        workers, family_frame["territory_index"].to_numpy(), family_frame["first_contact"].to_numpy()
    )
    family_frame = family_frame.assign(worker_id=workers["worker_id"].to_numpy(dtype=object)[worker_row])
    family_frame = add_identities(ctx, family_frame, children)
    report(6)
    activities, activity_truth = _registry.make_activities(ctx, family_frame, referrals, workers, horizon_end)
    report(7)
    supervision, supervision_truth = _registry.make_supervision(ctx, workers, horizon_end)
    report(8)
    complete = Tables(family_frame, children, assessments, needs, referrals, workers, activities, supervision)
    parts = {
        "isolation": isolation_truth,
        **({"trajectory_groups": groups_truth} if groups_truth is not None else {}),
        "empowerment_and_stress": scales_truth,
        "attrition": attrition_truth,
        "needs": needs_truth,
        "referrals": referrals_truth,
        "turnover": workers_truth,
        **activity_truth,
        "supervision": supervision_truth,
    }
    return complete, parts, horizon_end


def _observe(
    ctx: Context, complete: Tables, as_of_day: int | None, horizon_end: int
) -> tuple[Tables, pd.DataFrame, dict[str, Any]]:
    """What is written: the observed tables censored at ``as_of_day``, and the costs to that day."""
    tables = observed(complete)
    end_day = horizon_end
    if as_of_day is not None:
        tables = censor(tables, as_of_day)
        end_day = min(as_of_day, horizon_end) if as_of_day >= ctx.recruitment_start else ctx.recruitment_start
    costs, cost_truth = _registry.make_costs(ctx, tables.workers, tables.supervision, tables.activities, end_day)
    if as_of_day is not None and as_of_day < ctx.recruitment_start:
        costs = costs.iloc[0:0]
    return tables, costs, cost_truth


def _write_inputs(
    out_dir: Path,
    ctx: Context,
    tables: Tables,
    costs: pd.DataFrame,
    complete_families: pd.DataFrame,
    report: Callable[[int], None],
) -> tuple[_export.Written, dict[str, str], dict[str, int]]:
    """Write redcap/, registry/, reference/ and costs/; the registry formats and their counts (the questionnaires come after)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    _clear_stale_outputs(out_dir)
    written = _export.Written(paths={}, rows={})
    _export.write_redcap(out_dir / "redcap", ctx, tables, written)
    report(10)
    formats = _export.choose_registry_formats(ctx, complete_families)
    format_counts = _export.write_registry(out_dir / "registry", ctx, tables, formats, written)
    report(11)
    _export.write_reference(out_dir / "reference", ctx, written)
    _export.write_costs(out_dir / "costs", costs, written)
    report(12)
    return written, formats, format_counts


def _write_qualitative(out_dir: Path, ctx: Context, last_day: int, written: _export.Written) -> dict[str, Any]:
    """``qualitative/``: the register, two REFI-QDA projects and themes.yaml (none before any session)."""
    first_day = ctx.recruitment_start + 30
    folder = out_dir / "qualitative"
    if last_day < first_day:  # censored before the first session could be held
        shutil.rmtree(folder, ignore_errors=True)
        return {"sessions": {"registered": 0}}
    truth = _qualitative.write_qualitative(folder, ctx, first_day=first_day, last_day=last_day)
    written.paths["qualitative"] = folder
    written.rows["qual_sessions"] = truth["sessions"]["registered"]
    return truth


def _counts(
    ctx: Context, tables: Tables, costs: pd.DataFrame, written: _export.Written, format_counts: dict[str, int]
) -> dict[str, int]:
    """Rows per table as written."""
    return {
        "families": int(len(tables.families)),
        "children": int(len(tables.children)),
        "assessments": int(len(tables.assessments)),
        "needs": int(len(tables.needs)),
        "referrals": int(len(tables.referrals)),
        "exits": int(written.rows["exits"]),
        "workers": int(len(tables.workers)),
        "activities": int(len(tables.activities)),
        "supervision": int(len(tables.supervision)),
        "costs": int(len(costs)),
        "territories": int(len(ctx.territories)),
        "organisations": int(len(ctx.organisations)),
        "redcap_records_rows": int(written.rows["redcap_records_rows"]),
        "activity_files": int(sum(format_counts.values())),
        "partner_survey_records_rows": int(written.rows.get("partner_survey_records_rows", 0)),
        "staff_survey_records_rows": int(written.rows.get("staff_survey_records_rows", 0)),
        "qual_sessions": int(written.rows.get("qual_sessions", 0)),
    }


def _share(mask: np.ndarray) -> float | None:
    return round(float(np.mean(mask)), 6) if len(mask) else None


def _calibration(ctx: Context, tables: Tables) -> dict[str, Any]:
    """The pilot's figures, and the same figures computed on the written (observed) data."""
    families, children, referrals = tables.families, tables.children, tables.referrals
    forward = referrals.loc[referrals["direction"] == "ptp_to_partner"]
    per_family = np.bincount(
        forward["record_num"].to_numpy(), minlength=int(families["record_num"].max() + 1) if len(families) else 1
    )
    per_family = per_family[families["record_num"].to_numpy()]
    organisations = ctx.organisations.set_index("org_id")
    network = organisations["network"].reindex(forward["to_org_id"]).to_numpy(dtype=object)
    mission = organisations["mission"].reindex(forward["to_org_id"]).to_numpy(dtype=object)
    territories = ctx.territories
    return {
        "targets": {
            "territories": PILOT_TERRITORIES,
            "regions": PILOT_REGIONS,
            "host_types": PILOT_HOST_TYPES,
            "families": 5305,
            "isolated_at_contact": 3242,
            "isolated_at_contact_share": ISOLATED_AT_CONTACT_SHARE,
            "children": 10036,
            "children_per_family": round(10036 / 5305, 6),
            "unborn_share": UNBORN_SHARE,
            "aged_five_or_less_share": AGED_FIVE_OR_LESS_SHARE,
            "families_with_3_or_more_ptp_to_partner_share": 0.5,
            "ptp_to_partner_network_communautaire_share": 0.81,
            "ptp_to_partner_mission_famille_enfance_share": 0.38,
            "ptp_to_partner_mission_aide_materielle_alimentation_share": 0.23,
            "every_other_category_share_below": 0.10,
            "partner_to_ptp_share_about": 0.10,
            "first_contact_window": [RECRUITMENT_START, RECRUITMENT_END],
        },
        "realised_as_written": {
            "territories": int(len(territories)),
            "regions": int(territories["region_code"].nunique()),
            "host_types": {k: int(v) for k, v in territories["host_type"].value_counts().sort_index().items()},
            "environments": {k: int(v) for k, v in territories["environment"].value_counts().sort_index().items()},
            "families": int(len(families)),
            "isolated_at_contact": int(families["isolated_at_contact"].sum()),
            "isolated_at_contact_share": _share(families["isolated_at_contact"].to_numpy()),
            "children": int(len(children)),
            "unborn_share": _share(children["unborn"].to_numpy()),
            "aged_five_or_less_share": _share(children["aged_five_or_less"].to_numpy()),
            "families_with_3_or_more_ptp_to_partner_share": _share(per_family >= 3),
            "ptp_to_partner_network_shares": {
                k: round(float(v), 6) for k, v in pd.Series(network).value_counts(normalize=True).sort_index().items()
            },
            "ptp_to_partner_mission_shares": {
                k: round(float(v), 6) for k, v in pd.Series(mission).value_counts(normalize=True).sort_index().items()
            },
            "partner_to_ptp_share": _share(referrals["direction"].to_numpy(dtype=object) == "partner_to_ptp"),
        },
    }


def _truth(
    ctx: Context,
    *,
    arguments: dict[str, Any],
    horizon_end: int,
    tables: Tables,
    complete: Tables,
    parts: dict[str, Any],
    formats: dict[str, str],
    counts: dict[str, int],
) -> dict[str, Any]:
    """Assemble ``truth.json``: arguments, calibration, every planted effect, counts."""
    needs = dict(parts.pop("needs"))
    service_gaps = needs.pop("service_gaps")
    time_to_met = needs.pop("time_to_met")
    families = complete.families
    return {
        "generator": {
            "module": "proximite.cohort.sandbox.synth",
            "version": GENERATOR_VERSION,
            **arguments,
            "recruitment_window": [RECRUITMENT_START, RECRUITMENT_END],
            "complete_data_end": to_date(horizon_end).isoformat(),
            "record_ids": "1..N in order of consent (REDCap creates the record at inclusion)",
            "note": "Synthetic data: no real person. Complete data = every due wave and outcome before attrition and censoring.",
        },
        "calibration": _calibration(ctx, tables),
        "families": {
            "isolated_at_contact_rule": "top round(3242 / 5305 * n) of 0.6 severity + 0.8 N(0, 1)",
            "recruitment_channel_weights": RECRUITMENT_CHANNEL_WEIGHTS,
            "t0_offset_days": [0, 30],
            "later_waves": "T0 + months (calendar) + round(N(0, 12^2)) days clipped to +-45 days",
            "single_parent_probability": "0.33 + 0.12 isolated_at_contact",
            "complete": {
                "families": int(len(families)),
                "exits": int((families["exit_date"].to_numpy() != NO_DATE).sum()),
                "exit_reasons": {
                    k: int(v)
                    for k, v in families.loc[families["exit_reason"] != "", "exit_reason"]
                    .value_counts()
                    .sort_index()
                    .items()
                },
            },
        },
        "children": {
            "count_pmf": {str(k): v for k, v in CHILD_COUNT_PMF.items()},
            "unborn_share": UNBORN_SHARE,
            "aged_five_or_less_share": AGED_FIVE_OR_LESS_SHARE,
            "unborn_expected_days_after_first_contact": [35, 270],
        },
        **parts,
        "needs": needs,
        "service_gaps": service_gaps,
        "time_to_need_met": time_to_met,
        "registry_files": {
            "formats": formats,
            "sav_user_missing": {
                "column": "lieu",
                "code": _export.SAV_USER_MISSING_CODE,
                "label": _export.SAV_USER_MISSING_LABEL,
                "share": _export.SAV_USER_MISSING_SHARE,
            },
        },
        "counts_written": counts,
    }
