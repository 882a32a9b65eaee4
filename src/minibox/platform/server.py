"""Building a platform replica: open the database, migrate, load keys, make the ASGI app."""

from __future__ import annotations

from fastapi import FastAPI

from minibox.platform.api import create_app
from minibox.platform.audit.service import ensure_head
from minibox.platform.blobs import LocalBlobStore
from minibox.platform.context import Platform
from minibox.platform.db import Database
from minibox.platform.keys import load_or_create_audit_key
from minibox.platform.settings import Settings


def open_platform(settings: Settings, *, migrate: bool = True) -> Platform:
    from minibox.platform import toolchain

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.database_url)
    if migrate:
        db.migrate()
    audit_key = load_or_create_audit_key(settings.key_dir)
    with db.write() as s:
        ensure_head(s, audit_key)
    return Platform(settings=settings, db=db, blobs=LocalBlobStore(settings.blob_dir), audit_key=audit_key,
                    package_signer=toolchain.platform_signer(settings.key_dir))


def build_app(settings: Settings) -> FastAPI:
    return create_app(open_platform(settings))
