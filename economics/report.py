"""The economics run's summary: what ``proximite economics run`` writes and the snapshot reads.

An economics run writes one directory per warehouse build (layer 05, reporting)::

    <project>/reporting/economics/<build_id>/
        economics.json    an :class:`EconomicsSummary` (schema below), UTF-8
        tornado.png       the one-way sensitivity (tornado) chart, named by ``tornado_png``
        *.csv             the run's tables (aggregates only)

:class:`EconomicsSummary` is that JSON as a results object in the estimator style
(``summary``, ``__str__``, ``plot(ax=None)``, :func:`compare_summaries`), with
:meth:`~EconomicsSummary.to_dict` / :meth:`~EconomicsSummary.from_dict`,
:meth:`~EconomicsSummary.write` / :meth:`~EconomicsSummary.read` and :meth:`~EconomicsSummary.latest`,
which the snapshot writer calls to find the run of the build it shows.

Schema of ``economics.json`` (``schema_version`` 1; money in CAD of ``price_year``; rates and
probabilities as fractions, 0.035 for 3.5 %; ``null`` where a figure does not exist, e.g. a BCR
with no cost)::

    {
      "kind": "proximite-economics", "schema_version": 1,
      "build_id": str,                 # the warehouse build the run used (its data version)
      "scope": "quebec",               # what the aggregates cover (a snapshot scope string)
      "price_year": int, "currency": "CAD",
      "perspective": str,              # "society" | "government"
      "horizon_years": int, "discount_rate": float,
      "discount_sensitivity": [{"rate": float, "npv": float, "bcr": float}, ...],
      "publishable": bool,             # false while any parameter is a placeholder or unsourced
      "blocking": [str, ...],          # those parameters: "dpj.unit_value: placeholder", "wages.ptp: ..."
      "costs": {"total": float, "basis": str?, "by_category": {cost_category: float},
                "by_level": {level: {key: float}}?},          # aggregates only, never a family
      "cost_per_outcome": [{"outcome": str, "label_fr": str, "label_en": str, "scope": str,
                            "value": float, "ci_lower": float, "ci_upper": float,
                            "basis": str?}, ...],
      "cost_benefit": {"pv_costs": float, "pv_benefits": float, "npv": float, "bcr": float,
                       "by_outcome": [{"outcome": str, "label_fr": str, "label_en": str,
                                       "pv": float}, ...]},
      "psa": {"draws": int, "seed": int, "interval": 0.95?,
              "npv_mean", "npv_low", "npv_high", "bcr_mean", "bcr_low", "bcr_high",
              "p_bcr_gt_1", "p_npv_gt_0": float} | null,
      "tornado_metric": "npv",         # what tornado's low/high are ("npv" or "bcr")
      "tornado": [{"parameter": str, "label": str, "label_fr": str?, "label_en": str?,
                   "low": float, "high": float, "swing": float}, ...],
                                       # the metric at the parameter's low/high end; the page
                                       # shows label_<lang> when given, else label
      "tornado_png": "tornado.png" | null,
      "parameter_labels": {name: {"fr": str, "en": str}}?,
                                       # labels of the parameters a page names (those in
                                       # blocking, the tornado's); the keys stay in English
      "funding": {"year": 2019, "funding_cad", "fte", "resources", "children_0_5",
                  "funding_per_fte", "funding_per_child", "funding_per_resource", ...} | null,
      "generated_at": ISO 8601 with offset, "code_version": str,
      "parameters_sha256": str,        # SHA-256 of the parameter file(s) the run read
      "extra": {...}                   # anything else the run wants to keep (not shown)
    }

Keys marked ``?`` are optional. Unknown top-level keys are refused (put them under ``extra``).

The summary holds aggregates only (totals, ratios, present values): no family's row, no count of
a cell, nothing a disclosure rule would have to suppress (house rule 8).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
from proximite.errors import ProximiteError

if TYPE_CHECKING:  # pragma: no cover - typing only
    from matplotlib.axes import Axes

    from proximite.config import Settings

__all__ = [
    "ECONOMICS_DIR",
    "ECONOMICS_JSON",
    "KIND",
    "SCHEMA_VERSION",
    "TORNADO_PNG",
    "EconomicsReportError",
    "EconomicsSummary",
    "compare_summaries",
    "economics_dir",
    "run_dir",
]

KIND = "proximite-economics"
SCHEMA_VERSION = 1
#: Folder of the economics runs under the project's reporting folder.
ECONOMICS_DIR = "economics"
#: The summary's file name in a run directory.
ECONOMICS_JSON = "economics.json"
#: Default file name of the tornado chart in a run directory.
TORNADO_PNG = "tornado.png"

PSA_KEYS = ("draws", "seed", "npv_mean", "npv_low", "npv_high", "bcr_mean", "bcr_low", "bcr_high", "p_bcr_gt_1", "p_npv_gt_0")
COST_PER_OUTCOME_KEYS = ("outcome", "label_fr", "label_en", "scope", "value", "ci_lower", "ci_upper")
TORNADO_KEYS = ("parameter", "label", "low", "high", "swing")
CB_KEYS = ("pv_costs", "pv_benefits", "npv", "bcr")


class EconomicsReportError(ProximiteError, ValueError):
    """An economics summary breaks the schema, or a run directory cannot be read."""


def economics_dir(settings: Settings) -> Path:
    """``<project>/<reporting_dir>/economics``: where the economics runs are written."""
    return Path(settings.reporting_dir) / ECONOMICS_DIR


def run_dir(settings: Settings, build_id: str) -> Path:
    """``<project>/<reporting_dir>/economics/<build_id>``: the run directory of one build."""
    return economics_dir(settings) / str(build_id)


# ------------------------------------------------------------------------------------ checks
def _fail(path: str, rule: str) -> EconomicsReportError:
    return EconomicsReportError(f"economics summary: {path} {rule}")


def _number(value: Any, path: str, *, optional: bool = True) -> float | None:
    """A JSON number as float (None for null/NaN when optional)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        if optional:
            return None
        raise _fail(path, "is required (a number)")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        try:
            value = float(value)  # numpy scalars
        except (TypeError, ValueError):
            raise _fail(path, f"must be a number, not {type(value).__name__}") from None
    number = float(value)
    if math.isinf(number):
        raise _fail(path, "must be finite")
    return number


