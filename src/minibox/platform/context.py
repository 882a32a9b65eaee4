"""What every service function receives: the long-lived platform parts and the caller."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.orm import Session

from minibox.platform.blobs import BlobStore
from minibox.platform.db import Database
from minibox.platform.settings import Settings


@dataclass(frozen=True)
class Principal:
    """An authenticated console user or API token; `org_id` scopes every query."""

    user_id: int
    org_id: int
    username: str
    role: str
    kind: str  # "session" | "token"
    scopes: frozenset[str] = field(default_factory=frozenset)
    credential_id: int = 0

    @property
    def label(self) -> str:
        if self.kind == "system":  # the platform acting by itself (the rollout guard)
            return "system"
        return f"user:{self.username}" + (f" token:{self.credential_id}" if self.kind == "token" else "")


@dataclass
class Platform:
    """Long-lived parts shared by every request of one replica (no state that matters)."""

    settings: Settings
    db: Database
    blobs: BlobStore
    audit_key: Ed25519PrivateKey
    package_signer: Any = None  # minibox.package.SigningKey once loaded
    releases: Any = None  # minibox.platform.release.cache.ReleaseCache: the update check's snapshot
    shared: Any = None  # minibox.platform.shared.SharedRedis when MINIBOX_REDIS_URL is set, else None
    notifier: Any = None  # minibox.platform.webhooks.Notifier when a webhook is configured, else None
    guard: Any = None  # minibox.platform.release.guard.GuardWatcher: the rollout guard's evaluator thread


@dataclass
class Ctx:
    """One unit of work: a session (transaction), the platform and the caller."""

    s: Session
    platform: Platform
    actor: Principal | None = None

    def audit(self, action: str, target: str, details: dict[str, Any] | None = None, *,
              outcome: str = "ok", org_id: int | None = None, actor: str | None = None) -> None:
        from minibox.platform.audit.service import record

        record(self.s, self.platform.audit_key,
               actor=actor or (self.actor.label if self.actor else "system"),
               org_id=org_id if org_id is not None else (self.actor.org_id if self.actor else None),
               action=action, target=target, outcome=outcome, details=details or {})
