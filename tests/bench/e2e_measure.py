"""What the end-to-end benchmark measures: a process tree's memory and CPU, and layer 04's equality.

- :class:`TreeSampler` samples a process and all its descendants every ``interval`` seconds
  (psutil): the sum of their resident set sizes, and their CPU time so far (user + system, each
  process's last reading kept after it exits, so the series never goes down).
- :func:`window_figures` turns the samples into one stage's figures: the peak of the summed RSS
  inside the stage's window and its CPU % (CPU seconds of the tree over wall seconds; 200 % is
  two cores busy).
- :func:`compare_indicators` compares two indicator tables cell by cell, rows paired on the
  indicator's identity (scope, stratum, wave, period, breakdown, indicator).

The summed RSS counts a page shared by two processes twice: it is an upper bound of the memory
the run needs, the conservative reading of DESIGN's "peak over all processes".
"""

from __future__ import annotations

import bisect
import math
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import psutil

from proximite.indicators.base import INDICATOR_COLUMNS

#: Floats equal within this relative tolerance count as the same cell.
FLOAT_REL_TOL = 1e-9
#: The columns that name a row of an indicator table (what is measured, where, when, for whom).
INDICATOR_KEYS = INDICATOR_COLUMNS[: INDICATOR_COLUMNS.index("indicator") + 1]