def _plain_number(value: float | None) -> float | int | None:
    if value is None:
        return None
    return int(value) if float(value).is_integer() and abs(value) < 2**53 else float(value)


def _text(value: Any, path: str, *, optional: bool = False) -> str | None:
    if value is None:
        if optional:
            return None
        raise _fail(path, "is required (text)")
    if not isinstance(value, str):
        raise _fail(path, f"must be text, not {type(value).__name__}")
    return value


def _mapping(value: Any, path: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _fail(path, f"must be an object, not {type(value).__name__}")
    return value


def _records(value: Any, path: str, keys: Sequence[str], numbers: Sequence[str]) -> list[dict[str, Any]]:
    """A list of objects with ``keys`` (those in ``numbers`` checked as numbers, the rest as text)."""
    if value is None:
        return []
    if not isinstance(value, (list, tuple)):
        raise _fail(path, f"must be a list, not {type(value).__name__}")
    out = []
    for i, item in enumerate(value):
        item = dict(_mapping(item, f"{path}[{i}]"))
        missing = [key for key in keys if key not in item]
        if missing:
            raise _fail(f"{path}[{i}]", f"lacks {', '.join(missing)}")
        for key, raw in list(item.items()):
            where = f"{path}[{i}].{key}"
            item[key] = _number(raw, where) if key in numbers else (raw if raw is None or isinstance(raw, (str, bool, int, float)) else str(raw))
        out.append(item)
    return out


def _now() -> dt.datetime:
    return dt.datetime.now().astimezone()


# ------------------------------------------------------------------------------------ summary
@dataclass(frozen=True)
class EconomicsSummary:
    """The economics run of one warehouse build, as ``economics.json`` holds it.

    Attributes
    ----------
    build_id : str
        The warehouse build (data version) the run used.
    price_year : int
        Money is in CAD of this year.
    currency : str
        ``CAD``.
    perspective : str
        ``society`` or ``government``.
    horizon_years : int
        H: the analysis covers programme years t = 0 … H − 1.
    discount_rate : float
        Real annual rate r of the base case (0.035).
    discount_sensitivity : list of dict
        ``{rate, npv, bcr}`` for each other rate (1.5 % and 6 % by default).
    publishable : bool
        False while any parameter value is a placeholder, unsourced or not signed off.
    blocking : list of str
        Those values (``"dpj.unit_value: placeholder"``): the reason figures are withheld.
    costs : dict
        ``total`` and ``by_category`` (cost category → CAD); optional ``basis`` and ``by_level``.
    cost_per_outcome : list of dict
        ``{outcome, label_fr, label_en, scope, value, ci_lower, ci_upper}`` (optional ``basis``).
    cost_benefit : dict
        ``pv_costs``, ``pv_benefits``, ``npv``, ``bcr`` and ``by_outcome``
        (``[{outcome, label_fr, label_en, pv}]``, the PV of each monetised outcome).
    psa : dict or None
        ``draws``, ``seed``, ``npv_mean``, ``npv_low``, ``npv_high``, ``bcr_mean``, ``bcr_low``,
        ``bcr_high``, ``p_bcr_gt_1``, ``p_npv_gt_0`` (optional ``interval``, default 0.95).
    tornado : list of dict
        ``{parameter, label, low, high, swing}``, widest swing first; ``low`` and ``high`` are
        :attr:`tornado_metric` with the parameter at its low and high end.
    tornado_png : str or None
        File name of the tornado chart in the run directory.
    funding : dict or None
        Programme-funding figures (the 2019 table): totals, per FTE, per child.
    generated_at : datetime
        Timezone-aware.
    code_version : str
    parameters_sha256 : str
        SHA-256 of the parameter file(s) read.
    scope : str
        What the aggregates cover (``quebec`` by default).
    tornado_metric : str
        ``npv`` or ``bcr``.
    parameter_labels : dict
        ``{name: {"fr": label, "en": label}}`` for the parameters a page names (those blocking
        publication, the tornado's), from :func:`proximite.economics.parameter_labels.parameter_labels`;
        empty in a run written before the labels were recorded.
    extra : dict
        Anything else the run keeps (not shown by the snapshot).
    directory : Path or None
        The run directory the summary was read from (not serialised; set by :meth:`read`).

    Notes
    -----
    Figures, as the run computes them: PV = Σ_t x_t / (1 + r)^t with t = 0 the first programme
    year; NPV = PV(benefits) − PV(costs); BCR = PV(benefits) / PV(costs); P(BCR > 1) is the share
    of PSA draws with BCR > 1; the PSA interval is the central ``interval`` of the draws.
    """

    build_id: str
    price_year: int
    currency: str = "CAD"
    perspective: str = "society"
    horizon_years: int = 10
    discount_rate: float = 0.035
    discount_sensitivity: list[dict[str, Any]] = field(default_factory=list)
    publishable: bool = False
    blocking: list[str] = field(default_factory=list)
    costs: dict[str, Any] = field(default_factory=dict)
    cost_per_outcome: list[dict[str, Any]] = field(default_factory=list)
    cost_benefit: dict[str, Any] = field(default_factory=dict)
    psa: dict[str, Any] | None = None
    tornado: list[dict[str, Any]] = field(default_factory=list)
    tornado_png: str | None = TORNADO_PNG
    funding: dict[str, Any] | None = None
    generated_at: dt.datetime = field(default_factory=_now)
    code_version: str = ""
    parameters_sha256: str = ""
    scope: str = "quebec"
    tornado_metric: str = "npv"
    parameter_labels: dict[str, dict[str, str]] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    directory: Path | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        # Normalise and check once, so that a summary built in code and one read back compare equal.
        checked = _check(self._raw())
        for name, value in checked.items():
            object.__setattr__(self, name, value)
        moment = self.generated_at if self.generated_at.tzinfo is not None else self.generated_at.astimezone()
        # The JSON keeps seconds: so does the object, and a summary read back compares equal.
        object.__setattr__(self, "generated_at", moment.replace(microsecond=0))

    def _raw(self) -> dict[str, Any]:
        return {item.name: getattr(self, item.name) for item in fields(self) if item.name != "directory"}

    # ------------------------------------------------------------------ dict and JSON
    def to_dict(self) -> dict[str, Any]:
        """The JSON form (plain Python: str, int, float, bool, None, lists and dicts)."""
        out: dict[str, Any] = {"kind": KIND, "schema_version": SCHEMA_VERSION}
        for name, value in self._raw().items():
            out[name] = _plain(value)
        out["generated_at"] = self.generated_at.isoformat(timespec="seconds")
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, directory: str | Path | None = None) -> EconomicsSummary:
        """A summary from its JSON form.

        Raises
        ------
        EconomicsReportError
            Another kind or a newer schema version, a missing or mistyped field, an unknown key.
        """
        data = dict(_mapping(data, "the document"))
        kind = data.pop("kind", KIND)
        if kind != KIND:
            raise _fail("kind", f"is {kind!r}, not {KIND!r}")
        version = data.pop("schema_version", SCHEMA_VERSION)
        if not isinstance(version, int) or version > SCHEMA_VERSION:
            raise _fail("schema_version", f"{version!r} is not supported (this code reads up to {SCHEMA_VERSION})")
        names = {item.name for item in fields(cls)} - {"directory"}
        unknown = sorted(set(data) - names)
        if unknown:
            raise _fail(", ".join(unknown), "unknown (put extra keys under 'extra')")
        for required in ("build_id", "price_year"):
            if required not in data:
                raise _fail(required, "is required")
        if isinstance(data.get("generated_at"), str):
            try:
                data["generated_at"] = dt.datetime.fromisoformat(data["generated_at"])
            except ValueError:
                raise _fail("generated_at", f"is not an ISO 8601 date-time: {data['generated_at']!r}") from None
        return cls(**data, directory=Path(directory) if directory is not None else None)

    def write(self, directory: str | Path) -> Path:
        """Write ``economics.json`` into ``directory`` (created if missing; the file replaced atomically).

        Returns
        -------
        Path
            The JSON file.
        """
        target = Path(directory)
        target.mkdir(parents=True, exist_ok=True)
        path = target / ECONOMICS_JSON
        temporary = target / f".{ECONOMICS_JSON}.tmp-{secrets.token_hex(4)}"
        text = json.dumps(self.to_dict(), indent=2, ensure_ascii=False, allow_nan=False) + "\n"
        try:
            temporary.write_text(text, encoding="utf-8")
            temporary.replace(path)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        return path

    @classmethod
    def read(cls, directory: str | Path) -> EconomicsSummary:
        """Read ``economics.json`` from a run directory (or the file's own path).

        Raises
        ------
        EconomicsReportError
            No such file, not JSON, or not the schema.
        """
        path = Path(directory)
        if path.is_dir() or path.name != ECONOMICS_JSON:
            path = path / ECONOMICS_JSON
        if not path.is_file():
            raise EconomicsReportError(f"no {ECONOMICS_JSON} in {path.parent}; run `proximite economics run`")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise EconomicsReportError(f"{path}: not a JSON file ({error}); run `proximite economics run` again") from None
        try:
            return cls.from_dict(data, directory=path.parent)
        except EconomicsReportError as error:
            raise EconomicsReportError(f"{path}: {error}") from None

    @classmethod
    def latest(
        cls, settings: Settings, *, build_id: str | None = None, scope: str | None = None
    ) -> EconomicsSummary | None:
        """The newest economics run of the current warehouse build, or None when there is none.

        Parameters
        ----------
        settings : Settings
        build_id : str, keyword-only
            The build to look for (default: the current warehouse build,
            :func:`proximite.cohort.warehouse.current_build`). The snapshot passes the build its
            indicators were computed from.
        scope : str, keyword-only
            Only runs whose aggregates cover this scope (``quebec``, ``region:<code>``,
            ``territory:<id>``); None: any. The snapshot passes its own scope, so a page titled
            with a region never shows another scope's figures.

        Returns
        -------
        EconomicsSummary or None
            Among the directories of ``reporting/economics/`` whose ``economics.json`` names
            that build (``<build_id>/``, or ``<build_id>-<suffix>/`` for several runs of one
            build), the one generated last (ties: the file written last). None when no
            warehouse, no build, or no run of that build exists; a directory without
            ``economics.json`` (a run in progress, or one that failed) is skipped.

        Raises
        ------
        EconomicsReportError
            A run directory of that build holds an ``economics.json`` that cannot be read.
        """
        if build_id is None:
            from proximite.cohort.warehouse import current_build

            build = current_build(settings)
            if build is None:
                return None
            build_id = build.build_id
        root = economics_dir(settings)
        if not root.is_dir():
            return None
        found: list[tuple[dt.datetime, int, EconomicsSummary]] = []
        for candidate in root.iterdir():
            path = candidate / ECONOMICS_JSON
            if not candidate.is_dir() or candidate.name.startswith(".") or not path.is_file():
                continue
            if candidate.name != build_id and not candidate.name.startswith(f"{build_id}-"):
                continue
            summary = cls.read(candidate)
            if summary.build_id != build_id or (scope is not None and summary.scope != scope):
                continue
            found.append((summary.generated_at, path.stat().st_mtime_ns, summary))
        if not found:
            return None
        return max(found, key=lambda item: (item[0], item[1]))[2]

    # ------------------------------------------------------------------ estimator style
    @property
    def tornado_path(self) -> Path | None:
        """The tornado chart's file when the summary was read from a directory that holds it."""
        if self.directory is None or not self.tornado_png:
            return None
        path = Path(self.directory) / self.tornado_png
        return path if path.is_file() else None

    @property
    def statistics(self) -> dict[str, Any]:
        """The run's frame: build, price year, currency, perspective, horizon, rates, publication."""
        return {
            "build_id": self.build_id,
            "scope": self.scope,
            "price_year": self.price_year,
            "currency": self.currency,
            "perspective": self.perspective,
            "horizon_years": self.horizon_years,
            "discount_rate": self.discount_rate,
            "publishable": self.publishable,
            "blocking": len(self.blocking),
            "generated_at": self.generated_at.isoformat(timespec="seconds"),
            "code_version": self.code_version,
            "parameters_sha256": self.parameters_sha256,
        }

    @property
    def summary(self) -> pd.DataFrame:
        """Headline figures, one row each (index ``measure``; columns ``value``, ``low``, ``high``).

        Costs (total), cost per outcome, PV costs, PV benefits, NPV, BCR (with the PSA interval
        when there is one), P(BCR > 1), P(NPV > 0).
        """
        rows: list[dict[str, Any]] = [{"measure": "costs.total", "value": self.costs.get("total"), "low": None, "high": None}]
        for item in self.cost_per_outcome:
            rows.append({"measure": f"cost_per_outcome.{item['outcome']}.{item['scope']}", "value": item["value"],
                         "low": item["ci_lower"], "high": item["ci_upper"]})
        psa = self.psa or {}
        for key in CB_KEYS:
            low = psa.get(f"{key}_low") if key in ("npv", "bcr") else None
            high = psa.get(f"{key}_high") if key in ("npv", "bcr") else None
            rows.append({"measure": key, "value": self.cost_benefit.get(key), "low": low, "high": high})
        for key in ("p_bcr_gt_1", "p_npv_gt_0"):
            if key in psa:
                rows.append({"measure": key, "value": psa[key], "low": None, "high": None})
        frame = pd.DataFrame(rows).set_index("measure")
        return frame.astype("float64")

    def __str__(self) -> str:
        lines = [
            (
                f"Economics of build {self.build_id} ({self.scope}): {self.currency} of {self.price_year}, "
                f"{self.perspective} perspective, {self.horizon_years} years, discount {100 * self.discount_rate:g} %"
            ),
        ]
        if not self.publishable:
            lines.append(f"NOT PUBLISHABLE: {len(self.blocking)} parameter value(s) are placeholders or unsourced")
        lines.append(self.summary.to_string(float_format=lambda value: f"{value:,.4g}"))
        return "\n".join(lines)

    def plot(self, ax: Axes | None = None, *, top: int | None = None) -> Axes:
        """The tornado chart from the summary's ``tornado`` rows (no PNG needed).

        Parameters
        ----------
        ax : matplotlib Axes, optional
        top : int, optional, keyword-only
            Only the ``top`` widest swings.
        """
        import matplotlib.pyplot as plt
        import numpy as np

        rows = sorted(self.tornado, key=lambda row: -(row.get("swing") or 0.0))
        rows = rows if top is None else rows[:top]
        if ax is None:
            _, ax = plt.subplots(figsize=(7, 0.6 + 0.35 * max(1, len(rows))))
        base = self.cost_benefit.get(self.tornado_metric)
        base = float(base) if base is not None else 0.0
        positions = np.arange(len(rows))
        low = np.array([row["low"] if row["low"] is not None else base for row in rows], dtype="float64")
        high = np.array([row["high"] if row["high"] is not None else base for row in rows], dtype="float64")
        ax.barh(positions, low - base, left=base, color="tab:blue", label="low value")
        ax.barh(positions, high - base, left=base, color="tab:orange", label="high value")
        ax.axvline(base, color="black", linewidth=0.8)
        ax.set_yticks(positions, [str(row.get("label") or row["parameter"]) for row in rows])
        ax.invert_yaxis()
        ax.set_xlabel(self.tornado_metric.upper())
        return ax


