"""Content encryption: AES-256-GCM per part, the content key wrapped per host with X25519.

Determinism without nonce reuse: the content key is derived (HKDF-SHA256) from the platform
signing key's secret and the digests of the plaintext parts plus app id, version and build, so
the same input packs to the same bytes, and different content always gets a different key. Each
part's nonce is derived from that key and the part name, so a (key, nonce) pair only ever
encrypts one plaintext. The ephemeral X25519 key per recipient is derived the same way (as
RFC 6979 derives ECDSA nonces from the secret key). Each part's associated data binds app id,
version, build and part name, so ciphertext moved to another release or part fails to open.
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from minibox.package.errors import DecryptionError
from minibox.package.keys import public_raw

KEY_BYTES = 32
NONCE_BYTES = 12
_WRAP_NONCE = bytes(NONCE_BYTES)  # the KEK is unique per (ephemeral key, recipient): one use only


def _hkdf(ikm: bytes, info: bytes, salt: bytes | None = None, length: int = KEY_BYTES) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info).derive(ikm)


def _release(app_id: str, version: str, build: int) -> bytes:
    return b"\x00".join(x.encode("utf-8") for x in (app_id, version, str(build)))


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def unb64(text: str, entry: str) -> bytes:
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except ValueError:
        raise DecryptionError("bad-base64", entry, "malformed base64") from None


def derive_content_key(secret: bytes, part_digests: list[str], app_id: str, version: str, build: int) -> bytes:
    salt = hashlib.sha256("\n".join(part_digests).encode("ascii")).digest()
    return _hkdf(secret, b"minibox-cek-v1\x00" + _release(app_id, version, build), salt=salt)


def part_nonce(cek: bytes, part: str) -> bytes:
    return _hkdf(cek, b"minibox-nonce-v1\x00" + part.encode("utf-8"), length=NONCE_BYTES)


def part_aad(app_id: str, version: str, build: int, part: str) -> bytes:
    return b"minibox-part-v1\x00" + _release(app_id, version, build) + b"\x00" + part.encode("utf-8")


def encrypt_part(cek: bytes, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
    return AESGCM(cek).encrypt(nonce, plaintext, aad)


def decrypt_part(cek: bytes, nonce: bytes, ciphertext: bytes, aad: bytes, part: str) -> bytes:
    try:
        return AESGCM(cek).decrypt(nonce, ciphertext, aad)
    except InvalidTag:
        raise DecryptionError("ciphertext-tampered", part, "AES-GCM tag does not verify") from None


def _kek(shared: bytes, epk: bytes, recipient: bytes, host_id: str) -> bytes:
    return _hkdf(shared, b"minibox-wrap-v1\x00" + epk + recipient + host_id.encode("utf-8"))


def _wrap_aad(host_id: str, app_id: str, version: str, build: int) -> bytes:
    return b"minibox-wrap-v1\x00" + host_id.encode("utf-8") + b"\x00" + _release(app_id, version, build)


def wrap_key(secret: bytes, cek: bytes, host_id: str, recipient: X25519PublicKey,
             app_id: str, version: str, build: int) -> tuple[str, str]:
    """Wrap the content key for one host; returns (ephemeral public key, wrapped key) in base64."""
    rpub = public_raw(recipient)
    seed = _hkdf(secret, b"minibox-eph-v1\x00" + host_id.encode("utf-8") + rpub, salt=hashlib.sha256(cek).digest())
    eph = X25519PrivateKey.from_private_bytes(seed)
    epk = public_raw(eph.public_key())
    try:
        shared = eph.exchange(recipient)
    except ValueError:
        raise DecryptionError("bad-recipient-key", host_id, "recipient key is a low-order point") from None
    wrapped = AESGCM(_kek(shared, epk, rpub, host_id)).encrypt(
        _WRAP_NONCE, cek, _wrap_aad(host_id, app_id, version, build))
    return b64(epk), b64(wrapped)


def unwrap_key(host_private: X25519PrivateKey, host_id: str, epk_b64: str, wrapped_b64: str,
               app_id: str, version: str, build: int) -> bytes:
    epk = unb64(epk_b64, host_id)
    wrapped = unb64(wrapped_b64, host_id)
    try:
        shared = host_private.exchange(X25519PublicKey.from_public_bytes(epk))
    except ValueError:
        raise DecryptionError("wrong-host-key", host_id, "bad ephemeral key") from None
    rpub = public_raw(host_private.public_key())
    try:
        cek = AESGCM(_kek(shared, epk, rpub, host_id)).decrypt(
            _WRAP_NONCE, wrapped, _wrap_aad(host_id, app_id, version, build))
    except InvalidTag:
        raise DecryptionError("wrong-host-key", host_id, "content key does not unwrap with this host's key") from None
    if len(cek) != KEY_BYTES:
        raise DecryptionError("wrong-host-key", host_id, "unwrapped key has the wrong length")
    return cek
