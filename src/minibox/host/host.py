"""`Host`: what a host app embeds. It owns the API registry, the host services and the keys,
and starts one sandboxed `Instance` per running mini-program and user.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from minibox.apis import device as device_api
from minibox.apis import payment as payment_api
from minibox.apis import storage as storage_api
from minibox.apis import ui as ui_api
from minibox.apis.registry import ApiRegistry, Policy, Services
from minibox.policy.storage import StorageService
from minibox.runtime.bundle import LoadedBundle
from minibox.runtime.container import DEFAULT_SYSTEM_INFO, Instance, InstanceConfig, View
from minibox.runtime.sandbox import WorkerLimits

#: Where a host keeps its master key unless told otherwise (a bank puts it in its HSM/KMS).
MASTER_KEY_FILE = "master.key"


@dataclass
class HostConfig:
    data_dir: Path
    host_id: str = "minibox-host"
    master_key: bytes | None = None
    system: dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_SYSTEM_INFO))
    limits: WorkerLimits = field(default_factory=WorkerLimits)


def default_registry() -> ApiRegistry:
    """Every wx API family minibox implements, registered once per host."""
    registry = ApiRegistry()
    ui_api.register(registry)
    storage_api.register(registry)
    device_api.register(registry)
    payment_api.register(registry)
    return registry


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


class Host:
    """A host app's minibox: registry, storage and the instances it runs."""

    def __init__(self, config: HostConfig, registry: ApiRegistry | None = None,
                 policy: Policy | None = None) -> None:
        self.config = config
        config.data_dir.mkdir(parents=True, exist_ok=True)
        self.master_key = config.master_key or load_master_key(config.data_dir)
        self.registry = registry or default_registry()
        self.policy = policy
        self.storage = StorageService(config.data_dir / "storage.db", self.master_key)
        self.device = device_api.DeviceService()
        self.payment = payment_api.PaymentService(config.data_dir / "payment.db")
        self.instances: list[Instance] = []

    def services_for(self, app_id: str, user_id: str) -> Services:
        services = Services(storage=self.storage, ui=ui_api.UiService(), extra={"device": self.device, "payment": self.payment})
        if self.policy is not None:
            services.policy = self.policy
        return services

    def start(self, bundle: LoadedBundle | Path | str, *, app_id: str, user_id: str,
              views: list[View] | None = None, virtual_time: bool = False,
              limits: WorkerLimits | None = None) -> Instance:
        """Start a sandboxed instance of `bundle` for `user_id`; the caller launches it."""
        if not isinstance(bundle, LoadedBundle):
            bundle = LoadedBundle.from_dir(bundle)
        cfg = InstanceConfig(host_id=self.config.host_id, app_id=app_id, user_id=user_id,
                             system=dict(self.config.system), limits=limits or self.config.limits,
                             virtual_time=virtual_time)
        instance = Instance(bundle, self.registry, self.services_for(app_id, user_id), cfg)
        instance.views.extend(views or [])
        instance.start()
        self.instances.append(instance)
        return instance

    def close(self) -> None:
        for instance in self.instances:
            instance.close()
        self.instances.clear()
        self.storage.close()
        self.payment.close()
