"""Building a platform replica: open the database, migrate, load keys, make the ASGI app."""

from __future__ import annotations

import gc
import logging

from fastapi import FastAPI

from minibox.platform.api import create_app
from minibox.platform.audit.service import ensure_head
from minibox.platform.blobs import open_blob_store
from minibox.platform.context import Platform
from minibox.platform.db import Database
from minibox.platform.keys import load_or_create_audit_key
from minibox.platform.release.cache import ReleaseCache
from minibox.platform.release.guard import GuardWatcher
from minibox.platform.release.seen import SeenUsers
from minibox.platform.settings import Settings
from minibox.platform.shared import open_shared
from minibox.platform.webhooks import Notifier

log = logging.getLogger("minibox.platform.server")


def open_platform(settings: Settings, *, migrate: bool = True) -> Platform:
    from minibox.platform import toolchain

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.database_url)
    if migrate:
        db.migrate()
    audit_key = load_or_create_audit_key(settings.key_dir)
    with db.write() as s:
        ensure_head(s, audit_key)
    signer = toolchain.platform_signer(settings.key_dir)
    releases = ReleaseCache(db, signer, poll_s=settings.release_poll_ms / 1000,
                            lease_s=settings.release_lease_ms / 1000)
    releases.seen = SeenUsers(db)
    shared = open_shared(settings.redis_url)
    if shared is not None:  # optional: release signals to the other replicas, shared login throttling
        releases.announce = shared.announce
        shared.listen(releases.wake)
        db.dispose_hooks.append(shared.close)
    notifier = None
    if settings.webhook_url and settings.webhook_secret:
        notifier = Notifier(settings.webhook_url, settings.webhook_secret)
        db.dispose_hooks.append(notifier.close)
    elif settings.webhook_url:
        log.error("MINIBOX_WEBHOOK_URL is set without MINIBOX_WEBHOOK_SECRET: webhooks are off (bodies are signed)")
    platform = Platform(settings=settings, db=db, blobs=open_blob_store(settings), audit_key=audit_key,
                        package_signer=signer, releases=releases, shared=shared, notifier=notifier)
    platform.guard = GuardWatcher(platform, settings.guard_interval_s)
    db.dispose_hooks.insert(0, platform.guard.stop)
    return platform


def build_app(settings: Settings, *, migrate: bool = True) -> FastAPI:
    """The app of one replica (or one worker), its release snapshot loaded before it serves."""
    platform = open_platform(settings, migrate=migrate)
    platform.releases.start()
    platform.guard.start()  # the rollout guard's evaluator (replicas claim each release in the database)
    app = create_app(platform)
    # The snapshot is a few hundred thousand long-lived objects (10,000 apps): a full collection walking
    # them took hundreds of ms, a pause every so often on the hot path. Move them out of the collector's
    # way (refcounting still frees what is replaced later).
    gc.collect()
    gc.freeze()
    return app


def app_from_env() -> FastAPI:
    """Factory of `minibox server --workers N`: each worker process builds its own replica from the
    environment the parent set (the parent has already migrated and created the keys)."""
    return build_app(Settings.from_env(), migrate=False)
