"""minibox.policy: permissions and consent, the domain allowlist and SSRF guard, storage and file
sandboxes, quotas. `make_services` builds the `Services` of one running instance.

Usage by the container (one call per instance; the data stores are shared by path)::

    services = make_services(data_dir, master_key, app_json=bundle["app"], grants=grants,
                             consent_callback=ask_user, privacy_callback=ask_privacy,
                             on_event=deliver_socket_event)
    ctx = CallContext(host_id, app_id, user_id, services)
    registry.call(ctx, "getStorageSync", {"key": "k"})
    ...
    close_services(services, owner)   # on instance exit: sockets, temp files, databases
    forget_app(services, owner)       # the user deleted the mini-program: storage, files, consent
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from minibox.apis.audit_log import AuditLog
from minibox.apis.registry import ApiRegistry, Services
from minibox.policy.files import FileService
from minibox.policy.grants import AppConfig, AppGrants
from minibox.policy.keys import KeyRing
from minibox.policy.network import EventSink, NetworkService
from minibox.policy.permissions import (
    ApiPolicy,
    ConsentCallback,
    PermissionService,
    PrivacyCallback,
    SettingsCallback,
)
from minibox.policy.storage import Owner, StorageService
from minibox.policy.urlpolicy import Resolver

__all__ = ["AppConfig", "AppGrants", "Owner", "close_services", "forget_app", "make_services", "register_all"]


def make_services(
    data_dir: str | os.PathLike[str],
    master_key: bytes | KeyRing,
    *,
    app_json: Mapping[str, Any] | None = None,
    grants: AppGrants | None = None,
    allowlist: Mapping[str, list[str]] | None = None,
    consent_callback: ConsentCallback | None = None,
    privacy_callback: PrivacyCallback | None = None,
    settings_callback: SettingsCallback | None = None,
    on_event: EventSink | None = None,
    resolver: Resolver | None = None,
    ssl_context: ssl.SSLContext | None = None,
    location_provider: Any = None,
    package_dir: str | os.PathLike[str] | None = None,
    file_quota: int | None = None,
    storage_limits: tuple[int, int] | None = None,
    audit: AuditLog | None = None,
) -> Services:
    """`grants` (or just `allowlist`, the four domain lists) come from signed platform metadata;
    `app_json` is the compiled bundle's app config. Callbacks default to "deny"."""
    root = Path(data_dir)
    root.mkdir(parents=True, exist_ok=True)
    if grants is None:
        grants = AppGrants(domains={k: tuple(v) for k, v in (allowlist or {}).items()})
    config = AppConfig.from_app_json(app_json)
    audit = audit if audit is not None else AuditLog(root / "audit.jsonl")
    max_item, max_total = storage_limits or (1024 * 1024, 10 * 1024 * 1024)
    storage = StorageService(root / "storage.db", master_key, max_item=max_item, max_total=max_total)
    files = FileService(root / "files", master_key, package_dir=package_dir,
                        **({"quota": file_quota} if file_quota is not None else {}))
    network = NetworkService(grants, config, resolver=resolver, ssl_context=ssl_context, files=files,
                             on_event=on_event)
    permissions = PermissionService(root / "consent.db", audit, consent_callback=consent_callback,
                                    privacy_callback=privacy_callback, settings_callback=settings_callback)
    policy = ApiPolicy(permissions, grants, config, audit)
    extra: dict[str, Any] = {}
    if location_provider is not None:
        extra["location"] = location_provider
    return Services(policy=policy, storage=storage, files=files, network=network,
                    permissions=permissions, audit=audit, extra=extra)


def close_services(services: Services, owner: Owner | None = None) -> None:
    """Instance exit: close sockets and databases; with `owner`, also wipe its temp files."""
    if owner is not None and services.files is not None:
        services.files.clear_temp(owner)
    if services.network is not None:
        services.network.close()
    if services.storage is not None:
        services.storage.close()
    if services.permissions is not None:
        services.permissions.close()


def forget_app(services: Services, owner: Owner) -> None:
    """The user deleted the mini-program: its storage, files and consent decisions go (audited)."""
    services.permissions.forget(owner)
    services.storage.clear(owner)
    services.files.forget(owner)


def register_all(registry: ApiRegistry) -> None:
    """Register every API family this package implements (storage, files, network, auth)."""
    from minibox.apis import auth, files, hostapi, network, storage

    for mod in (storage, files, network, auth, hostapi):
        mod.register(registry)
