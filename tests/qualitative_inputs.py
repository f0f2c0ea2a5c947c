"""A small, valid ``qualitative/`` folder written by hand: the register, one ``.qdpx``, ``themes.yaml``.

Four sessions in the territories of :func:`ingest_inputs.build_input_dir` (T06-01, T13-02), coded
in one REFI-QDA project whose code tree is::

    Relation                 (theme "Confiance envers la PTP", axis acceptabilite)
      Confiance              (counts for its parent's theme)
    Obstacles
      Transport              (theme "Transport", axis pertinence)
    Décloisonnement          (theme "Décloisonnement", axis effets_systemiques)
    Divers                   (no theme)

Each transcript's text starts with :data:`TRANSCRIPT_MARK`, so a test can check that no text of
a source reaches the staged tables or the warehouse.
"""

from __future__ import annotations

from pathlib import Path

from ingest_inputs import write_csv

from proximite.cohort.sandbox._qdpx import SynthCode, SynthSource, write_qdpx

#: Words of every synthetic transcript: they must never leave layer 01.
TRANSCRIPT_MARK = "Transcription confidentielle synthétique"

REGISTER_HEADER = [
    "session_id", "territory_id", "session_date", "wave", "participant_type", "session_kind", "modality",
    "participants", "participant_ids", "consent",
]
REGISTER_ROWS = [
    ["ENT-001", "T06-01", "2024-03-10", "0", "parent", "entrevue", "presentiel", "1", "P-101", "oui"],
    ["ENT-002", "T06-01", "2024-03-12", "", "parent", "entrevue", "telephone", "1", "P-102", "oui"],
    ["GD-001", "T06-01", "2024-03-20", "", "ptp", "groupe_discussion", "visioconference", "3", "W-1;W-2;W-3", "oui"],
    ["ENT-003", "T13-02", "2024-03-15", "", "partenaire", "entrevue", "presentiel", "1", "O-7", "non"],
]


def _guid(number: int) -> str:
    return f"00000000-0000-4000-8000-{number:012d}"


CODES = (
    SynthCode(_guid(1), "Relation", (SynthCode(_guid(2), "Confiance"),)),
    SynthCode(_guid(3), "Obstacles", (SynthCode(_guid(4), "Transport"),)),
    SynthCode(_guid(5), "Décloisonnement"),
    SynthCode(_guid(6), "Divers"),
)
#: Source name → codes applied (one segment each): ENT-001 has Confiance twice.
APPLIED = {
    "ENT-001.docx": (_guid(2), _guid(2), _guid(4)),
    "ENT-002": (_guid(1), _guid(6)),
    "GD-001.txt": (_guid(5), _guid(4), _guid(4)),
    "ENT-003": (_guid(5),),
}
THEMES_YAML = """\
themes:
  Confiance envers la PTP:
    axis: acceptabilite
    codes: [Relation]
  Transport:
    axis: pertinence
    codes: ["Obstacles > Transport"]
  Décloisonnement:
    axis: effets_systemiques
"""


def sources() -> list[SynthSource]:
    """The project's text sources, each coded as :data:`APPLIED` says."""
    built = []
    for number, (name, applied) in enumerate(APPLIED.items(), start=1):
        text = f"{TRANSCRIPT_MARK} {name}. " + " ".join(f"Passage {index}." for index in range(len(applied) + 1))
        spans = tuple((5 * index, 5 * index + 4, code) for index, code in enumerate(applied))
        built.append(SynthSource(_guid(100 + number), name, text, spans))
    return built


def write_qualitative(root: Path, *, register_rows: list[list[str]] | None = None) -> Path:
    """Write ``root/qualitative/``: ``register.csv``, ``entrevues.qdpx`` and ``themes.yaml``."""
    folder = root / "qualitative"
    write_csv(folder / "register.csv", REGISTER_HEADER, REGISTER_ROWS if register_rows is None else register_rows)
    write_qdpx(folder / "entrevues.qdpx", CODES, sources())
    (folder / "themes.yaml").write_text(THEMES_YAML, encoding="utf-8")
    return folder
