"""Accounts: organisations, users and roles, password + TOTP login, sessions, API tokens."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from minibox.platform.accounts.models import ApiToken, ConsoleSession, LoginThrottle, Org, User
from minibox.platform.context import Ctx, Principal
from minibox.platform.db import aware, utcnow
from minibox.platform.errors import Conflict, Forbidden, InvalidInput, NotFound, Throttled, Unauthenticated
from minibox.platform.permissions import ROLES, TOKEN_SCOPES, TOTP_ROLES

MIN_PASSWORD_LENGTH = 12
#: Failed logins before the account is locked; each further failure doubles the lock.
MAX_FAILED_LOGINS = 5
LOCKOUT_BASE = timedelta(seconds=30)
LOCKOUT_MAX = timedelta(minutes=15)
#: Failed logins from one client address per window, whatever the usernames (password spraying).
MAX_FAILED_PER_CLIENT = 30
CLIENT_WINDOW = timedelta(minutes=10)
#: Console sessions end after this much idleness, and after this long in any case (等保 idle timeout).
SESSION_IDLE_TIMEOUT = timedelta(minutes=30)
SESSION_MAX_AGE = timedelta(hours=12)
#: last_seen_at is refreshed at most this often (avoids a write per request).
SESSION_TOUCH_INTERVAL = timedelta(seconds=60)
SESSION_PREFIX, TOKEN_PREFIX = "mbs_", "mbt_"
#: API tokens expire (等保: credentials are changed periodically).
DEFAULT_TOKEN_DAYS, MAX_TOKEN_DAYS = 90, 365
#: Languages of the console (one catalog each in console_static/i18n.js).
LOCALES = ("en", "zh-CN")
USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")

#: argon2id at OWASP's recommended minimum (19 MiB, 2 passes, 1 lane): strong, and cheap enough that
#: login floods cost the server little (MGT-12).
ARGON2_MEMORY_KIB, ARGON2_TIME_COST, ARGON2_PARALLELISM = 19_456, 2, 1
_hasher = PasswordHasher(time_cost=ARGON2_TIME_COST, memory_cost=ARGON2_MEMORY_KIB, parallelism=ARGON2_PARALLELISM)
_DUMMY_HASH = _hasher.hash("minibox-dummy-password")


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def check_password_policy(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"password must have at least {MIN_PASSWORD_LENGTH} characters", code="weak_password")
    classes = sum(bool(re.search(p, password)) for p in (r"[a-z]", r"[A-Z]", r"[0-9]", r"[^a-zA-Z0-9]"))
    if classes < 3:
        raise InvalidInput("password must mix at least three of: lower case, upper case, digits, symbols",
                           code="weak_password")


# ---- organisations and users -------------------------------------------------------------------------


def create_org(s: Session, name: str) -> Org:
    if s.execute(select(Org).where(Org.name == name)).scalar_one_or_none() is not None:
        raise Conflict(f"organisation {name!r} exists", code="org_exists")
    org = Org(name=name)
    s.add(org)
    s.flush()
    return org


@dataclass
class NewUser:
    user: User
    totp_secret: str | None


def _new_user(s: Session, org_id: int, username: str, role: str, password: str) -> NewUser:
    if role not in ROLES:
        raise InvalidInput(f"unknown role {role!r}", code="unknown_role")
    if not USERNAME_RE.match(username):
        raise InvalidInput("username: 2-64 of a-z 0-9 . _ -", code="invalid_username")
    check_password_policy(password)
    if s.execute(select(User).where(User.username == username)).scalar_one_or_none() is not None:
        raise Conflict(f"username {username!r} is taken", code="username_taken")
    secret = pyotp.random_base32() if role in TOTP_ROLES else None
    user = User(org_id=org_id, username=username, role=role, password_hash=_hasher.hash(password),
                totp_secret=secret, disabled=False, failed_logins=0, last_totp_step=0)
    s.add(user)
    s.flush()
    return NewUser(user, secret)


def bootstrap_admin(ctx: Ctx, org_name: str, username: str, password: str) -> NewUser:
    """First organisation and its admin, from the CLI (there are no default credentials)."""
    org = create_org(ctx.s, org_name)
    new = _new_user(ctx.s, org.id, username, "admin", password)
    ctx.audit("org.create", f"org:{org.id}", {"name": org_name}, org_id=org.id, actor="cli")
    ctx.audit("user.create", f"user:{new.user.id}", {"username": username, "role": "admin"}, org_id=org.id,
              actor="cli")
    return new


def create_user(ctx: Ctx, username: str, role: str, password: str) -> NewUser:
    assert ctx.actor is not None
    new = _new_user(ctx.s, ctx.actor.org_id, username, role, password)
    ctx.audit("user.create", f"user:{new.user.id}", {"username": username, "role": role})
    return new


def get_user(ctx: Ctx, user_id: int) -> User:
    assert ctx.actor is not None
    user = ctx.s.get(User, user_id)
    if user is None or user.org_id != ctx.actor.org_id:
        raise NotFound("no such user")
    return user


def list_users(ctx: Ctx) -> list[User]:
    assert ctx.actor is not None
    return list(ctx.s.execute(select(User).where(User.org_id == ctx.actor.org_id).order_by(User.id)).scalars())


def update_user(ctx: Ctx, user_id: int, *, role: str | None, disabled: bool | None) -> NewUser:
    """Change a role or disable an account. Admins cannot change their own (三员, MGT-05)."""
    assert ctx.actor is not None
    user = get_user(ctx, user_id)
    if user.id == ctx.actor.user_id:
        raise Forbidden("SoD: admins cannot change their own account's role or state", code="separation_of_duties")
    secret = None
    changes: dict[str, Any] = {}
    if role is not None and role != user.role:
        if role not in ROLES:
            raise InvalidInput(f"unknown role {role!r}", code="unknown_role")
        changes["role"] = [user.role, role]
        user.role = role
        if role in TOTP_ROLES and user.totp_secret is None:
            secret = user.totp_secret = pyotp.random_base32()
    if disabled is not None and disabled != user.disabled:
        changes["disabled"] = [user.disabled, disabled]
        user.disabled = disabled
    if changes:
        _revoke_sessions(ctx.s, user.id)
        ctx.audit("user.update", f"user:{user.id}", changes)
    return NewUser(user, secret)


def set_preferences(ctx: Ctx, *, locale: str | None) -> User:
    """The caller's own console preferences."""
    assert ctx.actor is not None
    user = get_user(ctx, ctx.actor.user_id)
    if locale is not None:
        if locale not in LOCALES:
            raise InvalidInput(f"locale must be one of {LOCALES}", code="invalid_locale")
        user.locale = locale
    return user


