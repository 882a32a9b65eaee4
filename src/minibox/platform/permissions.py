"""Who may do what: the one place where authorisation decisions are made (MGT-02).

Each HTTP route declares one action; `allowed()` decides from the caller's role and, for API tokens,
their scopes. Tenancy (MGT-03) is enforced by every service query filtering on the caller's org.
"""

from __future__ import annotations

from minibox.platform.context import Principal

ADMIN, DEVELOPER, REVIEWER, OPERATOR, AUDITOR = "admin", "developer", "reviewer", "operator", "auditor"
ROLES = (ADMIN, DEVELOPER, REVIEWER, OPERATOR, AUDITOR)
#: Roles that must log in with a TOTP second factor (等保 L3: two factors, one cryptographic).
TOTP_ROLES = frozenset({ADMIN, REVIEWER, OPERATOR})

_GOVERN = frozenset({ADMIN, DEVELOPER, REVIEWER, OPERATOR})

#: action -> roles allowed. Auditors read the audit log and nothing else; nobody else reads it (三员).
POLICY: dict[str, frozenset[str]] = {
    "me.read": frozenset(ROLES),
    "me.logout": frozenset(ROLES),
    "me.password": frozenset(ROLES),
    "me.preferences": frozenset(ROLES),
    "org.manage": frozenset({ADMIN}),
    "users.read": frozenset({ADMIN}),
    "users.manage": frozenset({ADMIN}),
    "tokens.manage": frozenset({DEVELOPER}),
    "apps.read": _GOVERN,
    "apps.manage": frozenset({ADMIN}),
    "apps.protection": frozenset({ADMIN, DEVELOPER}),  # developers: of apps they are members of
    "versions.read": _GOVERN,
    "versions.upload": frozenset({DEVELOPER}),
    "versions.submit": frozenset({DEVELOPER}),
    "review.decide": frozenset({REVIEWER}),
    "releases.read": _GOVERN,
    "releases.manage": frozenset({OPERATOR}),
    "hosts.read": frozenset({ADMIN, OPERATOR}),
    "hosts.manage": frozenset({ADMIN}),
    "audit.read": frozenset({AUDITOR}),
    "advisories.read": _GOVERN,
    "advisories.manage": frozenset({ADMIN}),
    "deletions.read": frozenset({ADMIN}),
    "payments.read": frozenset({ADMIN, OPERATOR}),
    "deletions.manage": frozenset({ADMIN}),
    "telemetry.read": _GOVERN,
}

#: API token scope -> actions it unlocks (always intersected with the owner's role).
TOKEN_SCOPES: dict[str, frozenset[str]] = {
    "apps:read": frozenset({"me.read", "apps.read", "versions.read", "releases.read", "telemetry.read"}),
    "versions:upload": frozenset({"me.read", "apps.read", "versions.read", "versions.upload"}),
    "versions:submit": frozenset({"me.read", "versions.read", "versions.submit"}),
}


def allowed(p: Principal, action: str) -> bool:
    roles = POLICY.get(action)
    if roles is None or p.role not in roles:
        return False
    if p.kind == "token":
        return any(action in TOKEN_SCOPES.get(scope, frozenset()) for scope in p.scopes)
    return True
