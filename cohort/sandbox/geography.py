"""Synthetic territories and organisations (hosts and partners) for the synthetic cohort.

The default call reproduces the pilot's geography: 50 territories in 13 of Québec's 17
administrative regions, hosted by 41 OCF, 7 CPSC and 2 OCF+CPSC. The codebook's default
reference files (``cohort/codebook/reference/territories.csv`` and ``organisations.csv``) are
this module's output for the default seed; regenerate them with::

    python -m proximite.cohort.sandbox.geography --write-reference
"""

from __future__ import annotations

import argparse
import unicodedata
from pathlib import Path

import numpy as np
import pandas as pd

from proximite.cohort.sandbox._sampling import largest_remainder, stream

__all__ = [
    "make_territories",
    "make_organisations",
    "write_reference",
    "PILOT_TERRITORIES",
    "PILOT_REGIONS",
    "PILOT_HOST_TYPES",
    "PARTNER_CLASSES",
    "DEFAULT_SEED",
]

#: The pilot's calibration (evaluation report, 2022–2025).
PILOT_TERRITORIES = 50
PILOT_REGIONS = 13
PILOT_HOST_TYPES = {"OCF": 41, "CPSC": 7, "OCF_CPSC": 2}
DEFAULT_SEED = 20240101

TERRITORY_COLUMNS = ["territory_id", "name", "region_code", "environment", "host_type", "redcap_dag"]
ORGANISATION_COLUMNS = ["org_id", "name", "territory_id", "network", "mission", "is_host"]

ENVIRONMENTS = ("urbain", "mixte", "rural")

# P(urbain, mixte, rural) of a territory by kind of region: Montréal and Laval are almost all
# urban; the remote regions mostly rural (focus groups: long travel, few resources).
_REGION_KIND = {
    "06": "urban_core",
    "13": "urban_core",
    "03": "urban_mixed",
    "05": "urban_mixed",
    "07": "urban_mixed",
    "14": "urban_mixed",
    "15": "urban_mixed",
    "16": "urban_mixed",
    "02": "intermediate",
    "04": "intermediate",
    "12": "intermediate",
    "17": "intermediate",
    "01": "remote",
    "08": "remote",
    "09": "remote",
    "10": "remote",
    "11": "remote",
}
ENVIRONMENT_PROBABILITIES = {
    "urban_core": (0.90, 0.10, 0.00),
    "urban_mixed": (0.40, 0.35, 0.25),
    "intermediate": (0.20, 0.35, 0.45),
    "remote": (0.05, 0.20, 0.75),
}
# CPSC are mostly urban: weight of each environment when CPSC host slots are drawn.
_CPSC_ENVIRONMENT_WEIGHT = {"urbain": 3.0, "mixte": 1.5, "rural": 1.0}

# Partners per territory by environment (inclusive bounds): rural territories have fewer.
PARTNER_COUNT_RANGE = {"urbain": (11, 15), "mixte": (9, 12), "rural": (8, 10)}

