"""Seeded, vectorised sampling helpers shared by the synthetic cohort modules.

Every random draw of the generator comes from a named stream (:func:`stream`), so adding a
draw to one table never shifts the draws of another, and the same seed gives the same values.
Dates are handled as ``int64`` day numbers (days since 1970-01-01) and converted to ISO
strings only when a file is written.
"""

from __future__ import annotations

import datetime as dt
import zlib
from collections.abc import Sequence

import numpy as np
import pandas as pd

#: Day number used for a missing date.
NO_DATE = np.int64(-(2**40))

_EPOCH = dt.date(1970, 1, 1)


def stream(seed: int, name: str) -> np.random.Generator:
    """Independent generator for one named part of the cohort.

    Parameters
    ----------
    seed : int
        The cohort's seed.
    name : str
        Name of the part ("families", "needs", ...). ``zlib.crc32`` makes it a stable integer
        (Python's ``hash`` is salted per process and must not be used).
    """
    sequence = np.random.SeedSequence([int(seed) & 0xFFFFFFFF, int(seed) >> 32, zlib.crc32(name.encode("utf-8"))])
    return np.random.Generator(np.random.PCG64(sequence))


def day_number(value: dt.date | str) -> int:
    """Day number (days since 1970-01-01) of a date or an ISO ``YYYY-MM-DD`` string."""
    if isinstance(value, str):
        value = dt.date.fromisoformat(value)
    if isinstance(value, dt.datetime):
        value = value.date()
    return (value - _EPOCH).days


def to_date(day: int) -> dt.date:
    """Date of a day number."""
    return _EPOCH + dt.timedelta(days=int(day))


def iso_dates(days: np.ndarray) -> np.ndarray:
    """ISO ``YYYY-MM-DD`` strings (object array) of day numbers; ``""`` where missing."""
    days = np.asarray(days, dtype=np.int64)
    missing = days == NO_DATE
    text = np.datetime_as_string(np.where(missing, 0, days).astype("datetime64[D]"), unit="D").astype(object)
    text[missing] = ""
    return text


def month_start(days: np.ndarray) -> np.ndarray:
    """Day number of the first day of each day's month."""
    months = np.asarray(days, dtype=np.int64).astype("datetime64[D]").astype("datetime64[M]")
    return months.astype("datetime64[D]").astype(np.int64)


def add_months(days: np.ndarray, months: int) -> np.ndarray:
    """Same day of month ``months`` later (clipped to the month's last day)."""
    stamps = pd.to_datetime(np.asarray(days, dtype=np.int64), unit="D") + pd.DateOffset(months=int(months))
    return (stamps.to_numpy().astype("datetime64[D]")).astype(np.int64)


def categorical(rng: np.random.Generator, probabilities: Sequence[float] | np.ndarray, size: int) -> np.ndarray:
    """Indices drawn from one categorical distribution (probabilities need not sum to 1)."""
    weights = np.asarray(probabilities, dtype=float)
    cumulative = np.cumsum(weights / weights.sum())
    cumulative[-1] = 1.0
    return np.searchsorted(cumulative, rng.random(size), side="right").astype(np.int64)


def categorical_rows(rng: np.random.Generator, probabilities: np.ndarray) -> np.ndarray:
    """One index per row of a (rows × categories) probability matrix (rows need not sum to 1)."""
    weights = np.asarray(probabilities, dtype=float)
    cumulative = np.cumsum(weights, axis=1)
    totals = cumulative[:, -1:]
    cumulative = cumulative / np.where(totals > 0, totals, 1.0)
    draws = rng.random(len(weights))[:, None]
    return np.minimum((draws >= cumulative).sum(axis=1), weights.shape[1] - 1).astype(np.int64)


