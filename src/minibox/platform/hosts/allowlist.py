"""Validation of per-app allowlists (MGT-08): exact https/wss origins, host API names.

Entries are normalised to `scheme://a-label-host[:port]`. Rejections name the list, entry and rule.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from typing import Any
from urllib.parse import urlsplit

import idna

from minibox.platform.errors import InvalidInput

DOMAIN_LISTS = {"request": "https", "socket": "wss", "uploadFile": "https", "downloadFile": "https",
                "webView": "https"}
ALLOWLIST_KEYS = (*DOMAIN_LISTS, "hostApis")
#: Optional keys, present in a stored allowlist only when set (docs/operators.md, allowlists).
EXTRA_KEYS = ("dataForms", "watermark", "privacy", "retention")
#: Most entries per domain list (WeChat's console limit).
MAX_DOMAINS_PER_LIST = 20
MAX_HOST_APIS = 100
#: Domains no mini-program may be allowed to reach directly.
FORBIDDEN_DOMAINS = frozenset({"api.weixin.qq.com", "api.mch.weixin.qq.com", "metadata.google.internal",
                               "metadata.tencentyun.com"})
_HOST_API = re.compile(r"^[A-Za-z][A-Za-z0-9_.]{0,63}$")
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


class AllowlistRejected(InvalidInput):
    code = "allowlist_rejected"


def empty_allowlist() -> dict[str, list[str]]:
    return {key: [] for key in ALLOWLIST_KEYS}


def _reject(list_name: str, entry: str, rule: str, why: str) -> AllowlistRejected:
    return AllowlistRejected(f"{list_name}: {entry!r} rejected ({rule}): {why}",
                             details={"list": list_name, "entry": entry, "rule": rule})


def _scripts(text: str) -> set[str]:
    out = set()
    for ch in text:
        if ch.isalpha():
            out.add(unicodedata.name(ch, "UNKNOWN").split(" ")[0])
    return out


def normalise_domain(list_name: str, entry: str) -> str:
    scheme = DOMAIN_LISTS[list_name]
    raw = entry.strip()
    if "://" not in raw:
        raw = f"{scheme}://{raw}"
    parts = urlsplit(raw)
    if parts.scheme.lower() != scheme:
        raise _reject(list_name, entry, "scheme", f"only {scheme}:// is allowed")
    if parts.username or parts.password or "@" in parts.netloc:
        raise _reject(list_name, entry, "userinfo", "no user or password in an allowlist entry")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise _reject(list_name, entry, "shape", "an origin only: no path, query or fragment")
    host = parts.hostname or ""
    try:
        port = parts.port
    except ValueError as e:
        raise _reject(list_name, entry, "port", "port must be 1-65535") from e
    if not host:
        raise _reject(list_name, entry, "hostname", "no host")
    if "*" in host:
        raise _reject(list_name, entry, "wildcard", "wildcards and parent domains are not supported")
    host = host.rstrip(".")
    try:
        ipaddress.ip_address(host.strip("[]"))
        raise _reject(list_name, entry, "ip_address", "IP addresses are not allowed")
    except ValueError:
        pass
    try:
        alabel = idna.encode(host, uts46=True).decode("ascii").lower()
    except idna.IDNAError as e:
        raise _reject(list_name, entry, "hostname", f"not a valid host name: {e}") from e
    try:
        decoded = idna.decode(alabel)
    except idna.IDNAError as e:
        raise _reject(list_name, entry, "hostname", f"not a valid host name: {e}") from e
    if any(len(_scripts(label)) > 1 for label in decoded.split(".")):
        raise _reject(list_name, entry, "mixed_script", "a host mixing scripts looks like another")
    labels = alabel.split(".")
    if len(labels) < 2 or not all(_LABEL.match(label) for label in labels) or labels[-1].isdigit():
        raise _reject(list_name, entry, "hostname", "a fully qualified domain name is required")
    if labels[-1] in ("localhost", "local", "internal") or alabel == "localhost":
        raise _reject(list_name, entry, "localhost", "local names are not allowed")
    if alabel in FORBIDDEN_DOMAINS:
        raise _reject(list_name, entry, "forbidden_domain", "this domain may not be allowlisted")
    # An entry keeps its port as written: without one it admits only URLs without a port (WeChat).
    norm = f"{scheme}://{alabel}:{port}" if port is not None else f"{scheme}://{alabel}"
    # The container parses entries with the runtime's own validator: accept nothing it would refuse.
    from minibox.policy.urlpolicy import AllowlistError, parse_entry

    try:
        parse_entry("socket" if scheme == "wss" else "request", norm)
    except AllowlistError as e:
        raise _reject(list_name, entry, e.rule.replace(" ", "_"), f"refused by the runtime URL policy: {e}") from e
    return norm


def validate_allowlist(raw: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(raw) - {*ALLOWLIST_KEYS, *EXTRA_KEYS})
    if unknown:
        raise AllowlistRejected(f"unknown allowlist keys {unknown}", details={"rule": "unknown_key", "keys": unknown})
    out: dict[str, Any] = empty_allowlist()
    for name in DOMAIN_LISTS:
        entries = raw.get(name) or []
        if len(entries) > MAX_DOMAINS_PER_LIST:
            raise _reject(name, f"{len(entries)} entries", "too_many", f"at most {MAX_DOMAINS_PER_LIST}")
        seen: list[str] = []
        for entry in entries:
            norm = normalise_domain(name, str(entry))
            if norm not in seen:
                seen.append(norm)
        out[name] = seen
    apis = raw.get("hostApis") or []
    if len(apis) > MAX_HOST_APIS:
        raise _reject("hostApis", f"{len(apis)} entries", "too_many", f"at most {MAX_HOST_APIS}")
    for api in apis:
        if not _HOST_API.match(str(api)):
            raise _reject("hostApis", str(api), "api_name", "letters, digits, '_' and '.' only")
    out["hostApis"] = sorted(set(map(str, apis)))
    forms = raw.get("dataForms")
    if forms:  # the form in which user data reaches the app (minibox.policy.datamin)
        from minibox.policy.datamin import DataFormError, DataForms

        if not isinstance(forms, dict):
            raise _reject("dataForms", str(forms)[:64], "shape", "an object of identity, phone and location")
        try:
            out["dataForms"] = DataForms.parse(forms).as_dict()
        except DataFormError as e:
            raise _reject("dataForms", str(forms)[:64], "data_form", str(e)) from e
    watermark = raw.get("watermark")
    if watermark:  # drawn by the host over every page of the app (minibox.policy.watermark)
        from minibox.policy.watermark import WatermarkError, validate_template

        if not isinstance(watermark, str):
            raise _reject("watermark", str(watermark)[:64], "shape", "a text template")
        try:
            text = validate_template(watermark)
        except WatermarkError as e:
            raise _reject("watermark", watermark[:64], e.rule, str(e)) from e
        if text:
            out["watermark"] = text
    privacy = raw.get("privacy")
    if privacy is not None:  # the scopes and private infos the app may ask for (enforced by the host)
        from minibox.policy.appprivacy import PrivacySettingError, PrivacySettings

        try:
            out["privacy"] = PrivacySettings.parse(privacy).as_dict()
        except PrivacySettingError as e:
            raise AllowlistRejected(str(e), details={"list": e.field, "entry": e.entry, "rule": e.rule}) from e
    retention = raw.get("retention")
    if retention:  # how long hosts keep the app's storage and files (minibox.host.privacy)
        from minibox.policy.datamin import DataFormError, parse_retention

        try:
            kept = parse_retention(retention)
        except DataFormError as e:
            raise _reject("retention", str(retention)[:64], "retention", str(e)) from e
        if kept:
            out["retention"] = kept
    return out
