"""What every part of the synthetic cohort needs to know: seed, codebook, geography, calendar."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from proximite.cohort.codebook import Codebook

#: The pilot's 15 months at cruising speed (January 2024 to March 2025).
RECRUITMENT_START = "2024-01-01"
RECRUITMENT_END = "2025-03-31"


@dataclass
class Context:
    """Shared, read-only inputs of the generator's parts.

    Attributes
    ----------
    seed : int
    codebook : Codebook
    territories : DataFrame
        Sorted by ``territory_id``; its row position is the territory index used everywhere.
    organisations : DataFrame
        Sorted by ``org_id``, with ``territory_index`` added.
    waves : tuple of int
        Wave months, T0 first.
    wave_events : dict
        Wave month -> REDCap unique event name.
    isolation : dict
        The ``[isolation]`` configuration table.
    recruitment_start, recruitment_end : int
        Day numbers of the recruitment window.
    """

    seed: int
    codebook: Codebook
    territories: pd.DataFrame
    organisations: pd.DataFrame
    waves: tuple[int, ...]
    wave_events: dict[int, str]
    isolation: dict[str, Any]
    recruitment_start: int
    recruitment_end: int

    @property
    def n_territories(self) -> int:
        return len(self.territories)

    @property
    def environment(self) -> np.ndarray:
        """Environment code of each territory (by territory index)."""
        return self.territories["environment"].to_numpy(dtype=object)

    @property
    def partners(self) -> pd.DataFrame:
        """Partner organisations (hosts excluded), sorted by territory then org_id."""
        partners = self.organisations.loc[~self.organisations["is_host"].astype(bool)]
        return partners.sort_values(["territory_index", "org_id"], kind="stable").reset_index(drop=True)

    @property
    def host_org_ids(self) -> np.ndarray:
        """The host organisation's org_id of each territory (by territory index)."""
        hosts = self.organisations.loc[self.organisations["is_host"].astype(bool)].sort_values("territory_index")
        return hosts["org_id"].to_numpy(dtype=object)
