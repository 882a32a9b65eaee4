"""What the host and platform grant one mini-program: domains, API allowlists, networks.

Grants come from signed platform metadata (never from the package), so a package that edits its
own `app.json` cannot widen them. `AppConfig` is the part of the compiled `app.json` that the
policy reads (`permission`, `requiredPrivateInfos`, `networkTimeout`).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from minibox.policy.datamin import DataForms

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

#: The four domain lists of WeChat's console (request, socket, uploadFile, downloadFile).
DOMAIN_KINDS = ("request", "socket", "uploadFile", "downloadFile")
#: WeChat allows at most 20 domains per interface.
MAX_DOMAINS_PER_KIND = 20


@dataclass(frozen=True)
class AppGrants:
    """Per-app grants. `apis_allowed=None` means every registered wx API; host APIs need
    `host_apis` membership. `privacy_declared=None` means the privacy guide declares every API."""

    domains: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    apis_allowed: frozenset[str] | None = None
    apis_denied: frozenset[str] = frozenset()
    host_apis: frozenset[str] = frozenset()
    privacy_declared: frozenset[str] | None = None
    privacy_contract_name: str = ""
    allowed_networks: tuple[IPNetwork, ...] = ()
    app_version: str = "0"
    #: the form in which user data reaches this app (minibox.policy.datamin)
    data_forms: DataForms = field(default_factory=DataForms)
    #: how long the host keeps this app's data: {"storageDays": n, "fileDays": n} (none: as long as used)
    retention: Mapping[str, int] = field(default_factory=dict)
    #: the platform's privacy settings for this app (allowlist `privacy`): the permission scopes and
    #: the `requiredPrivateInfos` APIs it may ask for at all; None: not restricted by the platform
    scopes_allowed: frozenset[str] | None = None
    private_infos_allowed: frozenset[str] | None = None
    #: the app's watermark template (allowlist `watermark`, minibox.policy.watermark); "": none
    watermark: str = ""

    @classmethod
    def build(
        cls,
        *,
        request: Iterable[str] = (),
        socket: Iterable[str] = (),
        upload: Iterable[str] = (),
        download: Iterable[str] = (),
        allowed_networks: Iterable[str] = (),
        **kw: Any,
    ) -> AppGrants:
        """Convenience constructor; domain entries are validated by `urlpolicy.Allowlist`."""
        return cls(
            domains={"request": tuple(request), "socket": tuple(socket),
                     "uploadFile": tuple(upload), "downloadFile": tuple(download)},
            allowed_networks=tuple(ipaddress.ip_network(n, strict=False) for n in allowed_networks),
            **kw,
        )


@dataclass(frozen=True)
class AppConfig:
    """The fields of the compiled app.json that the host-side policy reads."""

    permission: Mapping[str, Any] = field(default_factory=dict)
    required_private_infos: frozenset[str] = frozenset()
    network_timeout: Mapping[str, int] = field(default_factory=dict)

    @classmethod
    def from_app_json(cls, app: Mapping[str, Any] | None) -> AppConfig:
        app = app or {}
        perm = app.get("permission") or {}
        infos = app.get("requiredPrivateInfos") or []
        nt = app.get("networkTimeout") or {}
        return cls(
            permission=perm if isinstance(perm, Mapping) else {},
            required_private_infos=frozenset(x for x in infos if isinstance(x, str)),
            network_timeout={k: v for k, v in nt.items()
                             if isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool)}
            if isinstance(nt, Mapping) else {},
        )
