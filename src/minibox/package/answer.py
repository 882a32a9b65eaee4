"""Signed update answers: what the platform says a (host, user) should run, including the app's
allowlist, signed with the platform's package key so a proxy or a hijacked connection cannot
widen an app's network grants or swap its release.

The signature covers the canonical JSON of the whole answer (minus the signature itself), which
names the host, the user and the time it was issued; the container checks all three.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from minibox.package import canonical
from minibox.package.errors import SignatureError
from minibox.package.keys import SigningKey, verify_signature

CONTEXT = b"minibox-update-answer-v1\x00"
#: Deletion orders for a user (minibox.platform.privacy), signed the same way under their own context.
DELETIONS_CONTEXT = b"minibox-deletion-orders-v1\x00"
#: An answer older than this is refused (a replayed answer cannot bring back an old allowlist).
MAX_AGE = timedelta(hours=24)
#: Clock skew tolerated for answers from the future.
MAX_SKEW = timedelta(minutes=10)


def sign_answer(signer: SigningKey, answer: dict[str, Any], now: datetime | None = None, *,
                context: bytes = CONTEXT) -> dict[str, Any]:
    body = {k: v for k, v in answer.items() if k != "signature"}
    body["issued_at"] = (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    sig = signer.sign(context, canonical.dumps(body))
    return {**body, "signature": {"key_id": signer.key_id, "sig": base64.b64encode(sig).decode()}}


def verify_answer(doc: dict[str, Any], keys: dict[str, Ed25519PublicKey], *, host_id: str, user_id: str,
                  now: datetime | None = None, context: bytes = CONTEXT) -> dict[str, Any]:
    """Check signature, host, user and age; return the answer without its signature."""
    sig = doc.get("signature")
    if not isinstance(sig, dict) or not isinstance(sig.get("key_id"), str) or not isinstance(sig.get("sig"), str):
        raise SignatureError("unsigned-answer", doc.get("app_id"), "the update answer is not signed")
    key = keys.get(sig["key_id"])
    if key is None:
        raise SignatureError("untrusted-key", sig["key_id"], "the update answer is signed by an unknown key")
    body = {k: v for k, v in doc.items() if k != "signature"}
    try:
        raw = base64.b64decode(sig["sig"], validate=True)
        message = canonical.dumps(body)
    except (ValueError, TypeError):
        raise SignatureError("bad-signature", doc.get("app_id"), "malformed update answer signature") from None
    verify_signature(key, raw, context, message, entry="update answer")
    if body.get("host_id") != host_id or body.get("user_id") != user_id:
        raise SignatureError("wrong-audience", doc.get("app_id"),
                             f"answer is for host {body.get('host_id')!r} user {body.get('user_id')!r}")
    try:
        issued = datetime.strptime(str(body.get("issued_at")), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        raise SignatureError("bad-issued-at", doc.get("app_id"), "answer has no valid issued_at") from None
    now = now or datetime.now(UTC)
    if issued > now + MAX_SKEW or now - issued > MAX_AGE:
        raise SignatureError("stale-answer", doc.get("app_id"), f"answer issued at {body['issued_at']}")
    return body
