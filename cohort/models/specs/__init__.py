"""Model specs in YAML, and the runner that fits them and writes their results.

A spec names a model kind (a key of :data:`~proximite.cohort.models.base.MODELS`), its formula,
the data it is fitted on and its options::

    name: fe_territory
    kind: panel_ols
    description: Family fixed effects, wave dummies, SE clustered by territory.
    formula: isolation_index ~ 1 + C(wave) + EntityEffects
    data:
      panel:
        waves: [0, 6, 12, 24]
    options:
      cluster: territory

A file holds one spec, or several under ``models:`` (fitted on the same data when they ask for
the same data, and compared)::

    description: Isolation index across waves
    data: panel                       # the default data of the models below
    compare: [fe, re]                 # optional (default: the models sharing a term but the intercept)
    models:
      - {name: fe, kind: panel_ols, formula: "isolation_index ~ 1 + C(wave) + EntityEffects"}
      - {name: re, kind: random_effects, formula: "isolation_index ~ 1 + C(wave)"}

:func:`load_specs` reads and checks a file (every error names the file, the spec and the key);
:func:`run_specs` loads each distinct data request once, fits every model, and writes per model
``<name>.summary.csv`` (and its other tables as ``<name>.<table>.csv``), ``<name>.html``,
``<name>.tex`` and ``<name>.png``, then ``comparison.csv`` (and ``comparison.png``) when models
share terms, and ``manifest.json`` (build id, code version, spec hash, files, rows used). The output directory is replaced atomically: a failed run
leaves the previous results in place.

Nothing written or raised here holds a family's row: tables hold estimates, the manifest counts.
"""

from __future__ import annotations

from proximite.cohort.models.specs.kinds import describe_kinds, register_all
from proximite.cohort.models.specs.parse import load_specs, parse_specs
from proximite.cohort.models.specs.project import PROJECT_SPECS_DIR, project_spec_files, spec_file_output
from proximite.cohort.models.specs.run import SpecRun, run_specs
from proximite.cohort.models.specs.spec import (
    DATA_SOURCES,
    MANIFEST_NAME,
    SURVIVAL_EVENTS,
    DataRequest,
    ModelSpec,
    SpecError,
    SpecFile,
    spec_hash,
)

__all__ = [
    "DATA_SOURCES",
    "MANIFEST_NAME",
    "PROJECT_SPECS_DIR",
    "SURVIVAL_EVENTS",
    "DataRequest",
    "ModelSpec",
    "SpecError",
    "SpecFile",
    "SpecRun",
    "describe_kinds",
    "load_specs",
    "parse_specs",
    "project_spec_files",
    "register_all",
    "run_specs",
    "spec_file_output",
    "spec_hash",
]