# ---- login -------------------------------------------------------------------------------------------


@dataclass
class LoginOutcome:
    session_token: str | None = None
    csrf_token: str | None = None
    user: User | None = None
    error: Exception | None = None


def _totp_step(secret: str, code: str, now: datetime) -> int | None:
    totp = pyotp.TOTP(secret)
    for offset in (0, -1, 1):
        at = now + timedelta(seconds=offset * totp.interval)
        if secrets.compare_digest(totp.at(at), code):
            return int(at.timestamp()) // totp.interval
    return None


def _client_throttled(ctx: Ctx, client: str, wait: int) -> LoginOutcome:
    ctx.audit("auth.login", f"client:{client[:64]}", {"reason": "client throttled"}, outcome="denied",
              actor=f"anonymous:{client}")
    return LoginOutcome(error=Throttled(f"too many failed logins from this address: retry in {wait} s",
                                        code="login_throttled", details={"retry_after": wait}))


def _login_shared(ctx: Ctx, username: str, password: str, totp_code: str | None, client: str,
                  now: datetime) -> LoginOutcome | None:
    """The per-client window counted in Redis (shared by every replica, no database write per failure);
    None if Redis is not configured or is down (the caller counts in the database instead)."""
    shared = ctx.platform.shared
    if shared is None:
        return None
    key = "login-fail:" + sha256_hex(client[:64])
    seen = shared.peek(key)
    if seen is None:
        return None
    failures, ttl = seen
    if failures >= MAX_FAILED_PER_CLIENT:
        return _client_throttled(ctx, client, ttl + 1)
    outcome = _login(ctx, username, password, totp_code, client, now)
    if outcome.error is not None and shared.hit(key, int(CLIENT_WINDOW.total_seconds())) is None:
        _note_client_failure(ctx.s, client, now, ctx.s.get(LoginThrottle, client[:64]))  # Redis went away
    return outcome


def _note_client_failure(s: Session, client: str, now: datetime, throttle: LoginThrottle | None) -> None:
    if throttle is None:
        try:
            with s.begin_nested():
                s.add(LoginThrottle(client=client[:64], window_start=now, failures=1))
            return
        except IntegrityError:  # another replica counted this client's first failure meanwhile
            throttle = s.get(LoginThrottle, client[:64], populate_existing=True)
    if throttle is not None:
        throttle.failures += 1


