"""`Host`: what a host app embeds. It owns the API registry, the host services and the keys,
and starts one sandboxed `Instance` per running mini-program and user.
"""

from __future__ import annotations

import contextlib
import os
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from minibox.apis import analytics as analytics_api
from minibox.apis import device as device_api
from minibox.apis import payment as payment_api
from minibox.apis import ui as ui_api
from minibox.apis import userdata as userdata_api
from minibox.apis.audit_log import AuditLog
from minibox.apis.budget import BudgetConfig
from minibox.apis.registry import ApiRegistry, Services
from minibox.host.privacy import UserData
from minibox.host.telemetry import Telemetry, TelemetryConfig
from minibox.host.update import UpdateError, Updater
from minibox.package.errors import SignatureError
from minibox.policy import AppGrants, close_services, make_services, register_all
from minibox.policy.appprivacy import PrivacySettingError, PrivacySettings
from minibox.policy.datamin import (
    CityResolver,
    DataFormError,
    DataForms,
    Minimiser,
    RelayNumbers,
    parse_retention,
)
from minibox.policy.keys import KeyRing, KeyRingFile
from minibox.policy.permissions import ConsentCallback, PrivacyCallback, SettingsCallback
from minibox.policy.storage import Owner, StorageService
from minibox.policy.urlpolicy import Resolver
from minibox.policy.watermark import WatermarkError, combined, validate_template
from minibox.risk import DEFAULT_RULES, RiskEngine, RiskHistory, RuleSet, device_fingerprint
from minibox.runtime.bundle import LoadedBundle
from minibox.runtime.container import DEFAULT_SYSTEM_INFO, Instance, InstanceConfig, View
from minibox.runtime.sandbox import WorkerLimits
from minibox.securechannel import SecureOrigin

#: Where a host keeps its master key unless told otherwise (a bank puts it in its HSM/KMS).
MASTER_KEY_FILE = "master.key"
#: Later versions of the keys at rest (version 1 is the master key); see `Host.rotate_keys`.
KEYRING_FILE = "keyring.json"
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
    #: what one instance may cost this host: time budget and API rate limits (minibox.apis.budget)
    budget: BudgetConfig = field(default_factory=BudgetConfig)
    #: The host's consent dialogs. Unset, every prompt is answered "deny" (the safe default).
    consent: ConsentCallback | None = None
    privacy: PrivacyCallback | None = None
    settings: SettingsCallback | None = None
    #: DNS and TLS for wx.request & co (tests inject a resolver and their own CA).
    resolver: Resolver | None = None
    ssl_context: ssl.SSLContext | None = None
    location_provider: Any = None
    #: app id -> {backend host name: SecureOrigin}: wx.request to these hosts is signed (and
    #: sealed) with the app's channel key, which the mini-program never sees (minibox.securechannel)
    secure_channels: dict[str, dict[str, SecureOrigin]] = field(default_factory=dict)
    #: The operator's risk rules for payments (minibox.risk; None turns risk control off), the
    #: host's step-up challenge, and where a user's TOTP secret comes from for a TOTP step-up.
    risk_rules: RuleSet | None = DEFAULT_RULES
    step_up: Callable[[payment_api.StepUpRequest], None] | None = None
    totp_secrets: Callable[[str], str | None] | None = None
    #: The user's real phone number (for getPhoneNumber, handed out as the app's grant says) and a
    #: city resolver for `dataForms.location = "city"` ((lat, lon) -> {city, latitude, longitude}).
    phone_provider: Callable[[str], str | None] | None = None
    city_resolver: CityResolver | None = None
    #: Telemetry to the platform (minibox.host.telemetry); None records nothing.
    telemetry: TelemetryConfig | None = None
    #: The keys at rest (storage, files) as a versioned ring. Unset: `master_key` is version 1
    #: and later versions live in `data_dir/keyring.json`. A bank passes its own ring (a
    #: `KeyRing` subclass whose `_persist` stores in its HSM/KMS) to hand in key bytes itself.
    keyring: KeyRing | None = None
    #: At start, carry on a key rotation a previous run left unfinished (in the background).
    resume_key_rotation: bool = True
    #: The host's own watermark template over every page ("{user} {app} {host} {date} {time}",
    #: minibox.policy.watermark), drawn together with the app's own (allowlist `watermark`).
    watermark: str | None = None


def default_registry() -> ApiRegistry:
    """Every wx API family minibox implements, registered once per host."""
    registry = ApiRegistry()
    register_all(registry)  # storage, files, network, auth and privacy, host APIs
    ui_api.register(registry)
    userdata_api.register(registry)
    device_api.register(registry)
    payment_api.register(registry)
    analytics_api.register(registry)
    for name in BLOCKING_APIS:
        registry.update(name, offload=True)
    return registry


