"""The package manifest: the single source of truth for what a signed package holds.

The manifest is canonical JSON (see :mod:`minibox.package.canonical`); the Ed25519 signature is
over its exact bytes. It lists every entry of every part with type, method, sizes and SHA-256, the
SHA-256 and size of each part *as shipped* (ciphertext when encrypted), and the wrapped content key
per recipient host. Parsing checks the schema strictly: unknown or missing fields are refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from minibox.package import canonical
from minibox.package.errors import FormatError

FORMAT = 1
MAIN_PART = "main"
#: Largest build number (fits a signed 64-bit integer everywhere it is stored).
MAX_BUILD = 2**63 - 1

APP_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
HOST_ID_RE = APP_ID_RE
VERSION_RE = re.compile(r"^[0-9A-Za-z][0-9A-Za-z.+_-]{0,63}$")
RUNTIME_RE = re.compile(r"^\d{1,6}\.\d{1,6}\.\d{1,6}$")
SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
KEY_ID_RE = re.compile(r"^[0-9a-f]{32}$")
ROOT_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_./-]{0,190}/$")
B64_RE = re.compile(r"^[A-Za-z0-9+/]*={0,2}$")
TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
METHODS = ("stored", "deflate")


def format_time(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("datetimes in a manifest must be timezone-aware")
    return moment.astimezone(UTC).strftime(TIME_FORMAT)


def parse_time(text: Any, field_name: str) -> datetime:
    if not isinstance(text, str):
        raise FormatError("manifest-schema", field_name, "expected a UTC timestamp")
    try:
        return datetime.strptime(text, TIME_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        raise FormatError("manifest-schema", field_name, f"bad timestamp {text!r}") from None


@dataclass(frozen=True)
class Entry:
    path: str
    size: int
    csize: int
    sha256: str
    method: str = "stored"
    type: str = "file"
    target: str | None = None  # only ever set by hostile test packages (links are refused)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"path": self.path, "type": self.type, "method": self.method, "size": self.size,
                               "csize": self.csize, "sha256": self.sha256}
        if self.target is not None:
            out["target"] = self.target
        return out


@dataclass(frozen=True)
class Part:
    name: str
    size: int
    sha256: str
    entries: tuple[Entry, ...]
    nonce: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "size": self.size, "sha256": self.sha256, "nonce": self.nonce,
                "entries": [e.to_json() for e in self.entries]}


@dataclass(frozen=True)
class Recipient:
    epk: str      # base64 of the ephemeral X25519 public key
    wrapped: str  # base64 of the AES-GCM-wrapped content key


@dataclass(frozen=True)
class Manifest:
    app_id: str
    version: str
    build: int
    min_runtime: str
    created_at: datetime
    expires_at: datetime
    key_id: str
    parts: tuple[Part, ...]
    subpackages: tuple[str, ...] = ()
    recipients: dict[str, Recipient] | None = None
    format: int = FORMAT
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def encrypted(self) -> bool:
        return self.recipients is not None

    def part(self, name: str) -> Part:
        for part in self.parts:
            if part.name == name:
                return part
        raise KeyError(name)

    def entries(self) -> list[Entry]:
        return [entry for part in self.parts for entry in part.entries]

    def to_json(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "app_id": self.app_id,
            "version": self.version,
            "build": self.build,
            "min_runtime": self.min_runtime,
            "created_at": format_time(self.created_at),
            "expires_at": format_time(self.expires_at),
            "key_id": self.key_id,
            "subpackages": list(self.subpackages),
            "parts": [p.to_json() for p in self.parts],
            "encryption": None if self.recipients is None else {
                "alg": "AES-256-GCM",
                "wrap": "X25519-HKDF-SHA256-AES-256-GCM",
                "recipients": {h: {"epk": r.epk, "wrapped": r.wrapped} for h, r in self.recipients.items()},
            },
        }

    def to_bytes(self) -> bytes:
        return canonical.dumps(self.to_json())


def _obj(value: Any, keys: set[str], where: str, optional: frozenset[str] = frozenset()) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise FormatError("manifest-schema", where, "expected an object")
    missing = keys - optional - value.keys()
    unknown = value.keys() - keys
    if missing:
        raise FormatError("manifest-schema", where, f"missing field(s) {sorted(missing)}")
    if unknown:
        raise FormatError("manifest-schema", where, f"unknown field(s) {sorted(unknown)}")
    return value


def _str(value: Any, pattern: re.Pattern[str] | None, where: str) -> str:
    if not isinstance(value, str) or (pattern is not None and not pattern.match(value)):
        raise FormatError("manifest-schema", where, f"bad value {value!r}")
    return value


def _int(value: Any, where: str, low: int = 0, high: int = MAX_BUILD) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise FormatError("manifest-schema", where, f"bad integer {value!r}")
    return value


def _entry(raw: Any, where: str) -> Entry:
    obj = _obj(raw, {"path", "type", "method", "size", "csize", "sha256", "target"}, where,
               optional=frozenset({"target"}))
    path = _str(obj["path"], None, f"{where}.path")
    return Entry(
        path=path,
        type=_str(obj["type"], None, path),
        method=_str(obj["method"], None, path),
        size=_int(obj["size"], path),
        csize=_int(obj["csize"], path),
        sha256=_str(obj["sha256"], SHA256_RE, path),
        target=obj.get("target") if isinstance(obj.get("target"), str) else None,
    )


def parse(data: bytes) -> Manifest:
    """Parse manifest bytes strictly (canonical JSON, exact schema)."""
    raw = canonical.loads_canonical(data, what="manifest")
    top = {"format", "app_id", "version", "build", "min_runtime", "created_at", "expires_at", "key_id",
           "subpackages", "parts", "encryption"}
    obj = _obj(raw, top, "manifest")
    if obj["format"] != FORMAT:
        raise FormatError("manifest-format", "format", f"unsupported format {obj['format']!r}")
    subs = obj["subpackages"]
    if not isinstance(subs, list):
        raise FormatError("manifest-schema", "subpackages", "expected a list")
    roots = tuple(_str(r, ROOT_RE, "subpackages") for r in subs)
    parts_raw = obj["parts"]
    if not isinstance(parts_raw, list) or not parts_raw:
        raise FormatError("manifest-schema", "parts", "expected a non-empty list")
    parts = []
    for i, p in enumerate(parts_raw):
        po = _obj(p, {"name", "size", "sha256", "nonce", "entries"}, f"parts[{i}]")
        name = _str(po["name"], None, f"parts[{i}].name")
        entries = po["entries"]
        if not isinstance(entries, list):
            raise FormatError("manifest-schema", name, "entries must be a list")
        nonce = po["nonce"]
        if nonce is not None:
            _str(nonce, B64_RE, f"{name}.nonce")
        parts.append(Part(name=name, size=_int(po["size"], name), sha256=_str(po["sha256"], SHA256_RE, name),
                          nonce=nonce,
                          entries=tuple(_entry(e, f"{name}.entries[{j}]") for j, e in enumerate(entries))))
    recipients = None
    enc = obj["encryption"]
    if enc is not None:
        eo = _obj(enc, {"alg", "wrap", "recipients"}, "encryption")
        if eo["alg"] != "AES-256-GCM" or eo["wrap"] != "X25519-HKDF-SHA256-AES-256-GCM":
            raise FormatError("manifest-schema", "encryption", "unsupported algorithm")
        if not isinstance(eo["recipients"], dict) or not eo["recipients"]:
            raise FormatError("manifest-schema", "encryption.recipients", "expected a non-empty object")
        recipients = {}
        for host, r in eo["recipients"].items():
            _str(host, HOST_ID_RE, "encryption.recipients")
            ro = _obj(r, {"epk", "wrapped"}, f"encryption.recipients.{host}")
            recipients[host] = Recipient(epk=_str(ro["epk"], B64_RE, host), wrapped=_str(ro["wrapped"], B64_RE, host))
    return Manifest(
        app_id=_str(obj["app_id"], APP_ID_RE, "app_id"),
        version=_str(obj["version"], VERSION_RE, "version"),
        build=_int(obj["build"], "build", low=1),
        min_runtime=_str(obj["min_runtime"], RUNTIME_RE, "min_runtime"),
        created_at=parse_time(obj["created_at"], "created_at"),
        expires_at=parse_time(obj["expires_at"], "expires_at"),
        key_id=_str(obj["key_id"], KEY_ID_RE, "key_id"),
        parts=tuple(parts),
        subpackages=roots,
        recipients=recipients,
    )