def login(ctx: Ctx, username: str, password: str, totp_code: str | None, client: str) -> LoginOutcome:
    """Check password then TOTP. Never raises: the caller commits the failure count and audit, then raises."""
    s, now = ctx.s, utcnow()
    shared = _login_shared(ctx, username, password, totp_code, client, now)
    if shared is not None:
        return shared
    throttle = s.get(LoginThrottle, client[:64])
    window_start = aware(throttle.window_start) if throttle else None
    if throttle is not None and window_start is not None and now - window_start > CLIENT_WINDOW:
        throttle.window_start, throttle.failures = now, 0
    if throttle is not None and throttle.failures >= MAX_FAILED_PER_CLIENT:
        assert window_start is not None
        return _client_throttled(ctx, client, int((window_start + CLIENT_WINDOW - now).total_seconds()) + 1)
    outcome = _login(ctx, username, password, totp_code, client, now)
    if outcome.error is not None:
        _note_client_failure(s, client, now, throttle)
    return outcome


def _login(ctx: Ctx, username: str, password: str, totp_code: str | None, client: str, now: datetime) -> LoginOutcome:
    s = ctx.s
    user = s.execute(select(User).where(User.username == username)).scalar_one_or_none()
    if user is None:
        _hasher.verify(_DUMMY_HASH, "minibox-dummy-password")  # same cost as a real check
        ctx.audit("auth.login", f"username:{username[:64]}", {"client": client, "reason": "unknown user"},
                  outcome="denied", actor=f"anonymous:{client}")
        return LoginOutcome(error=Unauthenticated("wrong username, password or code", code="bad_credentials"))
    locked = aware(user.locked_until)
    if locked is not None and locked > now:
        ctx.audit("auth.login", f"user:{user.id}", {"client": client, "reason": "locked"}, outcome="denied",
                  org_id=user.org_id, actor=f"user:{user.username}")
        wait = int((locked - now).total_seconds()) + 1
        return LoginOutcome(error=Throttled(f"too many failed logins: retry in {wait} s", code="login_throttled",
                                            details={"retry_after": wait}))
    reason = None
    try:
        _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        reason = "bad password"
    step = None
    if reason is None and user.role in TOTP_ROLES:
        if not totp_code or not user.totp_secret:
            reason = "totp required"
        else:
            step = _totp_step(user.totp_secret, totp_code, now)
            if step is None:
                reason = "bad totp"
            elif step <= user.last_totp_step:
                reason = "totp code replayed"
    if reason is None and user.disabled:
        reason = "disabled"
    if reason is not None:
        user.failed_logins += 1
        if user.failed_logins >= MAX_FAILED_LOGINS:
            lock = min(LOCKOUT_BASE * 2 ** (user.failed_logins - MAX_FAILED_LOGINS), LOCKOUT_MAX)
            user.locked_until = now + lock
        ctx.audit("auth.login", f"user:{user.id}", {"client": client, "reason": reason}, outcome="denied",
                  org_id=user.org_id, actor=f"user:{user.username}")
        code = "totp_required" if reason == "totp required" else "bad_credentials"
        return LoginOutcome(error=Unauthenticated("wrong username, password or code", code=code))
    user.failed_logins, user.locked_until = 0, None
    if step is not None:
        user.last_totp_step = step
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    token = SESSION_PREFIX + secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    s.add(ConsoleSession(user_id=user.id, token_hash=sha256_hex(token), csrf_token=csrf, created_at=now,
                         last_seen_at=now))
    ctx.audit("auth.login", f"user:{user.id}", {"client": client}, org_id=user.org_id, actor=f"user:{user.username}")
    return LoginOutcome(session_token=token, csrf_token=csrf, user=user)


def change_password(ctx: Ctx, old: str, new: str) -> None:
    """Change one's own password; every other session of the user ends."""
    assert ctx.actor is not None
    user = ctx.s.get(User, ctx.actor.user_id)
    assert user is not None
    try:
        _hasher.verify(user.password_hash, old)
    except (VerificationError, InvalidHashError) as e:
        ctx.audit("auth.password_change", f"user:{user.id}", {"reason": "bad old password"}, outcome="denied")
        raise Forbidden("the current password is wrong", code="bad_credentials") from e
    if old == new:
        raise InvalidInput("the new password must differ from the old one", code="weak_password")
    check_password_policy(new)
    user.password_hash = _hasher.hash(new)
    for sess in ctx.s.execute(select(ConsoleSession).where(ConsoleSession.user_id == user.id,
                                                           ConsoleSession.revoked_at.is_(None))).scalars():
        if not (ctx.actor.kind == "session" and sess.id == ctx.actor.credential_id):
            sess.revoked_at = utcnow()
    ctx.audit("auth.password_change", f"user:{user.id}")