def grants_from_allowlist(allowlist: dict[str, Any]) -> AppGrants:
    """The platform's per-release allowlist (docs/internals.md, update check) as grants. A
    `dataForms` the container cannot read leaves the most restrictive forms (fail closed), so does a
    `privacy` it cannot read (no scope, no private info); a `watermark` it cannot read is drawn as
    a fixed "{user} · {app}" rather than dropped."""
    try:
        forms = DataForms.parse(allowlist.get("dataForms"))
    except (DataFormError, TypeError):
        forms = DataForms()
    scopes: frozenset[str] | None = None
    infos: frozenset[str] | None = None
    if allowlist.get("privacy") is not None:
        try:
            privacy = PrivacySettings.parse(allowlist["privacy"])
            scopes, infos = privacy.scopes, privacy.infos
        except PrivacySettingError:
            scopes, infos = frozenset(), frozenset()
    try:  # a retention period the container cannot read keeps the data (deleting is not undoable)
        retention = parse_retention(allowlist.get("retention"))
    except DataFormError:
        retention = {}
    try:
        watermark = validate_template(allowlist.get("watermark") or "")
    except WatermarkError:
        watermark = "{user} · {app}"
    return AppGrants.build(
        request=allowlist.get("request", ()), socket=allowlist.get("socket", ()),
        upload=allowlist.get("uploadFile", ()), download=allowlist.get("downloadFile", ()),
        host_apis=frozenset(allowlist.get("hostApis", ())), data_forms=forms,
        scopes_allowed=scopes, private_infos_allowed=infos, watermark=watermark, retention=retention,
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
        #: the keys at rest, versioned (rotate_keys / retire_old_keys); the master key still roots
        #: the secrets that are not data at rest (device fingerprint, relay numbers, telemetry)
        self.keyring = config.keyring or KeyRingFile(config.data_dir / KEYRING_FILE, self.master_key)
        self._rotation: KeyRotation | None = None
        self._rotation_lock = threading.Lock()
        self.registry = registry or default_registry()
        #: grants per app id (domains, API allowlists); the platform's release delivers them
        self.grants: dict[str, AppGrants] = {}
        self.storage = StorageService(config.data_dir / "storage.db", self.keyring)
        self.device = device_api.DeviceService()
        self.risk_history = RiskHistory(config.data_dir / "risk.db")
        risk = RiskEngine(self.risk_history, config.risk_rules) if config.risk_rules is not None else None
        self.payment = payment_api.PaymentService(
            config.data_dir / "payment.db", risk=risk,
            device=device_fingerprint(config.data_dir, self.master_key, config.system),
            step_up=config.step_up, totp_secrets=config.totp_secrets)
        self.instances: list[Instance] = []
        secret = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"minibox datamin").derive(self.master_key)
        self.relay = RelayNumbers(config.data_dir / "relay.db", secret)
        self.minimiser = Minimiser(secret, self.relay, config.city_resolver)
        self.userdata = userdata_api.UserDataService(
            self.minimiser, phone_provider=config.phone_provider, login_codes=self.device.issued_codes,
            forms_of=lambda app_id: self.grants.get(app_id, AppGrants()).data_forms)
        self.telemetry = (Telemetry(config.data_dir, config.host_id, self.master_key, config.telemetry)
                          if config.telemetry is not None else None)
        if self.telemetry is not None:  # every payment step is a transaction record for disputes
            self.payment.observers.append(self.telemetry.payment_record)
        if self.telemetry is not None and config.telemetry is not None and config.telemetry.base_url:
            self.telemetry.start()  # flush and upload every flush_interval_s
        #: the user's rights: what each mini-program holds about them, and deleting it
        self.user_data = UserData(self)
        if config.resume_key_rotation and len(self.keyring.versions()) > 1:
            self.resume_key_rotation()  # a rotation a previous run did not finish (or not retire)

    def services_for(self, bundle: LoadedBundle, app_id: str, sink: _EventSink) -> Services:
        cfg = self.config
        services = make_services(
            cfg.data_dir, self.keyring, app_json=bundle.app_config,
            grants=self.grants.get(app_id, AppGrants()), consent_callback=cfg.consent,
            privacy_callback=cfg.privacy, settings_callback=cfg.settings, on_event=sink,
            resolver=cfg.resolver, ssl_context=cfg.ssl_context, location_provider=cfg.location_provider,
            package_dir=bundle.root / "assets",
        )
        services.ui = ui_api.UiService()
        if services.network is not None:
            services.network.channels = {host.lower(): origin
                                         for host, origin in cfg.secure_channels.get(app_id, {}).items()}
        services.extra.update(device=self.device, payment=self.payment, minimiser=self.minimiser,
                              userdata=self.userdata, telemetry=self.telemetry)
        return services

    def start(self, bundle: LoadedBundle | Path | str, *, app_id: str, user_id: str,
              views: list[View] | None = None, virtual_time: bool = False,
              limits: WorkerLimits | None = None, grants: AppGrants | None = None,
              system: dict[str, Any] | None = None, version: str | None = None,
              budget: BudgetConfig | None = None, watermark: str | None = None) -> Instance:
        """Start a sandboxed instance of `bundle` for `user_id`; the caller launches it.
        `system` overrides the device the instance sees (getSystemInfo), e.g. in the simulator;
        `watermark` the host's watermark template (default `HostConfig.watermark`)."""
        if not isinstance(bundle, LoadedBundle):
            bundle = LoadedBundle.from_dir(bundle)
        if grants is not None:
            self.grants[app_id] = grants
        sink = _EventSink()
        services = self.services_for(bundle, app_id, sink)
        cfg = InstanceConfig(host_id=self.config.host_id, app_id=app_id, user_id=user_id,
                             system=dict(system or self.config.system), limits=limits or self.config.limits,
                             budget=budget or self.config.budget, virtual_time=virtual_time)
        instance = Instance(bundle, self.registry, services, cfg)
        sink.target = instance.api_event
        instance.views.extend(views or [])
        text = self.watermark_text(app_id, user_id, watermark)
        if text:  # before any page: the views draw it in their host layer, over every page
            for view in instance.views:
                view.on_message({"t": "watermark", "text": text})
        instance.on_close.append(lambda: close_services(services, Owner(cfg.host_id, app_id, user_id)))
        if self.telemetry is not None:
            self.telemetry.attach(instance, app_id=app_id, user_id=user_id, version=version)
        instance.start()
        self.instances.append(instance)
        return instance

    def watermark_text(self, app_id: str, user_id: str, host_template: str | None = None) -> str:
        """The watermark drawn over this app's pages for this user: the app's template (from its
        grants) and the host's own (`host_template`, else `HostConfig.watermark`), both; "" for none."""
        grants = self.grants.get(app_id, AppGrants())
        return combined(grants.watermark, host_template if host_template is not None else self.config.watermark,
                        user=user_id, app=app_id, host=self.config.host_id)

    def start_released(self, updater: Updater, app_id: str, user_id: str, *,
                       views: list[View] | None = None, **attrs: Any) -> Instance:
        """Run what the platform released for this user: update check -> download -> the full
        package verification (also from the offline cache) -> a sandboxed instance whose grants
        come from the release's allowlist, never from the package."""
        package = updater.update(app_id, user_id, **attrs)
        # the platform may have ordered this user's data deleted: carried out before the app runs
        # unreachable, refused or not signed by the platform: nothing is deleted, the orders come again
        with contextlib.suppress(UpdateError, SignatureError):
            self.user_data.carry_out_orders(updater, user_id)
        current = updater.current(app_id) or {}
        grants = grants_from_allowlist(current.get("allowlist") or {})
        # the verified bytes in memory, not the unpacked tree (which only serves the assets)
        return self.start(LoadedBundle.from_package(package), app_id=app_id, user_id=user_id, views=views, grants=grants,
                          version=current.get("version"))

    def export_dispute(self, prepay_id: str) -> dict[str, Any] | None:
        """One payment for a dispute: the order, its risk decision, step-up, confirmation and
        settlement, with the audit entries about it and the audit chain's head (so the export can
        be checked against the log later)."""
        record = self.payment.dispute_record(prepay_id)
        if record is None:
            return None
        log = AuditLog(self.config.data_dir / "audit.jsonl")
        seq, head = log.head()
        record["audit"] = log.entries(event="payment.risk", order=prepay_id)
        record["audit_head"] = {"seq": seq, "hash": head}
        record["host_id"] = self.config.host_id
        return record

    # -- rotation of the keys at rest ------------------------------------------------------------
    def _key_audit(self, event: str, **fields: Any) -> None:
        AuditLog(self.config.data_dir / "audit.jsonl").record(
            event, host=self.config.host_id, app="*", user="*", **fields)

    def _known_owners(self) -> list[Owner]:
        """Owners whose file directory may predate owner records: the storage's, running ones."""
        owners = set(self.storage.owners())
        owners |= {Owner(self.config.host_id, i.config.app_id, i.config.user_id) for i in self.instances}
        return sorted(owners, key=lambda o: (o.host, o.app, o.user))

    def key_rotation_pending(self) -> dict[str, int]:
        """What is still sealed under an older key version: storage rows, file items."""
        return {"storage": self.storage.pending(),
                "files": self.user_data.files.pending(self._known_owners())}

    def rotate_keys(self, key: bytes | None = None, *, batch: int = 500, background: bool = True) -> KeyRotation:
        """Add a key version (random, or `key` from an HSM/KMS), make it current (stored before any
        use), and re-encrypt storage and files to it: in a background thread unless told otherwise,
        while the host keeps serving. Every step is audited with counts, never keys."""
        with self._rotation_lock:
            previous = self.keyring.current
            version = self.keyring.add(key)
            self._key_audit("keys.rotate", version=version, previous=previous)
        return self.resume_key_rotation(batch=batch, background=background)

    def resume_key_rotation(self, *, batch: int = 500, background: bool = True) -> KeyRotation:
        """Carry on re-encrypting to the current version (idempotent; the host calls it at start
        when old versions are still held)."""
        with self._rotation_lock:
            if self._rotation is not None and not self._rotation.done.is_set():
                return self._rotation
            self._rotation = rotation = KeyRotation(self, batch)
        if background:
            rotation.thread.start()
        else:
            rotation.run()
        return rotation

    def retire_old_keys(self) -> list[int]:
        """Forget every key version but the current one, once nothing is sealed under them; refuses
        (`KeyRotationError`) while a rotation runs or anything is pending."""
        with self._rotation_lock:
            if self._rotation is not None and not self._rotation.done.is_set():
                raise KeyRotationError("a key rotation is still running; wait for it, then retire")
            if len(self.keyring.versions()) > 1:  # retiring cannot be undone: open every file once
                fixed = self.user_data.files.rotate(owners=self._known_owners(), verify=True)
                self._key_audit("keys.retire.verify", current=self.keyring.current, files=fixed)
            pending = self.key_rotation_pending()
            if any(pending.values()):
                self._key_audit("keys.retire.refused", current=self.keyring.current, **pending)
                raise KeyRotationError(
                    f"old key versions still in use: {pending['storage']} storage rows and {pending['files']} "
                    f"file items are not on version {self.keyring.current} yet (Host.resume_key_rotation() "
                    f"carries on; unreadable items were tampered with and need an operator)")
            retired = self.keyring.retire()
            self._key_audit("keys.retire", current=self.keyring.current, retired=retired)
            return retired

    def close(self) -> None:
        if self._rotation is not None:
            self._rotation.stop()
        for instance in self.instances:
            instance.close()
        self.instances.clear()
        if self.telemetry is not None:
            self.telemetry.close()
        self.storage.close()
        self.payment.close()
        self.risk_history.close()
        self.user_data.close()
        self.relay.close()


