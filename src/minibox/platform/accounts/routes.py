"""HTTP routes of the accounts domain."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response
from pydantic import BaseModel, Field

from minibox.platform.accounts import service
from minibox.platform.accounts.models import ApiToken, User
from minibox.platform.console import totp_qr_svg
from minibox.platform.context import Ctx, Principal
from minibox.platform.deps import SESSION_COOKIE, PlatformDep, client_label, requires
from minibox.platform.permissions import ROLES

router = APIRouter(prefix="/api/v1", tags=["accounts"])

Text = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[^\x00-\x1f\x7f]+$")]
UserId = Annotated[int, Path(ge=1, le=2**31 - 1)]
TokenId = Annotated[int, Path(ge=1, le=2**31 - 1)]


class LoginIn(BaseModel):
    username: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[^\x00-\x1f\x7f]+$")]
    password: Annotated[str, Field(min_length=1, max_length=256, pattern=r"^[^\x00]+$")]
    totp: Annotated[str | None, Field(default=None, pattern=r"^[0-9]{6}$")] = None


class UserIn(BaseModel):
    username: Annotated[str, Field(min_length=2, max_length=64, pattern=r"^[a-z0-9][a-z0-9._-]+$")]
    role: Annotated[str, Field(pattern="^(" + "|".join(ROLES) + ")$")]
    password: Annotated[str, Field(min_length=1, max_length=256, pattern=r"^[^\x00]+$")]


class UserPatch(BaseModel):
    role: Annotated[str | None, Field(default=None, pattern="^(" + "|".join(ROLES) + ")$")] = None
    disabled: bool | None = None


class TokenIn(BaseModel):
    name: Text
    scopes: Annotated[list[Annotated[str, Field(max_length=40)]], Field(min_length=1, max_length=10)]
    expires_in_days: Annotated[int, Field(ge=1, le=service.MAX_TOKEN_DAYS)] = service.DEFAULT_TOKEN_DAYS


class PreferencesIn(BaseModel):
    locale: Annotated[str | None, Field(default=None, pattern="^(" + "|".join(service.LOCALES) + ")$")] = None


class PasswordIn(BaseModel):
    old_password: Annotated[str, Field(min_length=1, max_length=256, pattern=r"^[^\x00]+$")]
    new_password: Annotated[str, Field(min_length=1, max_length=256, pattern=r"^[^\x00]+$")]


def user_json(u: User) -> dict[str, Any]:
    return {"id": u.id, "username": u.username, "role": u.role, "disabled": u.disabled,
            "totp_enrolled": u.totp_secret is not None, "locale": u.locale, "created_at": u.created_at.isoformat()}


def token_json(t: ApiToken) -> dict[str, Any]:
    return {"id": t.id, "name": t.name, "scopes": t.scopes, "created_at": t.created_at.isoformat(),
            "expires_at": t.expires_at.isoformat() if t.expires_at else None, "revoked": t.revoked_at is not None}


@router.post("/auth/login", tags=["public"], summary="Log in with password (+ TOTP for admin, reviewer, operator)")
def login(body: LoginIn, request: Request, response: Response, platform: PlatformDep) -> dict[str, Any]:
    with platform.db.write() as s:
        outcome = service.login(Ctx(s, platform), body.username, body.password, body.totp, client_label(request))
    if outcome.error is not None:
        raise outcome.error
    assert outcome.user is not None and outcome.session_token is not None
    response.set_cookie(SESSION_COOKIE, outcome.session_token, httponly=True, samesite="strict",
                        secure=platform.settings.secure_cookies, path="/",
                        max_age=int(service.SESSION_MAX_AGE.total_seconds()))
    return {"session_token": outcome.session_token, "csrf_token": outcome.csrf_token,
            "user": user_json(outcome.user)}


@router.post("/auth/logout", summary="End this session")
def logout(p: Annotated[Principal, requires("me.logout")], response: Response, platform: PlatformDep) -> dict[str, Any]:
    with platform.db.write() as s:
        service.logout(Ctx(s, platform, p))
    response.delete_cookie(SESSION_COOKIE, path="/")
    return {"ok": True}


@router.get("/me", summary="Who am I")
def me(p: Annotated[Principal, requires("me.read")], platform: PlatformDep) -> dict[str, Any]:
    with platform.db.read() as s:
        locale = service.get_user(Ctx(s, platform, p), p.user_id).locale
    return {"user_id": p.user_id, "org_id": p.org_id, "username": p.username, "role": p.role,
            "kind": p.kind, "scopes": sorted(p.scopes), "locale": locale}


@router.patch("/me/preferences", summary="My console preferences (language)")
def set_preferences(body: PreferencesIn, p: Annotated[Principal, requires("me.preferences")],
                    platform: PlatformDep) -> dict[str, Any]:
    with platform.db.write() as s:
        return user_json(service.set_preferences(Ctx(s, platform, p), locale=body.locale))


@router.post("/me/password", summary="Change my password (my other sessions end)")
def change_password(body: PasswordIn, p: Annotated[Principal, requires("me.password")],
                    platform: PlatformDep) -> dict[str, Any]:
    with platform.db.write() as s:
        service.change_password(Ctx(s, platform, p), body.old_password, body.new_password)
    return {"ok": True}


@router.get("/users", summary="Users of my organisation")
def list_users(p: Annotated[Principal, requires("users.read")], platform: PlatformDep) -> list[dict[str, Any]]:
    with platform.db.read() as s:
        return [user_json(u) for u in service.list_users(Ctx(s, platform, p))]


@router.post("/users", status_code=201, summary="Create a user; the TOTP secret is shown once")
def create_user(body: UserIn, p: Annotated[Principal, requires("users.manage")],
                platform: PlatformDep) -> dict[str, Any]:
    with platform.db.write() as s:
        new = service.create_user(Ctx(s, platform, p), body.username, body.role, body.password)
        return _with_totp(new)


def _with_totp(new: service.NewUser) -> dict[str, Any]:
    out = user_json(new.user)
    if new.totp_secret:
        import pyotp

        out["totp_secret"] = new.totp_secret
        out["totp_uri"] = pyotp.TOTP(new.totp_secret).provisioning_uri(name=new.user.username, issuer_name="minibox")
        out["totp_qr_svg"] = totp_qr_svg(out["totp_uri"])
    return out


@router.get("/users/{user_id}", summary="One user of my organisation")
def get_user(user_id: UserId, p: Annotated[Principal, requires("users.read")], platform: PlatformDep) -> dict[str, Any]:
    with platform.db.read() as s:
        return user_json(service.get_user(Ctx(s, platform, p), user_id))


@router.patch("/users/{user_id}", summary="Change a user's role or disable the account")
def update_user(user_id: UserId, body: UserPatch, p: Annotated[Principal, requires("users.manage")],
                platform: PlatformDep) -> dict[str, Any]:
    with platform.db.write() as s:
        return _with_totp(service.update_user(Ctx(s, platform, p), user_id, role=body.role, disabled=body.disabled))


@router.get("/tokens", summary="My API tokens")
def list_tokens(p: Annotated[Principal, requires("tokens.manage")], platform: PlatformDep) -> list[dict[str, Any]]:
    with platform.db.read() as s:
        return [token_json(t) for t in service.list_tokens(Ctx(s, platform, p))]


@router.post("/tokens", status_code=201, summary="Create a scoped API token (for CI); shown once")
def create_token(body: TokenIn, p: Annotated[Principal, requires("tokens.manage")],
                 platform: PlatformDep) -> dict[str, Any]:
    with platform.db.write() as s:
        tok, secret = service.create_token(Ctx(s, platform, p), body.name, body.scopes, body.expires_in_days)
        return {**token_json(tok), "token": secret}


@router.delete("/tokens/{token_id}", summary="Revoke an API token")
def revoke_token(token_id: TokenId, p: Annotated[Principal, requires("tokens.manage")],
                 platform: PlatformDep) -> dict[str, Any]:
    with platform.db.write() as s:
        return token_json(service.revoke_token(Ctx(s, platform, p), token_id))