#: Kinds of partner organisation: (network, mission) -> (weight when drawing a territory's
#: non-core partners, French name stems). Every territory gets the core partners below, then
#: draws the rest from these weights.
PARTNER_CLASSES: dict[tuple[str, str], tuple[float, tuple[str, ...]]] = {
    ("communautaire", "famille_enfance"): (
        5.0,
        (
            "Carrefour familial",
            "Joujouthèque",
            "Maison des parents",
            "Centre de ressources familiales",
            "Entraide parents",
        ),
    ),
    ("communautaire", "aide_materielle_alimentation"): (
        4.0,
        ("Banque alimentaire", "Comptoir alimentaire", "Friperie", "Cuisines collectives", "Magasin-partage"),
    ),
    ("communautaire", "immigration"): (2.0, ("Accueil des nouveaux arrivants", "Centre multiethnique")),
    ("communautaire", "logement"): (1.6, ("Comité logement", "Association des locataires")),
    ("communautaire", "sante_mentale"): (1.4, ("Centre d'écoute", "Ressource alternative en santé mentale")),
    ("communautaire", "perinatalite"): (1.2, ("Relevailles", "Centre de ressources périnatales")),
    ("communautaire", "employabilite"): (1.0, ("Carrefour jeunesse-emploi", "Service d'aide à l'emploi")),
    ("communautaire", "autre"): (0.8, ("Centre communautaire", "Centre de loisirs")),
    ("services_garde", "famille_enfance"): (1.2, ("CPE", "Bureau coordonnateur de la garde")),
    ("public_sss", "perinatalite"): (1.0, ("CLSC, services périnatalité", "Services intégrés en périnatalité")),
    ("public_sss", "sante_mentale"): (1.0, ("CLSC, santé mentale", "Guichet d'accès en santé mentale")),
    ("public_sss", "autre"): (0.8, ("CLSC", "CIUSSS, point de service")),
    ("protection_jeunesse", "autre"): (0.7, ("DPJ, bureau", "Centre jeunesse")),
    ("education", "autre"): (0.8, ("École primaire", "Centre de services scolaire")),
    ("municipal", "autre"): (0.6, ("Bibliothèque municipale", "Service des loisirs")),
    ("employabilite", "employabilite"): (0.6, ("Services Québec", "Centre local d'emploi")),
    ("logement", "logement"): (0.6, ("Office municipal d'habitation", "Coopérative d'habitation")),
    ("immigration", "immigration"): (
        0.5,
        ("Programme régional d'accueil et d'intégration", "Bureau d'intégration des nouveaux arrivants"),
    ),
}
# Every territory has these partners (its food bank, family organisations and CLSC).
_CORE_PARTNERS = {
    "urbain": (
        ("communautaire", "famille_enfance"),
        ("communautaire", "famille_enfance"),
        ("communautaire", "famille_enfance"),
        ("communautaire", "aide_materielle_alimentation"),
        ("communautaire", "aide_materielle_alimentation"),
        ("public_sss", "autre"),
    ),
    "mixte": (
        ("communautaire", "famille_enfance"),
        ("communautaire", "famille_enfance"),
        ("communautaire", "aide_materielle_alimentation"),
        ("communautaire", "aide_materielle_alimentation"),
        ("public_sss", "autre"),
    ),
    "rural": (
        ("communautaire", "famille_enfance"),
        ("communautaire", "famille_enfance"),
        ("communautaire", "aide_materielle_alimentation"),
        ("public_sss", "autre"),
    ),
}
_HOST_NAME = {
    "OCF": "Maison de la famille",
    "CPSC": "Centre de pédiatrie sociale",
    "OCF_CPSC": "Maison de la famille et pédiatrie sociale",
}

# Synthetic place names: no list of real municipalities, but names that read like Québec's.
_PLACE_PREFIXES = (
    "Saint-",
    "Val-",
    "Mont-",
    "Lac-",
    "Pointe-",
    "Rivière-",
    "Cap-",
    "Port-",
    "Grand-",
    "Bois-",
    "Haut-",
    "Petit-",
)
_PLACE_STEMS = (
    "Aubert",
    "Bélair",
    "Beaulac",
    "Clairval",
    "Desrosiers",
    "Fontaine",
    "Gagnon",
    "Hébert",
    "Laurier",
    "Lemieux",
    "Marcotte",
    "Ouellet",
    "Pelletier",
    "Roussel",
    "Simard",
    "Tremblay",
    "Vachon",
    "Verdier",
    "Bouchard",
    "Cormier",
    "Dufresne",
    "Lavoie",
    "Morin",
    "Paradis",
    "Rivard",
    "Thibault",
    "Boisvert",
    "Champagne",
    "Doucet",
    "Gauthier",
    "Labelle",
    "Nadeau",
    "Poirier",
    "Rochon",
    "Sauvé",
    "Turcotte",
    "Vézina",
    "Blanchard",
    "Caron",
    "Dubé",
    "Lachance",
    "Mercier",
    "Brisson",
    "Côté",
    "Fortier",
)
_URBAN_PREFIXES = ("Quartier ", "Secteur ", "Faubourg ", "Plateau-", "Village-")


