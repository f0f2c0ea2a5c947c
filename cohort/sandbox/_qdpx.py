"""Writing small REFI-QDA project exchange files (``.qdpx``), as QDA software exports them.

For the synthetic generator and the tests: a zip archive with ``project.qde`` (namespace
``urn:QDA-XML:project:1.0``: users, the code tree, text sources with their coded selections) and
each source's plain text under ``sources/``. The same arguments always give the same bytes (fixed
archive dates, attribute order as written).
"""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from proximite.cohort.sources.qdpx import PROJECT_ENTRY, QDA_NAMESPACE

__all__ = ["SynthCode", "SynthSource", "qdpx_bytes", "write_qdpx"]

_STAMP = (2024, 1, 1, 0, 0, 0)
_CREATED = "2024-01-01T00:00:00Z"


@dataclass(frozen=True)
class SynthCode:
    """A code and the codes nested in it."""

    guid: str
    name: str
    children: tuple[SynthCode, ...] = ()


@dataclass(frozen=True)
class SynthSource:
    """A text source: its name, text and coded selections ``(start, end, code guid)``."""

    guid: str
    name: str
    text: str
    codings: tuple[tuple[int, int, str], ...] = field(default_factory=tuple)


def _q(name: str) -> str:
    return f"{{{QDA_NAMESPACE}}}{name}"


def _code_element(parent: ET.Element, code: SynthCode) -> None:
    element = ET.SubElement(parent, _q("Code"), {"guid": code.guid, "name": code.name, "isCodable": "true"})
    ET.SubElement(element, _q("Description")).text = f"Définition synthétique du code {code.name}."
    for child in code.children:
        _code_element(element, child)


def _source_element(parent: ET.Element, source: SynthSource, user: str, inline: bool) -> None:
    attributes = {"guid": source.guid, "name": source.name, "plainTextPath": f"internal://{source.guid}.txt",
                  "creatingUser": user, "creationDateTime": _CREATED}
    element = ET.SubElement(parent, _q("TextSource"), attributes)
    if inline:
        ET.SubElement(element, _q("PlainTextContent")).text = source.text
    for number, (start, end, code) in enumerate(source.codings, start=1):
        selection = ET.SubElement(
            element, _q("PlainTextSelection"),
            {"guid": f"{source.guid[:-4]}{number:04x}", "name": source.text[start:end][:40], "startPosition": str(start),
             "endPosition": str(end), "creatingUser": user, "creationDateTime": _CREATED},
        )
        coding = ET.SubElement(selection, _q("Coding"), {"guid": f"{code[:-4]}{number:04x}", "creatingUser": user})
        ET.SubElement(coding, _q("CodeRef"), {"targetGUID": code})


def project_document(codes: Sequence[SynthCode], sources: Sequence[SynthSource], *, name: str, inline: bool = True) -> bytes:
    """``project.qde``: a REFI-QDA project with one user, the code tree and the text sources."""
    ET.register_namespace("", QDA_NAMESPACE)
    user = "00000000-0000-4000-8000-000000000001"
    root = ET.Element(_q("Project"), {"name": name, "origin": "Proximité synthetic generator", "creationDateTime": _CREATED})
    users = ET.SubElement(root, _q("Users"))
    ET.SubElement(users, _q("User"), {"guid": user, "name": "Codeuse synthétique"})
    book = ET.SubElement(ET.SubElement(root, _q("CodeBook")), _q("Codes"))
    for code in codes:
        _code_element(book, code)
    holder = ET.SubElement(root, _q("Sources"))
    for source in sources:
        _source_element(holder, source, user, inline)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def qdpx_bytes(codes: Sequence[SynthCode], sources: Sequence[SynthSource], *, name: str = "Projet synthétique") -> bytes:
    """The ``.qdpx`` archive: ``project.qde`` and ``sources/<guid>.txt`` for each source."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(_entry(PROJECT_ENTRY), project_document(codes, sources, name=name))
        for source in sources:
            archive.writestr(_entry(f"sources/{source.guid}.txt"), source.text.encode("utf-8"))
    return buffer.getvalue()


def _entry(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, _STAMP)
    info.compress_type = zipfile.ZIP_DEFLATED
    return info


def write_qdpx(path: str | Path, codes: Sequence[SynthCode], sources: Sequence[SynthSource], *, name: str = "Projet synthétique") -> Path:
    """Write :func:`qdpx_bytes` to ``path`` (its folder created)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(qdpx_bytes(codes, sources, name=name))
    return target
