"""REFI-QDA project exchange files (``.qdpx``): the codebook and how often each code was applied per source.

A ``.qdpx`` (what NVivo, ATLAS.ti, MAXQDA and QDA Miner export) is a zip archive holding
``project.qde``, an XML document in the namespace ``urn:QDA-XML:project:1.0``, and the sources'
own files (``sources/…``: transcripts, recordings). Only the structure of ``project.qde`` is read::

    <Project>
      <CodeBook><Codes><Code guid name>(<Code …>)*</Code>…</Codes></CodeBook>
      <Sources>
        <TextSource guid name …>                       (PDFSource, PictureSource, AudioSource, VideoSource)
          <PlainTextSelection guid startPosition endPosition …>   (any *Selection, at any depth)
            <Coding guid><CodeRef targetGUID="…"/></Coding>
          </PlainTextSelection>
        </TextSource>
      </Sources>
    </Project>

Kept: each code's GUID, name and place in the code tree; each source's name and kind; per source
and code, the number of ``Coding`` elements (coded segments). Never kept, never logged: the
sources' content (``PlainTextContent``, the files under ``sources/``), the selections' text,
names and positions, descriptions, notes, users. Those stay in layer 01, inside the archive as
received. The XML is read in one streaming pass (``iterparse``) and every element is cleared once
read, so a project with long transcripts inline does not sit in memory; a document type
declaration (the door to entity expansion) is refused before parsing.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
import zipfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from proximite.errors import InputError

__all__ = [
    "PROJECT_ENTRY",
    "QDA_NAMESPACE",
    "SOURCE_KINDS",
    "QdaCode",
    "QdaProject",
    "QdaSource",
    "read_qdpx",
]

#: The namespace of a REFI-QDA project document.
QDA_NAMESPACE = "urn:QDA-XML:project:1.0"
#: The project document's name inside the archive.
PROJECT_ENTRY = "project.qde"
#: The source elements of ``<Sources>`` (REFI-QDA 1.5).
SOURCE_KINDS = ("TextSource", "PDFSource", "PictureSource", "AudioSource", "VideoSource")
#: Largest ``project.qde`` read (uncompressed bytes): beyond it the archive is refused, not unpacked.
MAX_PROJECT_BYTES = 2 << 30
_EXPORT_HINT = "Export the whole project again from the QDA software as a REFI-QDA project (.qdpx)"
_PROLOG_BYTES = 1 << 16
_PROLOG_SKIP = re.compile(rb"\s*(?:<\?.*?\?>|<!--.*?-->)", re.DOTALL)


def _tag(name: str) -> str:
    return f"{{{QDA_NAMESPACE}}}{name}"


_CODE, _CODES, _CODEBOOK = _tag("Code"), _tag("Codes"), _tag("CodeBook")
_SOURCES, _CODING, _CODE_REF = _tag("Sources"), _tag("Coding"), _tag("CodeRef")
_SOURCE_TAGS = {_tag(kind): kind for kind in SOURCE_KINDS}


@dataclass(frozen=True)
class QdaCode:
    """One code of the project's codebook.

    Attributes
    ----------
    code_id : str
        Its GUID.
    name : str
    path : tuple of str
        The names from the top of the code tree down to this code.
    parent_id : str or None
        The GUID of the code it is nested in.
    """

    code_id: str
    name: str
    path: tuple[str, ...]
    parent_id: str | None


@dataclass
class QdaSource:
    """One source (a transcript, a recording …) and the codes applied in it.

    Attributes
    ----------
    name : str
        The source's name in the project (for this platform, the register's session id,
        possibly with a document extension).
    kind : str
        ``TextSource``, ``PDFSource``, ``PictureSource``, ``AudioSource`` or ``VideoSource``.
    segments : Counter
        Code GUID → coded segments (``Coding`` elements) in this source.
    """

    name: str
    kind: str
    segments: Counter[str] = field(default_factory=Counter)


@dataclass(frozen=True)
class QdaProject:
    """What this platform reads of a ``.qdpx``: its codes and its sources' coding counts."""

    path: Path
    codes: tuple[QdaCode, ...]
    sources: tuple[QdaSource, ...]


