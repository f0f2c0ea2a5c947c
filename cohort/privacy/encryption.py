"""The encrypted file format of layer 01 raw and of the quarantine's reports.

A file is a 37-byte header, then the plaintext in segments, each sealed with AES-256-GCM::

    offset  bytes  field
    0       8      magic      b"\\x89PXENC\\r\\n" (a non-ASCII first byte: no text file starts so)
    8       1      version    1
    9       4      segment    plaintext bytes per segment, S (big-endian; 1 MiB by default)
    13      8      key id     the first 8 bytes of SHA-256("proximite raw key id" ‖ 0x00 ‖ key)
    21      16     nonce      random, one per file
    37      ...    segments   S bytes of plaintext each (the last 0..S), each followed by its 16-byte tag

Segment :math:`i` is sealed with the file's own key :math:`K_f = \\mathrm{HKDF\\text{-}SHA256}(key,
salt = nonce, info = \\text{"proximite raw v1"})` under the 96-bit nonce
:math:`i_{(11\\ bytes)} \\Vert last_{(1\\ byte)}`, the 37 header bytes as associated data. So:

- no nonce is ever reused: each file has its own key (a random 128-bit salt), each segment its
  own counter;
- a segment cannot be altered, dropped, moved or repeated, nor the file cut at a segment
  boundary (the last segment says it is last), nor the header's key id or segment size changed;
- a file of any size is encrypted and decrypted segment by segment, in constant memory.

The file's path is **not** bound in (decided so): quarantined folders are moved, a retention
archive may move raw pulls, and a path in the associated data would make every such move
unreadable. What a swap of two files could hide, the manifests show: each raw pull's
``manifest.json`` keeps the SHA-256 of every file's plaintext under its relative path.

The key id is a fingerprint: it tells which key opens a file (the rotation needs it) and cannot
give the key back. Nothing here logs, and no error quotes a key or a byte of plaintext.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from proximite.errors import ProximiteError

if TYPE_CHECKING:  # pragma: no cover
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

__all__ = [
    "HEADER_SIZE",
    "MAGIC",
    "SEGMENT_SIZE",
    "VERSION",
    "EncryptedFileError",
    "KeyRing",
    "RawKey",
    "decrypt_bytes",
    "decrypt_file",
    "encrypt_bytes",
    "encrypt_file",
    "file_chunks",
    "file_key_id",
    "fsync_directory",
    "is_encrypted",
    "iter_decrypted",
    "iter_encrypted",
]

MAGIC = b"\x89PXENC\r\n"
VERSION = 1
#: Plaintext bytes per segment of the files this version writes.
SEGMENT_SIZE = 1 << 20
_HEADER = struct.Struct(">8sBI8s16s")
HEADER_SIZE = _HEADER.size  # 37
_TAG = 16
_KEY_ID_LABEL = b"proximite raw key id\x00"
_FILE_KEY_INFO = b"proximite raw v1"
_MAX_SEGMENT = 64 << 20  # a header asking more is damaged, not a file of ours


class EncryptedFileError(ProximiteError):
    """An encrypted file cannot be opened: damaged, altered, cut short, or sealed with a key not at hand.

    Parameters
    ----------
    path : str or Path
        The file (as the user knows it: its raw or quarantine path, never a temporary copy).
    reason : str
        What is wrong and what to do; never a key nor a byte of the file.
    """

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


@dataclass(frozen=True)
class RawKey:
    """One 256-bit key of the raw layer; its ``repr`` shows the key id only.

    Attributes
    ----------
    secret : bytes
        32 bytes.
    """

    secret: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if len(self.secret) != 32:
            raise ValueError("a raw-layer key is 32 bytes")

    @classmethod
    def generate(cls) -> RawKey:
        """A new random key."""
        return cls(secrets.token_bytes(32))

    @classmethod
    def from_hex(cls, text: str) -> RawKey:
        """A key from its 64 hexadecimal characters (``ValueError`` otherwise; the text is never quoted)."""
        text = text.strip()
        if len(text) != 64:
            raise ValueError("a raw-layer key is 64 hexadecimal characters")
        try:
            return cls(bytes.fromhex(text))
        except ValueError:
            raise ValueError("a raw-layer key is 64 hexadecimal characters") from None

    def hex(self) -> str:
        """The key as 64 hexadecimal characters (what a key file or the environment holds)."""
        return self.secret.hex()

    @property
    def key_id(self) -> str:
        """The key's fingerprint, 16 hexadecimal characters (written in each file's header)."""
        return hashlib.sha256(_KEY_ID_LABEL + self.secret).digest()[:8].hex()

    def __repr__(self) -> str:
        return f"RawKey(key_id={self.key_id!r})"


@dataclass(frozen=True)
class KeyRing:
    """The keys a file may be opened with: the current key first (the one files are sealed with).

    Attributes
    ----------
    keys : tuple of RawKey
        Current first, then previous keys (kept while a rotation has not finished).
    origin : str
        Where they came from (``env:PROXIMITE_RAW_KEY``, ``file:<path>``), for error messages.
    """

    keys: tuple[RawKey, ...]
    origin: str = ""

    def __post_init__(self) -> None:
        if not self.keys:
            raise ValueError("a key ring holds one key at least")

    @property
    def current(self) -> RawKey:
        return self.keys[0]

    @property
    def previous(self) -> tuple[RawKey, ...]:
        return self.keys[1:]

    def find(self, key_id: str) -> RawKey | None:
        """The key of that id, or None."""
        return next((key for key in self.keys if key.key_id == key_id), None)

    def ids(self) -> list[str]:
        return [key.key_id for key in self.keys]


def _ring(keys: KeyRing | RawKey | Iterable[RawKey]) -> KeyRing:
    if isinstance(keys, KeyRing):
        return keys
    if isinstance(keys, RawKey):
        return KeyRing((keys,))
    return KeyRing(tuple(keys))


def _file_cipher(key: RawKey, nonce: bytes) -> AESGCM:
    """The file's own AES-256-GCM key: HKDF-SHA256 of the raw key, salted with the file's nonce."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    file_key = HKDF(algorithm=hashes.SHA256(), length=32, salt=nonce, info=_FILE_KEY_INFO).derive(key.secret)
    return AESGCM(file_key)


