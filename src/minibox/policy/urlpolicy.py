"""URL policy and SSRF guard shared by wx.request, uploadFile, downloadFile, connectSocket and the
platform's allowlist editor.

Order of operations (the order is the argument):
1. One parser (`parse_url`, ours): whitespace, control characters and backslashes anywhere are
   refused; userinfo (`@` in the authority) and percent-escapes in the host are refused.
2. Scheme: https (request, upload, download) or wss (socket); compared case-insensitively.
3. Host: trailing dot removed, IDNA UTS#46 (std3 rules) to an A-label, lower case.
4. IP literals in every notation (`[::1]`, `127.1`, `0x7f.1`, `2130706433`, ...) and `localhost`
   names are refused.
5. Port: digits only, no leading zero, 1..65535; an empty port is refused.
6. Allowlist: exact (host, port) match. An entry without a port admits only URLs without a port,
   not even `:443` (WeChat). For wss, an entry without a port admits any port (WeChat's current
   text); an entry with a port admits only that port.
7. Resolve once (`Resolver`), vet *every* answer (`vet_addresses`): refused unless globally
   routable or inside the host's configured `allowed_networks`; unspecified, multicast and cloud
   metadata addresses are refused even then. IPv4-mapped, 6to4 and Teredo IPv6 addresses are
   judged by the IPv4 address they carry.
8. The caller connects to the vetted IP, with SNI and Host set to the validated name
   (`minibox.policy.network`), and repeats 1-7 for every redirect hop.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import quote

import idna

from minibox.policy.grants import DOMAIN_KINDS, MAX_DOMAINS_PER_KIND, IPNetwork

#: URLs longer than this are refused (design choice; WeChat documents none).
MAX_URL_CHARS = 8192
DEFAULT_PORTS = {"https": 443, "wss": 443}
#: Never reachable, whatever the host's allowed networks say.
ALWAYS_BLOCKED: tuple[IPNetwork, ...] = tuple(ipaddress.ip_network(n) for n in (
    "0.0.0.0/8", "169.254.169.254/32", "100.100.100.200/32", "224.0.0.0/4", "255.255.255.255/32",
    "::/128", "fd00:ec2::254/128", "ff00::/8"))
#: Domains WeChat forbids in an allowlist.
FORBIDDEN_DOMAINS = frozenset({"api.weixin.qq.com"})
_SCHEME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*$")
_PORT_RE = re.compile(r"^[1-9][0-9]{0,4}$")
_HEX_RE = re.compile(r"^0[xX][0-9a-fA-F]*$")
#: A plain lower-case LDH label: UTS#46 maps it to itself, so IDNA processing can be skipped.
_LDH_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")


class UrlRefused(Exception):
    """A URL the policy refuses; `rule` names the rule, `kind` is "invalid" or "domain"."""

    def __init__(self, rule: str, kind: str = "invalid", detail: str = "") -> None:
        super().__init__(f"{rule}: {detail}" if detail else rule)
        self.rule = rule
        self.kind = kind
        self.detail = detail


class AddressRefused(Exception):
    """An allowlisted name resolved to an address the guard refuses."""

    def __init__(self, rule: str, address: str) -> None:
        super().__init__(f"{rule}: {address}")
        self.rule = rule
        self.address = address


class AllowlistError(ValueError):
    """A bad allowlist entry (platform side); names the entry and the rule."""

    def __init__(self, kind: str, entry: str, rule: str) -> None:
        super().__init__(f"{kind} domain {entry!r} refused: {rule}")
        self.kind, self.entry, self.rule = kind, entry, rule


@dataclass(frozen=True)
class SafeUrl:
    scheme: str
    host: str          # A-label, lower case, no trailing dot
    port: int | None   # as written; None when the URL has no port
    target: str        # path + query, ASCII, starts with "/"

    @property
    def effective_port(self) -> int:
        return self.port if self.port is not None else DEFAULT_PORTS[self.scheme]

    @property
    def authority(self) -> str:
        return self.host if self.port is None else f"{self.host}:{self.port}"

    def __str__(self) -> str:
        return f"{self.scheme}://{self.authority}{self.target}"


def _is_ip_like(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        pass
    last = host.rsplit(".", 1)[-1]
    return last.isdigit() or bool(_HEX_RE.match(last))


def normalise_host(raw: str) -> str:
    """Normalise a host name; raises `UrlRefused` for IPs, localhost and invalid names."""
    if not raw or "%" in raw or raw.startswith("["):
        raise UrlRefused("ip-literal" if raw.startswith("[") else "invalid-host", "domain", raw)
    if _is_ip_like(raw):
        raise UrlRefused("ip-literal", "domain", raw)
    low = raw.lower() if raw.isascii() else raw
    labels = low[:-1].split(".") if low.endswith(".") else low.split(".")
    if all(_LDH_LABEL.match(lb) and lb[2:4] != "--" for lb in labels):
        host = ".".join(labels)
    else:
        try:
            host = idna.encode(raw, uts46=True, std3_rules=True, transitional=False).decode("ascii").lower()
        except (idna.IDNAError, UnicodeError, ValueError) as e:
            raise UrlRefused("invalid-host", "invalid", str(e)) from None
    if host.endswith("."):
        host = host[:-1]
    if not host or any(not label for label in host.split(".")) or len(host) > 253:
        raise UrlRefused("invalid-host", "invalid", raw)
    if _is_ip_like(host):
        raise UrlRefused("ip-literal", "domain", raw)
    if host == "localhost" or host.endswith(".localhost"):
        raise UrlRefused("localhost", "domain", raw)
    return host


def parse_url(raw: object, schemes: Sequence[str] = ("https",)) -> SafeUrl:
    if not isinstance(raw, str):
        raise UrlRefused("not-a-string")
    if len(raw) > MAX_URL_CHARS:
        raise UrlRefused("too-long")
    for c in raw:
        o = ord(c)
        if o <= 0x20 or o == 0x7F or c == "\\" or 0x80 <= o <= 0x9F or c in "\u2028\u2029\ufeff":
            raise UrlRefused("whitespace-or-control")
    scheme, sep, rest = raw.partition("://")
    if not sep or not _SCHEME_RE.match(scheme):
        raise UrlRefused("no-scheme")
    scheme = scheme.lower()
    if scheme not in schemes:
        raise UrlRefused("scheme", "domain", scheme)
    end = min((i for i in (rest.find("/"), rest.find("?"), rest.find("#")) if i >= 0), default=len(rest))
    authority, remainder = rest[:end], rest[end:]
    if "@" in authority:
        raise UrlRefused("userinfo")
    if authority.startswith("["):
        raise UrlRefused("ip-literal", "domain", authority)
    host_raw, colon, port_raw = authority.rpartition(":") if ":" in authority else (authority, "", "")
    port: int | None = None
    if colon:
        if not _PORT_RE.match(port_raw) or int(port_raw) > 65535:
            raise UrlRefused("invalid-port", "invalid", port_raw)
        port = int(port_raw)
    host = normalise_host(host_raw)
    remainder = remainder.split("#", 1)[0]
    if remainder.startswith("?"):
        remainder = "/" + remainder
    target = quote(remainder or "/", safe="".join(chr(i) for i in range(0x21, 0x7F)))
    return SafeUrl(scheme, host, port, target)


class Allowlist:
    """The four domain lists of one app, validated with the same parser as requests."""

    def __init__(self, domains: Mapping[str, Iterable[str]]) -> None:
        self._entries: dict[str, frozenset[tuple[str, int | None]]] = {}
        for kind in DOMAIN_KINDS:
            entries = list(domains.get(kind, ()))
            if len(entries) > MAX_DOMAINS_PER_KIND:
                raise AllowlistError(kind, f"{len(entries)} entries", f"more than {MAX_DOMAINS_PER_KIND}")
            self._entries[kind] = frozenset(parse_entry(kind, e) for e in entries)

    def allows(self, kind: str, url: SafeUrl) -> bool:
        entries = self._entries.get(kind, frozenset())
        if (url.host, url.port) in entries:
            return True
        return kind == "socket" and (url.host, None) in entries

    def hosts(self, kind: str) -> list[str]:
        return sorted(f"{h}:{p}" if p else h for h, p in self._entries.get(kind, ()))


def parse_entry(kind: str, entry: str) -> tuple[str, int | None]:
    """Validate one allowlist entry (`https://host[:port]`); raises `AllowlistError`."""
    scheme = "wss" if kind == "socket" else "https"
    if not isinstance(entry, str) or "*" in entry:
        raise AllowlistError(kind, str(entry), "wildcard or non-string")
    try:
        u = parse_url(entry, (scheme,))
    except UrlRefused as e:
        raise AllowlistError(kind, entry, e.rule) from None
    if u.target != "/":
        raise AllowlistError(kind, entry, "path not allowed")
    if u.host in FORBIDDEN_DOMAINS:
        raise AllowlistError(kind, entry, "forbidden domain")
    return u.host, u.port


class Resolver(Protocol):
    """Name resolution, injectable for tests: returns every address (as text) for `host`."""

    def resolve(self, host: str, port: int) -> list[str]: ...


class SystemResolver:
    def resolve(self, host: str, port: int) -> list[str]:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        return list(dict.fromkeys(str(i[4][0]) for i in infos))


def _embedded_v4(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return ip.ipv4_mapped
        if ip.sixtofour is not None:
            return ip.sixtofour
        if ip.teredo is not None:
            return ip.teredo[1]
        if ip in ipaddress.ip_network("64:ff9b::/96") or ip in ipaddress.ip_network("::/96"):
            return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def vet_address(addr: str, allowed_networks: Sequence[IPNetwork] = ()) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """Return the address to connect to, or raise `AddressRefused` naming the rule."""
    try:
        ip = ipaddress.ip_address(addr.split("%", 1)[0])
    except ValueError:
        raise AddressRefused("unparseable-address", addr) from None
    if "%" in addr:
        raise AddressRefused("scoped-address", addr)
    candidates = [ip]
    inner = _embedded_v4(ip)
    if inner is not None:
        candidates.append(inner)
    for c in candidates:
        if any(c.version == n.version and c in n for n in ALWAYS_BLOCKED):
            raise AddressRefused("always-blocked", addr)
    judged = inner if inner is not None else ip
    connect = ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped else ip
    if any(judged.version == n.version and judged in n for n in allowed_networks):
        return connect
    if not judged.is_global:
        rule = ("loopback" if judged.is_loopback else "link-local" if judged.is_link_local
                else "private" if judged.is_private else "non-global")
        raise AddressRefused(rule, addr)
    return connect


def vet_addresses(addrs: Sequence[str], allowed_networks: Sequence[IPNetwork] = ()) -> list[
        ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """Vet every answer; one refused answer refuses the name (fail closed)."""
    if not addrs:
        raise AddressRefused("no-address", "")
    return [vet_address(a, allowed_networks) for a in addrs]
