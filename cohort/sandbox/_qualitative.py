"""The synthetic qualitative strand: a register, two REFI-QDA projects and ``themes.yaml``, with planted themes.

Per territory: parent interviews (5 to 8), PTP focus groups (2), a manager interview, a partners'
focus group and 0 to 2 partner interviews, held between the start of recruitment and the end of
the data (``as_of`` when the cohort is censored: no session after it); a parent's interview
belongs to a wave the cohort had reached by its date. Parents' interviews are coded in ``entrevues-parents.qdpx``, the others in
``groupes-intervenants.qdpx``, whose codebooks name the same themes differently (``Relation`` and
``Lien de confiance``, ``Besoins > Transport`` and ``Obstacles > Déplacements``): ``themes.yaml``
maps both onto the themes and their axes, as a team's file would.

Planted: each theme is coded in a session with a probability that depends on the participant
type (:data:`PREVALENCE`); in rural territories transport comes up more (:data:`RURAL_PREVALENCE`:
the focus groups of the pilot name travel first among rural obstacles). A few sessions have their
consent withdrawn after coding (their coding stays in the project, the register says ``non``) and
a few are registered but not coded yet. ``truth.json`` gets the plan and, per territory and
participant type, the sessions analysed and the sessions coding each theme, as the indicators
must find them. Transcripts are synthetic sentences about no one.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from proximite.cohort.sandbox._context import Context
from proximite.cohort.sandbox._qdpx import SynthCode, SynthSource, write_qdpx
from proximite.cohort.sandbox._sampling import add_months, iso_dates, stream

__all__ = ["PREVALENCE", "RURAL_PREVALENCE", "THEMES", "write_qualitative"]

#: The two projects' code trees: (top code, sub-codes).
PARENT_TREE = (("Relation", ("Confiance", "Accueil")), ("Besoins", ("Transport", "Logement", "Alimentation")),
               ("Effets", ("Pouvoir d'agir", "Moins seule")), ("Références", ()), ("Divers", ()))
WORKER_TREE = (("Lien de confiance", ()), ("Obstacles", ("Déplacements", "Listes d'attente")),
               ("Autonomie des familles", ()), ("Décloisonnement", ("Concertation", "Références croisées")),
               ("Roulement", ()), ("Autres", ()))
PROJECTS = {"entrevues-parents.qdpx": PARENT_TREE, "groupes-intervenants.qdpx": WORKER_TREE}
#: Theme → (axis, the codes of themes.yaml: names or paths in either project).
THEMES: dict[str, tuple[str, tuple[str, ...]]] = {
    "Confiance envers la PTP": ("acceptabilite", ("Relation", "Lien de confiance")),
    "Transport": ("pertinence", ("Besoins > Transport", "Obstacles > Déplacements")),
    "Logement et alimentation": ("pertinence", ("Besoins > Logement", "Besoins > Alimentation")),
    "Listes d'attente": ("pertinence", ("Listes d'attente",)),
    "Pouvoir d'agir": ("efficacite", ("Effets", "Autonomie des familles")),
    "Décloisonnement": ("effets_systemiques", ("Références", "Décloisonnement")),
    "Roulement du personnel": ("autre", ("Roulement",)),
}
#: P(theme coded in a session), by participant type (themes absent from a project's codebook: 0).
PREVALENCE: dict[str, dict[str, float]] = {
    "parent": {"Confiance envers la PTP": 0.85, "Transport": 0.45, "Logement et alimentation": 0.6,
               "Pouvoir d'agir": 0.55, "Décloisonnement": 0.1},
    "ptp": {"Confiance envers la PTP": 0.7, "Transport": 0.5, "Listes d'attente": 0.6, "Pouvoir d'agir": 0.5,
            "Décloisonnement": 0.65, "Roulement du personnel": 0.5},
    "gestionnaire": {"Confiance envers la PTP": 0.3, "Transport": 0.3, "Listes d'attente": 0.4, "Décloisonnement": 0.8,
                     "Roulement du personnel": 0.75},
    "partenaire": {"Confiance envers la PTP": 0.4, "Listes d'attente": 0.5, "Pouvoir d'agir": 0.3, "Décloisonnement": 0.85},
}
#: The planted territory effect: transport in rural territories.
RURAL_PREVALENCE: dict[str, dict[str, float]] = {"parent": {"Transport": 0.8}, "ptp": {"Transport": 0.9},
                                                 "gestionnaire": {"Transport": 0.7}}
WITHDRAWN_SHARE = 0.03
NOT_CODED_SHARE = 0.03
UNTHEMED_SHARE = 0.3
_TRANSCRIPT = "Transcription synthétique : aucune personne réelle."


@dataclass
class _Project:
    """One project being built: its code tree, the codes each theme may use, its sources."""

    name: str
    codes: tuple[SynthCode, ...]
    guids: dict[str, str]  # code path "a > b" → GUID
    sources: list[SynthSource]
    theme_codes: dict[str, list[str]]


def _guid(rng: np.random.Generator) -> str:
    return str(uuid.UUID(bytes=rng.bytes(16), version=4))


def _project(name: str, tree: Sequence[tuple[str, Sequence[str]]], rng: np.random.Generator) -> _Project:
    guids: dict[str, str] = {}
    codes = []
    for top, subs in tree:
        guids[top] = _guid(rng)
        children = []
        for sub in subs:
            guids[f"{top} > {sub}"] = _guid(rng)
            children.append(SynthCode(guids[f"{top} > {sub}"], sub))
        codes.append(SynthCode(guids[top], top, tuple(children)))
    return _Project(name, tuple(codes), guids, [], _theme_codes(guids))


def _theme_codes(guids: dict[str, str]) -> dict[str, list[str]]:
    """Theme → the GUIDs of the codes (listed, or under a listed one) it may be coded with here."""
    found: dict[str, list[str]] = {}
    for theme, (_axis, entries) in THEMES.items():
        for entry in entries:
            for path, guid in guids.items():
                if path == entry or path.endswith(f" > {entry}") or path.startswith(f"{entry} > "):
                    found.setdefault(theme, []).append(guid)
    return found


def _sessions(ctx: Context, first_day: int, last_day: int, rng: np.random.Generator) -> pd.DataFrame:
    """The register's rows before coding: id, territory, date, participant type, kind, modality, size."""
    rows: list[dict[str, Any]] = []
    # A wave a session belongs to has been reached by its date (T6 from six months after recruitment began).
    wave_start = {wave: int(add_months(np.array([ctx.recruitment_start]), wave)[0]) for wave in ctx.waves}
    for territory in ctx.territories["territory_id"].astype(str):
        plan = [("parent", "entrevue")] * int(rng.integers(5, 9)) + [("ptp", "groupe_discussion")] * 2
        plan += [("gestionnaire", "entrevue"), ("partenaire", "groupe_discussion")]
        plan += [("partenaire", "entrevue")] * int(rng.integers(0, 3))
        for number, (kind_of_people, kind) in enumerate(plan, start=1):
            group = kind == "groupe_discussion"
            day = int(rng.integers(first_day, last_day + 1))
            reached = [wave for wave in ctx.waves if wave_start[wave] <= day]
            rows.append({
                "session_id": f"{'GD' if group else 'ENT'}-{territory}-{number:03d}",
                "territory_id": territory,
                "day": day,
                "participant_type": kind_of_people,
                "session_kind": kind,
                "modality": rng.choice(["presentiel", "visioconference"] if group else ["presentiel", "telephone", "visioconference"],
                                       p=[0.7, 0.3] if group else [0.6, 0.3, 0.1]),
                "participants": int(rng.integers(3, 9)) if group else 1,
                "wave": int(rng.choice(reached)) if kind_of_people == "parent" else None,
            })
    frame = pd.DataFrame(rows)
    frame["participant_ids"] = [
        ";".join(f"{row.participant_type[:3].upper()}-{row.session_id}-{k}" for k in range(1, row.participants + 1))
        for row in frame.itertuples(index=False)
    ]
    frame["consent"] = rng.random(len(frame)) >= WITHDRAWN_SHARE
    frame["coded"] = rng.random(len(frame)) >= NOT_CODED_SHARE
    return frame.sort_values(["day", "session_id"], kind="stable").reset_index(drop=True)


