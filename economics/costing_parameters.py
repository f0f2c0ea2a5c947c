"""The costing parameters (``economics/params/costing.yaml``): sourced wages, loadings, km rate and
the costing of each supervision kind, validated with messages that name the file, the key and the rule.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from proximite.economics.costing_base import BUDGET_ONLY_CATEGORIES, COST_CATEGORIES, SUPERVISION_KINDS, CostingError

__all__ = [
    "DEFAULT_COSTING_PATH",
    "CostingParameters",
    "ParameterValue",
    "SupervisionKind",
    "load_costing_parameters",
    "parse_costing_parameters",
]

#: The shipped costing parameters (placeholders until the research team sets them).
DEFAULT_COSTING_PATH: Path = Path(__file__).parent / "params" / "costing.yaml"


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
