"""The validity simulation study at full size (issue 7): a benchmark, not a test.

Run with ``.venv/bin/python tests/bench/bench_validity.py [--reps 200] [--families 1500]
[--territories N] [--seed S] [--workers 2] [--out DIR] [--no-gbtm]`` (not collected by pytest: no ``test_``
prefix). It calls :func:`proximite.pipeline.validity.run_validity`, shows progress on stderr, then
prints on stdout one JSON line per planted quantity and estimator::

    {"bench": "validity", "quantity", "estimator", "target", "truth", "mean_estimate", "bias",
     "rmse", "coverage", "reps", "empirical_se", "mean_std_error", "mcse_bias", "mcse_coverage",
     "families", "territories", "workers", "seconds", "seconds_per_rep"}

followed by the table, the targets of the issue (pass/fail with their bound) and a JSON line
``{"bench": "validity_targets", "passed", "failed"}``. With ``--out`` the summary, the replicates
and the targets are also written there as CSV (estimates only: no family data).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd


def _plain(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "item"):
        return _plain(value.item())
    return value


def main(argv: list[str] | None = None) -> int:
    from proximite.pipeline.validity import (
        DEFAULT_FAMILIES,
        DEFAULT_REPS,
        DEFAULT_SEED,
        run_validity,
    )

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=DEFAULT_REPS)
    parser.add_argument("--families", type=int, default=DEFAULT_FAMILIES)
    parser.add_argument("--territories", type=int, default=None)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None, help="folder for summary.csv, replicates.csv, targets.csv")
    parser.add_argument("--no-gbtm", action="store_true", help="no twin cohort with trajectory groups, no GBTM")
    args = parser.parse_args(argv)

    started = time.perf_counter()

    def progress(done: int, total: int) -> None:
        elapsed = time.perf_counter() - started
        left = elapsed / done * (total - done) if done else math.nan
        print(f"\rreplicate {done}/{total}  {elapsed:6.0f} s  (about {left:5.0f} s left)", end="", file=sys.stderr, flush=True)

    results = run_validity(
        reps=args.reps, families=args.families, territories=args.territories, seed=args.seed,
        workers=args.workers, progress=progress, gbtm=not args.no_gbtm,
    )
    print(file=sys.stderr)
    common = {
        "families": results.parameters["families"],
        "territories": results.parameters["territories"],
        "workers": results.parameters["workers"],
        "seconds": round(results.seconds, 1),
        "seconds_per_rep": round(results.seconds / args.reps, 2),
    }
    for row in results.summary.to_dict(orient="records"):
        print(json.dumps({"bench": "validity", **{k: _plain(v) for k, v in row.items()}, **common}))
    print(results)
    # As `proximite validity`: the wave effects' targets on PanelOLS with the attrition weights,
    # the unweighted PanelOLS's beside them.
    weighted = results.targets_met(estimator="panel_ols_ipw")
    unweighted = results.targets_met(estimator="panel_ols")
    targets = pd.concat([weighted, unweighted.loc[unweighted["estimator"] == "panel_ols"]], ignore_index=True)
    print(targets.to_string(index=False))
    for name, table in (("panel_ols_ipw", weighted), ("panel_ols", unweighted)):
        print(json.dumps({"bench": "validity_targets", "wave_effect_estimator": name,
                          "passed": int(table["passed"].sum()), "failed": int((~table["passed"]).sum())}))
    if args.out is not None:
        results.to_csv(args.out / "summary.csv")
        results.to_csv(args.out / "replicates.csv", which="replicates")
        targets.to_csv(args.out / "targets.csv", index=False)
    return 0


if __name__ == "__main__":  # the guard spawned workers need
    raise SystemExit(main())
