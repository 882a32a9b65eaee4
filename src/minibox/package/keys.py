"""Platform signing keys (Ed25519) and host app keys (X25519).

A key id is the first 16 bytes (hex) of the SHA-256 of the raw 32-byte public key, so it names
the key itself, not a label someone chose.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from minibox.package.errors import FormatError, SignatureError

#: Domain-separation prefixes: a signature of one kind can never be replayed as another.
MANIFEST_CONTEXT = b"minibox-manifest-v1\x00"
KEYSET_CONTEXT = b"minibox-keyset-v1\x00"

_RAW = serialization.Encoding.Raw, serialization.PublicFormat.Raw


def public_key_id(public: Ed25519PublicKey) -> str:
    """The key id of an Ed25519 public key."""
    return hashlib.sha256(public.public_bytes(*_RAW)).hexdigest()[:32]


def public_raw(public: Ed25519PublicKey | X25519PublicKey) -> bytes:
    return public.public_bytes(*_RAW)


def load_ed25519_public(data: bytes) -> Ed25519PublicKey:
    """An Ed25519 public key from PEM or 32 raw bytes."""
    try:
        if len(data) == 32:
            return Ed25519PublicKey.from_public_bytes(data)
        key = serialization.load_pem_public_key(data)
    except ValueError as exc:
        raise FormatError("bad-public-key", None, str(exc)) from None
    if not isinstance(key, Ed25519PublicKey):
        raise FormatError("bad-public-key", None, "not an Ed25519 public key")
    return key


def verify_signature(public: Ed25519PublicKey, signature: bytes, context: bytes, message: bytes,
                     *, entry: str) -> None:
    from cryptography.exceptions import InvalidSignature

    try:
        public.verify(signature, context + message)
    except InvalidSignature:
        raise SignatureError("bad-signature", entry, "signature does not verify") from None


@dataclass(frozen=True)
class SigningKey:
    """An Ed25519 platform signing key."""

    private: Ed25519PrivateKey

    @classmethod
    def generate(cls) -> SigningKey:
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def from_pem(cls, data: bytes, password: bytes | None = None) -> SigningKey:
        try:
            key = serialization.load_pem_private_key(data, password=password)
        except (ValueError, TypeError) as exc:
            raise FormatError("bad-private-key", None, str(exc)) from None
        if not isinstance(key, Ed25519PrivateKey):
            raise FormatError("bad-private-key", None, "not an Ed25519 private key")
        return cls(key)

    @classmethod
    def load(cls, path: Path, password: bytes | None = None) -> SigningKey:
        return cls.from_pem(Path(path).read_bytes(), password)

    @property
    def public(self) -> Ed25519PublicKey:
        return self.private.public_key()

    @property
    def key_id(self) -> str:
        return public_key_id(self.public)

    def raw_private(self) -> bytes:
        return self.private.private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
        )

    def public_key_pem(self) -> bytes:
        return self.public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)

    def to_pem(self, password: bytes | None = None) -> bytes:
        enc: serialization.KeySerializationEncryption = (
            serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
        )
        return self.private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, enc)

    def sign(self, context: bytes, message: bytes) -> bytes:
        return self.private.sign(context + message)


@dataclass(frozen=True)
class HostKeyPair:
    """A host app's X25519 key pair: packages encrypted for the host are opened with it."""

    private: X25519PrivateKey

    @classmethod
    def generate(cls) -> HostKeyPair:
        return cls(X25519PrivateKey.generate())

    @classmethod
    def from_private_pem(cls, data: bytes, password: bytes | None = None) -> HostKeyPair:
        try:
            key = serialization.load_pem_private_key(data, password=password)
        except (ValueError, TypeError) as exc:
            raise FormatError("bad-private-key", None, str(exc)) from None
        if not isinstance(key, X25519PrivateKey):
            raise FormatError("bad-private-key", None, "not an X25519 private key")
        return cls(key)

    @classmethod
    def load(cls, path: Path, password: bytes | None = None) -> HostKeyPair:
        return cls.from_private_pem(Path(path).read_bytes(), password)

    @property
    def public(self) -> X25519PublicKey:
        return self.private.public_key()

    def public_bytes(self) -> bytes:
        """The raw 32-byte public key (what the platform registers for the host)."""
        return public_raw(self.public)

    def private_pem(self, password: bytes | None = None) -> bytes:
        enc: serialization.KeySerializationEncryption = (
            serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
        )
        return self.private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, enc)


def load_host_public(data: bytes | X25519PublicKey) -> X25519PublicKey:
    """A host public key from an object, 32 raw bytes, PEM, or 64 hex characters."""
    if isinstance(data, X25519PublicKey):
        return data
    try:
        if len(data) == 32:
            return X25519PublicKey.from_public_bytes(data)
        stripped = data.strip()
        if len(stripped) == 64:
            return X25519PublicKey.from_public_bytes(bytes.fromhex(stripped.decode("ascii")))
        key = serialization.load_pem_public_key(data)
    except ValueError as exc:
        raise FormatError("bad-public-key", None, str(exc)) from None
    if not isinstance(key, X25519PublicKey):
        raise FormatError("bad-public-key", None, "not an X25519 public key")
    return key


def load_host_private(key: X25519PrivateKey | HostKeyPair | bytes) -> X25519PrivateKey:
    if isinstance(key, HostKeyPair):
        return key.private
    if isinstance(key, X25519PrivateKey):
        return key
    return HostKeyPair.from_private_pem(key).private