def _region_count(n_territories: int, n_available: int) -> int:
    """Regions covered: the pilot's 13 at its 50 territories, else one per territory up to all 17."""
    if n_territories == PILOT_TERRITORIES:
        return min(PILOT_REGIONS, n_available)
    return min(n_territories, n_available)


def _host_type_counts(n_territories: int) -> dict[str, int]:
    counts = largest_remainder(list(PILOT_HOST_TYPES.values()), n_territories)
    return dict(zip(PILOT_HOST_TYPES, (int(count) for count in counts)))


def _place_names(rng: np.random.Generator, environments: np.ndarray) -> np.ndarray:
    """One unique synthetic place name per territory (urban ones read like neighbourhoods)."""
    names: list[str] = []
    used: set[str] = set()
    rural_pool = [prefix + stem for prefix in _PLACE_PREFIXES for stem in _PLACE_STEMS]
    urban_pool = [prefix + stem for prefix in _URBAN_PREFIXES for stem in _PLACE_STEMS]
    rural_order = rng.permutation(len(rural_pool))
    urban_order = rng.permutation(len(urban_pool))
    positions = {"rural": 0, "urbain": 0}
    for environment in environments:
        pool, order, key = (
            (urban_pool, urban_order, "urbain") if environment == "urbain" else (rural_pool, rural_order, "rural")
        )
        base = pool[order[positions[key] % len(pool)]]
        # Past the pool's size, later rounds carry a number so names stay unique.
        round_number = positions[key] // len(pool)
        positions[key] += 1
        name = base if round_number == 0 else f"{base} {round_number + 1}"
        while name in used:
            round_number += 1
            name = f"{base} {round_number + 1}"
        used.add(name)
        names.append(name)
    return np.array(names, dtype=object)


