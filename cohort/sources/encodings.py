"""Reading a partner's text file as UTF-8: UTF-8 as sent, or cp1252 when it is plausibly French."""

from __future__ import annotations

import codecs
import re
from pathlib import Path

from proximite.errors import InputError

__all__ = ["decode_to_utf8"]


#: Non-ASCII characters that plausible French (and the Spanish names of many families) contain.
_FRENCH_NON_ASCII = "àâäæçéèêëîïôöùûüÿœÀÂÄÆÇÉÈÊËÎÏÔÖÙÛÜŸŒáíñóúÁÍÑÓÚ«»°·’‘“”–—…€\u00a0"
_IMPLAUSIBLE = re.compile("[^\t\n\r\x20-\x7e" + re.escape(_FRENCH_NON_ASCII) + "]")
_WIDE_BOMS = (codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


def _undeclared(path: Path, *, hint: str, why: str, row: int | None = None) -> InputError:
    where = " (already in the header)" if row == 0 else ""
    return InputError(
        path,
        "encoding undeclared or unrecognised",
        row=row or None,
        detail=f"The file is not UTF-8, and {why}{where}, so it is not plausible French text in "
        f"Windows-1252 (cp1252) either. {hint}",
    )


def decode_to_utf8(data: bytes, *, path: Path, declared: str | None = None, hint: str = "") -> tuple[bytes, str]:
    """Return the file's bytes as UTF-8 (BOM removed) and the encoding it was read in.

    Parameters
    ----------
    data : bytes
        The file as received.
    path : Path
        Named in errors.
    declared : str, optional
        The mapping's ``encoding:``; trusted when given.
    hint : str, keyword-only
        What the user should do, appended to an encoding error.

    Raises
    ------
    InputError
        The bytes do not decode in the declared encoding, or no encoding was declared and the file
        is neither UTF-8 nor plausible French cp1252 (the row of the first odd character is given).
    """
    if declared:
        try:
            text = data.decode(declared)
        except UnicodeDecodeError as error:
            raise InputError(
                path, "file does not match its declared encoding",
                row=data[: error.start].count(b"\n") or None,
                detail=f"The mapping declares '{declared}' but the bytes are not valid in it; "
                "correct `encoding:` in the mapping YAML",
            ) from None
        return text.removeprefix("\ufeff").encode("utf-8"), declared
    if data.startswith(_WIDE_BOMS):
        raise _undeclared(path, hint=hint, why="it starts with a UTF-16/UTF-32 byte-order mark")
    encoding = "utf-8"
    if data.startswith(codecs.BOM_UTF8):
        data, encoding = data[len(codecs.BOM_UTF8):], "utf-8-sig"
    nul = data.find(b"\x00")
    if nul >= 0:
        raise _undeclared(path, hint=hint, why="it contains NUL bytes (typical of UTF-16)", row=data[:nul].count(b"\n"))
    try:
        data.decode("utf-8")
        return data, encoding
    except UnicodeDecodeError as error:
        if encoding == "utf-8-sig":
            raise InputError(
                path, "file does not match its declared encoding", row=data[: error.start].count(b"\n") or None,
                detail=f"It starts with a UTF-8 byte-order mark but is not valid UTF-8. {hint}",
            ) from None
    # Bytes Windows-1252 leaves undefined decode to U+FFFD, which the plausibility check refuses:
    # the first odd character, whatever its kind, gives the row.
    text = data.decode("cp1252", errors="replace")
    odd = _IMPLAUSIBLE.search(text)
    if odd:
        raise _undeclared(
            path, hint=hint, why="read as Windows-1252 it shows characters that French text does not use "
            "(as Mac-Roman or another encoding would)", row=text[: odd.start()].count("\n"),
        )
    return text.encode("utf-8"), "cp1252"
