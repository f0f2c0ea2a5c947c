"""Fake identities of the synthetic families: names, phone, e-mail, address, postal code.

Drawn from short lists and reserved ranges, so they can never be a real person's.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from proximite.cohort.sandbox._context import Context
from proximite.cohort.sandbox._sampling import concat_text, stream, zero_pad
from proximite.cohort.sandbox.geography import ascii_slug

# Fake identities: first names and surnames common in Québec, and streets.
_FIRST_NAMES = np.array(
    [
        "Marie",
        "Julie",
        "Sophie",
        "Isabelle",
        "Mélanie",
        "Stéphanie",
        "Karine",
        "Émilie",
        "Valérie",
        "Annie",
        "Catherine",
        "Geneviève",
        "Audrey",
        "Jessica",
        "Amélie",
        "Vanessa",
        "Fatima",
        "Amina",
        "Maria",
        "Ana",
        "Sarah",
        "Nadia",
        "Samira",
        "Yasmine",
        "Claudia",
        "Nathalie",
        "Kim",
        "Josée",
        "Caroline",
        "Mireille",
        "Mathieu",
        "Jonathan",
        "Patrick",
        "Samuel",
        "Mohamed",
        "Carlos",
        "David",
        "Kevin",
        "Maxime",
        "Alexandre",
    ],
    dtype=object,
)
_SURNAMES = np.array(
    [
        "Tremblay",
        "Gagnon",
        "Roy",
        "Côté",
        "Bouchard",
        "Gauthier",
        "Morin",
        "Lavoie",
        "Fortin",
        "Gagné",
        "Ouellet",
        "Pelletier",
        "Bélanger",
        "Lévesque",
        "Bergeron",
        "Leblanc",
        "Paquette",
        "Girard",
        "Simard",
        "Boucher",
        "Caron",
        "Beaulieu",
        "Cloutier",
        "Dubé",
        "Poirier",
        "Fournier",
        "Lapointe",
        "Leclerc",
        "Lefebvre",
        "Poulin",
        "Nguyen",
        "Diallo",
        "Traoré",
        "Rodriguez",
        "Haddad",
        "Benali",
        "Joseph",
        "Pierre",
        "Santos",
        "Kaur",
    ],
    dtype=object,
)
_STREETS = np.array(
    [
        "rue des Érables",
        "rue Principale",
        "avenue du Parc",
        "rue Saint-Jean",
        "boulevard des Laurentides",
        "rue de l'Église",
        "rue des Pins",
        "avenue des Cèdres",
        "rue Notre-Dame",
        "chemin du Lac",
        "rue Sainte-Catherine",
        "rue des Bouleaux",
        "avenue Laurier",
        "rue du Moulin",
        "rang Saint-Joseph",
    ],
    dtype=object,
)
_REGION_CODES = [f"{code:02d}" for code in range(1, 18)]
# Telephone area code and first letter of the postal code by region (418/G in the east,
# 514/H in Montréal, 450/J around it, 819 in the west and north).
_AREA_BY_REGION = np.array(
    [
        "418",
        "418",
        "418",
        "819",
        "819",
        "514",
        "819",
        "819",
        "418",
        "819",
        "418",
        "418",
        "450",
        "450",
        "450",
        "450",
        "819",
    ],
    dtype=object,
)
_POSTAL_BY_REGION = np.array(
    ["G", "G", "G", "G", "J", "H", "J", "J", "G", "J", "G", "G", "H", "J", "J", "J", "J"], dtype=object
)
_POSTAL_LETTERS = np.array(list("ABCEGHJKLMNPRSTVWXYZ"), dtype=object)


def add_identities(ctx: Context, families: pd.DataFrame, children: pd.DataFrame) -> pd.DataFrame:
    """Fake identifier fields (names, phone, e-mail, address, postal code, parent's birth date).

    The values are drawn from short lists and reserved ranges (555-01xx phone numbers, the
    ``.example`` mail domain), so they can never be a real person's.
    """
    rng = stream(ctx.seed, "identities")
    n = len(families)
    first_index = rng.integers(0, len(_FIRST_NAMES), n)
    last_index = rng.integers(0, len(_SURNAMES), n)
    first, last = _FIRST_NAMES[first_index], _SURNAMES[last_index]
    region = pd.Categorical(families["region_code"].to_numpy(dtype=object), categories=_REGION_CODES)
    area = _AREA_BY_REGION[region.codes]
    phone = concat_text("(", area, ") 555-01", zero_pad(rng.integers(0, 100, n), 2))
    first_slug = np.array([ascii_slug(name) for name in _FIRST_NAMES], dtype=object)[first_index]
    last_slug = np.array([ascii_slug(name) for name in _SURNAMES], dtype=object)[last_index]
    email = concat_text(first_slug, ".", last_slug, rng.integers(1, 100, n).astype(str), "@courriel.example")
    email[rng.random(n) >= 0.7] = ""
    place = ctx.territories["name"].to_numpy(dtype=object)[families["territory_index"].to_numpy()]
    street = _STREETS[rng.integers(0, len(_STREETS), n)]
    address = concat_text(rng.integers(10, 9999, n).astype(str), ", ", street, ", ", place)
    letters = _POSTAL_LETTERS[rng.integers(0, len(_POSTAL_LETTERS), (n, 2))]
    digits = rng.integers(0, 10, (n, 3)).astype(str)
    postal = concat_text(
        _POSTAL_BY_REGION[region.codes], digits[:, 0], letters[:, 0], " ", digits[:, 1], letters[:, 1], digits[:, 2]
    )
    # The parent is at least 17 years older than the eldest child, and 18 to 50 years old.
    eldest_age = np.zeros(n)
    ages = (
        families["first_contact"].to_numpy()[children["family_index"].to_numpy()] - children["birth"].to_numpy()
    ) / 365.25
    np.maximum.at(eldest_age, children["family_index"].to_numpy(), ages)
    parent_age = np.clip(np.maximum(18 + 14 * rng.random(n), eldest_age + 17 + 8 * rng.random(n)), 18, 55)
    parent_birth = families["first_contact"].to_numpy() - np.round(parent_age * 365.25).astype(np.int64)
    return families.assign(
        parent_first_name=first,
        parent_last_name=last,
        phone=phone,
        email=email,
        address=address,
        postal_code=postal,
        parent_birth=parent_birth,
    )



def fake_respondents(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Full names and e-mails (``.example`` domain) of ``n`` fake questionnaire respondents."""
    first_index = rng.integers(0, len(_FIRST_NAMES), n)
    last_index = rng.integers(0, len(_SURNAMES), n)
    names = concat_text(_FIRST_NAMES[first_index], " ", _SURNAMES[last_index])
    first_slug = np.array([ascii_slug(name) for name in _FIRST_NAMES], dtype=object)[first_index]
    last_slug = np.array([ascii_slug(name) for name in _SURNAMES], dtype=object)[last_index]
    emails = concat_text(first_slug, ".", last_slug, "@organisme.example")
    return names, emails