def _code_session(session: Any, project: _Project, rural: bool, rng: np.random.Generator) -> list[str]:
    """Code one session: its themes drawn with the planted probabilities; returns the themes coded."""
    theme_codes = project.theme_codes
    prevalence = {**PREVALENCE[session.participant_type], **(RURAL_PREVALENCE.get(session.participant_type, {}) if rural else {})}
    coded = [theme for theme in THEMES if theme in theme_codes and rng.random() < prevalence.get(theme, 0.0)]
    applied = [str(rng.choice(theme_codes[theme])) for theme in coded for _ in range(int(rng.integers(1, 4)))]
    if rng.random() < UNTHEMED_SHARE or not applied:  # an unthemed code ("Divers", "Autres"): no theme
        applied.append(project.guids[next(top for top, subs in PROJECTS[project.name] if top in ("Divers", "Autres"))])
    passages = [f"Passage {k} : propos synthétiques sur le sujet {k}." for k in range(1, len(applied) + 1)]
    text = " ".join([_TRANSCRIPT, f"Séance {session.session_id}.", *passages])
    start, spans = len(_TRANSCRIPT) + len(f" Séance {session.session_id}. "), []
    for passage, guid in zip(passages, applied):
        spans.append((start, start + len(passage), guid))
        start += len(passage) + 1
    name = f"{session.session_id}.docx" if rng.random() < 0.5 else session.session_id
    project.sources.append(SynthSource(_guid(rng), name, text, tuple(spans)))
    return coded


