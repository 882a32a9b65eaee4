"""Scopes, user consent, the privacy agreement and the `Policy` that governs every wx call.

Consent is the host's: `consent_callback(ConsentRequest) -> bool` (a host-drawn dialog in the
browser, a policy function headless), `privacy_callback(PrivacyRequest) -> "agree" | "disagree"`,
and `settings_callback(current authSetting) -> new authSetting` for openSetting. A decision from
mini-program JS never counts (e.g. `resolve({event: "agree"})` is not an API here): only these
host callbacks decide. Decisions persist per (host, app, user) in SQLite and each one is written to
the audit log; `forget(owner)` (the mini-program deleted) clears them.

`ApiPolicy.check` runs for every call, in this order:
1. host allowlists: `apis_denied` / `apis_allowed`, and host-defined APIs only for granted apps
   -> `<api>:fail api not permitted`;
2. `requiredPrivateInfos` for the location/address APIs ->
   `<api>:fail the api need to be declared in the requiredPrivateInfos field in app.json/ext.json`;
   then the platform's privacy settings for the app (`AppGrants.private_infos_allowed`, the
   allowlist's `privacy.infos`) -> `<api>:fail api scope is not declared in the privacy agreement`
   (errno 112, as WeChat answers an API missing from the app's privacy guide); and a scope the
   platform does not grant the app (`AppGrants.scopes_allowed`, the allowlist's `privacy.scopes`)
   -> `<api>:fail auth deny`, before the privacy agreement, with no prompt (`authorize` too);
3. for `privacy=True` APIs: declared in the privacy guide (else
   `<api>:fail api scope is not declared in the privacy agreement`, errno 112), then the privacy
   agreement (else prompt; disagree -> `<api>:fail privacy permission is not authorized`,
   errno 104);
4. the scope: granted -> go; refused -> `<api>:fail auth deny` with no prompt; undecided ->
   prompt (scope.userLocation needs its `permission` purpose string in app.json, else
   `<api>:fail require permission desc`).
Every denial is audited with its rule.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from minibox.apis.registry import ApiError, ApiSpec, CallContext
from minibox.policy.grants import AppConfig, AppGrants
from minibox.policy.storage import Owner

#: WeChat's authorization scopes (plus scope.userFuzzyLocation and scope.phoneNumber).
SCOPES = frozenset({
    "scope.userInfo", "scope.userLocation", "scope.userFuzzyLocation", "scope.userLocationBackground",
    "scope.address", "scope.invoiceTitle", "scope.invoice", "scope.werun", "scope.record",
    "scope.writePhotosAlbum", "scope.camera", "scope.bluetooth", "scope.phoneNumber"})
#: Scopes whose purpose string (`permission.<scope>.desc`) app.json must carry.
SCOPES_NEEDING_DESC = frozenset({"scope.userLocation", "scope.userFuzzyLocation", "scope.userLocationBackground"})
#: APIs that must be listed in app.json `requiredPrivateInfos` (WeChat, since 2022-07-14).
REQUIRED_PRIVATE_INFOS_APIS = frozenset({
    "getFuzzyLocation", "getLocation", "onLocationChange", "startLocationUpdate",
    "startLocationUpdateBackground", "chooseLocation", "choosePoi", "chooseAddress"})
ERRNO_PRIVACY_UNDECLARED = 112
ERRNO_PRIVACY_DENIED = 104

PrivacyDecision = Literal["agree", "disagree"]


@dataclass(frozen=True)
class ConsentRequest:
    host: str
    app: str
    user: str
    scope: str
    api: str
    description: str


@dataclass(frozen=True)
class PrivacyRequest:
    host: str
    app: str
    user: str
    referrer: str           # the API (or "requirePrivacyAuthorize") that triggered the flow
    contract_name: str


ConsentCallback = Callable[[ConsentRequest], bool]
PrivacyCallback = Callable[[PrivacyRequest], str]
SettingsCallback = Callable[[dict[str, bool]], Mapping[str, bool]]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS scopes (host TEXT NOT NULL, app TEXT NOT NULL, user TEXT NOT NULL,
  scope TEXT NOT NULL, granted INTEGER NOT NULL, ts REAL NOT NULL, PRIMARY KEY (host, app, user, scope));
CREATE TABLE IF NOT EXISTS privacy (host TEXT NOT NULL, app TEXT NOT NULL, user TEXT NOT NULL,
  contract TEXT NOT NULL, ts REAL NOT NULL, PRIMARY KEY (host, app, user));
"""


def base_name(api: str) -> str:
    name = api.rsplit(".", 1)[-1]
    return name[:-4] if name.endswith("Sync") else name


