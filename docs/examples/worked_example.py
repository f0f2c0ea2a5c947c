"""Worked example: from a fresh clone to fitted, compared models of the long panel.

Read it top to bottom; run it with

    .venv/bin/python docs/examples/worked_example.py                      # a synthetic project in worked-example/
    .venv/bin/python docs/examples/worked_example.py --project-dir my-project   # your built project

Without ``--project-dir`` it builds a small synthetic project first (300 families in 12
territories, with effects planted by the generator: isolation falls across waves, the more
isolated leave follow-up more, rural families wait longer...), the way ``proximite synth``,
``proximite ingest`` and ``proximite build`` do: as of today (``--as-of YYYY-MM-DD``: another
day), or every wave with ``--complete-follow-up`` (built without the gates, which refuse a
REDCap date after the pull). Then it fits, on the long panel:

1. the linear panel models of the isolation index (PanelOLS with family effects, RandomEffects,
   FirstDifference, PooledOLS) and compares them;
2. a growth curve (MixedLM) and GEE with and without inverse-probability-of-attrition weights,
   and the attrition report by wave;
3. on the survival table of needs, Kaplan–Meier curves by environment and a Cox model of the
   time to a need being met;
4. and one YAML spec, ``cohort/models/examples/isolation_panel.yaml``, written to
   ``<project>/reporting/models/`` with its manifest, as ``proximite models run`` does.

Every result prints (``print(results)``), plots (``results.plot()``) and exports
(``to_csv``/``to_html``/``to_latex``); none holds a family's row. See docs/models.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path
from typing import Any

# The machines are offline: no telemetry (set before Prefect or Great Expectations load).
import os

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")

import pandas as pd  # noqa: E402

from proximite import cohort  # noqa: E402
from proximite.cohort.models import compare  # noqa: E402
from proximite.cohort.models.attrition import Attrition  # noqa: E402
from proximite.cohort.models.growth import GEE, GrowthCurve  # noqa: E402
from proximite.cohort.models.panel import FirstDifference, PanelOLS, PooledOLS, RandomEffects  # noqa: E402
from proximite.cohort.models.specs import load_specs, run_specs  # noqa: E402
from proximite.cohort.models.survival import CoxPH, KaplanMeier  # noqa: E402
from proximite.config import Settings, load_settings  # noqa: E402

EXAMPLES = Path(__file__).resolve().parent
SPEC = EXAMPLES.parent.parent / "cohort" / "models" / "examples" / "isolation_panel.yaml"


def section(title: str) -> None:
    """Print a heading between the steps."""
    print(f"\n{'=' * 78}\n{title}\n{'=' * 78}")


# ------------------------------------------------------------------------------ 0. a project
def build_synthetic_project(
    directory: Path, *, families: int, territories: int, seed: int, as_of: dt.date | None, validate: bool
) -> Settings:
    """Generate a synthetic cohort, ingest it (layers 01–02), harmonise it (03) and build the warehouse.

    The same steps as ``proximite synth --out DIR/input``, ``proximite ingest DIR/input -p
    DIR/project`` and ``proximite build -p DIR/project``. The cohort is censored at ``as_of``
    (None: complete follow-up). The pseudonym key comes from PROXIMITE_PSEUDONYM_KEY and the raw
    layer's key from PROXIMITE_RAW_KEY or, as for ``proximite demo``, key files created in the project.
    """
    from proximite import pipeline
    from proximite.pipeline import ingest
    from proximite.cohort.sandbox.synth import generate_cohort
    from proximite.cohort.privacy.keys import raw_keyring
    from proximite.config import pseudonym_key

    generate_cohort(directory / "input", families=families, territories=territories, seed=seed, as_of=as_of)
    settings = load_settings(directory / "project")
    key, _origin = pseudonym_key(settings, create=True)
    raw_keyring(settings, create=True)  # 01 raw is encrypted at rest: the demo's key file when none is set
    ingest(directory / "input", settings=settings, validate=validate)
    harmonised = pipeline.harmonise_staged(settings, key=key)
    info = pipeline.build_from_harmonised(settings, harmonised, validate=validate)
    print(f"Built the warehouse {settings.warehouse_path} (build {info.build_id}) from {families} synthetic families.")
    return settings


# ------------------------------------------------------------------------------ the analysis
def analyse(settings: Settings, *, out: Path | None = None) -> dict[str, Any]:
    """Fit the models of steps 1–4 on the project and return the key figures."""
    figures: dict[str, Any] = {}

    # -- the long panel: one row per family and wave, indexed by (family_id, wave in months)
    section("The long panel")
    panel = cohort.panel(settings=settings, ptp_minutes=True, attrition_weight=True)
    print(f"{len(panel):,} family-waves of {panel.index.get_level_values('family_id').nunique():,} families; build {panel.attrs['build_id']}")
    print(panel.groupby(level="wave")["isolation_index"].agg(["count", "mean"]).round(1).to_string())
    print("isolation_index:", panel.attrs["codebook"]["isolation_index"]["description_en"])
    figures["build_id"] = panel.attrs["build_id"]
    figures["panel_rows"] = len(panel)

    # -- 1. linear panel models: the change of the index from T0 (C(wave)[T.24] is T24 - T0)
    section("1. Linear panel models of the isolation index")
    fe = PanelOLS("isolation_index ~ 1 + C(wave)", cluster="territory").fit(panel)  # + family effects
    re = RandomEffects("isolation_index ~ 1 + C(wave) + isolated_at_contact", cluster="territory").fit(panel)
    fd = FirstDifference("isolation_index ~ I(ptp_minutes / 60)", cluster="territory").fit(panel)
    ols = PooledOLS("isolation_index ~ 1 + C(wave)", cluster="territory").fit(panel)
    print(fe)
    print()
    print(fd)
    panels = compare(fe, re, ols, names=["fe", "re", "ols"])
    print("\nSide by side (estimate and standard error):")
    print(panels)
    figures["fe_wave24"] = float(fe.summary.loc["C(wave)[T.24]", "estimate"])
    figures["fe_wave24_ci"] = (float(fe.summary.loc["C(wave)[T.24]", "ci_lower"]), float(fe.summary.loc["C(wave)[T.24]", "ci_upper"]))
    figures["fd_per_hour"] = float(fd.summary["estimate"].iloc[0])

    # -- 2. trajectories: growth curve, GEE unweighted and with attrition weights, attrition
    section("2. Growth curve, GEE with inverse-probability-of-attrition weights, attrition")
    growth = GrowthCurve("isolation_index ~ years * isolated_at_contact").fit(panel)
    print(growth)
    gee = GEE("isolation_index ~ C(wave)", correlation="independence").fit(panel)
    gee_ipw = GEE("isolation_index ~ C(wave)", correlation="independence", weights="attrition_weight").fit(panel)
    print("\nGEE, complete cases vs weighted by the inverse probability of still being followed:")
    print(compare(gee, gee_ipw, names=["gee", "gee_ipw"]))
    attrition = Attrition().fit(panel)
    print("\nAttrition by wave:")
    print(attrition.extra["attrition_by_wave"].to_string())
    print("\nWho stays in follow-up (logit; a negative baseline coefficient: the more isolated leave more):")
    print(attrition.summary.round(4).to_string())
    figures["growth_slope"] = float(growth.summary.loc["years", "estimate"])
    figures["gee_wave24"] = float(gee.summary.loc["C(wave)[T.24]", "estimate"])
    figures["gee_ipw_wave24"] = float(gee_ipw.summary.loc["C(wave)[T.24]", "estimate"])

    # -- 3. time to a need being met: one row per need
    section("3. Time to a need being met (Kaplan-Meier, Cox)")
    needs = cohort.survival_table(settings=settings, event="need_met")
    print(f"{len(needs):,} needs of {needs['family_id'].nunique():,} families; {int(needs['event'].sum()):,} met")
    km = KaplanMeier(duration="duration_months", strata="environment", times=[3, 6, 12]).fit(needs)
    print(km)
    cox = CoxPH(
        formula="C(environment) + isolated_at_contact + baseline_isolation_index",
        duration="duration_months",
        strata="category",
        cluster_col="family_id",
    ).fit(needs)
    print()
    print(cox)
    figures["km_strata"] = int(km.summary["stratum"].nunique()) if "stratum" in km.summary else None
    figures["cox_terms"] = list(cox.summary.index)

    # -- 4. the same from a YAML spec, as `proximite models run` does
    section(f"4. A YAML spec: {SPEC.relative_to(EXAMPLES.parent.parent)}")
    specs = load_specs(SPEC)
    run = run_specs(specs, settings, out, echo=print)
    print(f"Results: {run.out_dir}")
    print(f"Manifest: {run.manifest_path}")
    figures["spec_out_dir"] = str(run.out_dir)
    figures["spec_manifest"] = str(run.manifest_path)
    figures["spec_fe_wave24"] = float(run.results["fe"].summary.loc["C(wave)[T.24]", "estimate"])
    return figures


def _today() -> dt.date:
    """Today, the earlier of the local and the UTC date (the gate compares with the pull's UTC day)."""
    return min(dt.date.today(), dt.datetime.now(dt.timezone.utc).date())


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Parse the arguments, build or open the project, run :func:`analyse`; return its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project-dir", type=Path, help="A built project (default: build a synthetic one).")
    parser.add_argument("--workdir", type=Path, default=Path("worked-example"), help="Where to build the synthetic project.")
    parser.add_argument("--families", type=int, default=300, help="Synthetic families (default 300).")
    parser.add_argument("--territories", type=int, default=12, help="Synthetic territories (default 12).")
    parser.add_argument("--seed", type=int, default=20240101, help="Seed of the synthetic cohort.")
    parser.add_argument("--as-of", type=dt.date.fromisoformat, help="The synthetic data as of this day, YYYY-MM-DD (default: today).")
    parser.add_argument("--complete-follow-up", action="store_true",
                        help="Every wave and outcome, dates after today included (built without the gates).")
    parser.add_argument("--no-validate", action="store_true", help="Skip the validation gates while building (faster).")
    parser.add_argument("--out", type=Path, help="Output directory of the spec run (default <project>/reporting/models/...).")
    arguments = parser.parse_args(argv)
    if arguments.complete_follow_up and arguments.as_of is not None:
        parser.error("give --as-of or --complete-follow-up, not both")

    pd.set_option("display.width", 160)
    if arguments.project_dir is not None:
        settings = load_settings(arguments.project_dir)
    else:
        settings = build_synthetic_project(
            arguments.workdir,
            families=arguments.families,
            territories=arguments.territories,
            seed=arguments.seed,
            as_of=None if arguments.complete_follow_up else arguments.as_of or _today(),
            # The gate refuses a REDCap date after the pull: complete follow-up is built without it.
            validate=not (arguments.no_validate or arguments.complete_follow_up),
        )
    figures = analyse(settings, out=arguments.out)
    section("Key figures")
    print(f"PanelOLS T24 - T0: {figures['fe_wave24']:.2f} (95 % CI {figures['fe_wave24_ci'][0]:.2f} to {figures['fe_wave24_ci'][1]:.2f})")
    print(f"GEE T24 - T0: {figures['gee_wave24']:.2f} complete-case, {figures['gee_ipw_wave24']:.2f} weighted")
    print(f"Growth curve slope: {figures['growth_slope']:.2f} points a year")
    return figures


if __name__ == "__main__":
    from proximite.errors import ProximiteError

    try:
        main()
    except ProximiteError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(1)