def make_territories(
    n_territories: int = PILOT_TERRITORIES,
    *,
    seed: int = DEFAULT_SEED,
    regions: pd.DataFrame | None = None,
    n_regions: int | None = None,
) -> pd.DataFrame:
    """Draw the territories of a synthetic cohort.

    Parameters
    ----------
    n_territories : int
        Number of territories (the pilot had 50; the province scale is 300).
    seed : int, keyword-only
        Seed; the same seed gives the same territories.
    regions : DataFrame, optional, keyword-only
        Regions with ``region_code`` and ``children_0_5`` (default: the codebook's 17 regions).
    n_regions : int, optional, keyword-only
        Regions covered. Default: 13 at the pilot's 50 territories (its published figure),
        otherwise ``min(n_territories, 17)`` so that every region is covered once
        ``n_territories >= 17``.

    Returns
    -------
    DataFrame
        ``territory_id`` (``T06-01`` = region 06, territory 1), ``name``, ``region_code``,
        ``environment`` (urbain, mixte, rural), ``host_type`` (OCF, CPSC, OCF_CPSC) and
        ``redcap_dag`` (``t06_01``: REDCap's unique group name), sorted by ``territory_id``.

    Notes
    -----
    Regions are drawn without replacement with probability proportional to their children
    aged 0–5 (Gumbel-top-k). Each covered region gets one territory, and the rest are
    apportioned proportionally to children 0–5 (largest remainder). Host types are apportioned
    as in the pilot (41 : 7 : 2) by largest remainder, so 50 territories give exactly 41 OCF,
    7 CPSC and 2 OCF+CPSC; CPSC slots go preferentially to urban territories. Each territory's
    environment is drawn from its region's kind (Montréal and Laval mostly urban, remote
    regions mostly rural).
    """
    if n_territories < 1:
        raise ValueError(f"n_territories must be at least 1 (got {n_territories})")
    if regions is None:
        from proximite.cohort.codebook import load_codebook

        regions = load_codebook().regions
    regions = regions.sort_values("region_code").reset_index(drop=True)
    rng = stream(seed, "geography.territories")
    children = regions["children_0_5"].astype(float).to_numpy()
    k = n_regions if n_regions is not None else _region_count(n_territories, len(regions))
    if not 1 <= k <= min(n_territories, len(regions)):
        raise ValueError(f"n_regions must be between 1 and {min(n_territories, len(regions))} (got {k})")

    keys = np.log(children) + rng.gumbel(size=len(children))
    chosen = np.sort(np.argsort(-keys, kind="stable")[:k])
    per_region = 1 + largest_remainder(children[chosen], n_territories - k)

    region_codes = np.repeat(regions["region_code"].to_numpy()[chosen], per_region)
    numbers = np.concatenate([np.arange(1, count + 1) for count in per_region])
    width = max(2, len(str(int(per_region.max()))))
    territory_ids = np.array(
        [f"T{code}-{number:0{width}d}" for code, number in zip(region_codes, numbers)], dtype=object
    )
    dags = np.array([f"t{code}_{number:0{width}d}" for code, number in zip(region_codes, numbers)], dtype=object)

    probabilities = np.array(
        [ENVIRONMENT_PROBABILITIES[_REGION_KIND.get(code, "intermediate")] for code in region_codes]
    )
    cumulative = probabilities.cumsum(axis=1)
    environment_index = np.minimum((rng.random(n_territories)[:, None] >= cumulative).sum(axis=1), 2)
    environments = np.array(ENVIRONMENTS, dtype=object)[environment_index]

    host_counts = _host_type_counts(n_territories)
    host_keys = np.log([_CPSC_ENVIRONMENT_WEIGHT[env] for env in environments]) + rng.gumbel(size=n_territories)
    order = np.argsort(-host_keys, kind="stable")
    host_types = np.full(n_territories, "OCF", dtype=object)
    host_types[order[: host_counts["CPSC"]]] = "CPSC"
    host_types[order[host_counts["CPSC"] : host_counts["CPSC"] + host_counts["OCF_CPSC"]]] = "OCF_CPSC"

    names = _place_names(rng, environments)
    frame = pd.DataFrame(
        {
            "territory_id": territory_ids,
            "name": names,
            "region_code": region_codes.astype(object),
            "environment": environments,
            "host_type": host_types,
            "redcap_dag": dags,
        },
        columns=TERRITORY_COLUMNS,
    )
    return frame.sort_values("territory_id", kind="stable").reset_index(drop=True)


def _unique_name(base: str, used: set[str]) -> str:
    name, number = base, 2
    while name in used:
        name = f"{base} ({number})"
        number += 1
    used.add(name)
    return name