class PermissionService:
    def __init__(self, db_path: str | os.PathLike[str], audit: Any, *,
                 consent_callback: ConsentCallback | None = None,
                 privacy_callback: PrivacyCallback | None = None,
                 settings_callback: SettingsCallback | None = None) -> None:
        self.audit = audit
        self.consent_callback = consent_callback
        self.privacy_callback = privacy_callback
        self.settings_callback = settings_callback
        self.extra_scopes: set[str] = set()
        self._lock = threading.RLock()       # database access
        self._prompt_lock = threading.Lock()  # one host dialog at a time; never held by readers
        self._db = sqlite3.connect(db_path, check_same_thread=False, isolation_level=None, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)

    def known_scope(self, scope: str) -> bool:
        return scope in SCOPES or scope in self.extra_scopes

    def _audit(self, event: str, o: Owner, **kw: Any) -> None:
        if self.audit is not None:
            self.audit.record(event, host=o.host, app=o.app, user=o.user, **kw)

    # -- scopes ------------------------------------------------------------------------------
    def scope_state(self, o: Owner, scope: str) -> bool | None:
        with self._lock:
            row = self._db.execute("SELECT granted FROM scopes WHERE host=? AND app=? AND user=? AND scope=?",
                                   (o.host, o.app, o.user, scope)).fetchone()
        return None if row is None else bool(row[0])

    def set_scope(self, o: Owner, scope: str, granted: bool, source: str) -> None:
        # audit first: if the audit write fails, the decision is not stored (fail closed)
        self._audit("consent.scope", o, scope=scope, granted=granted, source=source)
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO scopes VALUES (?,?,?,?,?,?)",
                             (o.host, o.app, o.user, scope, int(granted), time.time()))

    def settings(self, o: Owner) -> dict[str, bool]:
        with self._lock:
            rows = self._db.execute("SELECT scope, granted FROM scopes WHERE host=? AND app=? AND user=? "
                                    "ORDER BY scope", (o.host, o.app, o.user)).fetchall()
        return {s: bool(g) for s, g in rows}

    def request_scope(self, o: Owner, scope: str, api: str, description: str) -> bool:
        """Granted? Prompts only when undecided; a refusal is final until openSetting."""
        with self._prompt_lock:
            state = self.scope_state(o, scope)
            if state is not None:
                return state
            granted = False
            if self.consent_callback is not None:
                try:
                    granted = self.consent_callback(ConsentRequest(o.host, o.app, o.user, scope, api,
                                                                   description)) is True
                except Exception:
                    granted = False
            self.set_scope(o, scope, granted, "prompt")
            return granted

    def open_setting(self, o: Owner) -> dict[str, bool]:
        current = self.settings(o)
        if self.settings_callback is None:
            return current
        try:
            new = dict(self.settings_callback(dict(current)))
        except Exception:
            return current
        for scope, granted in new.items():
            if scope in current and isinstance(granted, bool) and granted != current[scope]:
                self.set_scope(o, scope, granted, "openSetting")
        return self.settings(o)

    # -- privacy agreement -----------------------------------------------------------------
    def privacy_agreed(self, o: Owner) -> bool:
        with self._lock:
            return self._db.execute("SELECT 1 FROM privacy WHERE host=? AND app=? AND user=?",
                                    (o.host, o.app, o.user)).fetchone() is not None

    def require_privacy(self, o: Owner, referrer: str, contract: str) -> bool:
        with self._prompt_lock:
            if self.privacy_agreed(o):
                return True
            decision = "disagree"
            if self.privacy_callback is not None:
                try:
                    decision = self.privacy_callback(PrivacyRequest(o.host, o.app, o.user, referrer, contract))
                except Exception:
                    decision = "disagree"
            agreed = decision == "agree"
            self._audit("consent.privacy", o, referrer=referrer, contract=contract,
                        decision="agree" if agreed else "disagree")
            if agreed:
                with self._lock:
                    self._db.execute("INSERT OR REPLACE INTO privacy VALUES (?,?,?,?,?)",
                                     (o.host, o.app, o.user, contract, time.time()))
            return agreed

    def apps_of(self, host: str, user: str) -> list[str]:
        """The apps holding consent decisions for a user on this host."""
        with self._lock:
            rows = self._db.execute("SELECT app FROM scopes WHERE host=? AND user=? UNION "
                                    "SELECT app FROM privacy WHERE host=? AND user=?", (host, user, host, user))
            return sorted({r[0] for r in rows.fetchall()})

    def forget(self, o: Owner) -> None:
        """The user deleted the mini-program: every decision is cleared."""
        self._audit("consent.forget", o)
        with self._lock:
            for table in ("scopes", "privacy"):
                self._db.execute(f"DELETE FROM {table} WHERE host=? AND app=? AND user=?", (o.host, o.app, o.user))

    def close(self) -> None:
        self._db.close()