def read_qdpx(path: str | Path, *, label: str | None = None) -> QdaProject:
    """Read the codebook and the coding counts of a REFI-QDA project exchange file.

    Parameters
    ----------
    path : str or Path
        The ``.qdpx`` file.
    label : str, optional, keyword-only
        How errors name the file (default: ``path``).

    Returns
    -------
    QdaProject
        Codes in codebook order; sources in document order, each with its segments per code.

    Raises
    ------
    InputError
        Not a zip archive, an encrypted one, no ``project.qde``, a document that is not
        well-formed XML, declares a document type, or is not a REFI-QDA project (unknown root
        element or namespace); a code or source without its GUID or name, a code GUID used
        twice, a coding that names no code of the codebook.

    Notes
    -----
    A segment is one ``Coding`` element: one code applied to one selection, whatever its kind
    (text, PDF region, picture area, audio or video span, transcript part).
    """
    path = Path(path)
    where = label or str(path)
    with _open_project(path, where) as handle:
        _check_prolog(handle, where)
        try:
            codes, sources = _parse(handle, where)
        except ET.ParseError as error:
            line, column = getattr(error, "position", (None, None))
            raise InputError(
                where, "project.qde is not well-formed XML",
                detail=f"The XML parser stopped at line {line}, column {column}. {_EXPORT_HINT}",
            ) from None
    _check_references(codes, sources, where)
    return QdaProject(path=path, codes=tuple(codes), sources=tuple(sources))


class _ProjectStream:
    """The archive and its ``project.qde`` entry, closed together."""

    def __init__(self, archive: zipfile.ZipFile, handle: IO[bytes]) -> None:
        self.archive, self.handle = archive, handle

    def __enter__(self) -> IO[bytes]:
        return self.handle

    def __exit__(self, *exc: object) -> None:
        self.handle.close()
        self.archive.close()


def _open_project(path: Path, where: str) -> _ProjectStream:
    """The ``project.qde`` entry of the archive, checked to be there, readable and of a sane size."""
    if not zipfile.is_zipfile(path):
        raise InputError(
            where, "not a zip archive",
            detail=f"A .qdpx file is a zip archive holding {PROJECT_ENTRY}. {_EXPORT_HINT}",
        )
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as error:
        raise InputError(where, "damaged zip archive", detail=f"{type(error).__name__}. {_EXPORT_HINT}") from None
    entries = {info.filename: info for info in archive.infolist()}
    info = entries.get(PROJECT_ENTRY)
    if info is None:
        archive.close()
        hint = " (a .qdc file is a codebook alone, without the coding)" if any(n.endswith(".qdc") for n in entries) else ""
        raise InputError(where, f"no {PROJECT_ENTRY} in the archive", detail=f"{_EXPORT_HINT}{hint}")
    if info.file_size > MAX_PROJECT_BYTES:
        archive.close()
        raise InputError(where, f"{PROJECT_ENTRY} too large", detail=f"{info.file_size} bytes, above {MAX_PROJECT_BYTES}")
    try:
        handle = archive.open(info)
    except (RuntimeError, NotImplementedError, zipfile.BadZipFile) as error:  # encrypted, unknown compression
        archive.close()
        raise InputError(where, f"{PROJECT_ENTRY} cannot be read", detail=f"{error}. {_EXPORT_HINT} without a password") from None
    return _ProjectStream(archive, handle)


def _check_prolog(handle: IO[bytes], where: str) -> None:
    """Refuse a document type declaration (entity definitions) before the parser sees it.

    Reads the start of the document through the XML declaration, comments and processing
    instructions; then seeks back (a zip entry opened for reading can seek).
    """
    head = handle.read(_PROLOG_BYTES)
    handle.seek(0)
    position = 0
    while True:
        match = _PROLOG_SKIP.match(head, position)
        if match is None or match.end() == position:
            break
        position = match.end()
    rest = head[position:].lstrip()
    if rest.startswith(b"\xef\xbb\xbf"):
        rest = rest[3:].lstrip()
    if rest[:9].upper() == b"<!DOCTYPE":
        raise InputError(
            where, "document type declaration in project.qde",
            detail="A REFI-QDA project never declares a document type; the file was altered or is not a project export",
        )


