"""`Host`: what a host app embeds. It owns the API registry, the host services and the keys,
and starts one sandboxed `Instance` per running mini-program and user.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from minibox.apis import device as device_api
from minibox.apis import payment as payment_api
from minibox.apis import ui as ui_api
from minibox.apis.registry import ApiRegistry, Services
from minibox.host.update import Updater
from minibox.policy import AppGrants, close_services, make_services, register_all
from minibox.policy.permissions import ConsentCallback, PrivacyCallback, SettingsCallback
from minibox.policy.storage import Owner, StorageService
from minibox.policy.urlpolicy import Resolver
from minibox.runtime.bundle import LoadedBundle
from minibox.runtime.container import DEFAULT_SYSTEM_INFO, Instance, InstanceConfig, View
from minibox.runtime.sandbox import WorkerLimits

#: Where a host keeps its master key unless told otherwise (a bank puts it in its HSM/KMS).
MASTER_KEY_FILE = "master.key"
#: wx APIs that block on the network: they run on the host's thread pool, never the sandbox's.
#: (connectSocket answers at once; its handshake and messages run on the socket's own thread.)
BLOCKING_APIS = ("request", "uploadFile", "downloadFile")


@dataclass
class HostConfig:
    data_dir: Path
    host_id: str = "minibox-host"
    master_key: bytes | None = None
    system: dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_SYSTEM_INFO))
    limits: WorkerLimits = field(default_factory=WorkerLimits)
    #: The host's consent dialogs. Unset, every prompt is answered "deny" (the safe default).
    consent: ConsentCallback | None = None
    privacy: PrivacyCallback | None = None
    settings: SettingsCallback | None = None
    #: DNS and TLS for wx.request & co (tests inject a resolver and their own CA).
    resolver: Resolver | None = None
    ssl_context: ssl.SSLContext | None = None
    location_provider: Any = None


def default_registry() -> ApiRegistry:
    """Every wx API family minibox implements, registered once per host."""
    registry = ApiRegistry()
    register_all(registry)  # storage, files, network, auth and privacy, host APIs
    ui_api.register(registry)
    device_api.register(registry)
    payment_api.register(registry)
    for name in BLOCKING_APIS:
        registry.update(name, offload=True)
    return registry


def grants_from_allowlist(allowlist: dict[str, Any]) -> AppGrants:
    """The platform's per-release allowlist (docs/internals.md, update check) as grants."""
    return AppGrants.build(
        request=allowlist.get("request", ()), socket=allowlist.get("socket", ()),
        upload=allowlist.get("uploadFile", ()), download=allowlist.get("downloadFile", ()),
        host_apis=frozenset(allowlist.get("hostApis", ())),
    )


def load_master_key(data_dir: Path) -> bytes:
    """Read the host master key, creating a random one (mode 0600) on first use."""
    path = data_dir / MASTER_KEY_FILE
    if path.exists():
        key = path.read_bytes()
        if len(key) != 32:
            raise ValueError(f"{path}: a master key is 32 bytes, found {len(key)}")
        return key
    data_dir.mkdir(parents=True, exist_ok=True)
    key = os.urandom(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key)
    return key


class _EventSink:
    """Late binding from the network service (built first) to the instance (built second)."""

    def __init__(self) -> None:
        self.target: Callable[[Any, dict[str, Any]], None] | None = None

    def __call__(self, ticket: Any, event: dict[str, Any]) -> None:
        if self.target is not None:
            self.target(ticket, event)


class Host:
    """A host app's minibox: registry, services and the instances it runs."""

    def __init__(self, config: HostConfig, registry: ApiRegistry | None = None) -> None:
        self.config = config
        config.data_dir.mkdir(parents=True, exist_ok=True)
        self.master_key = config.master_key or load_master_key(config.data_dir)
        self.registry = registry or default_registry()
        #: grants per app id (domains, API allowlists); the platform's release delivers them
        self.grants: dict[str, AppGrants] = {}
        self.storage = StorageService(config.data_dir / "storage.db", self.master_key)
        self.device = device_api.DeviceService()
        self.payment = payment_api.PaymentService(config.data_dir / "payment.db")
        self.instances: list[Instance] = []

    def services_for(self, bundle: LoadedBundle, app_id: str, sink: _EventSink) -> Services:
        cfg = self.config
        services = make_services(
            cfg.data_dir, self.master_key, app_json=bundle.app_config,
            grants=self.grants.get(app_id, AppGrants()), consent_callback=cfg.consent,
            privacy_callback=cfg.privacy, settings_callback=cfg.settings, on_event=sink,
            resolver=cfg.resolver, ssl_context=cfg.ssl_context, location_provider=cfg.location_provider,
            package_dir=bundle.root / "assets",
        )
        services.ui = ui_api.UiService()
        services.extra.update(device=self.device, payment=self.payment)
        return services

    def start(self, bundle: LoadedBundle | Path | str, *, app_id: str, user_id: str,
              views: list[View] | None = None, virtual_time: bool = False,
              limits: WorkerLimits | None = None, grants: AppGrants | None = None,
              system: dict[str, Any] | None = None) -> Instance:
        """Start a sandboxed instance of `bundle` for `user_id`; the caller launches it.
        `system` overrides the device the instance sees (getSystemInfo), e.g. in the simulator."""
        if not isinstance(bundle, LoadedBundle):
            bundle = LoadedBundle.from_dir(bundle)
        if grants is not None:
            self.grants[app_id] = grants
        sink = _EventSink()
        services = self.services_for(bundle, app_id, sink)
        cfg = InstanceConfig(host_id=self.config.host_id, app_id=app_id, user_id=user_id,
                             system=dict(system or self.config.system), limits=limits or self.config.limits,
                             virtual_time=virtual_time)
        instance = Instance(bundle, self.registry, services, cfg)
        sink.target = instance.api_event
        instance.views.extend(views or [])
        instance.on_close.append(lambda: close_services(services, Owner(cfg.host_id, app_id, user_id)))
        instance.start()
        self.instances.append(instance)
        return instance

    def start_released(self, updater: Updater, app_id: str, user_id: str, *,
                       views: list[View] | None = None, **attrs: Any) -> Instance:
        """Run what the platform released for this user: update check -> download -> the full
        package verification (also from the offline cache) -> a sandboxed instance whose grants
        come from the release's allowlist, never from the package."""
        package = updater.update(app_id, user_id, **attrs)
        current = updater.current(app_id) or {}
        grants = grants_from_allowlist(current.get("allowlist") or {})
        return self.start(package.path, app_id=app_id, user_id=user_id, views=views, grants=grants)

    def close(self) -> None:
        for instance in self.instances:
            instance.close()
        self.instances.clear()
        self.storage.close()
        self.payment.close()