@dataclass(frozen=True)
class HostApiMark:
    """Attached to a host-defined API's handler as `mb_host_api`; `apps=None` means grants decide."""

    apps: frozenset[str] | None


class ApiPolicy:
    """The `registry.Policy` of one instance (its app's grants and app.json)."""

    def __init__(self, permissions: PermissionService, grants: AppGrants, config: AppConfig, audit: Any) -> None:
        self.permissions = permissions
        self.grants = grants
        self.config = config
        self.audit = audit

    def deny(self, ctx: CallContext, spec: ApiSpec, rule: str, msg: str, errno: int | None = None) -> ApiError:
        if self.audit is not None:
            self.audit.record("policy.denied", host=ctx.host_id, app=ctx.app_id, user=ctx.user_id,
                              api=spec.name, rule=rule)
        return ApiError(f"{spec.name}:fail {msg}", errno)

    def check(self, ctx: CallContext, spec: ApiSpec, args: dict[str, Any]) -> None:
        o = Owner(ctx.host_id, ctx.app_id, ctx.user_id)
        base = base_name(spec.name)
        g = self.grants
        mark = getattr(spec.handler, "mb_host_api", None)
        if spec.name in g.apis_denied or base in g.apis_denied:
            raise self.deny(ctx, spec, "api-denied", "api not permitted")
        if g.apis_allowed is not None and spec.name not in g.apis_allowed and base not in g.apis_allowed \
                and mark is None:
            raise self.deny(ctx, spec, "api-not-allowed", "api not permitted")
        if mark is not None and spec.name not in g.host_apis and (mark.apps is None or ctx.app_id not in mark.apps):
            raise self.deny(ctx, spec, "host-api-not-granted", "api not permitted")
        if base in REQUIRED_PRIVATE_INFOS_APIS and base not in self.config.required_private_infos:
            raise self.deny(ctx, spec, "requiredPrivateInfos",
                             "the api need to be declared in the requiredPrivateInfos field in app.json/ext.json")
        if base in REQUIRED_PRIVATE_INFOS_APIS and g.private_infos_allowed is not None \
                and base not in g.private_infos_allowed:
            raise self.deny(ctx, spec, "privacy-info-not-granted",
                             "api scope is not declared in the privacy agreement", ERRNO_PRIVACY_UNDECLARED)
        if spec.scope is not None and g.scopes_allowed is not None and spec.scope not in g.scopes_allowed:
            # before the privacy agreement: the user is never asked about what cannot be granted
            raise self.deny(ctx, spec, f"scope-not-granted:{spec.scope}", "auth deny")
        if spec.privacy:
            if g.privacy_declared is not None and base not in g.privacy_declared:
                raise self.deny(ctx, spec, "privacy-undeclared",
                                 "api scope is not declared in the privacy agreement", ERRNO_PRIVACY_UNDECLARED)
            if not self.permissions.require_privacy(o, base, g.privacy_contract_name):
                raise self.deny(ctx, spec, "privacy-disagree", "privacy permission is not authorized",
                                 ERRNO_PRIVACY_DENIED)
        if spec.scope is not None:
            self.check_scope(ctx, spec, spec.scope)

    def check_scope(self, ctx: CallContext, spec: ApiSpec, scope: str) -> None:
        o = Owner(ctx.host_id, ctx.app_id, ctx.user_id)
        allowed = self.grants.scopes_allowed
        if allowed is not None and scope not in allowed:  # the platform never lets this app ask
            raise self.deny(ctx, spec, f"scope-not-granted:{scope}", "auth deny")
        state = self.permissions.scope_state(o, scope)
        if state is False:
            raise self.deny(ctx, spec, f"scope-refused:{scope}", "auth deny")
        if state is None:
            desc = self.description(scope)
            if scope in SCOPES_NEEDING_DESC and not desc:
                raise self.deny(ctx, spec, f"no-permission-desc:{scope}", "require permission desc")
            if not self.permissions.request_scope(o, scope, spec.name, desc):
                raise self.deny(ctx, spec, f"scope-refused:{scope}", "auth deny")

    def description(self, scope: str) -> str:
        entry = self.config.permission.get(scope)
        desc = entry.get("desc") if isinstance(entry, Mapping) else None
        return desc if isinstance(desc, str) else ""
