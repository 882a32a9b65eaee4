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
7. Resolve once (`Resolver`), vet *every* answer (`vet_addresses`) against one table,
   `SPECIAL_PURPOSE` (every IANA IPv4 and IPv6 special-purpose block, multicast, site-local):
   refused unless inside the host's configured `allowed_networks`; unspecified, "this network",
   multicast, broadcast and cloud metadata addresses are refused even then. Addresses embedding
   IPv4 (IPv4-mapped, IPv4-compatible, NAT64, 6to4, Teredo) are refused by their own block and the
   IPv4 address they carry is vetted too; IPv4-mapped addresses are connected as IPv4.
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
#: The one table of address blocks minibox never connects to unless the host's configured
#: `allowed_networks` says so: every entry of IANA's IPv4 and IPv6 Special-Purpose Address
#: Registries (including the few marked "globally reachable": anycast and AS112 services are
#: nothing a mini-program needs), plus multicast, deprecated site-local and IPv4-compatible IPv6.
#: Each row: (block, rule name, always). `always` blocks are refused even inside allowed networks.
#: Addresses that embed an IPv4 address (IPv4-mapped, IPv4-compatible, NAT64, 6to4, Teredo) are
#: refused by their own block, and the IPv4 address they carry is vetted too.
SPECIAL_PURPOSE: tuple[tuple[IPNetwork, str, bool], ...] = tuple(
    (ipaddress.ip_network(net), rule, always) for net, rule, always in (
        # IPv4 (RFC 6890 registry, as of 2025)
        ("0.0.0.0/8", "this-network", True),
        ("10.0.0.0/8", "private", False),
        ("100.64.0.0/10", "shared-address-space", False),
        ("127.0.0.0/8", "loopback", False),
        ("169.254.0.0/16", "link-local", False),
        ("169.254.169.254/32", "cloud-metadata", True),
        ("100.100.100.200/32", "cloud-metadata", True),
        ("172.16.0.0/12", "private", False),
        ("192.0.0.0/24", "ietf-protocol-assignments", False),
        ("192.0.2.0/24", "documentation", False),
        ("192.31.196.0/24", "as112", False),
        ("192.52.193.0/24", "amt", False),
        ("192.88.99.0/24", "6to4-relay-anycast", False),
        ("192.168.0.0/16", "private", False),
        ("192.175.48.0/24", "as112", False),
        ("198.18.0.0/15", "benchmarking", False),
        ("198.51.100.0/24", "documentation", False),
        ("203.0.113.0/24", "documentation", False),
        ("224.0.0.0/4", "multicast", True),
        ("240.0.0.0/4", "reserved", False),
        ("255.255.255.255/32", "limited-broadcast", True),
        # IPv6 (RFC 6890 registry, as of 2025)
        ("::/128", "unspecified", True),
        ("::1/128", "loopback", False),
        ("::/96", "ipv4-compatible", False),
        ("::ffff:0:0/96", "ipv4-mapped", False),
        ("64:ff9b::/96", "nat64", False),
        ("64:ff9b:1::/48", "nat64-local", False),
        ("100::/64", "discard-only", False),
        ("100:0:0:1::/64", "dummy-prefix", False),
        ("2001::/23", "ietf-protocol-assignments", False),
        ("2001::/32", "teredo", False),
        ("2001:2::/48", "benchmarking", False),
        ("2001:3::/32", "amt", False),
        ("2001:4:112::/48", "as112", False),
        ("2001:10::/28", "orchid", False),
        ("2001:20::/28", "orchid", False),
        ("2001:30::/28", "drone-remote-id", False),
        ("2001:db8::/32", "documentation", False),
        ("2002::/16", "6to4", False),
        ("2620:4f:8000::/48", "as112", False),
        ("3fff::/20", "documentation", False),
        ("5f00::/16", "srv6-sid", False),
        ("fc00::/7", "unique-local", False),
        ("fd00:ec2::254/128", "cloud-metadata", True),
        ("fe80::/10", "link-local", False),
        ("fec0::/10", "site-local", False),
        ("ff00::/8", "multicast", True),
    ))
#: Never reachable, whatever the host's allowed networks say (the `always` rows above).
ALWAYS_BLOCKED: tuple[IPNetwork, ...] = tuple(n for n, _rule, always in SPECIAL_PURPOSE if always)


def special_purpose(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> tuple[str, bool] | None:
    """(rule, always) of the most specific special-purpose block holding `ip`, or None."""
    best: tuple[int, str, bool] | None = None
    for net, rule, always in SPECIAL_PURPOSE:
        if net.version == ip.version and ip in net:
            # `always` wins over the enclosing block's rule; otherwise the most specific block
            key = (1 if always else 0, net.prefixlen)
            if best is None or key > (1 if best[2] else 0, best[0]):
                best = (net.prefixlen, rule, always)
    return None if best is None else (best[1], best[2])


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


_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")
_V4_COMPAT = ipaddress.ip_network("::/96")


def embedded_v4(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries: IPv4-mapped, IPv4-compatible, NAT64 (well-known
    prefix, and the last 32 bits of the local-use prefix), 6to4, Teredo (the client address)."""
    if not isinstance(ip, ipaddress.IPv6Address):
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if ip in _NAT64 or ip in _NAT64_LOCAL or ip in _V4_COMPAT:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def _allowed(ip: ipaddress.IPv4Address | ipaddress.IPv6Address, allowed_networks: Sequence[IPNetwork]) -> bool:
    return any(ip.version == n.version and ip in n for n in allowed_networks)


def vet_address(addr: str, allowed_networks: Sequence[IPNetwork] = ()) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """Return the address to connect to, or raise `AddressRefused` naming the rule.

    Every address is looked up in `SPECIAL_PURPOSE` (one table); an address that embeds an IPv4
    address is refused by its own block and its IPv4 address is vetted too. An IPv4-mapped address
    is that IPv4 address (judged and connected as such). Inside the host's `allowed_networks`, only
    the `always` blocks are refused; outside, every special-purpose block and anything Python does
    not consider global."""
    try:
        ip = ipaddress.ip_address(addr.split("%", 1)[0])
    except ValueError:
        raise AddressRefused("unparseable-address", addr) from None
    if "%" in addr:
        raise AddressRefused("scoped-address", addr)
    inner = embedded_v4(ip)
    mapped = isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None
    # the address as it is connected to, then the IPv4 address it carries
    candidates = [inner] if mapped and inner is not None else [ip] + ([inner] if inner is not None else [])
    for c in candidates:
        hit = special_purpose(c)
        if hit is not None and hit[1]:
            raise AddressRefused(f"always-blocked:{hit[0]}", addr)
    for c in candidates:
        if _allowed(c, allowed_networks):
            continue
        hit = special_purpose(c)
        if hit is not None:
            prefix = "embedded-" if c is inner and not mapped else ""
            raise AddressRefused(f"{prefix}{hit[0]}", addr)
        if not c.is_global:
            raise AddressRefused("non-global", addr)
    return inner if mapped and inner is not None else ip


def vet_addresses(addrs: Sequence[str], allowed_networks: Sequence[IPNetwork] = ()) -> list[
        ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """Vet every answer; one refused answer refuses the name (fail closed)."""
    if not addrs:
        raise AddressRefused("no-address", "")
    return [vet_address(a, allowed_networks) for a in addrs]
