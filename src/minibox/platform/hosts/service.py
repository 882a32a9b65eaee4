"""Host apps: registration, API keys (shown once, stored hashed), encryption keys, app grants."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from minibox.platform.apps import service as apps
from minibox.platform.apps.models import App
from minibox.platform.context import Ctx
from minibox.platform.db import utcnow
from minibox.platform.errors import InvalidInput, NotFound
from minibox.platform.hosts.models import Host, HostApp

HOST_KEY_PREFIX = "mbh_"


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def parse_public_key(text: str) -> bytes:
    """A host's X25519 public key as 64 hex characters or PEM -> 32 raw bytes."""
    from minibox.package import FormatError, load_host_public
    from minibox.package.keys import public_raw

    try:
        return public_raw(load_host_public(text.strip().encode()))
    except (FormatError, ValueError) as e:
        raise InvalidInput("public_key must be an X25519 public key (64 hex characters or PEM)",
                           code="invalid_key") from e


@dataclass
class HostCredentials:
    host: Host
    api_key: str
    private_key_pem: str | None  # only when the platform generated the key pair


def _set_key(host: Host, raw: bytes) -> None:
    host.public_key = raw.hex()
    host.key_fingerprint = hashlib.sha256(raw).hexdigest()


def register(ctx: Ctx, name: str, public_key: str | None) -> HostCredentials:
    assert ctx.actor is not None
    private_pem = None
    if public_key:
        raw = parse_public_key(public_key)
    else:
        from minibox.package import HostKeyPair

        pair = HostKeyPair.generate()
        raw, private_pem = pair.public_bytes(), pair.private_pem().decode()
    api_key = HOST_KEY_PREFIX + secrets.token_urlsafe(32)
    host = Host(org_id=ctx.actor.org_id, host_id="h" + secrets.token_hex(8), name=name, api_key_hash=_hash(api_key))
    _set_key(host, raw)
    ctx.s.add(host)
    ctx.s.flush()
    ctx.audit("host.register", f"host:{host.host_id}", {"name": name, "key_fingerprint": host.key_fingerprint,
                                                        "generated_key": private_pem is not None})
    return HostCredentials(host, api_key, private_pem)


def get_host(ctx: Ctx, host_id: str) -> Host:
    assert ctx.actor is not None
    host = ctx.s.execute(select(Host).where(Host.host_id == host_id, Host.org_id == ctx.actor.org_id)
                         ).scalar_one_or_none()
    if host is None:
        raise NotFound(f"no host {host_id!r}")
    return host


def list_hosts(ctx: Ctx) -> list[Host]:
    assert ctx.actor is not None
    return list(ctx.s.execute(select(Host).where(Host.org_id == ctx.actor.org_id).order_by(Host.id)).scalars())


def rotate_api_key(ctx: Ctx, host_id: str) -> str:
    """A new API key; the old one stops working at once (MGT-10)."""
    host = get_host(ctx, host_id)
    api_key = HOST_KEY_PREFIX + secrets.token_urlsafe(32)
    host.api_key_hash = _hash(api_key)
    ctx.audit("host.rotate_api_key", f"host:{host_id}")
    return api_key


def set_public_key(ctx: Ctx, host_id: str, public_key: str) -> Host:
    """Rotate the encryption key: packages are re-encrypted for the new key on the next update check."""
    host = get_host(ctx, host_id)
    _set_key(host, parse_public_key(public_key))
    ctx.audit("host.rotate_encryption_key", f"host:{host_id}", {"key_fingerprint": host.key_fingerprint})
    return host


def revoke(ctx: Ctx, host_id: str) -> Host:
    host = get_host(ctx, host_id)
    if host.revoked_at is None:
        host.revoked_at = utcnow()
        ctx.audit("host.revoke", f"host:{host_id}")
    return host


def granted_apps(ctx: Ctx, host_id: str) -> list[App]:
    host = get_host(ctx, host_id)
    return list(ctx.s.execute(select(App).join(HostApp, HostApp.app_pk == App.id)
                              .where(HostApp.host_pk == host.id).order_by(App.id)).scalars())


def grant(ctx: Ctx, host_id: str, app_id: str) -> App:
    host = get_host(ctx, host_id)
    app = apps.get_app(ctx, app_id)
    if ctx.s.get(HostApp, (host.id, app.id)) is None:
        ctx.s.add(HostApp(host_pk=host.id, app_pk=app.id))
        ctx.audit("host.grant_app", f"host:{host_id}", {"app_id": app_id})
    return app


def ungrant(ctx: Ctx, host_id: str, app_id: str) -> None:
    host = get_host(ctx, host_id)
    app = apps.get_app(ctx, app_id)
    row = ctx.s.get(HostApp, (host.id, app.id))
    if row is None:
        raise NotFound(f"host {host_id!r} does not run {app_id!r}")
    ctx.s.delete(row)
    ctx.audit("host.ungrant_app", f"host:{host_id}", {"app_id": app_id})


def authenticate(s: Session, api_key: str) -> Host | None:
    """The live host with this API key (hash lookup; the hash is of a 256-bit random key)."""
    if not api_key.startswith(HOST_KEY_PREFIX) or len(api_key) > 100:
        return None
    host = s.execute(select(Host).where(Host.api_key_hash == _hash(api_key))).scalar_one_or_none()
    if host is None or host.revoked_at is not None:
        return None
    return host