def _segment_nonce(index: int, *, last: bool) -> bytes:
    return index.to_bytes(11, "big") + (b"\x01" if last else b"\x00")


def _pieces(chunks: Iterable[bytes | memoryview], size: int) -> Iterator[bytes | memoryview]:
    """The chunks cut or joined into pieces of exactly ``size`` bytes, the last one shorter (or empty)."""
    buffer = bytearray()
    for chunk in chunks:
        if not buffer and len(chunk) == size:
            yield chunk  # the usual case: a file read segment by segment
            continue
        buffer += chunk
        while len(buffer) >= size:
            yield bytes(buffer[:size])
            del buffer[:size]
    yield bytes(buffer)


def iter_encrypted(
    chunks: Iterable[bytes | memoryview], key: RawKey, *, segment_size: int = SEGMENT_SIZE
) -> Iterator[bytes]:
    """The encrypted file, piece by piece: the header, then one sealed segment at a time.

    Parameters
    ----------
    chunks : iterable of bytes
        The plaintext, in chunks of any size (segment-sized chunks are sealed without a copy).
    key : RawKey
    segment_size : int, keyword-only

    Yields
    ------
    bytes
        The header first, then each segment with its tag.
    """
    if not 1 <= segment_size <= _MAX_SEGMENT:
        raise ValueError(f"segment size must be between 1 and {_MAX_SEGMENT} bytes")
    nonce = secrets.token_bytes(16)
    header = _HEADER.pack(MAGIC, VERSION, segment_size, bytes.fromhex(key.key_id), nonce)
    cipher = _file_cipher(key, nonce)
    yield header
    pieces = _pieces(chunks, segment_size)
    held = next(pieces)
    index = 0
    for piece in pieces:  # a piece is sealed once the next one shows it is not the last
        yield cipher.encrypt(_segment_nonce(index, last=False), held, header)
        held, index = piece, index + 1
    # The remainder closes the file (empty when the plaintext is a multiple of the segment size).
    yield cipher.encrypt(_segment_nonce(index, last=True), held, header)


def _read_exactly(handle: BinaryIO, size: int) -> bytes:
    parts, wanted = [], size
    while wanted:
        part = handle.read(wanted)
        if not part:
            break
        parts.append(part)
        wanted -= len(part)
    return b"".join(parts)


def _open_header(header: bytes, keys: KeyRing, path: str | Path) -> tuple[AESGCM, int]:
    """The cipher and segment size of a file, from its header (checked)."""
    if len(header) < HEADER_SIZE or not header.startswith(MAGIC):
        raise EncryptedFileError(path, "not an encrypted file of Proximité (its header is missing or cut short)")
    magic, version, segment_size, key_id, nonce = _HEADER.unpack(header)
    del magic
    if version != VERSION:
        raise EncryptedFileError(path, f"encrypted in format version {version}, which this version of Proximité cannot read")
    if not 1 <= segment_size <= _MAX_SEGMENT:
        raise EncryptedFileError(path, "the encrypted file is damaged (its header's segment size is impossible)")
    key = keys.find(key_id.hex())
    if key is None:
        known = ", ".join(keys.ids())
        where = f" from {keys.origin}" if keys.origin else ""
        raise EncryptedFileError(
            path,
            f"encrypted with the raw-layer key {key_id.hex()}, which is not among the keys at hand ({known}{where}); "
            "give that key (PROXIMITE_RAW_KEY or the project's key file, see docs/encryption.md)",
        )
    return _file_cipher(key, nonce), segment_size


