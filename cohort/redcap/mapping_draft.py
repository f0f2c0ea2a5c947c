"""Draft a REDCap mapping (:mod:`~proximite.cohort.redcap.mapping`) from a team's project.

Matching, field by field, of the team's data dictionary against the cohort's:

1. **exact**: the same field name, or the same label once normalised (case, accents and
   punctuation ignored);
2. **near**: :class:`difflib.SequenceMatcher` ratio of the normalised names, or of the
   normalised labels, at least ``cutoff`` (0.8 by default);

each team field taken once, best score first. Forms follow their fields (the cohort form that
most of a team form's matched fields belong to) unless a form has the same name; events match
by unique name, short name (``t0``) or label; DAGs by name; codes of matched coded fields by
code, then by label. Everything left unmatched is listed as comments in the YAML.
"""

from __future__ import annotations

import difflib
import json
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pandas as pd

from proximite.cohort.redcap.dictionary import parse_choices
from proximite.cohort.redcap.mapping import COHORT_RECORD_ID
from proximite.cohort.redcap.project import RedcapProject

if TYPE_CHECKING:  # pragma: no cover
    from proximite.cohort.codebook import Codebook

__all__ = ["Match", "MappingDraft", "choice_labels", "draft_mapping", "draft_yaml", "normalise", "similarity"]

#: Default least ratio for a near match.
CUTOFF = 0.8


@dataclass(frozen=True)
class Match:
    """One cohort name matched to one of the team's: how, and how well (1 for exact)."""

    ours: str
    yours: str
    how: str  # "exact name", "exact label", "near name", "near label"
    score: float


@dataclass
class MappingDraft:
    """What :func:`draft_mapping` found; :func:`draft_yaml` writes it."""

    record_id: str
    fields: list[Match] = field(default_factory=list)
    forms: dict[str, str] = field(default_factory=dict)
    events: dict[str, str] = field(default_factory=dict)
    dags: dict[str, str] = field(default_factory=dict)
    codes: dict[str, dict[str, str]] = field(default_factory=dict)
    unmatched_fields: list[str] = field(default_factory=list)  # the team's
    unmapped_cohort_fields: list[str] = field(default_factory=list)
    unmatched_events: list[str] = field(default_factory=list)
    unmatched_dags: list[str] = field(default_factory=list)
    unmatched_codes: dict[str, list[str]] = field(default_factory=dict)


def normalise(text: str) -> str:
    """Lower case, accents and HTML removed, every run of other characters one space."""
    plain = unicodedata.normalize("NFKD", re.sub(r"<[^>]+>", " ", str(text))).encode("ascii", "ignore").decode()
    return " ".join(re.sub(r"[^a-z0-9]+", " ", plain.casefold()).split())


def similarity(a: str, b: str) -> float:
    """:class:`difflib.SequenceMatcher` ratio of the normalised texts (0 when either is empty)."""
    left, right = normalise(a), normalise(b)
    if not left or not right:
        return 0.0
    return difflib.SequenceMatcher(None, left, right).ratio()


def _score(ours: pd.Series, yours: pd.Series) -> tuple[float, str]:
    if ours["field_name"] == yours["field_name"]:
        return 1.0, "exact name"
    if normalise(ours["field_label"]) and normalise(ours["field_label"]) == normalise(yours["field_label"]):
        return 1.0, "exact label"
    by_name = similarity(ours["field_name"], yours["field_name"])
    by_label = similarity(ours["field_label"], yours["field_label"])
    return (by_name, "near name") if by_name >= by_label else (by_label, "near label")


def _match_fields(cohort: pd.DataFrame, team: pd.DataFrame, *, cutoff: float) -> list[Match]:
    """One-to-one matches, best score first (ties: dictionary order)."""
    candidates = []
    for _, ours in cohort.iterrows():
        for _, yours in team.iterrows():
            score, how = _score(ours, yours)
            if score >= cutoff:
                candidates.append(Match(ours["field_name"], yours["field_name"], how, round(score, 3)))
    candidates.sort(key=lambda match: -match.score)
    taken_ours: set[str] = set()
    taken_yours: set[str] = set()
    chosen = []
    for match in candidates:
        if match.ours in taken_ours or match.yours in taken_yours:
            continue
        taken_ours.add(match.ours)
        taken_yours.add(match.yours)
        chosen.append(match)
    order = {name: index for index, name in enumerate(cohort["field_name"])}
    return sorted(chosen, key=lambda match: order[match.ours])