def _themes_yaml() -> str:
    lines = ["# Which codes of our QDA codebooks make each theme, and the axis it speaks to.", "themes:"]
    for theme, (axis, codes) in THEMES.items():
        quoted = ", ".join(f'"{code}"' for code in codes)
        lines += [f'  "{theme}":', f"    axis: {axis}", f"    codes: [{quoted}]"]
    return "\n".join(lines) + "\n"


def write_qualitative(directory: Path, ctx: Context, *, first_day: int, last_day: int) -> dict[str, Any]:
    """Write ``qualitative/`` (register.csv, the two .qdpx, themes.yaml); return the truth's part.

    Parameters
    ----------
    directory : Path
        The input directory's ``qualitative/`` (replaced).
    ctx : Context
    first_day, last_day : int, keyword-only
        Day numbers: sessions are held between them (the end of the data, or ``as_of``).

    Returns
    -------
    dict
        The plan (themes, prevalence) and what was realised per territory and participant type
        among the sessions analysed (consent in force, coded).
    """
    shutil.rmtree(directory, ignore_errors=True)
    rng = stream(ctx.seed, "qualitative")
    projects = {name: _project(name, tree, rng) for name, tree in PROJECTS.items()}
    sessions = _sessions(ctx, first_day, last_day, rng)
    rural = dict(zip(ctx.territories["territory_id"].astype(str), ctx.territories["environment"].astype(str) == "rural"))
    themes_of: dict[str, list[str]] = {}
    for session in sessions.loc[sessions["coded"]].itertuples(index=False):
        project = projects["entrevues-parents.qdpx" if session.participant_type == "parent" else "groupes-intervenants.qdpx"]
        themes_of[session.session_id] = _code_session(session, project, rural[session.territory_id], rng)
    directory.mkdir(parents=True, exist_ok=True)
    register = sessions.assign(session_date=iso_dates(sessions["day"].to_numpy()), consent=np.where(sessions["consent"], "oui", "non"),
                               wave=sessions["wave"].astype("Int64"))
    columns = ["session_id", "territory_id", "session_date", "wave", "participant_type", "session_kind", "modality",
               "participants", "participant_ids", "consent"]
    register[columns].to_csv(directory / "register.csv", index=False, lineterminator="\n")
    for name, project in projects.items():
        write_qdpx(directory / name, project.codes, project.sources, name=name.removesuffix(".qdpx"))
    (directory / "themes.yaml").write_text(_themes_yaml(), encoding="utf-8")
    return _truth(sessions, themes_of)


def _truth(sessions: pd.DataFrame, themes_of: dict[str, list[str]]) -> dict[str, Any]:
    analysed = sessions.loc[sessions["consent"] & sessions["coded"]]
    realised: dict[str, dict[str, Any]] = {}
    for (territory, kind), group in analysed.groupby(["territory_id", "participant_type"], sort=True):
        counts = pd.Series([theme for sid in group["session_id"] for theme in themes_of[sid]], dtype=object).value_counts()
        realised.setdefault(str(territory), {})[str(kind)] = {
            "sessions": int(len(group)), "themes": {str(theme): int(n) for theme, n in sorted(counts.items())}}
    return {
        "themes": {theme: {"axis": axis, "codes": list(codes)} for theme, (axis, codes) in THEMES.items()},
        "prevalence": PREVALENCE,
        "rural_prevalence": RURAL_PREVALENCE,
        "sessions": {
            "registered": int(len(sessions)),
            "analysed": int(len(analysed)),
            "consent_withdrawn_after_coding": int((~sessions["consent"] & sessions["coded"]).sum()),
            "not_coded_yet": int((~sessions["coded"]).sum()),
        },
        "realised_analysed": realised,
    }