def iter_decrypted(handle: BinaryIO, keys: KeyRing | RawKey | Iterable[RawKey], *, path: str | Path) -> Iterator[bytes]:
    """The plaintext of an encrypted stream, segment by segment, each checked before it is yielded.

    Parameters
    ----------
    handle : binary file
        Positioned at the header.
    keys : KeyRing, RawKey or iterable of RawKey
    path : str or Path, keyword-only
        The file's name for error messages (the user's path, not a temporary copy).

    Raises
    ------
    EncryptedFileError
        Unknown key, altered or damaged segment, file cut short, or data after the last segment.
    """
    from cryptography.exceptions import InvalidTag

    header = _read_exactly(handle, HEADER_SIZE)
    cipher, segment_size = _open_header(header, _ring(keys), path)
    block = segment_size + _TAG
    current = _read_exactly(handle, block)
    index = 0
    while True:
        following = _read_exactly(handle, block) if len(current) == block else b""
        last = not following
        if len(current) < _TAG:
            raise EncryptedFileError(path, "the encrypted file is cut short (restore it from a backup)")
        try:
            yield cipher.decrypt(_segment_nonce(index, last=last), current, header)
        except InvalidTag:
            raise EncryptedFileError(
                path,
                f"the encrypted file is damaged or was altered (segment {index + 1} fails its authentication check, "
                "or the file was cut short); restore it from a backup",
            ) from None
        if last:
            return
        current, index = following, index + 1


def encrypt_bytes(data: bytes | memoryview, key: RawKey, *, segment_size: int = SEGMENT_SIZE) -> bytes:
    """``data`` encrypted (see the module's format)."""
    view = memoryview(data)
    chunks = (view[start : start + segment_size] for start in range(0, len(view), segment_size))
    return b"".join(iter_encrypted(chunks, key, segment_size=segment_size))


def decrypt_bytes(data: bytes, keys: KeyRing | RawKey | Iterable[RawKey], *, path: str | Path = "<bytes>") -> bytes:
    """The plaintext of encrypted ``data``; ``path`` names it in errors."""
    import io

    return b"".join(iter_decrypted(io.BytesIO(data), keys, path=path))


def file_chunks(path: Path, *, size: int = SEGMENT_SIZE) -> Iterator[bytes]:
    """A file's bytes in chunks of ``size`` (the last shorter)."""
    with Path(path).open("rb") as handle:
        while chunk := _read_exactly(handle, size):
            yield chunk


def encrypt_file(source: str | Path, target: str | Path, key: RawKey, *, segment_size: int = SEGMENT_SIZE) -> tuple[int, str]:
    """Encrypt ``source`` into ``target`` in constant memory; return the plaintext's size and SHA-256.

    ``target`` is written in place (callers that need atomicity write a temporary and rename it).
    """
    digest, size = hashlib.sha256(), 0

    def counted() -> Iterator[bytes]:
        nonlocal size
        for chunk in file_chunks(Path(source), size=segment_size):
            digest.update(chunk)
            size += len(chunk)
            yield chunk

    with Path(target).open("wb") as out:
        for piece in iter_encrypted(counted(), key, segment_size=segment_size):
            out.write(piece)
    return size, digest.hexdigest()


def decrypt_file(source: str | Path, target: str | Path, keys: KeyRing | RawKey | Iterable[RawKey], *, name: str | Path | None = None) -> int:
    """Decrypt ``source`` into ``target`` in constant memory; return the plaintext's size.

    ``name`` is how errors name the file (default: ``source``). On an error ``target`` is removed.
    """
    size = 0
    try:
        with Path(source).open("rb") as handle, Path(target).open("wb") as out:
            for chunk in iter_decrypted(handle, keys, path=name or source):
                out.write(chunk)
                size += len(chunk)
    except BaseException:
        Path(target).unlink(missing_ok=True)
        raise
    return size


def is_encrypted(path: str | Path) -> bool:
    """Whether a file starts with the magic of this format (a plain file of an older project does not)."""
    try:
        with Path(path).open("rb") as handle:
            return handle.read(len(MAGIC)) == MAGIC
    except IsADirectoryError:
        return False


def file_key_id(path: str | Path) -> str | None:
    """The key id in a file's header, or None for a plain file (the header alone is read)."""
    with Path(path).open("rb") as handle:
        header = _read_exactly(handle, HEADER_SIZE)
    if len(header) < HEADER_SIZE or not header.startswith(MAGIC):
        return None
    return _HEADER.unpack(header)[3].hex()


def fsync_directory(directory: str | Path) -> None:
    """Flush a directory's entries (a rename is durable once its directory is)."""
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
