"""How a host signs a telemetry batch and the platform checks it (shared by both sides).

The host already holds an X25519 key pair whose public half the platform registered (packages are
encrypted to it). The platform holds an X25519 *telemetry* key of its own, published signed by the
platform's package signing key (`GET /api/v1/telemetry/key`). Both sides derive the same MAC key:

    key = HKDF-SHA256(X25519(host_private, platform_public), info = CONTEXT || host_id)

and the host sends `X-Minibox-Telemetry-Sig: v1=<hex HMAC-SHA256(key, body)>`. Only the holder of
the host's private key (or the platform's) can compute it: the host API key, a copy of the platform
database (which has only public keys and key hashes) or an observer of the traffic cannot forge a
batch; a rotated host key stops old signatures at once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

SIG_HEADER = "X-Minibox-Telemetry-Sig"
SIG_VERSION = "v1"
MAC_CONTEXT = b"minibox-telemetry-mac-v1\x00"
#: Context of the platform's Ed25519 signature over its telemetry X25519 public key.
KEY_CONTEXT = b"minibox-telemetry-key-v1\x00"


def mac_key(private: X25519PrivateKey, peer_public: bytes, host_id: str) -> bytes:
    shared = private.exchange(X25519PublicKey.from_public_bytes(peer_public))
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                info=MAC_CONTEXT + host_id.encode()).derive(shared)


def sign_body(key: bytes, body: bytes) -> str:
    return f"{SIG_VERSION}={hmac.new(key, body, hashlib.sha256).hexdigest()}"


def check_body(key: bytes, body: bytes, header: str | None) -> bool:
    if not header or not header.startswith(SIG_VERSION + "="):
        return False
    return hmac.compare_digest(sign_body(key, body), header.strip())


def verify_platform_key(doc: dict[str, object], trusted: dict[str, Ed25519PublicKey]) -> bytes:
    """The platform's telemetry public key from `GET /api/v1/telemetry/key`, checked against the
    host's trusted package keys (raises ValueError if it does not verify)."""
    from cryptography.exceptions import InvalidSignature

    try:
        raw = bytes.fromhex(str(doc["public_key"]))
        sig = base64.b64decode(str(doc["sig"]), validate=True)
        signer = trusted[str(doc["key_id"])]
    except (KeyError, ValueError) as exc:
        raise ValueError(f"telemetry key document is malformed or signed by an unknown key: {exc}") from None
    if len(raw) != 32:
        raise ValueError("telemetry key must be 32 bytes")
    try:
        signer.verify(sig, KEY_CONTEXT + raw)
    except InvalidSignature:
        raise ValueError("telemetry key signature does not verify") from None
    return raw
