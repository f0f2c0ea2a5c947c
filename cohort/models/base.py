"""The estimator style every model of :mod:`proximite.cohort.models` follows.

A model is built from its options (the *spec*), ``fit(data)`` returns a :class:`ModelResults`
whose ``summary`` is a DataFrame (one row per term: estimate, standard error, confidence bounds,
p-value), which prints (``__str__``), plots (``plot(ax=None)``, matplotlib imported lazily) and
exports (``to_csv``, ``to_html``, ``to_latex``). :func:`compare` puts several results side by
side. Model kinds register in :data:`MODELS` under the name a YAML spec uses (``kind: panel_ols``).

Results hold estimates and counts only, never a family's row: they can be written, logged and
shared.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pandas as pd

from proximite.errors import ProximiteError

if TYPE_CHECKING:  # pragma: no cover - typing only
    from matplotlib.axes import Axes

__all__ = [
    "MODELS",
    "SUMMARY_COLUMNS",
    "Comparison",
    "Model",
    "ModelError",
    "ModelResults",
    "compare",
    "get_model",
    "register",
]

#: Columns every ``summary`` has, in this order (a model may add more after them).
SUMMARY_COLUMNS: tuple[str, ...] = ("estimate", "std_error", "ci_lower", "ci_upper", "p_value")


class ModelError(ProximiteError):
    """A model cannot be fitted as asked: a missing column, too few rows, an unknown option."""


@dataclass
class ModelResults:
    """What a fitted model returns.

    Parameters
    ----------
    model : str
        The model's kind (a key of :data:`MODELS`), e.g. ``"panel_ols"``.
    summary : DataFrame
        One row per term (index named ``term``); columns :data:`SUMMARY_COLUMNS` first.
    statistics : dict
        Fit statistics as plain numbers or text: ``nobs``, ``entities``, ``clusters``, R², log
        likelihood, the covariance used...
    title : str
        One line saying what was fitted (formula, data, options).
    confidence : float
        Level of the intervals of ``summary`` (0.95).
    extra : dict of DataFrame
        Further tables (an assumption check, a survival curve, attrition by wave); exported beside
        the summary and shown by ``__str__``.
    native : object
        The underlying library's results (linearmodels, statsmodels, lifelines), for what this
        object does not expose; not exported.
    """

    model: str
    summary: pd.DataFrame
    statistics: dict[str, Any] = field(default_factory=dict)
    title: str = ""
    confidence: float = 0.95
    extra: dict[str, pd.DataFrame] = field(default_factory=dict)
    native: Any = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        missing = [name for name in SUMMARY_COLUMNS if name not in self.summary.columns]
        if missing:
            raise ModelError(f"{self.model}: the summary lacks the column(s) {', '.join(missing)}")
        self.summary = self.summary.copy()
        self.summary.index.name = "term"

    # -- reading
    def __str__(self) -> str:
        lines = [f"{self.title or self.model}"]
        if self.statistics:
            lines.append("  ".join(f"{name}: {_format_value(value)}" for name, value in self.statistics.items()))
        lines.append(self.summary.to_string(float_format=lambda value: f"{value:.4g}"))
        for name, table in self.extra.items():
            lines.extend(["", f"{name}:", table.to_string(float_format=lambda value: f"{value:.4g}")])
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"<ModelResults {self.model}: {len(self.summary)} term(s), {self.statistics.get('nobs', '?')} observations>"

    def plot(self, ax: Axes | None = None, *, terms: Sequence[str] | None = None) -> Axes:
        """Estimates with their confidence intervals (a forest plot), one line per term.

        Parameters
        ----------
        ax : matplotlib Axes, optional
            Where to draw (default: a new figure).
        terms : sequence of str, optional, keyword-only
            The terms to show (default: all).
        """
        return _forest(self.summary if terms is None else self.summary.loc[list(terms)], ax=ax, title=self.title or self.model)

    # -- exporting
    def tables(self) -> dict[str, pd.DataFrame]:
        """Every table of the results by name: ``summary``, ``statistics`` (one row), then ``extra``."""
        statistics = pd.DataFrame([{name: _plain(value) for name, value in self.statistics.items()}])
        return {"summary": self.summary, "statistics": statistics, **self.extra}

    def to_csv(self, path: str | Path) -> Path:
        """Write the summary to ``path`` (and every other table to ``<stem>.<name>.csv`` beside it)."""
        return _export(self.tables(), Path(path), "csv")

    def to_html(self, path: str | Path | None = None) -> str:
        """The tables as HTML (title, statistics, summary, extra); written to ``path`` when given."""
        parts = [f"<h2>{_escape(self.title or self.model)}</h2>"]
        for name, table in self.tables().items():
            parts.append(f"<h3>{_escape(name)}</h3>")
            parts.append(table.to_html(float_format=lambda value: f"{value:.4g}", border=0, na_rep="–"))
        html = "\n".join(parts)
        if path is not None:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            Path(path).write_text(html, encoding="utf-8")
        return html

    def to_latex(self, path: str | Path | None = None) -> str:
        """The summary as a LaTeX tabular (booktabs); written to ``path`` when given."""
        latex = self.summary.to_latex(float_format=lambda value: f"{value:.4g}", na_rep="--", caption=self.title or None)
        if path is not None:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            Path(path).write_text(latex, encoding="utf-8")
        return latex


class Model(ABC):
    """Base of the model classes: options at construction, ``fit(data)`` returns :class:`ModelResults`.

    Subclasses set :attr:`kind` (their key in :data:`MODELS`) and implement :meth:`fit`; they keep
    their options as attributes and never modify the data they receive.
    """

    kind: str = ""

    @abstractmethod
    def fit(self, data: pd.DataFrame) -> ModelResults:
        """Fit the model on ``data`` (not modified) and return its results."""

    @classmethod
    def from_spec(cls, options: Mapping[str, Any]) -> Model:
        """Build the model from a spec's options (the keys of a YAML spec other than ``kind`` and ``data``).

        Raises
        ------
        ModelError
            An option the model does not take (the message lists the ones it takes).
        """
        import inspect

        parameters = inspect.signature(cls).parameters
        unknown = sorted(set(options) - set(parameters))
        if unknown:
            raise ModelError(
                f"{cls.kind}: unknown option(s) {', '.join(unknown)}; it takes {', '.join(parameters) or 'none'}"
            )
        return cls(**dict(options))


#: Model kind → class: what ``kind:`` of a YAML spec names.
MODELS: dict[str, type[Model]] = {}

ModelClass = TypeVar("ModelClass", bound=type[Model])


def register(kind: str) -> Callable[[ModelClass], ModelClass]:
    """Class decorator: register a model class under ``kind`` in :data:`MODELS`."""

    def decorate(cls: ModelClass) -> ModelClass:
        if kind in MODELS and MODELS[kind] is not cls:
            raise ModelError(f"model kind {kind!r} is registered twice")
        cls.kind = kind
        MODELS[kind] = cls
        return cls

    return decorate


def get_model(kind: str) -> type[Model]:
    """The class registered under ``kind``; a :class:`ModelError` lists the known kinds otherwise."""
    import proximite.cohort.models  # noqa: F401 - registers every model kind

    try:
        return MODELS[kind]
    except KeyError:
        raise ModelError(f"unknown model kind {kind!r}; the kinds are: {', '.join(sorted(MODELS))}") from None


# ------------------------------------------------------------------------------------- compare
@dataclass
class Comparison:
    """Several results side by side (:func:`compare`).

    ``summary`` has one row per term and, per model, the columns ``(<name>, estimate)``,
    ``(<name>, std_error)`` and ``(<name>, p_value)``; ``statistics`` one row per model.
    """

    summary: pd.DataFrame
    statistics: pd.DataFrame
    results: dict[str, ModelResults]

    def __str__(self) -> str:
        estimates = self.summary.xs("estimate", axis=1, level=1)
        errors = self.summary.xs("std_error", axis=1, level=1)
        cells = estimates.apply(lambda column: column.map(lambda v: "" if pd.isna(v) else f"{v:.4g}"))
        cells = cells + errors.apply(lambda column: column.map(lambda v: "" if pd.isna(v) else f" ({v:.3g})"))
        return "\n".join([cells.to_string(), "", self.statistics.to_string()])

    def plot(self, ax: Axes | None = None, *, terms: Sequence[str] | None = None) -> Axes:
        """Each term's estimate and interval per model, offset vertically."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(7, 0.5 + 0.45 * len(self.summary) * max(1, len(self.results))))
        chosen = list(terms) if terms is not None else list(self.summary.index)
        step = 0.8 / max(1, len(self.results))
        for offset, (name, result) in enumerate(self.results.items()):
            rows = result.summary.reindex(chosen)
            positions = [index + offset * step for index in range(len(chosen))]
            estimate = rows["estimate"].to_numpy(dtype="float64")
            ax.errorbar(
                estimate, positions,
                xerr=[estimate - rows["ci_lower"].to_numpy(dtype="float64"), rows["ci_upper"].to_numpy(dtype="float64") - estimate],
                fmt="o", capsize=3, label=name,
            )
        ax.set_yticks([index + 0.4 - step / 2 for index in range(len(chosen))], chosen)
        ax.axvline(0, color="grey", linewidth=0.8)
        ax.invert_yaxis()
        ax.legend()
        return ax

    def to_csv(self, path: str | Path) -> Path:
        """Write the side-by-side summary (and ``<stem>.statistics.csv``)."""
        flat = self.summary.copy()
        flat.columns = [f"{name}:{column}" for name, column in flat.columns]
        return _export({"summary": flat, "statistics": self.statistics}, Path(path), "csv")