def _events(handle: IO[bytes]) -> Iterator[tuple[str, ET.Element]]:
    yield from ET.iterparse(handle, events=("start", "end"))


def _check_root(root: ET.Element, where: str) -> None:
    if root.tag == _tag("Project"):
        return
    name = root.tag.rpartition("}")[2]
    namespace = root.tag[1:].partition("}")[0] if root.tag.startswith("{") else "none"
    hint = " (a codebook exchange file, .qdc: export the project, .qdpx)" if name == "CodeBook" else ""
    raise InputError(
        where, "unknown schema",
        detail=f"project.qde starts with <{name}> in namespace {namespace}{hint}; "
        f'a REFI-QDA project starts with <Project xmlns="{QDA_NAMESPACE}">',
    )


def _parse(handle: IO[bytes], where: str) -> tuple[list[QdaCode], list[QdaSource]]:
    """One streaming pass: the code tree, then each source's codings (everything else cleared)."""
    events = _events(handle)
    _, root = next(events)
    _check_root(root, where)
    codes: list[QdaCode] = []
    sources: list[QdaSource] = []
    trail: list[QdaCode] = []  # the codes enclosing the current one
    in_codebook = in_sources = in_coding = False
    current: QdaSource | None = None
    for action, element in events:
        tag = element.tag
        if action == "start":
            if tag == _CODEBOOK:
                in_codebook = True
            elif tag == _CODE and in_codebook:
                trail.append(_code(element, trail, where, len(codes) + 1))
                codes.append(trail[-1])
            elif tag == _SOURCES:
                in_sources = True
            elif in_sources and current is None and tag in _SOURCE_TAGS:
                current = QdaSource(_source_name(element, where, len(sources) + 1), _SOURCE_TAGS[tag])
            elif tag == _CODING and current is not None:
                in_coding = True
            elif tag == _CODE_REF and in_coding and current is not None:
                current.segments[(element.get("targetGUID") or "").strip()] += 1
            continue
        if tag == _CODE and in_codebook:
            trail.pop()
        elif tag == _CODEBOOK:
            in_codebook = False
        elif tag == _CODING:
            in_coding = False
        elif current is not None and tag in _SOURCE_TAGS:
            sources.append(current)
            current = None
        elif tag == _SOURCES:
            in_sources = False
        element.clear()  # text, selections and descriptions go as soon as they are read past
    return codes, sources


def _code(element: ET.Element, trail: list[QdaCode], where: str, position: int) -> QdaCode:
    guid = (element.get("guid") or "").strip()
    name = " ".join((element.get("name") or "").split())
    if not guid or not name:
        missing = "guid" if not guid else "name"
        raise InputError(where, f"a code without its {missing}", detail=f"Code number {position} of the codebook. {_EXPORT_HINT}")
    parent = trail[-1] if trail else None
    return QdaCode(
        code_id=guid, name=name, path=(*(parent.path if parent else ()), name), parent_id=parent.code_id if parent else None
    )


def _source_name(element: ET.Element, where: str, position: int) -> str:
    name = " ".join((element.get("name") or "").split())
    if not name:
        raise InputError(
            where, "a source without a name",
            detail=f"Source number {position} of the project: name it with the session's id from the register",
        )
    return name


def _check_references(codes: list[QdaCode], sources: list[QdaSource], where: str) -> None:
    """Every code GUID once; every coding names a code of the codebook."""
    seen = Counter(code.code_id for code in codes)
    twice = sorted(guid for guid, count in seen.items() if count > 1)
    if twice:
        raise InputError(where, "code GUID used twice in the codebook", detail=f"GUID {twice[0]}. {_EXPORT_HINT}")
    for source in sources:
        unknown = sorted(guid for guid in source.segments if guid not in seen)
        if unknown:
            count = sum(source.segments[guid] for guid in unknown)
            raise InputError(
                where, "a coding names a code that is not in the codebook", count=count,
                detail=f"In source '{source.name}': code reference {unknown[0] or '(empty)'}. {_EXPORT_HINT}",
            )
