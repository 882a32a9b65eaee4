"""The `.mbx` byte layout: a small framed container of our own, not zip.

Why not zip: a zip file describes its entries twice (local headers and the central directory),
and the classic archive attacks live in the gap between the two: the Android "Master Key" bypass
(two entries, one name), overlapping entries sharing data (Fifield's non-recursive bomb),
declared sizes that lie, Zip64 and data-descriptor ambiguities, symlink bits hidden in external
attributes. Parsing zip strictly means refusing most of the format. Instead the only directory of
an `.mbx` is the signed manifest itself: it lists every entry with its path, type, method, sizes and
SHA-256 in order, and each part's payload is the plain concatenation of its entries' stored bytes.
So there is one name per entry, no offsets to overlap, nothing outside the signature to describe
the files, and the framing below is the only thing parsed before the signature is checked.

Layout (all integers big-endian)::

    MAGIC (8 bytes)
    section*:  kind (1 byte: M manifest, S signature, P part)
               name length (1 byte) + name (ASCII)
               length (8 bytes) + data

Sections come in a fixed order: exactly one M (name ""), exactly one S (name ""), then P sections
in the manifest's part order (a part may be absent when it is fetched separately, but never
repeated or reordered). Nothing may follow the last section.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from minibox.package.errors import FormatError

MAGIC = b"MBX\x00\x01\r\n\x1a"
#: Most sections an `.mbx` may hold (manifest, signature, main part and subpackages).
MAX_SECTIONS = 2 + 1 + 100
#: Longest section name (a subpackage root).
MAX_NAME = 200

_HEAD = struct.Struct(">cB")
_LEN = struct.Struct(">Q")


@dataclass
class Container:
    """The raw sections of an `.mbx` file (no meaning attached yet)."""

    manifest: bytes
    signature: bytes
    parts: dict[str, bytes] = field(default_factory=dict)


def encode(container: Container) -> bytes:
    out = [MAGIC]

    def section(kind: bytes, name: str, data: bytes) -> None:
        raw = name.encode("ascii")
        out.append(_HEAD.pack(kind, len(raw)) + raw + _LEN.pack(len(data)))
        out.append(data)

    section(b"M", "", container.manifest)
    section(b"S", "", container.signature)
    for name, data in container.parts.items():
        section(b"P", name, data)
    return b"".join(out)


def decode(data: bytes) -> Container:
    """Split an `.mbx` into its sections; refuse any framing that is not exactly as written."""
    view = memoryview(data)
    if bytes(view[: len(MAGIC)]) != MAGIC:
        raise FormatError("bad-magic", "header", "not an .mbx package")
    pos = len(MAGIC)
    sections: list[tuple[str, str, bytes]] = []
    while pos < len(data):
        if len(sections) >= MAX_SECTIONS:
            raise FormatError("too-many-sections", "sections", f"more than {MAX_SECTIONS} sections")
        if pos + _HEAD.size > len(data):
            raise FormatError("truncated", f"offset {pos}", "section header cut short")
        kind_b, name_len = _HEAD.unpack_from(data, pos)
        pos += _HEAD.size
        if name_len > MAX_NAME or pos + name_len + _LEN.size > len(data):
            raise FormatError("truncated", f"offset {pos}", "section name cut short")
        try:
            name = bytes(view[pos : pos + name_len]).decode("ascii")
        except UnicodeDecodeError:
            raise FormatError("bad-section-name", f"offset {pos}", "section name is not ASCII") from None
        pos += name_len
        (length,) = _LEN.unpack_from(data, pos)
        pos += _LEN.size
        if length > len(data) - pos:
            raise FormatError("truncated", name or kind_b.decode("latin-1"), "section data cut short")
        sections.append((kind_b.decode("latin-1"), name, bytes(view[pos : pos + length])))
        pos += length
    if len(sections) < 2 or sections[0][:2] != ("M", "") or sections[1][:2] != ("S", ""):
        raise FormatError("bad-layout", "sections", "expected a manifest then a signature section")
    parts: dict[str, bytes] = {}
    for kind, name, body in sections[2:]:
        if kind != "P":
            raise FormatError("bad-layout", name, f"unexpected section kind {kind!r}")
        if name in parts:
            raise FormatError("duplicate-part", name, "part appears twice")
        parts[name] = body
    return Container(manifest=sections[0][2], signature=sections[1][2], parts=parts)


def split(data: bytes) -> tuple[bytes, dict[str, bytes]]:
    """Cut a package into its header (manifest + signature) and separately fetchable parts."""
    box = decode(data)
    return encode(Container(box.manifest, box.signature)), box.parts


def join(header: bytes, parts: dict[str, bytes]) -> bytes:
    """Re-assemble a header with parts; order and binding are checked by verification."""
    box = decode(header)
    return encode(Container(box.manifest, box.signature, dict(parts)))