def choice_labels(choices: str) -> dict[str, str]:
    """``{code: label}`` of a REDCap choices cell (``"1, Oui | 2, Non"``)."""
    labels = {}
    for part in str(choices).split("|"):
        code, _, label = part.partition(",")
        if code.strip():
            labels[code.strip()] = label.strip()
    return labels


def _match_codes(ours: str, yours: str, *, cutoff: float) -> tuple[dict[str, str], list[str]]:
    """The team's codes → the cohort's (only those that differ), and the team's codes left unmatched."""
    our_labels, your_labels = choice_labels(ours), choice_labels(yours)
    mapped, unmatched = {}, []
    for code, label in your_labels.items():
        if code in our_labels:
            continue
        best = max(our_labels, key=lambda candidate: similarity(label, our_labels[candidate]), default=None)
        if best is not None and similarity(label, our_labels[best]) >= cutoff:
            mapped[code] = best
        else:
            unmatched.append(code)
    return mapped, unmatched


def _match_names(ours: Mapping[str, str], yours: Mapping[str, str], *, cutoff: float) -> tuple[dict[str, str], list[str]]:
    """Names (events, DAGs) by name or label: ``ours`` and ``yours`` are {name: label}."""
    chosen: dict[str, str] = {}
    for name, label in ours.items():
        short = name.rsplit("_arm_", 1)[0]
        scored = [
            (max(similarity(short, their.rsplit("_arm_", 1)[0]), similarity(label, their_label)), their)
            for their, their_label in yours.items() if their not in chosen.values()
        ]
        best = max(scored, default=(0.0, ""))
        if best[0] >= cutoff:
            chosen[name] = best[1]
    return chosen, [their for their in yours if their not in chosen.values()]


def _forms(matches: Iterable[Match], cohort: pd.DataFrame, team: pd.DataFrame) -> dict[str, str]:
    """Cohort form → the team's form: the same name, else the team form most of its matched fields come from."""
    our_form = dict(zip(cohort["field_name"], cohort["form_name"], strict=True))
    your_form = dict(zip(team["field_name"], team["form_name"], strict=True))
    votes: dict[str, Counter[str]] = {}
    for match in matches:
        votes.setdefault(our_form[match.ours], Counter())[your_form[match.yours]] += 1
    forms = {}
    for form in dict.fromkeys(cohort["form_name"]):
        if form in set(team["form_name"]):
            forms[form] = form
        elif form in votes:
            forms[form] = votes[form].most_common(1)[0][0]
    return forms