def compare(*results: ModelResults, names: Sequence[str] | None = None) -> Comparison:
    """Put fitted results side by side, term by term.

    Parameters
    ----------
    *results : ModelResults
    names : sequence of str, optional, keyword-only
        Column names (default: each result's ``model``, numbered when repeated).

    Returns
    -------
    Comparison
    """
    if not results:
        raise ModelError("compare needs at least one fitted result")
    if names is None:
        names = [result.model for result in results]
    names = list(names)
    if len(names) != len(results):
        raise ModelError(f"compare: {len(names)} name(s) for {len(results)} result(s)")
    seen: dict[str, int] = {}
    unique = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        unique.append(name if names.count(name) == 1 else f"{name} ({seen[name]})")
    terms: list[str] = []
    for result in results:
        terms.extend(term for term in result.summary.index if term not in terms)
    columns = {}
    for name, result in zip(unique, results, strict=True):
        for column in ("estimate", "std_error", "p_value"):
            columns[(name, column)] = result.summary[column].reindex(terms)
    summary = pd.DataFrame(columns, index=pd.Index(terms, name="term"))
    statistics = pd.DataFrame(
        [{name: _plain(value) for name, value in result.statistics.items()} for result in results], index=pd.Index(unique, name="model")
    )
    return Comparison(summary=summary, statistics=statistics, results=dict(zip(unique, results, strict=True)))


