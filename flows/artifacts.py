"""What every run shows in the Prefect UI: a Markdown summary, tables and the progress of long pulls.

The builders (``*_markdown``, ``*_rows``) are pure: they take the small dicts the tasks return
(counts, ids, paths) or the disclosed indicator table, and give Markdown or lists of dicts of plain
Python types. :func:`publish` hands them to Prefect. Keys are stable (lowercase, dashes) so the UI
shows each artifact's history across runs. Nothing here is about one family: counts, rule ids,
table names, paths and Québec-level indicators after the public disclosure rule.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "HEADLINE_INDICATORS",
    "HEADLINE_KEY",
    "MODELS_KEY",
    "PULL_PROGRESS_KEY",
    "RUN_SUMMARY_KEY",
    "VALIDATION_KEY",
    "PullProgress",
    "economics_markdown",
    "failure_reason",
    "headline_frame",
    "headline_rows",
    "model_rows",
    "plain",
    "publish",
    "run_summary_markdown",
    "validation_rows",
]

RUN_SUMMARY_KEY = "proximite-run-summary"
VALIDATION_KEY = "proximite-validation-summary"
HEADLINE_KEY = "proximite-headline-indicators"
PULL_PROGRESS_KEY = "proximite-pull-progress"
MODELS_KEY = "proximite-models"

#: Québec-level indicators of the headline table, in order.
HEADLINE_INDICATORS: tuple[str, ...] = (
    "reach.families_reached",
    "reach.isolated_at_contact_share",
    "reach.children",
    "isolation.mean_index",
    "isolation.share_isolated",
    "isolation.change_from_baseline",
    "isolation.meaningful_reduction",
    "needs_offer.match_rate",
    "needs_offer.referral_completion",
    "concertation.active_partners",
    "implementation.ptp_hours",
)


def plain(value: Any) -> Any:
    """``value`` as a plain Python type (numpy and pandas scalars, NaN/NA → None, paths → str)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, Mapping):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [plain(item) for item in value]
    if isinstance(value, np.ndarray):
        return [plain(item) for item in value.tolist()]
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (np.integer, int)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        number = float(value)
        return None if math.isnan(number) or math.isinf(number) else number
    if isinstance(value, (pd.Timestamp, dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    return value if isinstance(value, str) else str(value)


def _count(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) else str(value)


#: How a source's refused batch is named in a failure's reason.
_SOURCE_NAMES = {
    "redcap": "REDCap pull", "registry": "registry files", "reference": "reference files", "cost": "cost files",
    "qual_register": "qualitative register", "qual_coding": "qualitative coding (.qdpx)",
}


def _refusal_sentence(refusal: Any) -> str:
    """One refused batch: what, by which gate, how many rows break how many rules, the report."""
    result = refusal.result
    blocking = result.blocking
    rules = len(blocking)
    rows = int(pd.to_numeric(blocking["failed"], errors="coerce").fillna(0).sum()) if rules else 0
    named = ", ".join(str(rule) for rule in blocking["rule_id"].head(3))
    more = f" and {rules - 3} more" if rules > 3 else ""
    if result.layer == "staged":
        what = f"{_SOURCE_NAMES.get(str(result.source), f'source {result.source}')} {result.pull_id} refused by the staged gate"
    else:
        what = f"harmonised tables {result.pull_id} refused by the harmonised gate"
    report = Path(refusal.report_dir) / "report.html"
    return f"{what}: {rows:,} failing row(s) break {rules} rule(s) ({named}{more}); report: {report}."


def failure_reason(error: BaseException) -> str:
    """One paragraph saying why a run failed, for the run's state message and its summary.

    Parameters
    ----------
    error : BaseException
        What stopped the run.

    Returns
    -------
    str
        For a gate refusal (``GateFailed``): each refused batch with its gate, the counts of failing
        rows and rules, the rule ids and the report's path, then what is still in place. For our
        other errors (``ProximiteError``: bad input, a REDCap pull that failed), their message,
        which names files, rows and rules. Anything else: its type and first line, pointing at the
        run's logs. Never a value of a person; anything that looks like an API token is hidden.
    """
    import re

    from proximite.errors import ProximiteError
    from proximite.expectations.gates import GateFailed

    if isinstance(error, GateFailed):
        sentences = [_refusal_sentence(refusal) for refusal in [error, *error.others]]
        sentences[0] = sentences[0][0].upper() + sentences[0][1:]
        text = " ".join(sentences) + " The last good staged pulls, warehouse and snapshot are unchanged; fix the records the report lists at their source, then run again."
    elif isinstance(error, ProximiteError):
        text = " ".join(str(error).split())
    else:
        first = (str(error).strip().splitlines() or [""])[0]
        text = f"Unexpected {type(error).__name__}: {first or 'no message'} (the traceback is in the run's logs)."
    text = re.sub(r"\b[0-9A-Fa-f]{32,}\b", "<hidden>", text)
    return text if len(text) <= 2000 else text[:2000] + " …"


def run_summary_markdown(
    *,
    flow_name: str,
    pull: Mapping[str, Any] | None = None,
    ingest: Mapping[str, Any] | None = None,
    validation: Mapping[str, Any] | None = None,
    build: Mapping[str, Any] | None = None,
    indicators_dir: str | None = None,
    snapshot_dir: str | None = None,
    cached: Iterable[str] = (),
    failure: str | None = None,
) -> str:
    """The Markdown summary of a run: what was pulled, validation, rows per table, build, snapshot.

    Parameters
    ----------
    flow_name : str, keyword-only
    pull : mapping, optional, keyword-only
        :meth:`PullResult.summary` of a REDCap pull (mode, records, requests, deleted, pull id).
    ingest : mapping, optional, keyword-only
        ``{source: {"pull_id", "rows": {table: n}, ...}}`` of the file sources ingested.
    validation : mapping, optional, keyword-only
        :meth:`ValidationResult.to_dict` of the harmonised gate.
    build : mapping, optional, keyword-only
        :meth:`BuildInfo.to_dict` of the warehouse build.
    indicators_dir, snapshot_dir : str, optional, keyword-only
    cached : iterable of str, keyword-only
        Steps whose result came from the cache (their input had not changed).
    failure : str, optional, keyword-only
        Why the run failed (:func:`failure_reason`): shown first, under "Failed".

    Returns
    -------
    str
        Markdown; only counts, ids and paths.
    """
    lines = [f"# Proximité — {flow_name}", ""]
    if failure:
        lines += ["## Failed", "", failure, ""]
    lines += ["## Pulled", ""]
    if pull:
        lines.append(
            f"- **REDCap** ({pull.get('mode', '?')} pull `{pull.get('pull_id', '?')}`): "
            f"{_count(plain(pull.get('records')))} records in {_count(plain(pull.get('requests')))} requests, "
            f"{_count(plain(pull.get('deleted', 0)))} deleted"
        )
    for source, info in (ingest or {}).items():
        rows = (info or {}).get("rows", {}) or {}
        total = sum(int(n) for n in rows.values()) if rows else 0
        lines.append(f"- **{source}** (pull `{(info or {}).get('pull_id', '?')}`): {total:,} rows in {len(rows)} table(s)")
    if not pull and not ingest:
        lines.append("- nothing pulled in this run")
    lines += ["", "## Validation", ""]
    if validation:
        failed = plain(validation.get("rules_failed", 0)) or 0
        lines.append(
            f"- harmonised gate **passed**: {_count(plain(validation.get('rules')))} rules, "
            f"{_count(failed)} with failing rows below their threshold"
        )
    else:
        lines.append("- the harmonised gate did not run")
    if build:
        lines += ["", f"## Warehouse build `{build.get('build_id')}`", "", "| table | rows |", "|---|---:|"]
        for table, rows in sorted((build.get("row_counts") or {}).items()):
            lines.append(f"| {table} | {int(rows):,} |")
        lines += ["", f"Built at {build.get('built_at')} from {', '.join(f'{k} `{v}`' for k, v in sorted((build.get('inputs') or {}).items()))}."]
    if indicators_dir or snapshot_dir:
        lines += ["", "## Outputs", ""]
        if indicators_dir:
            lines.append(f"- indicators (layer 04): `{indicators_dir}`")
        if snapshot_dir:
            lines.append(f"- snapshot: `{Path(snapshot_dir) / 'index.html'}`")
    cached = sorted(set(cached))
    if cached:
        lines += ["", f"Unchanged inputs, taken from the cache: {', '.join(cached)}."]
    return "\n".join(lines) + "\n"


def validation_rows(validation: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The validation table: one row per table of a gate's result.

    Parameters
    ----------
    validation : mapping
        :meth:`ValidationResult.to_dict` (its ``tables`` entry).

    Returns
    -------
    list of dict
        ``layer, table, rules, rules_failing, failing_rows, blocking, outcome`` (plain types): the
        outcome is ``passed``, ``warnings`` (failing rows below the rules' thresholds) or ``refused``.
    """
    rows = []
    for counts in validation.get("tables") or []:
        outcome = "refused" if counts.get("blocking") else "warnings" if counts.get("rules_failing") else "passed"
        rows.append({"layer": plain(validation.get("layer")), **{key: plain(value) for key, value in counts.items()}, "outcome": outcome})
    return rows


def headline_frame(disclosed: pd.DataFrame) -> pd.DataFrame:
    """The rows of the headline: Québec, all strata and breakdowns, :data:`HEADLINE_INDICATORS`.

    Parameters
    ----------
    disclosed : DataFrame
        An indicator table after :func:`~proximite.indicators.disclosure.apply_disclosure`.

    Returns
    -------
    DataFrame
        Its rows in :data:`HEADLINE_INDICATORS` order then by wave and period; a registry
        indicator computed per period and over the whole span keeps only the whole span (``all``).
    """
    keep = (
        (disclosed["scope"] == "quebec")
        & (disclosed["stratum"] == "all")
        & (disclosed["breakdown"] == "all")
        & disclosed["indicator"].isin(HEADLINE_INDICATORS)
    )
    frame = disclosed.loc[keep].copy()
    has_all_period = frame.groupby("indicator")["period"].transform(lambda p: (p == "all").any())
    frame = frame[~has_all_period | (frame["period"] == "all") | frame["period"].isna()]
    rank = frame["indicator"].map({indicator: order for order, indicator in enumerate(HEADLINE_INDICATORS)})
    frame = frame.assign(rank=rank).sort_values(["rank", "wave", "period"], kind="stable", na_position="first")
    if "suppressed" not in frame:
        frame["suppressed"] = False
    return frame.drop(columns="rank")


def headline_rows(
    disclosed: pd.DataFrame,
    *,
    lang: str = "fr",
    confidence: float = 0.95,
    label: Callable[[str], str] | None = None,
    text: Callable[..., str] | None = None,
) -> list[dict[str, str]]:
    """The headline table for people: Québec's headline indicators, formatted in one language.

    Parameters
    ----------
    disclosed : DataFrame
        An indicator table after :func:`~proximite.indicators.disclosure.apply_disclosure` at the
        public level (suppressed cells have ``value`` missing and ``suppressed`` true).
    lang : {"fr", "en"}, keyword-only
        Language of the headers, labels and numbers.
    confidence : float, keyword-only
        Level of the confidence intervals (for the interval's header).
    label : callable, optional, keyword-only
        Indicator id → label (default: the codebook's label in ``lang``).
    text : callable, optional, keyword-only
        ``text(key, **values)``: the snapshot's wording in ``lang`` (default: the codebook's).

    Returns
    -------
    list of dict
        One row per :func:`headline_frame` row, strings keyed by the snapshot's column headers in
        ``lang``: ``id`` (the indicator id), indicator, wave, period, value, interval, numerator,
        denominator. Numbers are formatted as the snapshot formats them
        (:class:`~proximite.indicators.snapshot.formatting.Formatter`): shares in percent with one
        decimal, counts with thousands separators, means with one decimal, days whole; French
        ``12,5 %`` and ``1 234``, English ``12.5%`` and ``1,234``. A suppressed cell shows the
        snapshot's suppressed symbol in every number column, a missing one its missing symbol.
    """
    from proximite.indicators.snapshot.formatting import Formatter, format_percent

    if lang not in ("fr", "en"):
        raise ValueError(f"lang must be 'fr' or 'en', not {lang!r}")
    if label is None or text is None:
        from proximite.cohort.codebook import load_codebook

        codebook = load_codebook()
        label = label or (lambda indicator: codebook.indicator_label(indicator, lang=lang))
        text = text or (lambda key, **values: codebook.snapshot_text(key, lang=lang, **values))
    fmt = Formatter(lang, suppressed_symbol=text("suppressed_symbol"), missing_symbol=text("missing_symbol"))
    level = format_percent(confidence, decimals=0 if (100 * confidence).is_integer() else 1, lang=lang)
    interval_frame = text("ci_range", low="{low}", high="{high}")
    headers = {key: text(f"col_{key}") for key in ("indicator", "wave", "period", "value", "numerator", "denominator")}
    interval_header = text("col_ci", level=level)

    def counted(cell: Mapping[str, Any], column: str) -> str:
        return fmt.suppressed_symbol if cell["suppressed"] else fmt.count(cell[column])

    rows = []
    for cell in (dict(plain(record)) for record in headline_frame(disclosed).to_dict("records")):
        cell["suppressed"] = bool(cell["suppressed"])
        wave, period = cell["wave"], cell["period"]
        rows.append(
            {
                "id": str(cell["indicator"]),
                headers["indicator"]: label(str(cell["indicator"])),
                headers["wave"]: fmt.missing_symbol if wave is None else text("wave_label", wave=int(wave)),
                headers["period"]: fmt.missing_symbol if period is None else text("period_all") if period == "all" else str(period),
                headers["value"]: fmt.value(cell),
                interval_header: fmt.ci(cell, interval_frame),
                headers["numerator"]: counted(cell, "numerator"),
                headers["denominator"]: counted(cell, "denominator"),
            }
        )
    return rows


class PullProgress:
    """Relay a pull's ``progress(step, done, total)`` to one Prefect progress artifact.

    The REDCap pull reports three steps (project structure, records, staging); a file ingest
    reports its own. Each step gets an equal share of the bar, and the artifact is updated at most
    once per ``every_seconds`` (and at the end of each step), so a large pull does not flood the API.

    Parameters
    ----------
    create : callable
        ``create(progress) -> artifact id`` (Prefect's ``create_progress_artifact`` with its key).
    update : callable
        ``update(artifact_id, progress)``.
    steps : int
        How many steps the pull reports.
    every_seconds : float
    """

    def __init__(self, create: Callable[[float], Any], update: Callable[[Any, float], Any], *, steps: int, every_seconds: float = 1.0) -> None:
        self._update = update
        self._steps = max(1, steps)
        self._seen: list[str] = []
        self._every = every_seconds
        self._last_time = 0.0
        self._last_value = 0.0
        self.artifact_id = create(0.0)

    @property
    def value(self) -> float:
        """The last percentage sent (0–100)."""
        return self._last_value

    def __call__(self, step: str, done: int, total: int) -> None:
        if step not in self._seen:
            self._seen.append(step)
        index = min(self._seen.index(step), self._steps - 1)
        fraction = (done / total) if total else 1.0
        percent = round(100.0 * (index + min(max(fraction, 0.0), 1.0)) / self._steps, 1)
        now = time.monotonic()
        finished_step = total and done >= total
        if percent > self._last_value and (finished_step or now - self._last_time >= self._every):
            self._update(self.artifact_id, percent)
            self._last_time, self._last_value = now, percent

    def finish(self) -> None:
        """Mark the pull complete (100 %)."""
        if self._last_value < 100.0:
            self._update(self.artifact_id, 100.0)
            self._last_value = 100.0


def economics_markdown(summary: Mapping[str, Any], *, directory: str) -> str:
    """The economics run in Markdown: costs, cost per outcome, NPV, BCR, P(BCR > 1), publishability."""

    def money(value: Any) -> str:
        return "–" if value is None else f"{float(value):,.0f} $"

    benefit, psa = summary["cost_benefit"], summary.get("psa") or {}
    bcr = "–" if benefit["bcr"] is None else f"{float(benefit['bcr']):.2f}"
    lines = [
        f"# Economics of build {summary['build_id']}",
        "",
        f"{summary['perspective']} perspective, {summary['horizon_years']} years, discount {100 * float(summary['discount_rate']):.1f} %, "
        f"CAD of {summary.get('price_year')}.",
        "",
    ]
    if not summary["publishable"]:
        lines += [f"**Not publishable**: {len(summary['blocking'])} parameter value(s) are placeholders or unsourced.", ""]
    lines += [
        "| measure | value |",
        "|---|---|",
        f"| programme cost ({summary['costs'].get('basis', 'budget')}) | {money(summary['costs']['total'])} |",
        f"| PV costs | {money(benefit['pv_costs'])} |",
        f"| PV benefits | {money(benefit['pv_benefits'])} |",
        f"| NPV | {money(benefit['npv'])} |",
        f"| BCR | {bcr} |",
    ]
    if psa:
        lines += [
            f"| PSA draws | {int(psa['draws']):,} |",
            f"| NPV 95 % interval | {money(psa['npv_low'])} to {money(psa['npv_high'])} |",
            f"| P(BCR > 1) | {float(psa['p_bcr_gt_1']):.3f} |",
        ]
    lines += ["", "| cost per outcome | basis | value | 95 % interval |", "|---|---|---|---|"]
    for row in summary["cost_per_outcome"]:
        lines.append(f"| {row['label_en']} | {row.get('basis', '')} | {money(row['value'])} | {money(row['ci_lower'])} to {money(row['ci_upper'])} |")
    lines += ["", f"Files: `{directory}` (economics.json, tornado.png, tables as CSV)."]
    return "\n".join(lines)


def model_rows(runs: Iterable[Mapping[str, Any]], *, cached: Iterable[str] = ()) -> list[dict[str, Any]]:
    """One row per spec file the ``models`` flow ran: file name, models, build, folder, reused or fitted."""
    reused = set(cached)
    return [
        {
            "spec": Path(str(run["spec_file"])).name,
            "models": int(run["models"]),
            "build_id": str(run["build_id"]),
            "out_dir": str(run["out_dir"]),
            "outcome": "reused" if str(run["spec_file"]) in reused else "fitted",
        }
        for run in runs
    ]


def publish(
    *,
    markdown: str | None = None,
    validation: Sequence[Mapping[str, Any]] | None = None,
    headline: Sequence[Mapping[str, Any]] | None = None,
    models: Sequence[Mapping[str, Any]] | None = None,
    description: str = "",
) -> dict[str, str]:
    """Create the run's artifacts in Prefect (the current flow or task run); returns key → artifact id."""
    from prefect.artifacts import create_markdown_artifact, create_table_artifact

    created: dict[str, str] = {}
    if markdown is not None:
        created[RUN_SUMMARY_KEY] = str(create_markdown_artifact(markdown, key=RUN_SUMMARY_KEY, description=description or "Run summary"))
    if validation is not None:
        created[VALIDATION_KEY] = str(
            create_table_artifact([dict(plain(row)) for row in validation], key=VALIDATION_KEY, description="Harmonised validation gate: rules per table")
        )
    if headline is not None:
        created[HEADLINE_KEY] = str(
            create_table_artifact(
                [dict(plain(row)) for row in headline], key=HEADLINE_KEY, description="Québec headline indicators (public disclosure rule applied)"
            )
        )
    if models is not None:
        created[MODELS_KEY] = str(
            create_table_artifact(
                [dict(plain(row)) for row in models], key=MODELS_KEY, description="Model specs fitted: models, build, output folder"
            )
        )
    return created