def draft_mapping(team: RedcapProject, *, codebook: Codebook | None = None, cutoff: float = CUTOFF) -> MappingDraft:
    """Draft the mapping of a team's project to the cohort's (see the module's docstring).

    Parameters
    ----------
    team : RedcapProject
        The team's data dictionary, and its events and DAGs when known.
    codebook : Codebook, optional, keyword-only
    cutoff : float, keyword-only
        Least :func:`similarity` of a near match.

    Returns
    -------
    MappingDraft
    """
    from proximite.cohort.codebook import load_codebook

    book = codebook or load_codebook()
    cohort = RedcapProject.from_codebook(book).metadata
    cohort_fields = cohort[(cohort["field_name"] != COHORT_RECORD_ID) & (cohort["field_type"] != "descriptive")]
    team_meta = team.metadata
    team_fields = team_meta[(team_meta["field_name"] != team.record_id_field) & (team_meta["field_type"] != "descriptive")]
    draft = MappingDraft(record_id=team.record_id_field)
    draft.fields = _match_fields(cohort_fields, team_fields, cutoff=cutoff)
    draft.forms = _forms(draft.fields, cohort_fields, team_fields)
    ours_choices = dict(zip(cohort["field_name"], cohort["select_choices_or_calculations"], strict=True))
    yours_choices = dict(zip(team_meta["field_name"], team_meta["select_choices_or_calculations"], strict=True))
    coded = set(cohort.loc[cohort["field_type"].isin(["radio", "dropdown", "checkbox"]), "field_name"])
    for match in draft.fields:
        if match.ours in coded and parse_choices(yours_choices[match.yours]):
            mapped, unmatched = _match_codes(ours_choices[match.ours], yours_choices[match.yours], cutoff=cutoff)
            if mapped:
                draft.codes[match.ours] = mapped
            if unmatched:
                draft.unmatched_codes[match.ours] = unmatched
    matched = {match.yours for match in draft.fields}
    draft.unmatched_fields = [name for name in team_fields["field_name"] if name not in matched]
    draft.unmapped_cohort_fields = [name for name in cohort_fields["field_name"] if name not in {m.ours for m in draft.fields}]
    our_events = dict(zip(book.events["unique_event_name"].astype(str), book.events["event_name"].astype(str), strict=True))
    your_events = _labels(team.events, "unique_event_name", "event_name")
    draft.events, draft.unmatched_events = _match_names(our_events, your_events, cutoff=cutoff)
    dags = book.dags()
    our_dags = dict(zip(dags["unique_group_name"].astype(str), dags["data_access_group_name"].astype(str), strict=True))
    draft.dags, draft.unmatched_dags = _match_names(our_dags, _labels(team.dags, "unique_group_name", "data_access_group_name"), cutoff=cutoff)
    return draft


def _labels(frame: pd.DataFrame, name: str, label: str) -> dict[str, str]:
    if name not in frame.columns:
        return {}
    labels = frame[label] if label in frame.columns else frame[name]
    return dict(zip(frame[name].astype(str), labels.astype(str), strict=True))


def _quote(text: str) -> str:
    """A YAML scalar that stays a string (JSON's quoting is YAML's)."""
    return json.dumps(str(text), ensure_ascii=False)


def draft_yaml(draft: MappingDraft, *, source: str) -> str:
    """The draft as a mapping YAML, every match commented with how it was found and every gap listed."""
    lines = [
        "# REDCap mapping drafted by `proximite redcap map --init` (docs/redcap-mapping.md).",
        f"# Source: {source}. Check every line; complete what is listed as unmatched.",
        "# Each section maps a cohort name (left) to your project's name (right).",
        f"record_id: {_quote(draft.record_id)}",
        "forms:",
        *[f"  {ours}: {_quote(yours)}" for ours, yours in draft.forms.items()],
        "events:",
        *[f"  {ours}: {_quote(yours)}" for ours, yours in draft.events.items()],
        *[f"  # unmatched event of yours: {name}" for name in draft.unmatched_events],
        "dags:",
        *[f"  {ours}: {_quote(yours)}" for ours, yours in draft.dags.items()],
        *[f"  # unmatched data access group of yours: {name}" for name in draft.unmatched_dags],
        "fields:",
        *[f"  {m.ours}: {_quote(m.yours)}  # {m.how}" + ("" if m.score == 1 else f" ({m.score:.2f})") for m in draft.fields],
        *[f"  # {name}:   (cohort field not mapped)" for name in draft.unmapped_cohort_fields],
        *[f"  # unmatched field of yours: {name}" for name in draft.unmatched_fields],
        "codes:",
    ]
    for ours in dict.fromkeys([*draft.codes, *draft.unmatched_codes]):
        lines.append(f"  {ours}:")
        lines += [f"    {_quote(yours)}: {_quote(code)}" for yours, code in draft.codes.get(ours, {}).items()]
        lines += [f"    # unmatched code of yours: {code}" for code in draft.unmatched_codes.get(ours, [])]
    # Empty sections would read as null: give them an explicit empty mapping.
    text = "\n".join(lines) + "\n"
    return re.sub(r"^(\w+):\n(?=\w|$)", r"\1: {}\n", text, flags=re.MULTILINE)
