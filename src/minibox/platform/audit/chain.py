"""The hash chain: how an entry commits to the one before it, and how heads are signed.

entry.hash = SHA-256(canonical JSON of every field except `hash`, including `prev_hash` and `seq`)
Signed statements (head after every append, periodic checkpoints) are Ed25519 signatures over
"minibox-audit\n{seq}\n{hash}\n{ts}".
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

#: prev_hash of entry 1.
GENESIS_HASH = "0" * 64
#: A signed checkpoint is stored every this many entries (the head is signed after every entry).
CHECKPOINT_EVERY = 64


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def entry_hash(*, seq: int, ts: str, org_id: int | None, actor: str, action: str, target: str,
               outcome: str, details: str, prev_hash: str) -> str:
    body = canonical_json({"seq": seq, "ts": ts, "org_id": org_id, "actor": actor, "action": action,
                           "target": target, "outcome": outcome, "details": details,
                           "prev_hash": prev_hash})
    return hashlib.sha256(body.encode()).hexdigest()


def statement(seq: int, hash_: str, ts: str) -> bytes:
    return f"minibox-audit\n{seq}\n{hash_}\n{ts}".encode()


def sign(key: Ed25519PrivateKey, seq: int, hash_: str, ts: str) -> str:
    return key.sign(statement(seq, hash_, ts)).hex()


def signature_ok(public: Ed25519PublicKey, seq: int, hash_: str, ts: str, signature: str) -> bool:
    try:
        public.verify(bytes.fromhex(signature), statement(seq, hash_, ts))
    except (InvalidSignature, ValueError):
        return False
    return True