def make_organisations(territories: pd.DataFrame, *, seed: int = DEFAULT_SEED) -> pd.DataFrame:
    """Draw the host and partner organisations of each territory.

    Parameters
    ----------
    territories : DataFrame
        Output of :func:`make_territories` (``territory_id``, ``name``, ``environment``,
        ``host_type``).
    seed : int, keyword-only
        Seed; the same seed and territories give the same organisations.

    Returns
    -------
    DataFrame
        ``org_id`` (``O06-01-00`` is the host of T06-01; ``O06-01-01``… its partners),
        ``name``, ``territory_id``, ``network``, ``mission``, ``is_host`` (bool), sorted by
        ``org_id``.

    Notes
    -----
    The host is a community organisation with a family–childhood mission (network
    ``communautaire``, mission ``famille_enfance``). Partners number 11–15 in urban,
    9–12 in mixed and 8–10 in rural territories (uniform). Every territory has core partners
    (two or three family organisations, one or two material-aid or food organisations and a
    CLSC); the others are drawn from :data:`PARTNER_CLASSES`' weights.
    """
    rng = stream(seed, "geography.organisations")
    classes = list(PARTNER_CLASSES)
    class_weights = np.array([PARTNER_CLASSES[c][0] for c in classes])
    rows: list[dict[str, object]] = []
    for territory in territories.sort_values("territory_id", kind="stable").itertuples(index=False):
        stem = str(territory.territory_id)[1:]
        place = str(territory.name)
        used: set[str] = set()
        rows.append(
            {
                "org_id": f"O{stem}-00",
                "name": _unique_name(f"{_HOST_NAME[str(territory.host_type)]} {place}", used),
                "territory_id": territory.territory_id,
                "network": "communautaire",
                "mission": "famille_enfance",
                "is_host": True,
            }
        )
        low, high = PARTNER_COUNT_RANGE[str(territory.environment)]
        n_partners = int(rng.integers(low, high + 1))
        core = list(_CORE_PARTNERS[str(territory.environment)])
        drawn = rng.choice(len(classes), size=max(n_partners - len(core), 0), p=class_weights / class_weights.sum())
        kinds = core + [classes[i] for i in np.sort(drawn)]
        name_draws = rng.integers(0, 1000, size=len(kinds))
        for number, (kind, name_draw) in enumerate(zip(kinds, name_draws), start=1):
            stems = PARTNER_CLASSES[kind][1]
            rows.append(
                {
                    "org_id": f"O{stem}-{number:02d}",
                    "name": _unique_name(f"{stems[int(name_draw) % len(stems)]} {place}", used),
                    "territory_id": territory.territory_id,
                    "network": kind[0],
                    "mission": kind[1],
                    "is_host": False,
                }
            )
    frame = pd.DataFrame(rows, columns=ORGANISATION_COLUMNS)
    return frame.sort_values("org_id", kind="stable").reset_index(drop=True)


def ascii_slug(text: str) -> str:
    """Lowercase ASCII letters and digits of a text (accents dropped), for fake e-mails."""
    normalised = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in normalised.lower() if ch.isascii() and ch.isalnum())


def reference_frames(territories: pd.DataFrame, organisations: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The territories and organisations as written to reference CSV files (``is_host`` 1/0)."""
    organisations = organisations.copy()
    organisations["is_host"] = organisations["is_host"].astype(bool).map({True: "1", False: "0"})
    return territories[TERRITORY_COLUMNS].copy(), organisations[ORGANISATION_COLUMNS]


def write_reference(
    directory: str | Path | None = None, *, seed: int = DEFAULT_SEED, n_territories: int = PILOT_TERRITORIES
) -> list[Path]:
    """Write ``territories.csv`` and ``organisations.csv`` (the codebook's defaults).

    Parameters
    ----------
    directory : str or Path, optional
        Target folder (default: the codebook's ``reference/`` folder).
    seed, n_territories : int, keyword-only
        As for :func:`make_territories`; the defaults give the codebook's reference files.

    Returns
    -------
    list of Path
        The files written.
    """
    if directory is None:
        from proximite.cohort.codebook import load_codebook

        directory = Path(load_codebook().directory) / "reference"
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    territories = make_territories(n_territories, seed=seed)
    organisations = make_organisations(territories, seed=seed)
    territory_frame, organisation_frame = reference_frames(territories, organisations)
    paths = [directory / "territories.csv", directory / "organisations.csv"]
    territory_frame.to_csv(paths[0], index=False, encoding="utf-8", lineterminator="\n")
    organisation_frame.to_csv(paths[1], index=False, encoding="utf-8", lineterminator="\n")
    return paths


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python -m proximite.cohort.sandbox.geography --write-reference``."""
    parser = argparse.ArgumentParser(description="Synthetic territories and organisations of the Proximité cohort.")
    parser.add_argument("--write-reference", action="store_true", help="write the codebook's default reference files")
    parser.add_argument(
        "--out", type=Path, default=None, help="folder to write to (default: the codebook's reference/)"
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--territories", type=int, default=PILOT_TERRITORIES)
    arguments = parser.parse_args(argv)
    if not arguments.write_reference:
        parser.print_help()
        return 2
    for path in write_reference(arguments.out, seed=arguments.seed, n_territories=arguments.territories):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