@dataclass
class TreeSampler:
    """Sample the process tree rooted at ``pid`` in a daemon thread until :meth:`stop`.

    Parameters
    ----------
    pid : int
        The root of the tree (the benchmark's worker process).
    interval : float
        Seconds between samples.

    Attributes
    ----------
    samples : list of tuple
        ``(epoch seconds, summed RSS in bytes, tree CPU seconds so far)``, in time order.
    """

    pid: int
    interval: float = 0.2
    samples: list[tuple[float, int, float]] = field(default_factory=list)
    _cpu: dict[tuple[int, float], float] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _root: psutil.Process | None = None

    def start(self) -> TreeSampler:
        """Take a first sample and start sampling in the background; returns ``self``."""
        self._root = psutil.Process(self.pid)
        self.sample()
        self._thread = threading.Thread(target=self._loop, name="tree-sampler", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> list[tuple[float, int, float]]:
        """Stop sampling (after one last sample if the root still runs); returns the samples."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        return self.samples

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            if not self.sample():
                return

    def sample(self) -> bool:
        """Add one sample; False once the root process is gone."""
        root = self._root or psutil.Process(self.pid)
        try:
            tree = [root, *root.children(recursive=True)]
        except psutil.Error:
            return False
        rss = 0
        for process in tree:
            try:
                with process.oneshot():
                    memory, times = process.memory_info(), process.cpu_times()
                    # (pid, create time) names a process even if its pid is reused later.
                    key = (process.pid, process.create_time())
            except psutil.Error:  # exited between the listing and the reading
                continue
            rss += memory.rss
            self._cpu[key] = times.user + times.system
        self.samples.append((time.time(), rss, sum(self._cpu.values())))
        return True


def _cpu_at(samples: list[tuple[float, int, float]], moment: float) -> float:
    """The tree's CPU seconds at ``moment``, interpolated between the samples around it."""
    times = [sample[0] for sample in samples]
    index = bisect.bisect_left(times, moment)
    if index == 0:
        return samples[0][2]
    if index == len(samples):
        return samples[-1][2]
    (t0, _, c0), (t1, _, c1) = samples[index - 1], samples[index]
    return c0 + (c1 - c0) * ((moment - t0) / (t1 - t0) if t1 > t0 else 1.0)


def window_figures(samples: list[tuple[float, int, float]], start: float, end: float) -> dict[str, float | None]:
    """CPU % and peak RSS (MB) of the tree between ``start`` and ``end`` (epoch seconds).

    The peak reads the samples inside the window and the one on either side of it, so that a
    window shorter than the sampling interval still has one.

    Parameters
    ----------
    samples : list of tuple
        :attr:`TreeSampler.samples`.
    start, end : float
        The stage's window.

    Returns
    -------
    dict
        ``{"cpu_percent", "peak_rss_mb"}``; None when there is no sample at all.
    """
    if not samples:
        return {"cpu_percent": None, "peak_rss_mb": None}
    times = [sample[0] for sample in samples]
    first = max(bisect.bisect_left(times, start) - 1, 0)
    last = min(bisect.bisect_right(times, end), len(samples) - 1)
    inside = [sample[1] for sample in samples[first : last + 1]]
    wall = end - start
    cpu = _cpu_at(samples, end) - _cpu_at(samples, start)
    return {
        "cpu_percent": round(100 * cpu / wall, 1) if wall > 0 else None,
        "peak_rss_mb": round(max(inside) / 2**20, 1),
    }


def _sorted_frame(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """``frame``'s ``columns`` sorted by every column (floats last, so ties on the rest decide first)."""
    floats = [name for name in columns if pd.api.types.is_float_dtype(frame[name])]
    order = [name for name in columns if name not in floats] + floats
    return frame[columns].sort_values(order, kind="mergesort", na_position="last").reset_index(drop=True)


def _missing(value: Any) -> bool:
    return value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and math.isnan(value))


def _same_cell(new: Any, old: Any, *, as_float: bool, rel_tol: float) -> bool:
    """Two cells are the same: both missing, close floats (relative tolerance) or equal values."""
    if _missing(new) or _missing(old):
        return _missing(new) and _missing(old)
    if as_float:
        return math.isclose(float(new), float(old), rel_tol=rel_tol, abs_tol=0.0)
    return bool(new == old)


def _column_differences(new: pd.Series, old: pd.Series, rel_tol: float) -> int:
    """Cells that differ between two aligned columns: exact for text and integers, relative for floats."""
    as_float = pd.api.types.is_float_dtype(new) or pd.api.types.is_float_dtype(old)
    pairs = zip(new.astype(object).tolist(), old.astype(object).tolist(), strict=True)
    return sum(not _same_cell(a, b, as_float=as_float, rel_tol=rel_tol) for a, b in pairs)


def _aligned(new: pd.DataFrame, old: pd.DataFrame, keys: list[str], columns: list[str]) -> pd.DataFrame:
    """The rows of both tables side by side, paired on ``keys`` (``_merge`` says which table has each row).

    Rows with the same keys pair in the order of their other columns.
    """

    def numbered(frame: pd.DataFrame) -> pd.DataFrame:
        ordered = _sorted_frame(frame, columns)
        copies = ordered.groupby(keys, dropna=False, sort=False).cumcount() if keys else pd.Series(range(len(ordered)))
        return ordered.assign(_copy=copies.to_numpy())

    return numbered(new).merge(numbered(old), on=[*keys, "_copy"], how="outer", suffixes=("_new", "_old"), indicator=True)


def compare_indicators(
    new: pd.DataFrame, old: pd.DataFrame, *, keys: list[str] | None = None, rel_tol: float = FLOAT_REL_TOL
) -> dict[str, Any]:
    """Compare two indicator tables cell by cell, rows paired on the indicator's identity.

    Parameters
    ----------
    new, old : DataFrame
        Layer 04's ``indicators.parquet`` of this run and of a previous one.
    keys : list of str, optional
        The columns naming a row (default: :data:`INDICATOR_KEYS`, those both tables have).
    rel_tol : float
        Relative tolerance of float cells (integers, dates and text compare exactly; two missing
        cells are equal).

    Returns
    -------
    dict
        ``{"identical": bool, "differences": int, "columns": {column: differing cells}}``: a
        column only one table has counts all its cells; a row only one table has counts each of
        its cells in the shared columns.
    """
    common = [name for name in new.columns if name in old.columns]
    keys = [name for name in (INDICATOR_KEYS if keys is None else keys) if name in common]
    by_column = {name: len(new) if name in new.columns else len(old) for name in set(new.columns) ^ set(old.columns)}
    aligned = _aligned(new, old, keys, common)
    unpaired = int((aligned["_merge"] != "both").sum())
    paired = aligned.loc[aligned["_merge"] == "both"]
    for name in common:
        count = unpaired
        if name not in keys:
            count += _column_differences(paired[f"{name}_new"], paired[f"{name}_old"], rel_tol)
        if count:
            by_column[name] = count
    differences = sum(by_column.values())
    return {"identical": differences == 0, "differences": differences, "columns": dict(sorted(by_column.items()))}