def top_k_mask(rng: np.random.Generator, log_weights: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Boolean (rows × categories) mask of ``k[i]`` categories drawn without replacement per row.

    Notes
    -----
    Gumbel-top-k: adding independent Gumbel noise to log-weights and keeping the ``k`` largest
    draws a weighted sample without replacement (Efraimidis–Spirakis), for every row at once.
    Categories with weight 0 (log-weight ``-inf``) are never drawn.
    """
    keys = log_weights + rng.gumbel(size=log_weights.shape)
    order = np.argsort(-keys, axis=1, kind="stable")
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.arange(log_weights.shape[1])[None, :].repeat(len(order), axis=0), axis=1)
    return (ranks < np.asarray(k)[:, None]) & np.isfinite(log_weights)


def truncated_exponential(rng: np.random.Generator, mean: np.ndarray | float, upper: np.ndarray | float) -> np.ndarray:
    """Exponential draws with the given mean, conditioned to fall in ``[0, upper]``.

    Notes
    -----
    Inverse CDF of the truncated law: ``x = -m log(1 - u (1 - exp(-U/m)))``.
    """
    mean, upper = np.broadcast_arrays(np.asarray(mean, dtype=float), np.maximum(np.asarray(upper, dtype=float), 0.0))
    u = rng.random(mean.shape)
    return -mean * np.log1p(-u * (-np.expm1(-upper / mean)))


def lognormal_median(rng: np.random.Generator, median: np.ndarray | float, sigma: float, size: int) -> np.ndarray:
    """Log-normal draws given the median (``exp(mu)``) and the log-scale ``sigma``."""
    return np.asarray(median, dtype=float) * np.exp(sigma * rng.standard_normal(size))


def largest_remainder(weights: Sequence[float] | np.ndarray, total: int) -> np.ndarray:
    """Integer apportionment of ``total`` proportional to ``weights`` (Hamilton's method)."""
    weights = np.asarray(weights, dtype=float)
    if total <= 0 or weights.sum() <= 0:
        return np.zeros(len(weights), dtype=np.int64)
    quotas = weights / weights.sum() * total
    counts = np.floor(quotas).astype(np.int64)
    remainder = int(total - counts.sum())
    # Ties broken by position so the result never depends on sort instability.
    order = np.lexsort((np.arange(len(weights)), -(quotas - counts)))
    counts[order[:remainder]] += 1
    return counts


def ranks_uniform(rng: np.random.Generator, latent: np.ndarray) -> np.ndarray:
    """Map a latent score to evenly spread uniforms ``(rank + U) / n`` (exact marginal shares)."""
    order = np.argsort(latent, kind="stable")
    ranks = np.empty(len(latent), dtype=np.int64)
    ranks[order] = np.arange(len(latent))
    return (ranks + rng.random(len(latent))) / max(len(latent), 1)


def segment_pick(segment: np.ndarray, cumulative: np.ndarray, query_segment: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Pick an item within a segment by weight, for many queries at once.

    Parameters
    ----------
    segment : ndarray of int
        Segment (e.g. territory index) of each item, sorted ascending.
    cumulative : ndarray of float
        Within-segment cumulative normalised weights of the items (each segment ends at 1).
    query_segment : ndarray of int
        Segment of each query.
    u : ndarray of float
        Uniform draws, one per query.

    Returns
    -------
    ndarray of int
        Position of the chosen item in the item arrays.

    Notes
    -----
    Keys ``segment + cumulative`` increase across the whole array, so one ``searchsorted`` on
    ``query_segment + u`` finds the item of every query in its own segment.
    """
    keys = segment.astype(float) + cumulative
    positions = np.searchsorted(keys, query_segment.astype(float) + u, side="right")
    return np.minimum(positions, len(keys) - 1)


def within_segment_cumulative(segment: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Cumulative weights normalised within each segment (``segment`` sorted ascending)."""
    weights = np.asarray(weights, dtype=float)
    totals = np.bincount(segment, weights=weights)
    cumulative = np.cumsum(weights)
    starts = np.r_[0.0, np.cumsum(totals)][segment]
    with np.errstate(invalid="ignore", divide="ignore"):
        result = (cumulative - starts) / totals[segment]
    return np.nan_to_num(result, nan=1.0)


def zero_pad(values: np.ndarray, width: int) -> np.ndarray:
    """Integers as zero-padded text (object array); wider numbers keep all their digits."""
    values = np.asarray(values, dtype=np.int64)
    if len(values) and values.max() >= 10**width:
        width = len(str(int(values.max())))
    padded = (values + 10**width).astype(str)
    return np.strings.slice(padded, 1, None).astype(object)


def concat_text(*parts: str | np.ndarray) -> np.ndarray:
    """Element-wise concatenation of text arrays and constant strings (object array).

    The additions run in numpy's object loop (C), not in a Python loop over rows.
    """
    arrays = [np.asarray(part, dtype=object) if not isinstance(part, str) else part for part in parts]
    result = arrays[0]
    for part in arrays[1:]:
        result = np.add(result, part)
    return np.asarray(result, dtype=object)


def round_or_none(value: float | None, digits: int = 6) -> float | None:
    """A figure of ``truth.json``: rounded to ``digits``, None when missing or not finite."""
    if value is None:
        return None
    value = float(value)
    if not np.isfinite(value):
        return None
    return round(value, digits)