def compare_summaries(*summaries: EconomicsSummary, names: Sequence[str] | None = None) -> pd.DataFrame:
    """Headline figures of several runs side by side (columns: one per run, ``value`` only)."""
    labels = list(names) if names is not None else [summary.build_id for summary in summaries]
    if len(labels) != len(summaries):
        raise EconomicsReportError("compare_summaries: one name per summary")
    return pd.concat([summary.summary["value"].rename(label) for summary, label in zip(summaries, labels)], axis=1)


# ------------------------------------------------------------------------------------ normalising
def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, float):
        return None if math.isnan(value) else _plain_number(value)
    if isinstance(value, dt.datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, Path):
        return value.as_posix()
    return value


def _check(raw: dict[str, Any]) -> dict[str, Any]:
    """The fields checked against the schema and normalised (numbers as float, lists as lists)."""
    out = dict(raw)
    out["build_id"] = _text(raw["build_id"], "build_id")
    if not out["build_id"]:
        raise _fail("build_id", "is empty")
    price_year = raw["price_year"]
    if isinstance(price_year, bool) or not isinstance(price_year, int):
        raise _fail("price_year", f"must be an integer year, not {price_year!r}")
    out["currency"] = _text(raw["currency"], "currency")
    out["perspective"] = _text(raw["perspective"], "perspective")
    horizon = raw["horizon_years"]
    if isinstance(horizon, bool) or not isinstance(horizon, int) or horizon < 1:
        raise _fail("horizon_years", f"must be a positive integer, not {horizon!r}")
    out["discount_rate"] = _number(raw["discount_rate"], "discount_rate", optional=False)
    out["discount_sensitivity"] = _records(raw["discount_sensitivity"], "discount_sensitivity", ("rate", "npv", "bcr"),
                                           ("rate", "npv", "bcr"))
    if not isinstance(raw["publishable"], bool):
        raise _fail("publishable", f"must be true or false, not {raw['publishable']!r}")
    blocking = raw["blocking"] or []
    if isinstance(blocking, str) or not all(isinstance(item, str) for item in blocking):
        raise _fail("blocking", "must be a list of text")
    out["blocking"] = list(blocking)
    if not out["publishable"] and not out["blocking"]:
        raise _fail("blocking", "must say what blocks publication when publishable is false")

    costs = dict(_mapping(raw["costs"] or {}, "costs"))
    costs["total"] = _number(costs.get("total"), "costs.total")
    costs["by_category"] = {
        str(key): _number(value, f"costs.by_category.{key}")
        for key, value in _mapping(costs.get("by_category") or {}, "costs.by_category").items()
    }
    if "by_level" in costs and costs["by_level"] is not None:
        costs["by_level"] = {
            str(level): {str(key): _number(value, f"costs.by_level.{level}.{key}")
                         for key, value in _mapping(values, f"costs.by_level.{level}").items()}
            for level, values in _mapping(costs["by_level"], "costs.by_level").items()
        }
    out["costs"] = costs
    out["cost_per_outcome"] = _records(raw["cost_per_outcome"], "cost_per_outcome", COST_PER_OUTCOME_KEYS,
                                       ("value", "ci_lower", "ci_upper"))

    benefit = dict(_mapping(raw["cost_benefit"] or {}, "cost_benefit"))
    for key in CB_KEYS:
        benefit[key] = _number(benefit.get(key), f"cost_benefit.{key}")
    benefit["by_outcome"] = _records(benefit.get("by_outcome"), "cost_benefit.by_outcome",
                                     ("outcome", "label_fr", "label_en", "pv"), ("pv",))
    out["cost_benefit"] = benefit

    if raw["psa"] is not None:
        psa = dict(_mapping(raw["psa"], "psa"))
        missing = [key for key in PSA_KEYS if key not in psa]
        if missing:
            raise _fail("psa", f"lacks {', '.join(missing)}")
        for key, value in list(psa.items()):
            if key in ("draws", "seed"):
                if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                    raise _fail(f"psa.{key}", f"must be an integer, not {value!r}")
            elif key in PSA_KEYS or key == "interval":
                psa[key] = _number(value, f"psa.{key}")
        out["psa"] = psa
    out["tornado"] = _records(raw["tornado"], "tornado", TORNADO_KEYS, ("low", "high", "swing"))
    out["tornado_png"] = _text(raw["tornado_png"], "tornado_png", optional=True) or None
    if out["tornado_png"] and (Path(out["tornado_png"]).name != out["tornado_png"]):
        raise _fail("tornado_png", f"must be a file name in the run directory, not a path: {out['tornado_png']!r}")
    if raw["funding"] is not None:
        out["funding"] = {str(key): value for key, value in _mapping(raw["funding"], "funding").items()}
    if not isinstance(raw["generated_at"], dt.datetime):
        raise _fail("generated_at", "must be a date-time")
    out["code_version"] = _text(raw["code_version"], "code_version") or ""
    out["parameters_sha256"] = _text(raw["parameters_sha256"], "parameters_sha256") or ""
    out["scope"] = _text(raw["scope"], "scope")
    if raw["tornado_metric"] not in ("npv", "bcr"):
        raise _fail("tornado_metric", f"must be 'npv' or 'bcr', not {raw['tornado_metric']!r}")
    out["parameter_labels"] = _labels(raw["parameter_labels"])
    out["extra"] = dict(_mapping(raw["extra"] or {}, "extra"))
    return out


def _labels(raw: Any) -> dict[str, dict[str, str]]:
    """``parameter_labels`` checked: each name maps to its French and English label (text)."""
    labels = {}
    for name, pair in _mapping(raw or {}, "parameter_labels").items():
        pair = _mapping(pair, f"parameter_labels.{name}")
        if set(pair) != {"fr", "en"} or not all(isinstance(text, str) and text for text in pair.values()):
            raise _fail(f"parameter_labels.{name}", "must give a non-empty 'fr' and 'en' label, and nothing else")
        labels[str(name)] = {"fr": pair["fr"], "en": pair["en"]}
    return labels
