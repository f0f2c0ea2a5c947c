"""The end-to-end benchmark's measuring parts (``tests/bench/e2e_measure.py``), on tiny inputs.

The benchmark itself is not run by ``make test``; these quick tests are, so that its process-tree
sampler and its layer-04 comparison cannot rot unnoticed.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

from e2e_measure import TreeSampler, compare_indicators, window_figures  # noqa: E402

#: A process whose child holds 64 MB and spends 0.4 s of CPU, then idles while it is sampled.
_TREE = textwrap.dedent(
    """
    import subprocess, sys
    child = '''
    import time
    block = bytearray(64 * 2**20)
    block[::4096] = b"x" * len(block[::4096])
    start = time.process_time()
    while time.process_time() - start < 0.4:
        pass
    time.sleep(0.6)
    '''
    subprocess.run([sys.executable, "-c", child], check=True)
    """
)


def test_the_sampler_sees_a_childs_memory_and_cpu_and_windows_read_the_samples() -> None:
    process = subprocess.Popen([sys.executable, "-c", _TREE])
    sampler = TreeSampler(process.pid, interval=0.05).start()
    assert process.wait(timeout=60) == 0
    samples = sampler.stop()
    figures = window_figures(samples, samples[0][0], samples[-1][0])
    assert figures["peak_rss_mb"] >= 64  # the child's block, counted with its parent's memory
    assert samples[-1][2] >= 0.35  # the child's CPU time, kept after it exited
    assert [sample[2] for sample in samples] == sorted(sample[2] for sample in samples)

    # 1.0 s of CPU over the 1.5 s from 0.5 to 2 (0.25 s interpolated at 0.5); the peak includes
    # the samples around the window.
    synthetic = [(0.0, 100 * 2**20, 0.0), (1.0, 300 * 2**20, 0.5), (2.0, 200 * 2**20, 1.5)]
    assert window_figures(synthetic, 0.5, 2.0) == {"cpu_percent": round(100 * 1.25 / 1.5, 1), "peak_rss_mb": 300.0}
    assert window_figures(synthetic, 1.2, 1.4) == {"cpu_percent": 100.0, "peak_rss_mb": 300.0}
    assert window_figures([], 0.0, 1.0) == {"cpu_percent": None, "peak_rss_mb": None}


def test_indicator_tables_compare_cell_by_cell_whatever_their_row_order() -> None:
    old = pd.DataFrame({
        "indicator": pd.array(["a", "b", "c"], dtype="string"),
        "n": pd.array([1, 2, None], dtype="Int64"),
        "value": [0.1, np.nan, 3.0],
    })
    shuffled = old.iloc[[2, 0, 1]].reset_index(drop=True)
    assert compare_indicators(shuffled, old) == {"identical": True, "differences": 0, "columns": {}}

    close = old.assign(value=[0.1 * (1 + 1e-12), np.nan, 3.0])
    assert compare_indicators(close, old)["identical"]

    changed = old.assign(value=[0.1 * (1 + 1e-6), np.nan, 3.0], n=pd.array([1, 3, None], dtype="Int64"))
    assert compare_indicators(changed, old) == {"identical": False, "differences": 2, "columns": {"n": 1, "value": 1}}

    longer = pd.concat([old, old.iloc[[0]]], ignore_index=True).assign(extra="x")
    outcome = compare_indicators(longer, old)
    # The extra column's 4 cells, and the extra row in each of the 3 shared columns.
    assert outcome == {"identical": False, "differences": 7, "columns": {"extra": 4, "indicator": 1, "n": 1, "value": 1}}
