"""Appending to, checkpointing, verifying and exporting the audit log."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from minibox.platform.audit.chain import (
    CHECKPOINT_EVERY,
    GENESIS_HASH,
    canonical_json,
    entry_hash,
    sign,
    signature_ok,
)
from minibox.platform.audit.models import AuditCheckpoint, AuditEntry, AuditHead
from minibox.platform.keys import key_id

#: Entries read per batch while verifying or exporting.
BATCH = 2000


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def ensure_head(s: Session, key: Ed25519PrivateKey) -> None:
    """Create the signed empty head (seq 0) if the log is new."""
    if s.get(AuditHead, 1) is not None:
        return
    ts = _now()
    try:
        with s.begin_nested():
            s.add(AuditHead(id=1, seq=0, hash=GENESIS_HASH, ts=ts, signature=sign(key, 0, GENESIS_HASH, ts),
                            key_id=key_id(key.public_key())))
    except IntegrityError:
        pass  # another replica created it


def record(s: Session, key: Ed25519PrivateKey, *, actor: str, org_id: int | None, action: str, target: str,
           outcome: str, details: dict[str, Any]) -> AuditEntry:
    """Append one entry in the caller's transaction: if this fails, the action fails too."""
    head = s.execute(select(AuditHead).where(AuditHead.id == 1).with_for_update()).scalar_one_or_none()
    if head is None:
        raise RuntimeError("audit log has no head: run migrations / ensure_head first")
    seq, prev = head.seq + 1, head.hash
    ts = _now()
    actor, target = actor[:100], target[:200]  # what is stored is exactly what is hashed
    details_json = canonical_json(details)
    entry = AuditEntry(seq=seq, ts=ts, org_id=org_id, actor=actor, action=action, target=target, outcome=outcome,
                       details=details_json, prev_hash=prev,
                       hash=entry_hash(seq=seq, ts=ts, org_id=org_id, actor=actor, action=action, target=target,
                                       outcome=outcome, details=details_json, prev_hash=prev))
    s.add(entry)
    head.seq, head.hash, head.ts = seq, entry.hash, ts
    head.signature, head.key_id = sign(key, seq, entry.hash, ts), key_id(key.public_key())
    if seq % CHECKPOINT_EVERY == 0:
        s.add(_checkpoint(key, seq, entry.hash))
    s.flush()
    return entry


def _checkpoint(key: Ed25519PrivateKey, seq: int, hash_: str) -> AuditCheckpoint:
    ts = _now()
    return AuditCheckpoint(seq=seq, hash=hash_, ts=ts, signature=sign(key, seq, hash_, ts),
                           key_id=key_id(key.public_key()))


def checkpoint(s: Session, key: Ed25519PrivateKey) -> dict[str, Any]:
    """Store a signed checkpoint of the current head now; returns it (for an external copy)."""
    head = s.execute(select(AuditHead).where(AuditHead.id == 1).with_for_update()).scalar_one()
    cp = _checkpoint(key, head.seq, head.hash)
    s.add(cp)
    s.flush()
    return {"seq": cp.seq, "hash": cp.hash, "ts": cp.ts, "signature": cp.signature, "key_id": cp.key_id}


@dataclass
class VerifyResult:
    ok: bool
    entries: int
    checkpoints: int
    first_bad_seq: int | None = None
    problems: list[str] = field(default_factory=list)


def _iter_entries(s: Session) -> Iterator[AuditEntry]:
    last = -1
    while True:
        rows = s.execute(select(AuditEntry).where(AuditEntry.seq > last).order_by(AuditEntry.seq)
                         .limit(BATCH)).scalars().all()
        if not rows:
            return
        yield from rows
        last = rows[-1].seq


def verify(s: Session, public: Ed25519PublicKey, external_checkpoints: list[dict[str, Any]] | None = None,
           ) -> VerifyResult:
    """Walk the chain and every signed statement; name the first bad entry."""
    problems: list[str] = []
    first_bad: list[int] = []

    def bad(seq: int, msg: str) -> None:
        problems.append(f"entry {seq}: {msg}")
        first_bad.append(seq)

    hashes: dict[int, str] = {}
    expected, prev = 1, GENESIS_HASH
    for e in _iter_entries(s):
        if e.seq != expected:
            bad(expected, f"missing (next entry found is {e.seq}): deleted or reordered")
        if e.prev_hash != prev:
            bad(e.seq, "prev_hash does not match the entry before it: an entry was deleted, inserted or reordered")
        digest = entry_hash(seq=e.seq, ts=e.ts, org_id=e.org_id, actor=e.actor, action=e.action, target=e.target,
                            outcome=e.outcome, details=e.details, prev_hash=e.prev_hash)
        if digest != e.hash:
            bad(e.seq, "content does not match its hash: the entry was edited")
        hashes[e.seq] = e.hash
        prev, expected = e.hash, e.seq + 1
    last_seq = expected - 1

    statements: list[tuple[str, dict[str, Any]]] = []
    head = s.get(AuditHead, 1)
    if head is None:
        problems.append("audit head is missing")
    else:
        statements.append(("head", {"seq": head.seq, "hash": head.hash, "ts": head.ts, "signature": head.signature}))
    for cp in s.execute(select(AuditCheckpoint).order_by(AuditCheckpoint.id)).scalars():
        statements.append(("checkpoint", {"seq": cp.seq, "hash": cp.hash, "ts": cp.ts, "signature": cp.signature}))
    for cp_dict in external_checkpoints or []:
        statements.append(("external checkpoint", cp_dict))
    for kind, st in statements:
        seq, hash_ = int(st["seq"]), str(st["hash"])
        if not signature_ok(public, seq, hash_, str(st["ts"]), str(st["signature"])):
            problems.append(f"{kind} at {seq}: bad signature")
            first_bad.append(seq)
            continue
        if seq > last_seq:
            bad(last_seq + 1, f"log ends at {last_seq} but a signed {kind} covers {seq}: truncated")
        elif seq > 0 and hashes.get(seq) != hash_:
            bad(seq, f"hash differs from the signed {kind}: the chain was rewritten")
    if head is not None and head.seq < last_seq:
        bad(head.seq + 1, f"entries after the signed head ({head.seq}) were appended outside the platform")
    return VerifyResult(ok=not problems, entries=len(hashes), checkpoints=len(statements),
                        first_bad_seq=min(first_bad) if first_bad else None, problems=problems)


def export_lines(s: Session, org_id: int | None = None) -> Iterator[str]:
    """The log as JSON lines (one entry per line, details as an object), oldest first."""
    for e in _iter_entries(s):
        if org_id is not None and e.org_id != org_id:
            continue
        yield json.dumps(entry_dict(e), sort_keys=True, ensure_ascii=False) + "\n"


def entry_dict(e: AuditEntry) -> dict[str, Any]:
    return {"seq": e.seq, "ts": e.ts, "org_id": e.org_id, "actor": e.actor, "action": e.action, "target": e.target,
            "outcome": e.outcome, "details": json.loads(e.details), "prev_hash": e.prev_hash, "hash": e.hash}
