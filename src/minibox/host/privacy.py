"""A user's rights on the host: see what each mini-program holds about them, delete it in one
action, and the per-app retention of storage and files.

What a mini-program holds about a user on this host: its storage (keys and bytes), its files, the
user's consent decisions for it, a relay phone number made for it. Deleting removes all of them
(running instances of that app for that user are closed first); the audit log records that it
happened, with counts, never the deleted data.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from minibox.apis.audit_log import AuditLog
from minibox.policy.files import FileService
from minibox.policy.permissions import PermissionService
from minibox.policy.storage import Owner

if TYPE_CHECKING:
    from minibox.host.host import Host
    from minibox.host.update import Updater


@dataclass
class AppData:
    app_id: str
    storage_keys: int = 0
    storage_bytes: int = 0
    file_bytes: int = 0
    scopes: dict[str, bool] = field(default_factory=dict)
    privacy_agreed: bool = False
    relay_number: bool = False

    @property
    def empty(self) -> bool:
        return not (self.storage_keys or self.file_bytes or self.scopes or self.privacy_agreed or self.relay_number)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class UserData:
    """The host's view of one user's data across mini-programs."""

    def __init__(self, host: Host) -> None:
        self.host = host
        root = host.config.data_dir
        self.files = FileService(root / "files", host.keyring)
        self.audit = AuditLog(root / "audit.jsonl")
        self.permissions = PermissionService(root / "consent.db", self.audit)

    def close(self) -> None:
        self.permissions.close()

    def _owner(self, app_id: str, user_id: str) -> Owner:
        return Owner(self.host.config.host_id, app_id, user_id)

    def apps_of(self, user_id: str) -> list[str]:
        hid = self.host.config.host_id
        apps = set(self.host.storage.apps_of(hid, user_id)) | set(self.permissions.apps_of(hid, user_id))
        apps |= set(self.host.relay.apps_of(user_id))
        apps |= {a for a in self.host.grants if self.files.holds(self._owner(a, user_id))}
        apps |= {i.config.app_id for i in self.host.instances if i.config.user_id == user_id}
        return sorted(apps)

    def overview(self, user_id: str) -> list[AppData]:
        """What each mini-program holds about `user_id` on this host."""
        out = []
        for app_id in self.apps_of(user_id):
            o = self._owner(app_id, user_id)
            info = self.host.storage.info(o)
            d = AppData(app_id, storage_keys=len(info["keys"]), storage_bytes=int(info["currentSize"]) * 1024)
            if self.files.holds(o):
                d.file_bytes = self.files.usage(o, ("usr", "store", "tmp"))
            d.scopes = self.permissions.settings(o)
            d.privacy_agreed = self.permissions.privacy_agreed(o)
            d.relay_number = app_id in self.host.relay.apps_of(user_id)
            if not d.empty:
                out.append(d)
        return out

    def delete(self, user_id: str, app_id: str | None = None, *, reason: str = "user") -> list[dict[str, Any]]:
        """Delete what one app (or every app) holds about `user_id`; returns what was deleted, as counts."""
        done = []
        for app in ([app_id] if app_id else self.apps_of(user_id)):
            for inst in [i for i in self.host.instances if i.config.app_id == app and i.config.user_id == user_id]:
                inst.close()
                self.host.instances.remove(inst)
            before = next((d for d in self.overview(user_id) if d.app_id == app), AppData(app))
            o = self._owner(app, user_id)
            self.host.storage.clear(o)
            if self.files.holds(o):
                self.files.forget(o)
            self.permissions.forget(o)
            self.host.relay.forget(app, user_id)
            counts: dict[str, Any] = {"app": app, "storage_keys": before.storage_keys,
                                      "file_bytes": before.file_bytes, "scopes": len(before.scopes),
                                      "relay_number": before.relay_number}
            telemetry = getattr(self.host, "telemetry", None)
            if telemetry is not None:  # events not yet sent go; the platform deletes what it stored
                counts["telemetry_user"], counts["telemetry_events"] = telemetry.forget_user(app, user_id)
            self.audit.record("userdata.delete", host=self.host.config.host_id, app=app, user=user_id,
                              reason=reason, **{k: v for k, v in counts.items() if k not in ("app", "telemetry_user")})
            done.append(counts)
        return done

    def carry_out_orders(self, updater: Updater, user_id: str) -> list[dict[str, Any]]:
        """At a check: fetch the platform's signed deletion orders for `user_id`, delete, acknowledge
        each with counts. A failure leaves the order pending: it comes again at the next check."""
        done = []
        for order in updater.deletion_orders(user_id):
            app = order.get("app_id")
            counts = self.delete(user_id, app if isinstance(app, str) else None, reason=f"platform order {order['id']}")
            summary = {"apps": len(counts), "storage_keys": sum(c["storage_keys"] for c in counts),
                       "file_bytes": sum(c["file_bytes"] for c in counts), "scopes": sum(c["scopes"] for c in counts)}
            # the platform holds telemetry only under pseudonyms it cannot link to a user: name them
            users = {c["app"]: c["telemetry_user"] for c in counts if c.get("telemetry_user")}
            updater.acknowledge_deletion(order["id"], summary, telemetry_users=users)
            done.append({"order": order["id"], **summary})
        return done

    def enforce_retention(self, now: float | None = None) -> dict[str, dict[str, int]]:
        """Apply every app's retention period (the platform's `retention` in its allowlist: storage
        keys not written, files not changed, for that many days); returns what went, per app."""
        now = now if now is not None else time.time()
        hid = self.host.config.host_id
        done: dict[str, dict[str, int]] = {}
        for app_id, grants in sorted(self.host.grants.items()):
            keep = grants.retention
            if not keep:
                continue
            keys = files = 0
            if keep.get("storageDays"):
                cutoff = now - keep["storageDays"] * 86400
                for user in self.host.storage.users_of(hid, app_id):
                    keys += self.host.storage.expire(self._owner(app_id, user), cutoff)
            if keep.get("fileDays"):
                users = sorted({o.user for o in self.files.owners() if o.host == hid and o.app == app_id})
                files = self.apply_retention(app_id, users, file_days=keep["fileDays"], now=now)
            if keys:
                self.audit.record("userdata.retention", host=hid, app=app_id, user="*", storage_keys=keys,
                                  days=keep["storageDays"])
            done[app_id] = {"storage_keys": keys, "files": files}
        return done

    def apply_retention(self, app_id: str, user_ids: list[str], *, file_days: float, now: float | None = None) -> int:
        """Remove an app's files older than `file_days` for these users; returns how many went."""
        limit = (now if now is not None else time.time()) - file_days * 86400
        removed = 0
        for user_id in user_ids:
            o = self._owner(app_id, user_id)
            if not self.files.holds(o):
                continue
            base = self.files.owner_dir(o)
            for area in ("usr", "store", "tmp"):
                for dirpath, _dirs, names in os.walk(base / area):
                    for name in names:
                        p = os.path.join(dirpath, name)
                        try:
                            if os.lstat(p).st_mtime < limit:
                                os.unlink(p)
                                removed += 1
                        except FileNotFoundError:
                            continue
        if removed:
            self.audit.record("userdata.retention", host=self.host.config.host_id, app=app_id, user="*",
                              files=removed, days=file_days)
        return removed
