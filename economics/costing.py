"""Activity-based costing from the PTP registry, reconciled with the programme budgets.

The registry says what the outreach workers (PTP) did and for how long; the ``cost`` table says
what the programme spent. This module prices the registry (:func:`activity_costs`), reads the
budgets (:func:`budget_costs`), puts the two side by side per territory and cost category
(:func:`reconcile`), and wraps everything in :class:`CostingResults` (:func:`cost`), whose tables
roll up to the region, the environment, the host type and Québec.

Components of the activity-based cost (column ``component`` of the lines), each booked to a
cost category of the codebook (``cost_category``):

======================  =================================================  =====================
component               amount                                             category
======================  =================================================  =====================
``ptp_activity``        activity minutes / 60 × loaded PTP wage            salaire_ptp
``ptp_travel``          travel minutes / 60 × loaded PTP wage              salaire_ptp
``travel_km``           km × km rate                                       mobilite
``ptp_session``         session minutes / 60 × loaded PTP wage             the kind's
                                                                           ``ptp_time_category``
``supervisor_session``  session minutes × ratio / 60 × loaded              the kind's
                        supervisor wage                                    ``category``
``session_fee``         sessions × fee per session                         the kind's
                                                                           ``category``
======================  =================================================  =====================

The registry cannot cost :data:`BUDGET_ONLY_CATEGORIES` (``soutien_concret``: money or goods
given to families; ``coordination``; ``autre``): they are reported from the budget only.

Besides the logged time, the worker table gives each PTP's *contracted* time (tenure days ×
weekly hours / 7); priced at the loaded PTP wage it is a second estimate of ``salaire_ptp``
(column ``contracted_cad``), which the budget should match when it pays the PTP's whole time.

Everything here is pure: tables and parameters in, new frames out. :func:`load_costing_parameters`
and :func:`load_cpi` are the explicit loaders. Results hold sums per territory and quarter, never
a family's row.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from proximite.errors import ProximiteError
from proximite.cohort.tenure import session_territories

if TYPE_CHECKING:  # pragma: no cover - typing only
    from matplotlib.axes import Axes

__all__ = [
    "BUDGET_ONLY_CATEGORIES",
    "COMPONENTS",
    "COST_CATEGORIES",
    "DEFAULT_COSTING_PATH",
    "DEFAULT_CPI_PATH",
    "LEVELS",
    "SUPERVISION_KINDS",
    "CostingError",
    "CostingParameters",
    "CostingResults",
    "ParameterValue",
    "SupervisionKind",
    "activity_costs",
    "budget_costs",
    "contracted_costs",
    "cost",
    "inflate",
    "load_costing_parameters",
    "load_cpi",
    "parse_costing_parameters",
    "quarter_label",
    "reconcile",
    "session_territories",
]

#: The shipped costing parameters (placeholders until the research team sets them).
DEFAULT_COSTING_PATH: Path = Path(__file__).parent / "params" / "costing.yaml"
#: The shipped CPI table (Statistics Canada 18-10-0005-01, annual averages, Canada).
DEFAULT_CPI_PATH: Path = Path(__file__).parent / "data" / "cpi_canada.csv"

#: The codebook's cost categories (``cost_category``), in order.
COST_CATEGORIES: tuple[str, ...] = (
    "salaire_ptp", "supervision", "mobilite", "soutien_concret", "formation", "coordination", "autre",
)
#: Categories the registry cannot cost: reported from the budget only.
BUDGET_ONLY_CATEGORIES: tuple[str, ...] = ("soutien_concret", "coordination", "autre")
#: The codebook's supervision kinds (``supervision_kind``).
SUPERVISION_KINDS: tuple[str, ...] = ("clinique", "organisationnelle", "codeveloppement", "formation", "communaute_pratique")
#: Components of the activity-based cost.
COMPONENTS: tuple[str, ...] = ("ptp_activity", "ptp_travel", "travel_km", "ptp_session", "supervisor_session", "session_fee")
#: Levels :meth:`CostingResults.by` aggregates to (territory table columns, and Québec).
LEVELS: dict[str, str | None] = {
    "territory": "territory_id",
    "region": "region_code",
    "environment": "environment",
    "host_type": "host_type",
    "quebec": None,
}

_LINE_KEYS = ["territory_id", "period", "component", "category", "action_component", "kind"]
_LINE_VALUES = ["hours", "km", "sessions", "amount_cad"]


class CostingError(ProximiteError, ValueError):
    """Costing cannot proceed: a bad parameter file, a missing table or column, a year without CPI."""


# ------------------------------------------------------------------------------ parameters
@dataclass(frozen=True)
class ParameterValue:
    """One sourced number of a parameter file.

    Attributes
    ----------
    value : float
    unit : str
    source : str
        Where the number comes from.
    year : int
        The year it refers to (price year for money).
    placeholder : bool
        True until the research team sets it from a real source.
    """

    value: float
    unit: str
    source: str
    year: int
    placeholder: bool = False


@dataclass(frozen=True)
class SupervisionKind:
    """How one kind of supervision or training session is costed.

    Attributes
    ----------
    category : str
        Cost category of the supervisor's time and of the fees.
    ptp_time_category : str
        Cost category of the PTP's time in the session.
    supervisor_ratio : ParameterValue
        Supervisor minutes per PTP minute of session.
    fee_per_session : ParameterValue
        External fee per PTP per session (CAD).
    """

    category: str
    ptp_time_category: str
    supervisor_ratio: ParameterValue
    fee_per_session: ParameterValue


@dataclass(frozen=True)
class CostingParameters:
    """The costing parameters (``economics/params/costing.yaml``).

    Attributes
    ----------
    wages : mapping of str to ParameterValue
        Base hourly wage by role (``ptp``, ``supervisor``).
    benefits, overhead : ParameterValue
        Loadings, as shares of the base wage.
    km_rate : ParameterValue
        CAD per km.
    supervision_kinds : mapping of str to SupervisionKind
        One entry per codebook supervision kind.
    price_year : int
        Price year of the wages and the km rate.
    currency : str
        ``CAD``.
    path : str
        The file the parameters were read from (``""`` when built in code).
    """

    wages: Mapping[str, ParameterValue]
    benefits: ParameterValue
    overhead: ParameterValue
    km_rate: ParameterValue
    supervision_kinds: Mapping[str, SupervisionKind]
    price_year: int
    currency: str = "CAD"
    path: str = ""

    def loaded_wage(self, role: str) -> float:
        """Loaded hourly wage of ``role``.

        Notes
        -----
        .. math:: w^{\\text{loaded}}_r = w_r\\,(1 + b + o)

        with :math:`w_r` the base wage, :math:`b` the benefits and :math:`o` the overhead loading.
        """
        try:
            base = self.wages[role].value
        except KeyError:
            raise CostingError(f"no wage for the role {role!r}; the roles are {', '.join(self.wages)}") from None
        return base * (1.0 + self.benefits.value + self.overhead.value)

    def placeholders(self) -> list[str]:
        """Keys of the values still marked ``placeholder: true``."""
        keys = [f"wages.{role}" for role, value in self.wages.items() if value.placeholder]
        keys += [f"loading.{name}" for name in ("benefits", "overhead") if getattr(self, name).placeholder]
        if self.km_rate.placeholder:
            keys.append("km_rate")
        for kind, spec in self.supervision_kinds.items():
            keys += [f"supervision_kinds.{kind}.{name}" for name in ("supervisor_ratio", "fee_per_session")
                     if getattr(spec, name).placeholder]
        return keys

    def to_dict(self) -> dict[str, Any]:
        """Plain-Python form (for manifests and run summaries)."""
        def entry(value: ParameterValue) -> dict[str, Any]:
            return {"value": value.value, "unit": value.unit, "source": value.source, "year": value.year,
                    "placeholder": value.placeholder}

        return {
            "currency": self.currency,
            "price_year": self.price_year,
            "wages": {role: entry(value) for role, value in self.wages.items()},
            "loading": {"benefits": entry(self.benefits), "overhead": entry(self.overhead)},
            "km_rate": entry(self.km_rate),
            "supervision_kinds": {
                kind: {"category": spec.category, "ptp_time_category": spec.ptp_time_category,
                       "supervisor_ratio": entry(spec.supervisor_ratio), "fee_per_session": entry(spec.fee_per_session)}
                for kind, spec in self.supervision_kinds.items()
            },
            "path": self.path,
        }


def _fail(path: str, key: str, rule: str) -> CostingError:
    return CostingError(f"{path}: key '{key}': {rule}")


def _value(raw: Any, path: str, key: str, *, maximum: float | None = None) -> ParameterValue:
    if not isinstance(raw, Mapping):
        raise _fail(path, key, f"must be a mapping with value, unit, source, year and placeholder, not a {type(raw).__name__}")
    unknown = sorted(set(raw) - {"value", "unit", "source", "year", "placeholder"})
    if unknown:
        raise _fail(path, key, f"unknown field(s) {', '.join(unknown)}; allowed: value, unit, source, year, placeholder")
    for name in ("value", "source", "year"):
        if name not in raw or raw[name] is None or raw[name] == "":
            raise _fail(path, f"{key}.{name}", "is required (every value names its source and year)")
    value = raw["value"]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(float(value)):
        raise _fail(path, f"{key}.value", f"must be a finite number, not {value!r}")
    if value < 0:
        raise _fail(path, f"{key}.value", f"must be >= 0, not {value!r}")
    if maximum is not None and value > maximum:
        raise _fail(path, f"{key}.value", f"must be <= {maximum:g}, not {value!r}")
    year = raw["year"]
    if isinstance(year, bool) or not isinstance(year, int) or not 1900 <= year <= 2100:
        raise _fail(path, f"{key}.year", f"must be a year (an integer from 1900 to 2100), not {year!r}")
    placeholder = raw.get("placeholder", False)
    if not isinstance(placeholder, bool):
        raise _fail(path, f"{key}.placeholder", f"must be true or false, not {placeholder!r}")
    return ParameterValue(float(value), str(raw.get("unit", "")), str(raw["source"]), year, placeholder)


def _category(raw: Any, path: str, key: str) -> str:
    if raw not in COST_CATEGORIES:
        raise _fail(path, key, f"must be a cost category ({', '.join(COST_CATEGORIES)}), not {raw!r}")
    if raw in BUDGET_ONLY_CATEGORIES:
        raise _fail(path, key, f"{raw!r} is a budget-only category; book registry time to one of "
                    f"{', '.join(c for c in COST_CATEGORIES if c not in BUDGET_ONLY_CATEGORIES)}")
    return str(raw)


def parse_costing_parameters(raw: Any, *, path: str = "<costing parameters>") -> CostingParameters:
    """Validate a parsed costing parameter mapping (the YAML's content).

    Parameters
    ----------
    raw : mapping
        As read from the YAML file.
    path : str, keyword-only
        Named in the error messages.

    Returns
    -------
    CostingParameters

    Raises
    ------
    CostingError
        Naming the file, the key and the rule broken.
    """
    if not isinstance(raw, Mapping):
        raise CostingError(f"{path}: the file must hold a mapping (currency, price_year, wages, loading, km_rate, supervision_kinds)")
    allowed = {"currency", "price_year", "wages", "loading", "km_rate", "supervision_kinds"}
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise _fail(path, unknown[0], f"unknown key; the keys are {', '.join(sorted(allowed))}")
    for key in sorted(allowed):
        if key not in raw:
            raise _fail(path, key, "is required")
    if raw["currency"] != "CAD":
        raise _fail(path, "currency", f"must be CAD, not {raw['currency']!r}")
    price_year = raw["price_year"]
    if isinstance(price_year, bool) or not isinstance(price_year, int) or not 1900 <= price_year <= 2100:
        raise _fail(path, "price_year", f"must be a year (an integer from 1900 to 2100), not {price_year!r}")
    wages_raw = raw["wages"]
    if not isinstance(wages_raw, Mapping):
        raise _fail(path, "wages", "must be a mapping of role to value (ptp, supervisor)")
    for role in ("ptp", "supervisor"):
        if role not in wages_raw:
            raise _fail(path, f"wages.{role}", "is required")
    wages = {str(role): _value(entry, path, f"wages.{role}") for role, entry in wages_raw.items()}
    for role, wage in wages.items():
        if wage.value <= 0:
            raise _fail(path, f"wages.{role}.value", "must be > 0")
    loading = raw["loading"]
    if not isinstance(loading, Mapping) or set(loading) != {"benefits", "overhead"}:
        raise _fail(path, "loading", "must be a mapping with exactly benefits and overhead")
    benefits = _value(loading["benefits"], path, "loading.benefits", maximum=5)
    overhead = _value(loading["overhead"], path, "loading.overhead", maximum=5)
    km_rate = _value(raw["km_rate"], path, "km_rate", maximum=10)
    kinds_raw = raw["supervision_kinds"]
    if not isinstance(kinds_raw, Mapping):
        raise _fail(path, "supervision_kinds", "must be a mapping of supervision kind to its costing")
    unknown_kinds = sorted(set(kinds_raw) - set(SUPERVISION_KINDS))
    if unknown_kinds:
        raise _fail(path, f"supervision_kinds.{unknown_kinds[0]}", f"unknown supervision kind; the kinds are {', '.join(SUPERVISION_KINDS)}")
    kinds: dict[str, SupervisionKind] = {}
    for kind in SUPERVISION_KINDS:
        key = f"supervision_kinds.{kind}"
        spec = kinds_raw.get(kind)
        if not isinstance(spec, Mapping):
            raise _fail(path, key, "is required, a mapping with category, ptp_time_category, supervisor_ratio and fee_per_session")
        extra = sorted(set(spec) - {"category", "ptp_time_category", "supervisor_ratio", "fee_per_session"})
        if extra:
            raise _fail(path, f"{key}.{extra[0]}", "unknown key; the keys are category, ptp_time_category, supervisor_ratio, fee_per_session")
        for name in ("category", "ptp_time_category", "supervisor_ratio", "fee_per_session"):
            if name not in spec:
                raise _fail(path, f"{key}.{name}", "is required")
        kinds[kind] = SupervisionKind(
            category=_category(spec["category"], path, f"{key}.category"),
            ptp_time_category=_category(spec["ptp_time_category"], path, f"{key}.ptp_time_category"),
            supervisor_ratio=_value(spec["supervisor_ratio"], path, f"{key}.supervisor_ratio", maximum=10),
            fee_per_session=_value(spec["fee_per_session"], path, f"{key}.fee_per_session"),
        )
    return CostingParameters(
        wages=wages, benefits=benefits, overhead=overhead, km_rate=km_rate, supervision_kinds=kinds,
        price_year=price_year, currency="CAD", path=path,
    )


def load_costing_parameters(path: str | Path | None = None) -> CostingParameters:
    """Read and validate a costing parameter file (default: the shipped placeholders).

    Parameters
    ----------
    path : str or Path, optional
        A YAML file in the format of ``economics/params/costing.yaml``.

    Returns
    -------
    CostingParameters

    Raises
    ------
    CostingError
        The file is missing or is not YAML, or a key breaks a rule (the message names the file,
        the key and the rule).
    """
    import yaml

    source = Path(path) if path is not None else DEFAULT_COSTING_PATH
    try:
        text = source.read_text(encoding="utf-8")
    except OSError as error:
        raise CostingError(f"{source}: cannot read the costing parameters ({error.strerror})") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise CostingError(f"{source}: not valid YAML ({error.__class__.__name__})") from None
    return parse_costing_parameters(raw, path=str(source))


# ------------------------------------------------------------------------------ inflation
def load_cpi(path: str | Path | None = None) -> pd.Series:
    """Read a CPI table (``year,cpi`` CSV; ``#`` lines are comments); default the shipped one.

    Returns
    -------
    Series
        CPI by year (index ``year``, int), float values.

    Raises
    ------
    CostingError
        A missing file or column, a repeated year, a non-positive index.
    """
    source = Path(path) if path is not None else DEFAULT_CPI_PATH
    try:
        frame = pd.read_csv(source, comment="#")
    except (OSError, pd.errors.ParserError) as error:
        raise CostingError(f"{source}: cannot read the CPI table ({error.__class__.__name__})") from None
    missing = [column for column in ("year", "cpi") if column not in frame.columns]
    if missing:
        raise CostingError(f"{source}: column(s) {', '.join(missing)} missing; a CPI table has year and cpi")
    if frame["year"].duplicated().any():
        raise CostingError(f"{source}: column 'year': a year appears twice")
    cpi = pd.to_numeric(frame["cpi"], errors="coerce")
    if cpi.isna().any() or (cpi <= 0).any():
        raise CostingError(f"{source}: column 'cpi': every value must be a positive number")
    return pd.Series(cpi.to_numpy(dtype="float64"), index=pd.Index(frame["year"].astype(int), name="year"), name="cpi")


def _cpi_series(cpi: pd.Series | pd.DataFrame | Mapping[int, float]) -> pd.Series:
    if isinstance(cpi, pd.DataFrame):
        return pd.Series(cpi["cpi"].to_numpy(dtype="float64"), index=cpi["year"].astype(int).to_numpy())
    if isinstance(cpi, pd.Series):
        return pd.Series(cpi.to_numpy(dtype="float64"), index=np.asarray(cpi.index, dtype="int64"))
    return pd.Series({int(year): float(value) for year, value in cpi.items()}, dtype="float64")


def inflate(amounts: Any, from_year: Any, to_year: int, cpi: pd.Series | pd.DataFrame | Mapping[int, float]) -> Any:
    """Express amounts of ``from_year`` dollars in ``to_year`` dollars.

    Parameters
    ----------
    amounts : float, array-like or Series
        Amounts in dollars of ``from_year``.
    from_year : int or array-like of int
        Price year of each amount (broadcast against ``amounts``).
    to_year : int
        The price year wanted.
    cpi : Series, DataFrame or mapping
        CPI by year (:func:`load_cpi`; a DataFrame needs ``year`` and ``cpi`` columns).

    Returns
    -------
    Same kind as ``amounts`` (a Series keeps its index; a scalar gives a float).

    Raises
    ------
    CostingError
        A year absent from the CPI table (the message lists the years).

    Notes
    -----
    .. math:: A_{t} = A_{s}\\,\\frac{\\mathrm{CPI}_{t}}{\\mathrm{CPI}_{s}}

    for an amount :math:`A_s` in dollars of year :math:`s` and the target year :math:`t`
    (annual-average CPI, all items).
    """
    table = _cpi_series(cpi)
    years = np.atleast_1d(np.asarray(from_year, dtype="int64"))
    wanted = sorted({int(year) for year in years} | {int(to_year)})
    missing = [year for year in wanted if year not in table.index]
    if missing:
        raise CostingError(
            f"no CPI for the year(s) {', '.join(map(str, missing))}; the CPI table covers "
            f"{int(table.index.min())}-{int(table.index.max())}" if len(table) else "the CPI table is empty"
        )
    factor = float(table[int(to_year)]) / table.reindex(years).to_numpy(dtype="float64")
    if np.ndim(from_year) == 0:
        factor = factor[0]
    if isinstance(amounts, pd.Series):
        return amounts * factor
    if np.ndim(amounts) == 0 and np.ndim(factor) == 0:
        return float(amounts) * float(factor)
    return np.asarray(amounts, dtype="float64") * factor


# ------------------------------------------------------------------------------ periods
def quarter_label(dates: pd.Series) -> pd.Series:
    """The calendar quarter of each date as the cost table labels it (``2024-T1``).

    Notes
    -----
    :math:`\\text{label} = \\text{year} \\,\\text{-T}\\, \\lceil \\text{month} / 3 \\rceil`.
    """
    values = pd.to_datetime(dates)
    labels = values.dt.year.astype("Int64").astype("string") + "-T" + values.dt.quarter.astype("Int64").astype("string")
    return labels.astype("string")


def _period_year(period: pd.Series) -> np.ndarray:
    years = pd.to_numeric(period.astype("string").str.slice(0, 4), errors="coerce")
    if years.isna().any():
        raise CostingError("cost table column 'period': every period must start with its year (AAAA-Tn)")
    return years.to_numpy(dtype="int64")


def _require(tables: Mapping[str, pd.DataFrame], name: str, columns: Sequence[str]) -> pd.DataFrame:
    if name not in tables:
        raise CostingError(f"costing needs the {name!r} table; the tables given are {', '.join(sorted(tables))}")
    frame = tables[name]
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise CostingError(f"table {name!r}: column(s) {', '.join(missing)} missing")
    return frame


def _empty_lines() -> pd.DataFrame:
    frame = pd.DataFrame({column: pd.Series(dtype="string") for column in _LINE_KEYS})
    for column in _LINE_VALUES:
        frame[column] = pd.Series(dtype="float64")
    return frame


def _numbers(series: pd.Series) -> np.ndarray:
    return pd.to_numeric(series, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)


# ------------------------------------------------------------------------------ costing
def activity_costs(tables: Mapping[str, pd.DataFrame], parameters: CostingParameters) -> pd.DataFrame:
    """Activity-based cost lines per territory, quarter and component.

    Parameters
    ----------
    tables : mapping of str to DataFrame
        The harmonised tables; ``activity``, ``supervision`` and ``worker`` are read (not modified).
    parameters : CostingParameters

    Returns
    -------
    DataFrame
        One row per (``territory_id``, ``period``, ``component``, ``category``,
        ``action_component``, ``kind``) with ``hours``, ``km``, ``sessions`` and ``amount_cad``
        (dollars of ``parameters.price_year``). ``action_component`` is the activity's component
        (proximite, soutien, concertation) for activity and travel lines, ``kind`` the session
        kind for session lines; the other is ``"all"``. ``sessions`` counts the sessions a
        ``ptp_session`` or ``session_fee`` line prices (sum it over one of them, not both).

    Notes
    -----
    With :math:`w_P, w_S` the loaded PTP and supervisor wages (:meth:`CostingParameters.loaded_wage`),
    :math:`r` the km rate, and, for a session kind :math:`k`, :math:`\\rho_k` its supervisor
    ratio and :math:`f_k` its fee, a territory-quarter's lines are

    .. math::
        C_{\\text{ptp\\_activity}} = w_P \\sum_a m_a / 60,\\quad
        C_{\\text{ptp\\_travel}} = w_P \\sum_a t_a / 60,\\quad
        C_{\\text{travel\\_km}} = r \\sum_a d_a,

        C_{\\text{ptp\\_session},k} = w_P \\sum_{s \\in k} m_s / 60,\\quad
        C_{\\text{supervisor\\_session},k} = w_S\\,\\rho_k \\sum_{s \\in k} m_s / 60,\\quad
        C_{\\text{session\\_fee},k} = f_k\\,n_k

    over activities :math:`a` (minutes :math:`m_a`, travel minutes :math:`t_a`, km :math:`d_a`;
    missing travel counts as 0) and sessions :math:`s` (minutes :math:`m_s`). An activity's
    quarter is that of its date; a session belongs to the territory of the worker's tenure
    covering its date (else the worker's nearest tenure; sessions of a worker absent from the
    worker table are left out and counted in :func:`cost`'s statistics).
    """
    activity = _require(tables, "activity", ["territory_id", "activity_date", "minutes", "component", "travel_minutes", "travel_km"])
    supervision = _require(tables, "supervision", ["worker_id", "session_date", "kind", "minutes"])
    worker = _require(tables, "worker", ["worker_id", "territory_id", "start_date", "end_date"])
    w_ptp = parameters.loaded_wage("ptp")
    w_sup = parameters.loaded_wage("supervisor")
    pieces: list[pd.DataFrame] = []

    if len(activity):
        base = pd.DataFrame(
            {
                "territory_id": activity["territory_id"].astype("string").to_numpy(),
                "period": quarter_label(activity["activity_date"]).to_numpy(),
                "action_component": activity["component"].astype("string").fillna("all").to_numpy(),
                "minutes": np.nan_to_num(_numbers(activity["minutes"])),
                "travel_minutes": np.nan_to_num(_numbers(activity["travel_minutes"])),
                "travel_km": np.nan_to_num(_numbers(activity["travel_km"])),
            }
        )
        base = base[base["period"].notna()]
        grouped = base.groupby(["territory_id", "period", "action_component"], sort=True, observed=True, dropna=False)[
            ["minutes", "travel_minutes", "travel_km"]
        ].sum().reset_index()
        for component, category, hours, km, amount in (
            ("ptp_activity", "salaire_ptp", grouped["minutes"] / 60, 0.0, grouped["minutes"] / 60 * w_ptp),
            ("ptp_travel", "salaire_ptp", grouped["travel_minutes"] / 60, 0.0, grouped["travel_minutes"] / 60 * w_ptp),
            ("travel_km", "mobilite", 0.0, grouped["travel_km"], grouped["travel_km"] * parameters.km_rate.value),
        ):
            pieces.append(
                pd.DataFrame(
                    {
                        "territory_id": grouped["territory_id"], "period": grouped["period"], "component": component,
                        "category": category, "action_component": grouped["action_component"], "kind": "all",
                        "hours": hours, "km": km, "sessions": 0.0, "amount_cad": amount,
                    }
                )
            )

    sessions = session_territories(supervision, worker)
    if len(sessions):
        sessions = sessions.assign(
            period=quarter_label(sessions["session_date"]).to_numpy(), minutes=np.nan_to_num(sessions["minutes"].to_numpy(dtype="float64"))
        )
        grouped = sessions.groupby(["territory_id", "period", "kind"], sort=True, observed=True)["minutes"].agg(
            ["sum", "count"]
        ).reset_index()
        kind = grouped["kind"].astype(str)
        unknown = sorted(set(kind) - set(parameters.supervision_kinds))
        if unknown:
            raise CostingError(f"table 'supervision', column 'kind': no costing for the kind(s) {', '.join(unknown)}")
        spec = parameters.supervision_kinds
        hours = grouped["sum"].to_numpy(dtype="float64") / 60
        count = grouped["count"].to_numpy(dtype="float64")
        ratio = kind.map(lambda k: spec[k].supervisor_ratio.value).to_numpy(dtype="float64")
        fee = kind.map(lambda k: spec[k].fee_per_session.value).to_numpy(dtype="float64")
        for component, category, line_hours, line_sessions, amount in (
            ("ptp_session", kind.map(lambda k: spec[k].ptp_time_category), hours, count, hours * w_ptp),
            ("supervisor_session", kind.map(lambda k: spec[k].category), hours * ratio, 0.0, hours * ratio * w_sup),
            ("session_fee", kind.map(lambda k: spec[k].category), 0.0, count, count * fee),
        ):
            pieces.append(
                pd.DataFrame(
                    {
                        "territory_id": grouped["territory_id"], "period": grouped["period"], "component": component,
                        "category": category, "action_component": "all", "kind": grouped["kind"],
                        "hours": line_hours, "km": 0.0, "sessions": line_sessions, "amount_cad": amount,
                    }
                )
            )
    if not pieces:
        return _empty_lines()
    lines = pd.concat(pieces, ignore_index=True)
    lines = lines.astype({column: "string" for column in _LINE_KEYS} | {column: "float64" for column in _LINE_VALUES})
    order = lines["component"].map({name: rank for rank, name in enumerate(COMPONENTS)})
    lines = (
        lines.assign(_order=order)
        .sort_values(["territory_id", "period", "_order", "action_component", "kind"], kind="stable")
        .drop(columns="_order")
        .reset_index(drop=True)
    )
    return lines[_LINE_KEYS + _LINE_VALUES]


def contracted_costs(
    worker: pd.DataFrame, parameters: CostingParameters, *, periods: Sequence[str], end: Any
) -> pd.DataFrame:
    """Contracted PTP time per territory and quarter, priced at the loaded PTP wage.

    Parameters
    ----------
    worker : DataFrame
        The harmonised worker table (``territory_id``, ``start_date``, ``end_date``, ``weekly_hours``).
    parameters : CostingParameters
    periods : sequence of str, keyword-only
        Quarter labels (``2024-T1``) to cover.
    end : date-like, keyword-only
        End date of tenures still open, and the last day counted.

    Returns
    -------
    DataFrame
        ``territory_id``, ``period``, ``hours``, ``contracted_cad``.

    Notes
    -----
    For a tenure :math:`[s, e]` (:math:`e` = ``end`` when open) with weekly hours :math:`h` and a
    quarter :math:`[Q_s, Q_e]` (:math:`Q_e` at most ``end``):

    .. math:: C = w_P\\,\\frac{h}{7}\\,\\max\\big(0, \\min(e, Q_e) - \\max(s, Q_s) + 1\\big)
    """
    labels = sorted({str(period) for period in periods})
    columns = {"territory_id": pd.Series(dtype="string"), "period": pd.Series(dtype="string"),
               "hours": pd.Series(dtype="float64"), "contracted_cad": pd.Series(dtype="float64")}
    if not labels or not len(worker):
        return pd.DataFrame(columns)
    last = pd.Timestamp(end).normalize()
    starts = pd.PeriodIndex([label.replace("-T", "Q") for label in labels], freq="Q")
    q_start = starts.start_time.to_numpy(dtype="datetime64[ns]")
    q_end = np.minimum(starts.end_time.normalize().to_numpy(dtype="datetime64[ns]"), np.datetime64(last.to_datetime64()))
    start = pd.to_datetime(worker["start_date"]).to_numpy(dtype="datetime64[ns]")[:, None]
    stop = pd.to_datetime(worker["end_date"]).to_numpy(dtype="datetime64[ns]")
    stop = np.where(pd.isna(stop), np.datetime64(last.to_datetime64()), stop)[:, None]
    days = (np.minimum(stop, q_end[None, :]) - np.maximum(start, q_start[None, :])) / np.timedelta64(1, "D") + 1
    days = np.clip(days, 0, None)
    hours = days * (np.nan_to_num(_numbers(worker["weekly_hours"])) / 7.0)[:, None]
    frame = pd.DataFrame(
        {
            "territory_id": np.repeat(worker["territory_id"].astype("string").to_numpy(), len(labels)),
            "period": np.tile(np.array(labels, dtype=object), len(worker)),
            "hours": hours.reshape(-1),
        }
    ).astype({"territory_id": "string", "period": "string"})
    frame = frame.groupby(["territory_id", "period"], sort=True, observed=True)["hours"].sum().reset_index()
    frame = frame[frame["hours"] > 0].reset_index(drop=True)
    frame["contracted_cad"] = frame["hours"] * parameters.loaded_wage("ptp")
    return frame


def budget_costs(tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """The programme budgets (the ``cost`` table) summed per territory, quarter and category.

    Returns
    -------
    DataFrame
        ``territory_id``, ``period``, ``category``, ``budget_cad`` (nominal dollars of the
        period's year).
    """
    budget = _require(tables, "cost", ["territory_id", "period", "category", "amount_cad"])
    unknown = sorted(set(budget["category"].dropna().astype(str)) - set(COST_CATEGORIES))
    if unknown:
        raise CostingError(f"table 'cost', column 'category': unknown categor(ies) {', '.join(unknown)}")
    frame = pd.DataFrame(
        {
            "territory_id": budget["territory_id"].astype("string").to_numpy(),
            "period": budget["period"].astype("string").to_numpy(),
            "category": budget["category"].astype("string").to_numpy(),
            "budget_cad": np.nan_to_num(_numbers(budget["amount_cad"])),
        }
    )
    return frame.groupby(["territory_id", "period", "category"], sort=True, observed=True)["budget_cad"].sum().reset_index()


def reconcile(activity: pd.DataFrame, budget: pd.DataFrame, *, keys: Sequence[str] = ("territory_id",)) -> pd.DataFrame:
    """Activity-based cost beside the budget, per ``keys`` and cost category, with the gap.

    Parameters
    ----------
    activity : DataFrame
        Lines with ``keys``, ``category`` and ``amount_cad`` (:func:`activity_costs`), and
        optionally ``contracted_cad`` (category ``salaire_ptp``).
    budget : DataFrame
        ``keys``, ``category``, ``budget_cad`` (:func:`budget_costs`).
    keys : sequence of str, keyword-only
        Grouping columns besides the category (``territory_id``; add ``period`` for quarters).

    Returns
    -------
    DataFrame
        ``keys``, ``category``, ``activity_cad``, ``contracted_cad``, ``budget_cad``,
        ``gap_cad``, ``gap_pct`` and ``status``: ``costed`` (a budget line for a category the
        registry costs; no registry line counts as 0 $), ``budget_only`` (a category the
        registry cannot cost: :data:`BUDGET_ONLY_CATEGORIES`), ``activity_only`` (no budget line).

    Notes
    -----
    .. math:: \\text{gap} = C^{\\text{activity}} - B,\\qquad
              \\text{gap\\%} = 100\\,\\frac{C^{\\text{activity}} - B}{B}

    (missing when :math:`B = 0` or for a budget-only category, whose activity cost is missing:
    the registry does not cost it).
    """
    keys = list(keys)
    left = activity.groupby(keys + ["category"], sort=True, observed=True)["amount_cad"].sum().rename("activity_cad")
    frames = [left]
    if "contracted_cad" in activity.columns:
        frames.append(activity.groupby(keys + ["category"], sort=True, observed=True)["contracted_cad"].sum(min_count=1))
    right = budget.groupby(keys + ["category"], sort=True, observed=True)["budget_cad"].sum()
    table = pd.concat(frames + [right], axis=1).reset_index()
    if "contracted_cad" not in table.columns:
        table["contracted_cad"] = np.nan
    budget_only = table["category"].isin(BUDGET_ONLY_CATEGORIES)
    table.loc[budget_only, "activity_cad"] = np.nan
    has_budget = table["budget_cad"].notna()
    table["status"] = np.select([budget_only, has_budget], ["budget_only", "costed"], "activity_only")
    activity_value = table["activity_cad"].where(~budget_only)
    filled = activity_value.fillna(0.0).where(~budget_only)
    table["activity_cad"] = filled
    table["gap_cad"] = (filled - table["budget_cad"].fillna(0.0)).where(~budget_only)
    with np.errstate(divide="ignore", invalid="ignore"):
        pct = 100 * table["gap_cad"] / table["budget_cad"]
    table["gap_pct"] = pct.where(table["budget_cad"] > 0)
    order = table["category"].map({name: rank for rank, name in enumerate(COST_CATEGORIES)})
    table = table.assign(_order=order).sort_values(keys + ["_order"], kind="stable").drop(columns="_order")
    columns = keys + ["category", "activity_cad", "contracted_cad", "budget_cad", "gap_cad", "gap_pct", "status"]
    return table[columns].astype({"category": "string", "status": "string"}).reset_index(drop=True)


# ------------------------------------------------------------------------------ results
@dataclass
class CostingResults:
    """What :func:`cost` returns: activity-based costs, budgets, their reconciliation.

    Attributes
    ----------
    lines : DataFrame
        Activity-based lines per territory, quarter and component (:func:`activity_costs`), in
        dollars of ``price_year``.
    budget : DataFrame
        Budget per territory, quarter and category (:func:`budget_costs`), in dollars of
        ``price_year`` when a CPI was given, else nominal (``statistics['budget_prices']``).
    contracted : DataFrame
        Contracted PTP time per territory and quarter (:func:`contracted_costs`).
    territory : DataFrame
        ``territory_id``, ``region_code``, ``environment``, ``host_type``.
    price_year : int
    statistics : dict
        Counts and totals (activities, sessions, territories, quarters, placeholders...).
    parameters : CostingParameters
    """

    lines: pd.DataFrame
    budget: pd.DataFrame
    contracted: pd.DataFrame
    territory: pd.DataFrame
    price_year: int
    statistics: dict[str, Any] = field(default_factory=dict)
    parameters: CostingParameters | None = field(default=None, repr=False)

    # -- tables
    def _attributed(self, frame: pd.DataFrame) -> pd.DataFrame:
        return frame.merge(self.territory, on="territory_id", how="left", validate="many_to_one")

    def reconciliation(self, *, by_period: bool = False) -> pd.DataFrame:
        """Per territory (and quarter) and category: activity-based, contracted, budget, gap (see :func:`reconcile`)."""
        keys = ["territory_id", "period"] if by_period else ["territory_id"]
        return reconcile(self._activity_with_contracted(), self.budget, keys=keys)

    def _activity_with_contracted(self) -> pd.DataFrame:
        contracted = self.contracted.assign(category="salaire_ptp", amount_cad=0.0)[
            ["territory_id", "period", "category", "amount_cad", "contracted_cad"]
        ]
        lines = self.lines[["territory_id", "period", "category", "amount_cad"]].assign(contracted_cad=np.nan)
        return pd.concat([lines, contracted], ignore_index=True).astype({"territory_id": "string", "period": "string", "category": "string"})

    def by(self, level: str, *, by_period: bool = False) -> pd.DataFrame:
        """Reconciliation aggregated to ``level``.

        Parameters
        ----------
        level : str
            ``territory``, ``region``, ``environment``, ``host_type`` or ``quebec``.
        by_period : bool, keyword-only
            One row per quarter too.

        Returns
        -------
        DataFrame
            ``level`` column (absent for ``quebec``), ``period`` when asked, then ``category``,
            ``activity_cad``, ``contracted_cad``, ``budget_cad``, ``gap_cad``, ``gap_pct``, ``status``.
        """
        if level not in LEVELS:
            raise CostingError(f"unknown level {level!r}; the levels are {', '.join(LEVELS)}")
        column = LEVELS[level]
        activity = self._attributed(self._activity_with_contracted())
        budget = self._attributed(self.budget)
        keys = ([column] if column else []) + (["period"] if by_period else [])
        if not keys:
            activity = activity.assign(quebec="QC")
            budget = budget.assign(quebec="QC")
            keys = ["quebec"]
        table = reconcile(activity, budget, keys=keys)
        return table.drop(columns=["quebec"]) if "quebec" in table.columns else table

    def components(self, level: str = "quebec") -> pd.DataFrame:
        """Activity-based cost by component (and activity component or session kind) at ``level``."""
        if level not in LEVELS:
            raise CostingError(f"unknown level {level!r}; the levels are {', '.join(LEVELS)}")
        column = LEVELS[level]
        lines = self._attributed(self.lines)
        keys = ([column] if column else []) + ["component", "category", "action_component", "kind"]
        return lines.groupby(keys, sort=False, observed=True)[_LINE_VALUES].sum().reset_index()

    def scoped(self, *, strata: Sequence[str] = ("environment", "host_type")) -> pd.DataFrame:
        """Total cost per indicator scope cell (Québec, region, territory, and strata).

        Returns
        -------
        DataFrame
            ``scope``, ``scope_id``, ``stratum``, ``stratum_value`` (as the indicator tables),
            ``activity_cad`` (all components), ``budget_cad`` (all categories), ``price_year``.
        """
        from proximite.cohort.hierarchy import expand_scopes

        per_territory = pd.concat(
            [
                self.lines.groupby("territory_id", observed=True)["amount_cad"].sum().rename("activity_cad"),
                self.budget.groupby("territory_id", observed=True)["budget_cad"].sum(),
            ],
            axis=1,
        ).fillna(0.0).reset_index()
        per_territory["territory_id"] = per_territory["territory_id"].astype("string")
        expanded = expand_scopes(per_territory, self.territory, strata=strata)
        keys = ["scope", "scope_id", "stratum", "stratum_value"]
        table = expanded.groupby(keys, sort=False, observed=True)[["activity_cad", "budget_cad"]].sum().reset_index()
        table["price_year"] = self.price_year
        return table

    @property
    def summary(self) -> pd.DataFrame:
        """Québec reconciliation by category, with a ``total`` row (index ``category``)."""
        table = self.by("quebec").set_index("category")
        total = pd.DataFrame(
            {
                "activity_cad": [table["activity_cad"].sum(min_count=1)],
                "contracted_cad": [table["contracted_cad"].sum(min_count=1)],
                "budget_cad": [table["budget_cad"].sum(min_count=1)],
            },
            index=pd.Index(["total"], name="category"),
        )
        total["gap_cad"] = total["activity_cad"] - total["budget_cad"]
        total["gap_pct"] = 100 * total["gap_cad"] / total["budget_cad"] if float(total["budget_cad"].iloc[0] or 0) > 0 else np.nan
        total["status"] = "total"
        return pd.concat([table, total]).rename_axis("category")

    def __str__(self) -> str:
        head = f"Activity-based costing, CAD of {self.price_year}"
        stats = "  ".join(f"{name}: {value}" for name, value in self.statistics.items() if not isinstance(value, (list, dict)))
        lines = [head, stats, self.summary.to_string(float_format=lambda value: f"{value:,.2f}")]
        if self.statistics.get("placeholders"):
            lines.append(f"placeholder parameters: {', '.join(self.statistics['placeholders'])}")
        return "\n".join(lines)

    def plot(self, ax: Axes | None = None) -> Axes:
        """Activity-based cost beside the budget, by category (Québec), as horizontal bars."""
        import matplotlib.pyplot as plt

        table = self.by("quebec")
        if ax is None:
            _, ax = plt.subplots(figsize=(7, 0.6 + 0.5 * len(table)))
        positions = np.arange(len(table))
        ax.barh(positions - 0.2, table["budget_cad"].fillna(0).to_numpy(), height=0.4, label="budget")
        ax.barh(positions + 0.2, table["activity_cad"].fillna(0).to_numpy(), height=0.4, label="activity-based")
        ax.set_yticks(positions, table["category"].astype(str).tolist())
        ax.invert_yaxis()
        ax.set_xlabel(f"CAD ({self.price_year})")
        ax.legend()
        ax.set_title("Activity-based cost and budget by category", fontsize="medium")
        return ax

    def tables(self) -> dict[str, pd.DataFrame]:
        """Every table by name (aggregates only, no row of a family)."""
        return {
            "summary": self.summary.reset_index(),
            "reconciliation": self.reconciliation(),
            "by_region": self.by("region"),
            "by_environment": self.by("environment"),
            "by_host_type": self.by("host_type"),
            "components": self.components(),
            "lines": self.lines,
        }


def cost(
    tables: Mapping[str, pd.DataFrame],
    parameters: CostingParameters | None = None,
    *,
    price_year: int | None = None,
    cpi: pd.Series | pd.DataFrame | Mapping[int, float] | None = None,
    periods: Sequence[str] | None = None,
    end: Any = None,
) -> CostingResults:
    """Activity-based costs, contracted PTP time and budgets, reconciled, in one price year.

    Parameters
    ----------
    tables : mapping of str to DataFrame
        The harmonised tables (``activity``, ``supervision``, ``worker``, ``cost``,
        ``territory``), not modified.
    parameters : CostingParameters, optional
        Default: :func:`load_costing_parameters` (the shipped placeholders).
    price_year : int, optional, keyword-only
        Price year of the results (default ``parameters.price_year``); another year needs ``cpi``.
    cpi : Series, DataFrame or mapping, optional, keyword-only
        CPI by year (:func:`load_cpi`). With it, activity costs are inflated from
        ``parameters.price_year`` and budgets from their period's year to ``price_year``;
        without it budgets stay nominal.
    periods : sequence of str, optional, keyword-only
        Quarters (``2024-T1``) to keep (default: every quarter of the activities, sessions and
        budget).
    end : date-like, optional, keyword-only
        End of the data: open tenures run to it and contracted time stops there (default the
        latest activity or session date; without any, the last budget quarter's end).

    Returns
    -------
    CostingResults

    Notes
    -----
    Lines and budgets as in :func:`activity_costs`, :func:`contracted_costs` and
    :func:`budget_costs`, then :math:`A_{t} = A_{s}\\,\\mathrm{CPI}_t / \\mathrm{CPI}_s` (:func:`inflate`)
    with :math:`s` the wages' price year for the activity side and the quarter's year for the
    budget side.
    """
    parameters = parameters if parameters is not None else load_costing_parameters()
    target = int(price_year) if price_year is not None else parameters.price_year
    if target != parameters.price_year and cpi is None:
        raise CostingError(
            f"price year {target} differs from the parameters' price year {parameters.price_year}: pass cpi= (load_cpi())"
        )
    territory = _require(tables, "territory", ["territory_id", "region_code", "environment", "host_type"])
    attributes = territory[["territory_id", "region_code", "environment", "host_type"]].astype("string").copy()
    lines = activity_costs(tables, parameters)
    budget = budget_costs(tables)
    wanted = None if periods is None else {str(p) for p in periods}
    if wanted is not None:
        lines = lines[lines["period"].isin(wanted)].reset_index(drop=True)
        budget = budget[budget["period"].isin(wanted)].reset_index(drop=True)
    quarters = sorted(set(lines["period"].dropna()) | set(budget["period"].dropna()))
    if end is None:
        ends = [
            pd.to_datetime(tables["activity"]["activity_date"]).max(),
            pd.to_datetime(tables["supervision"]["session_date"]).max(),
        ]
        ends = [value for value in ends if not pd.isna(value)]
        if not ends and quarters:
            ends.append(pd.Period(quarters[-1].replace("-T", "Q"), freq="Q").end_time.normalize())
        end = max(ends) if ends else pd.Timestamp.today().normalize()
    worker = _require(tables, "worker", ["worker_id", "territory_id", "start_date", "end_date", "weekly_hours"])
    contracted = contracted_costs(worker, parameters, periods=quarters, end=end)
    budget_prices = "nominal"
    if cpi is not None:
        if target != parameters.price_year:
            lines = lines.assign(amount_cad=inflate(lines["amount_cad"], parameters.price_year, target, cpi))
            contracted = contracted.assign(contracted_cad=inflate(contracted["contracted_cad"], parameters.price_year, target, cpi))
        if len(budget):
            budget = budget.assign(budget_cad=inflate(budget["budget_cad"], _period_year(budget["period"]), target, cpi))
        budget_prices = f"CAD of {target}"
    unknown = sorted((set(lines["territory_id"]) | set(budget["territory_id"])) - set(attributes["territory_id"]))
    activity = tables["activity"]
    sessions = tables["supervision"]
    statistics: dict[str, Any] = {
        "price_year": target,
        "currency": "CAD",
        "budget_prices": budget_prices,
        "activities": len(activity),
        "sessions": len(sessions),
        "sessions_without_tenure": int(len(sessions) - len(session_territories(sessions, worker))),
        "territories": len(set(lines["territory_id"]) | set(budget["territory_id"])),
        "territories_unknown": len(unknown),
        "quarters": len(quarters),
        "first_quarter": quarters[0] if quarters else None,
        "last_quarter": quarters[-1] if quarters else None,
        "activity_cad": round(float(lines["amount_cad"].sum()), 2),
        "budget_cad": round(float(budget["budget_cad"].sum()), 2),
        "budget_only_categories": list(BUDGET_ONLY_CATEGORIES),
        "placeholders": parameters.placeholders(),
        "parameters_file": parameters.path,
    }
    return CostingResults(
        lines=lines, budget=budget, contracted=contracted, territory=attributes, price_year=target,
        statistics=statistics, parameters=parameters,
    )