def logout(ctx: Ctx) -> None:
    assert ctx.actor is not None
    if ctx.actor.kind == "session":
        sess = ctx.s.get(ConsoleSession, ctx.actor.credential_id)
        if sess is not None and sess.revoked_at is None:
            sess.revoked_at = utcnow()
    ctx.audit("auth.logout", f"user:{ctx.actor.user_id}")


def _revoke_sessions(s: Session, user_id: int) -> None:
    for sess in s.execute(select(ConsoleSession).where(ConsoleSession.user_id == user_id,
                                                       ConsoleSession.revoked_at.is_(None))).scalars():
        sess.revoked_at = utcnow()


@dataclass
class ResolvedSession:
    principal: Principal
    csrf_token: str
    needs_touch: bool


def resolve_session(s: Session, token: str) -> ResolvedSession | None:
    if not token.startswith(SESSION_PREFIX):
        return None
    row = s.execute(select(ConsoleSession, User).join(User, User.id == ConsoleSession.user_id)
                    .where(ConsoleSession.token_hash == sha256_hex(token))).first()
    if row is None:
        return None
    sess, user = row
    now = utcnow()
    created, seen = aware(sess.created_at), aware(sess.last_seen_at)
    assert created is not None and seen is not None
    if sess.revoked_at is not None or user.disabled or now - seen > SESSION_IDLE_TIMEOUT \
            or now - created > SESSION_MAX_AGE:
        return None
    p = Principal(user_id=user.id, org_id=user.org_id, username=user.username, role=user.role, kind="session",
                  credential_id=sess.id)
    return ResolvedSession(p, sess.csrf_token, now - seen > SESSION_TOUCH_INTERVAL)


def touch_session(s: Session, session_id: int) -> None:
    sess = s.get(ConsoleSession, session_id)
    if sess is not None:
        sess.last_seen_at = utcnow()


def resolve_token(s: Session, token: str) -> Principal | None:
    if not token.startswith(TOKEN_PREFIX):
        return None
    row = s.execute(select(ApiToken, User).join(User, User.id == ApiToken.user_id)
                    .where(ApiToken.token_hash == sha256_hex(token))).first()
    if row is None:
        return None
    tok, user = row
    expires = aware(tok.expires_at)
    if tok.revoked_at is not None or user.disabled or tok.org_id != user.org_id \
            or (expires is not None and expires <= utcnow()):
        return None
    return Principal(user_id=user.id, org_id=user.org_id, username=user.username, role=user.role, kind="token",
                     scopes=frozenset(tok.scopes), credential_id=tok.id)


# ---- API tokens --------------------------------------------------------------------------------------


def create_token(ctx: Ctx, name: str, scopes: list[str], expires_in_days: int = DEFAULT_TOKEN_DAYS,
                 ) -> tuple[ApiToken, str]:
    """A scoped, expiring token for CI; the secret is returned once and stored hashed."""
    assert ctx.actor is not None
    unknown = sorted(set(scopes) - set(TOKEN_SCOPES))
    if unknown or not scopes:
        raise InvalidInput(f"unknown or no scopes: {unknown}; known: {sorted(TOKEN_SCOPES)}", code="invalid_scope")
    if ctx.actor.kind == "token":
        raise Forbidden("API tokens cannot mint tokens", code="forbidden")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    if not 1 <= expires_in_days <= MAX_TOKEN_DAYS:
        raise InvalidInput(f"expires_in_days must be 1..{MAX_TOKEN_DAYS}", code="invalid_expiry")
    tok = ApiToken(org_id=ctx.actor.org_id, user_id=ctx.actor.user_id, name=name, scopes=sorted(set(scopes)),
                   token_hash=sha256_hex(secret), expires_at=utcnow() + timedelta(days=expires_in_days))
    ctx.s.add(tok)
    ctx.s.flush()
    ctx.audit("token.create", f"token:{tok.id}", {"name": name, "scopes": tok.scopes})
    return tok, secret


def list_tokens(ctx: Ctx) -> list[ApiToken]:
    assert ctx.actor is not None
    return list(ctx.s.execute(select(ApiToken).where(ApiToken.user_id == ctx.actor.user_id,
                                                     ApiToken.org_id == ctx.actor.org_id)
                              .order_by(ApiToken.id)).scalars())


def revoke_token(ctx: Ctx, token_id: int) -> ApiToken:
    assert ctx.actor is not None
    tok = ctx.s.get(ApiToken, token_id)
    if tok is None or tok.user_id != ctx.actor.user_id or tok.org_id != ctx.actor.org_id:
        raise NotFound("no such token")
    if tok.revoked_at is None:
        tok.revoked_at = utcnow()
        ctx.audit("token.revoke", f"token:{tok.id}")
    return tok