# ------------------------------------------------------------------------------------- helpers
def _plain(value: Any) -> Any:
    """numpy scalars as Python numbers (tables and JSON read them everywhere)."""
    item = getattr(value, "item", None)
    return item() if callable(item) and not isinstance(value, (str, bytes)) else value


def _format_value(value: Any) -> str:
    value = _plain(value)
    if isinstance(value, bool):  # before int: True is an int
        return str(value)
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.4g}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _escape(text: str) -> str:
    import html

    return html.escape(str(text))


def _export(tables: Mapping[str, pd.DataFrame], path: Path, suffix: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    for name, table in tables.items():
        target = path if name == "summary" else path.with_name(f"{path.stem}.{name}.{suffix}")
        table.to_csv(target, lineterminator="\n")
    return path


def _forest(summary: pd.DataFrame, *, ax: Axes | None, title: str) -> Axes:
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 0.6 + 0.4 * len(summary)))
    positions = list(range(len(summary)))
    estimate = summary["estimate"].to_numpy(dtype="float64")
    ax.errorbar(
        estimate, positions,
        xerr=[estimate - summary["ci_lower"].to_numpy(dtype="float64"), summary["ci_upper"].to_numpy(dtype="float64") - estimate],
        fmt="o", capsize=3,
    )
    ax.set_yticks(positions, [str(term) for term in summary.index])
    ax.axvline(0, color="grey", linewidth=0.8)
    ax.invert_yaxis()
    ax.set_title(title, fontsize="medium")
    return ax
