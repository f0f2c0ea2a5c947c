"""``proximite disclosure``: attack a published snapshot the way an outsider would."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from proximite.cli.common import console, user_errors

__all__ = ["disclosure_app"]

disclosure_app = typer.Typer(
    help="Disclosure control: audit what a snapshot's published files give away.",
    no_args_is_help=True,
    add_completion=False,
)

_KEYS = ["indicator", "period", "scope", "scope_id", "stratum", "stratum_value", "breakdown", "breakdown_value", "unit",
         "suppression"]


def read_published(snapshot_dir: Path) -> tuple["object", dict]:
    """The published table (``indicators.csv``, else ``indicators.json``) and the manifest of a snapshot folder."""
    import json

    import pandas as pd

    manifest_path = snapshot_dir / "manifest.json"
    if not manifest_path.is_file():
        raise ValueError(f"{snapshot_dir}: no manifest.json (not a snapshot folder)")
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    csv, js = snapshot_dir / "indicators.csv", snapshot_dir / "indicators.json"
    if csv.is_file():
        table = pd.read_csv(csv, dtype={c: "string" for c in _KEYS}, keep_default_na=False,
                            na_values={c: [""] for c in ("numerator", "denominator", "value", "ci_low", "ci_high", "n",
                                                         "wave")})
    elif js.is_file():
        doc = json.loads(js.read_text(encoding="utf-8"))
        table = pd.DataFrame(doc["rows"], columns=doc["columns"])
    else:
        raise ValueError(f"{snapshot_dir}: neither indicators.csv nor indicators.json (the audit reads the published data)")
    table["suppressed"] = table["suppressed"].astype(str).str.lower().isin(["true", "1"])
    return table, manifest


@disclosure_app.command("audit")
def disclosure_audit(
    snapshot_dir: Annotated[Path, typer.Argument(help="A snapshot folder (indicators.csv or .json, manifest.json).")],
    report: Annotated[
        Optional[Path], typer.Option("--report", help="CSV of the findings (default: <SNAPSHOT_DIR>.audit.csv).")
    ] = None,
    territory: Annotated[
        Optional[Path],
        typer.Option("--territory", help="Public geography CSV (territory_id, region_code and the stratum columns the "
                     "snapshot uses, e.g. environment, host_type): links territories to their regions and strata."),
    ] = None,
) -> None:
    """Solve the relations the published files carry and list every hidden count they pin or narrow.

    Reads only the published files. Rebuilds the sums (territories → region → Québec, strata,
    breakdowns), shared denominators, links between indicators and the rounding intervals of the
    published counts, then bounds every hidden count by linear programming. Writes the findings
    (cell keys and bounds, no family data) as CSV and exits with status 1 when there is one.
    """
    import pandas as pd

    from proximite.indicators.disclosure.audit import audit_published, describe

    from proximite.errors import InputError

    with user_errors():
        snapshot_dir = snapshot_dir.resolve()
        try:
            table, manifest = read_published(snapshot_dir)
        except ValueError as error:
            raise InputError(snapshot_dir, "not a snapshot folder", detail=str(error)) from None
        disclosure = manifest.get("disclosure", {})
        threshold = int(disclosure.get("threshold", 5))
        base = 1 if disclosure.get("level") == "internal" else int(disclosure.get("rounding_base", 5))
        geography = pd.read_csv(territory, dtype="string") if territory is not None else None
        try:
            result = audit_published(table, threshold=threshold, rounding_base=base, territory=geography)
        except ValueError as error:
            if territory is None or "territory table" not in str(error):
                raise
            raise InputError(territory, "geography does not cover the snapshot's territories", detail=str(error)) from None
        target = report or snapshot_dir.with_name(snapshot_dir.name + ".audit.csv")
        result.findings.to_csv(target, index=False, encoding="utf-8", lineterminator="\n")
    console.print(
        f"Audited {len(table)} published cells ({int(table['suppressed'].sum())} hidden, {result.hidden_counts} "
        f"hidden counts bounded over {result.relations} relations of {result.unknowns} unknowns, "
        f"{result.programmes} linear programmes) in {result.seconds:.1f} s: {len(result.findings)} finding(s). "
        f"Report: {target}"
    )
    if territory is None and (table["scope"] == "territory").any() and (table["scope"] == "region").any():
        console.print("Territory rows were not linked to their regions: pass --territory for the full attack.")
    for _, row in result.findings.head(20).iterrows():
        console.print(f"  {describe(row)}")
    if not result.clean:
        raise typer.Exit(1)
