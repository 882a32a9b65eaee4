"""Key derivation: one AES-256 key per (purpose, host, app, user) from the host master key."""

from __future__ import annotations

import hashlib
import hmac

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

#: The master key must carry at least this many bytes of secret.
MIN_MASTER_KEY_BYTES = 32


class KeyError_(ValueError):
    """The master key is unusable (too short or not bytes)."""


def encode_parts(*parts: str) -> bytes:
    """Length-prefixed UTF-8 encoding: no two different tuples give the same bytes."""
    out = bytearray()
    for p in parts:
        b = p.encode("utf-8", "surrogatepass")
        out += len(b).to_bytes(4, "big") + b
    return bytes(out)


def derive_key(master_key: bytes, purpose: str, *parts: str) -> bytes:
    if not isinstance(master_key, bytes | bytearray) or len(master_key) < MIN_MASTER_KEY_BYTES:
        raise KeyError_(f"master key must be at least {MIN_MASTER_KEY_BYTES} bytes")
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"minibox-kdf-v1",
                info=encode_parts(purpose, *parts))
    return hkdf.derive(bytes(master_key))


def name_digest(key: bytes, *parts: str) -> str:
    """A keyed, non-reversible name (used for directory and lookup ids)."""
    return hmac.new(key, encode_parts(*parts), hashlib.sha256).hexdigest()