class KeyRotationError(RuntimeError):
    """Old key versions cannot be retired yet (a rotation runs, or data is still sealed under them)."""


class KeyRotation:
    """One run of re-encryption to the current key version: storage rows and files, a batch at a
    time, until a pass finds nothing left. Stopped (host closed) or crashed, it resumes from what
    is on disk: `Host.resume_key_rotation()`, also at the host's next start."""

    def __init__(self, host: Host, batch: int) -> None:
        self.host = host
        self.batch = batch
        self.rows = 0
        self.files = 0
        self.error: BaseException | None = None
        self.done = threading.Event()
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self.run, name="minibox-key-rotation", daemon=True)

    def wait(self, timeout: float | None = None) -> bool:
        return self.done.wait(timeout)

    def stop(self) -> None:
        self._stop.set()
        if self.thread.is_alive() and self.thread is not threading.current_thread():
            self.thread.join()

    def run(self) -> None:
        host = self.host
        try:
            owners = host._known_owners()
            version = host.keyring.current
            host._key_audit("keys.rotate.start", version=version)
            while not self._stop.is_set():
                generation = host.keyring.generation
                rows = host.storage.rotate(self.batch)
                files = host.user_data.files.rotate(max(1, self.batch // 5), owners)
                if rows or files:
                    self.rows += rows
                    self.files += files
                    host._key_audit("keys.rotate.step", version=host.keyring.current, rows=rows, files=files)
                    continue
                # finish under the host's rotation lock: a version added meanwhile means another pass,
                # and a rotate_keys after this point starts a new run (it sees `done`)
                with host._rotation_lock:
                    if host.keyring.generation != generation:
                        continue
                    pending = host.key_rotation_pending()
                    host._key_audit("keys.rotate.done", version=host.keyring.current, rows=self.rows,
                                    files=self.files, **{f"pending_{k}": v for k, v in pending.items()})
                    self.done.set()
                    break
        except BaseException as e:
            self.error = e
            with contextlib.suppress(Exception):
                host._key_audit("keys.rotate.error", version=host.keyring.current, rows=self.rows,
                                files=self.files, error=type(e).__name__)
            if not self.thread.is_alive() or self.thread is not threading.current_thread():
                raise
        finally:
            self.done.set()
